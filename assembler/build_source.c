/* build_source.c - the source walk of the model directory, made in the plan
 * stage: the weight files it finds become the layers of the plan's weights
 * step, so --dry-run lists them. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* dir relative to the model directory if it lies inside it (owned), else NULL */
static char *inside_model(const char *model_dir, const char *dir)
{
	cleanup_free char *m = realpath(model_dir, NULL);
	cleanup_free char *d = dir ? realpath(dir, NULL) : NULL;
	size_t n;

	if (!m || !d)
		return NULL;
	n = strlen(m);
	if (strncmp(d, m, n) != 0 || d[n] != '/')
		return NULL;
	return xstrdup(d + n + 1);
}

int build_source_walk(const char *model_dir, const char *output, const char *cache_dir,
		      struct build_plan *p, struct src_tree *out, struct pn_error **err)
{
	struct src_opts so = {0};
	cleanup_free char *out_dir = NULL, *out_ref = NULL, *cache = NULL;
	cleanup_strv struct pn_strv excl = PN_STRV_INIT;
	enum oci_transport out_t;
	char *rel;

	/* our own output (a layout or an archive) and cache never go into the image */
	if (output && oci_location_parse(output, &out_t, &out_dir, &out_ref, NULL) == 0 &&
	    (rel = inside_model(model_dir, out_dir)))
		pn_strv_push_owned(&excl, rel);
	cache = cache_dir ? xstrdup(cache_dir) : pn_cache_dir();
	if ((rel = inside_model(model_dir, cache)))
		pn_strv_push_owned(&excl, rel);
	so.exclude = (const char *const *)excl.v;
	so.separate_weights = p->separate_weights;
	if (src_tree_walk(model_dir, &so, out, err) < 0)
		return -1;
	for (size_t i = 0; i < out->n; i++)
		if (out->entries[i].weight)
			build_plan_add_weight(p, out->entries[i].path, out->entries[i].size, i);
	return 0;
}
