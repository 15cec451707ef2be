/* cmd_version.c - `pinion version` */
#include "common/common.h"

static int cmd_version(int argc, char **argv)
{
	if (pn_cli_wants_help(argc, argv)) {
		printf("usage: pinion version\n\nPrint pinion's version.\n");
		return 0;
	}
	if (argc > 1)
		return pn_cli_usage("version", "unexpected argument `%s`", argv[1]);
	printf("pinion %s\n", PN_VERSION);
	return 0;
}

PN_COMMAND(version, "version", "print pinion's version", cmd_version);
