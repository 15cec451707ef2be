/* test_assembler_cli.c - the command line: the table-driven option parser
 * (assembler/cli/opt.c: spellings, errors, arguments, help from the table)
 * and the registry options (assembler/cli/regopts.c: values, groups) */
#include "tests/unit/tap.h"
#include "assembler/cli/cli.h"

#include <stdlib.h>
#include <string.h>

/* the registry options of a command offering every group (as copy) */
static void registry_cmd(struct cli_cmd *cmd, struct cli_table *t, struct registry_opts *o)
{
	*t = (struct cli_table)CLI_REGISTRY_TABLE(o);
	memset(cmd, 0, sizeof(*cmd));
	cmd->name = "cmd";
	cmd->tables = t;
	cmd->n_tables = 1;
	cmd->groups = CLI_REG_ALL;
}

/* the config file (default search), then the registry options of argv */
static int from_args(struct registry_opts *o, int argc, char **argv, struct pn_strv *rest,
		     struct pn_error **err)
{
	struct cli_cmd cmd;
	struct cli_table t;

	registry_cmd(&cmd, &t, o);
	if (registry_opts_load_config(o, NULL, err) < 0)
		return -1;
	return cli_parse(&cmd, argc, argv, rest, err);
}

/* parse only; *n_args: how many arguments were left over */
static int parse_only(struct registry_opts *o, int argc, char **argv, size_t *n_args,
		      struct pn_error **err)
{
	struct cli_cmd cmd;
	struct cli_table t;
	struct pn_strv rest = PN_STRV_INIT;
	int r;

	registry_cmd(&cmd, &t, o);
	r = cli_parse(&cmd, argc, argv, &rest, err);
	*n_args = rest.n;
	pn_strv_release(&rest);
	return r;
}

/* arg is a registry option whose value is the next argument */
static bool takes_value(const char *arg)
{
	struct registry_opts o;
	struct cli_cmd cmd;
	struct cli_table t;
	void *ctx;
	const struct cli_opt *opt;

	registry_cmd(&cmd, &t, &o);
	opt = cli_find(&cmd, arg, &ctx);
	return opt && opt->arg == CLI_ARG_REQUIRED && !strchr(arg, '=');
}

static void mkargv(struct pn_strv *s, const char **a)
{
	for (; *a; a++)
		pn_strv_push(s, *a);
}

static void t_flags(void)
{
	struct registry_opts o;
	struct pn_error *err = NULL;
	struct pn_strv rest = PN_STRV_INIT;
	const char *a[] = {"cmd",
			   "--registry-mirror",
			   "docker.io=127.0.0.1:1",
			   "SRC",
			   "--insecure-registry=h:1",
			   "--creds",
			   "u:p:q",
			   "--platform",
			   "linux/arm64/v8",
			   "--parallel",
			   "8",
			   "--chunk-size",
			   "64K",
			   "--tls-verify=false",
			   "DST",
			   NULL};
	const char *b1[] = {"cmd", "--parallel", "0", NULL};
	const char *b2[] = {"cmd", "--chunk-size", "12", NULL};
	const char *b3[] = {"cmd", "--frob", NULL};
	const char *b4[] = {"cmd", "--creds", NULL};
	struct pn_strv argv = PN_STRV_INIT, bad1 = PN_STRV_INIT, bad2 = PN_STRV_INIT,
		       bad3 = PN_STRV_INIT, bad4 = PN_STRV_INIT;

	mkargv(&argv, a);
	mkargv(&bad1, b1);
	mkargv(&bad2, b2);
	mkargv(&bad3, b3);
	mkargv(&bad4, b4);
	setenv("PINION_REGISTRIES_CONF", "/dev/null", 1);
	registry_opts_init(&o);
	ok_call(from_args(&o, 15, argv.v, &rest, &err), &err, "flags parse");
	is_int(rest.n, 2, "two positional");
	is_str(rest.v[0], "SRC", "first positional");
	is_str(o.username, "u", "user");
	is_str(o.password, "p:q", "password keeps colons");
	is_str(o.platform, "linux/arm64/v8", "platform");
	is_int(o.parallel, 8, "parallel");
	is_int(o.chunk_size, 65536, "chunk size K suffix");
	ok(pn_strv_contains(&o.insecure, "*"), "tls-verify=false");
	ok(pn_strv_contains(&o.insecure, "h:1"), "insecure=");
	registry_opts_release(&o);
	pn_strv_release(&rest);
	ok_fail(from_args(&o, 3, bad1.v, &rest, &err), &err, PN_ERR_INVALID, "1-64", "parallel 0");
	registry_opts_release(&o);
	ok_fail(from_args(&o, 3, bad2.v, &rest, &err), &err, PN_ERR_INVALID, "chunk", "tiny chunk");
	registry_opts_release(&o);
	ok_fail(from_args(&o, 2, bad3.v, &rest, &err), &err, PN_ERR_INVALID, "unknown option",
		"unknown flag");
	registry_opts_release(&o);
	ok_fail(from_args(&o, 2, bad4.v, &rest, &err), &err, PN_ERR_INVALID, "needs a value",
		"flag without value");
	registry_opts_release(&o);
	pn_strv_release(&rest);
	pn_strv_release(&argv);
	pn_strv_release(&bad1);
	pn_strv_release(&bad2);
	pn_strv_release(&bad3);
	pn_strv_release(&bad4);
	unsetenv("PINION_REGISTRIES_CONF");
}

