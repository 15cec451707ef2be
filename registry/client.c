/* client.c - the registry client: options, TLS trust, the curl share
 * handle, hosts and their /v2/ ping (scheme and auth challenge), mirrors
 * (targets), and where blobs were seen.  Above transport.c, retry.c and
 * auth.c; tokens are token.c. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CA_FILE_MAX ((size_t)16 << 20)

static void opts_copy(struct registry_opts *out, const struct registry_opts *in)
{
	registry_opts_init(out);
	for (size_t i = 0; i < in->n_mirrors; i++) {
		const struct registry_mirror *m = &in->mirrors[i];
		out->mirrors = xrealloc(out->mirrors, st_mult(out->n_mirrors + 1, sizeof(*m)));
		out->mirrors[out->n_mirrors++] =
			(struct registry_mirror){xstrdup(m->from), m->to ? xstrdup(m->to) : NULL,
						 m->layout ? xstrdup(m->layout) : NULL};
	}
	for (size_t i = 0; i < in->insecure.n; i++)
		pn_strv_push(&out->insecure, in->insecure.v[i]);
#define DUP(f) out->f = in->f ? xstrdup(in->f) : NULL
	DUP(ca_bundle);
	DUP(auth_file);
	DUP(username);
	DUP(password);
	DUP(platform);
#undef DUP
	if (!out->platform)
		out->platform = xstrdup(REGISTRY_DEFAULT_PLATFORM);
	out->parallel = in->parallel > 0 ? in->parallel : REGISTRY_DEFAULT_PARALLEL;
	out->chunk_size = in->chunk_size ? in->chunk_size : REGISTRY_DEFAULT_CHUNK;
	out->monolithic_max = in->monolithic_max ? in->monolithic_max : REGISTRY_MONOLITHIC_MAX;
	out->retries = in->retries >= 0 ? in->retries : REGISTRY_DEFAULT_RETRIES;
	out->low_speed_limit =
		in->low_speed_limit >= 0 ? in->low_speed_limit : REGISTRY_DEFAULT_LOW_SPEED_LIMIT;
	out->low_speed_time =
		in->low_speed_time >= 0 ? in->low_speed_time : REGISTRY_DEFAULT_LOW_SPEED_TIME;
	out->request_timeout =
		in->request_timeout >= 0 ? in->request_timeout : REGISTRY_DEFAULT_REQUEST_TIMEOUT;
	out->blob_timeout = in->blob_timeout; /* < 0: scaled by size (registry_blob_deadline_ms) */
	out->max_blob_size =
		in->max_blob_size > 0 ? in->max_blob_size : REGISTRY_DEFAULT_MAX_BLOB_SIZE;
	out->helper_timeout =
		in->helper_timeout >= 0 ? in->helper_timeout : REGISTRY_DEFAULT_HELPER_TIMEOUT;
	out->progress = in->progress;
	out->no_referrers = in->no_referrers;
}

/* system CAs + the user's bundle, as one PEM blob for CURLOPT_CAINFO_BLOB */
static int load_ca_blob(struct registry_client *c, struct pn_error **err)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	cleanup_free char *user = NULL, *sys = NULL;
	size_t ulen = 0, slen = 0;
	curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	const char *sys_path = vi && vi->cainfo ? vi->cainfo : "/etc/ssl/certs/ca-certificates.crt";

	if (!c->opts.ca_bundle)
		return 0;
	if (pn_read_file(c->opts.ca_bundle, CA_FILE_MAX, &user, &ulen, err) < 0)
		return pn_error_wrap(err, "read CA bundle");
	if (!strstr(user, "-----BEGIN CERTIFICATE-----"))
		return pn_error_set(err, PN_ERR_INVALID, "CA bundle `%s` holds no PEM certificate",
				    c->opts.ca_bundle);
	pn_buf_init(&b, CA_FILE_MAX * 2 + 1);
	if (pn_read_file(sys_path, CA_FILE_MAX, &sys, &slen, NULL) == 0 &&
	    (pn_buf_append(&b, sys, slen, err) < 0 || pn_buf_puts(&b, "\n", err) < 0))
		return pn_error_wrap(err, "CA bundle");
	if (pn_buf_append(&b, user, ulen, err) < 0)
		return pn_error_wrap(err, "CA bundle");
	c->ca_blob = pn_buf_steal(&b, &c->ca_blob_len);
	return 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
	struct registry_client *c = u;

	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
	struct registry_client *c = u;

	(void)h;
	pthread_mutex_unlock(&c->share_locks[data]);
}

int registry_client_new(const struct registry_opts *opts, struct registry_client **out,
			struct pn_error **err)
{
	struct registry_client *c;
	static bool global_done;

	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return pn_error_set(err, PN_ERR_GENERIC, "libcurl initialisation failed");
		global_done = true;
	}
	c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	opts_copy(&c->opts, opts);
	if (load_ca_blob(c, err) < 0) {
		registry_client_free(c);
		return -1;
	}
	c->share = curl_share_init();
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = c;
	return 0;
}

