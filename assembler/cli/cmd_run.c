/* cmd_run.c - `pinion run [OPTIONS] IMAGE [--] [CMD...]`: run a command in
 * an image's filesystem in the rootless sandbox (runner/), for debugging;
 * with --commit oci:DIR[:TAG] what it changed becomes a new image (the base
 * plus one layer). */
#include "assembler/cli/cli.h"
#include "assembler/cli/served.h"
#include "assembler/predict.h"
#include "oci/oci.h"
#include "runner/runner.h"
#include "assembler/cache.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUN_SECRETS_MAX 64

static const char run_intro[] =
	"usage: pinion run [OPTIONS] IMAGE [--] [CMD [ARG...]]\n"
	"       pinion run [OPTIONS] [-- CMD [ARG...]]\n\n"
	"Run CMD (default: the image's entrypoint and command) in IMAGE's filesystem\n"
	"inside pinion's rootless sandbox: user, mount and pid namespaces, an overlay\n"
	"of the image's layers with a throwaway upper directory, /proc, a minimal\n"
	"/dev, the host's resolv.conf and hosts.  stdin, stdout and stderr are the\n"
	"terminal's.  IMAGE is oci:DIR[:TAG], oci-archive:FILE[:REF],\n"
	"docker-archive:FILE[:REF] (read into a temporary layout in the cache dir,\n"
	"removed after) or a registry reference (pulled into the cache).  The exit\n"
	"status is the command's (126: it could not be started, e.g. a bad user or\n"
	"working directory; 127: not found); 1 or 2 when pinion itself failed\n"
	"before running it.  Without IMAGE (nothing, or `--` first) the model in\n"
	"the current directory is built first and run, as `cog run` does.\n\n"
	"Options:\n";

struct run_args {
	const char *image, *commit, *workdir, *user, *cache_dir;
	struct pn_strv env, cmd;
	struct runner_secret secrets[RUN_SECRETS_MAX];
	size_t n_secrets;
	struct pn_strv secret_strs; /* owns the secrets' strings */
	enum runner_network network;
	enum oci_compression compression;
	bool no_overlay;
	struct registry_opts ro;
	char *image_owned;
};

static void run_args_release(struct run_args *a)
{
	pn_strv_release(&a->env);
	pn_strv_release(&a->cmd);
	pn_strv_release(&a->secret_strs);
	registry_opts_release(&a->ro);
	free(a->image_owned);
}

/* "id=ID,src=FILE[,target=PATH]" */
static int parse_secret(struct run_args *a, const char *spec, struct pn_error **err)
{
	cleanup_free char *copy = xstrdup(spec);
	struct runner_secret *s;
	char *save = NULL;

	if (a->n_secrets == RUN_SECRETS_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "more than %d secrets", RUN_SECRETS_MAX);
	s = &a->secrets[a->n_secrets];
	memset(s, 0, sizeof(*s));
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char **slot = NULL;

		if (eq) {
			*eq = '\0';
			if (!strcmp(kv, "id"))
				slot = &s->id;
			else if (!strcmp(kv, "src") || !strcmp(kv, "source"))
				slot = &s->source;
			else if (!strcmp(kv, "target") || !strcmp(kv, "dst"))
				slot = &s->target;
		}
		if (!slot)
			return pn_error_set(err, PN_ERR_INVALID,
					    "--secret `%s`: expected "
					    "id=ID,src=FILE[,target=PATH]",
					    spec);
		pn_strv_push(&a->secret_strs, eq + 1);
		*slot = a->secret_strs.v[a->secret_strs.n - 1];
	}
	if (!s->id || !s->source)
		return pn_error_set(err, PN_ERR_INVALID, "--secret `%s`: id and src are required",
				    spec);
	a->n_secrets++;
	return 0;
}

static int set_env(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	if (!strchr(v, '=') || v[0] == '=')
		return pn_error_set(err, PN_ERR_INVALID, "--env `%s`: expected NAME=VALUE", v);
	pn_strv_push(&((struct run_args *)ctx)->env, v);
	return 0;
}

