/* build_weights.c - weight placement: each weight file the plan lists for a
 * weights step (the source walk found it) in an uncompressed layer of its
 * own, before the source layer, so that a changed weight or changed code
 * rebuilds only its own layer.  The post-build rootfs leaves these layers
 * out (ex->weight_diff_ids).
 *
 * Each weight is read once.  Its content digest (a cache-key input) comes
 * from the digest memo when the file is unchanged, and the key decides as
 * for every layer.  Otherwise the layer is written first: the writer hashes
 * the file for the blob digest (= diff_id, uncompressed) and for its content
 * digest in the same read, and the key is looked up after; a hit then drops
 * nothing but time (the same key writes the same bytes).
 *
 * With --push to a registry (ex->push_ref) a weights layer that is not in
 * the cache layout is never written there: the tar stream (headers, the
 * file's bytes as read, padding) goes to a registry upload while it is
 * hashed, and the upload is closed with the digest that came out.  An
 * upload whose session the registry lost starts again in a new one, the
 * file read from its first byte; another digest than before fails.  The
 * digest is remembered under the step's key (a data entry, no blob); a later
 * push with the same key asks the registry (HEAD) and, when it has the blob,
 * reads nothing.
 *
 * When no RUN step follows (the Cog plan: weights, then the source, then
 * the post-build), no later step sees the weights: the source layer is the
 * model directory without them, and the post-build and the SBOM inventory
 * run on the rootfs without them.  Then the weights step leaves the chain as
 * it found it, so that new weights rebuild their own layers only, and not
 * the source layer, the post-build (its sandbox runs) or the inventory.  A
 * RUN step after the weights would see them: then the chain goes through
 * their keys as for every layer. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"
#include "registry/registry.h"

#include <string.h>

struct weight_ctx {
	const struct plan_step *s;
	const struct plan_weight *w;
	const struct oci_layer_opts *lo;
	struct build_src_arg a;
	const char *created_by;
};

static void weight_key(struct step_ctx *sc, const struct weight_ctx *wc, const char *d,
		       oci_digest_t key)
{
	/* the key names the build's compression, as for every layer */
	build_key_copy(sc->chain, "copy-weight", wc->s, d, sc->plan, sc->lopts, key);
}

/* the layer of a weight whose content digest needs a read: one pass */
static int weight_one_pass(struct step_ctx *sc, const struct weight_ctx *wc, const char *stamp,
			   struct pn_error **err)
{
	struct oci_layer_opts lo = *wc->lo;
	struct oci_layer_result lr;
	oci_digest_t key, d;
	double t0 = build_now();
	int rc;

