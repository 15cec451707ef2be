/* hashthread.c - sha256 of a large stream on a second thread, so that the
 * thread producing the stream (file reads, tar, compression, writes) does not
 * also pay for the hashing, which profiling showed to be about 40% of its
 * time for a zstd layer.  It is the fan-out below with one consumer and
 * HT_CHUNK slots: the producer copies its bytes into the slot being filled
 * and blocks while the ring is full; the hashing thread takes the chunks in
 * order, so the digest is exactly that of the bytes given, in the order
 * given. */
#include "oci/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HT_CHUNK ((size_t)128 << 10)

/* the hash thread is a fan-out to one consumer: the producer's bytes are
 * copied into the slot being filled, which is published when full */
struct oci_hash_thread {
	struct oci_fanout *f;
	unsigned char *slot; /* being filled, or NULL */
	size_t fill;
};

static int hash_consume(void *ud, const unsigned char *buf, size_t len, uint64_t off)
{
	(void)off;
	oci_hasher_update(ud, buf, len);
	return 0;
}

static struct oci_fanout *fanout_new(const oci_fanout_fn *fns, void *const *uds, size_t n,
				     size_t chunk);

struct oci_hash_thread *oci_hash_thread_start(struct oci_hasher *h)
{
	const oci_fanout_fn fn = hash_consume;
	void *ud = h;
	struct oci_fanout *f = fanout_new(&fn, &ud, 1, HT_CHUNK);
	struct oci_hash_thread *t;

	if (!f)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->f = f;
	return t;
}

void oci_hash_thread_update(struct oci_hash_thread *t, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len) {
		size_t n;

		if (!t->slot)
			t->slot = oci_fanout_slot(t->f);
		n = HT_CHUNK - t->fill < len ? HT_CHUNK - t->fill : len;
		memcpy(t->slot + t->fill, p, n);
		t->fill += n;
		p += n;
		len -= n;
		if (t->fill == HT_CHUNK) {
			oci_fanout_publish(t->f, t->fill);
			t->slot = NULL;
			t->fill = 0;
		}
	}
}

void oci_hash_thread_finish(struct oci_hash_thread *t)
{
	if (!t)
		return;
	if (t->fill)
		oci_fanout_publish(t->f, t->fill);
	oci_fanout_finish(t->f);
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
	pthread_cond_t more; /* consumers wait for a published slot */
	pthread_cond_t room; /* the producer waits for a free slot */
	size_t idle;	     /* consumers waiting on more */
	bool full;	     /* the producer waits on room */
	unsigned char *buf;  /* FO_SLOTS * chunk */
	size_t chunk;
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

		while (c->next == f->produced && !f->done) {
			f->idle++;
			pthread_cond_wait(&f->more, &f->mu);
			f->idle--;
		}
		if (c->next == f->produced)
			break;
		pthread_mutex_unlock(&f->mu);
		/* the slot is not reused before next moves past it */
		e = c->err ? 0 : c->fn(c->ud, f->buf + i * f->chunk, f->len[i], f->off[i]);
		pthread_mutex_lock(&f->mu);
		if (e && !c->err)
			c->err = e;
		c->next++;
		/* the producer waits for the slot this consumer just left */
		if (f->full && f->produced - c->next == FO_SLOTS - 1)
			pthread_cond_signal(&f->room);
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
	return fanout_new(fns, uds, n, FO_CHUNK);
}

static struct oci_fanout *fanout_new(const oci_fanout_fn *fns, void *const *uds, size_t n,
				     size_t chunk)
{
	struct oci_fanout *f;

	if (n > FO_MAX)
		PN_BUG("fan-out to %zu consumers", n);
	if (!hash_thread_wanted())
		return NULL;
	f = xcalloc(1, sizeof(*f));
	f->chunk = chunk;
	f->buf = aligned_alloc(4096, FO_SLOTS * chunk);
	if (!f->buf) {
		free(f);
		return NULL; /* the caller reads in line */
	}
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->more, NULL);
	pthread_cond_init(&f->room, NULL);
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
		while (f->produced - f->c[k].next >= FO_SLOTS) {
			f->full = true;
			pthread_cond_wait(&f->room, &f->mu);
			f->full = false;
		}
	pthread_mutex_unlock(&f->mu);
	return f->buf + (f->produced % FO_SLOTS) * f->chunk;
}

void oci_fanout_publish(struct oci_fanout *f, size_t len)
{
	size_t i = f->produced % FO_SLOTS;

	pthread_mutex_lock(&f->mu);
	f->len[i] = len;
	f->off[i] = f->offset;
	f->offset += len;
	f->produced++;
	if (f->idle)
		pthread_cond_broadcast(&f->more);
	pthread_mutex_unlock(&f->mu);
}

int oci_fanout_finish(struct oci_fanout *f)
{
	int e = 0;

	if (!f)
		return 0;
	pthread_mutex_lock(&f->mu);
	f->done = true;
	pthread_cond_broadcast(&f->more);
	pthread_mutex_unlock(&f->mu);
	for (size_t k = 0; k < f->started; k++) {
		pthread_join(f->c[k].th, NULL);
		if (!e)
			e = f->c[k].err;
	}
	pthread_cond_destroy(&f->more);
	pthread_cond_destroy(&f->room);
	pthread_mutex_destroy(&f->mu);
	free(f->buf);
	free(f);
	return e;
}
