/* gc.h - giving disk back: the build cache's gc (cmd_gc.c), for `pinion gc`
 * and the automatic run after a build, and the eviction of step cache
 * entries by last use before it (gc_evict.c). */
#ifndef PN_ASSEMBLER_GC_H
#define PN_ASSEMBLER_GC_H

#include "common/common.h"
#include "oci/oci.h"

/* Defaults of the automatic gc after a build (PINION_AUTO_GC=off disables it;
 * PINION_AUTO_GC_GIB and PINION_AUTO_GC_BLOBS change the bounds): unreferenced
 * blobs of the cache layout are removed once the layout holds more than this
 * many GiB or more than this many unreferenced blobs. */
#define GC_AUTO_GIB   10
#define GC_AUTO_BLOBS 100

/* After a build: collect the cache at cache_dir (NULL: pn_cache_dir()) if it
 * is past the bounds, without waiting: when another process has the cache
 * open it does nothing.  With PINION_AUTO_GC_MAX_AGE=DURATION (as `pinion gc
 * --max-age`; a bad value is warned about and ignored) it first evicts the
 * step cache entries unused for longer, and then collects whatever the
 * bounds.  Never fails (problems are warnings). */
void gc_cache_auto(const char *cache_dir);

#define GC_KEYS_MAX 1000000 /* step cache entries read */

/* ------------------------------------------------------------ eviction
 * A step cache entry (build/keys/<hex>.json) was last used at its file's
 * mtime: written, or touched by a hit (cache.c).  Eviction removes entries,
 * never blobs: gc then removes the blobs no remaining entry and no tag
 * references.  Which entries go:
 *   max_age >= 0: every entry (layer or post-build data) unused for longer
 *     than max_age seconds (now - used > max_age);
 *   keep_storage >= 0: then layer entries, least recently used first (ties
 *     by name), until the blobs the remaining entries name plus the blobs
 *     tags reach total at most keep_storage bytes.  Each blob counts once
 *     however many entries name it; evicting an entry whose blob another
 *     entry still names frees nothing yet; an entry whose blob a tag reaches
 *     or that names no blob (post-build data) frees nothing and stays.
 * The bound may stay unmet (tags alone exceed it). */
struct gc_entry {
	char name[72];	    /* the file name in build/keys/ */
	int64_t used;	    /* last use, Unix time */
	oci_digest_t layer; /* the layer blob it names; "" for none */
	int64_t bytes;	    /* that blob's size (0: none, or gone) */
	bool evict;	    /* out */
};
struct gc_evict_opts {
	int64_t now;
	int64_t max_age;	      /* seconds; < 0: no age bound */
	int64_t keep_storage;	      /* bytes; < 0: no size bound */
	const struct pn_strv *pinned; /* what tags reach: sorted, each once */
	int64_t pinned_bytes;	      /* their size */
};
struct gc_evict_stats {
	size_t entries;	    /* evicted */
	int64_t bytes;	    /* blobs only evicted entries named (gc frees them) */
	int64_t kept_bytes; /* pinned blobs plus the blobs of the remaining entries */
};
/* set e[i].evict as above; the stats of that choice */
void gc_evict_select(struct gc_entry *e, size_t n, const struct gc_evict_opts *o,
		     struct gc_evict_stats *out);
/* the stats of the evict flags as they are */
void gc_evict_tally(const struct gc_entry *e, size_t n, const struct gc_evict_opts *o,
		    struct gc_evict_stats *out);
/* The cache's eviction; the caller holds the cache layout l's gc lock
 * exclusively (no build uses an entry meanwhile).  Reads the entries of
 * keys_dir, with a bound in opts (its pinned fields are filled here: what
 * l's tags reach) selects, and unless dry_run removes the evicted entry
 * files (one that cannot be removed stays, and counts as kept).  Appends to
 * roots the layer of every entry that stays (dry_run: would stay), for
 * oci_layout_gc.  < 0 when what the tags reach cannot be read: nothing is
 * removed. */
int gc_evict_cache(struct oci_layout *l, const char *keys_dir, const struct gc_evict_opts *opts,
		   bool dry_run, struct pn_strv *roots, struct gc_evict_stats *out,
		   struct pn_error **err);

#endif
