/* gc_evict.c - evicting step cache entries (gc.h): by last use, by age and
 * down to a storage bound, before gc collects the blobs only evicted
 * entries named.  A blob counts once however many entries (and tags) name
 * it, and stays while any of them remains. */
#include "assembler/cache.h"
#include "assembler/gc.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- selection */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool pinned(const struct gc_evict_opts *o, const char *digest)
{
	return o->pinned && o->pinned->n &&
	       bsearch(&digest, o->pinned->v, o->pinned->n, sizeof(char *), cmp_strp) != NULL;
}

/* the blobs of one digest: how many kept entries name it, its size */
struct blob_group {
	size_t refs;
	int64_t bytes;
	bool pinned;
};

/* qsort_r comparators of indexes into the entries (base) */
static int cmp_layer(const void *a, const void *b, void *base)
{
	const struct gc_entry *e = base;

	return strcmp(e[*(const size_t *)a].layer, e[*(const size_t *)b].layer);
}

/* least recently used first; ties by name, so the order is the same each run */
static int cmp_used(const void *a, const void *b, void *base)
{
	const struct gc_entry *e = base;
	const struct gc_entry *x = &e[*(const size_t *)a], *y = &e[*(const size_t *)b];

	if (x->used != y->used)
		return x->used < y->used ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* group[i]: the blob group of entry i (SIZE_MAX: it names none); *ng groups */
static struct blob_group *group_blobs(const struct gc_entry *e, size_t n,
				      const struct gc_evict_opts *o, size_t *group, size_t *ng)
{
	cleanup_free size_t *idx = xcalloc(n ? n : 1, sizeof(*idx));
	struct blob_group *g = xcalloc(n ? n : 1, sizeof(*g));
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		group[i] = SIZE_MAX;
		if (e[i].layer[0])
			idx[m++] = i;
	}
	qsort_r(idx, m, sizeof(*idx), cmp_layer, (void *)e);
	*ng = 0;
	for (size_t k = 0; k < m; k++) {
		const struct gc_entry *x = &e[idx[k]];

		if (k == 0 || strcmp(x->layer, e[idx[k - 1]].layer)) {
			g[*ng].bytes = x->bytes;
			g[*ng].pinned = pinned(o, x->layer);
			(*ng)++;
		}
		group[idx[k]] = *ng - 1;
	}
	return g;
}

/* the pinned bytes plus each group a kept entry (with all: any entry) names,
 * once; refs recounted */
static int64_t kept_total(const struct gc_entry *e, size_t n, const struct gc_evict_opts *o,
			  bool all, const size_t *group, struct blob_group *g, size_t ng)
{
	int64_t total = o->pinned_bytes;

	for (size_t k = 0; k < ng; k++)
		g[k].refs = 0;
	for (size_t i = 0; i < n; i++)
		if (group[i] != SIZE_MAX && (all || !e[i].evict))
			g[group[i]].refs++;
	for (size_t k = 0; k < ng; k++)
		if (g[k].refs && !g[k].pinned)
			total += g[k].bytes;
	return total;
}

/* evict the least recently used layer entries until total <= keep; an entry
 * whose blob a tag keeps, or one naming no blob, frees nothing: it stays */
static void evict_to_size(struct gc_entry *e, size_t n, int64_t keep, const size_t *group,
			  struct blob_group *g, int64_t total)
{
	cleanup_free size_t *order = xcalloc(n ? n : 1, sizeof(*order));

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_used, e);
	for (size_t k = 0; k < n && total > keep; k++) {
		size_t i = order[k];

		if (e[i].evict || group[i] == SIZE_MAX || g[group[i]].pinned)
			continue;
		e[i].evict = true;
		if (--g[group[i]].refs == 0)
			total -= g[group[i]].bytes;
	}
}

void gc_evict_tally(const struct gc_entry *e, size_t n, const struct gc_evict_opts *o,
		    struct gc_evict_stats *out)
{
	cleanup_free size_t *group = xcalloc(n ? n : 1, sizeof(*group));
	cleanup_free struct blob_group *g = NULL;
	size_t ng = 0;

	memset(out, 0, sizeof(*out));
	g = group_blobs(e, n, o, group, &ng);
	for (size_t i = 0; i < n; i++)
		out->entries += e[i].evict;
	out->kept_bytes = kept_total(e, n, o, false, group, g, ng);
	out->bytes = kept_total(e, n, o, true, group, g, ng) - out->kept_bytes;
}

