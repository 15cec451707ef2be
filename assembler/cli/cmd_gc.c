/* cmd_gc.c - `pinion gc [oci:DIR...] [--cache-dir DIR]`: give back the disk
 * that killed pulls, failed builds and moved tags leave behind, and the
 * automatic cache gc after a build (gc.h).
 *
 * Safety rests on the layout's gc lock (oci.h): every process that opens a
 * layout holds it shared for the handle's life, gc holds it exclusively.  The
 * build cache's own files (keys/, memo/, build-tmp-*) are only written by
 * processes that hold the cache layout open, so they are collected under the
 * same exclusive hold, and so is the eviction of step cache entries
 * (--max-age, --keep-storage: gc_evict.c), which runs first so that the
 * marking roots only the entries that remain; copy-* scratch layouts have
 * their own gc lock; run dirs are the runner's (runner_snapshots_prune, its
 * own locks). */
#include "assembler/cache.h"
#include "assembler/gc.h"
#include "assembler/cli/opt.h"
#include "common/cleanup.h"
#include "oci/oci.h"
#include "runner/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct gc_report {
	char *target; /* "oci:DIR" or the cache dir */
	bool cache;
	struct oci_gc_stats st;
	size_t extra; /* cache scratch files and dirs, run dirs removed */
	int64_t extra_bytes;
	size_t extra_young;	  /* kept: younger than the bound */
	bool evicting;		  /* --max-age or --keep-storage */
	struct gc_evict_stats ev; /* step cache entries evicted */
};

static char *gc_intro(void)
{
	return xasprintf(
		"usage: pinion gc [OPTIONS] [oci:DIR...]\n\n"
		"Remove what nothing uses any more from OCI layouts and the build cache:\n"
		"blobs that no tag (and, in the cache, no step cache entry) references,\n"
		"temp files of killed pulls and builds (older than %d minutes), and in the\n"
		"cache the scratch dirs of killed builds and copies and stale sandbox run\n"
		"dirs.  Without oci:DIR, or with --cache-dir, the cache is collected\n"
		"($PINION_CACHE_DIR, else $XDG_CACHE_HOME/pinion, else ~/.cache/pinion).\n\n"
		"gc never removes what a running build, pull, push or copy uses: each holds\n"
		"a shared lock on the layouts it has open, and gc waits for them to finish\n"
		"(saying so).  A build also runs gc on the cache, without waiting, once the\n"
		"cache layout holds more than %d GiB or %d unreferenced blobs\n"
		"(PINION_AUTO_GC=off, PINION_AUTO_GC_GIB=N, PINION_AUTO_GC_BLOBS=N); with\n"
		"PINION_AUTO_GC_MAX_AGE=DURATION it also evicts as --max-age does.\n\n"
		"The step cache entries (cached layers, post-build results) keep the\n"
		"layer blobs they name.  With --max-age or --keep-storage gc first evicts\n"
		"entries by last use (a build that hits an entry uses it), in the same\n"
		"exclusive hold, then removes the blobs no remaining entry or tag\n"
		"references: a build that needs an evicted entry builds that step again.\n"
		"Tags (pulled bases, stored images) are never evicted.\n\n"
		"Options:\n",
		OCI_GC_TMP_MIN_AGE / 60, GC_AUTO_GIB, GC_AUTO_BLOBS);
}

/* ------------------------------------------------------------ cache files */

static int64_t du_total;

static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)p, (void)flag, (void)f;
	if (S_ISREG(st->st_mode) && st->st_nlink <= 1)
		du_total += (int64_t)st->st_size;
	return 0;
}

static int64_t du(const char *path)
{
	du_total = 0;
	nftw(path, du_cb, 16, FTW_PHYS | FTW_MOUNT);
	return du_total;
}

static bool old_enough(const struct stat *st, time_t now)
{
	return (int64_t)(now - st->st_mtime) >= OCI_GC_TMP_MIN_AGE;
}

/* a copy-* scratch layout is free when its gc lock is (or it has none yet) */
static bool copy_dir_free(const char *dir, int *lock_out)
{
	cleanup_free char *lp = pn_path_join(dir, ".pinion-gc.lock");
	int fd = open(lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*lock_out = -1;
	if (fd < 0)
		return errno == ENOENT;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return false;
	}
	*lock_out = fd; /* held until removed */
	return true;
}

