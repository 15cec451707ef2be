/* test_compat.c - the matrices against Cog's reference data (every torch and
 * tensorflow version: completed CUDA/cuDNN and the requirements rewrite equal
 * what BUILD-FACTS.md's rules give on the reference JSON, computed here
 * independently), TSV parsing, versions, base image choice. */
#include "tests/unit/tap.h"
#include "compat/compat.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <unistd.h>

/* ------------------------------------------------ independent helpers */
static int vcmp(const char *a, const char *b)
{
	int x[3] = {0, 0, 0}, y[3] = {0, 0, 0}, i;

	sscanf(a, "%d.%d.%d", &x[0], &x[1], &x[2]);
	sscanf(b, "%d.%d.%d", &y[0], &y[1], &y[2]);
	for (i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

static char *base_of(const char *v)
{
	return xstrndup(v, strcspn(v, "+"));
}

static char *majmin(const char *v)
{
	int a = 0, b = 0;

	sscanf(v, "%d.%d", &a, &b);
	return xasprintf("%d.%d", a, b);
}

static const char *ref_dir(void)
{
	static const char *const dirs[] = {"../shared/reference/cog", "/work/shared/reference/cog",
					   NULL};
	size_t i;

	for (i = 0; dirs[i]; i++)
		if (access(dirs[i], R_OK) == 0)
			return dirs[i];
	return NULL;
}

static json_t *ref_load(const char *name)
{
	cleanup_free char *p = xasprintf("%s/%s", ref_dir(), name);
	json_error_t je;
	json_t *j = json_load_file(p, 0, &je);

	if (!j)
		tap_diag("load %s: %s", p, je.text);
	return j;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* highest cuDNN among CUDA base images for cuda (maj.min) in the reference */
static char *ref_cudnn(json_t *cuda, const char *cu)
{
	size_t i;
	json_t *e;
	const char *best = NULL;

	json_array_foreach(cuda, i, e)
	{
		cleanup_free char *mm = majmin(jstr(e, "CUDA"));

		if (strcmp(mm, cu) == 0 && (!best || vcmp(jstr(e, "CuDNN"), best) > 0))
			best = jstr(e, "CuDNN");
	}
	return best ? xstrdup(best) : NULL;
}

/* expected rewrite of "<pkg>==<ver>\n" by the BUILD-FACTS rules */
static char *ref_rewrite(json_t *torch, const char *key, const char *pkg, const char *ver, bool gpu,
			 const char *cu)
{
	json_t *e, *best = NULL;
	size_t i;

	json_array_foreach(torch, i, e)
	{
		cleanup_free char *b = base_of(jstr(e, key));
		json_t *c = json_object_get(e, "CUDA");

		if (strcmp(b, ver) != 0)
			continue;
		if (!gpu && json_is_null(c)) {
			best = e;
			break;
		}
		if (gpu && json_is_string(c) && vcmp(json_string_value(c), cu) <= 0 &&
		    (!best || vcmp(json_string_value(c), jstr(best, "CUDA")) > 0))
			best = e;
	}
	if (!best)
		return xasprintf("%s==%s\n", pkg, ver);
	{
		cleanup_free char *v = gpu ? base_of(jstr(best, key)) : xstrdup(jstr(best, key));
		const char *url = jstr(best, "ExtraIndexURL");

		if (*url)
			return xasprintf("--extra-index-url %s\n%s==%s\n", url, pkg, v);
		return xasprintf("%s==%s\n", pkg, v);
	}
}

static void check_torch_version(json_t *torch, json_t *cuda, const char *ver, size_t *bad)
{
	struct compat_cuda_req req = {NULL, NULL, ver, true, NULL};
	struct compat_cuda_result res;
	struct pn_error *err = NULL;
	const char *want_cuda = NULL;
	cleanup_free char *want_cudnn = NULL, *line = xasprintf("torch==%s\n", ver);
	cleanup_free char *gpu_got = NULL, *gpu_want = NULL, *cpu_got = NULL, *cpu_want = NULL;
	json_t *e;
	size_t i;

	json_array_foreach(torch, i, e)
	{
		cleanup_free char *b = base_of(jstr(e, "Torch"));
		const char *c = jstr(e, "CUDA");

		if (strcmp(b, ver) == 0 && c && (!want_cuda || vcmp(c, want_cuda) > 0))
			want_cuda = c;
	}
	if (!want_cuda)
		return; /* no CUDA build listed: covered by the error case below */
	want_cudnn = ref_cudnn(cuda, want_cuda);
	if (compat_cuda_complete(&req, &res, &err) < 0) {
		tap_diag("torch %s: %s", ver, err->msg);
		pn_error_clear(&err);
		(*bad)++;
		return;
	}
	if (strcmp(res.cuda, want_cuda) || !want_cudnn || strcmp(res.cudnn, want_cudnn)) {
		tap_diag("torch %s: got CUDA %s cuDNN %s, want %s %s", ver, res.cuda, res.cudnn,
			 want_cuda, want_cudnn ? want_cudnn : "?");
		(*bad)++;
	}
	gpu_got = compat_requirements_rewrite(line, true, res.cuda);
	gpu_want = ref_rewrite(torch, "Torch", "torch", ver, true, res.cuda);
	cpu_got = compat_requirements_rewrite(line, false, NULL);
	cpu_want = ref_rewrite(torch, "Torch", "torch", ver, false, NULL);
	if (strcmp(gpu_got, gpu_want) || strcmp(cpu_got, cpu_want)) {
		tap_diag("torch %s rewrite:\ngot gpu:\n%swant:\n%sgot cpu:\n%swant:\n%s", ver,
			 gpu_got, gpu_want, cpu_got, cpu_want);
		(*bad)++;
	}
	compat_cuda_result_release(&res);
}

static void t_reference_torch(void)
{
	cleanup_json json_t *torch = NULL, *cuda = NULL;
	cleanup_strv struct pn_strv seen = PN_STRV_INIT;
	size_t i, n, bad = 0, bad_suffix = 0, bad_tv = 0, suffixed = 0;
	json_t *e;

	if (!ref_dir()) {
		ok(1, "reference torch matrix # SKIP ../shared/reference/cog is absent");
		return;
	}
	torch = ref_load("torch_compatibility.json");
	cuda = ref_load("cuda_compatibility.json");
	ok(torch && cuda, "reference JSON loads");
	if (!torch || !cuda)
		return;
	compat_torch_table(&n);
	is_int(n, json_array_size(torch), "embedded torch table has every reference row");
	json_array_foreach(torch, i, e)
	{
		cleanup_free char *b = base_of(jstr(e, "Torch"));
		const char *c = jstr(e, "CUDA");

		if (!pn_strv_contains(&seen, b)) {
			pn_strv_push(&seen, b);
			check_torch_version(torch, cuda, b, &bad);
		}
		if (c && strchr(jstr(e, "Torch"), '+')) {
			/* torch==X+cuXYZ -> that CUDA */
			struct compat_cuda_req req = {NULL, NULL, jstr(e, "Torch"), true, NULL};
			struct compat_cuda_result res;
			struct pn_error *err = NULL;

			cleanup_free char *has_image = ref_cudnn(cuda, c);

			suffixed++;
			if (!has_image) {
				/* CUDA < 11: no base image, so no cuDNN: an error */
				if (compat_cuda_complete(&req, &res, &err) == 0) {
					compat_cuda_result_release(&res);
					bad_suffix++;
				}
				pn_error_clear(&err);
			} else if (compat_cuda_complete(&req, &res, &err) < 0 ||
				   strcmp(res.cuda, c) != 0) {
				tap_diag("torch %s: want CUDA %s", jstr(e, "Torch"), c);
				bad_suffix++;
				pn_error_clear(&err);
			} else {
				compat_cuda_result_release(&res);
			}
		}
		if (c) {
			/* torchvision at this row's CUDA */
			cleanup_free char *tv = base_of(jstr(e, "Torchvision"));
			cleanup_free char *line = xasprintf("torchvision==%s\n", tv);
			cleanup_free char *got = compat_requirements_rewrite(line, true, c);
			cleanup_free char *want =
				ref_rewrite(torch, "Torchvision", "torchvision", tv, true, c);

			if (strcmp(got, want)) {
				tap_diag("torchvision %s at CUDA %s:\ngot:\n%swant:\n%s", tv, c,
					 got, want);
				bad_tv++;
			}
		}
	}
	ok(seen.n >= 25, "%zu torch versions checked", seen.n);
	is_int(bad, 0, "every torch version: CUDA, cuDNN, GPU and CPU rewrite as the rules give");
	ok(suffixed > 50 && bad_suffix == 0,
	   "every torch+cuXYZ pin (%zu) completes to its CUDA (or fails when it has no base image)",
	   suffixed);
	is_int(bad_tv, 0, "every torchvision pin rewritten with the right index");
}

static void t_reference_tf(void)
{
	cleanup_json json_t *tf = NULL;
	size_t i, n, bad = 0;
	json_t *e;

	if (!ref_dir()) {
		ok(1, "reference tensorflow matrix # SKIP ../shared/reference/cog is absent");
		return;
	}
	tf = ref_load("tf_compatibility.json");
	ok(tf != NULL, "reference tf JSON loads");
	if (!tf)
		return;
	compat_tf_table(&n);
	is_int(n, json_array_size(tf), "embedded tensorflow table has every reference row");
	json_array_foreach(tf, i, e)
	{
		struct compat_cuda_req req = {NULL, NULL, NULL, false, jstr(e, "TF")};
		struct compat_cuda_result res;
		struct pn_error *err = NULL;
		cleanup_free char *line = xasprintf("tensorflow==%s\n", jstr(e, "TF"));
		cleanup_free char *gpu = NULL, *cpu = NULL, *wgpu = NULL, *wcpu = NULL;

		if (compat_cuda_complete(&req, &res, &err) < 0) {
			tap_diag("tensorflow %s: %s", jstr(e, "TF"), err->msg);
			pn_error_clear(&err);
			bad++;
			continue;
		}
		if (strcmp(res.cuda, jstr(e, "CUDA")) || strcmp(res.cudnn, jstr(e, "CuDNN"))) {
			tap_diag("tensorflow %s: got %s/%s", jstr(e, "TF"), res.cuda, res.cudnn);
			bad++;
		}
		gpu = compat_requirements_rewrite(line, true, res.cuda);
		cpu = compat_requirements_rewrite(line, false, NULL);
		wgpu = xasprintf("%s\n", jstr(e, "TFGPUPackage"));
		wcpu = xasprintf("%s\n", jstr(e, "TFCPUPackage"));
		if (strcmp(gpu, wgpu) || strcmp(cpu, wcpu)) {
			tap_diag("tensorflow %s rewrite: %s / %s", jstr(e, "TF"), gpu, cpu);
			bad++;
		}
		compat_cuda_result_release(&res);
	}
	is_int(bad, 0, "every tensorflow version (%zu): CUDA, cuDNN and package as the table gives",
	       json_array_size(tf));
}

static void t_completion_rules(void)
{
	struct compat_cuda_req req = {NULL, NULL, NULL, true, NULL};
	struct compat_cuda_result res;
	struct pn_error *err = NULL;

	ok_fail(compat_cuda_complete(&req, &res, &err), &err, PN_ERR_INVALID,
		"torch version must be specified when using CUDA",
		"unpinned torch with gpu refused");
	req.torch_listed = false;
	ok_call(compat_cuda_complete(&req, &res, &err), &err, "neither pinned");
	is_str(res.cuda, "11.8", "default CUDA 11.8");
	is_str(res.cudnn, "8", "default cuDNN 8");
	compat_cuda_result_release(&res);
	req.torch = "2.1.0";
	req.torch_listed = true;
	ok_call(compat_cuda_complete(&req, &res, &err), &err, "torch==2.1.0");
	is_str(res.cuda, "12.1", "BUILD-FACTS example: torch 2.1.0 -> CUDA 12.1");
	is_str(res.cudnn, "8", "... cuDNN 8");
	is_int(res.warnings.n, 0, "no warning");
	compat_cuda_result_release(&res);
	req.cuda = "11.7";
	ok_call(compat_cuda_complete(&req, &res, &err), &err, "user CUDA not listed");
	is_str(res.cuda, "11.7", "user CUDA kept");
	ok(res.warnings.n == 1 && tap_contains(res.warnings.v[0], "try cuda: \"12.1\""),
	   "warning suggests the listed CUDA");
	compat_cuda_result_release(&res);
	req.torch = NULL;
	req.torch_listed = false;
	req.cuda = NULL;
	req.tensorflow = "2.3.0";
	ok_fail(compat_cuda_complete(&req, &res, &err), &err, PN_ERR_INVALID, "tensorflow 2.3.0",
		"unknown tensorflow names the version");
	req.tensorflow = NULL;
	req.cuda = "10.0";
	ok_fail(compat_cuda_complete(&req, &res, &err), &err, PN_ERR_INVALID, "CUDA 10.0",
		"CUDA without a base image: cuDNN unknown");
}

static void t_versions_and_reqs(void)
{
	cleanup_free char *a = compat_version_majmin("12.1.1");
	cleanup_free char *b = compat_cuda_from_suffix("2.1.0+cu121");
	cleanup_free char *c = compat_cuda_from_suffix("2.1.0+cpu");
	cleanup_free char *name = NULL, *ver = NULL;
	cleanup_free char *rw = NULL;

	ok(compat_version_cmp("12.10", "12.9") > 0, "12.10 > 12.9");
	ok(compat_version_cmp("8", "8.0") == 0, "8 == 8.0");
	ok(compat_version_cmp("2.1.0+cu121", "2.1.0") == 0, "local suffix ignored");
	is_str(a, "12.1", "majmin");
	is_str(b, "12.1", "CUDA from +cu121");
	ok(c == NULL, "no CUDA from +cpu");
	ok(compat_req_pin("Torch == 2.1.0 ; python_version > \"3\"", &name, &ver) == 1,
	   "pin with spaces and marker");
	is_str(name, "torch", "name normalised");
	is_str(ver, "2.1.0", "version");
	ok(compat_req_pin("torch>=2.0", &name, &ver) == 0, "range is not a pin");
	ok(compat_req_pin("torch==2.*", &name, &ver) == 0, "wildcard is not a pin");
	ok(compat_req_pin("--extra-index-url x", &name, &ver) == 0, "option is not a pin");
	ok(compat_req_names("torch[extra]>=2", "torch"), "unpinned torch is named");
	ok(!compat_req_names("torchvision", "torch"), "torchvision is not torch");
	rw = compat_requirements_rewrite("numpy\ntorch==2.1.0 --index-url https://x/\r\n# c\n",
					 true, "12.1");
	is_str(rw, "numpy\ntorch==2.1.0 --index-url https://x/\n# c\n",
	       "lines with their own index options pass through; other lines untouched");
	free(rw);
	rw = compat_requirements_rewrite("torch==2.1.0\t--hash=sha256:00\n", false, NULL);
	is_str(rw, "torch==2.1.0\t--hash=sha256:00\n", "an option after a tab passes through too");
	free(rw);
	rw = compat_requirements_rewrite("torch>=2.0\nnumpy==1.26.4\ntorchvision==0.16.0\n", true,
					 "12.1");
	is_str(rw,
	       "--extra-index-url https://download.pytorch.org/whl/cu121/\n"
	       "torch>=2.0\nnumpy==1.26.4\ntorchvision==0.16.0\n",
	       "unpinned torch passes through; a pinned torchvision puts the index at the top");
}

static void t_python_warning(void)
{
	cleanup_free char *a = compat_python_warning("2.1.0", NULL, "3.13");
	cleanup_free char *b = compat_python_warning("2.1.0", NULL, "3.11");
	cleanup_free char *c = compat_python_warning(NULL, "2.12.0", "3.12");
	cleanup_free char *d = compat_python_warning("9.9.9", NULL, "3.12");

	is_str(a, "torch 2.1.0 has no wheel for Python 3.13 (it has 3.10,3.11)",
	       "torch without a wheel for the Python");
	ok(b == NULL, "torch with a wheel: no warning");
	is_str(c, "tensorflow 2.12.0 is not tested with Python 3.12 (it is with 3.8,3.9,3.10,3.11)",
	       "tensorflow not tested with the Python");
	ok(d == NULL, "unknown torch: nothing to say");
}

static void t_tsv(void)
{
	struct compat_cuda_image *rows = NULL;
	struct pn_error *err = NULL;
	char *storage = NULL;
	size_t n = 0;
	const char *good = "# header\n12.1.1-cudnn8-devel-ubuntu22.04\t12.1.1\t8\t22.04\t1\n\n";

	ok_call(compat_cuda_parse(good, strlen(good), &rows, &n, &storage, &err), &err,
		"parse cuda TSV");
	is_int(n, 1, "one row (comments and blank lines skipped)");
	is_str(n ? rows[0].ubuntu : NULL, "22.04", "fields");
	free(rows);
	free(storage);
	ok_fail(compat_cuda_parse("a\tb\n", 4, &rows, &n, &storage, &err), &err, PN_ERR_INVALID,
		"line 1", "short line refused with its number");
}

/* ------------------------------------------------------------ base image */
struct registry_table {
	const char *const *have;
	int calls;
	const char *last;
};

static int table_exists(const char *ref, bool *exists, void *ud, struct pn_error **err)
{
	struct registry_table *t = ud;
	size_t i;

	t->calls++;
	t->last = NULL;
	if (strstr(ref, "unreachable"))
		return pn_error_set(err, PN_ERR_NETWORK, "connect: refused");
	*exists = false;
	for (i = 0; t->have[i]; i++)
		if (strcmp(t->have[i], ref) == 0)
			*exists = true;
	return 0;
}

static void t_base_choice(void)
{
	static const char *const have[] = {
		"r8.im/cog-base:cuda12.1-python3.11-torch2.1.0",
		"my.registry:5000/cog-base:cuda12.1-python3.11-torch2.1.0",
		"r8.im/cog-base:python3.11", NULL};
	struct registry_table tab = {have, 0, NULL};
	struct compat_base_req gpu = {true,	   "3.11",	"12.1", "8",	      "2.1.0",
				      COMPAT_AUTO, COMPAT_AUTO, NULL,	table_exists, &tab};
	struct compat_base_req cpu = {false,	   "3.12",	NULL, NULL,	    NULL,
				      COMPAT_AUTO, COMPAT_AUTO, NULL, table_exists, &tab};
	struct compat_base_choice c;
	struct pn_error *err = NULL;
	cleanup_free char *r1 = compat_cog_base_ref(NULL, "12.1", "3.11", "2.1.0+cu121");
	cleanup_free char *r2 = compat_cog_base_ref(NULL, NULL, "3.11", NULL);
	cleanup_free char *r3 = compat_cog_base_ref("h", NULL, NULL, NULL);

	is_str(r1, "r8.im/cog-base:cuda12.1-python3.11-torch2.1.0", "cog-base name, all parts");
	is_str(r2, "r8.im/cog-base:python3.11", "cog-base name, python only");
	is_str(r3, "h/cog-base:latest", "cog-base name, none");
	ok_call(compat_base_choose(&cpu, &c, &err), &err, "CPU 3.12 (no cog-base in registry)");
	is_str(c.image, "python:3.12-slim", "CPU: python slim");
	ok(!c.cog_base && !c.cuda_base, "CPU flags");
	compat_base_choice_release(&c);
	cpu.python = "3.11";
	ok_call(compat_base_choose(&cpu, &c, &err), &err, "CPU 3.11 with a cog-base");
	is_str(c.image, "r8.im/cog-base:python3.11", "CPU: cog-base hit");
	compat_base_choice_release(&c);
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "GPU torch 2.1.0 cu12.1");
	is_str(c.image, "r8.im/cog-base:cuda12.1-python3.11-torch2.1.0", "GPU: cog-base hit");
	ok(c.cog_base && !c.cuda_base, "cog-base flag");
	compat_base_choice_release(&c);
	gpu.python = "3.10";
	tab.calls = 0;
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "GPU miss");
	is_str(c.image, "nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04",
	       "GPU miss: nvidia/cuda, highest patch and Ubuntu");
	ok(c.cuda_base && tab.calls == 1, "registry asked once");
	compat_base_choice_release(&c);
	gpu.cuda = "11.8";
	gpu.torch = NULL;
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "GPU 11.8");
	is_str(c.image, "nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04", "BUILD-FACTS 11.8 example");
	compat_base_choice_release(&c);
	gpu.cuda = "12.1";
	gpu.torch = "2.1.0";
	gpu.python = "3.11";
	gpu.use_cog_base = COMPAT_NO;
	tab.calls = 0;
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "--use-cog-base-image=false");
	ok(c.cuda_base && tab.calls == 0, "no cog-base, no registry call");
	compat_base_choice_release(&c);
	gpu.use_cuda_base = COMPAT_NO;
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "--use-cuda-base-image=false");
	is_str(c.image, "python:3.11-slim", "GPU without CUDA base: python slim");
	compat_base_choice_release(&c);
	gpu.use_cuda_base = COMPAT_AUTO;
	gpu.use_cog_base = COMPAT_YES;
	gpu.python = "3.10";
	ok_fail(compat_base_choose(&gpu, &c, &err), &err, PN_ERR_NOT_FOUND,
		"not found in the registry", "--use-cog-base-image with a miss is an error");
	gpu.torch = "1.11.0";
	ok_fail(compat_base_choose(&gpu, &c, &err), &err, PN_ERR_NOT_FOUND,
		"no cog-base image is made", "--use-cog-base-image with an impossible combination");
	gpu.torch = "2.1.0";
	gpu.python = "3.11";
	gpu.use_cog_base = COMPAT_AUTO;
	gpu.registry_host = "my.registry:5000";
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "COG_REGISTRY_HOST");
	is_str(c.image, "my.registry:5000/cog-base:cuda12.1-python3.11-torch2.1.0",
	       "host replaced");
	compat_base_choice_release(&c);
	gpu.registry_host = "unreachable.example";
	ok_fail(compat_base_choose(&gpu, &c, &err), &err, PN_ERR_NETWORK, "check cog-base image",
		"registry failure is reported with context");
	gpu.registry_host = NULL;
	gpu.image_exists = NULL;
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "existence check off");
	ok(c.cuda_base, "check off: AUTO does not assume a cog-base");
	compat_base_choice_release(&c);
	ok(compat_cuda_image_tag("12.4", "9") && strcmp(compat_cuda_image_tag("12.4", "9"),
							"12.4.1-cudnn-devel-ubuntu22.04") == 0,
	   "12.4 cuDNN 9 tag");
	ok(compat_cuda_image_tag("11.2", "8.1") != NULL,
	   "tensorflow cuDNN 8.1 matches cudnn8 images");
	ok(compat_cuda_image_tag("10.2", "8") == NULL, "unknown CUDA: no tag");
}

int main(void)
{
	TEST(t_reference_torch);
	TEST(t_reference_tf);
	TEST(t_completion_rules);
	TEST(t_versions_and_reqs);
	TEST(t_python_warning);
	TEST(t_tsv);
	TEST(t_base_choice);
	return tap_done();
}
