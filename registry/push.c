/* push.c - blobs (HEAD skip, cross-repo mount, monolithic or chunked upload
 * resuming from the registry's offset) and manifests (children first). */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* pn_progress_event writes a line in pieces: one pushing thread at a time */
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;

struct pusher {
	struct registry_client *c;
	struct registry_target *t;
	struct oci_layout *src;
	char *scope;
	int64_t bytes_sent, start_ms;
	size_t skipped, mounted, uploaded;
};

static char *abs_location(struct registry_host *h, const char *loc)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		return xstrdup(loc);
	return xasprintf("%s%s%s", h->base, *loc == '/' ? "" : "/", loc);
}

/* do + require one of two statuses; the body of other answers becomes the error */
static int call(struct pusher *p, struct registry_request *req, struct registry_response *resp,
		long want1, long want2, const char *what, struct pn_error **err)
{
	if (!req->scope)
		req->scope = p->scope;
	if (registry_http_do(p->c, p->t->host, req, resp, err) < 0)
		return pn_error_wrap(err, "%s", what);
	if (resp->status != want1 && resp->status != want2)
		return registry_http_status_error(resp, p->t->host->name, what, err);
	return 0;
}

static int blob_exists(struct pusher *p, const char *digest, bool *exists, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	cleanup_free char *url = xasprintf("/v2/%s/blobs/%s", p->t->repository, digest);
	int rc;

	req.method = "HEAD";
	req.url = url;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 200, 404, "check blob", err);
	*exists = rc == 0 && resp.status == 200;
	registry_response_release(&resp);
	return rc;
}

/* POST an upload (or a mount); *location is the session URL, or NULL when mounted */
static int upload_start(struct pusher *p, const char *digest, const char *from, char **location,
			struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	cleanup_free char *url = NULL, *scope = NULL;
	int rc;

	*location = NULL;
	if (from) {
		url = xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", p->t->repository, digest,
				from);
		scope = xasprintf("%s repository:%s:pull", p->scope, from);
		req.scope = scope;
	} else {
		url = xasprintf("/v2/%s/blobs/uploads/", p->t->repository);
	}
	req.method = "POST";
	req.url = url;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 202, 201, "start upload", err);
	if (rc == 0 && resp.status == 202) {
		if (!resp.location)
			rc = pn_error_set(err, PN_ERR_GENERIC,
					  "start upload: registry gave no Location");
		else
			*location = abs_location(p->t->host, resp.location);
	}
	registry_response_release(&resp);
	return rc;
}

static char *with_digest(const char *loc, const char *digest)
{
	return xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
}

static int upload_monolithic(struct pusher *p, const char *loc, int fd, int64_t size,
			     const char *digest, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	cleanup_free char *url = with_digest(loc, digest);
	int rc;

	req.method = "PUT";
	req.url = url;
	req.content_type = "application/octet-stream";
	req.body_fd = fd;
	req.body_len = (size_t)size;
	req.no_retry = true; /* a failed PUT restarts the whole upload */
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 201, 204, "upload blob", err);
	registry_response_release(&resp);
	if (rc == 0)
		__atomic_add_fetch(&p->bytes_sent, size, __ATOMIC_RELAXED);
	return rc;
}

/* GET the upload status: the offset the registry has, and the new Location */
static int upload_offset(struct pusher *p, char **loc, int64_t *offset, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	int rc;

	req.method = "GET";
	req.url = *loc;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 204, 200, "upload status", err);
	if (rc == 0) {
		const char *r = resp.range ? strchr(resp.range, '-') : NULL;
		long long end = r ? strtoll(r + 1, NULL, 10) : -1;
		/* "0-0" is what an empty session reports too */
		*offset = end <= 0 && *offset == 0 ? 0 : end + 1;
		if (resp.location) {
			free(*loc);
			*loc = abs_location(p->t->host, resp.location);
		}
	}
	registry_response_release(&resp);
	return rc;
}

/* a chunk's bytes: a file (fd, at the upload offset) or memory holding the
 * stream from offset base on (a blob made as it is sent) */
struct body_src {
	int fd;
	const char *mem;
	int64_t base;
};

