/* internal.h - shared inside registry/ only (and by its unit tests and fuzz
 * targets).  Nothing outside registry/ includes this. */
#ifndef PN_REGISTRY_INTERNAL_H
#define PN_REGISTRY_INTERNAL_H

#include "registry/registry.h"

#include <curl/curl.h>
#include <pthread.h>

/* ------------------------------------------------------------ references */
bool registry_digest_valid(const char *s);
bool registry_repository_valid(const char *repo);
bool registry_tag_valid(const char *tag);
bool registry_host_valid(const char *host);
/* 127.0.0.0/8, ::1 or localhost (with or without a port) */
bool registry_host_is_loopback(const char *host);
/* host (host or host:port) is marked insecure in the options */
bool registry_opts_host_insecure(const struct registry_opts *o, const char *host);

/* the registries config text (registry_opts_load_config's format); name is
 * used in file:line errors */
int registry_opts_parse_config(struct registry_opts *o, const char *name, const char *text,
			       size_t len, struct pn_error **err);

/* ---------------------------------------------------- WWW-Authenticate
 * The first challenge of a header value: scheme (lowercased) and the
 * realm/service/scope/error auth-params (other params ignored).  Quoted
 * strings take backslash escapes.  PN_ERR_INVALID on malformed input,
 * PN_ERR_TOO_LARGE past REGISTRY_HEADER_MAX. */
struct registry_challenge {
	char *scheme; /* "bearer", "basic", ... */
	char *realm;
	char *service;
	char *scope;
	char *error;
};
void registry_challenge_release(struct registry_challenge *c);
int registry_challenge_parse(const char *value, size_t len, struct registry_challenge *out,
			     struct pn_error **err);

/* ---------------------------------------------------------- credentials */
struct registry_creds {
	char *user;
	char *pass; /* password, or identity token when user is "<token>" */
};
void registry_creds_release(struct registry_creds *c);
/* lookup order in registry.h; *found false when nothing is configured */
int registry_creds_lookup(const struct registry_opts *o, const char *host,
			  struct registry_creds *out, bool *found, struct pn_error **err);
/* the auth file login writes (caller frees) */
char *registry_auth_file_default(const struct registry_opts *o);
/* the file --authfile or $REGISTRY_AUTH_FILE names must exist for reading
 * (a typo is not silently anonymous); login creates it */
int registry_auth_file_check(const struct registry_opts *o, struct pn_error **err);
int registry_auth_file_store(const char *path, const char *host, const char *user, const char *pass,
			     struct pn_error **err);
int registry_auth_file_remove(const char *path, const char *host, bool *removed,
			      struct pn_error **err);
/* "docker.io" for Docker Hub aliases and URLs ("https://index.docker.io/v1/") */
char *registry_auth_key_normalize(const char *key);
/* base64 helpers (OpenSSL); decode returns NULL on bad input */
char *registry_base64_encode(const void *data, size_t len);
char *registry_base64_decode(const char *s, size_t *len_out);

/* --------------------------------------------------------------- client */
struct registry_host {
	char *name;    /* host[:port] talked to */
	char *base;    /* "https://host" or "http://host" once pinged */
	bool insecure; /* TLS verify off / plain HTTP allowed */
	bool pinged;
	bool has_challenge;
	struct registry_challenge challenge;
	bool creds_loaded, has_creds;
	struct registry_creds creds;
};

struct registry_token {
	char *host, *scope, *token;
	int64_t expires; /* monotonic seconds */
};

struct registry_known_blob { /* where a digest was seen, for cross-repo mounts */
	char *host, *repository;
	oci_digest_t digest;
};

/* A client may be used by several threads at once (parallel pushes): `lock`
 * guards hosts' ping/credential state, the token cache and the known-blob
 * list; the curl share handle has its own locks. */
struct registry_client {
	struct registry_opts opts;
	pthread_mutex_t lock;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	CURLSH *share;
	char *ca_blob; /* system CAs + ca_bundle, or NULL */
	size_t ca_blob_len;
	struct registry_host **hosts;
	size_t n_hosts;
	struct registry_token *tokens;
	size_t n_tokens;
	struct registry_known_blob *known;
	size_t n_known;
	bool sources_loaded; /* the cache file of blob sources was read */
};

/* A registry reference resolved through the mirrors: either a host + repo,
 * or a layout directory + the ref inside it. */
