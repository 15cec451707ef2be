/* sandbox.c - the processes of one sandbox.
 *
 *   P  pinion: prepares the run dir, maps the child's ids, pumps output
 *   C  root in a new user namespace; relays host files on 0-2 through pipes;
 *      unshares the pid, UTS and IPC (and net) namespaces, forks G, waits for
 *      it, then writes the upper dir as a layer
 *   G  pid 1 of the new pid namespace: non-dumpable, no fds but its pipes
 *      (nothing of the host reachable through /proc/1); hostname; in a
 *      private mount namespace mounts the overlay, /proc (sys, irq, bus,
 *      sysrq-trigger read-only), /dev, resolv.conf/hosts, secrets;
 *      pivot_root; forks K and reaps until K exits
 *   K  the step's command: 0-2 checked, capabilities cut, user, workdir,
 *      env, no_new_privs, TIOCSTI filter, exec
 */
#include "runner/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_MAX	 ((size_t)4 << 20)
#define ETC_FILE_MAX	 ((size_t)4 << 20)
#define APT_SINGLE_CONF	 "etc/apt/apt.conf.d/00pinion-single-id"
#define SANDBOX_HOSTNAME "pinion"
#define HOSTS_NAME	 "hosts"    /* the sandbox's /etc/hosts, in the run dir */
#define FD_SCAN_MAX	 65536	    /* the close loop where close_range(2) is missing, */
#define FD_SCAN_LIMIT	 (1U << 20) /* or up to the fd limit, at most this */
#define RELAY_BUF	 65536

extern char **environ;

/* set by C before it forks G: no user namespace could be made (root in a
 * container that forbids them), the step would be real root */
static bool sandbox_real_root;
/* set by C before it forks G: what G puts on 0-2 for the step (a pipe to a
 * relay, /dev/null), -1 to keep the inherited fd */
static int stdio_repl[3] = {-1, -1, -1};

/* ------------------------------------------------------------ preparation */
/* mode of the topmost lower that has rel, or fallback */
static mode_t lower_mode(const struct pn_strv *lowers, const char *rel, mode_t fallback)
{
	for (size_t i = lowers->n; i > 0; i--) {
		cleanup_free char *p = pn_path_join(lowers->v[i - 1], rel);
		struct stat st;

		if (lstat(p, &st) == 0)
			return S_ISDIR(st.st_mode) ? (st.st_mode & 07777) : fallback;
	}
	return fallback;
}

/* create rel (a dir if it ends with '/', else an empty file) in the
 * mount-point layer, parents with the modes the image gives them */
