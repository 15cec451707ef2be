/* test_assembler_sbom.c - the dpkg status and METADATA parsers, the overlay
 * scan of unpacked layers, the SPDX and provenance writers, and the OCI
 * artifact / referrers store of a layout */
#include "tests/unit/tap.h"
#include "assembler/sbom.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static const char status_text[] = "Package: jq\n"
				  "Status: install ok installed\n"
				  "Architecture: amd64\n"
				  "Version: 1.6-2.1\n"
				  "Description: lightweight JSON processor\n"
				  " continuation: Package: not-a-package\n"
				  "\n"
				  "Package: gone\n"
				  "Status: deinstall ok config-files\n"
				  "Version: 1.0\n"
				  "\n"
				  "Package: libc6\r\n"
				  "Status: install ok installed\r\n"
				  "Version: 2.36-9\r\n"
				  "Source: glibc\r\n"
				  "Architecture: amd64\r\n"
				  "\n\n"
				  "Package: noversion\n"
				  "Status: install ok installed\n"
				  "\n"
				  "Package: odd\xff\x01name\n"
				  "Status: install ok notinstalled\n"
				  "Version: 1\n"
				  "\n"
				  "Package: last\n"
				  "Status: hold ok installed\n"
				  "Version: 3";

static void t_dpkg(void)
{
	struct pn_error *err = NULL;
	cleanup_json json_t *out = json_array();
	json_t *libc;

	ok_call(sbom_dpkg_parse(status_text, sizeof(status_text) - 1, out, &err), &err,
		"parse a status file");
	is_int(json_array_size(out), 3, "installed ones only (jq, libc6, last)");
	is_str(json_string_value(json_object_get(json_array_get(out, 0), "name")), "jq", "jq");
	is_str(json_string_value(json_object_get(json_array_get(out, 0), "version")), "1.6-2.1",
	       "its version");
	ok(!json_object_get(json_array_get(out, 0), "status"), "the status is not kept");
	libc = json_array_get(out, 1);
	is_str(json_string_value(json_object_get(libc, "name")), "libc6", "CRLF lines");
	is_str(json_string_value(json_object_get(libc, "source")), "glibc", "its source");
	is_str(json_string_value(json_object_get(libc, "arch")), "amd64", "its arch");
	is_str(json_string_value(json_object_get(json_array_get(out, 2), "version")), "3",
	       "a file without a final newline");
}

static void t_dpkg_limits(void)
{
	struct pn_error *err = NULL;
	cleanup_json json_t *out = json_array();
	cleanup_free char *big = NULL;
	struct pn_buf b = PN_BUF_INIT;
	cleanup_free char *longv = xmalloc(5000);

	memset(longv, 'x', 4999);
	longv[4999] = '\0';
	pn_buf_printf(&b, NULL, "Package: p\nStatus: install ok installed\nVersion: %s\n", longv);
	ok_call(sbom_dpkg_parse(b.data, b.len, out, &err), &err, "a long field");
	is_int((long)json_string_length(json_object_get(json_array_get(out, 0), "version")),
	       SBOM_FIELD_MAX, "is cut at SBOM_FIELD_MAX");
	pn_buf_release(&b);
	json_array_clear(out);
	for (int i = 0; i <= SBOM_PACKAGES_MAX; i++)
		pn_buf_printf(&b, NULL,
			      "Package: p%d\nStatus: install ok installed\nVersion: 1\n\n", i);
	ok_fail(sbom_dpkg_parse(b.data, b.len, out, &err), &err, PN_ERR_TOO_LARGE, "packages",
		"more than SBOM_PACKAGES_MAX packages");
	pn_buf_release(&b);
}

