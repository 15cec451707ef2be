/* runner.h - the one public face of runner/: the rootless sandbox that runs a
 * build step in an image's filesystem and turns what it changed into a layer.
 *
 * Shape:
 *   struct runner       one per process: id mapping, snapshot store, options
 *   snapshots           each layer unpacked once under <cache>/snapshots, keyed
 *                       by diff_id, reused as overlay lower dirs by every step
 *   struct runner_rootfs the lower dirs of one image (bottom first)
 *   runner_step_run()   run one step on overlay(lowers + empty upper); on exit 0
 *                       the upper dir becomes a layer in a given oci_layout
 *   runner_proc_*()     a long-running process over an image (pinion predict,
 *                       pinion serve): start, pid, stop, wait
 *
 * Sandbox: user + mount + pid namespaces (and net with RUNNER_NET_NONE).  The
 * ids mapped are those the process has (its /proc/self/uid_map): root of a
 * user namespace maps its own ids 1:1; a user with /etc/subuid and
 * /etc/subgid entries gets ids 0-65535 through newuidmap/newgidmap; without
 * them (or root with one id) the caller maps to root alone (pinion says once
 * what that limits).  runner_probe() checks all this before any work.  As
 * real root, a user namespace with the identity map
 * is still used (no capabilities over the host); where root cannot create
 * one, the step runs as real root in its own mount and pid namespaces
 * (warned once; PINION_RUNNER_NO_USERNS=1 forces it).  Root is pivot_root'ed to the
 * overlay; /proc, a minimal /dev, /etc/resolv.conf and /etc/hosts from the
 * host (never captured), no_new_privs, other fds closed.  docs/sandbox.md.
 *
 * Errors follow common.h.  Codes: PN_ERR_INVALID (bad step spec, bad user,
 * hostile layer refused by the applier), PN_ERR_NOT_FOUND (missing command,
 * working directory, secret source), PN_ERR_UNSUPPORTED (namespaces not
 * available), PN_ERR_GENERIC otherwise (including "step exited with status N").
 */
#ifndef PN_RUNNER_H
#define PN_RUNNER_H

#include "common/common.h"
#include "oci/oci.h"

#include <sys/types.h>

/* ------------------------------------------------------------- id mapping */
enum runner_idmap_mode {
	RUNNER_IDMAP_ROOT = 1, /* pinion runs as root: identity map 0..2^32-2 */
	RUNNER_IDMAP_SUBID,    /* caller -> 0, subordinate range -> 1..65535 */
	RUNNER_IDMAP_SINGLE,   /* caller -> 0 only (no subordinate ids, or root of a
				  user namespace that has one id) */
	RUNNER_IDMAP_USERNS,   /* root of a user namespace with N > 1 ids (rootless
				  podman, Kubernetes hostUsers: false, unshare
				  --map-auto): its ids 0..N-1 mapped 1:1, in
				  as many ranges as its own map has */
};
struct runner_idrange {
	uint32_t inside, outside, count;
};
#define RUNNER_IDMAP_MAX_RANGES 8 /* USERNS: one per range of our own map */
struct runner_idmap {
	enum runner_idmap_mode mode;
	struct runner_idrange uid[RUNNER_IDMAP_MAX_RANGES], gid[RUNNER_IDMAP_MAX_RANGES];
	size_t n_uid, n_gid;
	bool in_userns;	     /* root, but of a user namespace (not the host's) */
	bool setgroups_deny; /* our /proc/self/setgroups says deny: so will the sandbox's */
};
/* Find the mapping for the calling process from the ids it actually has:
 * root whose /proc/self/uid_map is the full identity map (real root) -> ROOT;
 * root of a user namespace -> USERNS over the ids from 0 it has, or SINGLE
 * with one; anyone else -> /etc/subuid + subgid via newuidmap/newgidmap, or
 * SINGLE.  PINION_RUNNER_IDMAP=single forces single. */
int runner_idmap_detect(struct runner_idmap *out, struct pn_error **err);
/* Pure, the root case of detect: the texts of /proc/self/uid_map, gid_map and
 * setgroups (may be NULL) -> out.  PN_ERR_INVALID for a malformed map. */
int runner_idmap_choose_root(const char *uid_map, const char *gid_map, const char *setgroups,
			     gid_t egid, struct runner_idmap *out, struct pn_error **err);
/* Pure: the lines of a /proc/PID/uid_map ("inside outside count", blanks
 * between) into out[0..max); PN_ERR_INVALID for a bad line (a zero count, a
 * range past 2^32), PN_ERR_TOO_LARGE past max. */
#define RUNNER_IDMAP_PROC_RANGES 340 /* the kernel's limit of lines in a map */
int runner_idmap_parse(const char *text, struct runner_idrange *out, size_t max, size_t *n_out,
		       struct pn_error **err);
/* Pure: how many ids from 0 up the ranges cover without a gap (inside ids) */
uint64_t runner_idmap_span(const struct runner_idrange *r, size_t n);
/* whether the sandbox may call setgroups() (not with one id, not when denied) */
bool runner_idmap_can_setgroups(const struct runner_idmap *m);

