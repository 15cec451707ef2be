/* cmd_unpack.c - `pinion unpack oci:DIR[:TAG] DEST`: all layers of an image
 * applied onto an empty directory with the safe applier. */
#include "common/common.h"
#include "common/cleanup.h"
#include "oci/oci.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void unpack_help(void)
{
	printf("usage: pinion unpack [OPTIONS] oci:DIR[:TAG] DEST\n\n"
	       "Apply every layer of an image, in order, onto DEST (created if missing;\n"
	       "it must be empty).  Whiteouts are applied; nothing is written outside\n"
	       "DEST; device nodes are skipped unless --devices is given as root.\n\n"
	       "Options:\n"
	       "  --platform OS/ARCH[/VARIANT]  manifest of a multi-platform index\n"
	       "  --devices                     create device nodes (root only)\n"
	       "  --no-chown                    do not set owners from the layers\n"
	       "                                (the default as non-root)\n"
	       "  --max-bytes N                 refuse layers expanding past N bytes\n"
	       "                                (default 64 GiB per layer)\n");
}

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
	cleanup_free char *dir = NULL, *tag = NULL;
	struct oci_layout *l = NULL;
	struct oci_image img;
	int rc = -1;

	oci_image_init(&img);
	if (oci_ref_parse_layout(ref, &dir, &tag, err) < 0 || oci_layout_open(dir, 0, &l, err) < 0)
		goto out;
	oci_image_release(&img);
	if (oci_image_load(l, tag, platform, &img, err) < 0)
		goto out;
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
	oci_layout_free(l);
	return rc;
}

static int cmd_unpack(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"platform", required_argument, NULL, 'p'},
		{"devices", no_argument, NULL, 'd'},
		{"no-chown", no_argument, NULL, 'n'},
		{"max-bytes", required_argument, NULL, 'm'},
		{NULL, 0, NULL, 0},
	};
	struct oci_apply_opts ao;
	const char *platform = NULL;
	struct pn_error *err = NULL;
	char *end;
	int c;

	if (pn_cli_wants_help(argc, argv)) {
		unpack_help();
		return 0;
	}
	oci_apply_opts_init(&ao);
	ao.skip_devices = true;
	ao.chown = geteuid() == 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'p') {
			platform = optarg;
		} else if (c == 'd') {
			ao.skip_devices = false;
		} else if (c == 'n') {
			ao.chown = false;
		} else if (c == 'm') {
			ao.max_bytes = strtoull(optarg, &end, 10);
			if (*end || !ao.max_bytes)
				return pn_cli_usage("unpack",
						    "--max-bytes: `%s` is not a positive number",
						    optarg);
		} else {
			return pn_cli_usage("unpack", "unknown option or missing value `%s`",
					    argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return pn_cli_usage("unpack", "expected oci:DIR[:TAG] DEST");
	if (unpack_run(argv[optind], argv[optind + 1], platform, &ao, &err) < 0)
		return pn_cli_fail(err);
	return 0;
}

PN_COMMAND(unpack, "unpack", "apply an image's layers onto a directory", cmd_unpack);