static void t_metadata(void)
{
	static const char m1[] = "Metadata-Version: 2.1\n"
				 "Name: pinion-demo-greeting\n"
				 "Version: 1.0.0\n"
				 "License: MIT\n"
				 "        continued\n"
				 "\n"
				 "Name: body-is-not-headers\n";
	static const char m2[] =
		"Metadata-Version: 2.4\r\nname: Foo_Bar\r\nversion: 2\r\n"
		"License: Some free text\r\nLicense-Expression: Apache-2.0 OR MIT\r\n";
	struct pn_error *err = NULL;
	json_t *o = NULL;

	ok_call(sbom_metadata_parse(m1, sizeof(m1) - 1, &o, &err), &err, "parse METADATA");
	is_str(json_string_value(json_object_get(o, "name")), "pinion-demo-greeting", "Name");
	is_str(json_string_value(json_object_get(o, "version")), "1.0.0", "Version");
	is_str(json_string_value(json_object_get(o, "license")), "MIT", "License's first line");
	json_decref(o);
	ok_call(sbom_metadata_parse(m2, sizeof(m2) - 1, &o, &err), &err, "CRLF, any case");
	is_str(json_string_value(json_object_get(o, "name")), "Foo_Bar", "name as written");
	is_str(json_string_value(json_object_get(o, "license")), "Apache-2.0 OR MIT",
	       "License-Expression wins");
	json_decref(o);
	ok_fail(sbom_metadata_parse("Name: x\n", 8, &o, &err), &err, PN_ERR_INVALID, "Version",
		"no Version");
	ok_fail(sbom_metadata_parse("\nName: x\nVersion: 1\n", 20, &o, &err), &err, PN_ERR_INVALID,
		"Name", "headers end at the first empty line");
}

/* ------------------------------------------------------------ the scan */

static void put(const char *root, const char *rel, const char *text)
{
	cleanup_free char *path = xasprintf("%s/%s", root, rel);
	cleanup_free char *dir = xstrdup(path);

	*strrchr(dir, '/') = '\0';
	pn_mkdir_p(dir, 0755, NULL);
	pn_write_file_atomic(path, text, strlen(text), 0644, NULL);
}

#define SITE "usr/local/lib/python3.11/site-packages/"

static void t_scan(void)
{
	const char *tmp = tap_tmpdir();
	cleanup_free char *l0 = xasprintf("%s/l0", tmp), *l1 = xasprintf("%s/l1", tmp);
	cleanup_free char *l2 = xasprintf("%s/l2", tmp), *wh = NULL, *link = NULL;
	struct pn_strv lowers = PN_STRV_INIT;
	struct pn_error *err = NULL;
	json_t *inv = NULL, *py;
	bool whiteouts;

	put(l0, "var/lib/dpkg/status", "Package: base\nStatus: install ok installed\nVersion: 1\n");
	put(l0, SITE "a-1.0.dist-info/METADATA", "Name: a\nVersion: 1.0\n");
	put(l0, SITE "b-1.0.dist-info/METADATA", "Name: b\nVersion: 1.0\n");
	put(l0, "root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/c-3.dist-info/METADATA",
	    "Name: c\nVersion: 3\n");
	/* l1: apt installed more; b upgraded (old dist-info whited out) */
	put(l1, "var/lib/dpkg/status",
	    "Package: base\nStatus: install ok installed\nVersion: 1\n\n"
	    "Package: jq\nStatus: install ok installed\nVersion: 1.6\n");
	put(l1, SITE "b-2.0.dist-info/METADATA", "Name: b\nVersion: 2.0\nLicense: BSD-3-Clause\n");
	wh = xasprintf("%s/" SITE "b-1.0.dist-info", l1);
	whiteouts = mknod(wh, S_IFCHR | 0, makedev(0, 0)) == 0;
	/* l2: a symlinked site dir is not followed; a file hides a directory */
	put(l2, "etc/x", "x");
	link = xasprintf("%s/usr/lib/python3", l2);
	pn_mkdir_p(link, 0755, NULL);
	rmdir(link);
	if (symlink("/etc", link) < 0)
		tap_diag("symlink: %m");
	pn_strv_push(&lowers, l0);
	pn_strv_push(&lowers, l1);
	pn_strv_push(&lowers, l2);
	ok_call(sbom_scan_lowers(&lowers, &inv, &err), &err, "scan three lowers");
	is_int(json_array_size(json_object_get(inv, "deb")), 2, "the top dpkg status wins");
	py = json_object_get(inv, "python");
	if (whiteouts) {
		is_int(json_array_size(py), 3, "a, b 2.0, c (b 1.0 whited out)");
		is_str(json_string_value(json_object_get(json_array_get(py, 1), "version")), "2.0",
		       "b is 2.0");
		is_str(json_string_value(json_object_get(json_array_get(py, 1), "license")),
		       "BSD-3-Clause", "with its license");
	} else {
		tap_diag("no mknod here: the whiteout case is not checked");
		ok(json_array_size(py) >= 3, "a, b, c");
	}
	is_str(json_string_value(
		       json_object_get(json_array_get(py, json_array_size(py) - 1), "path")),
	       "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages", "pyenv's site dir");
	json_decref(inv);
	pn_strv_release(&lowers);
}

