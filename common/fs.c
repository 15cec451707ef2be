/* fs.c - file helpers: whole-file read, atomic write, mkdir -p, rm -rf,
 * opening a path beneath a directory */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* limits of pn_path_open_beneath (the kernel's own: MAXSYMLINKS, PATH_MAX) */
#define BENEATH_MAX_LINKS 40
#define BENEATH_MAX_DEPTH 256
#define BENEATH_MAX_PATH  4096

void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

void cleanup_fclosep(FILE **f)
{
	if (*f) {
		fclose(*f);
		*f = NULL;
	}
}

void cleanup_closedirp(DIR **d)
{
	if (*d) {
		closedir(*d);
		*d = NULL;
	}
}

int pn_close(int *fd)
{
	int r = *fd >= 0 ? close(*fd) : 0;

	*fd = -1;
	return r < 0 && errno != EINTR ? -1 : 0;
}

int pn_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t pn_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int pn_read_file_at(int at_fd, const char *path, size_t max, char **out, size_t *len_out,
		    struct pn_error **err)
{
	cleanup_close int fd = openat(at_fd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", path);
	return pn_read_fd(fd, path, max, out, len_out, err);
}

int pn_read_fd(int fd, const char *path, size_t max, char **out, size_t *len_out,
	       struct pn_error **err)
{
	struct pn_buf b = PN_BUF_INIT;
	char chunk[65536];

	pn_buf_init(&b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pn_buf_release(&b);
			return pn_error_set_errno(err, errno, "read `%s`", path);
		}
		if (n == 0)
			break;
		if (pn_buf_append(&b, chunk, (size_t)n, err) < 0) {
			pn_buf_release(&b);
			return pn_error_wrap(err, "read `%s`", path);
		}
	}
	*out = pn_buf_steal(&b, len_out);
	return 0;
}

int pn_read_file(const char *path, size_t max, char **out, size_t *len_out, struct pn_error **err)
{
	return pn_read_file_at(AT_FDCWD, path, max, out, len_out, err);
}

int pn_fsync_dir(const char *dir)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	return fsync(fd);
}

int pn_mkdir_p(const char *path, mode_t mode, struct pn_error **err)
{
	cleanup_free char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return pn_error_set_errno(err, errno, "create directory `%s`", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return pn_error_set_errno(err, errno, "create directory `%s`", p);
	return 0;
}

int pn_rm_rf_at(int parent_fd, const char *name, struct pn_error **err)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *de;

	if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return pn_error_set_errno(err, errno, "stat `%s`", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
			return pn_error_set_errno(err, errno, "remove `%s`", name);
		return 0;
	}
	fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES) {
		/* a directory we own but cannot read: make it readable first */
		fchmodat(parent_fd, name, 0700, 0);
		fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return pn_error_set_errno(err, errno, "open `%s`", name);
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (pn_rm_rf_at(dirfd(d), de->d_name, err) < 0) {
			closedir(d);
			return pn_error_wrap(err, "remove `%s`", name);
		}
	}
	closedir(d);
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return pn_error_set_errno(err, errno, "remove directory `%s`", name);
	return 0;
}

int pn_rm_rf(const char *path, struct pn_error **err)
{
	return pn_rm_rf_at(AT_FDCWD, path, err);
}

char *pn_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (*b == '/')
		b++;
	if (la && a[la - 1] == '/')
		return xasprintf("%s%s", a, b);
	return xasprintf("%s/%s", a, b);
}

char *pn_mkdtemp_in(const char *parent, const char *prefix, struct pn_error **err)
{
	char *t = xasprintf("%s/%sXXXXXX", parent, prefix);

	if (!mkdtemp(t)) {
		pn_error_set_errno(err, errno, "create temporary directory in `%s`", parent);
		free(t);
		return NULL;
	}
	return t;
}

/* Without HOME: a cache of this user's own in $TMPDIR (else /tmp), never a
 * directory another user made there (whoever owns or can write the cache can
 * poison later builds): TMP/pinion-cache-UID, made 0700 if absent and taken
 * only if it is this user's directory, writable by nobody else.  Otherwise a
 * new private one for this process (pinion-cache-UID-XXXXXX; nothing is
 * reused), with a warning.  Chosen once per process. */
static pthread_once_t tmp_cache_once = PTHREAD_ONCE_INIT;
static char *tmp_cache;

static void tmp_cache_choose(void)
{
	const char *t = getenv("TMPDIR");
	unsigned uid = (unsigned)geteuid();
	char *p, *fresh;
	struct stat st;

	if (!t || *t != '/')
		t = "/tmp";
	p = xasprintf("%s/pinion-cache-%u", t, uid);
	(void)mkdir(p, 0700);
	if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid && !(st.st_mode & 022)) {
		tmp_cache = p;
		return;
	}
	fresh = xasprintf("%s-XXXXXX", p);
	if (mkdtemp(fresh)) {
		pn_warn("`%s` is not a directory of this user that only it can write; "
			"this run uses a cache of its own, `%s` (set PINION_CACHE_DIR or HOME)",
			p, fresh);
		free(p);
		tmp_cache = fresh;
		return;
	}
	pn_warn("cannot make a private cache directory in `%s`: %s (set PINION_CACHE_DIR or HOME)",
		t, strerror(errno));
	free(fresh);
	tmp_cache = p; /* its checks fail later with the path in the message */
}

