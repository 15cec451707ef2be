/* build_cache_remote.c - the step cache shared through a registry (or an
 * OCI layout): --cache-from imports the entries of cache artifacts before
 * the first step, --cache-to merges this build's entries into one after it.
 *
 * The artifact (docs/build.md, "The registry cache") is an OCI 1.1 image
 * manifest with artifactType CACHE_ARTIFACT_TYPE; its config blob is the
 * entries document of cache.h, its layers are the layer blobs the entries
 * name (so the registry keeps them and a push skips what it has).  A writer
 * reads the tag, merges, pushes, waits a moment and reads the tag again:
 * when another writer's artifact replaced it without this build's entries,
 * it merges again, at most CACHE_EXPORT_TRIES times. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHE_ARTIFACT_TYPE	   "application/vnd.pinion.buildcache.v1+json"
#define CACHE_CONFIG_TYPE	   "application/vnd.pinion.buildcache.entries.v1+json"
#define CACHE_DEFAULT_TAG	   "buildcache"
#define CACHE_DEFAULT_MAX_ENTRIES  500
#define CACHE_DEFAULT_MAX_AGE_DAYS 30
#define CACHE_MAX_AGE_LIMIT	   3650
#define CACHE_MAX_ENTRIES_LIMIT	   1000 /* an artifact names at most OCI_LAYERS_MAX layers */
#define CACHE_EXPORT_TRIES	   5
#define CACHE_SETTLE_MIN_MS	   300 /* the wait before the tag is read again */
#define CACHE_SETTLE_SPREAD_MS	   500

/* ------------------------------------------------------------------ specs */

void cache_spec_release(struct cache_spec *s)
{
	free(s->ref);
	free(s->dir);
	free(s->tag);
	memset(s, 0, sizeof(*s));
}

static int spec_option(struct cache_spec *s, const char *opt, const char *text,
		       struct pn_error **err)
{
	char *end;

	if (strcmp(opt, "mode=max") == 0) {
		s->max = true;
	} else if (strcmp(opt, "mode=min") == 0) {
		s->max = false;
	} else if (strncmp(opt, "max-entries=", 12) == 0) {
		unsigned long long n = strtoull(opt + 12, &end, 10);

		if (*end || end == opt + 12 || n < 1 || n > CACHE_MAX_ENTRIES_LIMIT)
			return pn_error_set(err, PN_ERR_INVALID,
					    "cache `%s`: max-entries wants 1 to %d", text,
					    CACHE_MAX_ENTRIES_LIMIT);
		s->max_entries = (size_t)n;
	} else if (strncmp(opt, "max-age=", 8) == 0) {
		unsigned long long n = strtoull(opt + 8, &end, 10);

		if (*end || end == opt + 8 || n < 1 || n > CACHE_MAX_AGE_LIMIT)
			return pn_error_set(err, PN_ERR_INVALID,
					    "cache `%s`: max-age wants 1 to %d days", text,
					    CACHE_MAX_AGE_LIMIT);
		s->max_age_days = (int)n;
	} else {
		return pn_error_set(err, PN_ERR_INVALID,
				    "cache `%s`: unknown option `%s` (mode=min|max, max-entries=N, "
				    "max-age=DAYS)",
				    text, opt);
	}
	return 0;
}

static int spec_ref(struct cache_spec *s, const char *ref, const char *text, struct pn_error **err)
{
	struct registry_ref r;
	int rc;

	if (strncmp(ref, "oci:", 4) == 0) {
		if (oci_ref_parse_layout(ref, &s->dir, &s->tag, err) < 0)
			return pn_error_wrap(err, "cache `%s`", text);
		if (!s->tag)
			s->tag = xstrdup(CACHE_DEFAULT_TAG);
		return 0;
	}
	if (registry_location_is_layout(ref))
		return pn_error_set(err, PN_ERR_INVALID,
				    "cache `%s`: want a registry REPO:TAG or oci:DIR:TAG", text);
	registry_ref_init(&r);
	rc = registry_ref_parse(ref, &r, err);
	if (rc == 0 && r.digest)
		rc = pn_error_set(err, PN_ERR_INVALID, "cache `%s`: want a tag, not a digest",
				  text);
	if (rc == 0)
		s->ref = registry_ref_format(&r);
	registry_ref_release(&r);
	return rc < 0 ? pn_error_wrap(err, "cache `%s`", text) : 0;
}

