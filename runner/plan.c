/* plan.c - the mount plan of a sandbox (pure: no system calls) */
#include "runner/internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#define OVERLAY_OPTS_MAX 4000 /* mount(2) data is one page */

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
/* the parts of /proc that reach the host's kernel, not the sandbox's
 * namespaces: read-only, so a root step cannot set kernel.core_pattern, vm.*,
 * trigger sysrq or change IRQ affinity (the step has no CAP_SYS_ADMIN to
 * remount them, and a nested user namespace sees them locked) */
static const char *const proc_ro[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus"};

void runner_plan_init(struct runner_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void runner_plan_release(struct runner_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->m[i].source);
		free(p->m[i].target);
		free(p->m[i].data);
	}
	free(p->m);
	pn_strv_release(&p->mountpoints);
	memset(p, 0, sizeof(*p));
}

static void add(struct runner_plan *p, enum runner_mount_kind kind, const char *source,
		const char *target, const char *data)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->m = xrealloc(p->m, st_mult(p->cap, sizeof(*p->m)));
	}
	p->m[p->n++] = (struct runner_mount){kind, source ? xstrdup(source) : NULL, xstrdup(target),
					     data ? xstrdup(data) : NULL};
}

/* "/run/secrets/x" -> "run/secrets/x"; refuses "..", "." and empty components */
static char *clean_target(const char *t, const char *what, struct pn_error **err)
{
	const char *s;

	if (!t || t[0] != '/')
		return pn_error_set(err, PN_ERR_INVALID, "%s target `%s` is not an absolute path",
				    what, t ? t : ""),
		       NULL;
	while (*t == '/')
		t++;
	if (!*t)
		return pn_error_set(err, PN_ERR_INVALID, "%s target `/` is not a file", what), NULL;
	for (s = t; *s;) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return pn_error_set(err, PN_ERR_INVALID,
					    "%s target `/%s` must be a plain path "
					    "(no `.`, `..` or `//`)",
					    what, t),
			       NULL;
		s += n;
		if (*s == '/' && s[1] == '\0')
			return pn_error_set(err, PN_ERR_INVALID, "%s target `/%s` ends with `/`",
					    what, t),
			       NULL;
		if (*s == '/')
			s++;
	}
	if (strncmp(t, "proc", 4) == 0 || strncmp(t, "dev", 3) == 0)
		if (t[strcspn(t, "/")] == '/' &&
		    (strncmp(t, "proc/", 5) == 0 || strncmp(t, "dev/", 4) == 0))
			return pn_error_set(err, PN_ERR_INVALID,
					    "%s target `/%s` is on /proc or /dev", what, t),
			       NULL;
	return xstrdup(t);
}

bool runner_lower_shadowed(const struct pn_strv *lowers, size_t i)
{
	for (size_t j = i + 1; j < lowers->n; j++)
		if (strcmp(lowers->v[j], lowers->v[i]) == 0)
			return true;
	return false;
}

char *runner_overlay_options(const char *mnt_layer, const struct pn_strv *lowers, const char *upper,
			     const char *work, struct pn_error **err)
{
	struct pn_buf b = PN_BUF_INIT;
	const char *all[] = {mnt_layer, upper, work};

	for (size_t i = 0; i < 3 + lowers->n; i++) {
		const char *s = i < 3 ? all[i] : lowers->v[i - 3];

		if (s && strpbrk(s, ":,\\")) {
			pn_buf_release(&b);
			return pn_error_set(err, PN_ERR_INVALID,
					    "path `%s` has `:`, `,` or `\\`, which "
					    "overlay options cannot carry",
					    s),
			       NULL;
		}
	}
	pn_buf_init(&b, OVERLAY_OPTS_MAX);
	if (pn_buf_printf(&b, err, "lowerdir=%s", mnt_layer) < 0)
		goto too_long;
	for (size_t i = lowers->n; i > 0; i--)
		if (!runner_lower_shadowed(lowers, i - 1) &&
		    pn_buf_printf(&b, err, ":%s", lowers->v[i - 1]) < 0)
			goto too_long;
	if (upper && pn_buf_printf(&b, err, ",upperdir=%s,workdir=%s", upper, work) < 0)
		goto too_long;
	if (pn_buf_puts(&b, ",userxattr", err) < 0)
		goto too_long;
	return pn_buf_steal(&b, NULL);
too_long:
	pn_buf_release(&b);
	pn_error_set(err, PN_ERR_TOO_LARGE, "overlay options for %zu layers exceed one page",
		     lowers->n);
	return NULL;
}

static void plan_dev(struct runner_plan *p)
{
	add(p, RUNNER_MNT_TMPFS, "tmpfs", "dev", "mode=755,size=65536k");
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		cleanup_free char *src = xasprintf("/dev/%s", dev_nodes[i]);
		cleanup_free char *dst = xasprintf("dev/%s", dev_nodes[i]);

		add(p, RUNNER_MNT_BIND_DEV, src, dst, NULL);
	}
	add(p, RUNNER_MNT_DEVPTS, "devpts", "dev/pts", "newinstance,ptmxmode=0666,mode=620");
	add(p, RUNNER_MNT_SYMLINK, "pts/ptmx", "dev/ptmx", NULL);
	add(p, RUNNER_MNT_SYMLINK, "/proc/self/fd", "dev/fd", NULL);
	add(p, RUNNER_MNT_SYMLINK, "/proc/self/fd/0", "dev/stdin", NULL);
	add(p, RUNNER_MNT_SYMLINK, "/proc/self/fd/1", "dev/stdout", NULL);
	add(p, RUNNER_MNT_SYMLINK, "/proc/self/fd/2", "dev/stderr", NULL);
	add(p, RUNNER_MNT_TMPFS, "shm", "dev/shm", "mode=1777,size=65536k");
}

