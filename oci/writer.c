/* writer.c - the streaming layer writer: entries -> libarchive pax tar ->
 * (write callback) sha256 of the tar (diff_id) -> gzip (zlib, in blocks on
 * threads: pgzip.c) | zstd (multi-threaded) | none -> blob writer (sha256 of
 * the blob).  One pass, constant memory. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define OUTBUF_SIZE	 ((size_t)1 << 20)
#define WBUF_SIZE	 ((size_t)1 << 20)
#define XATTR_LIST_MAX_	 ((size_t)64 << 10)
#define XATTR_VALUE_MAX_ ((size_t)64 << 10)
#define OPAQUE_MARK	 ".wh..wh..opq"

struct hl_entry { /* hardlink map: first path of an inode */
	dev_t dev;
	ino_t ino;
	char *path;
};

struct oci_layer_writer {
	struct oci_layout *layout;
	struct oci_layer_opts opts;
	struct archive *a;
	struct oci_blob_writer *blob;
	struct oci_hasher *diff;
	oci_digest_t data_digest;	 /* opts.digest_data: the aligned file's bytes */
	struct oci_hash_thread *diff_ht; /* the diff_id hashed on its own thread */
	struct oci_hasher *sink_h;	 /* opts.sink: the blob digest of what went out */
	int64_t sink_size;
	int64_t tar_size;
	struct oci_pgzip *gz;
	ZSTD_CCtx *zc;
	unsigned char *out;
	char *wbuf; /* output buffer before the blob writer */
	size_t wlen;
	struct pn_error *cb_err; /* failure inside the write callback */
	struct hl_entry *hl;
	size_t n_hl, cap_hl;
	bool finished, failed;
};

void oci_layer_opts_init(struct oci_layer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->compression = OCI_COMP_GZIP;
	o->mtime_clamp = pn_source_date_epoch(0);
}

void oci_layer_result_release(struct oci_layer_result *r)
{
	oci_descriptor_release(&r->desc);
}

/* ------------------------------------------------------------ compression */
/* the layer's bytes: to the blob, or (opts.sink) hashed and handed on */
static int out_write(struct oci_layer_writer *w, const void *data, size_t len)
{
	if (!w->opts.sink)
		return oci_blob_writer_write(w->blob, data, len, &w->cb_err);
	oci_hasher_update(w->sink_h, data, len);
	w->sink_size += (int64_t)len;
	return w->opts.sink(w->opts.sink_ud, data, len, &w->cb_err);
}

/* buffered: the blob sees large writes whatever the entry sizes */
static int emit_flush(struct oci_layer_writer *w)
{
	int rc = 0;

	if (w->wlen)
		rc = out_write(w, w->wbuf, w->wlen);
	w->wlen = 0;
	return rc;
}

static int emit(struct oci_layer_writer *w, const void *data, size_t len)
{
	if (w->wlen + len > WBUF_SIZE && emit_flush(w) < 0)
		return -1;
	if (len >= WBUF_SIZE)
		return out_write(w, data, len);
	memcpy(w->wbuf + w->wlen, data, len);
	w->wlen += len;
	return 0;
}

/* pgzip's output: emit fills w->cb_err, the err pgzip was given */
static int gzip_out(void *ud, const void *data, size_t len, struct pn_error **err)
{
	(void)err;
	return emit(ud, data, len);
}

static int gzip_feed(struct oci_layer_writer *w, const void *data, size_t len, bool last)
{
	if (len && oci_pgzip_write(w->gz, data, len, &w->cb_err) < 0)
		return -1;
	return last ? oci_pgzip_finish(w->gz, &w->cb_err) : 0;
}

static int zstd_feed(struct oci_layer_writer *w, const void *data, size_t len,
		     ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {data, len, 0};
	size_t rem;

	do {
		ZSTD_outBuffer out = {w->out, OUTBUF_SIZE, 0};

		rem = ZSTD_compressStream2(w->zc, &out, &in, mode);
		if (ZSTD_isError(rem))
			return pn_error_set(&w->cb_err, PN_ERR_GENERIC, "zstd: %s",
					    ZSTD_getErrorName(rem));
		if (emit(w, w->out, out.pos) < 0)
			return -1;
	} while (mode == ZSTD_e_end ? rem != 0 : in.pos < in.size);
	return 0;
}

