/* fuzz_assembler_metadata.c - a wheel's METADATA parser (a file a hostile
 * base image supplies): never crashes; what it accepts has a non-empty name
 * and a version of printable ASCII within SBOM_FIELD_MAX. */
#include "assembler/sbom.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pn_error *err = NULL;
	json_t *o = NULL;
	static const char *const keys[] = {"name", "version", "license"};

	if (sbom_metadata_parse((const char *)data, size, &o, &err) < 0) {
		if (err->code != PN_ERR_INVALID || o)
			abort();
		pn_error_clear(&err);
		return 0;
	}
	if (!json_string_length(json_object_get(o, "name")) || !json_object_get(o, "version"))
		abort();
	for (size_t k = 0; k < 3; k++) {
		const char *s = json_string_value(json_object_get(o, keys[k]));

		if (s && strlen(s) > SBOM_FIELD_MAX)
			abort();
		for (; s && *s; s++)
			if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
				abort();
	}
	json_decref(o);
	return 0;
}
