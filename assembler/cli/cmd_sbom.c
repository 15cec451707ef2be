/* cmd_sbom.c - `pinion sbom IMAGE`: the SPDX SBOM (or with --provenance the
 * in-toto statement) attached to an image as an OCI 1.1 referrer, from a
 * layout or a registry (docs/sbom.md) */
#include "assembler/cli/cli.h"
#include "assembler/sbom.h"
#include "common/cleanup.h"
#include "oci/oci.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define SBOM_DOC_MAX	((size_t)64 << 20) /* bytes of an attached document */
#define SBOM_REG_GROUPS (CLI_REG_CONN | CLI_REG_AUTHFILE | CLI_REG_CREDS | CLI_REG_IMAGE)

static const char sbom_intro[] =
	"usage: pinion sbom [OPTIONS] IMAGE\n\n"
	"Print the SPDX 2.3 JSON SBOM `pinion build` attached to IMAGE as an OCI 1.1\n"
	"referrer (docs/sbom.md).  IMAGE is oci:DIR[:TAG] (a layout; also\n"
	"oci-archive:FILE[:REF]) or a registry reference, whose referrers are\n"
	"read through the referrers API or the fallback tag sha256-<digest>.  The\n"
	"document is printed as stored (its sha256 is the blob digest).\n\n"
	"Options:\n";

struct sbom_args {
	bool provenance;
};

static const struct cli_opt sbom_opts[] = {
	{"provenance", 0, CLI_ARG_NONE, NULL, offsetof(struct sbom_args, provenance), NULL,
	 "print the in-toto provenance statement instead", 0},
};

/* the referrers index of the image `ref` names in the local location */
static int local_doc(const char *ref, const char *platform, const char *type, char **out,
		     size_t *len, struct pn_error **err)
{
	struct oci_location loc;
	struct oci_image img = {0}; /* loaded (or inspected) in place: oci_image_init would leak */
	cleanup_json json_t *ix = NULL;
	const char *d;
	int rc;

	rc = oci_location_open(&loc, ref, 0, NULL, err);
	if (rc == 0)
		rc = oci_image_load(loc.layout, loc.ref, platform, &img, err);
	if (rc == 0)
		rc = oci_layout_referrers(loc.layout, img.desc.digest, &ix, NULL, err);
	if (rc == 0 && !(d = oci_referrers_find(ix, type)))
		rc = pn_error_set(err, PN_ERR_NOT_FOUND, "`%s` has no `%s` referrer", ref, type);
	if (rc == 0)
		rc = oci_artifact_read(loc.layout, d, SBOM_DOC_MAX, out, len, err);
	oci_image_release(&img);
	oci_location_release(&loc);
	return rc;
}

/* the same on a registry: through a temporary layout the artifact is pulled into */
static int remote_doc(const char *ref, const struct registry_opts *o, const char *type, char **out,
		      size_t *len, struct pn_error **err)
{
	struct registry_client *c = NULL;
	struct oci_image img = {0}; /* loaded (or inspected) in place: oci_image_init would leak */
	cleanup_json json_t *ix = NULL;
	cleanup_free char *cache = pn_cache_dir(), *tmp = NULL, *loc = NULL;
	const char *d = NULL;
	int rc;

	rc = registry_client_new(o, &c, err);
	if (rc == 0)
		rc = registry_inspect(c, ref, &img, err);
	if (rc == 0)
		rc = registry_referrers_get(c, ref, img.desc.digest, &ix, err);
	if (rc == 0 && !(d = oci_referrers_find(ix, type)))
		rc = pn_error_set(err, PN_ERR_NOT_FOUND, "`%s` has no `%s` referrer", ref, type);
	if (rc == 0 && pn_mkdir_p(cache, 0755, err) == 0 &&
	    (tmp = pn_mkdtemp_in(cache, "copy-", err))) {
		struct registry_ref r;
		struct oci_layout *l = NULL;
		struct oci_descriptor ad;

		registry_ref_init(&r);
		oci_descriptor_init(&ad);
		rc = registry_ref_parse(ref, &r, err);
		if (rc == 0) {
			free(r.digest);
			r.digest = xstrdup(d);
			loc = registry_ref_format(&r);
			rc = oci_layout_open(tmp, OCI_LAYOUT_CREATE, &l, err);
		}
		if (rc == 0)
			rc = registry_pull(c, loc, l, NULL, &ad, err);
		if (rc == 0)
			rc = oci_artifact_read(l, ad.digest, SBOM_DOC_MAX, out, len, err);
		oci_descriptor_release(&ad);
		oci_layout_free(l);
		registry_ref_release(&r);
		pn_rm_rf(tmp, NULL);
	} else if (rc == 0) {
		rc = -1;
	}
	oci_image_release(&img);
	registry_client_free(c);
	return rc;
}

static int cmd_sbom(int argc, char **argv)
{
	struct registry_opts o;
	struct sbom_args a = {false};
	struct cli_table t[2] = {CLI_TABLE(sbom_opts, &a), CLI_REGISTRY_TABLE(&o)};
	/* a registry's image: its connection, credentials and platform */
	struct cli_cmd cmd = {.name = "sbom",
			      .intro = sbom_intro,
			      .tables = t,
			      .n_tables = 2,
			      .max_args = 1,
			      .groups = SBOM_REG_GROUPS};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	cleanup_free char *doc = NULL;
	struct pn_error *err = NULL;
	const char *type;
	size_t len = 0;
	int rc = 0;

	if (cli_registry_start(&cmd, &o, argc, argv, &args, &rc))
		goto out;
	type = a.provenance ? SBOM_MT_INTOTO : SBOM_MT_SPDX;
	if (args.n == 0)
		rc = pn_cli_usage("sbom", "expected one image");
	else if ((oci_transport_of(args.v[0]) != OCI_TRANSPORT_NONE
			  ? local_doc(args.v[0], o.platform, type, &doc, &len, &err)
			  : remote_doc(args.v[0], &o, type, &doc, &len, &err)) < 0)
		rc = pn_cli_fail(err);
	else if (fwrite(doc, 1, len, stdout) != len) /* the blob as stored: its digest holds */
		rc = 1;
out:
	registry_opts_release(&o);
	return rc;
}

PN_COMMAND(sbom, "sbom", "print the SBOM (or provenance) attached to an image", cmd_sbom);
