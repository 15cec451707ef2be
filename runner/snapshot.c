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
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
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
	char *root; /* <tmp>/root */
	char *tmp;  /* the .tmp- dir, locked by lock */
	char *snap; /* where it is published */
	int lock;   /* on tmp: prune leaves it alone */
	int ulock;  /* the diff_id's unpack lock */
};

#define UNPACKED_MARK "unpacked" /* in tmp: the unpack finished and verified */

static int unpack_one(struct unpack_arg *u, struct pn_error **err)
{
	cleanup_free char *mark = NULL;
	struct oci_apply_opts o;

	oci_apply_opts_init(&o);
	o.skip_devices = true;
	o.chown = u->r->idmap.mode != RUNNER_IDMAP_SINGLE;
	/* one pass: whiteouts become their overlay form as they are read */
	o.overlay_whiteouts = true;
	/* published under diff_id only if the content hashes to it */
	o.diff_id = u->diff_id;
	if (mkdir(u->root, 0755) < 0 && errno != EEXIST)
		return pn_error_set_errno(err, errno, "create `%s`", u->root);
	if (oci_layer_apply(u->l, u->digest, u->root, &o, err) < 0)
		return -1;
	mark = pn_path_join(u->tmp, UNPACKED_MARK);
	return pn_write_file_atomic(mark, "", 0, 0644, err);
}

struct unpack_batch {
	struct unpack_arg *v;
	size_t n;
	int jobs; /* at most this many at once */
};

/* in the user namespace: each layer in a worker process of its own, `jobs`
 * at a time; a worker's error message comes back through a pipe */
static pid_t unpack_spawn(struct unpack_arg *u, int *rfd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct pn_error *e = NULL;

		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unpack_one(u, &e) < 0) {
			char *m = xasprintf("%d:%s", (int)e->code, e->msg);

			(void)!write(p[1], m, strlen(m));
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	*rfd = p[0];
	if (pid < 0)
		close(p[0]);
	return pid;
}

struct unpack_fail {
	size_t i; /* the first failed layer, in layer order */
	int code; /* its error */
	char *msg;
};

/* one worker done: its error kept if it is the first in layer order */
static void unpack_reap(struct unpack_batch *b, pid_t *pids, int *fds, struct unpack_fail *f)
{
	int st;
	pid_t pid;

	while ((pid = wait(&st)) < 0 && errno == EINTR)
		;
	for (size_t i = 0; pid > 0 && i < b->n; i++) {
		char msg[1024];
		ssize_t m;

		if (pids[i] != pid)
			continue;
		pids[i] = 0;
		m = read(fds[i], msg, sizeof(msg) - 1);
		close(fds[i]);
		msg[m > 0 ? m : 0] = '\0';
		if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && i < f->i) {
			char *colon = strchr(msg, ':');

			free(f->msg);
			f->msg = xasprintf("unpack layer `%s`: %s", b->v[i].digest,
					   colon ? colon + 1 : "its worker died");
			f->code = colon ? atoi(msg) : PN_ERR_GENERIC;
			f->i = i;
		}
	}
}

static int unpack_in_userns(void *arg, struct pn_buf *reply, struct pn_error **err)
{
	struct unpack_batch *b = arg;
	cleanup_free pid_t *pids = xcalloc(b->n, sizeof(*pids));
	cleanup_free int *fds = xcalloc(b->n, sizeof(*fds));
	struct unpack_fail f = {SIZE_MAX, 0, NULL};
	int running = 0, rc = 0;

	(void)reply;
	if (b->n == 1) /* no worker for a single layer */
		return unpack_one(&b->v[0], err);
	for (size_t i = 0; i < b->n; i++) {
		if (running == b->jobs) {
			unpack_reap(b, pids, fds, &f);
			running--;
		}
		pids[i] = unpack_spawn(&b->v[i], &fds[i]);
		if (pids[i] > 0) {
			running++;
		} else if (i < f.i) {
			pids[i] = 0;
			free(f.msg);
			f = (struct unpack_fail){i, PN_ERR_GENERIC,
						 xstrdup("cannot fork an unpack worker")};
		}
	}
	for (; running > 0; running--)
		unpack_reap(b, pids, fds, &f);
	if (f.msg)
		rc = pn_error_set(err, (enum pn_error_code)f.code, "%s", f.msg);
	free(f.msg);
	return rc;
}

