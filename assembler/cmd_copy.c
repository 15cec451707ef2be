/* cmd_copy.c - `pinion copy SRC DST` between registries and OCI layouts */
#include "common/common.h"
#include "registry/registry.h"

#include <string.h>

static void copy_help(void)
{
	printf("usage: pinion copy [OPTIONS] SRC DST\n\n"
	       "Copy an image between any two locations.  A location is an OCI layout\n"
	       "`oci:DIR[:TAG]` (or `oci:DIR@sha256:...`) or a registry reference\n"
	       "(`REF` or `docker://REF`).  Blobs the destination has are skipped; on the\n"
	       "same registry they are mounted.  Prints the manifest digest.\n\nOptions:\n%s",
	       registry_opts_flags_help);
}

static int cmd_copy(int argc, char **argv)
{
	struct registry_opts o;
	struct pn_strv rest = PN_STRV_INIT;
	struct pn_error *err = NULL;
	struct registry_client *c = NULL;
	struct oci_descriptor d;
	int rc = 0;

	if (pn_cli_wants_help(argc, argv)) {
		copy_help();
		return 0;
	}
	registry_opts_init(&o);
	oci_descriptor_init(&d);
	if (registry_opts_from_args(&o, argc, argv, &rest, &err) < 0) {
		rc = pn_cli_fail(err);
		goto out;
	}
	if (rest.n != 2) {
		rc = pn_cli_usage("copy", "expected SRC DST");
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

PN_COMMAND(copy, "copy", "copy an image between registries and OCI layouts", cmd_copy);
