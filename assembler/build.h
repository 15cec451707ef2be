/* build.h - the executor of `pinion build`: cog.yaml -> plan -> image.
 *
 *   struct build_opts o;  build_opts_init(&o);  o.output = "oci:out:latest";
 *   struct build_result res;
 *   if (build_run(&o, &res, &err) < 0) return pn_cli_fail(err);
 *
 * What it does: loads and completes cog.yaml, makes the plan (base existence
 * checks through the registry client), pulls the base into the cache layout
 * (mirrors apply; an unreachable registry falls back to a cached copy of the
 * base with a warning), runs each step with the layer cache (ENV edits, COPY
 * layers written directly, RUN steps in the runner's sandbox, secrets as
 * files on the step's tmpfs), runs the post-build in the sandbox (OpenAPI
 * schema, pip freeze; cached by the layer chain), writes labels, config and
 * manifest, then stores the image in the output layout (blobs first, the tag
 * last, so a failed build leaves the layout as it was) and/or pushes it.
 *
 * Errors name the step ("step `pip`: ...") and carry a hint.  Codes:
 * PN_ERR_INVALID for bad cog.yaml or options (exit 2), others exit 1. */
#ifndef PN_ASSEMBLER_BUILD_H
#define PN_ASSEMBLER_BUILD_H

#include "common/common.h"
#include "oci/oci.h"
#include "registry/registry.h"
#include "assembler/plan.h"

#define BUILD_DEFAULT_LAYOUT ".pinion/layout" /* under the model dir */
#define BUILD_DEFAULT_TAG    "latest"
#define BUILD_SECRETS_MAX    64
#define BUILD_SECRET_MAX     ((size_t)1 << 20)

struct build_secret {
	char *id;
	char *src; /* a file, or NULL */
	char *env; /* an environment variable, or NULL */
};

struct base_image; /* assembler/base_image.h */

struct build_opts {
	const char *config_file; /* -f; NULL = cog.yaml */
	const char *tag;	 /* -t NAME[:TAG], or NULL */
	const char *output;	 /* oci:DIR[:TAG]; NULL = default layout unless push only */
	const char *push_ref;	 /* push to this reference after the build, or NULL */
	bool push;		 /* push to push_ref, else -t, else cog.yaml `image` */
	bool no_cache;
	struct build_secret *secrets;
	size_t n_secrets;
	bool separate_weights; /* default true */
	enum plan_tristate use_cog_base, use_cuda_base;
	const char *openapi_schema; /* a file: use it instead of asking the image */
	int64_t timestamp;	    /* -1: SOURCE_DATE_EPOCH, else the cached/first build time */
	const struct registry_opts *ropts;
	const char *platform; /* NULL = linux/amd64 */
	enum oci_compression compression;
	bool network_none;     /* RUN steps without network */
	const char *cache_dir; /* NULL = pn_cache_dir() */
	bool dry_run, dry_run_json;
	/* the environment of RUN steps from the host (docs/build.md): "NAME"
	 * (the host's value) or "NAME=VALUE" from --build-env, over the default
	 * pass-through of proxy and pip settings, which no_host_env turns off;
	 * cog.yaml `environment` wins over both.  Never in the image or the key. */
	struct pn_strv build_env;
	bool no_host_env;
	/* --cache-from REF (each) and --cache-to REF[,mode=max][,max-entries=N]
	 * (docs/build.md, "The registry cache") */
	struct pn_strv cache_from, cache_to;
	/* --cog-base-registry HOST[/PATH]: where the cog-base images are (over
	 * $COG_REGISTRY_HOST; default r8.im) */
	const char *cog_base_registry;
	/* `pinion base-image build`: build this cog-base image (its config and
	 * plan, base_image.h) instead of a model directory's cog.yaml */
	const struct base_image *base_image;
	/* RUN steps get no package caches (pip, apt) shared across builds */
	bool no_package_cache;
	bool no_sbom; /* --sbom=false: no SBOM, no provenance (docs/sbom.md) */
};
void build_opts_init(struct build_opts *o);
/* "id=ID,src=PATH" | "id=ID,env=VAR" appended to o->secrets (PN_ERR_INVALID) */
int build_opts_add_secret(struct build_opts *o, const char *spec, struct pn_error **err);
void build_opts_release(struct build_opts *o);
/* a --cache-from (to false) or --cache-to spec, checked, appended
 * (PN_ERR_INVALID for a bad one) */
int build_opts_add_cache(struct build_opts *o, const char *spec, bool to, struct pn_error **err);
/* --build-env NAME[=VALUE] appended to o->build_env (PN_ERR_INVALID for a bad name) */
int build_opts_add_env(struct build_opts *o, const char *spec, struct pn_error **err);

struct build_result {
	struct oci_descriptor manifest; /* the built image's manifest */
	char *layout_dir;		/* where it was stored (if any) */
	char *layout_tag;
	char *pushed; /* the pushed reference (if any) */
	size_t steps, hits;
};
void build_result_init(struct build_result *r);
void build_result_release(struct build_result *r);

int build_run(const struct build_opts *o, struct build_result *out, struct pn_error **err);

/* the default output location for a model directory (owned): DIR/.pinion/layout */
char *build_default_layout(const char *model_dir);
/* PN_ERR_INVALID when `.pinion` or `.pinion/layout` in the (untrusted) model
 * directory exists and is not a directory (a symlink would lead the layout
 * out of it) */
int build_default_layout_check(const char *model_dir, struct pn_error **err);

/* the embedded tini-static binary */
const unsigned char *build_tini_data(size_t *len);

#endif
