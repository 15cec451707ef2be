/* complete.c - CUDA/cuDNN completion for gpu: true (BUILD-FACTS.md rules) */
#include "compat/compat.h"

#include <stdlib.h>
#include <string.h>

#define COMPAT_DEFAULT_CUDA "11.8"

void compat_torch_cudas(const char *ver, struct pn_strv *out)
{
	size_t n, i, j;
	const struct compat_torch *t = compat_torch_table(&n);
	struct pn_strv found = PN_STRV_INIT;

	for (i = 0; i < n; i++) {
		if (!t[i].cuda || compat_version_cmp(t[i].torch, ver) != 0)
			continue;
		if (!pn_strv_contains(&found, t[i].cuda))
			pn_strv_push(&found, t[i].cuda);
	}
	/* ascending by version (insertion sort: a handful of entries) */
	for (i = 1; i < found.n; i++)
		for (j = i; j > 0 && compat_version_cmp(found.v[j - 1], found.v[j]) > 0; j--) {
			char *tmp = found.v[j];

			found.v[j] = found.v[j - 1];
			found.v[j - 1] = tmp;
		}
	for (i = 0; i < found.n; i++)
		pn_strv_push(out, found.v[i]);
	pn_strv_release(&found);
}

const struct compat_tf *compat_tf_find(const char *ver)
{
	size_t n, i;
	const struct compat_tf *t = compat_tf_table(&n);

	for (i = 0; i < n; i++)
		if (compat_version_cmp(t[i].tf, ver) == 0)
			return &t[i];
	return NULL;
}

const char *compat_cudnn_for_cuda(const char *cuda)
{
	size_t n, i;
	const struct compat_cuda_image *c = compat_cuda_table(&n);
	const char *best = NULL;
	char *want = compat_version_majmin(cuda);

	for (i = 0; i < n; i++) {
		char *mm = compat_version_majmin(c[i].cuda);

		if (strcmp(mm, want) == 0 && (!best || compat_version_cmp(c[i].cudnn, best) > 0))
			best = c[i].cudnn;
		free(mm);
	}
	free(want);
	return best;
}

static char *join_strv(const struct pn_strv *s)
{
	struct pn_buf b = PN_BUF_INIT;
	size_t i;

	for (i = 0; i < s->n; i++)
		pn_buf_printf(&b, NULL, "%s%s", i ? ", " : "", s->v[i]);
	return b.data ? pn_buf_steal(&b, NULL) : xstrdup("");
}

static int complete_from_tf(const struct compat_cuda_req *req, struct compat_cuda_result *out,
			    struct pn_error **err)
{
	const struct compat_tf *tf = compat_tf_find(req->tensorflow);

	if (!tf) {
		if (req->cuda)
			return 0;
		pn_error_set(err, PN_ERR_INVALID,
			     "tensorflow %s is not in the compatibility matrix, so its CUDA "
			     "version is unknown",
			     req->tensorflow);
		pn_error_hint(err, "set build.cuda and build.cudnn in cog.yaml, or pin a "
				   "tensorflow version `pinion compat tensorflow` lists");
		return -1;
	}
	if (!out->cuda) {
		out->cuda = xstrdup(tf->cuda);
		if (!req->cudnn)
			out->cudnn = xstrdup(tf->cudnn);
	} else if (compat_version_cmp(out->cuda, tf->cuda) != 0) {
		pn_strv_push_owned(
			&out->warnings,
			xasprintf("tensorflow %s is tested with CUDA %s, not %s; try cuda: \"%s\"",
				  req->tensorflow, tf->cuda, out->cuda, tf->cuda));
	}
	return 0;
}

static int complete_from_torch(const struct compat_cuda_req *req, struct compat_cuda_result *out,
			       struct pn_error **err)
{
	struct pn_strv cudas = PN_STRV_INIT;
	char *suffix = compat_cuda_from_suffix(req->torch);
	int rc = 0;

	compat_torch_cudas(req->torch, &cudas);
	if (!out->cuda) {
		if (suffix)
			out->cuda = steal_pointer(&suffix);
		else if (cudas.n)
			out->cuda = xstrdup(cudas.v[cudas.n - 1]);
		else {
			rc = pn_error_set(err, PN_ERR_INVALID,
					  "no CUDA version is known for torch %s", req->torch);
			pn_error_hint(err, "set build.cuda in cog.yaml");
		}
	} else if (!pn_strv_contains(&cudas, out->cuda)) {
		char *list = join_strv(&cudas);

		if (cudas.n)
			pn_strv_push_owned(&out->warnings,
					   xasprintf("CUDA %s is not listed for torch %s (listed: "
						     "%s); try cuda: \"%s\"",
						     out->cuda, req->torch, list,
						     cudas.v[cudas.n - 1]));
		else
			pn_strv_push_owned(&out->warnings,
					   xasprintf("torch %s is not in the compatibility matrix; "
						     "CUDA %s may not work with it",
						     req->torch, out->cuda));
		free(list);
	}
	free(suffix);
	pn_strv_release(&cudas);
	return rc;
}

int compat_cuda_complete(const struct compat_cuda_req *req, struct compat_cuda_result *out,
			 struct pn_error **err)
{
	memset(out, 0, sizeof(*out));
	if (req->cuda)
		out->cuda = compat_version_majmin(req->cuda);
	if (req->cudnn)
		out->cudnn = xstrdup(req->cudnn);
	if (req->torch_listed && !req->torch) {
		pn_error_set(err, PN_ERR_INVALID,
			     "torch version must be specified when using CUDA");
		pn_error_hint(err, "pin it, e.g. torch==2.1.0");
		goto fail;
	}
	/* torch first, then tensorflow, as Cog does */
	if (req->torch && complete_from_torch(req, out, err) < 0)
		goto fail;
	if (req->tensorflow && complete_from_tf(req, out, err) < 0)
		goto fail;
	if (!out->cuda)
		out->cuda = xstrdup(COMPAT_DEFAULT_CUDA);
	if (!out->cudnn) {
		const char *c = compat_cudnn_for_cuda(out->cuda);

		if (!c) {
			pn_error_set(err, PN_ERR_INVALID,
				     "no CUDA base image is known for CUDA %s, so its cuDNN "
				     "version is unknown",
				     out->cuda);
			pn_error_hint(err,
				      "set build.cudnn in cog.yaml, or see `pinion compat cuda`");
			goto fail;
		}
		out->cudnn = xstrdup(c);
	}
	return 0;
fail:
	compat_cuda_result_release(out);
	return -1;
}

void compat_cuda_result_release(struct compat_cuda_result *r)
{
	free(r->cuda);
	free(r->cudnn);
	pn_strv_release(&r->warnings);
	memset(r, 0, sizeof(*r));
}
