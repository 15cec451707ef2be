/* test_oci_names.c - entry names and link targets come out of a layer byte
 * for byte whatever the process locale (issue 10): PAX UTF-8 (NFC and NFD),
 * PAX hdrcharset=BINARY, PAX records holding invalid UTF-8, GNU longname and
 * longlink, ustar prefix names; tars written by Python's tarfile
 * (tests/tools/name_layers.py), applied in the default and the overlay form
 * and copied through the layer writer, in the C, C.UTF-8 and (generated with
 * localedef) en_US.ISO-8859-1 locales. */
#include "tests/unit/tap.h"
#include "oci/oci.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static char *unhex(const char *h)
{
	size_t n = strlen(h) / 2;
	char *s = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;

		sscanf(h + 2 * i, "%2x", &v);
		s[i] = (char)v;
	}
	s[n] = '\0';
	return s;
}

/* printable form of bytes for a message */
static char *shown(const char *s)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;

	for (; *s; s++)
		if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
			pn_buf_append(&b, s, 1, NULL);
		else
			pn_buf_printf(&b, NULL, "\\x%02x", (unsigned char)*s);
	return pn_buf_steal(&b, NULL);
}

static void check_entry(const char *root, json_t *ent, bool overlay, const char *what)
{
	const char *type = json_string_value(json_object_get(ent, "type"));
	cleanup_free char *rel = unhex(json_string_value(json_object_get(ent, "path")));
	cleanup_free char *p = pn_path_join(root, rel), *name = shown(rel);
	struct stat st;
	bool there = lstat(p, &st) == 0;

	if (strcmp(type, "file") == 0) {
		ok(there && S_ISREG(st.st_mode), "%s: file `%s`", what, name);
	} else if (strcmp(type, "opaque") == 0) {
		char v[4] = "";
		bool marked = getxattr(p, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';

		ok(there && S_ISDIR(st.st_mode) && marked == overlay, "%s: directory `%s`%s", what,
		   name, overlay ? " marked opaque" : "");
	} else if (strcmp(type, "whiteout") == 0) {
		if (overlay)
			ok(there && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0),
			   "%s: whiteout `%s` is a 0:0 device", what, name);
		else
			ok(!there && errno == ENOENT, "%s: whiteout `%s` left nothing", what, name);
	} else if (strcmp(type, "symlink") == 0) {
		cleanup_free char *want = unhex(json_string_value(json_object_get(ent, "target")));
		char got[8192];
		ssize_t n = readlink(p, got, sizeof(got) - 1);

		got[n > 0 ? n : 0] = '\0';
		ok(there && S_ISLNK(st.st_mode) && strcmp(got, want) == 0, "%s: symlink `%s`", what,
		   name);
		if (strcmp(got, want) != 0) {
			cleanup_free char *g = shown(got), *w = shown(want);

			tap_diag("target got `%s`, want `%s`", g, w);
		}
	} else if (strcmp(type, "hardlink") == 0) {
		cleanup_free char *t = unhex(json_string_value(json_object_get(ent, "target")));
		cleanup_free char *tp = pn_path_join(root, t);
		struct stat tst;

		ok(there && lstat(tp, &tst) == 0 && tst.st_ino == st.st_ino && S_ISREG(st.st_mode),
		   "%s: hardlink `%s`", what, name);
	} else {
		ok(0, "unknown type `%s`", type);
	}
}

static void apply_case(const char *corpus, json_t *c, const char *locale, bool overlay)
{
	const char *tar = json_string_value(json_object_get(c, "tar"));
	cleanup_free char *lp = pn_path_join(corpus, tar);
	cleanup_free char *root = xasprintf("%s/%s-%s-%s", tap_tmpdir(), tar, locale,
					    overlay ? "overlay" : "default");
	cleanup_free char *what =
		xasprintf("[%s %s] %s", locale, overlay ? "overlay" : "default", tar);
	cleanup_close int fd = open(lp, O_RDONLY | O_CLOEXEC);
	struct oci_apply_opts ao;
	struct pn_error *err = NULL;
	json_t *ent;
	size_t i;

	mkdir(root, 0755);
	oci_apply_opts_init(&ao);
	ao.overlay_whiteouts = overlay;
	ao.skip_devices = true;
	ok_call(oci_layer_apply_fd(fd, root, &ao, &err), &err, "%s: applied", what);
	json_array_foreach(json_object_get(c, "entries"), i, ent)
		check_entry(root, ent, overlay, what);
}

/* the tar copied through the layer writer (oci_layer_writer_add_tar, as
 * `pinion import` does) into a layout, then applied from there */
