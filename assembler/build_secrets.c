/* build_secrets.c - --secret values for a RUN step: each a host file that
 * the runner mounts on the step's tmpfs (an env secret is written to the
 * build's private scratch dir first, mode 0600). */
#include "assembler/build_internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct build_secret *build_secret_find(const struct build_secret *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

int build_secret_file(const struct build_secret *s, const char *tmpdir, char **out,
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
	p = xasprintf("%s/secret-%s", tmpdir, s->id);
	if (pn_write_file_atomic(p, v, strlen(v), 0600, err) < 0)
		return -1;
	*out = steal_pointer(&p);
	return 0;
}

/* the secret s that step needs: given, and readable or set */
static int secret_check(const struct plan_step *step, const struct plan_secret *s,
			const struct build_secret *v, size_t n, struct pn_error **err)
{
	const struct build_secret *bs = build_secret_find(v, n, s->id);

	if (!bs) {
		pn_error_set(err, PN_ERR_INVALID,
			     "step `%s` needs the secret `%s` (at %s): no --secret id=%s given",
			     step->name, s->id, s->target, s->id);
		pn_error_hint(err, "give it with --secret id=%s,src=PATH or --secret id=%s,env=VAR",
			      s->id, s->id);
		return -1;
	}
	if (bs->src && access(bs->src, R_OK) < 0) {
		int e = errno;

		pn_error_set_errno(err, e, "step `%s` needs the secret `%s`: read `%s`", step->name,
				   s->id, bs->src);
		(*err)->code = PN_ERR_INVALID;
		return -1;
	}
	if (bs->env && !getenv(bs->env))
		return pn_error_set(err, PN_ERR_INVALID,
				    "step `%s` needs the secret `%s`: environment variable `%s` is "
				    "not set",
				    step->name, s->id, bs->env);
	return 0;
}

int build_secrets_check(const struct build_plan *p, const struct build_secret *v, size_t n,
			struct pn_error **err)
{
	for (size_t i = 0; i < p->n_steps; i++)
		for (size_t j = 0; j < p->steps[i].n_secrets; j++)
			if (secret_check(&p->steps[i], &p->steps[i].secrets[j], v, n, err) < 0)
				return -1;
	return 0;
}
