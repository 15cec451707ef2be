/* test_runner_sandbox.c - the sandbox on a tiny busybox rootfs: snapshots
 * from layers (whiteouts stack), a step's diff as a layer, reproducibility,
 * the copy fallback, failures, secrets, isolation, long-running processes.
 * Needs a static /bin/busybox and user namespaces (skipped without). */
#include "tests/unit/tap.h"
#include "runner/runner.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sched.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *base_cmds[] = {"sh",	  "ls",	   "cat",  "echo", "id", "mkdir",
				  "rm",	  "touch", "test", "grep", "wc", "sleep",
				  "true", "false", "cp",   "head", NULL};
static char *dir;   /* test root */
static char *cache; /* pinion cache */
static struct oci_layout *layout;
static struct runner_rootfs rf; /* base + layer 2 */

static void write_file(const char *path, const char *text)
{
	struct pn_error *err = NULL;

	if (pn_write_file_atomic(path, text, strlen(text), 0644, &err) < 0) {
		tap_diag("%s", err->msg);
		pn_error_free(err);
	}
}

static char *make_base_tree(void)
{
	char *root = pn_path_join(dir, "base");
	cleanup_free char *bin = pn_path_join(root, "bin");
	struct pn_error *err = NULL;

	pn_mkdir_p(bin, 0755, &err);
	for (const char *d[] = {"etc", "tmp", "opq", "root", "data", "data/sub", NULL}, **p = d; *p;
	     p++) {
		cleanup_free char *x = pn_path_join(root, *p);

		mkdir(x, 0755);
	}
	{
		cleanup_free char *bb = pn_path_join(bin, "busybox");
		cleanup_free char *cmd = xasprintf("cp /bin/busybox %s", bb);

		if (system(cmd) != 0)
			tap_diag("copy busybox failed");
	}
	for (size_t i = 0; base_cmds[i]; i++) {
		cleanup_free char *l = xasprintf("%s/%s", bin, base_cmds[i]);

		if (symlink("busybox", l) < 0)
			tap_diag("symlink %s: %s", l, strerror(errno));
	}
	cleanup_free char *pw = pn_path_join(root, "etc/passwd");
	cleanup_free char *keep = pn_path_join(root, "etc/keep");
	cleanup_free char *gone = pn_path_join(root, "etc/gone");
	cleanup_free char *old = pn_path_join(root, "opq/old");
	cleanup_free char *deep = pn_path_join(root, "data/sub/f");

	write_file(pw, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n");
	write_file(keep, "keep\n");
	write_file(gone, "gone\n");
	write_file(old, "old\n");
	write_file(deep, "deep\n");
	{
		cleanup_free char *xa = pn_path_join(root, "data/xa");

		write_file(xa, "xa\n");
		if (setxattr(xa, "user.pinion.test", "v", 1, 0) < 0)
			tap_diag("setxattr: %s", strerror(errno));
	}
	return root;
}

/* a layer from a host tree, stored in the layout */
static int layer_from_tree(const char *tree, struct oci_layer_result *res, bool whiteouts)
{
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct pn_error *err = NULL;
	int rc;

	oci_layer_opts_init(&o);
	o.normalize_owner = true; /* as any caller: the image's files are root's */
	w = oci_layer_writer_new(layout, &o, &err);
	if (!w)
		return -1;
	if (whiteouts) {
		rc = oci_layer_writer_add_dir(w, "etc", 0755, &err);
		rc = rc < 0 ? rc : oci_layer_writer_add_whiteout(w, "etc/gone", &err);
		rc = rc < 0 ? rc : oci_layer_writer_add_dir(w, "opq", 0755, &err);
		rc = rc < 0 ? rc
			    : oci_layer_writer_add_data(w, "opq/.wh..wh..opq", "", 0, 0644, &err);
		rc = rc < 0 ? rc : oci_layer_writer_add_data(w, "opq/new", "new\n", 4, 0644, &err);
	} else {
		rc = oci_layer_writer_add_tree(w, tree, "", &err);
	}
	rc = rc < 0 ? rc : oci_layer_writer_finish(w, res, &err);
	oci_layer_writer_free(w);
	if (rc < 0)
		tap_diag("layer: %s", err->msg);
	pn_error_free(err);
	return rc;
}

static struct runner *new_runner(bool no_overlay)
{
	struct runner_opts o;
	struct runner *r = NULL;
	struct pn_error *err = NULL;

	runner_opts_init(&o);
	o.cache_dir = cache;
	o.no_overlay = no_overlay;
	if (runner_new(&o, &r, &err) < 0) {
		tap_diag("runner: %s", err->msg);
		pn_error_free(err);
	}
	return r;
}

/* run a shell step; returns rc and fills res */
static int sh(struct runner *r, const char *script, struct oci_layout *out,
	      struct runner_result *res, struct pn_error **err)
{
	struct runner_step s = {.name = "t", .shell = script};

	return runner_step_run(r, &rf, &s, out, NULL, res, err);
}

/* the entry names of a stored layer blob, "\n"-joined */
static char *layer_names(const char *digest)
{
	cleanup_archive_read struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct pn_buf b = PN_BUF_INIT;
	cleanup_free char *path = oci_layout_blob_path(layout, digest);

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK)
		return xstrdup("(unreadable)");
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		pn_buf_printf(&b, NULL, "%s %u:%u %o %lld %s%s%s\n", archive_entry_pathname(e),
			      (unsigned)archive_entry_uid(e), (unsigned)archive_entry_gid(e),
			      (unsigned)archive_entry_mode(e), (long long)archive_entry_mtime(e),
			      archive_entry_hardlink(e) ? "link=" : "",
			      archive_entry_hardlink(e) ? archive_entry_hardlink(e) : "",
			      archive_entry_xattr_count(e) ? " xattrs" : "");
	return b.data ? pn_buf_steal(&b, NULL) : xstrdup("");
}

static void t_snapshots_stack(void)
{
	struct runner *r = new_runner(false);
	cleanup_free char *base = make_base_tree();
	struct oci_layer_result l1, l2;
	struct pn_error *err = NULL;
	struct runner_result res;
	struct runner_snapshot *snaps = NULL;
	size_t n = 0;

	ok(layer_from_tree(base, &l1, false) == 0 && layer_from_tree(NULL, &l2, true) == 0,
	   "two layers written");
	ok_call(runner_rootfs_push(r, &rf, layout, &l1.desc, l1.diff_id, &err), &err,
		"base snapshot");
	ok_call(runner_rootfs_push(r, &rf, layout, &l2.desc, l2.diff_id, &err), &err,
		"snapshot with whiteouts");
	ok_call(sh(r,
		   "test -e /etc/keep && test ! -e /etc/gone && test ! -e /opq/old && "
		   "test -e /opq/new",
		   NULL, &res, &err),
		&err, "whiteout and opaque dir of layer 2 hide layer 1's files");
	runner_result_release(&res);
	ok_call(runner_snapshots_list(r, &snaps, &n, &err), &err, "list snapshots");
	is_int(n, 2, "two snapshots");
	ok(n == 2 && snaps[0].bytes > 0 && snaps[0].last_used > 0, "size and last use known");
	runner_snapshots_free(snaps, n);
	oci_layer_result_release(&l1);
	oci_layer_result_release(&l2);
	runner_free(r);
}

/* an image's missing layers are unpacked in parallel, each once: three
 * layers, one of them twice, give two snapshots and three lowers in order;
 * a layer that fails its diff_id fails the prepare, leaves no temporary dir
 * and the good layer unpacked beside it is kept */
