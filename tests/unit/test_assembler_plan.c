/* test_assembler_plan.c - the build plan: step order per BUILD-FACTS.md,
 * base image choice through the callback, config edits, labels, the text /
 * JSON / Dockerfile views, env expansion. */
#include "tests/unit/tap.h"
#include "assembler/plan.h"
#include "common/cleanup.h"

#include <stdlib.h>

static int parse(const char *y, struct cog_config *cfg)
{
	struct pn_error *err = NULL;
	int rc = cog_config_parse(y, strlen(y), "cog.yaml", ".", cfg, NULL, &err);

	if (rc < 0) {
		tap_diag("parse: %s", err->msg);
		pn_error_free(err);
	}
	return rc;
}

/* "ENV:base-env RUN:apt ..." of the plan's steps */
static char *step_list(const struct build_plan *p)
{
	static const char *const kinds[] = {"ENV", "RUN", "COPY"};
	struct pn_buf b = PN_BUF_INIT;
	size_t i;

	for (i = 0; i < p->n_steps; i++)
		pn_buf_printf(&b, NULL, "%s%s:%s", i ? " " : "", kinds[p->steps[i].kind],
			      p->steps[i].name);
	return pn_buf_steal(&b, NULL);
}

static const struct plan_step *find_step(const struct build_plan *p, enum plan_step_id id)
{
	size_t i;

	for (i = 0; i < p->n_steps; i++)
		if (p->steps[i].id == id)
			return &p->steps[i];
	return NULL;
}

static const char *label(const struct build_plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_labels; i++)
		if (strcmp(p->labels[i].name, name) == 0)
			return p->labels[i].value;
	return NULL;
}

static int have_all(const char *ref, bool *exists, void *ud, struct pn_error **err)
{
	(void)ref;
	(void)err;
	(*(int *)ud)++;
	*exists = true;
	return 0;
}

