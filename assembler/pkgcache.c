/* pkgcache.c - package caches shared across builds (pkgcache.h) */
#include "assembler/pkgcache.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OS_RELEASE_MAX	((size_t)64 << 10) /* bytes of os-release read */
#define KEY_PART_MAX	32		   /* characters of each part of a key */
#define PRUNE_FILES_MAX 1000000		   /* files looked at by one prune */
#define PIP_NO_CACHE	"pip install --no-cache-dir "

/* the apt options of a step with the cache: archives in the mount (Debian's
 * docker-clean removes /var/cache/apt/archives/ *.deb after each install, so
 * the cache cannot be there) and downloaded packages kept; apt's binary
 * caches (pkgcache.bin, srcpkgcache.bin: ~80 MB for Debian's lists) in the
 * mount too, as with Cog's cache mount of all of /var/cache/apt, so that no
 * layer has them (Dir::Cache moves them; a base whose docker-clean turns
 * them off, Dir::Cache::pkgcache "", keeps them off) */
static const char apt_options[] = "Dir::Cache \"" PKGCACHE_APT_TARGET "/\";\n"
				  "Dir::Cache::archives \"" PKGCACHE_APT_TARGET "/\";\n"
				  "APT::Keep-Downloaded-Packages \"true\";\n"
				  "Binary::apt::APT::Keep-Downloaded-Packages \"true\";\n";

void pkgcache_init(struct pkgcache *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->apt_lock = -1;
}

void pkgcache_release(struct pkgcache *pc)
{
	free(pc->key);
	free(pc->dir);
	free(pc->src[0]);
	free(pc->src[1]);
	free(pc->apt_conf);
	if (pc->apt_lock >= 0)
		close(pc->apt_lock);
	pkgcache_init(pc);
}

/* ------------------------------------------------------------------- pure */

/* the value of NAME= in an os-release text (quotes removed), or NULL */
static char *os_release_value(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t len = strcspn(l, "\n");

		if (len > n && strncmp(l, name, n) == 0 && l[n] == '=') {
			const char *v = l + n + 1;
			size_t vl = len - n - 1;

			if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
				v++, vl -= 2;
			return vl ? xstrndup(v, vl) : NULL;
		}
	}
	return NULL;
}

static void key_part(struct pn_buf *b, const char *s)
{
	size_t n = 0;

	if (!s || !*s)
		s = "unknown";
	for (; *s && n < KEY_PART_MAX; s++, n++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*s);

		char o = (isalnum(c) || c == '.' || c == '_') && c < 0x80 ? (char)c : '_';

		pn_buf_append(b, &o, 1, NULL);
	}
}

char *pkgcache_key(const char *os_release, const char *arch)
{
	cleanup_free char *id = os_release ? os_release_value(os_release, "ID") : NULL;
	cleanup_free char *ver = os_release ? os_release_value(os_release, "VERSION_ID") : NULL;
	struct pn_buf b = PN_BUF_INIT;

	if (!ver && os_release)
		ver = os_release_value(os_release, "VERSION_CODENAME");
	key_part(&b, id);
	pn_buf_puts(&b, "-", NULL);
	key_part(&b, ver);
	pn_buf_puts(&b, "-", NULL);
	key_part(&b, arch);
	return pn_buf_steal(&b, NULL);
}

char *pkgcache_shell(const char *shell)
{
	struct pn_buf b = PN_BUF_INIT;
	const char *p;

	while ((p = strstr(shell, PIP_NO_CACHE))) {
		pn_buf_append(&b, shell, (size_t)(p - shell), NULL);
		pn_buf_puts(&b, "pip install ", NULL);
		shell = p + strlen(PIP_NO_CACHE);
	}
	pn_buf_puts(&b, shell, NULL);
	return pn_buf_steal(&b, NULL);
}

bool pkgcache_uses_apt(const char *shell)
{
	return shell &&
	       (strstr(shell, "apt-get") || strstr(shell, "apt ") || strstr(shell, "aptitude"));
}

/* ------------------------------------------------------------- the rootfs */

/* rel in the topmost lower that has it, opened with flags, or -1.  A lower
 * is the base image's (hostile) content: rel is opened below the lower and
 * no component of it may be a symlink (pn_path_open_beneath, O_NOFOLLOW), so
 * `usr -> /` in a layer never makes pinion read the host's files. */