	lo.digest_data = true;
	build_step_begin(sc->ex, wc->s->name, wc->w->path);
	memset(&lr, 0, sizeof(lr));
	oci_descriptor_init(&lr.desc);
	rc = build_layer_write(sc->ex->cl, &lo, build_layer_fill_src, &wc->a, &lr, err);
	if (rc == 0 && lr.data_digest[0])
		rc = src_tree_digest_learn(sc->src, wc->w->entry, lr.data_digest, stamp, err);
	if (rc == 0)
		rc = src_tree_digest_entry(sc->src, wc->w->entry, d, err);
	if (rc == 0) {
		weight_key(sc, wc, d, key);
		rc = build_layer_try_cache(sc, key, wc->s->name, wc->w->path, err);
		if (rc == 0 && build_layer_commit(sc, key, &lr, wc->created_by, err) < 0)
			rc = -1;
		else if (rc == 0)
			build_step_event(sc->ex, wc->s->name, false, build_now() - t0, wc->w->path);
	}
	oci_layer_result_release(&lr);
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------- streamed to the registry */

static int stream_sink(void *ud, const void *data, size_t len, struct pn_error **err)
{
	return registry_upload_write(ud, data, len, err);
}

/* where the digest of the layer streamed under key is remembered */
static void streamed_key(const char *key, oci_digest_t out)
{
	cleanup_free char *s = xasprintf("streamed-weights %s", key);

	oci_digest_buf(s, strlen(s), out);
}

static void streamed_result(const char *digest, int64_t size, struct oci_layer_result *lr)
{
	memset(lr, 0, sizeof(*lr));
	oci_descriptor_init(&lr->desc);
	snprintf(lr->desc.digest, sizeof(lr->desc.digest), "%s", digest);
	memcpy(lr->diff_id, lr->desc.digest, sizeof(lr->diff_id)); /* uncompressed */
	lr->desc.size = size;
	lr->desc.media_type = xstrdup(oci_layer_media_type(OCI_COMP_NONE));
}

/* 1: the layer streamed under key before is in the registry (added as a hit) */
static int weight_streamed_before(struct step_ctx *sc, const struct weight_ctx *wc, const char *key,
				  struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	struct oci_layer_result lr;
	oci_digest_t sk, dg;
	bool exists = false;
	const char *s;

	streamed_key(key, sk);
	if (!sc->use_cache || build_cache_get_data(sc->cache, sk, &j, err) <= 0)
		return 0;
	s = json_string_value(json_object_get(j, "digest"));
	if (!s || oci_digest_parse(s, dg, NULL) < 0)
		return 0;
	if (registry_blob_exists(sc->ex->push_client, sc->ex->push_ref, dg, &exists, err) < 0)
		return -1;
	if (!exists)
		return 0;
	streamed_result(dg, json_integer_value(json_object_get(j, "size")), &lr);
	build_layer_add_streamed(sc, key, &lr, wc->created_by);
	oci_layer_result_release(&lr);
	sc->hits++;
	build_step_event(sc->ex, wc->s->name, true, 0, wc->w->path);
	return 1;
}

/* one pass of the layer into u: read, hashed and sent from the file's first
 * byte.  before: the digest an earlier pass found ("" none), and the file's
 * content digest when known (the memo): another one means the file changed */
static int weight_upload_once(struct step_ctx *sc, const struct weight_ctx *wc,
			      const struct oci_layer_opts *lo, struct registry_upload *u,
			      oci_digest_t before, struct oci_layer_result *lr,
			      struct pn_error **err)
{
	const char *known = sc->src->digests[wc->w->entry];

	memset(lr, 0, sizeof(*lr));
	oci_descriptor_init(&lr->desc);
	if (build_layer_write(sc->ex->cl, lo, build_layer_fill_src, &wc->a, lr, err) < 0)
		goto fail;
	if ((before[0] && strcmp(before, lr->desc.digest) != 0) ||
	    (known[0] && strcmp(known, lr->data_digest) != 0)) {
		pn_error_set(err, PN_ERR_GENERIC, "`%s` changed during the build (%s, was %s)",
			     wc->w->path, before[0] ? lr->desc.digest : lr->data_digest,
			     before[0] ? before : known);
		goto fail;
	}
	memcpy(before, lr->desc.digest, sizeof(oci_digest_t));
	if (registry_upload_finish(u, lr->desc.digest, err) == 0)
		return 0;
fail:
	oci_layer_result_release(lr);
	return -1;
}

/* the layer to an upload; lr: its digest, size and data digest.  An upload
 * whose session is lost starts again in a new one, from the file's first
 * byte (registry_upload_restart says when, and how often) */
static int weight_upload(struct step_ctx *sc, const struct weight_ctx *wc,
			 struct oci_layer_result *lr, struct pn_error **err)
{
	struct oci_layer_opts lo = *wc->lo;
	struct registry_upload *u = NULL;
	oci_digest_t before = "";
	int rc = registry_upload_begin(sc->ex->push_client, sc->ex->push_ref, &u, err);

