/* test_assembler_gc.c - the eviction of step cache entries (gc.h,
 * gc_evict.c): the DURATION and SIZE parsers of `pinion gc --max-age` /
 * `--keep-storage` (opt.c), the selection (age, least recently used first,
 * a shared blob counted once, blobs tags keep), the eviction in a real cache
 * and the touch of a cache hit that makes last use observable */
#include "tests/unit/tap.h"
#include "assembler/cache.h"
#include "assembler/cli/opt.h"
#include "assembler/gc.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void t_duration(void)
{
	static const struct {
		const char *in;
		int64_t secs;
	} good[] = {{"0", 0},
		    {"90", 90},
		    {"90s", 90},
		    {"30m", 1800},
		    {"12h", 43200},
		    {"7d", 604800},
		    {"2w", 1209600},
		    {"007d", 604800},
		    {"1000000d", 86400000000LL},
		    {"9223372036854775807", INT64_MAX}};
	static const char *const bad[] = {"",
					  "x",
					  "-1",
					  "+1",
					  " 7d",
					  "7 d",
					  "1.5h",
					  "7dd",
					  "7D",
					  "d",
					  "7y",
					  "7ms",
					  "0x10",
					  "7d ",
					  "9223372036854775808",
					  "15250284452472w",
					  "99999999999999999999"};
	struct pn_error *err = NULL;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t v = -1;

		ok_call(cli_parse_duration(good[i].in, &v, &err), &err, "duration `%s`",
			good[i].in);
		is_int(v, good[i].secs, "`%s` is %lld seconds", good[i].in,
		       (long long)good[i].secs);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 42;

		ok_fail(cli_parse_duration(bad[i], &v, &err), &err, PN_ERR_INVALID, "bad duration",
			"duration `%s` refused", bad[i]);
		is_int(v, 42, "`%s`: nothing stored", bad[i]);
	}
}

static void t_size(void)
{
	static const struct {
		const char *in;
		int64_t bytes;
	} good[] = {{"0", 0},	       {"1024", 1024},
		    {"5K", 5120},      {"5k", 5120},
		    {"5KiB", 5120},    {"5KB", 5120},
		    {"2M", 2 << 20},   {"1G", 1 << 30},
		    {"3g", 3LL << 30}, {"9223372036854775807", INT64_MAX}};
	static const char *const bad[] = {"",		"x",  "-1",    "+1",
					  " 5K",	"5T", "5KiBx", "5Kb",
					  "5.5M",	"M",  "5 M",   "9223372036854775808",
					  "8589934592G"};
	struct pn_error *err = NULL;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t v = -1;

		ok_call(cli_parse_size(good[i].in, &v, &err), &err, "size `%s`", good[i].in);
		is_int(v, good[i].bytes, "`%s` is %lld bytes", good[i].in,
		       (long long)good[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 42;

		ok_fail(cli_parse_size(bad[i], &v, &err), &err, PN_ERR_INVALID, "bad size",
			"size `%s` refused", bad[i]);
		is_int(v, 42, "`%s`: nothing stored", bad[i]);
	}
}

/* an entry: name, last use, layer ("" none; else one of the fake digests
 * below by letter) and the blob's size */
static struct gc_entry entry(const char *name, int64_t used, char layer, int64_t bytes)
{
	struct gc_entry e;

	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	e.used = used;
	if (layer)
		snprintf(e.layer, sizeof(e.layer), "sha256:%064d", layer);
	e.bytes = bytes;
	e.evict = !layer; /* select must reset what it finds */
	return e;
}

static void opts(struct gc_evict_opts *o, int64_t max_age, int64_t keep)
{
	memset(o, 0, sizeof(*o));
	o->now = 1000;
	o->max_age = max_age;
	o->keep_storage = keep;
}

/* the names of the evicted entries, comma-separated */
static char *evicted(const struct gc_entry *e, size_t n)
{
	char buf[256] = "";

	for (size_t i = 0; i < n; i++)
		if (e[i].evict)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
				 buf[0] ? "," : "", e[i].name);
	return xstrdup(buf);
}