static int mnt_layer_add(const char *mnt, const struct pn_strv *lowers, const char *rel,
			 const char *content, struct pn_error **err)
{
	cleanup_free char *path = xstrdup(rel);
	size_t n = strlen(path);
	bool dir = n && path[n - 1] == '/';
	cleanup_free char *host = NULL;
	int fd;

	if (dir)
		path[n - 1] = '\0';
	for (char *s = path; (s = strchr(s, '/')); s++) {
		cleanup_free char *h = NULL;

		*s = '\0';
		h = pn_path_join(mnt, path);
		if (mkdir(h, 0755) == 0)
			chmod(h, lower_mode(lowers, path, 0755));
		else if (errno != EEXIST)
			return pn_error_set_errno(err, errno, "create `%s`", h);
		*s = '/';
	}
	host = pn_path_join(mnt, path);
	if (dir) {
		if (mkdir(host, 0755) < 0 && errno != EEXIST)
			return pn_error_set_errno(err, errno, "create `%s`", host);
		chmod(host, lower_mode(lowers, path, 0755));
		return 0;
	}
	fd = open(host, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return pn_error_set_errno(err, errno, "create `%s`", host);
	if ((content && pn_write_all(fd, content, strlen(content)) < 0) || pn_close(&fd) < 0) {
		int e = errno;

		pn_close(&fd);
		return pn_error_set_errno(err, e, "write `%s`", host);
	}
	return 0;
}

static int check_step(const struct runner_step *s, struct pn_error **err)
{
	if (!s->shell && (!s->argv || !s->argv[0] || !*s->argv[0]))
		return pn_error_set(err, PN_ERR_INVALID, "step `%s` has no command",
				    s->name ? s->name : "?");
	if (s->shell && s->argv)
		return pn_error_set(err, PN_ERR_INVALID,
				    "step `%s` has both argv and a shell command",
				    s->name ? s->name : "?");
	for (size_t i = 0; i < s->n_secrets; i++) {
		if (!s->secrets[i].source || access(s->secrets[i].source, R_OK) < 0)
			return pn_error_set_errno(err, errno ? errno : ENOENT,
						  "secret `%s`: source `%s`",
						  s->secrets[i].id ? s->secrets[i].id : "?",
						  s->secrets[i].source ? s->secrets[i].source : "");
	}
	return 0;
}

/* the sandbox's /etc/hosts: the host's, plus its own hostname (a fresh UTS
 * namespace named SANDBOX_HOSTNAME), bound read-only in place of the host's */
static int hosts_prepare(struct runner_sandbox_cfg *c, struct pn_error **err)
{
	cleanup_free char *host = NULL;
	cleanup_free char *path = pn_path_join(c->dir, HOSTS_NAME);
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (pn_read_file("/etc/hosts", ETC_FILE_MAX, &host, &len, NULL) < 0) {
		free(host);
		host = xstrdup("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
		len = strlen(host);
	}
	text = xasprintf("%.*s%s127.0.1.1\t" SANDBOX_HOSTNAME "\n", (int)len, host,
			 len && host[len - 1] != '\n' ? "\n" : "");
	if (pn_write_file_atomic(path, text, strlen(text), 0644, err) < 0)
		return -1;
	for (size_t i = 0; i < c->plan.n; i++)
		if (c->plan.m[i].kind == RUNNER_MNT_BIND_RO &&
		    strcmp(c->plan.m[i].target, "etc/hosts") == 0) {
			free(c->plan.m[i].source);
			c->plan.m[i].source = steal_pointer(&path);
			break;
		}
	return 0;
}

int runner_sandbox_prepare(struct runner_sandbox_cfg *c, struct pn_error **err)
{
	const char *mps_extra = NULL;

	if (check_step(c->step, err) < 0)
		return -1;
	c->lock_fd = -1;
	c->dir = pn_mkdtemp_in(c->r->run_dir, "run-", err);
	if (!c->dir)
		return -1;
	chmod(c->dir, 0700);
	c->lock_fd = runner_dir_lock(c->dir); /* prune leaves a live run dir alone */
	c->upper = pn_path_join(c->dir, "upper");
	c->work = pn_path_join(c->dir, "work");
	c->merged = pn_path_join(c->dir, "merged");
	c->mnt = pn_path_join(c->dir, "mnt");
	c->secrets = pn_path_join(c->dir, "secrets");
	const char *dirs[] = {c->upper, c->work, c->merged, c->mnt, c->secrets};
	for (size_t i = 0; i < 5; i++)
		if (mkdir(dirs[i], 0755) < 0)
			return pn_error_set_errno(err, errno, "create `%s`", dirs[i]);
	runner_plan_init(&c->plan);
	if (runner_plan_build(&c->plan, &c->rf->lowers, c->upper, c->work, c->mnt, c->step->secrets,
			      c->step->n_secrets, c->secrets, err) < 0 ||
	    runner_plan_add_caches(&c->plan, c->step->caches, c->step->n_caches, err) < 0 ||
	    hosts_prepare(c, err) < 0)
		return -1;
	if (c->r->idmap.mode == RUNNER_IDMAP_SINGLE &&
	    lower_mode(&c->rf->lowers, "etc/apt/apt.conf.d", 0) != 0) {
		/* apt cannot switch to _apt with one id: let it fetch as root */
		mps_extra = "APT::Sandbox::User \"root\";\n";
		pn_strv_push(&c->plan.mountpoints, APT_SINGLE_CONF);
	}
	for (size_t i = 0; i < c->plan.mountpoints.n; i++) {
		const char *mp = c->plan.mountpoints.v[i];
		bool apt = strcmp(mp, APT_SINGLE_CONF) == 0;

		if (mnt_layer_add(c->mnt, &c->rf->lowers, mp, apt ? mps_extra : NULL, err) < 0)
			return -1;
	}
	return 0;
}

void runner_sandbox_cfg_release(struct runner_sandbox_cfg *c)
{
	free(c->dir);
	free(c->upper);
	free(c->work);
	free(c->merged);
	free(c->mnt);
	free(c->secrets);
	runner_plan_release(&c->plan);
	if (c->lock_fd > 2)
		close(c->lock_fd);
	c->lock_fd = -1;
}

/* --------------------------------------------------------------- G: mounts */
/* a bind mount remounted with more flags, keeping those it has (a user
 * namespace may not clear the locked ones) */
static int remount_with(const char *target, unsigned long add, struct pn_error **err)
{
	struct statvfs sv;
	unsigned long fl = MS_BIND | MS_REMOUNT | add;

	if (statvfs(target, &sv) == 0) {
		if (sv.f_flag & ST_NOSUID)
			fl |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			fl |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			fl |= MS_NOEXEC;
		if (sv.f_flag & ST_RDONLY)
			fl |= MS_RDONLY;
	}
	if (mount(NULL, target, NULL, fl, NULL) < 0)
		return pn_error_set_errno(err, errno, "remount `%s`%s", target,
					  (add & MS_RDONLY) ? " read-only" : "");
	return 0;
}

static int remount_ro(const char *target, struct pn_error **err)
{
	return remount_with(target, MS_RDONLY, err);
}

static int touch(const char *p, struct pn_error **err)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return pn_error_set_errno(err, errno, "create `%s`", p);
	close(fd);
	return 0;
}

/* the new mount API takes one lower dir per call ("lowerdir+", Linux 6.8),
 * so a long chain is not limited by mount(2)'s one page of options */
static int fsconfig_str(int fd, const char *key, const char *val, struct pn_error **err)
{
	if (syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, key, val, 0) < 0)
		return pn_error_set_errno(err, errno, "overlay option `%s=%s`", key, val);
	return 0;
}

