/* cmd_inspect.c - `pinion inspect REF`: the image's manifest, config and
 * labels as JSON.  The JSON shape is oci_image_inspect_json()'s, whatever
 * the source, so a registry branch is one call in inspect_ref(). */
#include "common/common.h"
#include "common/cleanup.h"
#include "oci/oci.h"
#include "registry/registry.h"

#include <getopt.h>
#include <string.h>

static void inspect_help(void)
{
	printf("usage: pinion inspect [--platform OS/ARCH] [--raw manifest|config] REF\n\n"
	       "Print an image as JSON: name, digest, mediaType, os, architecture, labels,\n"
	       "layers, size, and the manifest and config documents.  REF is oci:DIR[:TAG]\n"
	       "or oci:DIR@sha256:...; without a tag, the layout's only image.\n\n"
	       "Options:\n"
	       "  --platform OS/ARCH[/VARIANT]  which manifest of a multi-platform index\n"
	       "                                (default linux/amd64)\n"
	       "  --raw manifest|config         print only that document, as stored\n");
}

static int inspect_layout(const char *ref, const char *platform, json_t **out,
			  struct pn_error **err)
{
	cleanup_free char *dir = NULL, *tag = NULL;
	struct oci_layout *l = NULL;
	int rc;

	if (oci_ref_parse_layout(ref, &dir, &tag, err) < 0)
		return -1;
	if (oci_layout_open(dir, 0, &l, err) < 0)
		return -1;
	rc = oci_layout_inspect_json(l, tag, platform, ref, out, err);
	oci_layout_free(l);
	return rc;
}

/* one branch per kind of reference */
static int inspect_ref(const char *ref, const char *platform, json_t **out, struct pn_error **err)
{
	if (strncmp(ref, "oci:", 4) == 0)
		return inspect_layout(ref, platform, out, err);
	return registry_inspect_json(ref, platform, out, err);
}

static int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"platform", required_argument, NULL, 'p'},
		{"raw", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *platform = NULL, *raw = NULL;
	cleanup_json json_t *j = NULL;
	struct pn_error *err = NULL;
	int c;

	if (pn_cli_wants_help(argc, argv)) {
		inspect_help();
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'p')
			platform = optarg;
		else if (c == 'r')
			raw = optarg;
		else
			return pn_cli_usage("inspect", "unknown option or missing value `%s`",
					    argv[optind - 1]);
	}
	if (argc - optind != 1)
		return pn_cli_usage("inspect", "expected one image reference");
	if (raw && strcmp(raw, "manifest") != 0 && strcmp(raw, "config") != 0)
		return pn_cli_usage("inspect", "--raw takes `manifest` or `config`, not `%s`", raw);
	if (inspect_ref(argv[optind], platform, &j, &err) < 0)
		return pn_cli_fail(err);
	if (raw) {
		char *s = json_dumps(json_object_get(j, raw), JSON_COMPACT | JSON_PRESERVE_ORDER);

		printf("%s\n", s ? s : "null");
		free(s);
		return 0;
	}
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("\n");
	return 0;
}

PN_COMMAND(inspect, "inspect", "print an image's manifest, config and labels as JSON", cmd_inspect);
