/* cmd_version.c - `pinion version` */
#include "assembler/cli/opt.h"

static int cmd_version(int argc, char **argv)
{
	struct cli_cmd cmd = {.name = "version",
			      .intro = "usage: pinion version\n\nPrint pinion's version.\n",
			      .flags = CLI_NO_ARGS};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	int rc;

	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	printf("pinion %s\n", PN_VERSION);
	return 0;
}

PN_COMMAND(version, "version", "print pinion's version", cmd_version);
