/* opts.c - client options: defaults, mirrors, insecure hosts, the config file and
 * validated settings (the command line is the CLI's: assembler/cli/regopts.c) */
#include "registry/internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX ((size_t)1 << 20)

void registry_opts_init(struct registry_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retries = -1;
	o->low_speed_limit = -1;
	o->low_speed_time = o->request_timeout = o->blob_timeout = -1;
	o->helper_timeout = -1;
	o->progress = true;
}

static void mirror_release(struct registry_mirror *m)
{
	free(m->from);
	free(m->to);
	free(m->layout);
}

void registry_opts_release(struct registry_opts *o)
{
	for (size_t i = 0; i < o->n_mirrors; i++)
		mirror_release(&o->mirrors[i]);
	free(o->mirrors);
	pn_strv_release(&o->insecure);
	pn_strv_release(&o->cache_from);
	pn_strv_release(&o->cache_to);
	free(o->ca_bundle);
	free(o->auth_file);
	free(o->username);
	if (o->password)
		explicit_bzero(o->password, strlen(o->password));
	free(o->password);
	free(o->platform);
	registry_opts_init(o);
}

int registry_opts_add_mirror(struct registry_opts *o, const char *spec, struct pn_error **err)
{
	const char *eq = strchr(spec, '=');
	struct registry_mirror m = {0};

	if (!eq || eq == spec || !eq[1])
		return pn_error_set(
			err, PN_ERR_INVALID,
			"invalid mirror `%s`: expected FROM=HOST[:PORT] or FROM=oci:DIR", spec);
	m.from = xstrndup(spec, (size_t)(eq - spec));
	if (!registry_host_valid(m.from)) {
		pn_error_set(err, PN_ERR_INVALID,
			     "invalid mirror `%s`: `%s` is not a registry host", spec, m.from);
		free(m.from);
		return -1;
	}
	if (strncmp(eq + 1, "oci:", 4) == 0) {
		if (!eq[5]) {
			free(m.from);
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid mirror `%s`: empty layout path", spec);
		}
		m.layout = xstrdup(eq + 5);
	} else {
		const char *to = eq + 1;
		if (strncmp(to, "https://", 8) == 0)
			to += 8;
		else if (strncmp(to, "http://", 7) == 0)
			to += 7;
		m.to = xstrndup(to, strcspn(to, "/"));
		if (!registry_host_valid(m.to)) {
			pn_error_set(err, PN_ERR_INVALID,
				     "invalid mirror `%s`: `%s` is not host[:port]", spec, m.to);
			mirror_release(&m);
			return -1;
		}
		/* an explicit http:// target is a request for plain HTTP */
		if (strncmp(eq + 1, "http://", 7) == 0)
			registry_opts_add_insecure(o, m.to);
	}
	for (size_t i = 0; i < o->n_mirrors; i++) {
		if (strcmp(o->mirrors[i].from, m.from) == 0) {
			mirror_release(&o->mirrors[i]);
			o->mirrors[i] = m;
			return 0;
		}
	}
	o->mirrors = xrealloc(o->mirrors, st_mult(o->n_mirrors + 1, sizeof(*o->mirrors)));
	o->mirrors[o->n_mirrors++] = m;
	return 0;
}

void registry_opts_add_insecure(struct registry_opts *o, const char *host)
{
	if (!pn_strv_contains(&o->insecure, host))
		pn_strv_push(&o->insecure, host);
}

