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

/* ----------------------------------------- man pages and shell completion */

static const char man_tail[] =
	".SH EXIT STATUS\n0 success, 1 failure, 2 bad input or usage.\n"
	".SH ENVIRONMENT\n"
	".TP\n\\fBPINION_CACHE_DIR\\fR\n"
	"the cache of layers, snapshots and build results (default "
	"\\fB$XDG_CACHE_HOME/pinion\\fR, else \\fB~/.cache/pinion\\fR); "
	"\\fB\\-\\-cache\\-dir\\fR wins\n"
	".TP\n\\fBPINION_REGISTRIES_CONF\\fR\n"
	"the registries config file (default \\fB~/.config/pinion/registries.conf\\fR)\n"
	".TP\n\\fBREGISTRY_AUTH_FILE\\fR\n"
	"the credentials file \\fBpinion login\\fR writes and every command reads\n"
	".TP\n\\fBCOG_WHEEL\\fR\n"
	"a cog SDK wheel to install instead of the embedded one\n"
	".TP\n\\fBSOURCE_DATE_EPOCH\\fR\n"
	"the time stamp of reproducible builds (as \\fB\\-\\-timestamp\\fR)\n"
	".TP\n\\fBPINION_AUTO_GC\\fR\n"
	"\\fBoff\\fR: no automatic \\fBpinion gc\\fR after large builds\n";

static void man_command(const struct pn_command *c, void *data)
{
	fprintf(data, ".TP\n\\fBpinion %s\\fR, \\fBpinion\\-%s\\fR(1)\n", c->name, c->name);
	cli_man_text(data, c->summary, strlen(c->summary));
}

static void man_see_also(const struct pn_command *c, void *data)
{
	fprintf(data, "\\fBpinion\\-%s\\fR(1),\n", c->name);
}

/* pinion(1): the global options, the commands, the environment */
static void man_main(const struct cli_cmd *cmd)
{
	cli_man_write(cmd, "pinion", "build Cog model images without a daemon or root", stdout);
	printf(".SH COMMANDS\n");
	pn_command_each(man_command, stdout);
	fputs(man_tail, stdout);
	printf(".SH SEE ALSO\n");
	pn_command_each(man_see_also, stdout);
	printf("\\fBskopeo\\fR(1), \\fBcog\\fR(1)\n");
}

static void print_name(const struct pn_command *c, void *data)
{
	fprintf(data, "%s\n", c->name);
}

/* The hidden commands the Makefile and the completion scripts call:
 *   __man [CMD]                   the man page of pinion or of CMD (troff)
 *   __complete commands           the command names, one a line
 *   __complete options [CMD]      the options of pinion or of CMD
 * CMD runs with --help while cli_help renders its tables another way. */
static int hidden_command(const struct cli_cmd *cmd, int argc, char **argv)
{
	bool man = strcmp(argv[0], "__man") == 0;
	const char *name = man ? argv[1] : argc > 2 ? argv[2] : NULL;
	const struct pn_command *c = name ? pn_command_find(name) : NULL;
	char *hargv[] = {(char *)name, (char *)"--help", NULL};

	if (!man && (argc < 2 || strcmp(argv[1], "commands") == 0)) {
		pn_command_each(print_name, stdout);
		return 0;
	}
	if (name && !c)
		return pn_cli_usage(argv[0], "unknown command `%s`", name);
	cli_help_set_format(man ? CLI_HELP_MAN : CLI_HELP_WORDS);
	if (c)
		return c->fn(2, hargv);
	if (man)
		man_main(cmd);
	else
		cli_help(cmd, stdout);
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
	if (strcmp(argv[i], "__man") == 0 || strcmp(argv[i], "__complete") == 0)
		return hidden_command(&cmd, argc - i, argv + i);
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
