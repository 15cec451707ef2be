/* client.c - the registry client: hosts, mirrors, TLS trust, the /v2/ ping
 * and the bearer token cache. */
#include "registry/internal.h"
#include "common/cleanup.h"
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CA_FILE_MAX	  ((size_t)16 << 20)
#define TOKEN_DEFAULT_TTL 60

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
	out->progress = in->progress;
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
	pn_buf_init(&b, CA_FILE_MAX * 2);
	if (pn_read_file(sys_path, CA_FILE_MAX, &sys, &slen, NULL) == 0) {
		pn_buf_append(&b, sys, slen, NULL);
		pn_buf_puts(&b, "\n", NULL);
	}
	pn_buf_append(&b, user, ulen, NULL);
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

/* a literal loopback address or `localhost`, with or without a port; a
 * name that merely starts with "127." (127.example.com) is not loopback */
bool registry_host_is_loopback(const char *host)
{
	size_t n = strcspn(host, ":");
	char ip[INET_ADDRSTRLEN];
	struct in_addr a;

	if (strncmp(host, "[::1]", 5) == 0)
		return host[5] == '\0' || host[5] == ':';
	if (n == 9 && strncmp(host, "localhost", 9) == 0)
		return true;
	if (n >= sizeof(ip) || strncmp(host, "127.", 4) != 0)
		return false;
	memcpy(ip, host, n);
	ip[n] = '\0';
	return inet_pton(AF_INET, ip, &a) == 1;
}