static void t_cpu_plan(void)
{
	const char *y =
		"build:\n  python_version: \"3.11\"\n  system_packages: [ffmpeg]\n"
		"  python_packages: [\"torch==2.1.0\"]\n  run:\n    - echo one\n"
		"    - command: cat /run/secrets/tok\n      mounts: [{type: secret, id: tok}]\n"
		"environment: [\"A=1\"]\npredict: \"predict.py:Predictor\"\n";
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;
	cleanup_free char *steps = NULL;
	const struct plan_step *s;
	int calls = 0;
	size_t i;

	if (parse(y, &cfg) < 0)
		return;
	build_plan_opts_init(&o);
	o.registry_host = NULL;
	o.cog_wheel = NULL;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "CPU plan");
	is_str(p.base_image, "python:3.11-slim", "CPU base without a check");
	steps = step_list(&p);
	is_str(steps,
	       "ENV:env COPY:tini ENV:environment RUN:apt RUN:pip RUN:cog RUN:run 1 RUN:run 2 "
	       "ENV:runtime-env COPY:source",
	       "layer order as BUILD-FACTS (no python install for CPU)");
	s = find_step(&p, PLAN_ID_APT);
	is_str(s ? s->shell : NULL,
	       "apt-get update -qq && apt-get install -qqy ffmpeg && rm -rf /var/lib/apt/lists/*",
	       "apt command");
	s = find_step(&p, PLAN_ID_PIP);
	ok(s && s->n_files == 1 && strcmp(s->files[0].target, "/tmp/requirements.txt") == 0 &&
		   strcmp(s->files[0].content,
			  "--extra-index-url "
			  "https://download.pytorch.org/whl/cpu/\ntorch==2.1.0+cpu\n") == 0,
	   "pip step gets the generated requirements at /tmp/requirements.txt");
	ok(s && tap_contains(s->key_inputs.v[s->key_inputs.n - 1], "torch==2.1.0+cpu"),
	   "requirements text is a cache key input");
	s = find_step(&p, PLAN_ID_COG_WHEEL);
	ok(s && s->n_files == 1 && s->files[0].from == PLAN_FILE_COG_WHEEL && !s->files[0].content,
	   "cog wheel: a file of the cog-wheel kind");
	{
		/* the key input text of earlier versions: cached layers stay valid */
		cleanup_free char *want =
			s ? xasprintf("FILE %s from @%s", s->files[0].target, "cog-wheel") : NULL;

		ok(s && pn_strv_contains(&s->key_inputs, want), "cog wheel key input unchanged");
	}
	s = find_step(&p, PLAN_ID_TINI);
	ok(s && s->kind == PLAN_STEP_COPY && s->copy_from == PLAN_COPY_TINI &&
		   strcmp(s->copy_dest, "/sbin/tini") == 0,
	   "tini: a COPY of the embedded tini");
	is_str(p.platform, "linux/amd64", "platform decided in the plan (default)");
	ok(!p.network_none && !p.separate_weights, "network and weights decided in the plan");
	s = &p.steps[7];
	ok(s->n_secrets == 1 && strcmp(s->secrets[0].id, "tok") == 0 &&
		   strcmp(s->secrets[0].target, "/run/secrets/tok") == 0,
	   "secret mount on its run step only");
	ok(p.steps[6].n_secrets == 0, "first run step has no secret");
	for (i = 0; s && i < s->key_inputs.n; i++)
		ok(!tap_contains(s->key_inputs.v[i], "value"),
		   "key input %zu carries no secret value", i);
	s = find_step(&p, PLAN_ID_RUNTIME_ENV);
	ok(s && s->n_env == 1 && strcmp(s->env[0].value, "predict.py:Predictor") == 0,
	   "COG_PREDICT_TYPE_STUB");
	is_str(p.entrypoint.n == 2 ? p.entrypoint.v[0] : NULL, "/sbin/tini", "ENTRYPOINT tini");
	is_str(p.cmd.n == 3 ? p.cmd.v[2] : NULL, "cog.server.http", "CMD");
	is_str(p.workdir, "/src", "WORKDIR");
	is_str(p.expose, "5000/tcp", "EXPOSE");
	is_str(label(&p, "run.cog.has_init"), "true", "has_init label");
	ok(tap_contains(label(&p, "run.cog.config"), "\"python_version\":\"3.11\""),
	   "config label");
	ok(label(&p, "run.cog.cog-base-image-name") == NULL, "no cog-base label");
	build_plan_release(&p);
	o.image_exists = have_all;
	o.ud = &calls;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "CPU plan, registry has cog-base");
	is_str(p.base_image, "r8.im/cog-base:python3.11-torch2.1.0", "CPU cog-base with torch");
	ok(calls == 1 && p.base_checked, "existence checked once");
	is_str(label(&p, "run.cog.cog-base-image-name"), p.base_image, "cog-base label");
	ok(find_step(&p, PLAN_ID_TINI) == NULL, "cog-base already has tini");
	build_plan_release(&p);
	cog_config_release(&cfg);
}

