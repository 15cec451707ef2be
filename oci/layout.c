/* layout.c - the OCI image layout store: verified atomic blobs, index.json
 * replaced atomically under a lock file, tags, resolve, list, gc.
 *
 * Crash safety: a blob becomes visible only by rename() after fsync, so a
 * blob path always holds complete, verified content.  index.json is written
 * to a temp file, fsynced and renamed over the old one while .pinion.lock is
 * held (flock), so readers see the old or the new index, never a mix, and a
 * killed writer leaves the previous index (and its tags) intact.  Temp files
 * live in .pinion-tmp/ inside the layout (same filesystem for rename).
 *
 * gc safety: every handle holds a shared flock on .pinion-gc.lock from open
 * to free; gc converts its handle's hold to an exclusive one.  So gc runs only
 * while no other pinion process has the layout open, and removes neither a
 * blob a running build, pull, push or copy uses nor a temp file it writes. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LAYOUT_FILE    "oci-layout"
#define LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define INDEX_FILE     "index.json"
#define LOCK_FILE      ".pinion.lock"
#define GC_LOCK_FILE   ".pinion-gc.lock"
#define TMP_DIR	       ".pinion-tmp"
#define BLOB_DIR       "blobs/sha256"
#define TAG_MAX	       255

struct oci_layout {
	char *path;
	int dirfd;
	int lock_fd;
	int lock_depth;
	int gc_fd;   /* .pinion-gc.lock: shared while open, exclusive in gc; -1: none */
	int gc_excl; /* depth of oci_layout_gc_lock */
};

const char *oci_layout_path(const struct oci_layout *l)
{
	return l->path;
}

int oci_layout_dirfd(const struct oci_layout *l)
{
	return l->dirfd;
}

static int mkdir_at(int dfd, const char *name, struct pn_error **err)
{
	if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
		return pn_error_set_errno(err, errno, "create directory `%s`", name);
	return 0;
}

/* write name in the layout atomically (temp in TMP_DIR, fsync, rename, fsync dir) */
static int layout_write_atomic(struct oci_layout *l, const char *name, const void *data, size_t len,
			       struct pn_error **err)
{
	cleanup_free char *prefix = xasprintf("%s/%s.", TMP_DIR, name);

	/* layouts made by other tools have no TMP_DIR */
	if (mkdir_at(l->dirfd, TMP_DIR, err) < 0)
		return -1;
	if (pn_write_file_atomic_at(l->dirfd, name, prefix, data, len, 0644, err) < 0)
		return pn_error_wrap(err, "layout `%s`", l->path);
	return 0;
}

static int layout_create(struct oci_layout *l, struct pn_error **err)
{
	struct oci_index ix;
	cleanup_free char *json = NULL;
	size_t len;
	int rc;

	if (mkdir_at(l->dirfd, "blobs", err) < 0 || mkdir_at(l->dirfd, BLOB_DIR, err) < 0)
		return -1;
	if (faccessat(l->dirfd, LAYOUT_FILE, F_OK, 0) < 0 &&
	    layout_write_atomic(l, LAYOUT_FILE, LAYOUT_CONTENT, strlen(LAYOUT_CONTENT), err) < 0)
		return -1;
	if (faccessat(l->dirfd, INDEX_FILE, F_OK, 0) == 0)
		return 0;
	if (oci_layout_lock(l, err) < 0)
		return -1;
	rc = 0;
	if (faccessat(l->dirfd, INDEX_FILE, F_OK, 0) < 0) {
		oci_index_init(&ix);
		rc = oci_index_to_json(&ix, &json, &len, err);
		if (rc == 0)
			rc = layout_write_atomic(l, INDEX_FILE, json, len, err);
	}
	oci_layout_unlock(l);
	return rc;
}

static int layout_check(struct oci_layout *l, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	cleanup_json json_t *j = NULL;
	size_t len;
	const char *v;

	if (pn_read_file_at(l->dirfd, LAYOUT_FILE, 4096, &data, &len, err) < 0) {
		if ((*err)->code == PN_ERR_NOT_FOUND)
			pn_error_set(err, PN_ERR_NOT_FOUND,
				     "`%s` is not an OCI image layout (no %s)", l->path,
				     LAYOUT_FILE);
		return -1;
	}
	j = oci_json_load(data, len, LAYOUT_FILE, err);
	if (!j)
		return -1;
	v = json_string_value(json_object_get(j, "imageLayoutVersion"));
	if (!v || strncmp(v, "1.", 2) != 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED, "unsupported imageLayoutVersion `%s`",
				    v ? v : "(missing)");
	return 0;
}

static int gc_flock(int fd, int op)
{
	int rc;

	while ((rc = flock(fd, op)) < 0 && errno == EINTR)
		;
	return rc;
}

/* open the gc lock file (created if the directory is writable; a reader of a
 * layout it cannot write uses it read-only, or goes without when there is
 * none: whoever could gc it could also have created it) */
