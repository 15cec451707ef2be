/* idmap.c - which ids the sandbox maps: root, subordinate ranges, or one id */
#include "runner/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	PN_BUF_ASSERT(&b); /* at most RUNNER_IDMAP_MAX_RANGES short lines */
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

/* ------------------------------------------------ the ids we actually have */

int runner_idmap_parse(const char *text, struct runner_idrange *out, size_t max, size_t *n_out,
		       struct pn_error **err)
{
	size_t n = 0, lineno = 0;

	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		const char *p = text, *end = text + len;
		uint32_t v[3];
		int k = 0;

		lineno++;
		if (strspn(text, " \t\r") >= len) { /* blank line */
			text = nl ? nl + 1 : end;
			continue;
		}
		while (k < 3) {
			const char *w;

			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			w = p;
			while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
				p++;
			if (p == w || parse_u32(w, (size_t)(p - w), &v[k]) < 0)
				break;
			k++;
		}
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (k != 3 || p != end || v[2] == 0 ||
		    (uint64_t)v[0] + v[2] > (uint64_t)UINT32_MAX + 1)
			return pn_error_set(err, PN_ERR_INVALID,
					    "line %zu: expected `inside outside count`", lineno);
		if (n == max)
			return pn_error_set(err, PN_ERR_TOO_LARGE, "more than %zu id ranges", max);
		out[n++] = (struct runner_idrange){v[0], v[1], v[2]};
		text = nl ? nl + 1 : end;
	}
	*n_out = n;
	return 0;
}

uint64_t runner_idmap_span(const struct runner_idrange *r, size_t n)
{
	uint64_t next = 0;
	bool grew = true;

	/* the ranges may come in any order: extend [0, next) until nothing adds */
	while (grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			uint64_t lo = r[i].inside, hi = lo + r[i].count;

			if (lo <= next && hi > next) {
				next = hi;
				grew = true;
			}
		}
	}
	return next;
}

static bool map_is_identity(const struct runner_idrange *r, size_t n)
{
	return n == 1 && r[0].inside == 0 && r[0].outside == 0 && r[0].count == UINT32_MAX;
}

static void map_single(struct runner_idmap *m, uid_t uid, gid_t gid)
{
	m->mode = RUNNER_IDMAP_SINGLE;
	m->uid[0] = (struct runner_idrange){0, uid, 1};
	m->gid[0] = (struct runner_idrange){0, gid, 1};
	m->n_uid = m->n_gid = 1;
}

/* The ids [0, span) of ours, 1:1, one range per range of our own map: the
 * kernel wants each range of a child's map inside ONE range of its parent's
 * (rootless podman maps 0 and 1..65535 from two places).  Returns how many
 * ranges (at most max), 0 if 0 is not ours. */
static size_t identity_ranges(const struct runner_idrange *r, size_t n, struct runner_idrange *out,
			      size_t max)
{
	uint64_t next = 0;
	size_t k = 0;

	while (k < max) {
		size_t i;

		for (i = 0; i < n && r[i].inside != next; i++)
			;
		if (i == n)
			break;
		/* a count of 2^32 ids does not fit: the kernel's largest is 2^32-1 */
		out[k++] = (struct runner_idrange){r[i].inside, r[i].inside, r[i].count};
		next = (uint64_t)r[i].inside + r[i].count;
	}
	return k;
}

int runner_idmap_choose_root(const char *uid_map, const char *gid_map, const char *setgroups,
			     gid_t egid, struct runner_idmap *out, struct pn_error **err)
{
	struct runner_idrange u[RUNNER_IDMAP_PROC_RANGES], g[RUNNER_IDMAP_PROC_RANGES];
	size_t nu = 0, ng = 0;
	uint64_t su, sg;

	memset(out, 0, sizeof(*out));
	if (runner_idmap_parse(uid_map, u, RUNNER_IDMAP_PROC_RANGES, &nu, err) < 0)
		return pn_error_wrap(err, "parse uid_map");
	if (runner_idmap_parse(gid_map, g, RUNNER_IDMAP_PROC_RANGES, &ng, err) < 0)
		return pn_error_wrap(err, "parse gid_map");
	out->setgroups_deny = setgroups && strncmp(setgroups, "deny", 4) == 0;
	if (map_is_identity(u, nu) && map_is_identity(g, ng)) {
		out->mode = RUNNER_IDMAP_ROOT;
		out->uid[0] = (struct runner_idrange){0, 0, UINT32_MAX};
		out->gid[0] = (struct runner_idrange){0, 0, UINT32_MAX};
		out->n_uid = out->n_gid = 1;
		return 0;
	}
	/* root of a user namespace: map the ids of ours that start at 0, 1:1 */
	su = runner_idmap_span(u, nu);
	sg = runner_idmap_span(g, ng);
	if (su < 2 || sg < 2) {
		map_single(out, 0, sg >= 1 ? 0 : egid);
		out->in_userns = true;
		return 0;
	}
	out->mode = RUNNER_IDMAP_USERNS;
	out->in_userns = true;
	out->n_uid = identity_ranges(u, nu, out->uid, RUNNER_IDMAP_MAX_RANGES);
	out->n_gid = identity_ranges(g, ng, out->gid, RUNNER_IDMAP_MAX_RANGES);
	return 0;
}