static int mount_overlay_fsconfig(const struct runner_sandbox_cfg *c, const char *target,
				  struct pn_error **err)
{
	cleanup_close int fd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	cleanup_close int mfd = -1;
	const struct pn_strv *lw = &c->rf->lowers;

	if (fd < 0)
		return pn_error_set_errno(err, errno, "fsopen overlay");
	if (fsconfig_str(fd, "lowerdir+", c->mnt, err) < 0)
		return -1;
	for (size_t i = lw->n; i > 0; i--)
		if (!runner_lower_shadowed(lw, i - 1) &&
		    fsconfig_str(fd, "lowerdir+", lw->v[i - 1], err) < 0)
			return -1;
	if (fsconfig_str(fd, "upperdir", c->upper, err) < 0 ||
	    fsconfig_str(fd, "workdir", c->work, err) < 0)
		return -1;
	if (syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
	    syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return pn_error_set_errno(err, errno, "create overlay of %zu layers", lw->n);
	mfd = (int)syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		return pn_error_set_errno(err, errno, "fsmount overlay");
	if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return pn_error_set_errno(err, errno, "move overlay to `%s`", target);
	return 0;
}

static int mount_one(const struct runner_sandbox_cfg *c, const struct runner_mount *m,
		     struct pn_error **err)
{
	cleanup_free char *t = *m->target ? pn_path_join(c->merged, m->target) : xstrdup(c->merged);

