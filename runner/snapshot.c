/* snapshot.c - layers unpacked once under <cache>/snapshots/<hex>/root,
 * keyed by diff_id, kept in overlay form (whiteouts as 0:0 character devices,
 * opaque directories as user.overlay.opaque) so that they stack as lowers */
#include "runner/internal.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_DIR_STALE_SECONDS (24 * 3600)
#define SNAP_BLOBS_MAX	      (256 << 10) /* the blobs record of one snapshot */

int runner_dir_lock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool runner_dir_busy(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;

	if (fd >= 0)
		close(fd);
	return busy;
}

char *runner_snapshot_path(struct runner *r, const char *diff_id)
{
	return xasprintf("%s/%s", r->snap_dir, oci_digest_hex(diff_id));
}

static void touch_used(const char *snap)
{
	cleanup_free char *p = pn_path_join(snap, "used");
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
}

/* <snap>/blobs lists, one a line, the layer blobs known to unpack to this
 * snapshot's diff_id: the blob it was unpacked from, the blob a build step
 * wrote from it, and any other blob verified against the diff_id since.  A
 * snapshot is only handed out for a blob listed there (issue 17). */
static bool blob_listed(const char *snap, const char *digest)
{
	cleanup_free char *p = pn_path_join(snap, "blobs"), *data = NULL;
	size_t len = 0, dl = strlen(digest);

	if (pn_read_file(p, SNAP_BLOBS_MAX, &data, &len, NULL) < 0)
		return false;
	for (size_t i = 0; i + dl <= len;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : len - i;

		if (n == dl && memcmp(data + i, digest, dl) == 0)
			return true;
		i += n + 1;
	}
	return false;
}

static void blob_list(const char *snap, const char *digest)
{
	cleanup_free char *p = pn_path_join(snap, "blobs");
	cleanup_free char *line = xasprintf("%s\n", digest);
	cleanup_close int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || pn_close(&fd) < 0)
		pn_debug("snapshot: record blob `%s` in `%s`: %s", digest, p, strerror(errno));
}

struct unpack_arg {
	struct runner *r;
	struct oci_layout *l;
	const char *digest;
	const char *diff_id;
	const char *root;
};

static int unpack_in_userns(void *arg, struct pn_buf *reply, struct pn_error **err)
{
	struct unpack_arg *u = arg;
	struct oci_apply_opts o;

	(void)reply;
	oci_apply_opts_init(&o);
	o.skip_devices = true;
	o.chown = u->r->idmap.mode != RUNNER_IDMAP_SINGLE;
	/* one pass: whiteouts become their overlay form as they are read */
	o.overlay_whiteouts = true;
	/* published under diff_id only if the content hashes to it */
	o.diff_id = u->diff_id;
	if (mkdir(u->root, 0755) < 0 && errno != EEXIST)
		return pn_error_set_errno(err, errno, "create `%s`", u->root);
	return oci_layer_apply(u->l, u->digest, u->root, &o, err);
}

static int rm_in_userns(void *arg, struct pn_buf *reply, struct pn_error **err)
{
	const struct pn_strv *paths = arg;

	(void)reply;
	for (size_t i = 0; i < paths->n; i++)
		if (pn_rm_rf(paths->v[i], err) < 0)
			return -1;
	return 0;
}

int runner_rm_paths(struct runner *r, const struct pn_strv *paths, struct pn_error **err)
{
	return runner_userns_call(r, rm_in_userns, (void *)paths, NULL, NULL, err);
}

int runner_snapshot_ensure(struct runner *r, struct oci_layout *l,
			   const struct oci_descriptor *layer, const char *diff_id, char **path_out,
			   struct pn_error **err)
{
	cleanup_free char *snap = NULL;
	cleanup_free char *tmp = NULL;
	cleanup_free char *root = NULL;
	struct unpack_arg u = {r, l, layer->digest, diff_id, NULL};
	cleanup_close int lock = -1;
	struct stat st;

