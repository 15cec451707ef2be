/* layout_copy.c - an image from one layout into another: its blobs by
 * oci_layout_copy_blob (a hard link on one filesystem, else a verified
 * stream copy), the manifest last so dst never names a missing blob. */
#include "oci/internal.h"

int oci_layout_copy_image(struct oci_layout *src, struct oci_layout *dst,
			  const struct oci_image *img, enum oci_copy_what what, const char *tag,
			  struct pn_error **err)
{
	bool whole = what == OCI_COPY_IMAGE;

	if (whole && oci_layout_copy_blob(src, dst, img->manifest.config.digest, err) < 0)
		return -1;
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		if (oci_layout_copy_blob(src, dst, img->manifest.layers[i].digest, err) < 0)
			return -1;
	if (!whole)
		return 0;
	if (oci_layout_copy_blob(src, dst, img->desc.digest, err) < 0)
		return -1;
	if (tag && oci_layout_tag(dst, tag, &img->desc, err) < 0)
		return -1;
	return 0;
}
