/* spawn.c - run a program with stdin data, capture its stdout (see common.h) */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* the most written to the child's stdin in one call */
#define SPAWN_WRITE_CHUNK ((size_t)64 << 10)

/* one run: the parent's ends of the pipes and where the data stands */
struct spawn_run {
	const struct pn_spawn *sp;
	pid_t pid;
	int in_fd;  /* write end of the child's stdin, or -1 */
	int out_fd; /* read end of the child's stdout, or -1 */
	size_t in_off;
	int64_t deadline; /* CLOCK_MONOTONIC ms, 0 = none */
	bool epipe;	  /* a write met a closed stdin (SIGPIPE raised, blocked) */
	struct pn_buf out;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* a pipe whose ends are both CLOEXEC and above 0-2, so that the file
 * actions that set up the child's 0, 1 and 2 cannot clobber one */
static int pipe_above_stdio(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		int e = errno;
		close(p[i]);
		p[i] = fd;
		if (fd < 0) {
			close_fd(&p[1 - i]);
			errno = e;
			return -1;
		}
	}
	return 0;
}

static int file_actions(posix_spawn_file_actions_t *fa, const struct pn_spawn *sp, int in_r,
			int out_w)
{
	int r = 0;

	/* stderr first: err_fd may be 0 or 1, which the next two replace */
	if (sp->err_fd < 0)
		r = posix_spawn_file_actions_addopen(fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	else if (sp->err_fd != STDERR_FILENO)
		r = posix_spawn_file_actions_adddup2(fa, sp->err_fd, STDERR_FILENO);
	if (r == 0 && in_r >= 0)
		r = posix_spawn_file_actions_adddup2(fa, in_r, STDIN_FILENO);
	else if (r == 0)
		r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(fa, out_w, STDOUT_FILENO);
	return r;
}

/* the child: its own process group (so a kill reaches what it starts), an
 * empty signal mask and SIGPIPE at its default whatever the parent has */
static int spawn_attrs(posix_spawnattr_t *at)
{
	sigset_t none, def;
	int r;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	r = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						 POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setpgroup(at, 0);
	if (r == 0)
		r = posix_spawnattr_setsigmask(at, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(at, &def);
	return r;
}

/* start the child with in_r/out_w as its stdin/stdout: 0, or an errno */
static int spawn_start(struct spawn_run *run, int in_r, int out_w)
{
	const struct pn_spawn *sp = run->sp;
	char *const *envp = sp->envp ? sp->envp : environ;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	r = file_actions(&fa, sp, in_r, out_w);
	if (r == 0)
		r = spawn_attrs(&at);
	if (r == 0 && sp->path_search)
		r = posix_spawnp(&run->pid, sp->argv[0], &fa, &at, sp->argv, envp);
	else if (r == 0)
		r = posix_spawn(&run->pid, sp->argv[0], &fa, &at, sp->argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

/* the next piece of stdin; a closed stdin (EPIPE) ends the writing, as the
 * child chose to read no more: its exit status tells the rest */
static void feed_stdin(struct spawn_run *run)
{
	size_t left = run->sp->in_len - run->in_off;
	ssize_t n = 0;

	if (left > 0)
		n = write(run->in_fd, run->sp->in + run->in_off,
			  left < SPAWN_WRITE_CHUNK ? left : SPAWN_WRITE_CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0 && errno == EPIPE)
		run->epipe = true;
	if (n > 0)
		run->in_off += (size_t)n;
	if (n < 0 || run->in_off == run->sp->in_len)
		close_fd(&run->in_fd);
}

/* read what is there: 0 (also at EOF, which closes out_fd), or -1 */
static int drain_stdout(struct spawn_run *run, struct pn_error **err)
{
	char buf[16384];
	ssize_t n = read(run->out_fd, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0)
		return pn_error_set_errno(err, errno, "read the output of `%s`", run->sp->argv[0]);
	if (n == 0) {
		close_fd(&run->out_fd);
		return 0;
	}
	if (pn_buf_append(&run->out, buf, (size_t)n, NULL) < 0)
		return pn_error_set(
			err, PN_ERR_TOO_LARGE, "`%s` wrote more than %zu bytes of output: killed",
			run->sp->argv[0], run->out.max ? run->out.max : PN_BUF_DEFAULT_MAX);
	return 0;
}

static int timed_out(struct spawn_run *run, struct pn_error **err)
{
	pn_error_set(err, PN_ERR_GENERIC, "`%s` did not finish within %d ms: killed",
		     run->sp->argv[0], run->sp->timeout_ms);
	if (err && *err)
		(*err)->errno_val = ETIMEDOUT;
	return -1;
}

/* poll's wait until the deadline: -1 none, 0 passed */
static int wait_left(const struct spawn_run *run)
{
	int64_t left;

	if (!run->deadline)
		return -1;
	left = run->deadline - mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* write stdin and read stdout until both are closed */
static int pump(struct spawn_run *run, struct pn_error **err)
{
	while (run->in_fd >= 0 || run->out_fd >= 0) {
		struct pollfd p[2] = {{.fd = run->out_fd, .events = POLLIN},
				      {.fd = run->in_fd, .events = POLLOUT}};
		int wait = wait_left(run), r;

		if (wait == 0)
			return timed_out(run, err);
		r = poll(p, 2, wait); /* a negative fd is skipped */
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return pn_error_set_errno(err, errno, "poll");
		if (p[1].revents && run->in_fd >= 0)
			feed_stdin(run);
		if (p[0].revents && run->out_fd >= 0 && drain_stdout(run, err) < 0)
			return -1;
	}
	return 0;
}

/* reap the child, within the deadline */
static int reap(struct spawn_run *run, int *wstatus, struct pn_error **err)
{
	for (;;) {
		pid_t r = waitpid(run->pid, wstatus, run->deadline ? WNOHANG : 0);

		if (r == run->pid) {
			run->pid = -1;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return pn_error_set_errno(err, errno, "wait for `%s`", run->sp->argv[0]);
		if (run->deadline && mono_ms() >= run->deadline)
			return timed_out(run, err);
		if (r == 0) {
			struct timespec ts = {0, 5 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

/* the child and whatever it started in its group: killed and reaped */
static void kill_child(struct spawn_run *run)
{
	int st;

	if (run->pid <= 0)
		return;
	kill(-run->pid, SIGKILL);
	kill(run->pid, SIGKILL);
	while (waitpid(run->pid, &st, 0) < 0 && errno == EINTR)
		;
	run->pid = -1;
}

/* pump and reap with SIGPIPE blocked in this thread; a SIGPIPE that a write
 * raised is taken off again so it never reaches the process */
static int talk(struct spawn_run *run, int *wstatus, struct pn_error **err)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int rc;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	rc = pump(run, err);
	if (rc == 0)
		rc = reap(run, wstatus, err);
	if (run->epipe && !was_pending) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int spawn_pipes(struct spawn_run *run, int in[2], int ob[2], struct pn_error **err)
{
	const char *prog = run->sp->argv[0];

	if (run->sp->in && pipe_above_stdio(in) < 0)
		return pn_error_set_errno(err, errno, "run `%s`: pipe", prog);
	if (pipe_above_stdio(ob) < 0) {
		int e = errno;
		close_fd(&in[0]);
		close_fd(&in[1]);
		return pn_error_set_errno(err, e, "run `%s`: pipe", prog);
	}
	/* the parent's end of stdin must not block: stdout is read meanwhile */
	if (in[1] >= 0 && fcntl(in[1], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close_fd(&in[0]), close_fd(&in[1]), close_fd(&ob[0]), close_fd(&ob[1]);
		return pn_error_set_errno(err, e, "run `%s`: pipe", prog);
	}
	return 0;
}

int pn_spawn_capture(const struct pn_spawn *sp, char **out, size_t *out_len, int *wstatus,
		     struct pn_error **err)
{
	struct spawn_run run = {.sp = sp, .pid = -1, .in_fd = -1, .out_fd = -1};
	int in[2] = {-1, -1}, ob[2] = {-1, -1}, st = 0, r;

	if (!sp->argv || !sp->argv[0])
		PN_BUG("pn_spawn_capture without a program");
	if (spawn_pipes(&run, in, ob, err) < 0)
		return -1;
	r = spawn_start(&run, in[0], ob[1]);
	close_fd(&in[0]);
	close_fd(&ob[1]);
	run.in_fd = in[1];
	run.out_fd = ob[0];
	if (r != 0) {
		close_fd(&run.in_fd);
		close_fd(&run.out_fd);
		return pn_error_set_errno(err, r, "run `%s`", sp->argv[0]);
	}
	pn_buf_init(&run.out, sp->max_out);
	run.deadline = sp->timeout_ms > 0 ? mono_ms() + sp->timeout_ms : 0;
	r = talk(&run, &st, err);
	close_fd(&run.in_fd);
	close_fd(&run.out_fd);
	if (r < 0) {
		kill_child(&run);
		if (run.out.data) /* it may be a secret */
			explicit_bzero(run.out.data, run.out.len);
		pn_buf_release(&run.out);
		return -1;
	}
	if (wstatus)
		*wstatus = st;
	if (out)
		*out = pn_buf_steal(&run.out, out_len);
	else if (out_len)
		*out_len = run.out.len;
	pn_buf_release(&run.out);
	return 0;
}
