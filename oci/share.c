/* share.c - bytes from one file into another without copying them where
 * the filesystem can: FICLONERANGE / FICLONE (XFS and btrfs with reflink
 * share the data extents), else a write with O_DIRECT in the read that
 * hashes the file (ext4: the disk takes the bytes from the read's buffer,
 * with no copy into the page cache and nothing left for the fsync), else
 * copy_file_range (an in-kernel copy), else nothing and the caller writes.
 * Only "cannot here" errors fall back; a failure after bytes moved is an
 * error. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
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

/* dst reopened for O_DIRECT writes, or -1 (not here, or turned off) */
static int direct_open(int dst)
{
	char p[64];

	if (getenv("PINION_NO_DIRECT"))
		return -1;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", dst);
	return open(p, O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOCTTY);
}

int oci_fd_share(int dst, int64_t dst_off, int src, int64_t size, enum oci_blob_share *how,
		 int *direct, struct pn_error **err)
{
	bool done;

	*direct = -1;
	*how = OCI_SHARE_CLONE;
	if (size == 0 || clone_range(dst, dst_off, src, size))
		return 0;
	*how = OCI_SHARE_WRITE;
	/* copy_file_range copies into the page cache, and the read for the
	 * digest follows anyway: writing what that read has is cheaper; the
	 * open that tells is the one the read writes with */
	if (dst_off % SHARE_ALIGN == 0 && (*direct = direct_open(dst)) >= 0)
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

/* ------------------------------------------------------------ one read pass */
struct pass_write {
	int dst, dfd; /* dfd: dst with O_DIRECT (borrowed), or -1 */
	int64_t base;
};

static int pass_write(void *ud, const unsigned char *buf, size_t len, uint64_t off)
{
	struct pass_write *pw = ud;
	int64_t at = pw->base + (int64_t)off;
	size_t direct = pw->dfd >= 0 && at % SHARE_ALIGN == 0 ? len - len % SHARE_ALIGN : 0;

	/* the aligned part with O_DIRECT, the tail (the file's end) through
	 * the page cache; a refusal of O_DIRECT falls back for good */
	while (direct) {
		ssize_t n = pwrite(pw->dfd, buf, direct, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL) {
			pw->dfd = -1; /* the caller's to close */
			break;
		}
		if (n <= 0)
			return n < 0 ? errno : EIO;
		buf += n, at += n, len -= (size_t)n, direct -= (size_t)n;
	}
	while (len) {
		ssize_t n = pwrite(pw->dst, buf, len, at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		buf += n, at += n, len -= (size_t)n;
	}
	return 0;
}

static int pass_hash(void *ud, const unsigned char *buf, size_t len, uint64_t off)
{
	(void)off;
	oci_hasher_update(ud, buf, len);
	return 0;
}

/* fill buf with len bytes of src at off */
static int pass_read(int src, unsigned char *buf, size_t len, int64_t off, const char *label,
		     struct pn_error **err)
{
	while (len) {
		ssize_t n = pread(src, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pn_error_set_errno(err, errno, "read `%s`", label);
		if (n == 0)
			return pn_error_set(err, PN_ERR_GENERIC, "`%s` shrank while read", label);
		buf += n, off += n, len -= (size_t)n;
	}
	return 0;
}

/* small files, or no threads: one buffer, every consumer in turn */
static int pass_inline(int src, int64_t size, const char *label, const oci_fanout_fn *fns,
		       void *const *uds, size_t n, struct pn_error **err)
{
	size_t chunk = (size_t)1 << 20;
	unsigned char *buf = aligned_alloc(SHARE_ALIGN, chunk);
	int rc = 0;

	if (!buf)
		return pn_error_set_errno(err, ENOMEM, "read `%s`", label);
	for (int64_t off = 0; rc == 0 && off < size; off += (int64_t)chunk) {
		size_t len = size - off < (int64_t)chunk ? (size_t)(size - off) : chunk;
		int e = 0;

		rc = pass_read(src, buf, len, off, label, err);
		for (size_t k = 0; rc == 0 && !e && k < n; k++)
			e = fns[k](uds[k], buf, len, (uint64_t)off);
		if (e)
			rc = pn_error_set_errno(err, e, "write blob");
	}
	free(buf);
	return rc;
}

int oci_fd_pass(int src, int64_t size, const char *label, struct oci_hasher *h,
		struct oci_hasher *data, int dst, int direct, int64_t dst_off,
		struct pn_error **err)
{
	struct pass_write pw = {dst, dst >= 0 ? direct : -1, dst_off};
	oci_fanout_fn fns[3] = {pass_hash};
	void *uds[3] = {h};
	size_t n = 1, chunk = oci_fanout_chunk();
	struct oci_fanout *f = NULL;
	int rc = 0, e;

	if (data)
		fns[n] = pass_hash, uds[n++] = data;
	if (dst >= 0)
		fns[n] = pass_write, uds[n++] = &pw;
	if ((uint64_t)size >= OCI_HASH_THREAD_MIN)
		f = oci_fanout_start(fns, uds, n);
	if (!f)
		rc = pass_inline(src, size, label, fns, uds, n, err);
	for (int64_t off = 0; f && rc == 0 && off < size; off += (int64_t)chunk) {
		size_t len = size - off < (int64_t)chunk ? (size_t)(size - off) : chunk;
		unsigned char *buf = oci_fanout_slot(f);

		rc = pass_read(src, buf, len, off, label, err);
		if (rc == 0)
			oci_fanout_publish(f, len);
	}
	e = oci_fanout_finish(f);
	if (rc == 0 && e)
		rc = pn_error_set_errno(err, e, "write blob");
	return rc;
}