int cache_spec_parse(const char *text, bool to, struct cache_spec *out, struct pn_error **err)
{
	cleanup_free char *copy = xstrdup(text);
	char *opts = strchr(copy, ',');
	int rc;

	memset(out, 0, sizeof(*out));
	out->max_entries = CACHE_DEFAULT_MAX_ENTRIES;
	out->max_age_days = CACHE_DEFAULT_MAX_AGE_DAYS;
	if (opts)
		*opts++ = '\0';
	rc = spec_ref(out, copy, text, err);
	while (rc == 0 && opts) {
		char *next = strchr(opts, ',');

		if (next)
			*next++ = '\0';
		if (!to)
			rc = pn_error_set(err, PN_ERR_INVALID,
					  "--cache-from `%s`: options belong to --cache-to", text);
		else
			rc = spec_option(out, opts, text, err);
		opts = next;
	}
	if (rc < 0)
		cache_spec_release(out);
	return rc;
}

/* --------------------------------------------------------------- artifacts */

struct cache_remote {
	struct registry_client *client; /* borrowed */
	struct build_cache *cache;	/* borrowed */
	struct cache_spec *from, *to;
	size_t n_from, n_to;
	struct oci_layout **from_layouts; /* per --cache-from oci: source, opened on use */
};

static const char *spec_name(const struct cache_spec *s, char *buf, size_t size)
{
	if (s->ref)
		return s->ref;
	snprintf(buf, size, "oci:%s:%s", s->dir, s->tag);
	return buf;
}

/* the entries of an artifact manifest whose config blob is in l */
static int artifact_entries(struct oci_layout *l, const char *data, size_t len, json_t **out,
			    struct pn_error **err)
{
	struct oci_manifest m;
	cleanup_free char *cfg = NULL;
	size_t cfg_len = 0;
	int rc = -1;

	if (oci_manifest_parse(data, len, &m, err) < 0)
		return -1;
	if (!m.config.media_type || strcmp(m.config.media_type, CACHE_CONFIG_TYPE) != 0)
		pn_error_set(err, PN_ERR_INVALID, "not a pinion build cache (config type `%s`)",
			     m.config.media_type ? m.config.media_type : "");
	else if (oci_layout_read_blob(l, m.config.digest, CACHE_ENTRIES_DOC_MAX, &cfg, &cfg_len,
				      err) == 0)
		rc = cache_entries_parse(cfg, cfg_len, out, err);
	oci_manifest_release(&m);
	return rc;
}

/* the config blob of a registry artifact into the cache layout */
static int registry_config_pull(struct cache_remote *r, const char *ref, const char *data,
				size_t len, struct pn_error **err)
{
	struct oci_manifest m;
	int rc;

	if (oci_manifest_parse(data, len, &m, err) < 0)
		return -1;
	/* the pull writes up to the size the (hostile) manifest gives */
	if (m.config.size < 0 || (uint64_t)m.config.size > CACHE_ENTRIES_DOC_MAX)
		rc = pn_error_set(err, PN_ERR_TOO_LARGE,
				  "cache entries: config blob of %lld bytes (at most %zu)",
				  (long long)m.config.size, CACHE_ENTRIES_DOC_MAX);
	else
		rc = registry_blob_pull(r->client, ref, &m.config, build_cache_layout(r->cache),
					err);
	oci_manifest_release(&m);
	return rc;
}

