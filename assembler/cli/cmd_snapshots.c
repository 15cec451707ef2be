/* cmd_snapshots.c - `pinion snapshots list|prune`: the sandbox's unpacked
 * layers (runner/ snapshots) under the cache dir. */
#include "common/common.h"
#include "runner/runner.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void snapshots_help(void)
{
	printf("usage: pinion snapshots list [--cache-dir DIR]\n"
	       "       pinion snapshots prune (--all | --older-than DAYS) [--cache-dir DIR]\n\n"
	       "Each image layer the sandbox uses is unpacked once into a snapshot keyed by\n"
	       "its diff_id and reused by every later step and build.  `list` prints one\n"
	       "line per snapshot: diff_id, size in bytes, last use (UTC).  `prune` removes\n"
	       "snapshots not used for DAYS days (or all of them), and leftovers of\n"
	       "interrupted runs.  Files in snapshots may belong to subordinate ids, so\n"
	       "removal happens inside the sandbox's user namespace.\n");
}

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

static int cmd_snapshots(int argc, char **argv)
{
	struct runner_opts o;
	struct runner *r = NULL;
	struct pn_error *err = NULL;
	const char *sub = argc > 1 ? argv[1] : NULL;
	int64_t older = -1;
	size_t removed = 0;
	int64_t bytes = 0;
	int rc;

	if (pn_cli_wants_help(argc, argv)) {
		snapshots_help();
		return 0;
	}
	runner_opts_init(&o);
	if (!sub || (strcmp(sub, "list") && strcmp(sub, "prune")))
		return pn_cli_usage("snapshots", "expected `list` or `prune`");
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc)
			o.cache_dir = argv[++i];
		else if (!strcmp(argv[i], "--all"))
			older = INT64_MAX;
		else if (!strcmp(argv[i], "--older-than") && i + 1 < argc) {
			char *end;
			long days = strtol(argv[++i], &end, 10);

			if (*end || days < 0)
				return pn_cli_usage("snapshots", "bad number of days `%s`",
						    argv[i]);
			older = (int64_t)time(NULL) - (int64_t)days * 86400;
		} else
			return pn_cli_usage("snapshots", "unexpected argument `%s`", argv[i]);
	}
	if (!strcmp(sub, "prune") && older < 0)
		return pn_cli_usage("snapshots", "prune needs --all or --older-than DAYS");
	if (runner_new(&o, &r, &err) < 0)
		return pn_cli_fail(err);
	if (!strcmp(sub, "list"))
		rc = snapshots_list(r, &err);
	else
		rc = runner_snapshots_prune(r, older, NULL, &removed, &bytes, &err);
	runner_free(r);
	if (rc < 0)
		return pn_cli_fail(err);
	if (!strcmp(sub, "prune"))
		printf("removed %zu snapshots (%lld bytes)\n", removed, (long long)bytes);
	return 0;
}

PN_COMMAND(snapshots, "snapshots", "list or prune the sandbox's unpacked layers", cmd_snapshots);
