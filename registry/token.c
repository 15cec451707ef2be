/* token.c - the Authorization header of a request: Basic from the host's
 * credentials, or a Bearer token fetched from the challenge's realm (GET
 * with Basic, or the OAuth2 refresh-token grant for an identity token) and
 * cached per host and scope.  Above client.c (the ping that records the
 * challenge), auth.c (credentials) and retry.c; below http.c. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_DEFAULT_TTL 60
#define TOKEN_URL_MAX	  ((size_t)1 << 20) /* the realm with its parameters */

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

/* "Authorization: Basic ..." for the host's credentials */
static char *basic_header(const struct registry_creds *cr)
{
	cleanup_free char *pair = xasprintf("%s:%s", cr->user, cr->pass);
	cleanup_free char *b64 = registry_base64_encode(pair, strlen(pair));
	char *out = xasprintf("Authorization: Basic %s", b64);

	explicit_bzero(pair, strlen(pair));
	explicit_bzero(b64, strlen(b64));
	return out;
}

/* the realm with the service and each scope as parameters; NULL past
 * TOKEN_URL_MAX */
static char *token_url(const struct registry_challenge *ch, const char *scope,
		       struct pn_error **err)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	char sep = strchr(ch->realm, '?') ? '&' : '?';
	int rc;

	pn_buf_init(&b, TOKEN_URL_MAX);
	rc = pn_buf_puts(&b, ch->realm, err);
	if (rc == 0 && ch->service) {
		char *s = curl_easy_escape(NULL, ch->service, 0);
		rc = pn_buf_printf(&b, err, "%cservice=%s", sep, s);
		curl_free(s);
		sep = '&';
	}
	/* several scopes are space-separated; each is its own parameter */
	for (const char *p = scope; rc == 0 && p && *p;) {
		size_t n = strcspn(p, " ");
		cleanup_free char *one = xstrndup(p, n);
		char *s = curl_easy_escape(NULL, one, 0);
		rc = pn_buf_printf(&b, err, "%cscope=%s", sep, s);
		curl_free(s);
		sep = '&';
		p += n;
		while (*p == ' ')
			p++;
	}
	return rc < 0 ? NULL : pn_buf_steal(&b, NULL);
}

/* OAuth2 refresh-token grant (distribution's token spec, "oauth") */
static char *oauth_form(const struct registry_challenge *ch, const char *scope, const char *refresh)
{
	char *sv = curl_easy_escape(NULL, ch->service ? ch->service : "", 0);
	char *sc = curl_easy_escape(NULL, scope ? scope : "", 0);
	char *rt = curl_easy_escape(NULL, refresh, 0);
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

/* the realm is an http(s) URL, and plain HTTP only on loopback or an
 * insecure-marked host when credentials would go there */
static int realm_check(struct registry_client *c, struct registry_host *h, struct pn_error **err)
{
	const char *realm = h->challenge.realm;

	if (!realm || !*realm)
		return pn_error_set(err, PN_ERR_AUTH,
				    "registry `%s` asks for a token without a realm", h->name);
	if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED,
				    "token realm of `%s` is not an http(s) URL", h->name);
	if (h->has_creds && strncmp(realm, "http://", 7) == 0) {
		cleanup_free char *rh = xstrndup(realm + 7, strcspn(realm + 7, "/?#"));
		if (!registry_host_is_loopback(rh) && !registry_opts_host_insecure(&c->opts, rh))
			return pn_error_set(
				err, PN_ERR_AUTH,
				"token realm `%s` of `%s` is plain HTTP: credentials not sent", rh,
				h->name);
	}
	return 0;
}

/* the token server's answer: a token, or the error it stands for */
static int token_answer(struct registry_client *c, struct registry_host *h, CURLcode rc,
			const struct registry_attempt *a, const struct registry_request *req,
			const struct registry_response *resp, char **token, int64_t *ttl,
			struct pn_error **err)
{
	if (rc != CURLE_OK)
		return registry_attempt_error(c, rc, a, req, resp, err);
	if (resp->status == 401 || resp->status == 403)
		return pn_error_set(err, PN_ERR_AUTH, "%s (HTTP %ld)",
				    h->has_creds ? "credentials refused"
						 : "anonymous access refused",
				    resp->status);
	if (resp->status != 200)
		return pn_error_set(err, PN_ERR_AUTH, "token server answered HTTP %ld",
				    resp->status);
	return token_parse(resp, token, ttl, err);
}

static int token_fetch(struct registry_client *c, struct registry_host *h, const char *scope,
		       char **token, int64_t *ttl, struct pn_error **err)
{
	struct registry_request req = REGISTRY_REQUEST_INIT;
	struct registry_response resp;
	struct registry_attempt a;
	struct registry_retry r;
	cleanup_free char *url = NULL, *form = NULL, *auth = NULL, *rh = NULL, *what = NULL;
	/* an identity token (docker login to an OAuth2 registry) is a refresh
	 * token: POST it to the realm; anything else is GET with Basic */
	bool oauth = h->has_creds && strcmp(h->creds.user, "<token>") == 0;
	int rv;

	if (realm_check(c, h, err) < 0)
		return -1;
	rh = registry_url_host(h->challenge.realm);
	what = xasprintf("token response of `%s`", rh ? rh : "?");
	if (oauth) {
		form = oauth_form(&h->challenge, scope, h->creds.pass);
		url = xstrdup(h->challenge.realm);
		req.method = "POST";
		req.body = form;
		req.body_len = strlen(form);
	} else {
		url = token_url(&h->challenge, scope, err);
		if (!url)
			return pn_error_wrap(err, "authenticate to `%s`: token URL", h->name);
		req.method = "GET";
		auth = h->has_creds ? basic_header(&h->creds) : NULL;
	}
	req.url = url;
	req.what = what;
	req.auth_origin = url; /* the realm's own origin gets the credentials */
	req.libcurl_follows = true;
	registry_retry_init(&r, c->opts.retries);
	registry_response_init(&resp, REGISTRY_TOKEN_MAX);
	CURLcode rc = registry_retry_perform(c, h, &req, auth, &resp, &a, &r);
	rv = token_answer(c, h, rc, &a, &req, &resp, token, ttl, err);
	registry_response_release(&resp);
	if (form)
		explicit_bzero(form, strlen(form));
	if (auth)
		explicit_bzero(auth, strlen(auth));
	return rv < 0 ? pn_error_wrap(err, "authenticate to `%s`", h->name) : 0;
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
		if (h->has_creds)
			*out = basic_header(&h->creds);
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
