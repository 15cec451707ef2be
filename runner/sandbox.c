/* sandbox.c - the processes of one sandbox.
 *
 *   P  pinion: prepares the run dir, maps the child's ids, pumps output
 *   C  root in a new user namespace; unshares the pid (and net) namespace,
 *      forks G, waits for it, then writes the upper dir as a layer
 *   G  pid 1 of the new pid namespace, in a private mount namespace: mounts
 *      the overlay, /proc, /dev, resolv.conf/hosts, secrets; pivot_root;
 *      forks K and reaps until K exits
 *   K  the step's command: user, workdir, env, no_new_privs, exec
 */
#include "runner/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET_MAX	((size_t)4 << 20)
#define ETC_FILE_MAX	((size_t)4 << 20)
#define APT_SINGLE_CONF "etc/apt/apt.conf.d/00pinion-single-id"

extern char **environ;

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
	if (content && pn_write_all(fd, content, strlen(content)) < 0) {
		close(fd);
		return pn_error_set_errno(err, errno, "write `%s`", host);
	}
	close(fd);
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
			      c->step->n_secrets, c->secrets, err) < 0)
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
static int remount_ro(const char *target, struct pn_error **err)
{
	struct statvfs sv;
	unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY;

	if (statvfs(target, &sv) == 0) {
		if (sv.f_flag & ST_NOSUID)
			fl |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			fl |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			fl |= MS_NOEXEC;
	}
	if (mount(NULL, target, NULL, fl, NULL) < 0)
		return pn_error_set_errno(err, errno, "remount `%s` read-only", target);
	return 0;
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
		if (fd < 0 || pn_write_all(fd, data, len) < 0) {
			if (fd >= 0)
				close(fd);
			return pn_error_set_errno(err, errno, "copy secret `%s`", s->secrets[i].id);
		}
		close(fd);
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

static void close_fds_except(int keep)
{
	if (keep > 3)
		syscall(SYS_close_range, 3, keep - 1, 0);
	syscall(SYS_close_range, keep >= 3 ? keep + 1 : 3, ~0U, 0);
}

/* stdin from /dev/null unless interactive; stdout and stderr to the output
 * pipe when there is one; every other fd but the report pipe closed */
static void step_stdio(const struct runner_sandbox_cfg *c)
{
	int fd;

	if (!c->step->interactive) {
		if (c->out_wr >= 0)
			setsid();
		fd = open("/dev/null", O_RDONLY);
		if (fd > 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	if (!c->step->interactive && c->out_wr >= 0) {
		dup2(c->out_wr, 1);
		dup2(c->out_wr, 2);
	}
	close_fds_except(c->rep_wr);
}

static int step_become(const struct runner_sandbox_cfg *c, const struct exec_plan *x,
		       struct pn_error **err)
{
	gid_t g = x->user.gid;

	if ((runner_idmap_can_setgroups(&c->r->idmap) && setgroups(1, &g) < 0) ||
	    setresgid(x->user.gid, x->user.gid, x->user.gid) < 0 ||
	    setresuid(x->user.uid, x->user.uid, x->user.uid) < 0)
		return pn_error_set_errno(err, errno, "switch to user %u:%u", x->user.uid,
					  x->user.gid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return pn_error_set_errno(err, errno, "set no_new_privs");
	return 0;
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

/* pid 1 of the sandbox; never returns */
static void sandbox_init(struct runner_sandbox_cfg *c)
{
	struct pn_error *e = NULL;
	struct exec_plan x = {0};
	pid_t k;
	int st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
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
	pn_buf_printf(reply, NULL, "commit_seconds %.6f\nlayer %s %lld %s %lld %s\n",
		      now_seconds() - t0, res.desc.digest, (long long)res.desc.size, res.diff_id,
		      (long long)res.tar_size, res.desc.media_type);
	if (c->adopt && !copy)
		runner_snapshot_adopt(c->r, c->upper, res.diff_id, NULL);
	oci_layer_result_release(&res);
	return 0;
}

/* C: returns the exit status for _exit */
static int sandbox_child(struct runner_sandbox_cfg *c, int sync_rd, int sync_wr)
{
	struct pn_error *e = NULL;
	struct pn_buf reply = PN_BUF_INIT;
	int flags = CLONE_NEWPID | (c->step->network == RUNNER_NET_NONE ? CLONE_NEWNET : 0);
	double t0;
	pid_t g;
	int st = 125 << 8, code; /* as exit status 125 if waitpid fails */

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (runner_child_enter_userns(sync_rd, sync_wr, &c->r->idmap, &e) < 0)
		goto fail;
	close(sync_rd);
	close(sync_wr);
	if (unshare(flags) < 0) {
		pn_error_set_errno(&e, errno, "create pid namespace");
		goto fail;
	}
	t0 = now_seconds();
	g = fork();
	if (g < 0) {
		pn_error_set_errno(&e, errno, "fork");
		goto fail;
	}
	if (g == 0)
		sandbox_init(c);
	install_forwarding(g, c->step->interactive);
	if (c->out_wr >= 0)
		close(c->out_wr);
	while (waitpid(g, &st, 0) < 0)
		if (errno != EINTR)
			break;
	code = status_code(st);
	pn_buf_printf(&reply, NULL, "status %d\nrun_seconds %.6f\n", code, now_seconds() - t0);
	if (code == 0 && c->out && commit_layer(c, &reply, &e) < 0) {
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
