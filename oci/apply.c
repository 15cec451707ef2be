/* apply.c - the safe layer applier.
 *
 * Rules (docs/oci.md):
 * - every entry path is cleaned: leading "/" and "." components dropped
 *   (absolute paths are taken relative to dest), ".." anywhere is refused;
 * - parent directories are opened inside dest with openat2(RESOLVE_IN_ROOT),
 *   so a symlink in a parent resolves as if dest were "/" and can never lead
 *   outside (without openat2, a per-component O_NOFOLLOW walk refuses symlinked
 *   parents); the final component is never followed (O_NOFOLLOW, O_EXCL after
 *   removing what was there);
 * - the root itself cannot be replaced or change type; dest must not be a symlink;
 * - hardlink targets are cleaned and resolved the same way, so they stay inside;
 * - whiteouts (.wh.NAME, .wh..wh..opq, and overlay-style 0:0 char devices and
 *   *.overlay.opaque xattrs) delete only inside dest and never what this same
 *   layer created;
 * - with overlay_whiteouts, whiteouts are kept in overlay form instead (0:0
 *   character devices, an opaque xattr) and nothing is removed;
 * - device nodes are skipped unless privileged and not told to skip;
 * - limits on entry count, path length and expanded size stop bombs. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define APPLY_MAX_ENTRIES    1000000ULL
#define APPLY_MAX_BYTES	     (64ULL << 30)
#define APPLY_MAX_PATH	     4096
#define OPAQUE_MARK	     ".wh..wh..opq"
#define WH_PREFIX	     ".wh."
#define OPAQUE_XATTR_DEFAULT "user.overlay.opaque"

void oci_apply_opts_init(struct oci_apply_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_entries = APPLY_MAX_ENTRIES;
	o->max_bytes = APPLY_MAX_BYTES;
	o->max_path = APPLY_MAX_PATH;
	o->keep_xattrs = true;
}

/* ---------------------------------------------------------- a string set */
struct pathset {
	char **slot;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool pathset_has(const struct pathset *ps, const char *s)
{
	if (!ps->cap)
		return false;
	for (size_t i = hash_str(s) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
		if (!ps->slot[i])
			return false;
		if (strcmp(ps->slot[i], s) == 0)
			return true;
	}
}

static void pathset_insert(struct pathset *ps, char *owned)
{
	size_t i = hash_str(owned) & (ps->cap - 1);

	while (ps->slot[i])
		i = (i + 1) & (ps->cap - 1);
	ps->slot[i] = owned;
	ps->n++;
}

static void pathset_add(struct pathset *ps, const char *s)
{
	if (pathset_has(ps, s))
		return;
	if (2 * (ps->n + 1) > ps->cap) {
		struct pathset bigger = {xcalloc(ps->cap ? 2 * ps->cap : 64, sizeof(char *)),
					 ps->cap ? 2 * ps->cap : 64, 0};

		for (size_t i = 0; i < ps->cap; i++)
			if (ps->slot[i])
				pathset_insert(&bigger, ps->slot[i]);
		free(ps->slot);
		*ps = bigger;
	}
	pathset_insert(ps, xstrdup(s));
}

static void pathset_release(struct pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slot[i]);
	free(ps->slot);
}

/* ------------------------------------------------------------ the applier */
#define DCACHE_SLOTS 8

struct dir_slot {
	char *path; /* cleaned, relative to the root; NULL: unused */
	int fd;
	bool sgid;
};

struct deferred_dir {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct applier {
	struct archive *a;
	int root;
	const char *dest;
	struct oci_apply_opts o;
	uint64_t entries, bytes;
	bool privileged;
	struct pathset created;
	struct deferred_dir *dirs;
	size_t n_dirs, cap_dirs;
	uint64_t skipped_devices;
	/* recently used parent directories (entries of a directory mostly come
	 * together); emptied after any entry that removed something, as that
	 * may have replaced one of them or a directory above */
	struct dir_slot dcache[DCACHE_SLOTS];
	size_t dcache_next;
	bool dcache_stale;
	bool parent_sgid; /* the current entry's parent directory is setgid */
	uid_t uid;	  /* what a new file is owned by without a chown */
	gid_t gid;
	mode_t umask; /* the process's, to create files with their final mode */
	/* the uncompressed stream (lstream.c): the tar reader a reads it
	 * through tar_read; with verification (oci_layer_apply) it hashes the
	 * blob and the tar (the diff_id) */
	struct oci_lstream *ls;
	uint64_t tar_bytes;
	int out_fd; /* oci_layer_decompress: the tar goes here too (else -1) */
};

static int no_openat2 = -1;

static bool use_openat2(void)
{
	if (no_openat2 < 0) {
		const char *e = getenv("PINION_NO_OPENAT2");

		no_openat2 = e && *e == '1';
	}
	return !no_openat2;
}

void oci_apply_force_no_openat2(bool on)
{
	no_openat2 = on;
}

int oci_tar_path_clean(const char *in, char **out, struct pn_error **err)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	const char *p = in;

	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return pn_error_set(err, PN_ERR_INVALID,
					    "entry `%.200s`: `..` in the path is not allowed", in);
		if (n && !(n == 1 && p[0] == '.')) {
			if (b.len)
				pn_buf_append(&b, "/", 1, NULL);
			pn_buf_append(&b, p, n, NULL);
		}
		p += n;
	}
	if (pn_buf_check(&b, "entry path", err) < 0)
		return -1;
	*out = b.len ? pn_buf_steal(&b, NULL) : xstrdup("");
	return 0;
}