static int compress_feed(struct oci_layer_writer *w, const void *data, size_t len, bool last)
{
	switch (w->opts.compression) {
	case OCI_COMP_GZIP:
		return gzip_feed(w, data, len, last);
	case OCI_COMP_ZSTD:
		return zstd_feed(w, data, len, last ? ZSTD_e_end : ZSTD_e_continue);
	default:
		return len ? emit(w, data, len) : 0;
	}
}

static int compress_init(struct oci_layer_writer *w, struct pn_error **err)
{
	int level = w->opts.level, threads = w->opts.threads;
	size_t r;

	if (w->opts.compression == OCI_COMP_GZIP) {
		/* the same bytes for any thread count: digests do not depend on the machine */
		w->gz = oci_pgzip_new(level, oci_pgzip_threads(threads), 0, gzip_out, w, err);
		if (!w->gz)
			return -1;
	} else if (w->opts.compression == OCI_COMP_ZSTD) {
		if (threads <= 0)
			threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
		w->zc = ZSTD_createCCtx();
		/* nbWorkers >= 1 always: the output is then the same for any worker count */
		r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, level ? level : 3);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers,
						   threads < 1 ? 1 : threads);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
		if (ZSTD_isError(r))
			return pn_error_set(err, PN_ERR_GENERIC, "zstd: %s", ZSTD_getErrorName(r));
	}
	return 0;
}

/* tar bytes are hashed for the diff_id, then compressed */
static int tar_sink(struct oci_layer_writer *w, const void *buf, size_t len)
{
	if (w->opts.compression != OCI_COMP_NONE)
		/* uncompressed: the diff_id is the blob digest */
		oci_hasher_update_large(w->diff, &w->diff_ht, (uint64_t)w->tar_size, buf, len);
	w->tar_size += (int64_t)len;
	return compress_feed(w, buf, len, false);
}

/* libarchive's sink */
static la_ssize_t tar_write_cb(struct archive *a, void *data, const void *buf, size_t len)
{
	if (tar_sink(data, buf, len) < 0) {
		archive_set_error(a, EIO, "layer output failed");
		return -1;
	}
	return (la_ssize_t)len;
}

static int archive_fail(struct oci_layer_writer *w, const char *what, struct pn_error **err)
{
	w->failed = true;
	if (w->cb_err) {
		if (err) {
			pn_error_free(*err);
			*err = steal_pointer(&w->cb_err);
		}
		return pn_error_wrap(err, "%s", what);
	}
	return pn_error_set(err, PN_ERR_GENERIC, "%s: %s", what, archive_error_string(w->a));
}

struct oci_layer_writer *
oci_layer_writer_new(struct oci_layout *l, const struct oci_layer_opts *opts, struct pn_error **err)
{
	struct oci_layer_writer *w = xcalloc(1, sizeof(*w));

	w->layout = l;
	if (opts)
		w->opts = *opts;
	else
		oci_layer_opts_init(&w->opts);
	w->out = xmalloc(OUTBUF_SIZE);
	w->wbuf = xmalloc(WBUF_SIZE);
	w->diff = oci_hasher_new();
	if (compress_init(w, err) < 0)
		goto fail;
	if (w->opts.sink)
		w->sink_h = oci_hasher_new();
	else if (!(w->blob = oci_layout_blob_begin(l, err)))
		goto fail;
	w->a = archive_write_new();
	/* bytes_per_block 0: no 10 KiB re-blocking, data reaches the sink in
	 * large writes; the archive ends with the two 512-byte zero records */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
		archive_fail(w, "start layer", err);
		goto fail;
	}
	return w;
fail:
	oci_layer_writer_free(w);
	return NULL;
}

void oci_layer_writer_free(struct oci_layer_writer *w)
{
	if (!w)
		return;
	if (w->a)
		archive_write_free(w->a);
	oci_blob_writer_free(w->blob);
	oci_hash_thread_finish(w->diff_ht);
	oci_hasher_free(w->diff);
	if (w->sink_h)
		oci_hasher_free(w->sink_h);
	oci_pgzip_free(w->gz);
	ZSTD_freeCCtx(w->zc);
	free(w->out);
	free(w->wbuf);
	pn_error_free(w->cb_err);
	for (size_t i = 0; i < w->n_hl; i++)
		free(w->hl[i].path);
	free(w->hl);
	free(w);
}

