/* test_common.c - errors, buffers, string vectors, fs helpers */
#include "tests/unit/tap.h"
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void t_error_chain(void)
{
	struct pn_error *err = NULL;

	ok(pn_error_set(&err, PN_ERR_DIGEST, "verify digest: %s", "mismatch") == -1,
	   "set returns -1");
	pn_error_wrap(&err, "pull layer `%s`", "sha256:ab");
	pn_error_wrap(&err, "build");
	is_str(err->msg, "build: pull layer `sha256:ab`: verify digest: mismatch",
	       "wrap prefixes context");
	is_int(err->code, PN_ERR_DIGEST, "code kept through wraps");
	is_int(pn_error_exit_status(err), 1, "digest error exits 1");
	pn_error_set(&err, PN_ERR_INVALID, "bad");
	is_int(pn_error_exit_status(err), 2, "invalid input exits 2");
	pn_error_set(&err, PN_ERR_INTERRUPTED, "interrupted by SIGINT");
	err->errno_val = SIGINT;
	pn_error_wrap(&err, "build");
	is_int(pn_error_exit_status(err), 130, "interrupted by SIGINT exits 128+2, through wraps");
	pn_error_set_errno(&err, ENOENT, "open `%s`", "x");
	is_int(err->code, PN_ERR_NOT_FOUND, "ENOENT maps to not found");
	is_str(err->msg, "open `x`: No such file or directory", "errno text appended");
	pn_error_clear(&err);
	ok(err == NULL, "clear resets");
	ok(pn_error_set(NULL, 1, "dropped") == -1, "NULL err accepted");
	{
		struct pn_error *e = NULL;

		pn_error_set(&e, PN_ERR_AUTH, "denied");
		pn_error_set(&err, PN_ERR_GENERIC, "older");
		ok(pn_error_propagate(&err, e) == -1 && err == e && err->code == PN_ERR_AUTH,
		   "propagate hands the error on, replacing an older one");
		pn_error_clear(&err);
		e = NULL;
		pn_error_set(&e, PN_ERR_AUTH, "dropped");
		ok(pn_error_propagate(NULL, e) == -1, "propagate to NULL frees it");
	}
}

static void t_buf(void)
{
	struct pn_buf b;
	struct pn_error *err = NULL;

	pn_buf_init(&b, 8);
	ok_call(pn_buf_puts(&b, "abcd", &err), &err, "append within max");
	ok_call(pn_buf_printf(&b, &err, "%d", 1234), &err, "printf within max");
	is_str(b.data, "abcd1234", "contents");
	ok_fail(pn_buf_puts(&b, "x", &err), &err, PN_ERR_TOO_LARGE, "limit", "past max refused");
	is_int(b.len, 8, "length unchanged after refusal");
	ok_fail(pn_buf_check(&b, "the text", &err), &err, PN_ERR_TOO_LARGE,
		"the text: more than 8 bytes", "the failure is remembered for one check");
	pn_buf_release(&b);
	pn_buf_init(&b, 8);
	ok_call(pn_buf_puts(&b, "abcdef", &err), &err, "six bytes");
	ok_fail(pn_buf_puts(&b, "xyz", &err), &err, PN_ERR_TOO_LARGE, "limit", "nine refused");
	ok_fail(pn_buf_puts(&b, "x", &err), &err, PN_ERR_TOO_LARGE, "limit",
		"a later append that would fit is refused too: no hole in the middle");
	is_str(b.data, "abcdef", "contents before the failure kept");
	pn_buf_reset(&b);
	ok_call(pn_buf_check(&b, "x", &err), &err, "reset clears the failure");
	ok_call(pn_buf_puts(&b, "x", &err), &err, "and appends work again");
	pn_buf_release(&b);
}

static void t_strv(void)
{
	cleanup_strv struct pn_strv s = PN_STRV_INIT;

	pn_strv_push(&s, "b");
	pn_strv_push(&s, "a");
	pn_strv_push(&s, "c");
	pn_strv_sort(&s);
	is_str(s.v[0], "a", "sorted first");
	is_str(s.v[2], "c", "sorted last");
	ok(s.v[3] == NULL, "NULL terminated");
	ok(pn_strv_contains(&s, "b") && !pn_strv_contains(&s, "d"), "contains");
}

