/* fuzz_oci_config.c - the image config parser; what parses writes back,
 * parses again and writes the same bytes (unknown fields kept). */
#include "oci/oci.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct oci_config c, c2;
	struct pn_error *err = NULL;
	char *out = NULL, *out2 = NULL;
	size_t len, len2;

	if (oci_config_parse((const char *)data, size, &c, &err) < 0) {
		pn_error_clear(&err);
		return 0;
	}
	oci_config_set_env(&c, "PATH", "/usr/bin");
	oci_config_set_label(&c, "k", "v");
	if (oci_config_to_json(&c, &out, &len, &err) == 0) {
		if (oci_config_parse(out, len, &c2, &err) < 0)
			abort();
		if (oci_config_to_json(&c2, &out2, &len2, &err) < 0 || strcmp(out, out2) != 0)
			abort();
		oci_config_release(&c2);
	}
	pn_error_clear(&err);
	free(out);
	free(out2);
	oci_config_release(&c);
	return 0;
}
