/* copy.c - layout <-> layout copies, layout mirrors, registry_copy for any
 * pair of locations, login/logout. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int registry_layout_copy(struct registry_client *c, struct oci_layout *src, const char *ref,
			 struct oci_layout *dst, const char *tag, struct oci_descriptor *out,
			 struct pn_error **err)
{
	struct oci_image img;
	int rc = -1;

	/* oci_image_load initialises img itself, and leaves it released-safe on failure */
	if (oci_image_load(src, ref, c->opts.platform, &img, err) < 0) {
		oci_image_release(&img);
		return -1;
	}
	if (oci_layout_copy_blob(src, dst, img.manifest.config.digest, err) < 0)
		goto out;
	for (size_t i = 0; i < img.manifest.n_layers; i++)
		if (oci_layout_copy_blob(src, dst, img.manifest.layers[i].digest, err) < 0)
			goto out;
	if (oci_layout_copy_blob(src, dst, img.desc.digest, err) < 0)
		goto out;
	if (tag && oci_layout_tag(dst, tag, &img.desc, err) < 0)
		goto out;
	if (out)
		oci_descriptor_copy(out, &img.desc);
	rc = 0;
out:
	oci_image_release(&img);
	return rc;
}

/* ------------------------------------------------------- layout mirrors */
int registry_mirror_layout_open(struct registry_target *t, struct oci_layout **l, char **ref,
				struct pn_error **err)
{
	struct oci_descriptor d;
	cleanup_free char *full = NULL;

	if (oci_layout_open(t->layout_dir, 0, l, err) < 0)
		return pn_error_wrap(err, "mirror layout for `%s`", t->ref.registry);
	if (t->ref.digest) {
		*ref = xstrdup(t->ref.digest);
		return 0;
	}
	full = xasprintf("%s:%s", t->ref.repository, t->ref.tag);
	oci_descriptor_init(&d);
	if (oci_layout_resolve(*l, full, &d, NULL) == 0) {
		oci_descriptor_release(&d);
		*ref = steal_pointer(&full);
		return 0;
	}
	oci_descriptor_release(&d);
	if (oci_layout_resolve(*l, t->ref.tag, &d, NULL) == 0) {
		oci_descriptor_release(&d);
		*ref = xstrdup(t->ref.tag);
		return 0;
	}
	oci_descriptor_release(&d);
	oci_layout_free(*l);
	*l = NULL;
	return pn_error_set(err, PN_ERR_NOT_FOUND, "no tag `%s` or `%s` in mirror layout `%s`",
			    full, t->ref.tag, t->layout_dir);
}

int registry_mirror_layout_copy(struct registry_client *c, struct registry_target *t,
				struct oci_layout *dst, const char *tag, struct oci_descriptor *out,
				struct pn_error **err)
{
	struct oci_layout *l = NULL;
	cleanup_free char *ref = NULL;
	int rc;

	if (registry_mirror_layout_open(t, &l, &ref, err) < 0)
		return -1;
	rc = registry_layout_copy(c, l, ref, dst, tag, out, err);
	oci_layout_free(l);
	return rc;
}

int registry_mirror_layout_load(struct registry_client *c, struct registry_target *t,
				struct oci_image *out, struct pn_error **err)
{
	struct oci_layout *l = NULL;
	cleanup_free char *ref = NULL;
	int rc;

	if (registry_mirror_layout_open(t, &l, &ref, err) < 0)
		return -1;
	oci_image_release(out);
	rc = oci_image_load(l, ref, c->opts.platform, out, err);
	oci_layout_free(l);
	return rc;
}

int registry_mirror_layout_exists(struct registry_client *c, struct registry_target *t,
				  bool *exists, struct pn_error **err)
{
	struct oci_layout *l = NULL;
	cleanup_free char *ref = NULL;
	struct pn_error *e = NULL;

	(void)c;
	*exists = false;
	if (registry_mirror_layout_open(t, &l, &ref, &e) < 0) {
		if (e->code == PN_ERR_NOT_FOUND) {
			pn_error_free(e);
			return 0;
		}
		pn_error_propagate(err, e);
		return -1;
	}
	*exists = true;
	oci_layout_free(l);
	return 0;
}

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

/* ----------------------------------------------------------- login/logout */
int registry_login(struct registry_client *c, const char *registry, const char *user,
		   const char *pass, struct pn_error **err)
{
	cleanup_free char *path = registry_auth_file_default(&c->opts);
	cleanup_free char *name = registry_auth_key_normalize(registry);
	struct registry_host *h;

	if (!registry_host_valid(name))
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid registry `%s`: expected host[:port]", registry);
	h = registry_client_host(c, name);
	registry_creds_release(&h->creds);
	h->creds.user = xstrdup(user);
	h->creds.pass = xstrdup(pass);
	h->has_creds = h->creds_loaded = true;
	if (registry_host_ping(c, h, err) < 0)
		return pn_error_wrap(err, "log in to `%s`", name);
	if (h->has_challenge) {
		struct registry_request req = REGISTRY_REQUEST_INIT;
		struct registry_response resp;
		int rc;
		req.method = "GET";
		req.url = "/v2/";
		registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
		rc = registry_http_do(c, h, &req, &resp, err);
		if (rc == 0 && resp.status != 200)
			rc = registry_http_status_error(&resp, name, "check credentials", err);
		registry_response_release(&resp);
		if (rc < 0)
			return pn_error_wrap(err, "log in to `%s`", name);
	}
	if (registry_auth_file_store(path, name, user, pass, err) < 0)
		return pn_error_wrap(err, "log in to `%s`: store credentials", name);
	return 0;
}

int registry_logout(struct registry_client *c, const char *registry, struct pn_error **err)
{
	cleanup_free char *path = registry_auth_file_default(&c->opts);
	cleanup_free char *name = registry_auth_key_normalize(registry);
	bool removed = false;

	if (registry_auth_file_remove(path, name, &removed, err) < 0)
		return pn_error_wrap(err, "log out of `%s`", name);
	if (!removed)
		return pn_error_set(err, PN_ERR_NOT_FOUND, "not logged in to `%s` (in `%s`)", name,
				    path);
	return 0;
}
