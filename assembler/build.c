/* build.c - the executor of `pinion build` (see build.h): setup, the step
 * loop, output. */
#include "assembler/build_internal.h"
#include "assembler/base_image.h"
#include "assembler/gc.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* the driver's own state: the options stay here; steps get a step_ctx */
struct build_state {
	const struct build_opts *o;
	char *model_dir;
	char *push_ref; /* where to push, or NULL */
	struct cog_config cfg;
	struct build_plan plan;
	struct wheel_choice wheel; /* COG_WHEEL resolved */
	struct registry_client *client;
	struct build_cache *cache;
	struct cache_remote *remote; /* --cache-from / --cache-to, or NULL */
	char *base_ref;		     /* the base reference as resolved */
	oci_digest_t base_digest;    /* its manifest digest */
	size_t base_history;	     /* history entries of the base */
	struct src_tree src;	     /* the model directory, walked in the plan stage */
	bool src_ready;
	char *memo_path;     /* file digest memo of this model directory */
	bool offline_warned; /* the cog-base check could not reach the registry */
	struct oci_layer_opts lopts;
	struct build_exec ex; /* the image, the sandbox */
	struct step_ctx sc;
	struct build_sbom sbom; /* attached to the output (build_sbom.c) */
};

/* ----------------------------------------------------------------- options */

void build_opts_init(struct build_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->separate_weights = true;
	o->timestamp = -1;
	o->compression = OCI_COMP_GZIP;
}

void build_opts_release(struct build_opts *o)
{
	for (size_t i = 0; i < o->n_secrets; i++) {
		free(o->secrets[i].id);
		free(o->secrets[i].src);
		free(o->secrets[i].env);
	}
	free(o->secrets);
	o->secrets = NULL;
	o->n_secrets = 0;
	pn_strv_release(&o->build_env);
	pn_strv_release(&o->cache_from);
	pn_strv_release(&o->cache_to);
}

int build_opts_add_env(struct build_opts *o, const char *spec, struct pn_error **err)
{
	size_t n = strcspn(spec, "=");

	if (n == 0 || !((spec[0] >= 'A' && spec[0] <= 'Z') || (spec[0] >= 'a' && spec[0] <= 'z') ||
			spec[0] == '_'))
		return pn_error_set(err, PN_ERR_INVALID,
				    "--build-env `%s`: want NAME or NAME=VALUE (NAME: letters, "
				    "digits, _)",
				    spec);
	for (size_t i = 1; i < n; i++)
		if (!((spec[i] >= 'A' && spec[i] <= 'Z') || (spec[i] >= 'a' && spec[i] <= 'z') ||
		      (spec[i] >= '0' && spec[i] <= '9') || spec[i] == '_'))
			return pn_error_set(err, PN_ERR_INVALID,
					    "--build-env `%s`: bad character in the name", spec);
	pn_strv_push(&o->build_env, spec);
	return 0;
}

int build_opts_add_secret(struct build_opts *o, const char *spec, struct pn_error **err)
{
	cleanup_free char *copy = xstrdup(spec);
	struct build_secret s = {0};
	char *save = NULL;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		char **slot;

		if (!eq || eq == kv || !eq[1])
			goto bad;
		*eq = '\0';
		if (strcmp(kv, "id") == 0)
			slot = &s.id;
		else if (strcmp(kv, "src") == 0 || strcmp(kv, "source") == 0)
			slot = &s.src;
		else if (strcmp(kv, "env") == 0)
			slot = &s.env;
		else if (strcmp(kv, "type") == 0 && strcmp(eq + 1, "file") == 0)
			continue;
		else
			goto bad;
		free(*slot);
		*slot = xstrdup(eq + 1);
	}
	if (!s.id || (!s.src && !s.env) || (s.src && s.env))
		goto bad;
	if (o->n_secrets >= BUILD_SECRETS_MAX) {
		free(s.id), free(s.src), free(s.env);
		return pn_error_set(err, PN_ERR_TOO_LARGE, "more than %d secrets",
				    BUILD_SECRETS_MAX);
	}
	o->secrets = xrealloc(o->secrets, st_mult(o->n_secrets + 1, sizeof(*o->secrets)));
	o->secrets[o->n_secrets++] = s;
	return 0;
