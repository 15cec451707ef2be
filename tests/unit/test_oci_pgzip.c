/* test_oci_pgzip.c - the block-parallel gzip (oci/pgzip.c): its output read
 * back by zlib's inflate, the system gzip and Python's gzip module; the same
 * bytes for 1, 2 and 8 threads and any split of the input; empty input,
 * sizes off the block size; a failing worker and a failing output; the
 * layer writer's gzip digest not depending on the thread count. */
#include "tests/unit/tap.h"
#include "oci/oci.h"
#include "oci/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BLK ((size_t)64 << 10)

struct sink {
	unsigned char *p;
	size_t len, cap;
	size_t fail_after; /* 0: never; else fail once len would pass it */
};

static int sink_out(void *ud, const void *data, size_t len, struct pn_error **err)
{
	struct sink *s = ud;

	if (s->fail_after && s->len + len > s->fail_after)
		return pn_error_set(err, PN_ERR_GENERIC, "sink: disk full");
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->p = xrealloc(s->p, s->cap);
	}
	memcpy(s->p + s->len, data, len);
	s->len += len;
	return 0;
}

/* text-like stretches, and random ones where each 24 KiB repeats right
 * after itself: a repeat in the next block is found only through the
 * dictionary (the last 32 KiB before the block) */
static unsigned char *make_input(size_t n)
{
	unsigned char *p = xmalloc(n ? n : 1);

	for (size_t i = 0; i < n; i++) {
		uint64_t x = (i / 49152) * 0x9e3779b97f4a7c15ull + i % 24576;

		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
		if ((i / 300000) % 3 != 0)
			p[i] = (unsigned char)(x ^ (x >> 31));
		else
			p[i] = (unsigned char)("pinion layer text "[i % 18] + ((i / 7919) % 4));
	}
	return p;
}

/* compress in pieces of `chunk` bytes with `threads` workers */
static int pgz(const unsigned char *in, size_t n, int threads, size_t chunk, struct sink *s,
	       struct pn_error **err)
{
	struct oci_pgzip *z = oci_pgzip_new(6, threads, BLK, sink_out, s, err);
	int rc = z ? 0 : -1;

	for (size_t off = 0; rc == 0 && off < n; off += chunk)
		rc = oci_pgzip_write(z, in + off, n - off < chunk ? n - off : chunk, err);
	if (rc == 0)
		rc = oci_pgzip_finish(z, err);
	oci_pgzip_free(z);
	return rc;
}

static bool inflate_equals(const struct sink *s, const unsigned char *in, size_t n)
{
	z_stream zs = {0};
	unsigned char *out = xmalloc(n + 16);
	int zr;
	bool same;

	if (inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(out);
		return false;
	}
	zs.next_in = s->p;
	zs.avail_in = (uInt)s->len;
	zs.next_out = out;
	zs.avail_out = (uInt)(n + 16);
	zr = inflate(&zs, Z_FINISH);
	same = zr == Z_STREAM_END && zs.total_out == n && memcmp(out, in, n) == 0 &&
	       zs.avail_in == 0;
	inflateEnd(&zs);
	free(out);
	return same;
}

/* the shell command `cmd` (the compressed file in $f) prints the input back */
static bool tool_equals(const struct sink *s, const unsigned char *in, size_t n, const char *cmd)
{
	cleanup_free char *gz = pn_path_join(tap_tmpdir(), "t.gz");
	cleanup_free char *raw = pn_path_join(tap_tmpdir(), "t.raw");
	cleanup_free char *full = NULL;

	pn_write_file_atomic(gz, s->p, s->len, 0644, NULL);
	pn_write_file_atomic(raw, in, n, 0644, NULL);
	full = xasprintf("f='%s'; %s | cmp -s - '%s'", gz, cmd, raw);
	return system(full) == 0;
}