char *runner_read_text(const char *path, size_t max)
{
	char *text = NULL;
	size_t len = 0;

	if (pn_read_file(path, max, &text, &len, NULL) < 0)
		return NULL;
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

/* /proc/self/<name>; NULL if it cannot be read (a kernel without user
 * namespaces has no uid_map: then we are real root) */
static char *read_self(const char *name)
{
	cleanup_free char *p = xasprintf("/proc/self/%s", name);

	return runner_read_text(p, SUBID_FILE_MAX);
}

static int detect_root(gid_t gid, struct runner_idmap *out, struct pn_error **err)
{
	cleanup_free char *um = read_self("uid_map");
	cleanup_free char *gm = read_self("gid_map");
	cleanup_free char *sg = read_self("setgroups");

	if (!um || !gm) {
		memset(out, 0, sizeof(*out));
		out->mode = RUNNER_IDMAP_ROOT;
		out->uid[0] = (struct runner_idrange){0, 0, UINT32_MAX};
		out->gid[0] = (struct runner_idrange){0, 0, UINT32_MAX};
		out->n_uid = out->n_gid = 1;
		return 0;
	}
	if (runner_idmap_choose_root(um, gm, sg, gid, out, err) < 0)
		return pn_error_wrap(err, "read the ids of this process (/proc/self)");
	return 0;
}

int runner_idmap_detect(struct runner_idmap *out, struct pn_error **err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	struct passwd *pw = getpwuid(uid);
	const char *user = pw ? pw->pw_name : NULL;
	const char *force = getenv("PINION_RUNNER_IDMAP");
	bool single = force && strcmp(force, "single") == 0;
	uint32_t us = 0, uc = 0, gs = 0, gc = 0;
	int ru, rg;

	memset(out, 0, sizeof(*out));
	if (uid == 0 && !single)
		return detect_root(gid, out, err);
	map_single(out, uid, gid);
	if (single)
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

bool runner_idmap_can_setgroups(const struct runner_idmap *m)
{
	return m->mode != RUNNER_IDMAP_SINGLE && !m->setgroups_deny;
}

void runner_idmap_notice(const struct runner_idmap *m)
{
	static bool said;
	struct passwd *pw;

	if (said)
		return;
	if (m->mode == RUNNER_IDMAP_USERNS && runner_idmap_span(m->uid, m->n_uid) < 65536) {
		uint64_t n = runner_idmap_span(m->uid, m->n_uid);

		said = true;
		pn_warn("root in a user namespace with %llu ids: the sandbox maps ids 0-%llu; "
			"files of other owners cannot be unpacked",
			(unsigned long long)n, (unsigned long long)n - 1);
		return;
	}
	if (m->mode != RUNNER_IDMAP_SINGLE)
		return;
	said = true;
	if (m->in_userns) {
		pn_warn("root in a user namespace with one id: the sandbox maps only that id; "
			"files in the image all belong to root, and steps cannot switch to other "
			"users (to map 0-65535, give the namespace 65536 ids: `unshare "
			"--map-auto`, "
			"rootless podman, Kubernetes `hostUsers: false`)");
		return;
	}
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

	if (fd < 0 || pn_write_all(fd, text, strlen(text)) < 0 || pn_close(&fd) < 0)
		return pn_error_set_errno(err, errno, "write `%s`", p);
	return 0;
}

/* what newuidmap/newgidmap may print on stdout (normally nothing) */
#define IDMAP_HELPER_OUTPUT_MAX ((size_t)64 << 10)

static int run_helper(const char *prog, pid_t pid, const struct runner_idrange *r, size_t n,
		      struct pn_error **err)
{
	char *argv[2 + 3 * RUNNER_IDMAP_MAX_RANGES + 1];
	char nums[1 + 3 * RUNNER_IDMAP_MAX_RANGES][16];
	/* its complaints reach the user in the error (stderr may be JSON only) */
	cleanup_close int efd = memfd_create("idmap-helper-stderr", MFD_CLOEXEC);
	struct pn_spawn sp = {.argv = argv,
			      .err_fd = efd >= 0 ? efd : STDERR_FILENO,
			      .max_out = IDMAP_HELPER_OUTPUT_MAX,
			      .path_search = true};
	char said[512] = "";
	size_t k = 0;
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
	if (pn_spawn_capture(&sp, NULL, NULL, &st, err) < 0) {
		pn_error_hint(err, "newuidmap and newgidmap come with the uidmap package");
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		ssize_t got = efd >= 0 ? pread(efd, said, sizeof(said) - 1, 0) : -1;

		while (got > 0 && (said[got - 1] == '\n' || said[got - 1] == '\r'))
			got--;
		said[got > 0 ? got : 0] = '\0';
		pn_error_set(err, PN_ERR_GENERIC, "`%s` failed (status %d)%s%s", prog,
			     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
			     *said ? ": " : "", said);
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
	/* one id: the kernel wants setgroups denied first (unless it already is) */
	if (m->mode == RUNNER_IDMAP_SINGLE && !m->setgroups_deny &&
	    write_proc(pid, "setgroups", "deny", err) < 0)
		return -1;
	if (write_proc(pid, "uid_map", u, err) < 0 || write_proc(pid, "gid_map", g, err) < 0)
		return -1;
	return 0;
}
