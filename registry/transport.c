/* transport.c - the bottom of the HTTP stack, where libcurl is driven: easy
 * handle setup (TLS per host, timeouts, the share handle), bounded headers
 * and bodies, one attempt of a request with its redirects followed hop by
 * hop, and the translation of CURLcodes and HTTP statuses into errors.  It
 * knows nothing of tokens or retries (retry.c, token.c and http.c are above
 * it); the parallel blob fetch of pull.c drives its own curl multi handle
 * with the setup and callbacks from here. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void registry_response_init(struct registry_response *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	pn_buf_init(&r->body, max_body);
	r->content_length = -1;
}

static void headers_clear(struct registry_response *r)
{
	free(r->content_type);
	free(r->location);
	free(r->docker_digest);
	free(r->range);
	free(r->www_auth);
	free(r->retry_after);
	r->content_type = r->location = r->docker_digest = r->range = r->www_auth = r->retry_after =
		NULL;
	r->content_length = -1;
}

void registry_response_release(struct registry_response *r)
{
	headers_clear(r);
	pn_buf_release(&r->body);
}

void registry_response_reset(struct registry_response *r)
{
	size_t max = r->body.max;

	registry_response_release(r);
	registry_response_init(r, max);
}

static void header_set(char **slot, const char *v, size_t n)
{
	free(*slot);
	*slot = xstrndup(v, n);
}

size_t registry_header_cb(char *buf, size_t size, size_t n, void *data)
{
	struct registry_response *r = data;
	size_t len = size * n, nl;
	const char *colon, *v;

	r->header_bytes += len;
	if (r->header_bytes > REGISTRY_HEADERS_MAX) {
		r->headers_too_large = true;
		return 0; /* stops the transfer (CURLE_WRITE_ERROR) */
	}
	if (len > REGISTRY_HEADER_MAX)
		return len; /* ignore absurd lines rather than fail the transfer */
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);
		headers_clear(r); /* a new response (redirect, 100-continue) */
		r->status_seen = sp && sp + 4 <= buf + len ? strtol(sp + 1, NULL, 10) : 0;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	v = colon + 1;
	while (v < buf + len && (*v == ' ' || *v == '\t'))
		v++;
	nl = (size_t)(buf + len - v);
	while (nl > 0 && (v[nl - 1] == '\r' || v[nl - 1] == '\n' || v[nl - 1] == ' '))
		nl--;
#define IS(name)                                                                                   \
	((size_t)(colon - buf) == strlen(name) && strncasecmp(buf, name, strlen(name)) == 0)
	if (IS("content-type"))
		header_set(&r->content_type, v, nl);
	else if (IS("location"))
		header_set(&r->location, v, nl);
	else if (IS("docker-content-digest"))
		header_set(&r->docker_digest, v, nl);
	else if (IS("range"))
		header_set(&r->range, v, nl);
	else if (IS("www-authenticate") && !r->www_auth)
		header_set(&r->www_auth, v, nl);
	else if (IS("retry-after"))
		header_set(&r->retry_after, v, nl);
	else if (IS("content-length")) {
		cleanup_free char *s = xstrndup(v, nl);
		char *end;
		long long cl = strtoll(s, &end, 10);
		r->content_length = *s && !*end && cl >= 0 ? cl : -1;
	}
#undef IS
	return len;
}

size_t registry_error_doc_cb(struct registry_response *r, const char *buf, size_t len)
{
	size_t room = r->body.max - r->body.len;

	if (pn_buf_append(&r->body, buf, len < room ? len : room, NULL) == 0 && len <= room)
		return len;
	r->truncated = true;
	return 0;
}

size_t registry_body_cb(char *buf, size_t size, size_t n, void *data)
{
	struct registry_response *r = data;
	size_t len = size * n;

	if (r->status_seen < 200 || r->status_seen > 299)
		return registry_error_doc_cb(r, buf, len);
	if ((r->content_length > 0 && (uint64_t)r->content_length > r->body.max) ||
	    pn_buf_append(&r->body, buf, len, NULL) < 0) {
		r->too_large = true;
		return 0; /* past the limit: curl fails with CURLE_WRITE_ERROR */
	}
	return len;
}

