/* opt.c - the table-driven option parser and help printer (opt.h) */
#include "assembler/cli/opt.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HELP_COLUMN 30 /* where the help text of an option line starts */

/* the option named by the long name `name` (n bytes), or NULL; with
 * CLI_ABBREV also a unique prefix */
static const struct cli_opt *find_long(const struct cli_cmd *c, const char *name, size_t n,
				       void **ctx)
{
	const struct cli_opt *prefix = NULL;
	void *prefix_ctx = NULL;
	size_t matches = 0;

	for (size_t t = 0; t < c->n_tables; t++) {
		for (size_t k = 0; k < c->tables[t].n; k++) {
			const struct cli_opt *o = &c->tables[t].opts[k];

			if (!cli_offered(c, o) || strncmp(o->name, name, n) != 0)
				continue;
			if (o->name[n] == '\0') {
				*ctx = c->tables[t].ctx;
				return o;
			}
			prefix = o;
			prefix_ctx = c->tables[t].ctx;
			matches++;
		}
	}
	if (!(c->flags & CLI_ABBREV) || matches != 1)
		return NULL;
	*ctx = prefix_ctx;
	return prefix;
}

static const struct cli_opt *find_short(const struct cli_cmd *c, char letter, void **ctx)
{
	for (size_t t = 0; t < c->n_tables; t++) {
		for (size_t k = 0; k < c->tables[t].n; k++) {
			const struct cli_opt *o = &c->tables[t].opts[k];

			if (cli_offered(c, o) && o->short_name && o->short_name == letter) {
				*ctx = c->tables[t].ctx;
				return o;
			}
		}
	}
	return NULL;
}

const struct cli_opt *cli_find(const struct cli_cmd *c, const char *arg, void **ctx)
{
	if (arg[0] != '-' || !arg[1])
		return NULL;
	if (arg[1] != '-')
		return arg[2] ? NULL : find_short(c, arg[1], ctx);
	return find_long(c, arg + 2, strcspn(arg + 2, "="), ctx);
}

/* set when the last parse failed on an option's value (its handler refused
 * it): that is a plain error ("pinion: invalid `--flag V`: ..."), not a usage
 * error; the CLI runs on one thread */
static bool value_refused;

static int apply(const struct cli_opt *o, void *ctx, const char *value, struct pn_error **err)
{
	if (o->set)
		return o->set(ctx, o, value, err);
	if (o->arg == CLI_ARG_NONE)
		*(bool *)((char *)ctx + o->off) = true;
	else
		*(const char **)((char *)ctx + o->off) = value;
	return 0;
}

/* argv[*i] is an option: find it, take its value, run it */
static int parse_opt(const struct cli_cmd *c, int argc, char **argv, int *i, bool run,
		     struct pn_error **err)
{
	const char *a = argv[*i], *eq = a[1] == '-' ? strchr(a, '=') : NULL;
	const char *value = eq ? eq + 1 : NULL;
	void *ctx = NULL;
	const struct cli_opt *o = cli_find(c, a, &ctx);

	if (!o) /* without its value: it may be a secret (--creds=USER:PASS) */
		return pn_error_set(err, PN_ERR_INVALID, "unknown option `%.*s`",
				    (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
	if (eq && o->arg == CLI_ARG_NONE)
		return pn_error_set(err, PN_ERR_INVALID, "option `--%s` takes no value", o->name);
	if (!eq && o->arg == CLI_ARG_REQUIRED) {
		if (*i + 1 >= argc)
			return pn_error_set(err, PN_ERR_INVALID, "option `%s` needs a value", a);
		value = argv[++*i];
	}
	if (run && apply(o, ctx, value, err) < 0) {
		value_refused = true;
		return -1;
	}
	return 0;
}

static int parse(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args, bool run,
		 struct pn_error **err)
{
	int i = 1;

	for (; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (c->flags & CLI_STOP_AT_ARG)
				break;
			pn_strv_push(args, a);
			continue;
		}
		if (parse_opt(c, argc, argv, &i, run, err) < 0) {
			if (run)
				return -1;
			pn_error_clear(err);
		}
	}
	for (; i < argc; i++)
		pn_strv_push(args, argv[i]);
	return 0;
}

int cli_parse(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args,
	      struct pn_error **err)
{
	size_t max = c->flags & CLI_NO_ARGS ? 0 : c->max_args;

