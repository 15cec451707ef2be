/* sbom_spdx.c - the SPDX 2.3 JSON document and the in-toto provenance
 * statement of an image (see sbom.h, docs/sbom.md).  Both are canonical
 * JSON (sorted keys, compact): the same input gives the same bytes. */
#include "assembler/sbom.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

#define SPDX_TOOL     "Tool: pinion-" PN_VERSION
#define SPDX_NS	      "https://spdx.org/spdxdocs/pinion-"
#define PROV_BUILD    "urn:pinion:buildtype:cog-model:v1"
#define PROV_BUILDER  "urn:pinion:builder"
#define NOASSERTION   "NOASSERTION"
#define LICENSE_IDMAX 64 /* bytes of one license id kept as an expression */

/* ------------------------------------------------------------------ ids */

/* "SPDXRef-<kind>-<n>-<name>" with every byte outside [A-Za-z0-9.-] as '-' */
static char *spdx_id(const char *kind, size_t n, const char *name)
{
	char *s = xasprintf("SPDXRef-%s-%zu-%s", kind, n, name);

	for (char *p = s + 8; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '-';
	return s;
}

/* a purl component: percent-encoded but for [A-Za-z0-9._~-] */
static void purl_put(struct pn_buf *b, const char *s, bool lower_dash)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (lower_dash && (c == '_' || c == '.'))
			c = '-';
		if (lower_dash && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("._~-", c))
			pn_buf_printf(b, NULL, "%c", c);
		else
			pn_buf_printf(b, NULL, "%%%02X", c);
	}
}

/* "id" or "id OP id ..." with ids of [A-Za-z0-9.+-]: an SPDX expression as
 * far as its shape goes; anything else (free text) is NOASSERTION */
static bool license_is_expression(const char *s)
{
	bool want_id = true;
	size_t n = 0;

	for (const char *p = s;; p++) {
		if (*p == ' ' || *p == '\0' || *p == '(' || *p == ')') {
			if (n) {
				bool op = (n == 3 && !strncmp(p - 3, "AND", 3)) ||
					  (n == 2 && !strncmp(p - 2, "OR", 2)) ||
					  (n == 4 && !strncmp(p - 4, "WITH", 4));
				if (op == want_id || n > LICENSE_IDMAX)
					return false;
				want_id = op;
				n = 0;
			}
			if (!*p)
				return !want_id;
			continue;
		}
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr(".+-", *p)))
			return false;
		n++;
	}
}

/* -------------------------------------------------------------- packages */

static json_t *package_new(const char *id, const char *name, const char *version)
{
	json_t *p = json_object();

	json_object_set_new(p, "SPDXID", json_string(id));
	json_object_set_new(p, "name", json_string(name));
	if (version && *version)
		json_object_set_new(p, "versionInfo", json_string(version));
	json_object_set_new(p, "downloadLocation", json_string(NOASSERTION));
	json_object_set_new(p, "filesAnalyzed", json_false());
	json_object_set_new(p, "licenseConcluded", json_string(NOASSERTION));
	json_object_set_new(p, "licenseDeclared", json_string(NOASSERTION));
	json_object_set_new(p, "copyrightText", json_string(NOASSERTION));
	return p;
}

static void package_purl(json_t *p, struct pn_buf *purl)
{
	json_t *ref = json_object();

	PN_BUF_ASSERT(purl);
	json_object_set_new(ref, "referenceCategory", json_string("PACKAGE-MANAGER"));
	json_object_set_new(ref, "referenceType", json_string("purl"));
	json_object_set_new(ref, "referenceLocator", json_string(purl->data));
	json_object_set_new(p, "externalRefs", json_pack("[o]", ref));
	pn_buf_release(purl);
}

static void package_sha256(json_t *p, const char *digest)
{
	if (digest && oci_digest_valid(digest))
		json_object_set_new(p, "checksums",
				    json_pack("[{s:s,s:s}]", "algorithm", "SHA256", "checksumValue",
					      oci_digest_hex(digest)));
}

struct spdx_doc {
	json_t *packages, *files, *rels;
};

static void relate(struct spdx_doc *d, const char *a, const char *type, const char *b)
{
	json_array_append_new(d->rels,
			      json_pack("{s:s,s:s,s:s}", "spdxElementId", a, "relationshipType",
					type, "relatedSpdxElement", b));
}