/* entries of dir: files containing ".tmp-" (pn_write_file_atomic's temp
 * files), or with dirs_prefix, directories named so */
static void cache_sweep_dir(const char *dir, const char *dirs_prefix, bool dry_run,
			    struct gc_report *r)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d))) {
		cleanup_free char *p = NULL;
		cleanup_close int lock = -1;
		struct stat st;
		bool is_dir;
		int64_t bytes;

		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		is_dir = S_ISDIR(st.st_mode);
		if (dirs_prefix ? !is_dir || strncmp(de->d_name, dirs_prefix, strlen(dirs_prefix))
				: !S_ISREG(st.st_mode) || !strstr(de->d_name, ".tmp-"))
			continue;
		p = pn_path_join(dir, de->d_name);
		if (is_dir && !strcmp(dirs_prefix, "copy-") && !copy_dir_free(p, &lock))
			continue;
		if (!old_enough(&st, now)) {
			r->extra_young++;
			continue;
		}
		bytes = is_dir ? du(p) : (st.st_nlink <= 1 ? (int64_t)st.st_size : 0);
		if (!dry_run && (is_dir ? pn_rm_rf(p, NULL) : unlink(p)) < 0)
			continue;
		r->extra++;
		r->extra_bytes += bytes;
	}
}

static size_t count_prefixed(const char *dir, const char *prefix)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	return n;
}

/* stale sandbox run dirs and unpack leftovers: the runner decides (its locks,
 * its age bound), inside its user namespace; only when there are any */
static int cache_sweep_runs(const char *base, struct gc_report *r, struct pn_error **err)
{
	cleanup_free char *runs = pn_path_join(base, "runs");
	cleanup_free char *snaps = pn_path_join(base, "snapshots");
	size_t before = count_prefixed(runs, "run-") + count_prefixed(snaps, ".tmp-"), after;
	struct runner_opts o;
	struct runner *rn = NULL;
	int rc;

	if (before == 0)
		return 0;
	runner_opts_init(&o);
	o.cache_dir = base;
	if (runner_new(&o, &rn, err) < 0)
		return -1;
	/* INT64_MIN: no snapshot is old enough; only leftovers go */
	rc = runner_snapshots_prune(rn, INT64_MIN, NULL, NULL, NULL, err);
	runner_free(rn);
	after = count_prefixed(runs, "run-") + count_prefixed(snaps, ".tmp-");
	r->extra += before > after ? before - after : 0;
	return rc;
}

/* ------------------------------------------------------------------ cache */

struct cache_gc {
	const char *base;
	bool dry_run, wait, runs;
	int64_t over_bytes, over_garbage;
	int64_t max_age, keep_storage; /* eviction (gc.h); < 0: off */
};

static int cache_gc(const struct cache_gc *g, struct gc_report *r, struct pn_error **err)
{
	cleanup_free char *bdir = pn_path_join(g->base, "build");
	cleanup_free char *lpath = pn_path_join(bdir, "layout");
	cleanup_free char *keys = pn_path_join(bdir, "keys");
	cleanup_free char *memo = pn_path_join(bdir, "memo");
	cleanup_strv struct pn_strv roots = PN_STRV_INIT;
	struct oci_layout *l = NULL;
	struct oci_gc_opts o;
	struct gc_evict_opts ev = {0};
	struct pn_error *e = NULL;
	int rc;

	r->target = xstrdup(g->base);
	r->cache = true;
	r->evicting = g->max_age >= 0 || g->keep_storage >= 0;
	if (oci_layout_open(lpath, 0, &l, &e) < 0) {
		if (e->code != PN_ERR_NOT_FOUND) {
			pn_error_propagate(err, e);
			return pn_error_wrap(err, "cache `%s`", g->base);
		}
		pn_error_free(e); /* no cache layout yet: only the runner's leftovers */
		return g->runs && !g->dry_run ? cache_sweep_runs(g->base, r, err) : 0;
	}
	rc = oci_layout_gc_lock(l, g->wait, err);
	if (rc <= 0) {
		r->st.skipped = rc == 0;
		oci_layout_free(l);
		return rc;
	}
	/* under the exclusive hold: no build reads or writes keys, memo or
	 * scratch now, so no build loses an entry it is using */
	ev.now = (int64_t)time(NULL);
	ev.max_age = g->max_age;
	ev.keep_storage = g->keep_storage;
	if (gc_evict_cache(l, keys, &ev, g->dry_run, &roots, &r->ev, err) < 0) {
		oci_layout_gc_unlock(l);
		oci_layout_free(l);
		return pn_error_wrap(err, "cache `%s`", g->base);
	}
	oci_gc_opts_init(&o);
	o.dry_run = g->dry_run;
	o.roots = &roots;
	/* entries evicted: their blobs go now, whatever the bounds */
	o.over_bytes = r->ev.entries ? -1 : g->over_bytes;
	o.over_garbage = r->ev.entries ? -1 : g->over_garbage;
	rc = oci_layout_gc(l, &o, &r->st, err);
	if (rc == 0) {
		cache_sweep_dir(keys, NULL, g->dry_run, r);
		cache_sweep_dir(memo, NULL, g->dry_run, r);
		cache_sweep_dir(g->base, "build-tmp-", g->dry_run, r);
		cache_sweep_dir(g->base, "copy-", g->dry_run, r);
	}
	oci_layout_gc_unlock(l);
	oci_layout_free(l);
	if (rc == 0 && g->runs && !g->dry_run)
		rc = cache_sweep_runs(g->base, r, err);
	return rc < 0 ? pn_error_wrap(err, "cache `%s`", g->base) : 0;
}

