/* wheel.c - COG_WHEEL: the embedded cog SDK wheel, a local wheel, or a
 * downloaded one (verified, cached).  See wheel.h. */
#include "assembler/wheel.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* from assembler/sdk/module.mk (.incbin) */
extern const char pn_sdk_wheel[];
extern const char pn_sdk_wheel_end[];
extern const char pn_sdk_wheel_name[];

#define WHEEL_RECORD_MAX      256
#define WHEEL_REDIRECTS	      5
#define WHEEL_CONNECT_TIMEOUT 30L

void wheel_choice_release(struct wheel_choice *w)
{
	free(w->path);
	free(w->name);
	free(w->source);
	memset(w, 0, sizeof(*w));
}

const void *wheel_embedded(size_t *len_out, const char **name_out)
{
	if (len_out)
		*len_out = (size_t)(pn_sdk_wheel_end - pn_sdk_wheel);
	if (name_out)
		*name_out = pn_sdk_wheel_name;
	return pn_sdk_wheel;
}

static int url_parse(const char *url, char **base_out, oci_digest_t pin, char **name_out,
		     struct pn_error **err);

/* a plausible wheel file name: no path, printable, ends in .whl */
static bool wheel_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 5 || n > WHEEL_NAME_MAX || name[0] == '.' || strcmp(name + n - 4, ".whl") != 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || strchr("._+!-", *p)))
			return false;
	return strchr(name, '-') != NULL;
}

int wheel_write_embedded(const char *dir, char **path_out, struct pn_error **err)
{
	size_t len;
	const char *name;
	const void *data = wheel_embedded(&len, &name);
	cleanup_free char *path = pn_path_join(dir, name);

	if (pn_mkdir_p(dir, 0755, err) < 0 || pn_write_file_atomic(path, data, len, 0644, err) < 0)
		return pn_error_wrap(err, "write the embedded cog wheel");
	*path_out = steal_pointer(&path);
	return 0;
}

/* the embedded wheel as a file in <cache>/wheels/embedded (rewritten only
 * when missing or different) */
static int select_embedded(struct wheel_choice *out, struct pn_error **err)
{
	cleanup_free char *cache = pn_cache_dir();
	cleanup_free char *dir = xasprintf("%s/wheels/embedded", cache);
	cleanup_free char *path = NULL;
	size_t len;
	const char *name;
	const void *data = wheel_embedded(&len, &name);
	oci_digest_t want, have;

	oci_digest_buf(data, len, want);
	path = pn_path_join(dir, name);
	if (access(path, R_OK) != 0 || oci_digest_file(path, have, NULL, NULL) < 0 ||
	    strcmp(have, want) != 0) {
		free(path);
		path = NULL;
		if (wheel_write_embedded(dir, &path, err) < 0)
			return -1;
	}
	out->path = steal_pointer(&path);
	out->name = xstrdup(name);
	out->source = xstrdup("embedded");
	memcpy(out->digest, want, sizeof(want));
	out->embedded = true;
	return 0;
}