static int openat2_dir(int root, const char *rel, int extra_flags)
{
	struct open_how how = {0};

	how.flags = (uint64_t)(O_RDONLY | O_DIRECTORY | O_CLOEXEC | extra_flags);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
}

static int dir_error(const char *rel, int e, struct pn_error **err)
{
	if (e == ELOOP || e == ENOTDIR || e == EXDEV)
		return pn_error_set(err, PN_ERR_INVALID,
				    "parent `%s` of the entry is not a directory (or is a symlink)",
				    rel);
	return pn_error_set_errno(err, e, "open directory `%s`", rel);
}

/* open directory rel (cleaned) inside root; with create, missing directories
 * are made (0755).  Symlinks resolve inside root (openat2) or are refused. */
static int open_dir_in_root(struct applier *ap, const char *rel, bool create, int *out,
			    struct pn_error **err)
{
	cleanup_free char *copy = xstrdup(rel);
	int cur, fd;
	char *comp, *next;

	if (!*rel) {
		*out = fcntl(ap->root, F_DUPFD_CLOEXEC, 0);
		return *out < 0 ? pn_error_set_errno(err, errno, "dup") : 0;
	}
	if (use_openat2()) {
		fd = openat2_dir(ap->root, rel, 0);
		if (fd >= 0) {
			*out = fd;
			return 0;
		}
		if (errno == ENOSYS)
			no_openat2 = 1;
		else if (errno != ENOENT || !create)
			return dir_error(rel, errno, err);
	}
	cur = fcntl(ap->root, F_DUPFD_CLOEXEC, 0);
	for (comp = copy; comp; comp = next) {
		next = strchr(comp, '/');
		if (next)
			*next++ = '\0';
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				close(cur);
				return pn_error_set_errno(err, errno, "create directory `%s`", rel);
			}
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && use_openat2()) {
			/* a symlink: resolve the prefix so far inside root */
			cleanup_free char *prefix =
				xstrndup(rel, (size_t)(comp - copy) + strlen(comp));

			fd = openat2_dir(ap->root, prefix, 0);
		}
		close(cur);
		if (fd < 0) {
			if (errno == ENOENT && create)
				return pn_error_set(err, PN_ERR_INVALID,
						    "parent `%s` of the entry is a symlink to a "
						    "missing directory",
						    rel);
			return dir_error(rel, errno, err);
		}
		cur = fd;
	}
	*out = cur;
	return 0;
}

static void split_path(const char *path, char **parent, const char **base)
{
	const char *slash = strrchr(path, '/');

	*parent = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("");
	*base = slash ? slash + 1 : path;
}

/* remove what is at parent/name unless it is a directory and keep_dir */
static int clear_final(struct applier *ap, int pfd, const char *name, bool keep_dir, bool *kept,
		       struct pn_error **err)
{
	struct stat st;

	*kept = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : pn_error_set_errno(err, errno, "stat `%s`", name);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*kept = true;
			return 0;
		}
		ap->dcache_stale = true;
		return pn_rm_rf_at(pfd, name, err);
	}
	ap->dcache_stale = true;
	if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
		return pn_error_set_errno(err, errno, "remove `%s`", name);
	return 0;
}

static bool is_overlay_xattr(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 ||
	       strncmp(name, "user.overlay.", 13) == 0;
}

static bool entry_is_opaque_dir(struct archive_entry *e)
{
	const char *name;
	const void *val;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK)
		if (is_overlay_xattr(name) && strstr(name, ".overlay.opaque") && size == 1 &&
		    *(const char *)val == 'y')
			return true;
	return false;
}

static void apply_xattrs(struct applier *ap, struct archive_entry *e, int fd)
{
	const char *name;
	const void *val;
	size_t size;

	if (!ap->o.keep_xattrs)
		return;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
		if (is_overlay_xattr(name))
			continue;
		if (fsetxattr(fd, name, val, size, 0) < 0)
			pn_debug("apply: xattr `%s` on `%s` not set: %s", name,
				 archive_entry_pathname(e), strerror(errno));
	}
}

