/* build_hostenv.c - the host's part of the RUN steps' environment: pip and
 * proxy settings pass through (not into the image, not into the cache key:
 * how packages are fetched does not change what they are), then
 * --build-env.  Decided in the plan stage (p->host_env). */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

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
void build_host_env_add(const struct build_plan *p, struct pn_strv *env)
{
	for (size_t i = 0; i < p->n_host_env; i++)
		if (plan_host_env_used(&p->host_env[i]))
			pn_strv_push_owned(
				env, xasprintf("%s=%s", p->host_env[i].name, p->host_env[i].value));
}