/* a package the image contains */
static void add_contained(struct spdx_doc *d, json_t *p)
{
	relate(d, "SPDXRef-Image", "CONTAINS", json_string_value(json_object_get(p, "SPDXID")));
	json_array_append_new(d->packages, p);
}

/* a package of a list (deb, pypi): its id, name, version and purl; the
 * image contains it */
static json_t *add_listed(struct spdx_doc *d, const char *kind, size_t i, const json_t *e,
			  const char *arch)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	const char *ver = json_string_value(json_object_get(e, "version"));
	cleanup_free char *id = spdx_id(kind, i, name);
	struct pn_buf purl = PN_BUF_INIT;
	bool pypi = strcmp(kind, "pypi") == 0;
	json_t *p = package_new(id, name, ver);

	pn_buf_puts(&purl, pypi ? "pkg:pypi/" : "pkg:deb/debian/", NULL);
	purl_put(&purl, name, pypi); /* pypi names normalised (PEP 503) */
	pn_buf_puts(&purl, "@", NULL);
	purl_put(&purl, ver, false);
	if (arch && *arch) {
		pn_buf_puts(&purl, "?arch=", NULL);
		purl_put(&purl, arch, false);
	}
	package_purl(p, &purl);
	add_contained(d, p);
	return p;
}

static void add_debs(struct spdx_doc *d, const json_t *list)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
		add_listed(d, "deb", i, e, json_string_value(json_object_get(e, "arch")));
}

static void add_pythons(struct spdx_doc *d, const json_t *list)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		const char *lic = json_string_value(json_object_get(e, "license"));
		const char *path = json_string_value(json_object_get(e, "path"));
		json_t *p = add_listed(d, "pypi", i, e, NULL);

		if (lic && license_is_expression(lic))
			json_object_set_new(p, "licenseDeclared", json_string(lic));
		else if (lic)
			json_object_set_new(p, "licenseComments",
					    json_sprintf("METADATA License: %s", lic));
		if (path)
			json_object_set_new(p, "sourceInfo", json_sprintf("installed in %s", path));
	}
}

/* the cog SDK wheel and tini: what pinion itself puts in */
static void add_own(struct spdx_doc *d, const struct sbom_doc_in *in)
{
	if (in->wheel_name) {
		cleanup_free char *name = xstrndup(in->wheel_name, strcspn(in->wheel_name, "-"));
		const char *v = in->wheel_name + strlen(name);
		cleanup_free char *ver = xstrndup(v + (*v == '-'), strcspn(v + (*v == '-'), "-"));
		json_t *p = package_new("SPDXRef-cog-wheel", name, ver);

		json_object_set_new(p, "packageFileName", json_string(in->wheel_name));
		json_object_set_new(p, "primaryPackagePurpose", json_string("LIBRARY"));
		package_sha256(p, in->wheel_digest);
		add_contained(d, p);
	}
	if (in->tini_digest) {
		json_t *p = package_new("SPDXRef-tini", "tini", in->tini_version);

		json_object_set_new(p, "packageFileName", json_string("/sbin/tini"));
		json_object_set_new(p, "primaryPackagePurpose", json_string("APPLICATION"));
		json_object_set_new(p, "licenseDeclared", json_string("MIT"));
		package_sha256(p, in->tini_digest);
		add_contained(d, p);
	}
}

static void add_files(struct spdx_doc *d, const struct sbom_doc_in *in)
{
	for (size_t i = 0; i < in->n_files; i++) {
		const struct sbom_file *f = &in->files[i];
		cleanup_free char *id = spdx_id("File", i, f->path);
		cleanup_free char *name = xasprintf(".%s%s", f->path[0] == '/' ? "" : "/", f->path);
		json_t *o = json_object();

		json_object_set_new(o, "SPDXID", json_string(id));
		json_object_set_new(o, "fileName", json_string(name));
		json_object_set_new(o, "fileTypes", json_pack("[s]", "OTHER"));
		json_object_set_new(o, "comment",
				    json_sprintf("model weights, %lld bytes", (long long)f->size));
		json_object_set_new(o, "checksums",
				    json_pack("[{s:s,s:s}]", "algorithm", "SHA256", "checksumValue",
					      oci_digest_hex(f->digest)));
		relate(d, "SPDXRef-Image", "CONTAINS", id);
		json_array_append_new(d->files, o);
	}
}

