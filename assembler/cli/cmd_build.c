/* cmd_build.c - `pinion build`: a Cog model directory to an OCI image */
#include "assembler/build.h"

#include <stdlib.h>
#include <string.h>

static const char build_help[] =
	"usage: pinion build [OPTIONS]\n"
	"\n"
	"Build the Cog model in the current directory (cog.yaml) into an OCI image,\n"
	"without a daemon or root.  By default the image goes to the OCI layout\n"
	"`.pinion/layout` next to cog.yaml, tagged `latest` (or the tag of -t);\n"
	"--output chooses another layout, --push pushes it to a registry.\n"
	"\n"
	"Cog's options:\n"
	"  -f, --file FILE            the config file (default cog.yaml)\n"
	"  -t, --tag NAME[:TAG]       the image name (tag of the layout entry; push target)\n"
	"      --no-cache             run every step again\n"
	"      --secret id=ID,src=PATH | id=ID,env=VAR\n"
	"                             a build secret for `run` mounts (never stored)\n"
	"      --separate-weights[=true|false]\n"
	"                             weights (large non-code files) in their own layers\n"
	"                             before the source layer (default true)\n"
	"      --use-cog-base-image[=true|false]\n"
	"      --use-cuda-base-image[=true|false]\n"
	"      --openapi-schema FILE  use this schema instead of asking the image\n"
	"      --progress MODE        auto, tty, plain, quiet or json (one event a line)\n"
	"      --timestamp SECONDS    image and file times (also SOURCE_DATE_EPOCH)\n"
	"pinion's options:\n"
	"      --output oci:DIR[:TAG] write the image to this OCI layout\n"
	"      --push                 push to -t NAME (or cog.yaml `image`) after the build\n"
	"      --dry-run [--json]     print the plan and stop\n"
	"      --compression gzip|zstd|none   layer compression (default gzip)\n"
	"      --network host|none    network of the RUN steps (default host)\n"
	"      --cache-dir DIR        layer cache and snapshots (default ~/.cache/pinion)\n"
	"      --build-env NAME[=VALUE]\n"
	"                             a variable for RUN steps (NAME alone: this\n"
	"                             environment's value); cog.yaml `environment` wins\n"
	"      --no-host-env          pass none of the host's proxy and pip settings\n"
	"                             (passed by default; see docs/build.md)\n"
	"%s";

static int parse_bool_opt(const char *arg, const char *name, enum plan_tristate *out)
{
	size_t n = strlen(name);
	const char *v;

	if (strncmp(arg, name, n) != 0)
		return 0;
	if (arg[n] == '\0') {
		*out = PLAN_YES;
		return 1;
	}
	if (arg[n] != '=')
		return 0;
	v = arg + n + 1;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = PLAN_YES;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = PLAN_NO;
	else
		return -1;
	return 1;
}

/* an option with a value: --name VALUE or --name=VALUE */
static const char *opt_value(int argc, char **argv, int *i, const char *lname, const char *sname)
{
	const char *a = argv[*i];
	size_t n = strlen(lname);

	if ((sname && strcmp(a, sname) == 0) || strcmp(a, lname) == 0) {
		if (*i + 1 >= argc)
			return NULL;
		return argv[++*i];
	}
	if (strncmp(a, lname, n) == 0 && a[n] == '=')
		return a + n + 1;
	return NULL;
}

static bool opt_is(const char *a, const char *lname, const char *sname)
{
	size_t n = strlen(lname);

	return (sname && strcmp(a, sname) == 0) || strcmp(a, lname) == 0 ||
	       (strncmp(a, lname, n) == 0 && a[n] == '=');
}

struct build_cli {
	struct build_opts o;
	struct registry_opts ro;
	const char *timestamp;
	const char *network;
	const char *compression;
	const char *progress;
};

/* one option; 1 consumed, 0 unknown, < 0 bad (err set) */
static int parse_value_opt(struct build_cli *c, int argc, char **argv, int *i,
			   struct pn_error **err)
{
	const char *a = argv[*i], *v;
	struct {
		const char *l, *s;
		const char **slot;
	} table[] = {
		{"--file", "-f", &c->o.config_file},
		{"--tag", "-t", &c->o.tag},
		{"--output", "-o", &c->o.output},
		{"--openapi-schema", NULL, &c->o.openapi_schema},
		{"--cache-dir", NULL, &c->o.cache_dir},
		{"--timestamp", NULL, &c->timestamp},
		{"--network", NULL, &c->network},
		{"--compression", NULL, &c->compression},
		{"--progress", NULL, &c->progress},
	};

	for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++) {
		if (!opt_is(a, table[k].l, table[k].s))
			continue;
		v = opt_value(argc, argv, i, table[k].l, table[k].s);
		if (!v)
			return pn_error_set(err, PN_ERR_INVALID, "option `%s` needs a value", a);
		*table[k].slot = v;
		return 1;
	}
	if (opt_is(a, "--build-env", NULL)) {
		v = opt_value(argc, argv, i, "--build-env", NULL);
		if (!v)
			return pn_error_set(err, PN_ERR_INVALID,
					    "option `--build-env` needs a value");
		return build_opts_add_env(&c->o, v, err) < 0 ? -1 : 1;
	}
	if (opt_is(a, "--secret", NULL)) {
		v = opt_value(argc, argv, i, "--secret", NULL);
		if (!v)
			return pn_error_set(err, PN_ERR_INVALID, "option `--secret` needs a value");
		return build_opts_add_secret(&c->o, v, err) < 0 ? -1 : 1;
	}
	return 0;
}

