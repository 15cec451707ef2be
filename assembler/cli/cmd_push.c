/* cmd_push.c - `pinion push [NAME]` (build, then push) and
 * `pinion push oci:DIR[:TAG] REF` (copy a layout image to a registry). */
#include "assembler/build.h"

#include <stdlib.h>
#include <string.h>

static const char push_help[] =
	"usage: pinion push [NAME] [BUILD OPTIONS]\n"
	"       pinion push oci:DIR[:TAG] REF [REGISTRY OPTIONS]\n"
	"\n"
	"The first form builds the model in the current directory (as `pinion build`)\n"
	"and pushes it to NAME (default: -t, else `image` in cog.yaml); only blobs\n"
	"the registry lacks are sent.  The second copies an image from an OCI layout\n"
	"to a registry.  See `pinion build --help` for the build options.\n"
	"%s";

static const char *const value_opts[] = {
	"-f",
	"--file",
	"-t",
	"--tag",
	"-o",
	"--output",
	"--openapi-schema",
	"--cache-dir",
	"--timestamp",
	"--network",
	"--compression",
	"--progress",
	"--secret",
};

static bool takes_value(const char *a)
{
	for (size_t i = 0; i < sizeof(value_opts) / sizeof(value_opts[0]); i++)
		if (strcmp(a, value_opts[i]) == 0)
			return true;
	return registry_opts_flag_takes_value(a);
}

static int push_copy(int argc, char **argv, const char *src, const char *dst)
{
	struct registry_opts ro;
	struct registry_client *c = NULL;
	struct oci_descriptor d;
	struct pn_error *err = NULL;
	int rc = 0;

	registry_opts_init(&ro);
	if (registry_opts_load_config(&ro, NULL, &err) < 0)
		rc = pn_cli_fail(err);
	for (int i = 1; i < argc && rc == 0; i++) {
		int r;

		if (argv[i] == src || argv[i] == dst)
			continue;
		r = registry_opts_parse_flag(&ro, argc, argv, &i, &err);
		if (r < 0)
			rc = pn_cli_fail(err);
		else if (r == 0 && strcmp(argv[i], "--progress") == 0 && i + 1 < argc) {
			enum pn_progress p;

			if (pn_log_parse_progress(argv[++i], &p) < 0)
				rc = pn_cli_usage("push", "unknown progress mode `%s`", argv[i]);
			else
				pn_log_set_progress(p);
		} else if (r == 0)
			rc = pn_cli_usage("push", "unexpected argument `%s`", argv[i]);
	}
	oci_descriptor_init(&d);
	if (rc == 0 &&
	    (registry_client_new(&ro, &c, &err) < 0 || registry_copy(c, src, dst, &d, &err) < 0)) {
		pn_error_wrap(&err, "push `%s` to `%s`", src, dst);
		rc = pn_cli_fail(err);
	}
	if (rc == 0)
		printf("%s@%s\n", dst, d.digest);
	oci_descriptor_release(&d);
	registry_client_free(c);
	registry_opts_release(&ro);
	return rc;
}

static int cmd_push(int argc, char **argv)
{
	char *pos[2] = {NULL, NULL};
	int n_pos = 0, rc;
	char **nargv;
	int nargc = 0;

	if (pn_cli_wants_help(argc, argv)) {
		printf(push_help, registry_opts_flags_help);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			if (takes_value(argv[i]))
				i++;
			continue;
		}
		if (n_pos >= 2)
			return pn_cli_usage("push", "unexpected argument `%s`", argv[i]);
		pos[n_pos++] = argv[i];
	}
	if (n_pos == 2) {
		if (strncmp(pos[0], "oci:", 4) != 0)
			return pn_cli_usage("push", "the source of a copy must be oci:DIR[:TAG]");
		return push_copy(argc, argv, pos[0], pos[1]);
	}
	/* build and push: NAME becomes the push target */
	nargv = xcalloc((size_t)argc + 3, sizeof(char *));
	for (int i = 0; i < argc; i++)
		if (argv[i] != pos[0])
			nargv[nargc++] = argv[i];
	if (pos[0]) {
		nargv[nargc++] = (char *)"--tag";
		nargv[nargc++] = pos[0];
	}
	rc = build_cli_main(nargc, nargv, true);
	free(nargv);
	return rc;
}

PN_COMMAND(push, "push", "build a Cog model and push it, or push a layout image", cmd_push);
