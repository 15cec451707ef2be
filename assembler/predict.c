/* predict.c - inputs, outputs and HTTP for `pinion predict` (predict.h) */
#include "assembler/predict.h"
#include "common/cleanup.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

/* ------------------------------------------------------------ data URLs */

static const struct {
	const char *ext, *type;
} mime_types[] = {
	{".png", "image/png"},	 {".jpg", "image/jpeg"},	{".jpeg", "image/jpeg"},
	{".gif", "image/gif"},	 {".webp", "image/webp"},	{".svg", "image/svg+xml"},
	{".wav", "audio/wav"},	 {".mp3", "audio/mpeg"},	{".ogg", "audio/ogg"},
	{".flac", "audio/flac"}, {".mp4", "video/mp4"},		{".webm", "video/webm"},
	{".txt", "text/plain"},	 {".json", "application/json"}, {".csv", "text/csv"},
	{".html", "text/html"},	 {".pdf", "application/pdf"},	{".zip", "application/zip"},
};

static const char *mime_of(const char *filename)
{
	const char *dot = filename ? strrchr(filename, '.') : NULL;

	if (dot)
		for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
			if (strcasecmp(dot, mime_types[i].ext) == 0)
				return mime_types[i].type;
	return "application/octet-stream";
}

static const char *ext_of(const char *type, size_t n)
{
	for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
		if (strlen(mime_types[i].type) == n &&
		    strncasecmp(type, mime_types[i].type, n) == 0)
			return mime_types[i].ext;
	return "";
}

char *predict_data_url(const void *data, size_t len, const char *filename)
{
	const char *type = mime_of(filename);
	size_t enc = st_mult(st_add(len, 2) / 3, 4);
	size_t head = strlen("data:;base64,") + strlen(type);
	char *out = xmalloc(st_add(st_add(head, enc), 1));
	int n;

	n = snprintf(out, head + 1, "data:%s;base64,", type);
	n = EVP_EncodeBlock((unsigned char *)out + n, data, (int)len);
	out[head + (size_t)n] = '\0';
	return out;
}

int predict_data_url_decode(const char *url, unsigned char **out, size_t *len, const char **ext,
			    struct pn_error **err)
{
	const char *comma, *semi, *b64;
	size_t n, pad = 0;
	unsigned char *buf;
	int got;

	if (strncmp(url, "data:", 5) != 0 || !(comma = strchr(url, ',')))
		return pn_error_set(err, PN_ERR_INVALID, "not a data URL");
	semi = memchr(url, ';', (size_t)(comma - url));
	if (!semi || strncmp(semi, ";base64,", 8) != 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED, "data URL is not base64");
	*ext = ext_of(url + 5, (size_t)(semi - url - 5));
	b64 = comma + 1;
	n = strlen(b64);
	if (n % 4)
		return pn_error_set(err, PN_ERR_INVALID, "data URL: bad base64 length");
	while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
		pad++;
	buf = xmalloc(n / 4 * 3 + 1);
	got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	if (got < 0) {
		free(buf);
		return pn_error_set(err, PN_ERR_INVALID, "data URL: bad base64");
	}
	*out = buf;
	*len = (size_t)got - pad;
	return 0;
}

/* ----------------------------------------------------------------- HTTP */

struct sink {
	struct pn_buf buf;
	bool overflow;
};

static size_t sink_write(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;

	if (pn_buf_append(&s->buf, p, size * n, NULL) < 0) {
		s->overflow = true;
		return 0;
	}
	return size * n;
}

static volatile sig_atomic_t *http_cancel;

void predict_http_cancel_on(volatile sig_atomic_t *flag)
{
	http_cancel = flag;
}

static int http_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)ud, (void)dt, (void)dn, (void)ut, (void)un;
	return http_cancel && *http_cancel; /* non-zero aborts the transfer */
}

