/* cmd_predict.c - `pinion predict [IMAGE] -i name=value ...` and `pinion
 * train [IMAGE] -i ...` (as `cog predict` / `cog train`): the inputs are
 * checked against the model's schema before anything runs, then the image's
 * server (served.c) answers one POST to /predictions or /trainings. */
#include "assembler/cli/served.h"
#include "assembler/predict.h"
#include "common/cleanup.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* what predict and train differ in */
struct job {
	const char *noun;      /* "prediction" */
	const char *path;      /* "/predictions" */
	const char *component; /* the schema of its input: "Input" */
	bool train;
};

static const struct job predict_job = {"prediction", "/predictions", "Input", false};
static const struct job train_job = {"training", "/trainings", "TrainingInput", true};

/* the -i arguments as an input object, checked against the schema: every
 * problem is PN_ERR_INVALID (exit 2) */
static int inputs_make(const struct job *job, const struct pn_strv *args, const json_t *schema,
		       json_t **out, struct pn_error **err)
{
	cleanup_json json_t *input = json_object();

	if (job->train && schema && !predict_schema_props(schema, job->component))
		return pn_error_set(err, PN_ERR_INVALID,
				    "the image has no trainer (no `train:` in its cog.yaml)");
	for (size_t i = 0; i < args->n; i++)
		if (predict_input_add_to(input, args->v[i], schema, job->component, err) < 0) {
			if (err && *err && (*err)->code == PN_ERR_NOT_FOUND)
				(*err)->code = PN_ERR_INVALID;
			return -1;
		}
	if (predict_input_check(input, schema, job->component, err) < 0)
		return -1;
	*out = json_incref(input);
	return 0;
}

/* the server's answer: the output written (or with --json the whole
 * response printed), else the error as one line */
static int job_answer(const struct job *job, long code, const char *answer, size_t len,
		      const struct served_args *a, struct pn_error **err)
{
	cleanup_json json_t *resp = json_loadb(answer, len, 0, NULL);
	const char *status = json_string_value(json_object_get(resp, "status"));
	const char *e = json_string_value(json_object_get(resp, "error"));

	if (code == 422) {
		cleanup_free char *line = predict_refusal_message(answer, len);

		return pn_error_set(err, PN_ERR_INVALID, "the model refused the input: %s",
				    line ? line : answer);
	}
	if (a->json && resp) {
		cleanup_free char *j = json_dumps(resp, JSON_INDENT(2));

		printf("%s\n", j ? j : "null");
	}
	if (!status || strcmp(status, "succeeded") != 0) {
		if (e && *e) /* the model's own error, last */
			pn_error_set(err, PN_ERR_GENERIC, "%s %s:\n%s", job->noun,
				     status ? status : "failed", e);
		else
			pn_error_set(err, PN_ERR_GENERIC, "%s %s: %s", job->noun,
				     status ? status : "failed", answer);
		return -1;
	}
	if (a->json)
		return 0;
	return predict_output_write(json_object_get(resp, "output"), ".", a->out_path, stdout, err);
}

static int job_post(struct served *s, const struct job *job, json_t *input,
		    const struct served_args *a, struct pn_error **err)
{
	cleanup_json json_t *req = json_object();
	cleanup_free char *body = NULL, *url = xasprintf("%s%s", s->base_url, job->path);
	cleanup_free char *answer = NULL;
	long code = 0;
	size_t len = 0;

	json_object_set(req, "input", input);
	body = json_dumps(req, JSON_COMPACT);
	if (predict_http("POST", url, body, 0, &code, &answer, &len, err) < 0)
		return pn_error_wrap(err, "%s", job->noun);
	return job_answer(job, code, answer, len, a, err);
}

static int job_run(struct served *s, const struct job *job, const char *image,
		   const struct served_args *a, struct pn_error **err)
{
	cleanup_json json_t *schema = NULL;
	cleanup_json json_t *input = NULL;

	/* what can be judged without the image: before any build or pull */
	if (predict_input_files_check((const char *const *)a->inputs.v, a->inputs.n, err) < 0 ||
	    served_prepare(s, image, job->train, err) < 0)
		return -1;
	schema = served_label_schema(s);
	if (schema && inputs_make(job, &a->inputs, schema, &input, err) < 0)
		return -1;
	s->port = served_free_port(err);
	if (s->port < 0 || served_start(s, "127.0.0.1", false, &a->env, err) < 0 ||
	    served_wait_ready(s, a->timeout, err) < 0)
		return -1;
	if (!schema) { /* an image without the label: ask its server */
		schema = served_fetch_schema(s);
		if (inputs_make(job, &a->inputs, schema, &input, err) < 0)
			return -1;
	}
	return job_post(s, job, input, a, err);
}

