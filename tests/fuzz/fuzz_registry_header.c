/* fuzz_registry_header.c - HTTP response header lines as libcurl hands them
 * to the registry client (status lines reset the captured headers, then
 * Content-Type, Location, Docker-Content-Digest, Range, WWW-Authenticate,
 * Retry-After, Content-Length are kept).  The input is split into lines at
 * '\n' (each keeps its newline); a captured WWW-Authenticate is parsed too.
 * Only the bound on all header bytes may stop the transfer.
 * Nothing may crash, leak or hit UB. */
#include "registry/internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct registry_response r;
	const char *p = (const char *)data, *end = p + size;

	registry_response_init(&r, 1024);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *line = xmalloc(n ? n : 1);
		memcpy(line, p, n);
		size_t got = registry_header_cb(line, 1, n, &r);
		free(line);
		if (got != n && !r.headers_too_large)
			abort(); /* only the REGISTRY_HEADERS_MAX bound stops a transfer */
		if (got != n)
			break;
		p += n;
	}
	if (r.content_length < -1)
		abort();
	if (r.www_auth) {
		struct registry_challenge c = {0};
		struct pn_error *err = NULL;
		if (registry_challenge_parse(r.www_auth, strlen(r.www_auth), &c, &err) == 0)
			registry_challenge_release(&c);
		pn_error_free(err);
	}
	registry_response_release(&r);
	return 0;
}
