/* pgzip.c - gzip of a stream on several threads.  The input is cut into
 * blocks of a fixed size; each block becomes a gzip member of its own
 * (RFC 1952 2.2: a gzip file is a series of members; gzip(1), zlib's
 * inflate with a reset, Python's gzip, libarchive and Go's compress/gzip,
 * which Docker, containerd, podman, skopeo and umoci use, read them all):
 * a fixed header written here (no name, mtime 0, OS 3), the block raw-
 * deflated by libdeflate (libdeflate_deflate_compress: whole buffers; on a
 * Debian rootfs at level 6, 2.2x less CPU than zlib's deflate and a 1.2%
 * smaller output), and a trailer of the block's CRC-32 (libdeflate_crc32)
 * and size.  libdeflate has no preset dictionary, so unlike pigz's blocks a
 * member starts cold; at 1 MiB that costs 0.2% of the output against one
 * member (docs/performance.md).
 *
 * A member's bytes depend only on its block's input, the level and the
 * libdeflate release, and the block boundaries only on the block size: the
 * output is the same for any thread count, and on any CPU (libdeflate's
 * CPU-specific code is its CRC-32 and table fills, which compute the same
 * values), so layer digests are reproducible across machines with the same
 * libdeflate.  A later libdeflate may deflate differently (as zlib-ng does
 * against zlib); the digests then change once.  With one thread the blocks
 * are compressed in line.
 *
 * Memory is bounded: a ring of 2 slots per worker, each a block of input and
 * its output.  The caller's thread fills slots in order and writes finished
 * ones out in order; it waits when the slot it wants to fill is still
 * queued, compressing or not yet written.  Workers take sealed slots in order.
 * The first failure (a worker's deflate, the output callback) stops the
 * stream: later calls return it, oci_pgzip_free stops and joins the workers. */
#include "oci/internal.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PGZ_MIN_BLOCK	     ((size_t)32 << 10)
#define PGZ_MAX_LEVEL	     12 /* libdeflate's; zlib's 1-9 mean about the same */
#define PGZ_MAX_THREADS	     8
#define PGZ_SLOTS_PER_WORKER 2
#define PGZ_HEADER	     10
#define PGZ_TRAILER	     8

enum pgz_state { PGZ_FREE, PGZ_FILLING, PGZ_SEALED, PGZ_DONE };

struct pgz_slot {
	enum pgz_state state;
	unsigned char *in, *out; /* out: the whole member */
	size_t in_len, out_len, out_cap;
};

struct pgz_worker {
	struct oci_pgzip *z;
	struct libdeflate_compressor *c;
	pthread_t th;
	bool running;
};

struct oci_pgzip {
	int level, threads;
	size_t block;
	oci_pgzip_out_fn out;
	void *ud;
	struct pgz_slot *slots;
	size_t n_slots;
	struct pgz_worker *workers;
	int n_running; /* worker threads started; 0: workers[0].c used in line */
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	/* sequence numbers: blocks [emitted, taken) being compressed or done,
	 * [taken, sealed) waiting for a worker, block `sealed` being filled */
	uint64_t emitted, taken, sealed;
	uint64_t fail_block;   /* tests: this block's compression fails (0: none) */
	struct pn_error *werr; /* a worker's failure, under mu */
	bool failed, stop, finished;
};

int oci_pgzip_threads(int requested)
{
	const char *env = getenv("PINION_COMPRESS_THREADS");
	long n = requested;

	if (n <= 0 && env && *env)
		n = strtol(env, NULL, 10);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > PGZ_MAX_THREADS ? PGZ_MAX_THREADS : (int)n;
}

static bool test_no_threads;

void oci_pgzip_test_no_threads(bool on)
{
	test_no_threads = on;
}

void oci_pgzip_test_fail_block(struct oci_pgzip *z, uint64_t block)
{
	z->fail_block = block + 1;
}

/* ------------------------------------------------------------ one block */
static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* s->in as one gzip member into s->out: the same bytes whatever c did
 * before.  The header is the one zlib's gzip wrapper wrote (no name, mtime
 * 0, OS 3: Unix), so it does not change with libdeflate's. */
