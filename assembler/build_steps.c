/* build_steps.c - one plan step at a time: ENV edits, RUN steps in the
 * sandbox, COPY layers written directly; each layer step through the cache. */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- shared */

int build_ensure_runner(struct build_state *st, struct pn_error **err)
{
	struct runner_opts ro;

	if (st->runner)
		return 0;
	runner_opts_init(&ro);
	ro.cache_dir = st->o->cache_dir;
	if (runner_new(&ro, &st->runner, err) < 0)
		return pn_error_wrap(err, "start the sandbox");
	return 0;
}

static bool layer_skipped(const struct build_state *st, size_t i, bool skip_weights)
{
	return skip_weights && i < st->img.config.n_diff_ids &&
	       pn_strv_contains(&st->weight_diff_ids, st->img.config.diff_ids[i]);
}

/* unpack (once) the layers of the image so far, without the weight layers
 * when asked: a shallow view of the image with those layers left out */
static int rootfs_prepare(struct build_state *st, bool skip_weights, struct pn_error **err)
{
	struct oci_image view = st->img;
	size_t n = st->img.manifest.n_layers, k = 0;
	int rc;

	if (n != st->img.config.n_diff_ids)
		return pn_error_set(err, PN_ERR_INVALID,
				    "the image has %zu layers but %zu diff_ids", n,
				    st->img.config.n_diff_ids);
	view.manifest.layers = xcalloc(n ? n : 1, sizeof(*view.manifest.layers));
	view.config.diff_ids = xcalloc(n ? n : 1, sizeof(*view.config.diff_ids));
	for (size_t i = 0; i < n; i++) {
		if (layer_skipped(st, i, skip_weights))
			continue;
		view.manifest.layers[k] = st->img.manifest.layers[i];
		memcpy(view.config.diff_ids[k], st->img.config.diff_ids[i], sizeof(oci_digest_t));
		k++;
	}
	view.manifest.n_layers = k;
	view.config.n_diff_ids = k;
	runner_rootfs_init(&st->rf);
	rc = runner_rootfs_prepare(st->runner, st->cl, &view, &st->rf, err);
	free(view.manifest.layers);
	free(view.config.diff_ids);
	if (rc < 0) {
		runner_rootfs_release(&st->rf);
		return -1;
	}
	st->rf_ready = true;
	return 0;
}

int build_ensure_rootfs(struct build_state *st, bool skip_weights, struct pn_error **err)
{
	double t0 = build_now();

	if (build_ensure_runner(st, err) < 0)
		return -1;
	if (!st->rf_ready) {
		if (rootfs_prepare(st, skip_weights, err) < 0)
			return pn_error_wrap(err, "unpack the image's layers");
	} else {
		/* the layers added since: a RUN step's own layer is already a snapshot */
		for (size_t i = st->rf_synced; i < st->img.manifest.n_layers; i++) {
			if (layer_skipped(st, i, skip_weights))
				continue;
			if (runner_rootfs_push(st->runner, &st->rf, st->cl,
					       &st->img.manifest.layers[i],
					       st->img.config.diff_ids[i], err) < 0)
				return pn_error_wrap(err, "unpack layer `%s`",
						     st->img.manifest.layers[i].digest);
		}
	}
	st->rf_synced = st->img.manifest.n_layers;
	pn_debug("rootfs of %zu layers ready in %.1fs", st->rf.lowers.n, build_now() - t0);
	return 0;
}

/* dir relative to the model directory if it lies inside it (owned), else NULL */
static char *inside_model(const char *model_dir, const char *dir)
{
	cleanup_free char *m = realpath(model_dir, NULL);
	cleanup_free char *d = dir ? realpath(dir, NULL) : NULL;
	size_t n;

	if (!m || !d)
		return NULL;
	n = strlen(m);
	if (strncmp(d, m, n) != 0 || d[n] != '/')
		return NULL;
	return xstrdup(d + n + 1);
}

