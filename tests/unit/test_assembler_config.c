/* test_assembler_config.c - cog.yaml: the tests/fixtures/cogyaml case table
 * (each case a cog.yaml + the exact expected config or problem lines), -f
 * semantics, the run.cog.config JSON; cog.yaml as hostile input (paths it
 * names stay in the model directory: pn_path_open_beneath; the parser's
 * limits, encodings and documents).
 * PINION_FIXTURES_UPDATE=1 rewrites the expected files (review the diff!). */
#include "tests/unit/tap.h"
#include "assembler/cogconfig.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CASES_DIR "tests/fixtures/cogyaml"

/* "ok" + the config text, or "error" + the problem lines */
static char *case_output(const char *dir)
{
	struct cog_config cfg;
	struct pn_error *err = NULL;
	struct pn_buf out = PN_BUF_INIT;
	int here = open(".", O_RDONLY | O_DIRECTORY);
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (here < 0 || chdir(dir) < 0) {
		if (here >= 0)
			close(here);
		return xstrdup("chdir failed\n");
	}
	if (pn_read_file("cog.yaml", COG_CONFIG_MAX_SIZE, &text, &len, &err) < 0) {
		pn_buf_printf(&out, NULL, "read failed: %s\n", err->msg);
	} else {
		cleanup_strv struct pn_strv problems = PN_STRV_INIT;
		size_t i;

		if (cog_config_parse(text, len, "cog.yaml", ".", &cfg, &problems, &err) == 0) {
			char *t = cog_config_to_text(&cfg);

			pn_buf_printf(&out, NULL, "ok\n%s", t);
			free(t);
			/* a parse-only case: pinion build refuses it (no predict) */
			if (cog_config_check_entry(&cfg, &err) < 0) {
				pn_buf_printf(&out, NULL, "build refuses: %s\n", err->msg);
				pn_error_clear(&err);
			}
			cog_config_release(&cfg);
		} else {
			pn_buf_printf(&out, NULL, "error (code %d)\n", err->code);
			for (i = 0; i < problems.n; i++)
				pn_buf_printf(&out, NULL, "%s\n", problems.v[i]);
			if (!problems.n)
				pn_buf_printf(&out, NULL, "%s\n", err->msg);
		}
	}
	pn_error_clear(&err);
	if (fchdir(here) < 0)
		PN_BUG("fchdir back");
	close(here);
	return pn_buf_steal(&out, NULL);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void t_case_table(void)
{
	cleanup_dir DIR *d = opendir(CASES_DIR);
	cleanup_strv struct pn_strv names = PN_STRV_INIT;
	struct dirent *de;
	bool update = getenv("PINION_FIXTURES_UPDATE") != NULL;
	size_t i, valid = 0, invalid = 0;

	ok(d != NULL, "case table %s exists", CASES_DIR);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			pn_strv_push(&names, de->d_name);
	qsort(names.v, names.n, sizeof(char *), name_cmp);
	ok(names.n >= 40, "at least 40 cases (%zu)", names.n);
	for (i = 0; i < names.n; i++) {
		cleanup_free char *dir = xasprintf("%s/%s", CASES_DIR, names.v[i]);
		cleanup_free char *exp_path = xasprintf("%s/expected", dir);
		cleanup_free char *got = case_output(dir);
		cleanup_free char *want = NULL;
		struct pn_error *err = NULL;

		if (update)
			pn_write_file_atomic(exp_path, got, strlen(got), 0644, &err);
		if (pn_read_file(exp_path, 1 << 20, &want, NULL, &err) < 0) {
			ok(0, "%s: expected file: %s", names.v[i], err->msg);
			pn_error_clear(&err);
			continue;
		}
		is_str(got, want, "case %s", names.v[i]);
		if (strncmp(want, "ok\n", 3) == 0)
			valid++;
		else
			invalid++;
	}
	ok(valid >= 15 && invalid >= 15, "both valid (%zu) and invalid (%zu) cases", valid,
	   invalid);
}

static void t_load_relative(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *sub = pn_path_join(dir, "model/deps");
	cleanup_free char *req = pn_path_join(dir, "model/deps/req.txt");
	cleanup_free char *yml = pn_path_join(dir, "model/cog.yaml");
	const char *y = "build:\n  python_version: \"3.12\"\n  python_requirements: deps/req.txt\n";
	struct cog_config cfg;
	struct pn_error *err = NULL;

	pn_mkdir_p(sub, 0755, &err);
	pn_write_file_atomic(req, "requests==2.31.0\n", 17, 0644, &err);
	pn_write_file_atomic(yml, y, strlen(y), 0644, &err);
	ok_call(cog_config_load(yml, &cfg, &err), &err,
		"-f FILE: requirements found next to the file");
	is_str(cfg.build.python_requirements_path, req,
	       "path resolved against the config's directory");
	is_str(cfg.requirements, "requests==2.31.0\n", "requirements text read");
	cog_config_release(&cfg);
	ok_fail(cog_config_load("/nonexistent/cog.yaml", &cfg, &err), &err, PN_ERR_NOT_FOUND,
		"cog.yaml", "missing config: not found, names the file");
	cog_config_release(&cfg);
}

static void t_json(void)
{
	const char *y = "build:\n  gpu: true\n  python_version: \"3.11\"\n  python_packages:\n"
			"    - torch==2.1.0\n  run:\n    - command: echo\n      mounts:\n"
			"        - {type: secret, id: a}\npredict: \"predict.py:Predictor\"\n";
	struct cog_config cfg;
	struct pn_error *err = NULL;
	cleanup_free char *json = NULL;

	ok_call(cog_config_parse(y, strlen(y), "cog.yaml", ".", &cfg, NULL, &err), &err, "parse");
	json = cog_config_to_json(&cfg);
	is_str(json,
	       "{\"build\":{\"gpu\":true,\"python_version\":\"3.11\",\"python_packages\":[\"torch=="
	       "2.1.0\"],"
	       "\"run\":[{\"command\":\"echo\",\"mounts\":[{\"type\":\"secret\",\"id\":\"a\","
	       "\"target\":\"/run/secrets/a\"}]}],"
	       "\"cuda\":\"12.1\",\"cudnn\":\"8\"},\"predict\":\"predict.py:Predictor\"}",
	       "run.cog.config JSON carries the completed cuda/cudnn");
	cog_config_release(&cfg);
	free(json);
	y = "build:\n  sdk_version: \"0.18.0\"\nmodel: r8.im/a/b\n";
	ok_call(cog_config_parse(y, strlen(y), "cog.yaml", ".", &cfg, NULL, &err), &err,
		"parse model and sdk_version");
	json = cog_config_to_json(&cfg);
	is_str(json,
	       "{\"build\":{\"gpu\":false,\"python_version\":\"3.13\",\"sdk_version\":\"0.18.0\"},"
	       "\"model\":\"r8.im/a/b\"}",
	       "model and build.sdk_version are kept in the config JSON");
	cog_config_release(&cfg);
}

static void t_error_message(void)
{
	const char *one = "build:\n  python_version: \"3.9\"\n";
	const char *two = "build:\n  python_version: \"3.9\"\n  gpu: 3\n";
	struct cog_config cfg;
	struct pn_error *err = NULL;

	ok(cog_config_parse(one, strlen(one), "cog.yaml", ".", &cfg, NULL, &err) < 0,
	   "one problem fails");
	is_str(err ? err->msg : NULL,
	       "cog.yaml:2:19: build.python_version: \"3.9\" is below the minimum 3.10",
	       "one problem: the message is the line");
	is_int(err ? pn_error_exit_status(err) : 0, 2, "exit status 2");
	pn_error_clear(&err);
	ok(cog_config_parse(two, strlen(two), "cog.yaml", ".", &cfg, NULL, &err) < 0,
	   "two problems fail");
	is_str(err ? err->msg : NULL,
	       "2 problems in `cog.yaml`:\n"
	       "cog.yaml:2:19: build.python_version: \"3.9\" is below the minimum 3.10\n"
	       "cog.yaml:3:8: build.gpu: expected true or false, got \"3\"",
	       "all problems reported at once, in file order");
	pn_error_clear(&err);
}

/* ------------------------------------------------ hostile model directory */
#define CANARY "CANARY-d41d8cd9-host-secret"
#define LIT(s) s, sizeof(s) - 1 /* a literal and its length (it may hold a NUL) */

static void write_file(const char *dir, const char *rel, const char *text)
{
	cleanup_free char *p = pn_path_join(dir, rel);
	struct pn_error *err = NULL;

	if (pn_write_file_atomic(p, text, strlen(text), 0644, &err) < 0) {
		tap_diag("write %s: %s", p, err->msg);
		pn_error_free(err);
	}
}

static void make_link(const char *dir, const char *rel, const char *target)
{
	cleanup_free char *p = pn_path_join(dir, rel);

	if (symlink(target, p) < 0)
		tap_diag("symlink %s: %s", p, strerror(errno));
}

/* a model dir "m" with files and symlinks in and out, next to "out" (the
 * host's secret); returns the tmp dir */
static char *hostile_tree(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *sub = pn_path_join(dir, "m/sub");
	cleanup_free char *out = pn_path_join(dir, "out");
	cleanup_free char *abs_in = pn_path_join(dir, "m/sub/req.txt");
	cleanup_free char *fifo = pn_path_join(dir, "m/fifo");
	struct pn_error *err = NULL;

	pn_mkdir_p(sub, 0755, &err);
	pn_mkdir_p(out, 0755, &err);
	pn_error_clear(&err);
	write_file(dir, "out/secret.txt", CANARY "\n");
	write_file(dir, "m/sub/req.txt", "requests==2.31.0\n");
	make_link(dir, "m/in", "sub/req.txt");
	make_link(dir, "m/subdir", "sub");
	make_link(dir, "m/out-rel", "../out/secret.txt");
	make_link(dir, "m/out-dir", "../out");
	make_link(dir, "m/out-abs", "/etc/passwd");
	make_link(dir, "m/in-abs", abs_in); /* absolute, even pointing inside: refused */
	make_link(dir, "m/sub/up", "../in");
	make_link(dir, "m/sub/up2", "../../out/secret.txt");
	make_link(dir, "m/loop1", "loop2");
	make_link(dir, "m/loop2", "loop1");
	if (mkfifo(fifo, 0644) < 0)
		tap_diag("mkfifo: %s", strerror(errno));
	return dir;
}

struct beneath_case {
	const char *rel;
	int code;  /* 0: opens, else the pn_error code */
	int errnv; /* errno_val for PN_ERR_INVALID */
};

static const struct beneath_case beneath_cases[] = {
	{"sub/req.txt", 0, 0},
	{"./sub//req.txt", 0, 0},
	{"in", 0, 0},
	{"subdir/req.txt", 0, 0},
	{"sub/up", 0, 0},
	{"sub/../in", 0, 0},
	{"sub/../sub/up", 0, 0},
	{"../out/secret.txt", PN_ERR_INVALID, EXDEV},
	{"sub/../../out/secret.txt", PN_ERR_INVALID, EXDEV},
	{"nope/../../out/secret.txt", PN_ERR_INVALID, EXDEV}, /* lexical, missing parent */
	{"/etc/passwd", PN_ERR_INVALID, EXDEV},
	{"out-rel", PN_ERR_INVALID, EXDEV},
	{"out-dir/secret.txt", PN_ERR_INVALID, EXDEV},
	{"out-abs", PN_ERR_INVALID, EXDEV},
	{"in-abs", PN_ERR_INVALID, EXDEV},
	{"sub/up2", PN_ERR_INVALID, EXDEV},
	{"loop1", PN_ERR_INVALID, ELOOP},
	{"", PN_ERR_INVALID, ENAMETOOLONG},
	{"missing.txt", PN_ERR_NOT_FOUND, 0},
	{"sub/req.txt/", PN_ERR_GENERIC, 0}, /* ENOTDIR */
};

static const struct beneath_case nofollow_cases[] = {
	{"sub/req.txt", 0, 0},
	{"./sub//req.txt", 0, 0},
	{"in", PN_ERR_INVALID, ELOOP},
	{"subdir/req.txt", PN_ERR_INVALID, ELOOP},
	{"sub/up", PN_ERR_INVALID, ELOOP},
	{"out-rel", PN_ERR_INVALID, ELOOP},
	{"out-dir/secret.txt", PN_ERR_INVALID, ELOOP},
	{"out-abs", PN_ERR_INVALID, ELOOP},
	{"../out/secret.txt", PN_ERR_INVALID, EXDEV},
};

static void t_open_beneath(void)
{
	char *dir = hostile_tree();
	cleanup_free char *m = pn_path_join(dir, "m");
	cleanup_close int mfd = open(m, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i;
	int walk;

	for (walk = 0; walk < 2; walk++) {
		pn_path_force_walk(walk);
		for (i = 0; i < sizeof(beneath_cases) / sizeof(beneath_cases[0]); i++) {
			const struct beneath_case *bc = &beneath_cases[i];
			struct pn_error *err = NULL;
			int fd = pn_path_open_beneath(mfd, bc->rel, O_RDONLY | O_NONBLOCK, &err);
			char buf[64] = "";

			if (fd >= 0) {
				ssize_t n = pn_read_all(fd, buf, sizeof(buf) - 1);

				buf[n > 0 ? n : 0] = '\0';
				close(fd);
			}
			if (!bc->code)
				is_str(buf, "requests==2.31.0\n", "%s: `%s` opens the file inside",
				       walk ? "walk" : "openat2", bc->rel);
			else
				ok(fd < 0 && err && err->code == bc->code &&
					   (bc->code != PN_ERR_INVALID ||
					    err->errno_val == bc->errnv) &&
					   !strstr(err->msg, "CANARY"),
				   "%s: `%s` refused with code %d (got %d: %s)",
				   walk ? "walk" : "openat2", bc->rel, bc->code,
				   err ? err->code : 0, err ? err->msg : "opened");
			pn_error_free(err);
		}
		/* O_NOFOLLOW: no symlink anywhere, even one staying inside */
		for (i = 0; i < sizeof(nofollow_cases) / sizeof(nofollow_cases[0]); i++) {
			const struct beneath_case *bc = &nofollow_cases[i];
			struct pn_error *err = NULL;
			int fd = pn_path_open_beneath(mfd, bc->rel,
						      O_RDONLY | O_NOFOLLOW | O_NONBLOCK, &err);

			if (!bc->code)
				ok(fd >= 0, "%s: O_NOFOLLOW `%s` opens", walk ? "walk" : "openat2",
				   bc->rel);
			else
				ok(fd < 0 && err && err->code == bc->code &&
					   err->errno_val == bc->errnv,
				   "%s: O_NOFOLLOW `%s` refused with errno %d (got %d: %s)",
				   walk ? "walk" : "openat2", bc->rel, bc->errnv,
				   err ? err->errno_val : 0, err ? err->msg : "opened");
			if (fd >= 0)
				close(fd);
			pn_error_free(err);
		}
	}
	pn_path_force_walk(false);
}

/* load m/cog.yaml written as y; the error (exit 2, no canary) must name want */
static void load_refused(const char *dir, const char *y, const char *want, const char *desc)
{
	cleanup_free char *yml = pn_path_join(dir, "m/cog.yaml");
	struct cog_config cfg;
	struct pn_error *err = NULL;
	int rc;

	write_file(dir, "m/cog.yaml", y);
	rc = cog_config_load(yml, &cfg, &err);
	ok(rc < 0 && err && pn_error_exit_status(err) == 2 && tap_contains(err->msg, want) &&
		   !strstr(err->msg, "CANARY"),
	   "%s", desc);
	if (rc >= 0 || !err || !tap_contains(err->msg, want))
		tap_diag("rc=%d msg=%s", rc, err ? err->msg : "(none)");
	pn_error_clear(&err);
	cog_config_release(&cfg);
}

/* rc < 0 with exit status 2, the message holds want and not the canary */
static void rc_refused(int rc, struct pn_error **err, const char *want, const char *desc)
{
	const struct pn_error *e = *err;

	ok(rc < 0 && e && pn_error_exit_status(e) == 2 && tap_contains(e->msg, want) &&
		   !strstr(e->msg, "CANARY"),
	   "%s", desc);
	if (rc >= 0 || !e || !tap_contains(e->msg, want) || strstr(e->msg, "CANARY"))
		tap_diag("rc=%d msg=%s", rc, e ? e->msg : "(none)");
	pn_error_clear(err);
}

static void t_named_paths(void)
{
	char *dir = hostile_tree();
	cleanup_free char *yml = pn_path_join(dir, "m/cog.yaml");
	cleanup_free char *abs = pn_path_join(dir, "out/secret.txt");
	cleanup_free char *y_abs = xasprintf("build:\n  python_requirements: %s\n", abs);
	static const char *const outside[] = {"../out/secret.txt",
					      "../../../../../../../../etc/shadow",
					      "out-rel",
					      "out-dir/secret.txt",
					      "out-abs",
					      "sub/up2",
					      NULL};
	struct cog_config cfg;
	struct pn_error *err = NULL;
	size_t i;
	int walk;

	for (walk = 0; walk < 2; walk++) {
		pn_path_force_walk(walk);
		for (i = 0; outside[i]; i++) {
			cleanup_free char *y =
				xasprintf("build:\n  python_requirements: %s\n", outside[i]);
			cleanup_free char *want = xasprintf(
				"cog.yaml:2:24: build.python_requirements: `%s` is outside the "
				"model directory",
				outside[i]);
			cleanup_free char *desc =
				xasprintf("%s: python_requirements `%s` refused, nothing of it "
					  "printed",
					  walk ? "walk" : "openat2", outside[i]);

			load_refused(dir, y, want, desc);
		}
	}
	pn_path_force_walk(false);
	load_refused(dir, y_abs, "is outside the model directory", "an absolute path is refused");
	load_refused(dir, "build:\n  python_requirements: loop1\n",
		     "`loop1`: too many levels of symbolic links", "a symlink loop is refused");
	load_refused(dir, "build:\n  python_requirements: fifo\n", "`fifo` is not a regular file",
		     "a FIFO is refused without blocking");
	load_refused(dir, "build:\n  python_requirements: sub\n", "`sub` is not a regular file",
		     "a directory is refused");
	load_refused(dir, "predict: \"../out/secret.py:Predictor\"\n",
		     "cog.yaml:1:10: predict: `../out/secret.py` is outside the model directory",
		     "predict: a module file outside is refused");
	load_refused(dir, "train: \"/etc/train.py:T\"\n",
		     "cog.yaml:1:8: train: `/etc/train.py` is outside the model directory",
		     "train: an absolute module file is refused");
	make_link(dir, "m/p.py", "../out/secret.txt");
	load_refused(dir, "run: \"p.py:P\"\n", "run: `p.py` is outside the model directory",
		     "run: a module file symlinked out is refused");
	write_file(dir, "m/big.txt", "");
	{
		cleanup_free char *big = pn_path_join(dir, "m/big.txt");

		if (truncate(big, (off_t)COG_REQUIREMENTS_MAX_SIZE + 1) < 0)
			tap_diag("truncate: %s", strerror(errno));
	}
	load_refused(dir, "build:\n  python_requirements: big.txt\n",
		     "`big.txt` is larger than 1048576 bytes",
		     "a requirements file over the limit is bad input");
	write_file(dir, "m/nul.txt", "a==1\n");
	{
		cleanup_free char *p = pn_path_join(dir, "m/nul.txt");
		FILE *f = fopen(p, "ab");

		if (f) {
			fputc(0, f);
			fclose(f);
		}
	}
	load_refused(dir, "build:\n  python_requirements: nul.txt\n",
		     "`nul.txt` contains a NUL byte", "a NUL byte in the requirements file");

	/* cog.yaml itself: a symlink out of the model directory is refused
	 * (a YAML host file would otherwise have its keys quoted as unknown) */
	write_file(dir, "out/keys.yaml", CANARY ": 1\n");
	make_link(dir, "m/linked.yaml", "../out/keys.yaml");
	{
		cleanup_free char *linked = pn_path_join(dir, "m/linked.yaml");
		cleanup_free char *in_link = pn_path_join(dir, "m/sub/inside.yaml");

		rc_refused(
			cog_config_load(linked, &cfg, &err), &err,
			"linked.yaml: a symlink leading outside the model directory",
			"cog.yaml symlinked out of its directory: refused, nothing of it printed");
		cog_config_release(&cfg);
		write_file(dir, "m/sub/cog.yaml", "build:\n  python_version: \"3.12\"\n");
		make_link(dir, "m/sub/inside.yaml", "cog.yaml");
		ok_call(cog_config_load(in_link, &cfg, &err), &err,
			"cog.yaml symlinked to a file beside it: read");
		is_str(cfg.build.python_version, "3.12", "... its content");
		cog_config_release(&cfg);
	}

	write_file(dir, "m/cog.yaml",
		   "build:\n  python_requirements: subdir/../in\npredict: \"sub/p.py:P\"\n");
	ok_call(cog_config_load(yml, &cfg, &err), &err,
		"symlinks that stay inside are followed; a missing predict file is fine");
	is_str(cfg.requirements, "requests==2.31.0\n", "the requirements read through them");
	cog_config_release(&cfg);
}

/* parse y (len bytes); the single problem line must be want */
static void parse_refused(const char *y, size_t len, const char *want, const char *desc)
{
	struct cog_config cfg;
	struct pn_error *err = NULL;
	int rc = cog_config_parse(y, len, "cog.yaml", ".", &cfg, NULL, &err);

	ok(rc < 0 && err && err->code == PN_ERR_INVALID && tap_contains(err->msg, want), "%s",
	   desc);
	if (rc >= 0 || !err || !tap_contains(err->msg, want))
		tap_diag("rc=%d msg=%.300s", rc, err ? err->msg : "(none)");
	pn_error_clear(&err);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	struct pn_buf b = PN_BUF_INIT;
	size_t i;

	pn_buf_init(&b, 64 << 20);
	pn_buf_puts(&b, head, NULL);
	for (i = 0; i < n; i++)
		pn_buf_puts(&b, unit, NULL);
	pn_buf_puts(&b, tail, NULL);
	return pn_buf_steal(&b, NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void t_limits(void)
{
	cleanup_free char *flow = repeat("a: ", "[", 100000, "");
	cleanup_free char *block = NULL, *scalar = repeat("image: \"", "x", 65537, "\"\n");
	cleanup_free char *values = repeat("build:\n  python_packages:\n", "    - a\n", 100001, "");
	cleanup_free char *anchors =
		repeat("build:\n  python_packages:\n", "    - &a x\n", 257, "");
	const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			     "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			     "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			     "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	struct pn_buf b = PN_BUF_INIT;
	double t0 = now_s();
	size_t i;

	for (i = 0; i < 65; i++)
		pn_buf_printf(&b, NULL, "%*sa:\n", (int)i, "");
	block = pn_buf_steal(&b, NULL);
	parse_refused(flow, strlen(flow), "cog.yaml:1:67: nested deeper than 64 levels",
		      "100000 nested flow lists: refused at level 65");
	ok(now_s() - t0 < 5, "... without parsing the rest (%.3fs, quadratic in libyaml's loader)",
	   now_s() - t0);
	parse_refused(block, strlen(block), "cog.yaml:65:65: nested deeper than 64 levels",
		      "65 nested block mappings: refused");
	parse_refused(laughs, strlen(laughs), "more than 100000 values (aliases counted expanded)",
		      "billion laughs: refused by the expanded count");
	parse_refused(values, strlen(values), "more than 100000 values",
		      "100001 plain values: refused");
	parse_refused(anchors, strlen(anchors), "cog.yaml:259:7: more than 256 anchors",
		      "257 anchors: refused");
	parse_refused(LIT("a: &a [1, *a]\n"), "cog.yaml:1:11: alias `*a` is inside its own anchor",
		      "a recursive alias: refused");
	parse_refused(scalar, strlen(scalar), "cog.yaml:1:8: a value longer than 65536 bytes",
		      "a scalar over 64 KiB: refused");
	parse_refused(LIT("build: {gpu: true}\n---\nbuild: {gpu: false}\n"),
		      "cog.yaml:2:1: a second YAML document; cog.yaml must be a single document",
		      "a second document: refused, not silently dropped");
	parse_refused(LIT("build: {gpu: true}\n...\n--- {}\n"),
		      "cog.yaml:3:1: a second YAML document",
		      "a second document after an end marker: refused");
	parse_refused(LIT("build:\n  gpu: tr\0ue\n"), "cog.yaml:2:10: a NUL byte",
		      "a NUL byte: refused with its line and column");
	parse_refused(LIT("build: {}\nimage: \"a\xef\xbb\xbf\"\n"),
		      "cog.yaml:2:10: a byte order mark (U+FEFF) past the start of the file",
		      "a byte order mark inside: refused");
	parse_refused(LIT("image: \"\xff\"\n"), "cog.yaml:1:9: yaml: invalid leading UTF-8 octet",
		      "invalid UTF-8: refused at its position");
}

/* y as UTF-16 (le or be), with n_bom byte order marks, in out (len returned) */
static size_t utf16(const char *y, bool le, int n_bom, char *out)
{
	size_t n = 0, i;
	int k;

	for (k = 0; k < n_bom; k++) {
		out[n++] = le ? '\xff' : '\xfe';
		out[n++] = le ? '\xfe' : '\xff';
	}
	for (i = 0; y[i]; i++) {
		out[n++] = le ? y[i] : '\0';
		out[n++] = le ? '\0' : y[i];
	}
	return n;
}

static void t_encodings(void)
{
	const char *y = "build:\n  gpu: false\n  python_packages: [numpy==1.26.4]\n"
			"predict: \"predict.py:Predictor\"\n";
	char u[512];
	cleanup_free char *want = NULL;
	struct cog_config cfg;
	struct pn_error *err = NULL;
	size_t n;
	int le;

	ok_call(cog_config_parse(y, strlen(y), "cog.yaml", ".", &cfg, NULL, &err), &err, "utf-8");
	want = cog_config_to_text(&cfg);
	cog_config_release(&cfg);
	for (le = 0; le < 2; le++) {
		cleanup_free char *got = NULL;

		n = utf16(y, le, 1, u);
		ok_call(cog_config_parse(u, n, "cog.yaml", ".", &cfg, NULL, &err), &err,
			"UTF-16%s with a byte order mark: accepted (as Go's yaml)",
			le ? "LE" : "BE");
		got = cog_config_to_text(&cfg);
		is_str(got, want, "... read whole, the same config as UTF-8");
		cog_config_release(&cfg);
		n = utf16(y, le, 2, u);
		parse_refused(u, n,
			      "cog.yaml:1:1: a byte order mark (U+FEFF) past the start of the file",
			      le ? "UTF-16LE with a doubled byte order mark: refused"
				 : "UTF-16BE with a doubled byte order mark: refused");
	}
	n = utf16(y, true, 1, u);
	parse_refused(u, n - 1, "not valid UTF-16", "UTF-16 of odd length: refused");
	memcpy(u, "\xff\xfe\x00\xd8", 4);
	parse_refused(u, 4, "cog.yaml:1:1: not valid UTF-16", "a lone surrogate: refused");
	memcpy(u, "\xef\xbb\xbf", 3);
	memcpy(u + 3, y, strlen(y));
	ok_call(cog_config_parse(u, strlen(y) + 3, "cog.yaml", ".", &cfg, NULL, &err), &err,
		"UTF-8 with a byte order mark: accepted");
	cog_config_release(&cfg);
	memcpy(u + 3, "\xef\xbb\xbf", 3);
	memcpy(u + 6, y, strlen(y));
	parse_refused(u, strlen(y) + 6, "a byte order mark (U+FEFF) past the start",
		      "UTF-8 with a doubled byte order mark: refused");
}

static void t_config_size(void)
{
	char *dir = tap_tmpdir();
	cleanup_free char *yml = pn_path_join(dir, "cog.yaml");
	cleanup_free char *big = NULL;
	struct cog_config cfg;
	struct pn_error *err = NULL;

	big = repeat("build:\n  python_packages:\n", "    - a\n", COG_CONFIG_MAX_SIZE / 8, "");
	pn_write_file_atomic(yml, big, strlen(big), 0644, &err);
	ok_fail(cog_config_load(yml, &cfg, &err), &err, PN_ERR_INVALID, "larger than 1048576 bytes",
		"a cog.yaml over 1 MiB: bad input (exit 2), refused before reading");
	cog_config_release(&cfg);
	ok_fail(cog_config_parse(big, strlen(big), "cog.yaml", ".", &cfg, NULL, &err), &err,
		PN_ERR_INVALID, "larger than 1048576 bytes", "... and in memory");
	cog_config_release(&cfg);
	ok_fail(cog_config_load(dir, &cfg, &err), &err, PN_ERR_INVALID, "not a regular file",
		"a directory as cog.yaml: refused");
	cog_config_release(&cfg);
}

static void t_secret_target(void)
{
	static const char *const bad[] = {"/run/../../etc/passwd",
					  "/run/secrets/../x",
					  "/..",
					  "/run//x",
					  "/run/./x",
					  "/run/x/",
					  "/",
					  "//x",
					  NULL};
	static const char *const good[] = {"/run/secrets/tok", "/x", "/root/.netrc", "/a..b/.c",
					   NULL};
	size_t i;

	for (i = 0; bad[i]; i++) {
		cleanup_free char *y =
			xasprintf("build:\n  run:\n    - command: \"true\"\n      mounts:\n"
				  "        - {type: secret, id: tok, target: \"%s\"}\n",
				  bad[i]);
		cleanup_free char *want =
			xasprintf("cog.yaml:5:43: build.run[0].mounts[0].target: \"%s\" is not a "
				  "plain path",
				  bad[i]);
		cleanup_free char *desc = xasprintf("secret target \"%s\": refused", bad[i]);

		parse_refused(y, strlen(y), want, desc);
	}
	for (i = 0; good[i]; i++) {
		cleanup_free char *y =
			xasprintf("build:\n  run:\n    - command: \"true\"\n      mounts:\n"
				  "        - {type: secret, id: tok, target: \"%s\"}\n",
				  good[i]);
		struct cog_config cfg;
		struct pn_error *err = NULL;

		ok_call(cog_config_parse(y, strlen(y), "cog.yaml", ".", &cfg, NULL, &err), &err,
			"secret target \"%s\": accepted", good[i]);
		is_str(cfg.build.n_run ? cfg.build.run[0].mounts[0].target : NULL, good[i],
		       "... kept as written");
		cog_config_release(&cfg);
	}
	{
		/* Docker resolves a relative target against the step's working
		 * directory; build.run steps run before WORKDIR /src, in "/" */
		static const char rel[] = "build:\n  run:\n    - command: x\n      mounts: [{type: "
					  "secret, id: t, target: secret.txt}]\n";
		struct cog_config cfg;
		struct pn_error *err = NULL;

		ok_call(cog_config_parse(rel, strlen(rel), "cog.yaml", ".", &cfg, NULL, &err), &err,
			"a relative target (secret.txt): accepted, as by Cog");
		is_str(cfg.build.n_run ? cfg.build.run[0].mounts[0].target : NULL, "/secret.txt",
		       "... resolved against the run step's working directory /");
		cog_config_release(&cfg);
	}
	parse_refused(LIT("build:\n  run:\n    - command: x\n      mounts: [{type: secret, id: t, "
			  "target: a/../secret.txt}]\n"),
		      "is not a plain path", "a relative target with `..`: still refused");
	parse_refused(LIT("predict: predict.py:P\nrun: run.py:R\n"),
		      "run: only one of run or predict can be set",
		      "both run and predict: Cog's error");
}

/* a build needs predict, run or train (Cog's no_predictor) */
static void t_check_entry(void)
{
	static const struct {
		const char *yaml;
		bool ok;
	} cases[] = {
		{"build:\n  python_version: \"3.12\"\n", false},
		{"predict: \"predict.py:Predictor\"\n", true},
		{"run: \"run.py:Runner\"\n", true},
		{"train: \"train.py:train\"\n", true},
		{"image: r8.im/a/b\n", false},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cog_config cfg;
		struct pn_error *err = NULL;
		const char *y = cases[i].yaml;

		ok_call(cog_config_parse(y, strlen(y), "m/cog.yaml", ".", &cfg, NULL, &err), &err,
			"parse case %zu", i);
		is_int(cog_config_check_entry(&cfg, &err), cases[i].ok ? 0 : -1, "entry case %zu",
		       i);
		if (!cases[i].ok) {
			ok(err && err->code == PN_ERR_INVALID && strstr(err->msg, "`m/cog.yaml`") &&
				   strstr(err->msg, "`predict`"),
			   "the error names the file and predict: %s", err ? err->msg : "(none)");
		}
		pn_error_clear(&err);
		cog_config_release(&cfg);
	}
}

int main(void)
{
	TEST(t_case_table);
	TEST(t_load_relative);
	TEST(t_json);
	TEST(t_error_message);
	TEST(t_open_beneath);
	TEST(t_named_paths);
	TEST(t_limits);
	TEST(t_encodings);
	TEST(t_config_size);
	TEST(t_secret_target);
	TEST(t_check_entry);
	return tap_done();
}
