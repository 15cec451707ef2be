/* cmd_dockerfile.c - `pinion dockerfile [-f cog.yaml]`: the Dockerfile Cog
 * would generate for this model (no network: cog-base is only used when
 * asked for with --use-cog-base-image). */
#include "assembler/cogconfig.h"
#include "assembler/plan.h"
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
	"usage: pinion dockerfile [-f FILE] [--use-cog-base-image[=true|false]]\n"
	"                         [--use-cuda-base-image[=true|false]] [--separate-weights]\n\n"
	"Print the Dockerfile that Cog's `cog build` would generate for the model, to compare\n"
	"with pinion's plan (`pinion build --dry-run`).  Makes no network request.\n\n"
	"  -f, --file FILE           the config file (default cog.yaml)\n"
	"  --use-cog-base-image      use the cog-base image (not checked in the registry)\n"
	"  --use-cuda-base-image     use (or with =false avoid) the nvidia/cuda base for GPU\n"
	"  --separate-weights        weights in their own layer\n";

static int cmd_dockerfile(int argc, char **argv)
{
	struct build_plan_opts opts;
	struct cog_config cfg;
	struct build_plan plan;
	struct pn_error *err = NULL;
	const char *file = "cog.yaml";
	char *df;
	int i, r;

	if (pn_cli_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return 0;
	}
	build_plan_opts_init(&opts);
	for (i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--separate-weights") == 0)
			opts.separate_weights = true;
		else if ((r = plan_tristate_flag(argv[i], "--use-cog-base-image",
						 &opts.use_cog_base)) != -1 ||
			 (r = plan_tristate_flag(argv[i], "--use-cuda-base-image",
						 &opts.use_cuda_base)) != -1) {
			if (r < 0)
				return pn_cli_usage("dockerfile",
						    "bad value in `%s` (true, false, auto)",
						    argv[i]);
		} else
			return pn_cli_usage("dockerfile", "unexpected argument `%s`", argv[i]);
	}
	if (cog_config_load(file, &cfg, &err) < 0)
		return pn_cli_fail(err);
	if (build_plan_make(&cfg, &opts, &plan, &err) < 0) {
		cog_config_release(&cfg);
		return pn_cli_fail(err);
	}
	df = build_plan_dockerfile(&cfg, &plan);
	fputs(df, stdout);
	free(df);
	build_plan_release(&plan);
	cog_config_release(&cfg);
	return 0;
}

PN_COMMAND(dockerfile, "dockerfile", "print the Dockerfile Cog would generate for the model",
	   cmd_dockerfile);