int build_ensure_source(struct build_state *st, struct pn_error **err)
{
	struct src_opts so = {0};
	cleanup_free char *out_dir = NULL, *out_ref = NULL, *cache = NULL;
	enum oci_transport out_t;
	cleanup_strv struct pn_strv excl = PN_STRV_INIT;
	char *rel;

	if (st->src_ready)
		return 0;
	/* our own output and cache never go into the image */
	if (st->o->output &&
	    oci_location_parse(st->o->output, &out_t, &out_dir, &out_ref, NULL) == 0 &&
	    (rel = inside_model(st->model_dir, out_dir)))
		pn_strv_push_owned(&excl, rel);
	cache = st->o->cache_dir ? xstrdup(st->o->cache_dir) : pn_cache_dir();
	if ((rel = inside_model(st->model_dir, cache)))
		pn_strv_push_owned(&excl, rel);
	so.exclude = (const char *const *)excl.v;
	so.separate_weights = st->o->separate_weights;
	if (src_tree_walk(st->model_dir, &so, &st->src, err) < 0)
		return -1;
	st->src_ready = true;
	src_tree_memo_load(&st->src, st->memo_path);
	return 0;
}

int build_add_layer(struct build_state *st, const struct cache_layer *e, struct pn_error **err)
{
	oci_manifest_add_layer(&st->img.manifest, &e->layer);
	oci_config_add_layer(&st->img.config, e->diff_id, e->created_by);
	st->n_layer_steps++;
	(void)err; /* the rootfs catches up lazily (build_ensure_rootfs) */
	return 0;
}

static void key_common(struct build_state *st, struct cache_key *k)
{
	cache_key_add(k, "platform", st->o->platform ? st->o->platform : "linux/amd64");
	cache_key_add(k, "compression", oci_compression_name(st->lopts.compression));
	{
		char clamp[32];

		snprintf(clamp, sizeof(clamp), "%lld", (long long)st->lopts.mtime_clamp);
		cache_key_add(k, "mtime-clamp", clamp);
	}
}

/* look the key up; on a hit add the layer and say so: 1 hit, 0 miss */
static int try_cache(struct build_state *st, const char *key, const char *name,
		     struct pn_error **err)
{
	struct cache_layer e;
	int rc;

	if (st->o->no_cache)
		return 0;
	rc = build_cache_get_layer(st->cache, key, &e, err);
	if (rc <= 0)
		return rc;
	rc = build_add_layer(st, &e, err);
	cache_layer_release(&e);
	if (rc < 0)
		return -1;
	st->hits++;
	memcpy(st->chain, key, sizeof(st->chain));
	build_step_event(st, name, true, 0, NULL);
	return 1;
}

/* a new layer: remember it under key, add it, advance the chain */
static int commit_layer(struct build_state *st, const char *key, const struct oci_layer_result *lr,
			const char *created_by, struct pn_error **err)
{
	struct cache_layer e;
	int rc;

	cache_layer_init(&e);
	oci_descriptor_copy(&e.layer, &lr->desc);
	memcpy(e.diff_id, lr->diff_id, sizeof(e.diff_id));
	e.created_by = xstrdup(created_by);
	e.created = pn_rfc3339((int64_t)time(NULL));
	rc = build_cache_put_layer(st->cache, key, &e, err);
	if (rc == 0)
		rc = build_add_layer(st, &e, err);
	cache_layer_release(&e);
	if (rc < 0)
		return -1;
	memcpy(st->chain, key, sizeof(st->chain));
	st->any_miss = true;
	return 0;
}

/* ---------------------------------------------------------------- ENV */

int build_step_env(struct build_state *st, const struct plan_step *s, struct pn_error **err)
{
	struct oci_config *c = &st->img.config;
	cleanup_buf struct pn_buf hist = PN_BUF_INIT;
	struct cache_key k;

	(void)err;
	cache_key_begin(&k, st->chain);
	cache_key_add(&k, "kind", "env");
	pn_buf_puts(&hist, "ENV", NULL);
	for (size_t i = 0; i < s->n_env; i++) {
		cleanup_free char *v = plan_env_expand(s->env[i].value, c->env.v);

		oci_config_set_env(c, s->env[i].name, v);
		cache_key_add(&k, s->env[i].name, v);
		pn_buf_printf(&hist, NULL, " %s=%s", s->env[i].name, v);
	}
	cache_key_finish(&k, st->chain);
	oci_config_add_history(c, hist.data, true);
	pn_debug("step %s: %s", s->name, hist.data);
	return 0;
}

/* ---------------------------------------------------------------- RUN */