/* ---------------------------------------------------------------- entries */
static void owner_map(const struct oci_layer_writer *w, struct archive_entry *e, uid_t uid,
		      gid_t gid)
{
	if (w->opts.normalize_owner) {
		uid = 0;
		gid = 0;
	} else {
		for (size_t i = 0; i < w->opts.n_idmaps; i++) {
			const struct oci_idmap *m = &w->opts.idmaps[i];

			if (uid >= m->host_uid && uid - m->host_uid < m->count) {
				uid = m->uid + (uid - m->host_uid);
				break;
			}
		}
		for (size_t i = 0; i < w->opts.n_idmaps; i++) {
			const struct oci_idmap *m = &w->opts.idmaps[i];

			if (gid >= m->host_gid && gid - m->host_gid < m->count) {
				gid = m->gid + (gid - m->host_gid);
				break;
			}
		}
	}
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
}

static void entry_times(const struct oci_layer_writer *w, struct archive_entry *e, int64_t mtime)
{
	if (w->opts.mtime_clamp >= 0 && mtime > w->opts.mtime_clamp)
		mtime = w->opts.mtime_clamp;
	archive_entry_set_mtime(e, (time_t)mtime, 0);
}

static mode_t entry_mode(const struct oci_layer_writer *w, mode_t mode)
{
	mode &= 07777;
	if (w->opts.normalize_mode)
		mode &= ~(mode_t)022;
	return mode;
}

static bool is_overlay_xattr(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 ||
	       strncmp(name, "user.overlay.", 13) == 0;
}

/* copy the xattrs of the open file fd, or (fd < 0) of host_path without
 * following a final symlink, into e; *opaque set when an overlay opaque mark
 * is found */
static int entry_xattrs(const struct oci_layer_writer *w, struct archive_entry *e, int fd,
			const char *host_path, bool *opaque, struct pn_error **err)
{
	cleanup_free char *list = xmalloc(XATTR_LIST_MAX_);
	cleanup_free char *val = xmalloc(XATTR_VALUE_MAX_);
	ssize_t n = fd >= 0 ? flistxattr(fd, list, XATTR_LIST_MAX_)
			    : llistxattr(host_path, list, XATTR_LIST_MAX_);

	*opaque = false;
	if (n < 0) {
		if (errno == ENOTSUP || errno == ENODATA || (fd < 0 && errno == ENOENT))
			return 0; /* ENOENT: no /proc for a name below a dirfd */
		return pn_error_set_errno(err, errno, "list xattrs of `%s`", host_path);
	}
	for (char *name = list; name < list + n; name += strlen(name) + 1) {
		ssize_t vn = fd >= 0 ? fgetxattr(fd, name, val, XATTR_VALUE_MAX_)
				     : lgetxattr(host_path, name, val, XATTR_VALUE_MAX_);

		if (vn < 0)
			continue; /* e.g. trusted.* without privilege */
		if (w->opts.overlay_upper && is_overlay_xattr(name)) {
			if (strcmp(name + (name[0] == 't' ? 16 : 13), "opaque") == 0 && vn == 1 &&
			    val[0] == 'y')
				*opaque = true;
			continue;
		}
		archive_entry_xattr_add_entry(e, name, val, (size_t)vn);
	}
	return 0;
}

/* in the C locale (oci_tar_locale): a non-ASCII name is written as its
 * bytes (PAX hdrcharset=BINARY), never re-encoded from the process locale */
static int write_header(struct oci_layer_writer *w, struct archive_entry *e, const char *path,
			struct pn_error **err)
{
	locale_t c = oci_tar_locale(), old = c ? uselocale(c) : (locale_t)0;
	int r = archive_write_header(w->a, e);

	if (c)
		uselocale(old);
	if (r < ARCHIVE_WARN)
		return archive_fail(w, "write tar header", err) < 0
			       ? pn_error_wrap(err, "`%s`", path)
			       : -1;
	return 0;
}

static int write_fd_data(struct oci_layer_writer *w, int fd, const char *path, int64_t size,
			 struct pn_error **err)
{
	size_t bufsz = (size_t)1 << 20;
	cleanup_free char *buf = xmalloc(bufsz);

	while (size > 0) {
		ssize_t n = read(fd, buf, bufsz);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return pn_error_set_errno(err, errno, "read `%s`", path);
		if (n == 0)
			break; /* shrank while reading: libarchive pads with zeros */
		if (n > size)
			n = (ssize_t)size;
		if (archive_write_data(w->a, buf, (size_t)n) < 0)
			return archive_fail(w, "write tar data", err) < 0
				       ? pn_error_wrap(err, "`%s`", path)
				       : -1;
		size -= n;
	}
	return 0;
}