static void t_fs(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *deep = pn_path_join(dir, "a/b/c");
	cleanup_free char *file = pn_path_join(dir, "a/b/c/f.txt");
	cleanup_free char *data = NULL;
	cleanup_free char *sub = pn_path_join(dir, "a");
	size_t len = 0;
	struct pn_error *err = NULL;
	struct stat st;

	ok_call(pn_mkdir_p(deep, 0755, &err), &err, "mkdir -p");
	ok_call(pn_write_file_atomic(file, "hello", 5, 0640, &err), &err, "atomic write");
	ok(stat(file, &st) == 0 && (st.st_mode & 07777) == 0640, "mode applied");
	ok_call(pn_read_file(file, 100, &data, &len, &err), &err, "read back");
	is_str(data, "hello", "content");
	ok_fail(pn_read_file(file, 3, &data, &len, &err), &err, PN_ERR_TOO_LARGE, NULL,
		"read over limit refused");
	{
		int fd = open(file, O_WRONLY | O_CLOEXEC), copy = fd;

		ok(fd >= 0 && pn_close(&fd) == 0 && fd == -1, "pn_close closes and clears");
		ok(fcntl(copy, F_GETFD) < 0 && errno == EBADF, "the fd is gone");
		ok(pn_close(&fd) == 0, "pn_close of -1 does nothing");
	}
	ok_call(pn_rm_rf(sub, &err), &err, "rm -rf tree");
	ok(stat(sub, &st) < 0 && errno == ENOENT, "tree gone");
	ok_call(pn_rm_rf(sub, &err), &err, "rm -rf of absent path is ok");
	ok_fail(pn_read_file(file, 100, &data, &len, &err), &err, PN_ERR_NOT_FOUND, "f.txt",
		"missing file names the path");
}

static int count_entries(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.' || (de->d_name[1] && strcmp(de->d_name, ".."));
	return n;
}

static void t_atomic_file(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *tmpd = pn_path_join(dir, "tmp");
	cleanup_free char *dst = pn_path_join(dir, "dst");
	cleanup_free char *data = NULL;
	cleanup_close int dfd = -1;
	struct pn_atomic_file f;
	struct pn_error *err = NULL;
	struct stat st;

	ok_call(pn_mkdir_p(tmpd, 0755, &err), &err, "mkdir tmp");
	ok_call(pn_mkdir_p(dst, 0755, &err), &err, "mkdir dst");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok_call(pn_write_file_atomic_at(dfd, "dst/one", "tmp/one.", "1", 1, 0644, &err), &err,
		"write through a dirfd, temp in another directory");
	ok_call(pn_read_file_at(dfd, "dst/one", 10, &data, NULL, &err), &err, "read back");
	is_str(data, "1", "content in place");
	is_int(count_entries(tmpd), 0, "no temporary file left");

	ok_call(pn_atomic_file_open(&f, dfd, "tmp/x.", &err), &err, "open a streamed one");
	ok(fcntl(f.fd, F_GETFD) & FD_CLOEXEC, "its fd is CLOEXEC");
	ok(pn_write_all(f.fd, "abc", 3) == 0, "write a piece");
	is_int(count_entries(tmpd), 1, "it exists under its temporary name");
	pn_atomic_file_abort(&f);
	is_int(count_entries(tmpd), 0, "abort removes it");
	pn_atomic_file_abort(&f);
	ok(f.fd == -1 && f.tmp == NULL, "a second abort does nothing");

	ok_call(pn_atomic_file_open(&f, dfd, "tmp/y.", &err), &err, "open another");
	ok(pn_write_all(f.fd, "xyz", 3) == 0, "write it");
	ok_fail(pn_atomic_file_commit(&f, "nodir/y", 0644, &err), &err, PN_ERR_NOT_FOUND,
		"replace `nodir/y`", "commit into a missing directory fails");
	is_int(count_entries(tmpd), 0, "and the temporary file is gone");
	pn_atomic_file_abort(&f);
	ok_call(pn_atomic_file_open(&f, dfd, "tmp/z.", &err), &err, "open a third");
	ok_call(pn_atomic_file_commit(&f, "dst/z", 0600, &err), &err, "commit an empty file");
	ok(fstatat(dfd, "dst/z", &st, 0) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0600,
	   "empty, with its mode");
	ok_fail(pn_write_file_atomic_at(dfd, "dst/w", "gone/w.", "1", 1, 0644, &err), &err,
		PN_ERR_NOT_FOUND, "write `dst/w`", "a missing temporary directory is an error");
}

static void t_time(void)
{
	cleanup_free char *s = pn_rfc3339(0);

	is_str(s, "1970-01-01T00:00:00Z", "rfc3339 epoch");
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	is_int(pn_source_date_epoch(5), 1700000000, "SOURCE_DATE_EPOCH read");
	setenv("SOURCE_DATE_EPOCH", "junk", 1);
	is_int(pn_source_date_epoch(5), 5, "bad SOURCE_DATE_EPOCH falls back");
	unsetenv("SOURCE_DATE_EPOCH");
}