static int select_file(const char *spec, struct wheel_choice *out, struct pn_error **err)
{
	struct stat st;
	char real[PATH_MAX];
	const char *base = strrchr(spec, '/');

	base = base ? base + 1 : spec;
	if (stat(spec, &st) < 0) {
		pn_error_set_errno(err, errno, "COG_WHEEL `%s`", spec);
		pn_error_hint(err, "COG_WHEEL takes `cog`, a path to a .whl file or an https URL");
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		return pn_error_set(err, PN_ERR_INVALID, "COG_WHEEL `%s` is not a regular file",
				    spec);
	if (!wheel_name_valid(base))
		return pn_error_set(
			err, PN_ERR_INVALID,
			"COG_WHEEL `%s` is not named like a wheel (name-version-tags.whl)", spec);
	if (!realpath(spec, real))
		return pn_error_set_errno(err, errno, "resolve `%s`", spec);
	if (oci_digest_file(real, out->digest, NULL, err) < 0)
		return pn_error_wrap(err, "COG_WHEEL `%s`", spec);
	out->path = xstrdup(real);
	out->name = xstrdup(base);
	out->source = xstrdup(spec);
	out->embedded = false;
	return 0;
}

static int reject_coglet(struct pn_error **err)
{
	pn_error_set(err, PN_ERR_INVALID,
		     "COG_WHEEL=coglet: no coglet wheel is embedded in pinion");
	pn_error_hint(err, "download a coglet wheel and point COG_WHEEL at it, e.g. "
			   "COG_WHEEL=/path/to/coglet-<version>-py3-none-any.whl or "
			   "COG_WHEEL=https://.../coglet-<version>-py3-none-any.whl#sha256=<hex>; "
			   "unset COG_WHEEL to use the embedded cog wheel");
	return -1;
}

char *wheel_spec_name(const char *spec)
{
	const char *name;
	char *base = NULL;
	oci_digest_t pin;

	if (!spec || !*spec || strcmp(spec, "cog") == 0) {
		wheel_embedded(NULL, &name);
		return xstrdup(name);
	}
	if (strncmp(spec, "https://", 8) == 0) {
		char *n = NULL;

		if (url_parse(spec, &base, pin, &n, NULL) < 0)
			return NULL;
		free(base);
		return n;
	}
	name = strrchr(spec, '/');
	name = name ? name + 1 : spec;
	return strstr(spec, "://") || !wheel_name_valid(name) ? NULL : xstrdup(name);
}

char *wheel_name_version(const char *name)
{
	const char *v = name ? strchr(name, '-') : NULL;
	size_t n;

	if (!v)
		return NULL;
	v++;
	n = strcspn(v, "-+");
	if (!n || v[n] == '\0')
		return NULL;
	return xstrndup(v, n);
}

int wheel_select(const char *spec, struct wheel_choice *out, struct pn_error **err)
{
	if (!spec || !*spec || strcmp(spec, "cog") == 0)
		return select_embedded(out, err);
	if (strcmp(spec, "coglet") == 0)
		return reject_coglet(err);
	if (strncmp(spec, "https://", 8) == 0)
		return wheel_fetch_url(spec, out, err);
	if (strncmp(spec, "http://", 7) == 0) {
		pn_error_set(err, PN_ERR_INVALID, "COG_WHEEL `%s`: plain http is not accepted",
			     spec);
		pn_error_hint(
			err,
			"use an https URL, or download the wheel and set COG_WHEEL to its path");
		return -1;
	}
	if (strstr(spec, "://")) {
		pn_error_set(err, PN_ERR_INVALID, "COG_WHEEL `%s`: unsupported URL scheme", spec);
		pn_error_hint(err, "COG_WHEEL takes `cog`, a path to a .whl file or an https URL");
		return -1;
	}
	return select_file(spec, out, err);
}

/* ---------------------------------------------------------------- download */

struct fetch_sink {
	int fd;
	int64_t size;
	bool too_large;
	int write_errno;
	struct oci_hasher *h;
};

static size_t fetch_write(char *data, size_t size, size_t n, void *p)
{
	struct fetch_sink *s = p;
	size_t len = size * n;

	if (s->size + (int64_t)len > WHEEL_DOWNLOAD_MAX) {
		s->too_large = true;
		return 0;
	}
	if (pn_write_all(s->fd, data, len) < 0) {
		s->write_errno = errno;
		return 0;
	}
	oci_hasher_update(s->h, data, len);
	s->size += (int64_t)len;
	return len;
}

/* url -> the URL without fragment, the pinned digest ("" if none) and the
 * wheel's file name */
static int url_parse(const char *url, char **base_out, oci_digest_t pin, char **name_out,
		     struct pn_error **err)
{
	cleanup_free char *base = xstrdup(url);
	char *frag = strchr(base, '#'), *q, *slash, *name;
	CURL *c;
	int n = 0;

	pin[0] = '\0';
	if (frag) {
		*frag++ = '\0';
		if (strncmp(frag, "sha256=", 7) != 0)
			return pn_error_set(
				err, PN_ERR_INVALID,
				"COG_WHEEL `%s`: the only fragment understood is #sha256=<hex>",
				url);
		cleanup_free char *d = xasprintf("sha256:%s", frag + 7);
		if (oci_digest_parse(d, pin, err) < 0)
			return pn_error_wrap(err, "COG_WHEEL `%s`", url);
	}
	q = strpbrk(strstr(base, "://") ? strstr(base, "://") + 3 : base, "?");
	slash = strrchr(base, '/');
	if (!slash || (q && q < slash))
		return pn_error_set(err, PN_ERR_INVALID, "COG_WHEEL `%s`: no file name in the URL",
				    url);
	c = curl_easy_init();
	if (!c)
		return pn_error_set(err, PN_ERR_GENERIC, "libcurl initialisation failed");
	name = curl_easy_unescape(c, slash + 1, q ? (int)(q - slash - 1) : 0, &n);
	curl_easy_cleanup(c);
	if (!name || strlen(name) != (size_t)n || !wheel_name_valid(name)) {
		curl_free(name);
		return pn_error_set(err, PN_ERR_INVALID,
				    "COG_WHEEL `%s`: the URL does not end in a wheel file name",
				    url);
	}
	*name_out = xstrdup(name);
	curl_free(name);
	*base_out = steal_pointer(&base);
	return 0;
}

static CURLcode fetch_perform(CURL *c, const char *url, struct fetch_sink *s, char *errbuf)
{
	const char *ca = getenv("SSL_CERT_FILE");
	cleanup_free char *ua = xasprintf("pinion/%s", PN_VERSION);

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)WHEEL_REDIRECTS);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, WHEEL_CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)WHEEL_DOWNLOAD_MAX);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (ca && *ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	return curl_easy_perform(c);
}

