/* cmd_compat.c - `pinion compat torch|tensorflow|cuda [VERSION] [--json]`:
 * what the embedded compatibility matrices say. */
#include "assembler/cli/opt.h"
#include "common/common.h"
#include "common/cleanup.h"
#include "compat/compat.h"
#include "oci/oci.h"

#include <stdlib.h>
#include <string.h>

static const char compat_intro[] =
	"usage: pinion compat torch|tensorflow|cuda [VERSION] [--json]\n\n"
	"Print what pinion's compatibility matrices say (the data Cog uses):\n"
	"  torch [VER]       torch builds: CUDA or cpu, torchvision, torchaudio, wheel index, "
	"Pythons;\n"
	"                    with VER also the CUDA/cuDNN that `gpu: true` completes to\n"
	"  tensorflow [VER]  tensorflow: CUDA, cuDNN, Pythons, nvidia/cuda base image\n"
	"  cuda [VER]        CUDA base images: cuDNN, Ubuntu, the tag pinion picks\n"
	"Without VER, lists the known versions.\n\n"
	"Options:\n";

static const struct cli_opt compat_opts[] = {
	{"json", 0, CLI_ARG_NONE, NULL, 0, NULL, "print JSON", 0},
};

static json_t *pythons_json(const char *list)
{
	json_t *a = json_array();
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(a, json_stringn(p, n));
		p = p[n] ? p + n + 1 : NULL;
	}
	return a;
}

static void emit(json_t *o, bool as_json)
{
	cleanup_free char *t = NULL;

	if (!as_json)
		return;
	t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", t);
}

/* distinct versions of a column, in table order */
static void list_versions(const char *what, struct pn_strv *v, bool as_json)
{
	cleanup_json json_t *o = json_pack("{s:s}", "matrix", what);
	size_t i;

	json_object_set_new(o, "versions", oci_strv_to_json(v));
	if (as_json) {
		emit(o, true);
		return;
	}
	printf("%s versions:", what);
	for (i = 0; i < v->n; i++)
		printf(" %s", v->v[i]);
	printf("\n");
}

static int compat_torch(const char *ver, bool as_json)
{
	size_t n, i;
	const struct compat_torch *t = compat_torch_table(&n);
	cleanup_json json_t *o = NULL;
	json_t *builds = json_array();
	struct compat_cuda_req req = {NULL, NULL, ver, true, NULL};
	struct compat_cuda_result res;
	struct pn_error *err = NULL;
	cleanup_strv struct pn_strv all = PN_STRV_INIT;

	if (!ver) {
		json_decref(builds);
		for (i = 0; i < n; i++) {
			cleanup_free char *b = compat_version_base(t[i].torch);

			if (!pn_strv_contains(&all, b))
				pn_strv_push(&all, b);
		}
		list_versions("torch", &all, as_json);
		return 0;
	}
	for (i = 0; i < n && compat_version_cmp(t[i].torch, ver) != 0; i++)
		;
	if (i == n) {
		json_decref(builds);
		pn_error_set(&err, PN_ERR_NOT_FOUND, "torch %s is not in the compatibility matrix",
			     ver);
		pn_error_hint(&err, "`pinion compat torch` lists the known versions");
		return pn_cli_fail(err);
	}
	o = json_pack("{s:s}", "torch", ver);
	if (!as_json)
		printf("torch %s\n", ver);
	for (i = 0; i < n; i++) {
		if (compat_version_cmp(t[i].torch, ver) != 0)
			continue;
		json_array_append_new(
			builds,
			json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:o}", "torch", t[i].torch,
				  "torchvision", t[i].torchvision, "torchaudio", t[i].torchaudio,
				  "cuda", t[i].cuda ? json_string(t[i].cuda) : json_null(),
				  "index_url", t[i].index_url, "find_links", t[i].find_links,
				  "pythons", pythons_json(t[i].pythons)));
		if (!as_json)
			printf("  %-6s torch==%s torchvision==%s torchaudio==%s python %s%s%s\n",
			       t[i].cuda ? t[i].cuda : "cpu", t[i].torch, t[i].torchvision,
			       t[i].torchaudio, t[i].pythons, *t[i].index_url ? " index " : "",
			       t[i].index_url);
	}
	json_object_set_new(o, "builds", builds);
	if (compat_cuda_complete(&req, &res, &err) == 0) {
		json_object_set_new(o, "gpu_cuda", json_string(res.cuda));
		json_object_set_new(o, "gpu_cudnn", json_string(res.cudnn));
		if (!as_json)
			printf("gpu: true completes to CUDA %s, cuDNN %s\n", res.cuda, res.cudnn);
		compat_cuda_result_release(&res);
	} else {
		pn_error_clear(&err);
	}
	emit(o, as_json);
	return 0;
}