static void t_round_trip(void)
{
	static const size_t sizes[] = {0,	1,	     BLK - 1, BLK,
				       BLK + 1, 3 * BLK + 7, 2 * BLK, (size_t)5 << 20};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		cleanup_free unsigned char *in = make_input(n);
		struct sink s = {0};
		struct pn_error *err = NULL;

		ok_call(pgz(in, n, 2, 100000, &s, &err), &err, "%zu bytes compressed", n);
		ok(s.len >= 18 && s.p[0] == 0x1f && s.p[1] == 0x8b, "%zu: gzip magic", n);
		ok(inflate_equals(&s, in, n), "%zu: zlib inflate gives the input back", n);
		ok(tool_equals(&s, in, n, "gzip -t \"$f\" && gzip -dc \"$f\""),
		   "%zu: gzip -t and gzip -dc", n);
		free(s.p);
	}
}

static void t_python(void)
{
	size_t n = 3 * BLK + 12345;
	cleanup_free unsigned char *in = make_input(n);
	struct sink s = {0};
	struct pn_error *err = NULL;

	ok_call(pgz(in, n, 2, n, &s, &err), &err, "compressed");
	ok(tool_equals(&s, in, n,
		       "/usr/bin/python3 -c 'import gzip,sys; sys.stdout.buffer.write("
		       "gzip.open(sys.argv[1]).read())' \"$f\""),
	   "python gzip module reads it back");
	free(s.p);
}

static void t_same_bytes(void)
{
	size_t n = ((size_t)3 << 20) + 4321;
	cleanup_free unsigned char *in = make_input(n);
	struct sink s1 = {0}, s2 = {0}, s8 = {0}, split = {0}, nothr = {0};
	struct pn_error *err = NULL;

	ok_call(pgz(in, n, 1, n, &s1, &err), &err, "1 thread");
	ok_call(pgz(in, n, 2, 4096, &s2, &err), &err, "2 threads, 4 KiB writes");
	ok_call(pgz(in, n, 8, 777777, &s8, &err), &err, "8 threads, odd writes");
	ok_call(pgz(in, n, 1, 1, &split, &err), &err, "1 thread, 1-byte writes");
	oci_pgzip_test_no_threads(true);
	ok_call(pgz(in, n, 4, 65536, &nothr, &err), &err, "4 threads asked, none could start");
	oci_pgzip_test_no_threads(false);
	ok(s1.len == nothr.len && memcmp(s1.p, nothr.p, s1.len) == 0,
	   "no thread started: in line, same bytes");
	ok(s1.len == s2.len && memcmp(s1.p, s2.p, s1.len) == 0, "1 and 2 threads: same bytes");
	ok(s1.len == s8.len && memcmp(s1.p, s8.p, s1.len) == 0, "1 and 8 threads: same bytes");
	ok(s1.len == split.len && memcmp(s1.p, split.p, s1.len) == 0,
	   "byte-wise writes: same bytes");
	{
		/* the dictionary carries matches across blocks: within 2% of one
		 * zlib stream (without it, each block starts cold) */
		uLongf zlen = compressBound((uLong)n);
		cleanup_free unsigned char *zbuf = xmalloc(zlen);

		compress2(zbuf, &zlen, in, (uLong)n, 6);
		ok(s1.len < zlen + zlen / 50, "size %zu near one stream's %lu", s1.len,
		   (unsigned long)zlen);
	}
	free(s1.p);
	free(s2.p);
	free(s8.p);
	free(split.p);
	free(nothr.p);
}

