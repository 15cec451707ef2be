/* pull.c - manifests (index/list negotiation, platform choice) and blobs
 * (parallel through curl multi, verified while streaming, Range resume,
 * retries), registry_pull, registry_inspect, registry_exists. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#define MANIFEST_ACCEPT                                                                            \
	OCI_MT_INDEX ", " DOCKER_MT_LIST ", " OCI_MT_MANIFEST ", " DOCKER_MT_MANIFEST

char *registry_scope_pull(const char *repo)
{
	return xasprintf("repository:%s:pull", repo);
}

/* ------------------------------------------------------------- manifests */
/* the document's own mediaType wins; else a Content-Type naming a manifest
 * or index type; else "" (the kind is then told by the document's shape) */
static char *media_type_of(const struct registry_response *r)
{
	static const char *const known[] = {OCI_MT_INDEX, OCI_MT_MANIFEST, DOCKER_MT_LIST,
					    DOCKER_MT_MANIFEST};
	cleanup_json json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	const char *mt = json_string_value(json_object_get(j, "mediaType"));

	if (mt && *mt)
		return xstrdup(mt);
	for (size_t i = 0; r->content_type && i < sizeof(known) / sizeof(*known); i++)
		if (strncmp(r->content_type, known[i], strlen(known[i])) == 0)
			return xstrdup(known[i]);
	return xstrdup("");
}

int registry_fetch_manifest(struct registry_client *c, struct registry_target *t,
			    const char *reference, char **media_type, char **data, size_t *len,
			    oci_digest_t digest, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	cleanup_free char *url = xasprintf("/v2/%s/manifests/%s", t->repository, reference);
	cleanup_free char *scope = registry_scope_pull(t->repository);
	cleanup_free char *what =
		xasprintf("manifest `%s/%s:%s`", t->host->name, t->repository, reference);
	const char *sep = registry_digest_valid(reference) ? "@" : ":";
	cleanup_free char *big =
		xasprintf("manifest of `%s/%s%s%s`", t->host->name, t->repository, sep, reference);
	struct registry_response resp;
	int rc = -1;

	req.method = "GET";
	req.url = url;
	req.accept = MANIFEST_ACCEPT;
	req.scope = scope;
	req.what = big;
	registry_response_init(&resp, OCI_MANIFEST_MAX);
	if (registry_http_do(c, t->host, &req, &resp, err) < 0) {
		if (resp.too_large && resp.content_type &&
		    (strstr(resp.content_type, "index") || strstr(resp.content_type, "list"))) {
			char lim[32];
			registry_limit_text(OCI_MANIFEST_MAX, lim, sizeof(lim));
			pn_error_set(err, PN_ERR_TOO_LARGE,
				     "index of `%s/%s%s%s` is larger than the %s limit",
				     t->host->name, t->repository, sep, reference, lim);
		}
		goto out;
	}
	if (resp.status != 200) {
		registry_http_status_error(&resp, t->host->name, what, err);
		goto out;
	}
	oci_digest_buf(resp.body.data ? resp.body.data : "", resp.body.len, digest);
	if (registry_digest_valid(reference) && strcmp(reference, digest) != 0) {
		pn_error_set(err, PN_ERR_DIGEST, "%s: content has digest `%s`", what, digest);
		goto out;
	}
	if (resp.docker_digest && strncmp(resp.docker_digest, "sha256:", 7) == 0 &&
	    strcmp(resp.docker_digest, digest) != 0) {
		pn_error_set(err, PN_ERR_DIGEST, "%s: registry says `%s`, content has `%s`", what,
			     resp.docker_digest, digest);
		goto out;
	}
	*media_type = media_type_of(&resp);
	*len = resp.body.len;
	*data = pn_buf_steal(&resp.body, NULL);
	if (!*data)
		*data = xstrdup("");
	rc = 0;
out:
	registry_response_release(&resp);
	return rc;
}

