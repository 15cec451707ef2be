/* postbuild.c - after the last step: ask the image for its OpenAPI schema
 * and `pip freeze` (in the sandbox, on the final filesystem), and write the
 * labels: run.cog.* and org.opencontainers.image.*.  The answers are cached
 * under the key of the whole layer chain, so an unchanged rebuild needs no
 * sandbox and gives the same config (and created time) again. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POSTBUILD_OUT_MAX    ((size_t)16 << 20)
#define POSTBUILD_TAIL_LINES 10 /* stderr lines an error shows */
#define SCHEMA_SHELL	     "python -m cog.command.openapi_schema --label"
#define FREEZE_SHELL	     "python -m pip freeze --disable-pip-version-check"

/* --------------------------------------------------------- sandbox capture */

/* a capture file in the scratch dir, above the standard fds */
static int capture_open(const char *tmpdir, char **path_out, struct pn_error **err)
{
	cleanup_free char *path = xasprintf("%s/capture-XXXXXX", tmpdir);
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd >= 0 && fd <= STDERR_FILENO) { /* stdout_fd must be above the standard ones */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

		close(fd);
		fd = high;
	}
	if (fd < 0)
		return pn_error_set_errno(err, errno, "create capture file");
	*path_out = steal_pointer(&path);
	return fd;
}

/* the step's stderr as its output lines (progress), its last lines in *tail */
static void show_stderr(const char *name, const char *text, size_t len, char **tail)
{
	const char *p = text, *end = text + len, *nl;
	const char *last[POSTBUILD_TAIL_LINES] = {0};
	size_t lens[POSTBUILD_TAIL_LINES], n = 0;
	struct pn_buf b = PN_BUF_INIT;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		pn_progress_output(name, p, (size_t)(nl - p));
		last[n % POSTBUILD_TAIL_LINES] = p;
		lens[n % POSTBUILD_TAIL_LINES] = (size_t)(nl - p);
		n++;
	}
	for (size_t i = n > POSTBUILD_TAIL_LINES ? n - POSTBUILD_TAIL_LINES : 0; i < n; i++)
		pn_buf_printf(&b, NULL, "%s%.*s", b.len ? "\n" : "",
			      (int)lens[i % POSTBUILD_TAIL_LINES], last[i % POSTBUILD_TAIL_LINES]);
	*tail = b.data ? pn_buf_steal(&b, NULL) : NULL;
}

/* run `shell` in the sandbox over the image's rootfs without its weights,
 * its stdout captured in a file of the scratch dir (at most max bytes), its
 * stderr shown as the step's output lines and its last lines kept in *tail;
 * a command that ran and exited with 1..125 is not an error: *status says it */
static int sandbox_capture(struct build_exec *ex, const char *name, const char *shell, size_t max,
			   char **out, int *status, char **tail, struct pn_error **err)
{
	cleanup_free char *path = NULL, *epath = NULL, *etext = NULL;
	cleanup_close int fd = capture_open(ex->tmpdir, &path, err);
	cleanup_close int efd = fd < 0 ? -1 : capture_open(ex->tmpdir, &epath, err);
	struct runner_step rs;
	struct runner_result res;
	const char *env[] = {"PINION_BUILD_STEP=1", NULL};
	size_t len;
	int rc;

	if (fd < 0 || efd < 0)
		return -1;
	/* code and packages only: the schema and pip freeze never read weights */
	if (build_exec_rootfs(ex, true, err) < 0)
		return -1;
	memset(&rs, 0, sizeof(rs));
	rs.name = name;
	rs.shell = shell;
	rs.config = &ex->img.config;
	rs.env = env;
	rs.interactive = true; /* no prefix: stdout is the capture file */
	rs.stdout_fd = fd;
	rs.stderr_fd = efd; /* not pinion's stderr: in json mode that holds events only */
	rs.network = RUNNER_NET_NONE;
	runner_result_init(&res);
	rc = runner_step_run(ex->runner, &ex->rf, &rs, NULL, NULL, &res, err);
	*status = res.exit_status;
	runner_result_release(&res);
	if (rc < 0 && *status >= 1 && *status <= 125) {
		pn_error_clear(err);
		rc = 0;
	}
	if (pn_read_file(epath, max, &etext, &len, NULL) == 0)
		show_stderr("post-build", etext, len, tail); /* the one step the user sees */
	if (rc == 0 && pn_read_file(path, max, out, &len, err) < 0)
		rc = pn_error_wrap(err, "read the output of `%s`", name);
	unlink(epath);
	unlink(path);
	return rc;
}

