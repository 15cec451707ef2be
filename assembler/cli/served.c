/* served.c - the image's server for predict, train and serve (served.h): run
 * in the sandbox (the runner's long-running process API), on loopback, with
 * host networking. */
#include "assembler/cli/served.h"
#include "assembler/build.h"
#include "assembler/predict.h"
#include "common/cleanup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t served_signal;

static void on_signal(int sig)
{
	served_signal = sig;
}

/* SIGINT/SIGTERM set served_signal (no SA_RESTART: sleeps and polls end) */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	predict_http_cancel_on(&served_signal);
}

/* a Cog server started with --await-explicit-shutdown ignores SIGTERM: ask
 * it (unless interrupted: then SIGKILL after the short grace) */
static void server_stop(struct served *s)
{
	int st;

	if (s->explicit_shutdown && !served_signal) {
		cleanup_free char *url = xasprintf("%s/shutdown", s->base_url);
		cleanup_free char *body = NULL;
		long code = 0;
		size_t len;

		if (predict_http("POST", url, "", 2, &code, &body, &len, NULL) == 0 &&
		    runner_proc_wait(s->proc, 5000, &st, NULL) == 1) {
			runner_proc_free(s->proc);
			return;
		}
	}
	runner_proc_stop(s->proc, served_signal ? SERVED_STOP_GRACE_MS : 5000, &st, NULL);
	runner_proc_free(s->proc);
}

static void served_release(struct served *s)
{
	if (s->proc)
		server_stop(s);
	if (s->rf_ready)
		runner_rootfs_release(&s->rf);
	if (s->runner)
		runner_free(s->runner);
	oci_image_release(&s->img);
	oci_location_release(&s->loc); /* s->layout */
	build_cache_free(s->cache);
	registry_opts_release(&s->ro);
	free(s->base_url);
	free(s->built);
}

int served_main(const struct served_cmd *sc, struct served_args *a, int argc, char **argv)
{
	struct served s;
	struct cli_table t[2] = {{sc->opts, sc->n_opts, a}, CLI_REGISTRY_TABLE(&s.ro)};
	struct cli_cmd cmd = {.name = sc->name,
			      .intro = sc->intro,
			      .tables = t,
			      .n_tables = 2,
			      .groups = CLI_REG_PULL,
			      .max_args = 1};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct pn_error *err = NULL;
	int rc = 0, r = 0;

	memset(&s, 0, sizeof(s)); /* s.img zeroed: oci_image_load fills it */
	if (!cli_registry_start(&cmd, &s.ro, argc, argv, &args, &rc)) {
		s.cache_dir = a->cache_dir;
		s.port = a->port;
		r = sc->run(&s, args.n ? args.v[0] : NULL, a, &err);
	}
	served_release(&s);
	if (served_signal == SIGINT || (r < 0 && served_signal)) {
		pn_error_free(err);
		fprintf(stderr, "pinion %s: interrupted\n", sc->name);
		rc = 128 + served_signal;
	} else if (r < 0) {
		rc = pn_cli_fail(err);
	}
	pn_strv_release(&a->inputs);
	pn_strv_release(&a->env);
	return rc;
}

int served_set_timeout(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	long n;

	(void)opt;
	if (pn_parse_long(v, 1, 86400, &n) < 0)
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid `--setup-timeout %s`: expected 1-86400 seconds", v);
	((struct served_args *)ctx)->timeout = (int)n;
	return 0;
}

int served_set_port(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	long n;

	(void)opt;
	if (pn_parse_long(v, 1, 65535, &n) < 0)
		return pn_error_set(err, PN_ERR_INVALID, "invalid port `%s`: expected 1-65535", v);
	((struct served_args *)ctx)->port = (int)n;
	return 0;
}

int served_set_env(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	const char *eq = strchr(v, '=');

	(void)opt;
	if (!eq || eq == v || strcspn(v, " \t\n") < (size_t)(eq - v))
		return pn_error_set(err, PN_ERR_INVALID, "--env `%s`: expected NAME=VALUE", v);
	pn_strv_push(&((struct served_args *)ctx)->env, v);
	return 0;
}

int served_set_gpus(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt, (void)err;
	((struct served_args *)ctx)->gpus = v;
	pn_info("--gpus %s: pinion's sandbox has no GPU access; the model runs on the CPU", v);
	return 0;
}

