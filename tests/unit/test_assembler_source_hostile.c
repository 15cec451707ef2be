/* test_assembler_source_hostile.c - the model directory as hostile input:
 * .dockerignore and the walk never read a host file outside it (symlinks,
 * `..`, a directory swapped for a symlink after the walk), special files
 * neither hang nor get read, a hardlink count changes nothing.  Every case
 * plants a canary outside the model directory and looks for it in the error
 * message and in the uncompressed layer. */
#include "tests/unit/tap.h"
#include "assembler/source.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CANARY "PINION-CANARY-7f3a9c"
/* a malformed pattern: read as .dockerignore it would be quoted in the
 * "bad pattern" message */
#define CANARY_LINE "[" CANARY "\n"

static void put(const char *root, const char *rel, const char *content)
{
	cleanup_free char *p = pn_path_join(root, rel);
	cleanup_free char *dir = xstrdup(p);

	*strrchr(dir, '/') = '\0';
	pn_mkdir_p(dir, 0755, NULL);
	pn_write_file_atomic(p, content, strlen(content), 0644, NULL);
}

static void link_at(const char *target, const char *root, const char *rel)
{
	cleanup_free char *p = pn_path_join(root, rel);

	unlink(p);
	if (symlink(target, p) < 0)
		tap_diag("symlink %s failed", p);
}

/* a host directory with canaries, and a fresh model directory next to it */
struct fixture {
	char *host;  /* host/canary, host/dir/f.txt */
	char *model; /* host/model/... (so `../canary` leads to it) */
	char *canary;
};

static void fixture_init(struct fixture *f)
{
	f->host = xstrdup(tap_tmpdir());
	f->model = pn_path_join(f->host, "model");
	f->canary = pn_path_join(f->host, "canary");
	put(f->host, "canary", CANARY_LINE);
	put(f->host, "dir/f.txt", CANARY_LINE);
	put(f->model, "cog.yaml", "build: {}\n");
	put(f->model, "predict.py", "print(1)\n");
	put(f->model, "sub/f.txt", "inside\n");
}

static void fixture_release(struct fixture *f)
{
	free(f->host);
	free(f->model);
	free(f->canary);
}

static bool no_canary(const struct pn_error *e)
{
	return !e || (!strstr(e->msg, CANARY) && (!e->hint || !strstr(e->hint, CANARY)));
}

/* walk with the error kept for a look at its text */
static int walk(const char *dir, struct src_tree *t, struct pn_error **err)
{
	struct src_opts o = {0, false, NULL};

	return src_tree_walk(dir, &o, t, err);
}

static bool has(const struct src_tree *t, const char *path, mode_t type)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->entries[i].path, path) == 0)
			return (t->entries[i].mode & S_IFMT) == type;
	return false;
}

/* the source layer, uncompressed, as text (NULL on failure, err set) */
static char *layer_bytes(struct src_tree *t, size_t *len, struct pn_error **err)
{
	cleanup_free char *lp = pn_path_join(tap_tmpdir(), "layout");
	struct oci_layout *l = NULL;
	struct oci_layer_opts lo;
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	char *text = NULL;
	int rc;

	if (oci_layout_open(lp, OCI_LAYOUT_CREATE, &l, err) < 0)
		return NULL;
	oci_layer_opts_init(&lo);
	lo.compression = OCI_COMP_NONE;
	memset(&r, 0, sizeof(r));
	w = oci_layer_writer_new(l, &lo, err);
	rc = w ? src_layer_add_source(w, t, "src", err) : -1;
	if (rc == 0)
		rc = oci_layer_writer_finish(w, &r, err);
	oci_layer_writer_free(w);
	if (rc == 0) {
		cleanup_free char *bp = oci_layout_blob_path(l, r.desc.digest);

		if (pn_read_file(bp, (size_t)64 << 20, &text, len, err) < 0)
			text = NULL;
	}
	oci_layer_result_release(&r);
	oci_layout_free(l);
	return text;
}

static bool contains(const char *data, size_t len, const char *needle)
{
	return memmem(data, len, needle, strlen(needle)) != NULL;
}

