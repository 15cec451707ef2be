/* atomic.c - files that appear whole or not at all: written under a
 * temporary name, fsynced, renamed into place, the directory fsynced */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* how many random names are tried before giving up (as mkostemp) */
#define ATOMIC_TMP_TRIES 100

/* six random characters of [A-Za-z0-9] */
static void random_suffix(char out[7])
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[6];

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)getpid() << 20 ^
		    (uint64_t)ts.tv_sec;
		for (size_t i = 0; i < sizeof(r); i++, x >>= 7)
			r[i] = (unsigned char)x;
	}
	for (size_t i = 0; i < sizeof(r); i++)
		out[i] = set[r[i] % (sizeof(set) - 1)];
	out[6] = '\0';
}

int pn_atomic_file_open(struct pn_atomic_file *f, int dirfd, const char *tmp_prefix,
			struct pn_error **err)
{
	char sfx[7];

	f->fd = -1;
	f->dirfd = dirfd;
	f->tmp = NULL;
	for (int i = 0; i < ATOMIC_TMP_TRIES; i++) {
		random_suffix(sfx);
		free(f->tmp);
		f->tmp = xasprintf("%s%s", tmp_prefix, sfx);
		f->fd = openat(dirfd, f->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			       0600);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	pn_error_set_errno(err, errno, "create temporary file `%sXXXXXX`", tmp_prefix);
	free(f->tmp);
	f->tmp = NULL;
	return -1;
}

void pn_atomic_file_abort(struct pn_atomic_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp)
		unlinkat(f->dirfd, f->tmp, 0);
	free(f->tmp);
	f->tmp = NULL;
}

/* fsync the directory that holds name (relative to dirfd) */
static int fsync_parent(int dirfd, const char *name, struct pn_error **err)
{
	const char *slash = strrchr(name, '/');
	cleanup_free char *dir = !slash		 ? xstrdup(".")
				 : slash == name ? xstrdup("/")
						 : xstrndup(name, (size_t)(slash - name));
	cleanup_close int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return pn_error_set_errno(err, errno, "sync directory `%s`", dir);
	return 0;
}

int pn_atomic_file_commit(struct pn_atomic_file *f, const char *name, mode_t mode,
			  struct pn_error **err)
{
	int fd = steal_fd(&f->fd);

	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		pn_error_set_errno(err, errno, "write `%s`", name);
		close(fd);
		pn_atomic_file_abort(f);
		return -1;
	}
	if (close(fd) < 0 || renameat(f->dirfd, f->tmp, f->dirfd, name) < 0) {
		pn_error_set_errno(err, errno, "replace `%s`", name);
		pn_atomic_file_abort(f);
		return -1;
	}
	free(f->tmp);
	f->tmp = NULL;
	return fsync_parent(f->dirfd, name, err);
}

int pn_write_file_atomic_at(int dirfd, const char *name, const char *tmp_prefix, const void *data,
			    size_t len, mode_t mode, struct pn_error **err)
{
	cleanup_free char *prefix = tmp_prefix ? xstrdup(tmp_prefix) : xasprintf("%s.tmp-", name);
	struct pn_atomic_file f;

	if (pn_atomic_file_open(&f, dirfd, prefix, err) < 0)
		return pn_error_wrap(err, "write `%s`", name);
	if (pn_write_all(f.fd, data, len) < 0) {
		pn_error_set_errno(err, errno, "write `%s`", name);
		pn_atomic_file_abort(&f);
		return -1;
	}
	return pn_atomic_file_commit(&f, name, mode, err);
}

int pn_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct pn_error **err)
{
	return pn_write_file_atomic_at(AT_FDCWD, path, NULL, data, len, mode, err);
}
