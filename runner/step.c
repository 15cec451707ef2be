/* step.c - struct runner, one step (run + commit), long-running processes */
#include "runner/internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_KEEP 4096

void runner_opts_init(struct runner_opts *o)
{
	memset(o, 0, sizeof(*o));
}

int runner_new(const struct runner_opts *o, struct runner **out, struct pn_error **err)
{
	struct runner *r = xcalloc(1, sizeof(*r));
	const char *nov = getenv("PINION_RUNNER_NO_OVERLAY");

	r->cache_dir = o && o->cache_dir ? xstrdup(o->cache_dir) : pn_cache_dir();
	r->snap_dir = pn_path_join(r->cache_dir, "snapshots");
	r->run_dir = pn_path_join(r->cache_dir, "runs");
	r->no_overlay = (o && o->no_overlay) || (nov && strcmp(nov, "1") == 0);
	if (pn_mkdir_p(r->snap_dir, 0755, err) < 0 || pn_mkdir_p(r->run_dir, 0755, err) < 0 ||
	    runner_idmap_detect(&r->idmap, err) < 0) {
		runner_free(r);
		return pn_error_wrap(err, "set up the sandbox");
	}
	runner_idmap_notice(&r->idmap);
	*out = r;
	return 0;
}

void runner_free(struct runner *r)
{
	if (!r)
		return;
	free(r->cache_dir);
	free(r->snap_dir);
	free(r->run_dir);
	free(r);
}

const struct runner_idmap *runner_get_idmap(const struct runner *r)
{
	return &r->idmap;
}

void runner_result_init(struct runner_result *res)
{
	memset(res, 0, sizeof(*res));
	res->exit_status = -1;
}

void runner_result_release(struct runner_result *res)
{
	if (res->committed)
		oci_layer_result_release(&res->layer);
	free(res->tail);
	runner_result_init(res);
}

/* ---------------------------------------------------------------- output */
struct pump {
	const char *name;
	char **ring;
	size_t ring_n, ring_next, ring_count;
	struct pn_buf line;
};

static void pump_line(struct pump *p, const char *s, size_t n)
{
	pn_progress_output(p->name, s, n); /* the tail is kept in every mode */
	free(p->ring[p->ring_next]);
	p->ring[p->ring_next] = xstrndup(s, n);
	p->ring_next = (p->ring_next + 1) % p->ring_n;
	if (p->ring_count < p->ring_n)
		p->ring_count++;
}

static void pump_data(struct pump *p, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' || p->line.len >= LINE_MAX_KEEP) {
			pump_line(p, p->line.data ? p->line.data : "", p->line.len);
			pn_buf_reset(&p->line);
			if (data[i] == '\n')
				continue;
		}
		pn_buf_append(&p->line, data + i, 1, NULL);
	}
}

static char *pump_tail(struct pump *p)
{
	struct pn_buf b = PN_BUF_INIT;
	size_t start = (p->ring_next + p->ring_n - p->ring_count) % p->ring_n;

	for (size_t i = 0; i < p->ring_count; i++)
		pn_buf_printf(&b, NULL, "%s%s", i ? "\n" : "", p->ring[(start + i) % p->ring_n]);
	return b.data ? pn_buf_steal(&b, NULL) : NULL;
}

static void pump_release(struct pump *p)
{
	for (size_t i = 0; i < p->ring_n; i++)
		free(p->ring[i]);
	free(p->ring);
	pn_buf_release(&p->line);
}

/* read output (may be -1) and the report until both close */
static void pump_run(struct pump *p, int out_rd, int rep_rd, struct pn_buf *report)
{
	struct pollfd fds[2] = {{out_rd, POLLIN, 0}, {rep_rd, POLLIN, 0}};
	char buf[16384];

	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			n = read(fds[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fds[i].fd = -1;
				continue;
			}
			if (i == 0)
				pump_data(p, buf, (size_t)n);
			else
				pn_buf_append(report, buf, (size_t)n, NULL);
		}
	}
	if (p->line.len)
		pump_line(p, p->line.data, p->line.len);
}

