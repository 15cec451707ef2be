/* copy.c - registry_copy between any pair of locations (registry or layout):
 * on top of pull.c, push.c and mirror.c. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ copy */
/* open a local location (oci:, oci-archive:, docker-archive:); on failure
 * it is released */
static int open_local(struct oci_location *loc, const char *s, int flags, struct pn_error **err)
{
	if (oci_location_open(loc, s, flags, NULL, err) == 0)
		return 0;
	oci_location_release(loc);
	return -1;
}

/* the written destination: an archive is packed now */
static int close_local(struct oci_location *loc, int rc, struct pn_error **err)
{
	if (rc == 0)
		rc = oci_location_commit(loc, err);
	oci_location_release(loc);
	return rc;
}

/* referrers go along unless --no-referrers (and out names the manifest) */
static bool with_referrers(const struct registry_client *c, const struct oci_descriptor *out)
{
	return out && !c->opts.no_referrers;
}

static int copy_from_layout(struct registry_client *c, const char *src, const char *dst,
			    struct oci_descriptor *out, struct pn_error **err)
{
	struct oci_location sl, dl;
	int rc = -1;

	if (open_local(&sl, src, 0, err) < 0)
		return -1;
	if (!registry_location_is_layout(dst)) {
		rc = registry_push(c, sl.layout, sl.ref, dst, out, err);
		if (rc == 0 && with_referrers(c, out))
			rc = registry_referrers_push(c, sl.layout, out->digest, dst, err);
	} else if (open_local(&dl, dst, OCI_LAYOUT_CREATE, err) == 0) {
		rc = registry_layout_copy(c, sl.layout, sl.ref, dl.layout,
					  dl.ref   ? dl.ref
					  : sl.ref ? sl.ref
						   : "latest",
					  out, err);
		if (rc == 0 && with_referrers(c, out))
			rc = oci_layout_copy_referrers(sl.layout, dl.layout, out->digest, err);
		rc = close_local(&dl, rc, err);
	}
	oci_location_release(&sl);
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
	    registry_pull(c, src, l, "copy", &d, err) == 0 &&
	    (!with_referrers(c, &d) || registry_referrers_pull(c, src, d.digest, l, err) == 0))
		rc = registry_push(c, l, "copy", dst, out, err);
	if (rc == 0 && with_referrers(c, &d))
		rc = registry_referrers_push(c, l, d.digest, dst, err);
	oci_descriptor_release(&d);
	oci_layout_free(l);
	pn_rm_rf(tmp, NULL);
	return rc;
}

int registry_copy(struct registry_client *c, const char *src, const char *dst,
		  struct oci_descriptor *out, struct pn_error **err)
{
	struct oci_location dl;
	struct registry_ref r;
	int rc = -1;

	if (registry_location_is_layout(src))
		return copy_from_layout(c, src, dst, out, err);
	if (!registry_location_is_layout(dst))
		return copy_registry_registry(c, src, dst, out, err);
	if (open_local(&dl, dst, OCI_LAYOUT_CREATE, err) < 0)
		return -1;
	/* without a destination name, the whole source reference, as skopeo
	 * and `build -t` name it (127.0.0.1:5000/demo:v1, its digest dropped);
	 * `oci:DIR:v1` still finds it by its tag */
	registry_ref_init(&r);
	bool parsed = registry_ref_parse(src, &r, NULL) == 0;
	if (!dl.ref && parsed && r.tag) {
		dl.repo_tag = registry_ref_format(&r);
		dl.ref = oci_ref_layout_name(dl.repo_tag);
	}
	registry_ref_release(&r);
	if (!dl.ref && parsed)
		pn_error_set(err, PN_ERR_INVALID,
			     "`%s` has no tag: name one in the destination (`%s:TAG`)", src, dst);
	else
		rc = registry_pull(c, src, dl.layout, dl.ref, out, err);
	if (rc == 0 && with_referrers(c, out))
		rc = registry_referrers_pull(c, src, out->digest, dl.layout, err);
	return close_local(&dl, rc, err);
}
