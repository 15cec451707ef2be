/* cogbase.c - the cog-base image set (Cog's BaseImageConfigurations over the
 * embedded torch matrix), its tags and the look-up Cog's BaseImageName makes */
#include "compat/compat.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* the made set; strings point into the torch table, names[] or are tags */
static struct {
	pthread_once_t once;
	struct compat_cog_base *v;
	size_t n;
	const char **names; /* each Python version once (the table lists them in a string) */
	size_t n_names;
} set = {PTHREAD_ONCE_INIT};

char *compat_cog_base_tag(const char *cuda, const char *python, const char *torch)
{
	struct pn_buf b = PN_BUF_INIT;
	char *tv = torch && *torch ? compat_version_base(torch) : NULL;

	if (cuda && *cuda)
		pn_buf_printf(&b, NULL, "cuda%s", cuda);
	if (python && *python)
		pn_buf_printf(&b, NULL, "%spython%s", b.len ? "-" : "", python);
	if (tv)
		pn_buf_printf(&b, NULL, "%storch%s", b.len ? "-" : "", tv);
	if (!b.len)
		pn_buf_puts(&b, "latest", NULL);
	free(tv);
	PN_BUF_ASSERT(&b); /* versions */
	return pn_buf_steal(&b, NULL);
}

/* s (len bytes) once in v: the one there, else s itself added (copy: a
 * copy of it) */
static const char *add_unique(const char ***v, size_t *n, const char *s, size_t len, bool copy)
{
	for (size_t i = 0; i < *n; i++)
		if (strlen((*v)[i]) == len && strncmp((*v)[i], s, len) == 0)
			return (*v)[i];
	*v = xrealloc(*v, st_mult(*n + 1, sizeof(**v)));
	(*v)[*n] = copy ? xstrndup(s, len) : s;
	return (*v)[(*n)++];
}

static void set_add(const char *cuda, const char *python, const struct compat_torch *row)
{
	struct compat_cog_base *e;

	set.v = xrealloc(set.v, st_mult(set.n + 1, sizeof(*set.v)));
	e = &set.v[set.n++];
	e->cuda = cuda;
	e->python = python;
	e->torch = row ? row->torch : NULL;
	e->row = row;
	e->tag = compat_cog_base_tag(cuda, python, e->torch);
}

static int by_version(const void *a, const void *b)
{
	return compat_version_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* step 1 for one torch row; its CUDA Pythons and CUDA versions go to pys, cudas */
static void set_add_row(const struct compat_torch *t, const char ***pys, size_t *n_pys,
			const char ***cudas, size_t *n_cudas)
{
	for (const char *p = t->pythons; p && *p;) {
		size_t len = strcspn(p, ",");
		const char *py = add_unique(&set.names, &set.n_names, p, len, true);

		p = p[len] ? p + len + 1 : NULL;
		if (compat_version_cmp(py, COMPAT_COG_BASE_MIN_PYTHON) < 0)
			continue;
		if (!t->cuda) {
			set_add(NULL, py, t);
		} else if (compat_version_cmp(t->cuda, COMPAT_COG_BASE_MIN_CUDA) >= 0) {
			set_add(t->cuda, py, t);
			add_unique(pys, n_pys, py, strlen(py), false);
			add_unique(cudas, n_cudas, t->cuda, strlen(t->cuda), false);
		}
	}
}

static void set_make(void)
{
	size_t n, n_pys = 0, n_cudas = 0;
	const struct compat_torch *t = compat_torch_table(&n);
	const char **pys = NULL, **cudas = NULL;

	for (size_t i = 0; i < n; i++)
		if (compat_version_cmp(t[i].torch, COMPAT_COG_BASE_MIN_TORCH) >= 0)
			set_add_row(&t[i], &pys, &n_pys, &cudas, &n_cudas);
	if (n_pys)
		qsort(pys, n_pys, sizeof(*pys), by_version);
	if (n_cudas)
		qsort(cudas, n_cudas, sizeof(*cudas), by_version);
	for (size_t i = 0; i < n_pys; i++)
		for (size_t j = 0; j < n_cudas; j++)
			set_add(cudas[j], pys[i], NULL);
	for (size_t i = 0; i < n_pys; i++)
		set_add(NULL, pys[i], NULL);
	/* the strings are the table's and names[]: only the arrays go */
	free(cudas);
	free(pys);
}

const struct compat_cog_base *compat_cog_base_table(size_t *n)
{
	pthread_once(&set.once, set_make);
	*n = set.n;
	return set.v;
}

/* Cog's isVersionCompatible(conf, requested) */
static bool part_matches(const char *conf, const char *req)
{
	bool no_conf = !conf || !*conf, no_req = !req || !*req;

	if (no_conf || no_req)
		return no_conf == no_req;
	return compat_version_matches(req, conf);
}

const struct compat_cog_base *compat_cog_base_find(const char *cuda, const char *python,
						   const char *torch)
{
	size_t n;
	const struct compat_cog_base *v = compat_cog_base_table(&n), *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!part_matches(v[i].cuda, cuda) || !part_matches(v[i].python, python) ||
		    !part_matches(v[i].torch, torch))
			continue;
		if (!best || (v[i].torch && compat_version_cmp(v[i].torch, best->torch) > 0))
			best = &v[i];
	}
	return best;
}

void compat_cog_base_companions(const char *torch, const char **torchvision,
				const char **torchaudio)
{
	size_t n;
	const struct compat_torch *t = compat_torch_table(&n);

	*torchvision = *torchaudio = NULL;
	for (size_t i = 0; i < n && !*torchvision; i++)
		if (*t[i].torchvision && compat_version_matches(torch, t[i].torch))
			*torchvision = t[i].torchvision;
	for (size_t i = 0; i < n && !*torchaudio; i++)
		if (*t[i].torchaudio && compat_version_matches(torch, t[i].torch))
			*torchaudio = t[i].torchaudio;
}
