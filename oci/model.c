/* model.c - descriptors, manifests and indexes (OCI and Docker v2), written
 * back as canonical OCI JSON. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ descriptor */
void oci_descriptor_init(struct oci_descriptor *d)
{
	memset(d, 0, sizeof(*d));
}

static void platform_free(struct oci_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p);
}

void oci_descriptor_release(struct oci_descriptor *d)
{
	free(d->media_type);
	json_decref(d->annotations);
	platform_free(d->platform);
	oci_descriptor_init(d);
}

void oci_descriptor_copy(struct oci_descriptor *out, const struct oci_descriptor *in)
{
	oci_descriptor_init(out);
	out->media_type = in->media_type ? xstrdup(in->media_type) : NULL;
	memcpy(out->digest, in->digest, sizeof(out->digest));
	out->size = in->size;
	out->annotations = in->annotations ? json_deep_copy(in->annotations) : NULL;
	if (in->platform) {
		out->platform = xcalloc(1, sizeof(*out->platform));
		out->platform->os = in->platform->os ? xstrdup(in->platform->os) : NULL;
		out->platform->architecture =
			in->platform->architecture ? xstrdup(in->platform->architecture) : NULL;
		out->platform->variant =
			in->platform->variant ? xstrdup(in->platform->variant) : NULL;
	}
}

/* Docker media types written as their OCI equivalents */
static const char *media_type_out(const char *mt)
{
	static const char *const map[][2] = {
		{DOCKER_MT_MANIFEST, OCI_MT_MANIFEST},
		{DOCKER_MT_LIST, OCI_MT_INDEX},
		{DOCKER_MT_CONFIG, OCI_MT_CONFIG},
		{DOCKER_MT_LAYER_GZIP, OCI_MT_LAYER_GZIP},
		{"application/vnd.docker.image.rootfs.diff.tar", OCI_MT_LAYER},
	};

	for (size_t i = 0; mt && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(mt, map[i][0]) == 0)
			return map[i][1];
	return mt;
}

/* keep_media_type: write the media type as it is (an index entry must name the
 * type of the bytes stored, e.g. a Docker manifest pulled as served); else
 * Docker types become their OCI equivalents (descriptors inside a manifest
 * pinion writes). */
static json_t *descriptor_json(const struct oci_descriptor *d, bool keep_media_type)
{
	json_t *j = json_object();

	json_object_set_new(
		j, "mediaType",
		json_string(keep_media_type ? d->media_type : media_type_out(d->media_type)));
	json_object_set_new(j, "digest", json_string(d->digest));
	json_object_set_new(j, "size", json_integer(d->size));
	if (d->annotations && json_object_size(d->annotations))
		json_object_set(j, "annotations", d->annotations);
	if (d->platform) {
		json_t *p = json_object();

		json_object_set_new(p, "os", json_string(d->platform->os ? d->platform->os : ""));
		json_object_set_new(
			p, "architecture",
			json_string(d->platform->architecture ? d->platform->architecture : ""));
		if (d->platform->variant)
			json_object_set_new(p, "variant", json_string(d->platform->variant));
		json_object_set_new(j, "platform", p);
	}
	return j;
}

json_t *oci_descriptor_to_json(const struct oci_descriptor *d)
{
	return descriptor_json(d, false);
}

static int platform_from_json(json_t *p, const char *what, struct oci_platform **out,
			      struct pn_error **err)
{
	struct oci_platform *pl = xcalloc(1, sizeof(*pl));

	if (!json_is_object(p)) {
		free(pl);
		return pn_error_set(err, PN_ERR_INVALID, "%s: `platform` is not an object", what);
	}
	if (oci_json_opt_string(p, "os", what, &pl->os, err) < 0 ||
	    oci_json_opt_string(p, "architecture", what, &pl->architecture, err) < 0 ||
	    oci_json_opt_string(p, "variant", what, &pl->variant, err) < 0) {
		platform_free(pl);
		return -1;
	}
	*out = pl;
	return 0;
}

