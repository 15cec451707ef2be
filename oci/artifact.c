/* artifact.c - OCI 1.1 artifacts and referrers (see oci.h): an artifact
 * manifest (the empty config, one blob, a subject) and the referrers index
 * of a manifest, kept in a layout under the distribution spec's fallback tag
 * `sha256-<hex>` as a registry without the referrers API keeps it. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY_JSON "{}"

static json_t *desc_json(const char *media_type, const char *digest, int64_t size)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", media_type, "digest", digest, "size",
			 (json_int_t)size);
}

int oci_artifact_store(struct oci_layout *l, const struct oci_artifact *a,
		       struct oci_descriptor *out, struct pn_error **err)
{
	cleanup_json json_t *m = json_object();
	cleanup_free char *text = NULL;
	oci_digest_t empty, blob, man;
	json_t *layer;

	if (oci_layout_put_blob(l, EMPTY_JSON, 2, NULL, empty, err) < 0 ||
	    oci_layout_put_blob(l, a->data, a->len, NULL, blob, err) < 0)
		return pn_error_wrap(err, "store artifact `%s`", a->artifact_type);
	layer = desc_json(a->media_type, blob, (int64_t)a->len);
	if (a->title)
		json_object_set_new(layer, "annotations",
				    json_pack("{s:s}", "org.opencontainers.image.title", a->title));
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(OCI_MT_MANIFEST));
	json_object_set_new(m, "artifactType", json_string(a->artifact_type));
	json_object_set_new(m, "config", desc_json(OCI_MT_EMPTY, empty, 2));
	json_object_set_new(m, "layers", json_pack("[o]", layer));
	json_object_set_new(
		m, "subject",
		desc_json(a->subject->media_type ? a->subject->media_type : OCI_MT_MANIFEST,
			  a->subject->digest, a->subject->size));
	if (a->annotations && json_object_size(a->annotations))
		json_object_set_new(m, "annotations", json_deep_copy(a->annotations));
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	if (oci_layout_put_blob(l, text, strlen(text), NULL, man, err) < 0)
		return pn_error_wrap(err, "store artifact `%s`", a->artifact_type);
	oci_descriptor_init(out);
	out->media_type = xstrdup(OCI_MT_MANIFEST);
	memcpy(out->digest, man, sizeof(man));
	out->size = (int64_t)strlen(text);
	if (a->annotations && json_object_size(a->annotations))
		out->annotations = json_deep_copy(a->annotations);
	return 0;
}

char *oci_referrers_tag(const char *subject_digest)
{
	return xasprintf("sha256-%s", oci_digest_hex(subject_digest));
}

static int entry_cmp(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;

	return strcmp(json_string_value(json_object_get(a, "digest")),
		      json_string_value(json_object_get(b, "digest")));
}

json_t *oci_referrers_index_add(const json_t *old, const struct oci_descriptor *d,
				const char *artifact_type)
{
	json_t *list = json_object_get(old, "manifests");
	json_t *e, *entry = desc_json(d->media_type ? d->media_type : OCI_MT_MANIFEST, d->digest,
				      d->size);
	json_t **v = xcalloc(json_array_size(list) + 2, sizeof(*v));
	size_t i, n = 0;

	json_object_set_new(entry, "artifactType", json_string(artifact_type));
	if (d->annotations && json_object_size(d->annotations))
		json_object_set_new(entry, "annotations", json_deep_copy(d->annotations));
	json_array_foreach(list, i, e)
	{
		const char *dg = json_string_value(json_object_get(e, "digest"));

		if (json_is_object(e) && dg && oci_digest_valid(dg) && strcmp(dg, d->digest) != 0)
			v[n++] = json_incref(e);
	}
	v[n++] = entry;
	qsort(v, n, sizeof(*v), entry_cmp);
	list = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
	return json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", OCI_MT_INDEX,
			 "manifests", list);
}

/* the referrers index an index.json entry of subject names: 0, or
 * PN_ERR_NOT_FOUND */
static int referrers_entry(struct oci_layout *l, const char *subject_digest, oci_digest_t out,
			   struct pn_error **err)
{
	struct oci_layout_entry *e = NULL;
	size_t n = 0;
	int rc = -1;

	if (oci_layout_list(l, &e, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc < 0; i++) {
		const char *v = e[i].desc.annotations
					? json_string_value(json_object_get(e[i].desc.annotations,
									    OCI_ANNOT_REFERRERS))
					: NULL;

		if (v && oci_digest_valid(v) && strcmp(e[i].desc.digest, subject_digest) == 0) {
			memcpy(out, v, sizeof(oci_digest_t));
			rc = 0;
		}
	}
	oci_layout_entries_free(e, n);
	if (rc < 0)
		pn_error_set(err, PN_ERR_NOT_FOUND, "no referrers of `%s` in `%s`", subject_digest,
			     oci_layout_path(l));
	return rc;
}

int oci_layout_referrers(struct oci_layout *l, const char *subject_digest, json_t **out,
			 oci_digest_t index_digest, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	oci_digest_t d;
	json_error_t jerr;
	size_t len;

	if (referrers_entry(l, subject_digest, d, err) < 0 ||
	    oci_layout_read_blob(l, d, OCI_MANIFEST_MAX, &data, &len, err) < 0)
		return -1;
	*out = json_loadb(data, len, 0, &jerr);
	if (!json_is_array(json_object_get(*out, "manifests"))) {
		json_decref(*out);
		*out = NULL;
		return pn_error_set(err, PN_ERR_INVALID, "referrers index `%s`: not an index", d);
	}
	if (index_digest)
		memcpy(index_digest, d, sizeof(d));
	return 0;
}

/* store the index document and list it as the subject's referrers */
static int referrers_put(struct oci_layout *l, const char *subject_digest, const json_t *ix,
			 struct pn_error **err)
{
	cleanup_free char *text = json_dumps(ix, JSON_COMPACT | JSON_SORT_KEYS);
	struct oci_descriptor d;
	int rc;

