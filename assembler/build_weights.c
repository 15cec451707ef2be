/* build_weights.c - weight placement: each weight file the plan lists for a
 * weights step (the source walk found it) in an uncompressed layer of its
 * own, before the source layer, so that a changed weight or changed code
 * rebuilds only its own layer.  The post-build rootfs leaves these layers
 * out (ex->weight_diff_ids). */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <string.h>

int build_weights_copy(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	struct oci_layer_opts lo = *sc->lopts;
	const char *prefix = s->copy_dest + strspn(s->copy_dest, "/");
	const struct oci_config *c = &sc->ex->img.config;

	lo.normalize_owner = true;
	lo.compression = OCI_COMP_NONE; /* weights do not compress; never gzip them */
	lo.align_data = true;		/* data 4 KiB-aligned: the blob shares its extents */
	for (size_t i = 0; i < s->n_weights; i++) {
		const struct plan_weight *w = &s->weights[i];
		struct build_src_arg a = {sc->src, prefix, w->entry};
		cleanup_free char *created_by = NULL;
		oci_digest_t key, d;

		if (w->entry >= sc->src->n || !sc->src->entries[w->entry].weight)
			PN_BUG("weight `%s` is not in the source tree", w->path);
		if (src_tree_digest_entry(sc->src, w->entry, d, err) < 0)
			return -1;
		/* the key names the build's compression, as for every layer */
		build_key_copy(sc->chain, "copy-weight", s, d, sc->plan, sc->lopts, key);
		created_by = xasprintf("COPY %s %s/%s # weights", w->path, s->copy_dest, w->path);
		if (build_layer_copy(sc, s->name, key, &lo, build_layer_fill_src, &a, created_by,
				     w->path, err) < 0)
			return pn_error_wrap(err, "weights `%s`", w->path);
		pn_strv_push(&sc->ex->weight_diff_ids, c->diff_ids[c->n_diff_ids - 1]);
	}
	return 0;
}