static void t_progress_json(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *path = pn_path_join(dir, "events");
	cleanup_free char *data = NULL;
	struct pn_error *err = NULL;
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	dup2(fd, 2);
	close(fd);
	pn_log_set_progress(PN_PROGRESS_JSON);
	pn_progress_event("step", "\"seconds\":1.5", "step `%s` \"done\"\n", "pip");
	pn_log_set_progress(PN_PROGRESS_QUIET);
	pn_progress_event("step", NULL, "not shown");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	pn_log_set_progress(PN_PROGRESS_AUTO);
	ok_call(pn_read_file(path, 4096, &data, NULL, &err), &err, "read events");
	is_str(data,
	       "{\"event\":\"step\",\"message\":\"step `pip` "
	       "\\\"done\\\"\\u000a\",\"seconds\":1.5}\n",
	       "one escaped JSON line per event; quiet prints nothing");
}

/* stderr of fn() in mode, as text */
static char *stderr_of(enum pn_progress mode, void (*fn)(void))
{
	char *dir = tap_tmpdir();
	cleanup_free char *path = pn_path_join(dir, "stderr");
	char *data = NULL;
	int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	dup2(fd, 2);
	close(fd);
	pn_log_set_progress(mode);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	pn_log_set_progress(PN_PROGRESS_AUTO);
	pn_read_file(path, 1 << 16, &data, NULL, NULL);
	return data;
}

static void say_things(void)
{
	struct pn_error *e = NULL;

	pn_warn("disk `%s` low", "a");
	pn_notice("registry unreachable");
	pn_info("note");
	pn_progress_output("run 1", "line one", 8);
	pn_progress_output("run 1", "\xff\xc3\xa9\xc3", 4);
	pn_error_set(&e, PN_ERR_INVALID, "bad `x`");
	pn_error_hint(&e, "try y");
	pn_error_print(e);
	pn_error_free(e);
}

/* in json mode every message is an event; the error carries hint and status */
static void t_progress_messages(void)
{
	cleanup_free char *json = stderr_of(PN_PROGRESS_JSON, say_things);
	cleanup_free char *plain = stderr_of(PN_PROGRESS_PLAIN, say_things);
	cleanup_free char *quiet = stderr_of(PN_PROGRESS_QUIET, say_things);

	is_str(json,
	       "{\"event\":\"warning\",\"message\":\"disk `a` low\"}\n"
	       "{\"event\":\"warning\",\"message\":\"registry unreachable\"}\n"
	       "{\"event\":\"info\",\"message\":\"note\"}\n"
	       "{\"event\":\"output\",\"message\":\"line one\",\"step\":\"run 1\"}\n"
	       "{\"event\":\"output\",\"message\":\"\\ufffd\xc3\xa9\\ufffd\",\"step\":\"run 1\"}\n"
	       "{\"event\":\"error\",\"message\":\"bad `x`\",\"hint\":\"try y\",\"status\":2}\n",
	       "json: warnings, info, output and the error are events; not UTF-8 is U+FFFD");
	is_str(plain,
	       "pinion: warning: disk `a` low\npinion: warning: registry unreachable\nnote\n"
	       "run 1 | line one\nrun 1 | \xff\xc3\xa9\xc3\npinion: bad `x`\nhint: try y\n",
	       "plain: lines as before");
	is_str(quiet, "pinion: warning: disk `a` low\npinion: bad `x`\nhint: try y\n",
	       "quiet: the warning and the error, not the notice");
}

/* a line of step output as one terminal line */
static void t_screen_fit(void)
{
	char out[64];

	pn_screen_fit(out, sizeof(out), "abcdef", 6, 4);
	is_str(out, "abcd", "cut at the width");
	pn_screen_fit(out, sizeof(out), "50%\r100% done\r\n", 15, 40);
	is_str(out, "100% done", "what follows the last carriage return");
	pn_screen_fit(out, sizeof(out), "a\033[31mb\tc", 9, 40);
	is_str(out, "a [31mb c", "control characters (escapes) become spaces");
	pn_screen_fit(out, sizeof(out), "\xc3\xa9t\xc3\xa9", 6, 2);
	is_str(out, "\xc3\xa9t", "width counts characters, not bytes");
	pn_screen_fit(out, 4, "a\xc3\xa9\xc3\xa9", 5, 40);
	is_str(out, "a\xc3\xa9", "never half a character when out of room");
}