static int block_compress(struct oci_pgzip *z, struct libdeflate_compressor *c, struct pgz_slot *s,
			  uint64_t seq, struct pn_error **err)
{
	unsigned char *o = s->out;
	size_t n;

	if (z->fail_block && z->fail_block - 1 == seq)
		return pn_error_set(err, PN_ERR_GENERIC, "gzip: block %llu: injected failure",
				    (unsigned long long)seq);
	static const unsigned char header[PGZ_HEADER] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

	memcpy(o, header, PGZ_HEADER);
	o[8] = z->level >= 9 ? 2 : z->level < 2 ? 4 : 0; /* XFL: slowest, fastest */
	/* out_cap is libdeflate_deflate_compress_bound's: 0 (no room) cannot be */
	n = libdeflate_deflate_compress(c, s->in, s->in_len, o + PGZ_HEADER,
					s->out_cap - PGZ_HEADER - PGZ_TRAILER);
	if (!n)
		return pn_error_set(err, PN_ERR_GENERIC,
				    "gzip: block %llu: no room for its deflate output",
				    (unsigned long long)seq);
	o += PGZ_HEADER + n;
	put_le32(o, libdeflate_crc32(0, s->in, s->in_len));
	put_le32(o + 4, (uint32_t)s->in_len);
	s->out_len = PGZ_HEADER + n + PGZ_TRAILER;
	return 0;
}

/* ------------------------------------------------------------ workers */
static void *worker_main(void *arg)
{
	struct pgz_worker *wk = arg;
	struct oci_pgzip *z = wk->z;

	pthread_mutex_lock(&z->mu);
	for (;;) {
		struct pn_error *e = NULL;
		struct pgz_slot *s;
		uint64_t seq;

		while (!z->stop && !z->failed && z->taken == z->sealed)
			pthread_cond_wait(&z->work_cv, &z->mu);
		if (z->stop || z->failed)
			break;
		seq = z->taken++;
		s = &z->slots[seq % z->n_slots];
		pthread_mutex_unlock(&z->mu);
		block_compress(z, wk->c, s, seq, &e);
		pthread_mutex_lock(&z->mu);
		if (e && !z->failed) {
			z->failed = true;
			z->werr = e;
			pthread_cond_broadcast(&z->work_cv);
		} else
			pn_error_free(e);
		s->state = PGZ_DONE;
		pthread_cond_broadcast(&z->done_cv);
	}
	pthread_mutex_unlock(&z->mu);
	return NULL;
}

/* where no thread can be made (a sandbox's limits), fewer workers or none
 * (in line): the bytes are the same */
static int workers_start(struct oci_pgzip *z, struct pn_error **err)
{
	for (int i = 0; i < z->threads; i++) {
		struct pgz_worker *wk = &z->workers[i];

		wk->z = z;
		if (!(wk->c = libdeflate_alloc_compressor(z->level)))
			return pn_error_set(err, PN_ERR_GENERIC,
					    "gzip: cannot allocate a compressor");
		if (z->threads == 1 || test_no_threads ||
		    pthread_create(&wk->th, NULL, worker_main, wk) != 0)
			break;
		wk->running = true;
		z->n_running++;
	}
	return 0;
}

struct oci_pgzip *oci_pgzip_new(int level, int threads, size_t block, oci_pgzip_out_fn out,
				void *ud, struct pn_error **err)
{
	struct oci_pgzip *z = xcalloc(1, sizeof(*z));

	z->level = level < 1 ? 6 : level > PGZ_MAX_LEVEL ? PGZ_MAX_LEVEL : level;
	z->threads = threads < 1 ? 1 : threads > PGZ_MAX_THREADS ? PGZ_MAX_THREADS : threads;
	z->block = block ? block : OCI_PGZIP_BLOCK;
	if (z->block < PGZ_MIN_BLOCK || z->block > UINT32_MAX / 2)
		z->block = z->block < PGZ_MIN_BLOCK ? PGZ_MIN_BLOCK : UINT32_MAX / 2;
	z->out = out;
	z->ud = ud;
	z->n_slots = z->threads == 1 ? 1 : (size_t)z->threads * PGZ_SLOTS_PER_WORKER;
	z->slots = xcalloc(z->n_slots, sizeof(*z->slots));
	for (size_t i = 0; i < z->n_slots; i++) {
		struct pgz_slot *s = &z->slots[i];

		s->in = xmalloc(z->block);
		/* the bound of any compressor of this libdeflate */
		s->out_cap = PGZ_HEADER + libdeflate_deflate_compress_bound(NULL, z->block) +
			     PGZ_TRAILER;
		s->out = xmalloc(s->out_cap);
	}
	z->workers = xcalloc((size_t)z->threads, sizeof(*z->workers));
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->work_cv, NULL);
	pthread_cond_init(&z->done_cv, NULL);
	z->slots[0].state = PGZ_FILLING;
	if (workers_start(z, err) < 0) {
		oci_pgzip_free(z);
		return NULL;
	}
	return z;
}