static void check(struct gc_entry *e, size_t n, const struct gc_evict_opts *o, const char *want,
		  int64_t bytes, int64_t kept, const char *what)
{
	struct gc_evict_stats st;
	cleanup_free char *got = NULL;

	gc_evict_select(e, n, o, &st);
	got = evicted(e, n);
	is_str(got, want, "%s: evicted", what);
	is_int(st.bytes, bytes, "%s: bytes only evicted entries named", what);
	is_int(st.kept_bytes, kept, "%s: bytes kept", what);
}

static void t_select_age(void)
{
	struct gc_entry e[] = {entry("old", 100, 'X', 100), entry("mid", 500, 'Y', 50),
			       entry("new", 990, 'Z', 30), entry("olddata", 10, 0, 0)};
	struct gc_evict_opts o;

	opts(&o, -1, -1);
	check(e, 4, &o, "", 0, 180, "no bound");
	opts(&o, 600, -1);
	check(e, 4, &o, "old,olddata", 100, 80, "max-age 600: older than 600 s go, data too");
	opts(&o, 500, -1);
	check(e, 4, &o, "old,olddata", 100, 80, "max-age 500: used exactly 500 s ago stays");
	opts(&o, 0, -1);
	check(e, 4, &o, "old,mid,new,olddata", 180, 0, "max-age 0: all");
}

static void t_select_size(void)
{
	/* listed out of order: the order is by last use */
	struct gc_entry e[] = {entry("c", 300, 'Z', 30), entry("a", 100, 'X', 100),
			       entry("b", 200, 'Y', 50), entry("d", 50, 0, 0)};
	struct gc_evict_opts o;

	opts(&o, -1, 1000);
	check(e, 4, &o, "", 0, 180, "under the bound: nothing");
	opts(&o, -1, 90);
	check(e, 4, &o, "a", 100, 80, "least recently used first, until at most 90");
	opts(&o, -1, 79);
	check(e, 4, &o, "a,b", 150, 30, "then the next");
	opts(&o, -1, 0);
	check(e, 4, &o, "c,a,b", 180, 0, "size 0: every layer entry; data entries free nothing");
	opts(&o, 250, 40);
	check(e, 4, &o, "c,a,b,d", 180, 0, "age first (d, a), then size (b, c)");
}

static void t_select_shared(void)
{
	/* a and b name blob X: 100 bytes once, not twice */
	struct gc_entry e[] = {entry("a", 100, 'X', 100), entry("b", 150, 'X', 100),
			       entry("c", 300, 'Y', 50)};
	struct gc_entry tie[] = {entry("y", 100, 'X', 10), entry("x", 100, 'Y', 10)};
	struct gc_evict_opts o;

	opts(&o, -1, 150);
	check(e, 3, &o, "", 0, 150, "shared blob counted once: 150 fits 150");
	opts(&o, -1, 149);
	check(e, 3, &o, "a,b", 100, 50, "evicting a frees nothing while b names X; then b");
	opts(&o, 870, -1);
	check(e, 3, &o, "a", 0, 150, "age: a goes, X stays for b (no bytes)");
	opts(&o, -1, 10);
	check(tie, 2, &o, "x", 10, 10, "same last use: by name");
}

static void t_select_pinned(void)
{
	struct gc_entry e[] = {entry("a", 100, 'X', 100), entry("b", 200, 'Y', 50),
			       entry("c", 300, 'Z', 30)};
	cleanup_strv struct pn_strv pins = PN_STRV_INIT;
	struct gc_evict_opts o;

	pn_strv_push(&pins, e[0].layer); /* a tag reaches X: 100 bytes, plus 400 more */
	opts(&o, -1, 580);
	o.pinned = &pins;
	o.pinned_bytes = 500;
	check(e, 3, &o, "", 0, 580, "tags count: 500 + 50 + 30 fits 580");
	opts(&o, -1, 540);
	o.pinned = &pins;
	o.pinned_bytes = 500;
	check(e, 3, &o, "b", 50, 530, "a frees nothing (tagged): b goes");
	opts(&o, -1, 100);
	o.pinned = &pins;
	o.pinned_bytes = 500;
	check(e, 3, &o, "b,c", 80, 500, "tags alone exceed the bound: every other entry goes");
	opts(&o, 850, -1);
	o.pinned = &pins;
	o.pinned_bytes = 500;
	check(e, 3, &o, "a", 0, 580, "by age a tagged blob's entry goes, the blob stays");
}