static void t_worker_error(void)
{
	size_t n = 10 * BLK;
	cleanup_free unsigned char *in = make_input(n);
	const int threads[] = {1, 2, 8};

	for (size_t i = 0; i < 3; i++) {
		struct sink s = {0};
		struct pn_error *err = NULL;
		struct oci_pgzip *z = oci_pgzip_new(6, threads[i], BLK, sink_out, &s, &err);
		int rc = 0;

		oci_pgzip_test_fail_block(z, 3);
		for (size_t off = 0; rc == 0 && off < n; off += BLK / 2)
			rc = oci_pgzip_write(z, in + off, BLK / 2, &err);
		if (rc == 0)
			rc = oci_pgzip_finish(z, &err);
		ok_fail(rc, &err, 0, "block 3: injected failure",
			"%d threads: worker error returned", threads[i]);
		ok(s.len < 3 * compressBound(BLK) + 64, "%d threads: nothing from block 3 on",
		   threads[i]);
		ok_fail(oci_pgzip_finish(z, &err), &err, 0, "failed",
			"%d threads: finish after it fails", threads[i]);
		oci_pgzip_free(z);
		free(s.p);
	}
}

static void t_output_error(void)
{
	size_t n = 20 * BLK;
	cleanup_free unsigned char *in = make_input(n);
	struct sink s = {.fail_after = 5 * BLK};
	struct pn_error *err = NULL;
	struct oci_pgzip *z = oci_pgzip_new(1, 2, BLK, sink_out, &s, &err);
	int rc = 0;

	for (size_t off = 0; rc == 0 && off < n; off += BLK)
		rc = oci_pgzip_write(z, in + off, BLK, &err);
	if (rc == 0)
		rc = oci_pgzip_finish(z, &err);
	ok_fail(rc, &err, 0, "disk full", "output error returned");
	ok_fail(oci_pgzip_write(z, in, 10, &err), &err, 0, "failed", "write after it fails");
	oci_pgzip_free(z); /* workers still busy with sealed blocks: stopped, joined */
	free(s.p);
	z = oci_pgzip_new(6, 4, BLK, sink_out, &s, &err);
	ok(z != NULL && oci_pgzip_write(z, in, 3 * BLK, &err) == 0, "freed in mid-stream");
	oci_pgzip_free(z);
}

static void t_threads(void)
{
	setenv("PINION_COMPRESS_THREADS", "3", 1);
	is_int(oci_pgzip_threads(0), 3, "PINION_COMPRESS_THREADS");
	is_int(oci_pgzip_threads(2), 2, "an explicit count wins");
	setenv("PINION_COMPRESS_THREADS", "64", 1);
	is_int(oci_pgzip_threads(0), 8, "capped at 8");
	unsetenv("PINION_COMPRESS_THREADS");
	ok(oci_pgzip_threads(0) >= 1, "cores: at least 1");
}

/* the layer writer's gzip blob: same digest for 1 and 2 threads */
static void t_layer_digest(void)
{
	cleanup_free char *lp = pn_path_join(tap_tmpdir(), "layout");
	cleanup_free unsigned char *in = make_input((size_t)3 << 20);
	struct oci_layout *l = NULL;
	struct pn_error *err = NULL;
	oci_digest_t d[2];

	ok_call(oci_layout_open(lp, OCI_LAYOUT_CREATE, &l, &err), &err, "layout");
	for (int t = 1; t <= 2; t++) {
		struct oci_layer_opts o;
		struct oci_layer_writer *w;
		struct oci_layer_result r;

		oci_layer_opts_init(&o);
		o.threads = t;
		o.mtime_clamp = 1000;
		w = oci_layer_writer_new(l, &o, &err);
		ok_call(oci_layer_writer_add_data(w, "big.bin", in, (size_t)3 << 20, 0644, &err),
			&err, "%d threads: data added", t);
		ok_call(oci_layer_writer_finish(w, &r, &err), &err, "%d threads: finished", t);
		memcpy(d[t - 1], r.desc.digest, sizeof(d[0]));
		oci_layer_result_release(&r);
		oci_layer_writer_free(w);
	}
	is_str(d[0], d[1], "gzip layer: same digest with 1 and 2 threads");
	oci_layout_free(l);
}

int main(void)
{
	TEST(t_round_trip);
	TEST(t_python);
	TEST(t_same_bytes);
	TEST(t_worker_error);
	TEST(t_output_error);
	TEST(t_threads);
	TEST(t_layer_digest);
	return tap_done();
}