static int64_t env_bound(const char *name, long def, long unit)
{
	const char *v = getenv(name);
	long n;

	if (!v || !*v)
		return (int64_t)def * unit;
	if (pn_parse_long(v, 0, 1L << 30, &n) < 0) {
		pn_warn("ignoring %s=`%s`: not a whole number", name, v);
		return (int64_t)def * unit;
	}
	return (int64_t)n * unit;
}

/* PINION_AUTO_GC_MAX_AGE: a DURATION, or -1 (unset, empty, or bad: warned) */
static int64_t env_max_age(void)
{
	const char *v = getenv("PINION_AUTO_GC_MAX_AGE");
	struct pn_error *err = NULL;
	int64_t secs;

	if (!v || !*v)
		return -1;
	if (cli_parse_duration(v, &secs, &err) < 0) {
		pn_warn("ignoring PINION_AUTO_GC_MAX_AGE: %s", err->msg);
		pn_error_free(err);
		return -1;
	}
	return secs;
}

void gc_cache_auto(const char *cache_dir)
{
	cleanup_free char *base = cache_dir ? xstrdup(cache_dir) : pn_cache_dir();
	const char *off = getenv("PINION_AUTO_GC");
	struct cache_gc g = {.base = base, .max_age = -1, .keep_storage = -1};
	struct gc_report r;
	struct pn_error *err = NULL;

	if (off && (!strcmp(off, "off") || !strcmp(off, "0")))
		return;
	memset(&r, 0, sizeof(r));
	g.over_bytes = env_bound("PINION_AUTO_GC_GIB", GC_AUTO_GIB, 1L << 30);
	g.over_garbage = env_bound("PINION_AUTO_GC_BLOBS", GC_AUTO_BLOBS, 1);
	g.max_age = env_max_age();
	if (cache_gc(&g, &r, &err) < 0) {
		pn_warn("automatic gc: %s", err->msg);
		pn_error_free(err);
	} else if (r.st.skipped) {
		pn_debug("automatic gc: the cache is in use; skipped");
	} else if ((r.st.swept && r.st.garbage) || r.st.tmp || r.extra || r.ev.entries) {
		char ev[96] = "";

		if (r.ev.entries)
			snprintf(ev, sizeof(ev),
				 ", %zu step cache entries past PINION_AUTO_GC_MAX_AGE",
				 r.ev.entries);
		pn_info("gc: freed %.1f MiB in the cache (%zu unreferenced blobs, %zu temp "
			"files%s)",
			(double)((r.st.swept ? r.st.garbage_bytes : 0) + r.st.tmp_bytes +
				 r.extra_bytes) /
				(1 << 20),
			r.st.swept ? r.st.garbage : 0, r.st.tmp + r.extra, ev);
	}
	free(r.target);
}

/* ---------------------------------------------------------------- command */

