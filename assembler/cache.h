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
 *   and so is an entry whose layer blob is gone (pruned layout).  A hit
 *   touches the entry file: its mtime is its last use (written or hit),
 *   which `pinion gc --max-age` / `--keep-storage` evict by.
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
/* each entry file in keys_dir (at most max_entries): fn gets its file name
 * (<hex>.json), its lstat (st_mtime: its last use, as a hit touches it) and
 * the layer digest it names (NULL: a post-build data entry, or one that
 * cannot be read) */
struct stat;
typedef void (*build_cache_entry_fn)(void *ud, const char *name, const struct stat *st,
				     const char *layer);
void build_cache_entries_scan(const char *keys_dir, size_t max_entries, build_cache_entry_fn fn,
			      void *ud);

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

/* ------------------------------------------------------ shared entries
 * The step cache entries as they travel in a registry cache artifact
 * (docs/build.md, "The registry cache"): one JSON document
 *   {"v":1, "entries": {"<key>": <entry>, ...}}
 * where an entry is a local entry without "v" ({"layer", "diff_id",
 * "created_by", "created"} or {"data"}) plus "used", the Unix time it was
 * last exported.  The document comes from outside: parse validates every
 * entry and drops the ones that are not well formed (a dropped entry is a
 * miss, never an error); at most CACHE_ENTRIES_MAX are read. */
#define CACHE_ENTRIES_MAX     4096
#define CACHE_ENTRIES_DOC_MAX ((size_t)64 << 20)
/* *out: a new object key -> entry; PN_ERR_INVALID when data is not such a
 * document at all */
int cache_entries_parse(const char *data, size_t len, json_t **out, struct pn_error **err);
/* the canonical document of entries (sorted keys, compact; *out owned) */
char *cache_entries_encode(json_t *entries, size_t *len);
/* every entry of from into into, where into has none for its key or an older
 * one ("used"); the number of entries added or replaced */
size_t cache_entries_merge(json_t *into, json_t *from);
/* keep the max most recently used entries (ties: by key), drop the rest */
void cache_entries_trim(json_t *entries, size_t max);
/* drop the entries last exported before `before` (Unix time) */
void cache_entries_expire(json_t *entries, int64_t before);
/* does every key of sub have the same entry ("used" aside) in all? */
bool cache_entries_cover(json_t *all, json_t *sub);
/* was every key of sub exported to all at `since` or later? */
bool cache_entries_fresh(json_t *all, json_t *sub, int64_t since);
/* the layer descriptors the entries name, each digest once, in key order */
void cache_entries_layers(json_t *entries, struct oci_descriptor **out, size_t *n);

/* Entries imported from elsewhere (--cache-from): a local miss looks its key
 * up in entries; a layer entry's blob comes through fetch when the layout
 * lacks it (fetch verifies the digest), then its size and diff_id are
 * checked.  Anything wrong is a miss and a warning.  A hit is written as a
 * local entry.  entries: reference taken. */
typedef int (*build_cache_fetch_fn)(void *ud, json_t *entry, const struct oci_descriptor *layer,
				    struct oci_layout *dst, struct pn_error **err);
void build_cache_set_remote(struct build_cache *c, json_t *entries, build_cache_fetch_fn fetch,
			    void *ud);
/* key -> entry (as in the shared document, no "used") of every hit and
 * every put of this process; borrowed */
json_t *build_cache_used(struct build_cache *c);
/* how many looked-up keys were hits from the imported entries, and how many
 * imported entries were refused (missing blob, size, digest, diff_id) */
void build_cache_remote_stats(const struct build_cache *c, size_t *hits, size_t *refused);

#endif
