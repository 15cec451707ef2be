/* test_assembler_cache_remote.c - the shared entries document (parse,
 * encode, merge, trim, cover, layers) and look-ups through imported entries
 * whose blobs come from a second layout (hit, missing blob, wrong size, bad
 * digest, wrong diff_id) */
#include "tests/unit/tap.h"
#include "assembler/build_internal.h"
#include "assembler/cache.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define K1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define K3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D1 "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D2 "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static json_t *layer_entry(const char *digest, int64_t size, const char *diff_id, int64_t used)
{
	return json_pack("{s:{s:s,s:s,s:I},s:s,s:s,s:I}", "layer", "mediaType", OCI_MT_LAYER_GZIP,
			 "digest", digest, "size", (json_int_t)size, "diff_id", diff_id,
			 "created_by", "RUN x", "used", (json_int_t)used);
}

static json_t *parse_text(const char *text)
{
	json_t *out = NULL;
	struct pn_error *err = NULL;

	if (cache_entries_parse(text, strlen(text), &out, &err) < 0) {
		tap_diag("parse: %s", err->msg);
		pn_error_free(err);
		return NULL;
	}
	return out;
}

static void t_parse(void)
{
	cleanup_json json_t *e = json_object(), *got = NULL, *again = NULL;
	cleanup_free char *text = NULL, *text2 = NULL;
	struct pn_error *err = NULL;
	json_t *out = NULL;
	size_t len = 0, len2 = 0;

	json_object_set_new(e, K1, layer_entry(D1, 10, D2, 5));
	json_object_set_new(e, K2, json_pack("{s:{s:s},s:I}", "data", "schema", "{}", "used", 7));
	json_object_set_new(e, "not-a-key", layer_entry(D1, 10, D2, 5));
	json_object_set_new(e, K3, json_pack("{s:{s:s}}", "layer", "digest", "sha256:short"));
	text = cache_entries_encode(e, &len);
	got = parse_text(text);
	ok(got != NULL, "a document parses");
	is_int(json_object_size(got), 2, "malformed entries are dropped, not fatal");
	ok(json_object_get(got, K1) && json_object_get(got, K2), "the good ones stay");
	is_int(json_integer_value(json_object_get(json_object_get(got, K1), "used")), 5,
	       "used survives");
	text2 = cache_entries_encode(got, &len2);
	again = parse_text(text2);
	ok(again && json_equal(again, got), "encode then parse is the identity");
	ok_fail(cache_entries_parse("{\"v\":2,\"entries\":{}}", 20, &out, &err), &err,
		PN_ERR_INVALID, "version", "another version is refused");
	ok_fail(cache_entries_parse("[1,2]", 5, &out, &err), &err, PN_ERR_INVALID, "version",
		"not an object");
	ok_fail(cache_entries_parse("{\"v\":1,", 7, &out, &err), &err, PN_ERR_INVALID, "line",
		"broken JSON names the place");
}

static void t_merge_trim(void)
{
	cleanup_json json_t *a = json_object(), *b = json_object(), *sub = json_object();
	struct oci_descriptor *layers = NULL;
	size_t n = 0;

	json_object_set_new(a, K1, layer_entry(D1, 10, D2, 5));
	json_object_set_new(a, K2, layer_entry(D2, 20, D1, 9));
	json_object_set_new(b, K1, layer_entry(D1, 10, D2, 3));
	json_object_set_new(b, K3, layer_entry(D1, 10, D2, 8));
	is_int(cache_entries_merge(a, b), 1, "an older entry does not replace; a new key joins");
	is_int(json_object_size(a), 3, "three entries");
	is_int(json_integer_value(json_object_get(json_object_get(a, K1), "used")), 5,
	       "the newer entry stays");
	json_object_set_new(sub, K3, layer_entry(D1, 10, D2, 100));
	ok(cache_entries_cover(a, sub), "cover ignores used");
	json_object_set_new(sub, K2, layer_entry(D2, 21, D1, 9));
	ok(!cache_entries_cover(a, sub), "a different size is not covered");
	cache_entries_layers(a, &layers, &n);
	is_int(n, 2, "each layer digest once");
	is_str(n ? layers[0].digest : "", D1, "in key order");
	for (size_t i = 0; i < n; i++)
		oci_descriptor_release(&layers[i]);
	free(layers);
	ok(cache_entries_fresh(a, sub, 8) && !cache_entries_fresh(a, sub, 9),
	   "fresh: every key exported at or after the time");
	{
		json_t *c = json_deep_copy(a);

		cache_entries_expire(c, 6);
		is_int(json_object_size(c), 2, "expire drops the entries exported before the time");
		ok(!json_object_get(c, K1), "the old one went");
		json_decref(c);
	}
	cache_entries_trim(a, 2);
	is_int(json_object_size(a), 2, "trimmed to max");
	ok(!json_object_get(a, K1), "the least recently used goes first");
	cache_entries_trim(a, 5);
	is_int(json_object_size(a), 2, "under max nothing goes");
}

