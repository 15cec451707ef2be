/* plan.h - the build plan: what `pinion build` does for a completed cog.yaml,
 * as an ordered list of steps plus edits of the image config, following
 * BUILD-FACTS.md "Image contents, in layer order".  Printed by
 * `pinion build --dry-run` (text or JSON); the executor (cmd_build.c) runs it.
 *
 * Step kinds:
 *  PLAN_STEP_ENV   no layer: env additions to the image config (values may
 *                  reference $VAR of the env in effect: use plan_env_expand)
 *  PLAN_STEP_RUN   /bin/sh -c `shell` in the sandbox; `files` are provided at
 *                  their target during the step (content inline, or a file the
 *                  executor resolves by its kind: the cog wheel); secret
 *                  mounts only during the step
 *  PLAN_STEP_COPY  copy_from (the model directory, its weight files, or the
 *                  embedded tini) to copy_dest; a weights step lists its
 *                  layers (one per weight file) once the source walk has
 *                  filled them in (build_plan_add_weight)
 * Each step's key_inputs are the strings that go into its cache key besides
 * the parent chain (step definition, requirements text, wheel marker ...);
 * they never contain secret values.
 *
 * Ownership: everything in a plan is owned by it; build_plan_release frees it. */
#ifndef PN_ASSEMBLER_PLAN_H
#define PN_ASSEMBLER_PLAN_H

#include "common/common.h"
#include "assembler/cogconfig.h"

enum plan_tristate { PLAN_AUTO = 0, PLAN_YES, PLAN_NO }; /* same values as compat_tristate */

/* Parse a Cog boolean flag such as --use-cog-base-image: "--flag" and
 * "--flag=true" -> PLAN_YES, "=false" -> PLAN_NO, "=auto" -> PLAN_AUTO.
 * Returns 0 when set, -1 when arg is not this flag, -2 for another value. */
int plan_tristate_flag(const char *arg, const char *flag, enum plan_tristate *out);

struct build_plan_opts {
	enum plan_tristate use_cog_base;  /* --use-cog-base-image[=true|false] */
	enum plan_tristate use_cuda_base; /* --use-cuda-base-image[=true|false] */
	const char *registry_host;	  /* COG_REGISTRY_HOST; NULL -> "r8.im" */
	/* existence check of a cog-base image (wire to registry_exists); NULL
	 * turns it off: an AUTO cog-base is then not used */
	int (*image_exists)(const char *ref, bool *exists, void *ud, struct pn_error **err);
	void *ud;
	const char *cog_wheel;	    /* COG_WHEEL (NULL = embedded "cog"); read once, here */
	const char *cog_wheel_name; /* file name of the wheel; NULL -> wheel_spec_name(cog_wheel) */
	bool separate_weights;	    /* --separate-weights: a weights COPY step before the source */
	const char *platform;	    /* --platform; NULL -> "linux/amd64" */
	bool network_none;	    /* --network none: RUN steps without network */
	/* the plan of a cog-base image (base_image.h): the model's steps up to
	 * its requirements and `run` commands, without the cog wheel, the
	 * runtime env, the weights and the source; of the config edits the
	 * entrypoint only, no labels (the caller sets its own) */
	bool base_image;
};
/* zero + registry_host from $COG_REGISTRY_HOST + cog_wheel from $COG_WHEEL */
void build_plan_opts_init(struct build_plan_opts *o);

enum plan_step_kind { PLAN_STEP_ENV, PLAN_STEP_RUN, PLAN_STEP_COPY };
enum plan_step_id {
	PLAN_ID_BASE_ENV, /* DEBIAN_FRONTEND, PYTHONUNBUFFERED, LD_LIBRARY_PATH, NVIDIA_... */
	PLAN_ID_TINI,	  /* COPY tini -> /sbin/tini (Cog downloads it; pinion ships tini-static) */
	PLAN_ID_USER_ENV, /* cog.yaml environment */
	PLAN_ID_APT,	  /* system_packages */
	PLAN_ID_PYTHON_ENV,  /* PATH for pyenv (GPU without cog-base) */
	PLAN_ID_PYTHON,	     /* install Python (GPU without cog-base) */
	PLAN_ID_PRE_INSTALL, /* deprecated build.pre_install commands */
	PLAN_ID_PIP,	     /* pip install -r /tmp/requirements.txt */
	PLAN_ID_COG_WHEEL,   /* the cog SDK wheel */
	PLAN_ID_RUN,	     /* one build.run command */
	PLAN_ID_RUNTIME_ENV, /* COG_PREDICT_TYPE_STUB (+ train) */
	PLAN_ID_WEIGHTS,     /* --separate-weights */
	PLAN_ID_SOURCE,	     /* COPY . /src */
};

struct plan_env {
	char *name;
	char *value;
};
struct plan_secret {
	char *id;
	char *target;
};
/* where a RUN step's file comes from */
enum plan_file_from {
	PLAN_FILE_INLINE,    /* content, in the plan */
	PLAN_FILE_COG_WHEEL, /* the cog wheel the executor selected (COG_WHEEL) */
};
struct plan_file {
	char *target; /* absolute path in the rootfs during the step */
	enum plan_file_from from;
	char *content; /* PLAN_FILE_INLINE: the content */
	size_t len;
};
/* what a COPY step copies */
enum plan_copy_from {
	PLAN_COPY_MODEL_DIR, /* the model directory (without its weights when separated) */
	PLAN_COPY_WEIGHTS,   /* the weight files of the model directory, one layer each */
	PLAN_COPY_TINI,	     /* the embedded tini-static binary */
};
/* one layer of a weights step: a weight file of the source walk */
struct plan_weight {
	char *path;   /* relative to the model directory */
	int64_t size; /* bytes */
	size_t entry; /* its index in the walked source tree */
};
struct plan_step {
	enum plan_step_kind kind;
	enum plan_step_id id;
	char *name;  /* for progress: "apt", "pip", "run 1", ... */
	char *shell; /* RUN: the text after /bin/sh -c */
	struct plan_env *env;
	size_t n_env;
	struct plan_secret *secrets;
	size_t n_secrets;
	struct plan_file *files;
	size_t n_files;
	enum plan_copy_from copy_from; /* COPY */
	char *copy_dest;
	struct plan_weight *weights; /* PLAN_COPY_WEIGHTS: its layers, in tree order */
	size_t n_weights;
	struct pn_strv key_inputs;
};

