/* common.h - the one public face of common/: errors, allocation, buffers,
 * cleanup helpers, logging/progress, filesystem helpers and the command
 * registry. Every other module includes this and nothing else from common/. */
#ifndef PN_COMMON_H
#define PN_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/types.h>

#define PN_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors
 * Fallible functions return < 0 (or NULL) and fill *err, passed last.
 * Success never touches *err.  The failure site calls pn_error_set*(); each
 * caller that passes the error up may add one phrase of context with
 * pn_error_wrap(), which prefixes "context: " to the message. */
enum pn_error_code {
	PN_ERR_GENERIC = 1,
	PN_ERR_NOT_FOUND,
	PN_ERR_AUTH,
	PN_ERR_DIGEST, /* digest mismatch / corrupt content */
	PN_ERR_UNSUPPORTED,
	PN_ERR_TOO_LARGE,   /* a named limit was hit */
	PN_ERR_INVALID,	    /* bad input from the user or from outside: exit 2 */
	PN_ERR_NETWORK,	    /* unreachable / transient that ran out of retries */
	PN_ERR_INTERRUPTED, /* stopped by a signal, errno_val holds it: exit 128+N */
};

struct pn_error {
	int code;      /* enum pn_error_code */
	int errno_val; /* errno at the failure site, or 0 */
	char *msg;     /* owned, full chain "outer: inner: cause" */
	char *hint;    /* optional: a suggestion printed on its own line */
};

/* All of these accept err == NULL (the error is then dropped).  If *err is
 * already set, pn_error_set* replaces it (the newest failure wins). */
__attribute__((format(printf, 3, 4))) int pn_error_set(struct pn_error **err, int code,
						       const char *fmt, ...);
/* appends ": strerror(errnum)" */
__attribute__((format(printf, 3, 4))) int pn_error_set_errno(struct pn_error **err, int errnum,
							     const char *fmt, ...);
/* prefix "context: " to an existing error; returns -1 for `return pn_error_wrap(...)` */
__attribute__((format(printf, 2, 3))) int pn_error_wrap(struct pn_error **err, const char *fmt,
							...);
__attribute__((format(printf, 2, 3))) void pn_error_hint(struct pn_error **err, const char *fmt,
							 ...);
/* hand e (an error caught in a local variable, e.g. to look at its code
 * first) on to the caller's err, replacing what is there; with err NULL it is
 * freed.  Returns -1. */
int pn_error_propagate(struct pn_error **err, struct pn_error *e);
void pn_error_free(struct pn_error *e);
void pn_error_clear(struct pn_error **err);
/* exit status for an error: 2 for PN_ERR_INVALID, 128+N for
 * PN_ERR_INTERRUPTED by signal N, otherwise 1 */
int pn_error_exit_status(const struct pn_error *e);
/* print "pinion: <msg>" (+ "hint: ...") to stderr; in json progress mode the
 * event {"event":"error","message":...,"hint":...,"status":<exit status>}
 * (defined in log.c) */
void pn_error_print(const struct pn_error *e);

#define PN_BUG(...) pn_bug(__FILE__, __LINE__, __VA_ARGS__)
__attribute__((noreturn, format(printf, 3, 4))) void pn_bug(const char *file, int line,
							    const char *fmt, ...);

/* ------------------------------------------------------------ allocation
 * Allocation failure aborts.  Sizes from input go through the checked ops. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);
__attribute__((format(printf, 1, 0))) char *xvasprintf(const char *fmt, va_list ap);
size_t st_add(size_t a, size_t b);  /* aborts on overflow */
size_t st_mult(size_t a, size_t b); /* aborts on overflow */

/* ------------------------------------------------------------- buffers
 * A growable byte buffer with a hard maximum (0 = PN_BUF_DEFAULT_MAX).
 * data is always NUL-terminated.  Appends past max fail with PN_ERR_TOO_LARGE
 * and leave the buffer as it was; after one such failure every later append
 * fails too (until a reset), so a text is never missing a piece in its
 * middle, and a run of appends can be checked once, with pn_buf_check, where
 * the data is used. */
#define PN_BUF_DEFAULT_MAX ((size_t)1 << 30)
struct pn_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	bool failed; /* an append hit max */
};
#define PN_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0, 0, false                                                               \
	}
void pn_buf_init(struct pn_buf *b, size_t max);
void pn_buf_release(struct pn_buf *b);
void pn_buf_reset(struct pn_buf *b);
int pn_buf_append(struct pn_buf *b, const void *data, size_t len, struct pn_error **err);
int pn_buf_puts(struct pn_buf *b, const char *s, struct pn_error **err);
__attribute__((format(printf, 3, 4))) int pn_buf_printf(struct pn_buf *b, struct pn_error **err,
							const char *fmt, ...);
