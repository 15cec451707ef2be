/* user.c - pure helpers: the step's user from /etc/passwd text, its env */
#include "runner/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PASSWD_FIELDS 7
#define DEFAULT_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool parse_id(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > UINT32_MAX - 1)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* find the line whose field 0 (by name) or field 2 (by id) matches; split it
 * into fields (owned copy in *line_out) */
static bool db_find(const char *text, const char *name, const uint32_t *id, char **line_out,
		    char *fields[PASSWD_FIELDS])
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char *line = xstrndup(text, len), *p = line;
		size_t n = 0;
		uint32_t v;

		for (; n < PASSWD_FIELDS; n++) {
			fields[n] = p;
			p = p ? strchr(p, ':') : NULL;
			if (p)
				*p++ = '\0';
		}
		if (fields[0] && fields[2] &&
		    ((name && strcmp(fields[0], name) == 0) ||
		     (id && parse_id(fields[2], &v) && v == *id))) {
			*line_out = line;
			return true;
		}
		free(line);
		text = nl ? nl + 1 : text + len;
	}
	return false;
}

static int resolve_group(const char *spec, const char *group, uint32_t *gid, struct pn_error **err)
{
	cleanup_free char *line = NULL;
	char *f[PASSWD_FIELDS] = {0};

	if (parse_id(spec, gid))
		return 0;
	if (!db_find(group, spec, NULL, &line, f) || !parse_id(f[2], gid))
		return pn_error_set(err, PN_ERR_INVALID,
				    "group `%s` not found in the image's /etc/group", spec);
	return 0;
}

int runner_user_resolve(const char *spec, const char *passwd, const char *group,
			struct runner_user *out, struct pn_error **err)
{
	cleanup_free char *u = xstrdup(spec && *spec ? spec : "0");
	cleanup_free char *line = NULL;
	char *colon = strchr(u, ':'), *f[PASSWD_FIELDS] = {0};
	uint32_t uid = 0;
	bool numeric;

	if (colon)
		*colon++ = '\0';
	if (!*u || (colon && !*colon))
		return pn_error_set(err, PN_ERR_INVALID, "bad user `%s`", spec);
	numeric = parse_id(u, &uid);
	out->uid = uid;
	out->gid = numeric ? uid : 0;
	out->home = NULL;
	if (db_find(passwd, numeric ? NULL : u, numeric ? &uid : NULL, &line, f)) {
		if (!parse_id(f[2], &out->uid) || !f[3] || !parse_id(f[3], &out->gid))
			return pn_error_set(err, PN_ERR_INVALID, "bad /etc/passwd entry for `%s`",
					    u);
		if (f[5] && *f[5])
			out->home = xstrdup(f[5]);
	} else if (!numeric) {
		return pn_error_set(err, PN_ERR_INVALID,
				    "user `%s` not found in the image's /etc/passwd", u);
	}
	if (colon && resolve_group(colon, group, &out->gid, err) < 0) {
		runner_user_release(out);
		return -1;
	}
	if (!out->home)
		out->home = xstrdup("/");
	return 0;
}

void runner_user_release(struct runner_user *u)
{
	free(u->home);
	u->home = NULL;
}

static void env_set(struct pn_strv *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t n = eq ? (size_t)(eq - kv) : strlen(kv);

	if (!eq || n == 0)
		return;
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], kv, n) == 0 && env->v[i][n] == '=') {
			free(env->v[i]);
			env->v[i] = xstrdup(kv);
			return;
		}
	}
	pn_strv_push(env, kv);
}

static bool env_has(const struct pn_strv *env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=')
			return true;
	return false;
}

void runner_env_build(const struct pn_strv *config_env, const char *const *step_env,
		      const char *home, struct pn_strv *out)
{
	for (size_t i = 0; config_env && i < config_env->n; i++)
		env_set(out, config_env->v[i]);
	for (size_t i = 0; step_env && step_env[i]; i++)
		env_set(out, step_env[i]);
	if (!env_has(out, "PATH"))
		pn_strv_push(out, "PATH=" DEFAULT_PATH);
	if (!env_has(out, "HOME")) {
		char *h = xasprintf("HOME=%s", home ? home : "/root");

		pn_strv_push_owned(out, h);
	}
}
