/* test_registry_live.c - registry_exists (HEAD on a manifest) against a tiny
 * HTTP registry stand-in on 127.0.0.1: present / absent tags through a
 * mirror (r8.im -> 127.0.0.1:PORT, as `pinion build` checks cog-base
 * images), an auth refusal and a server error are errors, not "absent";
 * in token mode, anonymous Bearer tokens are cached per scope until
 * expires_in runs out. */
#include "tests/unit/standin.h"
#include "tests/unit/tap.h"
#include "registry/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SERVER_REQUEST_MAX 8192

struct server {
	struct standin_http http;
	pthread_mutex_t lock;
	char last[256];	  /* "METHOD PATH" of the last manifest request */
	bool last_accept; /* it carried an OCI manifest Accept */
	int manifest_requests;
	bool token_mode; /* /v2/ and manifests want a Bearer token */
	int tokens;	 /* tokens issued */
	char token_query[256];
};

/* token mode: /token issues "tok-N" (expires_in 2); the rest wants it */
static const char *token_answer(struct server *s, const char *path, const char *req, char *buf,
				size_t size)
{
	if (strncmp(path, "/token?", 7) == 0) {
		char body[64];
		int n;
		pthread_mutex_lock(&s->lock);
		n = ++s->tokens;
		snprintf(s->token_query, sizeof(s->token_query), "%s", path + 7);
		pthread_mutex_unlock(&s->lock);
		snprintf(body, sizeof(body), "{\"token\":\"tok-%d\",\"expires_in\":2}", n);
		snprintf(buf, size,
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(body), body);
		return buf;
	}
	if (strstr(req, "Authorization: Bearer tok-") && strcmp(path, "/v2/") != 0)
		return NULL;
	snprintf(buf, size,
		 "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer "
		 "realm=\"http://127.0.0.1:%d/token\",service=\"standin\"\r\n"
		 "Content-Length: 0\r\nConnection: close\r\n\r\n",
		 s->http.port);
	return buf;
}

static const char *answer_for(const char *method, const char *path)
{
	if (strcmp(path, "/v2/") == 0)
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
	if (strcmp(method, "HEAD") != 0)
		return "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: "
		       "close\r\n\r\n";
	if (strcmp(path, "/v2/cog-base/manifests/cuda12.1-python3.11") == 0)
		return "HTTP/1.1 200 OK\r\n"
		       "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
		       "Docker-Content-Digest: "
		       "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
		       "Content-Length: 1234\r\nConnection: close\r\n\r\n";
	if (strncmp(path, "/v2/loop/", 9) == 0)
		return "HTTP/1.1 307 Temporary Redirect\r\nLocation: "
		       "/v2/loop/img/manifests/again\r\n"
		       "Content-Length: 0\r\nConnection: close\r\n\r\n";
	if (strncmp(path, "/v2/locked/", 11) == 0)
		return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	if (strncmp(path, "/v2/broken/", 11) == 0)
		return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: "
		       "close\r\n\r\n";
	return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

/* one request per connection (standin_read_head drops a TLS ClientHello) */
static void serve_one(void *data, int cfd)
{
	struct server *s = data;
	char req[SERVER_REQUEST_MAX + 1];
	char method[16] = "", path[200] = "", buf[512];
	const char *ans;

	if (standin_read_head(cfd, req, SERVER_REQUEST_MAX) == 0 ||
	    sscanf(req, "%15s %199s", method, path) != 2)
		return;
	if (strstr(path, "/manifests/")) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->last, sizeof(s->last), "%s %s", method, path);
		s->last_accept = strstr(req, "application/vnd.oci.image.manifest.v1+json") != NULL;
		s->manifest_requests++;
		pthread_mutex_unlock(&s->lock);
	}
	ans = s->token_mode ? token_answer(s, path, req, buf, sizeof(buf)) : NULL;
	if (!ans)
		ans = answer_for(method, path);
	if (write(cfd, ans, strlen(ans)) < 0)
		return;
}

/* the server thread plus a client (no retries); `mirror` (may be NULL) is
 * "FROM" to send to the stand-in */
struct standin {
	struct server s;
	struct registry_opts o;
	struct registry_client *c;
};

static int standin_start(struct standin *st, bool token_mode, const char *mirror)
{
	struct pn_error *err = NULL;
	char *spec;

	memset(st, 0, sizeof(*st));
	st->s.token_mode = token_mode;
	registry_opts_init(&st->o);
	st->o.retries = 0;
	st->o.progress = false;
	pthread_mutex_init(&st->s.lock, NULL);
	if (standin_http_start(&st->s.http, serve_one, &st->s) < 0)
		return -1;
	if (mirror) {
		spec = xasprintf("%s=127.0.0.1:%d", mirror, st->s.http.port);
		ok_call(registry_opts_add_mirror(&st->o, spec, &err), &err, "mirror %s", spec);
		free(spec);
	}
	ok_call(registry_client_new(&st->o, &st->c, &err), &err, "client");
	return st->c ? 0 : -1;
}

