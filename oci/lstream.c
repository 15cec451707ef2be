/* lstream.c - the uncompressed bytes of a layer blob, made on a thread of
 * their own, so that the thread applying the tar (its parsing and the file
 * system calls) does not also pay for reading, inflating and hashing: on a
 * cold unpack of the 237 MB python base those were about two thirds of the
 * CPU time (perf).  gzip is inflated by ISA-L's igzip where the build has it
 * (2.3x zlib's speed on that base), else by zlib; zstd by libzstd; anything
 * else passes through as an uncompressed tar (libarchive's bidding for the
 * filters gzip, zstd and none).  Concatenated gzip members are one stream;
 * bytes after the compressed stream that start no member end it and are
 * only hashed.  The thread fills a bounded ring of LS_SLOTS chunks (memory
 * is fixed) and, when verifying, hashes the blob as read and the
 * uncompressed stream as made (the diff_id). */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#ifdef PN_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#define LS_SLOTS    4
#define LS_CHUNK    ((size_t)256 << 10)
#define LS_IN	    ((size_t)256 << 10)
#define LS_IN_SLACK 8

enum ls_codec { LS_PLAIN, LS_GZIP, LS_ZSTD };

struct oci_lstream {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool threaded;
	int fd;
	bool verify;
	enum ls_codec codec;
	struct oci_hasher *h;  /* the blob: every byte read */
	struct oci_hasher *dh; /* the uncompressed stream (not for LS_PLAIN: it is h) */
	/* input: in[in_pos, in_len) is read and not yet decoded */
	unsigned char *in;
	size_t in_pos, in_len;
	bool in_eof, dec_end;
	z_stream *z;
#ifdef PN_HAVE_ISAL
	struct inflate_state *isal;
#endif
	ZSTD_DCtx *zd;
	size_t zret; /* the last ZSTD_decompressStream result: 0 at a frame's end */
	/* the ring: slots head .. head + count - 1 are filled; the reader holds
	 * slot head between two reads (held) */
	unsigned char *slot[LS_SLOTS];
	size_t slot_len[LS_SLOTS];
	size_t head, count;
	bool held, done, stop;
	struct pn_error *err; /* the thread's failure, handed out after its data */
};

/* -------------------------------------------------------------- input */
/* more input after in[in_pos, in_len): 1, 0 at the blob's end, -1 */
static int in_fill(struct oci_lstream *s)
{
	ssize_t n;

	if (s->in_eof)
		return 0;
	if (s->in_pos) {
		memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
		s->in_len -= s->in_pos;
		s->in_pos = 0;
	}
	if (s->in_len >= LS_IN)
		return 1;
	do
		n = read(s->fd, s->in + s->in_len, LS_IN - s->in_len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return pn_error_set_errno(&s->err, errno, "read layer");
	if (n == 0) {
		s->in_eof = true;
		return 0;
	}
	if (s->verify)
		oci_hasher_update(s->h, s->in + s->in_len, (size_t)n);
	s->in_len += (size_t)n;
	return 1;
}

/* at least want bytes at in_pos unless the blob ends first; -1 on error */
static int in_ahead(struct oci_lstream *s, size_t want)
{
	int r = 1;

	while (s->in_len - s->in_pos < want && (r = in_fill(s)) > 0)
		;
	return r < 0 ? -1 : 0;
}

static bool gzip_magic(const unsigned char *p, size_t n)
{
	/* libarchive's bid: magic, deflate, no reserved flags */
	return n >= 4 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8 && (p[3] & 0xe0) == 0;
}

/* after a gzip member: 1 if another follows, 0 if the stream ends here */
static int gzip_next_member(struct oci_lstream *s)
{
	if (in_ahead(s, 4) < 0)
		return -1;
	return gzip_magic(s->in + s->in_pos, s->in_len - s->in_pos);
}

static int truncated(struct oci_lstream *s, const char *what)
{
	return pn_error_set(&s->err, PN_ERR_INVALID, "%s: the compressed stream is truncated",
			    what);
}

/* -------------------------------------------------------------- codecs */
static ssize_t dec_zlib(struct oci_lstream *s, unsigned char *out, size_t cap)
{
	z_stream *z = s->z;
	int r;

	z->next_out = out;
	z->avail_out = (uInt)cap;
	while (z->avail_out) {
		if (!z->avail_in) {
			s->in_pos = s->in_len;
			if ((r = in_fill(s)) <= 0)
				return r < 0 ? -1 : truncated(s, "gzip");
			z->next_in = s->in + s->in_pos;
			z->avail_in = (uInt)(s->in_len - s->in_pos);
		}
		r = inflate(z, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			s->in_pos = (size_t)(z->next_in - s->in);
			if ((r = gzip_next_member(s)) <= 0) {
				s->dec_end = r == 0;
				return r < 0 ? -1 : (ssize_t)(cap - z->avail_out);
			}
			inflateReset(z);
			z->next_in = s->in + s->in_pos;
			z->avail_in = (uInt)(s->in_len - s->in_pos);
		} else if (r != Z_OK && !(r == Z_BUF_ERROR && !z->avail_in)) {
			return pn_error_set(&s->err, PN_ERR_INVALID, "gzip: %s",
					    z->msg ? z->msg : "invalid data");
		}
	}
	return (ssize_t)cap;
}

#ifdef PN_HAVE_ISAL
static const char *isal_error(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid lookback distance";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unsupported compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "incorrect checksum";
	default:
		return "invalid data";
	}
}