/* 1 and *entries (digest: the manifest's) when the tag exists, 0 when not */
static int store_read(struct cache_remote *r, const struct cache_spec *s, struct oci_layout *dl,
		      oci_digest_t digest, json_t **entries, struct pn_error **err)
{
	cleanup_free char *mt = NULL, *data = NULL;
	struct oci_layout *src = dl;
	struct pn_error *e = NULL;
	size_t len = 0;
	int rc;

	if (s->ref) {
		rc = registry_manifest_get(r->client, s->ref, &mt, &data, &len, digest, &e);
		if (rc == 0)
			rc = registry_config_pull(r, s->ref, data, len, &e);
		src = build_cache_layout(r->cache);
	} else {
		struct oci_descriptor d;

		oci_descriptor_init(&d);
		rc = oci_layout_resolve(dl, s->tag, &d, &e);
		if (rc == 0) {
			memcpy(digest, d.digest, sizeof(oci_digest_t));
			rc = oci_layout_read_blob(dl, d.digest, OCI_MANIFEST_MAX, &data, &len, &e);
		}
		oci_descriptor_release(&d);
	}
	if (rc < 0 && e->code == PN_ERR_NOT_FOUND && !data) {
		pn_error_free(e);
		return 0;
	}
	if (rc == 0)
		rc = artifact_entries(src, data, len, entries, &e);
	if (rc < 0) {
		pn_error_propagate(err, e);
		return -1;
	}
	return 1;
}

/* the artifact of entries stored in l (config blob, manifest blob); the
 * layer blobs are the caller's */
static int artifact_make(struct oci_layout *l, json_t *entries, struct oci_descriptor *out,
			 struct pn_error **err)
{
	size_t len = 0, n = 0;
	cleanup_free char *cfg = cache_entries_encode(entries, &len);
	cleanup_free char *text = NULL;
	cleanup_json json_t *m = json_object();
	struct oci_descriptor *layers = NULL, cd;
	json_t *arr = json_array();
	oci_digest_t cfg_digest;

	if (oci_layout_put_blob(l, cfg, len, NULL, cfg_digest, err) < 0)
		return -1;
	oci_descriptor_init(&cd);
	cd.media_type = xstrdup(CACHE_CONFIG_TYPE);
	memcpy(cd.digest, cfg_digest, sizeof(cd.digest));
	cd.size = (int64_t)len;
	cache_entries_layers(entries, &layers, &n);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, oci_descriptor_to_json(&layers[i]));
		oci_descriptor_release(&layers[i]);
	}
	free(layers);
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(OCI_MT_MANIFEST));
	json_object_set_new(m, "artifactType", json_string(CACHE_ARTIFACT_TYPE));
	json_object_set_new(m, "config", oci_descriptor_to_json(&cd));
	json_object_set_new(m, "layers", arr);
	oci_descriptor_release(&cd);
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	oci_descriptor_init(out);
	out->media_type = xstrdup(OCI_MT_MANIFEST);
	out->size = (int64_t)strlen(text);
	return oci_layout_put_blob(l, text, strlen(text), NULL, out->digest, err);
}

/* the artifact into the registry: made and tagged in the cache layout for
 * registry_push (which skips blobs the repository has and mounts those
 * another repository of the registry has), then untagged there */
static int registry_write(struct cache_remote *r, const char *dst, json_t *entries,
			  oci_digest_t out, struct pn_error **err)
{
	struct oci_layout *cl = build_cache_layout(r->cache);
	struct oci_descriptor d;
	char tag[64];
	int rc;

	snprintf(tag, sizeof(tag), "pinion-cache-export-%ld", (long)getpid());
	if (artifact_make(cl, entries, &d, err) < 0)
		return -1;
	rc = oci_layout_tag(cl, tag, &d, err);
	if (rc == 0)
		rc = registry_push(r->client, cl, tag, dst, NULL, err);
	oci_layout_untag(cl, tag, NULL);
	memcpy(out, d.digest, sizeof(oci_digest_t));
	oci_descriptor_release(&d);
	return rc;
}

/* the layer entries whose blob is in neither dl (NULL: none) nor the cache
 * layout are dropped: an artifact may not name a blob its store lacks */
static void drop_blobless(struct cache_remote *r, struct oci_layout *dl, json_t *entries)
{
	struct oci_layout *cl = build_cache_layout(r->cache);
	struct pn_strv drop = PN_STRV_INIT;
	const char *key;
	json_t *e;

	json_object_foreach(entries, key, e)
	{
		const char *dg =
			json_string_value(json_object_get(json_object_get(e, "layer"), "digest"));
		struct pn_error *er = NULL;

		if (!dg || (dl && oci_layout_has_blob(dl, dg)))
			continue;
		if (oci_layout_has_blob(cl, dg) &&
		    (!dl || oci_layout_copy_blob(cl, dl, dg, &er) == 0))
			continue;
		pn_error_free(er);
		pn_strv_push(&drop, key);
	}
	for (size_t i = 0; i < drop.n; i++)
		json_object_del(entries, drop.v[i]);
	if (drop.n)
		pn_warn("cache export: %zu entries dropped: their layers are gone", drop.n);
	pn_strv_release(&drop);
}