static void host_free(struct registry_host *h)
{
	free(h->name);
	free(h->base);
	registry_challenge_release(&h->challenge);
	registry_creds_release(&h->creds);
	free(h);
}

void registry_client_free(struct registry_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_hosts; i++)
		host_free(c->hosts[i]);
	free(c->hosts);
	for (size_t i = 0; i < c->n_tokens; i++) {
		explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
		free(c->tokens[i].token);
		free(c->tokens[i].host);
		free(c->tokens[i].scope);
	}
	free(c->tokens);
	for (size_t i = 0; i < c->n_known; i++) {
		free(c->known[i].host);
		free(c->known[i].repository);
	}
	free(c->known);
	if (c->share)
		curl_share_cleanup(c->share);
	free(c->ca_blob);
	registry_opts_release(&c->opts);
	pthread_mutex_destroy(&c->lock);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	free(c);
}

struct registry_host *registry_client_host(struct registry_client *c, const char *name)
{
	struct registry_host *h;

	for (size_t i = 0; i < c->n_hosts; i++)
		if (strcmp(c->hosts[i]->name, name) == 0)
			return c->hosts[i];
	h = xcalloc(1, sizeof(*h));
	h->name = xstrdup(name);
	h->insecure = registry_opts_host_insecure(&c->opts, name);
	c->hosts = xrealloc(c->hosts, st_mult(c->n_hosts + 1, sizeof(*c->hosts)));
	c->hosts[c->n_hosts++] = h;
	return h;
}

void registry_target_release(struct registry_target *t)
{
	registry_ref_release(&t->ref);
	free(t->repository);
	free(t->layout_dir);
	memset(t, 0, sizeof(*t));
}

int registry_target_resolve(struct registry_client *c, const char *ref, struct registry_target *out,
			    struct pn_error **err)
{
	struct registry_target t = {0};
	const char *name;

	if (registry_auth_file_check(&c->opts, err) < 0 || registry_ref_parse(ref, &t.ref, err) < 0)
		return -1;
	name = t.ref.registry;
	t.repository = xstrdup(t.ref.repository);
	for (size_t i = 0; i < c->opts.n_mirrors; i++) {
		const struct registry_mirror *m = &c->opts.mirrors[i];
		if (strcmp(m->from, name) != 0)
			continue;
		if (m->layout) {
			t.layout_dir = xstrdup(m->layout);
			*out = t;
			return 0;
		}
		name = m->to;
		break;
	}
	t.host = registry_client_host(c, name);
	*out = t;
	return 0;
}

/* Where blobs were seen is also kept across runs in the cache directory
 * (one line "digest host repository" per blob), so a push in one process can
 * mount what a pull in another fetched from the same registry.  It is only
 * a hint: a failed mount falls back to an upload. */
#define SOURCES_FILE "registry-blob-sources"
#define SOURCES_MAX  ((size_t)4 << 20)

static void known_add(struct registry_client *c, const char *host, const char *repo,
		      const char *digest, bool *added)
{
	struct registry_known_blob *k;

	*added = false;
	for (size_t i = 0; i < c->n_known; i++)
		if (strcmp(c->known[i].digest, digest) == 0 &&
		    strcmp(c->known[i].host, host) == 0 &&
		    strcmp(c->known[i].repository, repo) == 0)
			return;
	c->known = xrealloc(c->known, st_mult(c->n_known + 1, sizeof(*c->known)));
	k = &c->known[c->n_known++];
	k->host = xstrdup(host);
	k->repository = xstrdup(repo);
	snprintf(k->digest, sizeof(k->digest), "%s", digest);
	*added = true;
}

static char *sources_path(void)
{
	cleanup_free char *dir = pn_cache_dir();

	return pn_path_join(dir, SOURCES_FILE);
}

static void sources_load(struct registry_client *c)
{
	cleanup_free char *path = sources_path(), *data = NULL;
	size_t len = 0;
	bool added;

	c->sources_loaded = true;
	if (pn_read_file(path, SOURCES_MAX, &data, &len, NULL) < 0) {
		unlink(path); /* too large (or unreadable): start afresh */
		return;
	}
	for (char *line = data, *next; line && *line; line = next) {
		char d[80], h[256], r[256];
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%79s %255s %255s", d, h, r) == 3 && registry_digest_valid(d) &&
		    registry_host_valid(h) && registry_repository_valid(r))
			known_add(c, h, r, d, &added);
	}
}

static void sources_append(const char *host, const char *repo, const char *digest)
{
	cleanup_free char *dir = pn_cache_dir(), *path = pn_path_join(dir, SOURCES_FILE);
	cleanup_free char *line = xasprintf("%s %s %s\n", digest, host, repo);
	bool ok;
	int fd, e;

	if (pn_mkdir_p(dir, 0755, NULL) < 0)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	/* one short append: atomic; the file is a hint, so a failure is only told */
	ok = pn_write_all(fd, line, strlen(line)) == 0;
	e = errno;
	if (close(fd) < 0 && ok) {
		ok = false;
		e = errno;
	}
	if (!ok)
		pn_debug("append to `%s`: %s", path, strerror(e));
}

