/* sbom_scan.c - the inventory of an image read from its unpacked layers
 * (overlay lowers, bottom first), as the merged filesystem would show it,
 * without mounting or running anything: a name is what the topmost layer
 * that has it says (a 0:0 character device hides it), a directory is the
 * union of its copies down to the first opaque one or the first layer where
 * it is not a directory.  Every open is openat(O_NOFOLLOW) from a directory
 * fd: no symlink in a hostile image is followed. */
#include "assembler/sbom.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SCAN_DIR_ENTRIES_MAX 100000 /* names of one directory looked at */

/* one directory of the merged view: its copies, topmost first */
struct ov_dir {
	int *fds;
	size_t n;
};

static void ov_dir_release(struct ov_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		close(d->fds[i]);
	free(d->fds);
	d->fds = NULL;
	d->n = 0;
}

static bool is_opaque(int fd)
{
	static const char *const names[] = {"user.overlay.opaque", "trusted.overlay.opaque"};
	char v[2];

	for (size_t i = 0; i < 2; i++)
		if (fgetxattr(fd, names[i], v, sizeof(v)) == 1 && v[0] == 'y')
			return true;
	return false;
}

static int ov_root(const struct pn_strv *lowers, struct ov_dir *out, struct pn_error **err)
{
	out->fds = xcalloc(lowers->n + 1, sizeof(int));
	out->n = 0;
	for (size_t i = lowers->n; i-- > 0;) {
		int fd = open(lowers->v[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			ov_dir_release(out);
			return pn_error_set_errno(err, errno, "open layer `%s`", lowers->v[i]);
		}
		out->fds[out->n++] = fd;
	}
	return 0;
}

/* the merged directory name in d (out->n == 0: none) */
static void ov_child(const struct ov_dir *d, const char *name, struct ov_dir *out)
{
	out->fds = xcalloc(d->n + 1, sizeof(int));
	out->n = 0;
	for (size_t i = 0; i < d->n; i++) {
		struct stat st;
		int fd;

		if (fstatat(d->fds[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* this layer says nothing about it */
		if (!S_ISDIR(st.st_mode))
			break; /* a file, a symlink or a whiteout hides the lower copies */
		fd = openat(d->fds[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			break;
		out->fds[out->n++] = fd;
		if (is_opaque(fd))
			break;
	}
}

/* walk a relative path of plain components from d */
static void ov_path(const struct ov_dir *d, const char *path, struct ov_dir *out)
{
	cleanup_free char *copy = xstrdup(path);
	struct ov_dir cur = {NULL, 0}, next;
	char *save = NULL;

	ov_child(d, ".", &cur);
	for (char *c = strtok_r(copy, "/", &save); c && cur.n; c = strtok_r(NULL, "/", &save)) {
		ov_child(&cur, c, &next);
		ov_dir_release(&cur);
		cur = next;
	}
	*out = cur;
}

/* the regular file name in d: 1 read, 0 not there (or not a regular file) */
static int ov_read(const struct ov_dir *d, const char *name, size_t max, char **out, size_t *len,
		   struct pn_error **err)
{
	for (size_t i = 0; i < d->n; i++) {
		struct stat st;
		cleanup_close int fd = -1;

		if (fstatat(d->fds[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISREG(st.st_mode))
			return 0;
		fd = openat(d->fds[i], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return pn_error_set_errno(err, errno, "open `%s`", name);
		if (pn_read_fd(fd, name, max, out, len, err) < 0)
			return -1;
		return 1;
	}
	return 0;
}

/* the visible directories in d whose names pass keep(), sorted */
static int ov_list_dirs(const struct ov_dir *d, bool (*keep)(const char *), struct pn_strv *out,
			struct pn_error **err)
{
	struct pn_strv seen = PN_STRV_INIT;
	int rc = 0;

	for (size_t i = 0; i < d->n && rc == 0; i++) {
		int fd = dup(d->fds[i]);
		DIR *dir = fd < 0 ? NULL : fdopendir(fd);
		struct dirent *de;

		if (!dir) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		rewinddir(dir);
		while ((de = readdir(dir))) {
			struct stat st;

			if (de->d_name[0] == '.' || !keep(de->d_name) ||
			    pn_strv_contains(&seen, de->d_name))
				continue;
			if (seen.n >= SCAN_DIR_ENTRIES_MAX) {
				rc = pn_error_set(err, PN_ERR_TOO_LARGE,
						  "more than %d entries in a directory",
						  SCAN_DIR_ENTRIES_MAX);
				break;
			}
			pn_strv_push(&seen, de->d_name);
			if (fstatat(d->fds[i], de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))
				pn_strv_push(out, de->d_name);
		}
		closedir(dir);
	}
	pn_strv_release(&seen);
	pn_strv_sort(out);
	return rc;
}

/* ------------------------------------------------------------------- dpkg */

static int scan_dpkg(const struct ov_dir *root, json_t *out, struct pn_error **err)
{
	struct ov_dir d;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int rc;

	ov_path(root, "var/lib/dpkg", &d);
	rc = ov_read(&d, "status", SBOM_DPKG_STATUS_MAX, &text, &len, err);
	ov_dir_release(&d);
	if (rc <= 0)
		return rc;
	return sbom_dpkg_parse(text, len, out, err) < 0 ? pn_error_wrap(err, "/var/lib/dpkg/status")
							: 0;
}

/* ----------------------------------------------------------------- python */

static bool is_python(const char *n)
{
	return strncmp(n, "python", 6) == 0;
}

static bool is_any(const char *n)
{
	(void)n;
	return true;
}

static bool is_dist_info(const char *n)
{
	size_t l = strlen(n);

	return l > 10 && strcmp(n + l - 10, ".dist-info") == 0;
}

/* every *.dist-info/METADATA of the site directory `path` */
static int scan_site(const struct ov_dir *root, const char *path, json_t *out,
		     struct pn_error **err)
{
	struct ov_dir site;
	cleanup_strv struct pn_strv infos = PN_STRV_INIT;
	int rc;

	ov_path(root, path, &site);
	rc = ov_list_dirs(&site, is_dist_info, &infos, err);
	for (size_t i = 0; rc == 0 && i < infos.n; i++) {
		struct ov_dir info;
		cleanup_free char *text = NULL;
		json_t *pkg = NULL;
		size_t len = 0;
		int r;

		ov_child(&site, infos.v[i], &info);
		r = ov_read(&info, "METADATA", SBOM_METADATA_MAX, &text, &len, NULL);
		ov_dir_release(&info);
		if (r <= 0 || sbom_metadata_parse(text, len, &pkg, NULL) < 0)
			continue; /* no wheel metadata: not a package pip lists either */
		if (json_array_size(out) >= SBOM_PACKAGES_MAX) {
			json_decref(pkg);
			rc = pn_error_set(err, PN_ERR_TOO_LARGE, "more than %d Python packages",
					  SBOM_PACKAGES_MAX);
			break;
		}
		json_object_set_new(pkg, "path", json_sprintf("/%s", path));
		json_array_append_new(out, pkg);
	}
	ov_dir_release(&site);
	return rc;
}

/* the site directories: LIB/python*\/{site,dist}-packages for each LIB */
static int site_dirs(const struct ov_dir *root, struct pn_strv *out, struct pn_error **err)
{
	static const char *const libs[] = {"usr/lib", "usr/local/lib", "opt/conda/lib"};
	cleanup_strv struct pn_strv all = PN_STRV_INIT, pyenvs = PN_STRV_INIT;
	struct ov_dir d;
	int rc;

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		pn_strv_push(&all, libs[i]);
	ov_path(root, "root/.pyenv/versions", &d);
	rc = ov_list_dirs(&d, is_any, &pyenvs, err);
	ov_dir_release(&d);
	for (size_t i = 0; i < pyenvs.n; i++)
		pn_strv_push_owned(&all, xasprintf("root/.pyenv/versions/%s/lib", pyenvs.v[i]));
	for (size_t i = 0; rc == 0 && i < all.n; i++) {
		cleanup_strv struct pn_strv pys = PN_STRV_INIT;

		ov_path(root, all.v[i], &d);
		rc = ov_list_dirs(&d, is_python, &pys, err);
		ov_dir_release(&d);
		for (size_t k = 0; rc == 0 && k < pys.n && out->n < SBOM_SITE_DIRS_MAX; k++) {
			pn_strv_push_owned(out,
					   xasprintf("%s/%s/site-packages", all.v[i], pys.v[k]));
			pn_strv_push_owned(out,
					   xasprintf("%s/%s/dist-packages", all.v[i], pys.v[k]));
		}
	}
	return rc;
}

int sbom_scan_lowers(const struct pn_strv *lowers, json_t **out, struct pn_error **err)
{
	cleanup_json json_t *inv = json_pack("{s:[],s:[]}", "deb", "python");
	cleanup_strv struct pn_strv sites = PN_STRV_INIT;
	struct ov_dir root;
	int rc;

	if (ov_root(lowers, &root, err) < 0)
		return -1;
	rc = scan_dpkg(&root, json_object_get(inv, "deb"), err);
	if (rc == 0)
		rc = site_dirs(&root, &sites, err);
	for (size_t i = 0; rc == 0 && i < sites.n; i++)
		rc = scan_site(&root, sites.v[i], json_object_get(inv, "python"), err);
	ov_dir_release(&root);
	if (rc < 0)
		return -1;
	sbom_inventory_sort(inv);
	*out = steal_pointer(&inv);
	return 0;
}
