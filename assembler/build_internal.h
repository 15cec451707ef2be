/* build_internal.h - state shared by the executor's files (build*.c,
 * postbuild.c); not for other modules. */
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

struct build_state {
	const struct build_opts *o;
	char *model_dir;
	char *push_ref; /* where to push, or NULL */
	struct cog_config cfg;
	struct build_plan plan;
	struct wheel_choice wheel; /* COG_WHEEL resolved */
	struct registry_client *client;
	struct build_cache *cache;
	struct oci_layout *cl;	  /* the cache layout (borrowed from cache) */
	struct oci_image img;	  /* the image being built (starts as the base) */
	char *base_ref;		  /* the base reference as resolved */
	oci_digest_t base_digest; /* its manifest digest */
	size_t base_history;	  /* history entries of the base */
	oci_digest_t chain;	  /* the cache key of everything so far */
	struct runner *runner;	  /* lazily, at the first RUN miss */
	struct runner_rootfs rf;
	bool rf_ready;
	size_t rf_synced;		/* image layers reflected in rf */
	struct pn_strv weight_diff_ids; /* layers of weights (left out of the post-build rootfs) */
	struct src_tree src;
	bool src_ready;
	bool weights_done;
	char *memo_path; /* file digest memo of this model directory */
	char *tmpdir;	 /* private scratch (secret/env files), removed at the end */
	struct oci_layer_opts lopts;
	size_t step_no, n_layer_steps, hits;
	bool any_miss;
};

/* progress: one line or JSON event per step */
void build_step_event(struct build_state *st, const char *name, bool hit, double seconds,
		      const char *what);
double build_now(void);

/* build_steps.c */
int build_step_env(struct build_state *st, const struct plan_step *s, struct pn_error **err);
int build_step_run(struct build_state *st, const struct plan_step *s, struct pn_error **err);
int build_step_copy(struct build_state *st, const struct plan_step *s, struct pn_error **err);
int build_add_layer(struct build_state *st, const struct cache_layer *e, struct pn_error **err);
/* the sandbox rootfs of the image so far (lazily unpacked, then kept in
 * step); skip_weights leaves the weight layers out (post-build only) */
int build_ensure_rootfs(struct build_state *st, bool skip_weights, struct pn_error **err);
int build_ensure_runner(struct build_state *st, struct pn_error **err);
/* the host's part of the RUN steps' environment into p->host_env: the
 * pass-through (unless o->no_host_env), then --build-env, each marked
 * shadowed when cog.yaml `environment` sets the name */
void build_host_env(const struct build_opts *o, const struct cog_config *cfg, struct build_plan *p);
int build_ensure_source(struct build_state *st, struct pn_error **err);

/* postbuild.c: labels on st->img.config (schema, pip freeze, OCI labels) */
int build_postbuild(struct build_state *st, struct pn_error **err);
/* run `shell` in the sandbox over rf, stdout captured (at most max bytes) */
int build_sandbox_capture(struct build_state *st, const char *name, const char *shell, size_t max,
			  char **out, struct pn_error **err);

#endif
