/* test_assembler_build.c - executor options (--secret), the embedded tini,
 * and predict's input syntax, data URLs and output files */
#include "tests/unit/tap.h"
#include "assembler/build.h"
#include "assembler/build_internal.h"
#include "assembler/predict.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void t_secrets(void)
{
	struct build_opts o;
	struct pn_error *err = NULL;

	build_opts_init(&o);
	ok(o.separate_weights, "weights are separated by default");
	ok_call(build_opts_add_secret(&o, "id=token,src=/tmp/t", &err), &err, "file secret");
	ok_call(build_opts_add_secret(&o, "id=key,env=API_KEY", &err), &err, "env secret");
	ok_call(build_opts_add_secret(&o, "type=file,id=x,source=/a", &err), &err,
		"buildkit spelling");
	is_int(o.n_secrets, 3, "three secrets");
	is_str(o.secrets[0].src, "/tmp/t", "src kept");
	is_str(o.secrets[1].env, "API_KEY", "env kept");
	is_str(o.secrets[2].src, "/a", "source= is src=");
	ok_fail(build_opts_add_secret(&o, "src=/tmp/t", &err), &err, PN_ERR_INVALID, "--secret",
		"id required");
	ok_fail(build_opts_add_secret(&o, "id=a", &err), &err, PN_ERR_INVALID, "--secret",
		"a source required");
	ok_fail(build_opts_add_secret(&o, "id=a,src=x,env=y", &err), &err, PN_ERR_INVALID,
		"--secret", "not both");
	ok_fail(build_opts_add_secret(&o, "id=a,what=x", &err), &err, PN_ERR_INVALID, "--secret",
		"unknown key");
	ok_fail(build_opts_add_secret(&o, "id=,src=x", &err), &err, PN_ERR_INVALID, "--secret",
		"empty id");
	is_int(o.n_secrets, 3, "refusals add nothing");
	build_opts_release(&o);
}

static void t_tini(void)
{
	size_t len = 0;
	const unsigned char *d = build_tini_data(&len);

	ok(len > 100000, "tini-static embedded (%zu bytes)", len);
	ok(len >= 4 && memcmp(d, "\177ELF", 4) == 0, "it is an ELF binary");
}

static void key_copy(const char *chain, const char *kind, enum plan_copy_from from, bool separate,
		     enum oci_compression comp, const char *platform, oci_digest_t out)
{
	struct plan_step s = {
		.kind = PLAN_STEP_COPY, .copy_from = from, .copy_dest = (char *)"/src"};
	struct build_plan p = {.platform = (char *)platform, .separate_weights = separate};
	struct oci_layer_opts lo;

	oci_layer_opts_init(&lo);
	lo.compression = comp;
	build_key_copy(chain, kind, &s, "sha256:00", &p, &lo, out);
}

/* the cache-key recipe: every input that changes a layer changes its key */
static void t_key_recipe(void)
{
	const char *chain = "sha256:1111", *gz = "linux/amd64";
	char *envv[] = {(char *)"A=1", (char *)"B=two", NULL};
	struct pn_strv env = {envv, 2, 2}, env2 = {envv, 1, 1};
	oci_digest_t k1, k2, fd[1] = {"sha256:aa"}, fd2[1] = {"sha256:bb"};
	struct plan_step run = {.kind = PLAN_STEP_RUN, .shell = (char *)"make"};
	struct plan_file file = {.target = (char *)"/tmp/f"};
	struct build_plan p = {.platform = (char *)gz};
	struct oci_layer_opts lo;

	oci_layer_opts_init(&lo);
	build_key_env(chain, &env, k1);
	build_key_env(chain, &env, k2);
	is_str(k1, k2, "env key: same inputs, same key");
	build_key_env(chain, &env2, k2);
	ok(strcmp(k1, k2) != 0, "env key: another edit, another key");
	build_key_env("sha256:2222", &env, k2);
	ok(strcmp(k1, k2) != 0, "env key: another chain, another key");
	run.files = &file;
	run.n_files = 1;
	build_key_run(chain, &run, &p, &lo, &env, (const oci_digest_t *)fd, k1);
	build_key_run(chain, &run, &p, &lo, &env, (const oci_digest_t *)fd2, k2);
	ok(strcmp(k1, k2) != 0, "run key: the file's digest is in it");
	p.network_none = true;
	build_key_run(chain, &run, &p, &lo, &env, (const oci_digest_t *)fd, k2);
	ok(strcmp(k1, k2) != 0, "run key: the network (decided in the plan) is in it");
	p.network_none = false;
	p.platform = (char *)"linux/arm64";
	build_key_run(chain, &run, &p, &lo, &env, (const oci_digest_t *)fd, k2);
	ok(strcmp(k1, k2) != 0, "run key: the platform is in it");
	key_copy(chain, "copy-source", PLAN_COPY_MODEL_DIR, true, OCI_COMP_GZIP, gz, k1);
	key_copy(chain, "copy-source", PLAN_COPY_MODEL_DIR, false, OCI_COMP_GZIP, gz, k2);
	ok(strcmp(k1, k2) != 0, "source key: separate weights is in it");
	key_copy(chain, "copy-tini", PLAN_COPY_TINI, true, OCI_COMP_GZIP, gz, k1);
	key_copy(chain, "copy-tini", PLAN_COPY_TINI, false, OCI_COMP_GZIP, gz, k2);
	is_str(k1, k2, "tini key: separate weights is not");
	key_copy(chain, "copy-tini", PLAN_COPY_TINI, true, OCI_COMP_ZSTD, gz, k2);
	ok(strcmp(k1, k2) != 0, "tini key: the compression is in it");
	build_key_postbuild(chain, "predict.py:P", NULL, k1);
	build_key_postbuild(chain, "predict.py:P", "sha256:cc", k2);
	ok(strcmp(k1, k2) != 0, "post-build key: an --openapi-schema file is in it");
}

