/* fuzz_assembler_cacheentries.c - the entries document of a registry build
 * cache (cache_entries_parse): whatever parses must encode and parse again
 * to the same entries; merge, trim and the layer list must hold on it. */
#include "assembler/cache.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pn_error *err = NULL;
	json_t *e = NULL, *again = NULL, *copy;
	struct oci_descriptor *layers = NULL;
	char *text;
	size_t len = 0, n = 0;

	if (cache_entries_parse((const char *)data, size, &e, &err) < 0) {
		pn_error_clear(&err);
		return 0;
	}
	if (json_object_size(e) > CACHE_ENTRIES_MAX)
		abort();
	text = cache_entries_encode(e, &len);
	if (cache_entries_parse(text, len, &again, &err) < 0 || !json_equal(e, again))
		abort();
	copy = json_object();
	cache_entries_merge(copy, e);
	if (!cache_entries_cover(copy, e) || !cache_entries_cover(e, copy))
		abort();
	cache_entries_trim(copy, 1);
	if (json_object_size(copy) > 1)
		abort();
	cache_entries_layers(e, &layers, &n);
	if (n > json_object_size(e))
		abort();
	for (size_t i = 0; i < n; i++)
		oci_descriptor_release(&layers[i]);
	free(layers);
	free(text);
	json_decref(copy);
	json_decref(again);
	json_decref(e);
	return 0;
}