static int set_network(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	if (strcmp(v, "host") && strcmp(v, "none"))
		return pn_error_set(err, PN_ERR_INVALID, "--network `%s`: expected host or none",
				    v);
	((struct run_args *)ctx)->network = strcmp(v, "none") ? RUNNER_NET_HOST : RUNNER_NET_NONE;
	return 0;
}

static int set_secret(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return parse_secret(ctx, v, err);
}

static int set_compression(void *ctx, const struct cli_opt *opt, const char *v,
			   struct pn_error **err)
{
	(void)opt;
	return oci_compression_parse(v, &((struct run_args *)ctx)->compression, err);
}

#define RUN(f) offsetof(struct run_args, f)
#define REQ    CLI_ARG_REQUIRED
static const struct cli_opt run_opts[] = {
	{"commit", 0, REQ, NULL, RUN(commit), "oci:DIR[:TAG]",
	 "on exit status 0, write IMAGE plus one layer with\nwhat the command changed as a new "
	 "image there",
	 0},
	{"env", 'e', REQ, set_env, 0, "NAME=VALUE", "set an environment variable (repeatable)", 0},
	{"workdir", 'w', REQ, NULL, RUN(workdir), "DIR",
	 "working directory (default: the image's, or /)", 0},
	{"user", 'u', REQ, NULL, RUN(user), "USER", "user[:group] (default: the image's, or root)",
	 0},
	{"network", 0, REQ, set_network, 0, "host|none", "network namespace (default host)", 0},
	{"secret", 0, REQ, set_secret, 0, "id=ID,src=FILE[,target=PATH]",
	 "FILE at PATH (default /run/secrets/ID) on a tmpfs,\nfor this command only; never in a "
	 "layer",
	 0},
	{"compression", 0, REQ, set_compression, 0, "C",
	 "layer compression for --commit: gzip, zstd, none", 0},
	{"no-overlay", 0, CLI_ARG_NONE, NULL, RUN(no_overlay), NULL,
	 "use the copy fallback instead of overlayfs", 0},
	{"cache-dir", 0, REQ, NULL, RUN(cache_dir), "DIR",
	 "pinion's cache (snapshots) [default: ~/.cache/pinion]", 0},
};

static void run_cmd(struct cli_cmd *cmd, struct cli_table t[2], struct run_args *a)
{
	t[0] = (struct cli_table)CLI_TABLE(run_opts, a);
	t[1] = (struct cli_table)CLI_REGISTRY_TABLE(&a->ro);
	memset(cmd, 0, sizeof(*cmd));
	cmd->name = "run";
	cmd->intro = run_intro;
	cmd->tables = t;
	cmd->n_tables = 2;
	cmd->groups = CLI_REG_PULL;
	cmd->flags = CLI_STOP_AT_ARG;
}

/* OPTIONS IMAGE [--] [CMD...] */
static int parse_args(struct run_args *a, int argc, char **argv, struct pn_error **err)
{
	struct cli_cmd cmd;
	struct cli_table t[2];
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	size_t i = 1;

	run_cmd(&cmd, t, a);
	if (cli_parse(&cmd, argc, argv, &args, err) < 0)
		return -1;
	/* `pinion run` or `pinion run [OPTIONS] -- CMD`: the model here */
	if (!args.n || strcmp(argv[argc - (int)args.n - 1], "--") == 0) {
		if (access("cog.yaml", F_OK) != 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "missing IMAGE (and no cog.yaml here to build)");
		i = 0;
	} else {
		a->image = a->image_owned = xstrdup(args.v[0]);
	}
	if (i < args.n && !strcmp(args.v[i], "--"))
		i++;
	for (; i < args.n; i++)
		pn_strv_push(&a->cmd, args.v[i]);
	if (a->commit && !registry_location_is_layout(a->commit))
		return pn_error_set(err, PN_ERR_INVALID, "--commit `%s`: expected oci:DIR[:TAG]",
				    a->commit);
	return 0;
}

