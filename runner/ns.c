/* ns.c - child -> parent reports, entering a user namespace, and calling a
 * function inside one (snapshot unpack, diff, prune) */
#include "runner/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REPORT_ERROR = 1, REPORT_REPLY = 2 };
struct report_hdr {
	uint32_t kind;
	int32_t code, errnum;
	uint32_t len1, len2;
};

static void report_write(int fd, uint32_t kind, int code, int errnum, const void *a, size_t la,
			 const void *b, size_t lb)
{
	struct report_hdr h = {kind, code, errnum, (uint32_t)la, (uint32_t)lb};
	struct pn_buf buf = PN_BUF_INIT;

	if (fd < 0)
		return;
	pn_buf_append(&buf, &h, sizeof(h), NULL);
	pn_buf_append(&buf, a, la, NULL);
	pn_buf_append(&buf, b, lb, NULL);
	PN_BUF_ASSERT(&buf); /* a message and a hint */
	/* one write: below PIPE_BUF for errors, so messages do not interleave */
	(void)!pn_write_all(fd, buf.data, buf.len);
	pn_buf_release(&buf);
}

void runner_report_error(int fd, const struct pn_error *e)
{
	const char *msg = e && e->msg ? e->msg : "unknown error";
	const char *hint = e && e->hint ? e->hint : "";

	report_write(fd, REPORT_ERROR, e ? e->code : PN_ERR_GENERIC, e ? e->errno_val : 0, msg,
		     strlen(msg), hint, strlen(hint));
}

void runner_report_reply(int fd, const void *data, size_t len)
{
	report_write(fd, REPORT_REPLY, 0, 0, NULL, 0, data, len);
}

int runner_report_parse(const char *p, size_t len, char **reply, size_t *reply_len,
			struct pn_error **err)
{
	bool failed = false;

	while (len >= sizeof(struct report_hdr)) {
		struct report_hdr h;

		memcpy(&h, p, sizeof(h));
		p += sizeof(h);
		len -= sizeof(h);
		if ((size_t)h.len1 + h.len2 > len)
			break;
		if (h.kind == REPORT_ERROR && !failed) {
			failed = true;
			pn_error_set(err, h.code ? h.code : PN_ERR_GENERIC, "%.*s", (int)h.len1, p);
			if (err && *err)
				(*err)->errno_val = h.errnum;
			if (h.len2)
				pn_error_hint(err, "%.*s", (int)h.len2, p + h.len1);
		} else if (h.kind == REPORT_REPLY && reply && !*reply) {
			*reply = xstrndup(p + h.len1, h.len2);
			if (reply_len)
				*reply_len = h.len2;
		}
		p += h.len1 + h.len2;
		len -= h.len1 + h.len2;
	}
	return failed ? -1 : 0;
}

int runner_report_read(int fd, char **reply, size_t *reply_len, struct pn_error **err)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	char chunk[4096];
	ssize_t n;

	pn_buf_init(&b, RUNNER_REPLY_MAX);
	if (reply)
		*reply = NULL;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (pn_buf_append(&b, chunk, (size_t)n, err) < 0)
			return pn_error_wrap(err, "read sandbox report");
	}
	return runner_report_parse(b.data ? b.data : "", b.len, reply, reply_len, err);
}

/* Root without user namespaces (a container that forbids them, or
 * PINION_RUNNER_NO_USERNS=1 for tests): the sandbox still gets its mount and
 * pid namespaces, as real root */
static bool root_without_userns(const struct runner_idmap *m, bool failed)
{
	const char *force = getenv("PINION_RUNNER_NO_USERNS");

	if (m->mode != RUNNER_IDMAP_ROOT)
		return false;
	if (!failed)
		return force && strcmp(force, "1") == 0;
	return errno == EPERM || errno == EINVAL || errno == ENOSPC || errno == EUSERS;
}

int runner_child_enter_userns(int sync_rd, int sync_wr, const struct runner_idmap *m,
			      struct pn_error **err)
{
	char c = 0;
	int rc;

	errno = 0;
	rc = root_without_userns(m, false) ? -1 : unshare(CLONE_NEWUSER);

	if (rc < 0 && (!errno || root_without_userns(m, true))) {
		if (write(sync_wr, "0", 1) != 1) /* "no map needed" */
			return pn_error_set_errno(err, errno, "signal parent");
		return 0;
	}
	if (rc < 0) {
		pn_error_set_errno(err, errno, "create user namespace");
		pn_error_hint(err, "user namespaces may be disabled (sysctl "
				   "kernel.unprivileged_userns_clone, or inside a chroot)");
		if (err && *err)
			(*err)->code = PN_ERR_UNSUPPORTED;
		(void)!write(sync_wr, "x", 1);
		return -1;
	}
	if (write(sync_wr, "1", 1) != 1)
		return pn_error_set_errno(err, errno, "signal parent");
	if (read(sync_rd, &c, 1) != 1 || c != '1')
		return pn_error_set(err, PN_ERR_GENERIC, "id mapping failed");
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return pn_error_set_errno(err, errno, "become root in the user namespace");
	if (runner_idmap_can_setgroups(m) && setgroups(0, NULL) < 0)
		return pn_error_set_errno(err, errno, "drop supplementary groups");
	return 0;
}