/* ------------------------------------------------------------ a real cache */

static void put_layer(struct build_cache *c, const char *key, const char *data, oci_digest_t blob)
{
	struct cache_layer e;
	struct pn_error *err = NULL;

	ok_call(oci_layout_put_blob(build_cache_layout(c), data, strlen(data), NULL, blob, &err),
		&err, "blob `%s`", data);
	cache_layer_init(&e);
	e.layer.media_type = xstrdup(OCI_MT_LAYER_GZIP);
	memcpy(e.layer.digest, blob, OCI_DIGEST_STRLEN + 1);
	e.layer.size = (int64_t)strlen(data);
	memcpy(e.diff_id, blob, OCI_DIGEST_STRLEN + 1);
	e.created_by = xstrdup("RUN x");
	ok_call(build_cache_put_layer(c, key, &e, &err), &err, "put `%s`", data);
	cache_layer_release(&e);
}

static char *key_path(const char *dir, const char *key)
{
	return xasprintf("%s/build/keys/%s.json", dir, oci_digest_hex(key));
}

static void set_mtime(const char *dir, const char *key, time_t t)
{
	cleanup_free char *p = key_path(dir, key);
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	ok(utimensat(AT_FDCWD, p, ts, 0) == 0, "set the time of %.19s", key);
}

static int64_t mtime_of(const char *dir, const char *key)
{
	cleanup_free char *p = key_path(dir, key);
	struct stat st;

	return stat(p, &st) == 0 ? (int64_t)st.st_mtime : -1;
}

static void t_hit_touches(void)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), "touch");
	struct build_cache *c = NULL;
	struct pn_error *err = NULL;
	struct cache_layer got;
	json_t *d = json_object(), *gotd = NULL;
	oci_digest_t blob;
	const char *k = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	const char *dk = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

	ok_call(build_cache_open(dir, &c, &err), &err, "open");
	put_layer(c, k, "layer one", blob);
	ok_call(build_cache_put_data(c, dk, d, &err), &err, "put data");
	set_mtime(dir, k, 1000000);
	set_mtime(dir, dk, 1000000);
	is_int(build_cache_get_layer(c, k, &got, &err), 1, "layer hit");
	cache_layer_release(&got);
	ok(mtime_of(dir, k) >= time(NULL) - 60, "a layer hit records its use (mtime now)");
	is_int(build_cache_get_data(c, dk, &gotd, &err), 1, "data hit");
	ok(mtime_of(dir, dk) >= time(NULL) - 60, "a data hit records its use");
	json_decref(gotd);
	json_decref(d);
	build_cache_free(c);
}

/* tag an image whose one layer is blob (its config and manifest: *pinned
 * bytes with the layer's) */
static void tag_image(struct oci_layout *l, const char *blob, size_t blob_len, int64_t *pinned)
{
	struct pn_error *err = NULL;
	struct oci_descriptor m;
	oci_digest_t cfg, man;
	const char *cfgdata = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
			      "{\"type\":\"layers\",\"diff_ids\":[]}}";
	cleanup_free char *mdata = NULL;

	ok_call(oci_layout_put_blob(l, cfgdata, strlen(cfgdata), NULL, cfg, &err), &err, "config");
	mdata = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
			  "\"%s\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
			  "\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
			  OCI_MT_MANIFEST, OCI_MT_CONFIG, cfg, strlen(cfgdata), OCI_MT_LAYER_GZIP,
			  blob, blob_len);
	ok_call(oci_layout_put_blob(l, mdata, strlen(mdata), NULL, man, &err), &err, "manifest");
	oci_descriptor_init(&m);
	m.media_type = xstrdup(OCI_MT_MANIFEST);
	memcpy(m.digest, man, sizeof(man));
	m.size = (int64_t)strlen(mdata);
	ok_call(oci_layout_tag(l, "base", &m, &err), &err, "tag");
	oci_descriptor_release(&m);
	*pinned = (int64_t)(strlen(cfgdata) + strlen(mdata) + blob_len);
}

