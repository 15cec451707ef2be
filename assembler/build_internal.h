/* build_internal.h - the rooms of the executor (not for other modules).
 *
 * Files, each calling only those listed below it:
 *   build.c          setup (config, plan, cache, base), the step loop, output
 *   postbuild.c      after the steps: schema and pip freeze in the sandbox, labels
 *   build_sbom.c     the SBOM and provenance, attached as referrers (sbom.h)
 *   build_steps.c    one plan step over its struct step_ctx: ENV, RUN, COPY
 *   build_weights.c  the weight layers of a weights step (planned per file)
 *   build_layer.c    a layer step through the cache: a hit, or write and commit
 *   build_secrets.c  --secret values as files for a RUN step
 *   build_hostenv.c  the host's part of the RUN steps' environment
 *   build_source.c   the source walk of the model directory (plan stage)
 *   build_key.c      the cache-key recipe of every step kind
 *   build_cache_remote.c  --cache-from / --cache-to: the step cache as an
 *                    artifact in a registry or an OCI layout
 *   build_exec.c     the bottom: rootfs and sandbox lifecycle, progress, time, tini
 *
 * Data flow: build.c decides everything that comes from the options in the
 * plan (platform, network, separate weights, host env, the weight layers
 * after the source walk), then hands each step the plan step and one
 * struct step_ctx; a step reaches nothing else. */
#ifndef PN_ASSEMBLER_BUILD_INTERNAL_H
#define PN_ASSEMBLER_BUILD_INTERNAL_H

#include "assembler/build.h"
#include "assembler/cache.h"
#include "assembler/cogconfig.h"
#include "assembler/plan.h"
#include "assembler/source.h"
#include "assembler/wheel.h"
#include "runner/runner.h"

#include <jansson.h>

/* ------------------------------------------------------------ build_exec.c */

/* the image being built and the sandbox over it */
struct build_exec {
	struct oci_layout *cl;	 /* the cache layout (borrowed) */
	struct oci_image img;	 /* the image so far (starts as the base) */
	const char *cache_dir;	 /* the runner's (NULL = default; borrowed) */
	bool package_cache;	 /* RUN steps get the package caches (pkgcache.h) */
	char *tmpdir;		 /* private scratch (owned), removed by release */
	struct runner *runner;	 /* lazily, at the first sandbox use */
	struct runner_rootfs rf; /* the sandbox rootfs of img */
	bool rf_ready;
	size_t rf_synced;		/* image layers reflected in rf */
	struct pn_strv weight_diff_ids; /* layers of weights (left out of the post-build rootfs) */
	/* --push to a registry (no --output): weights layers go from the model
	 * file straight to this target (build_weights.c); both borrowed */
	struct registry_client *push_client;
	const char *push_ref;
	struct pn_strv streamed; /* digests of the layers there, not in cl */
	/* progress: the shown steps (each RUN, COPY and weight layer, the
	 * post-build; ENV steps are silent), numbered without gaps */
	size_t step_no, n_steps; /* the step shown last, of how many */
	char *step_title;	 /* the running step's "[n/N] name" (owned), or NULL */
	double step_t0;
};
void build_exec_init(struct build_exec *ex);
void build_exec_release(struct build_exec *ex);
double build_now(void);
/* Progress of a shown step: begin takes the next number and, on a
 * terminal, shows it live (detail: its command, or NULL); started says a RUN
 * step really runs (a line in plain mode, an event in json mode: the live
 * view shows it already); end is its one line or event (hit: from the
 * cache; what: a detail such as the weight file); failed ends it on a
 * terminal with "failed after Ns" (the error follows). */
void build_step_begin(struct build_exec *ex, const char *name, const char *detail);
void build_step_started(const struct build_exec *ex, const char *name, const char *detail);
void build_step_event(struct build_exec *ex, const char *name, bool hit, double seconds,
		      const char *what);
void build_step_failed(struct build_exec *ex);
/* a layer (from the cache or just built) on top of the image */
void build_exec_add_layer(struct build_exec *ex, const struct cache_layer *e);
/* the sandbox rootfs of the image so far (lazily unpacked, then kept in
 * step); skip_weights leaves the weight layers out (post-build only) */
int build_exec_rootfs(struct build_exec *ex, bool skip_weights, struct pn_error **err);

/* ------------------------------------------------------------- build_key.c */

/* the chain starts at the base image */
void build_key_chain_start(const struct oci_image *base, oci_digest_t out);
/* an ENV step: env holds the expanded "NAME=value" edits */
void build_key_env(const char *chain, const struct pn_strv *env, oci_digest_t out);
/* a RUN step: env its expanded "NAME=value" edits, file_digests one per s->files */
void build_key_run(const char *chain, const struct plan_step *s, const struct build_plan *p,
		   const struct oci_layer_opts *lo, const struct pn_strv *env,
		   const oci_digest_t *file_digests, oci_digest_t out);