/* a small blob (config) into memory, verified */
static int fetch_blob_mem(struct registry_client *c, struct registry_target *t, const char *digest,
			  size_t max, char **out, size_t *len, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	cleanup_free char *url = xasprintf("/v2/%s/blobs/%s", t->repository, digest);
	cleanup_free char *scope = registry_scope_pull(t->repository);
	cleanup_free char *what = xasprintf("blob `%s`", digest);
	cleanup_free char *big =
		xasprintf("config `%s` of `%s/%s`", digest, t->host->name, t->repository);
	struct registry_response resp;
	struct registry_retry r;
	oci_digest_t got;
	int rc = -1;

	req.method = "GET";
	req.url = url;
	req.scope = scope;
	req.what = big;
	registry_response_init(&resp, max);
	/* a digest mismatch is retried too (each request has its own retries) */
	registry_retry_init(&r, c->opts.retries);
	for (;;) {
		if (registry_http_do(c, t->host, &req, &resp, err) < 0)
			goto out;
		if (resp.status != 200) {
			registry_http_status_error(&resp, t->host->name, what, err);
			goto out;
		}
		oci_digest_buf(resp.body.data ? resp.body.data : "", resp.body.len, got);
		if (strcmp(got, digest) == 0)
			break;
		if (!registry_retry_wait(&r, NULL)) {
			pn_error_set(err, PN_ERR_DIGEST, "%s: content has digest `%s`", what, got);
			goto out;
		}
	}
	*len = resp.body.len;
	*out = pn_buf_steal(&resp.body, NULL);
	rc = 0;
out:
	registry_response_release(&resp);
	return rc;
}

/* ------------------------------------------------------- parallel blobs */
struct fetch;
struct xfer {
	struct fetch *f;
	const struct registry_blob_want *want;
	CURL *e;
	struct curl_slist *hdrs;
	struct oci_blob_writer *w;
	struct registry_response resp; /* headers; body only for errors */
	char errbuf[CURL_ERROR_SIZE];
	struct registry_retry retry;
	bool active, done, refreshed;
	int64_t retry_at, start_ms, offset;
	int64_t attempt_ms, end_ms, deadline_ms; /* this attempt's start, end and deadline */
	char *url; /* where a redirect sent this attempt (NULL: the registry) */
	int hops;  /* redirects followed in this attempt */
	struct pn_error *werr;
};

struct fetch {
	struct registry_client *c;
	struct registry_target *t;
	struct oci_layout *l;
	CURLM *m;
	char *auth, *scope;
	struct xfer *x;
	size_t n, n_done;
	int active;
	int64_t bytes, start_ms, last_event_ms, total;
};

static size_t xfer_write_cb(char *buf, size_t size, size_t n, void *data)
{
	struct xfer *x = data;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && status != 206)
		return registry_error_doc_cb(&x->resp, buf, len);
	if (status == 200 && x->offset > 0) {
		/* the server ignored our Range: the body is the whole blob again */
		oci_blob_writer_free(x->w);
		x->offset = 0;
		x->w = oci_layout_blob_begin(x->f->l, &x->werr);
		if (!x->w)
			return 0;
	}
	if (oci_blob_writer_size(x->w) + (int64_t)len > x->want->size) {
		pn_error_set(&x->werr, PN_ERR_DIGEST, "more bytes than the expected %lld",
			     (long long)x->want->size);
		return 0;
	}
	if (oci_blob_writer_write(x->w, buf, len, &x->werr) < 0)
		return 0;
	return len;
}

static int xfer_start(struct fetch *f, struct xfer *x, struct pn_error **err)
{
	cleanup_free char *url =
		registry_url(f->t->host, "/v2/%s/blobs/%s", f->t->repository, x->want->digest);
	char range[64];

	if (!x->w) {
		x->w = oci_layout_blob_begin(f->l, err);
		if (!x->w)
			return -1;
	}
	x->offset = oci_blob_writer_size(x->w);
	registry_response_release(&x->resp);
	registry_response_init(&x->resp, REGISTRY_ERROR_BODY_MAX);
	x->e = curl_easy_init();
	registry_easy_setup(f->c, f->t->host, x->e);
	/* redirects are followed here (xfer_finish), each hop with its own
	 * host's TLS setting and the credentials only on the registry's origin */
	curl_easy_setopt(x->e, CURLOPT_FOLLOWLOCATION, 0L);
	registry_easy_tls_for(f->c, x->e, x->url ? x->url : url);
	x->deadline_ms = registry_blob_deadline_ms(f->c, x->e, x->want->size - x->offset);
	if (x->hops > 0) { /* the attempt's deadline spans its hops */
		int64_t left = x->deadline_ms - (registry_now_ms() - x->attempt_ms);
		if (x->deadline_ms > 0)
			curl_easy_setopt(x->e, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	} else {
		x->attempt_ms = registry_now_ms();
	}
	curl_easy_setopt(x->e, CURLOPT_URL, x->url ? x->url : url);
	curl_slist_free_all(x->hdrs);
	x->hdrs = f->auth && (!x->url || registry_same_origin(f->t->host->base, x->url))
			  ? curl_slist_append(NULL, f->auth)
			  : NULL;
	curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, registry_header_cb);
	curl_easy_setopt(x->e, CURLOPT_HEADERDATA, &x->resp);
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, xfer_write_cb);
	curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	if (x->offset > 0) {
		snprintf(range, sizeof(range), "%lld-", (long long)x->offset);
		curl_easy_setopt(x->e, CURLOPT_RANGE, range);
		pn_debug("blob %s: resuming at byte %lld", x->want->digest, (long long)x->offset);
	}
	x->errbuf[0] = '\0';
	if (!x->start_ms)
		x->start_ms = registry_now_ms();
	curl_multi_add_handle(f->m, x->e);
	x->active = true;
	f->active++;
	return 0;
}