static void isal_restart(struct oci_lstream *s)
{
	/* init clears the output side too */
	uint8_t *next_out = s->isal->next_out;
	uint32_t avail_out = s->isal->avail_out;

	isal_inflate_init(s->isal);
	s->isal->next_out = next_out;
	s->isal->avail_out = avail_out;
	s->isal->crc_flag = ISAL_GZIP;
	s->isal->next_in = s->in + s->in_pos;
	s->isal->avail_in = (uint32_t)(s->in_len - s->in_pos);
}

/* a member ended: where the input goes on (the bytes isa-l read ahead into
 * its bit buffer belong to what follows: they go back in front of next_in,
 * LS_IN_SLACK bytes of room kept for that), and whether another member starts */
static int isal_member_end(struct oci_lstream *s)
{
	struct inflate_state *st = s->isal;
	size_t used = (size_t)(st->next_in - s->in), back = (size_t)st->read_in_length / 8;
	uint64_t bits = st->read_in >> (st->read_in_length % 8);
	unsigned char ahead[8];
	int r;

	for (size_t i = 0; i < back && i < 8; i++)
		ahead[i] = (unsigned char)(bits >> (8 * i));
	back = back < 8 ? back : 8;
	if (used < back) {
		memmove(s->in + back, s->in + used, s->in_len - used);
		s->in_len += back - used;
		used = back;
	}
	memcpy(s->in + used - back, ahead, back);
	s->in_pos = used - back;
	st->read_in = 0;
	st->read_in_length = 0;
	r = gzip_next_member(s);
	if (r > 0)
		isal_restart(s);
	return r;
}

static ssize_t dec_isal(struct oci_lstream *s, unsigned char *out, size_t cap)
{
	struct inflate_state *st = s->isal;
	uint32_t avail_in, avail_out;
	int r;

	st->next_out = out;
	st->avail_out = (uint32_t)cap;
	while (st->avail_out) {
		if (st->block_state == ISAL_BLOCK_FINISH) {
			if ((r = isal_member_end(s)) <= 0) {
				s->dec_end = r == 0;
				return r < 0 ? -1 : (ssize_t)(cap - st->avail_out);
			}
			continue;
		}
		if (!st->avail_in) {
			s->in_pos = s->in_len;
			if ((r = in_fill(s)) <= 0)
				return r < 0 ? -1 : truncated(s, "gzip");
			st->next_in = s->in + s->in_pos;
			st->avail_in = (uint32_t)(s->in_len - s->in_pos);
		}
		avail_in = st->avail_in;
		avail_out = st->avail_out;
		r = isal_inflate(st);
		if (r < 0 || (st->avail_in == avail_in && st->avail_out == avail_out &&
			      st->block_state != ISAL_BLOCK_FINISH))
			return pn_error_set(&s->err, PN_ERR_INVALID, "gzip: %s", isal_error(r));
	}
	return (ssize_t)cap;
}
#endif