static void t_gpu_plan(void)
{
	const char *y = "build:\n  gpu: true\n  python_version: \"3.11\"\n  python_packages: "
			"[\"torch==2.1.0\"]\n"
			"predict: \"predict.py:Predictor\"\n";
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;
	cleanup_free char *steps = NULL, *json = NULL, *df = NULL;
	cleanup_json json_t *j = NULL;
	const struct plan_step *s;
	char *text = NULL;
	size_t tlen = 0;
	FILE *f;

	if (parse(y, &cfg) < 0)
		return;
	memset(&o, 0, sizeof(o));
	o.separate_weights = true;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "GPU plan, check off");
	is_str(p.base_image, "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04",
	       "GPU miss: nvidia/cuda");
	steps = step_list(&p);
	is_str(steps,
	       "ENV:env COPY:tini ENV:python-env RUN:python RUN:pip RUN:cog ENV:runtime-env "
	       "COPY:weights COPY:source",
	       "GPU without cog-base installs Python before the requirements");
	s = find_step(&p, PLAN_ID_PYTHON);
	ok(s && tap_contains(s->shell, "pyenv install-latest \"3.11\""),
	   "python step installs 3.11");
	ok(s && strncmp(s->shell, "if command -v python3.11 >/dev/null 2>&1 && python3.11 -m pip",
			61) == 0,
	   "python step first reuses a python3.11 with pip from the base (no network)");
	s = find_step(&p, PLAN_ID_BASE_ENV);
	ok(s && s->n_env == 4 && strcmp(s->env[2].name, "LD_LIBRARY_PATH") == 0, "base ENV");
	json = build_plan_to_json(&p);
	j = json_loads(json, 0, NULL);
	ok(j != NULL, "plan JSON parses");
	is_str(json_string_value(json_object_get(json_object_get(j, "base"), "image")),
	       p.base_image, "JSON base image");
	is_int(json_array_size(json_object_get(j, "steps")), p.n_steps, "JSON steps");
	is_str(json_string_value(json_array_get(
		       json_object_get(json_array_get(json_object_get(j, "steps"), 3), "argv"), 0)),
	       "/bin/sh", "RUN argv is /bin/sh -c ...");
	is_str(json_string_value(json_object_get(j, "cuda")), "12.1", "JSON cuda");
	f = open_memstream(&text, &tlen);
	build_plan_print_text(&p, f);
	fclose(f);
	ok(tap_contains(text, "base image: nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04") &&
		   tap_contains(text, "GPU: CUDA 12.1, cuDNN 8") &&
		   tap_contains(text, "--extra-index-url https://download.pytorch.org/whl/cu121/"),
	   "text view");
	free(text);
	df = build_plan_dockerfile(&cfg, &p);
	ok(tap_contains(df, "FROM nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04\n") &&
		   tap_contains(df, "ENTRYPOINT [\"/sbin/tini\", \"--\"]\n") &&
		   tap_contains(df, "RUN --mount=type=cache,target=/root/.cache/pip pip install -r "
				    "/tmp/requirements.txt\n") &&
		   tap_contains(df, "CMD [\"python\", \"-m\", \"cog.server.http\"]\nCOPY . /src\n"),
	   "Dockerfile view");
	build_plan_release(&p);
	o.use_cog_base = PLAN_YES;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "--use-cog-base-image, check off");
	is_str(p.base_image, "r8.im/cog-base:cuda12.1-python3.11-torch2.1.0",
	       "--use-cog-base-image without a check: the cog-base is trusted");
	ok(!p.base_checked && find_step(&p, PLAN_ID_PYTHON) == NULL,
	   "no python install on cog-base");
	build_plan_release(&p);
	cog_config_release(&cfg);
}

/* the weights step lists its layers (from the source walk), in every view */
static void t_weight_layers(void)
{
	const char *y = "build:\n  python_version: \"3.11\"\npredict: \"predict.py:Predictor\"\n";
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;
	cleanup_free char *json = NULL;
	cleanup_json json_t *j = NULL;
	const struct plan_step *s;
	json_t *step, *layers;
	char *text = NULL;
	size_t tlen = 0;
	FILE *f;

	if (parse(y, &cfg) < 0)
		return;
	memset(&o, 0, sizeof(o));
	o.separate_weights = true;
	o.platform = "linux/arm64";
	o.network_none = true;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "plan with separate weights");
	ok(p.separate_weights && p.network_none && strcmp(p.platform, "linux/arm64") == 0,
	   "options decided in the plan");
	build_plan_add_weight(&p, "weights/model.bin", 12345, 3);
	build_plan_add_weight(&p, "z.safetensors", 20 << 20, 7);
	s = find_step(&p, PLAN_ID_WEIGHTS);
	ok(s && s->copy_from == PLAN_COPY_WEIGHTS && s->n_weights == 2,
	   "two weight layers planned");
	ok(s && strcmp(s->weights[0].path, "weights/model.bin") == 0 &&
		   s->weights[0].size == 12345 && s->weights[0].entry == 3 &&
		   strcmp(s->weights[1].path, "z.safetensors") == 0 && s->weights[1].entry == 7,
	   "weight layers in walk order with their files");
	s = find_step(&p, PLAN_ID_SOURCE);
	ok(s && s->copy_from == PLAN_COPY_MODEL_DIR && s->n_weights == 0,
	   "the source step has no weight layers");
	json = build_plan_to_json(&p);
	j = json_loads(json, 0, NULL);
	step = json_array_get(json_object_get(j, "steps"), p.n_steps - 2);
	layers = json_object_get(json_object_get(step, "copy"), "layers");
	is_str(json_string_value(json_object_get(step, "id")), "weights", "JSON weights step");
	is_str(json_string_value(json_object_get(json_object_get(step, "copy"), "from")), "weights",
	       "JSON copy from weights");
	is_int(json_array_size(layers), 2, "JSON lists both weight layers");
	is_str(json_string_value(json_object_get(json_array_get(layers, 0), "file")),
	       "weights/model.bin", "JSON layer file");
	is_int(json_integer_value(json_object_get(json_array_get(layers, 0), "size")), 12345,
	       "JSON layer size");
	ok(!json_object_get(
		   json_object_get(json_array_get(json_object_get(j, "steps"), p.n_steps - 1),
				   "copy"),
		   "layers"),
	   "JSON source step has no layers");
	f = open_memstream(&text, &tlen);
	build_plan_print_text(&p, f);
	fclose(f);
	ok(tap_contains(text, "COPY weights: . -> /src\n        layer weights/model.bin (12345 "
			      "bytes)\n        layer z.safetensors (20971520 bytes)\n"),
	   "text view lists the weight layers under the weights step");
	ok(tap_contains(text, "COPY tini: embedded tini -> /sbin/tini\n"), "text view of tini");
	free(text);
	build_plan_release(&p);
	o.separate_weights = false;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "plan without separate weights");
	build_plan_add_weight(&p, "weights/model.bin", 12345, 3);
	ok(find_step(&p, PLAN_ID_WEIGHTS) == NULL && !p.separate_weights,
	   "no weights step without --separate-weights: a weight is not planned");
	build_plan_release(&p);
	cog_config_release(&cfg);
}