static void t_progress_bar(void)
{
	char line[256];

	pn_progress_bar_format(line, sizeof(line), "pulling", 512 << 10, 1 << 20, 12.34, 80);
	is_str(line,
	       "pulling [####################                    ]  50% 0.5/1.0 MiB 12.3 MiB/s",
	       "half way, with the rate");
	pn_progress_bar_format(line, sizeof(line), "pushing", 3 << 20, 3 << 20, -1, 30);
	is_str(line, "pushing [##########] 100% 3.0/3.0 MiB", "narrow: at least 10 cells, no rate");
	pn_progress_bar_format(line, sizeof(line), "x", 7 << 20, 0, 1.0, 60);
	ok(strstr(line, "[      ") && strstr(line, " 7.0 MiB 1.0 MiB/s"),
	   "unknown total: empty bar, bytes");
}

static void t_parse_long(void)
{
	long v = 0;

	ok(pn_parse_long("5000", 1, 65535, &v) == 0 && v == 5000, "a number in range");
	ok(pn_parse_long("80abc", 1, 65535, &v) < 0, "trailing junk refused");
	ok(pn_parse_long("", 1, 65535, &v) < 0 && pn_parse_long(NULL, 1, 2, &v) < 0,
	   "empty refused");
	ok(pn_parse_long("0", 1, 65535, &v) < 0 && pn_parse_long("65536", 1, 65535, &v) < 0,
	   "out of range refused");
	ok(pn_parse_long("99999999999999999999", 0, 10, &v) < 0, "overflow refused");
}

static int count_open_fds(void)
{
	cleanup_dir DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

static void t_spawn_capture(void)
{
	char *echo[] = {(char *)"sh", (char *)"-c", (char *)"printf 'a b\\n'; exit 3", NULL};
	char *cat[] = {(char *)"cat", NULL};
	char *tru[] = {(char *)"true", NULL};
	struct pn_spawn sp = {.argv = echo, .err_fd = -1, .path_search = true};
	struct pn_error *err = NULL;
	char *out = NULL;
	size_t len = 0, big = (size_t)1 << 20;
	int st = -1, fds = count_open_fds();
	cleanup_free char *data = xmalloc(big);

	ok_call(pn_spawn_capture(&sp, &out, &len, &st, &err), &err, "spawn sh");
	is_str(out, "a b\n", "stdout captured");
	is_int(len, 4, "length");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 3, "exit status handed back");
	free(out);
	out = NULL;

	sp.argv = cat;
	sp.in = "from stdin";
	sp.in_len = strlen(sp.in);
	ok_call(pn_spawn_capture(&sp, &out, &len, &st, &err), &err, "spawn cat");
	is_str(out, "from stdin", "stdin handed over");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cat exits 0");
	free(out);
	out = NULL;

	/* more than a pipe holds, both ways: stdin is written while stdout is read */
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 26);
	sp.in = data;
	sp.in_len = big;
	ok_call(pn_spawn_capture(&sp, &out, &len, &st, &err), &err, "cat 1 MiB");
	ok(len == big && out && memcmp(out, data, big) == 0, "1 MiB through and back");
	free(out);
	out = NULL;
	sp.max_out = 1000;
	ok_fail(pn_spawn_capture(&sp, &out, &len, &st, &err), &err, PN_ERR_TOO_LARGE,
		"more than 1000 bytes", "output over max_out is an error");
	ok(out == NULL, "no output handed back on failure");
	sp.max_out = 0;

	/* a child that reads none of it: the write meets EPIPE, no SIGPIPE here */
	sp.argv = tru;
	ok_call(pn_spawn_capture(&sp, NULL, NULL, &st, &err), &err,
		"child ignoring stdin: no SIGPIPE reaches the caller");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "true exits 0");
	is_int(count_open_fds(), fds, "no fd left open");
}

/* pid has exited (gone, or a zombie waiting for init), within 5 s */
static bool process_gone(int pid)
{
	for (int i = 0; i < 500; i++) {
		cleanup_free char *p = xasprintf("/proc/%d/stat", pid);
		cleanup_free char *stat = NULL;
		char *rp;

		if (pn_read_file(p, 4096, &stat, NULL, NULL) < 0)
			return true;
		rp = strrchr(stat, ')');
		if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
			return true;
		usleep(10000);
	}
	return false;
}

