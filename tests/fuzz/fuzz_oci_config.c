/* fuzz_oci_config.c - the image config parser; what parses writes back,
 * parses again and writes the same bytes (unknown fields kept). */
#include "tests/fuzz/roundtrip.h"
#include "oci/oci.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct oci_config c;
	struct pn_error *err = NULL;

	if (oci_config_parse((const char *)data, size, &c, &err) < 0) {
		pn_error_clear(&err);
		return 0;
	}
	oci_config_set_env(&c, "PATH", "/usr/bin");
	oci_config_set_label(&c, "k", "v");
	FUZZ_ROUNDTRIP(&c, oci_config_parse, oci_config_to_json, oci_config_release);
	oci_config_release(&c);
	return 0;
}