static void standin_stop(struct standin *st)
{
	registry_client_free(st->c);
	registry_opts_release(&st->o);
	standin_http_stop(&st->s.http);
	pthread_mutex_destroy(&st->s.lock);
}

static void t_exists(void)
{
	struct standin st;
	struct server *sv = &st.s;
	struct registry_client *c;
	struct pn_error *err = NULL;
	bool exists = true;

	if (standin_start(&st, false, "r8.im") < 0) {
		standin_stop(&st);
		return;
	}
	c = st.c;
	ok_call(registry_exists(c, "r8.im/cog-base:cuda12.1-python3.11", &exists, &err), &err,
		"exists: present tag");
	ok(exists, "present tag exists");
	is_str(sv->last, "HEAD /v2/cog-base/manifests/cuda12.1-python3.11",
	       "a HEAD on the manifest");
	ok(sv->last_accept, "with the manifest Accept types");

	exists = true;
	ok_call(registry_exists(c, "r8.im/cog-base:cuda11.8-python3.8", &exists, &err), &err,
		"exists: absent tag");
	ok(!exists, "absent tag does not exist");
	exists = true;
	ok_call(registry_exists(c,
				"r8.im/nosuch/"
				"repo@sha256:"
				"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				&exists, &err),
		&err, "exists: unknown repository by digest");
	ok(!exists, "unknown repository does not exist");
	is_str(sv->last,
	       "HEAD "
	       "/v2/nosuch/repo/manifests/"
	       "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	       "by digest: the digest is what is asked");

	ok_fail(registry_exists(c, "r8.im/locked/img:v1", &exists, &err), &err, PN_ERR_AUTH, "",
		"a refusal (403) is an error, not absent");
	ok_fail(registry_exists(c, "r8.im/broken/img:v1", &exists, &err), &err, PN_ERR_NETWORK, "",
		"a 500 that outlives the retries is an error");
	ok_fail(registry_exists(c, "r8.im/loop/img:v1", &exists, &err), &err, PN_ERR_TOO_LARGE,
		"more than 5 redirects", "a redirect loop stops at REGISTRY_REDIRECTS_MAX");
	ok_fail(registry_exists(c, "r8.im/Bad:v1", &exists, &err), &err, PN_ERR_INVALID,
		"lowercase", "a malformed reference is refused");
	standin_stop(&st);
}

static int tokens_issued(struct server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->tokens;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void t_token_cache(void)
{
	struct standin st;
	struct server *sv = &st.s;
	struct registry_client *c;
	struct pn_error *err = NULL;
	bool exists = false;
	char *ref;

	if (standin_start(&st, true, NULL) < 0) {
		standin_stop(&st);
		return;
	}
	c = st.c;
	ref = xasprintf("127.0.0.1:%d/cog-base:cuda12.1-python3.11", sv->http.port);
	ok_call(registry_exists(c, ref, &exists, &err), &err, "exists with an anonymous token");
	ok(exists, "present behind a token");
	is_int(tokens_issued(sv), 1, "one token fetched");
	ok(strstr(sv->token_query, "scope=repository%3Acog-base%3Apull") ||
		   strstr(sv->token_query, "scope=repository:cog-base:pull"),
	   "for the pull scope (%s)", sv->token_query);
	ok(strstr(sv->token_query, "service=standin") != NULL, "with the service");
	ok_call(registry_exists(c, ref, &exists, &err), &err, "exists again");
	is_int(tokens_issued(sv), 1, "the token is reused for the same scope");
	free(ref);
	ref = xasprintf("127.0.0.1:%d/other/img:v1", sv->http.port);
	ok_call(registry_exists(c, ref, &exists, &err), &err, "exists in another repository");
	ok(!exists, "absent there");
	is_int(tokens_issued(sv), 2, "another scope gets its own token");
	free(ref);
	ref = xasprintf("127.0.0.1:%d/cog-base:cuda12.1-python3.11", sv->http.port);
	usleep(2100 * 1000);
	ok_call(registry_exists(c, ref, &exists, &err), &err, "exists after expires_in");
	is_int(tokens_issued(sv), 3, "an expired token is fetched again");
	free(ref);
	standin_stop(&st);
}

int main(void)
{
	TEST(t_exists);
	TEST(t_token_cache);
	return tap_done();
}