static const char *hl_find_or_add(struct oci_layer_writer *w, const struct stat *st,
				  const char *path)
{
	for (size_t i = 0; i < w->n_hl; i++)
		if (w->hl[i].dev == st->st_dev && w->hl[i].ino == st->st_ino)
			return w->hl[i].path;
	if (w->n_hl == w->cap_hl) {
		w->cap_hl = w->cap_hl ? 2 * w->cap_hl : 16;
		w->hl = xrealloc(w->hl, st_mult(w->cap_hl, sizeof(*w->hl)));
	}
	w->hl[w->n_hl].dev = st->st_dev;
	w->hl[w->n_hl].ino = st->st_ino;
	w->hl[w->n_hl].path = xstrdup(path);
	w->n_hl++;
	return NULL;
}

static int add_empty_file(struct oci_layer_writer *w, const char *path, mode_t mode,
			  struct pn_error **err)
{
	cleanup_archive_entry struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	entry_times(w, e, w->opts.mtime_clamp >= 0 ? w->opts.mtime_clamp : 0);
	return write_header(w, e, path, err);
}

/* the OCI whiteout for path: "<dir>/.wh.<base>" */
static char *whiteout_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xasprintf(".wh.%s", path);
	return xasprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
}

/* ------------------------------------------------------ aligned file data */
/* A file whose data starts at a 4 KiB-aligned offset of the tar, so that an
 * uncompressed blob can share the file's extents.  The headers are written
 * here, not by libarchive: a PAX header ('x') with path=, size= and a
 * comment= record sized to fill the gap, then the ustar header, the data
 * and the zero padding to 512.  Always the same bytes for the same file,
 * path, mode, owner and mtime, whatever the filesystem. */
#define ALIGN_DATA 4096
#define TAR_BLOCK  512

static void pax_record(struct pn_buf *b, const char *key, const char *val)
{
	size_t n = strlen(key) + strlen(val) + 3, len = n + 1; /* " =\n" + digits */

	while (len < n + (size_t)snprintf(NULL, 0, "%zu", len))
		len++;
	pn_buf_printf(b, NULL, "%zu %s=%s\n", len, key, val);
}

static void octal(char *field, size_t width, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1), (unsigned long long)v);
	memcpy(field, tmp, width - 1);
}

static void ustar_header(char *blk, const char *name, char type, mode_t mode, uid_t uid, gid_t gid,
			 int64_t size, int64_t mtime)
{
	const uint64_t max11 = 077777777777ULL;
	unsigned sum = 0;

	memset(blk, 0, TAR_BLOCK);
	strncpy(blk, name, 100); /* the PAX path= is the name */
	octal(blk + 100, 8, mode & 07777);
	octal(blk + 108, 8, uid <= 07777777 ? uid : 0);
	octal(blk + 116, 8, gid <= 07777777 ? gid : 0);
	octal(blk + 124, 12, (uint64_t)size <= max11 ? (uint64_t)size : 0);
	octal(blk + 136, 12, mtime < 0 ? 0 : (uint64_t)mtime <= max11 ? (uint64_t)mtime : max11);
	blk[156] = type;
	memcpy(blk + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(blk + 148, ' ', 8);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)blk[i];
	snprintf(blk + 148, 8, "%06o", sum);
	blk[155] = ' ';
}

/* the PAX records of e, padded so that the data starting after them (the
 * headers begin at tar offset start) is ALIGN_DATA-aligned */
static void aligned_pax(struct pn_buf *b, struct archive_entry *e, int64_t start)
{
	int64_t need = (ALIGN_DATA - (start + 2 * TAR_BLOCK) % ALIGN_DATA) % ALIGN_DATA, total;
	char num[32];
	size_t c, digits;

	pax_record(b, "path", archive_entry_pathname(e));
	snprintf(num, sizeof(num), "%lld", (long long)archive_entry_size(e));
	pax_record(b, "size", num);
	snprintf(num, sizeof(num), "%lld", (long long)archive_entry_uid(e));
	pax_record(b, "uid", num);
	snprintf(num, sizeof(num), "%lld", (long long)archive_entry_gid(e));
	pax_record(b, "gid", num);
	for (total = need; total < (int64_t)b->len + 16;)
		total += ALIGN_DATA;
	c = (size_t)total - b->len; /* the comment record's length, >= 16 */
	digits = (size_t)snprintf(NULL, 0, "%zu", c);
	pn_buf_printf(b, NULL, "%zu comment=%*s\n", c, (int)(c - digits - 10), "");
	PN_BUF_ASSERT(b);
}

