/* cmd_build.c - `pinion build`: a Cog model directory to an OCI image; also
 * the build half of `pinion push [NAME]` (build_cli_main) */
#include "assembler/build.h"
#include "assembler/cli/cli.h"
#include "assembler/predict.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char build_intro[] =
	"usage: pinion build [OPTIONS]\n"
	"\n"
	"Build the Cog model in the current directory (cog.yaml) into an OCI image,\n"
	"without a daemon or root.  By default the image goes to the OCI layout\n"
	"`.pinion/layout` next to cog.yaml, tagged `latest` (or the tag of -t);\n"
	"--output chooses another layout, --push pushes it to a registry.\n"
	"\n";

struct build_cli {
	struct build_opts o;
	struct registry_opts ro;
	const char *timestamp;
	const char *network;
	const char *compression;
	enum plan_tristate separate_weights;
	enum plan_tristate sbom;
	char *name; /* push's NAME argument */
};

/* build's --use-*-base-image and --separate-weights; dockerfile's too */
int cli_set_tristate(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	enum plan_tristate *t = (enum plan_tristate *)((char *)ctx + opt->off);

	if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*t = PLAN_YES;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*t = PLAN_NO;
	else if (strcmp(v, "auto") == 0)
		*t = PLAN_AUTO;
	else
		return pn_error_set(err, PN_ERR_INVALID,
				    "bad value in `--%s=%s` (true, false, auto)", opt->name, v);
	return 0;
}

static int set_env(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return build_opts_add_env(&((struct build_cli *)ctx)->o, v, err);
}

static int set_secret(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return build_opts_add_secret(&((struct build_cli *)ctx)->o, v, err);
}

static int set_cache_from(void *ctx, const struct cli_opt *opt, const char *v,
			  struct pn_error **err)
{
	(void)opt;
	return build_opts_add_cache(&((struct build_cli *)ctx)->o, v, false, err);
}

static int set_cache_to(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return build_opts_add_cache(&((struct build_cli *)ctx)->o, v, true, err);
}

/* without the flag: PINION_CACHE_FROM / PINION_CACHE_TO, specs separated by
 * white space (CI variables) */
static int cache_from_env(struct build_opts *o, bool to, struct pn_error **err)
{
	const char *name = to ? "PINION_CACHE_TO" : "PINION_CACHE_FROM";
	const char *v = getenv(name);
	cleanup_free char *copy = NULL;
	char *save = NULL;

	if (!v || (to ? o->cache_to.n : o->cache_from.n))
		return 0;
	copy = xstrdup(v);
	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
		if (build_opts_add_cache(o, w, to, err) < 0)
			return pn_error_wrap(err, "$%s", name);
	return 0;
}