bool registry_opts_host_insecure(const struct registry_opts *o, const char *name)
{
	size_t hn = strcspn(name, ":");

	for (size_t i = 0; i < o->insecure.n; i++) {
		const char *s = o->insecure.v[i];
		if (strcmp(s, "*") == 0 || strcmp(s, name) == 0 ||
		    (strlen(s) == hn && strncmp(s, name, hn) == 0))
			return true;
	}
	return false;
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

	if (registry_ref_parse(ref, &t.ref, err) < 0)
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
	int fd;

	if (pn_mkdir_p(dir, 0755, NULL) < 0)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!pn_write_all(fd, line, strlen(line)); /* one short append: atomic */
	close(fd);
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
static int ping_once(struct registry_client *c, struct registry_host *h, const char *scheme,
		     CURLcode *rc_out, long *status, char **www_auth, char *errbuf)
{
	cleanup_curl CURL *e = curl_easy_init();
	struct registry_response resp;
	cleanup_free char *url = xasprintf("%s://%s/v2/", scheme, h->name);

	registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
	registry_easy_setup(c, h, e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, registry_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &resp);
	/* the body is not needed, but is bounded like any other */
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, registry_body_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
	int64_t t0 = registry_now_ms();
	*rc_out = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	if ((*rc_out == CURLE_WRITE_ERROR && (resp.truncated || resp.too_large)))
		*rc_out = CURLE_OK; /* what came is enough */
	if (*rc_out == CURLE_OPERATION_TIMEDOUT || *rc_out == CURLE_WRITE_ERROR) {
		struct pn_error *e2 = NULL; /* name the limit that cut it */
		registry_transfer_error(c, *rc_out, errbuf, &resp, registry_now_ms() - t0,
					(int64_t)c->opts.request_timeout * 1000, false,
					"answer to /v2/", &e2);
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", e2->msg);
		pn_error_free(e2);
	}
	*www_auth = resp.www_auth ? xstrdup(resp.www_auth) : NULL;
	registry_response_release(&resp);
	return *rc_out == CURLE_OK ? 0 : -1;
}

static bool tls_mismatch(CURLcode rc)
{
	return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_SEND_ERROR;
}

int registry_host_ping(struct registry_client *c, struct registry_host *h, struct pn_error **err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	cleanup_free char *www = NULL;
	bool plain_ok = h->insecure || registry_host_is_loopback(h->name);
	const char *scheme = "https";
	CURLcode rc = CURLE_OK;
	long status = 0;
	int attempt = 0;

	if (h->pinged)
		return 0;
	for (;;) {
		free(www);
		www = NULL;
		errbuf[0] = '\0';
		if (ping_once(c, h, scheme, &rc, &status, &www, errbuf) == 0) {
			if (!registry_status_transient(status) || attempt >= c->opts.retries)
				break;
			/* a 503 is no answer about auth: ask again */
			registry_backoff(attempt++, NULL);
			continue;
		}
		if (strcmp(scheme, "https") == 0 && plain_ok && tls_mismatch(rc)) {
			scheme = "http";
			continue;
		}
		/* nothing listening or no such host: say so at once; a host that
		 * does not answer gets one more try, not the full retry budget */
		if (!registry_curl_transient(rc) || rc == CURLE_COULDNT_CONNECT ||
		    (rc == CURLE_OPERATION_TIMEDOUT && attempt >= 1) ||
		    attempt >= c->opts.retries) {
			registry_curl_error(rc, errbuf, "", err);
			return pn_error_wrap(err, "reach registry `%s`", h->name);
		}
		registry_backoff(attempt++, NULL);
	}
	if (status == 401 && www) {
		if (registry_challenge_parse(www, strlen(www), &h->challenge, err) < 0)
			return pn_error_wrap(err, "registry `%s`", h->name);
		h->has_challenge = true;
	} else if (status != 200 && status != 401 && status != 404) {
		/* 404: some registries have no /v2/ root; go on anonymously */
		if (!registry_status_transient(status) || attempt >= c->opts.retries)
			return pn_error_set(err, PN_ERR_NETWORK,
					    "registry `%s` answered HTTP %ld to /v2/", h->name,
					    status);
	}
	h->base = xasprintf("%s://%s", scheme, h->name);
	h->pinged = true;
	pn_debug("registry %s: %s, auth %s", h->name, scheme,
		 h->has_challenge ? h->challenge.scheme : "none");
	return 0;
}

/* ---------------------------------------------------------------- tokens */
static int64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static const char *token_cached(struct registry_client *c, const char *host, const char *scope)
{
	for (size_t i = 0; i < c->n_tokens; i++) {
		struct registry_token *t = &c->tokens[i];
		if (strcmp(t->host, host) == 0 && strcmp(t->scope, scope) == 0 &&
		    t->expires > now_s())
			return t->token;
	}
	return NULL;
}

static void token_store(struct registry_client *c, const char *host, const char *scope,
			const char *token, int64_t ttl)
{
	struct registry_token *t = NULL;

	for (size_t i = 0; i < c->n_tokens && !t; i++)
		if (strcmp(c->tokens[i].host, host) == 0 && strcmp(c->tokens[i].scope, scope) == 0)
			t = &c->tokens[i];
	if (!t) {
		c->tokens = xrealloc(c->tokens, st_mult(c->n_tokens + 1, sizeof(*c->tokens)));
		t = &c->tokens[c->n_tokens++];
		t->host = xstrdup(host);
		t->scope = xstrdup(scope);
	} else {
		free(t->token);
	}
	t->token = xstrdup(token);
	/* renew a little early so a token does not expire mid-request */
	t->expires = now_s() + (ttl > 20 ? ttl - 10 : ttl);
}

static int load_creds(struct registry_client *c, struct registry_host *h, struct pn_error **err)
{
	if (h->creds_loaded)
		return 0;
	if (registry_creds_lookup(&c->opts, h->name, &h->creds, &h->has_creds, err) < 0)
		return -1;
	h->creds_loaded = true;
	return 0;
}

static char *token_url(CURL *e, const struct registry_challenge *ch, const char *scope)
{
	struct pn_buf b = PN_BUF_INIT;
	char sep = strchr(ch->realm, '?') ? '&' : '?';

	pn_buf_puts(&b, ch->realm, NULL);
	if (ch->service) {
		char *s = curl_easy_escape(e, ch->service, 0);
		pn_buf_printf(&b, NULL, "%cservice=%s", sep, s);
		curl_free(s);
		sep = '&';
	}
	/* several scopes are space-separated; each is its own parameter */
	for (const char *p = scope; p && *p;) {
		size_t n = strcspn(p, " ");
		cleanup_free char *one = xstrndup(p, n);
		char *s = curl_easy_escape(e, one, 0);
		pn_buf_printf(&b, NULL, "%cscope=%s", sep, s);
		curl_free(s);
		sep = '&';
		p += n;
		while (*p == ' ')
			p++;
	}
	return pn_buf_steal(&b, NULL);
}

/* OAuth2 refresh-token grant (distribution's token spec, "oauth") */
static char *oauth_form(CURL *e, const struct registry_challenge *ch, const char *scope,
			const char *refresh)
{
	char *sv = curl_easy_escape(e, ch->service ? ch->service : "", 0);
	char *sc = curl_easy_escape(e, scope ? scope : "", 0);
	char *rt = curl_easy_escape(e, refresh, 0);
	char *form = xasprintf("grant_type=refresh_token&client_id=pinion&service=%s&scope=%s"
			       "&refresh_token=%s",
			       sv, sc, rt);

	curl_free(sv);
	curl_free(sc);
	explicit_bzero(rt, strlen(rt));
	curl_free(rt);
	return form;
}

static int token_parse(const struct registry_response *r, char **token, int64_t *ttl,
		       struct pn_error **err)
{
	cleanup_json json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "token"));
	json_t *exp = json_object_get(j, "expires_in");

	if (!t || !*t)
		t = json_string_value(json_object_get(j, "access_token"));
	if (!t || !*t)
		return pn_error_set(err, PN_ERR_AUTH, "token server answered without a token");
	*token = xstrdup(t);
	*ttl = json_is_integer(exp) && json_integer_value(exp) > 0 ? json_integer_value(exp)
								   : TOKEN_DEFAULT_TTL;
	return 0;
}