static void apply_owner(struct applier *ap, struct archive_entry *e, int pfd, const char *name)
{
	if (!ap->o.chown)
		return;
	if (fchownat(pfd, name, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0)
		pn_debug("apply: owner of `%s` not set: %s", archive_entry_pathname(e),
			 strerror(errno));
}

static struct timespec entry_mtime(struct archive_entry *e)
{
	struct timespec t = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};

	return t;
}

/* ------------------------------------------------------------- whiteouts */
static int whiteout_opaque(struct applier *ap, int pfd, const char *dir_path, struct pn_error **err)
{
	cleanup_strv struct pn_strv victims = PN_STRV_INIT;
	int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;

	ap->dcache_stale = true;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return pn_error_set_errno(err, errno, "open `%s`", dir_path);
	}
	while ((de = readdir(d))) {
		cleanup_free char *p = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = *dir_path ? xasprintf("%s/%s", dir_path, de->d_name) : xstrdup(de->d_name);
		if (!pathset_has(&ap->created, p))
			pn_strv_push(&victims, de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < victims.n; i++)
		if (pn_rm_rf_at(pfd, victims.v[i], err) < 0)
			return -1;
	return 0;
}

/* overlay form: the directory fd is marked opaque (nothing removed) */
static int mark_opaque(struct applier *ap, int dfd, const char *dir_path, struct pn_error **err)
{
	const char *name = ap->o.opaque_xattr ? ap->o.opaque_xattr : OPAQUE_XATTR_DEFAULT;

	if (fsetxattr(dfd, name, "y", 1, 0) < 0)
		return pn_error_set_errno(err, errno, "mark `%s` opaque (xattr `%s`)",
					  *dir_path ? dir_path : "/", name);
	return 0;
}

/* overlay form: target becomes a 0:0 character device (replacing what is there) */
static int whiteout_keep(struct applier *ap, const char *parent, const char *target,
			 const char *full, struct pn_error **err)
{
	cleanup_close int pfd = -1;
	bool kept;

	if (open_dir_in_root(ap, parent, true, &pfd, err) < 0 ||
	    clear_final(ap, pfd, target, false, &kept, err) < 0)
		return -1;
	if (mknodat(pfd, target, S_IFCHR | 0, makedev(0, 0)) < 0)
		return pn_error_set_errno(err, errno, "create whiteout `%s`", full);
	return 0;
}

static int whiteout_one(struct applier *ap, const char *parent, const char *target,
			struct pn_error **err)
{
	cleanup_close int pfd = -1;
	cleanup_free char *full = NULL;
	struct pn_error *e2 = NULL;

	if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
		return pn_error_set(err, PN_ERR_INVALID, "whiteout of `%s` is not allowed", target);
	full = *parent ? xasprintf("%s/%s", parent, target) : xstrdup(target);
	if (pathset_has(&ap->created, full))
		return 0; /* a whiteout hides lower layers only */
	if (ap->o.overlay_whiteouts)
		return whiteout_keep(ap, parent, target, full, err);
	if (open_dir_in_root(ap, parent, false, &pfd, &e2) < 0) {
		/* no parent: nothing to hide */
		pn_error_free(e2);
		return 0;
	}
	ap->dcache_stale = true;
	return pn_rm_rf_at(pfd, target, err);
}

/* returns 1 if the entry was a whiteout (handled), 0 if not */
static int handle_whiteout(struct applier *ap, const char *path, struct pn_error **err)
{
	cleanup_free char *parent = NULL;
	const char *base;

	split_path(path, &parent, &base);
	if (strncmp(base, WH_PREFIX, 4) != 0)
		return 0;
	if (strcmp(base, OPAQUE_MARK) == 0) {
		cleanup_close int pfd = -1;
		struct pn_error *e2 = NULL;

		if (ap->o.overlay_whiteouts)
			return open_dir_in_root(ap, parent, true, &pfd, err) < 0 ||
					       mark_opaque(ap, pfd, parent, err) < 0
				       ? -1
				       : 1;
		if (open_dir_in_root(ap, parent, false, &pfd, &e2) < 0) {
			pn_error_free(e2);
			return 1;
		}
		return whiteout_opaque(ap, pfd, parent, err) < 0 ? -1 : 1;
	}
	if (strncmp(base, ".wh..wh.", 8) == 0)
		return 1; /* aufs metadata (.wh..wh.plnk, ...): nothing to do */
	return whiteout_one(ap, parent, base + 4, err) < 0 ? -1 : 1;
}

/* ---------------------------------------------------- parent directories */
static void dcache_clear(struct applier *ap)
{
	for (size_t i = 0; i < DCACHE_SLOTS; i++) {
		if (ap->dcache[i].path)
			close(ap->dcache[i].fd);
		free(ap->dcache[i].path);
		ap->dcache[i].path = NULL;
	}
	ap->dcache_stale = false;
}

/* the directory rel inside the root (made if missing), borrowed from the
 * cache: valid until the entry is done */