/* .dockerignore symlinked out of the model directory: refused, exit 2,
 * nothing of the target in the message */
static void t_dockerignore_outside(void)
{
	const char *how[] = {"openat2", "walk by hand"};

	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct src_tree t;
		struct pn_error *err = NULL;
		cleanup_free char *up = NULL;

		pn_path_force_walk(k == 1);
		fixture_init(&f);
		link_at(f.canary, f.model, ".dockerignore");
		ok(walk(f.model, &t, &err) < 0 && err && err->code == PN_ERR_INVALID &&
			   tap_contains(err->msg, "outside the model directory") && no_canary(err),
		   "%s: .dockerignore -> absolute host file refused, no content", how[k]);
		if (err)
			tap_diag("%s", err->msg);
		is_int(pn_error_exit_status(err), 2, "%s: exit status 2", how[k]);
		pn_error_clear(&err);
		link_at("../canary", f.model, ".dockerignore");
		ok(walk(f.model, &t, &err) < 0 && err && err->code == PN_ERR_INVALID &&
			   no_canary(err),
		   "%s: .dockerignore -> ../canary refused, no content", how[k]);
		pn_error_clear(&err);
		link_at("sub/../../dir/f.txt", f.model, ".dockerignore");
		ok(walk(f.model, &t, &err) < 0 && err && err->code == PN_ERR_INVALID &&
			   no_canary(err),
		   "%s: .dockerignore -> sub/../../dir/f.txt refused, no content", how[k]);
		pn_error_clear(&err);
		/* through a directory symlink leading out */
		link_at(f.host, f.model, "up");
		link_at("up/canary", f.model, ".dockerignore");
		ok(walk(f.model, &t, &err) < 0 && err && err->code == PN_ERR_INVALID &&
			   no_canary(err),
		   "%s: .dockerignore -> up/canary (up -> host dir) refused", how[k]);
		pn_error_clear(&err);
		up = pn_path_join(f.model, "up");
		unlink(up);
		/* one inside is followed, as Docker does */
		put(f.model, "ignore.txt", "sub\n");
		link_at("ignore.txt", f.model, ".dockerignore");
		ok_call(walk(f.model, &t, &err), &err, "%s: .dockerignore -> a file inside: read",
			how[k]);
		ok(!has(&t, "sub/f.txt", S_IFREG) && has(&t, "predict.py", S_IFREG),
		   "%s: its patterns apply", how[k]);
		src_tree_release(&t);
		fixture_release(&f);
	}
	pn_path_force_walk(false);
}

static void t_dockerignore_special(void)
{
	struct fixture f;
	struct src_tree t;
	struct pn_error *err = NULL;
	cleanup_free char *p = NULL;
	int fd;

	fixture_init(&f);
	p = pn_path_join(f.model, ".dockerignore");
	ok(mkfifo(p, 0644) == 0, "a FIFO named .dockerignore");
	ok_fail(walk(f.model, &t, &err), &err, PN_ERR_INVALID, "not a regular file",
		"a FIFO .dockerignore is refused (no hang)");
	unlink(p);
	mkdir(p, 0755);
	ok_fail(walk(f.model, &t, &err), &err, PN_ERR_INVALID, "not a regular file",
		"a directory .dockerignore is refused");
	rmdir(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (ftruncate(fd, (off_t)SRC_IGNORE_FILE_MAX + 1) < 0)
			tap_diag("ftruncate failed");
		close(fd);
	}
	ok_fail(walk(f.model, &t, &err), &err, PN_ERR_INVALID, "larger than",
		"an oversized .dockerignore is refused before reading (exit 2)");
	put(f.model, ".dockerignore", CANARY_LINE);
	ok_fail(walk(f.model, &t, &err), &err, PN_ERR_INVALID, "line 1",
		"the model directory's own bad pattern is still quoted");
	fixture_release(&f);
}

/* symlinks out of the model directory are stored as symlinks: the target's
 * content is neither hashed nor written */