static void t_misc_steps(void)
{
	const char *y =
		"build:\n  gpu: true\n  python_version: \"3.11\"\n"
		"  python_packages: [\"tensorflow==2.12.0\"]\n  pre_install: [\"echo pre\"]\n"
		"environment: [\"A=1\", \"B=two words\"]\n"
		"predict: \"predict.py:Predictor\"\ntrain: \"train.py:train\"\n";
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;
	cleanup_free char *steps = NULL, *df = NULL;
	const struct plan_step *s;

	if (parse(y, &cfg) < 0)
		return;
	memset(&o, 0, sizeof(o));
	o.cog_wheel = "coglet";
	o.cog_wheel_name = "coglet-0.1.0-py3-none-any.whl";
	o.use_cog_base = PLAN_NO;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "tensorflow GPU plan");
	is_str(p.base_image, "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04",
	       "tensorflow 2.12 (CUDA 11.8, cuDNN 8.6) -> cudnn8 image");
	steps = step_list(&p);
	is_str(steps,
	       "ENV:env COPY:tini ENV:environment ENV:python-env RUN:python RUN:pre_install 1 "
	       "RUN:pip "
	       "RUN:cog ENV:runtime-env COPY:source",
	       "pre_install before the requirements");
	s = find_step(&p, PLAN_ID_USER_ENV);
	ok(s && s->n_env == 2 && strcmp(s->env[1].name, "B") == 0 &&
		   strcmp(s->env[1].value, "two words") == 0,
	   "user environment split at the first =");
	s = find_step(&p, PLAN_ID_COG_WHEEL);
	ok(s && strcmp(s->shell, "pip install --no-cache-dir /tmp/coglet-0.1.0-py3-none-any.whl") ==
			   0,
	   "wheel name from the options");
	ok(s && pn_strv_contains(&s->key_inputs, "COG_WHEEL coglet"), "COG_WHEEL is a key input");
	s = find_step(&p, PLAN_ID_RUNTIME_ENV);
	ok(s && s->n_env == 2 && strcmp(s->env[1].name, "COG_TRAIN_TYPE_STUB") == 0,
	   "train stub next to the predict stub");
	df = build_plan_dockerfile(&cfg, &p);
	ok(tap_contains(df, "ENV B=\"two words\"\n"), "Dockerfile quotes values with spaces");
	ok(tap_contains(df, "COPY .cog/tmp/build/coglet-0.1.0-py3-none-any.whl /tmp/"),
	   "Dockerfile copies the wheel");
	is_str(p.cog_version, "0.1.0", "the Cog version is the installed wheel's");
	ok(p.n_labels >= 2 && strcmp(p.labels[0].name, "run.cog.version") == 0 &&
		   strcmp(p.labels[0].value, "0.1.0") == 0 &&
		   strcmp(p.labels[1].name, "run.pinion.version") == 0 &&
		   strcmp(p.labels[1].value, PN_VERSION) == 0,
	   "run.cog.version is the wheel's, run.pinion.version pinion's");
	build_plan_release(&p);
	/* no wheel named: the embedded SDK's, with its Cog version */
	o.cog_wheel = NULL;
	o.cog_wheel_name = NULL;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "plan with the embedded wheel");
	s = find_step(&p, PLAN_ID_COG_WHEEL);
	ok(s && s->n_files == 1 && strstr(s->files[0].target, "/tmp/cog-0.16.") &&
		   strstr(s->files[0].target, "+pinion." PN_VERSION "-py3-none-any.whl"),
	   "the embedded wheel's real file name");
	ok(p.cog_version && strncmp(p.cog_version, "0.16.", 5) == 0 && !strchr(p.cog_version, '+'),
	   "its Cog version without the local part: %s", p.cog_version);
	build_plan_release(&p);
	cog_config_release(&cfg);
}

