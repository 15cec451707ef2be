/* cache.c - the build cache (see cache.h) */
#include "assembler/cache.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	json_t *used;	/* key -> shared entry: this process's hits and puts */
	json_t *remote; /* imported entries, or NULL */
	build_cache_fetch_fn fetch;
	void *fetch_ud;
	size_t remote_hits, remote_refused;
};

int build_cache_open(const char *dir, struct build_cache **out, struct pn_error **err)
{
	cleanup_free char *base = dir ? xstrdup(dir) : pn_cache_dir();
	struct build_cache *c = xcalloc(1, sizeof(*c));
	cleanup_free char *lpath = NULL;

	c->dir = pn_path_join(base, "build");
	c->keys_dir = pn_path_join(c->dir, "keys");
	c->used = json_object();
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
	json_decref(c->used);
	json_decref(c->remote);
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

/* read an entry file: a regular file (or a symlink to one) only.  O_NONBLOCK:
 * a FIFO or a device in keys/ is refused at once instead of hanging the
 * build or gc (which holds the cache exclusively meanwhile). */
static int entry_file_read(const char *path, char **text, size_t *len, struct pn_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", path);
	if (fstat(fd, &st) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", path);
	if (!S_ISREG(st.st_mode))
		return pn_error_set(err, PN_ERR_INVALID, "`%s` is not a regular file", path);
	return pn_read_fd(fd, path, CACHE_ENTRY_MAX, text, len, err);
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

	if (entry_file_read(path, &text, &len, &e) < 0) {
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

/* a hit: the entry's mtime says when it was last used (`pinion gc
 * --max-age`, `--keep-storage`).  Best effort: in a read-only cache, or on an
 * entry of another owner, it keeps its time and the build goes on.  An entry
 * that is a symlink is touched itself, never what it names. */
static void entry_touch(struct build_cache *c, const char *key)
{
	cleanup_free char *path = entry_path(c, key);

	if (utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW) < 0)
		pn_debug("cache entry `%s`: last use not recorded: %s", path, strerror(errno));
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

/* the shared form of a layer entry (no "v") */
static json_t *layer_to_json(const struct cache_layer *e)
{
	json_t *j = json_object();

	json_object_set_new(j, "layer", oci_descriptor_to_json(&e->layer));
	json_object_set_new(j, "diff_id", json_string(e->diff_id));
	json_object_set_new(j, "created_by", json_string(e->created_by ? e->created_by : ""));
	if (e->created)
		json_object_set_new(j, "created", json_string(e->created));
	return j;
}

static void note_used_layer(struct build_cache *c, const char *key, const struct cache_layer *e)
{
	json_object_set_new(c->used, key, layer_to_json(e));
}

static void note_used_data(struct build_cache *c, const char *key, json_t *data)
{
	json_t *j = json_object();

	json_object_set_new(j, "data", json_deep_copy(data));
	json_object_set_new(c->used, key, j);
}

void build_cache_entries_scan(const char *keys_dir, size_t max_entries, build_cache_entry_fn fn,
			      void *ud)
{
	cleanup_dir DIR *d = opendir(keys_dir);
	struct dirent *de;
	size_t seen = 0;

	while (d && (de = readdir(d)) && seen < max_entries) {
		cleanup_free char *path = NULL, *text = NULL;
		cleanup_json json_t *j = NULL;
		struct cache_layer e;
		struct pn_error *err = NULL;
		struct stat st;
		size_t len = 0;

		/* entry_path's names: 64 hex digits and .json */
		if (strspn(de->d_name, "0123456789abcdef") != 64 ||
		    strcmp(de->d_name + 64, ".json") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		seen++;
		path = pn_path_join(keys_dir, de->d_name);
		if (entry_file_read(path, &text, &len, &err) < 0) {
			pn_debug("cache entry `%s` unreadable: %s", path, err->msg);
			pn_error_free(err);
		} else {
			j = json_loadb(text, len, 0, NULL);
		}
		cache_layer_init(&e);
		fn(ud, de->d_name, &st,
		   json_is_object(j) && layer_from_json(j, &e) ? e.layer.digest : NULL);
		cache_layer_release(&e);
	}
}

static void add_root(void *ud, const char *name, const struct stat *st, const char *layer)
{
	(void)name, (void)st;
	if (layer)
		pn_strv_push(ud, layer);
}

void build_cache_layer_roots(const char *keys_dir, size_t max_entries, struct pn_strv *roots)
{
	build_cache_entries_scan(keys_dir, max_entries, add_root, roots);
}

/* ------------------------------------------------------ imported entries */

void build_cache_set_remote(struct build_cache *c, json_t *entries, build_cache_fetch_fn fetch,
			    void *ud)
{
	json_decref(c->remote);
	c->remote = entries;
	c->fetch = fetch;
	c->fetch_ud = ud;
}

json_t *build_cache_used(struct build_cache *c)
{
	return c->used;
}

void build_cache_remote_stats(const struct build_cache *c, size_t *hits, size_t *refused)
{
	*hits = c->remote_hits;
	*refused = c->remote_refused;
}

static int remote_refuse(struct build_cache *c, const char *key, struct pn_error *e)
{
	pn_warn("cache entry %.19s from --cache-from is not used (a miss): %s", key, e->msg);
	pn_error_free(e);
	c->remote_refused++;
	return 0;
}

/* the blob of an imported entry in the layout, its size and diff_id checked */
static int remote_blob(struct build_cache *c, json_t *entry, const struct cache_layer *l,
		       struct pn_error **err)
{
	cleanup_close int fd = -1;
	int64_t size = -1;

	if (!oci_layout_has_blob(c->layout, l->layer.digest)) {
		if (c->fetch(c->fetch_ud, entry, &l->layer, c->layout, err) < 0)
			return pn_error_wrap(err, "fetch layer `%s`", l->layer.digest);
	}
	if (oci_layout_open_blob(c->layout, l->layer.digest, &fd, &size, err) < 0)
		return -1;
	if (size != l->layer.size)
		return pn_error_set(err, PN_ERR_DIGEST,
				    "layer `%s` has %lld bytes, the entry says %lld",
				    l->layer.digest, (long long)size, (long long)l->layer.size);
	return oci_layer_verify_diff_id(c->layout, l->layer.digest, l->diff_id, err);
}

static int remote_get_layer(struct build_cache *c, const char *key, struct cache_layer *out)
{
	json_t *entry = c->remote ? json_object_get(c->remote, key) : NULL;
	struct pn_error *e = NULL;

	if (!entry || !layer_from_json(entry, out)) {
		cache_layer_release(out);
		return 0;
	}
	if (remote_blob(c, entry, out, &e) < 0 || build_cache_put_layer(c, key, out, &e) < 0) {
		cache_layer_release(out);
		return remote_refuse(c, key, e);
	}
	c->remote_hits++;
	return 1;
}

static int remote_get_data(struct build_cache *c, const char *key, json_t **out)
{
	json_t *entry = c->remote ? json_object_get(c->remote, key) : NULL;
	json_t *d = json_object_get(entry, "data");
	struct pn_error *e = NULL;

	if (!json_is_object(d))
		return 0;
	if (build_cache_put_data(c, key, d, &e) < 0)
		return remote_refuse(c, key, e);
	c->remote_hits++;
	*out = json_incref(d);
	return 1;
}

int build_cache_get_layer(struct build_cache *c, const char *key, struct cache_layer *out,
			  struct pn_error **err)
{
	cleanup_json json_t *j = NULL;

	(void)err;
	cache_layer_init(out);
	if (entry_read(c, key, &j) > 0 && layer_from_json(j, out) &&
	    oci_layout_has_blob(c->layout, out->layer.digest)) {
		note_used_layer(c, key, out);
		entry_touch(c, key);
		return 1;
	}
	cache_layer_release(out);
	return remote_get_layer(c, key, out);
}

int build_cache_put_layer(struct build_cache *c, const char *key, const struct cache_layer *e,
			  struct pn_error **err)
{
	cleanup_json json_t *j = layer_to_json(e);

	json_object_set_new(j, "v", json_integer(1));
	if (entry_write(c, key, j, err) < 0)
		return -1;
	note_used_layer(c, key, e);
	return 0;
}

int build_cache_get_data(struct build_cache *c, const char *key, json_t **out,
			 struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	json_t *d = NULL;

	(void)err;
	if (entry_read(c, key, &j) <= 0 || !json_is_object(d = json_object_get(j, "data")))
		return remote_get_data(c, key, out);
	note_used_data(c, key, d);
	entry_touch(c, key);
	*out = json_incref(d);
	return 1;
}

int build_cache_put_data(struct build_cache *c, const char *key, json_t *data,
			 struct pn_error **err)
{
	cleanup_json json_t *j = json_object();

	json_object_set_new(j, "v", json_integer(1));
	json_object_set(j, "data", data);
	if (entry_write(c, key, j, err) < 0)
		return -1;
	note_used_data(c, key, data);
	return 0;
}

/* ------------------------------------------------------- shared entries */

static int64_t entry_used(json_t *e)
{
	json_t *u = json_object_get(e, "used");

	return json_is_integer(u) && json_integer_value(u) > 0 ? json_integer_value(u) : 0;
}

/* a well-formed shared entry, rebuilt from its known fields only */
static json_t *entry_clean(json_t *e)
{
	struct cache_layer l;
	json_t *out = NULL, *d = json_object_get(e, "data");

	cache_layer_init(&l);
	if (json_is_object(d)) {
		out = json_object();
		json_object_set(out, "data", d);
	} else if (layer_from_json(e, &l)) {
		out = layer_to_json(&l);
	}
	cache_layer_release(&l);
	if (out && entry_used(e))
		json_object_set_new(out, "used", json_integer(entry_used(e)));
	return out;
}

int cache_entries_parse(const char *data, size_t len, json_t **out, struct pn_error **err)
{
	cleanup_json json_t *j = NULL;
	json_t *entries, *e, *res;
	json_error_t jerr;
	const char *key;
	size_t n = 0, dropped = 0;

	if (len > CACHE_ENTRIES_DOC_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "cache entries: %zu bytes (at most %zu)",
				    len, CACHE_ENTRIES_DOC_MAX);
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return pn_error_set(err, PN_ERR_INVALID, "cache entries: line %d column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	entries = json_object_get(j, "entries");
	if (!json_is_object(j) || json_integer_value(json_object_get(j, "v")) != 1 ||
	    !json_is_object(entries))
		return pn_error_set(err, PN_ERR_INVALID,
				    "cache entries: not a version 1 document with `entries`");
	res = json_object();
	json_object_foreach(entries, key, e)
	{
		json_t *clean;

		if (n >= CACHE_ENTRIES_MAX)
			break;
		clean = oci_digest_valid(key) ? entry_clean(e) : NULL;
		if (!clean) {
			dropped++;
			continue;
		}
		json_object_set_new(res, key, clean);
		n++;
	}
	if (dropped)
		pn_warn("cache entries: %zu malformed entries ignored", dropped);
	*out = res;
	return 0;
}

char *cache_entries_encode(json_t *entries, size_t *len)
{
	cleanup_json json_t *j = json_object();
	char *text;

	json_object_set_new(j, "v", json_integer(1));
	json_object_set(j, "entries", entries);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		PN_BUG("encode cache entries");
	*len = strlen(text);
	return text;
}

size_t cache_entries_merge(json_t *into, json_t *from)
{
	const char *key;
	json_t *e;
	size_t n = 0;

	json_object_foreach(from, key, e)
	{
		json_t *have = json_object_get(into, key);

		if (have && entry_used(have) >= entry_used(e))
			continue;
		json_object_set(into, key, e);
		n++;
	}
	return n;
}

struct used_key {
	const char *key;
	int64_t used;
};

static int used_key_cmp(const void *a, const void *b)
{
	const struct used_key *x = a, *y = b;

	if (x->used != y->used)
		return x->used > y->used ? -1 : 1;
	return strcmp(x->key, y->key);
}

void cache_entries_trim(json_t *entries, size_t max)
{
	size_t n = json_object_size(entries), i = 0;
	struct used_key *v;
	struct pn_strv drop = PN_STRV_INIT;
	const char *key;
	json_t *e;

	if (n <= max)
		return;
	v = xcalloc(n, sizeof(*v));
	json_object_foreach(entries, key, e) v[i++] = (struct used_key){key, entry_used(e)};
	qsort(v, n, sizeof(*v), used_key_cmp);
	for (i = max; i < n; i++)
		pn_strv_push(&drop, v[i].key);
	free(v);
	for (i = 0; i < drop.n; i++)
		json_object_del(entries, drop.v[i]);
	pn_strv_release(&drop);
}

void cache_entries_expire(json_t *entries, int64_t before)
{
	struct pn_strv drop = PN_STRV_INIT;
	const char *key;
	json_t *e;

	json_object_foreach(entries, key, e)
	{
		if (entry_used(e) < before)
			pn_strv_push(&drop, key);
	}
	for (size_t i = 0; i < drop.n; i++)
		json_object_del(entries, drop.v[i]);
	pn_strv_release(&drop);
}

bool cache_entries_fresh(json_t *all, json_t *sub, int64_t since)
{
	const char *key;
	json_t *e;

	json_object_foreach(sub, key, e)
	{
		if (entry_used(json_object_get(all, key)) < since)
			return false;
	}
	return true;
}

/* two entries alike but for "used" */
static bool entry_same(json_t *a, json_t *b)
{
	cleanup_json json_t *x = json_deep_copy(a), *y = json_deep_copy(b);

	json_object_del(x, "used");
	json_object_del(y, "used");
	return json_equal(x, y);
}

bool cache_entries_cover(json_t *all, json_t *sub)
{
	const char *key;
	json_t *e;

	json_object_foreach(sub, key, e)
	{
		json_t *have = json_object_get(all, key);

		if (!have || !entry_same(have, e))
			return false;
	}
	return true;
}

void cache_entries_layers(json_t *entries, struct oci_descriptor **out, size_t *n)
{
	struct pn_strv keys = PN_STRV_INIT, seen = PN_STRV_INIT;
	const char *key;
	json_t *e;

	*out = NULL;
	*n = 0;
	json_object_foreach(entries, key, e) pn_strv_push(&keys, key);
	pn_strv_sort(&keys);
	for (size_t i = 0; i < keys.n; i++) {
		struct cache_layer l;

		cache_layer_init(&l);
		if (layer_from_json(json_object_get(entries, keys.v[i]), &l) &&
		    !pn_strv_contains(&seen, l.layer.digest)) {
			pn_strv_push(&seen, l.layer.digest);
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			oci_descriptor_init(&(*out)[*n]);
			oci_descriptor_copy(&(*out)[(*n)++], &l.layer);
		}
		cache_layer_release(&l);
	}
	pn_strv_release(&keys);
	pn_strv_release(&seen);
}