/* IMAGE: oci:DIR[:TAG], oci-archive:FILE[:REF], docker-archive:FILE[:REF], a
 * registry reference (pulled into the cache), or NULL: the default layout of
 * the current directory */
static int image_open(struct served *s, const char *image, struct pn_error **err)
{
	cleanup_free char *dir = NULL;
	struct registry_client *rc = NULL;
	struct oci_descriptor d;

	oci_image_release(&s->img);
	if (image && registry_location_is_layout(image)) {
		if (oci_location_open_image(&s->loc, image, s->cache_dir, s->ro.platform, &s->img,
					    err) < 0)
			return -1;
		s->layout = s->loc.layout;
		return 0;
	}
	if (!image) {
		dir = build_default_layout(".");
		if (oci_layout_open(dir, 0, &s->loc.layout, err) < 0) {
			pn_error_hint(err, "build the model first with `pinion build`, or name "
					   "an image");
			return -1;
		}
		s->layout = s->loc.layout;
		return oci_image_load(s->layout, BUILD_DEFAULT_TAG, s->ro.platform, &s->img, err);
	}
	if (build_cache_open(s->cache_dir, &s->cache, err) < 0 ||
	    registry_client_new(&s->ro, &rc, err) < 0)
		return -1;
	oci_descriptor_init(&d);
	if (registry_pull(rc, image, build_cache_layout(s->cache), image, &d, err) < 0) {
		registry_client_free(rc);
		return pn_error_wrap(err, "pull `%s`", image);
	}
	registry_client_free(rc);
	oci_descriptor_release(&d);
	oci_image_release(&s->img);
	return oci_image_load(build_cache_layout(s->cache), image, s->ro.platform, &s->img, err);
}

int served_build_here(const struct registry_opts *ro, const char *cache_dir, char **image_out,
		      struct pn_error **err)
{
	struct build_opts o;
	struct build_result res;
	int rc;

	build_opts_init(&o);
	o.ropts = ro;
	o.platform = ro->platform;
	o.cache_dir = cache_dir;
	pn_info("building the model in the current directory first");
	rc = build_run(&o, &res, err);
	build_opts_release(&o);
	if (rc < 0)
		return pn_error_wrap(err, "build");
	*image_out = xasprintf("oci:%s:%s", res.layout_dir, res.layout_tag);
	build_result_release(&res);
	return 0;
}

int served_prepare(struct served *s, const char *image, bool train, struct pn_error **err)
{
	bool here = !image && access("cog.yaml", F_OK) == 0;

	if (here && predict_check_model("cog.yaml", train, err) < 0)
		return -1;
	if (runner_probe(err) < 0) /* before any build or pull */
		return -1;
	if (here) {
		if (served_build_here(&s->ro, s->cache_dir, &s->built, err) < 0)
			return -1;
		image = s->built;
	}
	if (image_open(s, image, err) < 0)
		return -1;
	/* from here on Ctrl-C is ours (the build's steps have the runner's) */
	catch_signals();
	return 0;
}

json_t *served_label_schema(const struct served *s)
{
	const char *v =
		json_string_value(json_object_get(s->img.config.labels, "run.cog.openapi_schema"));

	return v ? json_loads(v, 0, NULL) : NULL;
}

int served_free_port(struct pn_error **err)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	cleanup_close int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return pn_error_set_errno(err, errno, "find a free port");
	return ntohs(a.sin_port);
}

int served_start(struct served *s, const char *host, bool interactive, const struct pn_strv *env_in,
		 struct pn_error **err)
{
	struct runner_opts o;
	struct runner_step step;
	cleanup_strv struct pn_strv argv = PN_STRV_INIT;
	cleanup_strv struct pn_strv env = PN_STRV_INIT;

