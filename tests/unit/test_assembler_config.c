/* test_assembler_config.c - cog.yaml: the tests/fixtures/cogyaml case table
 * (each case a cog.yaml + the exact expected config or problem lines), -f
 * semantics, the run.cog.config JSON.
 * PINION_FIXTURES_UPDATE=1 rewrites the expected files (review the diff!). */
#include "tests/unit/tap.h"
#include "assembler/cogconfig.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
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

int main(void)
{
	TEST(t_case_table);
	TEST(t_load_relative);
	TEST(t_json);
	TEST(t_error_message);
	return tap_done();
}
