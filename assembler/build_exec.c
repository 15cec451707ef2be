/* build_exec.c - the executor's bottom services: the image being built, the
 * sandbox and its rootfs (lazily unpacked, then kept in step), progress
 * events, the clock, and the embedded tini.  Calls no other build file. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const unsigned char pn_tini_static[], pn_tini_static_end[];

const unsigned char *build_tini_data(size_t *len)
{
	*len = (size_t)(pn_tini_static_end - pn_tini_static);
	return pn_tini_static;
}

double build_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void build_step_begin(struct build_exec *ex, const char *name, const char *detail)
{
	cleanup_free char *title = NULL;

	ex->step_no++;
	free(ex->step_title);
	ex->step_title = xasprintf("[%zu/%zu] %s", ex->step_no, ex->n_steps, name);
	ex->step_t0 = build_now();
	title = detail ? xasprintf("%s: %s", ex->step_title, detail) : xstrdup(ex->step_title);
	pn_progress_step_begin(title);
}

void build_step_started(const struct build_exec *ex, const char *name, const char *detail)
{
	if (pn_log_progress() == PN_PROGRESS_TTY)
		return; /* the live view shows it */
	pn_progress_event("step-start", NULL, "[%zu/%zu] %s: %s", ex->step_no, ex->n_steps, name,
			  detail);
}

void build_step_event(struct build_exec *ex, const char *name, bool hit, double seconds,
		      const char *what)
{
	cleanup_json json_t *f = json_object();
	cleanup_free char *fields = NULL;
	size_t n;

	pn_progress_step_end();
	free(ex->step_title);
	ex->step_title = NULL;
	json_object_set_new(f, "step", json_string(name));
	json_object_set_new(f, "index", json_integer((json_int_t)ex->step_no));
	json_object_set_new(f, "total", json_integer((json_int_t)ex->n_steps));
	json_object_set_new(f, "cached", json_boolean(hit));
	json_object_set_new(f, "seconds", json_real(seconds));
	if (what)
		json_object_set_new(f, "detail", json_string(what));
	fields = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	n = strlen(fields);
	fields[n - 1] = '\0'; /* drop the braces: pn_progress_event adds its own */
	if (hit)
		pn_progress_event("step", fields + 1, "[%zu/%zu] %s: cached%s%s", ex->step_no,
				  ex->n_steps, name, what ? " " : "", what ? what : "");
	else
		pn_progress_event("step", fields + 1, "[%zu/%zu] %s: done in %.1fs%s%s",
				  ex->step_no, ex->n_steps, name, seconds, what ? " " : "",
				  what ? what : "");
}

void build_step_failed(struct build_exec *ex)
{
	double secs = pn_progress_step_end();

	if (secs >= 0 && ex->step_title)
		pn_progress_event("step-failed", NULL, "%s: failed after %.1fs", ex->step_title,
				  secs);
	free(ex->step_title);
	ex->step_title = NULL;
}

void build_exec_init(struct build_exec *ex)
{
	memset(ex, 0, sizeof(*ex));
	oci_image_init(&ex->img);
}

void build_exec_release(struct build_exec *ex)
{
	if (ex->rf_ready)
		runner_rootfs_release(&ex->rf);
	if (ex->runner)
		runner_free(ex->runner);
	oci_image_release(&ex->img);
	if (ex->tmpdir)
		pn_rm_rf(ex->tmpdir, NULL);
	free(ex->tmpdir);
	pn_strv_release(&ex->weight_diff_ids);
	pn_strv_release(&ex->streamed);
	free(ex->step_title);
	memset(ex, 0, sizeof(*ex));
}

void build_exec_add_layer(struct build_exec *ex, const struct cache_layer *e)
{
	/* the rootfs catches up lazily (build_exec_rootfs) */
	oci_manifest_add_layer(&ex->img.manifest, &e->layer);
	oci_config_add_layer(&ex->img.config, e->diff_id, e->created_by);
}

static int ensure_runner(struct build_exec *ex, struct pn_error **err)
{
	struct runner_opts ro;

	if (ex->runner)
		return 0;
	runner_opts_init(&ro);
	ro.cache_dir = ex->cache_dir;
	if (runner_new(&ro, &ex->runner, err) < 0)
		return pn_error_wrap(err, "start the sandbox");
	return 0;
}

static bool layer_skipped(const struct build_exec *ex, size_t i, bool skip_weights)
{
	return skip_weights && i < ex->img.config.n_diff_ids &&
	       pn_strv_contains(&ex->weight_diff_ids, ex->img.config.diff_ids[i]);
}

/* unpack (once) the layers of the image so far, without the weight layers
 * when asked: a shallow view of the image with those layers left out */
static int rootfs_prepare(struct build_exec *ex, bool skip_weights, struct pn_error **err)
{
	struct oci_image view = ex->img;
	size_t n = ex->img.manifest.n_layers, k = 0;
	int rc;

	if (n != ex->img.config.n_diff_ids)
		return pn_error_set(err, PN_ERR_INVALID,
				    "the image has %zu layers but %zu diff_ids", n,
				    ex->img.config.n_diff_ids);
	view.manifest.layers = xcalloc(n ? n : 1, sizeof(*view.manifest.layers));
	view.config.diff_ids = xcalloc(n ? n : 1, sizeof(*view.config.diff_ids));
	for (size_t i = 0; i < n; i++) {
		if (layer_skipped(ex, i, skip_weights))
			continue;
		view.manifest.layers[k] = ex->img.manifest.layers[i];
		memcpy(view.config.diff_ids[k], ex->img.config.diff_ids[i], sizeof(oci_digest_t));
		k++;
	}
	view.manifest.n_layers = k;
	view.config.n_diff_ids = k;
	runner_rootfs_init(&ex->rf);
	rc = runner_rootfs_prepare(ex->runner, ex->cl, &view, &ex->rf, err);
	free(view.manifest.layers);
	free(view.config.diff_ids);
	if (rc < 0) {
		runner_rootfs_release(&ex->rf);
		return -1;
	}
	ex->rf_ready = true;
	return 0;
}

int build_exec_rootfs(struct build_exec *ex, bool skip_weights, struct pn_error **err)
{
	double t0 = build_now();

	if (ensure_runner(ex, err) < 0)
		return -1;
	if (!ex->rf_ready) {
		if (rootfs_prepare(ex, skip_weights, err) < 0)
			return pn_error_wrap(err, "unpack the image's layers");
	} else {
		/* the layers added since: a RUN step's own layer is already a snapshot */
		for (size_t i = ex->rf_synced; i < ex->img.manifest.n_layers; i++) {
			if (layer_skipped(ex, i, skip_weights))
				continue;
			if (runner_rootfs_push(ex->runner, &ex->rf, ex->cl,
					       &ex->img.manifest.layers[i],
					       ex->img.config.diff_ids[i], err) < 0)
				return pn_error_wrap(err, "unpack layer `%s`",
						     ex->img.manifest.layers[i].digest);
		}
	}
	ex->rf_synced = ex->img.manifest.n_layers;
	pn_debug("rootfs of %zu layers ready in %.1fs", ex->rf.lowers.n, build_now() - t0);
	return 0;
}