static int store_write(struct cache_remote *r, const struct cache_spec *s, struct oci_layout *dl,
		       json_t *entries, oci_digest_t out, struct pn_error **err)
{
	struct oci_descriptor d;
	struct pn_error *e = NULL;
	int rc;

	if (s->ref) {
		if (registry_write(r, s->ref, entries, out, &e) == 0)
			return 0;
		if (e->code != PN_ERR_NOT_FOUND) {
			pn_error_propagate(err, e);
			return -1;
		}
		/* an entry of another writer names a blob the repository lost */
		pn_debug("cache export: %s; again without foreign blobs", e->msg);
		pn_error_free(e);
		drop_blobless(r, NULL, entries);
		return registry_write(r, s->ref, entries, out, err);
	}
	drop_blobless(r, dl, entries);
	if (artifact_make(dl, entries, &d, err) < 0)
		return -1;
	rc = oci_layout_tag(dl, s->tag, &d, err);
	memcpy(out, d.digest, sizeof(oci_digest_t));
	oci_descriptor_release(&d);
	return rc;
}

/* ------------------------------------------------------------------ export */

static void settle(void)
{
	struct timespec ts;
	unsigned ms = CACHE_SETTLE_MIN_MS;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms += (unsigned)(((unsigned long)ts.tv_nsec / 1000 + (unsigned long)getpid() * 7919) %
			 CACHE_SETTLE_SPREAD_MS);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* own's entries that merged kept (max-entries may drop some) */
static json_t *kept_of(json_t *own, json_t *merged)
{
	json_t *kept = json_object(), *e;
	const char *key;

	json_object_foreach(own, key, e)
	{
		if (json_object_get(merged, key))
			json_object_set(kept, key, e);
	}
	return kept;
}

/* one round: read, merge, write, wait, read again; 1 when the tag holds
 * own's kept entries afterwards, 0 when another writer replaced them */
static int export_round(struct cache_remote *r, const struct cache_spec *s, struct oci_layout *dl,
			json_t *own, struct pn_error **err)
{
	cleanup_json json_t *cur = NULL, *kept = NULL, *after = NULL;
	oci_digest_t d0, d1, dn;
	int rc = store_read(r, s, dl, d0, &cur, err);

	if (rc < 0)
		return -1;
	if (rc == 0)
		cur = json_object();
	if (rc == 1 && cache_entries_cover(cur, own))
		return 1;
	cache_entries_merge(cur, own);
	cache_entries_expire(cur, (int64_t)time(NULL) - (int64_t)s->max_age_days * 86400);
	cache_entries_trim(cur, s->max_entries);
	kept = kept_of(own, cur);
	if (store_write(r, s, dl, cur, dn, err) < 0)
		return -1;
	settle();
	rc = store_read(r, s, dl, d1, &after, err);
	if (rc < 0)
		return -1;
	return rc == 1 && (strcmp(d1, dn) == 0 || cache_entries_cover(after, kept));
}

/* 1 when the artifact lacks some of own's entries (or is not there), 0 when
 * it has them all already: nothing is pushed then */
static int export_needed(struct cache_remote *r, const struct cache_spec *s, struct oci_layout *dl,
			 json_t *own, struct pn_error **err)
{
	cleanup_json json_t *cur = NULL;
	oci_digest_t d;
	int rc = store_read(r, s, dl, d, &cur, err);

	if (rc <= 0)
		return rc < 0 ? -1 : 1;
	/* entries in use are exported again at half their age limit, so the
	 * limit drops only the unused ones */
	if (cache_entries_cover(cur, own) &&
	    cache_entries_fresh(cur, own,
				(int64_t)time(NULL) - (int64_t)s->max_age_days * 86400 / 2)) {
		pn_debug("cache export: the artifact has every entry already");
		return 0;
	}
	return 1;
}

/* for a registry, the blobs go up first under the manifest's digest (no
 * tag), so the read-merge-write round that follows is short */
static int export_blobs(struct cache_remote *r, const struct cache_spec *s, json_t *own,
			struct pn_error **err)
{
	cleanup_json json_t *copy = json_deep_copy(own);
	oci_digest_t d;
	struct oci_descriptor md;
	cleanup_free char *dst = NULL;
	int rc;

	if (artifact_make(build_cache_layout(r->cache), copy, &md, err) < 0)
		return -1;
	memcpy(d, md.digest, sizeof(d));
	oci_descriptor_release(&md);
	dst = xasprintf("%s@%s", s->ref, d);
	rc = registry_write(r, dst, copy, d, err);
	return rc;
}

static int export_to(struct cache_remote *r, const struct cache_spec *s, json_t *own,
		     struct pn_error **err)
{
	struct oci_layout *dl = NULL;
	int need, rc = 0;

	if (!s->ref && oci_layout_open(s->dir, OCI_LAYOUT_CREATE, &dl, err) < 0)
		return -1;
	need = export_needed(r, s, dl, own, err);
	if (need > 0 && s->ref && export_blobs(r, s, own, err) < 0)
		need = -1;
	for (int i = 0; need > 0 && i < CACHE_EXPORT_TRIES && rc == 0; i++) {
		if (i)
			pn_info("cache export: another build replaced the artifact; merging again");
		rc = export_round(r, s, dl, own, err);
	}
	if (dl)
		oci_layout_free(dl);
	if (need < 0 || rc < 0)
		return -1;
	if (need > 0 && rc == 0)
		return pn_error_set(err, PN_ERR_GENERIC,
				    "the artifact kept changing: %d rounds without this build's "
				    "entries in it",
				    CACHE_EXPORT_TRIES);
	return 0;
}

/* this build's entries (mode=min: of the layers of img, and the post-build
 * results), each marked used now */
static json_t *own_entries(struct cache_remote *r, const struct cache_spec *s,
			   const struct oci_image *img)
{
	json_t *own = json_object(), *e, *copy;
	const char *key;
	int64_t now = (int64_t)time(NULL);

	json_object_foreach(build_cache_used(r->cache), key, e)
	{
		const char *dg =
			json_string_value(json_object_get(json_object_get(e, "layer"), "digest"));
		bool in_image = !dg;

		for (size_t i = 0; img && dg && i < img->manifest.n_layers; i++)
			in_image |= strcmp(img->manifest.layers[i].digest, dg) == 0;
		if (!s->max && !in_image)
			continue;
		copy = json_deep_copy(e);
		json_object_set_new(copy, "used", json_integer(now));
		json_object_set_new(own, key, copy);
	}
	return own;
}

void cache_remote_export(struct cache_remote *r, const struct oci_image *img)
{
	for (size_t i = 0; r && i < r->n_to; i++) {
		const struct cache_spec *s = &r->to[i];
		cleanup_json json_t *own = NULL;
		struct pn_error *e = NULL;
		char buf[PATH_MAX + 64];
		double t0 = build_now();

		if (!img && !s->max)
			continue; /* a failed build exports only with mode=max */
		own = own_entries(r, s, img);
		if (json_object_size(own) == 0)
			continue;
		if (export_to(r, s, own, &e) < 0) {
			pn_warn("cache export to `%s` failed: %s", spec_name(s, buf, sizeof(buf)),
				e->msg);
			pn_error_free(e);
			continue;
		}
		pn_progress_event("cache-export", NULL, "cache %s: %zu entries exported (%.1fs)",
				  spec_name(s, buf, sizeof(buf)), json_object_size(own),
				  build_now() - t0);
	}
}

/* ------------------------------------------------------------------ import */

/* a blob of an oci: source, verified by the writer (digest and size) */
static int layout_blob_copy(struct oci_layout *src, struct oci_layout *dst,
			    const struct oci_descriptor *d, struct pn_error **err)
{
	cleanup_close int fd = -1;
	struct oci_blob_writer *w;
	int64_t size = 0;
	int rc;

	if (oci_layout_open_blob(src, d->digest, &fd, &size, err) < 0)
		return -1;
	w = oci_layout_blob_begin(dst, err);
	if (!w)
		return -1;
	rc = oci_blob_writer_append_fd(w, fd, size, d->digest, NULL, NULL, err);
	if (rc == 0)
		rc = oci_blob_writer_commit(w, d->digest, d->size, NULL, err);
	oci_blob_writer_free(w);
	return rc;
}

static int fetch_blob(void *ud, json_t *entry, const struct oci_descriptor *layer,
		      struct oci_layout *dst, struct pn_error **err)
{
	struct cache_remote *r = ud;
	json_int_t i = json_integer_value(json_object_get(entry, "src"));

	if (i < 0 || (size_t)i >= r->n_from)
		PN_BUG("cache entry without its source");
	if (r->from[i].ref)
		return registry_blob_pull(r->client, r->from[i].ref, layer, dst, err);
	return layout_blob_copy(r->from_layouts[i], dst, layer, err);
}

/* the entries of --cache-from i into all (an earlier source wins a key) */
static void import_one(struct cache_remote *r, size_t i, json_t *all)
{
	const struct cache_spec *s = &r->from[i];
	cleanup_json json_t *entries = NULL;
	struct pn_error *e = NULL;
	char buf[PATH_MAX + 64], fields[64];
	oci_digest_t d;
	const char *key;
	json_t *v;
	int rc;

	if (!s->ref && oci_layout_open(s->dir, 0, &r->from_layouts[i], &e) < 0)
		rc = -1;
	else
		rc = store_read(r, s, r->from_layouts[i], d, &entries, &e);
	if (rc < 0) {
		pn_warn("cache `%s` not used: %s", spec_name(s, buf, sizeof(buf)), e->msg);
		pn_error_free(e);
		return;
	}
	json_object_foreach(entries, key, v)
	{
		json_object_set_new(v, "src", json_integer((json_int_t)i));
		if (!json_object_get(all, key))
			json_object_set(all, key, v);
	}
	snprintf(fields, sizeof(fields), "\"entries\":%zu", rc ? json_object_size(entries) : 0);
	pn_progress_event("cache-import", fields, "cache %s: %zu entries",
			  spec_name(s, buf, sizeof(buf)), rc ? json_object_size(entries) : 0);
}

static int specs_parse(const struct pn_strv *v, bool to, struct cache_spec **out, size_t *n,
		       struct pn_error **err)
{
	*out = xcalloc(v->n + 1, sizeof(**out));
	for (*n = 0; *n < v->n; (*n)++)
		if (cache_spec_parse(v->v[*n], to, &(*out)[*n], err) < 0)
			return -1;
	return 0;
}

int cache_remote_open(const struct build_opts *o, struct registry_client *c,
		      struct build_cache *cache, struct cache_remote **out, struct pn_error **err)
{
	struct cache_remote *r;
	json_t *all;

	*out = NULL;
	if (!o->cache_from.n && !o->cache_to.n)
		return 0;
	r = xcalloc(1, sizeof(*r));
	r->client = c;
	r->cache = cache;
	if (specs_parse(&o->cache_from, false, &r->from, &r->n_from, err) < 0 ||
	    specs_parse(&o->cache_to, true, &r->to, &r->n_to, err) < 0) {
		cache_remote_free(r);
		return -1;
	}
	r->from_layouts = xcalloc(r->n_from + 1, sizeof(*r->from_layouts));
	all = json_object();
	for (size_t i = 0; i < r->n_from && !o->no_cache; i++)
		import_one(r, i, all);
	build_cache_set_remote(cache, all, fetch_blob, r);
	*out = r;
	return 0;
}

void cache_remote_free(struct cache_remote *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_from; i++) {
		cache_spec_release(&r->from[i]);
		if (r->from_layouts && r->from_layouts[i])
			oci_layout_free(r->from_layouts[i]);
	}
	for (size_t i = 0; i < r->n_to; i++)
		cache_spec_release(&r->to[i]);
	free(r->from);
	free(r->to);
	free(r->from_layouts);
	free(r);
}

int build_opts_add_cache(struct build_opts *o, const char *spec, bool to, struct pn_error **err)
{
	struct cache_spec s;

	if (cache_spec_parse(spec, to, &s, err) < 0)
		return -1;
	cache_spec_release(&s);
	pn_strv_push(to ? &o->cache_to : &o->cache_from, spec);
	return 0;
}