static void xfer_stop(struct fetch *f, struct xfer *x)
{
	if (!x->e)
		return;
	curl_multi_remove_handle(f->m, x->e);
	curl_easy_cleanup(x->e);
	x->e = NULL;
	if (x->active) {
		x->active = false;
		f->active--;
	}
}

static void xfer_progress(struct fetch *f, struct xfer *x)
{
	double secs = (double)(registry_now_ms() - x->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)x->want->size / secs / 1048576.0 : 0;
	char fields[256];

	f->bytes += x->want->size;
	if (!f->c->opts.progress)
		return;
	snprintf(fields, sizeof(fields),
		 "\"digest\":\"%s\",\"bytes\":%lld,\"seconds\":%.3f,\"mib_per_s\":%.1f",
		 x->want->digest, (long long)x->want->size, secs, rate);
	pn_progress_event("blob-pulled", fields, "pulled %.19s (%.1f MiB, %.1f MiB/s)",
			  x->want->digest, (double)x->want->size / 1048576.0, rate);
}

static void xfer_done(struct fetch *f, struct xfer *x)
{
	oci_blob_writer_free(x->w);
	x->w = NULL;
	x->done = true;
	f->n_done++;
	registry_client_remember_blob(f->c, f->t->host->name, f->t->repository, x->want->digest);
	xfer_progress(f, x);
}

/* retries ran out: the last cause, wrapped */
static int xfer_give_up(struct fetch *f, struct xfer *x, CURLcode rc, struct pn_error **err)
{
	if (x->werr) {
		*err = x->werr;
		x->werr = NULL;
	} else if (rc != CURLE_OK) {
		registry_transfer_error(f->c, rc, x->errbuf, &x->resp, x->end_ms - x->attempt_ms,
					x->deadline_ms, true, "", err);
	} else {
		cleanup_free char *what = xasprintf("blob `%s`", x->want->digest);
		registry_http_status_error(&x->resp, f->t->host->name, what, err);
	}
	return pn_error_wrap(err, "blob `%s`: gave up after %d attempts", x->want->digest,
			     x->retry.done + 1);
}

/* another attempt after a backoff (Retry-After honoured); the transfer loop
 * restarts it when its time comes, resuming from what the writer holds */
static int xfer_retry(struct fetch *f, struct xfer *x, CURLcode rc, long status,
		      struct pn_error **err)
{
	int64_t at = registry_retry_at(&x->retry, x->resp.retry_after);

	if (at < 0)
		return xfer_give_up(f, x, rc, err);
	pn_debug("blob %s: attempt %d failed (%s, HTTP %ld); retrying", x->want->digest,
		 x->retry.done,
		 rc != CURLE_OK ? curl_easy_strerror(rc)
		 : x->werr	? x->werr->msg
				: "status",
		 status);
	pn_error_free(x->werr);
	x->werr = NULL;
	x->retry_at = at;
	return 0;
}

/* a redirect (to next) of the attempt: the next hop starts, or the attempt
 * fails for good (too many hops, a refused scheme) */
static int xfer_redirect(struct fetch *f, struct xfer *x, long status, const char *next,
			 struct pn_error **err)
{
	const char *from = x->url;
	cleanup_free char *reg = NULL;
	CURLcode rc = CURLE_OK;

	if (!from)
		from = reg = registry_url(f->t->host, "/v2/%s/blobs/%s", f->t->repository,
					  x->want->digest);
	if (x->hops >= REGISTRY_REDIRECTS_MAX)
		rc = CURLE_TOO_MANY_REDIRECTS;
	else if (registry_redirect_check(f->t->host, from, next, x->errbuf, sizeof(x->errbuf)) < 0)
		rc = CURLE_UNSUPPORTED_PROTOCOL;
	if (rc != CURLE_OK) {
		xfer_stop(f, x);
		x->end_ms = registry_now_ms();
		registry_transfer_error(f->c, rc, x->errbuf, &x->resp, x->end_ms - x->attempt_ms,
					x->deadline_ms, true, "", err);
		return pn_error_wrap(err, "blob `%s`", x->want->digest);
	}
	pn_debug("blob %s: redirect %ld to %s", x->want->digest, status, next);
	free(x->url);
	x->url = xstrdup(next); /* before xfer_stop frees next with the handle */
	x->hops++;
	xfer_stop(f, x);
	return xfer_start(f, x, err);
}

