/* share.c - bytes from one file into another without copying them where
 * the filesystem can: FICLONERANGE / FICLONE (XFS and btrfs with reflink
 * share the data extents), else copy_file_range (an in-kernel copy), else
 * nothing and the caller writes.  Only "cannot here" errors fall back; a
 * failure after bytes moved is an error. */
#include "oci/internal.h"

#include <errno.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SHARE_ALIGN 4096

/* errors that mean "not on this filesystem / pair of files" */
static bool share_unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS ||
	       e == EBADF || e == EPERM || e == ETXTBSY || e == EISDIR;
}

static bool clone_range(int dst, int64_t dst_off, int src, int64_t size)
{
	struct file_clone_range r = {.src_fd = src,
				     .src_offset = 0,
				     .src_length = (uint64_t)size,
				     .dest_offset = (uint64_t)dst_off};

	if (dst_off % SHARE_ALIGN != 0 || getenv("PINION_NO_REFLINK"))
		return false;
	return ioctl(dst, FICLONERANGE, &r) == 0;
}

static int copy_range(int dst, int64_t dst_off, int src, int64_t size, bool *done,
		      struct pn_error **err)
{
	loff_t in = 0, out = dst_off;

	*done = false;
	while (in < size) {
		ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(size - in), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && in == 0 && share_unsupported(errno))
			return 0;
		if (n < 0)
			return pn_error_set_errno(err, errno, "copy_file_range");
		if (n == 0)
			return pn_error_set(err, PN_ERR_GENERIC, "file shrank while copied");
	}
	*done = true;
	return 0;
}

int oci_fd_share(int dst, int64_t dst_off, int src, int64_t size, enum oci_blob_share *how,
		 struct pn_error **err)
{
	bool done;

	*how = OCI_SHARE_CLONE;
	if (size == 0 || clone_range(dst, dst_off, src, size))
		return 0;
	*how = OCI_SHARE_COPY_RANGE;
	if (!getenv("PINION_NO_COPY_RANGE")) {
		if (copy_range(dst, dst_off, src, size, &done, err) < 0)
			return -1;
		if (done)
			return 0;
	}
	*how = OCI_SHARE_WRITE;
	return 0;
}

bool oci_fd_clone(int dst, int src)
{
	if (getenv("PINION_NO_REFLINK"))
		return false;
	return ioctl(dst, FICLONE, src) == 0;
}