/* -vvv: curl's trace of headers, with credentials blanked out */
static int debug_cb(CURL *e, curl_infotype type, char *data, size_t size, void *u)
{
	(void)e;
	(void)u;
	if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
		return 0;
	for (const char *p = data, *end = data + size; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		while (n > 0 && p[n - 1] == '\r')
			n--;
		char kind = type == CURLINFO_HEADER_OUT	 ? '>'
			    : type == CURLINFO_HEADER_IN ? '<'
							 : '*';
		cleanup_free char *line = xstrndup(p, n);
		char *a = strcasestr(line, "authorization");
		if (a) /* also HTTP/2's "h2h3 [authorization: ...]" trace */
			fprintf(stderr, "curl %c %.*sauthorization: <redacted>\n", kind,
				(int)(a - line), line);
		else if (n > 0)
			fprintf(stderr, "curl %c %s\n", kind, line);
		p = nl ? nl + 1 : end;
	}
	return 0;
}

void registry_easy_setup(struct registry_client *c, struct registry_host *h, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_SHARE, c->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "pinion/" PN_VERSION);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)REGISTRY_REDIRECTS_MAX);
	/* never downgrade from https on a redirect; custom Authorization
	 * headers are not sent to another host or port by libcurl >= 7.83 */
	if (h && h->base && strncmp(h->base, "https:", 6) == 0)
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	else
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 15L);
	if (c->opts.low_speed_limit > 0 && c->opts.low_speed_time > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)c->opts.low_speed_limit);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)c->opts.low_speed_time);
	}
	if (c->opts.request_timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)c->opts.request_timeout);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->ca_blob) {
		struct curl_blob blob = {c->ca_blob, c->ca_blob_len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (h && h->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (pn_log_verbose() >= 3) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}
}

int64_t registry_blob_deadline_ms(struct registry_client *c, CURL *e, int64_t bytes)
{
	int64_t ms;

	if (c->opts.blob_timeout >= 0)
		ms = (int64_t)c->opts.blob_timeout * 1000;
	else
		ms = (REGISTRY_BLOB_TIMEOUT_BASE +
		      (bytes > 0 ? bytes : 0) / REGISTRY_BLOB_TIMEOUT_RATE) *
		     1000;
	if (e)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ms);
	return ms;
}

/* scheme, host and port (filled in) of an absolute URL; false if it does not parse */
static bool url_origin(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;

	curl_url_cleanup(u);
	return ok;
}

bool registry_same_origin(const char *a, const char *b)
{
	char *s1 = NULL, *h1 = NULL, *p1 = NULL, *s2 = NULL, *h2 = NULL, *p2 = NULL;
	bool same = url_origin(a, &s1, &h1, &p1) && url_origin(b, &s2, &h2, &p2) &&
		    strcasecmp(s1, s2) == 0 && strcasecmp(h1, h2) == 0 && strcmp(p1, p2) == 0;

	curl_free(s1), curl_free(h1), curl_free(p1);
	curl_free(s2), curl_free(h2), curl_free(p2);
	return same;
}

char *registry_url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *out = NULL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			out = xasprintf("%s:%s", host, port);
		else
			out = xstrdup(host);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return out;
}

bool registry_url_tls_insecure(const struct registry_opts *o, const char *url)
{
	cleanup_free char *host = registry_url_host(url);

	return host && registry_opts_host_insecure(o, host);
}

void registry_easy_tls_for(struct registry_client *c, CURL *e, const char *url)
{
	long off = registry_url_tls_insecure(&c->opts, url);

	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, off ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, off ? 0L : 2L);
}