/* every flag with a value takes it as the next argument and after '=' */
static void t_value_flags(void)
{
	static const char *const flags[][2] = {
		{"--registry-mirror", "docker.io=127.0.0.1:1"},
		{"--insecure-registry", "h:1"},
		{"--ca-bundle", "/x.pem"},
		{"--authfile", "/a.json"},
		{"--creds", "u:p"},
		{"--platform", "linux/arm64"},
		{"--parallel", "3"},
		{"--chunk-size", "64K"},
		{"--retries", "2"},
		{"--low-speed-limit", "2K"},
		{"--low-speed-time", "7"},
		{"--request-timeout", "9"},
		{"--blob-timeout", "11"},
		{"--max-blob-size", "2G"},
		{"--credential-helper-timeout", "3"},
	};
	struct pn_error *err = NULL;

	for (size_t k = 0; k < sizeof(flags) / sizeof(*flags); k++) {
		char *eq = xasprintf("%s=%s", flags[k][0], flags[k][1]);
		char *a1[] = {(char *)"cmd", (char *)flags[k][0], (char *)flags[k][1], NULL};
		char *a2[] = {(char *)"cmd", eq, NULL};
		struct registry_opts o1, o2;
		size_t n = 0;
		int r;

		ok(takes_value(flags[k][0]), "%s takes a value", flags[k][0]);
		ok(!takes_value(eq), "%s carries its value", eq);
		registry_opts_init(&o1);
		registry_opts_init(&o2);
		r = parse_only(&o1, 3, a1, &n, &err);
		ok(r == 0 && n == 0, "%s V consumed both", flags[k][0]);
		pn_error_clear(&err);
		r = parse_only(&o2, 2, a2, &n, &err);
		ok(r == 0 && n == 0, "%s consumed", eq);
		pn_error_clear(&err);
		ok(o1.retries == o2.retries && o1.parallel == o2.parallel &&
			   o1.chunk_size == o2.chunk_size &&
			   o1.low_speed_limit == o2.low_speed_limit &&
			   o1.low_speed_time == o2.low_speed_time &&
			   o1.request_timeout == o2.request_timeout &&
			   o1.blob_timeout == o2.blob_timeout &&
			   o1.max_blob_size == o2.max_blob_size &&
			   o1.helper_timeout == o2.helper_timeout && o1.n_mirrors == o2.n_mirrors &&
			   o1.insecure.n == o2.insecure.n,
		   "%s: both forms set the same", flags[k][0]);
		registry_opts_release(&o1);
		registry_opts_release(&o2);
		free(eq);
	}
	ok(!takes_value("--tls-verify"), "--tls-verify takes none");
	ok(!takes_value("--frob"), "unknown flag");
	{
		struct registry_opts o;
		char *a[] = {(char *)"cmd", (char *)"--low-speed-limit",
			     (char *)"0",   (char *)"--low-speed-time",
			     (char *)"30",  (char *)"--blob-timeout",
			     (char *)"0",   NULL};
		char *b1[] = {(char *)"cmd", (char *)"--low-speed-limit=-1", NULL};
		char *b2[] = {(char *)"cmd", (char *)"--blob-timeout", (char *)"1e3", NULL};
		char *b3[] = {(char *)"cmd", (char *)"--request-timeout=999999999", NULL};
		char *b4[] = {(char *)"cmd", (char *)"--retries", NULL};
		struct pn_strv rest = PN_STRV_INIT;

		setenv("PINION_REGISTRIES_CONF", "/dev/null", 1);
		registry_opts_init(&o);
		ok_call(from_args(&o, 7, a, &rest, &err), &err, "limits parse");
		is_int(o.low_speed_limit, 0, "low-speed-limit 0 = off");
		is_int(o.low_speed_time, 30, "low-speed-time");
		is_int(o.blob_timeout, 0, "blob-timeout 0 = off");
		is_int(o.request_timeout, -1, "request-timeout unset");
		registry_opts_release(&o);
		ok_fail(from_args(&o, 2, b1, &rest, &err), &err, PN_ERR_INVALID,
			"--low-speed-limit -1", "negative speed");
		registry_opts_release(&o);
		ok_fail(from_args(&o, 3, b2, &rest, &err), &err, PN_ERR_INVALID,
			"--blob-timeout 1e3", "not an integer");
		registry_opts_release(&o);
		ok_fail(from_args(&o, 2, b3, &rest, &err), &err, PN_ERR_INVALID, "seconds 0-604800",
			"past the maximum");
		registry_opts_release(&o);
		ok_fail(from_args(&o, 2, b4, &rest, &err), &err, PN_ERR_INVALID,
			"`--retries` needs a value", "no value");
		registry_opts_release(&o);
		pn_strv_release(&rest);
		unsetenv("PINION_REGISTRIES_CONF");
	}
}