static int answer_host(const char *ref, bool *exists, void *ud, struct pn_error **err)
{
	(void)err;
	*(const char **)ud = NULL;
	*exists = strncmp(ref, "mirror.local:5000/cog-base:", 27) == 0;
	return 0;
}

static void t_registry_host_env(void)
{
	const char *y = "build:\n  python_version: \"3.12\"\n";
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;
	const char *dummy = NULL;

	if (parse(y, &cfg) < 0)
		return;
	setenv("COG_REGISTRY_HOST", "mirror.local:5000", 1);
	setenv("COG_WHEEL", "/tmp/my.whl", 1);
	build_plan_opts_init(&o);
	unsetenv("COG_REGISTRY_HOST");
	unsetenv("COG_WHEEL");
	is_str(o.registry_host, "mirror.local:5000", "opts take COG_REGISTRY_HOST");
	is_str(o.cog_wheel, "/tmp/my.whl", "opts take COG_WHEEL");
	o.image_exists = answer_host;
	o.ud = &dummy;
	ok_call(build_plan_make(&cfg, &o, &p, &err), &err, "plan with the registry host");
	is_str(p.base_image, "mirror.local:5000/cog-base:python3.12",
	       "cog-base from COG_REGISTRY_HOST");
	is_str(label(&p, "run.cog.cog-base-image-name"), "mirror.local:5000/cog-base:python3.12",
	       "label names it");
	build_plan_release(&p);
	cog_config_release(&cfg);
}

static void t_env_expand(void)
{
	char *env[] = {(char *)"LD_LIBRARY_PATH=/usr/local/nvidia/lib", (char *)"PATH=/usr/bin",
		       NULL};
	cleanup_free char *a = plan_env_expand("$LD_LIBRARY_PATH:/x", env, NULL);
	cleanup_free char *b = plan_env_expand("/root/bin:${PATH}", env, NULL);
	cleanup_free char *c = plan_env_expand("$UNSET:a$", env, NULL);

	is_str(a, "/usr/local/nvidia/lib:/x", "$NAME");
	is_str(b, "/root/bin:/usr/bin", "${NAME}");
	is_str(c, ":a$", "unset -> empty, lone $ kept");
}

static void t_tristate_flag(void)
{
	enum plan_tristate v = PLAN_AUTO;
	const char *f = "--use-cog-base-image";

	ok(plan_tristate_flag("--use-cog-base-image", f, &v) == 0 && v == PLAN_YES, "bare flag");
	ok(plan_tristate_flag("--use-cog-base-image=false", f, &v) == 0 && v == PLAN_NO, "=false");
	ok(plan_tristate_flag("--use-cog-base-image=true", f, &v) == 0 && v == PLAN_YES, "=true");
	ok(plan_tristate_flag("--use-cog-base-image=auto", f, &v) == 0 && v == PLAN_AUTO, "=auto");
	ok(plan_tristate_flag("--use-cog-base-image=maybe", f, &v) == -2, "other value: -2");
	ok(plan_tristate_flag("--use-cog-base-images", f, &v) == -1, "longer flag: not this one");
	ok(plan_tristate_flag("--use-cuda-base-image", f, &v) == -1, "other flag: -1");
}