/* Before any work: can this process start a sandbox at all?  Creates a user
 * namespace with the mapping detect chooses, becomes root in it and creates
 * mount and pid namespaces, in a throwaway child (a few milliseconds).  Real
 * root where user namespaces are refused passes if the mount and pid
 * namespaces work (steps then run as real root, warned at the first step).
 * 0 if it works; else -1 with PN_ERR_UNSUPPORTED and one line naming the
 * cause and what to change (user.max_user_namespaces is 0, a seccomp filter,
 * kernel.unprivileged_userns_clone, newuidmap failed, ...).  Says once what
 * single-id mode limits. */
int runner_probe(struct pn_error **err);
/* Pure: the message of runner_probe for unshare(CLONE_NEWUSER) failing with
 * errno e, given the texts of /proc/sys/user/max_user_namespaces,
 * /proc/sys/kernel/unprivileged_userns_clone and the Seccomp: field of
 * /proc/self/status (each NULL if absent).  Owned. */
char *runner_probe_explain(int e, bool root, const char *max_userns, const char *userns_clone,
			   const char *seccomp);
/* Pure: the first range for `user` (name) or `uid` (number) in an
 * /etc/subuid-style text; 0 found, 1 none, < 0 malformed line (PN_ERR_INVALID). */
int runner_subid_parse(const char *text, const char *user, uint32_t uid, uint32_t *start_out,
		       uint32_t *count_out, struct pn_error **err);
/* "0 1000 1\n1 300000 65535\n" - the text of a uid_map/gid_map (owned) */
char *runner_idmap_format(const struct runner_idrange *r, size_t n);

/* ----------------------------------------------------------------- runner */
struct runner_opts {
	const char *cache_dir; /* NULL: pn_cache_dir(); snapshots live under it */
	bool no_overlay;       /* force the copy-up fallback (also PINION_RUNNER_NO_OVERLAY=1) */
};
void runner_opts_init(struct runner_opts *o);

struct runner;
int runner_new(const struct runner_opts *o, struct runner **out, struct pn_error **err);
void runner_free(struct runner *r);
const struct runner_idmap *runner_get_idmap(const struct runner *r);

/* -------------------------------------------------------------- snapshots
 * <cache>/snapshots/<hex of diff_id>/ holds one layer unpacked (with the oci/
 * applier, inside the user namespace so ownership is as in the tar; in
 * single-id mode every file belongs to the caller, i.e. root inside).
 * Whiteouts in a layer are kept as overlay whiteouts so snapshots stack. */
struct runner_snapshot {
	oci_digest_t diff_id;
	char *path;	   /* the snapshot's root directory */
	int64_t bytes;	   /* disk usage (st_blocks), -1 if not computed */
	int64_t last_used; /* unix seconds */
};
int runner_snapshots_list(struct runner *r, struct runner_snapshot **out, size_t *n,
			  struct pn_error **err);
void runner_snapshots_free(struct runner_snapshot *s, size_t n);
/* remove snapshots not used since `older_than` (unix seconds; INT64_MAX: all)
 * except those whose diff_id is in keep (may be NULL).  Removal runs inside
 * the user namespace (files may belong to subordinate ids). */
int runner_snapshots_prune(struct runner *r, int64_t older_than, const struct pn_strv *keep,
			   size_t *removed_out, int64_t *bytes_out, struct pn_error **err);

/* remove each path (recursively) from inside the user namespace: files in
 * snapshots, run dirs and package caches may belong to subordinate ids.
 * Each path must lie below root (PN_ERR_INVALID otherwise) and is removed
 * beneath root opened once, following no symlink in any component below it
 * (a link on the way is an error and nothing out there is touched; the
 * last component, a link, is itself removed).  Absent paths are fine; the
 * first failure ends the call. */
int runner_rm_paths(struct runner *r, const char *root, const struct pn_strv *paths,
		    struct pn_error **err);

/* ------------------------------------------------------------------ rootfs */
struct runner_rootfs {
	struct pn_strv lowers; /* snapshot paths, bottom layer first */
	struct pn_strv diff_ids;
};
void runner_rootfs_init(struct runner_rootfs *rf);
void runner_rootfs_release(struct runner_rootfs *rf);
/* Unpack (once) every layer of img from l and fill rf.  Layers are checked by
 * the applier before anything runs: a hostile layer is PN_ERR_INVALID. */
int runner_rootfs_prepare(struct runner *r, struct oci_layout *l, const struct oci_image *img,
			  struct runner_rootfs *rf, struct pn_error **err);
/* Put one more layer on top (a cache hit, or the layer of the previous step):
 * its snapshot is unpacked from l if not already in the store. */
int runner_rootfs_push(struct runner *r, struct runner_rootfs *rf, struct oci_layout *l,
		       const struct oci_descriptor *layer, const char *diff_id,
		       struct pn_error **err);

/* ------------------------------------------------------------------- steps */
enum runner_network { RUNNER_NET_HOST = 0, RUNNER_NET_NONE };

