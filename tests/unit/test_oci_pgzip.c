/* test_oci_pgzip.c - the block-parallel gzip (oci/pgzip.c): one gzip member
 * per block, each with the fixed header, its block's CRC-32 and size (walked
 * with zlib); the output read back by zlib's inflate, the system gzip,
 * Python's gzip module and pinion's layer stream (igzip and zlib, on its
 * thread and in line); a corrupt CRC in the second member refused by each;
 * the same bytes for 1, 2 and 8 threads and any split of the input; empty
 * input, sizes off the block size; a failing worker and a failing output;
 * the layer writer's gzip digest not depending on the thread count. */
#include "tests/unit/tap.h"
#include "tests/unit/lstream_modes.h"
#include "oci/oci.h"
#include "oci/internal.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BLK	  ((size_t)64 << 10)
#define GZ_HEADER "\x1f\x8b\x08\0\0\0\0\0\0\x03" /* no name, mtime 0, Unix */

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

/* compress in pieces of `chunk` bytes with `threads` workers, blocks of blk */
static int pgz_blk(const unsigned char *in, size_t n, int threads, size_t chunk, size_t blk,
		   struct sink *s, struct pn_error **err)
{
	struct oci_pgzip *z = oci_pgzip_new(6, threads, blk, sink_out, s, err);
	int rc = z ? 0 : -1;

	for (size_t off = 0; rc == 0 && off < n; off += chunk)
		rc = oci_pgzip_write(z, in + off, n - off < chunk ? n - off : chunk, err);
	if (rc == 0)
		rc = oci_pgzip_finish(z, err);
	oci_pgzip_free(z);
	return rc;
}

static int pgz(const unsigned char *in, size_t n, int threads, size_t chunk, struct sink *s,
	       struct pn_error **err)
{
	return pgz_blk(in, n, threads, chunk, BLK, s, err);
}

/* zlib's inflate of every member in turn (a gzip reader resets after each
 * member while input is left, as gzip(1) and Go's reader do) */
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
	while ((zr = inflate(&zs, Z_FINISH)) == Z_STREAM_END && zs.avail_in)
		inflateReset(&zs);
	same = zr == Z_STREAM_END && zs.next_out == out + n && memcmp(out, in, n) == 0;
	inflateEnd(&zs);
	free(out);
	return same;
}

/* the member of s at pos, inflated by zlib into out (cap bytes): its
 * header is the fixed one, its deflate data ends where its trailer starts,
 * the trailer holds the CRC-32 and size of its bytes.  Where it ends (past
 * the trailer), or 0; its size into *got. */
static size_t member_end(const struct sink *s, size_t pos, unsigned char *out, size_t cap,
			 size_t *got)
{
	z_stream zs = {0};
	const unsigned char *t;
	bool good;
	int zr;

	if (s->len - pos < 18 || memcmp(s->p + pos, GZ_HEADER, 10) != 0 ||
	    inflateInit2(&zs, -15) != Z_OK)
		return 0;
	zs.next_in = s->p + pos + 10;
	zs.avail_in = (uInt)(s->len - pos - 10);
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	zr = inflate(&zs, Z_FINISH);
	*got = cap - zs.avail_out;
	t = zs.next_in;
	good = zr == Z_STREAM_END && zs.avail_in >= 8 &&
	       crc32(0L, out, (uInt)*got) ==
		       ((uLong)t[0] | (uLong)t[1] << 8 | (uLong)t[2] << 16 | (uLong)t[3] << 24) &&
	       *got == ((size_t)t[4] | (size_t)t[5] << 8 | (size_t)t[6] << 16 | (size_t)t[7] << 24);
	inflateEnd(&zs);
	return good ? (size_t)(t + 8 - s->p) : 0;
}

/* the members of s: each a block of the input (member_end), every block
 * but the last blk bytes.  The number of members, or -1. */