/* a file the step needs: its host path and content digest */
static int file_source(struct build_state *st, const struct plan_file *f, size_t i, char **path_out,
		       oci_digest_t digest, struct pn_error **err)
{
	if (f->content) {
		cleanup_free char *p = xasprintf("%s/file-%zu", st->tmpdir, i);

		if (pn_write_file_atomic(p, f->content, f->len, 0644, err) < 0)
			return -1;
		oci_digest_buf(f->content, f->len, digest);
		*path_out = steal_pointer(&p);
		return 0;
	}
	if (f->source && strcmp(f->source, "@cog-wheel") == 0) {
		if (!st->wheel.path)
			return pn_error_set(err, PN_ERR_GENERIC, "no cog wheel was selected");
		*path_out = xstrdup(st->wheel.path);
		memcpy(digest, st->wheel.digest, sizeof(oci_digest_t));
		return 0;
	}
	return pn_error_set(err, PN_ERR_INVALID, "unknown file source `%s` for `%s`",
			    f->source ? f->source : "(none)", f->target);
}

static const struct build_secret *secret_find(const struct build_opts *o, const char *id)
{
	for (size_t i = 0; i < o->n_secrets; i++)
		if (strcmp(o->secrets[i].id, id) == 0)
			return &o->secrets[i];
	return NULL;
}

/* the host file that holds secret s (an env secret is written to the
 * private scratch dir, mode 0600) */
static int secret_source(struct build_state *st, const struct build_secret *s, char **out,
			 struct pn_error **err)
{
	const char *v;
	cleanup_free char *p = NULL;

	if (s->src) {
		if (access(s->src, R_OK) < 0)
			return pn_error_set_errno(err, errno, "secret `%s`: read `%s`", s->id,
						  s->src);
		*out = xstrdup(s->src);
		return 0;
	}
	v = getenv(s->env);
	if (!v)
		return pn_error_set(err, PN_ERR_INVALID,
				    "secret `%s`: environment variable `%s` is not set", s->id,
				    s->env);
	p = xasprintf("%s/secret-%s", st->tmpdir, s->id);
	if (pn_write_file_atomic(p, v, strlen(v), 0600, err) < 0)
		return -1;
	*out = steal_pointer(&p);
	return 0;
}

struct run_inputs {
	struct runner_secret *mounts;
	size_t n;
	struct pn_strv paths; /* owned host paths */
	struct pn_strv env;   /* NAME=value */
	struct pn_strv ids;
};

static void run_inputs_release(struct run_inputs *in)
{
	free(in->mounts);
	pn_strv_release(&in->paths);
	pn_strv_release(&in->env);
	pn_strv_release(&in->ids);
}

static void mount_add(struct run_inputs *in, char *id, char *path, const char *target)
{
	pn_strv_push_owned(&in->ids, id);
	pn_strv_push_owned(&in->paths, path);
	in->mounts = xrealloc(in->mounts, st_mult(in->n + 1, sizeof(*in->mounts)));
	in->mounts[in->n].id = in->ids.v[in->ids.n - 1];
	in->mounts[in->n].source = in->paths.v[in->paths.n - 1];
	in->mounts[in->n].target = target;
	in->n++;
}

/* the key of a RUN step and, if prepare, the files and secrets it needs */
static int run_key(struct build_state *st, const struct plan_step *s, struct run_inputs *in,
		   oci_digest_t key, struct pn_error **err)
{
	struct cache_key k;

	cache_key_begin(&k, st->chain);
	cache_key_add(&k, "kind", "run");
	cache_key_add(&k, "shell", s->shell);
	cache_key_add(&k, "network", st->o->network_none ? "none" : "host");
	for (size_t i = 0; i < s->n_env; i++) {
		cleanup_free char *v = plan_env_expand(s->env[i].value, st->img.config.env.v);

		cache_key_add(&k, s->env[i].name, v);
		pn_strv_push_owned(&in->env, xasprintf("%s=%s", s->env[i].name, v));
	}
	for (size_t i = 0; i < s->n_files; i++) {
		char *path = NULL;
		oci_digest_t d;

		if (file_source(st, &s->files[i], i, &path, d, err) < 0) {
			cache_key_abort(&k);
			return pn_error_wrap(err, "provide `%s`", s->files[i].target);
		}
		cache_key_add(&k, "file", s->files[i].target);
		cache_key_add(&k, "digest", d);
		mount_add(in, xasprintf("file-%zu", i), path, s->files[i].target);
	}
	for (size_t i = 0; i < s->n_secrets; i++) {
		const struct build_secret *bs = secret_find(st->o, s->secrets[i].id);
		char *path = NULL;

		/* the id and target only: never the value */
		cache_key_add(&k, "secret", s->secrets[i].id);
		cache_key_add(&k, "target", s->secrets[i].target);
		if (!bs) {
			pn_warn("step `%s`: no --secret id=%s given; `%s` will not exist", s->name,
				s->secrets[i].id, s->secrets[i].target);
			continue;
		}
		if (secret_source(st, bs, &path, err) < 0) {
			cache_key_abort(&k);
			return -1;
		}
		mount_add(in, xstrdup(bs->id), path, s->secrets[i].target);
	}
	for (size_t i = 0; i < s->key_inputs.n; i++)
		cache_key_add(&k, "input", s->key_inputs.v[i]);
	key_common(st, &k);
	cache_key_finish(&k, key);
	return 0;
}