	switch (m->kind) {
	case RUNNER_MNT_OVERLAY:
		if (!m->data)
			return mount_overlay_fsconfig(c, t, err);
		if (mount("overlay", t, "overlay", 0, m->data) < 0) {
			pn_error_set_errno(err, errno, "mount overlay on `%s`", t);
			pn_error_hint(err,
				      "set PINION_RUNNER_NO_OVERLAY=1 to use the copy fallback");
			return -1;
		}
		return 0;
	case RUNNER_MNT_PROC:
		if (mount("proc", t, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return pn_error_set_errno(err, errno, "mount /proc");
		return 0;
	case RUNNER_MNT_TMPFS:
		if (mkdir(t, 0755) < 0 && errno != EEXIST)
			return pn_error_set_errno(err, errno, "create `%s`", t);
		if (mount("tmpfs", t, "tmpfs",
			  MS_NOSUID | (strcmp(m->target, "dev") ? MS_NODEV : 0), m->data) < 0)
			return pn_error_set_errno(err, errno, "mount tmpfs on `/%s`", m->target);
		return 0;
	case RUNNER_MNT_DEVPTS:
		if (mkdir(t, 0755) < 0 && errno != EEXIST)
			return pn_error_set_errno(err, errno, "create `%s`", t);
		if (mount("devpts", t, "devpts", MS_NOSUID | MS_NOEXEC, m->data) < 0)
			return pn_error_set_errno(err, errno, "mount devpts");
		return 0;
	case RUNNER_MNT_SYMLINK:
		if (symlink(m->source, t) < 0 && errno != EEXIST)
			return pn_error_set_errno(err, errno, "symlink `/%s`", m->target);
		return 0;
	case RUNNER_MNT_BIND_DEV:
		if (access(m->source, F_OK) < 0)
			return 0;
		if (touch(t, err) < 0)
			return -1;
		if (mount(m->source, t, NULL, MS_BIND, NULL) < 0)
			return pn_error_set_errno(err, errno, "bind `%s`", m->source);
		return 0;
	case RUNNER_MNT_PROC_RO:
		if (access(t, F_OK) < 0)
			return 0;
		if (mount(t, t, NULL, MS_BIND | MS_REC, NULL) < 0)
			return pn_error_set_errno(err, errno, "bind `/%s` over itself", m->target);
		return remount_ro(t, err);
	case RUNNER_MNT_BIND_RW:
		if (mount(m->source, t, NULL, MS_BIND, NULL) < 0)
			return pn_error_set_errno(err, errno, "bind cache `%s` on `/%s`", m->source,
						  m->target);
		return remount_with(t, MS_NOSUID | MS_NODEV, err);
	case RUNNER_MNT_BIND_RO:
	case RUNNER_MNT_SECRET:
		if (m->kind == RUNNER_MNT_BIND_RO && access(m->source, R_OK) < 0)
			return 0;
		if (mount(m->source, t, NULL, MS_BIND, NULL) < 0)
			return pn_error_set_errno(err, errno, "bind `%s` on `/%s`", m->source,
						  m->target);
		return remount_ro(t, err);
	}
	return 0;
}

static int copy_secrets(const struct runner_sandbox_cfg *c, struct pn_error **err)
{
	const struct runner_step *s = c->step;

	if (!s->n_secrets)
		return 0;
	if (mount("tmpfs", c->secrets, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=700,size=16m") < 0)
		return pn_error_set_errno(err, errno, "mount secrets tmpfs");
	for (size_t i = 0; i < s->n_secrets; i++) {
		cleanup_free char *data = NULL;
		cleanup_free char *dst = xasprintf("%s/%zu", c->secrets, i);
		size_t len = 0;
		int fd;

		if (pn_read_file(s->secrets[i].source, SECRET_MAX, &data, &len, err) < 0)
			return pn_error_wrap(err, "secret `%s`", s->secrets[i].id);
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
		if (fd < 0 || pn_write_all(fd, data, len) < 0 || pn_close(&fd) < 0) {
			int e = errno;

			pn_close(&fd);
			explicit_bzero(data, len);
			return pn_error_set_errno(err, e, "copy secret `%s`", s->secrets[i].id);
		}
		explicit_bzero(data, len);
	}
	return 0;
}

static int do_pivot(const char *root, struct pn_error **err)
{
	if (chdir(root) < 0)
		return pn_error_set_errno(err, errno, "chdir `%s`", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return pn_error_set_errno(err, errno, "pivot_root to `%s`", root);
	if (umount2(".", MNT_DETACH) < 0)
		return pn_error_set_errno(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return pn_error_set_errno(err, errno, "chdir /");
	return 0;
}

static int loopback_up(struct pn_error **err)
{
	struct ifreq ifr;
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return pn_error_set_errno(err, errno, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return pn_error_set_errno(err, errno, "get flags of `lo`");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return pn_error_set_errno(err, errno, "bring `lo` up");
	return 0;
}

static int setup_root(struct runner_sandbox_cfg *c, struct pn_error **err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return pn_error_set_errno(err, errno, "create mount namespace");
	if (sethostname(SANDBOX_HOSTNAME, strlen(SANDBOX_HOSTNAME)) < 0)
		return pn_error_set_errno(err, errno, "set the sandbox's hostname");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return pn_error_set_errno(err, errno, "make mounts private");
	if (copy_secrets(c, err) < 0)
		return -1;
	if (!c->copy_mode && mount_one(c, &c->plan.m[0], err) < 0) {
		pn_debug("%s; using the copy fallback", (*err)->msg);
		pn_error_clear(err);
		c->copy_mode = true;
	}
	if (c->copy_mode) {
		if (runner_copy_prepare(c, err) < 0)
			return pn_error_wrap(err, "copy fallback");
		/* the copy is a plain directory: make it a mount point for pivot_root */
		if (mount(c->merged, c->merged, NULL, MS_BIND | MS_REC, NULL) < 0)
			return pn_error_set_errno(err, errno, "bind `%s`", c->merged);
	}
	for (size_t i = 1; i < c->plan.n; i++)
		if (mount_one(c, &c->plan.m[i], err) < 0)
			return -1;
	if (c->step->network == RUNNER_NET_NONE && loopback_up(err) < 0)
		return -1;
	return do_pivot(c->merged, err);
}

/* ------------------------------------------------------------------ K */
static char *read_etc(const char *path)
{
	char *data = NULL;
	size_t len;

	if (pn_read_file(path, ETC_FILE_MAX, &data, &len, NULL) < 0)
		return NULL;
	return data;
}

struct exec_plan {
	struct runner_user user;
	struct pn_strv env;
	struct pn_strv argv;
	const char *workdir;
};

static int exec_plan_build(const struct runner_sandbox_cfg *c, struct exec_plan *x,
			   struct pn_error **err)
{
	const struct runner_step *s = c->step;
	const struct oci_config *cfg = s->config;
	const char *user = s->user ? s->user : (cfg && cfg->user && *cfg->user ? cfg->user : NULL);
	cleanup_free char *pw = read_etc("/etc/passwd");
	cleanup_free char *gr = read_etc("/etc/group");

	if (runner_user_resolve(user, pw, gr, &x->user, err) < 0)
		return -1;
	if (c->r->idmap.mode == RUNNER_IDMAP_SINGLE && (x->user.uid || x->user.gid)) {
		pn_error_set(err, PN_ERR_INVALID,
			     "user `%s` (%u:%u) is not mapped: without subordinate "
			     "ids only root (0:0) exists in the sandbox",
			     user, x->user.uid, x->user.gid);
		pn_error_hint(err, "add entries for your user to /etc/subuid and /etc/subgid");
		return -1;
	}
	runner_env_build(cfg ? &cfg->env : NULL, s->env, x->user.home, &x->env);
	if (s->shell) {
		pn_strv_push(&x->argv, "/bin/sh");
		pn_strv_push(&x->argv, "-c");
		pn_strv_push(&x->argv, s->shell);
	} else {
		for (size_t i = 0; s->argv[i]; i++)
			pn_strv_push(&x->argv, s->argv[i]);
	}
	x->workdir = s->workdir ? s->workdir
				: (cfg && cfg->working_dir && *cfg->working_dir ? cfg->working_dir
										: "/");
	return 0;
}

/* close fds lo..hi; a loop up to the fd limit where close_range(2) is missing */
static void close_span(unsigned lo, unsigned hi)
{
	struct rlimit rl;
	unsigned top = FD_SCAN_MAX;

	if (lo > hi)
		return;
	/* PINION_RUNNER_NO_CLOSE_RANGE=1: the loop, as on kernels before 5.9 (tests) */
	if (!getenv("PINION_RUNNER_NO_CLOSE_RANGE") && syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	/* the soft limit, or FD_SCAN_MAX if it was lowered below fds already open */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > top)
		top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FD_SCAN_LIMIT
			      ? FD_SCAN_LIMIT
			      : (unsigned)rl.rlim_cur;
	for (unsigned fd = lo; fd <= hi && fd < top; fd++)
		close((int)fd);
}

/* close every fd above 2 except the n in keep (-1 entries ignored): nothing
 * pinion or its caller holds (layout dirs, the run dir, registry sockets,
 * whatever the caller leaked) may reach a process of the sandbox */
static void close_fds_except(const int *keep, size_t n)
{
	unsigned lo = 3;

	for (;;) {
		unsigned next = ~0U;

		for (size_t i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next == ~0U) {
			close_span(lo, ~0U);
			return;
		}
		if (next > lo)
			close_span(lo, next - 1);
		lo = next + 1;
	}
}

/* true if fd may be handed to the step as stdin/stdout/stderr as it is: a
 * pipe, a socket or a character device (a terminal, /dev/null).  A host file
 * or directory may not: /proc/self/fd/N reopens it with other modes, and a
 * directory is a way out through `..`.  C relays files through pipes
 * (stdio_guard), anything else becomes /dev/null. */
static bool stdio_fd_safe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return true; /* closed: nothing to reach */
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
}

/* stdin from /dev/null unless interactive; stdout and stderr to the output
 * pipe when there is one; 0-2 checked; every other fd but the report pipe
 * closed */
static void step_stdio(const struct runner_sandbox_cfg *c)
{
	int fd;

	if (!c->step->interactive) {
		if (c->out_wr >= 0)
			setsid();
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd > 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	if (!c->step->interactive && c->out_wr >= 0) {
		dup2(c->out_wr, 1);
		dup2(c->out_wr, 2);
	}
	for (int i = 0; i < 3; i++) {
		if (stdio_fd_safe(i))
			continue;
		fd = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, i);
			close(fd);
		}
	}
	close_fds_except(&c->rep_wr, 1);
}

/* the capabilities a root step keeps (Docker's default set): no
 * CAP_SYS_ADMIN (remount /proc/sys, umount the masks, mount anything),
 * CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (open_by_handle_at), CAP_SYS_RAWIO,
 * CAP_SYS_MODULE, CAP_NET_ADMIN, ...  Without a user namespace (real root)
 * CAP_MKNOD goes too: nothing else would stop a block device node. */
static bool step_cap_kept(int cap, bool real_root)
{
	static const int keep[] = {CAP_CHOWN,	CAP_DAC_OVERRIDE, CAP_FOWNER,
				   CAP_FSETID,	CAP_KILL,	  CAP_SETGID,
				   CAP_SETUID,	CAP_SETPCAP,	  CAP_NET_BIND_SERVICE,
				   CAP_NET_RAW, CAP_SYS_CHROOT,	  CAP_AUDIT_WRITE,
				   CAP_SETFCAP, CAP_MKNOD};

	if (cap == CAP_MKNOD && real_root)
		return false;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] == cap)
			return true;
	return false;
}

static int step_drop_caps(struct pn_error **err)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	for (int cap = 0; cap <= CAP_LAST_CAP || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (step_cap_kept(cap, sandbox_real_root))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return pn_error_set_errno(err, errno, "drop capability %d", cap);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return pn_error_set_errno(err, errno, "clear ambient capabilities");
	if (syscall(SYS_capget, &h, d) < 0)
		return pn_error_set_errno(err, errno, "read capabilities");
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d) < 0)
		return pn_error_set_errno(err, errno, "clear inheritable capabilities");
	return 0;
}

#if defined(__x86_64__)
#define SECCOMP_ARCH_NATIVE AUDIT_ARCH_X86_64
#define SECCOMP_ARCH_COMPAT AUDIT_ARCH_I386
#define SECCOMP_IOCTL_ALT   (0x40000000 | 514) /* x32 */
#elif defined(__aarch64__)
#define SECCOMP_ARCH_NATIVE AUDIT_ARCH_AARCH64
#define SECCOMP_ARCH_COMPAT AUDIT_ARCH_ARM
#define SECCOMP_IOCTL_ALT   __NR_ioctl
#endif
#define SECCOMP_IOCTL_COMPAT 54 /* i386 and arm */

/* An interactive step shares the caller's terminal, its controlling tty:
 * TIOCSTI would push keystrokes into the caller's shell, to run on the host
 * once pinion exits (TIOCLINUX can do the same on a console).  Both ioctls
 * fail with EPERM; everything else is allowed.  Needs no_new_privs. */
static int step_seccomp(struct pn_error **err)
{
#ifdef SECCOMP_ARCH_NATIVE
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH_NATIVE, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_IOCTL_ALT, 3, 7),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH_COMPAT, 0, 6),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_IOCTL_COMPAT, 0, 4),
		/* the request is an unsigned int to the kernel: the low word */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return pn_error_set_errno(err, errno, "install the terminal ioctl filter");
