/* pgzip.c - gzip of a stream on several threads, pigz-style.  The input is
 * cut into blocks of a fixed size; each block is raw-deflated on its own,
 * primed with the last 32 KiB of the block before it (deflateSetDictionary)
 * and ended with Z_SYNC_FLUSH (the last with Z_FINISH), so the blocks'
 * outputs put end to end are one deflate stream.  This file writes the gzip
 * header and trailer itself; the trailer's CRC-32 is the blocks' CRCs joined
 * with crc32_combine.
 *
 * A block's bytes depend only on its input, its dictionary and whether it is
 * last, and the block boundaries only on the block size: the output is the
 * same for any thread count (layer digests are reproducible across
 * machines).  With one thread the blocks are compressed in line.
 *
 * Memory is bounded: a ring of 2 slots per worker, each a block of input and
 * its output.  The caller's thread fills slots in order and writes finished
 * ones out in order; it waits when the slot it wants to fill is still
 * queued, compressing or not yet written.  Workers take sealed slots in order.
 * The first failure (a worker's deflate, the output callback) stops the
 * stream: later calls return it, oci_pgzip_free stops and joins the workers. */
#include "oci/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define PGZ_DICT	     ((size_t)32 << 10)
#define PGZ_MAX_THREADS	     8
#define PGZ_SLOTS_PER_WORKER 2

enum pgz_state { PGZ_FREE, PGZ_FILLING, PGZ_SEALED, PGZ_DONE };

struct pgz_slot {
	enum pgz_state state;
	bool last;
	unsigned char *in, *out, *dict;
	size_t in_len, out_len, out_cap, dict_len;
	uLong crc;
};

struct pgz_worker {
	struct oci_pgzip *z;
	z_stream zs;
	bool zs_init;
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
	int n_running; /* worker threads started; 0: workers[0].zs used in line */
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	/* sequence numbers: blocks [emitted, taken) being compressed or done,
	 * [taken, sealed) waiting for a worker, block `sealed` being filled */
	uint64_t emitted, taken, sealed;
	unsigned char dict[PGZ_DICT]; /* the tail of the last sealed block */
	size_t dict_len;
	uLong crc;
	uint64_t isize;
	uint64_t fail_block;   /* tests: this block's compression fails (0: none) */
	struct pn_error *werr; /* a worker's failure, under mu */
	bool failed, stop, finished, header_done;
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
/* raw deflate of s->in into s->out; the same bytes whatever zs did before */
static int block_compress(struct oci_pgzip *z, z_stream *zs, struct pgz_slot *s, uint64_t seq,
			  struct pn_error **err)
{
	int flush = s->last ? Z_FINISH : Z_SYNC_FLUSH, zr;