struct registry_target {
	struct registry_ref ref;    /* as the user wrote it (normalised) */
	struct registry_host *host; /* NULL for a layout mirror */
	char *repository;
	char *layout_dir; /* layout mirror, or NULL */
};
int registry_target_resolve(struct registry_client *c, const char *ref, struct registry_target *out,
			    struct pn_error **err);
void registry_target_release(struct registry_target *t);

struct registry_host *registry_client_host(struct registry_client *c, const char *name);
/* ping /v2/ once per host: chooses https or (loopback/insecure) http and
 * records the auth challenge */
int registry_host_ping(struct registry_client *c, struct registry_host *h, struct pn_error **err);
void registry_client_remember_blob(struct registry_client *c, const char *host, const char *repo,
				   const char *digest);
/* another repository of host known to have digest (caller frees), or NULL */
char *registry_client_blob_source(struct registry_client *c, const char *host, const char *repo,
				  const char *digest);

/* The HTTP stack, each layer calling only those below it:
 *   http.c       the authenticated request (registry_http_do)
 *   token.c      the Authorization header: Basic, or a cached Bearer token
 *   client.c     hosts and their /v2/ ping
 *   retry.c      the one retry policy, and a request retried by it
 *   transport.c  libcurl: one attempt, redirects hop by hop, TLS per host,
 *                timeouts, bounded headers and bodies, errors */

/* ------------------------------------------------------------ transport */
/* The body of a 2xx answer is kept up to body.max: past it (or when the
 * Content-Length announces more) the transfer stops with too_large set.  The
 * body of any other answer (an error document) is cut at body.max with
 * truncated set, and the status stands.  All header lines of a transfer
 * (redirects included) together may not pass REGISTRY_HEADERS_MAX. */
struct registry_response {
	long status;
	struct pn_buf body;
	char *content_type, *location, *docker_digest, *range, *www_auth, *retry_after;
	int64_t content_length;
	long status_seen;    /* of the last status line, while headers arrive */
	size_t header_bytes; /* all header lines so far */
	bool too_large, headers_too_large, truncated;
};
void registry_response_init(struct registry_response *r, size_t max_body);
void registry_response_release(struct registry_response *r);
/* empty again, with the same body limit */
void registry_response_reset(struct registry_response *r);

struct registry_request {
	const char *method; /* GET HEAD PUT POST PATCH DELETE */
	const char *url;    /* absolute, or a path joined to the host base */
	const char *accept;
	const char *content_type;
	const void *body; /* in-memory body (a POST's is sent as a form), or */
	size_t body_len;
	int body_fd; /* >= 0: body read from fd at body_off, body_len bytes */
	int64_t body_off;
	const char *content_range; /* "start-end" for PATCH */
	const char *scope;	   /* bearer scope(s), space separated */
	bool no_retry;		   /* one attempt only (status faults are reported) */
	/* what the body is ("manifest `host/repo:tag`"), for the too-large error */
	const char *what;
	/* the deadline: the blob one for body_len bytes when body_fd >= 0 or
	 * blob is set, else --request-timeout */
	bool blob;
	/* the URL whose origin the Authorization header is for (NULL: the
	 * host's base); no other origin gets it */
	const char *auth_origin;
	/* libcurl follows redirects itself, with the first URL's TLS setting
	 * (the ping, the token fetch); else GET and HEAD go hop by hop */
	bool libcurl_follows;
};
#define REGISTRY_REQUEST_INIT                                                                      \
	{                                                                                          \
		.body_fd = -1                                                                      \
	}

/* what one attempt leaves for its error */
struct registry_attempt {
	char errbuf[CURL_ERROR_SIZE];
	int64_t start_ms, deadline_ms;
	bool foreign; /* the last URL is not on the origin the auth is for */
};
/* One attempt of req with the header line auth (or NULL), into resp (not
 * reset here: a caller may keep what it holds).  GET and HEAD follow
 * redirects hop by hop (unless req->libcurl_follows), so each hop gets the
 * TLS setting and the credentials of its own origin, and the deadline spans
 * all hops.  An error document cut at its limit is CURLE_OK. */
CURLcode registry_transport_perform(struct registry_client *c, struct registry_host *h,
				    const struct registry_request *req, const char *auth,
				    struct registry_response *resp, struct registry_attempt *a);
/* the error of an attempt that failed with rc (registry_transfer_error) */
int registry_attempt_error(struct registry_client *c, CURLcode rc, const struct registry_attempt *a,
			   const struct registry_request *req, const struct registry_response *resp,
			   struct pn_error **err);
