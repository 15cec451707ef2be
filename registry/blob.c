/* blob.c - one blob of a repository into a layout (registry_blob_pull), on
 * top of pull.c's verified parallel fetch. */
#include "registry/internal.h"

#include <string.h>

int registry_blob_pull(struct registry_client *c, const char *ref, const struct oci_descriptor *d,
		       struct oci_layout *dst, struct pn_error **err)
{
	struct registry_target t;
	struct registry_blob_want want;
	int rc;

	if (!oci_digest_valid(d->digest))
		return pn_error_set(err, PN_ERR_INVALID, "bad blob digest");
	if (registry_target_resolve(c, ref, &t, err) < 0)
		return -1;
	memcpy(want.digest, d->digest, sizeof(want.digest));
	want.size = d->size;
	if (t.layout_dir)
		rc = pn_error_set(err, PN_ERR_UNSUPPORTED, "`%s` is mirrored to a layout", ref);
	else
		rc = registry_fetch_blobs(c, &t, dst, &want, 1, err);
	registry_target_release(&t);
	return rc < 0 ? pn_error_wrap(err, "blob `%s` of `%s`", d->digest, ref) : 0;
}