/* a COPY layer: kind "copy-tini", "copy-weight" or "copy-source" */
void build_key_copy(const char *chain, const char *kind, const struct plan_step *s,
		    const char *digest, const struct build_plan *p, const struct oci_layer_opts *lo,
		    oci_digest_t out);
/* the post-build data (schema_digest: of --openapi-schema, or NULL) */
void build_key_postbuild(const char *chain, const char *predict, const char *schema_digest,
			 oci_digest_t out);

/* ---------------------------------------------------- build_cache_remote.c */

/* REF[,mode=min|max][,max-entries=N][,max-age=DAYS]: REF a registry REPO:TAG (normalised)
 * or oci:DIR[:TAG] (tag default "buildcache") */
struct cache_spec {
	char *ref;	    /* registry reference, or NULL */
	char *dir, *tag;    /* oci:DIR:TAG, or NULL */
	bool max;	    /* mode=max: every step, also after a failed build */
	size_t max_entries; /* the artifact keeps at most this many entries */
	int max_age_days;   /* and drops those exported longer ago than this */
};
/* PN_ERR_INVALID for a bad spec (options only when to) */
int cache_spec_parse(const char *text, bool to, struct cache_spec *out, struct pn_error **err);
void cache_spec_release(struct cache_spec *s);

struct cache_remote;
/* the --cache-from/--cache-to of o; imports every --cache-from artifact into
 * cache (build_cache_set_remote; a source that cannot be read is a warning).
 * *out stays NULL when o names no remote cache.  c and cache are borrowed
 * and must outlive *out; *out must outlive the cache's look-ups. */
int cache_remote_open(const struct build_opts *o, struct registry_client *c,
		      struct build_cache *cache, struct cache_remote **out, struct pn_error **err);
/* merge this build's entries into every --cache-to artifact; img is the
 * built image, or NULL after a failed build (then only mode=max exports).
 * Failures are warnings: the image is built already. */
void cache_remote_export(struct cache_remote *r, const struct oci_image *img);
void cache_remote_free(struct cache_remote *r);

/* ---------------------------------------------------------- build_source.c */

/* walk the model directory into out, leaving out our own output layout and
 * cache dir when they lie inside it, and list the weight files in the
 * plan's weights step (plan stage) */
int build_source_walk(const char *model_dir, const char *output, const char *cache_dir,
		      struct build_plan *p, struct src_tree *out, struct pn_error **err);

/* --------------------------------------------------------- build_hostenv.c */

/* the host's part of the RUN steps' environment into p->host_env: the
 * pass-through (unless o->no_host_env), then --build-env, each marked
 * shadowed when cog.yaml `environment` sets the name (plan stage) */
void build_host_env(const struct build_opts *o, const struct cog_config *cfg, struct build_plan *p);
/* the host variables RUN steps get, as NAME=value into env */
void build_host_env_add(const struct build_plan *p, struct pn_strv *env);

/* --------------------------------------------------------- build_secrets.c */

/* the secret given with --secret id, or NULL */
const struct build_secret *build_secret_find(const struct build_secret *v, size_t n,
					     const char *id);
/* before the first step: every secret a RUN step of p mounts is given
 * (--secret), its file readable or its variable set; else PN_ERR_INVALID
 * naming the first step that needs it */
int build_secrets_check(const struct build_plan *p, const struct build_secret *v, size_t n,
			struct pn_error **err);
/* the host file that holds secret s (owned): its src, or its env value
 * written to tmpdir (mode 0600) */
int build_secret_file(const struct build_secret *s, const char *tmpdir, char **out,
		      struct pn_error **err);

/* ------------------------------------------------------------ step context */

/* all a step reaches */
struct step_ctx {
	struct build_exec *ex; /* the image, the layout, the sandbox, progress */
	struct build_cache *cache;
	bool use_cache;			    /* false: --no-cache (no look-ups) */
	const struct oci_layer_opts *lopts; /* compression, mtime clamp */
	const struct build_plan *plan;	    /* platform, network, host env ... */
	struct src_tree *src;		    /* the walked model directory (digests filled lazily) */
	const struct wheel_choice *wheel;   /* the cog wheel (COG_WHEEL) */
	const struct build_secret *secrets; /* --secret */
	size_t n_secrets;
	oci_digest_t chain; /* the cache key of everything so far */
	size_t n_layer_steps, hits;
	bool err_named; /* the last error already names the step (the runner's) */
};

