/* cmd_serve.c - `pinion serve [IMAGE] [-p PORT]`: the image's HTTP server
 * (served.c) until Ctrl-C (exit 130) or SIGTERM (exit 0); without IMAGE the
 * model in the current directory is built first, as `cog serve` does. */
#include "assembler/cli/served.h"

#include <stddef.h>
#include <string.h>

static const char serve_intro[] =
	"usage: pinion serve [IMAGE] [-p PORT] [--host HOST] [-e NAME=VALUE]...\n"
	"\n"
	"Run the image's HTTP server (Cog's API: /health-check, /predictions, ...) in\n"
	"the sandbox until interrupted (Ctrl-C: exit 130; SIGTERM: exit 0).  PORT\n"
	"defaults to 5000, HOST to 127.0.0.1.  IMAGE: as `pinion predict` (a\n"
	"layout, an archive or a registry reference).  Without IMAGE the model in\n"
	"the current directory is checked and built first (usually all cached), as\n"
	"`cog serve` does, so the server runs the predict.py of now.\n"
	"\n";

#define SERVED(f) offsetof(struct served_args, f)
static const struct cli_opt serve_opts[] = {
	{"port", 'p', CLI_ARG_REQUIRED, served_set_port, 0, "PORT", "the port (default 5000)", 0},
	{"host", 0, CLI_ARG_REQUIRED, NULL, SERVED(host), "HOST",
	 "the address to listen on (default 127.0.0.1)", 0},
	{"env", 'e', CLI_ARG_REQUIRED, served_set_env, 0, "NAME=VALUE",
	 "an environment variable of the model (repeatable)", 0},
	{"gpus", 0, CLI_ARG_REQUIRED, served_set_gpus, 0, "GPUS",
	 "accepted for cog; the sandbox has no GPU (a note)", 0},
	{"cache-dir", 0, CLI_ARG_REQUIRED, NULL, SERVED(cache_dir), "DIR",
	 "snapshots and pulled images", 0},
};

static int serve_loop(struct served *s, struct pn_error **err)
{
	int status = 0;

	pn_info("serving on http://127.0.0.1:%d (Ctrl-C stops)", s->port);
	while (!served_signal) {
		int r = runner_proc_wait(s->proc, 200, &status, err);

		if (r < 0)
			return served_signal ? 0 : -1;
		if (r == 1) {
			runner_proc_free(s->proc);
			s->proc = NULL;
			return status == 0 ? 0
					   : pn_error_set(err, PN_ERR_GENERIC,
							  "the model server exited with status %d",
							  status);
		}
	}
	runner_proc_stop(s->proc, SERVED_STOP_GRACE_MS, &status, NULL);
	runner_proc_free(s->proc);
	s->proc = NULL;
	return 0;
}

static int serve_go(struct served *s, const char *image, const struct served_args *a,
		    struct pn_error **err)
{
	if (served_prepare(s, image, false, err) < 0 ||
	    served_start(s, a->host, true, &a->env, err) < 0)
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

PN_COMMAND(serve, "serve", "serve a model's HTTP API (built here first without IMAGE)", cmd_serve);