static void t_env_display(void)
{
	struct {
		const char *name, *value, *want;
	} c[] = {
		{"PIP_INDEX_URL", "https://idx/simple/", "https://idx/simple/"},
		{"https_proxy", "http://user:pw@proxy:3128", "http://user:***@proxy:3128"},
		{"PIP_EXTRA_INDEX_URL", "https://a:b@x/s https://y/s http://c:d@z",
		 "https://a:***@x/s https://y/s http://c:***@z"},
		{"HTTP_PROXY", "http://ghp_token@proxy", "http://***@proxy"},
		{"no_proxy", "localhost,127.0.0.1", "localhost,127.0.0.1"},
		{"PIP_FIND_LINKS", "/opt/wheels", "/opt/wheels"},
		{"HF_TOKEN", "hf_abc", "***"},
		{"aws_secret_access_key", "x", "***"},
		{"MY_PASSWORD", "", "***"},
		{"EMPTY", "", ""},
		{"ODD", "x://@/:@", "x://***@/:@"},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		cleanup_free char *got = plan_env_display(c[i].name, c[i].value);

		is_str(got, c[i].want, "display %s", c[i].name);
	}
}

static void t_host_env_views(void)
{
	struct build_plan p;
	cleanup_free char *j = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	build_plan_init(&p);
	p.base_image = xstrdup("python:3.11-slim");
	p.base_reason = xstrdup("test");
	p.python_version = xstrdup("3.11");
	p.workdir = xstrdup("/src");
	p.expose = xstrdup("5000/tcp");
	build_plan_add_host_env(&p, "no_proxy", "a", PLAN_ENV_HOST, false);
	build_plan_add_host_env(&p, "GREETING", "cli", PLAN_ENV_BUILD_ENV, true);
	build_plan_add_host_env(&p, "no_proxy", "b", PLAN_ENV_BUILD_ENV, false);
	is_int(p.n_host_env, 2, "a name added twice is replaced");
	build_plan_print_text(&p, f);
	fclose(f);
	ok(tap_contains(text, "  no_proxy=b (--build-env)\n"), "text: source");
	ok(tap_contains(text, "GREETING=cli (--build-env; not used: cog.yaml environment sets it)"),
	   "text: shadowed");
	j = build_plan_to_json(&p);
	ok(tap_contains(j, "\"source\": \"build-env\"") && tap_contains(j, "\"used\": false"),
	   "json: source and used");
	free(text);
	build_plan_release(&p);
}

static void t_host_env_host_path(void)
{
	static const struct {
		const char *v;
		bool path;
	} c[] = {
		{"/opt/wheels", true},
		{"./wheels", true},
		{"..", true},
		{"~/wheels", true},
		{"file:///opt/wheels", true},
		{"FILE:/x", true},
		{"https://idx/simple/ /opt/w", true},
		{"https://idx/simple/", false},
		{"http://proxy:3128", false},
		{"localhost,127.0.0.1,.internal", false},
		{".internal", false},
		{"180", false},
		{"", false},
	};
	struct build_plan p;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ok(plan_env_names_host_path(c[i].v) == c[i].path, "host path? `%s`: %s", c[i].v,
		   c[i].path ? "yes" : "no");
	build_plan_init(&p);
	build_plan_add_host_env(&p, "PIP_FIND_LINKS", "/opt/wheels", PLAN_ENV_HOST, false);
	build_plan_add_host_env(&p, "PIP_CERT", "/etc/ca.crt", PLAN_ENV_BUILD_ENV_HOST, false);
	ok(!plan_host_env_used(&p.host_env[0]), "a host path from the pass-through is not passed");
	ok(plan_host_env_used(&p.host_env[1]), "--build-env NAME passes a host path all the same");
	build_plan_release(&p);
}

int main(void)
{
	TEST(t_env_display);
	TEST(t_host_env_views);
	TEST(t_host_env_host_path);
	TEST(t_tristate_flag);
	TEST(t_cpu_plan);
	TEST(t_gpu_plan);
	TEST(t_misc_steps);
	TEST(t_weight_layers);
	TEST(t_registry_host_env);
	TEST(t_env_expand);
	return tap_done();
}
