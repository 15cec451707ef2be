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

static bool is_opaque(const char *host_path)
{
	char v[8];
	ssize_t n = lgetxattr(host_path, "user.overlay.opaque", v, sizeof(v));

	if (n < 0)
		n = lgetxattr(host_path, "trusted.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

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

static int walk_entry(struct diff_walk *dw, const char *host, const char *rel, int depth,
		      struct pn_error **err)
{
	struct stat st;
	bool opaque;

	if (dw->plan && runner_plan_excluded(dw->plan, rel))
		return 0;
	if (lstat(host, &st) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", host);
	opaque = S_ISDIR(st.st_mode) && is_opaque(host);
	dw->entries++;
	switch (runner_diff_classify(&st, opaque)) {
	case RUNNER_DIFF_WHITEOUT:
		return oci_layer_writer_add_whiteout(dw->w, rel, err);
	case RUNNER_DIFF_OPAQUE:
		if (oci_layer_writer_add_path(dw->w, host, rel, err) < 0)
			return -1;
		{
			cleanup_free char *opq = xasprintf("%s/.wh..wh..opq", rel);

			if (oci_layer_writer_add_data(dw->w, opq, "", 0, 0644, err) < 0)
				return -1;
		}
		return walk_dir(dw, host, rel, depth + 1, err);
	case RUNNER_DIFF_ENTRY:
		if (oci_layer_writer_add_path(dw->w, host, rel, err) < 0)
			return -1;
		if (S_ISDIR(st.st_mode))
			return walk_dir(dw, host, rel, depth + 1, err);
		return 0;
	}
	return 0;
}

static int walk_dir(struct diff_walk *dw, const char *host, const char *rel, int depth,
		    struct pn_error **err)
{
	struct dirent **names = NULL;
	int n, rc = 0;

	if (depth > DIFF_DEPTH_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "directories nested deeper than %d at `%s`",
				    DIFF_DEPTH_MAX, rel);
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
	struct oci_layer_opts def;
	struct diff_walk dw = { NULL, plan, 0 };
	int rc;

	if (!lopts) {
		oci_layer_opts_init(&def);
		lopts = &def;
	}
	dw.w = oci_layer_writer_new(out, lopts, err);
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