/* ----------------------------------------------------------- build_layer.c */

/* look the key up: on a hit add the layer, advance the chain and say so
 * (the step was begun: build_step_begin); 1 hit, 0 miss */
int build_layer_try_cache(struct step_ctx *sc, const char *key, const char *name,
			  const char *detail, struct pn_error **err);
/* a new layer: remember it under key, add it, advance the chain */
int build_layer_commit(struct step_ctx *sc, const char *key, const struct oci_layer_result *lr,
		       const char *created_by, struct pn_error **err);
/* a layer that has no blob in the cache layout (streamed to the push
 * target): add it and advance the chain, nothing remembered */
void build_layer_add_streamed(struct step_ctx *sc, const char *key,
			      const struct oci_layer_result *lr, const char *created_by);
typedef int (*build_layer_fill_fn)(struct oci_layer_writer *w, const void *arg,
				   struct pn_error **err);
/* a layer into l (no cache look-up, nothing remembered) */
int build_layer_write(struct oci_layout *l, const struct oci_layer_opts *lo,
		      build_layer_fill_fn fill, const void *arg, struct oci_layer_result *out,
		      struct pn_error **err);
/* a shown step (build_step_begin): key -> a hit, or a new layer that fill
 * writes; detail names it further (a weight file), or is NULL */
int build_layer_copy(struct step_ctx *sc, const char *name, const char *key,
		     const struct oci_layer_opts *lo, build_layer_fill_fn fill, const void *arg,
		     const char *created_by, const char *detail, struct pn_error **err);
/* fill for the model directory: arg is a struct build_src_arg */
struct build_src_arg {
	const struct src_tree *src;
	const char *prefix; /* the destination without its leading '/' */
	size_t index;	    /* weight entry, or SIZE_MAX for the source layer */
};
int build_layer_fill_src(struct oci_layer_writer *w, const void *arg, struct pn_error **err);

/* --------------------------------------------------------- build_weights.c */

/* the weight layers the plan lists for step s, one per file */
int build_weights_copy(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err);

/* ----------------------------------------------------------- build_steps.c */

/* run plan step s; an error does not name the step unless sc->err_named */
int build_step(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err);

/* ------------------------------------------------------------- postbuild.c */

/* what the post-build needs besides the step context */
struct postbuild_in {
	const struct cog_config *cfg;
	const struct build_plan *plan;
	const char *model_dir;	 /* for the git labels */
	const char *base_ref;	 /* the base as resolved */
	const char *base_digest; /* its manifest digest */
	size_t base_history;	 /* history entries of the base */
	const char *schema_file; /* --openapi-schema, or NULL */
	int64_t timestamp;	 /* -1: SOURCE_DATE_EPOCH, else the cached/first build time */
};
/* labels on sc->ex->img.config (schema, pip freeze, OCI labels) */
int build_postbuild(struct step_ctx *sc, const struct postbuild_in *in, struct pn_error **err);

/* ------------------------------------------------------------ build_sbom.c */

struct build_sbom_in {
	const char *name;	 /* the image name the documents give */
	const char *base_ref;	 /* the base as resolved */
	const char *base_digest; /* its manifest digest */
	const char *cog_yaml;	 /* the config file's path */
	int64_t timestamp;	 /* --timestamp, or -1 */
};
/* the documents of one build, made after the post-build (the image's
 * created time is final), attached once the manifest digest is known */
struct build_sbom {
	bool ready;
	char *spdx; /* the SPDX document (canonical JSON) */
	size_t spdx_len;
	size_t n_deb, n_python;
	char *name, *base_name, *created;
	oci_digest_t base_digest, source, cog_yaml;
	bool has_cog_yaml;
	int64_t source_date_epoch; /* < 0: not set */
};
void build_sbom_release(struct build_sbom *s);
/* the inventory (cached by sc->chain, else read from the rootfs without the
 * weight layers) and the SPDX document */
int build_sbom_make(struct step_ctx *sc, const struct build_sbom_in *in, struct build_sbom *out,
		    struct pn_error **err);
/* store the SBOM and the provenance of image subject in l as its referrers
 * (nothing when s is not ready) */
int build_sbom_attach(const struct build_sbom *s, struct oci_layout *l,
		      const struct oci_descriptor *subject, struct pn_error **err);
/* the same in l (the layout the image was pushed from, where subject is an
 * entry), then pushed to dst's repository */
int build_sbom_push(const struct build_sbom *s, struct registry_client *c, struct oci_layout *l,
		    const struct oci_descriptor *subject, const char *dst, struct pn_error **err);

#endif
