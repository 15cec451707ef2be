/* gc.h - giving disk back: the build cache's gc (cmd_gc.c), for `pinion gc`
 * and the automatic run after a build. */
#ifndef PN_ASSEMBLER_GC_H
#define PN_ASSEMBLER_GC_H

#include "common/common.h"

/* Defaults of the automatic gc after a build (PINION_AUTO_GC=off disables it;
 * PINION_AUTO_GC_GIB and PINION_AUTO_GC_BLOBS change the bounds): unreferenced
 * blobs of the cache layout are removed once the layout holds more than this
 * many GiB or more than this many unreferenced blobs. */
#define GC_AUTO_GIB   10
#define GC_AUTO_BLOBS 100

/* After a build: collect the cache at cache_dir (NULL: pn_cache_dir()) if it
 * is past the bounds, without waiting: when another process has the cache
 * open it does nothing.  Never fails (problems are warnings). */
void gc_cache_auto(const char *cache_dir);

#endif