int runner_parent_map_child(const struct runner_idmap *m, pid_t pid, int sync_rd, int sync_wr,
			    struct pn_error **err)
{
	char c = 0;

	if (read(sync_rd, &c, 1) != 1 || (c != '1' && c != '0')) {
		/* the child failed before unsharing; its report says why */
		return pn_error_set(err, PN_ERR_GENERIC, "sandbox child did not start");
	}
	if (c == '0') { /* root without a user namespace: nothing to map */
		static bool said;

		if (!said)
			pn_warn("no user namespace: build steps run as real root, isolated by "
				"mount and pid namespaces only");
		said = true;
		return 0;
	}
	if (runner_idmap_apply(m, pid, err) < 0) {
		(void)!write(sync_wr, "x", 1);
		return pn_error_wrap(err, "map ids");
	}
	if (write(sync_wr, "1", 1) != 1)
		return pn_error_set_errno(err, errno, "signal sandbox child");
	return 0;
}

/* ------------------------------------------- signals while a child works */
static volatile sig_atomic_t guard_signal;
static volatile pid_t guard_pid;
static const int guard_sigs[RUNNER_GUARD_NSIG] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};

static void guard_on_signal(int sig)
{
	if (guard_pid <= 0)
		return;
	kill(guard_pid, guard_signal ? SIGKILL : sig);
	guard_signal = sig;
}

void runner_sig_guard_begin(struct runner_sig_guard *g, pid_t pid, bool interactive)
{
	struct sigaction fwd = {.sa_handler = guard_on_signal}, ign = {.sa_handler = SIG_IGN};

	guard_pid = pid;
	guard_signal = 0;
	sigemptyset(&fwd.sa_mask);
	for (size_t i = 0; i < RUNNER_GUARD_NSIG; i++) {
		/* interactive: ^C and ^\ come from the terminal to the command
		 * (it is in our process group), not through pinion */
		bool tty = guard_sigs[i] == SIGINT || guard_sigs[i] == SIGQUIT;

		sigaction(guard_sigs[i], interactive && tty ? &ign : &fwd, &g->old[i]);
	}
}

int runner_sig_guard_end(struct runner_sig_guard *g)
{
	for (size_t i = 0; i < RUNNER_GUARD_NSIG; i++)
		sigaction(guard_sigs[i], &g->old[i], NULL);
	guard_pid = 0;
	return guard_signal;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* the forked helper: enter the user namespace, run fn, report; never returns */
static void userns_child(struct runner *r, runner_userns_fn fn, void *arg, int sync_rd, int sync_wr,
			 int rep_wr)
{
	struct pn_error *e = NULL;
	struct pn_buf out = PN_BUF_INIT;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (runner_child_enter_userns(sync_rd, sync_wr, &r->idmap, &e) < 0 ||
	    fn(arg, &out, &e) < 0) {
		runner_report_error(rep_wr, e);
		_exit(1);
	}
	if (out.len)
		runner_report_reply(rep_wr, out.data, out.len);
	_exit(0);
}

int runner_userns_call(struct runner *r, runner_userns_fn fn, void *arg, char **reply,
		       size_t *reply_len, struct pn_error **err)
{
	int c2p[2] = {-1, -1}, p2c[2] = {-1, -1}, rep[2] = {-1, -1};
	struct runner_sig_guard sg;
	pid_t pid;
	int st, rc, sig;
	struct pn_error *perr = NULL;

	if (pipe2(c2p, O_CLOEXEC) < 0 || pipe2(p2c, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
		close_pair(c2p);
		close_pair(p2c);
		close_pair(rep);
		return pn_error_set_errno(err, errno, "pipe");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close_pair(c2p);
		close_pair(p2c);
		close_pair(rep);
		return pn_error_set_errno(err, errno, "fork");
	}
	if (pid == 0) {
		close(rep[0]);
		userns_child(r, fn, arg, p2c[0], c2p[1], rep[1]);
	}
	close(rep[1]);
	close(c2p[1]);
	close(p2c[0]);
	runner_sig_guard_begin(&sg, pid, false);
	rc = runner_parent_map_child(&r->idmap, pid, c2p[0], p2c[1], &perr);
	close(c2p[0]);
	close(p2c[1]);
	if (rc < 0)
		kill(pid, SIGKILL);
	rc = runner_report_read(rep[0], reply, reply_len, err) < 0 ? -1 : rc;
	close(rep[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if ((sig = runner_sig_guard_end(&sg))) {
		pn_error_free(perr);
		pn_error_clear(err);
		return pn_error_set(err, PN_ERR_GENERIC, "interrupted by SIG%s", sigabbrev_np(sig));
	}
	if (rc < 0 && err && !*err && perr) {
		*err = perr;
		perr = NULL;
	}
	pn_error_free(perr);
	if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		return pn_error_set(err, PN_ERR_GENERIC, "user namespace helper died (status %d)",
				    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return rc;
}