/* ------------------------------------------------------------ the parser */

struct demo {
	const char *file, *name;
	bool quiet, wait;
	struct pn_strv tags;
	enum plan_tristate tri;
};

static const struct cli_opt demo_opts[] = {
	{NULL, 0, CLI_ARG_NONE, NULL, 0, NULL, "Demo options:", 0},
	{"file", 'f', CLI_ARG_REQUIRED, NULL, offsetof(struct demo, file), "FILE", "a file", 0},
	{"quiet", 'q', CLI_ARG_NONE, NULL, offsetof(struct demo, quiet), NULL, "say less", 0},
	{"no-wait", 0, CLI_ARG_NONE, cli_set_false, offsetof(struct demo, wait), NULL,
	 "do not wait", 0},
	{"tag", 't', CLI_ARG_REQUIRED, cli_set_strv, offsetof(struct demo, tags), "T",
	 "a tag (repeatable)\nsecond line", 0},
	{"tri", 0, CLI_ARG_OPTIONAL, cli_set_tristate, offsetof(struct demo, tri), "[=true|false]",
	 "a tristate", 0},
	{"name-that-is-rather-long", 0, CLI_ARG_REQUIRED, NULL, offsetof(struct demo, name),
	 "SOME-LONG-VALUE", "help on the next line", 0},
	{"hidden", 0, CLI_ARG_NONE, NULL, offsetof(struct demo, quiet), NULL, NULL, 0},
	{"grouped", 0, CLI_ARG_NONE, NULL, offsetof(struct demo, quiet), NULL, "only group 2", 2},
};

static void demo_cmd(struct cli_cmd *cmd, struct cli_table *t, struct demo *d, unsigned flags)
{
	*t = (struct cli_table)CLI_TABLE(demo_opts, d);
	memset(cmd, 0, sizeof(*cmd));
	cmd->name = "demo";
	cmd->intro = "usage: pinion demo\n\n";
	cmd->outro = "the end\n";
	cmd->tables = t;
	cmd->n_tables = 1;
	cmd->groups = 1;
	cmd->flags = flags;
}

/* parse argv (NULL-terminated) into a fresh demo; returns cli_parse's result */
static int demo_parse(struct demo *d, unsigned flags, const char **a, struct pn_strv *args,
		      struct pn_error **err)
{
	struct cli_cmd cmd;
	struct cli_table t;
	int argc = 0;

	while (a[argc])
		argc++;
	pn_strv_release(&d->tags);
	memset(d, 0, sizeof(*d));
	d->wait = true;
	pn_strv_release(args);
	demo_cmd(&cmd, &t, d, flags);
	return cli_parse(&cmd, argc, (char **)a, args, err);
}

