/* copy.c - registry_copy between any pair of locations (registry or layout):
 * on top of pull.c, push.c and mirror.c. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ copy */
static int open_layout_loc(const char *loc, int flags, struct oci_layout **l, char **ref,
			   struct pn_error **err)
{
	cleanup_free char *dir = NULL;

	if (oci_ref_parse_layout(loc, &dir, ref, err) < 0)
		return -1;
	return oci_layout_open(dir, flags, l, err);
}

static int copy_from_layout(struct registry_client *c, const char *src, const char *dst,
			    struct oci_descriptor *out, struct pn_error **err)
{
	struct oci_layout *sl = NULL, *dl = NULL;
	cleanup_free char *sref = NULL, *dref = NULL;
	int rc = -1;

	if (open_layout_loc(src, 0, &sl, &sref, err) < 0)
		return -1;
	if (!registry_location_is_layout(dst)) {
		rc = registry_push(c, sl, sref, dst, out, err);
	} else if (open_layout_loc(dst, OCI_LAYOUT_CREATE, &dl, &dref, err) == 0) {
		rc = registry_layout_copy(c, sl, sref, dl,
					  dref	 ? dref
					  : sref ? sref
						 : "latest",
					  out, err);
		oci_layout_free(dl);
	}
	oci_layout_free(sl);
	return rc;
}

/* registry -> registry goes through a temporary layout; blobs already in
 * the destination are skipped, and on the same registry they are mounted */
static int copy_registry_registry(struct registry_client *c, const char *src, const char *dst,
				  struct oci_descriptor *out, struct pn_error **err)
{
	cleanup_free char *cache = pn_cache_dir();
	cleanup_free char *tmp = NULL;
	struct oci_layout *l = NULL;
	struct oci_descriptor d;
	int rc = -1;

	if (pn_mkdir_p(cache, 0755, err) < 0)
		return -1;
	tmp = pn_mkdtemp_in(cache, "copy-", err);
	if (!tmp)
		return -1;
	oci_descriptor_init(&d);
	if (oci_layout_open(tmp, OCI_LAYOUT_CREATE, &l, err) == 0 &&
	    registry_pull(c, src, l, "copy", &d, err) == 0)
		rc = registry_push(c, l, "copy", dst, out, err);
	oci_descriptor_release(&d);
	oci_layout_free(l);
	pn_rm_rf(tmp, NULL);
	return rc;
}

int registry_copy(struct registry_client *c, const char *src, const char *dst,
		  struct oci_descriptor *out, struct pn_error **err)
{
	struct oci_layout *dl = NULL;
	cleanup_free char *dref = NULL;
	struct registry_ref r;
	int rc;

	if (registry_location_is_layout(src))
		return copy_from_layout(c, src, dst, out, err);
	if (!registry_location_is_layout(dst))
		return copy_registry_registry(c, src, dst, out, err);
	if (open_layout_loc(dst, OCI_LAYOUT_CREATE, &dl, &dref, err) < 0)
		return -1;
	/* without a destination tag, keep the source's */
	registry_ref_init(&r);
	bool parsed = registry_ref_parse(src, &r, NULL) == 0;
	if (!dref && parsed && r.tag)
		dref = xstrdup(r.tag);
	registry_ref_release(&r);
	if (!dref && parsed) {
		oci_layout_free(dl);
		return pn_error_set(err, PN_ERR_INVALID,
				    "`%s` has no tag: name one in the destination (`%s:TAG`)", src,
				    dst);
	}
	rc = registry_pull(c, src, dl, dref, out, err);
	oci_layout_free(dl);
	return rc;
}