/* ------------------------------------------------------------------ git */

#define GIT_OUT_MAX ((size_t)4096)

/* stdout of argv (trimmed), or NULL when it fails */
static char *cmd_output(char *const argv[])
{
	struct pn_spawn sp = {
		.argv = argv, .err_fd = -1, .max_out = GIT_OUT_MAX, .path_search = true};
	cleanup_free char *out = NULL;
	size_t len = 0;
	int status;

	if (pn_spawn_capture(&sp, &out, &len, &status, NULL) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return NULL;
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		out[--len] = '\0';
	return len ? steal_pointer(&out) : NULL;
}

/* The model directory is hostile: its .git/config may name commands
 * (core.fsmonitor, hooks) that git would run.  The -c settings win over the
 * repository's own; rev-parse and describe --exact-match run neither, and
 * these keep it so whatever a future git does on a read. */
#define GIT_SAFE_ARGS                                                                              \
	(char *)"-c", (char *)"core.fsmonitor=false", (char *)"-c",                                \
		(char *)"core.hooksPath=/dev/null", (char *)"-c",                                  \
		(char *)"core.untrackedCache=false"

static void git_labels(const char *model_dir, struct oci_config *c)
{
	char *rev_argv[] = {(char *)"git",	 GIT_SAFE_ARGS,	 (char *)"-C", (char *)model_dir,
			    (char *)"rev-parse", (char *)"HEAD", NULL};
	char *ver_argv[] = {(char *)"git",
			    GIT_SAFE_ARGS,
			    (char *)"-C",
			    (char *)model_dir,
			    (char *)"describe",
			    (char *)"--tags",
			    (char *)"--exact-match",
			    NULL};
	cleanup_free char *rev = cmd_output(rev_argv);
	cleanup_free char *ver = rev ? cmd_output(ver_argv) : NULL;

	if (rev)
		oci_config_set_label(c, "org.opencontainers.image.revision", rev);
	if (ver)
		oci_config_set_label(c, "org.opencontainers.image.version", ver);
}

/* ------------------------------------------------------------- post-build */

/* text (without trailing white space) if it is a JSON object; kept as it is,
 * never re-dumped: jansson would print 0.7 as 0.69999999999999996 */
static int schema_check(char *text, const char *what, struct pn_error **err)
{
	size_t len = strlen(text);
	json_error_t jerr;
	json_t *j;

	while (len && strchr(" \t\r\n", text[len - 1]))
		text[--len] = '\0';
	j = json_loadb(text, len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		return pn_error_set(err, PN_ERR_INVALID, "%s: not a JSON object (%s)", what,
				    j ? "wrong type" : jerr.text);
	}
	json_decref(j);
	return 0;
}

static int schema_from_file(const char *path, char **out, struct pn_error **err)
{
	cleanup_free char *text = NULL;
	cleanup_free char *what = xasprintf("--openapi-schema `%s`", path);
	size_t len;

	if (pn_read_file(path, POSTBUILD_OUT_MAX, &text, &len, err) < 0)
		return pn_error_wrap(err, "--openapi-schema");
	if (memchr(text, '\0', len))
		return pn_error_set(err, PN_ERR_INVALID, "%s: not a JSON object", what);
	if (schema_check(text, what, err) < 0)
		return -1;
	*out = steal_pointer(&text);
	return 0;
}

/* the SDK's error: its `cog: ...` line, else the last line it wrote */
static const char *schema_error_line(char *tail)
{
	char *line, *last = NULL, *cog = NULL, *save = NULL;

	for (line = tail ? strtok_r(tail, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "cog: ", 5))
			cog = line;
		if (line[strspn(line, " \t\r")])
			last = line;
	}
	return cog ? cog : last ? last : "(no error message)";
}