char *pn_cache_dir(void)
{
	const char *e = getenv("PINION_CACHE_DIR");

	if (e && *e)
		return xstrdup(e);
	e = getenv("XDG_CACHE_HOME");
	if (e && *e)
		return xasprintf("%s/pinion", e);
	e = getenv("HOME");
	if (e && *e)
		return xasprintf("%s/.cache/pinion", e);
	pthread_once(&tmp_cache_once, tmp_cache_choose);
	return xstrdup(tmp_cache);
}

int64_t pn_source_date_epoch(int64_t fallback)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;

	if (!e || !*e)
		return fallback;
	errno = 0;
	v = strtoll(e, &end, 10);
	if (errno || *end || v < 0)
		return fallback;
	return (int64_t)v;
}

char *pn_rfc3339(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[64];

	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(s);
}

/* ------------------------------------------------- pn_path_open_beneath */
static int beneath_no_openat2 = -1;

void pn_path_force_walk(bool on)
{
	beneath_no_openat2 = on;
}

static bool beneath_use_openat2(void)
{
	if (beneath_no_openat2 < 0) {
		const char *e = getenv("PINION_NO_OPENAT2");

		beneath_no_openat2 = e && *e == '1';
	}
	return !beneath_no_openat2;
}

/* rel is relative and its `..` never climb above its start (lexically) */
static bool beneath_lexical_ok(const char *rel)
{
	size_t depth = 0;

	if (rel[0] == '/')
		return false;
	while (*rel) {
		size_t n = strcspn(rel, "/");

		if (n == 2 && rel[0] == '.' && rel[1] == '.') {
			if (!depth)
				return false;
			depth--;
		} else if (n && !(n == 1 && rel[0] == '.')) {
			depth++;
		}
		rel += n;
		rel += *rel == '/';
	}
	return true;
}

/* -1 + errno; ENOSYS when openat2 is not there (or filtered) */
static int beneath_openat2(int dirfd, const char *rel, int flags)
{
	struct open_how how = {0};
	int fd, tries = 0;

	how.flags = (uint64_t)(flags | O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY));
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	if (flags & O_NOFOLLOW) /* no symlink at all, not only the last */
		how.resolve |= RESOLVE_NO_SYMLINKS;
	do /* EAGAIN: a concurrent rename, the kernel asks to retry */
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < 8);
	if (fd < 0 && (errno == ENOSYS || errno == EPERM) && !tries) {
		errno = ENOSYS;
		return -1;
	}
	return fd;
}

/* The same resolution by hand, one component at a time from dirfd: `..`
 * pops a stack of directory fds (never past dirfd), a symlink is read and
 * its (relative) target spliced in before the rest (or refused, ELOOP, with
 * O_NOFOLLOW in flags); nothing is followed by
 * the kernel (O_NOFOLLOW everywhere), so a swap under our feet fails
 * instead of leading out. */
struct beneath_walk {
	int fds[BENEATH_MAX_DEPTH + 1]; /* fds[depth]: the directory reached */
	size_t depth, links;
	char *todo; /* the path still to walk (owned), p in it */
	char *p;
	int flags;
};

/* the walk ends: with *e (0 or an errno) */
static int walk_end(int *e, int errnum)
{
	*e = errnum;
	return 1;
}

/* the walk ends with name opened in the current directory */
static int walk_open(struct beneath_walk *w, const char *name, int extra, int *fd, int *e)
{
	*fd = openat(w->fds[w->depth], name, w->flags | extra | O_CLOEXEC | O_NOCTTY);
	return walk_end(e, errno);
}

/* splice the target of the symlink name in before the rest: 0, or an errno */
static int walk_splice_link(struct beneath_walk *w, const char *name, bool slash)
{
	char target[BENEATH_MAX_PATH], *rest;
	ssize_t tl = readlinkat(w->fds[w->depth], name, target, sizeof(target) - 1);

	if (tl < 0 || ++w->links > BENEATH_MAX_LINKS || (tl > 0 && target[0] == '/'))
		return tl < 0 ? errno : w->links > BENEATH_MAX_LINKS ? ELOOP : EXDEV;
	target[tl] = '\0';
	rest = xasprintf("%s%s%s", target, *w->p || slash ? "/" : "", w->p);
	free(w->todo);
	w->todo = w->p = rest;
	return strlen(w->todo) >= BENEATH_MAX_PATH ? ENAMETOOLONG : 0;
}

