/* auth.c - WWW-Authenticate parsing and credential sources: explicit
 * --creds, containers auth.json, docker config.json (auths, credHelpers,
 * credsStore through docker-credential-* helpers). */
#include "registry/internal.h"
#include "common/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/evp.h>

#define AUTH_FILE_MAX ((size_t)1 << 20)

/* ------------------------------------------------------ WWW-Authenticate */
void registry_challenge_release(struct registry_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static bool is_tchar(char ch)
{
	/* strchr would find the terminator for a NUL byte */
	return ch != '\0' && (isalnum((unsigned char)ch) || strchr("!#$%&'*+-.^_`|~", ch));
}

static void skip_ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* token or quoted-string at *p into out (owned) */
static int parse_value(const char **p, const char *end, char **out, struct pn_error **err)
{
	struct pn_buf b = PN_BUF_INIT;
	const char *s = *p;

	pn_buf_init(&b, REGISTRY_HEADER_MAX);
	if (s < end && *s == '"') {
		s++;
		while (s < end && *s != '"') {
			if (*s == '\\' && s + 1 < end)
				s++;
			if ((unsigned char)*s < ' ' && *s != '\t') {
				pn_buf_release(&b);
				return pn_error_set(err, PN_ERR_INVALID,
						    "control character in quoted string");
			}
			if (pn_buf_append(&b, s, 1, err) < 0) {
				pn_buf_release(&b);
				return -1;
			}
			s++;
		}
		if (s >= end) {
			pn_buf_release(&b);
			return pn_error_set(err, PN_ERR_INVALID, "unterminated quoted string");
		}
		s++;
	} else {
		const char *start = s;
		while (s < end && (is_tchar(*s) || *s == '/' || *s == ':' || *s == '='))
			s++;
		if (s == start) {
			pn_buf_release(&b);
			return pn_error_set(err, PN_ERR_INVALID, "expected a value");
		}
		if (pn_buf_append(&b, start, (size_t)(s - start), err) < 0) {
			pn_buf_release(&b);
			return -1;
		}
	}
	*p = s;
	*out = pn_buf_steal(&b, NULL);
	if (!*out)
		*out = xstrdup("");
	return 0;
}

static void set_param(struct registry_challenge *c, const char *name, size_t n, char *value)
{
	char **slot = NULL;

	if (n == 5 && strncasecmp(name, "realm", 5) == 0)
		slot = &c->realm;
	else if (n == 7 && strncasecmp(name, "service", 7) == 0)
		slot = &c->service;
	else if (n == 5 && strncasecmp(name, "scope", 5) == 0)
		slot = &c->scope;
	else if (n == 5 && strncasecmp(name, "error", 5) == 0)
		slot = &c->error;
	if (slot && !*slot)
		*slot = value;
	else
		free(value);
}

static int parse_params(const char *p, const char *end, struct registry_challenge *c,
			struct pn_error **err)
{
	for (;;) {
		skip_ws(&p, end);
		while (p < end && *p == ',') {
			p++;
			skip_ws(&p, end);
		}
		if (p >= end)
			return 0;
		const char *name = p;
		while (p < end && is_tchar(*p))
			p++;
		size_t nlen = (size_t)(p - name);
		skip_ws(&p, end);
		if (nlen == 0 || p >= end || *p != '=') {
			/* a token68 or the start of another challenge: stop here */
			if (nlen > 0 && (p >= end || *p == ',' || *p == ' '))
				return 0;
			return pn_error_set(err, PN_ERR_INVALID, "expected name=value");
		}
		p++;
		skip_ws(&p, end);
		char *value = NULL;
		if (parse_value(&p, end, &value, err) < 0)
			return -1;
		set_param(c, name, nlen, value);
		skip_ws(&p, end);
		if (p < end && *p != ',')
			return pn_error_set(err, PN_ERR_INVALID, "expected ',' between parameters");
	}
}

int registry_challenge_parse(const char *value, size_t len, struct registry_challenge *out,
			     struct pn_error **err)
{
	struct registry_challenge c = {0};
	const char *p = value, *end = value + len;

	if (len > REGISTRY_HEADER_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE,
				    "WWW-Authenticate header longer than %d bytes",
				    REGISTRY_HEADER_MAX);
	skip_ws(&p, end);
	const char *scheme = p;
	while (p < end && is_tchar(*p))
		p++;
	if (p == scheme)
		return pn_error_set(err, PN_ERR_INVALID, "WWW-Authenticate: missing scheme");
	if (p < end && *p != ' ' && *p != '\t' && *p != ',')
		return pn_error_set(err, PN_ERR_INVALID,
				    "WWW-Authenticate: bad character after scheme");
	c.scheme = xstrndup(scheme, (size_t)(p - scheme));
	for (char *q = c.scheme; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (parse_params(p, end, &c, err) < 0) {
		registry_challenge_release(&c);
		return pn_error_wrap(err, "WWW-Authenticate");
	}
	*out = c;
	return 0;
}

/* ---------------------------------------------------------------- base64 */
char *registry_base64_encode(const void *data, size_t len)
{
	size_t n = st_add(st_mult((len + 2) / 3, 4), 1);
	char *out = xmalloc(n);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

char *registry_base64_decode(const char *s, size_t *len_out)
{
	size_t n = strlen(s);
	unsigned char *out;
	int r;

	if (n % 4 != 0 || n > AUTH_FILE_MAX)
		return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (r < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts padding as zero bytes */
	if (n >= 1 && s[n - 1] == '=')
		r--;
	if (n >= 2 && s[n - 2] == '=')
		r--;
	out[r] = '\0';
	if (len_out)
		*len_out = (size_t)r;
	return (char *)out;
}

void registry_creds_release(struct registry_creds *c)
{
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->user);
	free(c->pass);
	c->user = c->pass = NULL;
}

/* ------------------------------------------------------------- auth files */
char *registry_auth_key_normalize(const char *key)
{
	const char *p = key;
	char *out;

	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	out = xstrndup(p, strcspn(p, "/"));
	if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0 ||
	    strcmp(out, "registry.hub.docker.com") == 0) {
		free(out);
		out = xstrdup(REGISTRY_DEFAULT_REGISTRY);
	}
	return out;
}

static json_t *load_json_file(const char *path, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	size_t len = 0;
	struct pn_error *e = NULL;
	json_error_t je;
	json_t *j;

	if (pn_read_file(path, AUTH_FILE_MAX, &data, &len, &e) < 0) {
		if (e->code == PN_ERR_NOT_FOUND) {
			pn_error_free(e);
			return json_object();
		}
		pn_error_propagate(err, e);
		return NULL;
	}
	j = json_loadb(data, len, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		pn_error_set(err, PN_ERR_INVALID, "`%s`:%d:%d: not a JSON object", path, je.line,
			     je.column);
		return NULL;
	}
	return j;
}

/* find auths[host] in an "auths" object, keys normalised */
static json_t *auths_find(json_t *auths, const char *host)
{
	const char *key;
	json_t *v;

	if (!json_is_object(auths))
		return NULL;
	json_object_foreach(auths, key, v)
	{
		cleanup_free char *k = registry_auth_key_normalize(key);
		if (strcmp(k, host) == 0)
			return v;
	}
	return NULL;
}

static int creds_from_entry(json_t *entry, const char *path, struct registry_creds *out,
			    bool *found, struct pn_error **err)
{
	const char *auth = json_string_value(json_object_get(entry, "auth"));
	const char *idt = json_string_value(json_object_get(entry, "identitytoken"));
	cleanup_free char *dec = NULL;
	char *colon;

	if (idt && *idt) {
		out->user = xstrdup("<token>");
		out->pass = xstrdup(idt);
		*found = true;
		return 0;
	}
	if (!auth || !*auth)
		return 0;
	dec = registry_base64_decode(auth, NULL);
	if (!dec || !(colon = strchr(dec, ':')))
		return pn_error_set(err, PN_ERR_INVALID, "`%s`: malformed \"auth\" entry", path);
	out->user = xstrndup(dec, (size_t)(colon - dec));
	out->pass = xstrdup(colon + 1);
	explicit_bzero(dec, strlen(dec));
	*found = true;
	return 0;
}

static int creds_from_auth_file(const char *path, const char *host, struct registry_creds *out,
				bool *found, struct pn_error **err)
{
	cleanup_json json_t *j = load_json_file(path, err);
	json_t *entry;

	if (!j)
		return -1;
	entry = auths_find(json_object_get(j, "auths"), host);
	if (!entry)
		return 0;
	return creds_from_entry(entry, path, out, found, err);
}

/* a helper that gave no answer (pn_spawn_capture failed): why, as an
 * auth error */
static int helper_failed(const char *prog, int timeout, struct pn_error *e, struct pn_error **err)
{
	char lim[32];
	int rc;

	if (e->errno_val == ETIMEDOUT)
		rc = pn_error_set(err, PN_ERR_AUTH,
				  "credential helper `%s` did not answer within %d s: killed "
				  "(--credential-helper-timeout)",
				  prog, timeout);
	else if (e->code == PN_ERR_TOO_LARGE) {
		registry_limit_text(REGISTRY_HELPER_OUTPUT_MAX, lim, sizeof(lim));
		rc = pn_error_set(err, PN_ERR_AUTH,
				  "credential helper `%s` gave more than %s of output: killed",
				  prog, lim);
	} else /* it did not start, or a pipe or wait failed */
		rc = pn_error_set(err, PN_ERR_AUTH, "credential helper `%s` could not be run: %s",
				  prog, e->msg);
	pn_error_free(e);
	return rc;
}

/* the helper's JSON answer: {"Username", "Secret"} */
static int helper_answer(const char *prog, char *outp, size_t len, struct registry_creds *out,
			 bool *found, struct pn_error **err)
{
	cleanup_json json_t *j = json_loadb(outp ? outp : "", len, 0, NULL);
	const char *u = json_string_value(json_object_get(j, "Username"));
	const char *s = json_string_value(json_object_get(j, "Secret"));

	if (!u || !s)
		return pn_error_set(err, PN_ERR_AUTH,
				    "credential helper `%s` gave malformed output", prog);
	out->user = xstrdup(u);
	out->pass = xstrdup(s);
	*found = true;
	return 0;
}

/* run `docker-credential-<helper> get` with the host on stdin, in its own
 * process group, killed (with the group) after --credential-helper-timeout
 * or past REGISTRY_HELPER_OUTPUT_MAX of output */
static int creds_from_helper(const struct registry_opts *o, const char *helper, const char *host,
			     struct registry_creds *out, bool *found, struct pn_error **err)
{
	cleanup_free char *prog = xasprintf("docker-credential-%s", helper);
	int timeout = o->helper_timeout < 0 ? REGISTRY_DEFAULT_HELPER_TIMEOUT : o->helper_timeout;
	char *argv[] = {prog, (char *)"get", NULL};
	struct pn_spawn sp = {
		.argv = argv,
		.in = host,
		.in_len = strlen(host),
		.err_fd = -1,
		.max_out = REGISTRY_HELPER_OUTPUT_MAX,
		.timeout_ms = timeout * 1000,
		.path_search = true,
	};
	struct pn_error *e = NULL;
	char *outp = NULL;
	size_t len = 0;
	int status = 0, rc;

	if (pn_spawn_capture(&sp, &outp, &len, &status, &e) < 0)
		return helper_failed(prog, timeout, e, err);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127)
		rc = pn_error_set(err, PN_ERR_AUTH, "credential helper `%s` could not be run",
				  prog);
	else if (WEXITSTATUS(status) != 0)
		rc = 0; /* "credentials not found" */
	else
		rc = helper_answer(prog, outp, len, out, found, err);
	if (outp)
		explicit_bzero(outp, len);
	free(outp);
	return rc;
}

static char *docker_config_path(void)
{
	const char *d = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (d && *d)
		return pn_path_join(d, "config.json");
	if (!home || !*home)
		return NULL;
	return xasprintf("%s/.docker/config.json", home);
}

static int creds_from_docker_config(const struct registry_opts *o, const char *host,
				    struct registry_creds *out, bool *found, struct pn_error **err)
{
	cleanup_free char *path = docker_config_path();
	cleanup_json json_t *j = NULL;
	json_t *helpers, *entry;
	const char *key, *store;
	json_t *v;

	if (!path)
		return 0;
	j = load_json_file(path, err);
	if (!j)
		return -1;
	helpers = json_object_get(j, "credHelpers");
	if (json_is_object(helpers)) {
		json_object_foreach(helpers, key, v)
		{
			cleanup_free char *k = registry_auth_key_normalize(key);
			if (strcmp(k, host) == 0 && json_is_string(v))
				return creds_from_helper(o, json_string_value(v), host, out, found,
							 err);
		}
	}
	entry = auths_find(json_object_get(j, "auths"), host);
	if (entry && creds_from_entry(entry, path, out, found, err) < 0)
		return -1;
	if (*found)
		return 0;
	store = json_string_value(json_object_get(j, "credsStore"));
	if (store && *store) {
		/* docker stores Docker Hub under its v1 URL */
		const char *key2 = strcmp(host, REGISTRY_DEFAULT_REGISTRY) == 0
					   ? "https://index.docker.io/v1/"
					   : host;
		return creds_from_helper(o, store, key2, out, found, err);
	}
	return 0;
}

static char *auth_file_candidate(const struct registry_opts *o, int i)
{
	const char *env, *home = getenv("HOME");

	switch (i) {
	case 0:
		return o->auth_file ? xstrdup(o->auth_file) : NULL;
	case 1:
		env = getenv("REGISTRY_AUTH_FILE");
		return env && *env ? xstrdup(env) : NULL;
	case 2:
		env = getenv("XDG_RUNTIME_DIR");
		return env && *env ? xasprintf("%s/containers/auth.json", env) : NULL;
	case 3:
		env = getenv("XDG_CONFIG_HOME");
		if (env && *env)
			return xasprintf("%s/containers/auth.json", env);
		return home && *home ? xasprintf("%s/.config/containers/auth.json", home) : NULL;
	default:
		return NULL;
	}
}

char *registry_auth_file_default(const struct registry_opts *o)
{
	for (int i = 0; i < 4; i++) {
		char *p = auth_file_candidate(o, i);
		if (p)
			return p;
	}
	return xstrdup("auth.json");
}

int registry_auth_file_check(const struct registry_opts *o, struct pn_error **err)
{
	cleanup_free char *p = auth_file_candidate(o, o->auth_file ? 0 : 1);
	struct stat st;

	if (!p || stat(p, &st) == 0 || errno != ENOENT)
		return 0;
	return pn_error_set(err, PN_ERR_INVALID, "credentials file `%s` (%s) does not exist", p,
			    o->auth_file ? "--authfile" : "$REGISTRY_AUTH_FILE");
}

int registry_creds_lookup(const struct registry_opts *o, const char *host,
			  struct registry_creds *out, bool *found, struct pn_error **err)
{
	*found = false;
	if (o->username) {
		out->user = xstrdup(o->username);
		out->pass = xstrdup(o->password ? o->password : "");
		*found = true;
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		cleanup_free char *p = auth_file_candidate(o, i);
		if (!p)
			continue;
		if (creds_from_auth_file(p, host, out, found, err) < 0)
			return pn_error_wrap(err, "read credentials");
		if (*found)
			return 0;
		/* an explicitly named file is the only source */
		if (i <= 1)
			return 0;
	}
	if (creds_from_docker_config(o, host, out, found, err) < 0)
		return pn_error_wrap(err, "read credentials");
	return 0;
}

static int auth_file_write(const char *path, json_t *j, struct pn_error **err)
{
	cleanup_free char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		if (pn_mkdir_p(dir, 0700, err) < 0)
			return -1;
	}
	if (pn_write_file_atomic(path, text, strlen(text), 0600, err) < 0)
		return -1;
	explicit_bzero(text, strlen(text));
	return 0;
}

