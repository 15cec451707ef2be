/* cmd_snapshots.c - `pinion snapshots list|prune`: the sandbox's unpacked
 * layers (runner/ snapshots) under the cache dir. */
#include "assembler/cli/opt.h"
#include "common/common.h"
#include "runner/runner.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char snapshots_intro[] =
	"usage: pinion snapshots list [--cache-dir DIR]\n"
	"       pinion snapshots prune (--all | --older-than DAYS) [--cache-dir DIR]\n\n"
	"Each image layer the sandbox uses is unpacked once into a snapshot keyed by\n"
	"its diff_id and reused by every later step and build.  `list` prints one\n"
	"line per snapshot: diff_id, size in bytes, last use (UTC).  `prune` removes\n"
	"snapshots not used for DAYS days (or all of them), and leftovers of\n"
	"interrupted runs.  Files in snapshots may belong to subordinate ids, so\n"
	"removal happens inside the sandbox's user namespace.\n\n"
	"Options:\n";

struct snapshots_args {
	const char *cache_dir;
	int64_t older; /* prune what was last used before this; -1: not given */
};

static int set_all(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	(void)opt, (void)v, (void)err;
	((struct snapshots_args *)ctx)->older = INT64_MAX;
	return 0;
}

static int set_older(void *ctx, const struct cli_opt *opt, const char *v, struct pn_error **err)
{
	char *end;
	long days = strtol(v, &end, 10);

	(void)opt;
	if (*end || end == v || days < 0)
		return pn_error_set(err, PN_ERR_INVALID, "bad number of days `%s`", v);
	((struct snapshots_args *)ctx)->older = (int64_t)time(NULL) - (int64_t)days * 86400;
	return 0;
}

static const struct cli_opt snapshots_opts[] = {
	{"cache-dir", 0, CLI_ARG_REQUIRED, NULL, offsetof(struct snapshots_args, cache_dir), "DIR",
	 "the cache whose snapshots these are (default ~/.cache/pinion)", 0},
	{"all", 0, CLI_ARG_NONE, set_all, 0, NULL, "prune: every snapshot", 0},
	{"older-than", 0, CLI_ARG_REQUIRED, set_older, 0, "DAYS",
	 "prune: snapshots not used for DAYS days", 0},
};

static int snapshots_list(struct runner *r, struct pn_error **err)
{
	struct runner_snapshot *s = NULL;
	size_t n = 0;
	int64_t total = 0;

	if (runner_snapshots_list(r, &s, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *when = pn_rfc3339(s[i].last_used);

		printf("%s %lld %s\n", s[i].diff_id, (long long)s[i].bytes, when);
		total += s[i].bytes > 0 ? s[i].bytes : 0;
	}
	pn_info("%zu snapshots, %lld bytes", n, (long long)total);
	runner_snapshots_free(s, n);
	return 0;
}

/* SUB and the options; true when done (help or a usage error: *status) */
static bool snapshots_parse(const struct cli_cmd *cmd, int argc, char **argv,
			    const struct snapshots_args *a, struct pn_strv *args, int *status)
{
	if (cli_start(cmd, argc, argv, args, status))
		return true;
	if (!args->n || (strcmp(args->v[0], "list") && strcmp(args->v[0], "prune")))
		*status = pn_cli_usage("snapshots", "expected `list` or `prune`");
	else if (!strcmp(args->v[0], "prune") && a->older < 0)
		*status = pn_cli_usage("snapshots", "prune needs --all or --older-than DAYS");
	return *status != 0;
}

static int cmd_snapshots(int argc, char **argv)
{
	struct snapshots_args a = {.older = -1};
	struct cli_table t[1] = {CLI_TABLE(snapshots_opts, &a)};
	struct cli_cmd cmd = {.name = "snapshots",
			      .intro = snapshots_intro,
			      .tables = t,
			      .n_tables = 1,
			      .max_args = 1};
	cleanup_strv struct pn_strv args = PN_STRV_INIT;
	struct runner_opts o;
	struct runner *r = NULL;
	struct pn_error *err = NULL;
	size_t removed = 0;
	int64_t bytes = 0;
	int rc;

	if (snapshots_parse(&cmd, argc, argv, &a, &args, &rc))
		return rc;
	runner_opts_init(&o);
	o.cache_dir = a.cache_dir;
	if (runner_new(&o, &r, &err) < 0)
		return pn_cli_fail(err);
	if (!strcmp(args.v[0], "list"))
		rc = snapshots_list(r, &err);
	else
		rc = runner_snapshots_prune(r, a.older, NULL, &removed, &bytes, &err);
	runner_free(r);
	if (rc < 0)
		return pn_cli_fail(err);
	if (!strcmp(args.v[0], "prune"))
		printf("removed %zu snapshots (%lld bytes)\n", removed, (long long)bytes);
	return 0;
}

PN_COMMAND(snapshots, "snapshots", "list or prune the sandbox's unpacked layers", cmd_snapshots);