static bool has_key(const char *dir, const char *key)
{
	cleanup_free char *p = key_path(dir, key);

	return access(p, F_OK) == 0;
}

/* gc_evict_cache: entries k[0] (old, blob one), k[1] (blob two), k[2]
 * (now, blob one again), k[3] (old, blob three, which a tag keeps) */
static void t_evict_cache(void)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), "evict");
	cleanup_free char *keys = xasprintf("%s/build/keys", dir);
	const char *k[4] = {
		"sha256:a000000000000000000000000000000000000000000000000000000000000000",
		"sha256:b000000000000000000000000000000000000000000000000000000000000000",
		"sha256:c000000000000000000000000000000000000000000000000000000000000000",
		"sha256:d000000000000000000000000000000000000000000000000000000000000000"};
	struct build_cache *c = NULL;
	struct pn_error *err = NULL;
	struct pn_strv roots = PN_STRV_INIT;
	struct gc_evict_opts o;
	struct gc_evict_stats st;
	oci_digest_t one, two, three;
	int64_t pinned = 0, now = (int64_t)time(NULL);

	ok_call(build_cache_open(dir, &c, &err), &err, "open");
	put_layer(c, k[0], "blob one", one);
	put_layer(c, k[1], "blob two!", two);
	put_layer(c, k[2], "blob one", one);
	put_layer(c, k[3], "blob three", three);
	tag_image(build_cache_layout(c), three, strlen("blob three"), &pinned);
	set_mtime(dir, k[0], 1000);
	set_mtime(dir, k[1], 2000);
	set_mtime(dir, k[3], 1000);

	opts(&o, now - 1500, -1);
	o.now = now;
	ok_call(gc_evict_cache(build_cache_layout(c), keys, &o, true, &roots, &st, &err), &err,
		"dry run by age");
	is_int(st.entries, 2, "dry run: two entries would go");
	is_int(st.bytes, 0, "dry run: their blobs stay (one shared, one tagged)");
	is_int(st.kept_bytes, pinned + 8 + 9, "dry run: tagged plus blobs one and two");
	ok(has_key(dir, k[0]) && has_key(dir, k[3]), "dry run: no entry removed");
	is_int(roots.n, 2, "dry run: the roots are what would stay");
	pn_strv_release(&roots);

	ok_call(gc_evict_cache(build_cache_layout(c), keys, &o, false, &roots, &st, &err), &err,
		"evict by age");
	ok(!has_key(dir, k[0]) && !has_key(dir, k[3]), "the old entries are gone");
	ok(has_key(dir, k[1]) && has_key(dir, k[2]), "the others stay");
	pn_strv_sort(&roots);
	is_int(roots.n, 2, "two roots");
	ok(pn_strv_contains(&roots, one) && pn_strv_contains(&roots, two), "blobs one and two");
	pn_strv_release(&roots);

	opts(&o, -1, pinned + 8);
	o.now = now;
	ok_call(gc_evict_cache(build_cache_layout(c), keys, &o, false, &roots, &st, &err), &err,
		"evict by size");
	is_int(st.entries, 1, "one entry evicted to fit");
	is_int(st.bytes, 9, "blob two's bytes");
	ok(!has_key(dir, k[1]) && has_key(dir, k[2]), "the least recently used one");
	is_int(roots.n, 1, "one root left");
	is_str(roots.n ? roots.v[0] : "", one, "blob one");
	pn_strv_release(&roots);

	opts(&o, -1, -1);
	ok_call(gc_evict_cache(build_cache_layout(c), keys, &o, false, &roots, &st, &err), &err,
		"no bound");
	is_int(st.entries, 0, "no bound: nothing evicted");
	is_int(roots.n, 1, "no bound: the roots of every entry");
	pn_strv_release(&roots);
	build_cache_free(c);
}

int main(void)
{
	TEST(t_duration);
	TEST(t_size);
	TEST(t_select_age);
	TEST(t_select_size);
	TEST(t_select_shared);
	TEST(t_select_pinned);
	TEST(t_hit_touches);
	TEST(t_evict_cache);
	return tap_done();
}