static void writer_case(struct oci_layout *l, const char *corpus, json_t *c, const char *locale)
{
	const char *tar = json_string_value(json_object_get(c, "tar"));
	cleanup_free char *lp = pn_path_join(corpus, tar);
	cleanup_free char *root = xasprintf("%s/%s-%s-copied", tap_tmpdir(), tar, locale);
	cleanup_free char *what = xasprintf("[%s copied] %s", locale, tar);
	cleanup_close int fd = open(lp, O_RDONLY | O_CLOEXEC);
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result res;
	struct oci_apply_opts ao;
	struct pn_error *err = NULL;
	json_t *ent;
	size_t i;

	oci_layer_opts_init(&o);
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(w ? oci_layer_writer_add_tar(w, fd, &err) : -1, &err, "%s: copied", what);
	ok_call(w ? oci_layer_writer_finish(w, &res, &err) : -1, &err, "%s: layer written", what);
	oci_layer_writer_free(w);
	mkdir(root, 0755);
	oci_apply_opts_init(&ao);
	ao.overlay_whiteouts = true;
	ao.skip_devices = true;
	ok_call(oci_layer_apply(l, res.desc.digest, root, &ao, &err), &err, "%s: applied", what);
	json_array_foreach(json_object_get(c, "entries"), i, ent)
		check_entry(root, ent, true, what);
	oci_layer_result_release(&res);
}

/* en_US.ISO-8859-1 compiled into a private LOCPATH; false if localedef is
 * missing (the `locales` package) */
static bool latin1_locale(void)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), "locales");
	cleanup_free char *cmd = NULL;

	mkdir(dir, 0755);
	cmd = xasprintf("localedef -i en_US -f ISO-8859-1 '%s/en_US.ISO-8859-1' 2>/dev/null", dir);
	if (system(cmd) != 0)
		return false;
	setenv("LOCPATH", dir, 1);
	return true;
}

/* the reason for oci_tar_next_header: libarchive alone, in a UTF-8 locale,
 * hands out a decomposed PAX name in its composed form (so this test would
 * catch a reader that forgot the wrapper) */
static void t_control_plain_libarchive(const char *corpus)
{
	cleanup_free char *lp = pn_path_join(corpus, "pax.tar");
	cleanup_archive_read struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool nfd_kept = false, nfc_seen = false;

	setlocale(LC_ALL, "C.UTF-8");
	archive_read_support_format_tar(a);
	archive_read_open_filename(a, lp, 10240);
	while (archive_read_next_header(a, &e) >= ARCHIVE_WARN) {
		const char *p = archive_entry_pathname(e);

		nfd_kept |= p && strcmp(p, "nfd-e\xcc\x81-A\xcc\x8a") == 0;
		nfc_seen |= p && strcmp(p, "nfd-\xc3\xa9-\xc3\x85") == 0;
	}
	setlocale(LC_ALL, "C");
	ok(!nfd_kept && nfc_seen,
	   "control: libarchive alone in C.UTF-8 normalizes the NFD name (the wrapper is needed)");
}

static void t_names(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *corpus = pn_path_join(base, "corpus"), *lpath = NULL;
	cleanup_free char *cmd = NULL, *cases = NULL;
	cleanup_json json_t *j = NULL;
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
	const char *locales[] = {"C", "C.UTF-8", "en_US.ISO-8859-1"};
	struct oci_layout *l = NULL;
	struct pn_error *err = NULL;
	json_t *c;
	size_t i;

	cmd = xasprintf("%s tests/tools/name_layers.py '%s'", py, corpus);
	ok(system(cmd) == 0, "name corpus generated (run from the repository root)");
	cases = pn_path_join(corpus, "cases.json");
	j = json_load_file(cases, 0, NULL);
	ok(json_array_size(j) == 5, "five tars (pax, binary, rawpax, gnu, ustar)");
	lpath = pn_path_join(base, "layout");
	ok_call(oci_layout_open(lpath, OCI_LAYOUT_CREATE, &l, &err), &err, "layout");
	ok(latin1_locale(), "en_US.ISO-8859-1 generated with localedef");
	for (size_t k = 0; k < sizeof(locales) / sizeof(*locales); k++) {
		ok(setlocale(LC_ALL, locales[k]) != NULL, "locale %s set", locales[k]);
		json_array_foreach(j, i, c)
		{
			apply_case(corpus, c, locales[k], false);
			apply_case(corpus, c, locales[k], true);
			if (l)
				writer_case(l, corpus, c, locales[k]);
		}
	}
	setlocale(LC_ALL, "C");
	t_control_plain_libarchive(corpus);
	oci_layout_free(l);
}

int main(void)
{
	TEST(t_names);
	return tap_done();
}
