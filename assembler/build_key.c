/* build_key.c - the cache-key recipe: what goes into the key of each step
 * kind, in order (docs/cache.md).  Every key starts from the chain (the key
 * of everything before the step); a secret contributes its id and target,
 * never its value.  Changing a recipe invalidates every cached layer of
 * that kind: the field names and their order are a stored format. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <stdio.h>
#include <string.h>

/* what every layer depends on besides its own inputs */
static void key_common(struct cache_key *k, const struct build_plan *p,
		       const struct oci_layer_opts *lo)
{
	char clamp[32];

	cache_key_add(k, "platform", p->platform ? p->platform : "linux/amd64");
	cache_key_add(k, "compression", oci_compression_name(lo->compression));
	snprintf(clamp, sizeof(clamp), "%lld", (long long)lo->mtime_clamp);
	cache_key_add(k, "mtime-clamp", clamp);
}

/* the chain starts at the base: its config digest (which names the
 * diff_ids), and the blobs its manifest points at with their diff_ids, so the
 * same config over other layer blobs is another chain (issue 17) */
void build_key_chain_start(const struct oci_image *base, oci_digest_t out)
{
	struct cache_key k;

	cache_key_begin(&k, NULL);
	cache_key_add(&k, "base-config", base->manifest.config.digest);
	for (size_t i = 0; i < base->manifest.n_layers; i++) {
		cache_key_add(&k, "base-layer", base->manifest.layers[i].digest);
		cache_key_add(&k, "base-diff-id",
			      i < base->config.n_diff_ids ? base->config.diff_ids[i] : "");
	}
	cache_key_finish(&k, out);
}

/* each "NAME=value" as the field NAME with the value */
static void key_env(struct cache_key *k, const struct pn_strv *env)
{
	for (size_t i = 0; i < env->n; i++) {
		const char *eq = strchr(env->v[i], '=');
		cleanup_free char *name =
			eq ? xstrndup(env->v[i], (size_t)(eq - env->v[i])) : xstrdup(env->v[i]);

		cache_key_add(k, name, eq ? eq + 1 : "");
	}
}

void build_key_env(const char *chain, const struct pn_strv *env, oci_digest_t out)
{
	struct cache_key k;

	cache_key_begin(&k, chain);
	cache_key_add(&k, "kind", "env");
	key_env(&k, env);
	cache_key_finish(&k, out);
}

void build_key_run(const char *chain, const struct plan_step *s, const struct build_plan *p,
		   const struct oci_layer_opts *lo, const struct pn_strv *env,
		   const oci_digest_t *file_digests, oci_digest_t out)
{
	struct cache_key k;

	cache_key_begin(&k, chain);
	cache_key_add(&k, "kind", "run");
	cache_key_add(&k, "shell", s->shell);
	cache_key_add(&k, "network", p->network_none ? "none" : "host");
	key_env(&k, env);
	for (size_t i = 0; i < s->n_files; i++) {
		cache_key_add(&k, "file", s->files[i].target);
		cache_key_add(&k, "digest", file_digests[i]);
	}
	for (size_t i = 0; i < s->n_secrets; i++) {
		/* the id and target only: never the value */
		cache_key_add(&k, "secret", s->secrets[i].id);
		cache_key_add(&k, "target", s->secrets[i].target);
	}
	for (size_t i = 0; i < s->key_inputs.n; i++)
		cache_key_add(&k, "input", s->key_inputs.v[i]);
	key_common(&k, p, lo);
	cache_key_finish(&k, out);
}

void build_key_copy(const char *chain, const char *kind, const struct plan_step *s,
		    const char *digest, const struct build_plan *p, const struct oci_layer_opts *lo,
		    oci_digest_t out)
{
	struct cache_key k;

	cache_key_begin(&k, chain);
	cache_key_add(&k, "kind", kind);
	cache_key_add(&k, "dest", s->copy_dest);
	cache_key_add(&k, "digest", digest);
	if (s->copy_from == PLAN_COPY_MODEL_DIR)
		cache_key_add(&k, "separate-weights", p->separate_weights ? "1" : "0");
	if (s->copy_from == PLAN_COPY_WEIGHTS) /* the file's data 4 KiB-aligned (oci align_data) */
		cache_key_add(&k, "layout", "aligned-4k");
	key_common(&k, p, lo);
	cache_key_finish(&k, out);
}

void build_key_postbuild(const char *chain, const char *predict, const char *schema_digest,
			 oci_digest_t out)
{
	struct cache_key k;

	cache_key_begin(&k, chain);
	cache_key_add(&k, "kind", "post-build");
	cache_key_add(&k, "pinion", PN_VERSION);
	cache_key_add(&k, "predict", predict);
	if (schema_digest)
		cache_key_add(&k, "schema-file", schema_digest);
	cache_key_finish(&k, out);
}
