/* cache.c - the build cache (see cache.h) */
#include "assembler/cache.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_ENTRY_MAX ((size_t)32 << 20) /* post-build data carries the schema */

/* -------------------------------------------------------------------- keys */

void cache_key_begin(struct cache_key *k, const char *parent)
{
	k->h = oci_hasher_new();
	cache_key_add(k, "pinion-cache", "v1");
	cache_key_add(k, "parent", parent ? parent : "");
}

void cache_key_add_len(struct cache_key *k, const char *name, const void *data, size_t len)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "=%zu:", len);

	oci_hasher_update(k->h, name, strlen(name));
	oci_hasher_update(k->h, head, (size_t)n);
	oci_hasher_update(k->h, data, len);
	oci_hasher_update(k->h, "\n", 1);
}

void cache_key_add(struct cache_key *k, const char *name, const char *value)
{
	cache_key_add_len(k, name, value ? value : "", value ? strlen(value) : 0);
}

void cache_key_finish(struct cache_key *k, oci_digest_t out)
{
	oci_hasher_final(k->h, out);
	oci_hasher_free(k->h);
	k->h = NULL;
}

void cache_key_abort(struct cache_key *k)
{
	oci_hasher_free(k->h);
	k->h = NULL;
}

/* ------------------------------------------------------------------- store */

struct build_cache {
	char *dir;	/* <cache>/build */
	char *keys_dir; /* <cache>/build/keys */
	struct oci_layout *layout;
};

int build_cache_open(const char *dir, struct build_cache **out, struct pn_error **err)
{
	cleanup_free char *base = dir ? xstrdup(dir) : pn_cache_dir();
	struct build_cache *c = xcalloc(1, sizeof(*c));
	cleanup_free char *lpath = NULL;

	c->dir = pn_path_join(base, "build");
	c->keys_dir = pn_path_join(c->dir, "keys");
	lpath = pn_path_join(c->dir, "layout");
	if (pn_mkdir_p(c->keys_dir, 0755, err) < 0 ||
	    oci_layout_open(lpath, OCI_LAYOUT_CREATE, &c->layout, err) < 0) {
		build_cache_free(c);
		return pn_error_wrap(err, "open build cache `%s`", base);
	}
	*out = c;
	return 0;
}

void build_cache_free(struct build_cache *c)
{
	if (!c)
		return;
	if (c->layout)
		oci_layout_free(c->layout);
	free(c->dir);
	free(c->keys_dir);
	free(c);
}

struct oci_layout *build_cache_layout(struct build_cache *c)
{
	return c->layout;
}

const char *build_cache_dir(const struct build_cache *c)
{
	return c->dir;
}

static char *entry_path(struct build_cache *c, const char *key)
{
	return xasprintf("%s/%s.json", c->keys_dir, oci_digest_hex(key));
}

/* 1 with *out, 0 if absent or unreadable (a broken entry is a miss) */
static int entry_read(struct build_cache *c, const char *key, json_t **out)
{
	cleanup_free char *path = entry_path(c, key);
	cleanup_free char *text = NULL;
	size_t len = 0;
	struct pn_error *e = NULL;
	json_error_t jerr;
	json_t *j;

	if (pn_read_file(path, CACHE_ENTRY_MAX, &text, &len, &e) < 0) {
		if (e->code != PN_ERR_NOT_FOUND)
			pn_warn("cache entry `%s` unreadable: %s", path, e->msg);
		pn_error_free(e);
		return 0;
	}
	j = json_loadb(text, len, 0, &jerr);
	if (!j || !json_is_object(j) || json_integer_value(json_object_get(j, "v")) != 1) {
		pn_warn("cache entry `%s` is corrupt; ignoring it", path);
		json_decref(j);
		return 0;
	}
	*out = j;
	return 1;
}

static int entry_write(struct build_cache *c, const char *key, json_t *j, struct pn_error **err)
{
	cleanup_free char *path = entry_path(c, key);
	cleanup_free char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (!text)
		return pn_error_set(err, PN_ERR_GENERIC, "encode cache entry");
	if (pn_write_file_atomic(path, text, strlen(text), 0644, err) < 0)
		return pn_error_wrap(err, "write cache entry");
	return 0;
}

