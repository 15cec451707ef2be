/* retry.c - the one retry policy of registry/: which failures are worth
 * another attempt, how many attempts, and the wait before each.  Every
 * retrying loop (a request, the ping, the token fetch, a config whose digest
 * did not match, the parallel blob fetch, a failed chunk, a restarted
 * upload) counts with a struct registry_retry.  Above transport.c. */
#include "registry/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define RETRY_AFTER_MAX 60 /* seconds we are willing to wait for a 429 */
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS	8000
/* a failed upload starts again in a new session at most this often */
#define UPLOAD_RESTARTS_MAX 3

bool registry_curl_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_COULDNT_CONNECT:
	case CURLE_BAD_CONTENT_ENCODING:
		return true;
	default:
		return false;
	}
}

bool registry_status_transient(long status)
{
	return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
	       status == 504;
}

bool registry_retry_transient(CURLcode rc, long status)
{
	return rc != CURLE_OK ? registry_curl_transient(rc) : registry_status_transient(status);
}

int64_t registry_backoff_ms(int attempt, const char *retry_after)
{
	int64_t ms = (int64_t)BACKOFF_BASE_MS << (attempt < 6 ? attempt : 6);

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	if (retry_after && *retry_after && isdigit((unsigned char)*retry_after)) {
		long s = strtol(retry_after, NULL, 10);
		if (s > RETRY_AFTER_MAX)
			s = RETRY_AFTER_MAX;
		ms = (int64_t)s * 1000;
	}
	/* a little jitter so parallel transfers do not retry in lockstep */
	return ms + (int64_t)(registry_now_ms() % 50);
}

void registry_retry_init(struct registry_retry *r, int max)
{
	r->max = max;
	r->done = 0;
}

void registry_retry_init_restarts(struct registry_retry *r, int retries)
{
	registry_retry_init(r, retries < UPLOAD_RESTARTS_MAX ? retries : UPLOAD_RESTARTS_MAX);
}

bool registry_restart_worth(const struct pn_error *e)
{
	return e && e->code != PN_ERR_AUTH && e->code != PN_ERR_INVALID &&
	       e->code != PN_ERR_INTERRUPTED;
}

void registry_retry_reset(struct registry_retry *r)
{
	r->done = 0;
}

int64_t registry_retry_at(struct registry_retry *r, const char *retry_after)
{
	if (r->done >= r->max)
		return -1;
	return registry_now_ms() + registry_backoff_ms(r->done++, retry_after);
}

bool registry_retry_wait(struct registry_retry *r, const char *retry_after)
{
	int64_t at = registry_retry_at(r, retry_after), ms;
	struct timespec ts;

	if (at < 0)
		return false;
	ms = at - registry_now_ms();
	if (ms <= 0)
		return true;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return true;
}

CURLcode registry_retry_perform(struct registry_client *c, struct registry_host *h,
				const struct registry_request *req, const char *auth,
				struct registry_response *resp, struct registry_attempt *a,
				struct registry_retry *r)
{
	for (;;) {
		registry_response_reset(resp);
		CURLcode rc = registry_transport_perform(c, h, req, auth, resp, a);
		if (req->no_retry || !registry_retry_transient(rc, resp->status) ||
		    !registry_retry_wait(r, rc == CURLE_OK ? resp->retry_after : NULL))
			return rc;
		if (rc != CURLE_OK)
			pn_debug("%s %s: %s; retrying", req->method, req->url,
				 a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
		else
			pn_debug("%s %s: HTTP %ld; retrying", req->method, req->url, resp->status);
	}
}