bad:
	free(s.id), free(s.src), free(s.env);
	pn_error_set(err, PN_ERR_INVALID, "invalid --secret `%s`", spec);
	pn_error_hint(err, "use --secret id=ID,src=PATH or --secret id=ID,env=VAR");
	return -1;
}

void build_result_init(struct build_result *r)
{
	memset(r, 0, sizeof(*r));
	oci_descriptor_init(&r->manifest);
}

void build_result_release(struct build_result *r)
{
	oci_descriptor_release(&r->manifest);
	free(r->layout_dir);
	free(r->layout_tag);
	free(r->pushed);
	memset(r, 0, sizeof(*r));
}

char *build_default_layout(const char *model_dir)
{
	return pn_path_join(model_dir, BUILD_DEFAULT_LAYOUT);
}

int build_default_layout_check(const char *model_dir, struct pn_error **err)
{
	cleanup_free char *layout = build_default_layout(model_dir);
	cleanup_free char *parent = xstrdup(layout);
	const char *paths[2] = {parent, layout};
	struct stat st;

	*strrchr(parent, '/') = '\0';
	/* the model directory is untrusted: a `.pinion` (or `.pinion/layout`)
	 * symlink would have the layout written wherever it points */
	for (int i = 0; i < 2; i++) {
		if (lstat(paths[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			pn_error_set(
				err, PN_ERR_INVALID,
				"`%s` is %s: the default output layout is not written through it",
				paths[i], S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
			pn_error_hint(err, "remove it, or choose the layout with --output oci:DIR");
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------- setup */

/* msg without the "check `ref`: " the registry puts first */
static const char *cause_of(const char *msg, const char *ref)
{
	size_t n = strlen(ref);

	if (strncmp(msg, "check `", 7) == 0 && strncmp(msg + 7, ref, n) == 0 &&
	    strncmp(msg + 7 + n, "`: ", 3) == 0)
		return msg + 7 + n + 3;
	return msg;
}

static int exists_cb(const char *ref, bool *exists, void *ud, struct pn_error **err)
{
	struct build_state *st = ud;
	struct pn_error *e = NULL;

	if (registry_exists(st->client, ref, exists, &e) == 0)
		return 0;
	/* an optional base that cannot be reached is one we do not use; one
	 * asked for (--use-cog-base-image) fails with the reason */
	if ((e->code == PN_ERR_NETWORK || e->code == PN_ERR_AUTH) &&
	    st->o->use_cog_base != PLAN_YES) {
		if (!st->offline_warned)
			pn_notice("cannot check for the cog-base image `%s` (%s); building "
				  "without it",
				  ref, cause_of(e->msg, ref));
		st->offline_warned = true;
		pn_error_free(e);
		*exists = false;
		return 0;
	}
	/* the caller names the image: the cause alone, not "check `ref`" twice */
	pn_error_set(err, e->code, "%s", cause_of(e->msg, ref));
	if (e->hint)
		pn_error_hint(err, "%s", e->hint);
	pn_error_free(e);
	return -1;
}

static int setup_config(struct build_state *st, struct pn_error **err)
{
	const struct build_opts *o = st->o;
	const char *file = o->config_file ? o->config_file : "cog.yaml";
	cleanup_free char *dir = NULL;
	struct build_plan_opts po;

	if (o->base_image ? base_image_config(o->base_image, &st->cfg, err) < 0
			  : cog_config_load(file, &st->cfg, err) < 0 ||
				    cog_config_check_entry(&st->cfg, err) < 0)
		return -1;
	dir = xstrdup(st->cfg.dir ? st->cfg.dir : ".");
	st->model_dir = steal_pointer(&dir);
	if (!o->output && !o->push_ref && !o->push &&
	    build_default_layout_check(st->model_dir, err) < 0)
		return -1;
	if (o->push_ref || o->push) {
		const char *r = o->push_ref ? o->push_ref : o->tag ? o->tag : st->cfg.image;

		if (!r) {
			pn_error_set(err, PN_ERR_INVALID, "nothing to push to: no image name");
			pn_error_hint(
				err,
				"give one with -t REGISTRY/NAME[:TAG] or `image:` in cog.yaml");
			return -1;
		}
		st->push_ref = xstrdup(r);
	}
	if (registry_client_new(o->ropts, &st->client, err) < 0)
		return pn_error_wrap(err, "registry client");
	build_plan_opts_init(&po);
	if (wheel_select(po.cog_wheel, &st->wheel, err) < 0)
		return pn_error_wrap(err, "cog wheel (COG_WHEEL)");
	po.cog_wheel_name = st->wheel.name;
	po.use_cog_base = o->use_cog_base;
	po.use_cuda_base = o->use_cuda_base;
	po.image_exists = exists_cb;
	po.ud = st;
	po.separate_weights = o->separate_weights;
	po.platform = o->platform;
	po.network_none = o->network_none;
	if (o->cog_base_registry)
		po.registry_host = o->cog_base_registry;
	if ((o->base_image ? base_image_plan(o->base_image, &st->cfg, &po, &st->plan, err)
			   : build_plan_make(&st->cfg, &po, &st->plan, err)) < 0)
		return pn_error_wrap(err, "plan");
	build_host_env(o, &st->cfg, &st->plan);
	return 0;
}

/* the source walk: part of the plan (the weight layers) */
static int setup_source(struct build_state *st, struct pn_error **err)
{
	src_tree_init(&st->src);
	st->src_ready = true;
	return build_source_walk(st->model_dir, st->o->output, st->o->cache_dir, &st->plan,
				 &st->src, err);
}

/* scratch dirs of builds that were killed (older than a day) */
static void remove_stale_tmp(const char *base)
{
	cleanup_dir DIR *d = opendir(base);
	struct dirent *de;
	time_t limit = time(NULL) - 86400;

	while (d && (de = readdir(d))) {
		struct stat stt;

		if (strncmp(de->d_name, "build-tmp-", 10) != 0 ||
		    fstatat(dirfd(d), de->d_name, &stt, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(stt.st_mode) || stt.st_mtime > limit)
			continue;
		pn_rm_rf_at(dirfd(d), de->d_name, NULL);
	}
}

static int setup_cache(struct build_state *st, struct pn_error **err)
{
	cleanup_free char *base = st->o->cache_dir ? xstrdup(st->o->cache_dir) : pn_cache_dir();

	if (build_cache_open(base, &st->cache, err) < 0)
		return -1;
	st->ex.cl = build_cache_layout(st->cache);
	st->ex.cache_dir = st->o->cache_dir;
	st->ex.package_cache = !st->o->no_package_cache;
	/* weights stream to the registry unless a layout is written too
	 * (PINION_NO_STREAM_PUSH: the layout-blob path, for comparison) */
	if (st->push_ref && !st->o->output && !getenv("PINION_NO_STREAM_PUSH") &&
	    registry_ref_is_remote(st->client, st->push_ref)) {
		st->ex.push_client = st->client;
		st->ex.push_ref = st->push_ref;
	}
	if (pn_mkdir_p(base, 0700, err) < 0)
		return -1;
	remove_stale_tmp(base);
	/* mode 0700: env secrets are written here for their step */
	st->ex.tmpdir = pn_mkdtemp_in(base, "build-tmp-", err);
	if (!st->ex.tmpdir)
		return -1;
	oci_layer_opts_init(&st->lopts);
	st->lopts.compression = st->o->compression;
	{
		cleanup_free char *real = realpath(st->model_dir, NULL);
		cleanup_free char *mdir = pn_path_join(build_cache_dir(st->cache), "memo");
		oci_digest_t d;

		oci_digest_buf(real ? real : st->model_dir, strlen(real ? real : st->model_dir), d);
		if (pn_mkdir_p(mdir, 0755, err) < 0)
			return -1;
		st->memo_path = xasprintf("%s/%s.json", mdir, oci_digest_hex(d));
	}
	src_tree_memo_load(&st->src, st->memo_path);
	return 0;
}

/* pull the base into the cache layout (tagged by its reference), falling
 * back to a copy already there when the registry cannot be reached */
static int setup_base(struct build_state *st, struct pn_error **err)
{
	const char *ref = st->plan.base_image;
	const char *platform = st->plan.platform;
	struct oci_image *img = &st->ex.img;
	struct oci_descriptor d;
	struct pn_error *e = NULL;
	double t0 = build_now();

	pn_progress_event("pull", NULL, "base image %s", ref);
	oci_descriptor_init(&d);
	if (registry_pull(st->client, ref, st->ex.cl, ref, &d, &e) < 0) {
		oci_image_release(img); /* load fills it from scratch */
		if ((e->code == PN_ERR_NETWORK) &&
		    oci_image_load(st->ex.cl, ref, platform, img, NULL) == 0) {
			pn_warn("cannot reach the registry for `%s` (%s); using the cached copy",
				ref, e->msg);
			pn_error_free(e);
			goto loaded;
		}
		pn_error_propagate(err, e);
		pn_error_wrap(err, "pull base image `%s`", ref);
		if ((*err)->code == PN_ERR_NETWORK)
			pn_error_hint(err,
				      "check the registry address, or map it to a reachable mirror "
				      "with --registry-mirror");
		return -1;
	}
	oci_descriptor_release(&d);
	oci_image_release(img);
	if (oci_image_load(st->ex.cl, ref, platform, img, err) < 0)
		return pn_error_wrap(err, "load base image `%s`", ref);
loaded:
	memcpy(st->base_digest, img->desc.digest, sizeof(st->base_digest));
	st->base_ref = xstrdup(ref);
	st->base_history = img->config.n_history;
	build_key_chain_start(img, st->sc.chain);
	pn_progress_event("pull", NULL, "base image %s: %s (%.1fs)", ref, st->base_digest,
			  build_now() - t0);
	return 0;
}

/* ------------------------------------------------------------------- steps */

/* the steps progress shows (build_step_begin): each RUN, each COPY layer
 * (one per weight file), the post-build; not the ENV edits */
static size_t shown_steps(const struct build_plan *p)
{
	size_t n = 1;

	for (size_t i = 0; i < p->n_steps; i++) {
		const struct plan_step *s = &p->steps[i];

		if (s->kind == PLAN_STEP_COPY && s->copy_from == PLAN_COPY_WEIGHTS)
			n += s->n_weights;
		else if (s->kind != PLAN_STEP_ENV)
			n++;
	}
	return n;
}

/* every step gets the same narrow context */
static void step_ctx_setup(struct build_state *st)
{
	struct step_ctx *sc = &st->sc;

	sc->ex = &st->ex;
	sc->cache = st->cache;
	sc->use_cache = !st->o->no_cache;
	sc->lopts = &st->lopts;
	sc->plan = &st->plan;
	sc->src = &st->src;
	sc->wheel = &st->wheel;
	sc->secrets = st->o->secrets;
	sc->n_secrets = st->o->n_secrets;
	st->ex.n_steps = shown_steps(&st->plan);
}

static int run_steps(struct build_state *st, struct pn_error **err)
{
	for (size_t i = 0; i < st->plan.n_steps; i++) {
		const struct plan_step *s = &st->plan.steps[i];

		/* the one place a step's name joins its error (the runner names
		 * its own: the step's output lines carry the name too) */
		if (build_step(&st->sc, s, err) < 0) {
			build_step_failed(&st->ex);
			return st->sc.err_named ? -1 : pn_error_wrap(err, "step `%s`", s->name);
		}
	}
	return 0;
}

static void config_edits(struct build_state *st)
{
	struct oci_config *c = &st->ex.img.config;
	const struct build_plan *p = &st->plan;

	if (p->entrypoint.n) {
		pn_strv_release(&c->entrypoint);
		for (size_t i = 0; i < p->entrypoint.n; i++)
			pn_strv_push(&c->entrypoint, p->entrypoint.v[i]);
		c->entrypoint_null = false;
	}
	if (p->cmd.n) {
		pn_strv_release(&c->cmd);
		for (size_t i = 0; i < p->cmd.n; i++)
			pn_strv_push(&c->cmd, p->cmd.v[i]);
		c->cmd_null = false;
	}
	if (p->workdir) {
		free(c->working_dir);
		c->working_dir = xstrdup(p->workdir);
	}
	if (p->expose && !pn_strv_contains(&c->exposed_ports, p->expose))
		pn_strv_push(&c->exposed_ports, p->expose);
	for (size_t i = 0; i < p->n_labels; i++)
		oci_config_set_label(c, p->labels[i].name, p->labels[i].value);
}

/* ------------------------------------------------------------------ output */

/* --output oci-archive:FILE[:REF] or docker-archive:FILE[:REF]: the image
 * goes through a temporary layout packed into FILE (a docker-archive is
 * named REF, else -t) */
static int output_archive(struct build_state *st, struct build_result *res, struct pn_error **err)
{
	const struct build_opts *o = st->o;
	struct oci_location loc;
	const char *tag;
	int rc = oci_location_open(&loc, o->output, OCI_LAYOUT_CREATE, NULL, err);

	if (rc == 0) {
		tag = loc.ref ? loc.ref : o->tag ? o->tag : BUILD_DEFAULT_TAG;
		if (!loc.ref && o->tag)
			loc.repo_tag = xstrdup(o->tag);
		rc = oci_layout_copy_image(st->ex.cl, loc.layout, &st->ex.img, OCI_COPY_LAYERS,
					   NULL, err);
	}
	if (rc == 0) {
		oci_descriptor_release(&res->manifest);
		rc = oci_image_store(loc.layout, &st->ex.img, tag, &res->manifest, err);
	}
	if (rc == 0)
		rc = oci_location_commit(&loc, err);
	oci_location_release(&loc);
	if (rc < 0)
		return pn_error_wrap(err, "write image to `%s`", o->output);
	pn_progress_event("output", NULL, "image %s written to %s", res->manifest.digest,
			  o->output);
	return 0;
}

static int output_layout(struct build_state *st, struct build_result *res, struct pn_error **err)
{
	const struct build_opts *o = st->o;
	cleanup_free char *dir = NULL, *tag = NULL;
	struct oci_layout *out = NULL;
	int rc;

	if (o->output && oci_transport_of(o->output) != OCI_TRANSPORT_LAYOUT)
		return output_archive(st, res, err);
	if (o->output) {
		if (oci_ref_parse_layout(o->output, &dir, &tag, err) < 0)
			return -1;
	} else {
		if (build_default_layout_check(st->model_dir, err) < 0)
			return -1;
		dir = build_default_layout(st->model_dir);
	}
	if (!tag)
		tag = o->tag ? oci_ref_layout_name(o->tag) : xstrdup(BUILD_DEFAULT_TAG);
	if (oci_layout_open(dir, OCI_LAYOUT_CREATE, &out, err) < 0)
		return pn_error_wrap(err, "open output layout `%s`", dir);
	rc = oci_layout_copy_image(st->ex.cl, out, &st->ex.img, OCI_COPY_LAYERS, NULL, err);
	if (rc == 0) {
		oci_descriptor_release(&res->manifest);
		rc = oci_image_store(out, &st->ex.img, tag, &res->manifest, err);
	}
	if (rc == 0)
		rc = build_sbom_attach(&st->sbom, out, &res->manifest, err);
	oci_layout_free(out);
	if (rc < 0)
		return pn_error_wrap(err, "write image to `%s`", dir);
	res->layout_dir = steal_pointer(&dir);
	res->layout_tag = steal_pointer(&tag);
	pn_progress_event("output", NULL, "image %s written to oci:%s:%s", res->manifest.digest,
			  res->layout_dir, res->layout_tag);
	return 0;
}

static int output_push(struct build_state *st, struct build_result *res, struct pn_error **err)
{
	const char *dst = st->push_ref;
	struct oci_descriptor d;
	double t0 = build_now();

	oci_descriptor_init(&d);
	if (oci_image_store_absent(st->ex.cl, &st->ex.img, dst, &st->ex.streamed, &d, err) < 0)
		return pn_error_wrap(err, "store image for push");
	oci_descriptor_release(&d);
	pn_progress_event("push", NULL, "pushing %s", dst);
	if (registry_push(st->client, st->ex.cl, dst, dst, &d, err) < 0) {
		pn_error_wrap(err, "push `%s`", dst);
		pn_error_hint(err, "check the reference and your credentials (pinion login)");
		return -1;
	}
	if (build_sbom_push(&st->sbom, st->client, st->ex.cl, &d, dst, err) < 0) {
		oci_descriptor_release(&d);
		return pn_error_wrap(err, "push `%s`", dst);
	}
	oci_descriptor_release(&res->manifest);
	res->manifest = d;
	res->pushed = xstrdup(dst);
	pn_progress_event("push", NULL, "pushed %s@%s (%.1fs)", dst, d.digest, build_now() - t0);
	return 0;
}

/* ------------------------------------------------------------------ driver */

static void state_release(struct build_state *st)
{
	cog_config_release(&st->cfg);
	build_plan_release(&st->plan);
	wheel_choice_release(&st->wheel);
	build_exec_release(&st->ex);
	if (st->client)
		registry_client_free(st->client);
	if (st->src_ready)
		src_tree_release(&st->src);
	build_cache_free(st->cache);
	cache_remote_free(st->remote);
	free(st->model_dir);
	free(st->base_ref);
	free(st->push_ref);
	free(st->memo_path);
	build_sbom_release(&st->sbom);
}

static int postbuild(struct build_state *st, struct pn_error **err)
{
	struct postbuild_in in = {
		.cfg = &st->cfg,
		.plan = &st->plan,
		.model_dir = st->model_dir,
		.base_ref = st->base_ref,
		.base_digest = st->base_digest,
		.base_history = st->base_history,
		.schema_file = st->o->openapi_schema,
		.timestamp = st->o->timestamp,
	};

	return build_postbuild(&st->sc, &in, err);
}

static int sbom(struct build_state *st, struct pn_error **err)
{
	const struct build_opts *o = st->o;
	struct build_sbom_in in = {
		.name = st->push_ref	? st->push_ref
			: o->tag	? o->tag
			: st->cfg.image ? st->cfg.image
					: "model",
		.base_ref = st->base_ref,
		.base_digest = st->base_digest,
		.cog_yaml = o->config_file ? o->config_file : "cog.yaml",
		.timestamp = o->timestamp,
	};

	return build_sbom_make(&st->sc, &in, &st->sbom, err);
}

static int dry_run(struct build_state *st)
{
	if (st->o->dry_run_json) {
		cleanup_free char *j = build_plan_to_json(&st->plan);

		printf("%s\n", j);
	} else {
		build_plan_print_text(&st->plan, stdout);
	}
	return 0;
}

static int build_body(struct build_state *st, struct build_result *res, struct pn_error **err)
{
	double t0 = build_now();

	if (setup_config(st, err) < 0 || setup_source(st, err) < 0)
		return -1;
	if (st->o->dry_run)
		return dry_run(st);
	if (build_secrets_check(&st->plan, st->o->secrets, st->o->n_secrets, err) < 0)
		return -1;
	/* the sandbox must be able to start: find out before any pull */
	if (runner_probe(err) < 0)
		return -1;
	if (setup_cache(st, err) < 0 ||
	    cache_remote_open(st->o, st->client, st->cache, &st->remote, err) < 0 ||
	    setup_base(st, err) < 0)
		return -1;
	step_ctx_setup(st);
	if (run_steps(st, err) < 0)
		return -1;
	config_edits(st);
	if (postbuild(st, err) < 0) {
		build_step_failed(&st->ex);
		return pn_error_wrap(err, "post-build");
	}
	if (st->o->base_image)
		base_image_labels_finish(&st->ex.img.config);
	if (!st->o->no_sbom && sbom(st, err) < 0)
		return pn_error_wrap(err, "sbom");
	if (src_tree_memo_save(&st->src, st->memo_path, NULL) < 0)
		pn_debug("could not save the digest memo");
	res->steps = st->sc.n_layer_steps;
	res->hits = st->sc.hits;
	if ((st->o->output || !st->push_ref) && output_layout(st, res, err) < 0)
		return -1;
	if (st->push_ref && output_push(st, res, err) < 0)
		return -1;
	pn_progress_event("done", NULL, "built in %.1fs (%zu of %zu layer steps cached)",
			  build_now() - t0, st->sc.hits, st->sc.n_layer_steps);
	return 0;
}

int build_run(const struct build_opts *o, struct build_result *res, struct pn_error **err)
{
	struct build_state st;
	bool used_cache;
	int rc;

	memset(&st, 0, sizeof(st));
	st.o = o;
	cog_config_init(&st.cfg);
	build_plan_init(&st.plan);
	build_exec_init(&st.ex);
	build_result_init(res);
	rc = build_body(&st, res, err);
	cache_remote_export(st.remote, rc == 0 ? &st.ex.img : NULL);
	used_cache = st.cache != NULL;
	state_release(&st);
	/* once the cache is closed; skipped while another process uses it */
	if (used_cache)
		gc_cache_auto(o->cache_dir);
	if (rc < 0)
		build_result_release(res);
	return rc;
}