static long members_check(const struct sink *s, const unsigned char *in, size_t n, size_t blk)
{
	cleanup_free unsigned char *out = xmalloc(blk);
	size_t pos = 0, off = 0, got;
	long count = 0;

	while (pos < s->len) {
		if (!(pos = member_end(s, pos, out, blk, &got)) || got > n - off ||
		    memcmp(out, in + off, got) != 0 || (got != blk && off + got != n))
			return -1;
		off += got;
		count++;
	}
	return off == n ? count : -1;
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
		/* one member per block begun; an empty input is one empty member */
		is_int(members_check(&s, in, n, BLK), n ? (long)((n + BLK - 1) / BLK) : 1,
		       "%zu: one member per block, each with its CRC and size", n);
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

/* the whole of file read by pinion's layer stream equals in[0..n); else
 * false with the stream's error in *msg */
static bool lstream_equals(const char *file, const unsigned char *in, size_t n, char **msg)
{
	cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct pn_error *err = NULL;
	struct oci_lstream *ls = oci_lstream_open(fd, true, &err);
	const void *buf;
	size_t off = 0;
	ssize_t r;
	bool same = true;

	if (!ls) {
		*msg = xstrdup(err ? err->msg : "open failed");
		pn_error_free(err);
		return false;
	}
	while ((r = oci_lstream_read(ls, &buf)) > 0) {
		same = same && (size_t)r <= n - off && memcmp(buf, in + off, (size_t)r) == 0;
		off += (size_t)r;
	}
	if (r < 0)
		*msg = xstrdup(oci_lstream_error(ls));
	oci_lstream_free(ls);
	return r == 0 && same && off == n;
}

/* pinion's own reader (oci/lstream.c) in each mode: all of 80 members of
 * 64 KiB, which cross its read chunks at every offset; and a stream whose
 * second member's CRC is wrong, or that ends inside the second member, fails */
static void t_lstream(void)
{
	size_t n = (size_t)5 << 20;
	cleanup_free unsigned char *in = make_input(n);
	cleanup_free char *good = pn_path_join(tap_tmpdir(), "members.gz");
	cleanup_free char *bad = pn_path_join(tap_tmpdir(), "badcrc.gz");
	cleanup_free char *cut = pn_path_join(tap_tmpdir(), "cut.gz");
	cleanup_free unsigned char *blk = xmalloc(BLK);
	struct sink s = {0};
	struct pn_error *err = NULL;
	size_t end1, got;
	const char *mode;

	ok_call(pgz(in, n, 2, 100000, &s, &err), &err, "80 members");
	end1 = member_end(&s, 0, blk, BLK, &got);
	ok(end1 > 0 && member_end(&s, end1, blk, BLK, &got) > end1, "members 1 and 2 found");
	pn_write_file_atomic(good, s.p, s.len, 0644, NULL);
	pn_write_file_atomic(cut, s.p, end1 + 100, 0644, NULL);
	s.p[member_end(&s, end1, blk, BLK, &got) - 8] ^= 0x40; /* member 2's CRC */
	pn_write_file_atomic(bad, s.p, s.len, 0644, NULL);
	for (size_t i = 0; (mode = lstream_mode_set(i)); i++) {
		char *msg = NULL;
		bool refused;

		ok(lstream_equals(good, in, n, &msg), "[%s] every member read", mode);
		free(msg);
		msg = NULL;
		refused = !lstream_equals(bad, in, n, &msg) && msg && tap_contains(msg, "gzip");
		ok(refused, "[%s] member 2 with a wrong CRC: %s", mode, msg ? msg : "no error");
		free(msg);
		msg = NULL;
		refused =
			!lstream_equals(cut, in, n, &msg) && msg && tap_contains(msg, "truncated");
		ok(refused, "[%s] cut inside member 2: %s", mode, msg ? msg : "no error");
		free(msg);
	}
	unsetenv("PINION_UNPACK_THREAD");
	unsetenv("PINION_INFLATE");
	free(s.p);
}

/* a wrong CRC in the second member: zlib, gzip -t and Python refuse it */
static void t_corrupt_member(void)
{
	size_t n = 3 * BLK + 100, end1, got;
	cleanup_free unsigned char *in = make_input(n);
	cleanup_free unsigned char *blk = xmalloc(BLK);
	struct sink s = {0};
	struct pn_error *err = NULL;

	ok_call(pgz(in, n, 8, n, &s, &err), &err, "compressed");
	end1 = member_end(&s, 0, blk, BLK, &got);
	ok(end1 > 0 && member_end(&s, end1, blk, BLK, &got) > end1, "members 1 and 2 found");
	s.p[member_end(&s, end1, blk, BLK, &got) - 6] ^= 1; /* member 2's CRC, 3rd byte */
	ok(!inflate_equals(&s, in, n), "zlib: refused");
	ok(!tool_equals(&s, in, n, "gzip -t \"$f\" 2>/dev/null"), "gzip -t: refused");
	ok(!tool_equals(&s, in, n,
			"/usr/bin/python3 -c 'import gzip,sys; sys.stdout.buffer.write("
			"gzip.open(sys.argv[1]).read())' \"$f\" 2>/dev/null"),
	   "python gzip module: refused");
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
		/* members start cold (no dictionary): at 64 KiB blocks this
		 * input, whose repeats straddle blocks, grows; at the default
		 * 1 MiB blocks it is within 1% of one zlib -6 stream */
		uLongf zlen = compressBound((uLong)n);
		cleanup_free unsigned char *zbuf = xmalloc(zlen);
		struct sink d = {0};

		compress2(zbuf, &zlen, in, (uLong)n, 6);
		ok_call(pgz_blk(in, n, 2, 65536, 0, &d, &err), &err, "default block size");
		is_int(members_check(&d, in, n, OCI_PGZIP_BLOCK), 4, "default: 1 MiB members");
		ok(d.len < zlen + zlen / 100, "size %zu near one zlib stream's %lu", d.len,
		   (unsigned long)zlen);
		free(d.p);
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
	TEST(t_corrupt_member);
	TEST(t_lstream);
	TEST(t_worker_error);
	TEST(t_output_error);
	TEST(t_threads);
	TEST(t_layer_digest);
	return tap_done();
}
