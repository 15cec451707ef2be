/* http.c - the authenticated request, the top of the HTTP stack: the
 * Authorization header for the request's scope (token.c), one attempt after
 * another while it fails transiently (retry.c over transport.c), and one
 * token refresh when the registry answers 401 with a wider scope. */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* the scope a 401 asks for, merged with ours */
static char *challenge_scope(const struct registry_response *resp, const char *ours)
{
	struct registry_challenge ch = {0};
	char *s = NULL;

	if (!resp->www_auth ||
	    registry_challenge_parse(resp->www_auth, strlen(resp->www_auth), &ch, NULL) < 0)
		return NULL;
	if (ch.scope && (!ours || !strstr(ours, ch.scope)))
		s = ours && *ours ? xasprintf("%s %s", ours, ch.scope) : xstrdup(ch.scope);
	registry_challenge_release(&ch);
	return s;
}

static int auth_refused(struct registry_host *h, struct pn_error **err)
{
	if (h->has_creds)
		return pn_error_set(err, PN_ERR_AUTH, "registry `%s` refused the credentials",
				    h->name);
	return pn_error_set(err, PN_ERR_AUTH,
			    "registry `%s` requires authentication (see `pinion login`)", h->name);
}

/* an HTTPS registry that sends a request (an upload Location) to plain HTTP
 * on another host: refused unless that host is loopback or marked insecure */
static int plain_downgrade(struct registry_client *c, struct registry_host *h, const char *url,
			   struct pn_error **err)
{
	cleanup_free char *other = NULL;

	if (strncmp(url, "http://", 7) != 0 || strncmp(h->base, "https://", 8) != 0)
		return 0;
	other = registry_url_host(url);
	if (other &&
	    (registry_host_is_loopback(other) || registry_opts_host_insecure(&c->opts, other)))
		return 0;
	return pn_error_set(err, PN_ERR_UNSUPPORTED,
			    "registry `%s` sends a request to plain HTTP `%s`: refused (mark it "
			    "--insecure-registry to allow)",
			    h->name, other ? other : url);
}

int registry_http_do(struct registry_client *c, struct registry_host *h,
		     const struct registry_request *req, struct registry_response *resp,
		     struct pn_error **err)
{
	cleanup_free char *auth = NULL, *scope2 = NULL;
	struct registry_attempt a;
	struct registry_retry r;
	const char *scope = req->scope;
	bool refreshed = false;

	if (registry_auth_header(c, h, scope, false, &auth, err) < 0)
		return -1;
	if (plain_downgrade(c, h, req->url, err) < 0)
		return -1;
	/* one retry budget across a token refresh */
	registry_retry_init(&r, c->opts.retries);
	for (;;) {
		CURLcode rc = registry_retry_perform(c, h, req, auth, resp, &a, &r);
		if (rc != CURLE_OK)
			return registry_attempt_error(c, rc, &a, req, resp, err);
		if (resp->status == 401 && a.foreign) {
			cleanup_free char *other = registry_url_host(req->url);
			return pn_error_set(err, PN_ERR_AUTH,
					    "`%s` asks for credentials, but those of registry `%s` "
					    "are not sent to another origin",
					    other ? other : "?", h->name);
		}
		if (resp->status != 401)
			return 0;
		if (refreshed || !h->has_challenge || strcmp(h->challenge.scheme, "bearer") != 0)
			return auth_refused(h, err);
		refreshed = true;
		scope2 = challenge_scope(resp, scope);
		if (scope2)
			scope = scope2;
		free(auth);
		auth = NULL;
		if (registry_auth_header(c, h, scope, true, &auth, err) < 0)
			return -1;
	}
}
