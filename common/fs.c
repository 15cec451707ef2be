/* fs.c - file helpers: whole-file read, atomic write, mkdir -p, rm -rf */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
	struct pn_buf b = PN_BUF_INIT;
	char chunk[65536];

	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", path);
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

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

int pn_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct pn_error **err)
{
	cleanup_free char *dir = dir_of(path);
	cleanup_free char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);

	if (fd < 0)
		return pn_error_set_errno(err, errno, "create temporary file for `%s`", path);
	if (pn_write_all(fd, data, len) < 0 || fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		int e = errno;

		close(fd);
		unlink(tmp);
		return pn_error_set_errno(err, e, "write `%s`", path);
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return pn_error_set_errno(err, e, "replace `%s`", path);
	}
	if (pn_fsync_dir(dir) < 0)
		return pn_error_set_errno(err, errno, "sync directory `%s`", dir);
	return 0;
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
	return xstrdup("/tmp/pinion-cache");
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
