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