int oci_descriptor_from_json(json_t *j, const char *what, struct oci_descriptor *out,
			     struct pn_error **err)
{
	json_t *v;

	oci_descriptor_init(out);
	if (!json_is_object(j))
		return pn_error_set(err, PN_ERR_INVALID, "%s: not an object", what);
	v = json_object_get(j, "mediaType");
	if (!json_is_string(v))
		return pn_error_set(err, PN_ERR_INVALID, "%s: missing `mediaType`", what);
	v = json_object_get(j, "digest");
	if (!json_is_string(v))
		return pn_error_set(err, PN_ERR_INVALID, "%s: missing `digest`", what);
	if (oci_digest_parse(json_string_value(v), out->digest, err) < 0)
		return pn_error_wrap(err, "%s", what);
	v = json_object_get(j, "size");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return pn_error_set(err, PN_ERR_INVALID,
				    "%s: `size` is missing or not a non-negative integer", what);
	out->size = json_integer_value(v);
	out->media_type = xstrdup(json_string_value(json_object_get(j, "mediaType")));
	if (oci_json_opt_str_object(j, "annotations", what, &out->annotations, err) < 0)
		goto fail;
	v = json_object_get(j, "platform");
	if (v && !json_is_null(v) && platform_from_json(v, what, &out->platform, err) < 0)
		goto fail;
	return 0;
fail:
	oci_descriptor_release(out);
	return -1;
}

/* -------------------------------------------------------------- manifest */
void oci_manifest_init(struct oci_manifest *m)
{
	memset(m, 0, sizeof(*m));
	oci_descriptor_init(&m->config);
}

void oci_manifest_release(struct oci_manifest *m)
{
	free(m->media_type);
	oci_descriptor_release(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		oci_descriptor_release(&m->layers[i]);
	free(m->layers);
	json_decref(m->annotations);
	oci_manifest_init(m);
}

void oci_manifest_add_layer(struct oci_manifest *m, const struct oci_descriptor *d)
{
	m->layers = xrealloc(m->layers, st_mult(m->n_layers + 1, sizeof(*m->layers)));
	oci_descriptor_copy(&m->layers[m->n_layers++], d);
}

static int check_schema_version(json_t *j, const char *what, struct pn_error **err)
{
	json_t *v = json_object_get(j, "schemaVersion");

	if (!json_is_integer(v))
		return pn_error_set(err, PN_ERR_INVALID, "%s: missing `schemaVersion`", what);
	if (json_integer_value(v) != 2)
		return pn_error_set(err, PN_ERR_UNSUPPORTED,
				    "%s: schemaVersion %lld is not supported (only 2)", what,
				    (long long)json_integer_value(v));
	return 0;
}

/* media type equality ignoring parameters ("; charset=utf-8") */
static bool mt_is(const char *mt, const char *want)
{
	size_t n = strcspn(mt, "; \t");

	return n == strlen(want) && strncmp(mt, want, n) == 0;
}

static bool is_manifest_type(const char *mt)
{
	return mt_is(mt, OCI_MT_MANIFEST) || mt_is(mt, DOCKER_MT_MANIFEST);
}

static bool is_index_type(const char *mt)
{
	return mt_is(mt, OCI_MT_INDEX) || mt_is(mt, DOCKER_MT_LIST);
}

/* an array of descriptors, doc.field, at most max of them; *n counts those
 * parsed so far (so a release after a failure frees them) */
static int descriptors_from_json(json_t *arr, const char *doc, const char *field, size_t max,
				 struct oci_descriptor **out, size_t *n, struct pn_error **err)
{
	size_t i;
	json_t *it;

	if (!json_is_array(arr))
		return pn_error_set(err, PN_ERR_INVALID, "%s: `%s` is missing or not an array", doc,
				    field);
	if (json_array_size(arr) > max)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "%s: %zu %s (limit %zu)", doc,
				    json_array_size(arr), field, max);
	*out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
	json_array_foreach(arr, i, it)
	{
		char what[48];

		snprintf(what, sizeof(what), "%s: %s[%zu]", doc, field, i);
		if (oci_descriptor_from_json(it, what, &(*out)[i], err) < 0)
			return -1;
		*n = i + 1;
	}
	return 0;
}