void gc_evict_select(struct gc_entry *e, size_t n, const struct gc_evict_opts *o,
		     struct gc_evict_stats *out)
{
	cleanup_free size_t *group = xcalloc(n ? n : 1, sizeof(*group));
	cleanup_free struct blob_group *g = NULL;
	size_t ng = 0;

	g = group_blobs(e, n, o, group, &ng);
	for (size_t i = 0; i < n; i++)
		e[i].evict = o->max_age >= 0 && o->now - e[i].used > o->max_age;
	if (o->keep_storage >= 0)
		evict_to_size(e, n, o->keep_storage, group, g,
			      kept_total(e, n, o, false, group, g, ng));
	gc_evict_tally(e, n, o, out);
}

/* ------------------------------------------------------------ the cache */

struct entry_list {
	struct gc_entry *v;
	size_t n, cap;
};

static void add_entry(void *ud, const char *name, const struct stat *st, const char *layer)
{
	struct entry_list *l = ud;
	struct gc_entry *x;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	x = &l->v[l->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->used = (int64_t)st->st_mtime;
	if (layer)
		snprintf(x->layer, sizeof(x->layer), "%s", layer);
}

static int64_t blob_size(struct oci_layout *l, const char *digest)
{
	cleanup_free char *p = NULL;
	struct stat st;

	/* 0 for a digest that is no blob's name or a blob the layout lacks */
	if (!oci_digest_valid(digest))
		return 0;
	p = oci_layout_blob_path(l, digest);
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
}

/* what tags reach, sorted, each once, and its size */
static int pin_tagged(struct oci_layout *l, struct pn_strv *pins, int64_t *bytes,
		      struct pn_error **err)
{
	struct pn_strv all = PN_STRV_INIT;

	if (oci_layout_reachable(l, &all, err) < 0) {
		pn_strv_release(&all);
		return -1;
	}
	pn_strv_sort(&all);
	*bytes = 0;
	for (size_t i = 0; i < all.n; i++) {
		if (pins->n && !strcmp(pins->v[pins->n - 1], all.v[i]))
			continue;
		pn_strv_push(pins, all.v[i]);
		*bytes += blob_size(l, all.v[i]);
	}
	pn_strv_release(&all);
	return 0;
}

/* remove the evicted entry files; one that stays (not removable) is kept */
static void remove_evicted(const char *keys_dir, struct entry_list *el)
{
	cleanup_dir DIR *d = opendir(keys_dir);

	for (size_t i = 0; i < el->n; i++) {
		if (!el->v[i].evict)
			continue;
		if (!d || (unlinkat(dirfd(d), el->v[i].name, 0) < 0 && errno != ENOENT)) {
			pn_warn("cache entry `%s/%s` not evicted: %s", keys_dir, el->v[i].name,
				strerror(d ? errno : EBADF));
			el->v[i].evict = false;
		}
	}
}

int gc_evict_cache(struct oci_layout *l, const char *keys_dir, const struct gc_evict_opts *opts,
		   bool dry_run, struct pn_strv *roots, struct gc_evict_stats *out,
		   struct pn_error **err)
{
	struct entry_list el = {0};
	struct gc_evict_opts o = *opts;
	cleanup_strv struct pn_strv pins = PN_STRV_INIT;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	build_cache_entries_scan(keys_dir, GC_KEYS_MAX, add_entry, &el);
	if (o.max_age >= 0 || o.keep_storage >= 0) {
		rc = pin_tagged(l, &pins, &o.pinned_bytes, err);
		o.pinned = &pins;
		for (size_t i = 0; rc == 0 && i < el.n; i++)
			el.v[i].bytes = el.v[i].layer[0] ? blob_size(l, el.v[i].layer) : 0;
		if (rc == 0)
			gc_evict_select(el.v, el.n, &o, out);
		if (rc == 0 && !dry_run && out->entries) {
			remove_evicted(keys_dir, &el);
			gc_evict_tally(el.v, el.n, &o, out);
		}
	}
	for (size_t i = 0; rc == 0 && i < el.n; i++)
		if (el.v[i].layer[0] && !el.v[i].evict)
			pn_strv_push(roots, el.v[i].layer);
	free(el.v);
	return rc;
}
