/* cmd_import.c - `pinion import ROOTFS oci:DIR[:TAG]`: a one-layer image
 * from a directory or a tar (plain, gzip or zstd), stored in an OCI layout. */
#include "assembler/cli/opt.h"
#include "common/common.h"
#include "common/cleanup.h"
#include "oci/oci.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char import_intro[] =
	"usage: pinion import [OPTIONS] ROOTFS oci:DIR[:TAG]\n\n"
	"Make a one-layer image from ROOTFS (a directory, or a tar file that may be\n"
	"gzip or zstd compressed) and store it in the OCI layout DIR (created if\n"
	"missing) under TAG (default `latest`).  Prints the manifest digest.\n"
	"The layer is reproducible: entries sorted, mtimes clamped to\n"
	"SOURCE_DATE_EPOCH (0 when unset).\n\n"
	"Options:\n";

struct import_args {
	struct oci_config config;
	struct oci_layer_opts lo;
	const char *rootfs, *target;
	char *rootfs_owned, *target_owned;
};

/* a JSON array of strings, or words split on spaces */
static int parse_argv_opt(const char *opt, const char *s, struct pn_strv *out,
			  struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	size_t i;
	json_t *it;

	pn_strv_release(out);
	if (s[0] != '[') {
		while (*s) {
			size_t n;

			s += strspn(s, " \t");
			n = strcspn(s, " \t");
			if (n)
				pn_strv_push_owned(out, xstrndup(s, n));
			s += n;
		}
		return 0;
	}
	j = json_loads(s, 0, NULL);
	if (!json_is_array(j))
		return pn_error_set(err, PN_ERR_INVALID, "%s: `%s` is not a JSON array of strings",
				    opt, s);
	json_array_foreach(j, i, it)
	{
		if (!json_is_string(it))
			return pn_error_set(err, PN_ERR_INVALID, "%s: element %zu is not a string",
					    opt, i);
		pn_strv_push(out, json_string_value(it));
	}
	return 0;
}

static int parse_kv(const char *opt, const char *s, char **k, const char **v, struct pn_error **err)
{
	const char *eq = strchr(s, '=');

	if (!eq || eq == s)
		return pn_error_set(err, PN_ERR_INVALID, "%s: expected KEY=VALUE, got `%s`", opt,
				    s);
	*k = xstrndup(s, (size_t)(eq - s));
	*v = eq + 1;
	return 0;
}

static int set_env(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	struct import_args *ia = ctx;
	cleanup_free char *k = NULL;
	const char *val;

	(void)opt;
	if (parse_kv("--env", v, &k, &val, err) < 0)
		return -1;
	oci_config_set_env(&ia->config, k, val);
	return 0;
}

static int set_label(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	struct import_args *ia = ctx;
	cleanup_free char *k = NULL;
	const char *val;

	(void)opt;
	if (parse_kv("--label", v, &k, &val, err) < 0)
		return -1;
	oci_config_set_label(&ia->config, k, val);
	return 0;
}

static int set_entrypoint(void *ctx, const struct cli_opt *opt, const char *v,
			  struct pn_error **err)
{
	struct import_args *ia = ctx;

	(void)opt;
	ia->config.entrypoint_null = false;
	return parse_argv_opt("--entrypoint", v, &ia->config.entrypoint, err);
}

static int set_cmd(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt;
	return parse_argv_opt("--cmd", v, &((struct import_args *)ctx)->config.cmd, err);
}