static int sink_fail(struct oci_layer_writer *w, const char *label, struct pn_error **err)
{
	w->failed = true;
	if (err) {
		pn_error_free(*err);
		*err = steal_pointer(&w->cb_err);
	}
	return pn_error_wrap(err, "`%s`", label);
}

struct aligned_ud {
	struct oci_layer_writer *w;
	const char *label;
	struct oci_hasher *data; /* opts.digest_data, or NULL */
};

static int aligned_piece(void *ud, const char *buf, size_t len, struct pn_error **err)
{
	struct aligned_ud *a = ud;

	if (a->data)
		oci_hasher_update(a->data, buf, len);
	return tar_sink(a->w, buf, len) < 0 ? sink_fail(a->w, a->label, err) : 0;
}

static int add_aligned_data(struct oci_layer_writer *w, int fd, int64_t size, const char *label,
			    struct pn_error **err)
{
	struct aligned_ud a = {w, label, NULL};
	int rc;

	if (w->opts.compression == OCI_COMP_NONE && !w->opts.sink) {
		if (emit_flush(w) < 0)
			return sink_fail(w, label, err);
		if (oci_blob_writer_append_fd(w->blob, fd, size, label, NULL,
					      w->opts.digest_data ? w->data_digest : NULL, err) < 0)
			return -1;
		w->tar_size += size;
		return 0;
	}
	/* a sink gets the file's bytes as read: one pass, no copy on disk */
	if (w->opts.sink && w->opts.digest_data)
		a.data = oci_hasher_new();
	rc = pn_read_each(fd, size, WBUF_SIZE, label, aligned_piece, &a, err);
	if (a.data) {
		if (rc == 0)
			oci_hasher_final(a.data, w->data_digest);
		oci_hasher_free(a.data);
	}
	return rc;
}

static int add_aligned(struct oci_layer_writer *w, struct archive_entry *e, int fd,
		       const char *label, struct pn_error **err)
{
	static const char zeros[TAR_BLOCK];
	cleanup_buf struct pn_buf pax = PN_BUF_INIT;
	char hdr[2 * TAR_BLOCK];
	int64_t size = archive_entry_size(e);
	size_t pad;

	/* libarchive's previous entry padded: the tar is at a block boundary */
	if (archive_write_finish_entry(w->a) < ARCHIVE_WARN)
		return archive_fail(w, "write tar data", err);
	if (w->tar_size % TAR_BLOCK != 0)
		PN_BUG("tar at %lld, not at a block boundary", (long long)w->tar_size);
	aligned_pax(&pax, e, w->tar_size);
	ustar_header(hdr, "././@PaxHeader", 'x', 0644, 0, 0, (int64_t)pax.len,
		     archive_entry_mtime(e));
	ustar_header(hdr + TAR_BLOCK, archive_entry_pathname(e), '0', archive_entry_perm(e),
		     (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), size,
		     archive_entry_mtime(e));
	if (tar_sink(w, hdr, TAR_BLOCK) < 0 || tar_sink(w, pax.data, pax.len) < 0 ||
	    tar_sink(w, hdr + TAR_BLOCK, TAR_BLOCK) < 0)
		return sink_fail(w, label, err);
	if (w->tar_size % ALIGN_DATA != 0)
		PN_BUG("aligned data at %lld", (long long)w->tar_size);
	if (add_aligned_data(w, fd, size, label, err) < 0) {
		w->failed = true;
		return -1;
	}
	pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	if (pad && tar_sink(w, zeros, pad) < 0)
		return sink_fail(w, label, err);
	return 0;
}

/* e's header, then (fd >= 0) its data from fd */
static int write_entry(struct oci_layer_writer *w, struct archive_entry *e, int fd,
		       const char *label, const char *path, struct pn_error **err)
{
	if (fd >= 0 && w->opts.align_data && archive_entry_size(e) > 0)
		return add_aligned(w, e, fd, label, err);
	if (write_header(w, e, path, err) < 0)
		return -1;
	if (fd >= 0 && write_fd_data(w, fd, label, archive_entry_size(e), err) < 0)
		return -1;
	return 0;
}

/* one host file, `name` in the directory dfd (AT_FDCWD: a path), never
 * following a final symlink, as `path` in the layer; label names it in
 * messages.  A regular file is opened O_NOFOLLOW | O_NONBLOCK (a FIFO swapped
 * in after the lstat cannot hang us) and described by the fstat of what was
 * opened, so what is written is what was stat'ed.  *is_dir tells the caller
 * to recurse. */