void cache_layer_init(struct cache_layer *e)
{
	memset(e, 0, sizeof(*e));
	oci_descriptor_init(&e->layer);
}

void cache_layer_release(struct cache_layer *e)
{
	oci_descriptor_release(&e->layer);
	free(e->created_by);
	free(e->created);
	memset(e, 0, sizeof(*e));
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool layer_from_json(json_t *j, struct cache_layer *out)
{
	json_t *l = json_object_get(j, "layer");
	const char *mt = jstr(l, "mediaType"), *dg = jstr(l, "digest");
	const char *diff = jstr(j, "diff_id");
	json_t *size = json_object_get(l, "size");

	if (!mt || !dg || !diff || !json_is_integer(size) || !oci_digest_valid(dg) ||
	    !oci_digest_valid(diff) || oci_layer_media_compression(mt) < 0)
		return false;
	out->layer.media_type = xstrdup(mt);
	memcpy(out->layer.digest, dg, OCI_DIGEST_STRLEN + 1);
	out->layer.size = json_integer_value(size);
	memcpy(out->diff_id, diff, OCI_DIGEST_STRLEN + 1);
	out->created_by = xstrdup(jstr(j, "created_by") ? jstr(j, "created_by") : "");
	out->created = jstr(j, "created") ? xstrdup(jstr(j, "created")) : NULL;
	return true;
}

void build_cache_layer_roots(const char *keys_dir, size_t max_entries, struct pn_strv *roots)
{
	cleanup_dir DIR *d = opendir(keys_dir);
	struct dirent *de;
	size_t seen = 0;

	while (d && (de = readdir(d)) && seen < max_entries) {
		cleanup_free char *path = NULL, *text = NULL;
		cleanup_json json_t *j = NULL;
		struct cache_layer e;
		struct pn_error *err = NULL;
		size_t len = 0;

		/* entry_path's names: 64 hex digits and .json */
		if (strspn(de->d_name, "0123456789abcdef") != 64 ||
		    strcmp(de->d_name + 64, ".json"))
			continue;
		seen++;
		path = pn_path_join(keys_dir, de->d_name);
		if (pn_read_file(path, CACHE_ENTRY_MAX, &text, &len, &err) < 0) {
			pn_debug("cache entry `%s` skipped: %s", path, err->msg);
			pn_error_free(err);
			continue;
		}
		j = json_loadb(text, len, 0, NULL);
		cache_layer_init(&e);
		if (json_is_object(j) && layer_from_json(j, &e))
			pn_strv_push(roots, e.layer.digest);
		cache_layer_release(&e);
	}
}

int build_cache_get_layer(struct build_cache *c, const char *key, struct cache_layer *out,
			  struct pn_error **err)
{
	cleanup_json json_t *j = NULL;

	(void)err;
	cache_layer_init(out);
	if (entry_read(c, key, &j) <= 0)
		return 0;
	if (!layer_from_json(j, out)) {
		cache_layer_release(out);
		return 0;
	}
	if (!oci_layout_has_blob(c->layout, out->layer.digest)) {
		cache_layer_release(out);
		return 0;
	}
	return 1;
}

int build_cache_put_layer(struct build_cache *c, const char *key, const struct cache_layer *e,
			  struct pn_error **err)
{
	cleanup_json json_t *j = json_object();

	json_object_set_new(j, "v", json_integer(1));
	json_object_set_new(j, "layer", oci_descriptor_to_json(&e->layer));
	json_object_set_new(j, "diff_id", json_string(e->diff_id));
	json_object_set_new(j, "created_by", json_string(e->created_by ? e->created_by : ""));
	if (e->created)
		json_object_set_new(j, "created", json_string(e->created));
	return entry_write(c, key, j, err);
}

int build_cache_get_data(struct build_cache *c, const char *key, json_t **out,
			 struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	json_t *d;

	(void)err;
	if (entry_read(c, key, &j) <= 0)
		return 0;
	d = json_object_get(j, "data");
	if (!json_is_object(d))
		return 0;
	*out = json_incref(d);
	return 1;
}

int build_cache_put_data(struct build_cache *c, const char *key, json_t *data,
			 struct pn_error **err)
{
	cleanup_json json_t *j = json_object();

	json_object_set_new(j, "v", json_integer(1));
	json_object_set(j, "data", data);
	return entry_write(c, key, j, err);
}