/* --secret values become host files; an env secret is written 0600 */
static void t_secret_files(void)
{
	struct build_secret v[] = {{(char *)"a", (char *)"/nonexistent/x", NULL},
				   {(char *)"b", NULL, (char *)"PINION_TEST_SECRET"}};
	cleanup_free char *dir = pn_mkdtemp_in("/tmp", "pn-secret-", NULL);
	char *path = NULL;
	struct pn_error *err = NULL;
	struct stat st;

	ok(build_secret_find(v, 2, "b") == &v[1] && !build_secret_find(v, 2, "c"), "find by id");
	ok_fail(build_secret_file(&v[0], dir, &path, &err), &err, PN_ERR_NOT_FOUND, "secret `a`",
		"an unreadable src is refused");
	unsetenv("PINION_TEST_SECRET");
	ok_fail(build_secret_file(&v[1], dir, &path, &err), &err, PN_ERR_INVALID, "not set",
		"an unset env secret is refused");
	setenv("PINION_TEST_SECRET", "s3cret", 1);
	ok_call(build_secret_file(&v[1], dir, &path, &err), &err, "env secret written");
	ok(path && stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 6,
	   "mode 0600, the value's bytes");
	free(path);
	unsetenv("PINION_TEST_SECRET");
	pn_rm_rf(dir, NULL);
}

/* before the first step: each secret a RUN step mounts is given and usable */
static void t_secrets_check(void)
{
	struct plan_secret ps[] = {{(char *)"tok", (char *)"/run/secrets/tok"}};
	struct plan_step steps[2];
	struct build_plan p;
	struct build_secret given[] = {{(char *)"tok", NULL, (char *)"PINION_TEST_TOK"}};
	struct build_secret bad_src[] = {{(char *)"tok", (char *)"/nonexistent/x", NULL}};
	struct pn_error *err = NULL;

	memset(steps, 0, sizeof(steps));
	memset(&p, 0, sizeof(p));
	steps[0].kind = PLAN_STEP_RUN;
	steps[0].name = (char *)"run 1";
	steps[1].kind = PLAN_STEP_RUN;
	steps[1].name = (char *)"run 2";
	steps[1].secrets = ps;
	steps[1].n_secrets = 1;
	p.steps = steps;
	p.n_steps = 2;
	ok_fail(build_secrets_check(&p, NULL, 0, &err), &err, PN_ERR_INVALID,
		"step `run 2` needs the secret `tok`", "a missing --secret names its step");
	ok_fail(build_secrets_check(&p, bad_src, 1, &err), &err, PN_ERR_INVALID, "read",
		"an unreadable src is refused before the build");
	unsetenv("PINION_TEST_TOK");
	ok_fail(build_secrets_check(&p, given, 1, &err), &err, PN_ERR_INVALID, "not set",
		"an unset env secret is refused before the build");
	setenv("PINION_TEST_TOK", "x", 1);
	ok_call(build_secrets_check(&p, given, 1, &err), &err, "every secret given");
	unsetenv("PINION_TEST_TOK");
	p.n_steps = 1;
	ok_call(build_secrets_check(&p, NULL, 0, &err), &err, "no step needs one");
}