static void t_parallel_unpack(void)
{
	cleanup_free char *base = make_base_tree(), *saved = cache, *snaps = NULL;
	struct oci_layer_result l1, l2;
	struct pn_error *err = NULL;
	struct runner_snapshot *sn = NULL;
	struct runner_rootfs prf;
	struct oci_image img;
	struct runner *r;
	size_t n = 0;
	int tmps = 0;
	DIR *d;
	struct dirent *de;

	cache = pn_path_join(tap_tmpdir(), "cache-par");
	snaps = pn_path_join(cache, "snapshots");
	setenv("PINION_UNPACK_JOBS", "2", 1);
	r = new_runner(false);
	ok(layer_from_tree(base, &l1, false) == 0 && layer_from_tree(NULL, &l2, true) == 0,
	   "two layers written");
	oci_image_init(&img);
	for (int i = 0; i < 3; i++) {
		struct oci_layer_result *l = i == 1 ? &l2 : &l1;

		oci_manifest_add_layer(&img.manifest, &l->desc);
		oci_config_add_layer(&img.config, l->diff_id, "test");
	}
	runner_rootfs_init(&prf);
	ok_call(runner_rootfs_prepare(r, layout, &img, &prf, &err), &err, "three layers prepared");
	is_int(prf.lowers.n, 3, "three lowers");
	ok(prf.lowers.n == 3 && strcmp(prf.lowers.v[0], prf.lowers.v[2]) == 0 &&
		   strcmp(prf.lowers.v[0], prf.lowers.v[1]) != 0,
	   "the repeated layer is one snapshot");
	ok_call(runner_snapshots_list(r, &sn, &n, &err), &err, "list");
	is_int(n, 2, "two snapshots");
	runner_snapshots_free(sn, n);
	runner_rootfs_release(&prf);
	ok_call(runner_snapshots_prune(r, INT64_MAX, NULL, NULL, NULL, &err), &err, "prune all");
	/* layer 2's diff_id is not its content's */
	snprintf(img.config.diff_ids[1], sizeof(img.config.diff_ids[1]), "sha256:%064d", 0);
	img.manifest.n_layers = img.config.n_diff_ids = 2;
	runner_rootfs_init(&prf);
	ok_fail(runner_rootfs_prepare(r, layout, &img, &prf, &err), &err, PN_ERR_DIGEST,
		"does not match", "a wrong diff_id fails, as a digest error");
	is_int(prf.lowers.n, 0, "no lowers on failure");
	runner_rootfs_release(&prf);
	for (d = opendir(snaps); d && (de = readdir(d));)
		tmps += strncmp(de->d_name, ".tmp-", 5) == 0;
	if (d)
		closedir(d);
	is_int(tmps, 0, "no temporary dir left");
	ok_call(runner_snapshots_list(r, &sn, &n, &err), &err, "list");
	/* all or nothing, as t_poison asks of a refused image */
	is_int(n, 0, "no snapshot is kept when one layer of the image is refused");
	runner_snapshots_free(sn, n);
	unsetenv("PINION_UNPACK_JOBS");
	img.manifest.n_layers = img.config.n_diff_ids = 3;
	oci_image_release(&img);
	oci_layer_result_release(&l1);
	oci_layer_result_release(&l2);
	runner_free(r);
	free(cache);
	cache = steal_pointer(&saved);
}

/* a layer whose content is not what the config's diff_id says (a modified
 * blob under a manifest pointing at it) is refused, whether it would be
 * unpacked or a snapshot of that diff_id exists already, and nothing is stored
 * under either digest */
static void t_snapshot_wrong_diff_id(void)
{
	cleanup_free char *tree = make_base_tree(), *c2 = pn_path_join(dir, "cache-poison");
	cleanup_free char *snap = NULL, *evil_snap = NULL, *blobs = NULL, *list = NULL;
	cleanup_free char *sd = pn_path_join(c2, "snapshots");
	struct oci_layer_result good, evil;
	struct runner_rootfs one;
	struct runner_opts ro;
	struct runner *r = NULL;
	struct pn_error *err = NULL;
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct stat st;
	bool tmp_left = false;

	runner_opts_init(&ro);
	ro.cache_dir = c2;
	ok_call(runner_new(&ro, &r, &err), &err, "runner on a fresh cache");
	if (!r)
		return;
	runner_rootfs_init(&one);
	ok(layer_from_tree(tree, &good, false) == 0, "the legitimate layer");
	oci_layer_opts_init(&o);
	o.normalize_owner = true;
	w = oci_layer_writer_new(layout, &o, &err);
	ok_call(w && oci_layer_writer_add_tree(w, tree, "", &err) == 0 &&
				oci_layer_writer_add_data(w, "evil.pth", "import os\n", 10, 0644,
							  &err) == 0
			? oci_layer_writer_finish(w, &evil, &err)
			: -1,
		&err, "the same layer plus a .pth file");
	oci_layer_writer_free(w);
	snap = xasprintf("%s/%s", sd, oci_digest_hex(good.diff_id));
	evil_snap = xasprintf("%s/%s", sd, oci_digest_hex(evil.diff_id));
	blobs = pn_path_join(snap, "blobs");

	ok_fail(runner_rootfs_push(r, &one, layout, &evil.desc, good.diff_id, &err), &err,
		PN_ERR_DIGEST, good.diff_id,
		"unpacking the modified blob under the legitimate diff_id is refused");
	ok(stat(snap, &st) < 0 && stat(evil_snap, &st) < 0,
	   "no snapshot under the config's diff_id nor the content's");
	{
		cleanup_dir DIR *d = opendir(sd);
		struct dirent *de;

		while (d && (de = readdir(d)))
			tmp_left |= strncmp(de->d_name, ".tmp-", 5) == 0;
	}
	ok(!tmp_left, "no unpack directory left behind");
	ok_call(runner_rootfs_push(r, &one, layout, &good.desc, good.diff_id, &err), &err,
		"the legitimate blob is unpacked under its diff_id");
	ok(stat(snap, &st) == 0, "and stored");
	ok_fail(runner_rootfs_push(r, &one, layout, &evil.desc, good.diff_id, &err), &err,
		PN_ERR_DIGEST, good.diff_id,
		"the existing snapshot is not handed out for the modified blob");
	pn_read_file(blobs, 1 << 16, &list, NULL, NULL);
	ok(list && strstr(list, good.desc.digest) && !strstr(list, evil.desc.digest),
	   "the snapshot records the legitimate blob only");
	ok_call(runner_rootfs_push(r, &one, layout, &good.desc, good.diff_id, &err), &err,
		"the legitimate blob still uses it");
	is_int(one.lowers.n, 2, "two lowers pushed");
	runner_rootfs_release(&one);
	oci_layer_result_release(&good);
	oci_layer_result_release(&evil);
	runner_free(r);
}

static void t_step_commit(void)
{
	struct runner *r = new_runner(false);
	struct runner *rc_ = new_runner(true);
	struct runner_result res, res2, res3;
	struct pn_error *err = NULL;
	bool single = r && runner_get_idmap(r)->mode == RUNNER_IDMAP_SINGLE;
	/* with a single id mapped, chown to 42 cannot work: own the file as root */
	const char *script =
		single ? "echo new > /etc/new && rm /etc/keep && mkdir -p /d && echo f > /d/f && "
			 "touch /d/owned && cat /etc/resolv.conf >/dev/null"
		       : "echo new > /etc/new && rm /etc/keep && mkdir -p /d && echo f > /d/f && "
			 "touch /d/owned && chown 42:7 /d/owned && cat /etc/resolv.conf >/dev/null";
	cleanup_free char *names = NULL;

	ok_call(sh(r, script, layout, &res, &err), &err, "step with commit");
	ok(res.committed && res.exit_status == 0, "committed, status 0");
	names = layer_names(res.layer.desc.digest);
	ok(tap_contains(names, "etc/new 0:0"), "new file in the layer, root-owned");
	ok(tap_contains(names, "etc/.wh.keep"), "whiteout for the removed file");
	ok(tap_contains(names, "d/f"), "file in a new directory");
	ok(tap_contains(names, single ? "d/owned 0:0" : "d/owned 42:7"),
	   "ownership as seen inside (%s)", single ? "0:0, single id" : "42:7");
	ok(!tap_contains(names, "resolv.conf") && !tap_contains(names, "hosts") &&
		   !tap_contains(names, "dev/") && !tap_contains(names, "proc/"),
	   "mount points not captured");
	if (!tap_contains(names, "etc/new"))
		tap_diag("layer:\n%s", names);
	ok_call(sh(r, script, layout, &res2, &err), &err, "same step again");
	is_str(res2.layer.desc.digest, res.layer.desc.digest, "same change, same layer digest");
	ok_call(sh(rc_, script, layout, &res3, &err), &err, "same step with the copy fallback");
	is_str(res3.layer.diff_id, res.layer.diff_id, "copy fallback gives the same diff");
	if (strcmp(res3.layer.diff_id, res.layer.diff_id)) {
		cleanup_free char *n3 = layer_names(res3.layer.desc.digest);

		tap_diag("copy layer:\n%s\noverlay layer:\n%s", n3, names);
	}
	/* the upper dir became the new layer's snapshot: pushing it is free */
	ok_call(runner_rootfs_push(r, &rf, layout, &res.layer.desc, res.layer.diff_id, &err), &err,
		"push the committed layer");
	runner_result_release(&res2);
	ok_call(sh(r, "test -e /etc/new && test ! -e /etc/keep && test -e /d/f", NULL, &res2, &err),
		&err, "next step sees the committed change");
	runner_result_release(&res);
	runner_result_release(&res2);
	runner_result_release(&res3);
	runner_free(r);
	runner_free(rc_);
}

