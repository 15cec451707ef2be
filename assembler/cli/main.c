/* main.c - `pinion COMMAND ...`: finds the command in the registry and runs it.
 * Only the CLI layer exits; commands return their exit status. */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

static void print_one(const struct pn_command *c, void *data)
{
	fprintf(data, "  %-12s %s\n", c->name, c->summary);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pinion [--progress MODE] [-v] COMMAND [ARGS...]\n\n"
		   "pinion builds Cog model images into OCI images without a daemon or root.\n\n"
		   "commands:\n");
	pn_command_each(print_one, f);
	fprintf(f, "\nRun 'pinion COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	const struct pn_command *c;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("pinion %s\n", PN_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			pn_log_set_verbose(pn_log_verbose() + 1);
		} else if (strcmp(argv[i], "--progress") == 0 && i + 1 < argc) {
			enum pn_progress p;

			if (pn_log_parse_progress(argv[++i], &p) < 0) {
				fprintf(stderr,
					"pinion: unknown progress mode `%s` (auto, tty, plain, "
					"quiet, json)\n",
					argv[i]);
				return 2;
			}
			pn_log_set_progress(p);
		} else {
			fprintf(stderr, "pinion: unknown option `%s`\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc && (c = pn_command_find(argv[i + 1]))) {
			char *hargv[] = {argv[i + 1], (char *)"--help", NULL};

			return c->fn(2, hargv);
		}
		usage(stdout);
		return 0;
	}
	c = pn_command_find(argv[i]);
	if (!c) {
		fprintf(stderr, "pinion: unknown command `%s`\n", argv[i]);
		usage(stderr);
		return 2;
	}
	return c->fn(argc - i, argv + i);
}