static ssize_t dec_zstd(struct oci_lstream *s, unsigned char *out, size_t cap)
{
	ZSTD_outBuffer o = {out, cap, 0};
	int r;

	while (o.pos < o.size) {
		ZSTD_inBuffer i = {s->in + s->in_pos, s->in_len - s->in_pos, 0};

		if (i.pos == i.size) {
			s->in_pos = s->in_len;
			if ((r = in_fill(s)) < 0)
				return -1;
			if (r == 0) {
				if (s->zret)
					return truncated(s, "zstd");
				s->dec_end = true;
				break;
			}
			continue;
		}
		s->zret = ZSTD_decompressStream(s->zd, &o, &i);
		s->in_pos += i.pos;
		if (ZSTD_isError(s->zret))
			return pn_error_set(&s->err, PN_ERR_INVALID, "zstd: %s",
					    ZSTD_getErrorName(s->zret));
	}
	return (ssize_t)o.pos;
}

static ssize_t dec_plain(struct oci_lstream *s, unsigned char *out, size_t cap)
{
	size_t n;
	int r;

	if (s->in_pos == s->in_len) {
		if ((r = in_fill(s)) <= 0) {
			s->dec_end = r == 0;
			return r;
		}
	}
	n = s->in_len - s->in_pos < cap ? s->in_len - s->in_pos : cap;
	memcpy(out, s->in + s->in_pos, n);
	s->in_pos += n;
	return (ssize_t)n;
}

/* the next uncompressed bytes into out: > 0, 0 at the end, -1 (s->err) */
static ssize_t decode(struct oci_lstream *s, unsigned char *out, size_t cap)
{
	ssize_t n;

	if (s->dec_end || s->err)
		return s->err ? -1 : 0;
	if (s->codec == LS_ZSTD)
		n = dec_zstd(s, out, cap);
	else if (s->codec == LS_PLAIN)
		n = dec_plain(s, out, cap);
#ifdef PN_HAVE_ISAL
	else if (s->isal)
		n = dec_isal(s, out, cap);
#endif
	else
		n = dec_zlib(s, out, cap);
	if (n > 0 && s->verify && s->codec != LS_PLAIN)
		oci_hasher_update(s->dh, out, (size_t)n);
	return n;
}

/* after the compressed stream: the blob's remaining bytes, hashed */
static void read_rest(struct oci_lstream *s)
{
	do
		s->in_pos = s->in_len;
	while (in_fill(s) > 0);
}