/* ----------------------------------------------------------------- steps */
static int parse_reply(const char *reply, struct runner_result *res, struct pn_error **err)
{
	const char *l = reply ? strstr(reply, "layer ") : NULL;
	const char *s = reply ? strstr(reply, "status ") : NULL;
	const char *rs = reply ? strstr(reply, "run_seconds ") : NULL;
	const char *cs = reply ? strstr(reply, "commit_seconds ") : NULL;
	char digest[80], diff_id[80], mt[128];
	long long size, tar_size;

	if (!s || sscanf(s, "status %d", &res->exit_status) != 1)
		return pn_error_set(err, PN_ERR_GENERIC, "sandbox ended without a status");
	if (rs)
		res->seconds_run = strtod(rs + 12, NULL);
	if (cs)
		res->seconds_commit = strtod(cs + 15, NULL);
	if (!l)
		return 0;
	if (sscanf(l, "layer %79s %lld %79s %lld %127s", digest, &size, diff_id, &tar_size, mt) !=
		    5 ||
	    oci_digest_parse(digest, res->layer.desc.digest, err) < 0 ||
	    oci_digest_parse(diff_id, res->layer.diff_id, err) < 0)
		return pn_error_set(err, PN_ERR_GENERIC, "bad layer report from the sandbox");
	res->layer.desc.media_type = xstrdup(mt);
	res->layer.desc.size = size;
	res->layer.tar_size = tar_size;
	res->committed = true;
	return 0;
}

/* the sandbox's report: its error, else the status and layer it sent */
static int step_read_report(const struct pn_buf *report, struct runner_result *res,
			    struct pn_error **err)
{
	cleanup_free char *reply = NULL;

	if (runner_report_parse(report->data ? report->data : "", report->len, &reply, NULL, err) <
	    0) {
		if (reply)
			parse_reply(reply, res, NULL);
		return -1;
	}
	return parse_reply(reply, res, err);
}

static int step_finish(const struct runner_step *step, struct runner_result *res,
		       struct pn_error **err)
{
	const char *name = step->name ? step->name : "run";

	if (res->exit_status == 0)
		return 0;
	pn_error_set(err, PN_ERR_GENERIC, "step `%s`: exited with status %d", name,
		     res->exit_status);
	if (res->tail)
		pn_error_hint(err, "last lines of output:\n%s", res->tail);
	return -1;
}

/* pinion got `sig` while the step ran: it was stopped, nothing committed */
static int step_interrupted(const struct runner_step *step, int sig, struct runner_result *res,
			    struct pn_error **err)
{
	if (res->committed)
		oci_layer_result_release(&res->layer);
	res->committed = false;
	if (res->exit_status <= 0)
		res->exit_status = 128 + sig;
	pn_error_clear(err);
	pn_error_set(err, PN_ERR_INTERRUPTED, "step `%s`: interrupted by SIG%s",
		     step->name ? step->name : "run", sigabbrev_np(sig));
	if (err && *err)
		(*err)->errno_val = sig;
	return -1;
}