/* pip and proxy settings of the host reach RUN steps (not the image, not
 * the cache key): how packages are fetched does not change what they are */
static const char *const passthrough_names[] = {
	"PIP_INDEX_URL",  "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST",
	"PIP_FIND_LINKS", "PIP_NO_INDEX",	 "PIP_CERT",
	"PIP_RETRIES",	  "PIP_TIMEOUT",	 "PIP_DEFAULT_TIMEOUT",
	"http_proxy",	  "https_proxy",	 "no_proxy",
	"HTTP_PROXY",	  "HTTPS_PROXY",	 "NO_PROXY",
};

static bool cog_env_sets(const struct cog_config *cfg, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < cfg->environment.n; i++)
		if (strncmp(cfg->environment.v[i], name, n) == 0 && cfg->environment.v[i][n] == '=')
			return true;
	return false;
}

void build_host_env(const struct build_opts *o, const struct cog_config *cfg, struct build_plan *p)
{
	for (size_t i = 0;
	     !o->no_host_env && i < sizeof(passthrough_names) / sizeof(passthrough_names[0]); i++) {
		const char *v = getenv(passthrough_names[i]);

		if (v)
			build_plan_add_host_env(p, passthrough_names[i], v, PLAN_ENV_HOST,
						cog_env_sets(cfg, passthrough_names[i]));
	}
	for (size_t i = 0; i < o->build_env.n; i++) {
		const char *spec = o->build_env.v[i], *eq = strchr(spec, '=');
		cleanup_free char *name = eq ? xstrndup(spec, (size_t)(eq - spec)) : xstrdup(spec);
		const char *v = eq ? eq + 1 : getenv(name);

		if (!v) {
			pn_warn("--build-env `%s`: not set in this environment; not passed", name);
			continue;
		}
		build_plan_add_host_env(p, name, v,
					eq ? PLAN_ENV_BUILD_ENV : PLAN_ENV_BUILD_ENV_HOST,
					cog_env_sets(cfg, name));
	}
}

/* the host's variables first: the step's own (and cog.yaml's, through the
 * config) come later and win */
static void host_env_add(const struct build_plan *p, struct pn_strv *env)
{
	for (size_t i = 0; i < p->n_host_env; i++)
		if (plan_host_env_used(&p->host_env[i]))
			pn_strv_push_owned(
				env, xasprintf("%s=%s", p->host_env[i].name, p->host_env[i].value));
}