/* turn a non-success response into an error naming `what` (codes by status
 * and the registry's error JSON) */
int registry_http_status_error(const struct registry_response *resp, const char *host,
			       const char *what, struct pn_error **err);
/* common easy-handle setup: TLS, redirects, share, the low-speed cut and the
 * request deadline */
void registry_easy_setup(struct registry_client *c, struct registry_host *h, CURL *e);
/* TLS verification by the host of url (another origin than h's follows its
 * own --insecure-registry entry, not h's) */
void registry_easy_tls_for(struct registry_client *c, CURL *e, const char *url);
/* the host of url is marked insecure (TLS not verified) */
bool registry_url_tls_insecure(const struct registry_opts *o, const char *url);
/* a redirect of a request to `from` (of registry h) to `to`: -1 with the
 * reason in errbuf when refused (not http(s); plain HTTP after https).  The
 * hop to `to` then gets to's own TLS setting (registry_easy_tls_for) and
 * h's credentials only when on h's origin. */
int registry_redirect_check(const struct registry_host *h, const char *from, const char *to,
			    char *errbuf, size_t errsz);
/* a blob transfer of `bytes`: its deadline in ms (0 = none), set on e when e
 * is not NULL */
int64_t registry_blob_deadline_ms(struct registry_client *c, CURL *e, int64_t bytes);
/* scheme, host and port of two absolute URLs are the same (default ports
 * filled in, host case-insensitive); false if either does not parse */
bool registry_same_origin(const char *a, const char *b);
/* "host[:port]" of an absolute URL (caller frees), or NULL */
char *registry_url_host(const char *url);
/* "1 TiB", "64 GiB", "4 MiB", "64 KiB", "100 bytes" (exact multiples only) */
void registry_limit_text(size_t n, char *buf, size_t bufsz);
/* a failed transfer: timeouts name the limit that cut them (low speed, or
 * the deadline of deadline_ms with the flag that sets it); a too-large
 * response names `what` and its limit; else registry_curl_error */
int registry_transfer_error(struct registry_client *c, CURLcode rc, const char *errbuf,
			    const struct registry_response *resp, int64_t elapsed_ms,
			    int64_t deadline_ms, bool blob, const char *what,
			    struct pn_error **err);