static int token_fetch(struct registry_client *c, struct registry_host *h, const char *scope,
		       char **token, int64_t *ttl, struct pn_error **err)
{
	cleanup_curl CURL *e = curl_easy_init();
	cleanup_free char *url = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct registry_response resp;
	CURLcode rc = CURLE_OK;
	int64_t t0 = 0;
	int rv = -1;

	if (!h->challenge.realm || !*h->challenge.realm)
		return pn_error_set(err, PN_ERR_AUTH,
				    "registry `%s` asks for a token without a realm", h->name);
	if (strncmp(h->challenge.realm, "https://", 8) != 0 &&
	    strncmp(h->challenge.realm, "http://", 7) != 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED,
				    "token realm of `%s` is not an http(s) URL", h->name);
	if (h->has_creds && strncmp(h->challenge.realm, "http://", 7) == 0) {
		cleanup_free char *rh =
			xstrndup(h->challenge.realm + 7, strcspn(h->challenge.realm + 7, "/?#"));
		if (!registry_host_is_loopback(rh) && !registry_opts_host_insecure(&c->opts, rh))
			return pn_error_set(
				err, PN_ERR_AUTH,
				"token realm `%s` of `%s` is plain HTTP: credentials not sent", rh,
				h->name);
	}
	/* an identity token (docker login to an OAuth2 registry) is a refresh
	 * token: POST it to the realm; anything else is GET with Basic */
	bool oauth = h->has_creds && strcmp(h->creds.user, "<token>") == 0;
	cleanup_free char *form = oauth ? oauth_form(e, &h->challenge, scope, h->creds.pass) : NULL;
	url = oauth ? xstrdup(h->challenge.realm) : token_url(e, &h->challenge, scope);
	for (int attempt = 0;; attempt++) {
		registry_response_init(&resp, REGISTRY_TOKEN_MAX);
		curl_easy_reset(e);
		registry_easy_setup(c, h, e);
		registry_easy_tls_for(c, e, url); /* the realm's own host decides */
		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, registry_header_cb);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, &resp);
		if (oauth) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
		} else if (h->has_creds) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
			curl_easy_setopt(e, CURLOPT_USERNAME, h->creds.user);
			curl_easy_setopt(e, CURLOPT_PASSWORD, h->creds.pass);
		}
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, registry_body_cb);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp);
		t0 = registry_now_ms();
		rc = curl_easy_perform(e);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp.status);
		if (rc == CURLE_WRITE_ERROR && resp.truncated)
			rc = CURLE_OK; /* an error document cut short: the status stands */
		bool again = rc != CURLE_OK ? registry_curl_transient(rc)
					    : registry_status_transient(resp.status);
		if (!again || attempt >= c->opts.retries)
			break;
		registry_backoff(attempt, resp.retry_after);
		registry_response_release(&resp);
	}
	if (rc != CURLE_OK) {
		cleanup_free char *rh = registry_url_host(h->challenge.realm);
		cleanup_free char *what = xasprintf("token response of `%s`", rh ? rh : "?");
		registry_transfer_error(c, rc, errbuf, &resp, registry_now_ms() - t0,
					(int64_t)c->opts.request_timeout * 1000, false, what, err);
	} else if (resp.status == 401 || resp.status == 403)
		pn_error_set(err, PN_ERR_AUTH, "%s (HTTP %ld)",
			     h->has_creds ? "credentials refused" : "anonymous access refused",
			     resp.status);
	else if (resp.status != 200)
		pn_error_set(err, PN_ERR_AUTH, "token server answered HTTP %ld", resp.status);
	else
		rv = token_parse(&resp, token, ttl, err);
	registry_response_release(&resp);
	if (form)
		explicit_bzero(form, strlen(form));
	if (rv < 0)
		pn_error_wrap(err, "authenticate to `%s`", h->name);
	return rv;
}

