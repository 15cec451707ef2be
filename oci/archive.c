/* archive.c - the tar containers around images: an archive's members read
 * into a layout's blob store (content-addressed: a member's name is a key,
 * never a path, so no name reaches outside), a tar of files written to a
 * temp file renamed into place, and oci-archive: (a tar of a layout).
 * docker_archive.c builds docker-archive: on these; location.c the
 * transports. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_BUF ((size_t)1 << 16)

/* ------------------------------------------------------------- reading */
void oci_archive_members_release(struct oci_archive_members *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].link);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct oci_archive_member *)a)->name,
		      ((const struct oci_archive_member *)b)->name);
}

/* "a/b" + "../c/d" -> "c/d"; NULL if it climbs out of the archive */
static char *link_resolve(const char *name, const char *target)
{
	const char *slash = strrchr(name, '/');
	cleanup_free char *joined =
		slash ? xasprintf("%.*s/%s", (int)(slash - name), name, target) : xstrdup(target);
	char *out = xmalloc(strlen(joined) + 1), *save = NULL;
	size_t len = 0;

	out[0] = '\0';
	for (char *p = strtok_r(joined, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			char *up = len ? strrchr(out, '/') : NULL;
			if (!len) {
				free(out);
				return NULL;
			}
			len = up ? (size_t)(up - out) : 0;
			out[len] = '\0';
			continue;
		}
		len += (size_t)snprintf(out + len, strlen(joined) + 1 - len, "%s%s", len ? "/" : "",
					p);
	}
	return out;
}

static bool hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* a member named blobs/sha256/<hex> must hold that digest */
static char *name_digest(const char *name)
{
	if (strncmp(name, "blobs/sha256/", 13) != 0 || !hex64(name + 13, strlen(name + 13)))
		return NULL;
	return xasprintf("sha256:%s", name + 13);
}

struct reader {
	struct archive *a;
	struct oci_layout *l;
	struct oci_archive_members *m;
	bool symlinks;
	int64_t bytes;
	char *buf;
};

static int read_data(struct reader *r, const char *name, oci_digest_t out, int64_t *size,
		     struct pn_error **err)
{
	struct oci_blob_writer *w = oci_layout_blob_begin(r->l, err);
	cleanup_free char *want = name_digest(name);
	la_ssize_t n;
	int rc;

	if (!w)
		return -1;
	while ((n = archive_read_data(r->a, r->buf, COPY_BUF)) > 0) {
		r->bytes += n;
		if (r->bytes > OCI_ARCHIVE_BYTES_MAX) {
			oci_blob_writer_free(w);
			return pn_error_set(err, PN_ERR_TOO_LARGE, "more than %lld bytes",
					    (long long)OCI_ARCHIVE_BYTES_MAX);
		}
		if (oci_blob_writer_write(w, r->buf, (size_t)n, err) < 0) {
			oci_blob_writer_free(w);
			return -1;
		}
	}
	if (n < 0) {
		oci_blob_writer_free(w);
		return pn_error_set(err, PN_ERR_INVALID, "%s", archive_error_string(r->a));
	}
	*size = oci_blob_writer_size(w);
	rc = oci_blob_writer_commit(w, want, -1, out, err);
	oci_blob_writer_free(w);
	return rc;
}

static int entry_kind(struct reader *r, struct archive_entry *e, struct oci_archive_member *mb,
		      struct pn_error **err)
{
	mode_t type = archive_entry_filetype(e);
	const char *target = archive_entry_symlink(e);

	if (archive_entry_hardlink(e))
		return pn_error_set(err, PN_ERR_INVALID, "a hard link: not allowed in an archive");
	if (type == AE_IFREG)
		return 1;
	if (type == AE_IFDIR)
		return 0;
	if (type != AE_IFLNK)
		return pn_error_set(err, PN_ERR_INVALID,
				    "not a file or directory: not allowed in an archive");
	if (!r->symlinks)
		return pn_error_set(err, PN_ERR_INVALID,
				    "a symlink: not allowed in an OCI archive");
	if (!target || !*target || target[0] == '/' || strlen(target) > OCI_ARCHIVE_NAME_MAX ||
	    !(mb->link = link_resolve(mb->name, target)) || !*mb->link)
		return pn_error_set(err, PN_ERR_INVALID,
				    "a symlink to `%.200s`: only one to another member is allowed",
				    target ? target : "");
	return 2;
}