static int patch_chunk(struct pusher *p, char **loc, const struct body_src *b, int64_t off,
		       int64_t n, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	char range[64];
	int rc;

	snprintf(range, sizeof(range), "%lld-%lld", (long long)off, (long long)(off + n - 1));
	req.method = "PATCH";
	req.url = *loc;
	req.content_type = "application/octet-stream";
	req.content_range = range;
	req.body_fd = b->fd;
	req.body_off = off;
	if (b->fd < 0) {
		req.body = b->mem + (off - b->base);
		req.body_off = 0;
		req.blob = true;
	}
	req.body_len = (size_t)n;
	req.no_retry = true; /* the caller asks the registry where to resume */
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 202, 204, "upload chunk", err);
	__atomic_add_fetch(&p->bytes_sent, n, __ATOMIC_RELAXED);
	if (rc == 0 && resp.location) {
		free(*loc);
		*loc = abs_location(p->t->host, resp.location);
	}
	registry_response_release(&resp);
	return rc;
}

/* long chunked uploads report how far they are, every couple of seconds */
static void chunk_progress(struct pusher *p, const char *digest, int64_t off, int64_t size)
{
	static int64_t last;
	int64_t now = registry_now_ms();
	char fields[200];

	if (!p->c->opts.progress)
		return;
	if (pn_log_progress() == PN_PROGRESS_TTY) { /* a bar redrawn in place */
		pn_progress_bar("pushing", off, size, -1);
		return;
	}
	pthread_mutex_lock(&progress_lock);
	if (last == 0)
		last = now; /* the first report comes 2 s into the first upload */
	if (now - last >= 2000 && off < size) {
		last = now;
		snprintf(fields, sizeof(fields), "\"digest\":\"%s\",\"bytes\":%lld,\"total\":%lld",
			 digest, (long long)off, (long long)size);
		pn_progress_event("push-progress", fields, "pushing %.19s: %.1f of %.1f MiB",
				  digest, (double)off / 1048576.0, (double)size / 1048576.0);
	}
	pthread_mutex_unlock(&progress_lock);
}

/* PATCH the bytes [start, end) in chunks; a failed chunk resumes from the
 * offset the registry reports (never before start: what came before is
 * confirmed and, for a stream, gone) */
static int send_range(struct pusher *p, char **loc, const struct body_src *b, int64_t start,
		      int64_t end, const char *digest, struct pn_error **err)
{
	struct registry_retry r;
	int64_t off = start, high = start, chunk = (int64_t)p->c->opts.chunk_size;

	registry_retry_init(&r, p->c->opts.retries);
	while (off < end) {
		int64_t n = end - off < chunk ? end - off : chunk;
		struct pn_error *e = NULL;
		if (patch_chunk(p, loc, b, off, n, &e) == 0) {
			off += n;
			/* only progress past what the registry had confirmed forgives
			 * the failures: one that rewinds the upload cannot loop forever */
			if (off > high) {
				high = off;
				registry_retry_reset(&r);
			}
			if (b->fd >= 0)
				chunk_progress(p, digest, off, end);
			continue;
		}
		if (e->code == PN_ERR_AUTH) {
			*err = e;
			return -1;
		}
		if (!registry_retry_wait(&r, NULL)) {
			pn_error_propagate(err, e);
			return pn_error_wrap(err,
					     "blob `%s`: gave up after %d failed chunks without "
					     "progress past byte %lld",
					     digest, r.done + 1, (long long)high);
		}
		pn_debug("chunk at %lld failed (%s); asking the registry where to resume",
			 (long long)off, e->msg);
		pn_error_free(e);
		int64_t have = off;
		if (upload_offset(p, loc, &have, err) < 0)
			return -1;
		if (have > end || have < start)
			return pn_error_set(err, PN_ERR_GENERIC,
					    "registry reports %lld bytes, expected %lld to %lld",
					    (long long)have, (long long)start, (long long)end);
		pn_debug("registry has %lld bytes; resuming there", (long long)have);
		off = have;
	}
	return 0;
}

/* the upload's last request: PUT ?digest= (the registry checks it) */
static int upload_close(struct pusher *p, const char *loc, const char *digest,
			struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	cleanup_free char *url = with_digest(loc, digest);
	int rc;

	req.method = "PUT";
	req.url = url;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 201, 204, "finish upload", err);
	registry_response_release(&resp);
	return rc;
}

static int upload_chunked(struct pusher *p, char **loc, int fd, int64_t size, const char *digest,
			  struct pn_error **err)
{
	struct body_src b = {fd, NULL, 0};