static void t_opaque(void)
{
	const char *tmp = tap_tmpdir();
	cleanup_free char *l0 = xasprintf("%s/l0", tmp), *l1 = xasprintf("%s/l1", tmp);
	cleanup_free char *dpkg = NULL;
	struct pn_strv lowers = PN_STRV_INIT;
	struct pn_error *err = NULL;
	json_t *inv = NULL;

	put(l0, "var/lib/dpkg/status", "Package: old\nStatus: install ok installed\nVersion: 1\n");
	put(l1, "var/lib/dpkg/other", "");
	dpkg = xasprintf("%s/var/lib/dpkg", l1);
	if (setxattr(dpkg, "user.overlay.opaque", "y", 1, 0) < 0 &&
	    setxattr(dpkg, "trusted.overlay.opaque", "y", 1, 0) < 0) {
		tap_diag("no overlay xattr here: the opaque case is not checked");
		return;
	}
	pn_strv_push(&lowers, l0);
	pn_strv_push(&lowers, l1);
	ok_call(sbom_scan_lowers(&lowers, &inv, &err), &err, "scan");
	is_int(json_array_size(json_object_get(inv, "deb")), 0,
	       "an opaque directory hides the status below it");
	json_decref(inv);
	pn_strv_release(&lowers);
}

/* ------------------------------------------------------------- writers */

static void doc_in(struct sbom_doc_in *in, json_t *inv, const struct sbom_file *f)
{
	memset(in, 0, sizeof(*in));
	in->name = "r8.im/me/model:v1";
	in->created = "2023-11-14T22:13:20Z";
	in->base_name = "docker.io/library/python:3.11-slim";
	in->base_digest = D1;
	in->inventory = inv;
	in->wheel_name = "cog-0.16.12+pinion.0.1.0-py3-none-any.whl";
	in->wheel_digest = D2;
	in->tini_version = "0.19.0";
	in->tini_digest = D1;
	in->files = f;
	in->n_files = 1;
}

static json_t *pkg_named(json_t *doc, const char *id)
{
	size_t i;
	json_t *p;

	json_array_foreach(
		json_object_get(doc, "packages"), i,
		p) if (!strcmp(json_string_value(json_object_get(p, "SPDXID")), id)) return p;
	return NULL;
}