static void t_parser_spellings(void)
{
	struct demo d = {0};
	struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;
	const char *a1[] = {"demo",    "-f", "x",	  "A",		 "--tag=t1", "-t", "t2",
			    "--quiet", "B",  "--no-wait", "--tri=false", "--",	     "-q", NULL};
	const char *a2[] = {"demo", "--file=y", "--tri", "-", NULL};
	const char *a3[] = {"demo", "--file", "--quiet", NULL};

	ok_call(demo_parse(&d, 0, a1, &args, &err), &err, "every spelling parses");
	is_str(d.file, "x", "-f VALUE");
	ok(d.tags.n == 2 && !strcmp(d.tags.v[0], "t1") && !strcmp(d.tags.v[1], "t2"),
	   "--tag=V and -t V, repeatable");
	ok(d.quiet && !d.wait, "flags set true and false");
	ok(d.tri == PLAN_NO, "--tri=false");
	ok(args.n == 3 && !strcmp(args.v[0], "A") && !strcmp(args.v[1], "B") &&
		   !strcmp(args.v[2], "-q"),
	   "arguments between options, and after --, in order");
	ok_call(demo_parse(&d, 0, a2, &args, &err), &err, "optional value absent");
	is_str(d.file, "y", "--file=V");
	ok(d.tri == PLAN_YES, "bare --tri is yes");
	ok(args.n == 1 && !strcmp(args.v[0], "-"), "`-` is an argument");
	ok_call(demo_parse(&d, 0, a3, &args, &err), &err, "a value may start with a dash");
	is_str(d.file, "--quiet", "--file takes the next argument whatever it is");
	ok(!d.quiet, "so --quiet was a value");
	pn_strv_release(&d.tags);
	pn_strv_release(&args);
}

static void t_parser_errors(void)
{
	struct demo d = {0};
	struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;
	const char *unknown[] = {"demo", "--frob", NULL};
	const char *unknown_short[] = {"demo", "-x", NULL};
	const char *joined_short[] = {"demo", "-fx", NULL};
	const char *no_value[] = {"demo", "A", "--file", NULL};
	const char *no_value_short[] = {"demo", "-t", NULL};
	const char *takes_none[] = {"demo", "--quiet=1", NULL};
	const char *bad_tri[] = {"demo", "--tri=maybe", NULL};
	const char *grouped[] = {"demo", "--grouped", NULL};
	const char *hidden[] = {"demo", "--hidden", NULL};
	const char *prefix[] = {"demo", "--fil", "x", NULL};
	const char *secret[] = {"demo", "--creds=u:hunter2", NULL};

	ok_fail(demo_parse(&d, 0, unknown, &args, &err), &err, PN_ERR_INVALID,
		"unknown option `--frob`", "unknown long option");
	ok_fail(demo_parse(&d, 0, unknown_short, &args, &err), &err, PN_ERR_INVALID,
		"unknown option `-x`", "unknown short option");
	ok_fail(demo_parse(&d, 0, joined_short, &args, &err), &err, PN_ERR_INVALID,
		"unknown option `-fx`", "no value joined to a short option");
	ok_fail(demo_parse(&d, 0, no_value, &args, &err), &err, PN_ERR_INVALID,
		"option `--file` needs a value", "missing value");
	ok_fail(demo_parse(&d, 0, no_value_short, &args, &err), &err, PN_ERR_INVALID,
		"option `-t` needs a value", "missing value of a short option");
	ok_fail(demo_parse(&d, 0, takes_none, &args, &err), &err, PN_ERR_INVALID, "takes no value",
		"a value for a flag");
	ok_fail(demo_parse(&d, 0, bad_tri, &args, &err), &err, PN_ERR_INVALID,
		"bad value in `--tri=maybe`", "a handler's error");
	ok_fail(demo_parse(&d, 0, grouped, &args, &err), &err, PN_ERR_INVALID, "unknown option",
		"an option of another group is unknown");
	ok_call(demo_parse(&d, 0, hidden, &args, &err), &err, "an option without help is accepted");
	ok(demo_parse(&d, 0, secret, &args, &err) < 0 && err &&
		   strstr(err->msg, "unknown option `--creds`") && !strstr(err->msg, "hunter2"),
	   "an unknown option is named without its value");
	pn_error_clear(&err);
	ok_fail(demo_parse(&d, 0, prefix, &args, &err), &err, PN_ERR_INVALID, "unknown option",
		"no prefixes without CLI_ABBREV");
	ok_call(demo_parse(&d, CLI_ABBREV, prefix, &args, &err), &err, "a unique prefix");
	is_str(d.file, "x", "names --file");
	pn_strv_release(&d.tags);
	pn_strv_release(&args);
}

