/* cmd_dockerfile.c - `pinion dockerfile [-f cog.yaml]`: the Dockerfile Cog
 * would generate for this model (no network: cog-base is only used when
 * asked for with --use-cog-base-image). */
#include "assembler/cli/cli.h"
#include "assembler/cogconfig.h"
#include "assembler/plan.h"
#include "common/common.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char dockerfile_intro[] =
	"usage: pinion dockerfile [-f FILE] [--use-cog-base-image[=true|false]]\n"
	"                         [--use-cuda-base-image[=true|false]] [--separate-weights]\n"
	"                         [--cog-base-registry HOST[/PATH]]\n\n"
	"Print the Dockerfile that Cog's `cog build` would generate for the model, to compare\n"
	"with pinion's plan (`pinion build --dry-run`).  Makes no network request.\n\n";

struct dockerfile_args {
	struct build_plan_opts opts;
	const char *file;
};

#define DA(f) offsetof(struct dockerfile_args, f)
static const struct cli_opt dockerfile_opts[] = {
	{"file", 'f', CLI_ARG_REQUIRED, NULL, DA(file), "FILE",
	 "the config file (default cog.yaml)", 0},
	{"use-cog-base-image", 0, CLI_ARG_OPTIONAL, cli_set_tristate, DA(opts.use_cog_base),
	 "[=true|false]", "use the cog-base image (not checked in the registry)", 0},
	{"use-cuda-base-image", 0, CLI_ARG_OPTIONAL, cli_set_tristate, DA(opts.use_cuda_base),
	 "[=true|false]", "use (or with =false avoid) the nvidia/cuda base for GPU", 0},
	{"cog-base-registry", 0, CLI_ARG_REQUIRED, cli_set_cog_base_registry,
	 DA(opts.registry_host), "HOST[/PATH]",
	 "the registry of the cog-base images (default\n$COG_REGISTRY_HOST, else r8.im)", 0},
	{"separate-weights", 0, CLI_ARG_NONE, NULL, DA(opts.separate_weights), NULL,
	 "weights in their own layer", 0},
};

static int cmd_dockerfile(int argc, char **argv)
{
	struct dockerfile_args a = {.file = "cog.yaml"};
	struct cli_table t[1] = {CLI_TABLE(dockerfile_opts, &a)};
	struct cli_cmd cmd = {.name = "dockerfile",
			      .intro = dockerfile_intro,
			      .tables = t,
			      .n_tables = 1,
			      .flags = CLI_NO_ARGS};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct cog_config cfg;
	struct pn_error *err = NULL;
	int rc;

	build_plan_opts_init(&a.opts);
	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	if (cog_config_load(a.file, &cfg, &err) < 0)
		return pn_cli_fail(err);
	return cli_dockerfile_print(&cfg, NULL, &a.opts);
}

PN_COMMAND(dockerfile, "dockerfile", "print the Dockerfile Cog would generate for the model",
	   cmd_dockerfile);