/* every kind of change, through overlay and through the copy fallback: an
 * opaque directory, a symlink, a hardlink, mode and owner changes of lower
 * files, a lower file with an xattr changed (overlay copies the xattr up, so
 * the copy must keep it too); both give the same layer */
static void t_diff_kinds(void)
{
	struct runner *r = new_runner(false);
	struct runner *rc_ = new_runner(true);
	bool single = r && runner_get_idmap(r)->mode == RUNNER_IDMAP_SINGLE;
	cleanup_free char *script =
		xasprintf("rm -rf /opq && mkdir /opq && echo n >/opq/fresh && ln -s ../etc/keep "
			  "/data/link && "
			  "echo h >/data/h1 && ln /data/h1 /data/h2 && chmod 600 /data/sub/f && "
			  "chmod 640 /data/xa%s",
			  single ? "" : " && chown 5:6 /etc/passwd");
	struct runner_result res, res2;
	struct pn_error *err = NULL;
	cleanup_free char *names = NULL;
	cleanup_free char *names2 = NULL;

	ok_call(sh(r, script, layout, &res, &err), &err, "changes of every kind (overlay)");
	names = layer_names(res.layer.desc.digest);
	ok(tap_contains(names, "opq/.wh..wh..opq ") && tap_contains(names, "opq/fresh ") &&
		   !tap_contains(names, "opq/new "),
	   "a recreated directory is opaque");
	ok(tap_contains(names, "data/link 0:0 120777"), "symlink");
	ok(tap_contains(names, "link=data/h1") || tap_contains(names, "link=data/h2"),
	   "hardlink kept as a link");
	ok(tap_contains(names, "data/sub/f 0:0 100600"), "mode change of a lower file");
	ok(tap_contains(names, "data/xa 0:0 100640") && tap_contains(names, "xattrs"),
	   "a changed lower file keeps its xattr");
	ok(single || tap_contains(names, "etc/passwd 5:6 "), "owner change of a lower file");
	ok_call(sh(rc_, script, layout, &res2, &err), &err, "the same with the copy fallback");
	names2 = layer_names(res2.layer.desc.digest);
	is_str(res2.layer.diff_id, res.layer.diff_id, "copy fallback gives the same layer");
	if (strcmp(res2.layer.diff_id, res.layer.diff_id))
		tap_diag("overlay:\n%s\ncopy:\n%s", names, names2);
	runner_result_release(&res);
	runner_result_release(&res2);
	runner_free(r);
	runner_free(rc_);
}

/* what a step sees: the image config's Env, WorkingDir and User under the
 * step's own, no_new_privs, no inherited fds, the minimal /dev */
static void t_inside(void)
{
	struct runner *r = new_runner(false);
	bool single = r && runner_get_idmap(r)->mode == RUNNER_IDMAP_SINGLE;
	struct oci_config cfg;
	const char *env[] = {"FOO=step", NULL};
	cleanup_free char *script = xasprintf(
		"test \"$FOO\" = step && test \"$BAR\" = img && test \"$(pwd)\" = /data && "
		"test \"$(id -u)\" = %s && grep -q \"^NoNewPrivs:.*1\" /proc/self/status && "
		"test \"$(ls /proc/self/fd | wc -l)\" -eq 4 && test -c /dev/null && "
		"test -c /dev/zero && test -c /dev/full && test -c /dev/random && "
		"test -c /dev/urandom && test -c /dev/tty && test -c /dev/pts/ptmx && "
		"test -d /dev/shm && test \"$(ls /dev | wc -l)\" -le 15",
		single ? "0" : "65534");
	struct runner_step s = {.name = "inside", .shell = script, .config = &cfg, .env = env};
	struct runner_result res;
	struct pn_error *err = NULL;
	int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */

	memset(&cfg, 0, sizeof(cfg));
	pn_strv_push(&cfg.env, "FOO=img");
	pn_strv_push(&cfg.env, "BAR=img");
	cfg.working_dir = (char *)"/data";
	cfg.user = single ? NULL : (char *)"nobody";
	ok_call(runner_step_run(r, &rf, &s, NULL, NULL, &res, &err), &err,
		"config env/workdir/user under the step's, no_new_privs, no fds, minimal /dev");
	if (res.tail)
		tap_diag("%s", res.tail);
	runner_result_release(&res);
	pn_strv_release(&cfg.env);
	close(leak);
	runner_free(r);
}

/* a hostile layer: a symlink out of the rootfs and a whiteout "under" it;
 * keeping the whiteout must not create anything through the link */
static void t_hostile_whiteout(void)
{
	struct runner *r = new_runner(false);
	cleanup_free char *tree = pn_path_join(dir, "hostile-tree");
	cleanup_free char *outside = pn_path_join(dir, "hostile-outside");
	cleanup_free char *link = pn_path_join(tree, "link");
	cleanup_free char *victim = pn_path_join(outside, "pwned");
	struct runner_rootfs one;
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result l;
	struct pn_error *err = NULL;
	int rc;

	mkdir(tree, 0755);
	mkdir(outside, 0755);
	if (symlink(outside, link) < 0)
		tap_diag("symlink: %s", strerror(errno));
	oci_layer_opts_init(&o);
	w = oci_layer_writer_new(layout, &o, &err);
	rc = w ? oci_layer_writer_add_tree(w, tree, "", &err) : -1;
	rc = rc < 0 ? rc : oci_layer_writer_add_whiteout(w, "link/pwned", &err);
	rc = rc < 0 ? rc : oci_layer_writer_finish(w, &l, &err);
	oci_layer_writer_free(w);
	ok_call(rc, &err, "hostile layer written");
	runner_rootfs_init(&one);
	ok_fail(rc == 0 ? runner_rootfs_push(r, &one, layout, &l.desc, l.diff_id, &err) : -1, &err,
		PN_ERR_INVALID, "symlink", "a whiteout under a symlink is refused");
	ok(access(victim, F_OK) < 0 && errno == ENOENT, "nothing created through the link");
	runner_rootfs_release(&one);
	if (rc == 0)
		oci_layer_result_release(&l);
	runner_free(r);
}

/* root where user namespaces are not available (forced here): the step
 * still runs in its own mount and pid namespaces, in the host's user
 * namespace, and commits */
