/* test_registry_upload.c - a streamed upload (registry_upload_*) against a
 * tiny registry stand-in on 127.0.0.1 that loses upload sessions:
 * registry_upload_restart opens a new session after a lost one (404
 * BLOB_UPLOAD_UNKNOWN) and the blob written again arrives whole; it refuses
 * (passing the cause on, no new session) when the upload did not fail, after
 * an auth refusal, and when the restarts are spent.  Also the restart policy
 * (registry_retry_init_restarts, registry_restart_worth). */
#include "tests/unit/standin.h"
#include "tests/unit/tap.h"
#include "registry/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define REQ_MAX	 8192
#define BLOB_MAX 65536

/* sessions of repository "lose" (and "lost-all") are lost at their first
 * PATCH or PUT, except the ones of "lose" numbered above `lose_upto`; those
 * of "locked" refuse every PATCH with 403 */
struct server {
	struct standin_http http;
	pthread_mutex_t lock;
	int posts;     /* sessions opened */
	int lose_upto; /* sessions 1..lose_upto of "lose" are lost */
	char blob[BLOB_MAX];
	size_t blob_len; /* bytes the last live session got */
	char put_digest[80];
};

static struct pn_error *mk(int code, const char *msg)
{
	struct pn_error *e = NULL;

	pn_error_set(&e, code, "%s", msg);
	return e;
}

static const char unknown_body[] = "{\"errors\":[{\"code\":\"BLOB_UPLOAD_UNKNOWN\"}]}";

/* the request's body (Content-Length) after the headers in req[0..n) */
static size_t read_body(int cfd, char *req, size_t n, char *body, size_t max)
{
	char *end = strstr(req, "\r\n\r\n"), *cl = strcasestr(req, "\r\nContent-Length:");
	size_t want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0, have;
	ssize_t r;

	end += 4;
	have = n - (size_t)(end - req);
	if (have > max)
		have = max;
	memcpy(body, end, have);
	while (have < want && have < max && (r = read(cfd, body + have, max - have)) > 0)
		have += (size_t)r;
	return have;
}

static void answer(int cfd, const char *status, const char *extra, const char *body)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status,
		 extra, strlen(body), body);
	if (write(cfd, buf, strlen(buf)) < 0)
		return;
}

static void serve_upload(struct server *s, int cfd, const char *method, const char *path,
			 const char *body, size_t len)
{
	char extra[256], repo[32] = "";
	int id = 0;

	sscanf(path, "/v2/%31[^/]/blobs/uploads/s%d", repo, &id);
	pthread_mutex_lock(&s->lock);
	if (strcmp(method, "POST") == 0) {
		id = ++s->posts;
		s->blob_len = 0;
		pthread_mutex_unlock(&s->lock);
		snprintf(extra, sizeof(extra), "Location: /v2/%s/blobs/uploads/s%d\r\n", repo, id);
		return answer(cfd, "202 Accepted", extra, "");
	}
	bool lost =
		strcmp(repo, "lost-all") == 0 || (strcmp(repo, "lose") == 0 && id <= s->lose_upto);
	if (lost) {
		pthread_mutex_unlock(&s->lock);
		return answer(cfd, "404 Not Found", "Content-Type: application/json\r\n",
			      unknown_body);
	}
	if (strcmp(repo, "locked") == 0) {
		pthread_mutex_unlock(&s->lock);
		return answer(cfd, "403 Forbidden", "", "");
	}
	if (strcmp(method, "PATCH") == 0 && s->blob_len + len <= BLOB_MAX) {
		memcpy(s->blob + s->blob_len, body, len);
		s->blob_len += len;
	}
	if (strcmp(method, "PUT") == 0) {
		const char *d = strstr(path, "digest=");
		snprintf(s->put_digest, sizeof(s->put_digest), "%s", d ? d + 7 : "");
	}
	snprintf(extra, sizeof(extra), "Location: /v2/%s/blobs/uploads/s%d\r\nRange: 0-%zu\r\n",
		 repo, id, s->blob_len ? s->blob_len - 1 : 0);
	pthread_mutex_unlock(&s->lock);
	answer(cfd, strcmp(method, "PUT") == 0 ? "201 Created" : "202 Accepted", extra, "");
}

static void serve_one(void *data, int cfd)
{
	static char req[REQ_MAX + 1], body[BLOB_MAX];
	struct server *s = data;
	char method[16] = "", path[200] = "";
	size_t n = standin_read_head(cfd, req, REQ_MAX), len;

	if (n == 0 || !strstr(req, "\r\n\r\n") || sscanf(req, "%15s %199s", method, path) != 2)
		return;
	len = read_body(cfd, req, n, body, sizeof(body));
	if (strcmp(path, "/v2/") == 0)
		return answer(cfd, "200 OK", "", "{}");
	if (strstr(path, "/blobs/uploads/"))
		return serve_upload(s, cfd, method, path, body, len);
	answer(cfd, "404 Not Found", "", "");
}

struct standin {
	struct server s;
	struct registry_opts o;
	struct registry_client *c;
};

static int standin_start(struct standin *st, int retries)
{
	struct pn_error *err = NULL;

	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->s.lock, NULL);
	registry_opts_init(&st->o);
	st->o.retries = retries;
	st->o.progress = false;
	st->o.chunk_size = 1024;
	if (standin_http_start(&st->s.http, serve_one, &st->s) < 0)
		return -1;
	ok_call(registry_client_new(&st->o, &st->c, &err), &err, "client");
	return st->c ? 0 : -1;
}

