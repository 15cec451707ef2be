/* copy.c - the copy-up fallback: where overlayfs cannot be mounted, merged is
 * a full copy of the lowers, and an index of (path, inode, ctime) taken right
 * after the copy tells which entries the step created, changed or removed
 * (any write or metadata change moves ctime; a replaced file has a new inode).
 * No file contents are hashed. */
#include "runner/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/limits.h>
#include <sys/xattr.h>
#include <unistd.h>

#define COPY_DEPTH_MAX 256
#define COPY_INDEX_MAX ((size_t)512 << 20)

static int copy_file(int sfd, int dfd, const char *name, const struct stat *st,
		     struct pn_error **err)
{
	cleanup_close int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int out = -1;
	off_t left = st->st_size;

	if (in < 0)
		return pn_error_set_errno(err, errno, "open `%s`", name);
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return pn_error_set_errno(err, errno, "create `%s`", name);
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			char buf[65536];

			n = read(in, buf, sizeof(buf));
			if (n <= 0 || pn_write_all(out, buf, (size_t)n) < 0)
				return pn_error_set_errno(err, n < 0 ? errno : EIO, "copy `%s`",
							  name);
		}
		left -= n;
	}
	if (pn_close(&out) < 0)
		return pn_error_set_errno(err, errno, "copy `%s`", name);
	return 0;
}

static void set_meta(int dfd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	(void)!fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
	if (!S_ISLNK(st->st_mode))
		(void)!fchmodat(dfd, name, st->st_mode & 07777, 0);
	utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* the xattrs of a regular file or directory, as overlay's copy-up keeps
 * them (overlay's own user.overlay.* marks excepted); after set_meta, since
 * chown drops security.capability */
static void copy_xattrs(int sfd, int dfd, const char *name)
{
	cleanup_close int from = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	cleanup_close int to = -1;
	cleanup_free char *names = NULL;
	cleanup_free char *val = NULL;
	ssize_t n;

	if (from < 0 || flistxattr(from, NULL, 0) <= 0) /* most files have none */
		return;
	to = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	names = xmalloc(XATTR_LIST_MAX);
	val = xmalloc(XATTR_SIZE_MAX);
	n = to >= 0 ? flistxattr(from, names, XATTR_LIST_MAX) : -1;

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		const char *k = names + i;
		ssize_t vn;

		if (strncmp(k, "user.overlay.", 13) == 0 || strncmp(k, "trusted.overlay.", 16) == 0)
			continue;
		vn = fgetxattr(from, k, val, XATTR_SIZE_MAX);
		if (vn >= 0 && fsetxattr(to, k, val, (size_t)vn, 0) < 0)
			pn_debug("copy: xattr `%s` of `%s` not kept: %s", k, name, strerror(errno));
	}
}

static int copy_tree(int sfd, int dfd, int depth, struct pn_error **err);

/* a directory of a lower: merged into what is there, or replacing it when
 * it is not a directory or the lower's copy is opaque */
static int copy_dir_entry(int sfd, int dfd, const char *name, const struct stat *st,
			  const struct stat *dst, int depth, struct pn_error **err)
{
	char v[2];
	int s2, d2, rc;
	bool opaque;

	if (dst && !S_ISDIR(dst->st_mode) && pn_rm_rf_at(dfd, name, err) < 0)
		return -1;
	s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s2 < 0)
		return pn_error_set_errno(err, errno, "open `%s`", name);
	opaque = fgetxattr(s2, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
	if (dst && S_ISDIR(dst->st_mode) && opaque && pn_rm_rf_at(dfd, name, err) < 0) {
		close(s2);
		return -1;
	}
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST) {
		close(s2);
		return pn_error_set_errno(err, errno, "create `%s`", name);
	}
	d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d2 < 0) {
		close(s2);
		return pn_error_set_errno(err, errno, "open `%s`", name);
	}
	rc = copy_tree(s2, d2, depth + 1, err);
	close(s2);
	close(d2);
	if (rc < 0)
		return pn_error_wrap(err, "%s", name);
	set_meta(dfd, name, st);
	copy_xattrs(sfd, dfd, name);
	return 0;
}