static int open_parent(struct applier *ap, const char *rel, int *out, struct pn_error **err)
{
	struct dir_slot *d;
	struct stat st;
	int fd;

	for (size_t i = 0; i < DCACHE_SLOTS; i++) {
		d = &ap->dcache[i];
		if (d->path && strcmp(d->path, rel) == 0) {
			ap->parent_sgid = d->sgid;
			*out = d->fd;
			return 0;
		}
	}
	if (open_dir_in_root(ap, rel, true, &fd, err) < 0)
		return -1;
	d = &ap->dcache[ap->dcache_next++ % DCACHE_SLOTS];
	if (d->path)
		close(d->fd);
	free(d->path);
	d->path = xstrdup(rel);
	d->fd = fd;
	/* unknown: chown as if it were setgid */
	d->sgid = fstat(fd, &st) < 0 || (st.st_mode & S_ISGID);
	ap->parent_sgid = d->sgid;
	*out = fd;
	return 0;
}

/* ------------------------------------------------------------- entries */
/* a create in pfd failed: if the name was taken (and not cleared yet), it
 * is cleared (a directory with what is in it) and 1 says to try again */
static int name_taken(struct applier *ap, int pfd, const char *name, int *tries,
		      struct pn_error **err)
{
	bool kept;

	if (errno != EEXIST || (*tries)++)
		return 0;
	return clear_final(ap, pfd, name, false, &kept, err) < 0 ? -1 : 1;
}

/* a new entry is owned by our fsuid and fsgid (the parent's group if it is
 * setgid): a chown is needed only for another owner */
static bool needs_owner(struct applier *ap, struct archive_entry *e)
{
	return ap->o.chown && ((uid_t)archive_entry_uid(e) != ap->uid ||
			       (gid_t)archive_entry_gid(e) != ap->gid || ap->parent_sgid);
}

/* the file can be created with its final mode (no fchmod after it): no
 * setuid, setgid or sticky bit (a chown would clear them), nothing the
 * umask takes away, and no xattrs (user.* ones need a writable file) */
static bool mode_at_create(struct applier *ap, struct archive_entry *e)
{
	mode_t perm = archive_entry_perm(e) & 07777;

	return !(perm & 07000) && !(perm & ap->umask) && archive_entry_xattr_count(e) == 0;
}

static int copy_data(struct applier *ap, int fd, const char *path, int64_t *end,
		     struct pn_error **err)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = archive_read_data_block(ap->a, &buf, &size, &offset)) == ARCHIVE_OK) {
		if (size > ap->o.max_bytes - ap->bytes)
			return pn_error_set(err, PN_ERR_TOO_LARGE,
					    "entry `%s`: layer expands past %llu bytes", path,
					    (unsigned long long)ap->o.max_bytes);
		ap->bytes += size;
		if (pwrite(fd, buf, size, offset) != (ssize_t)size)
			return pn_error_set_errno(err, errno ? errno : EIO, "write `%s`", path);
		if (offset + (int64_t)size > *end)
			*end = offset + (int64_t)size;
	}
	if (r != ARCHIVE_EOF)
		return pn_error_set(err, PN_ERR_INVALID, "entry `%s`: %s", path,
				    archive_error_string(ap->a));
	return 0;
}

