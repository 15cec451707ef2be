/* opt.h - the one option parser of the commands: a table per command says
 * each option's long name, short letter, whether it takes a value, where the
 * value goes and its help line; cli_parse() reads argv with it and
 * cli_help() prints `pinion CMD --help` from the same table.
 *
 * Spellings: `--name VALUE`, `--name=VALUE`, `-x VALUE` for an option with a
 * required value; `--name` or `--name=VALUE` for an optional one; `--name` /
 * `-x` for one without.  `--` ends the options.  Arguments that are not
 * options (and `-`) are handed back in order.
 *
 * Errors (PN_ERR_INVALID): "unknown option `ARG`", "option `ARG` needs a
 * value", "option `ARG` takes no value", and whatever a handler says about a
 * bad value.  cli_fail() prints them as a usage error (exit status 2). */
#ifndef PN_ASSEMBLER_CLI_OPT_H
#define PN_ASSEMBLER_CLI_OPT_H

#include "common/common.h"

#include <stddef.h>
#include <stdio.h>

enum cli_arg {
	CLI_ARG_NONE,	  /* --name */
	CLI_ARG_REQUIRED, /* --name VALUE, --name=VALUE */
	CLI_ARG_OPTIONAL, /* --name, --name=VALUE (never the next argument) */
};

struct cli_opt {
	const char *name; /* long name without "--"; NULL: a heading line of the help */
	char short_name;  /* -x, or 0 */
	enum cli_arg arg;
	/* the handler (value NULL when none was given), or NULL: store at
	 * ctx + off a const char * (the value) or, for CLI_ARG_NONE, a bool true */
	int (*set)(void *ctx, const struct cli_opt *opt, const char *value, struct pn_error **err);
	size_t off;
	const char *value_name; /* help: "FILE"; for CLI_ARG_OPTIONAL written as is ("[=BOOL]") */
	const char *help;	/* may hold '\n' for more lines; NULL: accepted, not listed */
	unsigned groups;	/* 0: always; else only for commands whose groups meet these */
};

/* the options of one table all write into one ctx */
struct cli_table {
	const struct cli_opt *opts;
	size_t n;
	void *ctx;
};
#define CLI_TABLE(opts_, ctx_)                                                                     \
	{                                                                                          \
		(opts_), sizeof(opts_) / sizeof((opts_)[0]), (ctx_)                                \
	}

#define CLI_STOP_AT_ARG (1u << 0) /* the first non-option argument ends the options */
#define CLI_ABBREV	(1u << 1) /* a unique prefix of a long name names it (as getopt_long) */
#define CLI_NO_ARGS	(1u << 2) /* no arguments besides the options */

struct cli_cmd {
	const char *name;  /* "build": messages say `pinion build: ...` */
	const char *intro; /* the help before the options, usage line first */
	const char *outro; /* the help after them, or NULL */
	const struct cli_table *tables;
	size_t n_tables;
	unsigned groups; /* which grouped options this command takes (cli.h CLI_REG_*) */
	unsigned flags;	 /* CLI_STOP_AT_ARG, CLI_ABBREV, CLI_NO_ARGS */
	size_t max_args; /* more arguments are "unexpected argument `X`"; 0: any number */
};

/* argv[1..] by the command's tables; the other arguments are appended to
 * *args (with CLI_STOP_AT_ARG: the first of them and all after it, verbatim;
 * a `--` before it is dropped) */
int cli_parse(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args,
	      struct pn_error **err);
/* The start of a command: `--help` (anywhere before `--`) prints the help,
 * else cli_parse; true when the command is done then, with *status its exit
 * status (0 after the help, else cli_fail's) */
bool cli_start(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args, int *status);
/* the arguments cli_parse would hand back, without running any handler */
void cli_scan_args(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args);
/* the option arg names (`--name`, `--name=V`, `-x`), or NULL */
const struct cli_opt *cli_find(const struct cli_cmd *c, const char *arg, void **ctx);
/* `pinion CMD --help`: intro, the option lines, outro */
void cli_help(const struct cli_cmd *c, FILE *f);
/* print a parse error: PN_ERR_INVALID as a usage error (returns 2), others
 * as pn_cli_fail; frees e */
int cli_fail(const struct cli_cmd *c, struct pn_error *e);

/* handlers for common kinds of values (ctx + opt->off) */
int cli_set_strv(void *ctx, const struct cli_opt *opt, const char *value,
		 struct pn_error **err); /* appends to a struct pn_strv */
int cli_set_false(void *ctx, const struct cli_opt *opt, const char *value,
		  struct pn_error **err); /* a bool set false (--no-...) */
int cli_set_progress(void *ctx, const struct cli_opt *opt, const char *value,
		     struct pn_error **err); /* --progress MODE: pn_log_set_progress */

#endif