	if (z->fail_block && z->fail_block - 1 == seq)
		return pn_error_set(err, PN_ERR_GENERIC, "gzip: block %llu: injected failure",
				    (unsigned long long)seq);
	if (deflateReset(zs) != Z_OK ||
	    (s->dict_len && deflateSetDictionary(zs, s->dict, (uInt)s->dict_len) != Z_OK))
		return pn_error_set(err, PN_ERR_GENERIC, "gzip: reset deflate");
	s->crc = crc32(0L, s->in, (uInt)s->in_len);
	zs->next_in = s->in;
	zs->avail_in = (uInt)s->in_len;
	s->out_len = 0;
	for (;;) {
		zs->next_out = s->out + s->out_len;
		zs->avail_out = (uInt)(s->out_cap - s->out_len);
		zr = deflate(zs, flush);
		s->out_len = s->out_cap - zs->avail_out;
		if (zr == Z_STREAM_ERROR)
			return pn_error_set(err, PN_ERR_GENERIC, "gzip: %s",
					    zs->msg ? zs->msg : "stream error");
		if (zs->avail_out && (flush != Z_FINISH || zr == Z_STREAM_END))
			return 0;
		/* out of room (deflateBound makes this rare): grow */
		s->out_cap *= 2;
		s->out = xrealloc(s->out, s->out_cap);
	}
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
		block_compress(z, &wk->zs, s, seq, &e);
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
		if (deflateInit2(&wk->zs, z->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return pn_error_set(err, PN_ERR_GENERIC, "gzip: initialise deflate");
		wk->zs_init = true;
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

	z->level = level ? level : 6;
	z->threads = threads < 1 ? 1 : threads > PGZ_MAX_THREADS ? PGZ_MAX_THREADS : threads;
	z->block = block ? block : OCI_PGZIP_BLOCK;
	if (z->block < PGZ_DICT || z->block > UINT32_MAX / 2)
		z->block = z->block < PGZ_DICT ? PGZ_DICT : UINT32_MAX / 2;
	z->out = out;
	z->ud = ud;
	z->n_slots = z->threads == 1 ? 1 : (size_t)z->threads * PGZ_SLOTS_PER_WORKER;
	z->slots = xcalloc(z->n_slots, sizeof(*z->slots));
	for (size_t i = 0; i < z->n_slots; i++) {
		struct pgz_slot *s = &z->slots[i];

		s->in = xmalloc(z->block);
		s->dict = xmalloc(PGZ_DICT);
		/* deflateBound of level >= 1 and the 5 bytes of a sync flush */
		s->out_cap = compressBound((uLong)z->block) + 64;
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
		if (z->workers[i].zs_init)
			deflateEnd(&z->workers[i].zs);
	}
	for (size_t i = 0; i < z->n_slots; i++) {
		free(z->slots[i].in);
		free(z->slots[i].out);
		free(z->slots[i].dict);
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
static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* the header zlib's gzip wrapper wrote: no name, mtime 0, OS 3 (Unix) */
static int header_write(struct oci_pgzip *z, struct pn_error **err)
{
	unsigned char h[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

	h[8] = z->level == 9 ? 2 : z->level < 2 ? 4 : 0;
	z->header_done = true;
	return z->out(z->ud, h, sizeof(h), err);
}

/* a finished block to the output; the slot becomes free.  Called without mu
 * by the thread that owns the stream. */
static int block_emit(struct oci_pgzip *z, struct pgz_slot *s, struct pn_error **err)
{
	int rc = 0;

	if (!z->header_done)
		rc = header_write(z, err);
	if (rc >= 0 && s->out_len)
		rc = z->out(z->ud, s->out, s->out_len, err);
	z->crc = crc32_combine(z->crc, s->crc, (z_off_t)s->in_len);
	z->isize += s->in_len;
	return rc;
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

/* the block being filled is complete (or the last): hand it on, keep its
 * tail as the next block's dictionary, and start the next one */
static int block_seal(struct oci_pgzip *z, bool last, struct pn_error **err)
{
	struct pgz_slot *s = &z->slots[z->sealed % z->n_slots], *next;
	size_t keep = s->in_len < PGZ_DICT ? s->in_len : PGZ_DICT;

	s->last = last;
	/* the dictionary: the last 32 KiB of input before this block; a block
	 * shorter than that only ever is the last one */
	memcpy(z->dict, s->in + s->in_len - keep, keep);
	z->dict_len = keep;
	if (!z->n_running) {
		s->state = PGZ_DONE;
		if (block_compress(z, &z->workers[0].zs, s, z->sealed, err) < 0 ||
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
	next = &z->slots[z->sealed % z->n_slots];
	next->state = PGZ_FILLING;
	next->in_len = 0;
	memcpy(next->dict, z->dict, z->dict_len);
	next->dict_len = z->dict_len;
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
		/* a full block is sealed at once; finish then adds an empty
		 * last block: the same blocks however the input was split */
		if (s->in_len == z->block && block_seal(z, false, err) < 0)
			return -1;
	}
	return 0;
}

int oci_pgzip_finish(struct oci_pgzip *z, struct pn_error **err)
{
	unsigned char t[8];

	if (z->failed || z->finished)
		return stream_fail(z, err);
	if (block_seal(z, true, err) < 0 || drain_until(z, z->sealed, err) < 0)
		return -1;
	put_le32(t, (uint32_t)z->crc);
	put_le32(t + 4, (uint32_t)z->isize);
	z->finished = true;
	if (z->out(z->ud, t, sizeof(t), err) < 0)
		return stream_fail(z, err);
	return 0;
}
