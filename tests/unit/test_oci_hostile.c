/* test_oci_hostile.c - the hostile-layer corpus (tests/tools/hostile_layers.py)
 * against the applier, with and without openat2: each case is refused or
 * neutralised as listed, and nothing outside the target changes. */
#include "tests/unit/tap.h"
#include "oci/oci.h"
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* a listing of everything under dir except entries named tgt-*: path, type,
 * mode, size, link target, content digest, mtime and ctime (the ctime catches
 * metadata changes: owner, mode, link count, xattrs such as an opaque mark) */
static void snapshot(int dfd, const char *rel, struct pn_buf *out)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	cleanup_strv struct pn_strv names = PN_STRV_INIT;
	int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || !(d = fdopendir(fd))) {
		pn_buf_printf(out, NULL, "unreadable %s\n", rel);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !(strcmp(rel, ".") == 0 && strncmp(de->d_name, "tgt-", 4) == 0))
			pn_strv_push(&names, de->d_name);
	pn_strv_sort(&names);
	for (size_t i = 0; i < names.n; i++) {
		cleanup_free char *p = xasprintf("%s/%s", rel, names.v[i]);
		struct stat st;
		char target[256] = "";
		oci_digest_t dg = "";

		if (fstatat(dfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode))
			readlinkat(dfd, p, target, sizeof(target) - 1);
		if (S_ISREG(st.st_mode)) {
			cleanup_close int ffd = openat(dfd, p, O_RDONLY | O_CLOEXEC);

			if (ffd >= 0)
				oci_digest_fd(ffd, dg, NULL, NULL);
		}
		pn_buf_printf(out, NULL, "%s %o %lld %s %s %ld %ld.%09ld\n", p, st.st_mode,
			      (long long)st.st_size, target, dg, (long)st.st_mtime,
			      (long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		if (S_ISDIR(st.st_mode))
			snapshot(dfd, p, out);
	}
}

static void opts_from(json_t *o, struct oci_apply_opts *ao)
{
	oci_apply_opts_init(ao);
	ao->skip_devices = json_is_true(json_object_get(o, "skip_devices"));
	if (json_integer_value(json_object_get(o, "max_bytes")))
		ao->max_bytes = (uint64_t)json_integer_value(json_object_get(o, "max_bytes"));
	if (json_integer_value(json_object_get(o, "max_entries")))
		ao->max_entries = (uint64_t)json_integer_value(json_object_get(o, "max_entries"));
}

static void check_paths(const char *root, json_t *list, bool want, const char *name)
{
	size_t i;
	json_t *it;

	json_array_foreach(list, i, it)
	{
		cleanup_free char *p = pn_path_join(root, json_string_value(it));
		struct stat st;
		bool there = lstat(p, &st) == 0;

		ok(there == want, "%s: `%s` %s", name, json_string_value(it),
		   want ? "exists" : "absent");
	}
}

static void run_case(const char *corpus, const char *base, int bfd, json_t *c, int n,
		     const char *mode)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *expect = json_string_value(json_object_get(c, "expect"));
	const char *with_openat2 = json_string_value(json_object_get(c, "openat2"));
	const char *want_err = json_string_value(json_object_get(c, "error"));
	cleanup_free char *root = xasprintf("%s/tgt-%s-%d", base, mode, n);
	cleanup_buf struct pn_buf before = PN_BUF_INIT, after = PN_BUF_INIT;
	struct oci_apply_opts ao;
	struct pn_error *err = NULL;
	json_t *layer;
	size_t i;
	int rc = 0;

	if (with_openat2 && strcmp(mode, "nofollow") != 0)
		expect = with_openat2;
	mkdir(root, 0755);
	opts_from(json_object_get(c, "opts"), &ao);
	ao.overlay_whiteouts = strcmp(mode, "overlay") == 0;
	snapshot(bfd, ".", &before);
	json_array_foreach(json_object_get(c, "layers"), i, layer)
	{
		cleanup_free char *lp = pn_path_join(corpus, json_string_value(layer));
		cleanup_close int fd = open(lp, O_RDONLY | O_CLOEXEC);

		rc = oci_layer_apply_fd(fd, root, &ao, &err);
		if (rc < 0)
			break;
	}
	if (strcmp(expect, "refuse") == 0) {
		bool good = rc < 0 && err &&
			    (err->code == PN_ERR_INVALID || err->code == PN_ERR_TOO_LARGE) &&
			    tap_contains(err->msg, want_err);

		ok(good, "[%s] %s: refused", mode, name);
		if (!good)
			tap_diag("rc=%d: %s", rc, err ? err->msg : "(no error)");
		else
			tap_diag("%s", err->msg);
	} else if (strcmp(expect, "ok") == 0) {
		ok(rc == 0, "[%s] %s: applied (neutralised)", mode, name);
		if (rc < 0)
			tap_diag("%s", err->msg);
	} else {
		tap_diag("[%s] %s: %s", mode, name, rc < 0 ? err->msg : "applied");
	}
	pn_error_clear(&err);
	snapshot(bfd, ".", &after);
	is_str(after.data, before.data, "[%s] %s: nothing outside the target changed", mode, name);
	if (rc == 0) {
		check_paths(root, json_object_get(c, "exists"), true, name);
		check_paths(root, json_object_get(c, "absent"), false, name);
	}
}

static void t_hostile(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *corpus = pn_path_join(base, "corpus"),
			  *outside = pn_path_join(base, "outside");
	cleanup_free char *cmd = NULL, *cases = NULL, *sentinel = NULL;
	cleanup_json json_t *j = NULL;
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
	cleanup_close int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	json_t *c;
	size_t i;

	mkdir(outside, 0755);
	sentinel = pn_path_join(outside, "sentinel");
	pn_write_file_atomic(sentinel, "S", 1, 0644, NULL);
	cmd = xasprintf("%s tests/tools/hostile_layers.py '%s' '%s'", py, corpus, outside);
	ok(system(cmd) == 0, "corpus generated (run from the repository root)");
	cases = pn_path_join(corpus, "cases.json");
	j = json_load_file(cases, 0, NULL);
	ok(json_array_size(j) >= 15, "at least 15 hostile cases (%zu)", json_array_size(j));
	json_array_foreach(j, i, c) run_case(corpus, base, bfd, c, (int)i, "openat2");
	/* whiteouts kept in overlay form (the runner's snapshots): same rules */
	json_array_foreach(j, i, c) run_case(corpus, base, bfd, c, (int)i, "overlay");
	oci_apply_force_no_openat2(true);
	json_array_foreach(j, i, c) run_case(corpus, base, bfd, c, (int)i, "nofollow");
	oci_apply_force_no_openat2(false);
}

int main(void)
{
	TEST(t_hostile);
	return tap_done();
}