int predict_http(const char *method, const char *url, const char *body, long timeout_s,
		 long *status, char **resp, size_t *resp_len, struct pn_error **err)
{
	cleanup_curl CURL *c = curl_easy_init();
	cleanup_curl_slist struct curl_slist *h = NULL;
	struct sink s = {PN_BUF_INIT, false};
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	if (!c)
		return pn_error_set(err, PN_ERR_GENERIC, "curl init failed");
	pn_buf_init(&s.buf, PREDICT_RESPONSE_MAX);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (strcmp(method, "POST") == 0) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		pn_buf_release(&s.buf);
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			return pn_error_set(err, PN_ERR_GENERIC, "%s %s: interrupted", method, url);
		if (s.overflow)
			return pn_error_set(err, PN_ERR_TOO_LARGE,
					    "%s %s: response larger than %zu bytes", method, url,
					    PREDICT_RESPONSE_MAX);
		return pn_error_set(err, PN_ERR_NETWORK, "%s %s: %s", method, url,
				    ebuf[0] ? ebuf : curl_easy_strerror(rc));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	*resp = pn_buf_steal(&s.buf, resp_len);
	if (!*resp)
		*resp = xstrdup("");
	return 0;
}

/* as Cog's test harness: a server answering READY, BUSY or UNHEALTHY is up
 * (UNHEALTHY: its healthcheck() failed; predictions still run) */
bool predict_health_up(const char *status)
{
	return status && (strcmp(status, "READY") == 0 || strcmp(status, "BUSY") == 0 ||
			  strcmp(status, "UNHEALTHY") == 0);
}

/* --------------------------------------------------------------- output */

static int write_file(const char *path, const unsigned char *data, size_t len, FILE *f,
		      struct pn_error **err)
{
	if (pn_write_file_atomic(path, data, len, 0644, err) < 0)
		return -1;
	fprintf(f, "Written output to %s\n", path);
	return 0;
}

static int output_one(const char *s, const char *dir, const char *path, long idx, FILE *f,
		      struct pn_error **err)
{
	cleanup_free unsigned char *data = NULL;
	cleanup_free char *name = NULL;
	const char *ext;
	size_t len;

	if (strncmp(s, "data:", 5) != 0) {
		if (path && idx < 0)
			return write_file(path, (const unsigned char *)s, strlen(s), f, err);
		fprintf(f, "%s\n", s);
		return 0;
	}
	if (predict_data_url_decode(s, &data, &len, &ext, err) < 0)
		return pn_error_wrap(err, "output");
	if (path && idx < 0)
		name = xstrdup(path);
	else if (idx >= 0)
		name = xasprintf("%s/output.%ld%s", dir, idx, ext);
	else
		name = xasprintf("%s/output%s", dir, ext);
	return write_file(name, data, len, f, err);
}

int predict_output_write(const json_t *output, const char *dir, const char *path, FILE *f,
			 struct pn_error **err)
{
	if (!output || json_is_null(output)) { /* as cog predict: a warning, status 0 */
		fprintf(stderr, "No output generated\n");
		return 0;
	}
	if (json_is_string(output))
		return output_one(json_string_value(output), dir, path, -1, f, err);
	if (json_is_array(output) && json_array_size(output) > 0 &&
	    json_is_string(json_array_get(output, 0)) &&
	    strncmp(json_string_value(json_array_get(output, 0)), "data:", 5) == 0) {
		for (size_t i = 0; i < json_array_size(output); i++) {
			const char *s = json_string_value(json_array_get(output, i));

			if (s && output_one(s, dir, NULL, (long)i, f, err) < 0)
				return -1;
		}
		return 0;
	}
	{
		cleanup_free char *j = json_dumps(output, JSON_INDENT(2) | JSON_ENCODE_ANY);

		if (path)
			return write_file(path, (const unsigned char *)(j ? j : "null"),
					  strlen(j ? j : "null"), f, err);
		fprintf(f, "%s\n", j ? j : "null");
	}
	return 0;
}