/* a variable of the host's that RUN steps see (never the image, the labels or
 * the cache key): from the default pass-through, or --build-env */
enum plan_env_source { PLAN_ENV_HOST = 0, PLAN_ENV_BUILD_ENV_HOST, PLAN_ENV_BUILD_ENV };
struct plan_host_env {
	char *name;
	char *value;
	enum plan_env_source source;
	bool shadowed;	/* cog.yaml `environment` sets it: the steps get that value */
	bool host_path; /* the default pass-through's value names a host path (a file
			 * or directory that the sandbox does not have): not passed */
};

struct build_plan {
	char *base_image;    /* full reference */
	bool cog_base;	     /* base is a cog-base image */
	char *cog_base_name; /* = base_image when cog_base (the label value) */
	bool cuda_base;	     /* base is nvidia/cuda */
	bool base_checked;   /* an existence check was made */
	char *base_reason;   /* human phrase */
	struct plan_step *steps;
	size_t n_steps;
	/* config edits, applied after the steps */
	struct pn_strv entrypoint; /* ["/sbin/tini","--"] */
	struct pn_strv cmd;	   /* ["python","-m","cog.server.http"] */
	char *workdir;		   /* "/src" */
	char *expose;		   /* "5000/tcp" */
	/* the Cog version the image follows: the version of the cog wheel it
	 * installs, without the local part (0.16.12 for pinion's embedded SDK) */
	char *cog_version;
	struct plan_env *labels; /* run.cog.version (cog_version), run.pinion.version,
				  * run.cog.config, run.cog.has_init, cog-base name */
	size_t n_labels;
	char *requirements; /* the generated requirements text (copy) */
	char *python_version;
	bool gpu;
	char *cuda, *cudnn; /* NULL for CPU */
	/* decided from the options: the executor reads them here */
	char *platform;			/* "linux/amd64" unless --platform */
	bool network_none;		/* RUN steps without network */
	bool separate_weights;		/* weights in layers of their own */
	struct plan_host_env *host_env; /* filled in the plan stage (build_host_env) */
	size_t n_host_env;
};
/* add one (copies); a name already there is replaced */
void build_plan_add_host_env(struct build_plan *p, const char *name, const char *value,
			     enum plan_env_source source, bool shadowed);
/* whether RUN steps get this variable */
bool plan_host_env_used(const struct plan_host_env *e);
/* whether a pass-through value names a path on the host (`/x`, `./x`, `file:`)
 * rather than a URL, host name or setting: any of its space-separated words */
bool plan_env_names_host_path(const char *value);
/* the value as --dry-run shows it (owned): a URL's password and the value of
 * a name that looks secret (TOKEN, SECRET, PASSWORD, KEY, ...) masked */
char *plan_env_display(const char *name, const char *value);

void build_plan_init(struct build_plan *p);
void build_plan_release(struct build_plan *p);
/* Make the plan for a completed config.  Only the existence callback touches
 * the network.  Errors: PN_ERR_NOT_FOUND when --use-cog-base-image=true and
 * no cog-base fits, PN_ERR_INVALID for impossible combinations, else the
 * callback's error wrapped. */
int build_plan_make(const struct cog_config *cfg, const struct build_plan_opts *opts,
		    struct build_plan *out, struct pn_error **err);
/* set label name to value in the plan's config edits (copies; replaces) */
void build_plan_set_label(struct build_plan *p, const char *name, const char *value);
/* a weight file found by the source walk: a layer of the weights step (when
 * the plan has one; else nothing).  Copies path. */
void build_plan_add_weight(struct build_plan *p, const char *path, int64_t size, size_t entry);
/* the source a COPY step shows (".", or "embedded tini") */
const char *plan_copy_from_display(enum plan_copy_from from);
/* human view for --dry-run */
void build_plan_print_text(const struct build_plan *p, FILE *f);
/* JSON view for --dry-run --json (owned, pretty-printed, ends without "\n") */
char *build_plan_to_json(const struct build_plan *p);
/* The Dockerfile Cog would generate for this config and plan (owned). */
char *build_plan_dockerfile(const struct cog_config *cfg, const struct build_plan *p);
/* Cog's pyenv command that installs Python `version` into a CUDA base image
 * (the Dockerfile view shows it; the plan runs it only when the base has no
 * python<version> with pip).  Owned by the caller. */
char *plan_python_pyenv_shell(const char *version);

/* Expand $NAME and ${NAME} in value against env ("NAME=value" strings,
 * NULL-terminated; unknown names expand to ""). Owned; NULL with
 * PN_ERR_TOO_LARGE when the result passes the buffer's maximum (values that
 * repeat themselves, A=$A$A, double at each step). */
char *plan_env_expand(const char *value, char *const *env, struct pn_error **err);

#endif