	if (send_range(p, loc, &b, 0, size, digest, err) < 0)
		return -1;
	return upload_close(p, *loc, digest, err);
}

static void push_event(struct pusher *p, const char *ev, const char *digest, int64_t size,
		       int64_t start_ms)
{
	double secs = (double)(registry_now_ms() - start_ms) / 1000.0;
	double rate = secs > 0 ? (double)size / secs / 1048576.0 : 0;
	char fields[256];

	if (!p->c->opts.progress)
		return;
	snprintf(fields, sizeof(fields),
		 "\"digest\":\"%s\",\"bytes\":%lld,\"seconds\":%.3f,\"mib_per_s\":%.1f", digest,
		 (long long)size, secs, rate);
	pthread_mutex_lock(&progress_lock);
	pn_progress_event(ev, fields, "%s %.19s (%.1f MiB%s)",
			  strcmp(ev, "blob-pushed") == 0    ? "pushed"
			  : strcmp(ev, "blob-mounted") == 0 ? "mounted"
							    : "exists",
			  digest, (double)size / 1048576.0,
			  strcmp(ev, "blob-pushed") == 0 ? "" : ", skipped");
	pthread_mutex_unlock(&progress_lock);
}

/* the registry has the blob already */
static void blob_skipped(struct pusher *p, const char *digest, int64_t t0)
{
	int64_t size = 0;

	__atomic_add_fetch(&p->skipped, 1, __ATOMIC_RELAXED);
	registry_client_remember_blob(p->c, p->t->host->name, p->t->repository, digest);
	if (oci_layout_has_blob(p->src, digest)) {
		int64_t sz = 0;
		cleanup_close int f2 = -1;
		if (oci_layout_open_blob(p->src, digest, &f2, &sz, NULL) == 0)
			size = sz;
	}
	push_event(p, "blob-exists", digest, size, t0);
}

/* a new upload session in *loc, or NULL when mounted from `from` (a hint:
 * refused, e.g. without pull access to `from`, means an upload) */
static int upload_open(struct pusher *p, const char *digest, const char *from, char **loc,
		       struct pn_error **err)
{
	struct pn_error *e = NULL;

	free(*loc);
	*loc = NULL;
	if (!from)
		return upload_start(p, digest, NULL, loc, err);
	if (upload_start(p, digest, from, loc, &e) == 0)
		return 0;
	pn_debug("mount of %s from %s refused (%s); uploading", digest, from, e->msg);
	pn_error_free(e);
	return upload_start(p, digest, NULL, loc, err);
}

static int push_blob(struct pusher *p, const char *digest, struct pn_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *loc = NULL, *from = NULL;
	int64_t size = 0, t0 = registry_now_ms();
	struct registry_retry r;
	bool exists = false;

	if (blob_exists(p, digest, &exists, err) < 0)
		return -1;
	if (exists) {
		blob_skipped(p, digest, t0);
		return 0;
	}
	if (oci_layout_open_blob(p->src, digest, &fd, &size, err) < 0)
		return -1;
	from = registry_client_blob_source(p->c, p->t->host->name, p->t->repository, digest);
	/* a failed upload starts again from a new session */
	registry_retry_init_restarts(&r, p->c->opts.retries);
	for (;;) {
		struct pn_error *e = NULL;
		int rc;
		if (upload_open(p, digest, r.done == 0 ? from : NULL, &loc, err) < 0)
			return -1;
		if (!loc) {
			__atomic_add_fetch(&p->mounted, 1, __ATOMIC_RELAXED);
			registry_client_remember_blob(p->c, p->t->host->name, p->t->repository,
						      digest);
			push_event(p, "blob-mounted", digest, size, t0);
			return 0;
		}
		if ((size_t)size <= p->c->opts.monolithic_max)
			rc = upload_monolithic(p, loc, fd, size, digest, &e);
		else
			rc = upload_chunked(p, &loc, fd, size, digest, &e);
		if (rc == 0)
			break;
		if (!registry_restart_worth(e) || !registry_retry_wait(&r, NULL)) {
			*err = e;
			return -1;
		}
		pn_debug("upload of %s failed (%s); starting again", digest, e->msg);
		pn_error_free(e);
	}
	__atomic_add_fetch(&p->uploaded, 1, __ATOMIC_RELAXED);
	registry_client_remember_blob(p->c, p->t->host->name, p->t->repository, digest);
	push_event(p, "blob-pushed", digest, size, t0);
	return 0;
}