	value_refused = false;
	if (parse(c, argc, argv, args, true, err) < 0)
		return -1;
	if ((max || (c->flags & CLI_NO_ARGS)) && args->n > max)
		return pn_error_set(err, PN_ERR_INVALID, "unexpected argument `%s`", args->v[max]);
	return 0;
}

bool cli_start(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args, int *status)
{
	struct pn_error *err = NULL;

	*status = 0;
	if (pn_cli_wants_help(argc, argv)) {
		cli_help(c, stdout);
		return true;
	}
	if (cli_parse(c, argc, argv, args, &err) < 0) {
		*status = cli_fail(c, err);
		return true;
	}
	return false;
}

void cli_scan_args(const struct cli_cmd *c, int argc, char **argv, struct pn_strv *args)
{
	struct pn_error *e = NULL;

	parse(c, argc, argv, args, false, &e);
	pn_error_free(e);
}

/* ------------------------------------------------------------------- help */

static bool any_short(const struct cli_cmd *c)
{
	for (size_t t = 0; t < c->n_tables; t++)
		for (size_t k = 0; k < c->tables[t].n; k++)
			if (cli_offered(c, &c->tables[t].opts[k]) &&
			    c->tables[t].opts[k].short_name)
				return true;
	return false;
}

static void help_line(FILE *f, const struct cli_opt *o, bool shorts)
{
	struct pn_buf b = PN_BUF_INIT;
	cleanup_free char *left = NULL;
	const char *h = o->help;
	size_t n;

	if (o->short_name)
		pn_buf_printf(&b, NULL, "  -%c, ", o->short_name);
	else
		pn_buf_puts(&b, shorts ? "      " : "  ", NULL);
	pn_buf_printf(&b, NULL, "--%s", o->name);
	if (o->value_name)
		pn_buf_printf(&b, NULL, "%s%s", o->arg == CLI_ARG_OPTIONAL ? "" : " ",
			      o->value_name);
	left = pn_buf_steal(&b, &n);
	if (n + 1 >= HELP_COLUMN)
		fprintf(f, "%s\n%*s", left, HELP_COLUMN, "");
	else
		fprintf(f, "%s%*s", left, HELP_COLUMN - (int)n, "");
	for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
		fprintf(f, "%.*s\n%*s", (int)(nl - h), h, HELP_COLUMN, "");
	fprintf(f, "%s\n", h);
}

static enum cli_help_format help_format = CLI_HELP_TEXT;

void cli_help_set_format(enum cli_help_format format)
{
	help_format = format;
}

void cli_help(const struct cli_cmd *c, FILE *f)
{
	bool shorts = any_short(c);

	if (help_format != CLI_HELP_TEXT) {
		if (help_format == CLI_HELP_MAN)
			cli_man_page(c, f);
		else
			cli_help_words(c, f);
		return;
	}
	fputs(c->intro, f);
	for (size_t t = 0; t < c->n_tables; t++) {
		for (size_t k = 0; k < c->tables[t].n; k++) {
			const struct cli_opt *o = &c->tables[t].opts[k];

			if (!o->name && o->help)
				fprintf(f, "%s\n", o->help);
			else if (cli_offered(c, o) && o->help)
				help_line(f, o, shorts);
		}
	}
	if (c->outro)
		fputs(c->outro, f);
}

int cli_fail(const struct cli_cmd *c, struct pn_error *e)
{
	if (e->code != PN_ERR_INVALID || value_refused)
		return pn_cli_fail(e);
	pn_cli_usage(c->name, "%s", e->msg);
	pn_error_free(e);
	return 2;
}

int cli_set_strv(void *ctx, const struct cli_opt *opt, const char *value, struct pn_error **err)
{
	(void)err;
	pn_strv_push((struct pn_strv *)((char *)ctx + opt->off), value);
	return 0;
}

int cli_set_false(void *ctx, const struct cli_opt *opt, const char *value, struct pn_error **err)
{
	(void)value, (void)err;
	*(bool *)((char *)ctx + opt->off) = false;
	return 0;
}

int cli_set_progress(void *ctx, const struct cli_opt *opt, const char *value, struct pn_error **err)
{
	enum pn_progress p;

	(void)ctx, (void)opt;
	if (pn_log_parse_progress(value, &p) < 0)
		return pn_error_set(err, PN_ERR_INVALID,
				    "unknown progress mode `%s` (auto, tty, plain, quiet, json)",
				    value);
	pn_log_set_progress(p);
	return 0;
}

/* the leading digits of v as n and where they end; false when there are none
 * (or a sign, which strtoull would take) */
static bool parse_count(const char *v, unsigned long long *n, const char **end)
{
	char *e;

	if (!(*v >= '0' && *v <= '9'))
		return false;
	errno = 0;
	*n = strtoull(v, &e, 10);
	*end = e;
	return errno == 0;
}

int cli_parse_size(const char *value, int64_t *out, struct pn_error **err)
{
	unsigned long long n;
	const char *end;
	unsigned shift = 0;

	if (!parse_count(value, &n, &end))
		return pn_error_set(err, PN_ERR_INVALID, "bad size `%s`", value);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if ((shift && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")) ||
	    (!shift && *end) || n > (unsigned long long)(INT64_MAX >> shift))
		return pn_error_set(err, PN_ERR_INVALID, "bad size `%s`", value);
	*out = (int64_t)(n << shift);
	return 0;
}

int cli_parse_duration(const char *value, int64_t *out, struct pn_error **err)
{
	static const struct {
		char suffix;
		int64_t seconds;
	} units[] = {{'\0', 1}, {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
	unsigned long long n;
	const char *end;

	if (parse_count(value, &n, &end) && (!*end || !end[1])) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			if (*end != units[i].suffix)
				continue;
			if (n > (unsigned long long)(INT64_MAX / units[i].seconds))
				break;
			*out = (int64_t)n * units[i].seconds;
			return 0;
		}
	}
	return pn_error_set(err, PN_ERR_INVALID,
			    "bad duration `%s` (seconds, or a number with s, m, h, d or w)", value);
}

int cli_set_size(void *ctx, const struct cli_opt *opt, const char *value, struct pn_error **err)
{
	return cli_parse_size(value, (int64_t *)((char *)ctx + opt->off), err);
}

int cli_set_duration(void *ctx, const struct cli_opt *opt, const char *value, struct pn_error **err)
{
	return cli_parse_duration(value, (int64_t *)((char *)ctx + opt->off), err);
}