/* `cog.command.call_graph /src/FILE` -> run.cog.r8_model_dependencies, the
 * models FILE gives replicate.use(), a JSON list; Cog 0.16 splits the trimmed output on
 * commas, so a model that uses none gets [""] */
static int deps_run(struct build_exec *ex, const char *predict, json_t *data, struct pn_error **err)
{
	struct pn_buf sh = PN_BUF_INIT;
	cleanup_free char *out = NULL, *tail = NULL;
	size_t n = strcspn(predict, ":");
	json_t *list = json_array();
	int status = -1, rc;

	pn_buf_printf(&sh, NULL, "python -m cog.command.call_graph '/src/");
	for (size_t i = 0; i < n; i++)
		pn_buf_printf(&sh, NULL, predict[i] == '\'' ? "'\\''" : "%c", predict[i]);
	pn_buf_printf(&sh, NULL, "'");
	rc = sandbox_capture(ex, "post-build model dependencies", sh.data, POSTBUILD_OUT_MAX, &out,
			     &status, &tail, err);
	pn_buf_release(&sh);
	if (rc == 0 && status != 0)
		rc = pn_error_set(err, PN_ERR_GENERIC,
				  "the model dependencies: `python -m cog.command.call_graph` "
				  "exited with status %d:\n%s",
				  status, schema_error_line(tail));
	if (rc == 0) {
		char *f = out, *end = out + strlen(out), *comma;
		cleanup_free char *j = NULL;

		while (*f && strchr(" \t\r\n", *f)) /* Go's strings.TrimSpace */
			f++;
		while (end > f && strchr(" \t\r\n", end[-1]))
			*--end = '\0';
		for (; (comma = strchr(f, ',')); f = comma + 1) { /* strings.Split keeps "" */
			*comma = '\0';
			json_array_append_new(list, json_string(f));
		}
		json_array_append_new(list, json_string(f));
		j = json_dumps(list, JSON_COMPACT);
		json_object_set_new(data, "model_dependencies", json_string(j));
	}
	json_decref(list);
	return rc;
}

/* run the schema command; the label text it prints is stored verbatim */
static int schema_run(struct build_exec *ex, json_t *data, struct pn_error **err)
{
	cleanup_free char *out = NULL, *tail = NULL;
	int status = -1;

	if (sandbox_capture(ex, "post-build schema", SCHEMA_SHELL, POSTBUILD_OUT_MAX, &out, &status,
			    &tail, err) < 0)
		return -1;
	if (status != 0) /* the SDK's own error is the last line */
		return pn_error_set(err, PN_ERR_GENERIC,
				    "the OpenAPI schema: `python -m cog.command.openapi_schema` "
				    "exited with status %d:\n%s",
				    status, schema_error_line(tail));
	if (schema_check(out, "the OpenAPI schema", err) < 0) {
		pn_error_hint(err, "run `python -m cog.command.openapi_schema` in the image to see "
				   "why, or pass --openapi-schema FILE");
		return -1;
	}
	json_object_set_new(data, "schema", json_string(out));
	return 0;
}

static int postbuild_run(struct build_exec *ex, const struct postbuild_in *in, json_t *data,
			 struct pn_error **err)
{
	const char *schema_file = in->schema_file;
	cleanup_free char *out = NULL, *tail = NULL;
	double t0 = build_now();
	int status = -1;

	if (!schema_file && in->cfg->predict && schema_run(ex, data, err) < 0)
		return -1;
	if (in->cfg->predict && deps_run(ex, in->cfg->predict, data, err) < 0)
		return -1;
	if (schema_file) {
		cleanup_free char *s = NULL;

		if (schema_from_file(schema_file, &s, err) < 0)
			return -1;
		json_object_set_new(data, "schema", json_string(s));
	}
	/* its status is not checked, as before: what it printed is the label */
	if (sandbox_capture(ex, "post-build pip freeze", FREEZE_SHELL, POSTBUILD_OUT_MAX, &out,
			    &status, &tail, err) < 0)
		return -1;
	json_object_set_new(data, "pip_freeze", json_string(out));
	build_step_event(ex, "post-build", false, build_now() - t0, NULL);
	return 0;
}