static int parse_flag_opt(struct build_cli *c, const char *a, struct pn_error **err)
{
	enum plan_tristate t = PLAN_AUTO;
	int r;

	if (strcmp(a, "--no-cache") == 0)
		c->o.no_cache = true;
	else if (strcmp(a, "--push") == 0)
		c->o.push = true;
	else if (strcmp(a, "--dry-run") == 0)
		c->o.dry_run = true;
	else if (strcmp(a, "--json") == 0)
		c->o.dry_run_json = true;
	else if (strcmp(a, "--no-host-env") == 0)
		c->o.no_host_env = true;
	else if ((r = parse_bool_opt(a, "--separate-weights", &t)) != 0) {
		if (r < 0)
			return pn_error_set(err, PN_ERR_INVALID, "bad value in `%s`", a);
		c->o.separate_weights = t == PLAN_YES;
	} else if ((r = parse_bool_opt(a, "--use-cog-base-image", &c->o.use_cog_base)) != 0) {
		if (r < 0)
			return pn_error_set(err, PN_ERR_INVALID, "bad value in `%s`", a);
	} else if ((r = parse_bool_opt(a, "--use-cuda-base-image", &c->o.use_cuda_base)) != 0) {
		if (r < 0)
			return pn_error_set(err, PN_ERR_INVALID, "bad value in `%s`", a);
	} else
		return 0;
	return 1;
}

static int finish_cli(struct build_cli *c, struct pn_error **err)
{
	enum pn_progress p;

	if (c->progress) {
		if (pn_log_parse_progress(c->progress, &p) < 0)
			return pn_error_set(
				err, PN_ERR_INVALID,
				"unknown progress mode `%s` (auto, tty, plain, quiet, json)",
				c->progress);
		pn_log_set_progress(p);
	}
	if (c->compression && oci_compression_parse(c->compression, &c->o.compression, err) < 0)
		return -1;
	if (c->network) {
		if (strcmp(c->network, "none") == 0)
			c->o.network_none = true;
		else if (strcmp(c->network, "host") != 0 && strcmp(c->network, "default") != 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "unknown network `%s` (host, none)", c->network);
	}
	if (c->timestamp) {
		char *end;
		long long t = strtoll(c->timestamp, &end, 10);

		if (*end || end == c->timestamp || t < 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "--timestamp `%s`: want seconds since 1970",
					    c->timestamp);
		c->o.timestamp = t;
		/* the layer writer clamps file times to SOURCE_DATE_EPOCH */
		setenv("SOURCE_DATE_EPOCH", c->timestamp, 1);
	}
	if (c->o.output && strncmp(c->o.output, "oci:", 4) != 0)
		return pn_error_set(err, PN_ERR_INVALID, "--output `%s`: want oci:DIR[:TAG]",
				    c->o.output);
	c->o.platform = c->ro.platform;
	c->o.ropts = &c->ro;
	return 0;
}

static int parse_args(struct build_cli *c, int argc, char **argv, struct pn_error **err)
{
	for (int i = 1; i < argc; i++) {
		int r = registry_opts_parse_flag(&c->ro, argc, argv, &i, err);

		if (r == 0)
			r = parse_value_opt(c, argc, argv, &i, err);
		if (r == 0)
			r = parse_flag_opt(c, argv[i], err);
		if (r < 0)
			return -1;
		if (r == 0)
			return pn_error_set(err, PN_ERR_INVALID, "unknown argument `%s`", argv[i]);
	}
	return finish_cli(c, err);
}

int build_cli_main(int argc, char **argv, bool push)
{
	struct build_cli c;
	struct build_result res;
	struct pn_error *err = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	build_opts_init(&c.o);
	registry_opts_init(&c.ro);
	if (registry_opts_load_config(&c.ro, NULL, &err) < 0 ||
	    parse_args(&c, argc, argv, &err) < 0) {
		if (err->code == PN_ERR_INVALID && !err->hint)
			pn_error_hint(&err, "see `pinion %s --help`", push ? "push" : "build");
		rc = pn_cli_fail(err);
		goto out;
	}
	c.o.push |= push;
	rc = build_run(&c.o, &res, &err);
	if (rc < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (!c.o.dry_run) {
		if (res.layout_dir)
			printf("oci:%s:%s %s\n", res.layout_dir, res.layout_tag,
			       res.manifest.digest);
		if (res.pushed)
			printf("%s@%s\n", res.pushed, res.manifest.digest);
	}
	build_result_release(&res);
	rc = 0;
out:
	build_opts_release(&c.o);
	registry_opts_release(&c.ro);
	return rc;
}

static int cmd_build(int argc, char **argv)
{
	if (pn_cli_wants_help(argc, argv)) {
		printf(build_help, registry_opts_flags_help);
		return 0;
	}
	return build_cli_main(argc, argv, false);
}

PN_COMMAND(build, "build", "build a Cog model into an OCI image", cmd_build);