#else
	(void)err;
#endif
	return 0;
}

static int step_become(const struct runner_sandbox_cfg *c, const struct exec_plan *x,
		       struct pn_error **err)
{
	gid_t g = x->user.gid;

	if (step_drop_caps(err) < 0)
		return -1;
	if ((runner_idmap_can_setgroups(&c->r->idmap) && setgroups(1, &g) < 0) ||
	    setresgid(x->user.gid, x->user.gid, x->user.gid) < 0 ||
	    setresuid(x->user.uid, x->user.uid, x->user.uid) < 0)
		return pn_error_set_errno(err, errno, "switch to user %u:%u", x->user.uid,
					  x->user.gid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return pn_error_set_errno(err, errno, "set no_new_privs");
	return step_seccomp(err);
}

/* checked after the switch of user: the step's user must be able to use it,
 * and it must resolve inside the new root */
static int step_chdir(const char *workdir, struct pn_error **err)
{
	char cwd[4096];

	if (workdir[0] != '/')
		return pn_error_set(err, PN_ERR_INVALID, "working directory `%s` is not absolute",
				    workdir);
	if (chdir(workdir) < 0)
		return pn_error_set_errno(err, errno, "working directory `%s`", workdir);
	if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
		return pn_error_set_errno(err, errno ? errno : ENOENT, "working directory `%s`",
					  workdir);
	return 0;
}

/* the step's command; never returns */
static void exec_step(const struct runner_sandbox_cfg *c, struct exec_plan *x)
{
	struct pn_error *e = NULL;

	step_stdio(c);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (step_become(c, x, &e) < 0 || step_chdir(x->workdir, &e) < 0) {
		runner_report_error(c->rep_wr, e);
		_exit(126);
	}
	environ = x->env.v;
	execvp(x->argv.v[0], x->argv.v);
	if (errno == ENOENT) {
		pn_error_set(&e, PN_ERR_NOT_FOUND, "command `%s` not found in the image",
			     x->argv.v[0]);
		pn_error_hint(&e, "PATH inside is %s", getenv("PATH") ? getenv("PATH") : "(unset)");
	} else {
		pn_error_set_errno(&e, errno, "run `%s`", x->argv.v[0]);
	}
	runner_report_error(c->rep_wr, e);
	_exit(127);
}

/* ------------------------------------------------------------------ G */
static volatile pid_t forward_to;

static void forward_signal(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

/* signals for the sandbox go on to the child; in interactive mode ^C and ^\
 * reach the command straight from the terminal (same process group), so
 * they are ignored here rather than delivered twice */
static void install_forwarding(pid_t child, bool interactive)
{
	struct sigaction sa, ign;
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

	forward_to = child;
	memset(&sa, 0, sizeof(sa));
	memset(&ign, 0, sizeof(ign));
	sa.sa_handler = forward_signal;
	sa.sa_flags = SA_RESTART;
	ign.sa_handler = SIG_IGN;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		bool tty_sig = sigs[i] == SIGINT || sigs[i] == SIGQUIT;

		sigaction(sigs[i], interactive && tty_sig ? &ign : &sa, NULL);
	}
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

/* /proc/PID/cmdline is readable without ptrace access, and pid 1 is a copy
 * of pinion, whose command line may carry --creds: blank our copy of it */
static void init_hide_cmdline(void)
{
	cleanup_free char *cmd = NULL;
	size_t len = 0;
	static const char name[] = "pinion-init";

	if (pn_read_file("/proc/self/cmdline", RUNNER_REPLY_MAX, &cmd, &len, NULL) < 0 || !len ||
	    !program_invocation_name || memcmp(program_invocation_name, cmd, len) != 0)
		return;
	memset(program_invocation_name, 0, len);
	if (len > sizeof(name))
		memcpy(program_invocation_name, name, sizeof(name));
}

/* G, first thing: nothing of the host may be reachable through pid 1 (class
 * of runc CVE-2024-21626).  Non-dumpable: /proc/1/{fd,cwd,root,exe,environ,
 * map_files,mem} need CAP_SYS_PTRACE over the host's user namespace, which
 * no step has.  Every fd but the pipes closed, 0-2 replaced as C decided;
 * the root and cwd move into the sandbox with pivot_root. */
static void init_seal(const struct runner_sandbox_cfg *c)
{
	int keep[] = {c->rep_wr, c->out_wr, stdio_repl[0], stdio_repl[1], stdio_repl[2]};

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	close_fds_except(keep, sizeof(keep) / sizeof(keep[0]));
	for (int i = 0; i < 3; i++)
		if (stdio_repl[i] >= 0) {
			dup2(stdio_repl[i], i);
			close(stdio_repl[i]);
			stdio_repl[i] = -1;
		}
	init_hide_cmdline();
}

/* G once the step runs: it needs none of 0-2 (it reports through the pipe) */
static void init_stdio_null(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int i = 0; fd >= 0 && i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/* pid 1 of the sandbox; never returns */
static void sandbox_init(struct runner_sandbox_cfg *c)
{
	struct pn_error *e = NULL;
	struct exec_plan x = {0};
	pid_t k;
	int st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	init_seal(c);
	if (setup_root(c, &e) < 0) {
		pn_error_wrap(&e, "set up sandbox");
		runner_report_error(c->rep_wr, e);
		_exit(125);
	}
	if (exec_plan_build(c, &x, &e) < 0) { /* the step's user: it cannot start */
		runner_report_error(c->rep_wr, e);
		_exit(126);
	}
	k = fork();
	if (k < 0)
		_exit(125);
	if (k == 0)
		exec_step(c, &x);
	install_forwarding(k, c->step->interactive);
	if (c->out_wr >= 0)
		close(c->out_wr);
	init_stdio_null();
	for (;;) {
		pid_t w = waitpid(-1, &st, 0);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(125);
		if (w == k)
			_exit(status_code(st));
	}
}

/* ------------------------------------------------------------------ C */
static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int commit_layer(struct runner_sandbox_cfg *c, struct pn_buf *reply, struct pn_error **err)
{
	struct oci_layer_result res;
	double t0 = now_seconds();
	int rc;

	memset(&res, 0, sizeof(res));
	cleanup_free char *index = pn_path_join(c->dir, RUNNER_COPY_INDEX);
	bool copy = access(index, F_OK) == 0;

	if (copy)
		rc = runner_copy_diff_write(c, &res, err);
	else
		rc = runner_diff_write(c->upper, &c->plan, c->out, c->lopts, &res, err);
	if (rc < 0)
		return -1;
	rc = pn_buf_printf(reply, err, "commit_seconds %.6f\nlayer %s %lld %s %lld %s\n",
			   now_seconds() - t0, res.desc.digest, (long long)res.desc.size,
			   res.diff_id, (long long)res.tar_size, res.desc.media_type);
	if (c->adopt && !copy)
		runner_snapshot_adopt(c->r, c->upper, res.desc.digest, res.diff_id, NULL);
	oci_layer_result_release(&res);
	return rc;
}

/* a relay between a host file and the sandbox's pipe; never returns */
static void relay_run(int from, int to)
{
	char buf[RELAY_BUF];
	int keep[] = {from, to};
	ssize_t n;

	close_fds_except(keep, 2);
	signal(SIGPIPE, SIG_DFL);
	for (;;) {
		n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pn_write_all(to, buf, (size_t)n) < 0)
			_exit(0);
	}
}

/* an fd >= 3 (0-2 may be closed in pinion's caller) */
static int fd_high(int fd)
{
	int h;

	if (fd > 2)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return h;
}

/* C, before the pid namespace exists: which of 0-2 the step may not get as
 * they are (stdio_fd_safe).  A host file is relayed through a pipe by a
 * process of C's (outside the sandbox's pid namespace: invisible inside);
 * a directory or a device other than a character one becomes /dev/null.
 * A build step gets /dev/null and the output pipe anyway (need: false). */
static int stdio_guard(const struct runner_sandbox_cfg *c, pid_t relays[3], struct pn_error **err)
{
	for (int i = 0; i < 3; i++) {
		bool need = c->step->interactive || (i > 0 && c->out_wr < 0);
		struct stat st;
		int p[2];

		relays[i] = -1;
		if (!need || fstat(i, &st) < 0 || stdio_fd_safe(i))
			continue;
		if (!S_ISREG(st.st_mode)) {
			stdio_repl[i] =
				fd_high(open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC));
			continue;
		}
		if (pipe2(p, O_CLOEXEC) < 0)
			return pn_error_set_errno(err, errno, "pipe");
		p[0] = fd_high(p[0]);
		p[1] = fd_high(p[1]);
		relays[i] = fork();
		if (relays[i] < 0)
			return pn_error_set_errno(err, errno, "fork");
		if (relays[i] == 0)
			relay_run(i == 0 ? i : p[0], i == 0 ? p[1] : i);
		close(i == 0 ? p[1] : p[0]);
		stdio_repl[i] = i == 0 ? p[0] : p[1];
	}
	return 0;
}

/* C once G runs: its copies of the pipes go, so the relays see the end */
static void stdio_guard_end(pid_t relays[3], bool wait)
{
	for (int i = 0; i < 3; i++) {
		if (stdio_repl[i] >= 0)
			close(stdio_repl[i]);
		stdio_repl[i] = -1;
		if (wait && relays[i] > 0)
			while (waitpid(relays[i], NULL, 0) < 0 && errno == EINTR)
				;
	}
}

static bool same_userns(const char *before)
{
	char now[64] = "";

	return readlink("/proc/self/ns/user", now, sizeof(now) - 1) > 0 && strcmp(now, before) == 0;
}

/* fork into new namespaces: only the child enters them (as bubblewrap's
 * raw_clone).  unshare(CLONE_NEWPID) then fork would leave C unable to start
 * threads (a thread cannot join another pid namespace for children:
 * pthread_create fails with EINVAL), and commit_layer hashes and compresses
 * on threads.  No stack: the child runs on a copy of this one, as after fork */
static pid_t clone_into(int flags)
{
	return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0UL);
}

