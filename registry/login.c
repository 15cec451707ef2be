/* login.c - `pinion login` and `logout`: check credentials against the
 * registry, then store them in (or remove them from) the auth file.  On top
 * of the authenticated request (http.c) and the credential store (auth.c). */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>

int registry_login(struct registry_client *c, const char *registry, const char *user,
		   const char *pass, struct pn_error **err)
{
	cleanup_free char *path = registry_auth_file_default(&c->opts);
	cleanup_free char *name = registry_auth_key_normalize(registry);
	struct registry_host *h;

	if (!registry_host_valid(name))
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid registry `%s`: expected host[:port]", registry);
	h = registry_client_host(c, name);
	registry_creds_release(&h->creds);
	h->creds.user = xstrdup(user);
	h->creds.pass = xstrdup(pass);
	h->has_creds = h->creds_loaded = true;
	if (registry_host_ping(c, h, err) < 0)
		return pn_error_wrap(err, "log in to `%s`", name);
	if (h->has_challenge) {
		struct registry_request req = REGISTRY_REQUEST_INIT;
		struct registry_response resp;
		int rc;
		req.method = "GET";
		req.url = "/v2/";
		registry_response_init(&resp, REGISTRY_ERROR_BODY_MAX);
		rc = registry_http_do(c, h, &req, &resp, err);
		if (rc == 0 && resp.status != 200)
			rc = registry_http_status_error(&resp, name, "check credentials", err);
		registry_response_release(&resp);
		if (rc < 0)
			return pn_error_wrap(err, "log in to `%s`", name);
	}
	if (registry_auth_file_store(path, name, user, pass, err) < 0)
		return pn_error_wrap(err, "log in to `%s`: store credentials", name);
	return 0;
}

int registry_logout(struct registry_client *c, const char *registry, struct pn_error **err)
{
	cleanup_free char *path = registry_auth_file_default(&c->opts);
	cleanup_free char *name = registry_auth_key_normalize(registry);
	bool removed = false;

	if (registry_auth_file_remove(path, name, &removed, err) < 0)
		return pn_error_wrap(err, "log out of `%s`", name);
	if (!removed)
		return pn_error_set(err, PN_ERR_NOT_FOUND, "not logged in to `%s` (in `%s`)", name,
				    path);
	return 0;
}
