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
 * value", "option `ARG` takes no value": cli_fail() prints them as a usage
 * error ("pinion CMD: ...", then "Try ..."); what a handler says about a bad
 * value it prints as any error ("pinion: invalid `--flag V`: ..."), one line.
 * Both exit with status 2. */
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
/* `pinion CMD --help`: intro, the option lines, outro; or, after
 * cli_help_set_format, the same tables as a man page or a word list */
void cli_help(const struct cli_cmd *c, FILE *f);

/* What cli_help prints.  `pinion __man CMD` and `pinion __complete options
 * CMD` (main.c) set it and run the command with --help, so the man pages and
 * the shell completion read the very tables the parser and --help read. */
enum cli_help_format {
	CLI_HELP_TEXT,	/* the --help text */
	CLI_HELP_MAN,	/* a troff man page, pinion-CMD(1) (manpage.c) */
	CLI_HELP_WORDS, /* the listed options, `--name` and `-x`, one a line */
};
void cli_help_set_format(enum cli_help_format format);
/* the man page of c up to its OPTIONS and NOTES (the outro): .TH, NAME
 * (page \- summary), SYNOPSIS (the intro's usage lines), DESCRIPTION (the
 * rest of the intro) */
void cli_man_write(const struct cli_cmd *c, const char *page, const char *summary, FILE *f);
/* cli_help in CLI_HELP_MAN: cli_man_write for pinion-NAME and SEE ALSO */
void cli_man_page(const struct cli_cmd *c, FILE *f);
/* cli_help in CLI_HELP_WORDS */
void cli_help_words(const struct cli_cmd *c, FILE *f);
/* troff text: backslashes and hyphens escaped, `code` in bold, \& before
 * a line that could start a request */
void cli_man_text(FILE *f, const char *s, size_t n);

/* whether c offers o (o is an option, not a heading, of c's groups) */
static inline bool cli_offered(const struct cli_cmd *c, const struct cli_opt *o)
{
	return o->name && (o->groups == 0 || (o->groups & c->groups) != 0);
}
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
int cli_set_size(void *ctx, const struct cli_opt *opt, const char *value,
		 struct pn_error **err); /* an int64_t: cli_parse_size */
int cli_set_duration(void *ctx, const struct cli_opt *opt, const char *value,
		     struct pn_error **err); /* an int64_t: cli_parse_duration */

/* SIZE: whole bytes, or with a suffix K, M, G (KiB, MiB, GiB; also written
 * KB, KiB, ...), at most INT64_MAX bytes.  DURATION: whole seconds, or with a
 * suffix s, m, h, d, w (seconds, minutes, hours, days, weeks), at most
 * INT64_MAX seconds.  Both refuse signs, spaces, fractions and anything else
 * (PN_ERR_INVALID, "bad size `V`" / "bad duration `V`"). */
int cli_parse_size(const char *value, int64_t *out, struct pn_error **err);
int cli_parse_duration(const char *value, int64_t *out, struct pn_error **err);

#endif
