/* cmd_inspect.c - `pinion inspect REF`: the image's manifest, config and
 * labels as JSON.  The JSON shape is oci_image_inspect_json()'s, whatever
 * the source, so a registry branch is one call in inspect_ref(). */
#include "assembler/cli/cli.h"
#include "common/cleanup.h"
#include "oci/oci.h"

#include <stdlib.h>
#include <string.h>

static const char inspect_intro[] =
	"usage: pinion inspect [OPTIONS] REF\n\n"
	"Print an image as JSON: name, digest, mediaType, os, architecture, labels,\n"
	"layers, size, and the manifest and config documents.  REF is oci:DIR[:TAG],\n"
	"oci:DIR@sha256:... (without a tag, the layout's only image),\n"
	"oci-archive:FILE[:REF], docker-archive:FILE[:NAME|:@N], or a registry\n"
	"reference, read without pulling layers.\n\n"
	"Options:\n";

static const struct cli_opt inspect_opts[] = {
	{"raw", 0, CLI_ARG_REQUIRED, NULL, 0, "manifest|config",
	 "print only that document, as stored", 0},
};

static int inspect_layout(const char *ref, const char *platform, json_t **out,
			  struct pn_error **err)
{
	return oci_location_inspect_json(ref, platform, out, err);
}

/* one branch per kind of reference; a registry gets the flags' client */
static int inspect_ref(const char *ref, const struct registry_opts *o, json_t **out,
		       struct pn_error **err)
{
	struct registry_client *c = NULL;
	int rc;

	if (oci_transport_of(ref) != OCI_TRANSPORT_NONE)
		return inspect_layout(ref, o->platform, out, err);
	if (registry_client_new(o, &c, err) < 0)
		return -1;
	rc = registry_inspect_json_with(c, ref, out, err);
	registry_client_free(c);
	return rc;
}

static int inspect_print(json_t *j, const char *raw)
{
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

static int cmd_inspect(int argc, char **argv)
{
	struct registry_opts o;
	const char *raw = NULL;
	struct cli_table t[2] = {CLI_TABLE(inspect_opts, &raw), CLI_REGISTRY_TABLE(&o)};
	struct cli_cmd cmd = {.name = "inspect",
			      .intro = inspect_intro,
			      .tables = t,
			      .n_tables = 2,
			      .groups = CLI_REG_CONN | CLI_REG_AUTHFILE | CLI_REG_CREDS |
					CLI_REG_IMAGE,
			      .max_args = 1};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	cleanup_json json_t *j = NULL;
	struct pn_error *err = NULL;
	int rc = 0;

	if (cli_registry_start(&cmd, &o, argc, argv, &args, &rc))
		goto out;
	if (args.n == 0)
		rc = pn_cli_usage("inspect", "expected one image reference");
	else if (raw && strcmp(raw, "manifest") != 0 && strcmp(raw, "config") != 0)
		rc = pn_cli_usage("inspect", "--raw takes `manifest` or `config`, not `%s`", raw);
	else if (inspect_ref(args.v[0], &o, &j, &err) < 0)
		rc = pn_cli_fail(err);
	else
		rc = inspect_print(j, raw);
out:
	registry_opts_release(&o);
	return rc;
}

PN_COMMAND(inspect, "inspect", "print an image's manifest, config and labels as JSON", cmd_inspect);