/* the transfer ended: follow a redirect, commit, schedule a retry, or fail */
static int xfer_finish(struct fetch *f, struct xfer *x, CURLcode rc, struct pn_error **err)
{
	long status = 0;
	oci_digest_t got;
	char *next = NULL;

	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_WRITE_ERROR && x->resp.truncated)
		rc = CURLE_OK; /* an error document cut short: its status stands */
	if (rc == CURLE_OK && status >= 300 && status <= 399 &&
	    curl_easy_getinfo(x->e, CURLINFO_REDIRECT_URL, &next) == CURLE_OK && next)
		return xfer_redirect(f, x, status, next, err);
	xfer_stop(f, x);
	x->end_ms = registry_now_ms();
	/* a retry or a refreshed token starts again at the registry */
	free(x->url);
	x->url = NULL;
	x->hops = 0;
	if (rc == CURLE_OK && (status == 200 || status == 206)) {
		struct pn_error *e = NULL;
		if (oci_blob_writer_commit(x->w, x->want->digest, x->want->size, got, &e) == 0) {
			xfer_done(f, x);
			return 0;
		}
		/* corrupt or truncated content: never stored; fetch it again whole */
		pn_error_free(x->werr);
		x->werr = e;
		oci_blob_writer_free(x->w);
		x->w = NULL;
		return xfer_retry(f, x, rc, status, err);
	}
	if (rc == CURLE_OK && status == 401 && !x->refreshed) {
		x->refreshed = true;
		free(f->auth);
		f->auth = NULL;
		if (registry_auth_header(f->c, f->t->host, f->scope, true, &f->auth, err) < 0)
			return -1;
		return xfer_start(f, x, err);
	}
	if (rc == CURLE_OK && !registry_status_transient(status)) {
		cleanup_free char *what = xasprintf("blob `%s`", x->want->digest);
		return registry_http_status_error(&x->resp, f->t->host->name, what, err);
	}
	if (x->werr && x->werr->code != PN_ERR_DIGEST) { /* the layout refused a write */
		*err = x->werr;
		x->werr = NULL;
		return -1;
	}
	if (x->werr) { /* more bytes than announced: start again */
		oci_blob_writer_free(x->w);
		x->w = NULL;
	}
	if (rc != CURLE_OK && !registry_curl_transient(rc) &&
	    (rc != CURLE_WRITE_ERROR || x->resp.headers_too_large)) {
		registry_transfer_error(f->c, rc, x->errbuf, &x->resp, x->end_ms - x->attempt_ms,
					x->deadline_ms, true, "", err);
		return pn_error_wrap(err, "blob `%s`", x->want->digest);
	}
	return xfer_retry(f, x, rc, status, err);
}

static int fetch_start_more(struct fetch *f, struct pn_error **err)
{
	int64_t now = registry_now_ms();

	for (size_t i = 0; i < f->n && f->active < f->c->opts.parallel; i++) {
		struct xfer *x = &f->x[i];
		if (x->done || x->active || x->retry_at > now)
			continue;
		if (xfer_start(f, x, err) < 0)
			return -1;
	}
	return 0;
}

#define PROGRESS_EVERY_MS 2000

/* a running total every couple of seconds, for long pulls */
static void fetch_progress(struct fetch *f)
{
	int64_t now = registry_now_ms(), have = f->bytes;
	char fields[160];
	double secs;

	bool tty = pn_log_progress() == PN_PROGRESS_TTY;

	if (!f->c->opts.progress || (!tty && now - f->last_event_ms < PROGRESS_EVERY_MS))
		return;
	f->last_event_ms = now;
	for (size_t i = 0; i < f->n; i++)
		if (!f->x[i].done && f->x[i].w)
			have += oci_blob_writer_size(f->x[i].w);
	secs = (double)(now - f->start_ms) / 1000.0;
	if (tty) { /* a bar redrawn in place (it throttles itself) */
		pn_progress_bar("pulling", have, f->total,
				secs > 0 ? (double)have / secs / 1048576.0 : 0);
		return;
	}
	snprintf(fields, sizeof(fields),
		 "\"bytes\":%lld,\"total\":%lld,\"seconds\":%.3f,\"mib_per_s\":%.1f",
		 (long long)have, (long long)f->total, secs,
		 secs > 0 ? (double)have / secs / 1048576.0 : 0);
	pn_progress_event("pull-progress", fields, "pulling: %.1f of %.1f MiB (%.1f MiB/s)",
			  (double)have / 1048576.0, (double)f->total / 1048576.0,
			  secs > 0 ? (double)have / secs / 1048576.0 : 0);
}