struct rm_arg {
	const char *root;
	const struct pn_strv *paths;
};

/* remove path, below root (opened as rootfd): the directory that holds it is
 * opened beneath rootfd with no symlink in any component, and pn_rm_rf_at
 * follows none below it, so a directory a build swapped for a link while
 * the prune ran fails instead of leading out of the cache */
static int rm_beneath(int rootfd, const char *root, const char *path, struct pn_error **err)
{
	size_t n = strlen(root);
	const char *rel, *name;
	cleanup_free char *dir = NULL;
	cleanup_close int dfd = -1;
	struct pn_error *e = NULL;

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (strncmp(path, root, n) != 0 || path[n] != '/')
		return pn_error_set(err, PN_ERR_INVALID, "remove `%s`: not below `%s`", path, root);
	rel = path + n + 1;
	name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return pn_error_set(err, PN_ERR_INVALID, "remove `%s`: not a name", path);
	if (name == rel)
		return pn_rm_rf_at(rootfd, name, err);
	dir = xstrndup(rel, (size_t)(name - 1 - rel));
	dfd = pn_path_open_beneath(rootfd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW, &e);
	if (dfd < 0 && e && e->code == PN_ERR_NOT_FOUND) {
		pn_error_free(e); /* gone already */
		return 0;
	}
	if (dfd < 0) {
		pn_error_propagate(err, e);
		return pn_error_wrap(err, "remove `%s`", path);
	}
	return pn_rm_rf_at(dfd, name, err);
}

