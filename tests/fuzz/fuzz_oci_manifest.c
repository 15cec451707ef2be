/* fuzz_oci_manifest.c - manifest and index parsers (OCI and Docker v2),
 * platform selection and document kind; whatever parses must write back and
 * parse again to the same bytes. */
#include "tests/fuzz/roundtrip.h"
#include "oci/oci.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void manifest_roundtrip(const char *s, size_t n)
{
	struct oci_manifest m;
	struct pn_error *err = NULL;

	if (oci_manifest_parse(s, n, &m, &err) < 0) {
		pn_error_clear(&err);
		return;
	}
	FUZZ_ROUNDTRIP(&m, oci_manifest_parse, oci_manifest_to_json, oci_manifest_release);
	oci_manifest_release(&m);
}

static void index_roundtrip(const char *s, size_t n)
{
	struct oci_index ix;
	struct pn_error *err = NULL;
	const struct oci_descriptor *d;
	char *out = NULL;
	size_t len;

	if (oci_index_parse(s, n, &ix, &err) < 0) {
		pn_error_clear(&err);
		return;
	}
	oci_index_select_platform(&ix, NULL, &d, &err);
	pn_error_clear(&err);
	oci_index_select_platform(&ix, "linux/arm64/v8", &d, &err);
	pn_error_clear(&err);
	if (oci_index_to_json(&ix, &out, &len, &err) == 0) {
		struct oci_index ix2;

		if (oci_index_parse(out, len, &ix2, &err) < 0)
			abort();
		oci_index_release(&ix2);
	}
	pn_error_clear(&err);
	free(out);
	oci_index_release(&ix);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data;
	struct pn_error *err = NULL;
	enum oci_doc_kind kind;

	manifest_roundtrip(s, size);
	index_roundtrip(s, size);
	oci_doc_kind(NULL, s, size, &kind, &err);
	pn_error_clear(&err);
	return 0;
}
