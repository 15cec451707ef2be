/* base_image.c - cog-base images: which one --cuda/--python/--torch name,
 * the config and plan it is built from, its labels and the matrix listing
 * (see base_image.h) */
#include "assembler/base_image.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

void base_image_init(struct base_image *b)
{
	memset(b, 0, sizeof(*b));
}

void base_image_release(struct base_image *b)
{
	free(b->cuda);
	free(b->python);
	free(b->torch);
	free(b->torchvision);
	free(b->torchaudio);
	free(b->tag);
	pn_strv_release(&b->system_packages);
	pn_strv_release(&b->python_packages);
	free(b->context_dir);
	memset(b, 0, sizeof(*b));
}

static const char *none_if_empty(const char *s)
{
	return s && *s ? s : "(none)";
}

/* Cog's pythonPackages(): torch, opencv-python, then the torchvision and
 * torchaudio of the first matrix row with this torch */
static void python_packages(struct base_image *b)
{
	const char *tv, *ta;

	if (!b->torch)
		return;
	compat_cog_base_companions(b->torch, &tv, &ta);
	pn_strv_push_owned(&b->python_packages, xasprintf("torch==%s", b->torch));
	pn_strv_push(&b->python_packages, BASE_IMAGE_OPENCV);
	if (tv) {
		b->torchvision = xstrdup(tv);
		pn_strv_push_owned(&b->python_packages, xasprintf("torchvision==%s", tv));
	}
	if (ta) {
		b->torchaudio = xstrdup(ta);
		pn_strv_push_owned(&b->python_packages, xasprintf("torchaudio==%s", ta));
	}
}

int base_image_resolve(const char *cuda, const char *python, const char *torch,
		       struct base_image *out, struct pn_error **err)
{
	const struct compat_cog_base *e = compat_cog_base_find(cuda, python, torch);

	base_image_init(out);
	if (!e || !python || !*python) {
		pn_error_set(err, PN_ERR_INVALID,
			     "unsupported base image configuration: CUDA: %s / Python: %s / "
			     "Torch: %s",
			     none_if_empty(cuda), none_if_empty(python), none_if_empty(torch));
		pn_error_hint(err, "`pinion base-image list` shows the combinations the matrix "
				   "makes");
		return -1;
	}
	out->entry = e;
	out->cuda = e->cuda ? xstrdup(e->cuda) : NULL;
	out->python = xstrdup(e->python);
	out->torch = e->torch ? compat_version_base(e->torch) : NULL;
	out->tag = xstrdup(e->tag);
	base_image_set_system_packages(out, BASE_IMAGE_SYSTEM_PACKAGES);
	python_packages(out);
	return 0;
}

void base_image_set_system_packages(struct base_image *b, const char *list)
{
	pn_strv_release(&b->system_packages);
	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n)
			pn_strv_push_owned(&b->system_packages, xstrndup(p, n));
		p += n;
	}
}

/* CUDA/cuDNN as Cog's Complete makes them for a user-set CUDA and torch */
static int complete_cuda(const struct base_image *b, struct cog_config *cfg, struct pn_error **err)
{
	struct compat_cuda_req req = {b->cuda, NULL, b->torch, b->torch != NULL, NULL};
	struct compat_cuda_result r;

	if (compat_cuda_complete(&req, &r, err) < 0)
		return pn_error_wrap(err, "complete CUDA %s", b->cuda);
	cfg->build.cuda = steal_pointer(&r.cuda);
	cfg->build.cudnn = steal_pointer(&r.cudnn);
	for (size_t i = 0; i < r.warnings.n; i++)
		pn_strv_push(&cfg->warnings, r.warnings.v[i]);
	compat_cuda_result_release(&r);
	return 0;
}

