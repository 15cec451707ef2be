/* build_layer.c - a layer step through the cache: a hit adds the cached
 * layer; a miss writes the layer into the cache layout, remembers it under
 * its key and adds it.  Either way the chain advances to the key. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

static void layer_add(struct step_ctx *sc, const char *key, const struct cache_layer *e)
{
	build_exec_add_layer(sc->ex, e);
	sc->n_layer_steps++;
	memcpy(sc->chain, key, sizeof(sc->chain));
}

int build_layer_try_cache(struct step_ctx *sc, const char *key, const char *name,
			  const char *detail, struct pn_error **err)
{
	struct cache_layer e;
	int rc;

	if (!sc->use_cache)
		return 0;
	rc = build_cache_get_layer(sc->cache, key, &e, err);
	if (rc <= 0)
		return rc;
	layer_add(sc, key, &e);
	cache_layer_release(&e);
	sc->hits++;
	build_step_event(sc->ex, name, true, 0, detail);
	return 1;
}

static void layer_entry(struct cache_layer *e, const struct oci_layer_result *lr,
			const char *created_by)
{
	cache_layer_init(e);
	oci_descriptor_copy(&e->layer, &lr->desc);
	memcpy(e->diff_id, lr->diff_id, sizeof(e->diff_id));
	e->created_by = xstrdup(created_by);
	e->created = pn_rfc3339((int64_t)time(NULL));
}

void build_layer_add_streamed(struct step_ctx *sc, const char *key,
			      const struct oci_layer_result *lr, const char *created_by)
{
	struct cache_layer e;

	layer_entry(&e, lr, created_by);
	pn_strv_push(&sc->ex->streamed, lr->desc.digest);
	layer_add(sc, key, &e);
	cache_layer_release(&e);
}

int build_layer_commit(struct step_ctx *sc, const char *key, const struct oci_layer_result *lr,
		       const char *created_by, struct pn_error **err)
{
	struct cache_layer e;
	int rc;

	layer_entry(&e, lr, created_by);
	rc = build_cache_put_layer(sc->cache, key, &e, err);
	if (rc == 0)
		layer_add(sc, key, &e);
	cache_layer_release(&e);
	return rc;
}

int build_layer_write(struct oci_layout *l, const struct oci_layer_opts *lo,
		      build_layer_fill_fn fill, const void *arg, struct oci_layer_result *out,
		      struct pn_error **err)
{
	struct oci_layer_writer *w = oci_layer_writer_new(l, lo, err);
	int rc;

	if (!w)
		return -1;
	rc = fill(w, arg, err);
	if (rc == 0)
		rc = oci_layer_writer_finish(w, out, err);
	oci_layer_writer_free(w);
	return rc;
}

int build_layer_copy(struct step_ctx *sc, const char *name, const char *key,
		     const struct oci_layer_opts *lo, build_layer_fill_fn fill, const void *arg,
		     const char *created_by, const char *detail, struct pn_error **err)
{
	struct oci_layer_result lr;
	double t0 = build_now();
	int rc;

	build_step_begin(sc->ex, name, detail);
	rc = build_layer_try_cache(sc, key, name, detail, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	memset(&lr, 0, sizeof(lr));
	oci_descriptor_init(&lr.desc);
	rc = build_layer_write(sc->ex->cl, lo, fill, arg, &lr, err);
	if (rc == 0)
		rc = build_layer_commit(sc, key, &lr, created_by, err);
	if (rc == 0)
		build_step_event(sc->ex, name, false, build_now() - t0, detail);
	oci_layer_result_release(&lr);
	return rc;
}

int build_layer_fill_src(struct oci_layer_writer *w, const void *arg, struct pn_error **err)
{
	const struct build_src_arg *a = arg;

	if (a->index == SIZE_MAX)
		return src_layer_add_source(w, a->src, a->prefix, err);
	return src_layer_add_weight(w, a->src, a->index, a->prefix, err);
}