/* the server first (the accept loop ends), then the client */
static void standin_stop(struct standin *st)
{
	standin_http_stop(&st->s.http);
	pthread_mutex_destroy(&st->s.lock);
	registry_client_free(st->c);
	registry_opts_release(&st->o);
}

/* begin an upload to repository repo of the stand-in */
static struct registry_upload *begin(struct standin *st, const char *repo)
{
	struct registry_upload *u = NULL;
	struct pn_error *err = NULL;
	char *ref = xasprintf("127.0.0.1:%d/%s:v1", st->s.http.port, repo);

	ok_call(registry_upload_begin(st->c, ref, &u, &err), &err, "begin an upload to %s", repo);
	free(ref);
	return u;
}

/* write data and finish with its digest: 0, or -1 with *err */
static int send_all(struct registry_upload *u, const char *data, size_t len, struct pn_error **err)
{
	oci_digest_t d;

	oci_digest_buf(data, len, d);
	if (registry_upload_write(u, data, len, err) < 0)
		return -1;
	return registry_upload_finish(u, d, err);
}

static void t_restart_after_lost_session(void)
{
	struct standin st;
	struct registry_upload *u;
	struct pn_error *e = NULL, *err = NULL;
	char data[3000];
	oci_digest_t d;
	int attempts = 0, rc;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 251);
	oci_digest_buf(data, sizeof(data), d);
	if (standin_start(&st, 3) < 0 || !(u = begin(&st, "lose")))
		return standin_stop(&st);
	st.s.lose_upto = 2; /* the first two sessions are lost, the third lives */
	for (;;) {
		attempts++;
		rc = send_all(u, data, sizeof(data), &e);
		if (rc == 0 || registry_upload_restart(u, e, &err) < 0)
			break;
		e = NULL;
	}
	ok_call(rc, &err, "the upload succeeds in its third session");
	is_int(attempts, 3, "three passes over the data");
	is_int(st.s.posts, 3, "three sessions opened");
	ok(st.s.blob_len == sizeof(data) && memcmp(st.s.blob, data, sizeof(data)) == 0,
	   "the live session got the whole blob from its first byte (%zu bytes)", st.s.blob_len);
	is_str(st.s.put_digest, d, "closed with its digest");
	registry_upload_free(u);
	standin_stop(&st);
}

static void t_restart_refused(void)
{
	struct standin st;
	struct registry_upload *u;
	struct pn_error *e = NULL, *err = NULL, *cause;
	char data[2500];

	memset(data, 'x', sizeof(data));
	if (standin_start(&st, 1) < 0 || !(u = begin(&st, "lost-all")))
		return standin_stop(&st);
	/* a failure that is not the upload's: not restarted, the cause passed on */
	cause = mk(PN_ERR_GENERIC, "read `weights/model.bin`: Input/output error");
	is_int(registry_upload_restart(u, cause, &err), -1, "a failure of the caller's is final");
	ok(err == cause, "its error is passed on as it is");
	pn_error_free(err);
	err = NULL;
	is_int(st.s.posts, 1, "no new session");
	/* lost every time: one restart (--retries 1), then the cause */
	ok(send_all(u, data, sizeof(data), &e) < 0, "the first session is lost");
	ok_call(registry_upload_restart(u, e, &err), &err, "a lost session is restarted");
	e = NULL;
	ok(send_all(u, data, sizeof(data), &e) < 0, "the second session is lost too");
	ok_fail(registry_upload_restart(u, e, &err), &err, PN_ERR_NOT_FOUND, "",
		"no restart left: the last failure is the error");
	e = NULL; /* restart took it */
	is_int(st.s.posts, 2, "two sessions in all");
	registry_upload_free(u);
	/* an auth refusal is not retried in a new session */
	if (!(u = begin(&st, "locked")))
		return standin_stop(&st);
	ok(send_all(u, data, sizeof(data), &e) < 0, "a refused chunk fails the upload");
	ok_fail(registry_upload_restart(u, e, &err), &err, PN_ERR_AUTH, "",
		"a refusal (403) is final");
	is_int(st.s.posts, 3, "no new session after it");
	registry_upload_free(u);
	standin_stop(&st);
}

static void t_restart_policy(void)
{
	struct registry_retry r;
	struct pn_error *e;

	registry_retry_init_restarts(&r, 5);
	is_int(r.max, 3, "--retries 5: at most 3 new sessions");
	registry_retry_init_restarts(&r, 1);
	is_int(r.max, 1, "--retries 1: one");
	registry_retry_init_restarts(&r, 0);
	is_int(r.max, 0, "--retries 0: none");
	ok(!registry_restart_worth(NULL), "no error: nothing to restart");
	e = mk(PN_ERR_NOT_FOUND, "upload chunk: BLOB_UPLOAD_UNKNOWN");
	ok(registry_restart_worth(e), "a lost session (404) is worth a new one");
	pn_error_free(e);
	e = mk(PN_ERR_NETWORK, "upload chunk: connection reset");
	ok(registry_restart_worth(e), "a transport failure is");
	pn_error_free(e);
	e = mk(PN_ERR_AUTH, "upload chunk: denied");
	ok(!registry_restart_worth(e), "an auth refusal is not");
	pn_error_free(e);
	e = mk(PN_ERR_INVALID, "finish upload: DIGEST_INVALID");
	ok(!registry_restart_worth(e), "invalid input is not");
	pn_error_free(e);
	e = mk(PN_ERR_INTERRUPTED, "interrupted");
	ok(!registry_restart_worth(e), "an interrupt is not");
	pn_error_free(e);
}

int main(void)
{
	TEST(t_restart_policy);
	TEST(t_restart_after_lost_session);
	TEST(t_restart_refused);
	return tap_done();
}
