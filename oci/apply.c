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
	/* verification (oci_layer_apply): h hashes the compressed stream as
	 * raw reads it from in_fd; raw decompresses it and dh hashes what it
	 * hands to the tar reader a (the diff_id) */
	int in_fd;
	struct oci_hasher *h;
	char *inbuf;
	struct archive *raw;
	struct oci_hasher *dh;
	char *tarbuf;
	uint64_t tar_bytes;
	bool raw_open, raw_eof;
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
static int clear_final(int pfd, const char *name, bool keep_dir, bool *kept, struct pn_error **err)
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
		return pn_rm_rf_at(pfd, name, err);
	}
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
	    clear_final(pfd, target, false, &kept, err) < 0)
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

/* ------------------------------------------------------------- entries */
static int copy_data(struct applier *ap, int fd, const char *path, struct pn_error **err)
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
	}
	if (r != ARCHIVE_EOF)
		return pn_error_set(err, PN_ERR_INVALID, "entry `%s`: %s", path,
				    archive_error_string(ap->a));
	return 0;
}

static int make_file(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
		     const char *path, struct pn_error **err)
{
	cleanup_close int fd =
		openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct timespec ts[2];

	if (fd < 0)
		return pn_error_set_errno(err, errno, "create `%s`", path);
	if (copy_data(ap, fd, path, err) < 0)
		return -1;
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return pn_error_set_errno(err, errno, "size `%s`", path);
	if (ap->o.chown && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		pn_debug("apply: owner of `%s` not set: %s", path, strerror(errno));
	apply_xattrs(ap, e, fd);
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return pn_error_set_errno(err, errno, "chmod `%s`", path);
	ts[0] = ts[1] = entry_mtime(e);
	futimens(fd, ts);
	if (pn_close(&fd) < 0)
		return pn_error_set_errno(err, errno, "write `%s`", path);
	return 0;
}

static int make_dir(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
		    const char *path, struct pn_error **err)
{
	cleanup_close int fd = -1;
	struct deferred_dir *dd;

	if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
		return pn_error_set_errno(err, errno, "create directory `%s`", path);
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pn_error_set_errno(err, errno, "open directory `%s`", path);
	apply_owner(ap, e, pfd, name);
	apply_xattrs(ap, e, fd);
	/* owner-writable until the end, so children can be added; the final
	 * mode and mtime are set after the last entry */
	if (fchmod(fd, (archive_entry_perm(e) & 07777) | 0700) < 0)
		return pn_error_set_errno(err, errno, "chmod `%s`", path);
	if (ap->n_dirs == ap->cap_dirs) {
		ap->cap_dirs = ap->cap_dirs ? 2 * ap->cap_dirs : 64;
		ap->dirs = xrealloc(ap->dirs, st_mult(ap->cap_dirs, sizeof(*ap->dirs)));
	}
	dd = &ap->dirs[ap->n_dirs++];
	dd->path = xstrdup(path);
	dd->mode = archive_entry_perm(e) & 07777;
	dd->mtime = entry_mtime(e);
	if (entry_is_opaque_dir(e))
		return ap->o.overlay_whiteouts ? mark_opaque(ap, fd, path, err)
					       : whiteout_opaque(ap, fd, path, err);
	return 0;
}

static int make_symlink(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
			const char *path, struct pn_error **err)
{
	const char *target = archive_entry_symlink(e);
	struct timespec ts[2];

	if (!target || !*target)
		return pn_error_set(err, PN_ERR_INVALID, "entry `%s`: empty symlink target", path);
	if (strlen(target) > ap->o.max_path)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "entry `%s`: symlink target longer than %zu", path,
				    ap->o.max_path);
	if (symlinkat(target, pfd, name) < 0)
		return pn_error_set_errno(err, errno, "create symlink `%s`", path);
	apply_owner(ap, e, pfd, name);
	ts[0] = ts[1] = entry_mtime(e);
	utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int make_hardlink(struct applier *ap, const char *link, int pfd, const char *name,
			 const char *path, struct pn_error **err)
{
	cleanup_free char *target = NULL, *tparent = NULL;
	cleanup_close int tpfd = -1;
	cleanup_error struct pn_error *e2 = NULL;
	const char *tbase;

	if (strlen(link) > ap->o.max_path)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "entry `%s`: link target longer than %zu", path,
				    ap->o.max_path);
	if (oci_tar_path_clean(link, &target, err) < 0)
		return pn_error_wrap(err, "hardlink `%s`", path);
	if (!*target)
		return pn_error_set(err, PN_ERR_INVALID, "entry `%s`: hardlink to the root", path);
	if (strcmp(target, path) == 0)
		return 0;
	split_path(target, &tparent, &tbase);
	if (open_dir_in_root(ap, tparent, false, &tpfd, &e2) < 0) {
		if (e2->code != PN_ERR_NOT_FOUND) {
			pn_error_wrap(&e2, "hardlink `%s` to `%s`", path, target);
			if (err) {
				pn_error_free(*err);
				*err = steal_pointer(&e2);
			}
			return -1;
		}
		return pn_error_set(err, PN_ERR_INVALID,
				    "hardlink `%s`: target `%s` is not in the tree", path, target);
	}
	if (linkat(tpfd, tbase, pfd, name, 0) < 0) {
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

static int make_special(struct applier *ap, struct archive_entry *e, int pfd, const char *name,
			const char *path, struct pn_error **err)
{
	mode_t type = archive_entry_filetype(e);

	if (type == AE_IFIFO) {
		if (mkfifoat(pfd, name, archive_entry_perm(e) & 0777) < 0)
			return pn_error_set_errno(err, errno, "create fifo `%s`", path);
		return special_meta(ap, e, pfd, name);
	}
	if (type != AE_IFCHR && type != AE_IFBLK)
		return 0; /* sockets and unknown types are skipped */
	if (ap->o.skip_devices || !ap->privileged) {
		ap->skipped_devices++;
		pn_debug("apply: device node `%s` skipped", path);
		return 0;
	}
	if (mknodat(pfd, name, type | (archive_entry_perm(e) & 0777), archive_entry_rdev(e)) < 0) {
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
	cleanup_close int pfd = -1;
	const char *base;
	bool is_dir = !link && archive_entry_filetype(e) == AE_IFDIR, kept;
	int r;

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
	if (open_dir_in_root(ap, parent, true, &pfd, err) < 0 ||
	    clear_final(pfd, base, is_dir, &kept, err) < 0)
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

static la_ssize_t hashing_read(struct archive *a, void *data, const void **buf)
{
	struct applier *ap = data;
	ssize_t n;

	do
		n = read(ap->in_fd, ap->inbuf, 1 << 16);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read layer: %s", strerror(errno));
		return -1;
	}
	oci_hasher_update(ap->h, ap->inbuf, (size_t)n);
	*buf = ap->inbuf;
	return n;
}

/* the next uncompressed bytes of the layer, hashed into dh; 0 at the end */
static la_ssize_t raw_next(struct applier *ap)
{
	struct archive_entry *e;
	la_ssize_t n;

	if (ap->raw_eof)
		return 0;
	if (!ap->raw_open) {
		int r = archive_read_next_header(ap->raw, &e);

		ap->raw_open = true;
		if (r == ARCHIVE_EOF) {
			ap->raw_eof = true;
			return 0;
		}
		if (r < ARCHIVE_WARN)
			return -1;
	}
	n = archive_read_data(ap->raw, ap->tarbuf, 1 << 16);
	if (n > 0) {
		oci_hasher_update(ap->dh, ap->tarbuf, (size_t)n);
		ap->tar_bytes += (uint64_t)n;
	} else if (n == 0) {
		ap->raw_eof = true;
	}
	return n;
}

static la_ssize_t tar_read(struct archive *a, void *data, const void **buf)
{
	struct applier *ap = data;
	la_ssize_t n = raw_next(ap);

	if (n < 0) {
		archive_set_error(a, archive_errno(ap->raw), "%s",
				  archive_error_string(ap->raw) ? archive_error_string(ap->raw)
								: "decompress layer");
		return -1;
	}
	*buf = ap->tarbuf;
	return n;
}

/* raw (filters gzip, zstd, none; format raw) reads the blob from in_fd,
 * hashing it, and hands out its uncompressed bytes (raw_next) */
static int open_raw(struct applier *ap, struct pn_error **err)
{
	ap->h = oci_hasher_new();
	ap->dh = oci_hasher_new();
	ap->inbuf = xmalloc(1 << 16);
	ap->tarbuf = xmalloc(1 << 16);
	ap->raw = archive_read_new();
	archive_read_support_filter_gzip(ap->raw);
	archive_read_support_filter_zstd(ap->raw);
	archive_read_support_filter_none(ap->raw);
	archive_read_support_format_raw(ap->raw);
	if (archive_read_open(ap->raw, ap, NULL, hashing_read, NULL) != ARCHIVE_OK)
		return pn_error_set(err, PN_ERR_INVALID, "read layer: %s",
				    archive_error_string(ap->raw));
	return 0;
}

/* verifying: the tar reader a reads raw's output through tar_read */
static int open_verifying(struct applier *ap, struct pn_error **err)
{
	if (open_raw(ap, err) < 0)
		return -1;
	if (archive_read_open(ap->a, ap, NULL, tar_read, NULL) != ARCHIVE_OK)
		return pn_error_set(err, PN_ERR_INVALID, "read layer: %s",
				    archive_error_string(ap->a));
	return 0;
}

static int applier_open(struct applier *ap, int fd, const char *dest,
			const struct oci_apply_opts *o, bool hash, struct pn_error **err)
{
	struct stat st;

	memset(ap, 0, sizeof(*ap));
	ap->out_fd = -1;
	ap->root = -1;
	ap->in_fd = fd;
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
	if (hash) {
		archive_read_support_filter_none(ap->a);
		return open_verifying(ap, err);
	}
	archive_read_support_filter_gzip(ap->a);
	archive_read_support_filter_zstd(ap->a);
	archive_read_support_filter_none(ap->a);
	if (archive_read_open_fd(ap->a, fd, 1 << 16) != ARCHIVE_OK)
		return pn_error_set(err, PN_ERR_INVALID, "read layer: %s",
				    archive_error_string(ap->a));
	return 0;
}

static void applier_close(struct applier *ap)
{
	if (ap->a)
		archive_read_free(ap->a);
	if (ap->raw)
		archive_read_free(ap->raw);
	if (ap->root >= 0)
		close(ap->root);
	pathset_release(&ap->created);
	for (size_t i = 0; i < ap->n_dirs; i++)
		free(ap->dirs[i].path);
	free(ap->dirs);
	oci_hasher_free(ap->h);
	oci_hasher_free(ap->dh);
	free(ap->inbuf);
	free(ap->tarbuf);
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

/* read both streams to their ends (the uncompressed one past the tar's end
 * blocks, within max_bytes) and compare the digests */
static int drain_and_verify(struct applier *ap, const char *digest, struct pn_error **err)
{
	oci_digest_t got, diff_id;
	la_ssize_t dn;
	ssize_t n;

	while ((dn = raw_next(ap)) > 0) {
		if (ap->out_fd >= 0 && pn_write_all(ap->out_fd, ap->tarbuf, (size_t)dn) < 0)
			return pn_error_set_errno(err, errno, "write the uncompressed layer");
		if (ap->tar_bytes > ap->o.max_bytes + ((uint64_t)1 << 20))
			return pn_error_set(err, PN_ERR_TOO_LARGE,
					    "layer expands past %llu bytes after its end",
					    (unsigned long long)ap->o.max_bytes);
	}
	if (dn < 0)
		return pn_error_set(err, PN_ERR_INVALID, "read layer: %s",
				    archive_error_string(ap->raw));
	archive_read_close(ap->raw);
	while ((n = read(ap->in_fd, ap->inbuf, 1 << 16)) > 0)
		oci_hasher_update(ap->h, ap->inbuf, (size_t)n);
	if (n < 0)
		return pn_error_set_errno(err, errno, "read layer");
	oci_hasher_final(ap->h, got);
	if (strcmp(got, digest) != 0)
		return pn_error_set(err, PN_ERR_DIGEST,
				    "layer `%s` is corrupt: content has digest `%s`", digest, got);
	oci_hasher_final(ap->dh, diff_id);
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
	ap.in_fd = fd;
	ap.out_fd = out_fd;
	ap.o.max_bytes = APPLY_MAX_BYTES;
	ap.o.diff_id = diff_id;
	rc = open_raw(&ap, err);
	if (rc == 0)
		rc = drain_and_verify(&ap, digest, err);
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