static void t_root_without_userns(void)
{
	char ns[64] = "";
	ssize_t n = readlink("/proc/self/ns/user", ns, sizeof(ns) - 1);
	cleanup_free char *env0 = xasprintf("HOSTNS=%s", n > 0 ? ns : "?");
	const char *env[] = {env0, NULL};
	struct runner_step s = {
		.name = "nouserns",
		.env = env,
		.shell = "ls -l /proc/self/ns/user | grep -qF \"$HOSTNS\" && "
			 "test $(ls -d /proc/[0-9]* | wc -l) -le 6 && touch /nousers"};
	struct runner *r;
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *names = NULL;

	if (geteuid() != 0) {
		tap_diag("not root: nothing to test");
		return;
	}
	setenv("PINION_RUNNER_NO_USERNS", "1", 1);
	r = new_runner(false);
	ok_call(runner_step_run(r, &rf, &s, layout, NULL, &res, &err), &err,
		"root without a user namespace: own pid namespace, host user namespace");
	names = res.committed ? layer_names(res.layer.desc.digest) : xstrdup("");
	ok(tap_contains(names, "nousers 0:0"), "and it commits");
	unsetenv("PINION_RUNNER_NO_USERNS");
	runner_result_release(&res);
	runner_free(r);
	r = new_runner(false);
	ok_fail(runner_step_run(r, &rf, &s, NULL, NULL, &res, &err), &err, 0, "status 1",
		"with a user namespace the step is in another one");
	runner_result_release(&res);
	runner_free(r);
}

/* builds sharing a cache unpack the same layer at once: one snapshot wins
 * (unpacked in a temporary dir, renamed into place), the others reuse it, and
 * nothing half-made is left */
static void t_concurrent_unpack(void)
{
	cleanup_free char *base = pn_path_join(dir, "base");
	cleanup_free char *shared = pn_path_join(dir, "cache-shared");
	cleanup_free char *snaps = pn_path_join(shared, "snapshots");
	char *saved = cache;
	struct oci_layer_result l;
	pid_t kids[4];
	int good = 0, entries = 0;
	DIR *d;
	struct dirent *de;

	ok(layer_from_tree(base, &l, false) == 0, "layer written");
	cache = shared;
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct runner *r = new_runner(false);
			struct runner_rootfs one;
			struct pn_error *err = NULL;

			runner_rootfs_init(&one);
			_exit(r && runner_rootfs_push(r, &one, layout, &l.desc, l.diff_id, &err) ==
						      0
				      ? 0
				      : 1);
		}
	}
	cache = saved;
	for (int i = 0; i < 4; i++) {
		int st;

		if (kids[i] > 0 && waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0)
			good++;
	}
	is_int(good, 4, "four processes unpack the same layer at once");
	if ((d = opendir(snaps))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp-", 5) == 0)
				entries++;
		closedir(d);
	}
	is_int(entries, 1, "one snapshot, no temporary dirs left");
	oci_layer_result_release(&l);
}

/* a step that only reads changes nothing: the layer is empty, through
 * overlay and through the copy fallback (the diff follows the change, and
 * mount points, /proc, /dev, resolv.conf and hosts never show up) */
static void t_read_only_step(void)
{
	const char *script = "cat /etc/passwd /etc/resolv.conf /etc/hosts >/dev/null && ls -R / "
			     ">/dev/null 2>&1; ls /proc/self/fd /dev >/dev/null";

	for (int copy = 0; copy < 2; copy++) {
		struct runner *r = new_runner(copy);
		struct runner_result res;
		struct pn_error *err = NULL;
		cleanup_free char *names = NULL;

		ok_call(sh(r, script, layout, &res, &err), &err, "read-only step (%s)",
			copy ? "copy" : "overlay");
		names = res.committed ? layer_names(res.layer.desc.digest) : xstrdup("?");
		is_str(names, "", "its layer is empty (%s)", copy ? "copy" : "overlay");
		runner_result_release(&res);
		runner_free(r);
	}
}

/* in a child process: run a long step and report how it ended */
static void interrupted_child(int sig)
{
	struct runner *r = new_runner(false);
	struct runner_step s = {.name = "long", .shell = "sleep 100"};
	struct runner_result res;
	struct pn_error *err = NULL;
	int rc = runner_step_run(r, &rf, &s, layout, NULL, &res, &err);

	_exit(rc < 0 && err && strstr(err->msg, "interrupted by SIG") && !res.committed &&
			      res.exit_status == 128 + sig
		      ? 0
		      : 1);
}

static int count_entries(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	int n = 0;

	while (dd && (de = readdir(dd)))
		n += de->d_name[0] != '.';
	if (dd)
		closedir(dd);
	return n;
}

/* SIGTERM or SIGINT to pinion during a (non-interactive) step: the step is
 * stopped, the call returns "interrupted", the run dir is gone */
static void t_interrupt(void)
{
	cleanup_free char *runs = pn_path_join(cache, "runs");
	const int sigs[] = {SIGTERM, SIGINT};

	for (size_t i = 0; i < 2; i++) {
		pid_t pid = fork();
		int st = -1;

		if (pid == 0)
			interrupted_child(sigs[i]);
		for (int t = 0; t < 100 && count_entries(runs) == 0; t++)
			usleep(20000);
		usleep(300000); /* the sandbox is up and sleeping */
		kill(pid, sigs[i]);
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: step interrupted, nothing committed",
		   sigabbrev_np(sigs[i]));
		is_int(count_entries(runs), 0, "%s: no run dir left", sigabbrev_np(sigs[i]));
	}
}

/* a directory of a lower layer renamed: overlay (userxattr: no redirects)
 * copies it up whole, so the layer is complete */
static void t_rename_dir(void)
{
	struct runner *r = new_runner(false);
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *names = NULL;

	ok_call(sh(r, "mv /data/sub /data/moved", layout, &res, &err), &err, "rename a lower dir");
	names = layer_names(res.layer.desc.digest);
	ok(tap_contains(names, "data/moved/f "), "renamed dir carries its files");
	ok(tap_contains(names, "data/.wh.sub "), "old name whited out");
	if (!tap_contains(names, "data/moved/f "))
		tap_diag("layer:\n%s", names);
	runner_result_release(&res);
	runner_free(r);
}

static void t_failures(void)
{
	struct runner *r = new_runner(false);
	struct runner_result res;
	struct pn_error *err = NULL;
	const char *missing[] = {"no-such-command", "x", NULL};
	struct runner_step s = {.name = "missing", .argv = missing};
	struct runner_step wd = {.name = "wd", .shell = "true", .workdir = "/nope"};
	struct runner_step usr = {.name = "usr", .shell = "true", .user = "ghost"};

	ok_fail(sh(r, "echo first; echo last words; exit 3", layout, &res, &err), &err, 0,
		"exited with status 3", "exit 3 reported");
	is_int(res.exit_status, 3, "status 3 in the result");
	ok(!res.committed, "nothing committed");
	ok(res.tail && tap_contains(res.tail, "last words"), "last lines kept");
	runner_result_release(&res);
	ok_fail(runner_step_run(r, &rf, &s, NULL, NULL, &res, &err), &err, PN_ERR_NOT_FOUND,
		"command `no-such-command` not found", "missing command is a clear error");
	is_int(res.exit_status, 127, "a missing command is status 127");
	runner_result_release(&res);
	ok_fail(runner_step_run(r, &rf, &wd, NULL, NULL, &res, &err), &err, PN_ERR_NOT_FOUND,
		"working directory `/nope`", "missing working directory");
	is_int(res.exit_status, 126, "a missing working directory is status 126");
	runner_result_release(&res);
	ok_fail(runner_step_run(r, &rf, &usr, NULL, NULL, &res, &err), &err, PN_ERR_INVALID,
		"user `ghost`", "unknown user");
	is_int(res.exit_status, 126, "an unknown user is status 126 (as runner.h says)");
	runner_result_release(&res);
	ok_fail(sh(r, "kill -9 $$", NULL, &res, &err), &err, 0, "status 137", "killed by a signal");
	runner_result_release(&res);
	runner_free(r);
}

/* the copy fallback copies the mount-point layer too: the secret's target
 * must stay out of its layer as well */
static void secret_with_copy(const struct runner_step *s)
{
	struct runner *r = new_runner(true);
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *names = NULL;

	ok_call(runner_step_run(r, &rf, s, layout, NULL, &res, &err), &err,
		"secret step with the copy fallback");
	names = layer_names(res.layer.desc.digest);
	ok(!tap_contains(names, "run/") && tap_contains(names, "used-secret"),
	   "copy fallback: the secret target is not in the layer");
	if (tap_contains(names, "run/"))
		tap_diag("layer:\n%s", names);
	runner_result_release(&res);
	runner_free(r);
}

