/* build_steps.c - one plan step over its context (struct step_ctx): ENV
 * edits of the config, RUN steps in the sandbox, COPY layers written
 * directly; each layer step through the cache (build_layer.c). */
#include "assembler/build_internal.h"
#include "assembler/pkgcache.h"
#include "common/cleanup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- ENV */

static int step_env(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	struct oci_config *c = &sc->ex->img.config;
	cleanup_buf struct pn_buf hist = PN_BUF_INIT;
	cleanup_strv struct pn_strv env = PN_STRV_INIT;

	if (pn_buf_puts(&hist, "ENV", err) < 0)
		return -1;
	for (size_t i = 0; i < s->n_env; i++) {
		cleanup_free char *v = plan_env_expand(s->env[i].value, c->env.v, err);

		if (!v)
			return -1;
		oci_config_set_env(c, s->env[i].name, v);
		pn_strv_push_owned(&env, xasprintf("%s=%s", s->env[i].name, v));
		if (pn_buf_printf(&hist, err, " %s=%s", s->env[i].name, v) < 0)
			return -1;
	}
	build_key_env(sc->chain, &env, sc->chain);
	oci_config_add_history(c, hist.data, true);
	pn_debug("step %s: %s", s->name, hist.data);
	return 0;
}

/* ---------------------------------------------------------------- RUN */

/* what a RUN step gets besides the plan: its env, files and secrets */
struct run_inputs {
	struct runner_secret *mounts;
	size_t n;
	struct pn_strv paths; /* owned host paths */
	struct pn_strv env;   /* NAME=value, expanded */
	struct pn_strv ids;
	oci_digest_t *file_digests; /* one per plan file */
};