/* C: returns the exit status for _exit */
static int sandbox_child(struct runner_sandbox_cfg *c, int sync_rd, int sync_wr)
{
	struct pn_error *e = NULL;
	struct pn_buf reply = PN_BUF_INIT;
	/* own pid, UTS (hostname) and IPC namespaces; net with --network none */
	int flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
		    (c->step->network == RUNNER_NET_NONE ? CLONE_NEWNET : 0);
	double t0;
	pid_t g, relays[3] = {-1, -1, -1};
	int st = 125 << 8, code, rc; /* st: as exit status 125 if waitpid fails */
	char host_ns[64] = "";

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	(void)!readlink("/proc/self/ns/user", host_ns, sizeof(host_ns) - 1);
	if (runner_child_enter_userns(sync_rd, sync_wr, &c->r->idmap, &e) < 0)
		goto fail;
	sandbox_real_root = same_userns(host_ns);
	close(sync_rd);
	close(sync_wr);
	if (c->step->interactive && c->step->stdout_fd > 0 &&
	    dup2(c->step->stdout_fd, STDOUT_FILENO) < 0) {
		pn_error_set_errno(&e, errno, "the step's stdout");
		goto fail;
	}
	if (c->step->interactive && c->step->stderr_fd > 0 &&
	    dup2(c->step->stderr_fd, STDERR_FILENO) < 0) {
		pn_error_set_errno(&e, errno, "the step's stderr");
		goto fail;
	}
	if (stdio_guard(c, relays, &e) < 0)
		goto fail;
	t0 = now_seconds();
	g = clone_into(flags);
	if (g < 0) {
		pn_error_set_errno(&e, errno, "create pid, UTS and IPC namespaces");
		goto fail;
	}
	if (g == 0)
		sandbox_init(c);
	install_forwarding(g, c->step->interactive);
	if (c->out_wr >= 0)
		close(c->out_wr);
	stdio_guard_end(relays, false);
	while (waitpid(g, &st, 0) < 0)
		if (errno != EINTR)
			break;
	stdio_guard_end(relays, true);
	code = status_code(st);
	rc = pn_buf_printf(&reply, &e, "status %d\nrun_seconds %.6f\n", code, now_seconds() - t0);
	if (rc == 0 && code == 0 && c->out)
		rc = commit_layer(c, &reply, &e);
	if (rc < 0) {
		pn_buf_release(&reply);
		goto fail;
	}
	runner_report_reply(c->rep_wr, reply.data, reply.len);
	pn_buf_release(&reply);
	pn_rm_rf(c->dir, NULL);
	return code;
fail:
	runner_report_error(c->rep_wr, e);
	pn_error_free(e);
	pn_rm_rf(c->dir, NULL);
	return 125;
}

