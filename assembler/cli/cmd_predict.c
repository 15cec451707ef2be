/* cmd_predict.c - `pinion predict [IMAGE] -i name=value ...` and
 * `pinion serve IMAGE [-p PORT]`: run the image's server in the sandbox (the
 * runner's long-running process API), on loopback, with host networking. */
#include "assembler/build.h"
#include "assembler/cli/cli.h"
#include "assembler/cache.h"
#include "assembler/predict.h"
#include "common/cleanup.h"
#include "runner/runner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PREDICT_SETUP_TIMEOUT 600 /* seconds for setup() */

struct served {
	struct registry_opts ro;
	struct oci_layout *layout;
	struct build_cache *cache;
	struct oci_image img;
	struct runner *runner;
	struct runner_rootfs rf;
	bool rf_ready;
	struct runner_proc *proc;
	const char *cache_dir;
	int port;
	char *base_url;
	char *built; /* oci:DIR:TAG of a build made for predict, or NULL */
};

static void served_release(struct served *s)
{
	if (s->proc) {
		int st;

		runner_proc_stop(s->proc, 5000, &st, NULL);
		runner_proc_free(s->proc);
	}
	if (s->rf_ready)
		runner_rootfs_release(&s->rf);
	if (s->runner)
		runner_free(s->runner);
	oci_image_release(&s->img);
	if (s->layout)
		oci_layout_free(s->layout);
	build_cache_free(s->cache);
	registry_opts_release(&s->ro);
	free(s->base_url);
	free(s->built);
}

/* the options of predict and serve (one table each, one struct) */
struct served_args {
	struct pn_strv inputs;
	const char *out_path, *host, *cache_dir;
	int timeout, port;
};

static int set_timeout(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	long n;

	(void)opt;
	if (pn_parse_long(v, 1, 86400, &n) < 0)
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid `--setup-timeout %s`: expected 1-86400 seconds", v);
	((struct served_args *)ctx)->timeout = (int)n;
	return 0;
}

static int set_port(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	long n;

	(void)opt;
	if (pn_parse_long(v, 1, 65535, &n) < 0)
		return pn_error_set(err, PN_ERR_INVALID, "invalid port `%s`: expected 1-65535", v);
	((struct served_args *)ctx)->port = (int)n;
	return 0;
}

/* predict or serve: its options, and what it does with the image */
struct served_cmd {
	const char *name, *intro;
	const struct cli_opt *opts;
	size_t n_opts;
	int (*run)(struct served *s, const char *image, const struct served_args *a,
		   struct pn_error **err);
};

/* the registry options (pulls, and predict's build), the command's own and
 * at most one IMAGE, then sc->run; the exit status */
static int served_main(const struct served_cmd *sc, struct served_args *a, int argc, char **argv)
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
	int rc;

	memset(&s, 0, sizeof(s)); /* s.img zeroed: oci_image_load fills it */
	if (!cli_registry_start(&cmd, &s.ro, argc, argv, &args, &rc)) {
		s.cache_dir = a->cache_dir;
		s.port = a->port;
		if (sc->run(&s, args.n ? args.v[0] : NULL, a, &err) < 0)
			rc = pn_cli_fail(err);
	}
	served_release(&s);
	pn_strv_release(&a->inputs);
	return rc;
}

#define SERVED(f) offsetof(struct served_args, f)
#define CACHE_DIR_OPT                                                                              \
	{                                                                                          \
		"cache-dir", 0, CLI_ARG_REQUIRED, NULL, SERVED(cache_dir), "DIR",                  \
			"snapshots and pulled images", 0                                           \
	}

/* IMAGE: oci:DIR[:TAG], a registry reference (pulled into the cache), or
 * NULL: the default layout of the current directory */
