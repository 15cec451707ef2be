/* probe.c - before the first step: can this process start a sandbox at all? */
#include "runner/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_FILE_MAX ((size_t)1 << 16)

/* the child's report: which stage failed and its errno */
enum probe_stage { PROBE_OK = 0, PROBE_USERNS, PROBE_BECOME_ROOT, PROBE_MNT_PID };
struct probe_msg {
	int stage;
	int err;
};

static char *read_text(const char *path)
{
	return runner_read_text(path, PROBE_FILE_MAX);
}

/* "Seccomp:\t2" of /proc/self/status -> "2" (owned), NULL if absent */
static char *seccomp_field(void)
{
	cleanup_free char *st = read_text("/proc/self/status");
	const char *p = st ? strstr(st, "\nSeccomp:") : NULL;
	size_t n;

	if (!p)
		return NULL;
	p += strlen("\nSeccomp:");
	p += strspn(p, " \t");
	n = strcspn(p, "\n");
	return xstrndup(p, n);
}

char *runner_probe_explain(int e, bool root, const char *max_userns, const char *userns_clone,
			   const char *seccomp)
{
	const char *head = "user namespaces are unavailable";

	if (e == ENOSPC && max_userns && strcmp(max_userns, "0") == 0)
		return xasprintf("%s: user.max_user_namespaces is 0 (set it above 0 where it is "
				 "0, on the host or in the parent namespace: sysctl -w "
				 "user.max_user_namespaces=15000)",
				 head);
	if (e == ENOSPC)
		return xasprintf("%s: the limit user.max_user_namespaces (%s here) is used up, "
				 "here or in a parent namespace (raise it: sysctl -w "
				 "user.max_user_namespaces=15000)",
				 head, max_userns ? max_userns : "?");
	if (e == EUSERS)
		return xasprintf("%s: nested too deep (the kernel allows 32 levels; run pinion "
				 "fewer namespaces down)",
				 head);
	if (e == EINVAL)
		return xasprintf("%s: the kernel has no user namespaces (CONFIG_USER_NS; use a "
				 "kernel built with it)",
				 head);
	if (e == EPERM && !root && userns_clone && strcmp(userns_clone, "0") == 0)
		return xasprintf("%s: kernel.unprivileged_userns_clone is 0 (set it to 1: "
				 "sysctl -w kernel.unprivileged_userns_clone=1)",
				 head);
	if (e == EPERM && seccomp && strcmp(seccomp, "0") != 0)
		return xasprintf("%s: a seccomp filter refuses unshare(CLONE_NEWUSER) (run the "
				 "container with a seccomp profile that allows it, e.g. podman "
				 "--security-opt seccomp=unconfined, or Kubernetes "
				 "seccompProfile: Unconfined or a custom profile)",
				 head);
	if (e == EPERM)
		return xasprintf("%s: creating one is not permitted (inside a chroot, or a "
				 "security module such as AppArmor's "
				 "kernel.apparmor_restrict_unprivileged_userns; run pinion outside "
				 "the chroot, or allow user namespaces for it)",
				 head);
	return xasprintf("%s: unshare(CLONE_NEWUSER): %s", head, strerror(e));
}

static _Noreturn void probe_child(const struct runner_idmap *m, bool userns, int rd, int wr)
{
	struct probe_msg msg = {PROBE_OK, 0};
	char go = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (userns) {
		if (unshare(CLONE_NEWUSER) < 0) {
			msg = (struct probe_msg){PROBE_USERNS, errno};
			(void)!write(wr, &msg, sizeof(msg));
			_exit(1);
		}
		(void)!write(wr, &msg, sizeof(msg)); /* unshared: map me */
		if (read(rd, &go, 1) != 1 || go != '1')
			_exit(1);
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
			msg = (struct probe_msg){PROBE_BECOME_ROOT, errno};
			(void)!write(wr, &msg, sizeof(msg));
			_exit(1);
		}
		(void)m;
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWPID) < 0)
		msg = (struct probe_msg){PROBE_MNT_PID, errno};
	(void)!write(wr, &msg, sizeof(msg));
	_exit(msg.stage ? 1 : 0);
}