static void t_spawn_fail(void)
{
	char *missing[] = {(char *)"pinion-no-such-program-xyz", NULL};
	char *bare_sh[] = {(char *)"sh", (char *)"-c", (char *)"true", NULL};
	char *sleeper[] = {(char *)"sh", (char *)"-c",
			   (char *)"sleep 30 & echo $! >\"$0\"; sleep 30; echo late", NULL, NULL};
	char *env[] = {(char *)"SPAWN_T=seen", NULL};
	char *show[] = {(char *)"/bin/sh", (char *)"-c", (char *)"echo \"$SPAWN_T\"; echo err >&2",
			NULL};
	struct pn_spawn sp = {.argv = missing, .err_fd = -1, .path_search = true};
	struct pn_error *err = NULL;
	char *out = NULL, *dir = tap_tmpdir();
	cleanup_free char *path = pn_path_join(dir, "stderr");
	cleanup_free char *bgpid = pn_path_join(dir, "bgpid");
	cleanup_free char *text = NULL;
	int st = 0, rc, fd, fds = count_open_fds();
	struct timespec t0, t1;

	ok_fail(pn_spawn_capture(&sp, &out, NULL, &st, &err), &err, PN_ERR_NOT_FOUND,
		"pinion-no-such-program-xyz", "a missing program is an error, not a status");
	sp.argv = bare_sh;
	sp.path_search = false;
	ok_fail(pn_spawn_capture(&sp, &out, NULL, &st, &err), &err, PN_ERR_NOT_FOUND, "`sh`",
		"without path_search a bare name is not looked up");

	sleeper[3] = bgpid;
	sp.argv = sleeper;
	sp.path_search = true;
	sp.timeout_ms = 200;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pn_spawn_capture(&sp, &out, NULL, &st, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(rc < 0 && err && err->errno_val == ETIMEDOUT && strstr(err->msg, "killed"),
	   "timeout kills the child");
	pn_error_clear(&err);
	ok(t1.tv_sec - t0.tv_sec < 10, "the timeout ends the wait");
	ok(out == NULL, "no output after a timeout");
	ok_call(pn_read_file(bgpid, 100, &text, NULL, &err), &err, "read the background pid");
	ok(text && process_gone(atoi(text)), "the child's group is killed with it");
	free(text);
	text = NULL;

	/* execv with a path, a given environment, stderr to a file */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	sp = (struct pn_spawn){.argv = show, .envp = env, .err_fd = fd};
	ok_call(pn_spawn_capture(&sp, &out, NULL, &st, &err), &err, "spawn /bin/sh");
	is_str(out, "seen\n", "envp given to the child");
	free(out);
	close(fd);
	ok_call(pn_read_file(path, 100, &text, NULL, &err), &err, "read stderr");
	is_str(text, "err\n", "err_fd became the child's stderr");
	is_int(count_open_fds(), fds, "no fd left open");
}

/* no HOME: TMPDIR/pinion-cache-UID is taken only when it is this user's
 * and nobody else can write it; here it is world-writable (planted), so the
 * process gets a private one of its own, the same on every call */
static void t_cache_dir_no_home(void)
{
	char *tmp = tap_tmpdir();
	cleanup_free char *planted = xasprintf("%s/pinion-cache-%u", tmp, (unsigned)geteuid());
	cleanup_free char *prefix = xasprintf("%s-", planted);
	cleanup_free char *a = NULL, *b = NULL, *env = NULL;
	struct stat st;

	setenv("PINION_CACHE_DIR", "/from/env", 1);
	env = pn_cache_dir();
	is_str(env, "/from/env", "PINION_CACHE_DIR first");
	unsetenv("PINION_CACHE_DIR");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	setenv("TMPDIR", tmp, 1);
	ok(mkdir(planted, 0777) == 0 && chmod(planted, 0777) == 0, "a world-writable dir planted");
	a = pn_cache_dir();
	b = pn_cache_dir();
	ok(a && strncmp(a, prefix, strlen(prefix)) == 0, "not the planted dir: %s",
	   a ? a : "(null)");
	is_str(b, a, "the same dir for the whole process");
	ok(lstat(a, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 &&
		   st.st_uid == geteuid(),
	   "a private dir of this user");
}

int main(void)
{
	TEST(t_error_chain);
	TEST(t_buf);
	TEST(t_strv);
	TEST(t_fs);
	TEST(t_atomic_file);
	TEST(t_time);
	TEST(t_progress_json);
	TEST(t_progress_bar);
	TEST(t_progress_messages);
	TEST(t_screen_fit);
	TEST(t_parse_long);
	TEST(t_spawn_capture);
	TEST(t_spawn_fail);
	TEST(t_cache_dir_no_home);
	return tap_done();
}
