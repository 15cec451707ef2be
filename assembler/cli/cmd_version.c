/* cmd_version.c - `pinion version` */
#include "assembler/cli/opt.h"

static int cmd_version(int argc, char **argv)
{
	struct cli_cmd cmd = {.name = "version",
			      .intro = "usage: pinion version\n\nPrint pinion's version.\n"};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;

	if (pn_cli_wants_help(argc, argv)) {
		cli_help(&cmd, stdout);
		return 0;
	}
	if (cli_parse(&cmd, argc, argv, &args, &err) < 0)
		return cli_fail(&cmd, err);
	if (args.n)
		return pn_cli_usage("version", "unexpected argument `%s`", args.v[0]);
	printf("pinion %s\n", PN_VERSION);
	return 0;
}

PN_COMMAND(version, "version", "print pinion's version", cmd_version);