static json_t *schema(void)
{
	return json_loads(
		"{\"components\":{\"schemas\":{\"Input\":{\"properties\":{"
		"\"name\":{\"type\":\"string\",\"x-order\":0},"
		"\"n\":{\"type\":\"integer\",\"x-order\":1},"
		"\"t\":{\"type\":\"number\",\"x-order\":2},"
		"\"flag\":{\"type\":\"boolean\",\"x-order\":3},"
		"\"img\":{\"type\":\"string\",\"format\":\"uri\",\"x-order\":4},"
		"\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"x-order\":5}"
		"}}}}}",
		0, NULL);
}

static void t_inputs(void)
{
	cleanup_json json_t *s = schema();
	cleanup_json json_t *in = json_object();
	struct pn_error *err = NULL;
	cleanup_free char *file = pn_path_join(tap_tmpdir(), "in.txt");
	const char *url;

	pn_write_file_atomic(file, "hi", 2, 0644, NULL);
	ok_call(predict_input_add(in, "name=a=b", s, &err), &err, "string with =");
	ok_call(predict_input_add(in, "n=42", s, &err), &err, "integer");
	ok_call(predict_input_add(in, "t=0.5", s, &err), &err, "number");
	ok_call(predict_input_add(in, "flag=true", s, &err), &err, "boolean");
	ok_call(predict_input_add(in, "tags=1", s, &err), &err, "array item 1");
	ok_call(predict_input_add(in, "tags=2", s, &err), &err, "array item 2");
	{
		cleanup_free char *arg = xasprintf("img=@%s", file);

		ok_call(predict_input_add(in, arg, s, &err), &err, "file");
	}
	is_str(json_string_value(json_object_get(in, "name")), "a=b", "split at the first =");
	is_int(json_integer_value(json_object_get(in, "n")), 42, "integer value");
	ok(json_real_value(json_object_get(in, "t")) == 0.5, "number value");
	ok(json_is_true(json_object_get(in, "flag")), "boolean value");
	is_int(json_array_size(json_object_get(in, "tags")), 2, "repeated -i makes a list");
	url = json_string_value(json_object_get(in, "img"));
	is_str(url, "data:text/plain;base64,aGk=", "file as data URL");
	ok_fail(predict_input_add(in, "n=4x", s, &err), &err, PN_ERR_INVALID, "integer",
		"bad integer refused");
	ok_fail(predict_input_add(in, "flag=maybe", s, &err), &err, PN_ERR_INVALID, "boolean",
		"bad boolean refused");
	ok_fail(predict_input_add(in, "img=@/nonexistent/x", s, &err), &err, PN_ERR_NOT_FOUND, "x",
		"missing file");
	ok_call(predict_input_add(in, "bare", s, &err), &err, "bare value");
	is_str(json_string_value(json_object_get(in, "name")), "bare", "goes to the first input");
	ok_call(predict_input_add(in, "other=1", NULL, &err), &err, "no schema");
	is_str(json_string_value(json_object_get(in, "other")), "1", "string without a schema");
}

static void t_data_urls(void)
{
	cleanup_free char *u = predict_data_url("\x89PNG..", 6, "x.png");
	cleanup_free unsigned char *d = NULL;
	size_t len = 0;
	const char *ext = NULL;
	struct pn_error *err = NULL;

	ok(strncmp(u, "data:image/png;base64,", 22) == 0, "png type");
	ok_call(predict_data_url_decode(u, &d, &len, &ext, &err), &err, "decode");
	is_int(len, 6, "length back");
	ok(d && memcmp(d, "\x89PNG..", 6) == 0, "bytes back");
	is_str(ext, ".png", "extension from the type");
	ok_fail(predict_data_url_decode("data:text/plain,hello", &d, &len, &ext, &err), &err,
		PN_ERR_UNSUPPORTED, "base64", "plain data URL refused");
	ok_fail(predict_data_url_decode("data:a/b;base64,abc", &d, &len, &ext, &err), &err,
		PN_ERR_INVALID, "length", "bad base64 refused");
}

static void t_outputs(void)
{
	const char *dir = tap_tmpdir();
	cleanup_free char *u = predict_data_url("hello", 5, "o.txt");
	cleanup_json json_t *one = json_string(u);
	cleanup_json json_t *list = json_pack("[s,s]", u, u);
	cleanup_json json_t *obj = json_pack("{s:i}", "a", 1);
	cleanup_free char *p0 = pn_path_join(dir, "output.txt");
	cleanup_free char *p1 = pn_path_join(dir, "output.1.txt");
	cleanup_free char *text = NULL;
	struct pn_error *err = NULL;
	FILE *f = tmpfile();
	size_t len;

	ok_call(predict_output_write(one, dir, NULL, f, &err), &err, "one file");
	ok_call(pn_read_file(p0, 100, &text, &len, &err), &err, "output.txt written");
	is_str(text, "hello", "its bytes");
	ok_call(predict_output_write(list, dir, NULL, f, &err), &err, "a list of files");
	ok(access(p1, F_OK) == 0, "output.1.txt written");
	ok_call(predict_output_write(obj, dir, NULL, f, &err), &err, "JSON printed");
	fclose(f);
}