static int probe_fail(struct pn_error **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int probe_fail(struct pn_error **err, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	pn_error_set(err, PN_ERR_UNSUPPORTED, "%s", msg ? msg : "the sandbox cannot start");
	return -1;
}

static int probe_userns_failed(int e, const struct runner_idmap *m, struct pn_error **err)
{
	cleanup_free char *max = read_text("/proc/sys/user/max_user_namespaces");
	cleanup_free char *clone = read_text("/proc/sys/kernel/unprivileged_userns_clone");
	cleanup_free char *sec = seccomp_field();
	cleanup_free char *why = runner_probe_explain(
		e, m->mode == RUNNER_IDMAP_ROOT || m->in_userns, max, clone, sec);

	return probe_fail(err, "%s", why);
}

/* read the child's next report; false if it went away without one */
static bool probe_read(int fd, struct probe_msg *msg)
{
	ssize_t n;

	do
		n = read(fd, msg, sizeof(*msg));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*msg);
}

/* one attempt: 0 ok, 1 the user namespace was refused (*uerr), -1 err set */
static int probe_once(const struct runner_idmap *m, bool userns, int *uerr, struct pn_error **err)
{
	int c2p[2], p2c[2], st, rc = 0;
	struct probe_msg msg = {0, 0};
	pid_t pid;

	if (pipe2(c2p, O_CLOEXEC) < 0)
		return pn_error_set_errno(err, errno, "pipe");
	if (pipe2(p2c, O_CLOEXEC) < 0) {
		close(c2p[0]);
		close(c2p[1]);
		return pn_error_set_errno(err, errno, "pipe");
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		probe_child(m, userns, p2c[0], c2p[1]);
	}
	close(c2p[1]);
	close(p2c[0]);
	if (pid < 0) {
		close(c2p[0]);
		close(p2c[1]);
		return pn_error_set_errno(err, errno, "fork");
	}
	if (userns) {
		if (!probe_read(c2p[0], &msg))
			rc = probe_fail(err, "the sandbox cannot start: the probe child died");
		else if (msg.stage == PROBE_USERNS) {
			*uerr = msg.err;
			rc = 1;
		} else if (runner_idmap_apply(m, pid, err) == 0) {
			(void)!write(p2c[1], "1", 1); /* the child waits for this */
		} else {
			struct pn_error *e = *err;

			*err = NULL;
			rc = probe_fail(err,
					"the sandbox cannot map its ids: %s (check /etc/subuid, "
					"/etc/subgid and that newuidmap/newgidmap are setuid root, "
					"or set PINION_RUNNER_IDMAP=single)",
					e ? e->msg : "?");
			pn_error_free(e);
			kill(pid, SIGKILL);
		}
	}
	if (rc == 0 && !probe_read(c2p[0], &msg))
		rc = probe_fail(err, "the sandbox cannot start: the probe child died");
	else if (rc == 0 && msg.stage == PROBE_BECOME_ROOT)
		rc = probe_fail(err, "the sandbox cannot become root in its user namespace: %s",
				strerror(msg.err));
	else if (rc == 0 && msg.stage == PROBE_MNT_PID)
		rc = probe_fail(err,
				"the sandbox cannot create mount and pid namespaces: %s (a seccomp "
				"filter or security module refuses unshare; allow it for pinion)",
				strerror(msg.err));
	close(c2p[0]);
	close(p2c[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return rc;
}

int runner_probe(struct pn_error **err)
{
	struct runner_idmap m;
	const char *force = getenv("PINION_RUNNER_NO_USERNS");
	bool no_userns = force && strcmp(force, "1") == 0;
	int uerr = 0, rc;

	if (runner_idmap_detect(&m, err) < 0)
		return pn_error_wrap(err, "find the ids to map");
	rc = probe_once(&m, !(no_userns && m.mode == RUNNER_IDMAP_ROOT), &uerr, err);
	if (rc == 0)
		runner_idmap_notice(&m);
	if (rc <= 0)
		return rc;
	/* real root may go on without a user namespace (ns.c says so at the
	 * first step) if it can still make mount and pid namespaces */
	if (m.mode == RUNNER_IDMAP_ROOT &&
	    (uerr == EPERM || uerr == EINVAL || uerr == ENOSPC || uerr == EUSERS)) {
		rc = probe_once(&m, false, &uerr, err);
		if (rc <= 0)
			return rc;
	}
	return probe_userns_failed(uerr, &m, err);
}