static int run_exec(struct build_state *st, const struct plan_step *s, struct run_inputs *in,
		    const char *key, struct pn_error **err)
{
	struct runner_step rs;
	struct runner_result res;
	struct oci_layer_opts lo = st->lopts;
	cleanup_strv struct pn_strv env = PN_STRV_INIT;
	cleanup_free char *created_by = xasprintf("RUN /bin/sh -c %s", s->shell);
	double t0 = build_now();
	int rc;

	if (build_ensure_rootfs(st, false, err) < 0)
		return -1;
	memset(&rs, 0, sizeof(rs));
	rs.name = s->name;
	rs.shell = s->shell;
	rs.config = &st->img.config;
	host_env_add(&st->plan, &env);
	for (size_t i = 0; i < in->env.n; i++)
		pn_strv_push(&env, in->env.v[i]);
	pn_strv_push(&env, "PINION_BUILD_STEP=1");
	/* reproducible output of tools that honour it (Python writes hash-based .pyc) */
	if (st->lopts.mtime_clamp >= 0)
		pn_strv_push_owned(&env, xasprintf("SOURCE_DATE_EPOCH=%lld",
						   (long long)st->lopts.mtime_clamp));
	rs.env = (const char *const *)env.v;
	rs.secrets = in->mounts;
	rs.n_secrets = in->n;
	rs.network = st->o->network_none ? RUNNER_NET_NONE : RUNNER_NET_HOST;
	lo.overlay_upper = true;
	lo.normalize_owner = false;
	runner_result_init(&res);
	pn_progress_event("step-start", NULL, "[%zu/%zu] %s: %s", st->step_no, st->plan.n_steps,
			  s->name, s->shell);
	rc = runner_step_run(st->runner, &st->rf, &rs, st->cl, &lo, &res, err);
	if (rc == 0 && !res.committed)
		rc = pn_error_set(err, PN_ERR_GENERIC, "the step produced no layer");
	if (rc == 0)
		rc = commit_layer(st, key, &res.layer, created_by, err);
	if (rc == 0)
		build_step_event(st, s->name, false, build_now() - t0, NULL);
	runner_result_release(&res);
	return rc;
}

int build_step_run(struct build_state *st, const struct plan_step *s, struct pn_error **err)
{
	struct run_inputs in;
	oci_digest_t key;
	int rc;

	memset(&in, 0, sizeof(in));
	rc = run_key(st, s, &in, key, err);
	if (rc == 0) {
		rc = try_cache(st, key, s->name, err);
		if (rc == 0)
			rc = run_exec(st, s, &in, key, err);
		else if (rc > 0)
			rc = 0;
	}
	run_inputs_release(&in);
	return rc;
}

/* ---------------------------------------------------------------- COPY */

typedef int (*layer_fill_fn)(struct build_state *st, struct oci_layer_writer *w, const void *arg,
			     struct pn_error **err);

static int write_layer(struct build_state *st, const struct oci_layer_opts *lo, layer_fill_fn fill,
		       const void *arg, struct oci_layer_result *out, struct pn_error **err)
{
	struct oci_layer_writer *w = oci_layer_writer_new(st->cl, lo, err);
	int rc;

	if (!w)
		return -1;
	rc = fill(st, w, arg, err);
	if (rc == 0)
		rc = oci_layer_writer_finish(w, out, err);
	oci_layer_writer_free(w);
	return rc;
}

/* key -> hit, or fill a new layer */
static int copy_layer(struct build_state *st, const char *name, const char *key,
		      const struct oci_layer_opts *lo, layer_fill_fn fill, const void *arg,
		      const char *created_by, const char *detail, struct pn_error **err)
{
	struct oci_layer_result lr;
	double t0 = build_now();
	int rc = try_cache(st, key, name, err);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	memset(&lr, 0, sizeof(lr));
	oci_descriptor_init(&lr.desc);
	rc = write_layer(st, lo, fill, arg, &lr, err);
	if (rc == 0)
		rc = commit_layer(st, key, &lr, created_by, err);
	if (rc == 0)
		build_step_event(st, name, false, build_now() - t0, detail);
	oci_layer_result_release(&lr);
	return rc;
}

struct tini_arg {
	const char *dest; /* without the leading '/' */
};

static int fill_tini(struct build_state *st, struct oci_layer_writer *w, const void *arg,
		     struct pn_error **err)
{
	const struct tini_arg *a = arg;
	cleanup_free char *dir = xstrdup(a->dest);
	char *slash = strrchr(dir, '/');
	size_t len;
	const unsigned char *data = build_tini_data(&len);

	(void)st;
	if (slash) {
		*slash = '\0';
		if (oci_layer_writer_add_dir(w, dir, 0755, err) < 0)
			return -1;
	}
	return oci_layer_writer_add_data(w, a->dest, data, len, 0755, err);
}

static int copy_tini(struct build_state *st, const struct plan_step *s, struct pn_error **err)
{
	struct tini_arg a = {s->copy_dest + strspn(s->copy_dest, "/")};
	struct oci_layer_opts lo = st->lopts;
	cleanup_free char *created_by = xasprintf("COPY tini %s", s->copy_dest);
	struct cache_key k;
	oci_digest_t key, d;
	size_t len;
	const unsigned char *data = build_tini_data(&len);

	oci_digest_buf(data, len, d);
	cache_key_begin(&k, st->chain);
	cache_key_add(&k, "kind", "copy-tini");
	cache_key_add(&k, "dest", s->copy_dest);
	cache_key_add(&k, "digest", d);
	key_common(st, &k);
	cache_key_finish(&k, key);
	lo.normalize_owner = true;
	return copy_layer(st, s->name, key, &lo, fill_tini, &a, created_by, NULL, err);
}

