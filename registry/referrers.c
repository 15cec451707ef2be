/* referrers.c - the referrers of a manifest on a registry (OCI distribution
 * 1.1): read through the referrers API (GET /v2/<repo>/referrers/<digest>),
 * else the fallback tag `sha256-<hex>`; written as the artifacts and the
 * fallback tag's index, merged with what the registry already lists there
 * (a registry with the API answers it from the artifacts' subjects, and the
 * tag does no harm).  The layout side is oci/artifact.c. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* `ref` with the reference (tag or digest) replaced: owned */
static char *ref_with(const char *ref, const char *tag, const char *digest, struct pn_error **err)
{
	struct registry_ref r;
	char *s = NULL;

	registry_ref_init(&r);
	if (registry_ref_parse(ref, &r, err) == 0) {
		free(r.tag);
		free(r.digest);
		r.tag = tag ? xstrdup(tag) : NULL;
		r.digest = digest ? xstrdup(digest) : NULL;
		s = registry_ref_format(&r);
	}
	registry_ref_release(&r);
	return s;
}

/* GET url of t's host; 1 with the JSON index in *out, 0 on 404 (or 400/405:
 * a registry without that endpoint) */
static int get_index(struct registry_client *c, struct registry_target *t, const char *url,
		     json_t **out, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	cleanup_free char *scope = xasprintf("repository:%s:pull", t->repository);
	int rc = 0;

	req.method = "GET";
	req.url = url;
	req.accept = OCI_MT_INDEX;
	req.scope = scope;
	req.what = "referrers index";
	registry_response_init(&resp, OCI_MANIFEST_MAX);
	if (registry_http_do(c, t->host, &req, &resp, err) < 0)
		rc = -1;
	else if (resp.status == 404 || resp.status == 400 || resp.status == 405)
		rc = 0;
	else if (resp.status != 200)
		rc = registry_http_status_error(&resp, t->host->name, "get referrers", err);
	else {
		*out = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
		rc = json_is_array(json_object_get(*out, "manifests"))
			     ? 1
			     : pn_error_set(err, PN_ERR_INVALID, "`%s`: not an image index", url);
	}
	registry_response_release(&resp);
	return rc;
}

int registry_referrers_get(struct registry_client *c, const char *ref, const char *subject_digest,
			   json_t **out, struct pn_error **err)
{
	struct registry_target t;
	cleanup_free char *api = NULL, *tag_url = NULL, *tag = oci_referrers_tag(subject_digest);
	int rc;

	*out = NULL;
	if (registry_target_resolve(c, ref, &t, err) < 0)
		return -1;
	if (!t.host) {
		registry_target_release(&t);
		return pn_error_set(err, PN_ERR_UNSUPPORTED,
				    "referrers of `%s`: a layout mirror keeps none", ref);
	}
	api = xasprintf("/v2/%s/referrers/%s", t.repository, subject_digest);
	tag_url = xasprintf("/v2/%s/manifests/%s", t.repository, tag);
	rc = get_index(c, &t, api, out, err);
	if (rc == 1 && json_array_size(json_object_get(*out, "manifests")) == 0) {
		json_decref(*out); /* an empty API answer: the tag may still list some */
		*out = NULL;
		rc = 0;
	}
	if (rc == 0)
		rc = get_index(c, &t, tag_url, out, err);
	registry_target_release(&t);
	if (rc == 0)
		return pn_error_set(err, PN_ERR_NOT_FOUND, "`%s` has no referrers", ref);
	return rc < 0 ? pn_error_wrap(err, "referrers of `%s`", ref) : 0;
}

/* the index and, before it, every artifact it lists (by digest): pushed as
 * the image it would be under `tag` in l, named so for the push only (a
 * layout keeps referrers as an annotation, not an entry) */