static int rm_in_userns(void *arg, struct pn_buf *reply, struct pn_error **err)
{
	const struct rm_arg *a = arg;
	cleanup_close int rootfd = open(a->root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)reply;
	if (rootfd < 0 && errno == ENOENT)
		return 0;
	if (rootfd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", a->root);
	for (size_t i = 0; i < a->paths->n; i++)
		if (rm_beneath(rootfd, a->root, a->paths->v[i], err) < 0)
			return -1;
	return 0;
}

int runner_rm_paths(struct runner *r, const char *root, const struct pn_strv *paths,
		    struct pn_error **err)
{
	struct rm_arg a = {root, paths};

	return runner_userns_call(r, rm_in_userns, &a, NULL, NULL, err);
}

/* 1 and *path_out when diff_id has a snapshot usable for this blob, 0 when
 * it has none */
static int snapshot_existing(struct runner *r, struct oci_layout *l, const char *digest,
			     const char *diff_id, char **path_out, struct pn_error **err)
{
	cleanup_free char *snap = runner_snapshot_path(r, diff_id);
	cleanup_free char *root = pn_path_join(snap, "root");
	struct stat st;

	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	if (!blob_listed(snap, digest)) {
		/* the snapshot is the diff_id's; is this blob that diff_id? */
		if (oci_layer_verify_diff_id(l, digest, diff_id, err) < 0)
			return pn_error_wrap(err, "use snapshot `%.19s`", diff_id);
		blob_list(snap, digest);
	}
	touch_used(snap);
	*path_out = steal_pointer(&root);
	return 1;
}

/* where a diff_id's unpack lock lives: beside the snapshots, not among
 * them, so a refused layer leaves nothing in the snapshots directory */
static char *unpack_lock_path(const struct runner *r, const char *diff_id)
{
	return xasprintf("%s.locks/%s", r->snap_dir, oci_digest_hex(diff_id));
}

/* the diff_id's unpack lock (unpack_lock_path), held (blocking) */
static int unpack_lock(struct runner *r, const char *diff_id)
{
	cleanup_free char *dir = xasprintf("%s.locks", r->snap_dir);
	cleanup_free char *p = unpack_lock_path(r, diff_id);
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	while (fd >= 0 && flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	return fd;
}

static void unpack_arg_release(struct runner *r, struct unpack_arg *u, bool discard)
{
	if (discard && u->tmp) {
		struct pn_strv rm = PN_STRV_INIT;

		pn_strv_push(&rm, u->tmp);
		runner_rm_paths(r, r->snap_dir, &rm, NULL);
		pn_strv_release(&rm);
	}
	free(u->root);
	free(u->tmp);
	free(u->snap);
	if (u->lock >= 0)
		close(u->lock);
	if (u->ulock >= 0)
		close(u->ulock); /* after the rename: the next one finds the snapshot */
	memset(u, 0, sizeof(*u));
	u->lock = u->ulock = -1;
}

static int unpack_prepare(struct runner *r, struct unpack_arg *u, struct pn_error **err)
{
	u->snap = runner_snapshot_path(r, u->diff_id);
	u->tmp = pn_mkdtemp_in(r->snap_dir, ".tmp-", err);
	if (!u->tmp)
		return -1;
	chmod(u->tmp, 0755);
	u->lock = runner_dir_lock(u->tmp); /* prune leaves it alone while we unpack */
	u->root = pn_path_join(u->tmp, "root");
	pn_progress_event("unpack", NULL, "unpacking layer %.19s", u->digest);
	return 0;
}

/* an unpacked tmp dir renamed to its snapshot; false if it did not finish */
static int unpack_publish(struct runner *r, struct unpack_arg *u, struct pn_error **err)
{
	cleanup_free char *mark = pn_path_join(u->tmp, UNPACKED_MARK);

	if (unlink(mark) < 0)
		return pn_error_set(err, PN_ERR_GENERIC, "unpack of `%s` did not finish",
				    u->digest);
	touch_used(u->tmp);
	blob_list(u->tmp, u->digest);
	if (rename(u->tmp, u->snap) == 0) {
		free(u->tmp);
		u->tmp = NULL;
		return 0;
	}
	if (errno != EEXIST && errno != ENOTEMPTY)
		return pn_error_set_errno(err, errno, "store snapshot `%s`", u->snap);
	blob_list(u->snap, u->digest); /* verified by our own unpack */
	(void)r;
	return 0;
}

static int unpack_jobs(void)
{
	const char *e = getenv("PINION_UNPACK_JOBS");
	long n = e && *e ? strtol(e, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

/* unpack the batch (layers in parallel) and publish what finished */
static int unpack_batch_run(struct runner *r, struct unpack_batch *b, struct pn_error **err)
{
	int rc = runner_userns_call(r, unpack_in_userns, b, NULL, NULL, err);

	if (rc < 0 && b->n == 1)
		pn_error_wrap(err, "unpack layer `%s`", b->v[0].digest);
	/* all or nothing: an image with one refused layer leaves no snapshot
	 * behind (the others were fine, but nothing asked for them alone) */
	for (size_t i = 0; i < b->n; i++) {
		if (rc == 0 && unpack_publish(r, &b->v[i], err) < 0)
			rc = -1;
		unpack_arg_release(r, &b->v[i], true);
	}
	return rc;
}

/* have a snapshot for each layer in paths[]: those missing are unpacked
 * once, in parallel (each layer is independent: a snapshot is one layer's
 * tree in overlay form).  Before unpacking a diff_id we hold its lock and
 * look again, so two builds never unpack the same layer twice: the second
 * waits and uses the first's.  The locks are taken in diff_id order (no
 * deadlock between two processes). */
static int snapshots_ensure(struct runner *r, struct oci_layout *l,
			    const struct oci_descriptor *layers, const oci_digest_t *diff_ids,
			    size_t n, char **paths, struct pn_error **err)
{
	struct unpack_batch b = {xcalloc(n ? n : 1, sizeof(*b.v)), 0, unpack_jobs()};
	cleanup_strv struct pn_strv want = PN_STRV_INIT; /* "diff_id\tindex", sorted */
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = snapshot_existing(r, l, layers[i].digest, diff_ids[i], &paths[i], err);
		if (rc == 0 && !oci_digest_valid(diff_ids[i]))
			rc = pn_error_set(err, PN_ERR_INVALID, "bad diff_id `%s`", diff_ids[i]);
		if (rc == 0)
			pn_strv_push_owned(&want, xasprintf("%s\t%zu", diff_ids[i], i));
		rc = rc < 0 ? -1 : 0;
	}
	pn_strv_sort(&want);
	for (size_t k = 0; rc == 0 && k < want.n; k++) {
		size_t i = strtoul(strchr(want.v[k], '\t') + 1, NULL, 10);
		struct unpack_arg *u = &b.v[b.n];

		if (k && strncmp(want.v[k], want.v[k - 1], strcspn(want.v[k], "\t") + 1) == 0)
			continue; /* the same diff_id twice: one unpack */
		*u = (struct unpack_arg){r,	      l,    layers[i].digest,
					 diff_ids[i], NULL, NULL,
					 NULL,	      -1,   unpack_lock(r, diff_ids[i])};
		rc = snapshot_existing(r, l, u->digest, u->diff_id, &paths[i], err);
		if (rc == 0 && unpack_prepare(r, u, err) == 0)
			b.n++;
		else
			unpack_arg_release(r, u, true);
		rc = rc < 0 ? -1 : 0;
	}
	if (rc == 0 && b.n)
		rc = unpack_batch_run(r, &b, err);
	for (size_t i = 0; i < b.n && rc < 0; i++)
		unpack_arg_release(r, &b.v[i], true);
	free(b.v);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!paths[i] &&
		    snapshot_existing(r, l, layers[i].digest, diff_ids[i], &paths[i], err) <= 0)
			rc = pn_error_set(err, PN_ERR_GENERIC, "no snapshot of `%s`", diff_ids[i]);
	return rc;
}

int runner_snapshot_ensure(struct runner *r, struct oci_layout *l,
			   const struct oci_descriptor *layer, const char *diff_id, char **path_out,
			   struct pn_error **err)
{
	oci_digest_t id;

	if (!oci_digest_valid(diff_id))
		return pn_error_set(err, PN_ERR_INVALID, "bad diff_id `%s`", diff_id);
	snprintf(id, sizeof(id), "%s", diff_id);
	*path_out = NULL;
	return snapshots_ensure(r, l, layer, &id, 1, path_out, err);
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
		pn_strv_push_owned(&rm, unpack_lock_path(r, s[i].diff_id));
		removed++;
		bytes += s[i].bytes > 0 ? s[i].bytes : 0;
	}
	runner_snapshots_free(s, n);
	/* leftovers of killed unpacks and sandboxes; live ones hold a lock */
	leftovers(r->snap_dir, ".tmp-", 0, &rm);
	leftovers(r->run_dir, "run-", RUN_DIR_STALE_SECONDS, &rm);
	if (rm.n && runner_rm_paths(r, r->cache_dir, &rm, err) < 0)
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
	size_t n = img->manifest.n_layers;
	char **paths;
	int rc;

	if (n != img->config.n_diff_ids)
		return pn_error_set(err, PN_ERR_INVALID, "image has %zu layers but %zu diff_ids",
				    img->manifest.n_layers, img->config.n_diff_ids);
	paths = xcalloc(n ? n : 1, sizeof(*paths));
	rc = snapshots_ensure(r, l, img->manifest.layers, img->config.diff_ids, n, paths, err);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0) {
			pn_strv_push_owned(&rf->lowers, paths[i]);
			pn_strv_push(&rf->diff_ids, img->config.diff_ids[i]);
		} else
			free(paths[i]);
	}
	free(paths);
	return rc;
}