int base_image_config(const struct base_image *b, struct cog_config *cfg, struct pn_error **err)
{
	struct pn_buf req = PN_BUF_INIT;

	cog_config_init(cfg);
	cfg->path = xasprintf(COMPAT_COG_BASE_REPO ":%s", b->tag);
	cfg->dir = xstrdup(b->context_dir ? b->context_dir : ".");
	cfg->build.gpu = b->cuda != NULL;
	cfg->build.python_version = xstrdup(b->python);
	cfg->build.cuda_from_user = b->cuda != NULL;
	for (size_t i = 0; i < b->system_packages.n; i++)
		pn_strv_push(&cfg->build.system_packages, b->system_packages.v[i]);
	for (size_t i = 0; i < b->python_packages.n; i++) {
		pn_strv_push(&cfg->build.python_packages, b->python_packages.v[i]);
		pn_buf_printf(&req, NULL, "%s\n", b->python_packages.v[i]);
	}
	cfg->torch_version = b->torch ? xstrdup(b->torch) : NULL;
	if (cfg->build.gpu && complete_cuda(b, cfg, err) < 0) {
		pn_buf_release(&req);
		cog_config_release(cfg);
		return -1;
	}
	cfg->requirements = compat_requirements_rewrite(req.data ? req.data : "", cfg->build.gpu,
							cfg->build.cuda);
	pn_buf_release(&req);
	return 0;
}

static void plan_labels(const struct base_image *b, const struct cog_config *cfg,
			struct build_plan *p)
{
	struct pn_buf pk = PN_BUF_INIT;
	const char *const kv[][2] = {{"tag", b->tag},
				     {"cuda", b->cuda},
				     {"cudnn", cfg->build.cudnn},
				     {"python", b->python},
				     {"torch", b->torch},
				     {"torchvision", b->torchvision},
				     {"torchaudio", b->torchaudio},
				     {"requirements", cfg->requirements}};

	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		cleanup_free char *name = xasprintf(BASE_IMAGE_LABEL_PREFIX "%s", kv[i][0]);

		if (kv[i][1] && *kv[i][1])
			build_plan_set_label(p, name, kv[i][1]);
	}
	for (size_t i = 0; i < b->system_packages.n; i++)
		pn_buf_printf(&pk, NULL, "%s%s", i ? " " : "", b->system_packages.v[i]);
	build_plan_set_label(p, BASE_IMAGE_LABEL_PREFIX "system-packages", pk.data ? pk.data : "");
	pn_buf_release(&pk);
	build_plan_set_label(p, "run.pinion.version", PN_VERSION);
	build_plan_set_label(p, "run.cog.has_init", "true");
}

int base_image_plan(const struct base_image *b, const struct cog_config *cfg,
		    const struct build_plan_opts *opts, struct build_plan *out,
		    struct pn_error **err)
{
	struct build_plan_opts o = *opts;

	o.base_image = true;
	o.use_cog_base = PLAN_NO;
	o.use_cuda_base = PLAN_AUTO;
	o.image_exists = NULL;
	o.separate_weights = false;
	if (build_plan_make(cfg, &o, out, err) < 0)
		return -1;
	free(out->base_reason);
	out->base_reason = xstrdup(b->cuda ? "cog-base image for CUDA: nvidia/cuda image for the "
					     "CUDA/cuDNN pair"
					   : "cog-base image without CUDA: python slim image");
	plan_labels(b, cfg, out);
	return 0;
}

void base_image_labels_finish(struct oci_config *c)
{
	json_object_del(c->labels, "run.cog.config");
	json_object_del(c->labels, "run.cog.version");
}

/* is v (or, with base, v without its local suffix) one of the
 * comma-separated list (NULL or "": any)? */
static bool filter_has(const char *list, const char *v, bool base)
{
	cleanup_free char *vb = NULL;

	if (!list || !*list)
		return true;
	v = v ? v : "";
	vb = base ? compat_version_base(v) : xstrdup(v);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if ((n == strlen(v) && strncmp(p, v, n) == 0) ||
		    (n == strlen(vb) && strncmp(p, vb, n) == 0))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

char *base_image_matrix_json(const char *cuda, const char *python, const char *torch)
{
	size_t n;
	const struct compat_cog_base *v = compat_cog_base_table(&n);
	cleanup_json json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		if (!filter_has(cuda, v[i].cuda, false) ||
		    !filter_has(python, v[i].python, false) || !filter_has(torch, v[i].torch, true))
			continue;
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s}", "cuda_version",
						   v[i].cuda ? v[i].cuda : "", "python_version",
						   v[i].python, "torch_version",
						   v[i].torch ? v[i].torch : "", "image_name",
						   COMPAT_COG_BASE_REPO, "image_tag", v[i].tag));
	}
	return json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
}