/* ------------------------------------------------------------------ P */
int runner_sandbox_start(struct runner_sandbox_cfg *c, pid_t *pid_out, int *rep_rd_out,
			 int *out_rd_out, struct pn_error **err)
{
	int c2p[2], p2c[2], rep[2], out[2] = {-1, -1};
	pid_t pid;
	int rc;

	if (pipe2(c2p, O_CLOEXEC) < 0 || pipe2(p2c, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return pn_error_set_errno(err, errno, "pipe");
	if (out_rd_out && pipe2(out, O_CLOEXEC) < 0)
		return pn_error_set_errno(err, errno, "pipe");
	c->rep_wr = rep[1];
	c->out_wr = out[1];
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return pn_error_set_errno(err, errno, "fork");
	if (pid == 0) {
		close(rep[0]);
		if (out[0] >= 0)
			close(out[0]);
		close(c2p[0]);
		close(p2c[1]);
		_exit(sandbox_child(c, p2c[0], c2p[1]));
	}
	close(rep[1]);
	if (out[1] >= 0)
		close(out[1]);
	close(c2p[1]);
	close(p2c[0]);
	rc = runner_parent_map_child(&c->r->idmap, pid, c2p[0], p2c[1], err);
	close(c2p[0]);
	close(p2c[1]);
	*pid_out = pid;
	*rep_rd_out = rep[0];
	if (out_rd_out)
		*out_rd_out = out[0];
	if (rc < 0) {
		/* the child's own report is more precise when there is one */
		struct pn_error *ce = NULL;

		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (runner_report_read(rep[0], NULL, NULL, &ce) < 0 && err) {
			pn_error_clear(err);
			*err = ce;
		} else {
			pn_error_free(ce);
		}
		return -1;
	}
	return 0;
}