/* download url into the open file fd; digest of what was written */
static int fetch_to_fd(const char *url, int fd, oci_digest_t digest, struct pn_error **err)
{
	cleanup_curl CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	struct fetch_sink s = {fd, 0, false, 0, oci_hasher_new()};
	long status = 0;
	CURLcode rc;

	if (!c) {
		oci_hasher_free(s.h);
		return pn_error_set(err, PN_ERR_GENERIC, "libcurl initialisation failed");
	}
	rc = fetch_perform(c, url, &s, errbuf);
	oci_hasher_final(s.h, digest);
	oci_hasher_free(s.h);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (s.too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "download `%s`: larger than %lld bytes",
				    url, (long long)WHEEL_DOWNLOAD_MAX);
	if (s.write_errno)
		return pn_error_set_errno(err, s.write_errno, "download `%s`: write", url);
	if (rc != CURLE_OK)
		return pn_error_set(
			err,
			status == 404 || rc == CURLE_FILE_COULDNT_READ_FILE ? PN_ERR_NOT_FOUND
									    : PN_ERR_NETWORK,
			"download `%s`: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	return 0;
}

/* the digest recorded next to a cached download, or "" */
static void record_read(const char *rec, oci_digest_t out)
{
	cleanup_free char *text = NULL;
	size_t len = 0;

	out[0] = '\0';
	if (pn_read_file(rec, WHEEL_RECORD_MAX, &text, &len, NULL) < 0)
		return;
	text[strcspn(text, "\r\n")] = '\0';
	if (oci_digest_parse(text, out, NULL) < 0)
		out[0] = '\0';
}

static int zip_magic_ok(int fd)
{
	char m[4];

	return pread(fd, m, 4, 0) == 4 && memcmp(m, "PK\003\004", 4) == 0;
}

/* download into dir as name via a temp file; verify against want ("" =
 * record whatever arrives) */
static int fetch_into(const char *url, const char *dir, const char *name, const char *want,
		      oci_digest_t got, struct pn_error **err)
{
	cleanup_free char *prefix = xasprintf("%s/.%s.", dir, name);
	cleanup_free char *path = pn_path_join(dir, name);
	struct pn_atomic_file f;
	int rc;

	if (pn_atomic_file_open(&f, AT_FDCWD, prefix, err) < 0)
		return -1;
	rc = fetch_to_fd(url, f.fd, got, err);
	if (rc == 0 && want[0] && strcmp(want, got) != 0) {
		rc = pn_error_set(err, PN_ERR_DIGEST,
				  "download `%s`: digest mismatch: want %s, got %s", url, want,
				  got);
	}
	if (rc == 0 && !zip_magic_ok(f.fd))
		rc = pn_error_set(err, PN_ERR_INVALID, "download `%s`: not a wheel (zip) file",
				  url);
	/* 0600 as ever: the cache is the user's own */
	if (rc == 0)
		rc = pn_atomic_file_commit(&f, path, 0600, err);
	pn_atomic_file_abort(&f);
	return rc;
}

int wheel_fetch_url(const char *url, struct wheel_choice *out, struct pn_error **err)
{
	cleanup_free char *base = NULL, *name = NULL, *cache = NULL, *dir = NULL, *path = NULL;
	cleanup_free char *rec = NULL;
	oci_digest_t pin, recorded, have, url_hash;
	const char *want;

	if (url_parse(url, &base, pin, &name, err) < 0)
		return -1;
	oci_digest_buf(base, strlen(base), url_hash);
	cache = pn_cache_dir();
	dir = xasprintf("%s/wheels/url-%.16s", cache, oci_digest_hex(url_hash));
	path = pn_path_join(dir, name);
	rec = xasprintf("%s.sha256", path);
	record_read(rec, recorded);
	want = pin[0] ? pin : recorded;
	if (want[0] && access(path, R_OK) == 0 && oci_digest_file(path, have, NULL, NULL) == 0 &&
	    strcmp(have, want) == 0) {
		pn_debug("COG_WHEEL: cached %s", path);
	} else {
		if (pn_mkdir_p(dir, 0755, err) < 0)
			return pn_error_wrap(err, "COG_WHEEL cache");
		if (fetch_into(base, dir, name, want, have, err) < 0) {
			if (!pin[0] && recorded[0] && err && *err && (*err)->code == PN_ERR_DIGEST)
				pn_error_hint(err,
					      "the file changed since its first download (%s); "
					      "remove `%s` to accept the new one, or pin it with "
					      "#sha256=<hex>",
					      recorded, rec);
			return pn_error_wrap(err, "COG_WHEEL");
		}
		cleanup_free char *line = xasprintf("%s\n", have);
		if (pn_write_file_atomic(rec, line, strlen(line), 0644, err) < 0)
			return pn_error_wrap(err, "COG_WHEEL: record digest");
	}
	out->path = steal_pointer(&path);
	out->name = steal_pointer(&name);
	out->source = steal_pointer(&base);
	memcpy(out->digest, have, sizeof(have));
	out->embedded = false;
	return 0;
}