int registry_auth_file_store(const char *path, const char *host, const char *user, const char *pass,
			     struct pn_error **err)
{
	cleanup_json json_t *j = load_json_file(path, err);
	cleanup_free char *pair = NULL, *b64 = NULL;
	json_t *auths;

	if (!j)
		return -1;
	auths = json_object_get(j, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(j, "auths", auths);
	}
	pair = xasprintf("%s:%s", user, pass);
	b64 = registry_base64_encode(pair, strlen(pair));
	explicit_bzero(pair, strlen(pair));
	json_object_set_new(auths, host, json_pack("{s:s}", "auth", b64));
	explicit_bzero(b64, strlen(b64));
	return auth_file_write(path, j, err);
}

int registry_auth_file_remove(const char *path, const char *host, bool *removed,
			      struct pn_error **err)
{
	cleanup_json json_t *j = load_json_file(path, err);
	json_t *auths;
	const char *key;
	json_t *v;
	void *tmp;

	*removed = false;
	if (!j)
		return -1;
	auths = json_object_get(j, "auths");
	if (!json_is_object(auths))
		return 0;
	json_object_foreach_safe(auths, tmp, key, v)
	{
		cleanup_free char *k = registry_auth_key_normalize(key);
		if (strcmp(k, host) == 0) {
			json_object_del(auths, key);
			*removed = true;
		}
	}
	if (!*removed)
		return 0;
	return auth_file_write(path, j, err);
}
