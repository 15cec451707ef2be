/* mirror.c - references mirrored to an OCI layout (registries.conf
 * `location = "oci:DIR"`): open, load, check and copy the image a mirrored
 * reference names, and store a pushed one.  Below pull.c and push.c; it
 * talks to no registry. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

int registry_layout_copy(struct registry_client *c, struct oci_layout *src, const char *ref,
			 struct oci_layout *dst, const char *tag, struct oci_descriptor *out,
			 struct pn_error **err)
{
	struct oci_image img;
	int rc;

	/* oci_image_load initialises img itself, and leaves it released-safe on failure */
	if (oci_image_load(src, ref, c->opts.platform, &img, err) < 0) {
		oci_image_release(&img);
		return -1;
	}
	rc = oci_layout_copy_image(src, dst, &img, OCI_COPY_IMAGE, tag, err);
	if (rc == 0 && out)
		oci_descriptor_copy(out, &img.desc);
	oci_image_release(&img);
	return rc;
}

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

int registry_mirror_layout_push(struct registry_client *c, struct registry_target *t,
				struct oci_layout *src, const char *src_ref,
				struct oci_descriptor *out, struct pn_error **err)
{
	struct oci_layout *ml = NULL;
	cleanup_free char *tag =
		xasprintf("%s:%s", t->ref.repository, t->ref.tag ? t->ref.tag : "latest");
	int rc;

	if (oci_layout_open(t->layout_dir, OCI_LAYOUT_CREATE, &ml, err) < 0)
		return -1;
	rc = registry_layout_copy(c, src, src_ref, ml, tag, out, err);
	oci_layout_free(ml);
	return rc;
}