static int lower_open(const struct pn_strv *lowers, const char *rel, int flags)
{
	for (size_t i = lowers->n; i > 0; i--) {
		cleanup_close int dfd = open(lowers->v[i - 1], O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct pn_error *e = NULL;
		int fd;

		if (dfd < 0)
			continue;
		fd = pn_path_open_beneath(dfd, rel, flags | O_NOFOLLOW, &e);
		if (fd >= 0)
			return fd;
		if (e->code != PN_ERR_NOT_FOUND) {
			pn_error_free(e); /* there but a link, or not what flags want */
			return -1;
		}
		pn_error_free(e);
	}
	return -1;
}

/* the text of the rootfs's os-release (etc/os-release, often a link to
 * ../usr/lib/os-release, else usr/lib/os-release), or NULL */
static char *rootfs_os_release(const struct pn_strv *lowers)
{
	const char *rels[] = {"etc/os-release", "usr/lib/os-release"};

	for (size_t i = 0; i < 2; i++) {
		cleanup_close int fd = lower_open(lowers, rels[i], O_RDONLY | O_NONBLOCK);
		struct stat st;
		char *text = NULL;
		size_t len;

		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue; /* a link: the usr/lib one is what it names */
		if (pn_read_fd(fd, rels[i], OS_RELEASE_MAX, &text, &len, NULL) == 0)
			return text;
		free(text);
	}
	return NULL;
}

/* -------------------------------------------------------------- a step */

static void mount_add(struct pkgcache *pc, char *src, const char *target)
{
	pc->src[pc->n_mounts] = src;
	pc->mounts[pc->n_mounts].source = src;
	pc->mounts[pc->n_mounts].target = target;
	pc->n_mounts++;
}

/* the shared apt dir if its lock is free, else a private one in tmpdir */
static int apt_open(struct pkgcache *pc, const char *tmpdir, struct pn_error **err)
{
	cleanup_free char *lock = pn_path_join(pc->dir, "apt.lock");
	cleanup_free char *shared = pn_path_join(pc->dir, "apt/partial");
	char *dir;

	pc->apt_lock = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pc->apt_lock < 0)
		return pn_error_set_errno(err, errno, "open `%s`", lock);
	if (flock(pc->apt_lock, LOCK_EX | LOCK_NB) == 0) {
		if (pn_mkdir_p(shared, 0755, err) < 0)
			return -1;
		pc->apt_shared = true;
		dir = pn_path_join(pc->dir, "apt");
	} else {
		close(pc->apt_lock);
		pc->apt_lock = -1;
		pn_debug("package cache `%s`: apt's is in use by another build, "
			 "this step downloads its own",
			 pc->key);
		dir = pn_mkdtemp_in(tmpdir, "apt-", err);
		if (!dir)
			return -1;
		free(shared);
		shared = pn_path_join(dir, "partial");
		if (mkdir(shared, 0755) < 0) {
			free(dir);
			return pn_error_set_errno(err, errno, "create `%s`", shared);
		}
	}
	mount_add(pc, dir, PKGCACHE_APT_TARGET);
	pc->apt_conf = pn_path_join(tmpdir, "apt-package-cache.conf");
	return pn_write_file_atomic(pc->apt_conf, apt_options, strlen(apt_options), 0644, err);
}

int pkgcache_step_open(struct pkgcache *pc, const char *cache_dir, const char *tmpdir,
		       const struct pn_strv *lowers, const char *arch, const char *shell,
		       struct pn_error **err)
{
	cleanup_free char *osr = rootfs_os_release(lowers);
	cleanup_free char *base = cache_dir ? xstrdup(cache_dir) : pn_cache_dir();
	cleanup_free char *top = pn_path_join(base, PKGCACHE_DIR);
	char *pip;
	cleanup_close int aptconf = lower_open(lowers, "etc/apt/apt.conf.d", O_PATH | O_DIRECTORY);

	pc->key = pkgcache_key(osr, arch);
	pc->dir = pn_path_join(top, pc->key);
	pip = pn_path_join(pc->dir, "pip");
	if (pn_mkdir_p(pip, 0755, err) < 0) {
		free(pip);
		return pn_error_wrap(err, "package cache");
	}
	mount_add(pc, pip, PKGCACHE_PIP_TARGET);
	if (aptconf >= 0 && pkgcache_uses_apt(shell) && apt_open(pc, tmpdir, err) < 0)
		return pn_error_wrap(err, "package cache");
	return 0;
}

/* ------------------------------------------------------------------ prune */

struct prune_file {
	char *path;
	int64_t bytes;
	int64_t used; /* the later of atime and mtime */
};
struct prune_list {
	struct prune_file *v;
	size_t n, cap;
	int64_t total;
};
static struct prune_list *prune_walk_list; /* nftw has no context argument */

static int prune_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	struct prune_list *l = prune_walk_list;

	(void)f;
	if (flag != FTW_F || !S_ISREG(st->st_mode) || strcmp(p + strlen(p) - 9, "/apt.lock") == 0)
		return 0;
	if (l->n == PRUNE_FILES_MAX)
		return 1;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = xrealloc(l->v, st_mult(l->cap, sizeof(*l->v)));
	}
	l->v[l->n].path = xstrdup(p);
	l->v[l->n].bytes = (int64_t)st->st_blocks * 512;
	l->v[l->n].used = st->st_atime > st->st_mtime ? st->st_atime : st->st_mtime;
	l->total += l->v[l->n].bytes;
	l->n++;
	return 0;
}

static int by_use(const void *a, const void *b)
{
	const struct prune_file *x = a, *y = b;

	return (x->used > y->used) - (x->used < y->used);
}

/* the files of each key dir: pip's always, apt's when its lock is free
 * (held in locks until the prune ends) */
