/* build_out.c - moving a built image's blobs from the cache layout into an
 * output layout: a hard link when both are on one filesystem (blobs are
 * immutable, content-addressed files), else a verified streaming copy. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_BUF ((size_t)1 << 20)

static int stream_copy(struct oci_layout *src, struct oci_layout *dst, const char *digest,
		       struct pn_error **err)
{
	cleanup_close int fd = -1;
	int64_t size = 0;
	struct oci_blob_writer *w;
	cleanup_free char *buf = NULL;
	oci_digest_t got;
	ssize_t n;

	if (oci_layout_open_blob(src, digest, &fd, &size, err) < 0)
		return -1;
	w = oci_layout_blob_begin(dst, err);
	if (!w)
		return -1;
	buf = xmalloc(COPY_BUF);
	while ((n = pn_read_all(fd, buf, COPY_BUF)) > 0) {
		if (oci_blob_writer_write(w, buf, (size_t)n, err) < 0) {
			oci_blob_writer_free(w);
			return -1;
		}
		if ((size_t)n < COPY_BUF)
			break;
	}
	if (n < 0) {
		oci_blob_writer_free(w);
		return pn_error_set_errno(err, errno, "read blob `%s`", digest);
	}
	if (oci_blob_writer_commit(w, digest, size, got, err) < 0) {
		oci_blob_writer_free(w);
		return -1;
	}
	oci_blob_writer_free(w);
	return 0;
}

int build_copy_blob(struct oci_layout *src, struct oci_layout *dst, const char *digest,
		    struct pn_error **err)
{
	cleanup_free char *from = NULL, *to = NULL;

	if (oci_layout_has_blob(dst, digest))
		return 0;
	from = oci_layout_blob_path(src, digest);
	to = oci_layout_blob_path(dst, digest);
	if (link(from, to) == 0 || errno == EEXIST)
		return 0;
	if (stream_copy(src, dst, digest, err) < 0)
		return pn_error_wrap(err, "copy blob `%s`", digest);
	return 0;
}

int build_copy_image_blobs(struct oci_layout *src, struct oci_layout *dst,
			   const struct oci_image *img, struct pn_error **err)
{
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		if (build_copy_blob(src, dst, img->manifest.layers[i].digest, err) < 0)
			return -1;
	return 0;
}