struct run_state {
	struct oci_location loc;   /* a local image (an archive's temporary layout) */
	struct oci_layout *src;	   /* where the image is (loc.layout) */
	struct build_cache *cache; /* when pulled */
	struct oci_image img;
	struct runner *runner;
	struct runner_rootfs rf;
};

static int image_open(struct run_args *a, struct run_state *s, struct pn_error **err)
{
	struct registry_client *rc = NULL;
	struct oci_descriptor d;
	int rc_;

	if (registry_location_is_layout(a->image)) {
		if (oci_location_open_image(&s->loc, a->image, a->cache_dir, a->ro.platform,
					    &s->img, err) < 0)
			return -1;
		s->src = s->loc.layout;
		return 0;
	}
	if (build_cache_open(a->cache_dir, &s->cache, err) < 0 ||
	    registry_client_new(&a->ro, &rc, err) < 0)
		return -1;
	oci_descriptor_init(&d);
	rc_ = registry_pull(rc, a->image, build_cache_layout(s->cache), a->image, &d, err);
	registry_client_free(rc);
	oci_descriptor_release(&d);
	if (rc_ < 0)
		return pn_error_wrap(err, "pull `%s`", a->image);
	return oci_image_load(build_cache_layout(s->cache), a->image, a->ro.platform, &s->img, err);
}

static struct oci_layout *src_layout(struct run_state *s)
{
	return s->src ? s->src : build_cache_layout(s->cache);
}

static char *created_by(const struct runner_step *st)
{
	struct pn_buf b = PN_BUF_INIT;

	pn_buf_puts(&b, "pinion run --", NULL);
	for (size_t i = 0; st->argv && st->argv[i]; i++)
		pn_buf_printf(&b, NULL, " %s", st->argv[i]);
	return pn_buf_steal(&b, NULL);
}

/* base + the step's layer as a new image in the commit layout */
static int commit_image(struct run_state *s, struct oci_layout *dst, const char *tag,
			const struct runner_step *st, const struct runner_result *res,
			struct pn_error **err)
{
	struct oci_descriptor out;
	cleanup_free char *by = created_by(st);

	if (oci_layout_copy_image(src_layout(s), dst, &s->img, OCI_COPY_LAYERS, NULL, err) < 0)
		return pn_error_wrap(err, "copy base layer");
	free(s->img.config.created);
	s->img.config.created = pn_rfc3339(pn_source_date_epoch(time(NULL)));
	oci_manifest_add_layer(&s->img.manifest, &res->layer.desc);
	oci_config_add_layer(&s->img.config, res->layer.diff_id, by);
	oci_descriptor_init(&out);
	if (oci_image_store(dst, &s->img, tag, &out, err) < 0)
		return pn_error_wrap(err, "store image");
	printf("%s\n", out.digest);
	oci_descriptor_release(&out);
	return 0;
}