static int fetch_loop(struct fetch *f, struct pn_error **err)
{
	int running = 0, left;
	CURLMsg *msg;

	while (f->n_done < f->n) {
		if (fetch_start_more(f, err) < 0)
			return -1;
		curl_multi_perform(f->m, &running);
		while ((msg = curl_multi_info_read(f->m, &left))) {
			struct xfer *x = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (xfer_finish(f, x, msg->data.result, err) < 0)
				return -1;
		}
		if (f->n_done < f->n) {
			curl_multi_poll(f->m, NULL, 0, 100, NULL);
			fetch_progress(f);
		}
	}
	return 0;
}

static void fetch_release(struct fetch *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct xfer *x = &f->x[i];
		xfer_stop(f, x);
		oci_blob_writer_free(x->w);
		curl_slist_free_all(x->hdrs);
		registry_response_release(&x->resp);
		pn_error_free(x->werr);
		free(x->url);
	}
	free(f->x);
	if (f->auth)
		explicit_bzero(f->auth, strlen(f->auth));
	free(f->auth);
	free(f->scope);
	if (f->m)
		curl_multi_cleanup(f->m);
}

void registry_size_text(int64_t n, char *buf, size_t bufsz)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, bufsz, "%lld bytes", (long long)n);
		return;
	}
	while (v >= 1024.0 && u < 5)
		v /= 1024.0, u++;
	snprintf(buf, bufsz, "%.1f %s", v, units[u]);
}

int registry_blob_size_check(const struct registry_opts *o, const char *what, int64_t size,
			     struct pn_error **err)
{
	int64_t max = o->max_blob_size > 0 ? o->max_blob_size : REGISTRY_DEFAULT_MAX_BLOB_SIZE;
	char lim[32], got[32];

	if (size <= max)
		return 0;
	registry_limit_text((size_t)max, lim, sizeof(lim));
	registry_size_text(size, got, sizeof(got));
	return pn_error_set(err, PN_ERR_TOO_LARGE,
			    "%s declares %s (%lld bytes), more than the %s limit (--max-blob-size)",
			    what, got, (long long)size, lim);
}