static int put_manifest(struct pusher *p, const char *reference, const char *media_type,
			const char *data, size_t len, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	cleanup_free char *url = xasprintf("/v2/%s/manifests/%s", p->t->repository, reference);
	int rc;

	req.method = "PUT";
	req.url = url;
	req.content_type = media_type;
	req.body = data;
	req.body_len = len;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	rc = call(p, &req, &resp, 201, 200, "put manifest", err);
	registry_response_release(&resp);
	return rc;
}

static const char *doc_media_type(const struct oci_descriptor *d, const char *data, size_t len,
				  char **owned)
{
	cleanup_json json_t *j = NULL;
	const char *mt;

	if (d->media_type && *d->media_type)
		return d->media_type;
	j = json_loadb(data, len, 0, NULL);
	mt = json_string_value(json_object_get(j, "mediaType"));
	*owned = xstrdup(mt ? mt : OCI_MT_MANIFEST);
	return *owned;
}

static int push_manifest_tree(struct pusher *p, const struct oci_descriptor *d,
			      const char *reference, struct pn_error **err);

static int push_index_children(struct pusher *p, const char *data, size_t len,
			       struct pn_error **err)
{
	struct oci_index ix;
	int rc = 0;

	if (oci_index_parse(data, len, &ix, err) < 0)
		return -1;
	for (size_t i = 0; i < ix.n_manifests && rc == 0; i++)
		rc = push_manifest_tree(p, &ix.manifests[i], ix.manifests[i].digest, err);
	oci_index_release(&ix);
	return rc;
}

/* layers go up in parallel (opts.parallel threads); the first error stops
 * the others before their next blob */
struct push_pool {
	struct pusher *p;
	const struct oci_manifest *m;
	pthread_mutex_t mu;
	size_t next;
	struct pn_error *err;
};

static void *push_worker(void *arg)
{
	struct push_pool *pool = arg;

	for (;;) {
		struct pn_error *e = NULL;
		size_t i;

		pthread_mutex_lock(&pool->mu);
		i = pool->next++;
		bool stop = pool->err || i >= pool->m->n_layers;
		pthread_mutex_unlock(&pool->mu);
		if (stop)
			return NULL;
		if (push_blob(pool->p, pool->m->layers[i].digest, &e) < 0) {
			pthread_mutex_lock(&pool->mu);
			if (!pool->err)
				pool->err = e;
			else
				pn_error_free(e);
			pthread_mutex_unlock(&pool->mu);
			return NULL;
		}
	}
}

static int push_layers(struct pusher *p, const struct oci_manifest *m, struct pn_error **err)
{
	struct push_pool pool = {.p = p, .m = m};
	size_t n = m->n_layers < (size_t)p->c->opts.parallel ? m->n_layers
							     : (size_t)p->c->opts.parallel;
	pthread_t *th = xcalloc(n + 1, sizeof(*th));
	size_t started = 0;

	pthread_mutex_init(&pool.mu, NULL);
	for (size_t i = 1; i < n; i++)
		if (pthread_create(&th[started], NULL, push_worker, &pool) == 0)
			started++;
	push_worker(&pool); /* this thread works too */
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&pool.mu);
	free(th);
	if (pool.err) {
		pn_error_propagate(err, pool.err);
		return -1;
	}
	return 0;
}

static int push_image_blobs(struct pusher *p, const char *data, size_t len, struct pn_error **err)
{
	struct oci_manifest m;
	int rc;

	if (oci_manifest_parse(data, len, &m, err) < 0)
		return -1;
	rc = push_layers(p, &m, err);
	if (rc == 0)
		rc = push_blob(p, m.config.digest, err);
	oci_manifest_release(&m);
	return rc;
}

static int push_manifest_tree(struct pusher *p, const struct oci_descriptor *d,
			      const char *reference, struct pn_error **err)
{
	cleanup_free char *data = NULL, *owned_mt = NULL;
	const char *mt;
	enum oci_doc_kind kind;
	size_t len = 0;
	int rc;

	if (oci_layout_read_blob(p->src, d->digest, OCI_MANIFEST_MAX, &data, &len, err) < 0)
		return -1;
	mt = doc_media_type(d, data, len, &owned_mt);
	if (oci_doc_kind(mt, data, len, &kind, err) < 0)
		return -1;
	if (kind == OCI_DOC_INDEX)
		rc = push_index_children(p, data, len, err);
	else
		rc = push_image_blobs(p, data, len, err);
	if (rc < 0)
		return -1;
	return put_manifest(p, reference, mt, data, len, err);
}