void oci_pgzip_free(struct oci_pgzip *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = true;
	pthread_cond_broadcast(&z->work_cv);
	pthread_mutex_unlock(&z->mu);
	for (int i = 0; i < z->threads; i++) {
		if (z->workers[i].running)
			pthread_join(z->workers[i].th, NULL);
		libdeflate_free_compressor(z->workers[i].c);
	}
	for (size_t i = 0; i < z->n_slots; i++) {
		free(z->slots[i].in);
		free(z->slots[i].out);
	}
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->work_cv);
	pthread_cond_destroy(&z->done_cv);
	pn_error_free(z->werr);
	free(z->slots);
	free(z->workers);
	free(z);
}

/* ------------------------------------------------------------ output */
/* a finished member to the output; the slot becomes free.  Called without
 * mu by the thread that owns the stream. */
static int block_emit(struct oci_pgzip *z, struct pgz_slot *s, struct pn_error **err)
{
	return z->out(z->ud, s->out, s->out_len, err);
}

/* fail the stream: keep the first error, stop the workers; returns -1 */
static int stream_fail(struct oci_pgzip *z, struct pn_error **err)
{
	pthread_mutex_lock(&z->mu);
	z->failed = true;
	pthread_cond_broadcast(&z->work_cv);
	if (z->werr && err) {
		pn_error_free(*err);
		*err = steal_pointer(&z->werr);
	} else if (err && !*err)
		pn_error_set(err, PN_ERR_GENERIC, "gzip: stream already failed or finished");
	pthread_mutex_unlock(&z->mu);
	return -1;
}

/* write out finished blocks in order until block `until` is written (all
 * with until == sealed + 1 after the last block is sealed) */
static int drain_until(struct oci_pgzip *z, uint64_t until, struct pn_error **err)
{
	pthread_mutex_lock(&z->mu);
	while (z->emitted < until) {
		struct pgz_slot *s = &z->slots[z->emitted % z->n_slots];

		if (z->failed) {
			pthread_mutex_unlock(&z->mu);
			return stream_fail(z, err);
		}
		if (s->state != PGZ_DONE) {
			pthread_cond_wait(&z->done_cv, &z->mu);
			continue;
		}
		pthread_mutex_unlock(&z->mu);
		if (block_emit(z, s, err) < 0)
			return stream_fail(z, err);
		pthread_mutex_lock(&z->mu);
		s->state = PGZ_FREE;
		z->emitted++;
	}
	pthread_mutex_unlock(&z->mu);
	return 0;
}

/* the block being filled is complete (or the last): hand it on and start
 * the next one */
static int block_seal(struct oci_pgzip *z, bool last, struct pn_error **err)
{
	struct pgz_slot *s = &z->slots[z->sealed % z->n_slots];

	if (!z->n_running) {
		s->state = PGZ_DONE;
		if (block_compress(z, z->workers[0].c, s, z->sealed, err) < 0 ||
		    block_emit(z, s, err) < 0)
			return stream_fail(z, err);
		z->emitted = ++z->sealed;
	} else {
		pthread_mutex_lock(&z->mu);
		s->state = PGZ_SEALED;
		z->sealed++;
		pthread_cond_signal(&z->work_cv);
		pthread_mutex_unlock(&z->mu);
		if (last)
			return 0;
		/* the next slot was last used by block sealed - n_slots */
		if (z->sealed >= z->n_slots && drain_until(z, z->sealed - z->n_slots + 1, err) < 0)
			return -1;
	}
	s = &z->slots[z->sealed % z->n_slots];
	s->state = PGZ_FILLING;
	s->in_len = 0;
	return 0;
}

int oci_pgzip_write(struct oci_pgzip *z, const void *data, size_t len, struct pn_error **err)
{
	const unsigned char *p = data;

	if (z->failed || z->finished)
		return stream_fail(z, err);
	while (len) {
		struct pgz_slot *s = &z->slots[z->sealed % z->n_slots];
		size_t n = z->block - s->in_len < len ? z->block - s->in_len : len;

		memcpy(s->in + s->in_len, p, n);
		s->in_len += n;
		p += n;
		len -= n;
		/* a full block is sealed at once: the same members however the
		 * input was split */
		if (s->in_len == z->block && block_seal(z, false, err) < 0)
			return -1;
	}
	return 0;
}

int oci_pgzip_finish(struct oci_pgzip *z, struct pn_error **err)
{
	const struct pgz_slot *s;

	if (z->failed || z->finished)
		return stream_fail(z, err);
	/* the partial last block; an empty input is one empty member (a gzip
	 * file has at least one), an input of whole blocks ends with its last */
	s = &z->slots[z->sealed % z->n_slots];
	if ((s->in_len || !z->sealed) && block_seal(z, true, err) < 0)
		return -1;
	if (drain_until(z, z->sealed, err) < 0)
		return -1;
	z->finished = true;
	return 0;
}
