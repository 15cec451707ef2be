/* fuzz_assembler_dpkg.c - the dpkg status parser (a file a hostile base
 * image supplies): never crashes, keeps its limits, every package it keeps
 * has a name and a version of printable ASCII within SBOM_FIELD_MAX, and the
 * SPDX writer takes whatever it keeps. */
#include "assembler/sbom.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void check_field(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) > SBOM_FIELD_MAX)
		abort();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	json_t *inv = json_pack("{s:[],s:[]}", "deb", "python");
	json_t *list = json_object_get(inv, "deb"), *e;
	struct pn_error *err = NULL;
	struct sbom_doc_in in = {
		.name = "fuzz",
		.created = "1970-01-01T00:00:00Z",
		.base_name = "base",
		.base_digest =
			"sha256:0000000000000000000000000000000000000000000000000000000000000000"};
	char *doc = NULL;
	size_t i, len = 0;

	if (sbom_dpkg_parse((const char *)data, size, list, &err) < 0) {
		if (err->code != PN_ERR_TOO_LARGE)
			abort();
		pn_error_clear(&err);
	}
	if (json_array_size(list) > SBOM_PACKAGES_MAX)
		abort();
	json_array_foreach(list, i, e)
	{
		check_field(e, "name");
		check_field(e, "version");
	}
	sbom_inventory_sort(inv);
	in.inventory = inv;
	sbom_spdx_write(&in, &doc, &len);
	if (!doc || !len)
		abort();
	free(doc);
	json_decref(inv);
	return 0;
}