static void t_spdx(void)
{
	cleanup_json json_t *inv =
		json_pack("{s:[{s:s,s:s,s:s}],s:[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}", "deb",
			  "name", "jq", "version", "1:1.6+b1", "arch", "amd64", "python", "name",
			  "Foo_Bar", "version", "2.0", "license", "MIT", "path", "/p", "name",
			  "free", "version", "1", "license", "The MIT License (MIT)", "path", "/p");
	struct sbom_file f = {"/src/weights/model.bin", 42, D2};
	struct sbom_doc_in in;
	cleanup_free char *a = NULL, *b = NULL;
	cleanup_json json_t *doc = NULL;
	size_t la, lb;
	json_t *p;

	doc_in(&in, inv, &f);
	sbom_spdx_write(&in, &a, &la);
	sbom_spdx_write(&in, &b, &lb);
	ok(la == lb && memcmp(a, b, la) == 0, "the same input, the same bytes");
	doc = json_loads(a, 0, NULL);
	ok(doc != NULL, "JSON");
	is_str(json_string_value(json_object_get(doc, "spdxVersion")), "SPDX-2.3", "SPDX 2.3");
	ok(!strncmp(json_string_value(json_object_get(doc, "documentNamespace")),
		    "https://spdx.org/spdxdocs/pinion-", 33),
	   "a namespace from the content");
	p = pkg_named(doc, "SPDXRef-deb-0-jq");
	ok(p != NULL, "jq is listed");
	is_str(json_string_value(json_object_get(
		       json_array_get(json_object_get(p, "externalRefs"), 0), "referenceLocator")),
	       "pkg:deb/debian/jq@1%3A1.6%2Bb1?arch=amd64", "its purl, percent-encoded");
	p = pkg_named(doc, "SPDXRef-pypi-0-Foo-Bar");
	ok(p != NULL, "Foo_Bar is listed (id sanitised)");
	is_str(json_string_value(json_object_get(
		       json_array_get(json_object_get(p, "externalRefs"), 0), "referenceLocator")),
	       "pkg:pypi/foo-bar@2.0", "a normalised pypi purl");
	is_str(json_string_value(json_object_get(p, "licenseDeclared")), "MIT", "an SPDX id");
	p = pkg_named(doc, "SPDXRef-pypi-1-free");
	is_str(json_string_value(json_object_get(p, "licenseDeclared")), "NOASSERTION",
	       "free text is not an expression");
	p = pkg_named(doc, "SPDXRef-cog-wheel");
	is_str(json_string_value(json_object_get(p, "versionInfo")), "0.16.12+pinion.0.1.0",
	       "the wheel's version from its name");
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(doc, "files"), 0),
						 "fileName")),
	       "./src/weights/model.bin", "the weights file");
	in.name = "other";
	free(b);
	sbom_spdx_write(&in, &b, &lb);
	ok(strcmp(a, b) != 0, "another input, another document");
}

static void t_provenance(void)
{
	struct sbom_provenance_in in = {"m:v1", D1, D2, "python:3.11", D2, D1, 1700000000};
	cleanup_free char *s = NULL;
	cleanup_json json_t *j = NULL;
	size_t len;

	sbom_provenance_write(&in, &s, &len);
	j = json_loads(s, 0, NULL);
	is_str(json_string_value(json_object_get(j, "_type")), "https://in-toto.io/Statement/v1",
	       "an in-toto statement");
	is_str(json_string_value(json_object_get(j, "predicateType")),
	       "https://slsa.dev/provenance/v1", "SLSA v1");
	is_str(json_string_value(json_object_get(
		       json_object_get(json_array_get(json_object_get(j, "subject"), 0), "digest"),
		       "sha256")),
	       D1 + 7, "the subject");
	ok(tap_contains(s, "\"SOURCE_DATE_EPOCH\":\"1700000000\""), "SOURCE_DATE_EPOCH");
}

static void t_tini(void)
{
	static const unsigned char bin[] = "\x7f"
					   "ELF...tini version 0.19.0\0 - git";
	cleanup_free char *v = sbom_tini_version(bin, sizeof(bin));

	is_str(v, "0.19.0", "tini's version from its bytes");
	ok(sbom_tini_version((const unsigned char *)"none", 4) == NULL, "none");
}

/* ----------------------------------------------------------- referrers */