static void t_symlinks_out(void)
{
	struct fixture f;
	struct src_tree t;
	struct pn_error *err = NULL;
	cleanup_free char *text = NULL, *dirpath = NULL;
	oci_digest_t a, b;
	size_t len = 0;

	fixture_init(&f);
	dirpath = pn_path_join(f.host, "dir");
	link_at(f.canary, f.model, "abs");
	link_at("../canary", f.model, "rel");
	link_at("../../canary", f.model, "sub/rel2");
	link_at(dirpath, f.model, "hostdir");
	link_at("../dir", f.model, "hostdir2");
	ok_call(walk(f.model, &t, &err), &err, "walk with symlinks out");
	ok(has(&t, "abs", S_IFLNK) && has(&t, "rel", S_IFLNK) && has(&t, "sub/rel2", S_IFLNK) &&
		   has(&t, "hostdir", S_IFLNK) && has(&t, "hostdir2", S_IFLNK),
	   "they are entries of type symlink");
	ok(!has(&t, "hostdir/f.txt", S_IFREG) && !has(&t, "hostdir2/f.txt", S_IFREG),
	   "a directory symlink is not descended");
	ok_call(src_tree_digest_source(&t, a, &err), &err, "source digest");
	text = layer_bytes(&t, &len, &err);
	ok(text != NULL, "source layer written");
	if (err)
		tap_diag("%s", err->msg);
	pn_error_clear(&err);
	ok(text && contains(text, len, "inside\n") && contains(text, len, f.canary),
	   "the layer holds the files and the link targets (names)");
	ok(text && !contains(text, len, CANARY), "the layer holds no canary content");
	src_tree_release(&t);
	put(f.host, "canary", "something else\n");
	ok_call(walk(f.model, &t, &err), &err, "walk again");
	ok_call(src_tree_digest_source(&t, b, &err), &err, "digest again");
	is_str(b, a, "the source digest does not depend on a link target's content");
	src_tree_release(&t);
	fixture_release(&f);
}

/* FIFOs and sockets in the model directory: skipped, never opened */
static void t_special_files(void)
{
	struct fixture f;
	struct src_tree t;
	struct pn_error *err = NULL;
	cleanup_free char *fifo = NULL, *sock = NULL, *text = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	oci_digest_t d;
	size_t len = 0;

	fixture_init(&f);
	fifo = pn_path_join(f.model, "sub/pipe.bin");
	sock = pn_path_join(f.model, "sock");
	ok(mkfifo(fifo, 0644) == 0, "a FIFO in the model directory");
	if (strlen(sock) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, sock, strlen(sock) + 1);
		ok(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		   "a socket in the model directory");
	}
	ok_call(walk(f.model, &t, &err), &err, "walk (no hang)");
	ok(!has(&t, "sub/pipe.bin", S_IFIFO) && !has(&t, "sock", S_IFSOCK) &&
		   has(&t, "sub/f.txt", S_IFREG),
	   "special files are skipped");
	ok_call(src_tree_digest_source(&t, d, &err), &err, "digest");
	text = layer_bytes(&t, &len, &err);
	ok(text && !contains(text, len, "pipe.bin"), "the layer has no FIFO");
	pn_error_clear(&err);
	if (s >= 0)
		close(s);
	src_tree_release(&t);
	fixture_release(&f);
}

/* the model directory changes between the walk and the read: a directory
 * becomes a symlink to a host directory, a file becomes a symlink to a host
 * file or a FIFO.  Nothing outside is read, nothing hangs. */