static int gc_lock_open(struct oci_layout *l, bool required, struct pn_error **err)
{
	int fd = openat(l->dirfd, GC_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
		fd = openat(l->dirfd, GC_LOCK_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (required)
			return pn_error_set_errno(err, errno, "open `%s` in `%s`", GC_LOCK_FILE,
						  l->path);
		pn_debug("no gc lock in `%s`: %s", l->path, strerror(errno));
		return 0;
	}
	l->gc_fd = fd;
	return 0;
}

/* the shared hold every handle keeps for its life */
static int gc_lock_shared(struct oci_layout *l, bool required, struct pn_error **err)
{
	if (gc_lock_open(l, required, err) < 0)
		return -1;
	if (l->gc_fd < 0 || flock(l->gc_fd, LOCK_SH | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK) {
		pn_info("waiting for `pinion gc` on `%s` to finish", l->path);
		if (gc_flock(l->gc_fd, LOCK_SH) == 0)
			return 0;
	}
	return pn_error_set_errno(err, errno, "lock `%s`", l->path);
}

int oci_layout_open(const char *dir, int flags, struct oci_layout **out, struct pn_error **err)
{
	struct oci_layout *l = xcalloc(1, sizeof(*l));
	bool create = flags & OCI_LAYOUT_CREATE;

	l->path = xstrdup(dir);
	l->lock_fd = -1;
	l->gc_fd = -1;
	if (create && pn_mkdir_p(dir, 0755, err) < 0)
		goto fail;
	l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0) {
		pn_error_set_errno(err, errno, "open layout `%s`", dir);
		goto fail;
	}
	/* a reader checks first, so a directory that is no layout gets no lock file */
	if (!create && layout_check(l, err) < 0)
		goto fail_wrap;
	if (gc_lock_shared(l, create, err) < 0)
		goto fail_wrap;
	if (create && (mkdir_at(l->dirfd, TMP_DIR, err) < 0 || layout_create(l, err) < 0 ||
		       layout_check(l, err) < 0))
		goto fail_wrap;
	*out = l;
	return 0;
fail_wrap:
	pn_error_wrap(err, "open layout `%s`", dir);
fail:
	oci_layout_free(l);
	return -1;
}

void oci_layout_free(struct oci_layout *l)
{
	if (!l)
		return;
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	if (l->gc_fd >= 0)
		close(l->gc_fd);
	if (l->dirfd > 0)
		close(l->dirfd);
	free(l->path);
	free(l);
}

int oci_layout_gc_lock(struct oci_layout *l, bool wait, struct pn_error **err)
{
	if (l->gc_excl > 0) {
		l->gc_excl++;
		return 1;
	}
	if (l->gc_fd < 0 && gc_lock_open(l, true, err) < 0)
		return -1;
	if (flock(l->gc_fd, LOCK_EX | LOCK_NB) == 0) {
		l->gc_excl = 1;
		return 1;
	}
	if (errno != EWOULDBLOCK)
		return pn_error_set_errno(err, errno, "lock `%s` for gc", l->path);
	/* a failed conversion may have dropped this handle's shared hold */
	if (!wait) {
		if (gc_flock(l->gc_fd, LOCK_SH) < 0)
			return pn_error_set_errno(err, errno, "lock `%s`", l->path);
		return 0;
	}
	pn_info("waiting for the pinion processes using `%s` (builds, pulls, pushes) to finish",
		l->path);
	if (gc_flock(l->gc_fd, LOCK_EX) < 0)
		return pn_error_set_errno(err, errno, "lock `%s` for gc", l->path);
	l->gc_excl = 1;
	return 1;
}

void oci_layout_gc_unlock(struct oci_layout *l)
{
	if (l->gc_excl == 0 || --l->gc_excl > 0)
		return;
	/* back to the shared hold (a downgrade never waits) */
	if (gc_flock(l->gc_fd, LOCK_SH) < 0)
		pn_debug("relock `%s`: %s", l->path, strerror(errno));
}

int oci_layout_lock(struct oci_layout *l, struct pn_error **err)
{
	if (l->lock_depth++ > 0)
		return 0;
	l->lock_fd = openat(l->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->lock_fd < 0) {
		l->lock_depth = 0;
		return pn_error_set_errno(err, errno, "open lock file in `%s`", l->path);
	}
	while (flock(l->lock_fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		close(l->lock_fd);
		l->lock_fd = -1;
		l->lock_depth = 0;
		return pn_error_set_errno(err, errno, "lock `%s`", l->path);
	}
	return 0;
}

void oci_layout_unlock(struct oci_layout *l)
{
	if (l->lock_depth == 0 || --l->lock_depth > 0)
		return;
	close(l->lock_fd);
	l->lock_fd = -1;
}

/* ------------------------------------------------------------------ blobs */
static char *blob_rel(const char *digest)
{
	return xasprintf(BLOB_DIR "/%s", oci_digest_hex(digest));
}

bool oci_layout_has_blob(struct oci_layout *l, const char *digest)
{
	cleanup_free char *rel = NULL;
	struct stat st;

	if (!oci_digest_valid(digest))
		return false;
	rel = blob_rel(digest);
	return fstatat(l->dirfd, rel, &st, 0) == 0 && S_ISREG(st.st_mode);
}

char *oci_layout_blob_path(struct oci_layout *l, const char *digest)
{
	cleanup_free char *rel = blob_rel(digest);

	return pn_path_join(l->path, rel);
}

int oci_layout_open_blob(struct oci_layout *l, const char *digest, int *fd_out, int64_t *size_out,
			 struct pn_error **err)
{
	cleanup_free char *rel = NULL;
	struct stat st;
	int fd;

	if (oci_digest_parse(digest, NULL, err) < 0)
		return -1;
	rel = blob_rel(digest);
	fd = openat(l->dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return pn_error_set(err, PN_ERR_NOT_FOUND, "blob `%s` not found in `%s`",
					    digest, l->path);
		return pn_error_set_errno(err, errno, "open blob `%s`", digest);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pn_error_set(err, PN_ERR_INVALID, "blob `%s` is not a regular file", digest);
	}
	*fd_out = fd;
	if (size_out)
		*size_out = st.st_size;
	return 0;
}

int oci_layout_read_blob(struct oci_layout *l, const char *digest, size_t max, char **out,
			 size_t *len_out, struct pn_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *data = NULL;
	oci_digest_t got;
	int64_t size;
	size_t len;

	if (oci_layout_open_blob(l, digest, &fd, &size, err) < 0)
		return -1;
	if ((uint64_t)size > max)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "blob `%s` is %lld bytes (limit %zu)",
				    digest, (long long)size, max);
	data = xmalloc((size_t)size + 1);
	if (pn_read_all(fd, data, (size_t)size) != (ssize_t)size)
		return pn_error_set_errno(err, errno ? errno : EIO, "read blob `%s`", digest);
	len = (size_t)size;
	data[len] = '\0';
	oci_digest_buf(data, len, got);
	if (strcmp(got, digest) != 0)
		return pn_error_set(err, PN_ERR_DIGEST,
				    "blob `%s` is corrupt: content has digest `%s`", digest, got);
	*out = steal_pointer(&data);
	if (len_out)
		*len_out = len;
	return 0;
}

#define COPY_BUF ((size_t)1 << 20)

struct oci_blob_writer {
	struct oci_layout *layout;
	struct pn_atomic_file f; /* in TMP_DIR until the commit */
	struct oci_hasher *h;
	struct oci_hash_thread *ht; /* hashing of a large blob, on its own thread */
	int64_t size;
};

struct oci_blob_writer *oci_layout_blob_begin(struct oci_layout *l, struct pn_error **err)
{
	struct oci_blob_writer *w;
	struct pn_atomic_file f;

	if (mkdir_at(l->dirfd, TMP_DIR, err) < 0)
		return NULL;
	if (pn_atomic_file_open(&f, l->dirfd, TMP_DIR "/blob.", err) < 0) {
		pn_error_wrap(err, "create temporary blob in `%s`", l->path);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->layout = l;
	w->f = f;
	w->h = oci_hasher_new();
	return w;
}

int oci_blob_writer_write(struct oci_blob_writer *w, const void *data, size_t len,
			  struct pn_error **err)
{
	if (pn_write_all(w->f.fd, data, len) < 0)
		return pn_error_set_errno(err, errno, "write blob");
	oci_hasher_update_large(w->h, &w->ht, (uint64_t)w->size, data, len);
	w->size += (int64_t)len;
	return 0;
}

int64_t oci_blob_writer_size(const struct oci_blob_writer *w)
{
	return w->size;
}

int oci_blob_writer_commit(struct oci_blob_writer *w, const char *expected, int64_t expected_size,
			   oci_digest_t out, struct pn_error **err)
{
	cleanup_free char *dst = NULL;
	oci_digest_t got;

	oci_hash_thread_finish(w->ht);
	w->ht = NULL;
	oci_hasher_final(w->h, got);
	if (expected_size >= 0 && expected_size != w->size)
		return pn_error_set(err, PN_ERR_DIGEST,
				    "blob size %lld does not match the expected %lld",
				    (long long)w->size, (long long)expected_size);
	if (expected && strcmp(expected, got) != 0)
		return pn_error_set(err, PN_ERR_DIGEST, "digest mismatch: expected `%s`, got `%s`",
				    expected, got);
	dst = blob_rel(got);
	if (pn_atomic_file_commit(&w->f, dst, 0644, err) < 0)
		return pn_error_wrap(err, "store blob `%s`", got);
	if (out)
		memcpy(out, got, sizeof(got));
	return 0;
}

void oci_blob_writer_free(struct oci_blob_writer *w)
{
	if (!w)
		return;
	pn_atomic_file_abort(&w->f);
	oci_hash_thread_finish(w->ht);
	oci_hasher_free(w->h);
	free(w);
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* hash (and with OCI_SHARE_WRITE also write) size bytes of fd from 0, in
 * one read (oci_fd_pass); with data_out also the digest of those bytes alone */
static int append_read(struct oci_blob_writer *w, int fd, int64_t size, enum oci_blob_share how,
		       int direct, const char *label, char *data_out, struct pn_error **err)
{
	struct oci_hasher *data = data_out ? oci_hasher_new() : NULL;
	int rc;

	oci_hash_thread_finish(w->ht); /* w->h is hashed on the pass's threads */
	w->ht = NULL;
	rc = oci_fd_pass(fd, size, label, w->h, data, how == OCI_SHARE_WRITE ? w->f.fd : -1, direct,
			 w->size, err);
	if (rc == 0)
		w->size += size;
	if (data && rc == 0)
		oci_hasher_final(data, data_out);
	if (data)
		oci_hasher_free(data);
	return rc;
}

int oci_blob_writer_append_fd(struct oci_blob_writer *w, int fd, int64_t size, const char *label,
			      enum oci_blob_share *how, char *data_out, struct pn_error **err)
{
	struct stat before, after;
	enum oci_blob_share h;
	cleanup_close int direct = -1;

	if (fstat(fd, &before) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", label);
	if (oci_fd_share(w->f.fd, w->size, fd, size, &h, &direct, err) < 0)
		return pn_error_wrap(err, "`%s` into blob", label);
	if (append_read(w, fd, size, h, direct, label, data_out, err) < 0)
		return -1;
	if (lseek(w->f.fd, w->size, SEEK_SET) < 0) /* the pass writes with pwrite */
		return pn_error_set_errno(err, errno, "seek blob");
	if (fstat(fd, &after) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", label);
	if (!same_file_state(&before, &after))
		return pn_error_set(err, PN_ERR_GENERIC, "`%s` changed while read", label);
	if (how)
		*how = h;
	return 0;
}

/* the whole blob shared (FICLONE) into a temp file of dst and committed
 * under its digest without re-reading it, as a hard link would be */
static bool blob_clone(struct oci_layout *src, struct oci_layout *dst, const char *digest)
{
	cleanup_close int fd = -1;
	cleanup_free char *rel = blob_rel(digest);
	struct pn_atomic_file f;
	struct pn_error *e = NULL;
	int64_t size;

	if (oci_layout_open_blob(src, digest, &fd, &size, &e) < 0 ||
	    mkdir_at(dst->dirfd, TMP_DIR, &e) < 0 ||
	    pn_atomic_file_open(&f, dst->dirfd, TMP_DIR "/blob.", &e) < 0) {
		pn_error_free(e);
		return false;
	}
	if (!oci_fd_clone(f.fd, fd) || pn_atomic_file_commit(&f, rel, 0644, &e) < 0) {
		pn_error_free(e);
		pn_atomic_file_abort(&f);
		return false;
	}
	return true;
}

static int blob_stream_copy(struct oci_layout *src, struct oci_layout *dst, const char *digest,
			    struct pn_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	struct oci_blob_writer *w;
	int64_t size = 0;
	ssize_t n = 0;
	int rc = 0;

	if (oci_layout_open_blob(src, digest, &fd, &size, err) < 0)
		return -1;
	w = oci_layout_blob_begin(dst, err);
	if (!w)
		return -1;
	buf = xmalloc(COPY_BUF);
	while (rc == 0 && (n = pn_read_all(fd, buf, COPY_BUF)) > 0) {
		rc = oci_blob_writer_write(w, buf, (size_t)n, err);
		if ((size_t)n < COPY_BUF)
			break;
	}
	if (rc == 0 && n < 0)
		rc = pn_error_set_errno(err, errno, "read blob `%s`", digest);
	if (rc == 0)
		rc = oci_blob_writer_commit(w, digest, size, NULL, err);
	oci_blob_writer_free(w);
	return rc;
}

int oci_layout_copy_blob(struct oci_layout *src, struct oci_layout *dst, const char *digest,
			 struct pn_error **err)
{
	cleanup_free char *from = NULL, *to = NULL;

	if (oci_layout_has_blob(dst, digest))
		return 0;
	from = oci_layout_blob_path(src, digest);
	to = oci_layout_blob_path(dst, digest);
	if (link(from, to) == 0 || errno == EEXIST || blob_clone(src, dst, digest))
		return 0;
	if (blob_stream_copy(src, dst, digest, err) < 0)
		return pn_error_wrap(err, "copy blob `%s`", digest);
	return 0;
}

int oci_layout_put_blob(struct oci_layout *l, const void *data, size_t len, const char *expected,
			oci_digest_t out, struct pn_error **err)
{
	struct oci_blob_writer *w;
	oci_digest_t got;
	int rc;

	if (expected && oci_digest_parse(expected, NULL, err) < 0)
		return -1;
	oci_digest_buf(data, len, got);
	if (expected && strcmp(expected, got) != 0)
		return pn_error_set(err, PN_ERR_DIGEST, "digest mismatch: expected `%s`, got `%s`",
				    expected, got);
	if (oci_layout_has_blob(l, got)) {
		if (out)
			memcpy(out, got, sizeof(got));
		return 0;
	}
	w = oci_layout_blob_begin(l, err);
	if (!w)
		return -1;
	rc = oci_blob_writer_write(w, data, len, err);
	if (rc == 0)
		rc = oci_blob_writer_commit(w, got, (int64_t)len, out, err);
	oci_blob_writer_free(w);
	return rc;
}

/* ------------------------------------------------------------ index.json */
static int index_read(struct oci_layout *l, struct oci_index *ix, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	size_t len;

	if (pn_read_file_at(l->dirfd, INDEX_FILE, OCI_MANIFEST_MAX, &data, &len, err) < 0 ||
	    oci_index_parse(data, len, ix, err) < 0)
		return pn_error_wrap(err, "read index of `%s`", l->path);
	return 0;
}

static int index_write(struct oci_layout *l, const struct oci_index *ix, struct pn_error **err)
{
	cleanup_free char *json = NULL;
	size_t len;

	if (oci_index_to_json(ix, &json, &len, err) < 0 ||
	    layout_write_atomic(l, INDEX_FILE, json, len, err) < 0)
		return pn_error_wrap(err, "write index of `%s`", l->path);
	return 0;
}

static const char *desc_tag(const struct oci_descriptor *d)
{
	return d->annotations
		       ? json_string_value(json_object_get(d->annotations, OCI_ANNOT_REF_NAME))
		       : NULL;
}

/* remove entries tagged `tag`; returns how many */
static size_t index_drop_tag(struct oci_index *ix, const char *tag)
{
	size_t j = 0, dropped = 0;

	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *t = desc_tag(&ix->manifests[i]);

		if (t && strcmp(t, tag) == 0) {
			oci_descriptor_release(&ix->manifests[i]);
			dropped++;
			continue;
		}
		ix->manifests[j++] = ix->manifests[i];
	}
	ix->n_manifests = j;
	return dropped;
}

static int tag_check(const char *tag, struct pn_error **err)
{
	size_t n = strlen(tag);

	if (n == 0 || n > TAG_MAX)
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid tag `%.80s`: length must be 1 to %d", tag, TAG_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];

		if (c <= 0x20 || c >= 0x7f)
			return pn_error_set(
				err, PN_ERR_INVALID,
				"invalid tag `%.80s`: only printable ASCII without spaces", tag);
	}
	if (strncmp(tag, "sha256:", 7) == 0)
		return pn_error_set(err, PN_ERR_INVALID, "invalid tag `%.80s`: looks like a digest",
				    tag);
	return 0;
}

/* lock the layout, read its index, edit it (edit returns < 0 with *err set
 * to leave the index as it is), write it back atomically, unlock */
static int index_edit(struct oci_layout *l,
		      int (*edit)(struct oci_layout *l, struct oci_index *ix, void *ctx,
				  struct pn_error **err),
		      void *ctx, struct pn_error **err)
{
	struct oci_index ix;
	int rc = -1;

	if (oci_layout_lock(l, err) < 0)
		return -1;
	if (index_read(l, &ix, err) < 0)
		goto out;
	if (edit(l, &ix, ctx, err) == 0)
		rc = index_write(l, &ix, err);
	oci_index_release(&ix);
out:
	oci_layout_unlock(l);
	return rc;
}

struct tag_edit {
	const char *tag;
	const struct oci_descriptor *manifest;
};

static int tag_edit(struct oci_layout *l, struct oci_index *ix, void *ctx, struct pn_error **err)
{
	const struct tag_edit *t = ctx;
	struct oci_descriptor *d;

	(void)l;
	(void)err;
	index_drop_tag(ix, t->tag);
	ix->manifests =
		xrealloc(ix->manifests, st_mult(ix->n_manifests + 1, sizeof(*ix->manifests)));
	d = &ix->manifests[ix->n_manifests++];
	oci_descriptor_copy(d, t->manifest);
	if (!d->annotations)
		d->annotations = json_object();
	json_object_set_new(d->annotations, OCI_ANNOT_REF_NAME, json_string(t->tag));
	return 0;
}

int oci_layout_tag(struct oci_layout *l, const char *tag, const struct oci_descriptor *manifest,
		   struct pn_error **err)
{
	struct tag_edit t = {tag, manifest};

	if (tag_check(tag, err) < 0)
		return -1;
	if (!oci_layout_has_blob(l, manifest->digest))
		return pn_error_set(err, PN_ERR_NOT_FOUND,
				    "tag `%s`: manifest `%s` is not in the layout", tag,
				    manifest->digest);
	if (index_edit(l, tag_edit, &t, err) < 0)
		return pn_error_wrap(err, "tag `%s`", tag);
	return 0;
}

struct annotate_edit {
	const char *digest, *key, *value;
};

static int annotate_edit(struct oci_layout *l, struct oci_index *ix, void *ctx,
			 struct pn_error **err)
{
	const struct annotate_edit *a = ctx;
	size_t n = 0;

	for (size_t i = 0; i < ix->n_manifests; i++) {
		struct oci_descriptor *d = &ix->manifests[i];

		if (strcmp(d->digest, a->digest) != 0)
			continue;
		if (!d->annotations)
			d->annotations = json_object();
		if (a->value)
			json_object_set_new(d->annotations, a->key, json_string(a->value));
		else
			json_object_del(d->annotations, a->key);
		n++;
	}
	if (n == 0)
		return pn_error_set(err, PN_ERR_NOT_FOUND, "no image `%s` in `%s`", a->digest,
				    l->path);
	return 0;
}

int oci_layout_annotate(struct oci_layout *l, const char *digest, const char *key,
			const char *value, struct pn_error **err)
{
	struct annotate_edit a = {digest, key, value};

	return index_edit(l, annotate_edit, &a, err);
}

static int untag_edit(struct oci_layout *l, struct oci_index *ix, void *ctx, struct pn_error **err)
{
	const char *tag = ctx;

	if (index_drop_tag(ix, tag) == 0)
		return pn_error_set(err, PN_ERR_NOT_FOUND, "no tag `%s` in `%s`", tag, l->path);
	return 0;
}

int oci_layout_untag(struct oci_layout *l, const char *tag, struct pn_error **err)
{
	return index_edit(l, untag_edit, (void *)tag, err);
}

static void list_tags(const struct oci_index *ix, struct pn_buf *b)
{
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *t = desc_tag(&ix->manifests[i]);

		pn_buf_printf(b, NULL, "%s%s", b->len ? ", " : "", t ? t : ix->manifests[i].digest);
	}
}

const char *oci_ref_tag_of(const char *name)
{
	size_t end = strcspn(name, "@");
	const char *slash = memrchr(name, '/', end);
	const char *from = slash ? slash + 1 : name;
	const char *colon = memrchr(from, ':', end - (size_t)(from - name));

	return colon ? colon + 1 : NULL;
}

char *oci_ref_layout_name(const char *name)
{
	size_t end = strcspn(name, "@");

	if (oci_ref_tag_of(name))
		return xstrndup(name, end);
	return xasprintf("%.*s:latest", (int)end, name);
}

/* the entry ref names when it is not an entry's whole name: the one whose
 * tag the bare tag ref is, or ref:latest; NULL when none (*several: how many
 * matched a bare tag, when more than one) */
static const struct oci_descriptor *resolve_short(const struct oci_index *ix, const char *ref,
						  size_t *several)
{
	const struct oci_descriptor *found = NULL;
	bool bare = !strpbrk(ref, "/:@");
	cleanup_free char *latest = bare || oci_ref_tag_of(ref) ? NULL : oci_ref_layout_name(ref);

	*several = 0;
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *t = desc_tag(&ix->manifests[i]);
		const char *tag = t ? oci_ref_tag_of(t) : NULL;

		if (latest && t && strcmp(t, latest) == 0)
			return &ix->manifests[i];
		if (bare && tag && strcmp(tag, ref) == 0) {
			found = found ? found : &ix->manifests[i];
			++*several;
		}
	}
	if (*several > 1)
		return NULL;
	*several = 0;
	return found;
}

static int resolve_in(const struct oci_index *ix, const char *ref, const char *path,
		      struct oci_descriptor *out, struct pn_error **err)
{
	const struct oci_descriptor *d;
	size_t several = 0;
	cleanup_buf struct pn_buf have = PN_BUF_INIT;
	bool by_digest = ref && strncmp(ref, "sha256:", 7) == 0;

	if (by_digest && oci_digest_parse(ref, NULL, err) < 0)
		return -1;
	if (!ref && ix->n_manifests == 1) {
		oci_descriptor_copy(out, &ix->manifests[0]);
		return 0;
	}
	for (size_t i = 0; ref && i < ix->n_manifests; i++) {
		const char *t = desc_tag(d = &ix->manifests[i]);

		if (by_digest ? strcmp(d->digest, ref) == 0 : (t && strcmp(t, ref) == 0)) {
			oci_descriptor_copy(out, d);
			return 0;
		}
	}
	if (ref && !by_digest && (d = resolve_short(ix, ref, &several))) {
		oci_descriptor_copy(out, d);
		return 0;
	}
	list_tags(ix, &have);
	if (several)
		pn_error_set(err, PN_ERR_INVALID,
			     "`%s` names %zu images in `%s`: name one in full (has: %s)", ref,
			     several, path, have.data);
	else if (!ref)
		pn_error_set(err, ix->n_manifests ? PN_ERR_INVALID : PN_ERR_NOT_FOUND,
			     "`%s` holds %zu images: name one with oci:%s:TAG (has: %s)", path,
			     ix->n_manifests, path, have.len ? have.data : "none");
	else
		pn_error_set(err, PN_ERR_NOT_FOUND, "no image `%s` in `%s` (has: %s)", ref, path,
			     have.len ? have.data : "none");
	return -1;
}

int oci_layout_resolve(struct oci_layout *l, const char *ref, struct oci_descriptor *out,
		       struct pn_error **err)
{
	struct oci_index ix;
	int rc;

	oci_descriptor_init(out);
	if (index_read(l, &ix, err) < 0)
		return -1;
	rc = resolve_in(&ix, ref, l->path, out, err);
	oci_index_release(&ix);
	return rc;
}

int oci_layout_list(struct oci_layout *l, struct oci_layout_entry **out, size_t *n,
		    struct pn_error **err)
{
	struct oci_index ix;
	struct oci_layout_entry *e;

	if (index_read(l, &ix, err) < 0)
		return -1;
	e = xcalloc(ix.n_manifests + 1, sizeof(*e));
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const char *t = desc_tag(&ix.manifests[i]);

		e[i].tag = t ? xstrdup(t) : NULL;
		oci_descriptor_copy(&e[i].desc, &ix.manifests[i]);
	}
	*out = e;
	*n = ix.n_manifests;
	oci_index_release(&ix);
	return 0;
}