int registry_space_check(const char *dir, int64_t need, struct pn_error **err)
{
	struct statvfs sv;
	int64_t avail;
	char a[32], b[32], m[32];

	if (statvfs(dir, &sv) < 0) {
		pn_debug("statvfs %s: %s: free space not checked", dir, strerror(errno));
		return 0;
	}
	avail = sv.f_bavail > (fsblkcnt_t)(INT64_MAX / (int64_t)(sv.f_frsize ? sv.f_frsize : 1))
			? INT64_MAX
			: (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
	if (need <= INT64_MAX - REGISTRY_SPACE_MARGIN && need + REGISTRY_SPACE_MARGIN <= avail)
		return 0;
	registry_size_text(need, a, sizeof(a));
	registry_size_text(avail, b, sizeof(b));
	registry_limit_text((size_t)REGISTRY_SPACE_MARGIN, m, sizeof(m));
	return pn_error_set(err, PN_ERR_GENERIC,
			    "not enough free space in `%s`: the missing blobs declare %s (%lld "
			    "bytes) and %s more is kept free, but only %s (%lld bytes) is free",
			    dir, a, (long long)need, m, b, (long long)avail);
}

/* the declared sizes against --max-blob-size, the missing ones against the
 * free space of l */
static int fetch_precheck(struct registry_client *c, struct oci_layout *l,
			  const struct registry_blob_want *want, const struct xfer *x, size_t n,
			  struct pn_error **err)
{
	int64_t need = 0;

	for (size_t i = 0; i < n; i++) {
		cleanup_free char *what = xasprintf("blob `%s`", want[i].digest);
		if (registry_blob_size_check(&c->opts, what, want[i].size, err) < 0)
			return -1;
		if (!x[i].done) /* saturating: each is <= 2^50, but there may be many */
			need = want[i].size > INT64_MAX - need ? INT64_MAX : need + want[i].size;
	}
	if (need == 0)
		return 0;
	return registry_space_check(oci_layout_path(l), need, err);
}

int registry_fetch_blobs(struct registry_client *c, struct registry_target *t, struct oci_layout *l,
			 const struct registry_blob_want *want, size_t n, struct pn_error **err)
{
	struct fetch f = {.c = c, .t = t, .l = l};
	int rc = -1;

	f.x = xcalloc(n + 1, sizeof(*f.x));
	for (size_t i = 0; i < n; i++) {
		f.x[i].want = &want[i];
		f.x[i].f = &f;
		registry_retry_init(&f.x[i].retry, c->opts.retries);
		if (oci_layout_has_blob(l, want[i].digest)) {
			f.x[i].done = true;
			f.n_done++;
			registry_client_remember_blob(c, t->host->name, t->repository,
						      want[i].digest);
		}
	}
	f.n = n;
	f.scope = registry_scope_pull(t->repository);
	if (fetch_precheck(c, l, want, f.x, n, err) < 0)
		goto out;
	if (f.n_done < n) {
		if (registry_auth_header(c, t->host, f.scope, false, &f.auth, err) < 0)
			goto out;
		f.m = curl_multi_init();
		f.start_ms = f.last_event_ms = registry_now_ms();
		for (size_t i = 0; i < n; i++)
			if (!f.x[i].done)
				f.total += want[i].size;
		rc = fetch_loop(&f, err);
		if (rc == 0 && c->opts.progress && f.bytes > 0) {
			double secs = (double)(registry_now_ms() - f.start_ms) / 1000.0;
			char fields[160];
			snprintf(fields, sizeof(fields),
				 "\"bytes\":%lld,\"seconds\":%.3f,\"mib_per_s\":%.1f",
				 (long long)f.bytes, secs,
				 secs > 0 ? (double)f.bytes / secs / 1048576.0 : 0);
			pn_progress_event("blobs-pulled", fields, "pulled %.1f MiB in %.1f s",
					  (double)f.bytes / 1048576.0, secs);
		}
	} else {
		rc = 0;
	}
out:
	fetch_release(&f);
	return rc;
}

/* ------------------------------------------------------------ operations */
/* the manifest for the client's platform: follows an index / list */
int registry_resolve_manifest(struct registry_client *c, struct registry_target *t, char **mt,
			      char **data, size_t *len, oci_digest_t dg, struct pn_error **err)
{
	enum oci_doc_kind kind;
	struct oci_index ix;
	const struct oci_descriptor *sel = NULL;
	cleanup_free char *child = NULL;
	int rc;

	if (registry_fetch_manifest(c, t, registry_ref_reference(&t->ref), mt, data, len, dg, err) <
	    0)
		return -1;
	if (oci_doc_kind(*mt, *data, *len, &kind, err) < 0)
		goto fail;
	if (kind == OCI_DOC_MANIFEST)
		return 0;
	if (oci_index_parse(*data, *len, &ix, err) < 0)
		goto fail;
	rc = oci_index_select_platform(&ix, c->opts.platform, &sel, err);
	if (rc == 0)
		child = xstrdup(sel->digest);
	oci_index_release(&ix);
	if (rc < 0)
		goto fail;
	free(*mt);
	free(*data);
	*mt = NULL;
	*data = NULL;
	if (registry_fetch_manifest(c, t, child, mt, data, len, dg, err) < 0)
		return -1;
	if (oci_doc_kind(*mt, *data, *len, &kind, err) < 0)
		goto fail;
	if (kind != OCI_DOC_MANIFEST) {
		pn_error_set(err, PN_ERR_UNSUPPORTED, "index `%s` lists another index for %s", dg,
			     c->opts.platform);
		goto fail;
	}
	return 0;
fail:
	free(*mt);
	free(*data);
	*mt = *data = NULL;
	return -1;
}

static int manifest_wants(const struct oci_manifest *m, struct registry_blob_want **out, size_t *n,
			  struct pn_error **err)
{
	struct registry_blob_want *w = xcalloc(m->n_layers + 1, sizeof(*w));

	if (m->config.size < 0 || (size_t)m->config.size > OCI_CONFIG_MAX) {
		char lim[32];
		registry_limit_text(OCI_CONFIG_MAX, lim, sizeof(lim));
		free(w);
		if (m->config.size < 0)
			return pn_error_set(err, PN_ERR_INVALID, "config `%s` has a negative size",
					    m->config.digest);
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "config `%s` of %lld bytes is larger than the %s limit",
				    m->config.digest, (long long)m->config.size, lim);
	}
	memcpy(w[0].digest, m->config.digest, sizeof(w[0].digest));
	w[0].size = m->config.size;
	for (size_t i = 0; i < m->n_layers; i++) {
		if (m->layers[i].size < 0) {
			free(w);
			return pn_error_set(err, PN_ERR_INVALID, "layer %zu has a negative size",
					    i);
		}
		memcpy(w[i + 1].digest, m->layers[i].digest, sizeof(w[i + 1].digest));
		w[i + 1].size = m->layers[i].size;
	}
	*out = w;
	*n = m->n_layers + 1;
	return 0;
}

