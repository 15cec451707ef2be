/* diff.c - the overlay upper dir -> an OCI layer (through oci/'s writer) */
#include "runner/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define DIFF_DEPTH_MAX 256

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

struct diff_walk {
	struct oci_layer_writer *w;
	const struct runner_plan *plan;
	size_t entries;
};

static int walk_dir(struct diff_walk *dw, const char *host, const char *rel, int depth,
		    struct pn_error **err);

/* the writer (overlay_upper) turns a 0:0 character device into a whiteout
 * and an opaque directory into the directory plus its .wh..wh..opq */
static int walk_entry(struct diff_walk *dw, const char *host, const char *rel, int depth,
		      struct pn_error **err)
{
	struct stat st;

	if (dw->plan && runner_plan_excluded(dw->plan, rel))
		return 0;
	if (lstat(host, &st) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", host);
	dw->entries++;
	if (oci_layer_writer_add_path(dw->w, host, rel, err) < 0)
		return -1;
	if (runner_diff_classify(&st, false) == RUNNER_DIFF_ENTRY && S_ISDIR(st.st_mode))
		return walk_dir(dw, host, rel, depth + 1, err);
	return 0;
}

static int walk_dir(struct diff_walk *dw, const char *host, const char *rel, int depth,
		    struct pn_error **err)
{
	struct dirent **names = NULL;
	int n, rc = 0;

	if (depth > DIFF_DEPTH_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "directories nested deeper than %d at `%s`", DIFF_DEPTH_MAX,
				    rel);
	n = scandir(host, &names, NULL, name_cmp);
	if (n < 0)
		return pn_error_set_errno(err, errno, "read directory `%s`", host);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;

		if (rc == 0 && strcmp(nm, ".") && strcmp(nm, "..")) {
			cleanup_free char *h = pn_path_join(host, nm);
			cleanup_free char *r = *rel ? xasprintf("%s/%s", rel, nm) : xstrdup(nm);

			rc = walk_entry(dw, h, r, depth, err);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int runner_diff_write(const char *upper, const struct runner_plan *plan, struct oci_layout *out,
		      const struct oci_layer_opts *lopts, struct oci_layer_result *res,
		      struct pn_error **err)
{
	struct oci_layer_opts o;
	struct diff_walk dw = {NULL, plan, 0};
	int rc;

	if (lopts)
		o = *lopts;
	else
		oci_layer_opts_init(&o);
	o.overlay_upper = true;
	dw.w = oci_layer_writer_new(out, &o, err);
	if (!dw.w)
		return pn_error_wrap(err, "write layer");
	rc = walk_dir(&dw, upper, "", 0, err);
	if (rc == 0)
		rc = oci_layer_writer_finish(dw.w, res, err);
	oci_layer_writer_free(dw.w);
	if (rc < 0)
		return pn_error_wrap(err, "write layer from `%s`", upper);
	return 0;
}