static char *default_config_path(bool *explicit_out)
{
	const char *env = getenv("PINION_REGISTRIES_CONF");
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	*explicit_out = false;
	if (env && *env) {
		*explicit_out = true;
		return xstrdup(env);
	}
	if (xdg && *xdg)
		return xasprintf("%s/pinion/registries.conf", xdg);
	if (home && *home)
		return xasprintf("%s/.config/pinion/registries.conf", home);
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "N[K|M|G|T][i][B]" (binary multiples), 1..max */
static int parse_size_max(const char *s, unsigned long long max, unsigned long long *out)
{
	static const char units[] = "kmgt";
	const char *u;
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0 || v > max)
		return -1;
	if (*end && (u = strchr(units, tolower((unsigned char)*end))) != NULL) {
		unsigned shift = 10 * (unsigned)(u - units + 1);
		if (v > (max >> shift))
			return -1;
		v <<= shift;
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B')
		end++;
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_size(const char *s, size_t *out)
{
	unsigned long long v;

	if (parse_size_max(s, (unsigned long long)1 << 40, &v) < 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* the numeric settings a flag (--NAME) or a config line (NAME) sets: 1 if
 * name is one, 0 if not, < 0 on a bad value */
static int opts_set_number(struct registry_opts *o, const char *name, const char *v,
			   struct pn_error **err)
{
	long n;
	size_t sz;

	if (strcmp(name, "retries") == 0) {
		if (pn_parse_long(v, 0, 20, &n) < 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--retries %s`: expected 0-20", v);
		o->retries = (int)n;
	} else if (strcmp(name, "low-speed-limit") == 0) {
		if (strcmp(v, "0") != 0 && (parse_size(v, &sz) < 0 || sz > ((size_t)1 << 30)))
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--low-speed-limit %s`: expected bytes per "
					    "second (K/M suffixes), 0 = off",
					    v);
		o->low_speed_limit = strcmp(v, "0") == 0 ? 0 : (int64_t)sz;
	} else if (strcmp(name, "max-blob-size") == 0) {
		unsigned long long v2;
		if (parse_size_max(v, (unsigned long long)REGISTRY_MAX_BLOB_SIZE_MAX, &v2) < 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--max-blob-size %s`: expected bytes 1-1P "
					    "(K/M/G/T suffixes)",
					    v);
		o->max_blob_size = (int64_t)v2;
	} else if (strcmp(name, "credential-helper-timeout") == 0) {
		if (pn_parse_long(v, 0, REGISTRY_TIMEOUT_MAX, &n) < 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--%s %s`: expected seconds 0-%d (0 = none)",
					    name, v, REGISTRY_TIMEOUT_MAX);
		o->helper_timeout = (int)n;
	} else if (strcmp(name, "low-speed-time") == 0 || strcmp(name, "request-timeout") == 0 ||
		   strcmp(name, "blob-timeout") == 0) {
		if (pn_parse_long(v, 0, REGISTRY_TIMEOUT_MAX, &n) < 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--%s %s`: expected seconds 0-%d (0 = off)",
					    name, v, REGISTRY_TIMEOUT_MAX);
		if (name[0] == 'l')
			o->low_speed_time = (int)n;
		else if (name[0] == 'r')
			o->request_timeout = (int)n;
		else
			o->blob_timeout = (int)n;
	} else {
		return 0;
	}
	return 1;
}

static int config_line(struct registry_opts *o, char *line, struct pn_error **err)
{
	char *word = line, *arg;

	arg = word + strcspn(word, " \t");
	if (*arg)
		*arg++ = '\0';
	arg = trim(arg);
	if (!*arg)
		return pn_error_set(err, PN_ERR_INVALID, "`%s` needs a value", word);
	if (strcmp(word, "mirror") == 0)
		return registry_opts_add_mirror(o, arg, err);
	if (strcmp(word, "insecure") == 0) {
		if (!registry_host_valid(arg))
			return pn_error_set(err, PN_ERR_INVALID, "`%s` is not host[:port]", arg);
		registry_opts_add_insecure(o, arg);
		return 0;
	}
	if (strcmp(word, "ca-bundle") == 0) {
		free(o->ca_bundle);
		o->ca_bundle = xstrdup(arg);
		return 0;
	}
	if (strcmp(word, "cache-from") == 0 || strcmp(word, "cache-to") == 0) {
		pn_strv_push(word[6] == 'f' ? &o->cache_from : &o->cache_to, arg);
		return 0;
	}
	int r = opts_set_number(o, word, arg, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return pn_error_set(
		err, PN_ERR_INVALID,
		"unknown directive `%s` (expected mirror, insecure, ca-bundle, cache-from, "
		"cache-to, retries, "
		"low-speed-limit, low-speed-time, request-timeout, blob-timeout, max-blob-size or "
		"credential-helper-timeout)",
		word);
}

int registry_opts_load_config(struct registry_opts *o, const char *path, struct pn_error **err)
{
	cleanup_free char *owned = NULL, *data = NULL;
	bool explicit_path = path != NULL;
	struct pn_error *e = NULL;
	size_t len = 0;

	if (!path) {
		owned = default_config_path(&explicit_path);
		path = owned;
		if (!path)
			return 0;
	}
	if (pn_read_file(path, CONFIG_MAX, &data, &len, &e) < 0) {
		if (e->code == PN_ERR_NOT_FOUND && !explicit_path) {
			pn_error_free(e);
			return 0;
		}
		pn_error_propagate(err, e);
		return pn_error_wrap(err, "read registries config");
	}
	return registry_opts_parse_config(o, path, data, len, err);
}

int registry_opts_parse_config(struct registry_opts *o, const char *name, const char *text,
			       size_t len, struct pn_error **err)
{
	cleanup_free char *data = xstrndup(text, len);
	int lineno = 0;

	if (strlen(data) != len)
		return pn_error_set(err, PN_ERR_INVALID, "%s: contains a NUL byte", name);
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *t = trim(line);
		if (!*t)
			continue;
		if (config_line(o, t, err) < 0) {
			if (err && *err && (*err)->code != PN_ERR_INVALID)
				(*err)->code = PN_ERR_INVALID;
			return pn_error_wrap(err, "%s:%d", name, lineno);
		}
	}
	return 0;
}

int registry_opts_set(struct registry_opts *o, const char *name, const char *value,
		      struct pn_error **err)
{
	size_t sz;
	long n;

	if (strcmp(name, "platform") == 0) {
		if (!strchr(value, '/'))
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid platform `%s`: expected OS/ARCH[/VARIANT]",
					    value);
		free(o->platform);
		o->platform = xstrdup(value);
	} else if (strcmp(name, "parallel") == 0) {
		if (pn_parse_long(value, 1, 64, &n) < 0)
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--parallel %s`: expected 1-64", value);
		o->parallel = (int)n;
	} else if (strcmp(name, "chunk-size") == 0) {
		if (parse_size(value, &sz) < 0 || sz < 1024)
			return pn_error_set(err, PN_ERR_INVALID,
					    "invalid `--chunk-size %s`: expected bytes >= 1024",
					    value);
		o->chunk_size = sz;
		o->monolithic_max = sz;
	} else {
		int r = opts_set_number(o, name, value, err);

		if (r <= 0)
			return r < 0 ? -1
				     : pn_error_set(err, PN_ERR_INVALID, "unknown setting `%s`",
						    name);
	}
	return 0;
}