/* a cache mount: what the step writes there lands in the host dir, not in
 * its layer; the next step sees it; with the overlay and the copy fallback */
static void t_cache_mount(void)
{
	cleanup_free char *host = pn_path_join(dir, "pkgcache-pip");
	cleanup_free char *kept = pn_path_join(host, "wheel");
	const struct runner_cache_mount cm = {host, "/run/pinion-cache/pip"};
	struct runner_step s = {.name = "cache",
				.caches = &cm,
				.n_caches = 1,
				.shell = "echo w > /run/pinion-cache/pip/wheel && echo x > /made"};
	struct runner_step again = {.name = "again",
				    .caches = &cm,
				    .n_caches = 1,
				    .shell = "test \"$(cat /run/pinion-cache/pip/wheel)\" = w"};

	mkdir(host, 0755);
	for (int copy = 0; copy < 2; copy++) {
		struct runner *r = new_runner(copy);
		struct runner_result res;
		struct pn_error *err = NULL;
		cleanup_free char *names = NULL;

		unlink(kept);
		ok_call(runner_step_run(r, &rf, &s, layout, NULL, &res, &err), &err,
			"a step with a cache mount (%s)", copy ? "copy fallback" : "overlay");
		names = layer_names(res.layer.desc.digest);
		ok(access(kept, F_OK) == 0, "its file is in the host dir");
		ok(tap_contains(names, "made") && !tap_contains(names, "pinion-cache") &&
			   !tap_contains(names, "run/"),
		   "the layer has the step's file, nothing of the cache or its mount point");
		if (!tap_contains(names, "made") || tap_contains(names, "run/"))
			tap_diag("layer:\n%s", names);
		runner_result_release(&res);
		ok_call(runner_step_run(r, &rf, &again, NULL, NULL, &res, &err), &err,
			"the next step sees it");
		runner_result_release(&res);
		runner_free(r);
	}
}

static void t_isolation(void)
{
	struct runner *r = new_runner(false);
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *outside = pn_path_join(dir, "outside-created");
	cleanup_free char *hostfile = pn_path_join(dir, "host-secret.json");
	cleanup_free char *script = NULL;
	cleanup_free char *secret = pn_path_join(dir, "token");
	struct runner_secret sec = {"tok", secret, NULL};
	struct runner_step s = {.name = "secret",
				.secrets = &sec,
				.n_secrets = 1,
				.shell =
					"test \"$(cat /run/secrets/tok)\" = s3cr3t-PINION-bytes && "
					"echo ok > /used-secret"};
	struct runner_step none = {.name = "net",
				   .network = RUNNER_NET_NONE,
				   .shell = "test $(grep -c : /proc/net/dev) -eq 1"};
	cleanup_free char *names = NULL;
	cleanup_free char *blob = NULL;

	write_file(hostfile, "{\"auths\":{}}\n");
	write_file(secret, "s3cr3t-PINION-bytes");
	script = xasprintf(
		"touch %s; touch /../../%s; cat %s; test $(ls -d /proc/[0-9]* | wc -l) -le 6",
		outside, outside, hostfile);
	ok_call(sh(r, script, NULL, &res, &err), &err,
		"step runs (only its own processes visible)");
	runner_result_release(&res);
	ok(access(outside, F_OK) < 0, "no file created outside the rootfs");
	ok_fail(sh(r, "cat /proc/1/root/../../../../etc/shadow >/dev/null 2>&1 || exit 9", NULL,
		   &res, &err),
		&err, 0, "status 9", "host files unreachable through /proc");
	runner_result_release(&res);
	ok_call(runner_step_run(r, &rf, &s, layout, NULL, &res, &err), &err,
		"secret readable in its step");
	names = layer_names(res.layer.desc.digest);
	ok(!tap_contains(names, "run/secrets"), "secret target not in the layer");
	ok(tap_contains(names, "used-secret"), "the step's own file is");
	{
		cleanup_free char *path = oci_layout_blob_path(layout, res.layer.desc.digest);
		size_t len = 0;

		pn_read_file(path, 1 << 20, &blob, &len, &err);
		pn_error_clear(&err);
		ok(blob && !memmem(blob, len, "s3cr3t", 6), "secret bytes in no blob");
	}
	runner_result_release(&res);
	ok_call(sh(r, "test ! -e /run/secrets/tok", NULL, &res, &err), &err,
		"secret gone in the next step");
	runner_result_release(&res);
	ok_call(runner_step_run(r, &rf, &none, NULL, NULL, &res, &err), &err,
		"--network none: only lo");
	runner_result_release(&res);
	runner_free(r);
	secret_with_copy(&s);
}

/* ----------------------------------------------------------- escape
 * The probe every escape test runs inside (the e2e copy is in
 * tests/e2e/t_escape.sh): from every /proc/PID/fd/N (N 0-15 and whatever is
 * listed), task fds, map_files, cwd, root, exe, environ and cmdline, and
 * `..` chains up from each, it tries to read the host canary C (printing
 * any line with the marker), to write into the host dir E, and to reach a
 * directory whose `..`s do not end at the sandbox's own root.  It prints
 * READ/WROTE/OUTSIDE for each success and "attempts N" at the end. */
#define ESCAPE_PROBE                                                                               \
	"M=PINION-CAN\n"                                                                           \
	"U=../../../../../../../../../../../../../../../../../../../../../../../../../..\n"        \
	"B=${C##*/} D=${C%/*} EB=${E##*/}\n"                                                       \
	"DB=${D##*/}\n"                                                                            \
	"n=0\n"                                                                                    \
	"rd() { n=$((n+1)); [ -f \"$1\" ] && head -c 65536 \"$1\" 2>/dev/null | grep -a "          \
	"\"${M}ARY\" && echo \"READ $1\"; return 0; }\n"                                           \
	"wr() { n=$((n+1)); (echo x >\"$1\") 2>/dev/null && echo \"WROTE $1\"; return 0; }\n"      \
	"up() { n=$((n+1)); [ -d \"$1\" ] && ! [ \"$1/$U\" -ef / ] && echo \"OUTSIDE $1\"; "       \
	"return 0; }\n"                                                                            \
	"walk() {\n"                                                                               \
	"  rd \"$1\"; up \"$1\"; rd \"$1/$U$C\"; wr \"$1/$U$E/w$n\"; d=$1\n"                       \
	"  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do\n"                                              \
	"    rd \"$d/$B\"; rd \"$d/$DB/$B\"; up \"$d\"; wr \"$d/$EB/w$n\"; d=$d/..\n"              \
	"  done\n"                                                                                 \
	"}\n"                                                                                      \
	"for pid in /proc/[0-9]*; do\n"                                                            \
	"  for f in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do walk \"$pid/fd/$f\"; done\n"         \
	"  for p in \"$pid\"/fd/* \"$pid\"/task/*/fd/* \"$pid\"/map_files/* \"$pid/cwd\" "         \
	"\"$pid/root\" \"$pid/exe\" \"$pid/environ\" \"$pid/cmdline\"; do walk \"$p\"; done\n"     \
	"done\n"                                                                                   \
	"echo \"attempts $n\"\n"

struct escape_env {
	char *host, *canary, *empty; /* host dir, canary file in it, dir that must stay empty */
	char *secret;		     /* the canary's random content */
	int fds[2];		     /* inherited (not close-on-exec): the host dir, the canary */
};

static void escape_env_init(struct escape_env *x)
{
	unsigned char rnd[16];
	char hex[33];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
		tap_diag("urandom");
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	x->secret = xasprintf("%s", hex);
	x->host = pn_path_join(dir, "esc-host");
	x->canary = pn_path_join(x->host, "canary");
	x->empty = pn_path_join(dir, "esc-empty");
	mkdir(x->host, 0755);
	mkdir(x->empty, 0777);
	chmod(x->empty, 0777);
	{
		cleanup_free char *text = xasprintf("PINION-CANARY-%s\n", hex);

		write_file(x->canary, text);
	}
	/* the caller's leaks: pinion must not pass them on */
	x->fds[0] = open(x->host, O_RDONLY | O_DIRECTORY);
	x->fds[1] = open(x->canary, O_RDONLY);
	{
		cleanup_free char *v = xasprintf("PINION-CANARY-%s", x->secret);

		setenv("PINION_ESCAPE_CANARY", v, 1);
	}
}