static int compat_tensorflow(const char *ver, bool as_json)
{
	size_t n, i;
	const struct compat_tf *t = compat_tf_table(&n), *tf;
	cleanup_json json_t *o = NULL;
	cleanup_strv struct pn_strv all = PN_STRV_INIT;
	struct pn_error *err = NULL;
	const char *tag;

	if (!ver) {
		for (i = 0; i < n; i++)
			pn_strv_push(&all, t[i].tf);
		list_versions("tensorflow", &all, as_json);
		return 0;
	}
	tf = compat_tf_find(ver);
	if (!tf) {
		pn_error_set(&err, PN_ERR_NOT_FOUND,
			     "tensorflow %s is not in the compatibility matrix", ver);
		pn_error_hint(&err, "`pinion compat tensorflow` lists the known versions");
		return pn_cli_fail(err);
	}
	tag = compat_cuda_image_tag(tf->cuda, tf->cudnn);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "tensorflow", tf->tf, "cpu_package",
		      tf->cpu_package, "gpu_package", tf->gpu_package, "cuda", tf->cuda, "cudnn",
		      tf->cudnn, "pythons", pythons_json(tf->pythons), "cuda_image",
		      tag ? json_string(tag) : json_null());
	if (!as_json)
		printf("tensorflow %s\n  CUDA %s, cuDNN %s\n  python %s\n  cpu: %s\n  gpu: %s\n  "
		       "base image: %s%s\n",
		       tf->tf, tf->cuda, tf->cudnn, tf->pythons, tf->cpu_package, tf->gpu_package,
		       tag ? "nvidia/cuda:" : "", tag ? tag : "(none known)");
	emit(o, as_json);
	return 0;
}

static int compat_cuda(const char *ver, bool as_json)
{
	size_t n, i;
	const struct compat_cuda_image *c = compat_cuda_table(&n);
	cleanup_json json_t *o = NULL;
	cleanup_strv struct pn_strv all = PN_STRV_INIT;
	json_t *images = json_array();
	cleanup_free char *mm = ver ? compat_version_majmin(ver) : NULL;
	struct pn_error *err = NULL;
	const char *cudnn, *tag;

	for (i = 0; i < n; i++) {
		cleanup_free char *m = compat_version_majmin(c[i].cuda);

		if (!ver) {
			if (!pn_strv_contains(&all, m))
				pn_strv_push(&all, m);
		} else if (strcmp(m, mm) == 0) {
			json_array_append_new(images,
					      json_pack("{s:s,s:s,s:s,s:s}", "tag", c[i].tag,
							"cuda", c[i].cuda, "cudnn", c[i].cudnn,
							"ubuntu", c[i].ubuntu));
		}
	}
	if (!ver) {
		json_decref(images);
		list_versions("cuda", &all, as_json);
		return 0;
	}
	cudnn = compat_cudnn_for_cuda(mm);
	if (!cudnn) {
		json_decref(images);
		pn_error_set(&err, PN_ERR_NOT_FOUND, "CUDA %s has no known base image", ver);
		pn_error_hint(&err, "`pinion compat cuda` lists the known versions");
		return pn_cli_fail(err);
	}
	tag = compat_cuda_image_tag(mm, cudnn);
	o = json_pack("{s:s,s:s,s:o,s:o}", "cuda", mm, "cudnn", cudnn, "image",
		      tag ? json_string(tag) : json_null(), "images", images);
	if (!as_json) {
		printf("CUDA %s\n  cuDNN %s\n  base image: nvidia/cuda:%s\n  images:\n", mm, cudnn,
		       tag ? tag : "?");
		for (i = 0; i < json_array_size(images); i++)
			printf("    %s\n", json_string_value(json_object_get(
						   json_array_get(images, i), "tag")));
	}
	emit(o, as_json);
	return 0;
}

static int cmd_compat(int argc, char **argv)
{
	bool as_json = false;
	struct cli_table t[1] = {CLI_TABLE(compat_opts, &as_json)};
	struct cli_cmd cmd = {
		.name = "compat", .intro = compat_intro, .tables = t, .n_tables = 1, .max_args = 2};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	const char *ver;
	int rc;

	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	if (!args.n)
		return pn_cli_usage("compat", "which matrix? torch, tensorflow or cuda");
	ver = args.n > 1 ? args.v[1] : NULL;
	if (strcmp(args.v[0], "torch") == 0)
		return compat_torch(ver, as_json);
	if (strcmp(args.v[0], "tensorflow") == 0 || strcmp(args.v[0], "tf") == 0)
		return compat_tensorflow(ver, as_json);
	if (strcmp(args.v[0], "cuda") == 0)
		return compat_cuda(ver, as_json);
	return pn_cli_usage("compat", "unknown matrix `%s` (torch, tensorflow, cuda)", args.v[0]);
}

PN_COMMAND(compat, "compat", "show the torch / tensorflow / CUDA compatibility matrices",
	   cmd_compat);
