/* manpage.c - a command's man page and its completion word list, rendered
 * from the struct cli_cmd its --help prints (opt.h cli_help_set_format), so
 * the pages cannot drift from the parser.  The intro's `usage:` lines become
 * the SYNOPSIS, the rest of it the DESCRIPTION, each listed option a tagged
 * paragraph of OPTIONS (table headings a subsection), the outro NOTES. */
#include "assembler/cli/opt.h"
#include "common/cleanup.h"

#include <ctype.h>
#include <string.h>

/* s[0..n) with troff's specials escaped; `code` toggles bold when *bold
 * is given */
static void put_escaped(FILE *f, const char *s, size_t n, bool *bold)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", f);
		else if (s[i] == '-')
			fputs("\\-", f);
		else if (s[i] == '`' && bold) {
			fputs(*bold ? "\\fR" : "\\fB", f);
			*bold = !*bold;
		} else
			fputc(s[i], f);
	}
}

void cli_man_text(FILE *f, const char *s, size_t n)
{
	bool bold = false;

	fputs("\\&", f);
	put_escaped(f, s, n, &bold);
	fputs(bold ? "\\fR\n" : "\n", f);
}

/* ----------------------------------------------------------------- intro */

struct intro_line {
	const char *s;
	size_t n;
};

static bool blank(struct intro_line l)
{
	for (size_t i = 0; i < l.n; i++)
		if (!isspace((unsigned char)l.s[i]))
			return false;
	return true;
}

/* the next line of *p (without its '\n'); false at the end */
static bool next_line(const char **p, struct intro_line *l)
{
	const char *nl;

	if (!**p)
		return false;
	nl = strchr(*p, '\n');
	l->s = *p;
	l->n = nl ? (size_t)(nl - *p) : strlen(*p);
	*p += l->n + (nl ? 1 : 0);
	return true;
}

/* the intro's last line when it heads the option list ("Options:"), else
 * NULL: the man page has its own OPTIONS heading */
static const char *options_heading(const char *intro, size_t *len)
{
	size_t n = strlen(intro);
	const char *start;

	while (n && intro[n - 1] == '\n')
		n--;
	start = intro + n;
	while (start > intro && start[-1] != '\n')
		start--;
	*len = (size_t)(intro + n - start);
	if (!*len || start[*len - 1] != ':' || memchr(start, '.', *len))
		return NULL;
	return start;
}

/* SYNOPSIS from the leading `usage:` lines; returns where the rest begins */
static const char *man_synopsis(const char *intro, FILE *f)
{
	const char *p = intro, *before;
	struct intro_line l;

	fputs(".SH SYNOPSIS\n.nf\n", f);
	for (before = p; next_line(&p, &l) && !blank(l); before = p) {
		size_t skip = strncmp(l.s, "usage: ", 7) == 0 ? 7 : 0;

		while (skip < l.n && l.s[skip] == ' ')
			skip++;
		if (l.s == intro && !skip)
			break; /* no usage line */
		cli_man_text(f, l.s + skip, l.n - skip);
	}
	fputs(".fi\n", f);
	return l.s == intro ? intro : before;
}

/* the paragraphs of text[0..n) (the intro up to its options heading, the
 * outro); indented lines (tables, examples) stay as written */
static void man_description(const char *text, size_t n, FILE *f)
{
	cleanup_free char *copy = xstrndup(text, n);
	const char *p = copy;
	struct intro_line l;
	bool nofill = false, para = false;

	while (next_line(&p, &l)) {
		bool indented = l.n && l.s[0] == ' ';

		if (blank(l)) {
			para = true;
			continue;
		}
		if (nofill && !indented)
			fputs(".fi\n.RE\n", f);
		if (indented && !nofill)
			fputs(".PP\n.RS 2\n.nf\n", f);
		else if (para)
			fputs(indented ? ".sp\n" : ".PP\n", f);
		nofill = indented;
		para = false;
		cli_man_text(f, l.s, l.n);
	}
	if (nofill)
		fputs(".fi\n.RE\n", f);
}

/* --------------------------------------------------------------- options */

static void man_option(const struct cli_opt *o, FILE *f)
{
	fputs(".TP\n\\&", f);
	if (o->short_name)
		fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
	fputs("\\fB\\-\\-", f);
	put_escaped(f, o->name, strlen(o->name), NULL);
	fputs("\\fR", f);
	if (o->value_name) {
		fputs(o->arg == CLI_ARG_OPTIONAL ? "\\fI" : " \\fI", f);
		put_escaped(f, o->value_name, strlen(o->value_name), NULL);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	for (const char *h = o->help, *nl;; h = nl + 1) {
		nl = strchr(h, '\n');
		cli_man_text(f, h, nl ? (size_t)(nl - h) : strlen(h));
		if (!nl)
			break;
	}
}

static void man_heading(const char *s, size_t n, FILE *f)
{
	if (n && s[n - 1] == ':')
		n--;
	fputs(".SS\n", f);
	cli_man_text(f, s, n);
}

static void man_options(const struct cli_cmd *c, const char *heading, size_t heading_n, FILE *f)
{
	fputs(".SH OPTIONS\n", f);
	if (heading && strncasecmp(heading, "options:", heading_n) != 0)
		man_heading(heading, heading_n, f);
	for (size_t t = 0; t < c->n_tables; t++) {
		for (size_t k = 0; k < c->tables[t].n; k++) {
			const struct cli_opt *o = &c->tables[t].opts[k];

			if (!o->name && o->help)
				man_heading(o->help, strlen(o->help), f);
			else if (cli_offered(c, o) && o->help)
				man_option(o, f);
		}
	}
}

void cli_man_write(const struct cli_cmd *c, const char *page, const char *summary, FILE *f)
{
	cleanup_free char *upper = xstrdup(page);
	size_t heading_n = 0;
	const char *heading = options_heading(c->intro, &heading_n);
	const char *rest;

	for (char *u = upper; *u; u++)
		*u = (char)toupper((unsigned char)*u);
	fputs(".TH ", f);
	put_escaped(f, upper, strlen(upper), NULL);
	fprintf(f, " 1 \"\" \"pinion %s\" \"pinion manual\"\n.nh\n.ad l\n.SH NAME\n", PN_VERSION);
	put_escaped(f, page, strlen(page), NULL);
	fputs(" \\- ", f);
	put_escaped(f, summary, strlen(summary), NULL);
	fputc('\n', f);
	rest = man_synopsis(c->intro, f);
	fputs(".SH DESCRIPTION\n", f);
	man_description(rest, (size_t)((heading ? heading : c->intro + strlen(c->intro)) - rest),
			f);
	man_options(c, heading, heading_n, f);
	if (c->outro) {
		fputs(".SH NOTES\n", f);
		man_description(c->outro, strlen(c->outro), f);
	}
}

void cli_man_page(const struct cli_cmd *c, FILE *f)
{
	const struct pn_command *pc = pn_command_find(c->name);
	cleanup_free char *page = xasprintf("pinion-%s", c->name);

	cli_man_write(c, page, pc ? pc->summary : c->name, f);
	fputs(".SH SEE ALSO\n\\fBpinion\\fR(1)\n", f);
}

void cli_help_words(const struct cli_cmd *c, FILE *f)
{
	for (size_t t = 0; t < c->n_tables; t++) {
		for (size_t k = 0; k < c->tables[t].n; k++) {
			const struct cli_opt *o = &c->tables[t].opts[k];

			if (!cli_offered(c, o) || !o->help)
				continue;
			fprintf(f, "--%s\n", o->name);
			if (o->short_name)
				fprintf(f, "-%c\n", o->short_name);
		}
	}
}
