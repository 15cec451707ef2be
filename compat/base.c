/* base.c - base image choice: cog-base -> nvidia/cuda -> python-slim */
#include "compat/compat.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

#define COMPAT_DEFAULT_REGISTRY "r8.im"

char *compat_cog_base_ref(const char *host, const char *cuda, const char *python, const char *torch)
{
	cleanup_free char *tag = compat_cog_base_tag(cuda, python, torch);

	return xasprintf("%s/" COMPAT_COG_BASE_REPO ":%s",
			 host && *host ? host : COMPAT_DEFAULT_REGISTRY, tag);
}

/* is python (maj.min) one of the comma-separated list? */
static bool python_listed(const char *list, const char *python)
{
	size_t n = strlen(python);
	const char *p = list;

	while (p && *p) {
		if (strncmp(p, python, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return false;
}

bool compat_cog_base_valid(bool gpu, const char *cuda, const char *python, const char *torch)
{
	if (!python || (gpu && !cuda))
		return false;
	return compat_cog_base_find(gpu ? cuda : NULL, python, torch) != NULL;
}

const char *compat_cuda_image_tag(const char *cuda, const char *cudnn)
{
	size_t n, i;
	const struct compat_cuda_image *c = compat_cuda_table(&n), *best = NULL;
	char *want = compat_version_majmin(cuda);
	char *cudnn_major = cudnn ? compat_version_majmin(cudnn) : NULL;
	bool full = strcmp(want, cuda) != 0;

	if (cudnn_major && strchr(cudnn_major, '.'))
		*strchr(cudnn_major, '.') = '\0';
	for (i = 0; i < n; i++) {
		char *mm = compat_version_majmin(c[i].cuda);
		bool match = full ? strcmp(c[i].cuda, cuda) == 0 : strcmp(mm, want) == 0;

		free(mm);
		if (!match || !c[i].devel || (cudnn_major && strcmp(c[i].cudnn, cudnn_major) != 0))
			continue;
		if (!best || compat_version_cmp(c[i].cuda, best->cuda) > 0 ||
		    (compat_version_cmp(c[i].cuda, best->cuda) == 0 &&
		     compat_version_cmp(c[i].ubuntu, best->ubuntu) > 0))
			best = &c[i];
	}
	free(want);
	free(cudnn_major);
	return best ? best->tag : NULL;
}

/* does the registry have ref? (no check: only when asked for) */
static int cog_base_exists(const struct compat_base_req *req, const char *ref, bool *exists,
			   struct pn_error **err)
{
	*exists = req->use_cog_base == COMPAT_YES;
	if (req->image_exists && req->image_exists(ref, exists, req->ud, err) < 0)
		return pn_error_wrap(err, "check cog-base image `%s`", ref);
	if (!*exists && req->use_cog_base == COMPAT_YES) {
		pn_error_set(err, PN_ERR_NOT_FOUND, "cog-base image `%s` not found in the registry",
			     ref);
		pn_error_hint(err, "drop --use-cog-base-image to use a plain base image");
		return -1;
	}
	return 0;
}

/* cog-base: 1 chosen, 0 not (*why_not: why, when a cog-base was considered),
 * -1 error */
static int choose_cog_base(const struct compat_base_req *req, struct compat_base_choice *out,
			   char **why_not, struct pn_error **err)
{
	const char *cuda = req->gpu ? req->cuda : NULL;
	const struct compat_cog_base *cb;
	char *ref;
	bool exists;

	if (req->use_cog_base == COMPAT_NO)
		return 0;
	/* a GPU build without a CUDA has none (not the CPU one) */
	cb = req->python && (!req->gpu || cuda)
		     ? compat_cog_base_find(cuda, req->python, req->torch)
		     : NULL;
	if (!cb) {
		*why_not = xasprintf("no cog-base image is made for CUDA %s, Python %s, torch %s",
				     cuda ? cuda : "none", req->python ? req->python : "none",
				     req->torch ? req->torch : "none");
		if (req->use_cog_base != COMPAT_YES)
			return 0;
		pn_error_set(err, PN_ERR_NOT_FOUND, "%s", *why_not);
		pn_error_hint(err, "drop --use-cog-base-image to use a plain base image");
		return -1;
	}
	/* the names of the set: a torch pinned as 2.1 is the highest 2.1.x */
	ref = compat_cog_base_ref(req->registry_host, cb->cuda, cb->python, cb->torch);
	if (cog_base_exists(req, ref, &exists, err) < 0) {
		free(ref);
		return -1;
	}
	if (!exists) {
		if (req->image_exists)
			*why_not = xasprintf("no cog-base image `%s` in the registry", ref);
		free(ref);
		return 0;
	}
	out->image = ref;
	out->cog_base = true;
	out->reason =
		xstrdup(req->image_exists ? "cog-base image found in the registry"
					  : "cog-base image requested (existence not checked)");
	return 1;
}

int compat_base_choose(const struct compat_base_req *req, struct compat_base_choice *out,
		       struct pn_error **err)
{
	cleanup_free char *why_not = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = choose_cog_base(req, out, &why_not, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (req->gpu && req->use_cuda_base != COMPAT_NO) {
		const char *tag = compat_cuda_image_tag(req->cuda, req->cudnn);

		if (!tag) {
			pn_error_set(err, PN_ERR_NOT_FOUND,
				     "no nvidia/cuda image is known for CUDA %s with cuDNN %s",
				     req->cuda, req->cudnn ? req->cudnn : "any");
			pn_error_hint(err, "`pinion compat cuda` lists the known images");
			return -1;
		}
		out->image = xasprintf("nvidia/cuda:%s", tag);
		out->cuda_base = true;
		out->reason = xasprintf("GPU%s%s: nvidia/cuda image for the CUDA/cuDNN pair",
					why_not ? ", " : "", why_not ? why_not : "");
		return 0;
	}
	out->image = xasprintf("python:%s-slim", req->python);
	out->reason = req->gpu ? xstrdup("GPU without a CUDA base image "
					 "(--use-cuda-base-image=false)")
			       : xasprintf("CPU%s%s: python slim image", why_not ? ", " : "",
					   why_not ? why_not : "");
	return 0;
}

void compat_base_choice_release(struct compat_base_choice *c)
{
	free(c->image);
	free(c->reason);
	memset(c, 0, sizeof(*c));
}

static char *pythons_of_torch(const char *torch, const char *python, bool *listed)
{
	size_t n, i;
	const struct compat_torch *t = compat_torch_table(&n);
	char *best = NULL;

	*listed = false;
	for (i = 0; i < n; i++) {
		if (compat_version_cmp(t[i].torch, torch) != 0)
			continue;
		if (python_listed(t[i].pythons, python))
			*listed = true;
		if (!best || strlen(t[i].pythons) > strlen(best)) {
			free(best);
			best = xstrdup(t[i].pythons);
		}
	}
	return best;
}

char *compat_python_warning(const char *torch, const char *tensorflow, const char *python)
{
	bool listed;
	char *pys, *w = NULL;

	if (!python)
		return NULL;
	if (torch && (pys = pythons_of_torch(torch, python, &listed))) {
		if (!listed)
			w = xasprintf("torch %s has no wheel for Python %s (it has %s)", torch,
				      python, pys);
		free(pys);
		if (w)
			return w;
	}
	if (tensorflow) {
		const struct compat_tf *tf = compat_tf_find(tensorflow);

		if (tf && !python_listed(tf->pythons, python))
			return xasprintf(
				"tensorflow %s is not tested with Python %s (it is with %s)",
				tensorflow, python, tf->pythons);
	}
	return NULL;
}