	if (rc <= 0)
		return rc < 0 ? -1 : pn_error_set(err, PN_ERR_INVALID, "not a registry");
	lo.digest_data = true;
	lo.sink = stream_sink;
	lo.sink_ud = u;
	for (;;) {
		struct pn_error *e = NULL;
		rc = weight_upload_once(sc, wc, &lo, u, before, lr, &e);
		if (rc == 0 || registry_upload_restart(u, e, err) < 0)
			break;
	}
	registry_upload_free(u);
	return rc;
}

static int weight_stream(struct step_ctx *sc, const struct weight_ctx *wc, const char *stamp,
			 struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	struct oci_layer_result lr;
	oci_digest_t key, d, sk;
	double t0 = build_now();
	int rc;

	if (weight_upload(sc, wc, &lr, err) < 0)
		return pn_error_wrap(err, "stream to `%s`", sc->ex->push_ref);
	rc = stamp ? src_tree_digest_learn(sc->src, wc->w->entry, lr.data_digest, stamp, err) : 0;
	if (rc == 0)
		rc = src_tree_digest_entry(sc->src, wc->w->entry, d, err);
	if (rc == 0) {
		weight_key(sc, wc, d, key);
		streamed_key(key, sk);
		j = json_pack("{s:s, s:I}", "digest", lr.desc.digest, "size",
			      (json_int_t)lr.desc.size);
		rc = sc->use_cache ? build_cache_put_data(sc->cache, sk, j, err) : 0;
	}
	if (rc == 0) {
		build_layer_add_streamed(sc, key, &lr, wc->created_by);
		build_step_event(sc->ex, wc->s->name, false, build_now() - t0, wc->w->path);
	}
	oci_layer_result_release(&lr);
	return rc;
}

/* --push: the cache layout's blob when there is one (pushed as every
 * layer), else the one streamed before if the registry has it, else stream */
static int weight_layer_push(struct step_ctx *sc, const struct weight_ctx *wc, int known,
			     const char *stamp, struct pn_error **err)
{
	oci_digest_t key, d;
	int rc;

	build_step_begin(sc->ex, wc->s->name, wc->w->path);
	if (known) {
		if (src_tree_digest_entry(sc->src, wc->w->entry, d, err) < 0)
			return -1;
		weight_key(sc, wc, d, key);
		rc = build_layer_try_cache(sc, key, wc->s->name, wc->w->path, err);
		if (rc == 0)
			rc = weight_streamed_before(sc, wc, key, err);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	return weight_stream(sc, wc, known ? NULL : stamp, err);
}

static int weight_layer(struct step_ctx *sc, const struct weight_ctx *wc, struct pn_error **err)
{
	cleanup_free char *stamp = NULL;
	oci_digest_t key, d;
	int known = src_tree_digest_known(sc->src, wc->w->entry, &stamp, err);

	if (known < 0)
		return -1;
	if (sc->ex->push_ref)
		return weight_layer_push(sc, wc, known, stamp, err);
	if (!known)
		return weight_one_pass(sc, wc, stamp, err);
	if (src_tree_digest_entry(sc->src, wc->w->entry, d, err) < 0)
		return -1;
	weight_key(sc, wc, d, key);
	return build_layer_copy(sc, wc->s->name, key, wc->lo, build_layer_fill_src, &wc->a,
				wc->created_by, wc->w->path, err);
}

/* a RUN step after s: its sandbox sees the weights' layers */
static bool weights_seen_later(const struct build_plan *p, const struct plan_step *s)
{
	for (const struct plan_step *t = s + 1; t < p->steps + p->n_steps; t++)
		if (t->kind == PLAN_STEP_RUN)
			return true;
	return false;
}

int build_weights_copy(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	struct oci_layer_opts lo = *sc->lopts;
	const char *prefix = s->copy_dest + strspn(s->copy_dest, "/");
	const struct oci_config *c = &sc->ex->img.config;
	oci_digest_t chain;

	lo.normalize_owner = true;
	lo.compression = OCI_COMP_NONE; /* weights do not compress; never gzip them */
	lo.align_data = true;		/* data 4 KiB-aligned: the blob shares its extents */
	memcpy(chain, sc->chain, sizeof(chain));
	for (size_t i = 0; i < s->n_weights; i++) {
		const struct plan_weight *w = &s->weights[i];
		cleanup_free char *created_by = NULL;
		struct weight_ctx wc = {s, w, &lo, {sc->src, prefix, w->entry}, NULL};

		if (w->entry >= sc->src->n || !sc->src->entries[w->entry].weight)
			PN_BUG("weight `%s` is not in the source tree", w->path);
		created_by = xasprintf("COPY %s %s/%s # weights", w->path, s->copy_dest, w->path);
		wc.created_by = created_by;
		if (weight_layer(sc, &wc, err) < 0)
			return pn_error_wrap(err, "weights `%s`", w->path);
		pn_strv_push(&sc->ex->weight_diff_ids, c->diff_ids[c->n_diff_ids - 1]);
	}
	if (!weights_seen_later(sc->plan, s))
		memcpy(sc->chain, chain, sizeof(chain));
	return 0;
}
