/* cache.h - the build cache: layers by cache key, blobs in one shared OCI
 * layout.
 *
 * Layout on disk (under the cache dir, default pn_cache_dir()):
 *   build/layout/            an OCI image layout: pulled base images (tagged
 *                            with their reference), every layer pinion built,
 *                            images stored before a push
 *   build/keys/<hex>.json    one entry per cache key:
 *     {"v":1, "layer": <descriptor>, "diff_id": "sha256:..",
 *      "created_by": "...", "created": "RFC 3339"}      (a layer step), or
 *     {"v":1, "data": {...}}                            (post-build results)
 *   Entries are written atomically; a missing or unreadable entry is a miss,
 *   and so is an entry whose layer blob is gone (pruned layout).
 *
 * Cache keys: sha256 over a canonical text built with cache_key_*: the parent
 * key (the chain up to this step: base image config digest, each ENV edit,
 * each earlier layer step's key), then the step's definition (kind, name,
 * shell, env, secret ids and targets, file targets and content digests) and
 * its input digests (requirements text, model files, wheel digest, tini
 * digest), platform and compression.  Secret values are never hashed: a
 * secret contributes its id and target only.  Each field is written as
 * "name=<length>:<bytes>\n", so no two field lists collide. */
#ifndef PN_ASSEMBLER_CACHE_H
#define PN_ASSEMBLER_CACHE_H

#include "common/common.h"
#include "oci/oci.h"

#include <jansson.h>

struct cache_key {
	struct oci_hasher *h;
};
/* start a key from a parent key (NULL or "" for none) */
void cache_key_begin(struct cache_key *k, const char *parent);
void cache_key_add(struct cache_key *k, const char *name, const char *value);
void cache_key_add_len(struct cache_key *k, const char *name, const void *data, size_t len);
/* the key as "sha256:<hex>"; the hasher is freed */
void cache_key_finish(struct cache_key *k, oci_digest_t out);
void cache_key_abort(struct cache_key *k);

struct build_cache;
/* open (creating) <dir>/build; dir NULL = pn_cache_dir() */
int build_cache_open(const char *dir, struct build_cache **out, struct pn_error **err);
void build_cache_free(struct build_cache *c);
struct oci_layout *build_cache_layout(struct build_cache *c);
const char *build_cache_dir(const struct build_cache *c);

struct cache_layer {
	struct oci_descriptor layer;
	oci_digest_t diff_id;
	char *created_by;
	char *created; /* when the layer was first built */
};
void cache_layer_init(struct cache_layer *e);
void cache_layer_release(struct cache_layer *e);

/* the layer digests named by the step cache entries in keys_dir (at most
 * max_entries read): gc's roots.  An entry that cannot be read or is not a
 * layer entry names nothing: build_cache_get_layer would miss on it too. */
void build_cache_layer_roots(const char *keys_dir, size_t max_entries, struct pn_strv *roots);

/* 1 hit (out filled), 0 miss; < 0 only for errors worth stopping for */
int build_cache_get_layer(struct build_cache *c, const char *key, struct cache_layer *out,
			  struct pn_error **err);
int build_cache_put_layer(struct build_cache *c, const char *key, const struct cache_layer *e,
			  struct pn_error **err);
/* arbitrary JSON object under a key: 1 hit (*out owned), 0 miss */
int build_cache_get_data(struct build_cache *c, const char *key, json_t **out,
			 struct pn_error **err);
int build_cache_put_data(struct build_cache *c, const char *key, json_t *data,
			 struct pn_error **err);

#endif