static int read_entry(struct reader *r, struct archive_entry *e, struct pn_error **err)
{
	const char *raw = archive_entry_pathname(e);
	struct oci_archive_member mb = {0};
	int kind;

	if (!raw || !*raw || strlen(raw) > OCI_ARCHIVE_NAME_MAX)
		return pn_error_set(err, PN_ERR_INVALID,
				    "a member name that is empty or longer "
				    "than %d bytes",
				    OCI_ARCHIVE_NAME_MAX);
	if (raw[0] == '/')
		return pn_error_set(err, PN_ERR_INVALID, "member `%s`: an absolute name", raw);
	if (oci_tar_path_clean(raw, &mb.name, err) < 0)
		return pn_error_wrap(err, "member `%s`", raw);
	kind = entry_kind(r, e, &mb, err);
	if (kind == 1 && archive_entry_size_is_set(e) &&
	    archive_entry_size(e) > OCI_ARCHIVE_BYTES_MAX - r->bytes)
		kind = pn_error_set(err, PN_ERR_TOO_LARGE, "%lld bytes: more than %lld in all",
				    (long long)archive_entry_size(e),
				    (long long)OCI_ARCHIVE_BYTES_MAX);
	if (kind == 1 && read_data(r, mb.name, mb.digest, &mb.size, err) < 0)
		kind = -1;
	if (kind < 0)
		pn_error_wrap(err, "member `%s`", mb.name);
	if (kind <= 0) { /* an error, or a directory: nothing to keep */
		free(mb.name);
		free(mb.link);
		return kind;
	}
	r->m->v = xrealloc(r->m->v, st_mult(r->m->n + 1, sizeof(*r->m->v)));
	r->m->v[r->m->n++] = mb;
	return 0;
}

static int read_all(struct reader *r, const char *file, struct pn_error **err)
{
	struct archive_entry *e;
	size_t entries = 0;
	int h;

	while ((h = oci_tar_next_header(r->a, &e)) != ARCHIVE_EOF) {
		if (h < ARCHIVE_WARN)
			return pn_error_set(err, PN_ERR_INVALID, "read `%s`: %s", file,
					    archive_error_string(r->a));
		if (++entries > OCI_ARCHIVE_ENTRIES_MAX)
			return pn_error_set(err, PN_ERR_TOO_LARGE, "`%s`: more than %d members",
					    file, OCI_ARCHIVE_ENTRIES_MAX);
		if (read_entry(r, e, err) < 0)
			return pn_error_wrap(err, "`%s`", file);
	}
	if (entries == 0)
		return pn_error_set(err, PN_ERR_INVALID, "`%s` is not a tar archive (no members)",
				    file);
	qsort(r->m->v, r->m->n, sizeof(*r->m->v), member_cmp);
	for (size_t i = 1; i < r->m->n; i++)
		if (!strcmp(r->m->v[i].name, r->m->v[i - 1].name))
			return pn_error_set(err, PN_ERR_INVALID, "`%s`: member `%s` appears twice",
					    file, r->m->v[i].name);
	return 0;
}

int oci_archive_read_members(struct oci_layout *l, const char *file, bool symlinks,
			     struct oci_archive_members *out, struct pn_error **err)
{
	cleanup_archive_read struct archive *a = archive_read_new();
	cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = xmalloc(COPY_BUF);
	struct reader r = {.a = a, .l = l, .m = out, .symlinks = symlinks, .buf = buf};
	struct stat st;

	out->v = NULL;
	out->n = 0;
	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", file);
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode))
		return pn_error_set(err, PN_ERR_INVALID, "`%s` is a directory, not an archive",
				    file);
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_fd(a, fd, COPY_BUF) != ARCHIVE_OK)
		return pn_error_set(err, PN_ERR_INVALID, "read `%s`: %s", file,
				    archive_error_string(a));
	if (read_all(&r, file, err) < 0) {
		oci_archive_members_release(out);
		return -1;
	}
	return 0;
}

static const struct oci_archive_member *lookup(const struct oci_archive_members *m,
					       const char *name)
{
	struct oci_archive_member key = {.name = (char *)name};

	return bsearch(&key, m->v, m->n, sizeof(*m->v), member_cmp);
}