void oci_layout_entries_free(struct oci_layout_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].tag);
		oci_descriptor_release(&e[i].desc);
	}
	free(e);
}

/* -------------------------------------------------------------------- gc */
static int gc_mark(struct oci_layout *l, const struct oci_descriptor *d, struct pn_strv *live,
		   int depth, struct pn_error **err);

static int gc_mark_doc(struct oci_layout *l, const struct oci_descriptor *d, struct pn_strv *live,
		       int depth, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	size_t len;
	enum oci_doc_kind kind;
	int rc = 0;

	if (oci_layout_read_blob(l, d->digest, OCI_MANIFEST_MAX, &data, &len, err) < 0)
		return -1;
	if (oci_doc_kind(d->media_type, data, len, &kind, err) < 0)
		return -1;
	if (kind == OCI_DOC_INDEX) {
		struct oci_index ix;

		if (oci_index_parse(data, len, &ix, err) < 0)
			return -1;
		for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++)
			rc = gc_mark(l, &ix.manifests[i], live, depth + 1, err);
		oci_index_release(&ix);
	} else {
		struct oci_manifest m;

		if (oci_manifest_parse(data, len, &m, err) < 0)
			return -1;
		pn_strv_push(live, m.config.digest);
		for (size_t i = 0; i < m.n_layers; i++)
			pn_strv_push(live, m.layers[i].digest);
		oci_manifest_release(&m);
	}
	return rc;
}