#define OPT_O(f) offsetof(struct build_cli, o.f)
#define OPT_C(f) offsetof(struct build_cli, f)
#define REQ	 CLI_ARG_REQUIRED
#define NONE	 CLI_ARG_NONE
#define TRI	 CLI_ARG_OPTIONAL, cli_set_tristate
static const struct cli_opt build_opts_table[] = {
	{NULL, 0, NONE, NULL, 0, NULL, "Cog's options:", 0},
	{"file", 'f', REQ, NULL, OPT_O(config_file), "FILE", "the config file (default cog.yaml)",
	 0},
	{"tag", 't', REQ, NULL, OPT_O(tag), "NAME[:TAG]",
	 "the image name (tag of the layout entry; push target)", 0},
	{"no-cache", 0, NONE, NULL, OPT_O(no_cache), NULL, "run every step again", 0},
	{"secret", 0, REQ, set_secret, 0, "id=ID,src=PATH | id=ID,env=VAR",
	 "a build secret for `run` mounts (never stored)", 0},
	{"separate-weights", 0, TRI, OPT_C(separate_weights), "[=true|false]",
	 "weights (large non-code files) in their own layers\nbefore the source layer (default "
	 "true)",
	 0},
	{"use-cog-base-image", 0, TRI, OPT_O(use_cog_base), "[=true|false]",
	 "use (or with =false avoid) the cog-base image", 0},
	{"use-cuda-base-image", 0, TRI, OPT_O(use_cuda_base), "[=true|false]",
	 "use (or with =false avoid) the nvidia/cuda base for GPU", 0},
	{"cog-base-registry", 0, REQ, cli_set_cog_base_registry, OPT_O(cog_base_registry),
	 "HOST[/PATH]",
	 "the registry of the cog-base images (default\n$COG_REGISTRY_HOST, else r8.im)", 0},
	{"openapi-schema", 0, REQ, NULL, OPT_O(openapi_schema), "FILE",
	 "use this schema instead of asking the image", 0},
	{"progress", 0, REQ, cli_set_progress, 0, "MODE",
	 "auto, tty, plain, quiet or json (one event a line)", 0},
	{"timestamp", 0, REQ, NULL, OPT_C(timestamp), "SECONDS",
	 "image and file times (also SOURCE_DATE_EPOCH)", 0},
	{NULL, 0, NONE, NULL, 0, NULL, "pinion's options:", 0},
	{"output", 'o', REQ, NULL, OPT_O(output), "oci:DIR[:TAG]",
	 "write the image to this OCI layout (or oci-archive:FILE, docker-archive:FILE)", 0},
	{"push", 0, NONE, NULL, OPT_O(push), NULL,
	 "push to -t NAME (or cog.yaml `image`) after the build", 0},
	{"sbom", 0, TRI, OPT_C(sbom), "[=true|false]",
	 "attach an SPDX SBOM and a provenance statement\n(default true; docs/sbom.md)", 0},
	{"dry-run", 0, NONE, NULL, OPT_O(dry_run), NULL, "print the plan and stop", 0},
	{"json", 0, NONE, NULL, OPT_O(dry_run_json), NULL, "with --dry-run: the plan as JSON", 0},
	{"compression", 0, REQ, NULL, OPT_C(compression), "gzip|zstd|none",
	 "layer compression (default gzip)", 0},
	{"network", 0, REQ, NULL, OPT_C(network), "host|none",
	 "network of the RUN steps (default host)", 0},
	{"cache-dir", 0, REQ, NULL, OPT_O(cache_dir), "DIR",
	 "layer cache and snapshots (default ~/.cache/pinion)", 0},
	{"cache-from", 0, REQ, set_cache_from, 0, "REF",
	 "import the step cache of this registry REPO:TAG\nor oci:DIR:TAG (repeatable; "
	 "$PINION_CACHE_FROM)",
	 0},
	{"cache-to", 0, REQ, set_cache_to, 0, "REF[,mode=max][,max-entries=N][,max-age=DAYS]",
	 "merge this build's step cache into REF\n($PINION_CACHE_TO; see docs/build.md)", 0},
	{"build-env", 0, REQ, set_env, 0, "NAME[=VALUE]",
	 "a variable for RUN steps (NAME alone: this\nenvironment's value); cog.yaml "
	 "`environment` wins",
	 0},
	{"no-package-cache", 0, NONE, NULL, OPT_O(no_package_cache), NULL,
	 "RUN steps share no pip or apt cache with other builds\n(docs/build.md)", 0},
	{"no-host-env", 0, NONE, NULL, OPT_O(no_host_env), NULL,
	 "pass none of the host's proxy and pip settings\n(passed by default; see docs/build.md)",
	 0},
};
static int finish_cli(struct build_cli *c, struct pn_error **err)
{
	if (c->separate_weights != PLAN_AUTO)
		c->o.separate_weights = c->separate_weights == PLAN_YES;
	c->o.no_sbom = c->sbom == PLAN_NO;
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
	if (c->o.output && oci_transport_of(c->o.output) == OCI_TRANSPORT_NONE)
		return pn_error_set(err, PN_ERR_INVALID,
				    "--output `%s`: want oci:DIR[:TAG], oci-archive:FILE[:REF] or "
				    "docker-archive:FILE[:REF]",
				    c->o.output);
	if (cache_from_env(&c->o, false, err) < 0 || cache_from_env(&c->o, true, err) < 0)
		return -1;
	c->o.platform = c->ro.platform;
	c->o.ropts = &c->ro;
	return 0;
}

