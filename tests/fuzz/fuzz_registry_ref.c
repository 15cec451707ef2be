/* fuzz_registry_ref.c - image reference parsing.  Every accepted reference
 * must format to text that parses again to the same fields (format is a
 * fixed point), and refusals must carry a message.  Nothing may crash, leak
 * or hit UB. */
#include "registry/internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int same(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct registry_ref r, r2;
	struct pn_error *err = NULL;
	char *text;

	registry_ref_init(&r);
	registry_ref_init(&r2);
	if (registry_ref_parse(s, &r, &err) < 0) {
		if (!err || !err->msg || !*err->msg || err->code != PN_ERR_INVALID)
			abort();
		pn_error_free(err);
		free(s);
		return 0;
	}
	text = registry_ref_format(&r);
	if (registry_ref_parse(text, &r2, &err) < 0)
		abort();
	if (!same(r.registry, r2.registry) || !same(r.repository, r2.repository) ||
	    !same(r.tag, r2.tag) || !same(r.digest, r2.digest) || !registry_ref_reference(&r))
		abort();
	free(text);
	registry_ref_release(&r);
	registry_ref_release(&r2);
	free(s);
	return 0;
}
