/* hashthread.c - sha256 of a large stream on a second thread, so that the
 * thread producing the stream (file reads, tar, compression, writes) does not
 * also pay for the hashing, which profiling showed to be about 40% of its
 * time for a zstd layer.  The producer copies its bytes into a bounded ring
 * of HT_SLOTS chunks of HT_CHUNK bytes (memory is fixed) and blocks while the
 * ring is full; the hashing thread takes the chunks in order, so the digest
 * is exactly that of the bytes given, in the order given. */
#include "oci/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HT_SLOTS 8
#define HT_CHUNK ((size_t)128 << 10)

struct oci_hash_thread {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct oci_hasher *h; /* borrowed */
	unsigned char *buf[HT_SLOTS];
	size_t len[HT_SLOTS];
	size_t head, count; /* filled slots: head .. head + count - 1 (mod HT_SLOTS) */
	size_t fill;	    /* bytes in the slot being filled, (head + count) % HT_SLOTS */
	bool done, running;
};

static void *hash_thread_main(void *arg)
{
	struct oci_hash_thread *t = arg;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		size_t i;

		while (!t->count && !t->done)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->count)
			break;
		i = t->head;
		pthread_mutex_unlock(&t->mu);
		oci_hasher_update(t->h, t->buf[i], t->len[i]);
		pthread_mutex_lock(&t->mu);
		t->head = (t->head + 1) % HT_SLOTS;
		t->count--;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct oci_hash_thread *oci_hash_thread_start(struct oci_hasher *h)
{
	struct oci_hash_thread *t = xcalloc(1, sizeof(*t));

	t->h = h;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (size_t i = 0; i < HT_SLOTS; i++)
		t->buf[i] = xmalloc(HT_CHUNK);
	if (pthread_create(&t->th, NULL, hash_thread_main, t) != 0) {
		oci_hash_thread_finish(t);
		return NULL;
	}
	t->running = true;
	return t;
}

/* hand the slot being filled to the hashing thread */
static void publish(struct oci_hash_thread *t, size_t slot)
{
	pthread_mutex_lock(&t->mu);
	t->len[slot] = t->fill;
	t->count++;
	t->fill = 0;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void oci_hash_thread_update(struct oci_hash_thread *t, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		size_t slot, n;

		pthread_mutex_lock(&t->mu);
		while (t->count == HT_SLOTS)
			pthread_cond_wait(&t->cv, &t->mu);
		slot = (t->head + t->count) % HT_SLOTS;
		pthread_mutex_unlock(&t->mu);
		/* the slot being filled is outside head .. head + count: the
		 * hashing thread does not touch it until it is published */
		n = HT_CHUNK - t->fill < len ? HT_CHUNK - t->fill : len;
		memcpy(t->buf[slot] + t->fill, p, n);
		t->fill += n;
		p += n;
		len -= n;
		if (t->fill == HT_CHUNK)
			publish(t, slot);
	}
}

void oci_hash_thread_finish(struct oci_hash_thread *t)
{
	if (!t)
		return;
	if (t->running) {
		pthread_mutex_lock(&t->mu);
		if (t->fill) {
			/* a slot is free: update waited for one before filling it */
			t->len[(t->head + t->count) % HT_SLOTS] = t->fill;
			t->count++;
			t->fill = 0;
		}
		t->done = true;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->th, NULL);
	}
	for (size_t i = 0; i < HT_SLOTS; i++)
		free(t->buf[i]);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* On by default; PINION_HASH_THREAD=0 hashes in line (for comparisons). */
static bool hash_thread_wanted(void)
{
	static int wanted = -1;

	if (wanted < 0) {
		const char *e = getenv("PINION_HASH_THREAD");

		wanted = !e || strcmp(e, "0") != 0;
	}
	return wanted;
}