static void t_swapped_after_walk(void)
{
	const char *how[] = {"openat2", "walk by hand"};

	for (int k = 0; k < 2; k++) {
		struct fixture f;
		struct src_tree t;
		struct pn_error *err = NULL;
		cleanup_free char *sub = NULL, *moved = NULL, *hostdir = NULL, *text = NULL;
		cleanup_free char *file = NULL;
		oci_digest_t d;
		size_t len = 0;

		pn_path_force_walk(k == 1);
		fixture_init(&f);
		sub = pn_path_join(f.model, "sub");
		moved = pn_path_join(f.host, "moved");
		hostdir = pn_path_join(f.host, "dir");
		ok_call(walk(f.model, &t, &err), &err, "%s: walk", how[k]);
		ok(rename(sub, moved) == 0 && symlink(hostdir, sub) == 0,
		   "%s: sub/ swapped for a symlink to a host dir holding f.txt", how[k]);
		ok(src_tree_digest_source(&t, d, &err) < 0 && err &&
			   tap_contains(err->msg, "sub/f.txt") && no_canary(err),
		   "%s: hashing sub/f.txt refuses the symlinked directory", how[k]);
		if (err)
			tap_diag("%s", err->msg);
		pn_error_clear(&err);
		text = layer_bytes(&t, &len, &err);
		ok(!text && err && no_canary(err), "%s: so does the source layer", how[k]);
		if (err)
			tap_diag("%s", err->msg);
		pn_error_clear(&err);
		free(steal_pointer(&text));
		src_tree_release(&t);

		/* a file swapped for a symlink to the canary: stored as a link */
		unlink(sub);
		rename(moved, sub);
		ok_call(walk(f.model, &t, &err), &err, "%s: walk again", how[k]);
		file = pn_path_join(f.model, "sub/f.txt");
		unlink(file);
		ok(symlink(f.canary, file) == 0, "%s: sub/f.txt swapped for a symlink out", how[k]);
		ok(src_tree_digest_source(&t, d, &err) < 0 && err && no_canary(err),
		   "%s: hashing refuses it", how[k]);
		pn_error_clear(&err);
		text = layer_bytes(&t, &len, &err);
		ok(text && !contains(text, len, CANARY), "%s: the layer holds no canary content",
		   how[k]);
		pn_error_clear(&err);
		free(steal_pointer(&text));

		/* a file swapped for a FIFO (nobody writes it): no hang */
		unlink(file);
		ok(mkfifo(file, 0644) == 0, "%s: sub/f.txt swapped for a FIFO", how[k]);
		memset(t.digests, 0, t.n * sizeof(*t.digests));
		ok_fail(src_tree_digest_source(&t, d, &err), &err, PN_ERR_INVALID,
			"no longer a regular file", "%s: hashing refuses the FIFO, no hang",
			how[k]);
		text = layer_bytes(&t, &len, &err);
		ok(text != NULL, "%s: the layer is written without opening the FIFO", how[k]);
		pn_error_clear(&err);
		src_tree_release(&t);
		fixture_release(&f);
	}
	pn_path_force_walk(false);
}

/* a file hardlinked to one outside the model directory: its content goes
 * in as a plain file, the other name nowhere; same digest as a copy */
static void t_hardlink_count(void)
{
	struct fixture f, g;
	struct src_tree t;
	struct pn_error *err = NULL;
	cleanup_free char *outside = NULL, *in = NULL, *text = NULL;
	oci_digest_t a, b;
	size_t len = 0;
	struct stat st;

	fixture_init(&f);
	outside = pn_path_join(f.host, "outside-hardlink-name");
	in = pn_path_join(f.model, "hl.txt");
	put(f.host, "outside-hardlink-name", "shared bytes\n");
	ok(link(outside, in) == 0 && stat(in, &st) == 0 && st.st_nlink == 2,
	   "hl.txt hardlinked to a file outside (nlink 2)");
	ok_call(walk(f.model, &t, &err), &err, "walk");
	ok_call(src_tree_digest_source(&t, a, &err), &err, "digest");
	text = layer_bytes(&t, &len, &err);
	ok(text && contains(text, len, "shared bytes\n") &&
		   !contains(text, len, "outside-hardlink-name"),
	   "stored with its content, the outside name nowhere");
	pn_error_clear(&err);
	src_tree_release(&t);

	fixture_init(&g);
	put(g.model, "hl.txt", "shared bytes\n");
	ok_call(walk(g.model, &t, &err), &err, "walk a copy");
	ok_call(src_tree_digest_source(&t, b, &err), &err, "digest a copy");
	is_str(b, a, "the hardlink count is not in the digest");
	src_tree_release(&t);
	fixture_release(&f);
	fixture_release(&g);
}

int main(void)
{
	TEST(t_dockerignore_outside);
	TEST(t_dockerignore_special);
	TEST(t_symlinks_out);
	TEST(t_special_files);
	TEST(t_swapped_after_walk);
	TEST(t_hardlink_count);
	return tap_done();
}