static int copy_entry(int sfd, int dfd, const char *name, int depth, struct pn_error **err)
{
	struct stat st, dst;
	bool exists = fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", name);
	if (runner_diff_classify(&st, false) == RUNNER_DIFF_WHITEOUT)
		return pn_rm_rf_at(dfd, name, err);
	if (S_ISDIR(st.st_mode))
		return copy_dir_entry(sfd, dfd, name, &st, exists ? &dst : NULL, depth, err);
	if (exists && pn_rm_rf_at(dfd, name, err) < 0)
		return -1;
	if (S_ISREG(st.st_mode)) {
		if (copy_file(sfd, dfd, name, &st, err) < 0)
			return -1;
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return pn_error_set_errno(err, errno, "read link `%s`", name);
		target[n] = '\0';
		if (symlinkat(target, dfd, name) < 0)
			return pn_error_set_errno(err, errno, "create link `%s`", name);
	} else if (S_ISFIFO(st.st_mode)) {
		if (mkfifoat(dfd, name, st.st_mode & 07777) < 0)
			return pn_error_set_errno(err, errno, "create fifo `%s`", name);
	} else {
		return 0; /* devices and sockets are not copied */
	}
	set_meta(dfd, name, &st);
	if (S_ISREG(st.st_mode))
		copy_xattrs(sfd, dfd, name);
	return 0;
}

static int copy_tree(int sfd, int dfd, int depth, struct pn_error **err)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = 0;

	if (depth > COPY_DEPTH_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "directories nested too deep");
	fd = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return pn_error_set_errno(err, errno, "read directory");
	}
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = copy_entry(sfd, dfd, de->d_name, depth, err);
	closedir(d);
	return rc;
}

static int copy_layer(const char *src, const char *dst, struct pn_error **err)
{
	cleanup_close int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int d = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (s < 0 || d < 0)
		return pn_error_set_errno(err, errno, "open `%s`", s < 0 ? src : dst);
	if (copy_tree(s, d, 0, err) < 0)
		return pn_error_wrap(err, "copy `%s`", src);
	return 0;
}

/* ------------------------------------------------------------------ index */
struct idx_entry {
	char *path;
	ino_t ino;
	struct timespec ctime;
	struct timespec btime; /* birth time; tv_sec -1 if the filesystem has none */
};

/* a freed inode number is soon reused (rm -rf d; mkdir d often gives d its
 * old inode): the birth time tells a recreated entry apart */
static struct timespec birth_time(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) < 0 ||
	    !(sx.stx_mask & STATX_BTIME))
		return (struct timespec){-1, 0};
	return (struct timespec){(time_t)sx.stx_btime.tv_sec, (long)sx.stx_btime.tv_nsec};
}

static int index_walk(const char *host, const char *rel, struct pn_buf *out, int depth,
		      struct pn_error **err)
{
	cleanup_dir DIR *d = opendir(host);
	struct dirent *de;

	if (!d)
		return pn_error_set_errno(err, errno, "open `%s`", host);
	if (depth > COPY_DEPTH_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "directories nested too deep");
	while ((de = readdir(d))) {
		cleanup_free char *h = NULL;
		cleanup_free char *r = NULL;
		struct stat st;
		struct timespec bt;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		h = pn_path_join(host, de->d_name);
		r = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (lstat(h, &st) < 0)
			return pn_error_set_errno(err, errno, "stat `%s`", h);
		bt = S_ISDIR(st.st_mode) ? birth_time(h) : (struct timespec){-1, 0};
		if (pn_buf_printf(out, err, "%llu %lld %ld %lld %ld %s",
				  (unsigned long long)st.st_ino, (long long)st.st_ctim.tv_sec,
				  st.st_ctim.tv_nsec, (long long)bt.tv_sec, bt.tv_nsec, r) < 0 ||
		    pn_buf_append(out, "", 1, err) < 0)
			return -1;
		if (S_ISDIR(st.st_mode) && index_walk(h, r, out, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

int runner_copy_prepare(const struct runner_sandbox_cfg *c, struct pn_error **err)
{
	cleanup_buf struct pn_buf idx = PN_BUF_INIT;
	cleanup_free char *path = pn_path_join(c->dir, RUNNER_COPY_INDEX);

	for (size_t i = 0; i < c->rf->lowers.n; i++)
		if (copy_layer(c->rf->lowers.v[i], c->merged, err) < 0)
			return -1;
	if (copy_layer(c->mnt, c->merged, err) < 0)
		return -1;
	pn_buf_init(&idx, COPY_INDEX_MAX);
	if (index_walk(c->merged, "", &idx, 0, err) < 0)
		return pn_error_wrap(err, "index the copy");
	return pn_write_file_atomic(path, idx.data ? idx.data : "", idx.len, 0600, err);
}

static int idx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct idx_entry *)a)->path, ((const struct idx_entry *)b)->path);
}

