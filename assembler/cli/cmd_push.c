/* cmd_push.c - `pinion push [NAME]` (build, then push) and
 * `pinion push oci:DIR[:TAG] REF` (copy a layout image to a registry). */
#include "assembler/cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char push_intro[] =
	"usage: pinion push [NAME] [BUILD OPTIONS]\n"
	"       pinion push oci:DIR[:TAG] REF [REGISTRY OPTIONS]\n"
	"\n"
	"The first form builds the model in the current directory (as `pinion build`)\n"
	"and pushes it to NAME (default: -t, else `image` in cog.yaml); only blobs\n"
	"the registry lacks are sent.  The second copies an image from an OCI layout\n"
	"(or an oci-archive: or docker-archive: file) to a registry.  See\n"
	"`pinion build --help` for the build options.\n"
	"\n"
	"Registry options:\n";

static const struct cli_opt copy_opts[] = {
	{"progress", 0, CLI_ARG_REQUIRED, cli_set_progress, 0, "MODE",
	 "auto, tty, plain, quiet or json (one event a line)", 0},
};

/* the copy form: registry options and --progress */
static void push_cmd(struct cli_cmd *cmd, struct cli_table t[2], struct registry_opts *ro)
{
	t[0] = (struct cli_table)CLI_TABLE(copy_opts, NULL);
	t[1] = (struct cli_table)CLI_REGISTRY_TABLE(ro);
	memset(cmd, 0, sizeof(*cmd));
	cmd->name = "push";
	cmd->intro = push_intro;
	cmd->tables = t;
	cmd->n_tables = 2;
	cmd->groups = CLI_REG_ALL;
}

static int push_copy(int argc, char **argv)
{
	struct registry_opts ro;
	struct registry_client *c = NULL;
	struct cli_cmd cmd;
	struct cli_table t[2];
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct oci_descriptor d;
	struct pn_error *err = NULL;
	int rc = 0;

	push_cmd(&cmd, t, &ro);
	oci_descriptor_init(&d);
	if (cli_registry_start(&cmd, &ro, argc, argv, &args, &rc))
		goto out;
	if (args.n != 2)
		rc = pn_cli_usage("push", "expected oci:DIR[:TAG] REF");
	if (rc == 0 && (registry_client_new(&ro, &c, &err) < 0 ||
			registry_copy(c, args.v[0], args.v[1], &d, &err) < 0)) {
		pn_error_wrap(&err, "push `%s` to `%s`", args.v[0], args.v[1]);
		rc = pn_cli_fail(err);
	}
	if (rc == 0)
		printf("%s@%s\n", args.v[1], d.digest);
out:
	oci_descriptor_release(&d);
	registry_client_free(c);
	registry_opts_release(&ro);
	return rc;
}

static int cmd_push(int argc, char **argv)
{
	cleanup_strv struct pn_strv args = PN_STRV_INIT;

	if (pn_cli_wants_help(argc, argv)) {
		struct registry_opts ro;
		struct cli_cmd cmd;
		struct cli_table t[2];

		push_cmd(&cmd, t, &ro);
		cli_help(&cmd, stdout);
		return 0;
	}
	/* which form: the arguments as the build options read them */
	build_cli_scan(argc, argv, &args);
	if (args.n > 2)
		return pn_cli_usage("push", "unexpected argument `%s`", args.v[2]);
	if (args.n < 2)
		return build_cli_main(argc, argv, true);
	if (!registry_location_is_layout(args.v[0]))
		return pn_cli_usage("push", "the source of a copy must be oci:DIR[:TAG], "
					    "oci-archive:FILE[:REF] or docker-archive:FILE[:REF]");
	return push_copy(argc, argv);
}

PN_COMMAND(push, "push", "build a Cog model and push it, or push a layout image", cmd_push);
