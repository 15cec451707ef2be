/* plan.c - the build plan for a completed cog.yaml (BUILD-FACTS.md "Image
 * contents, in layer order"), and its text and JSON views. */
#include "assembler/plan.h"
#include "assembler/wheel.h"
#include "compat/compat.h"
#include "oci/oci.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_REQUIREMENTS_PATH "/tmp/requirements.txt"
#define PLAN_LD_LIBRARY_PATH                                                                       \
	"$LD_LIBRARY_PATH:/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64:/usr/local/nvidia/bin"
#define PLAN_PYENV_PATH "/root/.pyenv/shims:/root/.pyenv/bin:$PATH"
#define PLAN_PYENV_DEPS                                                                            \
	"make build-essential libssl-dev zlib1g-dev libbz2-dev libreadline-dev libsqlite3-dev "    \
	"wget curl llvm libncurses5-dev libncursesw5-dev xz-utils tk-dev libffi-dev liblzma-dev "  \
	"git ca-certificates"

void build_plan_opts_init(struct build_plan_opts *o)
{
	const char *host = getenv("COG_REGISTRY_HOST");
	const char *wheel = getenv("COG_WHEEL");

	memset(o, 0, sizeof(*o));
	/* as --cog-base-registry checks it: it ends up in a FROM line */
	if (host && (strstr(host, "://") || strpbrk(host, " \t\r\n@"))) {
		pn_warn("COG_REGISTRY_HOST ignored: want HOST[:PORT][/PATH] (no scheme, user, "
			"blank or line break)");
		host = NULL;
	}
	o->registry_host = host && *host ? host : NULL;
	o->cog_wheel = wheel && *wheel ? wheel : NULL;
}

void build_plan_init(struct build_plan *p)
{
	memset(p, 0, sizeof(*p));
}

static void env_release(struct plan_env *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].value);
	}
	free(e);
}

static void step_release(struct plan_step *s)
{
	size_t i;

	free(s->name);
	free(s->shell);
	env_release(s->env, s->n_env);
	for (i = 0; i < s->n_secrets; i++) {
		free(s->secrets[i].id);
		free(s->secrets[i].target);
	}
	free(s->secrets);
	for (i = 0; i < s->n_files; i++) {
		free(s->files[i].target);
		free(s->files[i].content);
	}
	free(s->files);
	free(s->copy_dest);
	for (i = 0; i < s->n_weights; i++)
		free(s->weights[i].path);
	free(s->weights);
	pn_strv_release(&s->key_inputs);
}

void build_plan_release(struct build_plan *p)
{
	size_t i;

	free(p->base_image);
	free(p->cog_base_name);
	free(p->cog_version);
	free(p->base_reason);
	for (i = 0; i < p->n_steps; i++)
		step_release(&p->steps[i]);
	free(p->steps);
	pn_strv_release(&p->entrypoint);
	pn_strv_release(&p->cmd);
	free(p->workdir);
	free(p->expose);
	env_release(p->labels, p->n_labels);
	free(p->requirements);
	free(p->python_version);
	free(p->cuda);
	free(p->cudnn);
	free(p->platform);
	for (i = 0; i < p->n_host_env; i++) {
		free(p->host_env[i].name);
		free(p->host_env[i].value);
	}
	free(p->host_env);
	memset(p, 0, sizeof(*p));
}

void build_plan_add_host_env(struct build_plan *p, const char *name, const char *value,
			     enum plan_env_source source, bool shadowed)
{
	struct plan_host_env *e = NULL;

	for (size_t i = 0; i < p->n_host_env && !e; i++)
		if (strcmp(p->host_env[i].name, name) == 0)
			e = &p->host_env[i];
	if (!e) {
		p->host_env = xrealloc(p->host_env, st_mult(p->n_host_env + 1, sizeof(*e)));
		e = &p->host_env[p->n_host_env++];
		e->name = xstrdup(name);
	} else {
		free(e->value);
	}
	e->value = xstrdup(value);
	e->source = source;
	e->shadowed = shadowed;
	e->host_path = source == PLAN_ENV_HOST && plan_env_names_host_path(value);
}