static int push_index(struct registry_client *c, struct oci_layout *l, const char *index,
		      const char *tag, const char *dst, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	struct oci_descriptor d;
	size_t len = 0;
	int rc;

	if (oci_layout_read_blob(l, index, OCI_MANIFEST_MAX, &data, &len, err) < 0)
		return -1;
	oci_descriptor_init(&d);
	memcpy(d.digest, index, sizeof(d.digest));
	d.media_type = xstrdup(OCI_MT_INDEX);
	d.size = (int64_t)len;
	rc = oci_layout_tag(l, tag, &d, err);
	if (rc == 0) {
		rc = registry_push(c, l, tag, dst, NULL, err);
		oci_layout_untag(l, tag, NULL);
	}
	oci_descriptor_release(&d);
	return rc;
}

int registry_referrers_push(struct registry_client *c, struct oci_layout *l,
			    const char *subject_digest, const char *dst_ref, struct pn_error **err)
{
	cleanup_json json_t *mine = NULL, *theirs = NULL;
	cleanup_free char *tag = oci_referrers_tag(subject_digest);
	cleanup_free char *dst = ref_with(dst_ref, tag, NULL, err);
	struct pn_error *e = NULL;
	oci_digest_t index;
	size_t i;
	json_t *entry;

	if (!dst)
		return -1;
	if (oci_layout_referrers(l, subject_digest, &mine, NULL, &e) < 0) {
		if (e->code != PN_ERR_NOT_FOUND)
			return pn_error_propagate(err, e);
		pn_error_free(e);
		return 0; /* nothing to push */
	}
	/* what the registry lists already stays listed: merge it in locally
	 * when every artifact it names is here, else ours alone go up */
	if (registry_referrers_get(c, dst, subject_digest, &theirs, NULL) == 0) {
		json_array_foreach(json_object_get(theirs, "manifests"), i, entry)
		{
			const char *d = json_string_value(json_object_get(entry, "digest"));
			const char *t = json_string_value(json_object_get(entry, "artifactType"));
			struct oci_descriptor ad;

			if (!d || !t || !oci_digest_valid(d) || !oci_layout_has_blob(l, d))
				continue;
			oci_descriptor_init(&ad);
			memcpy(ad.digest, d, sizeof(ad.digest));
			ad.media_type = xstrdup(OCI_MT_MANIFEST);
			ad.size = json_integer_value(json_object_get(entry, "size"));
			ad.annotations = json_incref(json_object_get(entry, "annotations"));
			if (oci_layout_referrers_add(l, subject_digest, &ad, t, err) < 0) {
				oci_descriptor_release(&ad);
				return -1;
			}
			oci_descriptor_release(&ad);
		}
	}
	json_decref(mine);
	mine = NULL;
	if (oci_layout_referrers(l, subject_digest, &mine, index, err) < 0 ||
	    push_index(c, l, index, tag, dst, err) < 0)
		return pn_error_wrap(err, "referrers of `%s`", subject_digest);
	return 0;
}

int registry_referrers_pull(struct registry_client *c, const char *ref, const char *subject_digest,
			    struct oci_layout *l, struct pn_error **err)
{
	cleanup_json json_t *ix = NULL;
	struct pn_error *e = NULL;
	size_t i;
	json_t *entry;

	if (registry_referrers_get(c, ref, subject_digest, &ix, &e) < 0) {
		if (e->code == PN_ERR_NOT_FOUND || e->code == PN_ERR_UNSUPPORTED) {
			pn_error_free(e);
			return 0;
		}
		return pn_error_propagate(err, e);
	}
	json_array_foreach(json_object_get(ix, "manifests"), i, entry)
	{
		const char *d = json_string_value(json_object_get(entry, "digest"));
		const char *t = json_string_value(json_object_get(entry, "artifactType"));
		cleanup_free char *one = NULL;
		struct oci_descriptor ad;
		int rc;

		if (!d || !t || !oci_digest_valid(d))
			continue;
		one = ref_with(ref, NULL, d, err);
		oci_descriptor_init(&ad);
		rc = one ? registry_pull(c, one, l, NULL, &ad, err) : -1;
		if (rc == 0) {
			ad.annotations = json_incref(json_object_get(entry, "annotations"));
			rc = oci_layout_referrers_add(l, subject_digest, &ad, t, err);
		}
		oci_descriptor_release(&ad);
		if (rc < 0)
			return pn_error_wrap(err, "referrer `%s`", d);
	}
	return 0;
}
