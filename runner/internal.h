/* internal.h - shared inside runner/ only */
#ifndef PN_RUNNER_INTERNAL_H
#define PN_RUNNER_INTERNAL_H

#include "runner/runner.h"

#include <signal.h>
#include <sys/stat.h>

#define RUNNER_TAIL_DEFAULT 20
#define RUNNER_REPLY_MAX    ((size_t)1 << 20)

struct runner {
	char *cache_dir;
	char *snap_dir; /* <cache>/snapshots */
	char *run_dir;	/* <cache>/runs: per-step work dirs */
	struct runner_idmap idmap;
	bool no_overlay;
};

/* ------------------------------------------------------------ idmap.c */
/* give `pid` (which has just unshared its user namespace) its maps:
 * newuidmap/newgidmap for SUBID, direct writes otherwise */
int runner_idmap_apply(const struct runner_idmap *m, pid_t pid, struct pn_error **err);
/* once per process, in single mode: what that limits and how to fix it */
void runner_idmap_notice(const struct runner_idmap *m);

/* ------------------------------------------------------------- proto.c
 * A child reports to its parent through a pipe: one message, an error or a
 * reply body.  runner_report_* are async-signal-safe enough for a forked
 * child (they only write). */
void runner_report_error(int fd, const struct pn_error *e);
void runner_report_reply(int fd, const void *data, size_t len);
/* read everything from fd: 0 + *reply (owned, may be NULL) if the child
 * sent a reply or nothing, -1 + *err if it sent an error */
int runner_report_read(int fd, char **reply, size_t *reply_len, struct pn_error **err);
/* the same over bytes already read */
int runner_report_parse(const char *p, size_t len, char **reply, size_t *reply_len,
			struct pn_error **err);

/* Run fn in a forked child that is root in a new user namespace with r's
 * mapping (and in a private mount namespace).  The child's reply (optional)
 * comes back in *reply. */
typedef int (*runner_userns_fn)(void *arg, struct pn_buf *reply, struct pn_error **err);
int runner_userns_call(struct runner *r, runner_userns_fn fn, void *arg, char **reply,
		       size_t *reply_len, struct pn_error **err);
/* in a child: unshare the user namespace and wait for the parent to map it;
 * the parent side is runner_child_map() */
int runner_child_enter_userns(int sync_rd, int sync_wr, const struct runner_idmap *m,
			      struct pn_error **err);
int runner_parent_map_child(const struct runner_idmap *m, pid_t pid, int sync_rd, int sync_wr,
			    struct pn_error **err);

/* While pinion waits for a child (a sandbox, a user-namespace helper),
 * SIGTERM, SIGHUP, SIGINT and SIGQUIT go on to it (SIGINT and SIGQUIT are
 * ignored when interactive: the terminal sends them to the command), a
 * second one SIGKILLs it; the caller then cleans up and reports.  end()
 * restores the old handlers and returns the first signal received, or 0. */
#define RUNNER_GUARD_NSIG 4
struct runner_sig_guard {
	struct sigaction old[RUNNER_GUARD_NSIG];
};
void runner_sig_guard_begin(struct runner_sig_guard *g, pid_t pid, bool interactive);
int runner_sig_guard_end(struct runner_sig_guard *g);

/* ------------------------------------------------------------- user.c
 * Pure: resolve a user spec ("name", "uid", "uid:gid", "name:group") against
 * the text of /etc/passwd and /etc/group (either may be NULL). */
struct runner_user {
	uint32_t uid, gid;
	char *home; /* owned; "/" when unknown */
};
int runner_user_resolve(const char *spec, const char *passwd, const char *group,
			struct runner_user *out, struct pn_error **err);
void runner_user_release(struct runner_user *u);
/* Pure: env = config Env, then step env (NAME replaced), PATH defaulted;
 * HOME set from the user when absent */
void runner_env_build(const struct pn_strv *config_env, const char *const *step_env,
		      const char *home, struct pn_strv *out);

/* ------------------------------------------------------------- plan.c
 * The mount plan of a sandbox: what is mounted where, in order.  Pure: built
 * from the step and the host's files, executed by sandbox.c. */
enum runner_mount_kind {
	RUNNER_MNT_OVERLAY = 1, /* source: unused; data: the option string */
	RUNNER_MNT_BIND_RO,	/* host file/dir -> target */
	RUNNER_MNT_BIND_DEV,	/* host device -> target (rw) */
	RUNNER_MNT_PROC,
	RUNNER_MNT_TMPFS, /* data: options */
	RUNNER_MNT_DEVPTS,
	RUNNER_MNT_SECRET,  /* source: file in the secrets tmpfs -> target, ro */
	RUNNER_MNT_SYMLINK, /* source: link text, target: path */
	RUNNER_MNT_PROC_RO, /* a /proc path bound read-only over itself (skipped if missing) */
	RUNNER_MNT_BIND_RW, /* host dir -> target dir, writable, nosuid/nodev (a cache) */
};
struct runner_mount {
	enum runner_mount_kind kind;
	char *source;
	char *target; /* relative to the new root, without leading '/' */
	char *data;
};
struct runner_plan {
	struct runner_mount *m;
	size_t n, cap;
	struct pn_strv mountpoints; /* files/dirs the plan needs in the rootfs (never captured) */
};
void runner_plan_init(struct runner_plan *p);
void runner_plan_release(struct runner_plan *p);
/* lowers bottom first; secret_dir: the host-side tmpfs holding secret copies */
int runner_plan_build(struct runner_plan *p, const struct pn_strv *lowers, const char *upper,
		      const char *work, const char *mnt_layer, const struct runner_secret *secrets,
		      size_t n_secrets, const char *secret_dir, struct pn_error **err);