	runner_opts_init(&o);
	o.cache_dir = s->cache_dir;
	if (runner_new(&o, &s->runner, err) < 0)
		return pn_error_wrap(err, "start the sandbox");
	runner_rootfs_init(&s->rf);
	if (runner_rootfs_prepare(s->runner, s->layout ? s->layout : build_cache_layout(s->cache),
				  &s->img, &s->rf, err) < 0) {
		runner_rootfs_release(&s->rf);
		return pn_error_wrap(err, "unpack the image");
	}
	s->rf_ready = true;
	for (size_t i = 0; i < s->img.config.entrypoint.n; i++)
		pn_strv_push(&argv, s->img.config.entrypoint.v[i]);
	for (size_t i = 0; i < s->img.config.cmd.n; i++) {
		pn_strv_push(&argv, s->img.config.cmd.v[i]);
		/* a failed setup() stays to answer the health check with its error */
		if (!interactive && strcmp(s->img.config.cmd.v[i], "cog.server.http") == 0)
			s->explicit_shutdown = true;
	}
	if (s->explicit_shutdown) {
		pn_strv_push(&argv, "--await-explicit-shutdown");
		pn_strv_push(&argv, "true");
	}
	if (!argv.n)
		return pn_error_set(err, PN_ERR_INVALID, "the image has no entrypoint or command");
	for (size_t i = 0; env_in && i < env_in->n; i++)
		pn_strv_push(&env, env_in->v[i]);
	pn_strv_push_owned(&env, xasprintf("PORT=%d", s->port));
	pn_strv_push_owned(&env, xasprintf("COG_HOST=%s", host));
	/* the sandbox has its own init as pid 1: tini reaps as a subreaper */
	pn_strv_push(&env, "TINI_SUBREAPER=1");
	memset(&step, 0, sizeof(step));
	step.name = "model";
	step.argv = (const char *const *)argv.v;
	step.config = &s->img.config;
	step.env = (const char *const *)env.v;
	step.interactive = interactive;
	if (runner_proc_start(s->runner, &s->rf, &step, &s->proc, err) < 0)
		return pn_error_wrap(err, "start the model server");
	s->base_url = xasprintf("http://127.0.0.1:%d", s->port);
	return 0;
}

/* the last non-empty line of text, into buf */
static const char *last_line(const char *text, char *buf, size_t size)
{
	size_t n = strlen(text), end;

	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	end = n;
	while (n && text[n - 1] != '\n')
		n--;
	snprintf(buf, size, "%.*s", (int)(end - n), text + n);
	return buf;
}

/* the health-check answer: 1 ready, 0 not yet, -1 setup failed */
static int health(const char *url, struct pn_error **err)
{
	cleanup_free char *body = NULL;
	cleanup_json json_t *j = NULL;
	long status = 0;
	size_t len = 0;
	const char *st, *logs;
	char buf[512];

	if (predict_http("GET", url, NULL, PREDICT_HEALTH_TIMEOUT_S, &status, &body, &len, NULL) <
		    0 ||
	    status != 200)
		return 0;
	j = json_loadb(body, len, 0, NULL);
	st = json_string_value(json_object_get(j, "status"));
	if (predict_health_up(st))
		return 1;
	if (!st || strcmp(st, "SETUP_FAILED") != 0)
		return 0;
	logs = json_string_value(json_object_get(json_object_get(j, "setup"), "logs"));
	if (!logs || !*logs)
		return pn_error_set(err, PN_ERR_GENERIC, "the model's setup() failed");
	/* the server printed its output; the real cause (its last line) last */
	return pn_error_set(err, PN_ERR_GENERIC, "the model's setup() failed: %s",
			    last_line(logs, buf, sizeof(buf)));
}

int served_wait_ready(struct served *s, int timeout_s, struct pn_error **err)
{
	cleanup_free char *url = xasprintf("%s/health-check", s->base_url);
	time_t deadline = time(NULL) + timeout_s;

	for (;;) {
		int exit_status, r;

		if (served_signal)
			return pn_error_set(err, PN_ERR_GENERIC, "interrupted");
		r = runner_proc_wait(s->proc, 0, &exit_status, err);
		if (r < 0)
			return -1;
		if (r == 1) {
			runner_proc_free(s->proc);
			s->proc = NULL;
			pn_error_set(err, PN_ERR_GENERIC,
				     "the model server exited with status %d before "
				     "it was ready",
				     exit_status);
			pn_error_hint(err, "its output above says why");
			return -1;
		}
		r = health(url, err);
		if (r)
			return r < 0 ? -1 : 0;
		if (time(NULL) > deadline)
			return pn_error_set(err, PN_ERR_GENERIC,
					    "the model was not ready after %ds", timeout_s);
		usleep(200 * 1000);
	}
}

json_t *served_fetch_schema(struct served *s)
{
	cleanup_free char *url = xasprintf("%s/openapi.json", s->base_url);
	cleanup_free char *body = NULL;
	long status = 0;
	size_t len;

	if (predict_http("GET", url, NULL, 30, &status, &body, &len, NULL) < 0 || status != 200)
		return NULL;
	return json_loadb(body, len, 0, NULL);
}