/* the command of `pinion build` (push false) and of `pinion push [NAME]` */
static void build_cmd(struct cli_cmd *cmd, struct cli_table t[2], struct build_cli *c, bool push)
{
	t[0] = (struct cli_table)CLI_TABLE(build_opts_table, c);
	t[1] = (struct cli_table)CLI_REGISTRY_TABLE(&c->ro);
	memset(cmd, 0, sizeof(*cmd));
	cmd->name = push ? "push" : "build";
	cmd->intro = build_intro;
	cmd->tables = t;
	cmd->n_tables = 2;
	cmd->groups = CLI_REG_ALL;
}

/* options, then for push the one argument NAME: the push target */
static int parse_args(struct build_cli *c, const struct cli_cmd *cmd, int argc, char **argv,
		      bool push, struct pn_error **err)
{
	cleanup_strv struct pn_strv args = PN_STRV_INIT;

	if (cli_parse(cmd, argc, argv, &args, err) < 0)
		return -1;
	if (args.n > (push ? 1u : 0u))
		return pn_error_set(err, PN_ERR_INVALID, "unknown argument `%s`",
				    args.v[push ? 1 : 0]);
	if (args.n) /* the push target NAME wins over -t */
		c->o.tag = c->name = xstrdup(args.v[0]);
	return finish_cli(c, err);
}

int build_cli_main(int argc, char **argv, bool push)
{
	struct build_cli c;
	struct build_result res;
	struct cli_cmd cmd;
	struct cli_table t[2];
	struct pn_error *err = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	build_opts_init(&c.o);
	build_cmd(&cmd, t, &c, push);
	if (cli_registry_opts_init(&c.ro, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (parse_args(&c, &cmd, argc, argv, push, &err) < 0) {
		rc = cli_fail(&cmd, err);
		goto out;
	}
	c.o.push |= push;
	/* a predictor that cannot load: before any step runs */
	if (!c.o.dry_run && !c.o.openapi_schema &&
	    predict_check_model(c.o.config_file ? c.o.config_file : "cog.yaml", false, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	rc = build_run(&c.o, &res, &err);
	if (rc < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (!c.o.dry_run) {
		if (res.layout_dir)
			printf("oci:%s:%s %s\n", res.layout_dir, res.layout_tag,
			       res.manifest.digest);
		else if (c.o.output)
			printf("%s %s\n", c.o.output, res.manifest.digest);
		if (res.pushed)
			printf("%s@%s\n", res.pushed, res.manifest.digest);
	}
	build_result_release(&res);
	rc = 0;
out:
	build_opts_release(&c.o);
	registry_opts_release(&c.ro);
	free(c.name);
	return rc;
}

void build_cli_scan(int argc, char **argv, struct pn_strv *args)
{
	struct build_cli c;
	struct cli_cmd cmd;
	struct cli_table t[2];

	build_cmd(&cmd, t, &c, true);
	cli_scan_args(&cmd, argc, argv, args);
}

static int cmd_build(int argc, char **argv)
{
	if (pn_cli_wants_help(argc, argv)) {
		struct build_cli c;
		struct cli_cmd cmd;
		struct cli_table t[2];

		build_cmd(&cmd, t, &c, false);
		cli_help(&cmd, stdout);
		return 0;
	}
	return build_cli_main(argc, argv, false);
}

PN_COMMAND(build, "build", "build a Cog model into an OCI image", cmd_build);