int registry_redirect_check(const struct registry_host *h, const char *from, const char *to,
			    char *errbuf, size_t errsz)
{
	bool to_https = strncasecmp(to, "https://", 8) == 0;
	cleanup_free char *host = NULL;

	if (!to_https && strncasecmp(to, "http://", 7) != 0) {
		snprintf(errbuf, errsz, "redirect to `%.200s` refused: not http or https", to);
		return -1;
	}
	if (!to_https && (strncasecmp(from, "https://", 8) == 0 ||
			  (h && h->base && strncmp(h->base, "https:", 6) == 0))) {
		host = registry_url_host(to);
		snprintf(errbuf, errsz, "redirect from https to plain HTTP `%.200s` refused",
			 host ? host : to);
		return -1;
	}
	return 0;
}

void registry_limit_text(size_t n, char *buf, size_t bufsz)
{
	if (n >= ((size_t)1 << 40) && n % ((size_t)1 << 40) == 0)
		snprintf(buf, bufsz, "%zu TiB", n >> 40);
	else if (n >= ((size_t)1 << 30) && n % ((size_t)1 << 30) == 0)
		snprintf(buf, bufsz, "%zu GiB", n >> 30);
	else if (n >= ((size_t)1 << 20) && n % ((size_t)1 << 20) == 0)
		snprintf(buf, bufsz, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, bufsz, "%zu KiB", n >> 10);
	else
		snprintf(buf, bufsz, "%zu bytes", n);
}

int registry_transfer_error(struct registry_client *c, CURLcode rc, const char *errbuf,
			    const struct registry_response *resp, int64_t elapsed_ms,
			    int64_t deadline_ms, bool blob, const char *what, struct pn_error **err)
{
	const char *curl_what = what ? what : "";
	char lim[32];

	if (!what || !*what)
		what = "the response";
	if (rc == CURLE_WRITE_ERROR && resp && resp->headers_too_large) {
		registry_limit_text(REGISTRY_HEADERS_MAX, lim, sizeof(lim));
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "headers of %s are larger than the %s limit", what, lim);
	}
	if (rc == CURLE_WRITE_ERROR && resp && resp->too_large) {
		registry_limit_text(resp->body.max, lim, sizeof(lim));
		return pn_error_set(err, PN_ERR_TOO_LARGE, "%s is larger than the %s limit", what,
				    lim);
	}
	if (rc == CURLE_OPERATION_TIMEDOUT && errbuf &&
	    strncmp(errbuf, "Operation too slow", 18) == 0)
		return pn_error_set(err, PN_ERR_NETWORK,
				    "%s%sslower than %lld bytes/s for %d s (--low-speed-limit, "
				    "--low-speed-time)",
				    curl_what, *curl_what ? ": " : "",
				    (long long)c->opts.low_speed_limit, c->opts.low_speed_time);
	if (rc == CURLE_OPERATION_TIMEDOUT && deadline_ms > 0 && elapsed_ms >= deadline_ms - 100 &&
	    !(errbuf && strncmp(errbuf, "Connection timed out", 20) == 0))
		return pn_error_set(err, PN_ERR_NETWORK,
				    "%s%snot done within the %lld s deadline (%s)", curl_what,
				    *curl_what ? ": " : "", (long long)(deadline_ms / 1000),
				    blob ? "--blob-timeout" : "--request-timeout");
	return registry_curl_error(rc, errbuf, curl_what, err);
}

int registry_curl_error(CURLcode rc, const char *errbuf, const char *what, struct pn_error **err)
{
	const char *msg = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
	const char *sep = what && *what ? ": " : "";

	if (!what)
		what = "";
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
		pn_error_set(err, PN_ERR_NETWORK, "%s%sTLS certificate not trusted: %s", what, sep,
			     msg);
		pn_error_hint(err,
			      "pass the registry's CA with --ca-bundle FILE, or mark the host with "
			      "--insecure-registry HOST");
		return -1;
	}
	if (rc == CURLE_TOO_MANY_REDIRECTS)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "%s%smore than %d redirects", what, sep,
				    REGISTRY_REDIRECTS_MAX);
	return pn_error_set(err, PN_ERR_NETWORK, "%s%s%s", what, sep, msg);
}