static void prune_collect(const char *top, struct prune_list *l, struct pn_strv *keys, int *locks,
			  size_t max_locks, size_t *n_locks)
{
	cleanup_dir DIR *d = opendir(top);
	struct dirent *de;

	prune_walk_list = l;
	while (d && (de = readdir(d))) {
		cleanup_free char *dir = NULL;
		cleanup_free char *pip = NULL;
		cleanup_free char *apt = NULL;
		cleanup_free char *lock = NULL;
		int fd;

		/* every key dir, also one a hostile os-release starts with `.` */
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || *n_locks == max_locks)
			continue;
		dir = pn_path_join(top, de->d_name);
		pip = pn_path_join(dir, "pip");
		apt = pn_path_join(dir, "apt");
		lock = pn_path_join(dir, "apt.lock");
		nftw(pip, prune_cb, 16, FTW_PHYS | FTW_MOUNT);
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			locks[(*n_locks)++] = fd;
			nftw(apt, prune_cb, 16, FTW_PHYS | FTW_MOUNT);
			pn_strv_push(keys, dir);
		} else if (fd >= 0) {
			close(fd);
		}
	}
	prune_walk_list = NULL;
}

/* unlink top/rel where no directory on the way is a symlink: a build that
 * runs during the prune may turn one of the cache's directories into a link
 * to the user's files between the walk and the unlink */
static int unlink_beneath(const char *top, const char *path)
{
	size_t n = strlen(top);
	const char *rel = path + n + 1, *slash = strrchr(path, '/');
	cleanup_close int tfd = -1, dfd = -1;
	cleanup_free char *dir = NULL;

	if (strncmp(path, top, n) != 0 || path[n] != '/' || !slash || slash < rel) {
		errno = EINVAL;
		return -1;
	}
	dir = xstrndup(rel, (size_t)(slash - rel));
	tfd = open(top, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tfd >= 0)
		dfd = pn_path_open_beneath(tfd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW, NULL);
	if (dfd < 0) {
		errno = ELOOP;
		return -1;
	}
	return unlinkat(dfd, slash + 1, 0);
}

/* remove the oldest files until total <= max; what unlink cannot goes to rm */
static void prune_files(const char *top, struct prune_list *l, int64_t max, struct pn_strv *rm,
			struct pkgcache_prune_stats *st)
{
	if (l->n) /* qsort(NULL, 0, ..) is undefined */
		qsort(l->v, l->n, sizeof(*l->v), by_use);
	for (size_t i = 0; i < l->n && l->total > max; i++) {
		if (unlink_beneath(top, l->v[i].path) < 0) {
			if (errno != EACCES && errno != EPERM)
				continue;
			pn_strv_push(rm, l->v[i].path);
		}
		l->total -= l->v[i].bytes;
		st->files++;
		st->bytes += l->v[i].bytes;
	}
	st->left = l->total;
}

/* the apt dir and what is in the pip dir (a running pip may hold it) */
static void prune_dirs(const char *key_dir, struct pn_strv *rm)
{
	cleanup_free char *apt = pn_path_join(key_dir, "apt");
	cleanup_free char *pip = pn_path_join(key_dir, "pip");
	cleanup_dir DIR *d = opendir(pip);
	struct dirent *de;

	if (pn_rm_rf(apt, NULL) < 0)
		pn_strv_push(rm, apt);
	while (d && (de = readdir(d))) {
		cleanup_free char *p = NULL;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = pn_path_join(pip, de->d_name);
		if (pn_rm_rf(p, NULL) < 0)
			pn_strv_push(rm, p);
	}
}

#define PRUNE_LOCKS_MAX 256 /* key dirs (distributions) pruned in one run */

int pkgcache_prune(const char *cache_dir, int64_t max_bytes, struct runner *r,
		   struct pkgcache_prune_stats *st_out, struct pn_error **err)
{
	cleanup_free char *base = cache_dir ? xstrdup(cache_dir) : pn_cache_dir();
	cleanup_free char *top = pn_path_join(base, PKGCACHE_DIR);
	cleanup_strv struct pn_strv keys = PN_STRV_INIT;
	cleanup_strv struct pn_strv rm = PN_STRV_INIT;
	struct prune_list l = {0};
	struct pkgcache_prune_stats st = {0};
	int locks[PRUNE_LOCKS_MAX];
	size_t n_locks = 0;
	int rc = 0;

	prune_collect(top, &l, &keys, locks, PRUNE_LOCKS_MAX, &n_locks);
	prune_files(top, &l, max_bytes, &rm, &st);
	/* everything: apt's partial/ (its _apt user's) and the emptied dirs too */
	for (size_t i = 0; max_bytes == 0 && i < keys.n; i++)
		prune_dirs(keys.v[i], &rm);
	if (rm.n && r)
		rc = runner_rm_paths(r, top, &rm, err);
	else if (rm.n)
		pn_warn("package cache: %zu files belong to another user and stay", rm.n);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].path);
	free(l.v);
	for (size_t i = 0; i < n_locks; i++)
		close(locks[i]);
	if (st_out)
		*st_out = st;
	return rc < 0 ? pn_error_wrap(err, "prune the package cache") : 0;
}