int runner_plan_build(struct runner_plan *p, const struct pn_strv *lowers, const char *upper,
		      const char *work, const char *mnt_layer, const struct runner_secret *secrets,
		      size_t n_secrets, const char *secret_dir, struct pn_error **err)
{
	struct pn_error *e = NULL;
	char *opts = runner_overlay_options(mnt_layer, lowers, upper, work, &e);

	if (!opts && e->code != PN_ERR_TOO_LARGE) {
		pn_error_propagate(err, e);
		return -1;
	}
	/* no data: too long for mount(2), sandbox.c uses fsconfig lowerdir+ */
	pn_error_free(e);
	add(p, RUNNER_MNT_OVERLAY, "overlay", "", opts);
	free(opts);
	add(p, RUNNER_MNT_PROC, "proc", "proc", NULL);
	for (size_t i = 0; i < sizeof(proc_ro) / sizeof(proc_ro[0]); i++)
		add(p, RUNNER_MNT_PROC_RO, NULL, proc_ro[i], NULL);
	plan_dev(p);
	pn_strv_push(&p->mountpoints, "proc/");
	pn_strv_push(&p->mountpoints, "dev/");
	pn_strv_push(&p->mountpoints, "sys/");
	add(p, RUNNER_MNT_BIND_RO, "/etc/resolv.conf", "etc/resolv.conf", NULL);
	add(p, RUNNER_MNT_BIND_RO, "/etc/hosts", "etc/hosts", NULL);
	pn_strv_push(&p->mountpoints, "etc/resolv.conf");
	pn_strv_push(&p->mountpoints, "etc/hosts");
	for (size_t i = 0; i < n_secrets; i++) {
		cleanup_free char *def =
			xasprintf("/run/secrets/%s", secrets[i].id ? secrets[i].id : "");
		cleanup_free char *t = NULL;
		cleanup_free char *src = xasprintf("%s/%zu", secret_dir, i);

		if (!secrets[i].id || !*secrets[i].id || strchr(secrets[i].id, '/'))
			return pn_error_set(err, PN_ERR_INVALID, "bad secret id `%s`",
					    secrets[i].id ? secrets[i].id : "");
		t = clean_target(secrets[i].target ? secrets[i].target : def, "secret", err);
		if (!t)
			return pn_error_wrap(err, "secret `%s`", secrets[i].id);
		if (pn_strv_contains(&p->mountpoints, t))
			return pn_error_set(err, PN_ERR_INVALID, "secret target `/%s` used twice",
					    t);
		add(p, RUNNER_MNT_SECRET, src, t, NULL);
		pn_strv_push(&p->mountpoints, t);
	}
	return 0;
}

int runner_plan_add_caches(struct runner_plan *p, const struct runner_cache_mount *c, size_t n,
			   struct pn_error **err)
{
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *t = clean_target(c[i].target, "cache", err);
		cleanup_free char *dir = NULL;

		if (!t)
			return -1;
		dir = xasprintf("%s/", t);
		for (size_t j = 0; j < p->mountpoints.n; j++) {
			const char *m = p->mountpoints.v[j];

			if (strncmp(m, dir, strlen(dir)) == 0 || strncmp(dir, m, strlen(m)) == 0)
				return pn_error_set(err, PN_ERR_INVALID,
						    "cache target `/%s` overlaps `/%s`", t, m);
		}
		if (!c[i].source || c[i].source[0] != '/')
			return pn_error_set(err, PN_ERR_INVALID,
					    "cache source `%s` is not an absolute path",
					    c[i].source ? c[i].source : "");
		add(p, RUNNER_MNT_BIND_RW, c[i].source, t, NULL);
		pn_strv_push(&p->mountpoints, dir);
	}
	return 0;
}

bool runner_plan_excluded(const struct runner_plan *p, const char *path)
{
	for (size_t i = 0; i < p->mountpoints.n; i++) {
		const char *m = p->mountpoints.v[i];
		size_t n = strlen(m);

		if (n && m[n - 1] == '/') {
			/* a mounted directory: what is below it is never captured */
			if (strncmp(path, m, n) == 0)
				return true;
		} else if (strcmp(path, m) == 0) {
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------- diff (pure) */
enum runner_diff_kind runner_diff_classify(const struct stat *st, bool opaque_xattr)
{
	if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0)
		return RUNNER_DIFF_WHITEOUT;
	if (S_ISDIR(st->st_mode) && opaque_xattr)
		return RUNNER_DIFF_OPAQUE;
	return RUNNER_DIFF_ENTRY;
}

char *runner_whiteout_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xasprintf(".wh.%s", path);
	return xasprintf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
}