static int index_load(const char *file, struct idx_entry **out, size_t *n, char **data,
		      struct pn_error **err)
{
	size_t len, cap = 0;

	if (pn_read_file(file, COPY_INDEX_MAX, data, &len, err) < 0)
		return -1;
	*out = NULL;
	*n = 0;
	for (char *p = *data; p < *data + len; p += strlen(p) + 1) {
		unsigned long long ino;
		long long sec, bsec;
		long nsec, bnsec;
		int off = 0;

		if (sscanf(p, "%llu %lld %ld %lld %ld %n", &ino, &sec, &nsec, &bsec, &bnsec,
			   &off) != 5 ||
		    off == 0)
			return pn_error_set(err, PN_ERR_INVALID, "corrupt copy index");
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			*out = xrealloc(*out, st_mult(cap, sizeof(**out)));
		}
		(*out)[(*n)++] = (struct idx_entry){
			p + off, (ino_t)ino, {(time_t)sec, nsec}, {(time_t)bsec, bnsec}};
	}
	qsort(*out, *n, sizeof(**out), idx_cmp);
	return 0;
}

/* The walk emits what overlay's upper dir would hold: changed entries, the
 * unchanged directories above them (overlay copies parents up), a removed
 * lower entry as a whiteout, and a directory recreated where a lower entry
 * was as opaque (with everything in it, and no whiteouts under it). */
struct copy_diff {
	const char *root;
	struct oci_layer_writer *w;
	const struct runner_plan *plan;
	struct idx_entry *idx;
	size_t n;
	struct pn_strv dirs; /* the directories above the current entry */
	size_t emitted;	     /* how many of them are in the layer already */
};

static struct idx_entry *idx_find(struct copy_diff *cd, const char *rel)
{
	struct idx_entry key = {(char *)rel};

	return bsearch(&key, cd->idx, cd->n, sizeof(key), idx_cmp);
}

/* write the directories above rel that are not in the layer yet */
static int emit_parents(struct copy_diff *cd, struct pn_error **err)
{
	for (; cd->emitted < cd->dirs.n; cd->emitted++) {
		cleanup_free char *h = pn_path_join(cd->root, cd->dirs.v[cd->emitted]);

		if (oci_layer_writer_add_path(cd->w, h, cd->dirs.v[cd->emitted], err) < 0)
			return -1;
	}
	return 0;
}

static int emit(struct copy_diff *cd, const char *host, const char *rel, bool opaque,
		struct pn_error **err)
{
	cleanup_free char *mark = opaque ? xasprintf("%s/.wh..wh..opq", rel) : NULL;

	if (emit_parents(cd, err) < 0 || oci_layer_writer_add_path(cd->w, host, rel, err) < 0)
		return -1;
	return mark ? oci_layer_writer_add_data(cd->w, mark, "", 0, 0, err) : 0;
}

static int diff_walk(struct copy_diff *cd, const char *host, const char *rel, int depth, bool all,
		     struct pn_error **err);