static int add_one_at(struct oci_layer_writer *w, int dfd, const char *name, const char *label,
		      const char *path, bool *is_dir, struct pn_error **err)
{
	cleanup_archive_entry struct archive_entry *e = NULL;
	cleanup_free char *xpath = NULL;
	cleanup_close int fd = -1;
	struct stat st;
	bool opaque = false;
	const char *first;

	*is_dir = false;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", label);
	if (w->opts.overlay_upper && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		cleanup_free char *wh = whiteout_name(path);

		return add_empty_file(w, wh, 0, err);
	}
	if (S_ISSOCK(st.st_mode))
		return 0; /* sockets do not belong in a layer */
	if (S_ISREG(st.st_mode)) {
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return pn_error_set_errno(err, errno, "open `%s`", label);
		if (fstat(fd, &st) < 0)
			return pn_error_set_errno(err, errno, "stat `%s`", label);
		if (!S_ISREG(st.st_mode))
			return pn_error_set(err, PN_ERR_GENERIC,
					    "`%s` changed into a special file while read", label);
	}
	e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_copy_stat(e, &st);
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	archive_entry_set_dev(e, 0);
	archive_entry_set_ino(e, 0);
	archive_entry_set_nlink(e, 1);
	archive_entry_set_perm(e, entry_mode(w, st.st_mode));
	owner_map(w, e, st.st_uid, st.st_gid);
	entry_times(w, e, st.st_mtime);
	/* the xattrs of what is below dfd: /proc/self/fd/N/name resolves N
	 * (the directory we hold) and not a final symlink */
	xpath = dfd == AT_FDCWD || fd >= 0 ? xstrdup(name)
					   : xasprintf("/proc/self/fd/%d/%s", dfd, name);
	if (entry_xattrs(w, e, fd, xpath, &opaque, err) < 0)
		return pn_error_wrap(err, "`%s`", label);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return pn_error_set_errno(err, errno, "read link `%s`", label);
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
		archive_entry_set_size(e, 0);
	} else if (S_ISREG(st.st_mode) && st.st_nlink > 1 &&
		   (first = hl_find_or_add(w, &st, path))) {
		archive_entry_set_hardlink(e, first);
		archive_entry_set_size(e, 0);
		return write_header(w, e, path, err);
	} else if (!S_ISREG(st.st_mode)) {
		archive_entry_set_size(e, 0);
	}
	if (write_entry(w, e, fd, label, path, err) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		*is_dir = true;
		if (opaque) {
			cleanup_free char *mark = xasprintf("%s/" OPAQUE_MARK, path);

			return add_empty_file(w, mark, 0, err);
		}
	}
	return 0;
}