struct src_arg {
	const char *prefix;
	size_t index; /* weight entry, or SIZE_MAX for the source layer */
};

static int fill_src(struct build_state *st, struct oci_layer_writer *w, const void *arg,
		    struct pn_error **err)
{
	const struct src_arg *a = arg;

	if (a->index == SIZE_MAX)
		return src_layer_add_source(w, &st->src, a->prefix, err);
	return src_layer_add_weight(w, &st->src, a->index, a->prefix, err);
}

static int copy_weights(struct build_state *st, const struct plan_step *s, const char *prefix,
			struct pn_error **err)
{
	struct oci_layer_opts lo = st->lopts;

	lo.normalize_owner = true;
	lo.compression = OCI_COMP_NONE; /* weights do not compress; never gzip them */
	for (size_t i = 0; i < st->src.n; i++) {
		struct src_arg a = {prefix, i};
		cleanup_free char *created_by = NULL;
		struct cache_key k;
		oci_digest_t key, d;

		if (!st->src.entries[i].weight)
			continue;
		if (src_tree_digest_entry(&st->src, i, d, err) < 0)
			return -1;
		cache_key_begin(&k, st->chain);
		cache_key_add(&k, "kind", "copy-weight");
		cache_key_add(&k, "dest", s->copy_dest);
		cache_key_add(&k, "digest", d);
		key_common(st, &k);
		cache_key_finish(&k, key);
		created_by = xasprintf("COPY %s %s/%s # weights", st->src.entries[i].path,
				       s->copy_dest, st->src.entries[i].path);
		if (copy_layer(st, s->name, key, &lo, fill_src, &a, created_by,
			       st->src.entries[i].path, err) < 0)
			return pn_error_wrap(err, "weights `%s`", st->src.entries[i].path);
		pn_strv_push(&st->weight_diff_ids,
			     st->img.config.diff_ids[st->img.config.n_diff_ids - 1]);
	}
	return 0;
}

static int copy_source(struct build_state *st, const struct plan_step *s, const char *prefix,
		       struct pn_error **err)
{
	struct src_arg a = {prefix, SIZE_MAX};
	struct oci_layer_opts lo = st->lopts;
	cleanup_free char *created_by = xasprintf("COPY . %s", s->copy_dest);
	struct cache_key k;
	oci_digest_t key, d;

	if (src_tree_digest_source(&st->src, d, err) < 0)
		return -1;
	cache_key_begin(&k, st->chain);
	cache_key_add(&k, "kind", "copy-source");
	cache_key_add(&k, "dest", s->copy_dest);
	cache_key_add(&k, "digest", d);
	cache_key_add(&k, "separate-weights", st->o->separate_weights ? "1" : "0");
	key_common(st, &k);
	cache_key_finish(&k, key);
	lo.normalize_owner = true;
	return copy_layer(st, s->name, key, &lo, fill_src, &a, created_by, NULL, err);
}

int build_step_copy(struct build_state *st, const struct plan_step *s, struct pn_error **err)
{
	const char *prefix;

	if (!s->copy_dest || s->copy_dest[0] != '/')
		return pn_error_set(err, PN_ERR_INVALID, "copy destination must be absolute");
	if (s->copy_src && strcmp(s->copy_src, "@tini") == 0)
		return copy_tini(st, s, err);
	prefix = s->copy_dest + strspn(s->copy_dest, "/");
	if (build_ensure_source(st, err) < 0)
		return -1;
	if (s->id == PLAN_ID_WEIGHTS) {
		st->weights_done = true;
		return copy_weights(st, s, prefix, err);
	}
	/* weights left out of the source layer must go somewhere: before it */
	if (st->src.n_weights && !st->weights_done) {
		st->weights_done = true;
		if (copy_weights(st, s, prefix, err) < 0)
			return -1;
	}
	if (!s->copy_src || strcmp(s->copy_src, ".") != 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED, "copy of `%s` is not supported",
				    s->copy_src ? s->copy_src : "(none)");
	return copy_source(st, s, prefix, err);
}
