/* fuzz_assembler_cogyaml.c - cog.yaml parser, validator and completion, then
 * the plan and its views for whatever parses. */
#include "assembler/cogconfig.h"
#include "assembler/plan.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct cog_config cfg;
	struct build_plan plan;
	struct build_plan_opts opts = {0};
	struct pn_error *err = NULL;
	struct pn_strv problems = PN_STRV_INIT;

	if (cog_config_parse((const char *)data, size, "cog.yaml", "/nonexistent-fuzz-dir", &cfg,
			     &problems, &err) < 0) {
		pn_error_free(err);
		pn_strv_release(&problems);
		return 0;
	}
	free(cog_config_to_json(&cfg));
	free(cog_config_to_text(&cfg));
	if (build_plan_make(&cfg, &opts, &plan, &err) == 0) {
		FILE *f = fopen("/dev/null", "w");

		free(build_plan_to_json(&plan));
		free(build_plan_dockerfile(&cfg, &plan));
		if (f) {
			build_plan_print_text(&plan, f);
			fclose(f);
		}
		build_plan_release(&plan);
	} else {
		pn_error_free(err);
	}
	cog_config_release(&cfg);
	pn_strv_release(&problems);
	return 0;
}
