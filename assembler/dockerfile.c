/* dockerfile.c - the Dockerfile Cog's `cog build` would generate for the same
 * model (for comparison with pinion's plan: `pinion dockerfile`). */
#include "assembler/plan.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

#define DF_APT_CACHE "--mount=type=cache,target=/var/cache/apt,sharing=locked "
#define DF_PIP_CACHE "--mount=type=cache,target=/root/.cache/pip "
#define DF_TMP	     ".cog/tmp/build"

static void df_tini(struct pn_buf *b)
{
	pn_buf_puts(b,
		    "RUN " DF_APT_CACHE "set -eux; \\\n"
		    "apt-get update -qq && \\\n"
		    "apt-get install -qqy --no-install-recommends curl; \\\n"
		    "rm -rf /var/lib/apt/lists/*; \\\n"
		    "TINI_VERSION=v0.19.0; \\\n"
		    "TINI_ARCH=\"$(dpkg --print-architecture)\"; \\\n"
		    "curl -sSL -o /sbin/tini "
		    "\"https://github.com/krallin/tini/releases/download/${TINI_VERSION}/"
		    "tini-${TINI_ARCH}\"; \\\n"
		    "chmod +x /sbin/tini\n"
		    "ENTRYPOINT [\"/sbin/tini\", \"--\"]\n",
		    NULL);
}

/* a JSON-ish exec form: ["a", "b"] (Dockerfile style, with spaces) */
static void df_exec(struct pn_buf *b, const char *instr, const struct pn_strv *v)
{
	size_t i;

	pn_buf_printf(b, NULL, "%s [", instr);
	for (i = 0; i < v->n; i++)
		pn_buf_printf(b, NULL, "%s\"%s\"", i ? ", " : "", v->v[i]);
	pn_buf_puts(b, "]\n", NULL);
}

static void df_env(struct pn_buf *b, const struct plan_step *s)
{
	size_t i;

	for (i = 0; i < s->n_env; i++) {
		const char *v = s->env[i].value;

		if (strchr(v, ' ') || strchr(v, '"'))
			pn_buf_printf(b, NULL, "ENV %s=\"%s\"\n", s->env[i].name, v);
		else
			pn_buf_printf(b, NULL, "ENV %s=%s\n", s->env[i].name, v);
	}
}

static void df_run(struct pn_buf *b, const struct plan_step *s, const char *wheel,
		   const struct cog_config *cfg)
{
	size_t i;

	switch (s->id) {
	case PLAN_ID_PYTHON: {
		/* Cog's own install (pinion's plan first reuses a Python in the base) */
		cleanup_free char *sh = plan_python_pyenv_shell(cfg->build.python_version);

		pn_buf_printf(b, NULL, "RUN " DF_APT_CACHE "%s\n", sh);
		return;
	}
	case PLAN_ID_APT:
		pn_buf_printf(b, NULL, "RUN " DF_APT_CACHE "%s\n", s->shell);
		return;
	case PLAN_ID_PIP:
		pn_buf_puts(b,
			    "COPY " DF_TMP "/requirements.txt /tmp/requirements.txt\n"
			    "RUN " DF_PIP_CACHE "pip install -r /tmp/requirements.txt\n",
			    NULL);
		return;
	case PLAN_ID_COG_WHEEL:
		pn_buf_printf(b, NULL,
			      "COPY " DF_TMP "/%s /tmp/%s\n"
			      "RUN " DF_PIP_CACHE
			      "pip install --no-cache-dir /tmp/%s 'pydantic>=1.9,<3'\n",
			      wheel, wheel, wheel);
		return;
	default:
		pn_buf_puts(b, "RUN ", NULL);
		for (i = 0; i < s->n_secrets; i++)
			pn_buf_printf(b, NULL, "--mount=type=secret,id=%s,target=%s ",
				      s->secrets[i].id, s->secrets[i].target);
		pn_buf_printf(b, NULL, "%s\n", s->shell);
	}
}

/* the wheel file name the plan's cog step installs */
static const char *plan_wheel_name(const struct build_plan *p)
{
	size_t i;

	for (i = 0; i < p->n_steps; i++)
		if (p->steps[i].id == PLAN_ID_COG_WHEEL && p->steps[i].n_files)
			return p->steps[i].files[0].target + strlen("/tmp/");
	return "cog-py3-none-any.whl";
}

char *build_plan_dockerfile(const struct cog_config *cfg, const struct build_plan *p)
{
	struct pn_buf b = PN_BUF_INIT;
	const char *wheel = plan_wheel_name(p);
	size_t i;

	pn_buf_printf(&b, NULL, "#syntax=docker/dockerfile:1.4\nFROM %s\n", p->base_image);
	for (i = 0; i < p->n_steps; i++) {
		const struct plan_step *s = &p->steps[i];

		switch (s->kind) {
		case PLAN_STEP_ENV:
			if (s->id == PLAN_ID_RUNTIME_ENV)
				pn_buf_printf(&b, NULL, "WORKDIR %s\nEXPOSE 5000\n", p->workdir);
			df_env(&b, s);
			break;
		case PLAN_STEP_RUN:
			df_run(&b, s, wheel, cfg);
			break;
		case PLAN_STEP_COPY:
			if (s->copy_from == PLAN_COPY_TINI) {
				df_tini(&b);
				break;
			}
			if (s->copy_from == PLAN_COPY_MODEL_DIR) {
				if (!strstr(b.data, "\nWORKDIR "))
					pn_buf_printf(&b, NULL, "WORKDIR %s\nEXPOSE 5000\n",
						      p->workdir);
				df_exec(&b, "CMD", &p->cmd);
			}
			pn_buf_printf(&b, NULL, "COPY %s %s\n",
				      plan_copy_from_display(s->copy_from), s->copy_dest);
			break;
		}
	}
	return pn_buf_steal(&b, NULL);
}
