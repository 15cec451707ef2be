/* fuzz_oci_digest.c - the digest parser and oci: reference parser */
#include "oci/oci.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct pn_error *err = NULL;
	oci_digest_t d;
	char *dir = NULL, *ref = NULL;

	if (oci_digest_parse(s, d, &err) == 0) {
		if (!oci_digest_valid(d) || strlen(oci_digest_hex(d)) != 64)
			abort();
	}
	pn_error_clear(&err);
	if (oci_ref_parse_layout(s, &dir, &ref, &err) == 0) {
		if (!dir || !*dir)
			abort();
		free(dir);
		free(ref);
	}
	pn_error_clear(&err);
	free(s);
	return 0;
}