/* the index entries that were direct children of rel and are gone now */
static void removed_children(struct copy_diff *cd, const char *rel, struct pn_strv *out)
{
	cleanup_free char *prefix = *rel ? xasprintf("%s/", rel) : xstrdup("");
	size_t pl = strlen(prefix), lo = 0, hi = cd->n;

	while (lo < hi) { /* first entry >= prefix */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(cd->idx[mid].path, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < cd->n && strncmp(cd->idx[i].path, prefix, pl) == 0; i++) {
		const char *name = cd->idx[i].path + pl;
		cleanup_free char *h = NULL;
		struct stat st;

		if (strchr(name, '/') || runner_plan_excluded(cd->plan, cd->idx[i].path))
			continue;
		h = pn_path_join(cd->root, cd->idx[i].path);
		if (lstat(h, &st) < 0 && errno == ENOENT)
			pn_strv_push(out, name);
	}
}

/* into directory rel (its own entry written or not): walk it, then leave */
static int diff_enter(struct copy_diff *cd, const char *host, const char *rel, bool written,
		      int depth, bool all, struct pn_error **err)
{
	int rc;

	pn_strv_push(&cd->dirs, rel);
	if (written)
		cd->emitted = cd->dirs.n;
	rc = diff_walk(cd, host, rel, depth + 1, all, err);
	free(cd->dirs.v[--cd->dirs.n]);
	cd->dirs.v[cd->dirs.n] = NULL;
	if (cd->emitted > cd->dirs.n)
		cd->emitted = cd->dirs.n;
	return rc;
}

static bool recreated(const struct idx_entry *e, const char *host)
{
	struct timespec bt = e->btime.tv_sec < 0 ? e->btime : birth_time(host);

	return bt.tv_sec != e->btime.tv_sec || bt.tv_nsec != e->btime.tv_nsec;
}

/* all: inside an opaque directory, where everything is new */
static int diff_one(struct copy_diff *cd, const char *host, const char *rel, const char *nm,
		    int depth, bool all, struct pn_error **err)
{
	cleanup_free char *h = pn_path_join(host, nm);
	cleanup_free char *r = *rel ? xasprintf("%s/%s", rel, nm) : xstrdup(nm);
	struct idx_entry *e = all ? NULL : idx_find(cd, r);
	struct stat st;
	bool changed, opaque;

	if (runner_plan_excluded(cd->plan, r))
		return 0;
	if (lstat(h, &st) < 0) {
		if (errno == ENOENT && e) /* removed by the step */
			return emit_parents(cd, err) < 0
				       ? -1
				       : oci_layer_writer_add_whiteout(cd->w, r, err);
		return pn_error_set_errno(err, errno, "stat `%s`", h);
	}
	changed = !e || e->ino != st.st_ino || e->ctime.tv_sec != st.st_ctim.tv_sec ||
		  e->ctime.tv_nsec != st.st_ctim.tv_nsec;
	opaque = e && S_ISDIR(st.st_mode) && (e->ino != st.st_ino || recreated(e, h));
	if (changed && emit(cd, h, r, opaque, err) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return diff_enter(cd, h, r, changed, depth, all || opaque, err);
	return 0;
}

/* entries of one directory, present and removed, in name order (as the
 * overlay upper dir would list them) */
static int diff_walk(struct copy_diff *cd, const char *host, const char *rel, int depth, bool all,
		     struct pn_error **err)
{
	struct dirent **names = NULL;
	cleanup_strv struct pn_strv list = PN_STRV_INIT;
	int n, rc = 0;

	if (depth > COPY_DEPTH_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "directories nested too deep");
	n = scandir(host, &names, NULL, NULL);
	if (n < 0)
		return pn_error_set_errno(err, errno, "read directory `%s`", host);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
			pn_strv_push(&list, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	if (!all)
		removed_children(cd, rel, &list);
	pn_strv_sort(&list);
	for (size_t i = 0; rc == 0 && i < list.n; i++)
		rc = diff_one(cd, host, rel, list.v[i], depth, all, err);
	return rc;
}

int runner_copy_diff_write(const struct runner_sandbox_cfg *c, struct oci_layer_result *res,
			   struct pn_error **err)
{
	cleanup_free char *file = pn_path_join(c->dir, RUNNER_COPY_INDEX);
	cleanup_free char *data = NULL;
	struct oci_layer_opts o;
	struct copy_diff cd = {c->merged, NULL, &c->plan, NULL, 0, PN_STRV_INIT, 0};
	int rc;

	if (index_load(file, &cd.idx, &cd.n, &data, err) < 0)
		return -1;
	if (c->lopts)
		o = *c->lopts;
	else
		oci_layer_opts_init(&o);
	o.overlay_upper = true;
	cd.w = oci_layer_writer_new(c->out, &o, err);
	if (!cd.w) {
		free(cd.idx);
		return pn_error_wrap(err, "write layer");
	}
	rc = diff_walk(&cd, c->merged, "", 0, false, err);
	if (rc == 0)
		rc = oci_layer_writer_finish(cd.w, res, err);
	oci_layer_writer_free(cd.w);
	free(cd.idx);
	pn_strv_release(&cd.dirs);
	if (rc < 0)
		return pn_error_wrap(err, "write layer from the copy");
	return 0;
}