const struct oci_archive_member *oci_archive_member_find(const struct oci_archive_members *m,
							 const char *name, struct pn_error **err)
{
	cleanup_free char *clean = NULL;
	const struct oci_archive_member *mb = NULL;

	if (oci_tar_path_clean(name, &clean, NULL) == 0)
		mb = lookup(m, clean);
	if (mb && mb->link)
		mb = lookup(m, mb->link);
	if (!mb || mb->link) {
		pn_error_set(err, PN_ERR_NOT_FOUND, "`%s` is not in the archive", name);
		return NULL;
	}
	return mb;
}

int oci_archive_member_read(struct oci_layout *l, const struct oci_archive_members *m,
			    const char *name, size_t max, char **out, size_t *len,
			    struct pn_error **err)
{
	const struct oci_archive_member *mb = oci_archive_member_find(m, name, err);

	if (!mb)
		return -1;
	if ((uint64_t)mb->size > max)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "`%s`: larger than %zu bytes", name,
				    max);
	return oci_layout_read_blob(l, mb->digest, max, out, len, err);
}

/* ------------------------------------------------------------- writing */
int oci_tar_out_begin(struct oci_tar_out *t, const char *file, struct pn_error **err)
{
	t->path = xstrdup(file);
	t->tmp = xasprintf("%s.pinion-XXXXXX", file);
	t->fd = mkostemp(t->tmp, O_CLOEXEC);
	t->a = NULL;
	if (t->fd < 0) {
		pn_error_set_errno(err, errno, "create `%s`", t->tmp);
		free(t->tmp);
		t->tmp = NULL;
		return -1;
	}
	/* as a file created with open(2) would be: 0666 less the umask */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(t->fd, 0666 & ~mask) < 0) {
		pn_error_set_errno(err, errno, "chmod `%s`", t->tmp);
		oci_tar_out_abort(t);
		return -1;
	}
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	if (archive_write_open_fd(t->a, t->fd) != ARCHIVE_OK) {
		pn_error_set(err, PN_ERR_INVALID, "write `%s`: %s", file,
			     archive_error_string(t->a));
		oci_tar_out_abort(t);
		return -1;
	}
	return 0;
}

static int put_header(struct oci_tar_out *t, const char *name, mode_t type, int64_t size,
		      struct pn_error **err)
{
	cleanup_archive_entry struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(t->a, e) != ARCHIVE_OK)
		return pn_error_set(err, PN_ERR_INVALID, "write `%s` into `%s`: %s", name, t->path,
				    archive_error_string(t->a));
	return 0;
}

int oci_tar_out_add_dir(struct oci_tar_out *t, const char *name, struct pn_error **err)
{
	return put_header(t, name, AE_IFDIR, 0, err);
}

int oci_tar_out_add_data(struct oci_tar_out *t, const char *name, const void *data, size_t len,
			 struct pn_error **err)
{
	if (put_header(t, name, AE_IFREG, (int64_t)len, err) < 0)
		return -1;
	if (len && archive_write_data(t->a, data, len) != (la_ssize_t)len)
		return pn_error_set(err, PN_ERR_INVALID, "write `%s` into `%s`: %s", name, t->path,
				    archive_error_string(t->a));
	return 0;
}

/* size bytes from fd's current offset */
int oci_tar_out_add_fd(struct oci_tar_out *t, const char *name, int fd, int64_t size,
		       struct pn_error **err)
{
	cleanup_free char *buf = xmalloc(COPY_BUF);
	int64_t left = size;
	ssize_t n;

	if (put_header(t, name, AE_IFREG, size, err) < 0)
		return -1;
	while (left > 0) {
		n = read(fd, buf, left < (int64_t)COPY_BUF ? (size_t)left : COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? pn_error_set_errno(err, errno, "read `%s`", name)
				     : pn_error_set(err, PN_ERR_INVALID, "`%s`: shorter than %lld",
						    name, (long long)size);
		if (archive_write_data(t->a, buf, (size_t)n) != n)
			return pn_error_set(err, PN_ERR_INVALID, "write `%s` into `%s`: %s", name,
					    t->path, archive_error_string(t->a));
		left -= n;
	}
	return 0;
}

int oci_tar_out_commit(struct oci_tar_out *t, struct pn_error **err)
{
	int rc = 0;

	if (archive_write_close(t->a) != ARCHIVE_OK)
		rc = pn_error_set(err, PN_ERR_INVALID, "write `%s`: %s", t->path,
				  archive_error_string(t->a));
	else if (fsync(t->fd) < 0 || rename(t->tmp, t->path) < 0)
		rc = pn_error_set_errno(err, errno, "write `%s`", t->path);
	if (rc == 0) {
		free(t->tmp);
		t->tmp = NULL;
	}
	oci_tar_out_abort(t);
	return rc;
}

void oci_tar_out_abort(struct oci_tar_out *t)
{
	if (t->a)
		archive_write_free(t->a);
	t->a = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->tmp)
		unlink(t->tmp);
	free(t->tmp);
	free(t->path);
	t->tmp = t->path = NULL;
}