static int push_to_registry(struct registry_client *c, struct registry_target *t,
			    struct oci_layout *src, const struct oci_descriptor *d,
			    struct pn_error **err)
{
	struct pusher p = {.c = c, .t = t, .src = src};
	int rc;

	p.scope = xasprintf("repository:%s:pull,push", t->repository);
	p.start_ms = registry_now_ms();
	rc = push_manifest_tree(&p, d, registry_ref_reference(&t->ref), err);
	if (rc == 0 && c->opts.progress) {
		double secs = (double)(registry_now_ms() - p.start_ms) / 1000.0;
		char fields[200];
		snprintf(fields, sizeof(fields),
			 "\"bytes\":%lld,\"seconds\":%.3f,\"uploaded\":%zu,\"skipped\":%zu,"
			 "\"mounted\":%zu",
			 (long long)p.bytes_sent, secs, p.uploaded, p.skipped, p.mounted);
		pn_progress_event("pushed", fields,
				  "pushed %s (%zu uploaded, %zu skipped, %zu mounted, %.1f s)",
				  d->digest, p.uploaded, p.skipped, p.mounted, secs);
	}
	free(p.scope);
	return rc;
}

int registry_push(struct registry_client *c, struct oci_layout *src, const char *src_ref,
		  const char *dst_ref, struct oci_descriptor *out, struct pn_error **err)
{
	struct registry_target t;
	struct oci_descriptor d;
	int rc = -1;

	oci_descriptor_init(&d);
	if (registry_target_resolve(c, dst_ref, &t, err) < 0)
		return -1;
	if (oci_layout_resolve(src, src_ref, &d, err) < 0)
		goto out;
	if (t.layout_dir) {
		rc = registry_mirror_layout_push(c, &t, src, src_ref, out, err);
		goto out;
	}
	rc = push_to_registry(c, &t, src, &d, err);
	if (rc == 0 && out)
		oci_descriptor_copy(out, &d);
out:
	oci_descriptor_release(&d);
	registry_target_release(&t);
	return rc < 0 ? pn_error_wrap(err, "push `%s`", dst_ref) : 0;
}

/* ------------------------------------------------------ a streamed blob */
/* a blob whose bytes come as they are made: a chunk is filled while the one
 * before is sent on a thread of its own (kept until the registry confirmed
 * it, so a reset resumes from the registry's offset); the digest comes at
 * the end */
struct registry_upload {
	struct pusher p;
	struct registry_target t;
	char *loc; /* the sending thread's while busy */
	char *bufs[2], *buf;
	size_t len, cap;
	int64_t off; /* bytes before buf (sent or being sent); buf holds [off, off + len) */
	pthread_t th;
	bool busy;
	struct body_src send; /* the chunk being sent */
	int64_t send_end;
	struct pn_error *send_err;
	bool failed;			/* a chunk or the close failed since the session began */
	struct registry_retry restarts; /* new sessions (registry_upload_restart) */
};

static int stream_target(struct registry_client *c, const char *ref, struct registry_target *t,
			 struct pusher *p, struct pn_error **err)
{
	if (registry_target_resolve(c, ref, t, err) < 0)
		return -1;
	if (t->layout_dir) {
		registry_target_release(t);
		return 0;
	}
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->t = t;
	p->scope = xasprintf("repository:%s:pull,push", t->repository);
	p->start_ms = registry_now_ms();
	return 1;
}

bool registry_ref_is_remote(struct registry_client *c, const char *ref)
{
	struct registry_target t;
	struct pusher p;
	int rc = stream_target(c, ref, &t, &p, NULL);

	if (rc <= 0)
		return false;
	free(p.scope);
	registry_target_release(&t);
	return true;
}

int registry_blob_exists(struct registry_client *c, const char *ref, const char *digest,
			 bool *exists, struct pn_error **err)
{
	struct registry_target t;
	struct pusher p;
	int rc = stream_target(c, ref, &t, &p, err);

	*exists = false;
	if (rc <= 0)
		return rc;
	rc = blob_exists(&p, digest, exists, err);
	free(p.scope);
	registry_target_release(&t);
	return rc;
}