/* a config string: --workdir, --user, --arch */
static int set_string(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	char **slot = (char **)((char *)ctx + opt->off);

	(void)err;
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

static int set_compression(void *ctx, const struct cli_opt *opt, const char *v,
			   struct pn_error **err)
{
	(void)opt;
	return oci_compression_parse(v, &((struct import_args *)ctx)->lo.compression, err);
}

#define IA(f) offsetof(struct import_args, f)
#define REQ   CLI_ARG_REQUIRED
static const struct cli_opt import_opts[] = {
	{"env", 0, REQ, set_env, 0, "NAME=VALUE", "set an environment variable (repeatable)", 0},
	{"entrypoint", 0, REQ, set_entrypoint, 0, "ARGS",
	 "entrypoint: a JSON array or words split on spaces", 0},
	{"cmd", 0, REQ, set_cmd, 0, "ARGS", "default command, same forms as --entrypoint", 0},
	{"workdir", 0, REQ, set_string, IA(config.working_dir), "DIR", "working directory", 0},
	{"user", 0, REQ, set_string, IA(config.user), "USER", "user to run as", 0},
	{"label", 0, REQ, set_label, 0, "KEY=VALUE", "set a label (repeatable)", 0},
	{"arch", 0, REQ, set_string, IA(config.architecture), "ARCH",
	 "architecture (default amd64)", 0},
	{"compression", 0, REQ, set_compression, 0, "C", "gzip (default), zstd or none", 0},
	{"normalize-owner", 0, CLI_ARG_NONE, NULL, IA(lo.normalize_owner), NULL,
	 "store every file as 0:0", 0},
};

static void import_cmd(struct cli_cmd *cmd, struct cli_table *t, struct import_args *ia)
{
	*t = (struct cli_table)CLI_TABLE(import_opts, ia);
	memset(cmd, 0, sizeof(*cmd));
	cmd->name = "import";
	cmd->intro = import_intro;
	cmd->tables = t;
	cmd->n_tables = 1;
	cmd->flags = CLI_ABBREV;
}

static int import_parse(struct import_args *ia, int argc, char **argv, struct pn_error **err)
{
	struct cli_cmd cmd;
	struct cli_table t;
	cleanup_strv struct pn_strv args = PN_STRV_INIT;

	import_cmd(&cmd, &t, ia);
	if (cli_parse(&cmd, argc, argv, &args, err) < 0)
		return -1;
	if (args.n != 2)
		return pn_error_set(err, PN_ERR_INVALID, "expected ROOTFS oci:DIR[:TAG]");
	ia->rootfs = ia->rootfs_owned = xstrdup(args.v[0]);
	ia->target = ia->target_owned = xstrdup(args.v[1]);
	return 0;
}

static int add_rootfs(struct oci_layer_writer *w, const char *rootfs, struct pn_error **err)
{
	struct stat st;
	cleanup_close int fd = -1;

	if (stat(rootfs, &st) < 0)
		return pn_error_set_errno(err, errno, "rootfs `%s`", rootfs);
	if (S_ISDIR(st.st_mode))
		return oci_layer_writer_add_tree(w, rootfs, "", err);
	fd = open(rootfs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", rootfs);
	if (oci_layer_writer_add_tar(w, fd, err) < 0)
		return pn_error_wrap(err, "rootfs `%s`", rootfs);
	return 0;
}

static int import_run(struct import_args *ia, struct oci_descriptor *out, struct pn_error **err)
{
	cleanup_free char *dir = NULL, *tag = NULL, *created_by = NULL;
	struct oci_layout *l = NULL;
	struct oci_layer_writer *w = NULL;
	struct oci_layer_result r;
	struct oci_image img;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (oci_ref_parse_layout(ia->target, &dir, &tag, err) < 0)
		return -1;
	if (tag && strncmp(tag, "sha256:", 7) == 0)
		return pn_error_set(err, PN_ERR_INVALID, "`%s`: import needs a tag, not a digest",
				    ia->target);
	if (oci_layout_open(dir, OCI_LAYOUT_CREATE, &l, err) < 0)
		return -1;
	w = oci_layer_writer_new(l, &ia->lo, err);
	if (!w || add_rootfs(w, ia->rootfs, err) < 0 || oci_layer_writer_finish(w, &r, err) < 0)
		goto out;
	oci_image_init(&img);
	oci_config_release(&img.config);
	img.config = ia->config;
	memset(&ia->config, 0, sizeof(ia->config));
	img.config.created = pn_rfc3339(pn_source_date_epoch((int64_t)time(NULL)));
	created_by = xasprintf("pinion import %s", ia->rootfs);
	oci_config_add_layer(&img.config, r.diff_id, created_by);
	oci_manifest_add_layer(&img.manifest, &r.desc);
	rc = oci_image_store(l, &img, tag ? tag : "latest", out, err);
	oci_image_release(&img);
out:
	oci_layer_result_release(&r);
	oci_layer_writer_free(w);
	oci_layout_free(l);
	return rc;
}

static void import_args_release(struct import_args *ia)
{
	oci_config_release(&ia->config);
	free(ia->rootfs_owned);
	free(ia->target_owned);
}

static int cmd_import(int argc, char **argv)
{
	struct import_args ia;
	struct oci_descriptor d;
	struct pn_error *err = NULL;
	int rc;

	memset(&ia, 0, sizeof(ia));
	if (pn_cli_wants_help(argc, argv)) {
		struct cli_cmd cmd;
		struct cli_table t;

		import_cmd(&cmd, &t, &ia);
		cli_help(&cmd, stdout);
		return 0;
	}
	oci_config_init(&ia.config);
	pn_strv_push(&ia.config.env, DEFAULT_PATH);
	oci_layer_opts_init(&ia.lo);
	oci_descriptor_init(&d);
	if (import_parse(&ia, argc, argv, &err) < 0) {
		import_args_release(&ia);
		pn_cli_usage("import", "%s", err->msg);
		pn_error_free(err);
		return 2;
	}
	rc = import_run(&ia, &d, &err);
	import_args_release(&ia);
	if (rc < 0)
		return pn_cli_fail(err);
	printf("%s\n", d.digest);
	oci_descriptor_release(&d);
	return 0;
}

PN_COMMAND(import, "import", "make a one-layer image from a rootfs directory or tar", cmd_import);