/* 0, or -1 with PN_ERR_TOO_LARGE "<what>: more than N bytes" after an append failed */
int pn_buf_check(const struct pn_buf *b, const char *what, struct pn_error **err);
/* for a buffer whose appends stay far below its maximum by limits the caller
 * already enforces (short names, a bounded list): reaching it is a bug */
#define PN_BUF_ASSERT(b)                                                                           \
	do {                                                                                       \
		if ((b)->failed)                                                                   \
			PN_BUG("buffer `%s` over its limit", #b);                                  \
	} while (0)
/* hand the data on; the buffer is left empty */
char *pn_buf_steal(struct pn_buf *b, size_t *len_out);

/* A NULL-terminated growable array of owned strings. */
struct pn_strv {
	char **v;
	size_t n;
	size_t cap;
};
#define PN_STRV_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void pn_strv_push(struct pn_strv *s, const char *str); /* copies */
void pn_strv_push_owned(struct pn_strv *s, char *str); /* takes */
void pn_strv_release(struct pn_strv *s);
bool pn_strv_contains(const struct pn_strv *s, const char *str);
void pn_strv_sort(struct pn_strv *s);

/* -------------------------------------------------------------- cleanup */
static inline void *steal_pointer_(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_pointer(pp) ((__typeof__(*(pp)))steal_pointer_(pp))
static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
void cleanup_fclosep(FILE **f);
void cleanup_closedirp(DIR **d);
void cleanup_errorp(struct pn_error **e);
void cleanup_bufp(struct pn_buf *b);
void cleanup_strvp(struct pn_strv *s);
#define cleanup_free   __attribute__((cleanup(cleanup_freep)))
#define cleanup_close  __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_dir    __attribute__((cleanup(cleanup_closedirp)))
#define cleanup_error  __attribute__((cleanup(cleanup_errorp)))
#define cleanup_buf    __attribute__((cleanup(cleanup_bufp)))
#define cleanup_strv   __attribute__((cleanup(cleanup_strvp)))
/* Library-handle cleanups live in common/cleanup.h (jansson, libarchive,
 * libcurl, libyaml, OpenSSL) so that only users of those include it. */

/* ------------------------------------------------------------- logging
 * Progress modes as in `cog build --progress`.  Logging goes to stderr. */
enum pn_progress {
	PN_PROGRESS_AUTO = 0, /* tty if stderr is a tty, else plain */
	PN_PROGRESS_TTY,
	PN_PROGRESS_PLAIN,
	PN_PROGRESS_QUIET,
	PN_PROGRESS_JSON,
};
void pn_log_set_progress(enum pn_progress p);
enum pn_progress pn_log_progress(void); /* resolved: never AUTO */
int pn_log_parse_progress(const char *s, enum pn_progress *out);
void pn_log_set_verbose(int level);
int pn_log_verbose(void);
/* Messages.  In json mode every one is an event line {"event":E,"message":M}
 * (E: info, warning, debug), so stderr holds JSON only; in tty mode they are
 * written above the live view (pn_progress_step_begin). */
/* a line of what is going on; not in quiet mode */
__attribute__((format(printf, 1, 2))) void pn_info(const char *fmt, ...);
/* "pinion: warning: ..." in every mode */
__attribute__((format(printf, 1, 2))) void pn_warn(const char *fmt, ...);
/* a warning quiet mode leaves out: a fallback taken by itself (an
 * unreachable registry for an optional check) */
__attribute__((format(printf, 1, 2))) void pn_notice(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void pn_debug(const char *fmt, ...);
/* an error the command ends with: "pinion: msg" and "hint: hint" (hint may
 * be NULL), or in json mode {"event":"error",...,"status":status}, the last
 * event of a failed command */
void pn_log_error(const char *msg, const char *hint, int status);
/* one progress event: in json mode one line {"event":..., fields...}; in other
 * modes a human line "<event>: <text>".  fields_json may be NULL or a JSON
 * object body without braces, e.g. "\"step\":\"pip\",\"seconds\":1.2". */
void pn_progress_event(const char *event, const char *fields_json, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A running step on a terminal (tty mode; a no-op in the others): the title
 * stays on the last lines with its elapsed time, over the step's last few
 * output lines (pn_progress_output), until pn_progress_step_end clears it;
 * the caller then prints the step's one final line.  Messages meanwhile go
 * above it.  A ticker thread redraws it; it takes no signals, and fork()
 * waits for a redraw in progress. */
void pn_progress_step_begin(const char *title);
/* the step's seconds, or -1 when no step was shown */
double pn_progress_step_end(void);
/* a line of a step's output (n bytes, no newline): "step | line" (plain;
 * tty when no step is shown), the running step's tail (tty), an "output"
 * event with "step" (json), nothing (quiet) */
void pn_progress_output(const char *step, const char *s, size_t n);

/* A progress bar for long transfers on a terminal (--progress tty): redrawn
 * in place on stderr, at most every 200 ms unless done == total; any other
 * message first clears it.  Other modes use pn_progress_event instead, so
 * callers check pn_log_progress() == PN_PROGRESS_TTY.  total <= 0: unknown;
 * mib_per_s < 0: no rate shown. */
void pn_progress_bar(const char *label, int64_t done, int64_t total, double mib_per_s);
/* the bar's text for a terminal `width` columns wide (pure; for tests) */
void pn_progress_bar_format(char *out, size_t size, const char *label, int64_t done, int64_t total,
			    double mib_per_s, int width);

/* ----------------------------------------------------------- filesystem */
/* read a whole file (at most max bytes, else PN_ERR_TOO_LARGE) */
int pn_read_file(const char *path, size_t max, char **out, size_t *len_out, struct pn_error **err);
int pn_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len_out,
		    struct pn_error **err);
/* read fd to its end the same way; path is its name in messages */
int pn_read_fd(int fd, const char *path, size_t max, char **out, size_t *len_out,
	       struct pn_error **err);
/* Open rel below the directory dirfd, for a path taken from outside input (a
 * file a config names): rel must be relative and must not leave dirfd, not by
 * `..` (refused when it climbs above the start, even where the path does not
 * exist) and not by a symlink (one whose target stays below dirfd is
 * followed; an absolute target is refused): openat2 RESOLVE_BENEATH, or the
 * same walk by hand where openat2 is missing (PINION_NO_OPENAT2=1 forces it).
 * flags as for open (O_CLOEXEC and O_NOCTTY are added; pass O_NONBLOCK to not
 * hang on a FIFO).  O_NOFOLLOW in flags: no component at all may be a
 * symlink (RESOLVE_NO_SYMLINKS), for a path a walk found without following
 * any.  Returns the fd, or -1: PN_ERR_INVALID when rel leads outside
 * (errno_val EXDEV), loops or meets a symlink under O_NOFOLLOW (ELOOP) or is
 * empty or too long (ENAMETOOLONG); PN_ERR_NOT_FOUND when it does not exist;
 * else errno's. */
int pn_path_open_beneath(int dirfd, const char *rel, int flags, struct pn_error **err);
/* tests: use the by-hand walk of pn_path_open_beneath even with openat2 */
void pn_path_force_walk(bool on);
/* Atomic files: the data appears under its name whole or not at all, even
 * across a crash.  It is written to a temporary file (O_CLOEXEC, 0600 until
 * the commit), which the commit fchmods, fsyncs, closes (checked), renames
 * over the name and whose directory it then fsyncs.  Names are relative to
 * dirfd (AT_FDCWD for plain paths); the temporary file must be on the same
 * filesystem as the name. */
struct pn_atomic_file {
	int fd;	   /* write the data here (O_RDWR) */
	int dirfd; /* not owned */
	char *tmp; /* the temporary name, relative to dirfd */
};
/* create "<tmp_prefix>XXXXXX" (its directory must exist) */
int pn_atomic_file_open(struct pn_atomic_file *f, int dirfd, const char *tmp_prefix,
			struct pn_error **err);
/* put it in place as name with mode; on failure the temporary file is
 * removed.  Either way f is released (an abort after it does nothing). */
int pn_atomic_file_commit(struct pn_atomic_file *f, const char *name, mode_t mode,
			  struct pn_error **err);
/* close and remove the temporary file; safe on a committed or aborted f */
void pn_atomic_file_abort(struct pn_atomic_file *f);
/* write data to name in one go; tmp_prefix NULL = "<name>.tmp-" beside it */
int pn_write_file_atomic_at(int dirfd, const char *name, const char *tmp_prefix, const void *data,
			    size_t len, mode_t mode, struct pn_error **err);
int pn_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			 struct pn_error **err);
int pn_write_all(int fd, const void *data, size_t len); /* -1 + errno */
ssize_t pn_read_all(int fd, void *buf, size_t len);	/* short only at EOF */
/* read exactly size bytes of fd, from where it stands, in pieces of at most
 * chunk bytes, handing each to fn; -1 with *err when a read fails, fd ends
 * first ("`label` shrank while read") or fn fails (fn sets *err) */
int pn_read_each(int fd, int64_t size, size_t chunk, const char *label,
		 int (*fn)(void *ud, const char *buf, size_t len, struct pn_error **err), void *ud,
		 struct pn_error **err);
/* close a file that was written, for the error close() can carry (write-back
 * on NFS, quota): 0, or -1 with errno.  *fd becomes -1 either way (Linux
 * closes it even on EINTR, so there is no retry); -1 in *fd is a no-op. */
int pn_close(int *fd);
int pn_mkdir_p(const char *path, mode_t mode, struct pn_error **err);
/* remove a tree; does not follow symlinks; ok if absent */
int pn_rm_rf(const char *path, struct pn_error **err);
int pn_rm_rf_at(int dirfd, const char *name, struct pn_error **err);
int pn_fsync_dir(const char *dir);
char *pn_path_join(const char *a, const char *b);
/* make a fresh directory "<parent>/<prefix>XXXXXX" */
char *pn_mkdtemp_in(const char *parent, const char *prefix, struct pn_error **err);
/* $XDG_CACHE_HOME/pinion or ~/.cache/pinion, overridable by PINION_CACHE_DIR;
 * without HOME, $TMPDIR/pinion-cache-UID if it is this user's own (fs.c) */
char *pn_cache_dir(void);
/* the current time, or SOURCE_DATE_EPOCH when set; RFC 3339 UTC text */
char *pn_rfc3339(int64_t t);
int64_t pn_source_date_epoch(int64_t fallback);

/* ------------------------------------------------------------ processes
 * Run a program, hand it stdin data and capture its stdout.  The child runs
 * in its own process group with an empty signal mask and SIGPIPE at its
 * default; on a timeout or too much output it is killed with its group and
 * reaped.  Every pipe end is CLOEXEC (nothing leaks into other children), the
 * stdin write cannot raise SIGPIPE in the caller, and EINTR is retried. */
struct pn_spawn {
	char *const *argv; /* argv[0] is the program; NULL-terminated */
	char *const *envp; /* NULL = environ */
	const char *in;	   /* stdin data; NULL = /dev/null */
	size_t in_len;
	int err_fd;	  /* -1 = /dev/null, else becomes the child's stderr (set it:
			   * 0 would hand it the caller's stdin) */
	size_t max_out;	  /* stdout beyond this is an error (0 = PN_BUF_DEFAULT_MAX) */
	int timeout_ms;	  /* 0 = none; the child is killed on expiry */
	bool path_search; /* look argv[0] up in PATH (execvp) rather than execv */
};
/* 0 when the child ran and was reaped: *wstatus is its wait status (exit code
 * or signal: the caller judges it), *out its stdout, NUL-terminated and owned
 * by the caller (out may be NULL: the output is dropped; out_len may be
 * NULL).  -1 with *err: the program could not be started (PN_ERR_NOT_FOUND
 * when it does not exist), it outlived timeout_ms (PN_ERR_GENERIC, errno_val
 * ETIMEDOUT), it wrote more than max_out (PN_ERR_TOO_LARGE), or a pipe/poll/
 * wait failed.  On failure the partial output is zeroed (it may be a secret)
 * and freed. */
int pn_spawn_capture(const struct pn_spawn *sp, char **out, size_t *out_len, int *wstatus,
		     struct pn_error **err);

/* -------------------------------------------------------------- commands
 * Commands register themselves with PN_COMMAND() in any module's CLI file;
 * main() finds them through the linker section, so there is no central table.
 * A command returns the process exit status (0, 1, 2). */
struct pn_command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
};
#define PN_COMMAND(id_, name_, summary_, fn_)                                                      \
	static const struct pn_command pn_cmd_##id_ __attribute__((                                \
		used, section("pn_commands"), aligned(sizeof(void *)))) = {name_, summary_, fn_}
const struct pn_command *pn_command_find(const char *name);
/* calls fn(cmd, data) for each command, sorted by name */
void pn_command_each(void (*fn)(const struct pn_command *, void *), void *data);

/* Common CLI helpers.  pn_cli_fail prints the error and returns its status. */
int pn_cli_fail(struct pn_error *e);
__attribute__((format(printf, 2, 3))) int pn_cli_usage(const char *cmd, const char *fmt,
						       ...); /* prints, returns 2 */
bool pn_cli_wants_help(int argc, char **argv);
/* a whole decimal number in [min, max]: 0, or -1 for anything else */
int pn_parse_long(const char *s, long min, long max, long *out);

#endif