struct runner_secret {
	const char *id;
	const char *source; /* host file, read by pinion before the step */
	const char *target; /* absolute path inside; NULL: /run/secrets/<id> */
};

/* a host directory the step may write, bound at target (an absolute path):
 * a package cache shared across builds.  What is below target is never
 * captured in the step's layer; the directory should belong to root of the
 * sandbox (the caller's id on the host). */
struct runner_cache_mount {
	const char *source; /* host directory, existing */
	const char *target; /* absolute directory inside */
};

struct runner_step {
	const char *name;		 /* display name, prefixes each output line */
	const char *const *argv;	 /* NULL-terminated; or NULL and shell set */
	const char *shell;		 /* run as /bin/sh -c shell */
	const struct oci_config *config; /* may be NULL: Env, WorkingDir, User defaults */
	const char *const *env;		 /* NAME=value, over the config's Env; may be NULL */
	const char *workdir;		 /* NULL: config's, else "/" ; checked after chdir */
	const char *user; /* NULL: config's, else root; name, uid, uid:gid, name:group */
	const struct runner_secret *secrets;
	size_t n_secrets;
	const struct runner_cache_mount *caches; /* bound read-write, never captured */
	size_t n_caches;
	enum runner_network network;
	bool interactive; /* inherit stdin/stdout/stderr, no prefix */
	int stdout_fd;	  /* interactive: the step's stdout when > 0 (a capture file,
			   * relayed like any regular file); 0: the caller's */
	int stderr_fd;	  /* interactive: the step's stderr when > 0, as stdout_fd */
	int tail_lines;	  /* kept for the failure report; 0: 20 */
};

struct runner_result {
	int exit_status; /* 0..255, 128+signal, -1 if it never ran */
	bool committed;	 /* layer is valid */
	struct oci_layer_result layer;
	char *tail; /* last lines of output (non-interactive), or NULL */
	double seconds_run, seconds_commit;
};
/* runner_step_run() initialises res itself: release a used one before reuse */
void runner_result_init(struct runner_result *res);
void runner_result_release(struct runner_result *res);

/* Run one step on overlay(rf->lowers + empty upper).  With out == NULL nothing
 * is committed.  Otherwise, on exit status 0 the upper dir is written as a
 * layer into out through the oci/ writer (lopts, NULL: oci_layer_opts_init();
 * overlay_upper is always on): ownership as seen inside the namespace, mtimes
 * clamped,
 * resolv.conf/hosts mount points and secret targets not captured; the upper
 * dir is then adopted as the snapshot of the new diff_id, so
 * runner_rootfs_push() of the result is free.
 * Returns 0 on exit status 0.  A non-zero exit is -1 with "step `NAME`: exited
 * with status N" (res->exit_status = N, res->tail = last lines, also in the
 * error's hint); nothing is committed.  A command that cannot be started is
 * -1 with the reason (PN_ERR_NOT_FOUND for a missing command or working
 * directory), exit status 127 (not found) or 126 (user, workdir, ...); a
 * sandbox that cannot be set up leaves exit_status -1 or 125.
 * Interactive steps: pinion ignores SIGINT/SIGQUIT while the step runs (the
 * terminal sends them to the command).  SIGTERM and SIGHUP (and SIGINT/SIGQUIT
 * when not interactive) received meanwhile go on to the step; the sandbox
 * cleans up and the call returns -1 "step `NAME`: interrupted by SIGTERM"
 * (exit_status 128+N, nothing committed); a second signal kills it outright.
 * Snapshot unpacks (runner_rootfs_prepare/push) are interrupted the same way.
 * The handlers are process-wide and restored afterwards: run steps from one
 * thread at a time. */
int runner_step_run(struct runner *r, const struct runner_rootfs *rf,
		    const struct runner_step *step, struct oci_layout *out,
		    const struct oci_layer_opts *lopts, struct runner_result *res,
		    struct pn_error **err);

/* --------------------------------------------------- long-running processes
 * For `pinion predict` / `pinion serve`: the command runs over rf with a
 * throwaway upper dir (removed on free), host network unless the step says
 * none, output inherited (interactive) or prefixed with step->name. */
struct runner_proc;
int runner_proc_start(struct runner *r, const struct runner_rootfs *rf,
		      const struct runner_step *step, struct runner_proc **out,
		      struct pn_error **err);
/* pid of the sandbox (in the host's pid namespace); signals go to it */
pid_t runner_proc_pid(const struct runner_proc *p);
/* wait up to timeout_ms (-1: forever): 1 exited (*status_out set), 0 still running */
int runner_proc_wait(struct runner_proc *p, int timeout_ms, int *status_out, struct pn_error **err);
/* SIGTERM, then SIGKILL after grace_ms; *status_out as runner_result.exit_status */
int runner_proc_stop(struct runner_proc *p, int grace_ms, int *status_out, struct pn_error **err);
void runner_proc_free(struct runner_proc *p); /* stops it if still running */

#endif