/* the fetch of the imported entries: blobs from a second layout */
static int fetch_from(void *ud, json_t *entry, const struct oci_descriptor *d,
		      struct oci_layout *dst, struct pn_error **err)
{
	cleanup_close int fd = -1;
	struct oci_blob_writer *w;
	int64_t size = 0;
	int rc;

	(void)entry;
	if (oci_layout_open_blob(ud, d->digest, &fd, &size, err) < 0)
		return -1;
	w = oci_layout_blob_begin(dst, err);
	if (!w)
		return -1;
	rc = oci_blob_writer_append_fd(w, fd, size, "test", NULL, NULL, err);
	if (rc == 0)
		rc = oci_blob_writer_commit(w, d->digest, -1, NULL, err);
	oci_blob_writer_free(w);
	return rc;
}

/* a real gzip layer in l */
static void make_layer(struct oci_layout *l, const char *content, struct oci_layer_result *out)
{
	struct oci_layer_opts lo;
	struct pn_error *err = NULL;
	struct oci_layer_writer *w;

	oci_layer_opts_init(&lo);
	w = oci_layer_writer_new(l, &lo, &err);
	ok_call(oci_layer_writer_add_data(w, "f", content, strlen(content), 0644, &err), &err,
		"layer file");
	memset(out, 0, sizeof(*out));
	oci_descriptor_init(&out->desc);
	ok_call(oci_layer_writer_finish(w, out, &err), &err, "layer written");
	oci_layer_writer_free(w);
}

static void t_remote(void)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), "rc"),
			  *sdir = pn_path_join(tap_tmpdir(), "rc-src");
	struct oci_layout *src = NULL;
	struct build_cache *c = NULL;
	struct pn_error *err = NULL;
	struct oci_layer_result a, b;
	struct cache_layer got;
	json_t *entries = json_object(), *data = NULL;
	size_t hits = 0, refused = 0;

	ok_call(oci_layout_open(sdir, OCI_LAYOUT_CREATE, &src, &err), &err, "source layout");
	make_layer(src, "alpha", &a);
	make_layer(src, "bravo", &b);
	json_object_set_new(entries, K1, layer_entry(a.desc.digest, a.desc.size, a.diff_id, 1));
	json_object_set_new(entries, K2, layer_entry(b.desc.digest, b.desc.size + 1, b.diff_id, 1));
	json_object_set_new(entries, K3, layer_entry(b.desc.digest, b.desc.size, a.diff_id, 1));
	json_object_set_new(entries, D1, layer_entry(D2, 5, D2, 1));
	json_object_set_new(entries, D2, json_pack("{s:{s:s}}", "data", "schema", "{}"));
	ok_call(build_cache_open(dir, &c, &err), &err, "open");
	build_cache_set_remote(c, entries, fetch_from, src);
	is_int(build_cache_get_layer(c, K1, &got, &err), 1, "an imported entry hits");
	is_str(got.layer.digest, a.desc.digest, "its layer");
	ok(oci_layout_has_blob(build_cache_layout(c), a.desc.digest), "the blob was fetched");
	cache_layer_release(&got);
	is_int(build_cache_get_layer(c, K2, &got, &err), 0, "a wrong size is a miss");
	is_int(build_cache_get_layer(c, K3, &got, &err), 0, "a wrong diff_id is a miss");
	is_int(build_cache_get_layer(c, D1, &got, &err), 0, "a missing blob is a miss");
	is_int(build_cache_get_data(c, D2, &data, &err), 1, "imported post-build data hits");
	json_decref(data);
	build_cache_remote_stats(c, &hits, &refused);
	is_int(hits, 2, "two imported hits");
	is_int(refused, 3, "three refused");
	ok(json_object_get(build_cache_used(c), K1) && json_object_get(build_cache_used(c), D2) &&
		   json_object_size(build_cache_used(c)) == 2,
	   "used: exactly the hits");
	build_cache_free(c);
	/* the hit became a local entry: no imported entries needed now */
	ok_call(build_cache_open(dir, &c, &err), &err, "reopen");
	is_int(build_cache_get_layer(c, K1, &got, &err), 1, "a local hit afterwards");
	cache_layer_release(&got);
	build_cache_free(c);
	{
		/* a blob whose bytes do not match its digest is never stored */
		cleanup_free char *p = oci_layout_blob_path(src, b.desc.digest);
		cleanup_free char *dir2 = pn_path_join(tap_tmpdir(), "rc2");
		int fd = open(p, O_WRONLY | O_TRUNC);

		ok(fd >= 0 && write(fd, "xx", 2) == 2, "corrupt the source blob");
		close(fd);
		entries = json_object();
		json_object_set_new(entries, K2, layer_entry(b.desc.digest, 2, b.diff_id, 1));
		ok_call(build_cache_open(dir2, &c, &err), &err, "open a fresh cache");
		build_cache_set_remote(c, entries, fetch_from, src);
		is_int(build_cache_get_layer(c, K2, &got, &err), 0, "a bad digest is a miss");
		ok(!oci_layout_has_blob(build_cache_layout(c), b.desc.digest), "and not stored");
		build_cache_free(c);
	}
	oci_layer_result_release(&a);
	oci_layer_result_release(&b);
	oci_layout_free(src);
}