int64_t registry_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *registry_url(struct registry_host *h, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *path = NULL;

	va_start(ap, fmt);
	path = xvasprintf(fmt, ap);
	va_end(ap);
	return xasprintf("%s%s", h->base, path);
}

/* ----------------------------------------------------------- one request */
struct upload_src {
	const struct registry_request *req;
	size_t pos;
};

static size_t upload_read_cb(char *buf, size_t size, size_t n, void *data)
{
	struct upload_src *u = data;
	size_t want = size * n, left = u->req->body_len - u->pos;
	ssize_t got;

	if (want > left)
		want = left;
	if (want == 0)
		return 0;
	if (u->req->body_fd < 0) {
		memcpy(buf, (const char *)u->req->body + u->pos, want);
		got = (ssize_t)want;
	} else {
		got = pread(u->req->body_fd, buf, want,
			    (off_t)(u->req->body_off + (int64_t)u->pos));
		if (got <= 0)
			return CURL_READFUNC_ABORT;
	}
	u->pos += (size_t)got;
	return (size_t)got;
}

static int upload_seek_cb(void *data, curl_off_t off, int origin)
{
	struct upload_src *u = data;

	if (origin != SEEK_SET || off < 0 || (size_t)off > u->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	u->pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static struct curl_slist *request_headers(const struct registry_request *req, const char *auth)
{
	struct curl_slist *l = NULL;
	char line[512];

	if (auth)
		l = curl_slist_append(l, auth);
	if (req->accept) {
		snprintf(line, sizeof(line), "Accept: %s", req->accept);
		l = curl_slist_append(l, line);
	}
	if (req->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", req->content_type);
		l = curl_slist_append(l, line);
	}
	if (req->content_range) {
		snprintf(line, sizeof(line), "Content-Range: %s", req->content_range);
		l = curl_slist_append(l, line);
	}
	l = curl_slist_append(l, "Expect:");
	return l;
}

static void request_method(CURL *e, const struct registry_request *req, struct upload_src *u)
{
	bool has_body = req->body || req->body_fd >= 0;

	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		return;
	}
	if (strcmp(req->method, "GET") == 0)
		return;
	if (strcmp(req->method, "POST") == 0 && req->body && req->body_fd < 0) {
		/* a form (the OAuth2 token grant): Content-Type urlencoded unless set */
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		return;
	}
	if (!has_body) {
		if (strcmp(req->method, "POST") == 0) {
			curl_easy_setopt(e, CURLOPT_POST, 1L);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
			return;
		}
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
	} else {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	}
	curl_easy_setopt(e, CURLOPT_READFUNCTION, upload_read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, u);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, upload_seek_cb);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, u);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
}

static bool follows_by_hand(const struct registry_request *req)
{
	return !req->libcurl_follows &&
	       (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0);
}

CURLcode registry_transport_perform(struct registry_client *c, struct registry_host *h,
				    const struct registry_request *req, const char *auth,
				    struct registry_response *resp, struct registry_attempt *a)
{
	cleanup_free char *url = NULL;
	const char *origin = req->auth_origin ? req->auth_origin : h->base;
	bool by_hand = follows_by_hand(req);
	size_t header_bytes = 0;
	CURLcode rc;

