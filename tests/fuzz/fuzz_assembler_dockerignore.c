/* fuzz_assembler_dockerignore.c - .dockerignore parsing and matching.
 * The input is split at the first NUL byte (or its middle): patterns before,
 * newline-separated paths after; every path is matched against the patterns
 * and cleaned.  Nothing may crash, leak or hit UB. */
#include "assembler/source.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t split = nul ? (size_t)(nul - text) : size / 2;
	struct src_ignore *ig = NULL;
	struct pn_error *err = NULL;
	const char *p, *end;

	if (src_ignore_parse(text, split, &ig, &err) < 0) {
		pn_error_free(err);
		return 0;
	}
	p = text + split + (nul ? 1 : 0);
	end = text + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *path = xstrndup(p, n);
		char *clean = src_path_clean(path);

		(void)src_ignore_match(ig, path);
		(void)src_ignore_match(ig, clean);
		free(clean);
		free(path);
		p += n + 1;
	}
	(void)src_ignore_has_exceptions(ig);
	src_ignore_free(ig);
	return 0;
}
