/* cmd_copy.c - `pinion copy SRC DST` between registries and OCI layouts, and
 * `pinion pull REF oci:DIR[:TAG]`, its registry-to-layout form */
#include "assembler/cli/cli.h"

#include <stddef.h>
#include <string.h>

static const char copy_intro[] =
	"usage: pinion copy [OPTIONS] SRC DST\n\n"
	"Copy an image between any two locations.  A location is an OCI layout\n"
	"`oci:DIR[:TAG]` (or `oci:DIR@sha256:...`), an archive file\n"
	"`oci-archive:FILE[:REF]` or `docker-archive:FILE[:REF]` (what docker load\n"
	"reads), or a registry reference\n"
	"(`REF` or `docker://REF`).  Blobs the destination has are skipped; on the\n"
	"same registry they are mounted.  The image's referrers (its SBOM and\n"
	"provenance, docs/sbom.md) go along.  Prints the manifest digest.\n\nOptions:\n";

static const struct cli_opt copy_opts[] = {
	{"no-referrers", 0, CLI_ARG_NONE, NULL, offsetof(struct registry_opts, no_referrers), NULL,
	 "leave the image's referrers (SBOM, provenance) behind", 0},
};

static const char pull_intro[] =
	"usage: pinion pull [OPTIONS] REF oci:DIR[:TAG]\n\n"
	"Pull an image from a registry into an OCI layout directory (created if\n"
	"missing), or into an oci-archive:FILE or docker-archive:FILE.  REF is a\n"
	"reference as docker writes it (python:3.11-slim, ghcr.io/o/r:tag,\n"
	"host:5000/r@sha256:...).  Without :TAG the image is named by the whole\n"
	"reference (oci:DIR:host:5000/r:v1), and oci:DIR:v1 finds it by its tag.\n"
	"Prints the manifest digest.\n\nOptions:\n";

/* the registry options, then SRC DST; a pull's DST must be a layout */
static int transfer_main(int argc, char **argv, bool pull)
{
	struct registry_opts o;
	struct cli_table t[2] = {CLI_REGISTRY_TABLE(&o), CLI_TABLE(copy_opts, &o)};
	struct cli_cmd cmd = {.name = pull ? "pull" : "copy",
			      .intro = pull ? pull_intro : copy_intro,
			      .tables = t,
			      .n_tables = pull ? 1 : 2,
			      .groups = pull ? CLI_REG_PULL : CLI_REG_ALL};
	cleanup_strv struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	struct registry_client *c = NULL;
	struct oci_descriptor d;
	int rc = 0;

	oci_descriptor_init(&d);
	if (cli_registry_start(&cmd, &o, argc, argv, &rest, &rc))
		goto out;
	if (pull)
		o.no_referrers = true; /* an image alone, as `docker pull` */
	if (rest.n != 2 || (pull && !registry_location_is_layout(rest.v[1])))
		rc = pn_cli_usage(cmd.name,
				  pull ? "expected REF oci:DIR[:TAG]" : "expected SRC DST");
	else if (registry_client_new(&o, &c, &err) < 0 ||
		 registry_copy(c, rest.v[0], rest.v[1], &d, &err) < 0)
		rc = pn_cli_fail(err);
	else
		printf("%s\n", d.digest);
out:
	oci_descriptor_release(&d);
	registry_client_free(c);
	registry_opts_release(&o);
	return rc;
}

static int cmd_copy(int argc, char **argv)
{
	return transfer_main(argc, argv, false);
}

static int cmd_pull(int argc, char **argv)
{
	return transfer_main(argc, argv, true);
}

PN_COMMAND(copy, "copy", "copy an image between registries and OCI layouts", cmd_copy);
PN_COMMAND(pull, "pull", "pull an image from a registry into an OCI layout", cmd_pull);