void registry_client_remember_blob(struct registry_client *c, const char *host, const char *repo,
				   const char *digest)
{
	bool added;

	pthread_mutex_lock(&c->lock);
	if (!c->sources_loaded)
		sources_load(c);
	known_add(c, host, repo, digest, &added);
	if (added)
		sources_append(host, repo, digest);
	pthread_mutex_unlock(&c->lock);
}

char *registry_client_blob_source(struct registry_client *c, const char *host, const char *repo,
				  const char *digest)
{
	char *r = NULL;

	pthread_mutex_lock(&c->lock);
	if (!c->sources_loaded)
		sources_load(c);
	/* the newest sighting first */
	for (size_t i = c->n_known; i-- > 0 && !r;)
		if (strcmp(c->known[i].digest, digest) == 0 &&
		    strcmp(c->known[i].host, host) == 0 &&
		    strcmp(c->known[i].repository, repo) != 0)
			r = xstrdup(c->known[i].repository);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ------------------------------------------------------------------ ping */
/* GET scheme://host/v2/ once; the body is not needed, but is bounded like
 * any other.  A failure leaves its reason (naming the limit that cut it) in
 * errbuf. */
static CURLcode ping_once(struct registry_client *c, struct registry_host *h, const char *scheme,
			  struct registry_response *resp, char *errbuf)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	cleanup_free char *url = xasprintf("%s://%s/v2/", scheme, h->name);
	struct registry_attempt a;
	CURLcode rc;

	req.method = "GET";
	req.url = url;
	req.what = "answer to /v2/";
	req.libcurl_follows = true;
	registry_response_reset(resp);
	rc = registry_transport_perform(c, h, &req, NULL, resp, &a);
	snprintf(errbuf, CURL_ERROR_SIZE, "%s", a.errbuf);
	if (rc == CURLE_WRITE_ERROR && resp->too_large)
		rc = CURLE_OK; /* what came is enough */
	if (rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_WRITE_ERROR) {
		struct pn_error *e2 = NULL; /* name the limit that cut it */
		registry_attempt_error(c, rc, &a, &req, resp, &e2);
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", e2->msg);
		pn_error_free(e2);
	}
	return rc;
}

static bool tls_mismatch(CURLcode rc)
{
	return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_SEND_ERROR;
}

/* ask /v2/ until an answer that is not transient: https first, plain HTTP
 * when https fails on a loopback or insecure host */
static int ping_ask(struct registry_client *c, struct registry_host *h, const char **scheme,
		    struct registry_response *resp, struct pn_error **err)
{
	bool plain_ok = h->insecure || registry_host_is_loopback(h->name);
	char errbuf[CURL_ERROR_SIZE] = "";
	struct registry_retry r;

	registry_retry_init(&r, c->opts.retries);
	for (;;) {
		CURLcode rc = ping_once(c, h, *scheme, resp, errbuf);
		if (rc == CURLE_OK) {
			/* a 503 is no answer about auth: ask again */
			if (!registry_status_transient(resp->status) ||
			    !registry_retry_wait(&r, NULL))
				return 0;
			continue;
		}
		if (strcmp(*scheme, "https") == 0 && plain_ok && tls_mismatch(rc)) {
			*scheme = "http";
			continue;
		}
		/* nothing listening or no such host: say so at once; a host that
		 * does not answer gets one more try, not the full retry budget */
		if (!registry_curl_transient(rc) || rc == CURLE_COULDNT_CONNECT ||
		    (rc == CURLE_OPERATION_TIMEDOUT && r.done >= 1) ||
		    !registry_retry_wait(&r, NULL)) {
			registry_curl_error(rc, errbuf, "", err);
			return pn_error_wrap(err, "reach registry `%s`", h->name);
		}
	}
}

int registry_host_ping(struct registry_client *c, struct registry_host *h, struct pn_error **err)
{
	struct registry_response resp;
	const char *scheme = "https";
	int rc = -1;

	if (h->pinged)
		return 0;
	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	if (ping_ask(c, h, &scheme, &resp, err) < 0)
		goto out;
	if (resp.status == 401 && resp.www_auth) {
		if (registry_challenge_parse(resp.www_auth, strlen(resp.www_auth), &h->challenge,
					     err) < 0) {
			pn_error_wrap(err, "registry `%s`", h->name);
			goto out;
		}
		h->has_challenge = true;
	} else if (resp.status != 200 && resp.status != 401 && resp.status != 404) {
		/* 404: some registries have no /v2/ root; go on anonymously */
		pn_error_set(err, PN_ERR_NETWORK, "registry `%s` answered HTTP %ld to /v2/",
			     h->name, resp.status);
		goto out;
	}
	h->base = xasprintf("%s://%s", scheme, h->name);
	h->pinged = true;
	pn_debug("registry %s: %s, auth %s", h->name, scheme,
		 h->has_challenge ? h->challenge.scheme : "none");
	rc = 0;
out:
	registry_response_release(&resp);
	return rc;
}
