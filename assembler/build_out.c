/* build_out.c - moving a built image's blobs from the cache layout into an
 * output layout: a hard link when both are on one filesystem (blobs are
 * immutable, content-addressed files), else a verified streaming copy. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int build_copy_image_blobs(struct oci_layout *src, struct oci_layout *dst,
			   const struct oci_image *img, struct pn_error **err)
{
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		if (oci_layout_copy_blob(src, dst, img->manifest.layers[i].digest, err) < 0)
			return -1;
	return 0;
}
