/* cmd_ls.c - `pinion ls oci:DIR`: the images of a layout (or of an archive,
 * read into a temporary layout) */
#include "assembler/cli/opt.h"
#include "common/common.h"
#include "common/cleanup.h"
#include "oci/oci.h"

#include <string.h>

static const char ls_intro[] =
	"usage: pinion ls [--json] oci:DIR|oci-archive:FILE|docker-archive:FILE[:REF]\n\n"
	"List the images in an OCI layout: name (or <none>), manifest digest, size\n"
	"of the manifest and media type, one per line.  An archive is read into a\n"
	"temporary layout in the cache dir (removed after) and listed as it; a\n"
	"docker-archive as pinion stores it (an OCI manifest per image; REF, a\n"
	"RepoTags name or @N, picks one when it holds several).  The name is the whole\n"
	"org.opencontainers.image.ref.name, as `-t r8.im/me/model:v3` or skopeo's\n"
	"`oci:DIR:r8.im/me/model:v3` stored it; `oci:DIR:v3` finds it too while\n"
	"no other name in the layout has the tag v3.\n\n"
	"Options:\n";

static const struct cli_opt ls_opts[] = {
	{"json", 0, CLI_ARG_NONE, NULL, 0, NULL,
	 "print a JSON array of {name, tag, digest, size, mediaType}\n"
	 "(tag: the name's tag, or the name when it is a bare tag)",
	 0},
};

/* the width of the name column: the longest name, at least 30 */
static int name_width(const struct oci_layout_entry *e, size_t n)
{
	size_t w = 30;

	for (size_t i = 0; i < n; i++)
		if (e[i].tag && strlen(e[i].tag) > w)
			w = strlen(e[i].tag);
	return (int)(w < 200 ? w : 200);
}

static void print_entries(const struct oci_layout_entry *e, size_t n, bool as_json)
{
	cleanup_json json_t *a = json_array();
	int width = name_width(e, n);

	for (size_t i = 0; i < n; i++) {
		const char *tag = e[i].tag ? oci_ref_tag_of(e[i].tag) : NULL;

		if (!as_json) {
			printf("%-*s %s %8lld %s\n", width, e[i].tag ? e[i].tag : "<none>",
			       e[i].desc.digest, (long long)e[i].desc.size, e[i].desc.media_type);
			continue;
		}
		json_array_append_new(a,
				      json_pack("{s:s?,s:s?,s:s,s:I,s:s}", "name", e[i].tag, "tag",
						tag ? tag : e[i].tag, "digest", e[i].desc.digest,
						"size", (json_int_t)e[i].desc.size, "mediaType",
						e[i].desc.media_type));
	}
	if (as_json) {
		json_dumpf(a, stdout, JSON_INDENT(2));
		printf("\n");
	}
}

/* the entries of the layout (or archive) s names, without a tag; a
 * docker-archive may name its image (NAME or @N) when it holds several */
static int ls_open(const char *s, struct oci_location *loc, struct oci_layout_entry **e, size_t *n,
		   struct pn_error **err)
{
	enum oci_transport t;
	cleanup_free char *path = NULL, *ref = NULL;

	oci_location_init(loc);
	if (oci_location_parse(s, &t, &path, &ref, err) < 0)
		return -1;
	if (ref && t != OCI_TRANSPORT_DOCKER_ARCHIVE)
		return pn_error_set(err, PN_ERR_INVALID, "`%s`: ls takes a layout without a tag",
				    s);
	if (oci_location_open(loc, s, 0, NULL, err) < 0 ||
	    oci_layout_list(loc->layout, e, n, err) < 0)
		return -1;
	return 0;
}

static int cmd_ls(int argc, char **argv)
{
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct oci_location loc;
	struct oci_layout_entry *e = NULL;
	struct pn_error *err = NULL;
	bool as_json = false;
	struct cli_table t[1] = {CLI_TABLE(ls_opts, &as_json)};
	struct cli_cmd cmd = {
		.name = "ls", .intro = ls_intro, .tables = t, .n_tables = 1, .max_args = 1};
	size_t n = 0;
	int rc;

	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	if (!args.n)
		return pn_cli_usage("ls", "expected oci:DIR or an archive");
	if (ls_open(args.v[0], &loc, &e, &n, &err) < 0) {
		oci_location_release(&loc);
		return pn_cli_fail(err);
	}
	print_entries(e, n, as_json);
	oci_layout_entries_free(e, n);
	oci_location_release(&loc);
	return 0;
}

PN_COMMAND(ls, "ls", "list the images in an OCI layout or archive", cmd_ls);