bool plan_host_env_used(const struct plan_host_env *e)
{
	return !e->shadowed && !e->host_path;
}

bool plan_env_names_host_path(const char *value)
{
	for (const char *w = value; *w;) {
		size_t n = strcspn(w, " \t");

		if (n && (w[0] == '/' || w[0] == '~' ||
			  (w[0] == '.' && (n == 1 || w[1] == '/' || w[1] == '.')) ||
			  strncasecmp(w, "file:", 5) == 0))
			return true;
		w += n;
		w += strspn(w, " \t");
	}
	return false;
}

/* names whose values --dry-run never shows */
static const char *const secret_words[] = {"TOKEN", "SECRET",	  "PASSWORD", "PASSWD",
					   "KEY",   "CREDENTIAL", "AUTH"};

char *plan_env_display(const char *name, const char *value)
{
	cleanup_free char *up = xstrdup(name);
	const char *scheme, *at, *colon, *slash;

	for (char *c = up; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	for (size_t i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
		if (strstr(up, secret_words[i]))
			return xstrdup("***");
	/* scheme://user:password@host... -> scheme://user:***@host... (each URL
	 * of a space-separated list, as PIP_EXTRA_INDEX_URL allows) */
	struct pn_buf b = PN_BUF_INIT;
	const char *p = value;

	while ((scheme = strstr(p, "://"))) {
		const char *auth = scheme + 3;

		slash = auth + strcspn(auth, "/ ");
		at = memchr(auth, '@', (size_t)(slash - auth));
		if (!at) {
			pn_buf_append(&b, p, (size_t)(slash - p), NULL);
			p = slash;
			continue;
		}
		/* user:password@ keeps the user; a lone user@ may be a token itself */
		colon = memchr(auth, ':', (size_t)(at - auth));
		pn_buf_append(&b, p, (size_t)((colon ? colon + 1 : auth) - p), NULL);
		pn_buf_puts(&b, "***", NULL);
		p = at;
	}
	pn_buf_puts(&b, p, NULL);
	return b.data ? pn_buf_steal(&b, NULL) : xstrdup("");
}

/* ----------------------------------------------------------- building */
static struct plan_step *step_add(struct build_plan *p, enum plan_step_kind kind,
				  enum plan_step_id id, char *name)
{
	struct plan_step *s;

	p->steps = xrealloc(p->steps, st_mult(p->n_steps + 1, sizeof(*p->steps)));
	s = &p->steps[p->n_steps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->id = id;
	s->name = name;
	return s;
}

static void env_push(struct plan_env **e, size_t *n, const char *name, const char *value)
{
	*e = xrealloc(*e, st_mult(*n + 1, sizeof(**e)));
	(*e)[*n].name = xstrdup(name);
	(*e)[*n].value = xstrdup(value);
	(*n)++;
}

static void step_env(struct plan_step *s, const char *name, const char *value)
{
	env_push(&s->env, &s->n_env, name, value);
	pn_strv_push_owned(&s->key_inputs, xasprintf("ENV %s=%s", name, value));
}

static struct plan_step *run_add(struct build_plan *p, enum plan_step_id id, char *name,
				 char *shell)
{
	struct plan_step *s = step_add(p, PLAN_STEP_RUN, id, name);

	s->shell = shell;
	pn_strv_push_owned(&s->key_inputs, xasprintf("RUN %s", shell));
	return s;
}

static const char *const file_from_names[] = {"inline", "cog-wheel"};
static const char *const copy_from_names[] = {"model-dir", "weights", "tini"};

const char *plan_copy_from_display(enum plan_copy_from from)
{
	return from == PLAN_COPY_TINI ? "embedded tini" : ".";
}

/* content NULL: a file of another kind (from), which the executor provides */
static void step_file(struct plan_step *s, const char *target, enum plan_file_from from,
		      const char *content)
{
	struct plan_file *f;

	s->files = xrealloc(s->files, st_mult(s->n_files + 1, sizeof(*s->files)));
	f = &s->files[s->n_files++];
	f->target = xstrdup(target);
	f->from = from;
	f->content = content ? xstrdup(content) : NULL;
	f->len = content ? strlen(content) : 0;
	if (from == PLAN_FILE_INLINE)
		pn_strv_push_owned(&s->key_inputs, xasprintf("FILE %s\n%s", target, content));
	else /* this text is in cache keys: kept as earlier versions wrote it */
		pn_strv_push_owned(&s->key_inputs,
				   xasprintf("FILE %s from @%s", target, file_from_names[from]));
}

static struct plan_step *copy_add(struct build_plan *p, enum plan_step_id id, const char *name,
				  enum plan_copy_from from, const char *dest)
{
	struct plan_step *s = step_add(p, PLAN_STEP_COPY, id, xstrdup(name));

	s->copy_from = from;
	s->copy_dest = xstrdup(dest);
	pn_strv_push_owned(&s->key_inputs,
			   xasprintf("COPY %s %s", plan_copy_from_display(from), dest));
	return s;
}

void build_plan_set_label(struct build_plan *p, const char *name, const char *value)
{
	for (size_t i = 0; i < p->n_labels; i++) {
		if (strcmp(p->labels[i].name, name) == 0) {
			free(p->labels[i].value);
			p->labels[i].value = xstrdup(value);
			return;
		}
	}
	env_push(&p->labels, &p->n_labels, name, value);
}

void build_plan_add_weight(struct build_plan *p, const char *path, int64_t size, size_t entry)
{
	for (size_t i = 0; i < p->n_steps; i++) {
		struct plan_step *s = &p->steps[i];

		if (s->kind != PLAN_STEP_COPY || s->copy_from != PLAN_COPY_WEIGHTS)
			continue;
		s->weights = xrealloc(s->weights, st_mult(s->n_weights + 1, sizeof(*s->weights)));
		s->weights[s->n_weights].path = xstrdup(path);
		s->weights[s->n_weights].size = size;
		s->weights[s->n_weights].entry = entry;
		s->n_weights++;
		return;
	}
}

static void add_base_env(struct build_plan *p)
{
	struct plan_step *s = step_add(p, PLAN_STEP_ENV, PLAN_ID_BASE_ENV, xstrdup("env"));

	step_env(s, "DEBIAN_FRONTEND", "noninteractive");
	step_env(s, "PYTHONUNBUFFERED", "1");
	step_env(s, "LD_LIBRARY_PATH", PLAN_LD_LIBRARY_PATH);
	step_env(s, "NVIDIA_DRIVER_CAPABILITIES", "all");
}

static void add_user_env(struct build_plan *p, const struct cog_config *cfg)
{
	struct plan_step *s;
	size_t i;

	if (!cfg->environment.n)
		return;
	s = step_add(p, PLAN_STEP_ENV, PLAN_ID_USER_ENV, xstrdup("environment"));
	for (i = 0; i < cfg->environment.n; i++) {
		const char *e = cfg->environment.v[i], *eq = strchr(e, '=');
		cleanup_free char *name = xstrndup(e, (size_t)(eq - e));

		step_env(s, name, eq + 1);
	}
}

static void add_apt(struct build_plan *p, const struct cog_config *cfg)
{
	struct pn_buf b = PN_BUF_INIT;
	size_t i;

	if (!cfg->build.system_packages.n)
		return;
	pn_buf_puts(&b, "apt-get update -qq && apt-get install -qqy", NULL);
	for (i = 0; i < cfg->build.system_packages.n; i++)
		pn_buf_printf(&b, NULL, " %s", cfg->build.system_packages.v[i]);
	pn_buf_puts(&b, " && rm -rf /var/lib/apt/lists/*", NULL);
	run_add(p, PLAN_ID_APT, xstrdup("apt"), pn_buf_steal(&b, NULL));
}

char *plan_python_pyenv_shell(const char *v)
{
	return xasprintf("apt-get update -qq && apt-get install -qqy "
			 "--no-install-recommends " PLAN_PYENV_DEPS
			 " && rm -rf /var/lib/apt/lists/* && "
			 "curl -s -S -L "
			 "https://raw.githubusercontent.com/pyenv/pyenv-installer/master/bin/"
			 "pyenv-installer | bash && "
			 "git clone https://github.com/momo-lab/pyenv-install-latest.git "
			 "\"$(pyenv root)\"/plugins/pyenv-install-latest && "
			 "pyenv install-latest \"%s\" && pyenv global $(pyenv install-latest "
			 "--print \"%s\") && "
			 "pip install \"wheel<1\"",
			 v, v);
}

/* Cog always installs Python with pyenv, which needs GitHub.  pinion first
 * uses a python<ver> with pip that the base image already has (an internal
 * CUDA image, an air-gapped mirror), linking python, python3 and pip to it,
 * and only otherwise runs Cog's pyenv install. */
static char *python_install_shell(const char *v)
{
	cleanup_free char *pyenv = plan_python_pyenv_shell(v);

	return xasprintf("if command -v python%s >/dev/null 2>&1 && "
			 "python%s -m pip --version >/dev/null 2>&1; then "
			 "py=$(command -v python%s) && mkdir -p /usr/local/bin && "
			 "ln -sf \"$py\" /usr/local/bin/python && "
			 "ln -sf \"$py\" /usr/local/bin/python3 && "
			 "{ command -v pip >/dev/null 2>&1 || { "
			 "printf '#!/bin/sh\\nexec %%s -m pip \"$@\"\\n' \"$py\" "
			 "> /usr/local/bin/pip && chmod 755 /usr/local/bin/pip; }; }; "
			 "else %s; fi",
			 v, v, v, pyenv);
}

static void add_python(struct build_plan *p, const struct cog_config *cfg)
{
	struct plan_step *s = step_add(p, PLAN_STEP_ENV, PLAN_ID_PYTHON_ENV, xstrdup("python-env"));
	const char *v = cfg->build.python_version;

	step_env(s, "PATH", PLAN_PYENV_PATH);
	run_add(p, PLAN_ID_PYTHON, xstrdup("python"), python_install_shell(v));
}

static void add_runs(struct build_plan *p, const struct cog_config *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->build.n_run; i++) {
		const struct cog_run *r = &cfg->build.run[i];
		struct plan_step *s =
			run_add(p, PLAN_ID_RUN, xasprintf("run %zu", i + 1), xstrdup(r->command));

		s->secrets = r->n_mounts ? xcalloc(r->n_mounts, sizeof(*s->secrets)) : NULL;
		for (j = 0; j < r->n_mounts; j++) {
			s->secrets[j].id = xstrdup(r->mounts[j].id);
			s->secrets[j].target = xstrdup(r->mounts[j].target);
			/* the id and target only: a secret's value never reaches the key */
			pn_strv_push_owned(&s->key_inputs,
					   xasprintf("SECRET id=%s target=%s", r->mounts[j].id,
						     r->mounts[j].target));
		}
		s->n_secrets = r->n_mounts;
	}
}

static void add_python_steps(struct build_plan *p, const struct cog_config *cfg,
			     const struct build_plan_opts *o)
{
	cleanup_free char *wheel =
		o->cog_wheel_name ? xstrdup(o->cog_wheel_name) : wheel_spec_name(o->cog_wheel);
	cleanup_free char *wheel_path = NULL;
	struct plan_step *s;
	size_t i;

	if (!wheel) /* a COG_WHEEL the executor will refuse */
		wheel = xasprintf("cog-%s-py3-none-any.whl", PN_VERSION);
	wheel_path = xasprintf("/tmp/%s", wheel);
	p->cog_version = wheel_name_version(wheel);
	if (!p->cog_version) { /* the embedded SDK's */
		const char *name;

		wheel_embedded(NULL, &name);
		p->cog_version = wheel_name_version(name);
	}
	for (i = 0; i < cfg->build.pre_install.n; i++)
		run_add(p, PLAN_ID_PRE_INSTALL, xasprintf("pre_install %zu", i + 1),
			xstrdup(cfg->build.pre_install.v[i]));
	if (cfg->requirements && *cfg->requirements) {
		s = run_add(p, PLAN_ID_PIP, xstrdup("pip"),
			    xstrdup("pip install --no-cache-dir -r " PLAN_REQUIREMENTS_PATH));
		step_file(s, PLAN_REQUIREMENTS_PATH, PLAN_FILE_INLINE, cfg->requirements);
	}
	if (o->base_image) /* Cog installs no SDK in a base image */
		return;
	s = run_add(p, PLAN_ID_COG_WHEEL, xstrdup("cog"),
		    xasprintf("pip install --no-cache-dir %s", wheel_path));
	step_file(s, wheel_path, PLAN_FILE_COG_WHEEL, NULL);
	pn_strv_push_owned(&s->key_inputs,
			   xasprintf("COG_WHEEL %s", o->cog_wheel ? o->cog_wheel : "cog"));
}

static void add_tail(struct build_plan *p, const struct cog_config *cfg,
		     const struct build_plan_opts *o)
{
	struct plan_step *s;

	if (cfg->predict || cfg->train) {
		s = step_add(p, PLAN_STEP_ENV, PLAN_ID_RUNTIME_ENV, xstrdup("runtime-env"));
		if (cfg->predict)
			step_env(s, "COG_PREDICT_TYPE_STUB", cfg->predict);
		if (cfg->train)
			step_env(s, "COG_TRAIN_TYPE_STUB", cfg->train);
	}
	if (o->separate_weights)
		copy_add(p, PLAN_ID_WEIGHTS, "weights", PLAN_COPY_WEIGHTS, "/src");
	copy_add(p, PLAN_ID_SOURCE, "source", PLAN_COPY_MODEL_DIR, "/src");
}

static void add_config_edits(struct build_plan *p, const struct cog_config *cfg)
{
	char *json = cog_config_to_json(cfg);

	pn_strv_push(&p->entrypoint, "/sbin/tini");
	pn_strv_push(&p->entrypoint, "--");
	pn_strv_push(&p->cmd, "python");
	pn_strv_push(&p->cmd, "-m");
	pn_strv_push(&p->cmd, "cog.server.http");
	p->workdir = xstrdup("/src");
	p->expose = xstrdup("5000/tcp");
	env_push(&p->labels, &p->n_labels, "run.cog.version", p->cog_version);
	env_push(&p->labels, &p->n_labels, "run.pinion.version", PN_VERSION);
	env_push(&p->labels, &p->n_labels, "run.cog.config", json);
	env_push(&p->labels, &p->n_labels, "run.cog.has_init", "true");
	if (p->cog_base)
		env_push(&p->labels, &p->n_labels, "run.cog.cog-base-image-name", p->cog_base_name);
	free(json);
}

static int choose_base(const struct cog_config *cfg, const struct build_plan_opts *o,
		       struct build_plan *p, struct pn_error **err)
{
	struct compat_base_req req = {
		.gpu = cfg->build.gpu,
		.python = cfg->build.python_version,
		.cuda = cfg->build.cuda,
		.cudnn = cfg->build.cudnn,
		.torch = cfg->torch_version,
		.use_cog_base = (enum compat_tristate)o->use_cog_base,
		.use_cuda_base = (enum compat_tristate)o->use_cuda_base,
		.registry_host = o->registry_host,
		.image_exists = o->image_exists,
		.ud = o->ud,
	};
	struct compat_base_choice c;

	if (compat_base_choose(&req, &c, err) < 0)
		return pn_error_wrap(err, "choose base image");
	p->base_image = steal_pointer(&c.image);
	p->cog_base = c.cog_base;
	p->cuda_base = c.cuda_base;
	p->base_reason = steal_pointer(&c.reason);
	p->base_checked = o->image_exists && o->use_cog_base != PLAN_NO &&
			  compat_cog_base_valid(cfg->build.gpu, cfg->build.cuda,
						cfg->build.python_version, cfg->torch_version);
	if (p->cog_base)
		p->cog_base_name = xstrdup(p->base_image);
	compat_base_choice_release(&c);
	return 0;
}

int build_plan_make(const struct cog_config *cfg, const struct build_plan_opts *opts,
		    struct build_plan *out, struct pn_error **err)
{
	struct build_plan_opts defaults;

	if (!opts) {
		build_plan_opts_init(&defaults);
		opts = &defaults;
	}
	build_plan_init(out);
	if (choose_base(cfg, opts, out, err) < 0)
		return -1;
	out->gpu = cfg->build.gpu;
	out->python_version = xstrdup(cfg->build.python_version);
	out->cuda = cfg->build.cuda ? xstrdup(cfg->build.cuda) : NULL;
	out->cudnn = cfg->build.cudnn ? xstrdup(cfg->build.cudnn) : NULL;
	out->requirements = xstrdup(cfg->requirements ? cfg->requirements : "");
	out->platform = xstrdup(opts->platform ? opts->platform : "linux/amd64");
	out->network_none = opts->network_none;
	out->separate_weights = opts->separate_weights;
	add_base_env(out);
	if (!out->cog_base)
		copy_add(out, PLAN_ID_TINI, "tini", PLAN_COPY_TINI, "/sbin/tini");
	add_user_env(out, cfg);
	add_apt(out, cfg);
	if (out->cuda_base)
		add_python(out, cfg);
	add_python_steps(out, cfg, opts);
	add_runs(out, cfg);
	if (opts->base_image) {
		pn_strv_push(&out->entrypoint, "/sbin/tini");
		pn_strv_push(&out->entrypoint, "--");
		return 0;
	}
	add_tail(out, cfg, opts);
	add_config_edits(out, cfg);
	return 0;
}

/* ---------------------------------------------------------------- env */
/* the value of name (n bytes) in env, or "" */
static const char *env_lookup(char *const *env, const char *name, size_t n)
{
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return "";
}

char *plan_env_expand(const char *value, char *const *env, struct pn_error **err)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	const char *p = value;
	int rc = 0;

	while (*p && rc == 0) {
		size_t n;
		const char *name, *end;
		bool brace;

		if (*p != '$' || !(p[1] == '{' || p[1] == '_' || (p[1] >= 'A' && p[1] <= 'Z') ||
				   (p[1] >= 'a' && p[1] <= 'z'))) {
			rc = pn_buf_append(&b, p++, 1, err);
			continue;
		}
		brace = p[1] == '{';
		name = p + 1 + brace;
		n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		end = name + n;
		if (brace && *end != '}') {
			rc = pn_buf_append(&b, p++, 1, err);
			continue;
		}
		rc = pn_buf_puts(&b, env_lookup(env, name, n), err);
		p = end + brace;
	}
	if (rc < 0) {
		pn_error_wrap(err, "expand `%.40s`", value);
		return NULL;
	}
	return b.data ? pn_buf_steal(&b, NULL) : xstrdup("");
}

/* --------------------------------------------------------------- views */
static const char *const kind_names[] = {"ENV", "RUN", "COPY"};
static const char *const env_source_names[] = {"host", "--build-env, host value", "--build-env"};
static const char *const env_source_json[] = {"host", "build-env-host", "build-env"};
static const char *const id_names[] = {
	"base-env", "tini",	 "user-env", "apt",	    "python-env", "python", "pre-install",
	"pip",	    "cog-wheel", "run",	     "runtime-env", "weights",	  "source"};

static void print_strv_json(FILE *f, const struct pn_strv *s)
{
	cleanup_json json_t *a = oci_strv_to_json(s);
	cleanup_free char *t = json_dumps(a, JSON_COMPACT);

	fputs(t, f);
}

static void print_step(const struct plan_step *s, size_t i, FILE *f)
{
	size_t j;

	fprintf(f, "  %2zu. %-4s %s", i + 1, kind_names[s->kind], s->name);
	if (s->kind == PLAN_STEP_RUN)
		fprintf(f, ": /bin/sh -c %s\n", s->shell);
	else if (s->kind == PLAN_STEP_COPY)
		fprintf(f, ": %s -> %s\n", plan_copy_from_display(s->copy_from), s->copy_dest);
	else
		fputc('\n', f);
	for (j = 0; j < s->n_env; j++)
		fprintf(f, "        %s=%s\n", s->env[j].name, s->env[j].value);
	for (j = 0; j < s->n_secrets; j++)
		fprintf(f, "        secret id=%s target=%s\n", s->secrets[j].id,
			s->secrets[j].target);
	for (j = 0; j < s->n_files; j++) {
		if (s->files[j].from == PLAN_FILE_INLINE)
			fprintf(f, "        file %s (%zu bytes)\n", s->files[j].target,
				s->files[j].len);
		else
			fprintf(f, "        file %s from %s\n", s->files[j].target,
				file_from_names[s->files[j].from]);
	}
	for (j = 0; j < s->n_weights; j++)
		fprintf(f, "        layer %s (%lld bytes)\n", s->weights[j].path,
			(long long)s->weights[j].size);
}

void build_plan_print_text(const struct build_plan *p, FILE *f)
{
	const char *r = p->requirements, *nl;
	size_t i;

	fprintf(f, "base image: %s\n  (%s)\n", p->base_image, p->base_reason);
	if (p->gpu)
		fprintf(f, "python %s, GPU: CUDA %s, cuDNN %s\n", p->python_version, p->cuda,
			p->cudnn);
	else
		fprintf(f, "python %s, CPU\n", p->python_version);
	fprintf(f, "steps:\n");
	for (i = 0; i < p->n_steps; i++)
		print_step(&p->steps[i], i, f);
	fprintf(f, "config:\n  entrypoint: ");
	print_strv_json(f, &p->entrypoint);
	fprintf(f, "\n  cmd: ");
	print_strv_json(f, &p->cmd);
	fprintf(f, "\n  workdir: %s\n  expose: %s\n", p->workdir ? p->workdir : "-",
		p->expose ? p->expose : "-");
	for (i = 0; i < p->n_labels; i++)
		fprintf(f, "  label %s=%s\n", p->labels[i].name, p->labels[i].value);
	if (p->n_host_env)
		fprintf(f, "host environment of RUN steps (not in the image or the cache key):\n");
	for (i = 0; i < p->n_host_env; i++) {
		const struct plan_host_env *e = &p->host_env[i];
		cleanup_free char *v = plan_env_display(e->name, e->value);

		fprintf(f, "  %s=%s (%s%s)\n", e->name, v, env_source_names[e->source],
			e->shadowed    ? "; not used: cog.yaml environment sets it"
			: e->host_path ? "; not passed: a host path the sandbox does not have "
					 "(--build-env NAME passes it)"
				       : "");
	}
	if (r && *r) {
		fprintf(f, "requirements.txt:\n");
		for (; *r; r = nl ? nl + 1 : r + strlen(r)) {
			nl = strchr(r, '\n');
			fprintf(f, "  %.*s\n", (int)(nl ? nl - r : (long)strlen(r)), r);
			if (!nl)
				break;
		}
	}
}

static json_t *env_json(const struct plan_env *e, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, e[i].name, json_string(e[i].value));
	return o;
}

