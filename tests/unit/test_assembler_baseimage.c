/* test_assembler_baseimage.c - cog-base images: the image --cuda/--python/
 * --torch name, Cog's packages, the completed config, the plan without the
 * model steps, its Dockerfile, labels and the generate-matrix JSON. */
#include "tests/unit/tap.h"
#include "assembler/base_image.h"
#include "common/cleanup.h"

#include <stdlib.h>

static const struct plan_step *find_step(const struct build_plan *p, enum plan_step_id id)
{
	for (size_t i = 0; i < p->n_steps; i++)
		if (p->steps[i].id == id)
			return &p->steps[i];
	return NULL;
}

static const char *label(const struct build_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_labels; i++)
		if (strcmp(p->labels[i].name, name) == 0)
			return p->labels[i].value;
	return NULL;
}

static void t_resolve(void)
{
	struct base_image b;
	struct pn_error *err = NULL;
	size_t n = 1;

	ok_call(base_image_resolve("12.1", "3.11", "2.1.0", &b, &err), &err, "resolve the example");
	is_str(b.tag, "cuda12.1-python3.11-torch2.1.0", "tag");
	is_str(b.torch, "2.1.0", "torch without suffix");
	is_int(b.python_packages.n, 4, "four Python packages");
	is_str(b.python_packages.v[0], "torch==2.1.0", "torch first");
	is_str(b.python_packages.v[1], BASE_IMAGE_OPENCV, "then opencv-python");
	is_str(b.python_packages.v[2], "torchvision==0.16.0", "then torchvision");
	is_str(b.python_packages.v[3], "torchaudio==2.1.0", "then torchaudio");
	for (const char *p = BASE_IMAGE_SYSTEM_PACKAGES; *p; p++)
		n += *p == ' ';
	is_int(b.system_packages.n, n, "Cog's system packages");
	is_str(b.system_packages.v[26], "zstd", "the last of them");
	is_int(n, 27, "27 of them, as Cog's base.go lists");
	base_image_set_system_packages(&b, " zip, zstd\tjq ");
	is_int(b.system_packages.n, 3, "replaced by a list with commas and spaces");
	is_str(b.system_packages.v[2], "jq", "its last");
	base_image_set_system_packages(&b, "");
	is_int(b.system_packages.n, 0, "\"\" is none");
	base_image_release(&b);
	ok_call(base_image_resolve(NULL, "3.12", NULL, &b, &err), &err, "Python alone");
	is_int(b.python_packages.n, 0, "no Python packages without torch");
	ok(!b.cuda && !b.torch, "no CUDA, no torch");
	base_image_release(&b);
	ok_fail(base_image_resolve("11.0", "3.11", NULL, &b, &err), &err, PN_ERR_INVALID,
		"unsupported base image configuration: CUDA: 11.0 / Python: 3.11 / Torch: (none)",
		"Cog's message for a combination the matrix does not make");
	ok_fail(base_image_resolve("12.1", NULL, "2.1.0", &b, &err), &err, PN_ERR_INVALID,
		"Python: (none)", "no Python");
}