static int gc_mark(struct oci_layout *l, const struct oci_descriptor *d, struct pn_strv *live,
		   int depth, struct pn_error **err)
{
	enum oci_doc_kind kind;

	if (depth > 8)
		return pn_error_set(err, PN_ERR_INVALID, "indexes nested too deeply");
	pn_strv_push(live, d->digest);
	if (oci_doc_kind(d->media_type, NULL, 0, &kind, NULL) < 0)
		return 0; /* not a manifest or index: a leaf */
	if (!oci_layout_has_blob(l, d->digest))
		return 0;
	return gc_mark_doc(l, d, live, depth, err);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void oci_gc_opts_init(struct oci_gc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->tmp_min_age = OCI_GC_TMP_MIN_AGE;
	o->over_bytes = -1;
	o->over_garbage = -1;
}

/* what a removal frees: nothing while another hard link (a layout the blob
 * was linked into) keeps the data */
static int64_t freed_bytes(const struct stat *st)
{
	return st->st_nlink > 1 ? 0 : (int64_t)st->st_size;
}

/* every blob not in live (sorted) into garbage; counts into s */
static int gc_scan(struct oci_layout *l, const struct pn_strv *live, struct pn_strv *garbage,
		   struct oci_gc_stats *s, struct pn_error **err)
{
	cleanup_close int bfd = openat(l->dirfd, BLOB_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (bfd < 0)
		return pn_error_set_errno(err, errno, "open `%s/%s`", l->path, BLOB_DIR);
	d = fdopendir(bfd);
	if (!d)
		return pn_error_set_errno(err, errno, "open `%s/%s`", l->path, BLOB_DIR);
	bfd = -1;
	while ((de = readdir(d))) {
		cleanup_free char *dg = xasprintf("sha256:%s", de->d_name);
		struct stat st;

		if (!oci_digest_valid(dg) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		s->blobs++;
		s->blob_bytes += (int64_t)st.st_size;
		if (live->n && bsearch(&dg, live->v, live->n, sizeof(char *), cmp_strp) != NULL)
			continue;
		s->garbage++;
		s->garbage_bytes += freed_bytes(&st);
		pn_strv_push(garbage, de->d_name);
	}
	return 0;
}

static int gc_sweep(struct oci_layout *l, const struct pn_strv *garbage, struct pn_error **err)
{
	cleanup_close int bfd = openat(l->dirfd, BLOB_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (bfd < 0)
		return pn_error_set_errno(err, errno, "open `%s/%s`", l->path, BLOB_DIR);
	for (size_t i = 0; i < garbage->n; i++)
		if (unlinkat(bfd, garbage->v[i], 0) < 0 && errno != ENOENT)
			return pn_error_set_errno(err, errno, "remove blob `sha256:%s`",
						  garbage->v[i]);
	return 0;
}

/* temp files: with the exclusive gc lock held no pinion process writes any;
 * the age bound also spares writers that do not take the lock */
static void gc_tmp(struct oci_layout *l, const struct oci_gc_opts *o, struct oci_gc_stats *s)
{
	cleanup_close int fd = openat(l->dirfd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	time_t now = time(NULL);

	if (fd < 0 || !(d = fdopendir(fd)))
		return;
	fd = -1;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if ((int64_t)(now - st.st_mtime) < o->tmp_min_age) {
			s->tmp_young++;
			continue;
		}
		if (!o->dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0)
			continue;
		s->tmp++;
		s->tmp_bytes += freed_bytes(&st);
	}
}

static bool gc_over_bounds(const struct oci_gc_opts *o, const struct oci_gc_stats *s)
{
	if (o->over_bytes < 0 && o->over_garbage < 0)
		return true;
	return (o->over_bytes >= 0 && s->blob_bytes > o->over_bytes) ||
	       (o->over_garbage >= 0 && (int64_t)s->garbage > o->over_garbage);
}

/* mark from index.json and the extra roots; then scan, sweep, temp files */
/* the referrers index an entry names (artifact.c) and what it lists */
static int gc_mark_referrers(struct oci_layout *l, const struct oci_descriptor *d,
			     struct pn_strv *live, struct pn_error **err)
{
	const char *r =
		d->annotations
			? json_string_value(json_object_get(d->annotations, OCI_ANNOT_REFERRERS))
			: NULL;
	struct oci_descriptor rd;
	int rc;

	if (!r || !oci_digest_valid(r) || !oci_layout_has_blob(l, r))
		return 0;
	oci_descriptor_init(&rd);
	memcpy(rd.digest, r, sizeof(rd.digest));
	rd.media_type = xstrdup(OCI_MT_INDEX);
	rc = gc_mark(l, &rd, live, 0, err);
	oci_descriptor_release(&rd);
	return rc;
}

int oci_layout_reachable(struct oci_layout *l, struct pn_strv *live, struct pn_error **err)
{
	struct oci_index ix;
	int rc = 0;

	if (index_read(l, &ix, err) < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
		rc = gc_mark(l, &ix.manifests[i], live, 0, err);
		if (rc == 0)
			rc = gc_mark_referrers(l, &ix.manifests[i], live, err);
	}
	oci_index_release(&ix);
	return rc;
}

static int gc_locked(struct oci_layout *l, const struct oci_gc_opts *o, struct oci_gc_stats *s,
		     struct pn_error **err)
{
	cleanup_strv struct pn_strv live = PN_STRV_INIT, garbage = PN_STRV_INIT;

	if (oci_layout_reachable(l, &live, err) < 0)
		return -1; /* unsure what is live: remove nothing */
	for (size_t i = 0; o->roots && i < o->roots->n; i++)
		pn_strv_push(&live, o->roots->v[i]);
	if (live.n)
		qsort(live.v, live.n, sizeof(char *), cmp_strp);
	if (gc_scan(l, &live, &garbage, s, err) < 0)
		return -1;
	s->swept = garbage.n > 0 && gc_over_bounds(o, s);
	if (s->swept && !o->dry_run && gc_sweep(l, &garbage, err) < 0)
		return -1;
	gc_tmp(l, o, s);
	return 0;
}

int oci_layout_gc(struct oci_layout *l, const struct oci_gc_opts *o, struct oci_gc_stats *out,
		  struct pn_error **err)
{
	struct oci_gc_opts defaults;
	int rc;

	if (!o) {
		oci_gc_opts_init(&defaults);
		o = &defaults;
	}
	memset(out, 0, sizeof(*out));
	rc = oci_layout_gc_lock(l, !o->no_wait, err);
	if (rc < 0)
		return pn_error_wrap(err, "gc `%s`", l->path);
	if (rc == 0) {
		out->skipped = true;
		return 0;
	}
	rc = gc_locked(l, o, out, err);
	oci_layout_gc_unlock(l);
	return rc < 0 ? pn_error_wrap(err, "gc `%s`", l->path) : 0;
}