	if (strncmp(req->url, "http://", 7) == 0 || strncmp(req->url, "https://", 8) == 0)
		url = xstrdup(req->url);
	else
		url = xasprintf("%s%s", h->base, req->url);
	a->errbuf[0] = '\0';
	a->start_ms = registry_now_ms();
	for (int hop = 0;; hop++) {
		cleanup_curl CURL *e = curl_easy_init();
		cleanup_curl_slist struct curl_slist *hdrs = NULL;
		struct upload_src u = {req, 0};
		char *next = NULL;

		/* the registry's credentials are for its origin only (an upload
		 * Location or a blob redirect may name a storage service elsewhere) */
		a->foreign = !origin || !registry_same_origin(origin, url);
		hdrs = request_headers(req, a->foreign ? NULL : auth);
		registry_easy_setup(c, h, e);
		registry_easy_tls_for(c, e, url);
		a->deadline_ms = (int64_t)c->opts.request_timeout * 1000;
		if (req->blob || req->body_fd >= 0)
			a->deadline_ms = registry_blob_deadline_ms(c, e, (int64_t)req->body_len);
		if (a->deadline_ms > 0 && hop > 0) {
			int64_t left = a->deadline_ms - (registry_now_ms() - a->start_ms);
			if (left <= 0)
				return CURLE_OPERATION_TIMEDOUT;
			curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
		}
		if (by_hand)
			curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, registry_header_cb);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, registry_body_cb);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
		request_method(e, req, &u);
		rc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
		if (rc == CURLE_WRITE_ERROR && resp->truncated)
			rc = CURLE_OK; /* an error document cut at its limit: the status stands */
		if (rc != CURLE_OK || !by_hand || resp->status < 300 || resp->status > 399 ||
		    curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &next) != CURLE_OK || !next)
			return rc;
		if (hop >= REGISTRY_REDIRECTS_MAX)
			return CURLE_TOO_MANY_REDIRECTS;
		if (registry_redirect_check(h, url, next, a->errbuf, sizeof(a->errbuf)) < 0)
			return CURLE_UNSUPPORTED_PROTOCOL;
		pn_debug("redirect %ld to %s", resp->status, next);
		free(url);
		url = xstrdup(next);
		/* the next hop's answer replaces this one; the header budget is
		 * for the whole transfer */
		header_bytes = resp->header_bytes;
		registry_response_reset(resp);
		resp->header_bytes = header_bytes;
	}
}

int registry_attempt_error(struct registry_client *c, CURLcode rc, const struct registry_attempt *a,
			   const struct registry_request *req, const struct registry_response *resp,
			   struct pn_error **err)
{
	return registry_transfer_error(c, rc, a->errbuf, resp, registry_now_ms() - a->start_ms,
				       a->deadline_ms, req->blob || req->body_fd >= 0, req->what,
				       err);
}

/* the registry's own words: errors[0].code / message, sanitised */
static void error_body(const struct registry_response *resp, char *code, size_t codesz, char *msg,
		       size_t msgsz)
{
	cleanup_json json_t *j = NULL;
	json_t *e0;
	const char *s;

	code[0] = msg[0] = '\0';
	if (!resp->body.len)
		return;
	j = json_loadb(resp->body.data, resp->body.len, 0, NULL);
	e0 = json_array_get(json_object_get(j, "errors"), 0);
	if ((s = json_string_value(json_object_get(e0, "code"))))
		snprintf(code, codesz, "%s", s);
	if ((s = json_string_value(json_object_get(e0, "message"))))
		snprintf(msg, msgsz, "%s", s);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p == 0x7f)
			*p = ' ';
}

int registry_http_status_error(const struct registry_response *resp, const char *host,
			       const char *what, struct pn_error **err)
{
	char code[64], msg[160];
	int ec = PN_ERR_GENERIC;
	const char *text;

	error_body(resp, code, sizeof(code), msg, sizeof(msg));
	switch (resp->status) {
	case 401:
	case 403:
		ec = PN_ERR_AUTH;
		text = resp->status == 401 ? "authentication required" : "access denied";
		break;
	case 404:
		ec = PN_ERR_NOT_FOUND;
		text = strcmp(code, "NAME_UNKNOWN") == 0       ? "repository not found"
		       : strcmp(code, "MANIFEST_UNKNOWN") == 0 ? "manifest not found"
		       : strcmp(code, "BLOB_UNKNOWN") == 0     ? "blob not found"
							       : "not found";
		break;
	case 429:
		ec = PN_ERR_NETWORK;
		text = "too many requests";
		break;
	default:
		if (resp->status >= 500)
			ec = PN_ERR_NETWORK;
		text = *msg ? msg : "unexpected answer";
		break;
	}
	return pn_error_set(err, ec, "%s: %s (HTTP %ld from `%s`)", what, text, resp->status, host);
}