void oci_hasher_update_large(struct oci_hasher *h, struct oci_hash_thread **t, uint64_t so_far,
			     const void *data, size_t len)
{
	if (!*t && so_far < OCI_HASH_THREAD_MIN && so_far + len >= OCI_HASH_THREAD_MIN &&
	    hash_thread_wanted())
		*t = oci_hash_thread_start(h);
	if (*t)
		oci_hash_thread_update(*t, data, len);
	else
		oci_hasher_update(h, data, len);
}

/* ----------------------------------------------------------------- fan-out */
/* One read of a large file for several consumers (the blob's sha256, the
 * file's own sha256, the write into the blob), each on a thread of its own
 * and each seeing every chunk in order.  The producer reads straight into a
 * slot of the ring; a slot is reused once every consumer is done with it, so
 * no byte is copied between the threads.  Slots are 4 KiB-aligned (the write
 * may use O_DIRECT). */
#define FO_SLOTS 8
#define FO_CHUNK ((size_t)2 << 20)
#define FO_MAX	 3

struct fo_consumer {
	struct oci_fanout *f;
	pthread_t th;
	oci_fanout_fn fn;
	void *ud;
	uint64_t next; /* sequence number of the next slot to consume */
	int err;       /* the first failure (an errno); later slots are skipped */
};

struct oci_fanout {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf; /* FO_SLOTS * FO_CHUNK */
	size_t len[FO_SLOTS];
	uint64_t off[FO_SLOTS];
	uint64_t produced; /* slots published */
	uint64_t offset;   /* bytes published */
	bool done;
	struct fo_consumer c[FO_MAX];
	size_t n, started;
};

static void *fanout_main(void *arg)
{
	struct fo_consumer *c = arg;
	struct oci_fanout *f = c->f;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		size_t i = c->next % FO_SLOTS;
		int e;

		while (c->next == f->produced && !f->done)
			pthread_cond_wait(&f->cv, &f->mu);
		if (c->next == f->produced)
			break;
		pthread_mutex_unlock(&f->mu);
		/* the slot is not reused before next moves past it */
		e = c->err ? 0 : c->fn(c->ud, f->buf + i * FO_CHUNK, f->len[i], f->off[i]);
		pthread_mutex_lock(&f->mu);
		if (e && !c->err)
			c->err = e;
		c->next++;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

size_t oci_fanout_chunk(void)
{
	return FO_CHUNK;
}

struct oci_fanout *oci_fanout_start(const oci_fanout_fn *fns, void *const *uds, size_t n)
{
	struct oci_fanout *f;

	if (n > FO_MAX)
		PN_BUG("fan-out to %zu consumers", n);
	if (!hash_thread_wanted())
		return NULL;
	f = xcalloc(1, sizeof(*f));
	f->buf = aligned_alloc(4096, FO_SLOTS * FO_CHUNK);
	if (!f->buf) {
		free(f);
		return NULL; /* the caller reads in line */
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	for (f->n = 0; f->n < n; f->n++) {
		struct fo_consumer *c = &f->c[f->n];

		c->f = f;
		c->fn = fns[f->n];
		c->ud = uds[f->n];
		if (pthread_create(&c->th, NULL, fanout_main, c) != 0) {
			oci_fanout_finish(f);
			return NULL;
		}
		f->started++;
	}
	return f;
}

unsigned char *oci_fanout_slot(struct oci_fanout *f)
{
	pthread_mutex_lock(&f->mu);
	for (size_t k = 0; k < f->started; k++)
		while (f->produced - f->c[k].next >= FO_SLOTS)
			pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return f->buf + (f->produced % FO_SLOTS) * FO_CHUNK;
}

void oci_fanout_publish(struct oci_fanout *f, size_t len)
{
	size_t i = f->produced % FO_SLOTS;

	pthread_mutex_lock(&f->mu);
	f->len[i] = len;
	f->off[i] = f->offset;
	f->offset += len;
	f->produced++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

int oci_fanout_finish(struct oci_fanout *f)
{
	int e = 0;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->mu);
	f->done = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	for (size_t k = 0; k < f->started; k++) {
		pthread_join(f->c[k].th, NULL);
		if (!e)
			e = f->c[k].err;
	}
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f->buf);
	free(f);
	return e;
}