static void t_build_env(void)
{
	struct build_opts o;
	struct cog_config cfg;
	struct build_plan p;
	struct pn_error *err = NULL;

	build_opts_init(&o);
	ok_call(build_opts_add_env(&o, "FOO", &err), &err, "NAME alone");
	ok_call(build_opts_add_env(&o, "BAR=x=y", &err), &err, "NAME=VALUE, = in the value");
	ok_call(build_opts_add_env(&o, "no_proxy=cli", &err), &err, "over a pass-through name");
	ok_call(build_opts_add_env(&o, "GREETING=cli", &err), &err, "a name cog.yaml sets");
	ok_call(build_opts_add_env(&o, "UNSET_PN_TEST", &err), &err, "unset on the host");
	ok_fail(build_opts_add_env(&o, "=x", &err), &err, PN_ERR_INVALID, "build-env",
		"empty name refused");
	ok_fail(build_opts_add_env(&o, "1A=x", &err), &err, PN_ERR_INVALID, "build-env",
		"leading digit refused");
	ok_fail(build_opts_add_env(&o, "A-B", &err), &err, PN_ERR_INVALID, "bad character",
		"dash refused");
	setenv("FOO", "from-host", 1);
	setenv("no_proxy", "host-np", 1);
	setenv("PIP_FIND_LINKS", "/opt/wheels", 1);
	setenv("HTTPS_PROXY", "http://proxy", 1);
	unsetenv("UNSET_PN_TEST");
	cog_config_init(&cfg);
	pn_strv_push(&cfg.environment, "GREETING=yaml");
	pn_strv_push(&cfg.environment, "PIP_FIND_LINKS=http://idx/");
	build_plan_init(&p);
	build_host_env(&o, &cfg, &p);
	cleanup_free char *s = NULL;
	struct pn_buf b = PN_BUF_INIT;
	for (size_t i = 0; i < p.n_host_env; i++)
		pn_buf_printf(&b, NULL, "%s=%s/%d/%d ", p.host_env[i].name, p.host_env[i].value,
			      (int)p.host_env[i].source, p.host_env[i].shadowed);
	s = pn_buf_steal(&b, NULL);
	ok(tap_contains(s, "PIP_FIND_LINKS=/opt/wheels/0/1 "), "cog.yaml shadows the host: %s", s);
	ok(tap_contains(s, "HTTPS_PROXY=http://proxy/0/0 "), "pass-through kept: %s", s);
	ok(tap_contains(s, "no_proxy=cli/2/0 "), "--build-env replaces the pass-through: %s", s);
	ok(tap_contains(s, "FOO=from-host/1/0 "), "NAME alone takes the host value: %s", s);
	ok(tap_contains(s, "BAR=x=y/2/0 "), "NAME=VALUE: %s", s);
	ok(tap_contains(s, "GREETING=cli/2/1 "), "cog.yaml shadows --build-env: %s", s);
	ok(!tap_contains(s, "UNSET_PN_TEST"), "an unset NAME is left out");
	build_plan_release(&p);
	o.no_host_env = true;
	build_plan_init(&p);
	build_host_env(&o, &cfg, &p);
	free(s);
	for (size_t i = 0; i < p.n_host_env; i++)
		pn_buf_printf(&b, NULL, "%s ", p.host_env[i].name);
	s = b.data ? pn_buf_steal(&b, NULL) : xstrdup("");
	ok(!tap_contains(s, "HTTPS_PROXY") && !tap_contains(s, "PIP_FIND_LINKS"),
	   "--no-host-env: no pass-through: %s", s);
	ok(tap_contains(s, "FOO ") && tap_contains(s, "no_proxy "), "--build-env still: %s", s);
	build_plan_release(&p);
	cog_config_release(&cfg);
	build_opts_release(&o);
	unsetenv("FOO");
	unsetenv("no_proxy");
	unsetenv("PIP_FIND_LINKS");
	unsetenv("HTTPS_PROXY");
}

int main(void)
{
	TEST(t_secrets);
	TEST(t_build_env);
	TEST(t_tini);
	TEST(t_key_recipe);
	TEST(t_secret_files);
	TEST(t_secrets_check);
	TEST(t_inputs);
	TEST(t_data_urls);
	TEST(t_outputs);
	return tap_done();
}
