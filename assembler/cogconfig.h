/* cogconfig.h - cog.yaml: parsing (libyaml), validation with every problem
 * reported at once (file:line:col + key path), and completion (CUDA/cuDNN from
 * the compat matrices, the generated requirements text).
 *
 * Usage:
 *   struct cog_config cfg;
 *   if (cog_config_load("cog.yaml", &cfg, &err) < 0) return pn_cli_fail(err);
 *   ... cfg.build.cuda, cfg.requirements ...
 *   cog_config_release(&cfg);
 *
 * Errors: PN_ERR_INVALID for anything wrong in cog.yaml or with its
 * completion (exit 2); err->msg is then one problem line
 *   "cog.yaml:4:19: build.python_version: "3.9" is below the minimum 3.10"
 * or, for several, "N problems in `cog.yaml`:" followed by one line per
 * problem ("\n" separated).  Other codes for I/O failures (not found...).
 *
 * cog.yaml and its directory (the model directory) are untrusted input: the
 * file is refused past COG_CONFIG_MAX_SIZE before it is read, and when it is
 * a symlink out of its directory; every file it names is opened beneath that
 * directory (pn_path_open_beneath) and nothing read from a refused file is
 * ever printed; nesting, aliases, anchors and scalar length are limited on
 * libyaml's event stream before its loader runs (docs/config.md). */
#ifndef PN_ASSEMBLER_COGCONFIG_H
#define PN_ASSEMBLER_COGCONFIG_H

#include "common/common.h"

#define COG_DEFAULT_PYTHON	  "3.13"
#define COG_MIN_PYTHON		  "3.10"
#define COG_MAX_PYTHON		  "3.13"
#define COG_CONFIG_MAX_SIZE	  ((size_t)1 << 20) /* cog.yaml */
#define COG_REQUIREMENTS_MAX_SIZE ((size_t)1 << 20)

struct cog_mount {
	char *type; /* always "secret" after validation */
	char *id;
	char *target;
};
struct cog_run {
	char *command; /* one line (no newline; a trailing one is dropped) */
	struct cog_mount *mounts;
	size_t n_mounts;
};
struct cog_build {
	bool gpu;
	char *python_version; /* maj.min, COG_DEFAULT_PYTHON when unset */
	struct pn_strv python_packages;
	char *python_requirements;	/* as written in cog.yaml, or NULL */
	char *python_requirements_path; /* resolved against the config's directory */
	struct pn_strv system_packages;
	struct cog_run *run;
	size_t n_run;
	struct pn_strv pre_install;
	char *cuda;	     /* completed (gpu): maj.min; NULL for CPU */
	char *cudnn;	     /* completed (gpu); NULL for CPU */
	bool cuda_from_user; /* cuda was written in cog.yaml */
	char *sdk_version;   /* as written (kept in the config label; not installed), or NULL */
};
struct cog_config {
	char *path; /* as given to load */
	char *dir;  /* its directory ("." for a bare name) */
	struct cog_build build;
	char *image;			/* or NULL */
	char *predict;			/* "predict.py:Predictor" (from predict or run), or NULL */
	char *train;			/* or NULL */
	int concurrency_max;		/* 0 = unset */
	int concurrency_default_target; /* 0 = unset */
	struct pn_strv environment;	/* "NAME=value", validated */
	/* completion */
	char *torch_version;	  /* pinned torch (as written, may carry +cu118), or NULL */
	char *tensorflow_version; /* pinned tensorflow, or NULL */
	char *requirements;	  /* the generated requirements text ("" if none) */
	struct pn_strv warnings;  /* also printed with pn_warn by cog_config_load */
	char *model;		  /* the bare repository to push to (Cog's `model`), or NULL */
};

void cog_config_init(struct cog_config *c);
void cog_config_release(struct cog_config *c);

/* Read, validate and complete the config at `path` (the -f FILE of `cog
 * build`; relative paths inside, e.g. python_requirements, are taken against
 * the file's directory and may not leave it).  Warnings are printed with pn_warn and kept in
 * out->warnings.  On failure *out is released (still safe to release again). */
int cog_config_load(const char *path, struct cog_config *out, struct pn_error **err);

/* The same on text in memory: `name` is used in messages, `dir` (NULL: ".")
 * is the model directory the paths inside are opened beneath.  If problems
 * != NULL each problem line is also appended there (for tests); warnings are
 * not printed. */
int cog_config_parse(const char *text, size_t len, const char *name, const char *dir,
		     struct cog_config *out, struct pn_strv *problems, struct pn_error **err);

/* Cog builds a model only when cog.yaml names what it serves: `predict` (or
 * `run`), or at least `train` (as Cog 0.22; Cog 0.16 wants predict).  0, or
 * -1 with PN_ERR_INVALID naming the file. */
int cog_config_check_entry(const struct cog_config *c, struct pn_error **err);

/* The completed config as compact JSON, the value of the run.cog.config label
 * (Cog's shape: {"build":{...,"cuda":..,"cudnn":..},"predict":...}).  Owned. */
char *cog_config_to_json(const struct cog_config *c);

/* Plain text view of the completed config, one "key: value" line each (the
 * expected output of the tests/fixtures/cogyaml cases).  Owned. */
char *cog_config_to_text(const struct cog_config *c);

#endif