static int wait_child(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* a run dir left by a sandbox that did not clean up after itself (killed):
 * its files may belong to subordinate ids, so remove it from inside */
static void run_dir_remove(struct runner *r, const char *dir)
{
	struct pn_strv v = PN_STRV_INIT;

	if (!dir || access(dir, F_OK) < 0)
		return;
	if (pn_rm_rf(dir, NULL) < 0) {
		pn_strv_push(&v, dir);
		runner_rm_paths(r, r->run_dir, &v, NULL);
		pn_strv_release(&v);
	}
}

int runner_step_run(struct runner *r, const struct runner_rootfs *rf,
		    const struct runner_step *step, struct oci_layout *out,
		    const struct oci_layer_opts *lopts, struct runner_result *res,
		    struct pn_error **err)
{
	struct runner_sandbox_cfg c = {.r = r,
				       .rf = rf,
				       .step = step,
				       .out = out,
				       .lopts = lopts,
				       .out_wr = -1,
				       .rep_wr = -1};
	struct pump p = {step->name ? step->name : "run"};
	cleanup_buf struct pn_buf report = PN_BUF_INIT;
	pid_t pid;
	int rep_rd = -1, out_rd = -1, rc, got_signal = 0;

	runner_result_init(res);
	c.copy_mode = r->no_overlay;
	c.adopt = out != NULL;
	if (runner_sandbox_prepare(&c, err) < 0) {
		if (c.dir)
			pn_rm_rf(c.dir, NULL);
		runner_sandbox_cfg_release(&c);
		return pn_error_wrap(err, "step `%s`", p.name);
	}
	p.ring_n = step->tail_lines > 0 ? (size_t)step->tail_lines : RUNNER_TAIL_DEFAULT;
	p.ring = xcalloc(p.ring_n, sizeof(char *));
	rc = runner_sandbox_start(&c, &pid, &rep_rd, step->interactive ? NULL : &out_rd, err);
	if (rc == 0) {
		struct runner_sig_guard sg;

		runner_sig_guard_begin(&sg, pid, step->interactive);
		pump_run(&p, out_rd, rep_rd, &report);
		wait_child(pid);
		got_signal = runner_sig_guard_end(&sg);
		rc = step_read_report(&report, res, err);
	}
	if (rep_rd >= 0)
		close(rep_rd);
	if (out_rd >= 0)
		close(out_rd);
	res->tail = pump_tail(&p);
	pump_release(&p);
	run_dir_remove(r, c.dir);
	runner_sandbox_cfg_release(&c);
	if (got_signal)
		return step_interrupted(step, got_signal, res, err);
	if (rc < 0)
		return pn_error_wrap(err, "step `%s`", step->name ? step->name : "run");
	return step_finish(step, res, err);
}

/* ------------------------------------------------------ long-running procs */
struct runner_proc {
	struct runner *r;
	int lock_fd; /* the run dir's lock, held while the process lives */
	pid_t pid;
	int rep_rd;
	bool done;
	int status;
	char *dir;
};

int runner_proc_start(struct runner *r, const struct runner_rootfs *rf,
		      const struct runner_step *step, struct runner_proc **out,
		      struct pn_error **err)
{
	struct runner_sandbox_cfg c = {.r = r, .rf = rf, .step = step, .out_wr = -1, .rep_wr = -1};
	struct runner_proc *p;
	pid_t pid;
	int rep_rd = -1;

	c.copy_mode = r->no_overlay;
	if (runner_sandbox_prepare(&c, err) < 0 ||
	    runner_sandbox_start(&c, &pid, &rep_rd, NULL, err) < 0) {
		if (rep_rd >= 0)
			close(rep_rd);
		if (c.dir)
			pn_rm_rf(c.dir, NULL);
		runner_sandbox_cfg_release(&c);
		return pn_error_wrap(err, "start `%s`", step->name ? step->name : "process");
	}
	p = xcalloc(1, sizeof(*p));
	p->r = r;
	p->pid = pid;
	p->rep_rd = rep_rd;
	p->dir = steal_pointer(&c.dir);
	p->lock_fd = c.lock_fd;
	c.lock_fd = -1;
	runner_sandbox_cfg_release(&c);
	*out = p;
	return 0;
}

pid_t runner_proc_pid(const struct runner_proc *p)
{
	return p->pid;
}

static int proc_reap(struct runner_proc *p, int st, int *status_out, struct pn_error **err)
{
	cleanup_free char *reply = NULL;
	int rc;

	p->done = true;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	rc = runner_report_read(p->rep_rd, &reply, NULL, err);
	close(p->rep_rd);
	p->rep_rd = -1;
	if (reply) {
		const char *s = strstr(reply, "status ");

		if (s)
			sscanf(s, "status %d", &p->status);
	}
	if (status_out)
		*status_out = p->status;
	run_dir_remove(p->r, p->dir);
	return rc < 0 ? -1 : 1;
}

int runner_proc_wait(struct runner_proc *p, int timeout_ms, int *status_out, struct pn_error **err)
{
	struct timespec t0, t;

	if (p->done) {
		if (status_out)
			*status_out = p->status;
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int st;
		pid_t w = waitpid(p->pid, &st, timeout_ms < 0 ? 0 : WNOHANG);

		if (w == p->pid)
			return proc_reap(p, st, status_out, err);
		if (w < 0 && errno != EINTR)
			return pn_error_set_errno(err, errno, "wait for sandbox %d", (int)p->pid);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (timeout_ms >= 0 &&
		    (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
			    timeout_ms)
			return 0;
		if (w == 0)
			usleep(10000);
	}
}

int runner_proc_stop(struct runner_proc *p, int grace_ms, int *status_out, struct pn_error **err)
{
	int rc;

	if (p->done)
		return runner_proc_wait(p, 0, status_out, err) < 0 ? -1 : 0;
	kill(p->pid, SIGTERM);
	rc = runner_proc_wait(p, grace_ms, status_out, err);
	if (rc == 0) {
		kill(p->pid, SIGKILL);
		rc = runner_proc_wait(p, -1, status_out, err);
	}
	return rc < 0 ? -1 : 0;
}

void runner_proc_free(struct runner_proc *p)
{
	if (!p)
		return;
	if (!p->done)
		runner_proc_stop(p, 5000, NULL, NULL);
	if (p->rep_rd >= 0)
		close(p->rep_rd);
	if (p->lock_fd > 2)
		close(p->lock_fd);
	free(p->dir);
	free(p);
}
