/* pkgcache.h - package caches shared across builds: pip's cache and apt's
 * downloaded packages live under <cache>/pkgcache/<key>/ and RUN steps get
 * them as cache mounts (as Cog's Dockerfile does with BuildKit's
 * --mount=type=cache).  docs/build.md, "Package caches".
 *
 * Invariants:
 *   - A cache is keyed by the base distribution of the step's rootfs
 *     (os-release ID and VERSION_ID, and the architecture), so packages of
 *     different bases never mix.
 *   - The caches are bound at PKGCACHE_PIP_TARGET and PKGCACHE_APT_TARGET,
 *     which the runner never captures: they appear in no layer, no digest and
 *     no cache key (the step's key is made before and without them).
 *   - pip writes its cache atomically and is shared freely; apt takes a lock
 *     of its own in the archives dir and fails when it is held, so a step
 *     gets the shared apt dir only while it holds <key>/apt.lock (flock);
 *     when another build holds it, the step gets a private empty dir (it
 *     downloads, as without a cache) instead of waiting.
 *   - Files in the caches belong to the sandbox's root (the caller on the
 *     host) or, for apt's partial/, to its _apt user (a subordinate id):
 *     pruning removes what the caller cannot inside the user namespace.
 * Errors follow common.h. */
#ifndef PN_ASSEMBLER_PKGCACHE_H
#define PN_ASSEMBLER_PKGCACHE_H

#include "common/common.h"
#include "runner/runner.h"

#define PKGCACHE_DIR	    "pkgcache" /* under the cache dir */
#define PKGCACHE_PIP_TARGET "/run/pinion-cache/pip"
#define PKGCACHE_APT_TARGET "/run/pinion-cache/apt"
#define PKGCACHE_APT_CONF   "/etc/apt/apt.conf.d/zz-pinion-package-cache"

struct pkgcache {
	char *key;			     /* "debian-12-amd64" */
	char *dir;			     /* <cache>/pkgcache/<key> */
	char *src[2];			     /* owned sources of mounts */
	struct runner_cache_mount mounts[2]; /* pip, and apt when the step uses apt */
	size_t n_mounts;
	char *apt_conf;	 /* host file of apt options for PKGCACHE_APT_CONF, or NULL */
	bool apt_shared; /* the step has the shared apt dir (else a private one) */
	int apt_lock;	 /* fd holding <dir>/apt.lock, or -1 */
};
void pkgcache_init(struct pkgcache *pc);
/* releases the apt lock; the private apt dir stays in tmpdir (its owner removes it) */
void pkgcache_release(struct pkgcache *pc);

/* Pure: the key of a distribution from the text of its os-release (may be
 * NULL) and an architecture: "<ID>-<VERSION_ID or VERSION_CODENAME>-<arch>",
 * lowercase, other characters than [a-z0-9._] as '_', each part at most 32
 * characters; "unknown" for what is missing.  Owned. */
char *pkgcache_key(const char *os_release, const char *arch);
/* Pure: the command a step runs with a pip cache mounted: pinion's planned
 * "pip install --no-cache-dir" (kept in the cache key) without the option,
 * so pip uses the cache; anything else unchanged.  Owned. */
char *pkgcache_shell(const char *shell);
/* Pure: whether a step's command uses apt (and so gets the apt cache) */
bool pkgcache_uses_apt(const char *shell);

/* The mounts of one RUN step over a rootfs (lowers bottom first): keys the
 * cache by the rootfs's os-release, creates <cache_dir>/pkgcache/<key>/{pip,
 * apt/partial}; when the step uses apt and the image has
 * /etc/apt/apt.conf.d, the apt dir (shared if its lock is free, else a
 * private one in tmpdir) and a file of apt options in tmpdir that points
 * apt's archives at it and keeps downloaded packages (over Debian's
 * docker-clean).  cache_dir NULL: pn_cache_dir(). */
int pkgcache_step_open(struct pkgcache *pc, const char *cache_dir, const char *tmpdir,
		       const struct pn_strv *lowers, const char *arch, const char *shell,
		       struct pn_error **err);

/* Bound the package caches of cache_dir to max_bytes (0: remove them all):
 * the files used longest ago go first; an apt dir in use by a build is left
 * alone.  Files the caller cannot remove are removed through r's user
 * namespace (r may be NULL: they stay, with a warning).  st may be NULL. */
struct pkgcache_prune_stats {
	size_t files;  /* removed */
	int64_t bytes; /* removed */
	int64_t left;  /* bytes left */
};
int pkgcache_prune(const char *cache_dir, int64_t max_bytes, struct runner *r,
		   struct pkgcache_prune_stats *st, struct pn_error **err);

#endif
