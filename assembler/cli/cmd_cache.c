/* cmd_cache.c - `pinion cache prune [--max-size N]`: bound the package
 * caches (pip, apt) that RUN steps share across builds (pkgcache.h). */
#include "assembler/cli/opt.h"
#include "assembler/pkgcache.h"
#include "common/common.h"
#include "runner/runner.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char cache_intro[] =
	"usage: pinion cache prune [--max-size SIZE] [--cache-dir DIR]\n\n"
	"RUN steps share pip's cache and apt's downloaded packages across builds,\n"
	"in <cache>/" PKGCACHE_DIR "/, one per base distribution (never in a layer).\n"
	"`prune` removes the files used longest ago until the caches hold at most\n"
	"SIZE (bytes, or with K, M, G: KiB, MiB, GiB); without --max-size it\n"
	"removes them all.  An apt cache in use by a running build is left alone.\n\n"
	"Options:\n";

struct cache_args {
	const char *cache_dir;
	int64_t max; /* bytes; 0: all */
};

static const struct cli_opt cache_opts[] = {
	{"cache-dir", 0, CLI_ARG_REQUIRED, NULL, offsetof(struct cache_args, cache_dir), "DIR",
	 "the cache (default ~/.cache/pinion)", 0},
	{"max-size", 0, CLI_ARG_REQUIRED, cli_set_size, offsetof(struct cache_args, max), "SIZE",
	 "prune: keep at most SIZE of package caches", 0},
};

static int cmd_cache(int argc, char **argv)
{
	struct cache_args a = {0};
	struct cli_table t[1] = {CLI_TABLE(cache_opts, &a)};
	struct cli_cmd cmd = {
		.name = "cache", .intro = cache_intro, .tables = t, .n_tables = 1, .max_args = 1};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct pkgcache_prune_stats st;
	struct runner_opts o;
	struct runner *r = NULL;
	struct pn_error *err = NULL;
	int rc;

	if (cli_start(&cmd, argc, argv, &args, &rc))
		return rc;
	if (!args.n || strcmp(args.v[0], "prune"))
		return pn_cli_usage("cache", "expected `prune`");
	runner_opts_init(&o);
	o.cache_dir = a.cache_dir;
	if (runner_new(&o, &r, &err) < 0) {
		/* only needed for files of other ids: prune what the caller can */
		pn_debug("%s", err->msg);
		pn_error_clear(&err);
		r = NULL;
	}
	rc = pkgcache_prune(a.cache_dir, a.max, r, &st, &err);
	if (r)
		runner_free(r);
	if (rc < 0)
		return pn_cli_fail(err);
	printf("removed %zu files (%lld bytes), %lld bytes left\n", st.files, (long long)st.bytes,
	       (long long)st.left);
	return 0;
}

PN_COMMAND(cache, "cache", "prune the package caches RUN steps share", cmd_cache);