	oci_descriptor_init(&d);
	rc = oci_layout_put_blob(l, text, strlen(text), NULL, d.digest, err);
	d.media_type = xstrdup(OCI_MT_INDEX);
	d.size = (int64_t)strlen(text);
	if (rc == 0)
		rc = oci_layout_annotate(l, subject_digest, OCI_ANNOT_REFERRERS, d.digest, err);
	oci_descriptor_release(&d);
	return rc;
}

/* add the entries of ix to subject's referrers in l */
static int referrers_merge(struct oci_layout *l, const char *subject_digest, const json_t *ix,
			   struct pn_error **err)
{
	cleanup_json json_t *cur = NULL;
	struct pn_error *e = NULL;
	size_t i;
	json_t *entry;

	if (oci_layout_referrers(l, subject_digest, &cur, NULL, &e) < 0) {
		if (e->code != PN_ERR_NOT_FOUND)
			return pn_error_propagate(err, e);
		pn_error_free(e);
	}
	json_array_foreach(json_object_get(ix, "manifests"), i, entry)
	{
		struct oci_descriptor d;
		const char *t = json_string_value(json_object_get(entry, "artifactType"));
		json_t *next;

		const char *dg = json_string_value(json_object_get(entry, "digest"));

		oci_descriptor_init(&d);
		if (!dg || oci_digest_parse(dg, d.digest, err) < 0)
			return pn_error_wrap(err, "referrers of `%s`", subject_digest);
		d.media_type = xstrdup(OCI_MT_MANIFEST);
		d.size = json_integer_value(json_object_get(entry, "size"));
		d.annotations = json_incref(json_object_get(entry, "annotations"));
		next = oci_referrers_index_add(cur, &d, t ? t : OCI_MT_EMPTY);
		oci_descriptor_release(&d);
		json_decref(cur);
		cur = next;
	}
	return referrers_put(l, subject_digest, cur, err);
}

int oci_layout_referrers_add(struct oci_layout *l, const char *subject_digest,
			     const struct oci_descriptor *artifact, const char *artifact_type,
			     struct pn_error **err)
{
	cleanup_json json_t *old = NULL, *ix = NULL;
	struct pn_error *e = NULL;

	if (oci_layout_referrers(l, subject_digest, &old, NULL, &e) < 0) {
		if (e->code != PN_ERR_NOT_FOUND)
			return pn_error_propagate(err, e);
		pn_error_free(e);
	}
	ix = oci_referrers_index_add(old, artifact, artifact_type);
	return referrers_put(l, subject_digest, ix, err);
}

const char *oci_referrers_find(const json_t *index, const char *artifact_type)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(index, "manifests"), i, e)
	{
		const char *t = json_string_value(json_object_get(e, "artifactType"));
		const char *d = json_string_value(json_object_get(e, "digest"));

		if (t && d && strcmp(t, artifact_type) == 0 && oci_digest_valid(d))
			return d;
	}
	return NULL;
}

int oci_artifact_read(struct oci_layout *l, const char *digest, size_t max, char **out, size_t *len,
		      struct pn_error **err)
{
	cleanup_free char *data = NULL;
	struct oci_manifest m;
	size_t mlen;
	int rc;

	if (oci_layout_read_blob(l, digest, OCI_MANIFEST_MAX, &data, &mlen, err) < 0 ||
	    oci_manifest_parse(data, mlen, &m, err) < 0)
		return pn_error_wrap(err, "artifact `%s`", digest);
	if (m.n_layers != 1)
		rc = pn_error_set(err, PN_ERR_UNSUPPORTED, "artifact `%s`: %zu blobs, not one",
				  digest, m.n_layers);
	else
		rc = oci_layout_read_blob(l, m.layers[0].digest, max, out, len, err);
	oci_manifest_release(&m);
	return rc;
}

int oci_layout_copy_referrers(struct oci_layout *src, struct oci_layout *dst,
			      const char *subject_digest, struct pn_error **err)
{
	cleanup_json json_t *ix = NULL;
	struct pn_error *e = NULL;
	size_t i;
	json_t *entry;
	int rc = 0;

	if (oci_layout_referrers(src, subject_digest, &ix, NULL, &e) < 0) {
		if (e->code == PN_ERR_NOT_FOUND) {
			pn_error_free(e);
			return 0; /* none */
		}
		return pn_error_propagate(err, e);
	}
	json_array_foreach(json_object_get(ix, "manifests"), i, entry)
	{
		const char *d = json_string_value(json_object_get(entry, "digest"));
		cleanup_free char *data = NULL;
		struct oci_manifest m;
		size_t len;

		if (!d || oci_layout_read_blob(src, d, OCI_MANIFEST_MAX, &data, &len, err) < 0 ||
		    oci_manifest_parse(data, len, &m, err) < 0)
			return pn_error_wrap(err, "referrer of `%s`", subject_digest);
		rc = oci_layout_copy_blob(src, dst, m.config.digest, err);
		for (size_t k = 0; rc == 0 && k < m.n_layers; k++)
			rc = oci_layout_copy_blob(src, dst, m.layers[k].digest, err);
		if (rc == 0)
			rc = oci_layout_copy_blob(src, dst, d, err);
		oci_manifest_release(&m);
		if (rc < 0)
			return -1;
	}
	return referrers_merge(dst, subject_digest, ix, err);
}