/* a named component (not `.` or `..`): 0 to go on, 1 when the walk ends */
static int walk_component(struct beneath_walk *w, const char *name, bool last, bool slash, int *fd,
			  int *e)
{
	struct stat st;
	int next;

	if (fstatat(w->fds[w->depth], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return walk_end(e, errno);
	if (S_ISLNK(st.st_mode)) {
		/* ELOOP under O_NOFOLLOW, as RESOLVE_NO_SYMLINKS */
		*e = w->flags & O_NOFOLLOW ? ELOOP : walk_splice_link(w, name, slash);
		return *e != 0;
	}
	if (last)
		return walk_open(w, name, O_NOFOLLOW | (slash ? O_DIRECTORY : 0), fd, e);
	if (w->depth == BENEATH_MAX_DEPTH)
		return walk_end(e, ENAMETOOLONG);
	next = openat(w->fds[w->depth], name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (next < 0)
		return walk_end(e, errno);
	w->fds[++w->depth] = next;
	return 0;
}

/* the next component: 0 to go on, 1 when the walk ends (*fd, *e) */
static int walk_step(struct beneath_walk *w, int *fd, int *e)
{
	size_t n;
	char *name;
	bool last, slash;

	while (*w->p == '/')
		w->p++;
	n = strcspn(w->p, "/");
	last = !w->p[n] || !w->p[n + strspn(w->p + n, "/")];
	slash = w->p[n] == '/'; /* a trailing slash: only a directory will do */
	name = w->p;
	w->p += n;
	if (*w->p)
		*w->p++ = '\0';
	if (!*name && last) /* "" or a trailing "/": dirfd itself */
		return walk_open(w, ".", 0, fd, e);
	if (!*name || strcmp(name, ".") == 0)
		return 0;
	if (strcmp(name, "..") == 0) {
		if (!w->depth)
			return walk_end(e, EXDEV);
		close(w->fds[w->depth--]);
		return last ? walk_open(w, ".", 0, fd, e) : 0;
	}
	return walk_component(w, name, last, slash, fd, e);
}

/* -1 + errno (EXDEV: leaves dirfd) */
static int beneath_walk(int dirfd, const char *rel, int flags)
{
	struct beneath_walk w = {.flags = flags};
	int fd = -1, e = 0;

	w.fds[0] = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (w.fds[0] < 0)
		return -1;
	w.todo = w.p = xstrdup(rel);
	while (!walk_step(&w, &fd, &e))
		;
	for (;;) {
		close(w.fds[w.depth]);
		if (!w.depth--)
			break;
	}
	free(w.todo);
	errno = e;
	return fd;
}

/* PN_ERR_INVALID with errno_val e (EXDEV: leads outside) */
__attribute__((format(printf, 3, 4))) static int beneath_refuse(struct pn_error **err, int e,
								const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pn_error_set(err, PN_ERR_INVALID, "%s", msg);
	free(msg);
	if (err && *err)
		(*err)->errno_val = e;
	return -1;
}

int pn_path_open_beneath(int dirfd, const char *rel, int flags, struct pn_error **err)
{
	int fd = -1;

	if (!*rel || strlen(rel) >= BENEATH_MAX_PATH)
		return beneath_refuse(err, ENAMETOOLONG, "`%.200s`: not a usable path", rel);
	if (!beneath_lexical_ok(rel))
		return beneath_refuse(err, EXDEV, "`%s` leads outside the directory", rel);
	if (beneath_use_openat2()) {
		fd = beneath_openat2(dirfd, rel, flags);
		if (fd < 0 && errno == ENOSYS)
			beneath_no_openat2 = 1;
	}
	if (!beneath_use_openat2())
		fd = beneath_walk(dirfd, rel, flags);
	if (fd >= 0)
		return fd;
	if (errno == EXDEV)
		return beneath_refuse(err, EXDEV, "`%s` leads outside the directory", rel);
	if (errno == ELOOP)
		return beneath_refuse(err, ELOOP, "`%s`: too many levels of symbolic links", rel);
	return pn_error_set_errno(err, errno, "open `%s`", rel);
}

int pn_read_each(int fd, int64_t size, size_t chunk, const char *label,
		 int (*fn)(void *ud, const char *buf, size_t len, struct pn_error **err), void *ud,
		 struct pn_error **err)
{
	cleanup_free char *buf = xmalloc(chunk);

	for (int64_t left = size; left > 0;) {
		size_t want = left < (int64_t)chunk ? (size_t)left : chunk;
		ssize_t n = pn_read_all(fd, buf, want);

		if (n < 0)
			return pn_error_set_errno(err, errno, "read `%s`", label);
		if ((size_t)n < want)
			return pn_error_set(err, PN_ERR_GENERIC, "`%s` shrank while read", label);
		if (fn(ud, buf, want, err) < 0)
			return -1;
		left -= (int64_t)want;
	}
	return 0;
}
