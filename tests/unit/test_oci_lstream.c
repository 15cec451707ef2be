/* test_oci_lstream.c - the layer stream (oci/lstream.c) against blobs made by
 * the system's gzip and zstd: the uncompressed bytes and both digests equal
 * what sha256sum says, for concatenated gzip members, zstd frames, bytes after
 * the compressed stream, chunk-crossing sizes, in each mode (on its thread or
 * in line, igzip or zlib); truncated and corrupt streams fail. */
#include "tests/unit/tap.h"
#include "tests/unit/lstream_modes.h"
#include "oci/internal.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PAYLOAD ((size_t)3 << 20) /* past the ring's 1 MiB, odd chunk ends */

static char *dir;

static char *path_of(const char *name)
{
	return pn_path_join(dir, name);
}

/* the sha256 of a file, by the system's sha256sum */
static void sha_file(const char *file, oci_digest_t out)
{
	cleanup_free char *cmd = xasprintf("sha256sum '%s'", file);

	tap_sha256_cmd(cmd, out, sizeof(oci_digest_t));
}

/* the whole stream of blob: its bytes' digest into got, the blob's and the
 * diff_id; -1 (the stream's error into msg) on failure */
static int run_stream(const char *blob, oci_digest_t got, oci_digest_t bd, oci_digest_t did,
		      char **msg)
{
	cleanup_close int fd = open(blob, O_RDONLY | O_CLOEXEC);
	struct pn_error *err = NULL;
	struct oci_lstream *s = oci_lstream_open(fd, true, &err);
	struct oci_hasher *h = oci_hasher_new();
	const void *buf;
	ssize_t n;

	if (!s) {
		*msg = xstrdup(err ? err->msg : "open failed");
		pn_error_free(err);
		oci_hasher_free(h);
		return -1;
	}
	while ((n = oci_lstream_read(s, &buf)) > 0)
		oci_hasher_update(h, buf, (size_t)n);
	if (n == 0)
		oci_lstream_digests(s, bd, did);
	else
		*msg = xstrdup(oci_lstream_error(s));
	oci_hasher_final(h, got);
	oci_hasher_free(h);
	oci_lstream_free(s);
	return n == 0 ? 0 : -1;
}

/* blob decodes to the file want; its digest and diff_id are right */
static void check_blob(const char *mode, const char *blob, const char *want)
{
	cleanup_free char *bp = path_of(blob), *wp = path_of(want), *msg = NULL;
	oci_digest_t got, bd = "", did = "", want_d, blob_d;

	sha_file(wp, want_d);
	sha_file(bp, blob_d);
	ok(run_stream(bp, got, bd, did, &msg) == 0, "[%s] %s: read to its end", mode, blob);
	if (msg)
		tap_diag("%s", msg);
	is_str(got, want_d, "[%s] %s: the bytes are %s's", mode, blob, want);
	is_str(did, want_d, "[%s] %s: the diff_id is their digest", mode, blob);
	is_str(bd, blob_d, "[%s] %s: the blob digest covers every byte of it", mode, blob);
}

static void check_fails(const char *mode, const char *blob, const char *needle)
{
	cleanup_free char *bp = path_of(blob), *msg = NULL;
	oci_digest_t got, bd, did;

	ok(run_stream(bp, got, bd, did, &msg) < 0 && tap_contains(msg, needle),
	   "[%s] %s: fails naming `%s`", mode, blob, needle);
	if (msg)
		tap_diag("%s", msg);
}

static void make_inputs(void)
{
	cleanup_free char *p = path_of("payload");
	cleanup_free char *buf = xmalloc(PAYLOAD), *cmd = NULL;
	uint32_t x = 12345;

	/* compressible but not trivially: a noisy byte stream */
	for (size_t i = 0; i < PAYLOAD; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (char)((x >> 16) % 23 + 'a');
	}
	ok(pn_write_file_atomic(p, buf, PAYLOAD, 0644, NULL) == 0, "payload written");
	cmd = xasprintf("cd '%s' && gzip -n -c payload > one.gz && head -c 1000001 payload > a && "
			"tail -c +1000002 payload > b && gzip -n -c a > two.gz && gzip -n -1 -c b "
			">> two.gz && "
			"cp one.gz junk.gz && printf 'not gzip' >> junk.gz && "
			"zstd -q -c a > two.zst && zstd -q -c b >> two.zst && cp payload plain && "
			"head -c 500000 one.gz > cut.gz && head -c 500000 two.zst > cut.zst && "
			"cp one.gz badcrc.gz && "
			"printf 'x' | dd of=badcrc.gz bs=1 seek=$(($(stat -c %%s one.gz) - 6)) "
			"conv=notrunc "
			"2>/dev/null",
			dir);
	ok(system(cmd) == 0, "gzip, zstd and truncated blobs made by the system's tools");
}

static void t_modes(void)
{
	const char *mode;

	dir = tap_tmpdir();
	make_inputs();
	for (size_t i = 0; (mode = lstream_mode_set(i)); i++) {
		check_blob(mode, "one.gz", "payload");
		check_blob(mode, "two.gz", "payload");
		check_blob(mode, "junk.gz", "payload");
		check_blob(mode, "two.zst", "payload");
		check_blob(mode, "plain", "payload");
		check_fails(mode, "cut.gz", "gzip");
		check_fails(mode, "cut.zst", "zstd");
		check_fails(mode, "badcrc.gz", "gzip");
	}
	unsetenv("PINION_UNPACK_THREAD");
	unsetenv("PINION_INFLATE");
}

/* the reader may stop anywhere: free stops the thread (no hang, no leak) */
static void t_stop_early(void)
{
	cleanup_free char *bp = path_of("one.gz");
	cleanup_close int fd = open(bp, O_RDONLY | O_CLOEXEC);
	struct pn_error *err = NULL;
	struct oci_lstream *s = oci_lstream_open(fd, true, &err);
	const void *buf;

	ok(s && oci_lstream_read(s, &buf) > 0, "first chunk read");
	oci_lstream_free(s);
	ok(1, "stream freed after one chunk");
}

int main(void)
{
	TEST(t_modes);
	TEST(t_stop_early);
	return tap_done();
}