static void escape_env_release(struct escape_env *x)
{
	close(x->fds[0]);
	close(x->fds[1]);
	unsetenv("PINION_ESCAPE_CANARY");
	free(x->host);
	free(x->canary);
	free(x->empty);
	free(x->secret);
}

static char *escape_script(const struct escape_env *x, const char *out)
{
	return xasprintf("C=%s E=%s\n{\n%s} >%s 2>&1; grep attempts %s", x->canary, x->empty,
			 ESCAPE_PROBE, out, out);
}

/* the escape attempts a probe's output reports, -1 if none */
static long escape_attempts(const char *text, size_t len)
{
	const char *a = text ? memmem(text, len, "attempts ", 9) : NULL;

	return a ? strtol(a + 9, NULL, 10) : -1;
}

static long escape_total; /* attempts made, all contained */

/* nothing of the host reached: the canary in none of text, the empty dir
 * empty, no success line */
static void escape_check(const struct escape_env *x, const char *what, const char *text, size_t len)
{
	long n = escape_attempts(text, len);

	ok(text && !memmem(text, len, x->secret, strlen(x->secret)), "%s: canary never read", what);
	ok(text && !memmem(text, len, "READ /", 6) && !memmem(text, len, "WROTE /", 7) &&
		   !memmem(text, len, "OUTSIDE /", 9),
	   "%s: no read, write or way out reported", what);
	is_int(count_entries(x->empty), 0, "%s: the host dir stays empty", what);
	ok(n > 1000, "%s: %ld attempts, all contained", what, n);
	if (n > 0)
		escape_total += n;
}

/* the uncompressed layer blob of a step that ran the probe */
static void escape_build(struct runner *r, const struct escape_env *x, const char *what)
{
	cleanup_free char *script = escape_script(x, "/escape.log");
	struct runner_step s = {.name = "escape", .shell = script};
	struct oci_layer_opts o;
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *blob = NULL;
	size_t len = 0;

	oci_layer_opts_init(&o);
	o.compression = OCI_COMP_NONE;
	ok_call(runner_step_run(r, &rf, &s, layout, &o, &res, &err), &err, "%s: probe step ran",
		what);
	if (res.committed) {
		cleanup_free char *path = oci_layout_blob_path(layout, res.layer.desc.digest);

		pn_read_file(path, 64 << 20, &blob, &len, &err);
		pn_error_clear(&err);
	}
	ok(blob && memmem(blob, len, "escape.log", 10), "%s: its log is in the layer", what);
	escape_check(x, what, blob, len);
	ok(res.tail && !strstr(res.tail, x->secret), "%s: nor in the output", what);
	runner_result_release(&res);
}

/* a long-running process (pinion predict/serve), output inherited: the
 * test's stdout is a host file here, which the process must get as a pipe */
static void escape_proc(struct runner *r, const struct escape_env *x)
{
	cleanup_free char *outf = pn_path_join(dir, "esc-proc.out");
	cleanup_free char *script = xasprintf("test -p /proc/self/fd/1 || echo stdout-not-a-pipe\n"
					      "C=%s E=%s\n%s",
					      x->canary, x->empty, ESCAPE_PROBE);
	struct runner_step s = {.name = "escape-proc", .shell = script};
	struct runner_proc *p = NULL;
	struct pn_error *err = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int status = -1, saved = dup(1), fd = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	fflush(stdout);
	dup2(fd, 1);
	close(fd);
	if (runner_proc_start(r, &rf, &s, &p, &err) == 0)
		runner_proc_wait(p, -1, &status, &err);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	ok(p && status == 0, "proc: the probe ran (status %d)", status);
	pn_error_clear(&err);
	runner_proc_free(p);
	pn_read_file(outf, 64 << 20, &text, &len, NULL);
	ok(text && !strstr(text, "stdout-not-a-pipe"), "proc: a host file as stdout is relayed");
	escape_check(x, "proc", text, len);
}

/* pinion run: interactive, 0-2 inherited.  A directory as stdin becomes
 * /dev/null, a host file as stdout a pipe (its lines still reach the file) */
static void escape_stdio(struct runner *r, const struct escape_env *x)
{
	cleanup_free char *outf = pn_path_join(dir, "esc-stdio.out");
	struct runner_step s = {.name = "stdio",
				.interactive = true,
				.shell = "test -c /proc/self/fd/0 && test -p /proc/self/fd/1 && "
					 "test ! -d /proc/self/fd/0/. && echo relayed-line"};
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int s0 = dup(0), s1 = dup(1), fd = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc;

	fflush(stdout);
	dup2(x->fds[0], 0);
	dup2(fd, 1);
	close(fd);
	rc = runner_step_run(r, &rf, &s, NULL, NULL, &res, &err);
	fflush(stdout);
	dup2(s0, 0);
	dup2(s1, 1);
	close(s0);
	close(s1);
	ok_call(rc, &err, "interactive step: stdin a directory, stdout a host file");
	runner_result_release(&res);
	pn_read_file(outf, 1 << 20, &text, &len, NULL);
	ok(text && strstr(text, "relayed-line"), "its output reached the file through the relay");
}

/* stdout_fd: an interactive step's stdout goes to that file (relayed through
 * a pipe like any host file) and the caller's own stdout is left alone */