static int add_one(struct oci_layer_writer *w, const char *host_path, const char *path,
		   bool *is_dir, struct pn_error **err)
{
	return add_one_at(w, AT_FDCWD, host_path, host_path, path, is_dir, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_children(struct oci_layer_writer *w, const char *host_dir, const char *prefix,
			int depth, struct pn_error **err)
{
	cleanup_strv struct pn_strv names = PN_STRV_INIT;
	cleanup_dir DIR *d = opendir(host_dir);
	struct dirent *de;

	if (!d)
		return pn_error_set_errno(err, errno, "open directory `%s`", host_dir);
	if (depth > 512)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "`%s`: directories nested too deeply",
				    host_dir);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			pn_strv_push(&names, de->d_name);
	closedir(d);
	d = NULL;
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < names.n; i++) {
		cleanup_free char *hp = pn_path_join(host_dir, names.v[i]);
		cleanup_free char *p =
			*prefix ? xasprintf("%s/%s", prefix, names.v[i]) : xstrdup(names.v[i]);
		bool is_dir;

		if (add_one(w, hp, p, &is_dir, err) < 0)
			return -1;
		if (is_dir && add_children(w, hp, p, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

static char *clean_prefix(const char *prefix)
{
	size_t n;

	while (*prefix == '/')
		prefix++;
	n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	return xstrndup(prefix, n);
}

static int writer_usable(struct oci_layer_writer *w, struct pn_error **err)
{
	if (w->finished || w->failed)
		return pn_error_set(err, PN_ERR_GENERIC, "layer writer is %s",
				    w->finished ? "finished" : "in a failed state");
	return 0;
}

int oci_layer_writer_add_tree(struct oci_layer_writer *w, const char *dir, const char *prefix,
			      struct pn_error **err)
{
	cleanup_free char *p = clean_prefix(prefix ? prefix : "");
	bool is_dir = true;

	if (writer_usable(w, err) < 0)
		return -1;
	if (*p && add_one(w, dir, p, &is_dir, err) < 0)
		goto fail;
	if (!is_dir)
		return pn_error_set(err, PN_ERR_INVALID, "`%s` is not a directory", dir);
	if (add_children(w, dir, p, 0, err) < 0)
		goto fail;
	return 0;
fail:
	w->failed = true;
	return pn_error_wrap(err, "add `%s` to layer", dir);
}

int oci_layer_writer_add_path(struct oci_layer_writer *w, const char *host_path, const char *path,
			      struct pn_error **err)
{
	cleanup_free char *p = clean_prefix(path);
	bool is_dir;

	if (writer_usable(w, err) < 0)
		return -1;
	if (!*p)
		return pn_error_set(err, PN_ERR_INVALID, "empty path in layer for `%s`", host_path);
	if (add_one(w, host_path, p, &is_dir, err) < 0) {
		w->failed = true;
		return pn_error_wrap(err, "add `%s` to layer", host_path);
	}
	return 0;
}

int oci_layer_writer_add_at(struct oci_layer_writer *w, int dirfd, const char *name,
			    const char *label, const char *path, struct pn_error **err)
{
	cleanup_free char *p = clean_prefix(path);
	bool is_dir;

	if (writer_usable(w, err) < 0)
		return -1;
	if (!*p)
		return pn_error_set(err, PN_ERR_INVALID, "empty path in layer for `%s`", label);
	if (strchr(name, '/') || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		PN_BUG("oci_layer_writer_add_at: `%s` is not a name", name);
	if (add_one_at(w, dirfd, name, label, p, &is_dir, err) < 0) {
		w->failed = true;
		return pn_error_wrap(err, "add `%s` to layer", label);
	}
	return 0;
}

int oci_layer_writer_add_data(struct oci_layer_writer *w, const char *path, const void *data,
			      size_t len, mode_t mode, struct pn_error **err)
{
	cleanup_archive_entry struct archive_entry *e = archive_entry_new();
	cleanup_free char *p = clean_prefix(path);

	if (writer_usable(w, err) < 0)
		return -1;
	archive_entry_set_pathname(e, p);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode & 07777);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	entry_times(w, e, w->opts.mtime_clamp >= 0 ? w->opts.mtime_clamp : 0);
	if (write_header(w, e, p, err) < 0)
		return -1;
	if (len && archive_write_data(w->a, data, len) < 0)
		return archive_fail(w, "write tar data", err) < 0 ? pn_error_wrap(err, "`%s`", p)
								  : -1;
	return 0;
}

int oci_layer_writer_add_dir(struct oci_layer_writer *w, const char *path, mode_t mode,
			     struct pn_error **err)
{
	cleanup_archive_entry struct archive_entry *e = archive_entry_new();
	cleanup_free char *p = clean_prefix(path);

	if (writer_usable(w, err) < 0)
		return -1;
	archive_entry_set_pathname(e, p);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, mode & 07777);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	entry_times(w, e, w->opts.mtime_clamp >= 0 ? w->opts.mtime_clamp : 0);
	return write_header(w, e, p, err);
}

int oci_layer_writer_add_whiteout(struct oci_layer_writer *w, const char *path,
				  struct pn_error **err)
{
	cleanup_free char *p = clean_prefix(path);
	cleanup_free char *wh = NULL;

	if (writer_usable(w, err) < 0)
		return -1;
	if (!*p)
		return pn_error_set(err, PN_ERR_INVALID, "cannot white out the root");
	wh = whiteout_name(p);
	return add_empty_file(w, wh, 0, err);
}

int oci_layer_writer_finish(struct oci_layer_writer *w, struct oci_layer_result *out,
			    struct pn_error **err)
{
	if (writer_usable(w, err) < 0)
		return -1;
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return archive_fail(w, "finish tar", err);
	if (compress_feed(w, NULL, 0, true) < 0 || emit_flush(w) < 0) {
		w->failed = true;
		if (err) {
			pn_error_free(*err);
			*err = steal_pointer(&w->cb_err);
		}
		return pn_error_wrap(err, "finish %s stream",
				     oci_compression_name(w->opts.compression));
	}
	memset(out, 0, sizeof(*out));
	out->tar_size = w->tar_size;
	memcpy(out->data_digest, w->data_digest, sizeof(out->data_digest));
	out->desc.size = w->opts.sink ? w->sink_size : oci_blob_writer_size(w->blob);
	out->desc.media_type = xstrdup(oci_layer_media_type(w->opts.compression));
	if (w->opts.sink)
		oci_hasher_final(w->sink_h, out->desc.digest);
	else if (oci_blob_writer_commit(w->blob, NULL, -1, out->desc.digest, err) < 0) {
		w->failed = true;
		oci_layer_result_release(out);
		return pn_error_wrap(err, "store layer");
	}
	if (w->opts.compression == OCI_COMP_NONE)
		memcpy(out->diff_id, out->desc.digest, sizeof(out->diff_id));
	else {
		oci_hash_thread_finish(w->diff_ht);
		w->diff_ht = NULL;
		oci_hasher_final(w->diff, out->diff_id);
	}
	w->finished = true;
	return 0;
}

/* ------------------------------------------------------------ tar input */
/* fill a hole of a sparse entry up to offset `to` */
static int write_zeros_to(struct oci_layer_writer *w, la_int64_t *pos, la_int64_t to,
			  const char *path, struct pn_error **err)
{
	static const char zeros[65536];

	while (*pos < to) {
		size_t n =
			to - *pos > (la_int64_t)sizeof(zeros) ? sizeof(zeros) : (size_t)(to - *pos);

		if (archive_write_data(w->a, zeros, n) < 0)
			return archive_fail(w, "write tar data", err) < 0
				       ? pn_error_wrap(err, "`%s`", path)
				       : -1;
		*pos += (la_int64_t)n;
	}
	return 0;
}

static int copy_tar_entry(struct oci_layer_writer *w, struct archive *in, struct archive_entry *e,
			  struct pn_error **err)
{
	cleanup_free char *path = NULL, *link = NULL;
	const void *buf;
	size_t size;
	la_int64_t off, pos = 0;
	int r;

	if (oci_tar_path_clean(archive_entry_pathname(e) ? archive_entry_pathname(e) : "", &path,
			       err) < 0)
		return -1;
	if (!path || !*path)
		return 0; /* the root entry "./" */
	archive_entry_set_pathname(e, path);
	if (archive_entry_hardlink(e)) {
		if (oci_tar_path_clean(archive_entry_hardlink(e), &link, err) < 0)
			return -1;
		archive_entry_set_hardlink(e, link);
	}
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	archive_entry_set_perm(e, entry_mode(w, archive_entry_perm(e)));
	if (w->opts.normalize_owner || w->opts.n_idmaps) {
		owner_map(w, e, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e));
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
	}
	entry_times(w, e, archive_entry_mtime(e));
	archive_entry_sparse_clear(e); /* holes are written out as zeros */
	if (write_header(w, e, path, err) < 0)
		return -1;
	while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK) {
		if (write_zeros_to(w, &pos, off, path, err) < 0)
			return -1;
		if (size && archive_write_data(w->a, buf, size) < 0)
			return archive_fail(w, "write tar data", err) < 0
				       ? pn_error_wrap(err, "`%s`", path)
				       : -1;
		pos += (la_int64_t)size;
	}
	if (r == ARCHIVE_EOF && write_zeros_to(w, &pos, archive_entry_size(e), path, err) < 0)
		return -1;
	if (r != ARCHIVE_EOF)
		return pn_error_set(err, PN_ERR_INVALID, "read `%s`: %s", path,
				    archive_error_string(in));
	return 0;
}

int oci_layer_writer_add_tar(struct oci_layer_writer *w, int fd, struct pn_error **err)
{
	cleanup_archive_read struct archive *in = archive_read_new();
	struct archive_entry *e;
	int r;

	if (writer_usable(w, err) < 0)
		return -1;
	archive_read_support_format_tar(in);
	archive_read_support_filter_gzip(in);
	archive_read_support_filter_zstd(in);
	archive_read_support_filter_none(in);
	if (archive_read_open_fd(in, fd, 1 << 16) != ARCHIVE_OK) {
		w->failed = true;
		return pn_error_set(err, PN_ERR_INVALID, "read tar: %s", archive_error_string(in));
	}
	while ((r = oci_tar_next_header(in, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			w->failed = true;
			return pn_error_set(err, PN_ERR_INVALID, "read tar: %s",
					    archive_error_string(in));
		}
		if (copy_tar_entry(w, in, e, err) < 0) {
			w->failed = true;
			return pn_error_wrap(err, "copy tar");
		}
	}
	return 0;
}
