/* main.c - `pinion [OPTIONS] COMMAND ...`: reads the global options (the
 * option table below), finds the command in the registry and runs it.
 * Only the CLI layer exits; commands return their exit status. */
#include "assembler/cli/opt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct main_args {
	bool help, version;
};

static int set_verbose(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)ctx, (void)opt, (void)v, (void)err;
	pn_log_set_verbose(pn_log_verbose() + 1);
	return 0;
}

static const struct cli_opt main_opts[] = {
	{"help", 'h', CLI_ARG_NONE, NULL, offsetof(struct main_args, help), NULL, "print this help",
	 0},
	{"version", 0, CLI_ARG_NONE, NULL, offsetof(struct main_args, version), NULL,
	 "print pinion's version", 0},
	{"verbose", 'v', CLI_ARG_NONE, set_verbose, 0, NULL, "more detail (repeatable)", 0},
	{"progress", 0, CLI_ARG_REQUIRED, cli_set_progress, 0, "MODE",
	 "auto, tty, plain, quiet or json (one event a line)", 0},
};

static void print_one(const struct pn_command *c, void *data)
{
	fprintf(data, "  %-12s %s\n", c->name, c->summary);
}

static void usage(const struct cli_cmd *cmd, FILE *f)
{
	cli_help(cmd, f);
	fprintf(f, "\ncommands:\n");
	pn_command_each(print_one, f);
	fprintf(f, "\nRun 'pinion COMMAND --help' for a command's options.\n");
}

/* the usage after an error: in json mode stderr holds events only */
static void usage_after_error(const struct cli_cmd *cmd)
{
	if (pn_log_progress() != PN_PROGRESS_JSON)
		usage(cmd, stderr);
}

/* `pinion help [COMMAND]` */
static int help_command(const struct cli_cmd *cmd, const char *name)
{
	const struct pn_command *c = name ? pn_command_find(name) : NULL;

	if (c) {
		char *hargv[] = {(char *)name, (char *)"--help", NULL};

		return c->fn(2, hargv);
	}
	usage(cmd, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct main_args a = {0};
	struct cli_table t[1] = {CLI_TABLE(main_opts, &a)};
	struct cli_cmd cmd = {.name = "",
			      .intro = "usage: pinion [--progress MODE] [-v] COMMAND [ARGS...]\n\n"
				       "pinion builds Cog model images into OCI images without a "
				       "daemon or root.\n\noptions:\n",
			      .tables = t,
			      .n_tables = 1,
			      .flags = CLI_STOP_AT_ARG};
	struct pn_error *err = NULL;
	int i, rc;
	const struct pn_command *c;
	cleanup_strv struct pn_strv rest = PN_STRV_INIT;

	if (cli_parse(&cmd, argc, argv, &rest, &err) < 0) {
		pn_error_print(err);
		pn_error_free(err);
		usage_after_error(&cmd);
		return 2;
	}
	if (a.help || a.version) {
		if (a.help)
			usage(&cmd, stdout);
		else
			printf("pinion %s\n", PN_VERSION);
		return 0;
	}
	if (!rest.n) {
		if (pn_log_progress() == PN_PROGRESS_JSON)
			pn_log_error("no command given", "Try 'pinion --help'.", 2);
		usage_after_error(&cmd);
		return 2;
	}
	i = argc - (int)rest.n; /* the command's argv: the verbatim rest of ours */
	if (strcmp(argv[i], "help") == 0)
		return help_command(&cmd, i + 1 < argc ? argv[i + 1] : NULL);
	c = pn_command_find(argv[i]);
	if (!c) {
		cleanup_free char *msg = xasprintf("unknown command `%s`", argv[i]);

		pn_log_error(msg, NULL, 2);
		usage_after_error(&cmd);
		return 2;
	}
	rc = c->fn(argc - i, argv + i);
	return rc;
}