static void run_inputs_release(struct run_inputs *in)
{
	free(in->mounts);
	free(in->file_digests);
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

/* a file the step needs, by its kind: its host path and content digest */
static int file_source(struct step_ctx *sc, const struct plan_file *f, size_t i, char **path_out,
		       oci_digest_t digest, struct pn_error **err)
{
	cleanup_free char *p = NULL;

	switch (f->from) {
	case PLAN_FILE_INLINE:
		p = xasprintf("%s/file-%zu", sc->ex->tmpdir, i);
		if (pn_write_file_atomic(p, f->content, f->len, 0644, err) < 0)
			return -1;
		oci_digest_buf(f->content, f->len, digest);
		*path_out = steal_pointer(&p);
		return 0;
	case PLAN_FILE_COG_WHEEL:
		if (!sc->wheel || !sc->wheel->path)
			return pn_error_set(err, PN_ERR_GENERIC, "no cog wheel was selected");
		*path_out = xstrdup(sc->wheel->path);
		memcpy(digest, sc->wheel->digest, sizeof(oci_digest_t));
		return 0;
	}
	PN_BUG("unknown file kind %d", (int)f->from);
}

/* the files and secrets of a RUN step on the host, and its env */
static int run_prepare(struct step_ctx *sc, const struct plan_step *s, struct run_inputs *in,
		       struct pn_error **err)
{
	for (size_t i = 0; i < s->n_env; i++) {
		cleanup_free char *v =
			plan_env_expand(s->env[i].value, sc->ex->img.config.env.v, err);

		if (!v)
			return -1;
		pn_strv_push_owned(&in->env, xasprintf("%s=%s", s->env[i].name, v));
	}
	in->file_digests = xcalloc(s->n_files ? s->n_files : 1, sizeof(*in->file_digests));
	for (size_t i = 0; i < s->n_files; i++) {
		char *path = NULL;

		if (file_source(sc, &s->files[i], i, &path, in->file_digests[i], err) < 0)
			return pn_error_wrap(err, "provide `%s`", s->files[i].target);
		mount_add(in, xasprintf("file-%zu", i), path, s->files[i].target);
	}
	for (size_t i = 0; i < s->n_secrets; i++) {
		const struct build_secret *bs =
			build_secret_find(sc->secrets, sc->n_secrets, s->secrets[i].id);
		char *path = NULL;

		if (!bs) /* build_secrets_check saw to it */
			return pn_error_set(err, PN_ERR_INVALID, "no --secret id=%s given",
					    s->secrets[i].id);
		if (build_secret_file(bs, sc->ex->tmpdir, &path, err) < 0)
			return -1;
		mount_add(in, xstrdup(bs->id), path, s->secrets[i].target);
	}
	return 0;
}

/* the environment of the step: the host's, the step's, and the build's own */
static void run_env(const struct step_ctx *sc, const struct run_inputs *in, struct pn_strv *env)
{
	build_host_env_add(sc->plan, env);
	for (size_t i = 0; i < in->env.n; i++)
		pn_strv_push(env, in->env.v[i]);
	pn_strv_push(env, "PINION_BUILD_STEP=1");
	/* reproducible output of tools that honour it (Python writes hash-based .pyc) */
	if (sc->lopts->mtime_clamp >= 0)
		pn_strv_push_owned(env, xasprintf("SOURCE_DATE_EPOCH=%lld",
						  (long long)sc->lopts->mtime_clamp));
}

/* the package caches of the step (after its key: they are in none), the
 * variable that points pip at its cache, the apt options file, and pip
 * steps of the plan without their --no-cache-dir (the layer is the same:
 * the cache is a mount) */
static int run_pkgcache(struct step_ctx *sc, const struct plan_step *s, struct run_inputs *in,
			struct pkgcache *pc, struct pn_strv *env, char **shell,
			struct pn_error **err)
{
	struct build_exec *ex = sc->ex;

	if (!ex->package_cache)
		return 0;
	if (pkgcache_step_open(pc, ex->cache_dir, ex->tmpdir, &ex->rf.lowers,
			       ex->img.config.architecture, s->shell, err) < 0)
		return -1;
	pn_strv_push(env, "PIP_CACHE_DIR=" PKGCACHE_PIP_TARGET);
	if (pc->apt_conf)
		mount_add(in, xstrdup("package-cache-apt"), xstrdup(pc->apt_conf),
			  PKGCACHE_APT_CONF);
	if (s->id == PLAN_ID_PIP || s->id == PLAN_ID_COG_WHEEL)
		*shell = pkgcache_shell(s->shell);
	pn_debug("step %s: package cache `%s`%s", s->name, pc->key,
		 pc->apt_conf ? (pc->apt_shared ? " (apt shared)" : " (apt private)") : "");
	return 0;
}

static int run_exec(struct step_ctx *sc, const struct plan_step *s, struct run_inputs *in,
		    const char *key, struct pn_error **err)
{
	struct build_exec *ex = sc->ex;
	struct runner_step rs;
	struct runner_result res;
	struct oci_layer_opts lo = *sc->lopts;
	cleanup_strv struct pn_strv env = PN_STRV_INIT;
	cleanup_free char *created_by = xasprintf("RUN /bin/sh -c %s", s->shell);
	cleanup_free char *shell = NULL;
	struct pkgcache pc;
	double t0 = build_now();
	int rc;

	if (build_exec_rootfs(ex, false, err) < 0)
		return -1;
	run_env(sc, in, &env);
	pkgcache_init(&pc);
	if (run_pkgcache(sc, s, in, &pc, &env, &shell, err) < 0) {
		pkgcache_release(&pc);
		return -1;
	}
	memset(&rs, 0, sizeof(rs));
	rs.name = s->name;
	rs.shell = shell ? shell : s->shell;
	rs.config = &ex->img.config;
	rs.env = (const char *const *)env.v;
	rs.secrets = in->mounts;
	rs.n_secrets = in->n;
	rs.caches = pc.mounts;
	rs.n_caches = pc.n_mounts;
	rs.network = sc->plan->network_none ? RUNNER_NET_NONE : RUNNER_NET_HOST;
	lo.overlay_upper = true;
	lo.normalize_owner = false;
	build_step_started(ex, s->name, s->shell);
	runner_result_init(&res);
	rc = runner_step_run(ex->runner, &ex->rf, &rs, ex->cl, &lo, &res, err);
	pkgcache_release(&pc);	/* the apt cache's lock: the step is over */
	sc->err_named = rc < 0; /* the runner's errors name the step */
	if (rc == 0 && !res.committed)
		rc = pn_error_set(err, PN_ERR_GENERIC, "the step produced no layer");
	if (rc == 0)
		rc = build_layer_commit(sc, key, &res.layer, created_by, err);
	if (rc == 0)
		build_step_event(ex, s->name, false, build_now() - t0, NULL);
	runner_result_release(&res);
	return rc;
}

static int step_run(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	struct run_inputs in;
	oci_digest_t key;
	int rc;

	memset(&in, 0, sizeof(in));
	build_step_begin(sc->ex, s->name, s->shell);
	rc = run_prepare(sc, s, &in, err);
	if (rc == 0) {
		build_key_run(sc->chain, s, sc->plan, sc->lopts, &in.env,
			      (const oci_digest_t *)in.file_digests, key);
		rc = build_layer_try_cache(sc, key, s->name, NULL, err);
		if (rc == 0)
			rc = run_exec(sc, s, &in, key, err);
		else if (rc > 0)
			rc = 0;
	}
	run_inputs_release(&in);
	return rc;
}

/* ---------------------------------------------------------------- COPY */

static int fill_tini(struct oci_layer_writer *w, const void *arg, struct pn_error **err)
{
	const char *dest = arg; /* without the leading '/' */
	cleanup_free char *dir = xstrdup(dest);
	char *slash = strrchr(dir, '/');
	size_t len;
	const unsigned char *data = build_tini_data(&len);

	if (slash) {
		*slash = '\0';
		if (oci_layer_writer_add_dir(w, dir, 0755, err) < 0)
			return -1;
	}
	return oci_layer_writer_add_data(w, dest, data, len, 0755, err);
}

static int copy_tini(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	const char *dest = s->copy_dest + strspn(s->copy_dest, "/");
	struct oci_layer_opts lo = *sc->lopts;
	cleanup_free char *created_by = xasprintf("COPY tini %s", s->copy_dest);
	oci_digest_t key, d;
	size_t len;
	const unsigned char *data = build_tini_data(&len);

	oci_digest_buf(data, len, d);
	build_key_copy(sc->chain, "copy-tini", s, d, sc->plan, sc->lopts, key);
	lo.normalize_owner = true;
	return build_layer_copy(sc, s->name, key, &lo, fill_tini, dest, created_by, NULL, err);
}

static int copy_source(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	struct build_src_arg a = {sc->src, s->copy_dest + strspn(s->copy_dest, "/"), SIZE_MAX};
	struct oci_layer_opts lo = *sc->lopts;
	cleanup_free char *created_by = xasprintf("COPY . %s", s->copy_dest);
	oci_digest_t key, d;

	if (src_tree_digest_source(sc->src, d, err) < 0)
		return -1;
	build_key_copy(sc->chain, "copy-source", s, d, sc->plan, sc->lopts, key);
	lo.normalize_owner = true;
	return build_layer_copy(sc, s->name, key, &lo, build_layer_fill_src, &a, created_by, NULL,
				err);
}

static int step_copy(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	if (!s->copy_dest || s->copy_dest[0] != '/')
		return pn_error_set(err, PN_ERR_INVALID, "copy destination must be absolute");
	switch (s->copy_from) {
	case PLAN_COPY_TINI:
		return copy_tini(sc, s, err);
	case PLAN_COPY_WEIGHTS:
		return build_weights_copy(sc, s, err);
	case PLAN_COPY_MODEL_DIR:
		return copy_source(sc, s, err);
	}
	PN_BUG("unknown copy kind %d", (int)s->copy_from);
}

int build_step(struct step_ctx *sc, const struct plan_step *s, struct pn_error **err)
{
	sc->err_named = false;
	switch (s->kind) {
	case PLAN_STEP_ENV:
		return step_env(sc, s, err);
	case PLAN_STEP_RUN:
		return step_run(sc, s, err);
	case PLAN_STEP_COPY:
		return step_copy(sc, s, err);
	}
	PN_BUG("unknown step kind %d", (int)s->kind);
}