static void escape_stdout_fd(struct runner *r)
{
	cleanup_free char *outf = pn_path_join(dir, "esc-stdout-fd.out");
	cleanup_close int fd = open(outf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct runner_step s = {.name = "capture",
				.interactive = true,
				.shell = "test -p /proc/self/fd/1 && echo captured-line"};
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	struct stat before, after;
	int rc;

	s.stdout_fd = fd;
	fstat(STDOUT_FILENO, &before);
	rc = runner_step_run(r, &rf, &s, NULL, NULL, &res, &err);
	fstat(STDOUT_FILENO, &after);
	ok_call(rc, &err, "interactive step with stdout_fd");
	runner_result_release(&res);
	pn_read_file(outf, 1 << 20, &text, &len, NULL);
	is_str(text, "captured-line\n", "its stdout reached the file through the relay");
	ok(before.st_dev == after.st_dev && before.st_ino == after.st_ino,
	   "the caller's stdout is unchanged");
}

/* stderr_fd: an interactive step's stderr goes to that file, its stdout
 * elsewhere (the post-build keeps pinion's stderr for progress events) */
static void escape_stderr_fd(struct runner *r)
{
	cleanup_free char *outf = pn_path_join(dir, "esc-stderr-fd.out");
	cleanup_free char *errf = pn_path_join(dir, "esc-stderr-fd.err");
	cleanup_close int fd = open(outf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cleanup_close int efd = open(errf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct runner_step s = {.name = "capture",
				.interactive = true,
				.shell = "echo out-line; echo err-line >&2"};
	struct runner_result res;
	struct pn_error *err = NULL;
	cleanup_free char *out = NULL, *text = NULL;
	size_t len = 0;
	int rc;

	s.stdout_fd = fd;
	s.stderr_fd = efd;
	rc = runner_step_run(r, &rf, &s, NULL, NULL, &res, &err);
	ok_call(rc, &err, "interactive step with stdout_fd and stderr_fd");
	runner_result_release(&res);
	pn_read_file(outf, 1 << 20, &out, &len, NULL);
	pn_read_file(errf, 1 << 20, &text, &len, NULL);
	is_str(out, "out-line\n", "its stdout reached its file");
	is_str(text, "err-line\n", "its stderr reached the other file");
}

/* /proc/sys and friends read-only, own UTS and IPC namespaces (as root the
 * writes would otherwise reach the host's kernel; each writes back the
 * current value, so a failing test changes nothing on the host) */
static void escape_kernel(struct runner *r, const char *what)
{
	char host_uts[64] = "", host_ipc[64] = "";
	cleanup_free char *env0 = NULL, *env1 = NULL, *env2 = NULL;
	struct runner_result res;
	struct pn_error *err = NULL;
	struct utsname before, after;

	(void)!readlink("/proc/self/ns/uts", host_uts, sizeof(host_uts) - 1);
	(void)!readlink("/proc/self/ns/ipc", host_ipc, sizeof(host_ipc) - 1);
	env0 = xasprintf("HOST_UTS=%s", host_uts);
	env1 = xasprintf("HOST_IPC=%s", host_ipc);
	uname(&before);
	/* sethostname to the host's own name: refused (no CAP_SYS_ADMIN), and
	 * harmless if a regression let it through */
	env2 = xasprintf("HOST_NAME=%s", before.nodename);
	const char *env[] = {env0, env1, env2, NULL};
	struct runner_step s = {
		.name = "kernel",
		.env = env,
		.shell = "set -u; f=0\n"
			 "for p in kernel/core_pattern kernel/hostname vm/overcommit_memory; do\n"
			 "  v=$(cat /proc/sys/$p) || f=1\n"
			 "  (echo \"$v\" >/proc/sys/$p) 2>/dev/null && { echo wrote $p; f=1; }\n"
			 "done\n"
			 "(: >/proc/sysrq-trigger) 2>/dev/null && { echo sysrq; f=1; }\n"
			 "for d in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus; do\n"
			 "  test -e $d || continue\n"
			 "  grep -q \" $d ro,\" /proc/self/mountinfo || { echo rw $d; f=1; }\n"
			 "done\n"
			 "test \"$(busybox uname -n)\" = pinion || { echo uname; f=1; }\n"
			 "busybox hostname \"$HOST_NAME\" 2>/dev/null && { echo sethostname; f=1; "
			 "}\n"
			 "busybox grep -q '127.0.1.1.*pinion' /etc/hosts || { echo hosts; f=1; }\n"
			 "test \"$(busybox readlink /proc/self/ns/uts)\" != \"$HOST_UTS\" || "
			 "{ echo uts; f=1; }\n"
			 "test \"$(busybox readlink /proc/self/ns/ipc)\" != \"$HOST_IPC\" || "
			 "{ echo ipc; f=1; }\n"
			 "exit $f"};

	ok_call(runner_step_run(r, &rf, &s, NULL, NULL, &res, &err), &err,
		"%s: /proc/sys, sysrq-trigger, irq, bus read-only; own hostname, UTS, IPC", what);
	runner_result_release(&res);
	uname(&after);
	is_str(after.nodename, before.nodename, "%s: the host's hostname unchanged", what);
}

/* the host pid of pid 1 of a running sandbox (C's child whose last NSpid
 * is 1; C's other children are relays), 0 if not found */
static pid_t sandbox_pid1(pid_t c)
{
	cleanup_free char *path = xasprintf("/proc/%d/task/%d/children", (int)c, (int)c);
	cleanup_free char *kids = NULL;
	size_t len = 0;

	if (pn_read_file(path, 4096, &kids, &len, NULL) < 0)
		return 0;
	for (char *p = kids; *p;) {
		long pid = strtol(p, &p, 10);
		cleanup_free char *st = NULL;
		cleanup_free char *sp = xasprintf("/proc/%ld/status", pid);
		char *ns;

		if (pid <= 0)
			break;
		if (pn_read_file(sp, 1 << 16, &st, &len, NULL) == 0 &&
		    (ns = strstr(st, "NSpid:")) && (ns = strchr(ns, '\n')) && ns - st >= 2 &&
		    ns[-1] == '1' && ns[-2] == '\t')
			return (pid_t)pid;
	}
	return 0;
}

/* from the host: what pid 1 of a sandbox and the step hold.  Every fd a
 * pipe or /dev/null, root and cwd not the host's, pid 1 non-dumpable. */
static void escape_pid1(struct runner *r, const char *what)
{
	const char *argv[] = {"sleep", "100", NULL};
	struct runner_step s = {.name = "pid1", .argv = argv};
	struct runner_proc *p = NULL;
	struct pn_error *err = NULL;
	pid_t g = 0;
	struct stat host_root, st;
	int bad = 0, n = 0;

	stat("/", &host_root);
	ok_call(runner_proc_start(r, &rf, &s, &p, &err), &err, "%s: start a sandbox", what);
	for (int i = 0; p && !g && i < 500; i++) {
		g = sandbox_pid1(runner_proc_pid(p));
		if (!g)
			usleep(10000);
	}
	ok(g > 0, "%s: pid 1 found from the host (%d)", what, (int)g);
	for (int i = 0; g && i < 500; i++) { /* until it is past pivot_root */
		cleanup_free char *kids = NULL;
		cleanup_free char *path = xasprintf("/proc/%d/task/%d/children", (int)g, (int)g);
		size_t len = 0;

		if (pn_read_file(path, 4096, &kids, &len, NULL) == 0 && len)
			break;
		usleep(10000);
	}
	for (int k = 0; g && k < 2; k++) {
		pid_t pid = g;
		cleanup_free char *fdd = NULL;
		DIR *d;
		struct dirent *de;

		if (k == 1) { /* the step: pid 1's child */
			cleanup_free char *kids = NULL;
			cleanup_free char *path =
				xasprintf("/proc/%d/task/%d/children", (int)g, (int)g);
			size_t len = 0;

			if (pn_read_file(path, 4096, &kids, &len, NULL) < 0 || !len)
				break;
			pid = (pid_t)strtol(kids, NULL, 10);
		}
		fdd = xasprintf("/proc/%d/fd", (int)pid);
		d = opendir(fdd);
		while (d && (de = readdir(d))) {
			char link[4096];
			cleanup_free char *fp = NULL;
			ssize_t l;

			if (de->d_name[0] == '.')
				continue;
			fp = xasprintf("%s/%s", fdd, de->d_name);
			l = readlink(fp, link, sizeof(link) - 1);
			/* closed between the listing and the readlink: the step
			 * may still be closing its inherited fds (not held) */
			if (l < 0 && errno == ENOENT)
				continue;
			link[l > 0 ? l : 0] = '\0';
			n++;
			if (strncmp(link, "pipe:", 5) != 0 && strcmp(link, "/dev/null") != 0) {
				tap_diag("pid %d fd %s -> %s", (int)pid, de->d_name, link);
				bad++;
			}
		}
		if (d)
			closedir(d);
		for (const char *const *w = (const char *const[]){"root", "cwd", NULL}; *w; w++) {
			cleanup_free char *rp = xasprintf("/proc/%d/%s", (int)pid, *w);

			if (stat(rp, &st) == 0 && st.st_dev == host_root.st_dev &&
			    st.st_ino == host_root.st_ino) {
				tap_diag("pid %d: %s is the host's /", (int)pid, *w);
				bad++;
			}
		}
	}
	ok(n >= 6 && bad == 0,
	   "%s: pid 1 and the step hold only pipes and /dev/null (%d fds), "
	   "root and cwd inside",
	   what, n);
	runner_proc_free(p);
}

/* inside: pid 1 is out of reach (non-dumpable), its command line blanked */
static void escape_pid1_inside(struct runner *r, const char *what)
{
	struct runner_result res;
	struct pn_error *err = NULL;

	ok_call(sh(r,
		   "! busybox readlink /proc/1/exe && ! busybox readlink /proc/1/cwd && "
		   "! cat /proc/1/environ && test -z \"$(ls /proc/1/map_files/ 2>/dev/null)\" && "
		   "test \"$(head -c 11 /proc/1/cmdline)\" = pinion-init",
		   NULL, &res, &err),
		&err, "%s: /proc/1 exe, cwd, environ, map_files refused, cmdline blanked", what);
	runner_result_release(&res);
}

static void t_escape(void)
{
	struct escape_env x;
	struct runner *r;

	escape_env_init(&x);
	r = new_runner(false);
	escape_pid1(r, "user namespace");
	escape_pid1_inside(r, "user namespace");
	escape_build(r, &x, "overlay");
	escape_proc(r, &x);
	escape_stdio(r, &x);
	escape_stdout_fd(r);
	escape_stderr_fd(r);
	escape_kernel(r, "user namespace");
	runner_free(r);
	r = new_runner(true);
	escape_build(r, &x, "copy fallback");
	runner_free(r);
	setenv("PINION_RUNNER_NO_CLOSE_RANGE", "1", 1); /* fds closed by the fallback loop */
	r = new_runner(false);
	escape_build(r, &x, "no close_range");
	runner_free(r);
	unsetenv("PINION_RUNNER_NO_CLOSE_RANGE");
	if (geteuid() == 0) { /* real root: only the sandbox itself stands in the way */
		setenv("PINION_RUNNER_NO_USERNS", "1", 1);
		r = new_runner(false);
		escape_pid1(r, "real root");
		escape_pid1_inside(r, "real root");
		escape_build(r, &x, "real root");
		escape_kernel(r, "real root");
		runner_free(r);
		unsetenv("PINION_RUNNER_NO_USERNS");
	}
	tap_diag("escape attempts made and contained: %ld", escape_total);
	escape_env_release(&x);
}

/* names in dir starting with prefix, each made two days old */
static int age_entries(const char *d, const char *prefix)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	struct timespec old[2] = {{time(NULL) - 2 * 86400, 0}, {time(NULL) - 2 * 86400, 0}};
	int n = 0;

	while (dd && (de = readdir(dd)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			cleanup_free char *x = pn_path_join(d, de->d_name);

			n += utimensat(AT_FDCWD, x, old, 0) == 0;
		}
	if (dd)
		closedir(dd);
	return n;
}

/* a two-day-old run dir of a live process survives prune; a dead one goes */
static void prune_spares_live_run_dir(struct runner *r)
{
	cleanup_free char *runs = pn_path_join(cache, "runs");
	cleanup_free char *dead = pn_path_join(runs, "run-dead");
	struct pn_error *err = NULL;

	mkdir(dead, 0700);
	is_int(age_entries(runs, "run-"), 2, "the live run dir and a dead one, made old");
	ok_call(runner_snapshots_prune(r, 0, NULL, NULL, NULL, &err), &err, "prune");
	ok(access(dead, F_OK) < 0, "the dead run dir went");
	is_int(age_entries(runs, "run-"), 1, "the live one stayed");
}

static void t_proc(void)
{
	struct runner *r = new_runner(false);
	const char *argv[] = {"sleep", "100", NULL};
	struct runner_step s = {.name = "serve", .argv = argv};
	struct runner_proc *p = NULL;
	struct pn_error *err = NULL;
	int status = -1;

	ok_call(runner_proc_start(r, &rf, &s, &p, &err), &err, "start a long-running process");
	if (!p) {
		runner_free(r);
		return;
	}
	ok(runner_proc_pid(p) > 0, "has a pid");
	is_int(runner_proc_wait(p, 200, &status, &err), 0, "still running after 200 ms");
	prune_spares_live_run_dir(r);
	ok_call(runner_proc_stop(p, 2000, &status, &err), &err, "stop");
	is_int(status, 128 + 15, "ended by SIGTERM");
	runner_proc_free(p);
	runner_free(r);
}

static void t_prune(void)
{
	struct runner *r = new_runner(false);
	struct pn_error *err = NULL;
	size_t removed = 0, n = 0;
	struct runner_snapshot *snaps = NULL;

	ok_call(runner_snapshots_prune(r, INT64_MAX, &rf.diff_ids, &removed, NULL, &err), &err,
		"prune all but the rootfs' snapshots");
	ok(removed >= 1, "the other snapshots went (%zu)", removed);
	ok_call(runner_snapshots_list(r, &snaps, &n, &err), &err, "list");
	is_int(n, rf.diff_ids.n, "the kept ones remain");
	runner_snapshots_free(snaps, n);
	runner_free(r);
}

/* runner_rm_paths removes below its root only: a directory on the way that
 * a build swapped for a link out of the cache is not followed, so what lies
 * out there stays, even a file of another id (root here: a subordinate one) */
static void t_rm_paths_beneath(void)
{
	struct runner *r = new_runner(false);
	cleanup_free char *top = pn_path_join(cache, "pkgcache");
	cleanup_free char *out = pn_path_join(dir, "outside");
	cleanup_free char *apt = pn_path_join(top, "k/apt");
	enum { MINE, VIA, DEEP, LINK, VICTIM, SUB, N };
	const char *rel[N] = {"k/apt/f", "k/pip/victim", "k/pip/sub/g", "k/pip", NULL, NULL};
	char *p[N];
	cleanup_strv struct pn_strv v = PN_STRV_INIT;
	cleanup_strv struct pn_strv l = PN_STRV_INIT;
	struct pn_error *err = NULL;
	bool other = false;

	for (size_t i = 0; i < VICTIM; i++)
		p[i] = pn_path_join(top, rel[i]);
	p[VICTIM] = pn_path_join(out, "victim");
	p[SUB] = pn_path_join(out, "sub/g");
	pn_mkdir_p(apt, 0755, NULL);
	pn_mkdir_p(out, 0755, NULL);
	write_file(p[MINE], "mine\n");
	write_file(p[VICTIM], "victim\n");
	pn_mkdir_p(p[SUB], 0755, NULL);
	if (geteuid() == 0)
		other = chown(p[VICTIM], 100042, 100042) == 0;
	tap_diag("the file outside belongs to %s", other ? "id 100042" : "the test's user");
	symlink(out, p[LINK]); /* k/pip -> outside */
	pn_strv_push(&v, p[MINE]);
	pn_strv_push(&v, p[VIA]);
	pn_strv_push(&v, p[DEEP]);
	ok_fail(runner_rm_paths(r, top, &v, &err), &err, 0, "k/pip",
		"a path through a link is refused");
	ok(access(p[MINE], F_OK) != 0, "the file below the root before it went");
	ok(access(p[VICTIM], F_OK) == 0 && access(p[SUB], F_OK) == 0, "what the link names stays");
	pn_strv_push(&l, p[LINK]);
	ok_call(runner_rm_paths(r, top, &l, &err), &err, "the link itself");
	ok(faccessat(AT_FDCWD, p[LINK], F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
		   access(p[VICTIM], F_OK) == 0,
	   "the link goes, not what it names");
	for (size_t i = 0; i < N; i++)
		free(p[i]);
	runner_free(r);
}

static bool sandbox_possible(void)
{
	pid_t pid;
	int st;

	if (access("/bin/busybox", X_OK) < 0)
		return false;
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) < 0);
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	struct pn_error *err = NULL;
	cleanup_free char *lp = NULL;

	if (!sandbox_possible()) {
		printf("1..0 # SKIP no static busybox or no user namespaces\n");
		return 0;
	}
	dir = tap_tmpdir();
	chmod(dir, 0755);
	cache = pn_path_join(dir, "cache");
	lp = pn_path_join(dir, "layout");
	if (oci_layout_open(lp, OCI_LAYOUT_CREATE, &layout, &err) < 0) {
		ok(0, "layout: %s", err->msg);
		return tap_done();
	}
	runner_rootfs_init(&rf);
	TEST(t_snapshots_stack);
	if (rf.lowers.n == 2) {
		TEST(t_snapshot_wrong_diff_id);
		TEST(t_step_commit);
		TEST(t_rename_dir);
		TEST(t_diff_kinds);
		TEST(t_read_only_step);
		TEST(t_inside);
		TEST(t_concurrent_unpack);
		TEST(t_parallel_unpack);
		TEST(t_hostile_whiteout);
		TEST(t_root_without_userns);
		TEST(t_interrupt);
		TEST(t_failures);
		TEST(t_isolation);
		TEST(t_cache_mount);
		TEST(t_escape);
		TEST(t_proc);
		TEST(t_prune);
		TEST(t_rm_paths_beneath);
	}
	runner_rootfs_release(&rf);
	oci_layout_free(layout);
	free(cache);
	return tap_done();
}
