/* base_image.h - cog-base images (`pinion base-image`): the images Cog's
 * `cog base-image build` makes (r8.im/cog-base:cuda12.1-python3.11-torch2.1.0),
 * made with pinion's executor instead of Docker.
 *
 * A cog-base image is a model build without a model: Cog completes a config
 * {gpu: CUDA given, python_version, cuda, system_packages: Cog's common list,
 * python_packages: torch, opencv-python, torchvision, torchaudio} and keeps
 * the Dockerfile's first part (base, env, tini, apt, Python, pip).  Here the
 * same config gives a plan with build_plan_opts.base_image set, on
 * nvidia/cuda (GPU) or python:<ver>-slim (CPU), labelled run.cog.base-image.*.
 *
 *   struct base_image b;
 *   if (base_image_resolve("12.1", "3.11", "2.1.0", &b, &err) < 0) ...
 *   base_image_config(&b, &cfg, &err); base_image_plan(&b, &cfg, &po, &plan, &err);
 *   base_image_release(&b);
 *
 * Errors: PN_ERR_INVALID for a combination the matrix does not make (Cog's
 * "unsupported base image configuration: ..."). */
#ifndef PN_ASSEMBLER_BASE_IMAGE_H
#define PN_ASSEMBLER_BASE_IMAGE_H

#include "common/common.h"
#include "assembler/cogconfig.h"
#include "assembler/plan.h"
#include "compat/compat.h"
#include "oci/oci.h"

/* the opencv-python Cog's base images pin besides torch (Cog 0.17 and later) */
#define BASE_IMAGE_OPENCV	"opencv-python==4.12.0.88"
#define BASE_IMAGE_LABEL_PREFIX "run.cog.base-image."

/* Cog's common system packages of every cog-base image: its
 * baseImageSystemPackages (pkg/dockerfile/base.go), in its order */
#define BASE_IMAGE_SYSTEM_PACKAGES                                                                 \
	"build-essential cmake curl ffmpeg findutils g++ gcc git libavcodec-dev libcairo2-dev "    \
	"libfontconfig1 libgirepository1.0-dev libgl1 libglx-mesa0 libglib2.0-0 libopencv-dev "    \
	"libsm6 libsndfile1 libssl-dev libunistring-dev libxext6 libxrender1 sox unzip wget zip "  \
	"zstd"

struct base_image {
	const struct compat_cog_base *entry; /* its entry of the set (static) */
	char *cuda;			     /* maj.min, NULL: CPU */
	char *python;			     /* maj.min */
	char *torch;			     /* "2.1.0" (no local suffix), NULL: none */
	char *torchvision, *torchaudio;	     /* as Cog pins them, NULL: none */
	char *tag;			     /* "cuda12.1-python3.11-torch2.1.0" */
	struct pn_strv system_packages;	     /* Cog's list, unless replaced */
	struct pn_strv python_packages;	     /* torch==, opencv-python==, torchvision==, ... */
	char *context_dir; /* the (empty) directory that stands for a model directory */
};
void base_image_init(struct base_image *b);
void base_image_release(struct base_image *b);

/* The entry of the cog-base set that --cuda/--python/--torch name, as Cog's
 * `cog base-image` finds it (compat_cog_base_find: "12.1.1" is 12.1, torch
 * "2.1" the highest 2.1.x), with Cog's system and Python packages.  cuda and
 * torch may be NULL or "".  PN_ERR_INVALID when the set has none. */
int base_image_resolve(const char *cuda, const char *python, const char *torch,
		       struct base_image *out, struct pn_error **err);
/* replace the system packages by a list ("a,b c": commas or spaces; "" none) */
void base_image_set_system_packages(struct base_image *b, const char *list);

/* The completed config Cog builds it from (CUDA/cuDNN completion, the
 * requirements rewritten with the matrix's wheel index); cfg->dir is
 * b->context_dir.  Release it with cog_config_release. */
int base_image_config(const struct base_image *b, struct cog_config *cfg, struct pn_error **err);
/* The plan: build_plan_make(cfg) with base_image set, the cog-base choice
 * off (the base is nvidia/cuda for GPU, python slim for CPU) and the
 * run.cog.base-image.* labels; the other options are opts'. */
int base_image_plan(const struct base_image *b, const struct cog_config *cfg,
		    const struct build_plan_opts *opts, struct build_plan *out,
		    struct pn_error **err);
/* after the post-build: the labels of a model (run.cog.config,
 * run.cog.version: no SDK is installed) taken off the image config */
void base_image_labels_finish(struct oci_config *c);
/* the set as Cog's `cog base-image generate-matrix` prints it: a JSON array
 * of {cuda_version, python_version, torch_version, image_name, image_tag}
 * ("" for an absent part), only the entries whose parts are in the
 * comma-separated filters (NULL: any); owned */
char *base_image_matrix_json(const char *cuda, const char *python, const char *torch);

#endif