static int make_file(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
		     const char *path, struct pn_error **err)
{
	bool final_mode = mode_at_create(ap, e);
	mode_t mode = final_mode ? archive_entry_perm(e) & 0777 : 0600;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, tries = 0, r = 0;
	cleanup_close int fd = -1;
	struct timespec ts[2];
	int64_t end = 0;

	while ((fd = openat(pfd, name, flags, mode)) < 0 &&
	       (r = name_taken(ap, pfd, name, &tries, err)) > 0)
		;
	if (fd < 0)
		return r < 0 ? -1 : pn_error_set_errno(err, errno, "create `%s`", path);
	if (copy_data(ap, fd, path, &end, err) < 0)
		return -1;
	if (end != archive_entry_size(e) && ftruncate(fd, archive_entry_size(e)) < 0)
		return pn_error_set_errno(err, errno, "size `%s`", path);
	if (needs_owner(ap, e) &&
	    fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		pn_debug("apply: owner of `%s` not set: %s", path, strerror(errno));
	apply_xattrs(ap, e, fd);
	if (!final_mode && fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return pn_error_set_errno(err, errno, "chmod `%s`", path);
	ts[0] = ts[1] = entry_mtime(e);
	futimens(fd, ts);
	if (pn_close(&fd) < 0)
		return pn_error_set_errno(err, errno, "write `%s`", path);
	return 0;
}

static void defer_dir(struct applier *ap, struct archive_entry *e, const char *path)
{
	struct deferred_dir *dd;

	if (ap->n_dirs == ap->cap_dirs) {
		ap->cap_dirs = ap->cap_dirs ? 2 * ap->cap_dirs : 64;
		ap->dirs = xrealloc(ap->dirs, st_mult(ap->cap_dirs, sizeof(*ap->dirs)));
	}
	dd = &ap->dirs[ap->n_dirs++];
	dd->path = xstrdup(path);
	dd->mode = archive_entry_perm(e) & 07777;
	dd->mtime = entry_mtime(e);
}

/* mkdir, or keep the directory that is there (anything else is removed) */
static int mkdir_or_keep(struct applier *ap, int pfd, const char *name, const char *path,
			 mode_t mode, bool *made, struct pn_error **err)
{
	bool kept = false;

	*made = mkdirat(pfd, name, mode) == 0;
	if (!*made && errno == EEXIST) {
		if (clear_final(ap, pfd, name, true, &kept, err) < 0)
			return -1;
		*made = !kept && mkdirat(pfd, name, mode) == 0;
	}
	if (!*made && !kept)
		return pn_error_set_errno(err, errno, "create directory `%s`", path);
	return 0;
}

static int make_dir(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
		    const char *path, struct pn_error **err)
{
	/* owner-writable until the end, so children can be added; the final
	 * mode and mtime are set after the last entry */
	mode_t mode = (archive_entry_perm(e) & 07777) | 0700;
	bool made, opaque = entry_is_opaque_dir(e), has_xattrs;
	cleanup_close int fd = -1;

	if (mkdir_or_keep(ap, pfd, name, path, mode & 0777, &made, err) < 0)
		return -1;
	defer_dir(ap, e, path);
	has_xattrs = archive_entry_xattr_count(e) > 0;
	/* a new directory with nothing more to set needs no fd */
	if (made && !has_xattrs && !opaque && !(mode & ap->umask) && !(mode & 07000)) {
		if (needs_owner(ap, e))
			apply_owner(ap, e, pfd, name);
		return 0;
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pn_error_set_errno(err, errno, "open directory `%s`", path);
	if (!made || needs_owner(ap, e))
		apply_owner(ap, e, pfd, name);
	apply_xattrs(ap, e, fd);
	if (fchmod(fd, mode) < 0)
		return pn_error_set_errno(err, errno, "chmod `%s`", path);
	if (opaque)
		return ap->o.overlay_whiteouts ? mark_opaque(ap, fd, path, err)
					       : whiteout_opaque(ap, fd, path, err);
	return 0;
}

static int make_symlink(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
			const char *path, struct pn_error **err)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];
	int tries = 0, r = 0;

	if (!target || !*target)
		return pn_error_set(err, PN_ERR_INVALID, "entry `%s`: empty symlink target", path);
	if (strlen(target) > ap->o.max_path)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "entry `%s`: symlink target longer than %zu", path,
				    ap->o.max_path);
	while (symlinkat(target, pfd, name) < 0)
		if ((r = name_taken(ap, pfd, name, &tries, err)) <= 0)
			return r < 0 ? -1
				     : pn_error_set_errno(err, errno, "create symlink `%s`", path);
	if (needs_owner(ap, e))
		apply_owner(ap, e, pfd, name);
	ts[0] = ts[1] = entry_mtime(e);
	utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* the hardlink's target entry, its parent directory opened in *tpfd */
static int hardlink_target(struct applier *ap, const char *link, const char *path, char **target,
			   int *tpfd, const char **tbase, struct pn_error **err)
{
	cleanup_free char *tparent = NULL;
	cleanup_error struct pn_error *e2 = NULL;

	if (strlen(link) > ap->o.max_path)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "entry `%s`: link target longer than %zu", path,
				    ap->o.max_path);
	if (oci_tar_path_clean(link, target, err) < 0)
		return pn_error_wrap(err, "hardlink `%s`", path);
	if (!**target)
		return pn_error_set(err, PN_ERR_INVALID, "entry `%s`: hardlink to the root", path);
	if (strcmp(*target, path) == 0)
		return 0;
	split_path(*target, &tparent, tbase);
	if (open_dir_in_root(ap, tparent, false, tpfd, &e2) < 0) {
		if (e2->code != PN_ERR_NOT_FOUND) {
			pn_error_wrap(&e2, "hardlink `%s` to `%s`", path, *target);
			return pn_error_propagate(err, steal_pointer(&e2));
		}
		return pn_error_set(err, PN_ERR_INVALID,
				    "hardlink `%s`: target `%s` is not in the tree", path, *target);
	}
	return 0;
}