static char *created_time(const struct postbuild_in *in, json_t *data)
{
	const char *c = json_string_value(json_object_get(data, "created"));
	int64_t t = in->timestamp >= 0 ? in->timestamp : pn_source_date_epoch(-1);

	if (t >= 0)
		return pn_rfc3339(t);
	if (c && *c)
		return xstrdup(c);
	return pn_rfc3339((int64_t)time(NULL));
}

/* org.opencontainers.image.base.name: the base reference in full */
static void base_labels(const struct postbuild_in *in, struct oci_config *c)
{
	struct registry_ref r;
	cleanup_free char *full = NULL;

	registry_ref_init(&r);
	if (registry_ref_parse(in->base_ref, &r, NULL) == 0)
		full = registry_ref_format(&r);
	registry_ref_release(&r);
	oci_config_set_label(c, "org.opencontainers.image.base.name", full ? full : in->base_ref);
	oci_config_set_label(c, "org.opencontainers.image.base.digest", in->base_digest);
}

static void apply_labels(struct oci_config *c, const struct postbuild_in *in, json_t *data,
			 const char *created)
{
	const char *schema = json_string_value(json_object_get(data, "schema"));
	const char *freeze = json_string_value(json_object_get(data, "pip_freeze"));
	const char *deps = json_string_value(json_object_get(data, "model_dependencies"));
	cleanup_free char *cfg_json = cog_config_to_json(in->cfg);

	oci_config_set_label(c, "run.cog.version", in->plan->cog_version);
	oci_config_set_label(c, "run.pinion.version", PN_VERSION);
	oci_config_set_label(c, "run.cog.config", cfg_json);
	oci_config_set_label(c, "run.cog.has_init", "true");
	if (schema)
		oci_config_set_label(c, "run.cog.openapi_schema", schema);
	if (freeze)
		oci_config_set_label(c, "run.cog.pip_freeze", freeze);
	if (deps)
		oci_config_set_label(c, "run.cog.r8_model_dependencies", deps);
	if (in->plan->cog_base && in->plan->cog_base_name)
		oci_config_set_label(c, "run.cog.cog-base-image-name", in->plan->cog_base_name);
	oci_config_set_label(c, "org.opencontainers.image.created", created);
	base_labels(in, c);
	git_labels(in->model_dir, c);
	free(c->created);
	c->created = xstrdup(created);
	for (size_t i = in->base_history; i < c->n_history; i++) {
		free(c->history[i].created);
		c->history[i].created = xstrdup(created);
	}
}

int build_postbuild(struct step_ctx *sc, const struct postbuild_in *in, struct pn_error **err)
{
	cleanup_json json_t *data = NULL;
	cleanup_free char *created = NULL;
	oci_digest_t key, fd;
	bool have_fd = in->schema_file && oci_digest_file(in->schema_file, fd, NULL, NULL) == 0;
	int hit = 0;

	build_key_postbuild(sc->chain, in->cfg->predict, have_fd ? fd : NULL, key);
	build_step_begin(sc->ex, "post-build", "schema and pip freeze");
	if (sc->use_cache)
		hit = build_cache_get_data(sc->cache, key, &data, err);
	if (hit < 0)
		return -1;
	if (hit && in->cfg->predict && !json_object_get(data, "model_dependencies")) {
		json_decref(data); /* written before the schema label was kept verbatim */
		data = NULL;
		hit = 0;
	}
	if (hit) {
		build_step_event(sc->ex, "post-build", true, 0, NULL);
	} else {
		data = json_object();
		if (postbuild_run(sc->ex, in, data, err) < 0)
			return -1;
		created = created_time(in, data);
		json_object_set_new(data, "created", json_string(created));
		if (build_cache_put_data(sc->cache, key, data, err) < 0)
			return -1;
	}
	if (!created)
		created = created_time(in, data);
	apply_labels(&sc->ex->img.config, in, data, created);
	return 0;
}
