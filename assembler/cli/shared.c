/* shared.c - what several commands do alike, kept apart from the files of
 * the commands so that they need not call each other */
#include "assembler/base_image.h"
#include "assembler/cli/cli.h"
#include "assembler/cogconfig.h"
#include "assembler/plan.h"
#include "common/common.h"

#include <stdio.h>
#include <stdlib.h>

int cli_dockerfile_print(struct cog_config *cfg, const struct base_image *b,
			 const struct build_plan_opts *po)
{
	struct build_plan plan;
	struct pn_error *err = NULL;
	char *df;

	if ((b ? base_image_plan(b, cfg, po, &plan, &err) : build_plan_make(cfg, po, &plan, &err)) <
	    0) {
		cog_config_release(cfg);
		return pn_cli_fail(err);
	}
	df = build_plan_dockerfile(cfg, &plan);
	fputs(df, stdout);
	free(df);
	build_plan_release(&plan);
	cog_config_release(cfg);
	return 0;
}