static int make_hardlink(struct applier *ap, const char *link, int pfd, const char *name,
			 const char *path, struct pn_error **err)
{
	cleanup_free char *target = NULL;
	cleanup_close int tpfd = -1;
	const char *tbase = NULL;
	int tries = 0, r = 0;

	if (hardlink_target(ap, link, path, &target, &tpfd, &tbase, err) < 0)
		return -1;
	if (tpfd < 0)
		return 0; /* a link to itself */
	while (linkat(tpfd, tbase, pfd, name, 0) < 0) {
		if ((r = name_taken(ap, pfd, name, &tries, err)) > 0)
			continue;
		if (r < 0)
			return -1;
		if (errno == ENOENT || errno == EPERM)
			return pn_error_set(err, PN_ERR_INVALID,
					    "hardlink `%s`: target `%s` is missing or a directory",
					    path, target);
		return pn_error_set_errno(err, errno, "hardlink `%s` to `%s`", path, target);
	}
	return 0;
}

/* owner, mode (mknod and mkfifo are subject to the umask) and mtime */
static int special_meta(struct applier *ap, struct archive_entry *e, int pfd, const char *name)
{
	struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};

	apply_owner(ap, e, pfd, name);
	fchmodat(pfd, name, archive_entry_perm(e) & 07777, 0);
	utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* mknodat, the name cleared first if it is taken */
static int mknod_clear(struct applier *ap, int pfd, const char *name, mode_t mode, dev_t dev,
		       struct pn_error **err)
{
	int tries = 0, r;

	while (mknodat(pfd, name, mode, dev) < 0)
		if ((r = name_taken(ap, pfd, name, &tries, err)) <= 0)
			return r < 0 ? -2 : -1;
	return 0;
}

static int make_special(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
			const char *path, struct pn_error **err)
{
	mode_t type = archive_entry_filetype(e);
	int r;

	if (type == AE_IFIFO) {
		if ((r = mknod_clear(ap, pfd, name, S_IFIFO | (archive_entry_perm(e) & 0777), 0,
				     err)) < 0)
			return r == -2 ? -1
				       : pn_error_set_errno(err, errno, "create fifo `%s`", path);
		return special_meta(ap, e, pfd, name);
	}
	if (type != AE_IFCHR && type != AE_IFBLK)
		return 0; /* sockets and unknown types are skipped */
	if (ap->o.skip_devices || !ap->privileged) {
		ap->skipped_devices++;
		pn_debug("apply: device node `%s` skipped", path);
		return 0;
	}
	if ((r = mknod_clear(ap, pfd, name, type | (archive_entry_perm(e) & 0777),
			     archive_entry_rdev(e), err)) < 0) {
		if (r == -2)
			return -1;
		if (errno == EPERM) {
			ap->skipped_devices++;
			return 0;
		}
		return pn_error_set_errno(err, errno, "create device `%s`", path);
	}
	return special_meta(ap, e, pfd, name);
}

static int check_limits(struct applier *ap, struct archive_entry *e, const char *raw,
			struct pn_error **err)
{
	la_int64_t size = archive_entry_size(e);

	if (++ap->entries > ap->o.max_entries)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "entry `%.200s`: layer has more than %llu entries", raw,
				    (unsigned long long)ap->o.max_entries);
	if (strlen(raw) > ap->o.max_path)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "entry `%.100s...`: path longer than %zu", raw, ap->o.max_path);
	if (size < 0 || (uint64_t)size > ap->o.max_bytes - ap->bytes)
		return pn_error_set(
			err, PN_ERR_TOO_LARGE,
			"entry `%.200s`: %lld bytes would expand the layer past %llu bytes", raw,
			(long long)size, (unsigned long long)ap->o.max_bytes);
	return 0;
}

static bool is_overlay_whiteout(struct archive_entry *e)
{
	return archive_entry_filetype(e) == AE_IFCHR && archive_entry_rdev(e) == makedev(0, 0) &&
	       !archive_entry_hardlink(e);
}

static int apply_entry(struct applier *ap, struct archive_entry *e, struct pn_error **err)
{
	const char *raw = archive_entry_pathname(e);
	const char *link = archive_entry_hardlink(e);
	cleanup_free char *path = NULL, *parent = NULL;
	const char *base;
	bool is_dir = !link && archive_entry_filetype(e) == AE_IFDIR;
	int r, pfd;

	/* the last entry removed something: the cached directories may be gone */
	if (ap->dcache_stale)
		dcache_clear(ap);
	if (!raw)
		return pn_error_set(err, PN_ERR_INVALID, "entry without a path");
	if (check_limits(ap, e, raw, err) < 0 || oci_tar_path_clean(raw, &path, err) < 0)
		return -1;
	if (!*path) {
		if (!is_dir)
			return pn_error_set(
				err, PN_ERR_INVALID,
				"entry `%s`: the root cannot be replaced by a non-directory", raw);
		return 0;
	}
	r = handle_whiteout(ap, path, err);
	if (r != 0)
		return r < 0 ? pn_error_wrap(err, "entry `%s`", raw) : 0;
	split_path(path, &parent, &base);
	if (is_overlay_whiteout(e))
		return whiteout_one(ap, parent, base, err) < 0
			       ? pn_error_wrap(err, "entry `%s`", raw)
			       : 0;
	if (open_parent(ap, parent, &pfd, err) < 0)
		return pn_error_wrap(err, "entry `%s`", raw);
	if (link)
		r = make_hardlink(ap, link, pfd, base, path, err);
	else if (is_dir)
		r = make_dir(ap, e, pfd, base, path, err);
	else if (archive_entry_filetype(e) == AE_IFREG)
		r = make_file(ap, e, pfd, base, path, err);
	else if (archive_entry_filetype(e) == AE_IFLNK)
		r = make_symlink(ap, e, pfd, base, path, err);
	else
		r = make_special(ap, e, pfd, base, path, err);
	if (r < 0)
		return -1;
	pathset_add(&ap->created, path);
	return 0;
}

