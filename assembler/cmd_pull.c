/* cmd_pull.c - `pinion pull REF oci:DIR[:TAG]` */
#include "common/common.h"
#include "registry/registry.h"

#include <string.h>

static void pull_help(void)
{
	printf("usage: pinion pull [OPTIONS] REF oci:DIR[:TAG]\n\n"
	       "Pull an image from a registry into an OCI layout directory (created if\n"
	       "missing).  REF is a reference as docker writes it (python:3.11-slim,\n"
	       "ghcr.io/o/r:tag, host:5000/r@sha256:...).  Without :TAG the image is\n"
	       "tagged with REF's tag.  Prints the manifest digest.\n\nOptions:\n%s",
	       registry_opts_flags_help);
}

static int cmd_pull(int argc, char **argv)
{
	struct registry_opts o;
	struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	struct registry_client *c = NULL;
	struct oci_descriptor d;
	int rc = 0;

	if (pn_cli_wants_help(argc, argv)) {
		pull_help();
		return 0;
	}
	registry_opts_init(&o);
	oci_descriptor_init(&d);
	if (registry_opts_from_args(&o, argc, argv, &rest, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (rest.n != 2 || !registry_location_is_layout(rest.v[1])) {
		rc = pn_cli_usage("pull", "expected REF oci:DIR[:TAG]");
		goto out;
	}
	if (registry_client_new(&o, &c, &err) < 0 ||
	    registry_copy(c, rest.v[0], rest.v[1], &d, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	printf("%s\n", d.digest);
out:
	oci_descriptor_release(&d);
	registry_client_free(c);
	registry_opts_release(&o);
	pn_strv_release(&rest);
	return rc;
}

PN_COMMAND(pull, "pull", "pull an image from a registry into an OCI layout", cmd_pull);