static json_t *copy_json(const struct plan_step *s)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "from", copy_from_names[s->copy_from], "src",
			      plan_copy_from_display(s->copy_from), "dest", s->copy_dest);

	if (s->copy_from == PLAN_COPY_WEIGHTS) {
		json_t *a = json_array();

		for (size_t j = 0; j < s->n_weights; j++)
			json_array_append_new(a, json_pack("{s:s,s:I}", "file", s->weights[j].path,
							   "size", (json_int_t)s->weights[j].size));
		json_object_set_new(o, "layers", a);
	}
	return o;
}

static json_t *step_json(const struct plan_step *s)
{
	json_t *o = json_object(), *a;
	size_t j;

	json_object_set_new(o, "kind", json_string(kind_names[s->kind]));
	json_object_set_new(o, "id", json_string(id_names[s->id]));
	json_object_set_new(o, "name", json_string(s->name));
	if (s->shell)
		json_object_set_new(o, "argv", json_pack("[s,s,s]", "/bin/sh", "-c", s->shell));
	if (s->n_env)
		json_object_set_new(o, "env", env_json(s->env, s->n_env));
	if (s->n_secrets) {
		a = json_array();
		for (j = 0; j < s->n_secrets; j++)
			json_array_append_new(a, json_pack("{s:s,s:s}", "id", s->secrets[j].id,
							   "target", s->secrets[j].target));
		json_object_set_new(o, "secrets", a);
	}
	if (s->n_files) {
		a = json_array();
		for (j = 0; j < s->n_files; j++)
			json_array_append_new(
				a,
				s->files[j].from == PLAN_FILE_INLINE
					? json_pack("{s:s,s:s}", "target", s->files[j].target,
						    "content", s->files[j].content)
					: json_pack("{s:s,s:s}", "target", s->files[j].target,
						    "source", file_from_names[s->files[j].from]));
		json_object_set_new(o, "files", a);
	}
	if (s->kind == PLAN_STEP_COPY)
		json_object_set_new(o, "copy", copy_json(s));
	json_object_set_new(o, "key_inputs", oci_strv_to_json(&s->key_inputs));
	return o;
}

