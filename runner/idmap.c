/* idmap.c - which ids the sandbox maps: root, subordinate ranges, or one id */
#include "runner/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUBID_FILE_MAX	((size_t)1 << 20)
#define SUBID_RANGE_MAX 65535u /* ids 1..65535 from the subordinate range */

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* one "name:start:count" line; 1 if it is ours */
static int subid_line(const char *line, size_t len, const char *user, uint32_t uid, uint32_t *start,
		      uint32_t *count, size_t lineno, struct pn_error **err)
{
	const char *c1 = memchr(line, ':', len), *c2;
	uint32_t id;
	bool mine;

	if (!c1 || !(c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line))))
		return pn_error_set(err, PN_ERR_INVALID, "line %zu: expected `name:start:count`",
				    lineno);
	if (parse_u32(c1 + 1, (size_t)(c2 - c1 - 1), start) < 0 ||
	    parse_u32(c2 + 1, len - (size_t)(c2 + 1 - line), count) < 0)
		return pn_error_set(err, PN_ERR_INVALID, "line %zu: bad number in `%.*s`", lineno,
				    (int)len, line);
	mine = user && strlen(user) == (size_t)(c1 - line) &&
	       memcmp(line, user, (size_t)(c1 - line)) == 0;
	if (!mine && parse_u32(line, (size_t)(c1 - line), &id) == 0 && id == uid)
		mine = true;
	return mine && *count > 0;
}

int runner_subid_parse(const char *text, const char *user, uint32_t uid, uint32_t *start_out,
		       uint32_t *count_out, struct pn_error **err)
{
	size_t lineno = 0;

	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		uint32_t s = 0, c = 0;
		int rc;

		lineno++;
		while (len && (text[len - 1] == '\r' || text[len - 1] == ' '))
			len--;
		if (len && text[0] != '#') {
			rc = subid_line(text, len, user, uid, &s, &c, lineno, err);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				*start_out = s;
				*count_out = c;
				return 0;
			}
		}
		text = nl ? nl + 1 : text + len;
	}
	return 1;
}

char *runner_idmap_format(const struct runner_idrange *r, size_t n)
{
	struct pn_buf b = PN_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		pn_buf_printf(&b, NULL, "%u %u %u\n", r[i].inside, r[i].outside, r[i].count);
	if (!b.data)
		return xstrdup("");
	return pn_buf_steal(&b, NULL);
}