int registry_upload_begin(struct registry_client *c, const char *ref, struct registry_upload **out,
			  struct pn_error **err)
{
	struct registry_upload *u = xcalloc(1, sizeof(*u));
	int rc = stream_target(c, ref, &u->t, &u->p, err);

	*out = NULL;
	if (rc <= 0) {
		free(u);
		return rc;
	}
	u->p.t = &u->t; /* the target moved into u */
	if (upload_start(&u->p, NULL, NULL, &u->loc, err) < 0) {
		registry_upload_free(u);
		return pn_error_wrap(err, "upload to `%s`", ref);
	}
	registry_retry_init_restarts(&u->restarts, c->opts.retries);
	u->cap = c->opts.chunk_size;
	u->bufs[0] = xmalloc(u->cap);
	u->bufs[1] = xmalloc(u->cap);
	u->buf = u->bufs[0];
	*out = u;
	return 1;
}

static void *upload_sender(void *arg)
{
	struct registry_upload *u = arg;

	send_range(&u->p, &u->loc, &u->send, u->send.base, u->send_end, "(streamed)", &u->send_err);
	return NULL;
}

/* the chunk in flight confirmed (or its error) */
static int upload_wait(struct registry_upload *u, struct pn_error **err)
{
	if (u->busy) {
		pthread_join(u->th, NULL);
		u->busy = false;
	}
	if (u->send_err) {
		u->failed = true;
		pn_error_propagate(err, u->send_err);
		u->send_err = NULL;
		return -1;
	}
	return 0;
}

/* hand buf to the sender (after the chunk before it) and fill the other */
static int upload_flush(struct registry_upload *u, struct pn_error **err)
{
	if (upload_wait(u, err) < 0)
		return -1;
	if (u->len == 0)
		return 0;
	u->send = (struct body_src){-1, u->buf, u->off};
	u->send_end = u->off + (int64_t)u->len;
	u->off = u->send_end;
	u->len = 0;
	u->buf = u->buf == u->bufs[0] ? u->bufs[1] : u->bufs[0];
	if (pthread_create(&u->th, NULL, upload_sender, u) != 0) {
		upload_sender(u); /* no thread: send it here */
		return upload_wait(u, err);
	}
	u->busy = true;
	return 0;
}

int registry_upload_write(struct registry_upload *u, const void *data, size_t len,
			  struct pn_error **err)
{
	const char *d = data;

	while (len > 0) {
		size_t n = u->cap - u->len < len ? u->cap - u->len : len;

		memcpy(u->buf + u->len, d, n);
		u->len += n;
		d += n;
		len -= n;
		if (u->len == u->cap && upload_flush(u, err) < 0)
			return -1;
	}
	return 0;
}

int registry_upload_finish(struct registry_upload *u, const char *digest, struct pn_error **err)
{
	int64_t t0 = u->p.start_ms;

	if (upload_flush(u, err) < 0 || upload_wait(u, err) < 0)
		return pn_error_wrap(err, "blob `%s`", digest);
	if (upload_close(&u->p, u->loc, digest, err) < 0) {
		u->failed = true;
		return pn_error_wrap(err, "blob `%s`", digest);
	}
	registry_client_remember_blob(u->p.c, u->t.host->name, u->t.repository, digest);
	push_event(&u->p, "blob-pushed", digest, u->off, t0);
	return 0;
}

int registry_upload_restart(struct registry_upload *u, struct pn_error *cause,
			    struct pn_error **err)
{
	struct pn_error *e = NULL;

	upload_wait(u, &e); /* the chunk in flight: its failure is this session's too */
	pn_error_free(e);
	if (!u->failed || !registry_restart_worth(cause) ||
	    !registry_retry_wait(&u->restarts, NULL)) {
		pn_error_propagate(err, cause);
		return -1;
	}
	pn_debug("streamed upload failed (%s); starting again in a new session", cause->msg);
	pn_error_free(cause);
	u->failed = false;
	u->off = 0;
	u->len = 0;
	u->buf = u->bufs[0];
	if (upload_open(&u->p, NULL, NULL, &u->loc, err) < 0)
		return pn_error_wrap(err, "restart the upload");
	return 0;
}

void registry_upload_free(struct registry_upload *u)
{
	if (!u)
		return;
	upload_wait(u, NULL);
	free(u->loc);
	free(u->bufs[0]);
	free(u->bufs[1]);
	free(u->p.scope);
	registry_target_release(&u->t);
	free(u);
}