/* -------------------------------------------------------------- thread */
static void *ls_main(void *arg)
{
	struct oci_lstream *s = arg;
	bool stop;

	for (;;) {
		size_t i;
		ssize_t n;

		pthread_mutex_lock(&s->mu);
		while (s->count == LS_SLOTS && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		stop = s->stop;
		i = (s->head + s->count) % LS_SLOTS;
		pthread_mutex_unlock(&s->mu);
		/* slot i is outside head .. head + count: the reader does not
		 * touch it until it is published */
		if (stop || (n = decode(s, s->slot[i], LS_CHUNK)) <= 0)
			break;
		pthread_mutex_lock(&s->mu);
		s->slot_len[i] = (size_t)n;
		s->count++;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	if (!stop && !s->err && s->verify)
		read_rest(s);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* PINION_UNPACK_THREAD=0: decode in the reader's thread; PINION_INFLATE=zlib:
 * zlib even where igzip is built in (both for comparisons) */
static bool env_is(const char *name, const char *value)
{
	const char *e = getenv(name);

	return e && strcmp(e, value) == 0;
}

static int codec_init(struct oci_lstream *s, struct pn_error **err)
{
	const unsigned char *p = s->in;
	size_t n = s->in_len;

	if (gzip_magic(p, n)) {
		s->codec = LS_GZIP;
#ifdef PN_HAVE_ISAL
		if (!env_is("PINION_INFLATE", "zlib")) {
			s->isal = xcalloc(1, sizeof(*s->isal));
			isal_restart(s);
			return 0;
		}
#endif
		s->z = xcalloc(1, sizeof(*s->z));
		if (inflateInit2(s->z, 15 + 16) != Z_OK) {
			free(s->z);
			s->z = NULL;
			return pn_error_set(err, PN_ERR_GENERIC, "gzip: cannot start inflating");
		}
		s->z->next_in = s->in;
		s->z->avail_in = (uInt)n;
	} else if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
		s->codec = LS_ZSTD;
		s->zd = ZSTD_createDCtx();
		if (!s->zd)
			return pn_error_set(err, PN_ERR_GENERIC,
					    "zstd: cannot start decompressing");
	}
	return 0;
}

struct oci_lstream *oci_lstream_open(int fd, bool verify, struct pn_error **err)
{
	struct oci_lstream *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	s->verify = verify;
	s->in = xmalloc(LS_IN + LS_IN_SLACK);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	for (size_t i = 0; i < LS_SLOTS; i++)
		s->slot[i] = xmalloc(LS_CHUNK);
	if (verify) {
		s->h = oci_hasher_new();
		s->dh = oci_hasher_new();
	}
	if (in_ahead(s, 4) < 0 || codec_init(s, err) < 0) {
		if (s->err)
			pn_error_propagate(err, steal_pointer(&s->err));
		oci_lstream_free(s);
		return NULL;
	}
	s->threaded = !env_is("PINION_UNPACK_THREAD", "0") &&
		      pthread_create(&s->th, NULL, ls_main, s) == 0;
	return s;
}

/* in line (no thread): decode straight into slot 0 */
static ssize_t read_inline(struct oci_lstream *s, const void **buf)
{
	ssize_t n = decode(s, s->slot[0], LS_CHUNK);

	if (n == 0 && s->verify && !s->done)
		read_rest(s);
	s->done = n <= 0;
	*buf = s->slot[0];
	return n < 0 || s->err ? -1 : n;
}

ssize_t oci_lstream_read(struct oci_lstream *s, const void **buf)
{
	ssize_t n = 0;

	if (!s->threaded)
		return read_inline(s, buf);
	pthread_mutex_lock(&s->mu);
	if (s->held) {
		s->head = (s->head + 1) % LS_SLOTS;
		s->count--;
		s->held = false;
		pthread_cond_broadcast(&s->cv);
	}
	while (!s->count && !s->done)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->count) {
		s->held = true;
		*buf = s->slot[s->head];
		n = (ssize_t)s->slot_len[s->head];
	} else if (s->err) {
		n = -1;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

const char *oci_lstream_error(const struct oci_lstream *s)
{
	return s->err ? s->err->msg : "decompress layer";
}

int oci_lstream_error_code(const struct oci_lstream *s)
{
	return s->err ? s->err->code : PN_ERR_INVALID;
}

void oci_lstream_digests(struct oci_lstream *s, oci_digest_t blob, oci_digest_t diff_id)
{
	oci_hasher_final(s->h, blob);
	if (s->codec == LS_PLAIN)
		memcpy(diff_id, blob, sizeof(oci_digest_t));
	else
		oci_hasher_final(s->dh, diff_id);
}

void oci_lstream_free(struct oci_lstream *s)
{
	if (!s)
		return;
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	if (s->z)
		inflateEnd(s->z);
	free(s->z);
#ifdef PN_HAVE_ISAL
	free(s->isal);
#endif
	ZSTD_freeDCtx(s->zd);
	for (size_t i = 0; i < LS_SLOTS; i++)
		free(s->slot[i]);
	free(s->in);
	oci_hasher_free(s->h);
	oci_hasher_free(s->dh);
	pn_error_free(s->err);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