static void finish_dirs(struct applier *ap)
{
	for (size_t i = ap->n_dirs; i-- > 0;) {
		struct deferred_dir *d = &ap->dirs[i];
		struct timespec ts[2] = {d->mtime, d->mtime};
		struct pn_error *e = NULL;
		int fd = -1;

		if (open_dir_in_root(ap, d->path, false, &fd, &e) == 0) {
			fchmod(fd, d->mode);
			futimens(fd, ts);
			close(fd);
		}
		pn_error_free(e);
	}
}

/* ---------------------------------------------------------------- driver */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_make(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t oci_tar_locale(void)
{
	pthread_once(&c_locale_once, c_locale_make);
	return c_locale;
}

int oci_tar_next_header(struct archive *a, struct archive_entry **e)
{
	locale_t c = oci_tar_locale(), old;
	int r;

	if (!c)
		return archive_read_next_header(a, e);
	old = uselocale(c);
	r = archive_read_next_header(a, e);
	uselocale(old);
	return r;
}

static la_ssize_t tar_read(struct archive *a, void *data, const void **buf)
{
	struct applier *ap = data;
	ssize_t n = oci_lstream_read(ap->ls, buf);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", oci_lstream_error(ap->ls));
		return -1;
	}
	ap->tar_bytes += (uint64_t)n;
	return n;
}

/* the umask, without setting it (other threads may create files); 0777
 * if it cannot be read (then every mode is set explicitly) */
static mode_t process_umask(void)
{
	cleanup_free char *data = NULL;
	size_t len = 0;
	const char *p;

	if (pn_read_file("/proc/self/status", 1 << 16, &data, &len, NULL) < 0 ||
	    !(p = strstr(data, "\nUmask:")))
		return 0777;
	return (mode_t)strtoul(p + 7, NULL, 8) & 0777;
}

static int applier_open(struct applier *ap, int fd, const char *dest,
			const struct oci_apply_opts *o, bool hash, struct pn_error **err)
{
	struct stat st;

	memset(ap, 0, sizeof(*ap));
	ap->out_fd = -1;
	ap->root = -1;
	ap->dest = dest;
	if (o)
		ap->o = *o;
	else
		oci_apply_opts_init(&ap->o);
	if (!ap->o.max_entries)
		ap->o.max_entries = APPLY_MAX_ENTRIES;
	if (!ap->o.max_bytes)
		ap->o.max_bytes = APPLY_MAX_BYTES;
	if (!ap->o.max_path)
		ap->o.max_path = APPLY_MAX_PATH;
	ap->privileged = geteuid() == 0;
	ap->uid = geteuid();
	ap->gid = getegid();
	ap->umask = process_umask();
	ap->root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ap->root < 0) {
		if (errno == ELOOP ||
		    (errno == ENOTDIR && lstat(dest, &st) == 0 && S_ISLNK(st.st_mode)))
			return pn_error_set(err, PN_ERR_INVALID, "destination `%s` is a symlink",
					    dest);
		return pn_error_set_errno(err, errno, "open destination `%s`", dest);
	}
	ap->a = archive_read_new();
	archive_read_support_format_tar(ap->a);
	archive_read_support_filter_none(ap->a);
	ap->ls = oci_lstream_open(fd, hash, err);
	if (!ap->ls)
		return pn_error_wrap(err, "read layer");
	if (archive_read_open(ap->a, ap, NULL, tar_read, NULL) != ARCHIVE_OK)
		return pn_error_set(err, PN_ERR_INVALID, "read layer: %s",
				    archive_error_string(ap->a));
	return 0;
}

static void applier_close(struct applier *ap)
{
	if (ap->a)
		archive_read_free(ap->a);
	oci_lstream_free(ap->ls); /* after the reader: it may hold a chunk */
	dcache_clear(ap);
	if (ap->root >= 0)
		close(ap->root);
	pathset_release(&ap->created);
	for (size_t i = 0; i < ap->n_dirs; i++)
		free(ap->dirs[i].path);
	free(ap->dirs);
}