/* the image and its base */
static void add_image(struct spdx_doc *d, const struct sbom_doc_in *in)
{
	json_t *img = package_new("SPDXRef-Image", in->name, NULL);
	json_t *base = package_new("SPDXRef-Base", in->base_name, in->base_digest);
	struct pn_buf purl = PN_BUF_INIT;
	const char *slash = strrchr(in->base_name, '/');
	size_t n = strcspn(slash ? slash + 1 : in->base_name, ":@");

	json_object_set_new(img, "primaryPackagePurpose", json_string("CONTAINER"));
	json_object_set_new(base, "primaryPackagePurpose", json_string("CONTAINER"));
	pn_buf_puts(&purl, "pkg:oci/", NULL);
	{
		cleanup_free char *last = xstrndup(slash ? slash + 1 : in->base_name, n);

		purl_put(&purl, last, false);
	}
	pn_buf_puts(&purl, "@", NULL);
	purl_put(&purl, in->base_digest, false);
	package_purl(base, &purl);
	package_sha256(base, in->base_digest);
	json_array_append_new(d->packages, img);
	json_array_append_new(d->packages, base);
	relate(d, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image");
	relate(d, "SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-Base");
}

void sbom_spdx_write(const struct sbom_doc_in *in, char **out, size_t *len)
{
	struct spdx_doc d = {json_array(), json_array(), json_array()};
	cleanup_json json_t *doc = json_object();
	cleanup_free char *pre = NULL;
	oci_digest_t h;

	add_image(&d, in);
	add_debs(&d, json_object_get(in->inventory, "deb"));
	add_pythons(&d, json_object_get(in->inventory, "python"));
	add_own(&d, in);
	add_files(&d, in);
	json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
	json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
	json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
	json_object_set_new(doc, "name", json_string(in->name));
	json_object_set_new(
		doc, "creationInfo",
		json_pack("{s:s,s:[s]}", "created", in->created, "creators", SPDX_TOOL));
	json_object_set_new(doc, "packages", d.packages);
	if (json_array_size(d.files))
		json_object_set_new(doc, "files", d.files);
	else
		json_decref(d.files);
	json_object_set_new(doc, "relationships", d.rels);
	/* the namespace: unique per content, the same for the same content */
	pre = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	oci_digest_buf(pre, strlen(pre), h);
	json_object_set_new(doc, "documentNamespace",
			    json_sprintf("%s%s", SPDX_NS, oci_digest_hex(h)));
	*out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	*len = strlen(*out);
}

/* ------------------------------------------------------------ provenance */

static json_t *digest_set(const char *digest)
{
	return json_pack("{s:s}", "sha256", oci_digest_hex(digest));
}

void sbom_provenance_write(const struct sbom_provenance_in *in, char **out, size_t *len)
{
	cleanup_json json_t *st = json_object();
	json_t *ext = json_object(), *intern = json_object(), *deps = json_array();
	json_t *def = json_object(), *run = json_object();

	if (in->cog_yaml)
		json_object_set_new(ext, "cogYaml",
				    json_pack("{s:o}", "digest", digest_set(in->cog_yaml)));
	if (in->source_digest)
		json_object_set_new(ext, "source",
				    json_pack("{s:o}", "digest", digest_set(in->source_digest)));
	json_array_append_new(deps, json_pack("{s:s,s:s,s:o}", "name", "base", "uri", in->base_name,
					      "digest", digest_set(in->base_digest)));
	if (in->source_date_epoch >= 0)
		json_object_set_new(intern, "SOURCE_DATE_EPOCH",
				    json_sprintf("%lld", (long long)in->source_date_epoch));
	json_object_set_new(def, "buildType", json_string(PROV_BUILD));
	json_object_set_new(def, "externalParameters", ext);
	json_object_set_new(def, "internalParameters", intern);
	json_object_set_new(def, "resolvedDependencies", deps);
	json_object_set_new(
		run, "builder",
		json_pack("{s:s,s:{s:s}}", "id", PROV_BUILDER, "version", "pinion", PN_VERSION));
	json_object_set_new(st, "_type", json_string("https://in-toto.io/Statement/v1"));
	json_object_set_new(
		st, "subject",
		json_pack("[{s:s,s:o}]", "name", in->name, "digest", digest_set(in->digest)));
	json_object_set_new(st, "predicateType", json_string("https://slsa.dev/provenance/v1"));
	json_object_set_new(st, "predicate",
			    json_pack("{s:o,s:o}", "buildDefinition", def, "runDetails", run));
	*out = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	*len = strlen(*out);
}