static int layout_gc(const char *ref, bool dry_run, bool wait, struct gc_report *r,
		     struct pn_error **err)
{
	cleanup_free char *dir = NULL, *tag = NULL;
	struct oci_layout *l = NULL;
	struct oci_gc_opts o;
	int rc;

	if (oci_ref_parse_layout(ref, &dir, &tag, err) < 0)
		return -1;
	if (tag)
		return pn_error_set(err, PN_ERR_INVALID,
				    "`%s`: gc takes a layout (oci:DIR) without a tag", ref);
	r->target = xasprintf("oci:%s", dir);
	if (oci_layout_open(dir, 0, &l, err) < 0)
		return -1;
	oci_gc_opts_init(&o);
	o.dry_run = dry_run;
	o.no_wait = !wait;
	rc = oci_layout_gc(l, &o, &r->st, err);
	oci_layout_free(l);
	return rc;
}

static int64_t report_freed(const struct gc_report *r)
{
	return (r->st.swept ? r->st.garbage_bytes : 0) + r->st.tmp_bytes + r->extra_bytes;
}

static void report_text(const struct gc_report *r, bool dry_run)
{
	const struct oci_gc_stats *s = &r->st;
	const char *verb = dry_run ? "would remove" : "removed";
	size_t gone = s->swept ? s->garbage : 0;

	if (s->skipped) {
		printf("%s: in use by another pinion process; skipped\n", r->target);
		return;
	}
	if (r->evicting)
		printf("%s: %s %zu step cache entries, %.1f MiB of blobs only they used; "
		       "entries and tags reference %.1f MiB\n",
		       r->target, dry_run ? "would evict" : "evicted", r->ev.entries,
		       (double)r->ev.bytes / (1 << 20), (double)r->ev.kept_bytes / (1 << 20));
	printf("%s: %s %zu unreferenced blobs and %zu temp files", r->target, verb, gone,
	       s->tmp + r->extra);
	printf(", %.1f MiB; %zu blobs (%.1f MiB) kept", (double)report_freed(r) / (1 << 20),
	       s->blobs - gone, (double)(s->blob_bytes) / (1 << 20));
	if (s->tmp_young + r->extra_young)
		printf("; %zu temp files younger than %d minutes kept",
		       s->tmp_young + r->extra_young, OCI_GC_TMP_MIN_AGE / 60);
	printf("\n");
}

static json_t *report_json(const struct gc_report *r)
{
	const struct oci_gc_stats *s = &r->st;
	size_t gone = s->swept ? s->garbage : 0;
	json_t *j;

	j = json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "target", r->target,
		      "kind", r->cache ? "cache" : "layout", "skipped", s->skipped, "blobs_removed",
		      (json_int_t)gone, "blob_bytes_freed",
		      (json_int_t)(s->swept ? s->garbage_bytes : 0), "tmp_removed",
		      (json_int_t)s->tmp, "tmp_bytes_freed", (json_int_t)s->tmp_bytes,
		      "tmp_kept_young", (json_int_t)(s->tmp_young + r->extra_young),
		      "cache_files_removed", (json_int_t)r->extra, "cache_bytes_freed",
		      (json_int_t)r->extra_bytes, "blobs_kept", (json_int_t)(s->blobs - gone),
		      "bytes_freed", (json_int_t)report_freed(r));
	/* eviction: the entries and the bytes of the blobs only they named */
	json_object_set_new(j, "entries_evicted", json_integer((json_int_t)r->ev.entries));
	json_object_set_new(j, "entries_evicted_bytes", json_integer(r->ev.bytes));
	if (r->evicting)
		json_object_set_new(j, "entries_kept_bytes", json_integer(r->ev.kept_bytes));
	return j;
}

struct gc_args {
	struct pn_strv layouts;
	const char *cache_dir;
	bool dry_run, json, wait;
	int64_t max_age, keep_storage; /* < 0: not given */
};