/* the JSON of a manifest or an index (doc) after the checks both share: the
 * size limit, schemaVersion 2, a mediaType that is a string is_type accepts;
 * *media_type gets it, or default_mt where it is absent */
static json_t *doc_load(const char *data, size_t len, const char *doc,
			bool (*is_type)(const char *), const char *default_mt, char **media_type,
			struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	const char *mt;

	if (len > OCI_MANIFEST_MAX) {
		pn_error_set(err, PN_ERR_TOO_LARGE, "%s of %zu bytes (limit %zu)", doc, len,
			     OCI_MANIFEST_MAX);
		return NULL;
	}
	j = oci_json_load(data, len, doc, err);
	if (!j || check_schema_version(j, doc, err) < 0)
		return NULL;
	mt = json_string_value(json_object_get(j, "mediaType"));
	if (json_object_get(j, "mediaType") && !mt) {
		pn_error_set(err, PN_ERR_INVALID, "%s: `mediaType` is not a string", doc);
		return NULL;
	}
	if (mt && !is_type(mt)) {
		pn_error_set(err, PN_ERR_UNSUPPORTED, "%s: unsupported media type `%s`", doc, mt);
		return NULL;
	}
	*media_type = xstrdup(mt ? mt : default_mt);
	return steal_pointer(&j);
}

int oci_manifest_parse(const char *data, size_t len, struct oci_manifest *out,
		       struct pn_error **err)
{
	cleanup_json json_t *j = NULL;

	oci_manifest_init(out);
	j = doc_load(data, len, "manifest", is_manifest_type, OCI_MT_MANIFEST, &out->media_type,
		     err);
	if (!j)
		return -1;
	if (oci_descriptor_from_json(json_object_get(j, "config"), "manifest: config", &out->config,
				     err) < 0 ||
	    descriptors_from_json(json_object_get(j, "layers"), "manifest", "layers",
				  OCI_LAYERS_MAX, &out->layers, &out->n_layers, err) < 0 ||
	    oci_json_opt_str_object(j, "annotations", "manifest", &out->annotations, err) < 0) {
		oci_manifest_release(out);
		return -1;
	}
	return 0;
}

int oci_manifest_to_json(const struct oci_manifest *m, char **out, size_t *len,
			 struct pn_error **err)
{
	cleanup_json json_t *j = json_object();
	json_t *layers = json_array();

	json_object_set_new(j, "schemaVersion", json_integer(2));
	json_object_set_new(j, "mediaType", json_string(OCI_MT_MANIFEST));
	json_object_set_new(j, "config", oci_descriptor_to_json(&m->config));
	for (size_t i = 0; i < m->n_layers; i++)
		json_array_append_new(layers, oci_descriptor_to_json(&m->layers[i]));
	json_object_set_new(j, "layers", layers);
	if (m->annotations && json_object_size(m->annotations))
		json_object_set(j, "annotations", m->annotations);
	return oci_json_dump(j, out, len, err);
}

/* ----------------------------------------------------------------- index */
void oci_index_init(struct oci_index *ix)
{
	memset(ix, 0, sizeof(*ix));
}

void oci_index_release(struct oci_index *ix)
{
	free(ix->media_type);
	for (size_t i = 0; i < ix->n_manifests; i++)
		oci_descriptor_release(&ix->manifests[i]);
	free(ix->manifests);
	json_decref(ix->annotations);
	oci_index_init(ix);
}