/* translate a CURLcode (+ errbuf) into an error */
int registry_curl_error(CURLcode rc, const char *errbuf, const char *what, struct pn_error **err);
char *registry_url(struct registry_host *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int64_t registry_now_ms(void);
/* header callback used by every transfer */
size_t registry_header_cb(char *buf, size_t size, size_t n, void *resp);
/* write callback appending to resp->body (fails the transfer past its max) */
size_t registry_body_cb(char *buf, size_t size, size_t n, void *resp);
/* the body of an error answer: what fits in resp->body is kept (enough to
 * report it); past its max, truncated is set and 0 stops the transfer */
size_t registry_error_doc_cb(struct registry_response *resp, const char *buf, size_t len);

/* ---------------------------------------------------------------- retry
 * The one retry policy: a failure worth another attempt is a transient
 * transport error or status (registry_retry_transient), or whatever a
 * caller counts as one (a digest mismatch, a failed chunk); at most `max`
 * retries (--retries, or fewer); before retry n (0-based) a wait of 0.2 s
 * doubling to 8 s plus jitter, or a numeric Retry-After (at most 60 s). */
struct registry_retry {
	int max;  /* retries allowed after the first attempt */
	int done; /* retries made so far */
};
void registry_retry_init(struct registry_retry *r, int max);
/* the restarts of an upload in a new session (a file's, or a stream's
 * written again from its first byte): --retries, at most 3 */
void registry_retry_init_restarts(struct registry_retry *r, int retries);
/* is an upload that failed with e worth a new session?  Not after an auth
 * refusal or invalid input (the same request would fail the same way), nor
 * after an interrupt */
bool registry_restart_worth(const struct pn_error *e);
/* progress forgives the failures before it: the full budget again */
void registry_retry_reset(struct registry_retry *r);
bool registry_curl_transient(CURLcode rc);
bool registry_status_transient(long status);
/* rc != CURLE_OK ? registry_curl_transient(rc) : registry_status_transient(status) */
bool registry_retry_transient(CURLcode rc, long status);
/* the wait before retry number `attempt` (0-based) */
int64_t registry_backoff_ms(int attempt, const char *retry_after);
/* after a failed attempt: false when the retries ran out; else counts one,
 * sleeps its backoff and returns true */
bool registry_retry_wait(struct registry_retry *r, const char *retry_after);
/* the same without the sleep (transfers in a curl multi): when the next
 * attempt may start (registry_now_ms), or -1 when the retries ran out */
int64_t registry_retry_at(struct registry_retry *r, const char *retry_after);
/* registry_transport_perform, again while it fails transiently and r allows
 * (not with req->no_retry; a status's Retry-After is honoured); resp is reset
 * before each attempt and holds the last one */
CURLcode registry_retry_perform(struct registry_client *c, struct registry_host *h,
				const struct registry_request *req, const char *auth,
				struct registry_response *resp, struct registry_attempt *a,
				struct registry_retry *r);

/* --------------------------------------------------------------- tokens */
/* the Authorization header line for h and scope, or NULL when none is
 * needed (caller frees); pings h first.  refresh skips the token cache. */
int registry_auth_header(struct registry_client *c, struct registry_host *h, const char *scope,
			 bool refresh, char **out, struct pn_error **err);

/* -------------------------------------------------------------- request */
/* Perform with auth (bearer tokens per scope, basic) and retries (transport
 * resets, 5xx, 429/Retry-After).  HTTP statuses are in resp->status; only
 * transport failures and auth failures are errors here. */
int registry_http_do(struct registry_client *c, struct registry_host *h,
		     const struct registry_request *req, struct registry_response *resp,
		     struct pn_error **err);

/* ----------------------------------------------------------------- pull */
/* manifest or index by reference (tag or digest), verified when by digest */
int registry_fetch_manifest(struct registry_client *c, struct registry_target *t,
			    const char *reference, char **media_type, char **data, size_t *len,
			    oci_digest_t digest, struct pn_error **err);
struct registry_blob_want {
	oci_digest_t digest;
	int64_t size;
};
/* "1.5 GiB", "12.0 MiB", "100 bytes" (one decimal, for sizes in messages) */
void registry_size_text(int64_t n, char *buf, size_t bufsz);
/* before a download: PN_ERR_TOO_LARGE when a blob declares more than
 * --max-blob-size (`what` names it), PN_ERR_GENERIC when dir's filesystem has
 * less than need + REGISTRY_SPACE_MARGIN bytes free (need: the missing
 * blobs' declared sizes); the messages name the sizes */
int registry_blob_size_check(const struct registry_opts *o, const char *what, int64_t size,
			     struct pn_error **err);
int registry_space_check(const char *dir, int64_t need, struct pn_error **err);
/* fetch blobs into l in parallel (skip those l has), verified; every size is
 * checked against --max-blob-size and the missing ones against the free
 * space before the first byte is fetched */
int registry_fetch_blobs(struct registry_client *c, struct registry_target *t, struct oci_layout *l,
			 const struct registry_blob_want *want, size_t n, struct pn_error **err);

int registry_resolve_manifest(struct registry_client *c, struct registry_target *t, char **mt,
			      char **data, size_t *len, oci_digest_t dg, struct pn_error **err);
char *registry_scope_pull(const char *repo);

/* ------------------------------------------------------- layout mirrors
 * A reference mirrored to a layout names, inside it, the tag
 * "<repository>:<tag>" (e.g. "library/python:3.11-slim"), else "<tag>", or
 * the manifest digest. */
int registry_mirror_layout_open(struct registry_target *t, struct oci_layout **l, char **ref,
				struct pn_error **err);
int registry_mirror_layout_copy(struct registry_client *c, struct registry_target *t,
				struct oci_layout *dst, const char *tag, struct oci_descriptor *out,
				struct pn_error **err);
int registry_mirror_layout_load(struct registry_client *c, struct registry_target *t,
				struct oci_image *out, struct pn_error **err);
int registry_mirror_layout_exists(struct registry_client *c, struct registry_target *t,
				  bool *exists, struct pn_error **err);
/* a push to a reference mirrored to a layout: image src_ref of src copied
 * in, tagged "<repository>:<tag>" */
int registry_mirror_layout_push(struct registry_client *c, struct registry_target *t,
				struct oci_layout *src, const char *src_ref,
				struct oci_descriptor *out, struct pn_error **err);
/* copy image `ref` of src (the client's platform manifest, its config and
 * layers: oci_layout_copy_image) into dst, tagged `tag` unless NULL */
int registry_layout_copy(struct registry_client *c, struct oci_layout *src, const char *ref,
			 struct oci_layout *dst, const char *tag, struct oci_descriptor *out,
			 struct pn_error **err);

#endif
