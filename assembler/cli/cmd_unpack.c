/* cmd_unpack.c - `pinion unpack IMAGE DEST`: all layers of a local image
 * (oci:, oci-archive:, docker-archive:) applied onto an empty directory with
 * the safe applier. */
#include "assembler/cli/opt.h"
#include "common/common.h"
#include "common/cleanup.h"
#include "oci/oci.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char unpack_intro[] =
	"usage: pinion unpack [OPTIONS] IMAGE DEST\n\n"
	"Apply every layer of an image, in order, onto DEST (created if missing;\n"
	"it must be empty).  Whiteouts are applied; nothing is written outside\n"
	"DEST; device nodes are skipped unless --devices is given as root.  IMAGE\n"
	"is oci:DIR[:TAG], oci-archive:FILE[:REF] or docker-archive:FILE[:REF] (an\n"
	"archive is read into a temporary layout in the cache dir, removed after).\n\n"
	"Options:\n";

struct unpack_args {
	struct oci_apply_opts ao;
	const char *platform;
	bool devices, no_chown;
};

static int set_max_bytes(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	struct unpack_args *a = ctx;
	char *end;

	(void)opt;
	a->ao.max_bytes = strtoull(v, &end, 10);
	if (*end || !a->ao.max_bytes)
		return pn_error_set(err, PN_ERR_INVALID,
				    "--max-bytes: `%s` is not a positive number", v);
	return 0;
}

#define UA(f) offsetof(struct unpack_args, f)
static const struct cli_opt unpack_opts[] = {
	{"platform", 0, CLI_ARG_REQUIRED, NULL, UA(platform), "OS/ARCH[/VARIANT]",
	 "manifest of a multi-platform index", 0},
	{"devices", 0, CLI_ARG_NONE, NULL, UA(devices), NULL, "create device nodes (root only)", 0},
	{"no-chown", 0, CLI_ARG_NONE, NULL, UA(no_chown), NULL,
	 "do not set owners from the layers\n(the default as non-root)", 0},
	{"max-bytes", 0, CLI_ARG_REQUIRED, set_max_bytes, 0, "N",
	 "refuse layers expanding past N bytes\n(default 64 GiB per layer)", 0},
};

static int dest_prepare(const char *dest, struct pn_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (mkdir(dest, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return pn_error_set_errno(err, errno, "create `%s`", dest);
	d = opendir(dest);
	if (!d)
		return pn_error_set_errno(err, errno, "open `%s`", dest);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return pn_error_set(err, PN_ERR_INVALID, "destination `%s` is not empty",
					    dest);
	return 0;
}

static int unpack_run(const char *ref, const char *dest, const char *platform,
		      const struct oci_apply_opts *ao, struct pn_error **err)
{
	struct oci_location loc;
	struct oci_layout *l;
	struct oci_image img;
	int rc = -1;

	if (oci_location_open_image(&loc, ref, NULL, platform, &img, err) < 0)
		return -1;
	l = loc.layout;
	if (img.manifest.n_layers != img.config.n_diff_ids) {
		pn_error_set(err, PN_ERR_INVALID, "image has %zu layers but %zu diff_ids",
			     img.manifest.n_layers, img.config.n_diff_ids);
		goto out;
	}
	if (dest_prepare(dest, err) < 0)
		goto out;
	for (size_t i = 0; i < img.manifest.n_layers; i++) {
		const struct oci_descriptor *d = &img.manifest.layers[i];
		struct oci_apply_opts lo = *ao;

		if (oci_layer_media_compression(d->media_type) < 0) {
			pn_error_set(err, PN_ERR_UNSUPPORTED,
				     "layer %zu has unsupported media type `%s`", i, d->media_type);
			goto out;
		}
		pn_progress_event("unpack", NULL, "layer %zu/%zu %s", i + 1, img.manifest.n_layers,
				  d->digest);
		lo.diff_id = img.config.diff_ids[i];
		if (oci_layer_apply(l, d->digest, dest, &lo, err) < 0)
			goto out;
	}
	rc = 0;
out:
	oci_image_release(&img);
	oci_location_release(&loc);
	return rc;
}

static int cmd_unpack(int argc, char **argv)
{
	struct unpack_args a = {0};
	struct cli_table t[1] = {CLI_TABLE(unpack_opts, &a)};
	struct cli_cmd cmd = {.name = "unpack",
			      .intro = unpack_intro,
			      .tables = t,
			      .n_tables = 1,
			      .flags = CLI_ABBREV};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;

	int rc;

	oci_apply_opts_init(&a.ao);
	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	a.ao.skip_devices = !a.devices;
	a.ao.chown = geteuid() == 0 && !a.no_chown;
	if (args.n != 2)
		return pn_cli_usage("unpack", "expected IMAGE DEST");
	if (unpack_run(args.v[0], args.v[1], a.platform, &a.ao, &err) < 0)
		return pn_cli_fail(err);
	return 0;
}

PN_COMMAND(unpack, "unpack", "apply an image's layers onto a directory", cmd_unpack);