/* ---------------------------------------------------------- oci-archive */
static int check_index(struct oci_layout *l, const char *data, size_t len, struct pn_error **err)
{
	struct oci_index ix;
	int rc = 0;

	if (oci_index_parse(data, len, &ix, err) < 0)
		return pn_error_wrap(err, "index.json");
	for (size_t i = 0; i < ix.n_manifests && rc == 0; i++)
		if (!oci_layout_has_blob(l, ix.manifests[i].digest))
			rc = pn_error_set(err, PN_ERR_NOT_FOUND,
					  "index.json names `%s`, which the archive does not hold",
					  ix.manifests[i].digest);
	oci_index_release(&ix);
	return rc;
}

int oci_archive_unpack(struct oci_layout *l, const char *file, struct pn_error **err)
{
	struct oci_archive_members m;
	cleanup_free char *index = NULL, *path = NULL;
	size_t len;
	int rc = -1;

	if (oci_archive_read_members(l, file, false, &m, err) < 0)
		return -1;
	if (!oci_archive_member_find(&m, "oci-layout", NULL) ||
	    !oci_archive_member_find(&m, "index.json", NULL)) {
		oci_archive_members_release(&m);
		return pn_error_set(
			err, PN_ERR_INVALID,
			"`%s` is not an OCI archive: it has no oci-layout or index.json", file);
	}
	if (oci_archive_member_read(l, &m, "index.json", OCI_MANIFEST_MAX, &index, &len, err) ==
		    0 &&
	    check_index(l, index, len, err) == 0) {
		path = pn_path_join(oci_layout_path(l), "index.json");
		rc = pn_write_file_atomic(path, index, len, 0644, err);
	}
	oci_archive_members_release(&m);
	return rc < 0 ? pn_error_wrap(err, "`%s`", file) : 0;
}

static int add_file_at(struct oci_tar_out *t, int dirfd, const char *rel, struct pn_error **err)
{
	cleanup_close int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return pn_error_set_errno(err, errno, "read `%s`", rel);
	return oci_tar_out_add_fd(t, rel, fd, st.st_size, err);
}

static int blob_names(int dirfd, struct pn_strv *out, struct pn_error **err)
{
	int fd = openat(dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return pn_error_set_errno(err, errno, "read `blobs/sha256`");
	}
	while ((de = readdir(d)))
		if (hex64(de->d_name, strlen(de->d_name)))
			pn_strv_push_owned(out, xasprintf("blobs/sha256/%s", de->d_name));
	pn_strv_sort(out);
	return 0;
}

int oci_archive_pack(const char *dir, const char *file, struct pn_error **err)
{
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_strv struct pn_strv blobs = PN_STRV_INIT;
	struct oci_tar_out t;

	if (dirfd < 0)
		return pn_error_set_errno(err, errno, "open layout `%s`", dir);
	if (blob_names(dirfd, &blobs, err) < 0 || oci_tar_out_begin(&t, file, err) < 0)
		return -1;
	if (add_file_at(&t, dirfd, "oci-layout", err) < 0 ||
	    add_file_at(&t, dirfd, "index.json", err) < 0 ||
	    oci_tar_out_add_dir(&t, "blobs", err) < 0 ||
	    oci_tar_out_add_dir(&t, "blobs/sha256", err) < 0)
		goto fail;
	for (size_t i = 0; i < blobs.n; i++)
		if (add_file_at(&t, dirfd, blobs.v[i], err) < 0)
			goto fail;
	return oci_tar_out_commit(&t, err);
fail:
	oci_tar_out_abort(&t);
	return -1;
}