static json_t *host_env_json(const struct build_plan *p)
{
	json_t *a = json_array();

	for (size_t i = 0; i < p->n_host_env; i++) {
		const struct plan_host_env *e = &p->host_env[i];
		cleanup_free char *v = plan_env_display(e->name, e->value);

		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:b,s:s?}", "name", e->name,
						   "value", v, "source", env_source_json[e->source],
						   "used", plan_host_env_used(e), "why_unused",
						   e->shadowed	  ? "cog.yaml environment"
						   : e->host_path ? "host path"
								  : NULL));
	}
	return a;
}

char *build_plan_to_json(const struct build_plan *p)
{
	cleanup_json json_t *o = json_object();
	json_t *steps = json_array(), *cfg = json_object();
	size_t i;

	json_object_set_new(o, "base",
			    json_pack("{s:s,s:b,s:b,s:b,s:s}", "image", p->base_image, "cog_base",
				      p->cog_base, "cuda_base", p->cuda_base, "checked",
				      p->base_checked, "reason", p->base_reason));
	json_object_set_new(o, "gpu", json_boolean(p->gpu));
	json_object_set_new(o, "python_version", json_string(p->python_version));
	json_object_set_new(o, "cuda", p->cuda ? json_string(p->cuda) : json_null());
	json_object_set_new(o, "cudnn", p->cudnn ? json_string(p->cudnn) : json_null());
	for (i = 0; i < p->n_steps; i++)
		json_array_append_new(steps, step_json(&p->steps[i]));
	json_object_set_new(o, "steps", steps);
	json_object_set_new(cfg, "entrypoint", oci_strv_to_json(&p->entrypoint));
	json_object_set_new(cfg, "cmd", oci_strv_to_json(&p->cmd));
	json_object_set_new(cfg, "workdir", p->workdir ? json_string(p->workdir) : json_null());
	json_object_set_new(cfg, "exposed_ports",
			    p->expose ? json_pack("[s]", p->expose) : json_array());
	json_object_set_new(cfg, "labels", env_json(p->labels, p->n_labels));
	json_object_set_new(o, "config", cfg);
	json_object_set_new(o, "host_env", host_env_json(p));
	json_object_set_new(o, "requirements", json_string(p->requirements ? p->requirements : ""));
	return json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

int plan_tristate_flag(const char *arg, const char *flag, enum plan_tristate *out)
{
	size_t n = strlen(flag);

	if (strncmp(arg, flag, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return -1;
	if (arg[n] == '\0' || strcmp(arg + n, "=true") == 0)
		*out = PLAN_YES;
	else if (strcmp(arg + n, "=false") == 0)
		*out = PLAN_NO;
	else if (strcmp(arg + n, "=auto") == 0)
		*out = PLAN_AUTO;
	else
		return -2;
	return 0;
}