static void t_parser_stop(void)
{
	struct demo d = {0};
	struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;
	const char *a[] = {"run", "-q", "IMAGE", "-f", "x", NULL};
	const char *b[] = {"run", "--", "-IMAGE", "--", "-q", NULL};
	struct pn_strv scanned = PN_STRV_INIT;
	struct cli_cmd cmd;
	struct cli_table t;

	ok_call(demo_parse(&d, CLI_STOP_AT_ARG, a, &args, &err), &err,
		"stop at the first argument");
	ok(d.quiet && !d.file, "options before it only");
	ok(args.n == 3 && !strcmp(args.v[1], "-f"), "the rest verbatim");
	ok_call(demo_parse(&d, CLI_STOP_AT_ARG, b, &args, &err), &err, "-- first");
	ok(args.n == 3 && !strcmp(args.v[0], "-IMAGE") && !strcmp(args.v[1], "--"),
	   "the first -- dropped, later ones kept");
	demo_cmd(&cmd, &t, &d, 0);
	{
		const char *s[] = {"push", "--frob", "-f", "A", "B", "--tag", "C", NULL};

		cli_scan_args(&cmd, 7, (char **)s, &scanned);
		ok(scanned.n == 1 && !strcmp(scanned.v[0], "B"),
		   "scan: values are not arguments, errors ignored");
	}
	pn_strv_release(&scanned);
	pn_strv_release(&d.tags);
	pn_strv_release(&args);
}

static char *help_text(const struct cli_cmd *cmd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cli_help(cmd, f);
	fclose(f);
	return buf;
}

static void t_help(void)
{
	struct demo d = {0};
	struct cli_cmd cmd;
	struct cli_table t;
	char *h;

	demo_cmd(&cmd, &t, &d, 0);
	h = help_text(&cmd);
	ok(!strncmp(h, "usage: pinion demo\n\nDemo options:\n", 34), "intro, then a heading");
	ok(strstr(h, "\n  -f, --file FILE             a file\n") != NULL,
	   "short and long, column 30");
	ok(strstr(h, "\n      --no-wait               do not wait\n") != NULL,
	   "long only, aligned under the long names");
	ok(strstr(h, "a tag (repeatable)\n                              second line\n") != NULL,
	   "more lines indented");
	ok(strstr(h, "--tri[=true|false]") != NULL, "optional value written as given");
	ok(strstr(h, "--name-that-is-rather-long SOME-LONG-VALUE\n                              "
		     "help on the next line\n") != NULL,
	   "a long left side puts the help on the next line");
	ok(!strstr(h, "hidden"), "no help: not listed");
	ok(!strstr(h, "grouped"), "another group: not listed");
	ok(strstr(h, "the end\n") != NULL, "outro last");
	free(h);
}

/* the same table as a man page and as completion words (manpage.c) */
static void t_man_words(void)
{
	struct demo d = {0};
	struct cli_cmd cmd;
	struct cli_table t;
	char *h;

	demo_cmd(&cmd, &t, &d, 0);
	cmd.intro = "usage: pinion demo [-f FILE]\n       pinion demo --tri\n\n"
		    "First `para` with a \\ backslash\n.dot line\n\n  indented table\n\nOptions:\n";
	cli_help_set_format(CLI_HELP_MAN);
	h = help_text(&cmd);
	ok(!strncmp(h, ".TH PINION\\-DEMO 1 ", 19), "title: PINION-DEMO(1)");
	ok(strstr(h, ".SH NAME\npinion\\-demo \\- demo\n") != NULL, "NAME: page - summary");
	ok(strstr(h, ".SH SYNOPSIS\n.nf\n\\&pinion demo [\\-f FILE]\n\\&pinion demo "
		     "\\-\\-tri\n.fi\n") != NULL,
	   "SYNOPSIS: the usage lines");
	ok(strstr(h, "\\&First \\fBpara\\fR with a \\e backslash\n\\&.dot line\n") != NULL,
	   "DESCRIPTION: `code` bold, backslash escaped, a leading dot guarded");
	ok(strstr(h, ".PP\n.RS 2\n.nf\n\\&  indented table\n.fi\n.RE\n") != NULL,
	   "indented lines kept as written");
	ok(!strstr(h, "Options:"), "the intro's Options: heading is the OPTIONS section");
	ok(strstr(h, ".SH OPTIONS\n.SS\n\\&Demo options\n") != NULL, "table heading: a subsection");
	ok(strstr(h, ".TP\n\\&\\fB\\-f\\fR, \\fB\\-\\-file\\fR \\fIFILE\\fR\n\\&a file\n") != NULL,
	   "an option: tag line and help");
	ok(strstr(h, "\\fB\\-\\-tri\\fR\\fI[=true|false]\\fR\n") != NULL,
	   "optional value attached");
	ok(strstr(h, "\\&a tag (repeatable)\n\\&second line\n") != NULL, "help lines");
	ok(!strstr(h, "hidden") && !strstr(h, "grouped"), "unlisted options stay out");
	ok(strstr(h, ".SH NOTES\n\\&the end\n.SH SEE ALSO\n") != NULL,
	   "outro: NOTES, then SEE ALSO");
	free(h);
	cli_help_set_format(CLI_HELP_WORDS);
	h = help_text(&cmd);
	is_str(h,
	       "--file\n-f\n--quiet\n-q\n--no-wait\n--tag\n-t\n--tri\n--name-that-is-rather-long\n",
	       "words: the listed options of the command's groups");
	free(h);
	cli_help_set_format(CLI_HELP_TEXT);
}