static void t_specs(void)
{
	struct cache_spec s;
	struct pn_error *err = NULL;

	ok_call(cache_spec_parse("localhost:5000/cache/m:bc", true, &s, &err), &err,
		"registry ref");
	is_str(s.ref ? s.ref : "", "localhost:5000/cache/m:bc", "kept whole");
	ok(!s.max && s.max_entries == 500 && s.max_age_days == 30,
	   "defaults: mode=min, 500 entries, 30 days");
	cache_spec_release(&s);
	ok_call(cache_spec_parse("r.example/c:t,mode=max,max-entries=7", true, &s, &err), &err,
		"options");
	ok(s.max && s.max_entries == 7, "mode=max, 7 entries");
	cache_spec_release(&s);
	ok_call(cache_spec_parse("r.example/c:t,max-age=9", true, &s, &err), &err, "max-age");
	is_int(s.max_age_days, 9, "9 days");
	cache_spec_release(&s);
	ok_call(cache_spec_parse("oci:/tmp/c", false, &s, &err), &err, "a layout");
	ok(!s.ref && s.dir && strcmp(s.dir, "/tmp/c") == 0 && strcmp(s.tag, "buildcache") == 0,
	   "oci:DIR gets the tag buildcache");
	cache_spec_release(&s);
	ok_fail(cache_spec_parse("r.example/c:t,mode=max", false, &s, &err), &err, PN_ERR_INVALID,
		"options belong to --cache-to", "no options on --cache-from");
	ok_fail(cache_spec_parse("r.example/c:t,color=red", true, &s, &err), &err, PN_ERR_INVALID,
		"unknown option", "an unknown option");
	ok_fail(cache_spec_parse("r.example/c:t,max-entries=0", true, &s, &err), &err,
		PN_ERR_INVALID, "max-entries", "max-entries 0");
	ok_fail(cache_spec_parse("r.example/c:t,max-entries=1001", true, &s, &err), &err,
		PN_ERR_INVALID, "max-entries", "max-entries over the limit");
	ok_fail(cache_spec_parse("r.example/c:t,max-age=0", true, &s, &err), &err, PN_ERR_INVALID,
		"max-age", "max-age 0");
	ok_fail(cache_spec_parse("r.example/c@sha256:"
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				 true, &s, &err),
		&err, PN_ERR_INVALID, "not a digest", "a digest is not a place to write");
	ok_fail(cache_spec_parse("docker-archive:/tmp/x.tar", false, &s, &err), &err,
		PN_ERR_INVALID, "oci:DIR:TAG", "an archive is not a cache");
	ok_fail(cache_spec_parse("UPPER/Case:t", false, &s, &err), &err, PN_ERR_INVALID, "cache",
		"a bad reference");
}

int main(void)
{
	TEST(t_specs);
	TEST(t_parse);
	TEST(t_merge_trim);
	TEST(t_remote);
	return tap_done();
}