static int pull_from_registry(struct registry_client *c, struct registry_target *t,
			      struct oci_layout *dst, const char *tag, struct oci_descriptor *out,
			      struct pn_error **err)
{
	cleanup_free char *mt = NULL, *data = NULL;
	cleanup_free struct registry_blob_want *want = NULL;
	struct oci_manifest m;
	struct oci_descriptor d;
	oci_digest_t dg;
	size_t len = 0, n = 0;
	int rc = -1;

	oci_manifest_init(&m);
	oci_descriptor_init(&d);
	if (registry_resolve_manifest(c, t, &mt, &data, &len, dg, err) < 0)
		return -1;
	if (oci_manifest_parse(data, len, &m, err) < 0 || manifest_wants(&m, &want, &n, err) < 0)
		goto out;
	if (registry_fetch_blobs(c, t, dst, want, n, err) < 0)
		goto out;
	if (oci_layout_put_blob(dst, data, len, dg, NULL, err) < 0)
		goto out;
	d.media_type = xstrdup(*mt ? mt : m.media_type ? m.media_type : OCI_MT_MANIFEST);
	memcpy(d.digest, dg, sizeof(dg));
	d.size = (int64_t)len;
	if (tag && oci_layout_tag(dst, tag, &d, err) < 0)
		goto out;
	if (out)
		oci_descriptor_copy(out, &d);
	rc = 0;
out:
	oci_manifest_release(&m);
	oci_descriptor_release(&d);
	return rc;
}

int registry_pull(struct registry_client *c, const char *ref, struct oci_layout *dst,
		  const char *tag, struct oci_descriptor *out, struct pn_error **err)
{
	struct registry_target t;
	int rc;

	if (registry_target_resolve(c, ref, &t, err) < 0)
		return -1;
	if (t.layout_dir)
		rc = registry_mirror_layout_copy(c, &t, dst, tag, out, err);
	else
		rc = pull_from_registry(c, &t, dst, tag, out, err);
	registry_target_release(&t);
	return rc < 0 ? pn_error_wrap(err, "pull `%s`", ref) : 0;
}

/* the platform manifest's descriptor and raw bytes, and the raw config */
static int inspect_raw(struct registry_client *c, struct registry_target *t,
		       struct oci_descriptor *desc, char **mdata, size_t *mlen, char **cdata,
		       size_t *clen, struct pn_error **err)
{
	cleanup_free char *mt = NULL;
	struct oci_manifest m;
	oci_digest_t dg;
	int rc;

	if (registry_resolve_manifest(c, t, &mt, mdata, mlen, dg, err) < 0)
		return -1;
	oci_manifest_init(&m);
	rc = oci_manifest_parse(*mdata, *mlen, &m, err);
	if (rc == 0)
		rc = fetch_blob_mem(c, t, m.config.digest, OCI_CONFIG_MAX, cdata, clen, err);
	oci_manifest_release(&m);
	if (rc < 0)
		return -1;
	desc->media_type = xstrdup(*mt ? mt : OCI_MT_MANIFEST);
	memcpy(desc->digest, dg, sizeof(dg));
	desc->size = (int64_t)*mlen;
	return 0;
}

static int inspect_registry(struct registry_client *c, struct registry_target *t,
			    struct oci_image *out, struct pn_error **err)
{
	cleanup_free char *data = NULL, *cdata = NULL;
	size_t len = 0, clen = 0;
	struct oci_image img;

	/* the parsers fill (not merge into) their structs */
	oci_descriptor_init(&img.desc);
	oci_manifest_init(&img.manifest);
	memset(&img.config, 0, sizeof(img.config));
	if (inspect_raw(c, t, &img.desc, &data, &len, &cdata, &clen, err) < 0 ||
	    oci_manifest_parse(data, len, &img.manifest, err) < 0 ||
	    oci_config_parse(cdata, clen, &img.config, err) < 0) {
		oci_image_release(&img);
		return -1;
	}
	oci_image_release(out);
	*out = img;
	return 0;
}