static void t_gpu_plan(void)
{
	struct base_image b;
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;
	cleanup_free char *df = NULL;

	build_plan_opts_init(&o);
	o.registry_host = "ignored.example";
	ok_call(base_image_resolve("12.1", "3.11", "2.1.0", &b, &err), &err, "resolve");
	b.context_dir = xstrdup("/nonexistent/ctx");
	ok_call(base_image_config(&b, &cfg, &err), &err, "config");
	ok(cfg.build.gpu, "gpu");
	is_str(cfg.build.cuda, "12.1", "CUDA");
	is_str(cfg.build.cudnn, "8", "cuDNN completed");
	is_str(cfg.dir, "/nonexistent/ctx", "the context stands for the model directory");
	ok(strncmp(cfg.requirements, "--extra-index-url https://download.pytorch.org/whl/cu121/\n",
		   56) == 0,
	   "the matrix's wheel index first");
	ok(tap_contains(cfg.requirements, "\ntorchvision==0.16.0\n"), "torchvision pinned");
	ok_call(base_image_plan(&b, &cfg, &o, &p, &err), &err, "plan");
	is_str(p.base_image, "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04", "on nvidia/cuda");
	ok(!p.cog_base && p.cuda_base, "not on a cog-base");
	ok(find_step(&p, PLAN_ID_TINI) && find_step(&p, PLAN_ID_APT) &&
		   find_step(&p, PLAN_ID_PYTHON) && find_step(&p, PLAN_ID_PIP),
	   "tini, apt, python, pip");
	ok(!find_step(&p, PLAN_ID_COG_WHEEL) && !find_step(&p, PLAN_ID_SOURCE) &&
		   !find_step(&p, PLAN_ID_WEIGHTS) && !find_step(&p, PLAN_ID_RUNTIME_ENV),
	   "no cog wheel, source, weights or runtime env");
	ok(!p.workdir && !p.expose && p.cmd.n == 0 && p.entrypoint.n == 2, "entrypoint only");
	is_str(label(&p, "run.cog.base-image.torch"), "2.1.0", "label: torch");
	is_str(label(&p, "run.cog.base-image.cudnn"), "8", "label: cuDNN");
	is_str(label(&p, "run.cog.base-image.torchaudio"), "2.1.0", "label: torchaudio");
	ok(!label(&p, "run.cog.config") && !label(&p, "run.cog.version"), "no model labels");
	df = build_plan_dockerfile(&cfg, &p);
	ok(tap_contains(df, "\nFROM nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04\n"), "FROM");
	ok(tap_contains(df, "apt-get install -qqy build-essential cmake curl ffmpeg"),
	   "Cog's packages");
	ok(!tap_contains(df, "CMD") && !tap_contains(df, "COPY . /src") &&
		   !tap_contains(df, ".whl"),
	   "no model part in the Dockerfile");
	build_plan_release(&p);
	cog_config_release(&cfg);
	base_image_release(&b);
}

static void t_cpu_plan(void)
{
	struct base_image b;
	struct cog_config cfg;
	struct build_plan p;
	struct build_plan_opts o;
	struct pn_error *err = NULL;

	build_plan_opts_init(&o);
	ok_call(base_image_resolve(NULL, "3.11", "2.1.0", &b, &err), &err, "resolve CPU");
	ok_call(base_image_config(&b, &cfg, &err), &err, "config");
	ok(!cfg.build.gpu && !cfg.build.cuda, "CPU");
	ok(tap_contains(cfg.requirements, "whl/cpu/"), "the CPU wheel index");
	ok_call(base_image_plan(&b, &cfg, &o, &p, &err), &err, "plan");
	is_str(p.base_image, "python:3.11-slim", "on python slim");
	ok(!find_step(&p, PLAN_ID_PYTHON), "no Python install");
	ok(!label(&p, "run.cog.base-image.cuda"), "no CUDA label");
	build_plan_release(&p);
	cog_config_release(&cfg);
	base_image_release(&b);
}

static void t_matrix_json(void)
{
	cleanup_free char *all = base_image_matrix_json(NULL, NULL, NULL);
	cleanup_free char *f = base_image_matrix_json("12.1", "3.11", "2.1.0");
	cleanup_json json_t *a = json_loads(all, 0, NULL), *b = json_loads(f, 0, NULL);
	size_t n;

	compat_cog_base_table(&n);
	is_int(json_array_size(a), n, "every entry");
	is_int(json_array_size(b), 1, "filters: one");
	is_str(json_string_value(json_object_get(json_array_get(b, 0), "torch_version")),
	       "2.1.0+cu121", "torch as listed (the filter matches its base)");
	is_str(json_string_value(json_object_get(json_array_get(b, 0), "image_tag")),
	       "cuda12.1-python3.11-torch2.1.0", "image_tag");
	is_str(json_string_value(json_object_get(json_array_get(a, 0), "cuda_version")), "",
	       "\"\" for no CUDA, as Cog");
}

static void t_labels_finish(void)
{
	struct oci_config c;

	oci_config_init(&c);
	oci_config_set_label(&c, "run.cog.config", "{}");
	oci_config_set_label(&c, "run.cog.version", "0.16.12");
	oci_config_set_label(&c, "run.cog.pip_freeze", "torch==2.1.0");
	base_image_labels_finish(&c);
	ok(!json_object_get(c.labels, "run.cog.config") &&
		   !json_object_get(c.labels, "run.cog.version"),
	   "the model labels go");
	ok(json_object_get(c.labels, "run.cog.pip_freeze") != NULL, "pip freeze stays");
	oci_config_release(&c);
}

int main(void)
{
	TEST(t_resolve);
	TEST(t_gpu_plan);
	TEST(t_cpu_plan);
	TEST(t_matrix_json);
	TEST(t_labels_finish);
	return tap_done();
}