#define SERVED(f) offsetof(struct served_args, f)
#define REQ	  CLI_ARG_REQUIRED
/* the options of predict and train */
#define JOB_OPTS(what)                                                                             \
	{"input",                                                                                  \
	 'i',                                                                                      \
	 REQ,                                                                                      \
	 cli_set_strv,                                                                             \
	 SERVED(inputs),                                                                           \
	 "NAME=VALUE",                                                                             \
	 "an input; NAME=@FILE sends a file; typed and\nchecked by the model's schema",            \
	 0},                                                                                       \
		{"output",                                                                         \
		 'o',                                                                              \
		 REQ,                                                                              \
		 NULL,                                                                             \
		 SERVED(out_path),                                                                 \
		 "PATH",                                                                           \
		 "write the output there (a file, or the text)",                                   \
		 0},                                                                               \
		{"env",                                                                            \
		 'e',                                                                              \
		 REQ,                                                                              \
		 served_set_env,                                                                   \
		 0,                                                                                \
		 "NAME=VALUE",                                                                     \
		 "an environment variable of the model (repeatable)",                              \
		 0},                                                                               \
		{"json",                                                                           \
		 0,                                                                                \
		 CLI_ARG_NONE,                                                                     \
		 NULL,                                                                             \
		 SERVED(json),                                                                     \
		 NULL,                                                                             \
		 "print the whole " what " response as JSON",                                      \
		 0},                                                                               \
		{"gpus",                                                                           \
		 0,                                                                                \
		 REQ,                                                                              \
		 served_set_gpus,                                                                  \
		 0,                                                                                \
		 "GPUS",                                                                           \
		 "accepted for cog; the sandbox has no GPU (a note)",                              \
		 0},                                                                               \
		{"setup-timeout",                                                                  \
		 0,                                                                                \
		 REQ,                                                                              \
		 served_set_timeout,                                                               \
		 0,                                                                                \
		 "SEC",                                                                            \
		 "how long setup() may take (default 600)",                                        \
		 0},                                                                               \
	{                                                                                          \
		"cache-dir", 0, REQ, NULL, SERVED(cache_dir), "DIR",                               \
			"snapshots and pulled images", 0                                           \
	}

/* predict and train: a->job says which */
static int job_go(struct served *s, const char *image, const struct served_args *a,
		  struct pn_error **err)
{
	return job_run(s, a->job, image, a, err);
}

static int job_main(const struct served_cmd *sc, const struct job *job, int argc, char **argv)
{
	struct served_args a = {.timeout = SERVED_SETUP_TIMEOUT, .job = job};

	return served_main(sc, &a, argc, argv);
}

/* ---------------------------------------------------------------- predict */

static const char predict_intro[] =
	"usage: pinion predict [IMAGE] [-i NAME=VALUE]... [-o PATH] [-e NAME=VALUE]... [--json]\n"
	"\n"
	"Run one prediction: check the inputs against the model's schema, start the\n"
	"image's server in the sandbox on a free loopback port, wait for setup, POST\n"
	"the inputs to /predictions, print the output (files are written to the\n"
	"working directory, or to -o PATH), stop it.  IMAGE is oci:DIR[:TAG],\n"
	"oci-archive:FILE[:REF], docker-archive:FILE[:REF] (read into a temporary\n"
	"layout in the cache dir, removed after) or a registry reference.  Without\n"
	"IMAGE the model in the current directory is checked and built first (as\n"
	"`pinion build`, into `.pinion/layout:latest`; usually every step is\n"
	"cached), as `cog predict` does.  A bad input exits with status 2 before\n"
	"anything runs; Ctrl-C stops the model and exits 130.\n"
	"\n";

/* ------------------------------------------------------------------ train */

static const char train_intro[] =
	"usage: pinion train [IMAGE] [-i NAME=VALUE]... [-o PATH] [-e NAME=VALUE]... [--json]\n"
	"\n"
	"Run the model's `train:` once, as `cog train` does: the inputs are checked\n"
	"against its TrainingInput schema, then POSTed to the server's /trainings;\n"
	"the output is printed or written (a file output to the working directory,\n"
	"or to -o PATH).  IMAGE and the build first without it: as `pinion predict`.\n"
	"\n";

static const struct cli_opt predict_opts[] = {JOB_OPTS("prediction")};
static const struct cli_opt train_opts[] = {JOB_OPTS("training")};
static const struct served_cmd job_cmds[] = {
	{"predict", predict_intro, predict_opts, sizeof(predict_opts) / sizeof(predict_opts[0]),
	 job_go},
	{"train", train_intro, train_opts, sizeof(train_opts) / sizeof(train_opts[0]), job_go},
};

static int cmd_predict(int argc, char **argv)
{
	return job_main(&job_cmds[0], &predict_job, argc, argv);
}

static int cmd_train(int argc, char **argv)
{
	return job_main(&job_cmds[1], &train_job, argc, argv);
}

PN_COMMAND(predict, "predict", "run one prediction with a built image", cmd_predict);
PN_COMMAND(train, "train", "run the model's train: once with a built image", cmd_train);
