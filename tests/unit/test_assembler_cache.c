/* test_assembler_cache.c - cache keys and the layer/data index */
#include "tests/unit/tap.h"
#include "assembler/cache.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <unistd.h>

static void key_of(const char *parent, const char *const *kv, oci_digest_t out)
{
	struct cache_key k;

	cache_key_begin(&k, parent);
	for (; kv[0]; kv += 2)
		cache_key_add(&k, kv[0], kv[1]);
	cache_key_finish(&k, out);
}

static void t_keys(void)
{
	oci_digest_t a, b, c, d, e;
	const char *const k1[] = {"shell", "pip install x", "file", "/tmp/r.txt", NULL};
	const char *const k2[] = {"shell", "pip install x", "file", "/tmp/r.txt", NULL};
	const char *const k3[] = {"shell", "pip install", "file", " x/tmp/r.txt", NULL};
	const char *const k4[] = {"shell", "pip install y", "file", "/tmp/r.txt", NULL};

	key_of("sha256:parent", k1, a);
	key_of("sha256:parent", k2, b);
	key_of("sha256:parent", k3, c);
	key_of("sha256:other", k1, d);
	key_of("sha256:parent", k4, e);
	ok(oci_digest_valid(a), "a key is a digest");
	is_str(a, b, "same inputs, same key");
	ok(strcmp(a, c) != 0, "moving bytes between fields changes the key");
	ok(strcmp(a, d) != 0, "the parent is part of the key");
	ok(strcmp(a, e) != 0, "the step is part of the key");
}

static void t_layers(void)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), "cache");
	struct build_cache *c = NULL;
	struct pn_error *err = NULL;
	struct cache_layer e, got;
	oci_digest_t key, blob;
	const char *const kv[] = {"kind", "run", NULL};

	ok_call(build_cache_open(dir, &c, &err), &err, "open");
	key_of(NULL, kv, key);
	is_int(build_cache_get_layer(c, key, &got, &err), 0, "empty cache misses");
	ok_call(oci_layout_put_blob(build_cache_layout(c), "layer", 5, NULL, blob, &err), &err,
		"store a blob");
	cache_layer_init(&e);
	e.layer.media_type = xstrdup(OCI_MT_LAYER_GZIP);
	memcpy(e.layer.digest, blob, sizeof(blob));
	e.layer.size = 5;
	memcpy(e.diff_id, blob, sizeof(blob));
	e.created_by = xstrdup("RUN x");
	e.created = xstrdup("2024-01-01T00:00:00Z");
	ok_call(build_cache_put_layer(c, key, &e, &err), &err, "put");
	is_int(build_cache_get_layer(c, key, &got, &err), 1, "hit after put");
	is_str(got.layer.digest, blob, "digest back");
	is_int(got.layer.size, 5, "size back");
	is_str(got.created_by, "RUN x", "history back");
	cache_layer_release(&got);
	cache_layer_release(&e);
	{
		/* gc's roots: the layer entry's blob; a data entry, a corrupt
		 * entry and a stray file name nothing */
		cleanup_free char *keys = xasprintf("%s/build/keys", dir);
		cleanup_free char *junk = pn_path_join(keys, "notes.json");
		cleanup_free char *bad = xasprintf("%s/%064d.json", keys, 0);
		const char *const kv2[] = {"kind", "post-build", NULL};
		json_t *d = json_pack("{s:s}", "schema", "{}");
		struct pn_strv roots = PN_STRV_INIT;
		oci_digest_t dkey;

		key_of(NULL, kv2, dkey);
		ok_call(build_cache_put_data(c, dkey, d, &err), &err, "put data");
		json_decref(d);
		pn_write_file_atomic(junk, "{\"layer\":{}}", 12, 0644, NULL);
		pn_write_file_atomic(bad, "{nope", 5, 0644, NULL);
		build_cache_layer_roots(keys, 1000, &roots);
		is_int(roots.n, 1, "one root");
		is_str(roots.n ? roots.v[0] : "", blob, "the layer entry's blob");
		pn_strv_release(&roots);
		build_cache_layer_roots(keys, 0, &roots);
		is_int(roots.n, 0, "max_entries 0 reads none");
		pn_strv_release(&roots);
	}
	build_cache_free(c);

	/* an entry whose blob is gone is a miss, a corrupt entry too */
	ok_call(build_cache_open(dir, &c, &err), &err, "reopen");
	{
		cleanup_free char *p = oci_layout_blob_path(build_cache_layout(c), blob);

		unlink(p);
	}
	is_int(build_cache_get_layer(c, key, &got, &err), 0, "missing blob is a miss");
	{
		cleanup_free char *p = xasprintf("%s/build/keys/%s.json", dir, oci_digest_hex(key));

		pn_write_file_atomic(p, "{nope", 5, 0644, NULL);
	}
	is_int(build_cache_get_layer(c, key, &got, &err), 0, "corrupt entry is a miss");
	build_cache_free(c);
}

static void t_data(void)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), "cache2");
	struct build_cache *c = NULL;
	struct pn_error *err = NULL;
	json_t *d = json_pack("{s:s}", "schema", "{}"), *got = NULL;
	const char *const kv[] = {"kind", "post-build", NULL};
	oci_digest_t key;

	key_of(NULL, kv, key);
	ok_call(build_cache_open(dir, &c, &err), &err, "open");
	is_int(build_cache_get_data(c, key, &got, &err), 0, "miss");
	ok_call(build_cache_put_data(c, key, d, &err), &err, "put data");
	is_int(build_cache_get_data(c, key, &got, &err), 1, "hit");
	is_str(json_string_value(json_object_get(got, "schema")), "{}", "data back");
	json_decref(got);
	json_decref(d);
	build_cache_free(c);
}

int main(void)
{
	TEST(t_keys);
	TEST(t_layers);
	TEST(t_data);
	return tap_done();
}