int oci_index_parse(const char *data, size_t len, struct oci_index *out, struct pn_error **err)
{
	cleanup_json json_t *j = NULL;

	oci_index_init(out);
	j = doc_load(data, len, "index", is_index_type, OCI_MT_INDEX, &out->media_type, err);
	if (!j)
		return -1;
	if (descriptors_from_json(json_object_get(j, "manifests"), "index", "manifests",
				  OCI_INDEX_MAX, &out->manifests, &out->n_manifests, err) < 0 ||
	    oci_json_opt_str_object(j, "annotations", "index", &out->annotations, err) < 0) {
		oci_index_release(out);
		return -1;
	}
	return 0;
}

int oci_index_to_json(const struct oci_index *ix, char **out, size_t *len, struct pn_error **err)
{
	cleanup_json json_t *j = json_object();
	json_t *ms = json_array();

	json_object_set_new(j, "schemaVersion", json_integer(2));
	json_object_set_new(j, "mediaType", json_string(OCI_MT_INDEX));
	for (size_t i = 0; i < ix->n_manifests; i++)
		json_array_append_new(ms, descriptor_json(&ix->manifests[i], true));
	json_object_set_new(j, "manifests", ms);
	if (ix->annotations && json_object_size(ix->annotations))
		json_object_set(j, "annotations", ix->annotations);
	return oci_json_dump(j, out, len, err);
}

static bool platform_matches(const struct oci_platform *p, const char *os, const char *arch,
			     const char *variant)
{
	if (!p || !p->os || !p->architecture)
		return false;
	if (strcmp(p->os, os) != 0 || strcmp(p->architecture, arch) != 0)
		return false;
	return !variant || (p->variant && strcmp(p->variant, variant) == 0);
}

int oci_index_select_platform(const struct oci_index *ix, const char *platform,
			      const struct oci_descriptor **out, struct pn_error **err)
{
	cleanup_free char *copy = xstrdup(platform ? platform : "linux/amd64");
	char *arch = strchr(copy, '/'), *variant;
	cleanup_buf struct pn_buf have = PN_BUF_INIT;

	if (!arch || !arch[1] || arch == copy)
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid platform `%s`: expected OS/ARCH[/VARIANT]", platform);
	*arch++ = '\0';
	variant = strchr(arch, '/');
	if (variant)
		*variant++ = '\0';
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct oci_platform *p = ix->manifests[i].platform;

		if (platform_matches(p, copy, arch, variant)) {
			*out = &ix->manifests[i];
			return 0;
		}
		if (p && p->os && p->architecture)
			pn_buf_printf(&have, NULL, "%s%s/%s%s%s", have.len ? ", " : "", p->os,
				      p->architecture, p->variant ? "/" : "",
				      p->variant ? p->variant : "");
	}
	pn_error_set(err, PN_ERR_NOT_FOUND, "no manifest for platform `%s` in the index (has: %s)",
		     platform ? platform : "linux/amd64", have.len ? have.data : "none");
	return -1;
}

int oci_doc_kind(const char *media_type, const char *data, size_t len, enum oci_doc_kind *out,
		 struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	const char *mt = media_type;

	if (!mt || !*mt) {
		j = json_loadb(data, len, 0, NULL);
		mt = j ? json_string_value(json_object_get(j, "mediaType")) : NULL;
		if (!mt && j) {
			if (json_object_get(j, "manifests")) {
				*out = OCI_DOC_INDEX;
				return 0;
			}
			if (json_object_get(j, "layers") || json_object_get(j, "config")) {
				*out = OCI_DOC_MANIFEST;
				return 0;
			}
		}
		if (!mt)
			return pn_error_set(err, PN_ERR_UNSUPPORTED,
					    "document is neither a manifest nor an index");
	}
	if (is_manifest_type(mt))
		*out = OCI_DOC_MANIFEST;
	else if (is_index_type(mt))
		*out = OCI_DOC_INDEX;
	else
		return pn_error_set(err, PN_ERR_UNSUPPORTED, "unsupported media type `%s`", mt);
	return 0;
}