static const struct cli_opt gc_opts[] = {
	{"cache-dir", 0, CLI_ARG_REQUIRED, NULL, offsetof(struct gc_args, cache_dir), "DIR",
	 "collect this cache", 0},
	{"dry-run", 0, CLI_ARG_NONE, NULL, offsetof(struct gc_args, dry_run), NULL,
	 "report what would be removed, remove nothing", 0},
	{"no-wait", 0, CLI_ARG_NONE, cli_set_false, offsetof(struct gc_args, wait), NULL,
	 "skip a layout that is in use instead of waiting", 0},
	{"json", 0, CLI_ARG_NONE, NULL, offsetof(struct gc_args, json), NULL, "print a JSON report",
	 0},
	{"max-age", 0, CLI_ARG_REQUIRED, cli_set_duration, offsetof(struct gc_args, max_age),
	 "DURATION",
	 "cache: first evict the step cache entries\n"
	 "not used for longer than DURATION (seconds,\n"
	 "or with s, m, h, d, w: 30m, 12h, 7d)",
	 0},
	{"keep-storage", 0, CLI_ARG_REQUIRED, cli_set_size, offsetof(struct gc_args, keep_storage),
	 "SIZE",
	 "cache: first evict the step cache entries\n"
	 "used longest ago until the blobs that entries\n"
	 "and tags reference total at most SIZE (bytes,\n"
	 "or with K, M, G: KiB, MiB, GiB)",
	 0},
};

/* true when done: the help, or a usage error (*status) */
static bool gc_parse(struct cli_cmd *cmd, int argc, char **argv, struct gc_args *a, int *status)
{
	char *intro = gc_intro();
	bool done;

	cmd->intro = intro;
	a->wait = true;
	a->max_age = a->keep_storage = -1;
	done = cli_start(cmd, argc, argv, &a->layouts, status);
	cmd->intro = NULL;
	free(intro);
	for (size_t i = 0; !done && i < a->layouts.n; i++) {
		if (strncmp(a->layouts.v[i], "oci:", 4) != 0) {
			*status = pn_cli_usage("gc", "`%s` is not a layout: name one as oci:DIR",
					       a->layouts.v[i]);
			done = true;
		}
	}
	if (!done && a->layouts.n && !a->cache_dir && (a->max_age >= 0 || a->keep_storage >= 0)) {
		*status = pn_cli_usage("gc", "--max-age and --keep-storage evict from the build "
					     "cache: name it with --cache-dir");
		done = true;
	}
	return done;
}

static int gc_one(const struct gc_args *a, size_t i, struct gc_report *r, struct pn_error **err)
{
	cleanup_free char *base = NULL;
	struct cache_gc g = {.dry_run = a->dry_run,
			     .wait = a->wait,
			     .runs = true,
			     .over_bytes = -1,
			     .over_garbage = -1,
			     .max_age = a->max_age,
			     .keep_storage = a->keep_storage};

	if (i < a->layouts.n)
		return layout_gc(a->layouts.v[i], a->dry_run, a->wait, r, err);
	base = a->cache_dir ? xstrdup(a->cache_dir) : pn_cache_dir();
	g.base = base;
	return cache_gc(&g, r, err);
}

static int cmd_gc(int argc, char **argv)
{
	struct gc_args a = {0};
	struct cli_table t[1] = {CLI_TABLE(gc_opts, &a)};
	struct cli_cmd cmd = {
		.name = "gc",
		.outro = "\nBytes are the space freed: a blob hard-linked into another "
			 "layout frees none.\n",
		.tables = t,
		.n_tables = 1};
	cleanup_json json_t *all = json_array();
	struct pn_error *err = NULL;
	size_t n;
	int rc;

	if (gc_parse(&cmd, argc, argv, &a, &rc)) {
		pn_strv_release(&a.layouts);
		return rc;
	}
	n = a.layouts.n + (a.cache_dir || !a.layouts.n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct gc_report r;

		memset(&r, 0, sizeof(r));
		rc = gc_one(&a, i, &r, &err);
		if (rc == 0 && a.json)
			json_array_append_new(all, report_json(&r));
		else if (rc == 0)
			report_text(&r, a.dry_run);
		free(r.target);
	}
	pn_strv_release(&a.layouts);
	if (rc < 0)
		return pn_cli_fail(err);
	if (a.json) {
		json_t *doc = json_pack("{s:b,s:O}", "dry_run", a.dry_run, "targets", all);

		json_dumpf(doc, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(doc);
	}
	return 0;
}

PN_COMMAND(gc, "gc", "remove unreferenced blobs and leftovers from layouts and the cache", cmd_gc);