static void t_referrers(void)
{
	const char *tmp = tap_tmpdir();
	cleanup_free char *d1 = xasprintf("%s/a", tmp), *d2 = xasprintf("%s/b", tmp);
	cleanup_free char *got = NULL;
	struct oci_layout *l = NULL, *l2 = NULL;
	struct pn_error *err = NULL;
	struct oci_descriptor subject, art;
	cleanup_json json_t *ix = NULL, *ix2 = NULL;
	struct oci_artifact a = {SBOM_MT_SPDX, SBOM_MT_SPDX, "{\"x\":1}", 7,
				 "sbom.json",  NULL,	     &subject};
	size_t len;

	ok_call(oci_layout_open(d1, OCI_LAYOUT_CREATE, &l, &err), &err, "open");
	oci_descriptor_init(&subject);
	subject.media_type = xstrdup(OCI_MT_MANIFEST);
	ok_call(oci_layout_put_blob(l, "{}", 2, NULL, subject.digest, &err), &err, "subject");
	subject.size = 2;
	ok_call(oci_artifact_store(l, &a, &art, &err), &err, "store an artifact");
	ok_fail(oci_layout_referrers_add(l, subject.digest, &art, SBOM_MT_SPDX, &err), &err,
		PN_ERR_NOT_FOUND, "no image", "the subject must be in the index");
	ok_call(oci_layout_tag(l, "v1", &subject, &err), &err, "tag the subject");
	ok_fail(oci_layout_referrers(l, subject.digest, &ix, NULL, &err), &err, PN_ERR_NOT_FOUND,
		"no referrers", "none yet");
	ok_call(oci_layout_referrers_add(l, subject.digest, &art, SBOM_MT_SPDX, &err), &err,
		"list it");
	ok_call(oci_layout_referrers_add(l, subject.digest, &art, SBOM_MT_SPDX, &err), &err,
		"twice");
	ok_call(oci_layout_referrers(l, subject.digest, &ix, NULL, &err), &err, "read the index");
	is_int(json_array_size(json_object_get(ix, "manifests")), 1, "listed once");
	is_str(oci_referrers_find(ix, SBOM_MT_SPDX), art.digest, "found by its type");
	ok(oci_referrers_find(ix, SBOM_MT_INTOTO) == NULL, "not another type");
	ok_call(oci_artifact_read(l, art.digest, 1024, &got, &len, &err), &err, "read its blob");
	ok(len == 7 && !memcmp(got, "{\"x\":1}", 7), "the bytes stored");
	{
		struct oci_descriptor only;

		ok_call(oci_layout_resolve(l, NULL, &only, &err), &err,
			"the only image, beside a referrers index");
		is_str(only.digest, subject.digest, "is the subject");
		oci_descriptor_release(&only);
	}
	ok_call(oci_layout_open(d2, OCI_LAYOUT_CREATE, &l2, &err), &err, "open another");
	ok_fail(oci_layout_copy_referrers(l, l2, subject.digest, &err), &err, PN_ERR_NOT_FOUND,
		"no image", "not before the image");
	ok_call(oci_layout_copy_blob(l, l2, subject.digest, &err), &err, "copy the image");
	ok_call(oci_layout_tag(l2, "v1", &subject, &err), &err, "tag it");
	ok_call(oci_layout_copy_referrers(l, l2, subject.digest, &err), &err, "copy referrers");
	ok_call(oci_layout_referrers(l2, subject.digest, &ix2, NULL, &err), &err, "there");
	ok(json_equal(ix, ix2), "the same index");
	ok(oci_layout_has_blob(l2, art.digest), "with the artifact");
	ok_call(oci_layout_tag(l, "v1", &subject, &err), &err, "re-tag the subject");
	ok_fail(oci_layout_referrers(l, subject.digest, &ix2, NULL, &err), &err, PN_ERR_NOT_FOUND,
		"no referrers", "a re-tag drops them with the entry");
	oci_descriptor_release(&subject);
	oci_descriptor_release(&art);
	oci_layout_free(l);
	oci_layout_free(l2);
}

int main(void)
{
	TEST(t_dpkg);
	TEST(t_dpkg_limits);
	TEST(t_metadata);
	TEST(t_scan);
	TEST(t_opaque);
	TEST(t_spdx);
	TEST(t_provenance);
	TEST(t_tini);
	TEST(t_referrers);
	return tap_done();
}