/* each registry option is offered by the commands of its groups only */
static void t_registry_groups(void)
{
	struct registry_opts o;
	struct cli_table t = CLI_REGISTRY_TABLE(&o);
	struct cli_cmd login = {.name = "login",
				.tables = &t,
				.n_tables = 1,
				.groups = CLI_REG_CONN | CLI_REG_AUTHFILE};
	struct cli_cmd pull = {.name = "pull", .tables = &t, .n_tables = 1, .groups = CLI_REG_PULL};
	struct cli_cmd logout = {
		.name = "logout", .tables = &t, .n_tables = 1, .groups = CLI_REG_AUTHFILE};
	void *ctx;
	char *h;

	ok(cli_find(&pull, "--parallel", &ctx) && ctx == &o, "pull: --parallel, into the opts");
	ok(!cli_find(&pull, "--chunk-size", &ctx), "pull: no --chunk-size");
	ok(!cli_find(&login, "--chunk-size", &ctx), "login: no --chunk-size");
	ok(!cli_find(&login, "--platform", &ctx), "login: no --platform");
	ok(cli_find(&login, "--tls-verify=false", &ctx) != NULL, "login: --tls-verify");
	ok(cli_find(&login, "--authfile", &ctx) != NULL, "login: --authfile");
	ok(cli_find(&logout, "--authfile", &ctx) != NULL, "logout: --authfile");
	ok(!cli_find(&logout, "--ca-bundle", &ctx), "logout: nothing that connects");
	login.intro = "";
	h = help_text(&login);
	ok(strstr(h, "--insecure-registry HOST") && !strstr(h, "--chunk-size") &&
		   !strstr(h, "--parallel"),
	   "login's help lists its groups only");
	free(h);
	registry_opts_init(&o);
	{
		char *a[] = {(char *)"cmd", (char *)"--tls-verify=true", (char *)"--tls-verify",
			     NULL};
		char *b[] = {(char *)"cmd", (char *)"--tls-verify=maybe", NULL};
		struct pn_error *err = NULL;
		size_t n;

		ok_call(parse_only(&o, 3, a, &n, &err), &err, "--tls-verify[=true]");
		ok(o.insecure.n == 0, "verify stays on");
		ok_fail(parse_only(&o, 2, b, &n, &err), &err, PN_ERR_INVALID, "tls-verify",
			"--tls-verify=maybe");
	}
	registry_opts_release(&o);
}

static void t_registry_set(void)
{
	struct registry_opts o;
	struct pn_error *err = NULL;

	registry_opts_init(&o);
	ok_call(registry_opts_set(&o, "chunk-size", "2M", &err), &err, "chunk-size");
	ok(o.chunk_size == (size_t)2 << 20 && o.monolithic_max == (size_t)2 << 20,
	   "chunk-size sets the monolithic bound too");
	ok_fail(registry_opts_set(&o, "platform", "linux", &err), &err, PN_ERR_INVALID, "OS/ARCH",
		"platform without a slash");
	ok_fail(registry_opts_set(&o, "frob", "1", &err), &err, PN_ERR_INVALID, "unknown setting",
		"unknown name");
	registry_opts_release(&o);
}

int main(void)
{
	TEST(t_flags);
	TEST(t_value_flags);
	TEST(t_parser_spellings);
	TEST(t_parser_errors);
	TEST(t_parser_stop);
	TEST(t_help);
	TEST(t_man_words);
	TEST(t_registry_groups);
	TEST(t_registry_set);
	return tap_done();
}