static int auth_header_locked(struct registry_client *c, struct registry_host *h, const char *scope,
			      bool refresh, char **out, struct pn_error **err)
{
	const char *cached;
	char *token = NULL;
	int64_t ttl = 0;

	*out = NULL;
	if (registry_host_ping(c, h, err) < 0)
		return -1;
	if (!h->has_challenge)
		return 0;
	if (load_creds(c, h, err) < 0)
		return -1;
	if (strcmp(h->challenge.scheme, "basic") == 0) {
		if (!h->has_creds)
			return 0;
		cleanup_free char *pair = xasprintf("%s:%s", h->creds.user, h->creds.pass);
		cleanup_free char *b64 = registry_base64_encode(pair, strlen(pair));
		explicit_bzero(pair, strlen(pair));
		*out = xasprintf("Authorization: Basic %s", b64);
		explicit_bzero(b64, strlen(b64));
		return 0;
	}
	if (strcmp(h->challenge.scheme, "bearer") != 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED,
				    "registry `%s` asks for `%s` authentication", h->name,
				    h->challenge.scheme);
	if (!scope)
		scope = "";
	cached = refresh ? NULL : token_cached(c, h->name, scope);
	if (cached) {
		*out = xasprintf("Authorization: Bearer %s", cached);
		return 0;
	}
	if (token_fetch(c, h, scope, &token, &ttl, err) < 0)
		return -1;
	token_store(c, h->name, scope, token, ttl);
	*out = xasprintf("Authorization: Bearer %s", token);
	explicit_bzero(token, strlen(token));
	free(token);
	return 0;
}

int registry_auth_header(struct registry_client *c, struct registry_host *h, const char *scope,
			 bool refresh, char **out, struct pn_error **err)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = auth_header_locked(c, h, scope, refresh, out, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}