	if (!oci_digest_valid(diff_id))
		return pn_error_set(err, PN_ERR_INVALID, "bad diff_id `%s`", diff_id);
	snap = runner_snapshot_path(r, diff_id);
	root = pn_path_join(snap, "root");
	if (stat(root, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!blob_listed(snap, layer->digest)) {
			/* the snapshot is the diff_id's; is this blob that diff_id? */
			if (oci_layer_verify_diff_id(l, layer->digest, diff_id, err) < 0)
				return pn_error_wrap(err, "use snapshot `%.19s`", diff_id);
			blob_list(snap, layer->digest);
		}
		touch_used(snap);
		*path_out = steal_pointer(&root);
		return 0;
	}
	tmp = pn_mkdtemp_in(r->snap_dir, ".tmp-", err);
	if (!tmp)
		return -1;
	chmod(tmp, 0755);
	lock = runner_dir_lock(tmp); /* prune leaves it alone while we unpack */
	u.root = xasprintf("%s/root", tmp);
	pn_progress_event("unpack", NULL, "unpacking layer %.19s", layer->digest);
	if (runner_userns_call(r, unpack_in_userns, &u, NULL, NULL, err) < 0) {
		struct pn_strv rm = PN_STRV_INIT;

		pn_strv_push(&rm, tmp);
		runner_rm_paths(r, &rm, NULL);
		pn_strv_release(&rm);
		free((char *)u.root);
		return pn_error_wrap(err, "unpack layer `%s`", layer->digest);
	}
	free((char *)u.root);
	touch_used(tmp);
	blob_list(tmp, layer->digest);
	if (rename(tmp, snap) < 0) {
		struct pn_strv rm = PN_STRV_INIT;
		int e = errno;

		pn_strv_push(&rm, tmp);
		runner_rm_paths(r, &rm, NULL);
		pn_strv_release(&rm);
		if (e != EEXIST && e != ENOTEMPTY)
			return pn_error_set_errno(err, e, "store snapshot `%s`", snap);
		blob_list(snap, layer->digest); /* verified by our own unpack */
	}
	*path_out = steal_pointer(&root);
	return 0;
}

int runner_snapshot_adopt(struct runner *r, const char *upper, const char *digest,
			  const char *diff_id, struct pn_error **err)
{
	cleanup_free char *snap = runner_snapshot_path(r, diff_id);
	cleanup_free char *root = pn_path_join(snap, "root");
	struct stat st;

	if (stat(root, &st) == 0) {
		if (!blob_listed(snap, digest))
			blob_list(snap, digest);
		return 0;
	}
	if (mkdir(snap, 0755) < 0 && errno != EEXIST)
		return pn_error_set_errno(err, errno, "create `%s`", snap);
	if (rename(upper, root) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		return pn_error_set_errno(err, errno, "adopt `%s` as snapshot", upper);
	/* digest is the layer the writer just made of this very upper dir */
	blob_list(snap, digest);
	touch_used(snap);
	return 0;
}

/* ---------------------------------------------------------------- listing */
static int64_t du_at(int dfd, int depth)
{
	DIR *d;
	struct dirent *de;
	int64_t total = 0;

	if (depth > 256 || !(d = fdopendir(dfd))) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		total += (int64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0)
				total += du_at(fd, depth + 1);
		}
	}
	closedir(d);
	return total;
}

static bool hex64(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

int runner_snapshots_list(struct runner *r, struct runner_snapshot **out, size_t *n,
			  struct pn_error **err)
{
	cleanup_dir DIR *d = opendir(r->snap_dir);
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0
				       : pn_error_set_errno(err, errno, "open `%s`", r->snap_dir);
	while ((de = readdir(d))) {
		struct runner_snapshot *s;
		cleanup_free char *used = NULL;
		struct stat st;
		int fd;

		if (!hex64(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*out = xrealloc(*out, st_mult(cap, sizeof(**out)));
		}
		s = &(*out)[(*n)++];
		memcpy(s->diff_id, "sha256:", 7);
		memcpy(s->diff_id + 7, de->d_name, 65);
		s->path = xasprintf("%s/%s/root", r->snap_dir, de->d_name);
		used = xasprintf("%s/%s/used", r->snap_dir, de->d_name);
		s->last_used = stat(used, &st) == 0 ? (int64_t)st.st_mtime : 0;
		fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		s->bytes = fd >= 0 ? du_at(fd, 0) : -1;
	}
	return 0;
}

void runner_snapshots_free(struct runner_snapshot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].path);
	free(s);
}