static int applier_run(struct applier *ap, struct pn_error **err)
{
	struct archive_entry *e;
	int r;

	for (;;) {
		r = oci_tar_next_header(ap->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return pn_error_set(err, PN_ERR_INVALID, "read layer: %s",
					    archive_error_string(ap->a));
		if (apply_entry(ap, e, err) < 0)
			return -1;
		if ((uint64_t)archive_filter_bytes(ap->a, 0) >
		    ap->o.max_bytes + (ap->entries + 1) * 65536)
			return pn_error_set(err, PN_ERR_TOO_LARGE,
					    "entry `%.200s`: layer expands past %llu bytes",
					    archive_entry_pathname(e) ? archive_entry_pathname(e)
								      : "",
					    (unsigned long long)ap->o.max_bytes);
	}
	finish_dirs(ap);
	if (ap->skipped_devices)
		pn_debug("apply: %llu device nodes skipped",
			 (unsigned long long)ap->skipped_devices);
	return 0;
}

int oci_layer_apply_fd(int fd, const char *dest, const struct oci_apply_opts *opts,
		       struct pn_error **err)
{
	struct applier ap;
	int rc = applier_open(&ap, fd, dest, opts, false, err);

	if (rc == 0)
		rc = applier_run(&ap, err);
	applier_close(&ap);
	return rc < 0 ? pn_error_wrap(err, "apply layer to `%s`", dest) : 0;
}

/* read the stream to its end (the uncompressed bytes past the tar's end
 * blocks too, within max_bytes) and compare the digests */
static int drain_and_verify(struct applier *ap, const char *digest, struct pn_error **err)
{
	oci_digest_t got, diff_id;
	const void *buf;
	ssize_t n;

	while ((n = oci_lstream_read(ap->ls, &buf)) > 0) {
		ap->tar_bytes += (uint64_t)n;
		if (ap->out_fd >= 0 && pn_write_all(ap->out_fd, buf, (size_t)n) < 0)
			return pn_error_set_errno(err, errno, "write the uncompressed layer");
		if (ap->tar_bytes > ap->o.max_bytes + ((uint64_t)1 << 20))
			return pn_error_set(err, PN_ERR_TOO_LARGE,
					    "layer expands past %llu bytes after its end",
					    (unsigned long long)ap->o.max_bytes);
	}
	if (n < 0)
		return pn_error_set(err, oci_lstream_error_code(ap->ls), "read layer: %s",
				    oci_lstream_error(ap->ls));
	oci_lstream_digests(ap->ls, got, diff_id);
	if (strcmp(got, digest) != 0)
		return pn_error_set(err, PN_ERR_DIGEST,
				    "layer `%s` is corrupt: content has digest `%s`", digest, got);
	if (ap->o.diff_id && strcmp(diff_id, ap->o.diff_id) != 0)
		return pn_error_set(
			err, PN_ERR_DIGEST,
			"does not match the image config: its content has diff_id `%s`, "
			"the config says `%s`",
			diff_id, ap->o.diff_id);
	return 0;
}

int oci_layer_apply(struct oci_layout *l, const char *digest, const char *dest,
		    const struct oci_apply_opts *opts, struct pn_error **err)
{
	cleanup_close int fd = -1;
	struct applier ap;
	int rc;

	if (oci_layout_open_blob(l, digest, &fd, NULL, err) < 0)
		return -1;
	rc = applier_open(&ap, fd, dest, opts, true, err);
	if (rc == 0)
		rc = applier_run(&ap, err);
	if (rc == 0)
		rc = drain_and_verify(&ap, digest, err);
	applier_close(&ap);
	return rc < 0 ? pn_error_wrap(err, "apply layer `%s` to `%s`", digest, dest) : 0;
}

static int verify_diff_id_to(struct oci_layout *l, const char *digest, const char *diff_id,
			     int out_fd, struct pn_error **err)
{
	cleanup_close int fd = -1;
	struct applier ap;
	int rc;

	if (oci_layout_open_blob(l, digest, &fd, NULL, err) < 0)
		return -1;
	memset(&ap, 0, sizeof(ap));
	ap.root = -1;
	ap.out_fd = out_fd;
	ap.o.max_bytes = APPLY_MAX_BYTES;
	ap.o.diff_id = diff_id;
	ap.ls = oci_lstream_open(fd, true, err);
	rc = ap.ls ? drain_and_verify(&ap, digest, err) : -1;
	applier_close(&ap);
	return rc < 0 ? pn_error_wrap(err, "verify layer `%s`", digest) : 0;
}

int oci_layer_verify_diff_id(struct oci_layout *l, const char *digest, const char *diff_id,
			     struct pn_error **err)
{
	return verify_diff_id_to(l, digest, diff_id, -1, err);
}

int oci_layer_decompress(struct oci_layout *l, const char *digest, const char *diff_id, int out_fd,
			 struct pn_error **err)
{
	return verify_diff_id_to(l, digest, diff_id, out_fd, err);
}