/* the step's cache mounts after the rest (their targets are directories,
 * never captured); PN_ERR_INVALID for a bad or repeated target */
int runner_plan_add_caches(struct runner_plan *p, const struct runner_cache_mount *c, size_t n,
			   struct pn_error **err);
/* true if lowers[i] appears again higher up the stack: overlay refuses a
 * directory twice, and the higher copy already decides every lookup (repeated
 * empty layers are common in images) */
bool runner_lower_shadowed(const struct pn_strv *lowers, size_t i);
/* the overlay option string (lowerdir top first), NULL + err if too long */
char *runner_overlay_options(const char *mnt_layer, const struct pn_strv *lowers, const char *upper,
			     const char *work, struct pn_error **err);
/* true if path (relative, no leading '/') must not be captured */
bool runner_plan_excluded(const struct runner_plan *p, const char *path);

/* ------------------------------------------------------------- diff.c */
/* Pure classification of an upper-dir entry */
enum runner_diff_kind {
	RUNNER_DIFF_ENTRY = 1, /* add as is */
	RUNNER_DIFF_WHITEOUT,  /* char 0:0: the path was removed */
	RUNNER_DIFF_OPAQUE,    /* directory whose lower contents are hidden */
};
enum runner_diff_kind runner_diff_classify(const struct stat *st, bool opaque_xattr);
/* "a/b/c" -> "a/b/.wh.c"; "c" -> ".wh.c" (owned) */
char *runner_whiteout_name(const char *path);
/* write the upper dir as a layer (run inside the user namespace) */
int runner_diff_write(const char *upper, const struct runner_plan *plan, struct oci_layout *out,
		      const struct oci_layer_opts *lopts, struct oci_layer_result *res,
		      struct pn_error **err);

/* --------------------------------------------------------- snapshot.c */
/* diff_id's snapshot of the layer blob: unpacked (and verified against
 * diff_id) unless there is one already and this blob is recorded as
 * unpacking to it (else the blob is read through once to check); a blob
 * whose content is another diff_id is PN_ERR_DIGEST and nothing is stored */
int runner_snapshot_ensure(struct runner *r, struct oci_layout *l,
			   const struct oci_descriptor *layer, const char *diff_id, char **path_out,
			   struct pn_error **err);
/* move a finished upper dir into the store as diff_id's snapshot; digest is
 * the layer blob the writer made of it (recorded as known to unpack to it) */
int runner_snapshot_adopt(struct runner *r, const char *upper, const char *digest,
			  const char *diff_id, struct pn_error **err);
char *runner_snapshot_path(struct runner *r, const char *diff_id);
/* Work dirs in use (a run dir, an unpack's .tmp- dir) are flock()ed by the
 * process using them, so prune leaves them alone.  lock: the fd holding the
 * lock (close it to release), or -1; busy: true if someone holds it. */
int runner_dir_lock(const char *dir);
bool runner_dir_busy(const char *dir);

/* ---------------------------------------------------------- sandbox.c */
struct runner_sandbox_cfg {
	struct runner *r;
	const struct runner_rootfs *rf;
	const struct runner_step *step;
	char *dir, *upper, *work, *merged, *mnt, *secrets; /* the run dir and its parts */
	struct runner_plan plan;
	bool copy_mode;		/* no overlay: merged is a copy (copy.c) */
	bool adopt;		/* keep the upper dir as the new layer's snapshot */
	struct oci_layout *out; /* commit into this layout, or NULL */
	const struct oci_layer_opts *lopts;
	int out_wr, rep_wr; /* output and report pipes (write ends) */
	int lock_fd;	    /* holds the run dir's lock (runner_dir_lock), or -1 */
};
/* make the run dir, the mount-point layer and the plan */
int runner_sandbox_prepare(struct runner_sandbox_cfg *c, struct pn_error **err);
void runner_sandbox_cfg_release(struct runner_sandbox_cfg *c);
/* fork the sandbox; out_rd_out NULL: output inherited */
int runner_sandbox_start(struct runner_sandbox_cfg *c, pid_t *pid_out, int *rep_rd_out,
			 int *out_rd_out, struct pn_error **err);

/* ------------------------------------------------------------- copy.c
 * The fallback where overlayfs cannot be mounted: merged is a copy of the
 * lowers (whiteouts applied); an index of (path, inode, ctime) taken after the
 * copy tells what the step changed, without hashing contents. */
#define RUNNER_COPY_INDEX "copy-index"
int runner_copy_prepare(const struct runner_sandbox_cfg *c, struct pn_error **err);
int runner_copy_diff_write(const struct runner_sandbox_cfg *c, struct oci_layer_result *res,
			   struct pn_error **err);

/* the contents of a small text file (a /proc or /etc file) without its
 * trailing newlines and spaces; NULL if it cannot be read or is over max */
char *runner_read_text(const char *path, size_t max);

#endif
