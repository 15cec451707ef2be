/* served.h - what `pinion predict`, `train` and `serve` share (served.c):
 * the model built in the current directory when no IMAGE is named, the image
 * opened, its server started in the sandbox and waited for, and Ctrl-C: a
 * SIGINT or SIGTERM sets served_signal, the waits and HTTP requests return
 * "interrupted" within a fraction of a second, and served_release stops the
 * server and removes the sandbox's directories. */
#ifndef PN_ASSEMBLER_CLI_SERVED_H
#define PN_ASSEMBLER_CLI_SERVED_H

#include "assembler/cache.h"
#include "assembler/cli/cli.h"
#include "runner/runner.h"

#include <jansson.h>
#include <signal.h>

#define SERVED_SETUP_TIMEOUT 600 /* seconds for setup() */
#define SERVED_STOP_GRACE_MS 700 /* SIGTERM to SIGKILL when interrupted */

/* the signal that interrupted the command (0: none) */
extern volatile sig_atomic_t served_signal;

struct served {
	struct registry_opts ro;
	struct oci_location loc;   /* a local image (an archive's temporary layout) */
	struct oci_layout *layout; /* loc.layout, or NULL: pulled into the cache */
	struct build_cache *cache;
	struct oci_image img;
	struct runner *runner;
	struct runner_rootfs rf;
	bool rf_ready;
	struct runner_proc *proc;
	const char *cache_dir;
	int port;
	char *base_url;
	char *built;		/* oci:DIR:TAG of a build made first, or NULL */
	bool explicit_shutdown; /* Cog's server, told to wait for POST /shutdown */
};

/* the options of predict, train and serve (one table each, one struct) */
struct served_args {
	struct pn_strv inputs, env;
	const char *out_path, *host, *cache_dir, *gpus;
	bool json;
	int timeout, port;
	const void *job; /* the command's own data for sc->run (predict/train: which job) */
};

/* predict, train or serve: its options, and what it does with the image */
struct served_cmd {
	const char *name, *intro;
	const struct cli_opt *opts;
	size_t n_opts;
	int (*run)(struct served *s, const char *image, const struct served_args *a,
		   struct pn_error **err);
};

/* parse (registry options, the command's, at most one IMAGE), catch
 * SIGINT/SIGTERM, sc->run, clean up; the exit status (130 after Ctrl-C) */
int served_main(const struct served_cmd *sc, struct served_args *a, int argc, char **argv);

/* option handlers (ctx: struct served_args) */
int served_set_timeout(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err);
int served_set_port(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err);
int served_set_env(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err);
int served_set_gpus(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err);

/* the sandbox probe, then without IMAGE (and with a cog.yaml here) the static
 * predictor check and the build of the model here (as `cog predict`), then
 * the image opened; Ctrl-C is caught from then on */
int served_prepare(struct served *s, const char *image, bool train, struct pn_error **err);
/* as `cog predict` without an image: build the model in the current
 * directory into its default layout (usually all cached); *image_out is
 * oci:DIR:TAG of it (owned) */
int served_build_here(const struct registry_opts *ro, const char *cache_dir, char **image_out,
		      struct pn_error **err);
/* the image's run.cog.openapi_schema label, parsed, or NULL */
json_t *served_label_schema(const struct served *s);
/* start the entrypoint + cmd with PORT (s->port) and env set */
int served_start(struct served *s, const char *host, bool interactive, const struct pn_strv *env,
		 struct pn_error **err);
/* poll /health-check until READY; fail on SETUP_FAILED, exit or a signal */
int served_wait_ready(struct served *s, int timeout_s, struct pn_error **err);
/* GET /openapi.json, or NULL */
json_t *served_fetch_schema(struct served *s);
/* a free loopback port, or -1 */
int served_free_port(struct pn_error **err);

#endif