static bool have_prog(const char *name)
{
	const char *path = getenv("PATH");
	cleanup_free char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *p = pn_path_join(d, name);

		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* 0 with the range, 1 if the user has none (or the file is missing) */
static int subid_lookup(const char *file, const char *user, uint32_t id, uint32_t *start,
			uint32_t *count, struct pn_error **err)
{
	cleanup_free char *text = NULL;
	size_t len;
	struct pn_error *e = NULL;
	int rc;

	if (pn_read_file(file, SUBID_FILE_MAX, &text, &len, &e) < 0) {
		bool absent = e->code == PN_ERR_NOT_FOUND;

		pn_error_free(e);
		if (absent)
			return 1;
		return pn_error_set(err, PN_ERR_GENERIC, "read `%s`", file);
	}
	rc = runner_subid_parse(text, user, id, start, count, err);
	if (rc < 0)
		return pn_error_wrap(err, "parse `%s`", file);
	return rc;
}

static void map_single(struct runner_idmap *m, uid_t uid, gid_t gid)
{
	m->mode = RUNNER_IDMAP_SINGLE;
	m->uid[0] = (struct runner_idrange){0, uid, 1};
	m->gid[0] = (struct runner_idrange){0, gid, 1};
	m->n_uid = m->n_gid = 1;
}

int runner_idmap_detect(struct runner_idmap *out, struct pn_error **err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct passwd *pw = getpwuid(uid);
	const char *user = pw ? pw->pw_name : NULL;
	const char *force = getenv("PINION_RUNNER_IDMAP");
	uint32_t us = 0, uc = 0, gs = 0, gc = 0;
	int ru, rg;

	memset(out, 0, sizeof(*out));
	if (uid == 0 && !(force && strcmp(force, "single") == 0)) {
		out->mode = RUNNER_IDMAP_ROOT;
		out->uid[0] = (struct runner_idrange){0, 0, UINT32_MAX};
		out->gid[0] = (struct runner_idrange){0, 0, UINT32_MAX};
		out->n_uid = out->n_gid = 1;
		return 0;
	}
	map_single(out, uid, gid);
	if (force && strcmp(force, "single") == 0)
		return 0;
	ru = subid_lookup("/etc/subuid", user, uid, &us, &uc, err);
	if (ru < 0)
		return -1;
	rg = subid_lookup("/etc/subgid", user, uid, &gs, &gc, err);
	if (rg < 0)
		return -1;
	if (ru || rg || !have_prog("newuidmap") || !have_prog("newgidmap"))
		return 0;
	out->mode = RUNNER_IDMAP_SUBID;
	out->uid[1] = (struct runner_idrange){1, us, uc < SUBID_RANGE_MAX ? uc : SUBID_RANGE_MAX};
	out->gid[1] = (struct runner_idrange){1, gs, gc < SUBID_RANGE_MAX ? gc : SUBID_RANGE_MAX};
	out->n_uid = out->n_gid = 2;
	return 0;
}

void runner_idmap_notice(const struct runner_idmap *m)
{
	static bool said;
	struct passwd *pw;

	if (said || m->mode != RUNNER_IDMAP_SINGLE)
		return;
	said = true;
	pw = getpwuid(geteuid());
	pn_warn("no subordinate ids for `%s` in /etc/subuid and /etc/subgid: the sandbox maps "
		"only your own id (as root); files in the image all belong to root, and steps "
		"cannot switch to other users (apt runs its downloads as root)",
		pw ? pw->pw_name : "?");
	pn_warn("to map ids 0-65535, ask an administrator to run: usermod --add-subuids "
		"100000-165535 --add-subgids 100000-165535 %s (needs newuidmap/newgidmap from "
		"uidmap)",
		pw ? pw->pw_name : "USER");
}

static int write_proc(pid_t pid, const char *file, const char *text, struct pn_error **err)
{
	cleanup_free char *p = xasprintf("/proc/%d/%s", (int)pid, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || pn_write_all(fd, text, strlen(text)) < 0)
		return pn_error_set_errno(err, errno, "write `%s`", p);
	return 0;
}

static int run_helper(const char *prog, pid_t pid, const struct runner_idrange *r, size_t n,
		      struct pn_error **err)
{
	char *argv[2 + 3 * RUNNER_IDMAP_MAX_RANGES + 1];
	char nums[1 + 3 * RUNNER_IDMAP_MAX_RANGES][16];
	size_t k = 0;
	pid_t c;
	int st;

	argv[k] = (char *)prog;
	snprintf(nums[0], sizeof(nums[0]), "%d", (int)pid);
	argv[++k] = nums[0];
	for (size_t i = 0; i < n; i++) {
		uint32_t v[3] = {r[i].inside, r[i].outside, r[i].count};

		for (int j = 0; j < 3; j++) {
			snprintf(nums[1 + 3 * i + (size_t)j], 16, "%u", v[j]);
			argv[++k] = nums[1 + 3 * i + (size_t)j];
		}
	}
	argv[++k] = NULL;
	c = fork();
	if (c < 0)
		return pn_error_set_errno(err, errno, "fork");
	if (c == 0) {
		execvp(prog, argv);
		_exit(127);
	}
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		pn_error_set(err, PN_ERR_GENERIC, "`%s` failed (status %d)", prog,
			     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		pn_error_hint(
			err,
			"check /etc/subuid and /etc/subgid, or set PINION_RUNNER_IDMAP=single");
		return -1;
	}
	return 0;
}

int runner_idmap_apply(const struct runner_idmap *m, pid_t pid, struct pn_error **err)
{
	cleanup_free char *u = runner_idmap_format(m->uid, m->n_uid);
	cleanup_free char *g = runner_idmap_format(m->gid, m->n_gid);

	if (m->mode == RUNNER_IDMAP_SUBID) {
		if (run_helper("newuidmap", pid, m->uid, m->n_uid, err) < 0 ||
		    run_helper("newgidmap", pid, m->gid, m->n_gid, err) < 0)
			return -1;
		return 0;
	}
	if (m->mode == RUNNER_IDMAP_SINGLE && write_proc(pid, "setgroups", "deny", err) < 0)
		return -1;
	if (write_proc(pid, "uid_map", u, err) < 0 || write_proc(pid, "gid_map", g, err) < 0)
		return -1;
	return 0;
}