static int image_open(struct served *s, const char *image, struct pn_error **err)
{
	cleanup_free char *dir = NULL, *ref = NULL;
	struct registry_client *rc = NULL;
	struct oci_descriptor d;

	if (!image || registry_location_is_layout(image)) {
		if (image && oci_ref_parse_layout(image, &dir, &ref, err) < 0)
			return -1;
		if (!image) {
			dir = build_default_layout(".");
			ref = xstrdup(BUILD_DEFAULT_TAG);
		}
		if (oci_layout_open(dir, 0, &s->layout, err) < 0) {
			if (!image)
				pn_error_hint(err,
					      "build the model first with `pinion build`, or name "
					      "an image");
			return -1;
		}
		oci_image_release(&s->img);
		return oci_image_load(s->layout, ref, s->ro.platform, &s->img, err);
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

static int free_port(struct pn_error **err)
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

/* start the image's entrypoint + cmd with PORT set */
static int server_start(struct served *s, const char *host, bool interactive, struct pn_error **err)
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
	for (size_t i = 0; i < s->img.config.cmd.n; i++)
		pn_strv_push(&argv, s->img.config.cmd.v[i]);
	if (!argv.n)
		return pn_error_set(err, PN_ERR_INVALID, "the image has no entrypoint or command");
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

/* poll /health-check until READY; fail on SETUP_FAILED or exit */
static int server_wait_ready(struct served *s, int timeout_s, struct pn_error **err)
{
	cleanup_free char *url = xasprintf("%s/health-check", s->base_url);
	time_t deadline = time(NULL) + timeout_s;

	for (;;) {
		cleanup_free char *body = NULL;
		cleanup_json json_t *j = NULL;
		long status = 0;
		size_t len = 0;
		int exit_status, r;
		const char *st;

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
		if (predict_http("GET", url, NULL, 5, &status, &body, &len, NULL) == 0 &&
		    status == 200) {
			j = json_loadb(body, len, 0, NULL);
			st = json_string_value(json_object_get(j, "status"));
			if (st && strcmp(st, "READY") == 0)
				return 0;
			if (st && strcmp(st, "SETUP_FAILED") == 0) {
				pn_error_set(err, PN_ERR_GENERIC, "the model's setup() failed");
				pn_error_hint(err, "its logs: %s",
					      json_string_value(json_object_get(
						      json_object_get(j, "setup"), "logs"))
						      ?: "(none)");
				return -1;
			}
		}
		if (time(NULL) > deadline)
			return pn_error_set(err, PN_ERR_GENERIC,
					    "the model was not ready after %ds", timeout_s);
		usleep(200 * 1000);
	}
}

static json_t *fetch_schema(struct served *s)
{
	cleanup_free char *url = xasprintf("%s/openapi.json", s->base_url);
	cleanup_free char *body = NULL;
	long status = 0;
	size_t len;

	if (predict_http("GET", url, NULL, 30, &status, &body, &len, NULL) < 0 || status != 200)
		return NULL;
	return json_loadb(body, len, 0, NULL);
}

static int post_prediction(struct served *s, json_t *input, const char *out_path,
			   struct pn_error **err)
{
	cleanup_json json_t *req = json_object();
	cleanup_json json_t *resp = NULL;
	cleanup_free char *body = NULL, *url = xasprintf("%s/predictions", s->base_url);
	cleanup_free char *answer = NULL;
	const char *status;
	long code = 0;
	size_t len;

	json_object_set(req, "input", input);
	body = json_dumps(req, JSON_COMPACT);
	if (predict_http("POST", url, body, 0, &code, &answer, &len, err) < 0)
		return pn_error_wrap(err, "prediction");
	resp = json_loadb(answer, len, 0, NULL);
	status = json_string_value(json_object_get(resp, "status"));
	if (code == 422)
		return pn_error_set(err, PN_ERR_INVALID, "the model refused the input: %s", answer);
	if (!status || strcmp(status, "succeeded") != 0) {
		const char *e = json_string_value(json_object_get(resp, "error"));

		return pn_error_set(err, PN_ERR_GENERIC, "prediction %s: %s",
				    status ? status : "failed", e ? e : answer);
	}
	return predict_output_write(json_object_get(resp, "output"), ".", out_path, stdout, err);
}

/* ---------------------------------------------------------------- predict */

static const char predict_intro[] =
	"usage: pinion predict [IMAGE] [-i NAME=VALUE]... [-o PATH]\n"
	"\n"
	"Run one prediction: start the image's server in the sandbox on a free\n"
	"loopback port, wait for setup, POST the inputs to /predictions, print the\n"
	"output (files are written to the working directory), stop it.\n"
	"IMAGE is oci:DIR[:TAG] or a registry reference.  Without IMAGE the model in\n"
	"the current directory is built first (as `pinion build`, into\n"
	"`.pinion/layout:latest`; usually every step is cached), as `cog predict` does.\n"
	"\n";

static const struct cli_opt predict_opts[] = {
	{"input", 'i', CLI_ARG_REQUIRED, cli_set_strv, SERVED(inputs), "NAME=VALUE",
	 "an input; NAME=@FILE sends a file; typed by the schema", 0},
	{"output", 'o', CLI_ARG_REQUIRED, NULL, SERVED(out_path), "PATH",
	 "write a file output there", 0},
	{"setup-timeout", 0, CLI_ARG_REQUIRED, set_timeout, 0, "SEC",
	 "how long setup() may take (default 600)", 0},
	CACHE_DIR_OPT,
};

/* as `cog predict` without an image: build the model in the current
 * directory first (into its default layout; usually all cached) */
static int build_model(struct served *s, struct pn_error **err)
{
	struct build_opts o;
	struct build_result res;
	int rc;

	build_opts_init(&o);
	o.ropts = &s->ro;
	o.platform = s->ro.platform;
	o.cache_dir = s->cache_dir;
	pn_info("building the model in the current directory first");
	rc = build_run(&o, &res, err);
	build_opts_release(&o);
	if (rc < 0)
		return pn_error_wrap(err, "build");
	s->built = xasprintf("oci:%s:%s", res.layout_dir, res.layout_tag);
	build_result_release(&res);
	return 0;
}

static int predict_run(struct served *s, const char *image, const struct pn_strv *inputs,
		       const char *out_path, int timeout, struct pn_error **err)
{
	cleanup_json json_t *schema = NULL;
	cleanup_json json_t *input = json_object();

	if (runner_probe(err) < 0) /* before any build or pull */
		return -1;
	if (!image && access("cog.yaml", F_OK) == 0) {
		if (build_model(s, err) < 0)
			return -1;
		image = s->built;
	}
	if (image_open(s, image, err) < 0)
		return -1;
	s->port = free_port(err);
	if (s->port < 0)
		return -1;
	if (server_start(s, "127.0.0.1", false, err) < 0 || server_wait_ready(s, timeout, err) < 0)
		return -1;
	schema = fetch_schema(s);
	for (size_t i = 0; i < inputs->n; i++)
		if (predict_input_add(input, inputs->v[i], schema, err) < 0)
			return -1;
	return post_prediction(s, input, out_path, err);
}

static int predict_go(struct served *s, const char *image, const struct served_args *a,
		      struct pn_error **err)
{
	return predict_run(s, image, &a->inputs, a->out_path, a->timeout, err);
}

static int cmd_predict(int argc, char **argv)
{
	static const struct served_cmd sc = {"predict", predict_intro, predict_opts,
					     sizeof(predict_opts) / sizeof(predict_opts[0]),
					     predict_go};
	struct served_args a = {.timeout = PREDICT_SETUP_TIMEOUT};

	return served_main(&sc, &a, argc, argv);
}

PN_COMMAND(predict, "predict", "run one prediction with a built image", cmd_predict);

/* ------------------------------------------------------------------ serve */

static volatile sig_atomic_t serve_stop;

static void on_signal(int sig)
{
	(void)sig;
	serve_stop = 1;
}

static const char serve_intro[] =
	"usage: pinion serve IMAGE [-p PORT] [--host HOST]\n"
	"\n"
	"Run the image's HTTP server (Cog's API: /health-check, /predictions, ...) in\n"
	"the sandbox until interrupted.  PORT defaults to 5000, HOST to 127.0.0.1.\n"
	"\n";

static const struct cli_opt serve_opts[] = {
	{"port", 'p', CLI_ARG_REQUIRED, set_port, 0, "PORT", "the port (default 5000)", 0},
	{"host", 0, CLI_ARG_REQUIRED, NULL, SERVED(host), "HOST",
	 "the address to listen on (default 127.0.0.1)", 0},
	CACHE_DIR_OPT,
};

static int serve_loop(struct served *s, struct pn_error **err)
{
	struct sigaction sa;
	int status = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	pn_info("serving on http://127.0.0.1:%d (Ctrl-C stops)", s->port);
	while (!serve_stop) {
		int r = runner_proc_wait(s->proc, 500, &status, err);

		if (r < 0)
			return -1;
		if (r == 1) {
			runner_proc_free(s->proc);
			s->proc = NULL;
			return status == 0 ? 0
					   : pn_error_set(err, PN_ERR_GENERIC,
							  "the model server exited with status %d",
							  status);
		}
	}
	runner_proc_stop(s->proc, 10000, &status, NULL);
	runner_proc_free(s->proc);
	s->proc = NULL;
	return 0;
}

static int serve_go(struct served *s, const char *image, const struct served_args *a,
		    struct pn_error **err)
{
	if (runner_probe(err) < 0 || image_open(s, image, err) < 0 ||
	    server_start(s, a->host, true, err) < 0)
		return -1;
	return serve_loop(s, err);
}

static int cmd_serve(int argc, char **argv)
{
	static const struct served_cmd sc = {"serve", serve_intro, serve_opts,
					     sizeof(serve_opts) / sizeof(serve_opts[0]), serve_go};
	struct served_args a = {.host = "127.0.0.1", .port = 5000};

	return served_main(&sc, &a, argc, argv);
}

PN_COMMAND(serve, "serve", "serve a built image's HTTP API", cmd_serve);