int registry_inspect_json_with(struct registry_client *c, const char *ref, json_t **out,
			       struct pn_error **err)
{
	struct registry_target t = {0};
	struct oci_descriptor d;
	cleanup_free char *data = NULL, *cdata = NULL;
	size_t len = 0, clen = 0;
	int rc = -1;

	oci_descriptor_init(&d);
	if (registry_target_resolve(c, ref, &t, err) < 0)
		return pn_error_wrap(err, "inspect `%s`", ref);
	if (t.layout_dir) {
		struct oci_layout *l = NULL;
		cleanup_free char *lref = NULL;
		if (registry_mirror_layout_open(&t, &l, &lref, err) == 0) {
			rc = oci_layout_inspect_json(l, lref, c->opts.platform, ref, out, err);
			oci_layout_free(l);
		}
	} else if (inspect_raw(c, &t, &d, &data, &len, &cdata, &clen, err) == 0) {
		*out = oci_image_inspect_json(ref, &d, data, len, cdata, clen);
		rc = 0;
	}
	oci_descriptor_release(&d);
	registry_target_release(&t);
	return rc < 0 ? pn_error_wrap(err, "inspect `%s`", ref) : 0;
}

int registry_inspect_json(const char *ref, const char *platform, json_t **out,
			  struct pn_error **err)
{
	struct registry_opts o;
	struct registry_client *c = NULL;
	int rc = -1;

	registry_opts_init(&o);
	if (platform)
		o.platform = xstrdup(platform);
	if (registry_opts_load_config(&o, NULL, err) == 0 && registry_client_new(&o, &c, err) == 0)
		rc = registry_inspect_json_with(c, ref, out, err);
	registry_client_free(c);
	registry_opts_release(&o);
	return rc;
}

int registry_inspect(struct registry_client *c, const char *ref, struct oci_image *out,
		     struct pn_error **err)
{
	struct registry_target t;
	int rc;

	if (registry_location_is_layout(ref)) {
		struct oci_location loc;

		rc = oci_location_open(&loc, ref, 0, NULL, err);
		if (rc == 0) {
			oci_image_release(out);
			rc = oci_image_load(loc.layout, loc.ref, c->opts.platform, out, err);
		}
		oci_location_release(&loc);
		return rc < 0 ? pn_error_wrap(err, "inspect `%s`", ref) : 0;
	}
	if (registry_target_resolve(c, ref, &t, err) < 0)
		return -1;
	if (t.layout_dir)
		rc = registry_mirror_layout_load(c, &t, out, err);
	else
		rc = inspect_registry(c, &t, out, err);
	registry_target_release(&t);
	return rc < 0 ? pn_error_wrap(err, "inspect `%s`", ref) : 0;
}

int registry_manifest_get(struct registry_client *c, const char *ref, char **media_type, char **out,
			  size_t *len, oci_digest_t digest, struct pn_error **err)
{
	struct registry_target t;
	int rc;

	if (registry_target_resolve(c, ref, &t, err) < 0)
		return -1;
	if (t.layout_dir)
		rc = pn_error_set(err, PN_ERR_UNSUPPORTED, "`%s` is mirrored to a layout", ref);
	else
		rc = registry_fetch_manifest(c, &t, registry_ref_reference(&t.ref), media_type, out,
					     len, digest, err);
	registry_target_release(&t);
	return rc < 0 ? pn_error_wrap(err, "inspect `%s`", ref) : 0;
}

int registry_exists(struct registry_client *c, const char *ref, bool *exists, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	struct registry_target t;
	cleanup_free char *url = NULL, *scope = NULL, *what = NULL;
	int rc = -1;

	*exists = false;
	if (registry_target_resolve(c, ref, &t, err) < 0)
		return -1;
	if (t.layout_dir) {
		rc = registry_mirror_layout_exists(c, &t, exists, err);
		registry_target_release(&t);
		return rc;
	}
	url = xasprintf("/v2/%s/manifests/%s", t.repository, registry_ref_reference(&t.ref));
	scope = registry_scope_pull(t.repository);
	what = xasprintf("check `%s`", ref);
	req.method = "HEAD";
	req.url = url;
	req.accept = MANIFEST_ACCEPT;
	req.scope = scope;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	if (registry_http_do(c, t.host, &req, &resp, err) < 0) {
		pn_error_wrap(err, "check `%s`", ref);
	} else if (resp.status == 200) {
		*exists = true;
		rc = 0;
	} else if (resp.status == 404) {
		rc = 0;
	} else {
		registry_http_status_error(&resp, t.host->name, what, err);
	}
	registry_response_release(&resp);
	registry_target_release(&t);
	return rc;
}