/* the entries of dir named prefix* that nobody holds a lock on and that are
 * older than min_age seconds, into out */
static void leftovers(const char *dir, const char *prefix, int64_t min_age, struct pn_strv *out)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		cleanup_free char *p = NULL;
		struct stat st;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		p = pn_path_join(dir, de->d_name);
		if (lstat(p, &st) == 0 && (int64_t)st.st_mtime <= (int64_t)time(NULL) - min_age &&
		    !runner_dir_busy(p))
			pn_strv_push(out, p);
	}
}

int runner_snapshots_prune(struct runner *r, int64_t older_than, const struct pn_strv *keep,
			   size_t *removed_out, int64_t *bytes_out, struct pn_error **err)
{
	struct runner_snapshot *s = NULL;
	size_t n = 0, removed = 0;
	int64_t bytes = 0;
	cleanup_strv struct pn_strv rm = PN_STRV_INIT;

	if (runner_snapshots_list(r, &s, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i].last_used >= older_than || (keep && pn_strv_contains(keep, s[i].diff_id)))
			continue;
		pn_strv_push_owned(&rm,
				   xasprintf("%s/%s", r->snap_dir, oci_digest_hex(s[i].diff_id)));
		removed++;
		bytes += s[i].bytes > 0 ? s[i].bytes : 0;
	}
	runner_snapshots_free(s, n);
	/* leftovers of killed unpacks and sandboxes; live ones hold a lock */
	leftovers(r->snap_dir, ".tmp-", 0, &rm);
	leftovers(r->run_dir, "run-", RUN_DIR_STALE_SECONDS, &rm);
	if (rm.n && runner_rm_paths(r, &rm, err) < 0)
		return pn_error_wrap(err, "prune snapshots");
	if (removed_out)
		*removed_out = removed;
	if (bytes_out)
		*bytes_out = bytes;
	return 0;
}

/* ------------------------------------------------------------------ rootfs */
void runner_rootfs_init(struct runner_rootfs *rf)
{
	memset(rf, 0, sizeof(*rf));
}

void runner_rootfs_release(struct runner_rootfs *rf)
{
	pn_strv_release(&rf->lowers);
	pn_strv_release(&rf->diff_ids);
}

int runner_rootfs_push(struct runner *r, struct runner_rootfs *rf, struct oci_layout *l,
		       const struct oci_descriptor *layer, const char *diff_id,
		       struct pn_error **err)
{
	char *path = NULL;

	if (runner_snapshot_ensure(r, l, layer, diff_id, &path, err) < 0)
		return -1;
	pn_strv_push_owned(&rf->lowers, path);
	pn_strv_push(&rf->diff_ids, diff_id);
	return 0;
}

int runner_rootfs_prepare(struct runner *r, struct oci_layout *l, const struct oci_image *img,
			  struct runner_rootfs *rf, struct pn_error **err)
{
	if (img->manifest.n_layers != img->config.n_diff_ids)
		return pn_error_set(err, PN_ERR_INVALID, "image has %zu layers but %zu diff_ids",
				    img->manifest.n_layers, img->config.n_diff_ids);
	for (size_t i = 0; i < img->manifest.n_layers; i++)
		if (runner_rootfs_push(r, rf, l, &img->manifest.layers[i], img->config.diff_ids[i],
				       err) < 0)
			return pn_error_wrap(err, "layer %zu of %zu", i + 1,
					     img->manifest.n_layers);
	return 0;
}