static int run_main(struct run_args *a, struct run_state *s, int *status, struct pn_error **err)
{
	struct runner_opts o;
	struct runner_step st;
	struct runner_result res;
	struct oci_layer_opts lo;
	cleanup_strv struct pn_strv argv = PN_STRV_INIT;
	cleanup_free char *cdir = NULL, *ctag = NULL;
	struct oci_layout *dst = NULL;
	int rc;

	if (!a->image && predict_check_model("cog.yaml", false, err) < 0)
		return -1;
	if (runner_probe(err) < 0) /* before any build or pull */
		return -1;
	if (!a->image) {
		if (served_build_here(&a->ro, a->cache_dir, &a->image_owned, err) < 0)
			return -1;
		a->image = a->image_owned;
	}
	if (image_open(a, s, err) < 0) /* a local one names itself */
		return registry_location_is_layout(a->image)
			       ? -1
			       : pn_error_wrap(err, "image `%s`", a->image);
	runner_opts_init(&o);
	o.cache_dir = a->cache_dir;
	o.no_overlay = a->no_overlay;
	if (runner_new(&o, &s->runner, err) < 0 ||
	    runner_rootfs_prepare(s->runner, src_layout(s), &s->img, &s->rf, err) < 0)
		return -1;
	for (size_t i = 0; i < a->cmd.n; i++)
		pn_strv_push(&argv, a->cmd.v[i]);
	for (size_t i = 0; !a->cmd.n && i < s->img.config.entrypoint.n; i++)
		pn_strv_push(&argv, s->img.config.entrypoint.v[i]);
	for (size_t i = 0; !a->cmd.n && i < s->img.config.cmd.n; i++)
		pn_strv_push(&argv, s->img.config.cmd.v[i]);
	if (!argv.n)
		return pn_error_set(err, PN_ERR_INVALID, "no command given and the image has none");
	if (a->commit && (oci_ref_parse_layout(a->commit, &cdir, &ctag, err) < 0 ||
			  oci_layout_open(cdir, OCI_LAYOUT_CREATE, &dst, err) < 0))
		return pn_error_wrap(err, "--commit `%s`", a->commit);
	memset(&st, 0, sizeof(st));
	st.name = "run";
	st.argv = (const char *const *)argv.v;
	st.config = &s->img.config;
	st.env = (const char *const *)a->env.v;
	st.workdir = a->workdir;
	st.user = a->user;
	st.secrets = a->secrets;
	st.n_secrets = a->n_secrets;
	st.network = a->network;
	st.interactive = true;
	oci_layer_opts_init(&lo);
	lo.compression = a->compression;
	runner_result_init(&res);
	rc = runner_step_run(s->runner, &s->rf, &st, dst, &lo, &res, err);
	*status = res.exit_status;
	if (res.committed) {
		cleanup_free char *f =
			xasprintf("\"seconds\":%.3f,\"commit_seconds\":%.3f,\"layer\":\"%s\","
				  "\"size\":%lld",
				  res.seconds_run, res.seconds_commit, res.layer.desc.digest,
				  (long long)res.layer.desc.size);

		pn_progress_event("run", f,
				  "ran in %.2f s; layer %.19s (%lld bytes) written in %.2f s",
				  res.seconds_run, res.layer.desc.digest,
				  (long long)res.layer.desc.size, res.seconds_commit);
	}
	if (rc == 0 && dst)
		rc = commit_image(s, dst, ctag ? ctag : "latest", &st, &res, err);
	runner_result_release(&res);
	oci_layout_free(dst);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a;
	struct run_state s;
	struct pn_error *err = NULL;
	int status = -1, rc;

	if (pn_cli_wants_help(argc, argv)) {
		struct cli_cmd cmd;
		struct cli_table t[2];

		run_cmd(&cmd, t, &a);
		cli_help(&cmd, stdout);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	a.compression = OCI_COMP_GZIP;
	/* zeroed: oci_image_load() fills it without releasing (no init first) */
	runner_rootfs_init(&s.rf);
	if (cli_registry_opts_init(&a.ro, &err) < 0 || parse_args(&a, argc, argv, &err) < 0) {
		run_args_release(&a);
		oci_image_release(&s.img);
		rc = pn_error_exit_status(err);
		pn_error_print(err);
		pn_error_free(err);
		return rc == 2 ? pn_cli_usage("run", "see `pinion run --help`") : rc;
	}
	rc = run_main(&a, &s, &status, &err) < 0 ? -1 : 0;
	runner_rootfs_release(&s.rf);
	runner_free(s.runner);
	oci_image_release(&s.img);
	oci_location_release(&s.loc);
	if (s.cache)
		build_cache_free(s.cache);
	run_args_release(&a);
	if (rc < 0) {
		/* the command's own status when it ran, else pinion's */
		rc = status > 0 ? status : pn_error_exit_status(err);
		pn_error_print(err);
		pn_error_free(err);
		return rc;
	}
	return status > 0 ? status : 0;
}

PN_COMMAND(run, "run", "run a command in an image in the rootless sandbox", cmd_run);
