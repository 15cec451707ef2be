/* test_oci_layer.c - the layer writer (reproducible digests, diff_id, one
 * pass, options, overlay whiteouts) and the applier (round trip, whiteouts). */
#include "tests/unit/tap.h"
#include "oci/oci.h"
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <grp.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static void put(const char *dir, const char *rel, const char *content, mode_t mode)
{
	cleanup_free char *p = pn_path_join(dir, rel);

	pn_write_file_atomic(p, content, strlen(content), mode, NULL);
}

static char *make_tree(void)
{
	char *dir = pn_path_join(tap_tmpdir(), "tree");
	cleanup_free char *sub = pn_path_join(dir, "usr/bin"), *empty = pn_path_join(dir, "empty");
	cleanup_free char *a = pn_path_join(dir, "usr/bin/tool"),
			  *b = pn_path_join(dir, "usr/bin/tool2");
	cleanup_free char *ln = pn_path_join(dir, "link"), *f = pn_path_join(dir, "file.txt");

	pn_mkdir_p(sub, 0755, NULL);
	mkdir(empty, 0700);
	put(dir, "file.txt", "hello\n", 0644);
	put(dir, "usr/bin/tool", "#!/bin/sh\necho hi\n", 0755);
	put(dir, "zz-last", "z", 0600);
	link(a, b);
	symlink("usr/bin/tool", ln);
	setxattr(f, "user.pinion.test", "v1", 2, 0);
	{
		/* vfs_cap_data v2: cap_net_bind_service permitted + effective */
		static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};

		setxattr(a, "security.capability", cap, sizeof(cap), 0);
	}
	return dir;
}

static void write_layer(struct oci_layout *l, const char *tree, enum oci_compression c, int threads,
			struct oci_layer_result *res)
{
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct pn_error *err = NULL;

	oci_layer_opts_init(&o);
	o.compression = c;
	o.threads = threads;
	o.mtime_clamp = 1000;
	w = oci_layer_writer_new(l, &o, &err);
	ok(w != NULL, "writer created (%s)", oci_compression_name(c));
	ok_call(oci_layer_writer_add_tree(w, tree, "", &err), &err, "tree added");
	ok_call(oci_layer_writer_finish(w, res, &err), &err, "layer finished");
	oci_layer_writer_free(w);
}

/* sha256 of the decompressed blob, through the system tools */
static void tool_diff_id(struct oci_layout *l, const char *digest, const char *tool,
			 oci_digest_t out)
{
	cleanup_free char *p = oci_layout_blob_path(l, digest);
	cleanup_free char *cmd = xasprintf("%s < '%s' | sha256sum", tool, p);

	tap_sha256_cmd(cmd, out, sizeof(oci_digest_t));
}

static struct oci_layout *layout_new(void)
{
	cleanup_free char *p = pn_path_join(tap_tmpdir(), "layout");
	struct oci_layout *l = NULL;
	struct pn_error *err = NULL;

	ok_call(oci_layout_open(p, OCI_LAYOUT_CREATE, &l, &err), &err, "layout");
	return l;
}

static void t_writer_reproducible(void)
{
	cleanup_free char *tree = make_tree();
	struct oci_layout *l = layout_new();
	struct oci_layer_result g1, g2, z1, z2, n1;
	oci_digest_t d;

	write_layer(l, tree, OCI_COMP_GZIP, 0, &g1);
	write_layer(l, tree, OCI_COMP_GZIP, 0, &g2);
	is_str(g1.desc.digest, g2.desc.digest, "gzip: same tree, same digest");
	is_str(g1.desc.media_type, OCI_MT_LAYER_GZIP, "gzip media type");
	tool_diff_id(l, g1.desc.digest, "gzip -dc", d);
	is_str(g1.diff_id, d, "gzip: diff_id is sha256 of the tar");
	write_layer(l, tree, OCI_COMP_ZSTD, 1, &z1);
	write_layer(l, tree, OCI_COMP_ZSTD, 2, &z2);
	is_str(z1.desc.digest, z2.desc.digest, "zstd: same digest with 1 and 2 workers");
	is_str(z1.diff_id, g1.diff_id, "zstd and gzip: same tar");
	tool_diff_id(l, z1.desc.digest, "zstd -dc", d);
	is_str(z1.diff_id, d, "zstd: diff_id is sha256 of the tar");
	write_layer(l, tree, OCI_COMP_NONE, 0, &n1);
	is_str(n1.desc.digest, n1.diff_id, "none: digest == diff_id");
	is_int(n1.desc.size, n1.tar_size, "none: size == tar size");
	ok(oci_layout_has_blob(l, n1.desc.digest) && oci_layout_has_blob(l, z1.desc.digest),
	   "blobs stored");
	{
		/* a touched mtime above the clamp does not change the digest */
		cleanup_free char *f = pn_path_join(tree, "file.txt");
		struct oci_layer_result g3;

		utimes(f, NULL);
		write_layer(l, tree, OCI_COMP_GZIP, 0, &g3);
		is_str(g3.desc.digest, g1.desc.digest, "mtime clamp: touched file, same digest");
		oci_layer_result_release(&g3);
	}
	oci_layer_result_release(&g1);
	oci_layer_result_release(&g2);
	oci_layer_result_release(&z1);
	oci_layer_result_release(&z2);
	oci_layer_result_release(&n1);
	oci_layout_free(l);
}

static char *tar_listing(struct oci_layout *l, const char *digest)
{
	cleanup_free char *p = oci_layout_blob_path(l, digest);
	cleanup_free char *cmd = xasprintf("tar --xattrs -tvf '%s' 2>&1", p);
	struct pn_buf b = PN_BUF_INIT;
	char line[1024];
	FILE *f = popen(cmd, "r");

	while (f && fgets(line, sizeof(line), f))
		pn_buf_puts(&b, line, NULL);
	if (f)
		pclose(f);
	return pn_buf_steal(&b, NULL);
}

static void t_writer_entries(void)
{
	cleanup_free char *tree = make_tree();
	struct oci_layout *l = layout_new();
	struct oci_layer_result r;
	cleanup_free char *list = NULL;

	write_layer(l, tree, OCI_COMP_NONE, 0, &r);
	list = tar_listing(l, r.desc.digest);
	ok(tap_contains(list, "link -> usr/bin/tool"), "symlink kept");
	ok(tap_contains(list, "usr/bin/tool2 link to usr/bin/tool") ||
		   tap_contains(list, "usr/bin/tool link to usr/bin/tool2"),
	   "hardlink kept");
	ok(tap_contains(list, "1970-01-01 00:16"), "mtime clamped to 1000");
	ok(strstr(list, "empty") < strstr(list, "file.txt") &&
		   strstr(list, "usr/bin/tool") < strstr(list, "zz-last"),
	   "entries sorted");
	ok(tap_contains(list, "-rwxr-xr-x"), "modes kept");
	if (!tap_contains(list, "link -> usr/bin/tool"))
		tap_diag("%s", list);
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

static void t_writer_api(void)
{
	struct oci_layout *l = layout_new();
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	struct oci_layer_opts o;
	struct pn_error *err = NULL;
	cleanup_free char *list = NULL;

	oci_layer_opts_init(&o);
	o.compression = OCI_COMP_NONE;
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(oci_layer_writer_add_dir(w, "/src", 0755, &err), &err, "add_dir");
	ok_call(oci_layer_writer_add_data(w, "src/predict.py", "print(1)\n", 9, 0644, &err), &err,
		"add_data");
	ok_call(oci_layer_writer_add_whiteout(w, "etc/old.conf", &err), &err, "add_whiteout");
	ok_fail(oci_layer_writer_add_whiteout(w, "/", &err), &err, PN_ERR_INVALID, "root",
		"whiteout of root refused");
	ok_call(oci_layer_writer_finish(w, &r, &err), &err, "finished");
	ok_fail(oci_layer_writer_finish(w, &r, &err), &err, 0, "finished", "finish twice refused");
	oci_layer_writer_free(w);
	list = tar_listing(l, r.desc.digest);
	ok(tap_contains(list, "src/predict.py") && tap_contains(list, "etc/.wh.old.conf"),
	   "entries present");
	ok(tap_contains(list, " 0/0 ") || tap_contains(list, "root/root"), "owner 0:0");
	oci_layer_result_release(&r);
	/* an abandoned writer leaves no blob */
	w = oci_layer_writer_new(l, &o, &err);
	oci_layer_writer_add_data(w, "x", "y", 1, 0644, &err);
	oci_layer_writer_free(w);
	ok(1, "abandoned writer freed");
	oci_layout_free(l);
}

/* add_at: a name below a directory fd; a final symlink stays a symlink, a
 * FIFO is never opened (no hang), a regular file keeps its xattrs (from the
 * opened fd) and its content */
static void t_writer_add_at(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *d = pn_path_join(base, "d"), *fifo = pn_path_join(base, "d/fifo");
	cleanup_free char *ln = pn_path_join(base, "d/link"), *f = pn_path_join(base, "d/f.txt");
	cleanup_free char *list = NULL, *blob = NULL, *text = NULL;
	struct oci_layout *l = layout_new();
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	struct oci_layer_opts o;
	struct pn_error *err = NULL;
	cleanup_close int dfd = -1;
	bool xattr_ok;
	size_t len = 0;

	pn_mkdir_p(d, 0755, NULL);
	put(base, "secret", "HOST-ONLY-b81f\n", 0600);
	put(d, "f.txt", "inside\n", 0644);
	xattr_ok = setxattr(f, "user.pinion", "v1", 2, 0) == 0;
	ok(symlink("../secret", ln) == 0 && mkfifo(fifo, 0644) == 0, "a link out and a FIFO");
	dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	oci_layer_opts_init(&o);
	o.compression = OCI_COMP_NONE;
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(oci_layer_writer_add_at(w, dfd, "f.txt", "d/f.txt", "src/f.txt", &err), &err,
		"add_at a file");
	ok_call(oci_layer_writer_add_at(w, dfd, "link", "d/link", "src/link", &err), &err,
		"add_at a symlink out");
	ok_call(oci_layer_writer_add_at(w, dfd, "fifo", "d/fifo", "src/fifo", &err), &err,
		"add_at a FIFO returns (never opened)");
	ok_fail(oci_layer_writer_add_at(w, dfd, "nope", "d/nope", "src/nope", &err), &err, 0,
		"d/nope", "a missing name is an error naming the label");
	oci_layer_writer_free(w);
	w = oci_layer_writer_new(l, &o, &err);
	oci_layer_writer_add_at(w, dfd, "f.txt", "d/f.txt", "src/f.txt", NULL);
	oci_layer_writer_add_at(w, dfd, "link", "d/link", "src/link", NULL);
	oci_layer_writer_add_at(w, dfd, "fifo", "d/fifo", "src/fifo", NULL);
	ok_call(oci_layer_writer_finish(w, &r, &err), &err, "finished");
	oci_layer_writer_free(w);
	list = tar_listing(l, r.desc.digest);
	ok(tap_contains(list, "src/link -> ../secret") && tap_contains(list, "src/f.txt") &&
		   tap_contains(list, "src/fifo"),
	   "link stored as a link, file and FIFO entries");
	if (xattr_ok)
		ok(tap_contains(list, "user.pinion"), "xattrs of the file, from its fd");
	blob = oci_layout_blob_path(l, r.desc.digest);
	ok(pn_read_file(blob, (size_t)1 << 20, &text, &len, NULL) == 0 &&
		   memmem(text, len, "inside\n", 7) && !memmem(text, len, "HOST-ONLY-b81f", 14),
	   "the file's content, nothing of the link's target");
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

static void t_writer_overlay(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *upper = pn_path_join(base, "upper"),
			  *opq = pn_path_join(base, "upper/opq");
	cleanup_free char *wh = pn_path_join(base, "upper/gone");
	struct oci_layout *l = layout_new();
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	struct pn_error *err = NULL;
	cleanup_free char *list = NULL;

	pn_mkdir_p(opq, 0755, NULL);
	put(upper, "opq/new", "n", 0644);
	if (mknod(wh, S_IFCHR | 0, makedev(0, 0)) < 0 ||
	    setxattr(opq, "user.overlay.opaque", "y", 1, 0) < 0) {
		tap_diag("no mknod/user xattrs here (%s): overlay case skipped", strerror(errno));
		ok(1, "# SKIP overlay translation");
		oci_layout_free(l);
		return;
	}
	oci_layer_opts_init(&o);
	o.compression = OCI_COMP_NONE;
	o.overlay_upper = true;
	o.normalize_owner = true;
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(oci_layer_writer_add_tree(w, upper, "", &err), &err, "upper dir added");
	ok_call(oci_layer_writer_finish(w, &r, &err), &err, "finished");
	oci_layer_writer_free(w);
	list = tar_listing(l, r.desc.digest);
	ok(tap_contains(list, ".wh.gone") && !tap_contains(list, " gone\n"),
	   "char device 0:0 -> .wh.gone");
	ok(tap_contains(list, "opq/.wh..wh..opq"), "opaque xattr -> .wh..wh..opq");
	ok(!tap_contains(list, "overlay"), "overlay xattrs dropped");
	if (!tap_contains(list, "opq/.wh..wh..opq"))
		tap_diag("%s", list);
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

/* pseudo-random bytes (xorshift), fast and reproducible */
static void fill_noise(unsigned char *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (unsigned char)seed;
	}
}

/* the hashing thread gives the digest of exactly the bytes given, whatever
 * the sizes of the pieces (below, at and across its 1 MiB chunks) */
static void t_hash_thread(void)
{
	size_t n = (size_t)11 << 20 | 12345, pieces[] = {1, 511, 1 << 20, 3, (1 << 20) + 7, 65536};
	unsigned char *data = xmalloc(n);
	struct oci_hasher *h = oci_hasher_new();
	struct oci_hash_thread *t = NULL;
	oci_digest_t want, got;
	size_t off = 0;

	setenv("PINION_HASH_THREAD", "1", 1); /* read once, by the first large update */
	fill_noise(data, n, 42);
	oci_digest_buf(data, n, want);
	for (size_t i = 0; off < n; i++) {
		size_t k = pieces[i % 6] < n - off ? pieces[i % 6] : n - off;

		oci_hasher_update_large(h, &t, off, data + off, k);
		off += k;
	}
	ok(t != NULL, "a thread took over past %llu bytes",
	   (unsigned long long)OCI_HASH_THREAD_MIN);
	oci_hash_thread_finish(t);
	oci_hasher_final(h, got);
	is_str(got, want, "threaded digest equals the one-shot digest");
	/* a short stream, and one abandoned with nothing given (error paths) */
	oci_hasher_reset(h);
	t = oci_hash_thread_start(h);
	oci_hash_thread_update(t, data, 100);
	oci_hash_thread_finish(t);
	oci_hasher_final(h, got);
	oci_digest_buf(data, 100, want);
	is_str(got, want, "a short threaded stream");
	oci_hash_thread_finish(oci_hash_thread_start(h));
	oci_hasher_free(h);
	free(data);
}

/* oci_fd_pass: one read of a file, its digest, the digest of the same bytes
 * for a second hasher, and the bytes written into another file at an
 * offset: with O_DIRECT (aligned offset, the unaligned tail through the page
 * cache), without it (PINION_NO_DIRECT, an unaligned offset), in line (a
 * small file, PINION_HASH_THREAD=0); a file shorter than asked is an error.
 * The O_DIRECT descriptor is oci_fd_share's (clone and copy_file_range off,
 * so it leaves the write to the pass): one open of dst, where the
 * filesystem takes O_DIRECT, the offset is aligned and it is not turned off */
static void pass_case(const char *src, const unsigned char *data, size_t n, int64_t off,
		      const char *what)
{
	cleanup_free char *dst = pn_path_join(tap_tmpdir(), "pass-dst");
	cleanup_close int fd = open(src, O_RDONLY | O_CLOEXEC);
	cleanup_close int out = open(dst, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cleanup_close int probe = open(dst, O_WRONLY | O_DIRECT | O_CLOEXEC);
	cleanup_close int direct = -1;
	cleanup_free char *back = xmalloc(n ? n : 1);
	struct oci_hasher *h = oci_hasher_new(), *d = oci_hasher_new();
	struct pn_error *err = NULL;
	enum oci_blob_share how;
	oci_digest_t want, got, got2;
	bool want_direct = probe >= 0 && off % 4096 == 0 && !getenv("PINION_NO_DIRECT");

	oci_digest_buf(data, n, want);
	ok_call(oci_fd_share(out, off, fd, (int64_t)n, &how, &direct, &err), &err, "share (%s)",
		what);
	ok(how == OCI_SHARE_WRITE && (direct >= 0) == want_direct,
	   "the pass writes, O_DIRECT %s (%s)", want_direct ? "open" : "not open", what);
	ok_call(oci_fd_pass(fd, (int64_t)n, "src", h, d, out, direct, off, &err), &err, "pass (%s)",
		what);
	oci_hasher_final(h, got);
	oci_hasher_final(d, got2);
	is_str(got, want, "the digest (%s)", what);
	is_str(got2, want, "the second digest (%s)", what);
	ok(pread(out, back, n, off) == (ssize_t)n && memcmp(back, data, n) == 0,
	   "the bytes written at %lld (%s)", (long long)off, what);
	oci_hasher_free(h);
	oci_hasher_free(d);
}

static void t_fd_pass(void)
{
	cleanup_free char *src = pn_path_join(tap_tmpdir(), "pass-src");
	size_t n = ((size_t)9 << 20) + 4097; /* past the fan-out threshold, a ragged tail */
	unsigned char *data = xmalloc(n);
	struct oci_hasher *h = oci_hasher_new();
	struct pn_error *err = NULL;
	int fd;

	fill_noise(data, n, 77);
	ok(pn_write_file_atomic(src, data, n, 0644, NULL) == 0, "source written");
	setenv("PINION_HASH_THREAD", "1", 1);
	setenv("PINION_NO_REFLINK", "1", 1);
	setenv("PINION_NO_COPY_RANGE", "1", 1);
	pass_case(src, data, n, 8192, "O_DIRECT where the filesystem has it");
	pass_case(src, data, n, 8192 + 100, "an unaligned offset");
	setenv("PINION_NO_DIRECT", "1", 1);
	pass_case(src, data, n, 4096, "PINION_NO_DIRECT");
	unsetenv("PINION_NO_DIRECT");
	pass_case(src, data, 70000, 4096, "a small file, in line");
	unsetenv("PINION_NO_REFLINK");
	unsetenv("PINION_NO_COPY_RANGE");
	fd = open(src, O_RDONLY | O_CLOEXEC);
	ok_fail(oci_fd_pass(fd, (int64_t)n + 1, "src", h, NULL, -1, -1, 0, &err), &err,
		PN_ERR_GENERIC, "shrank while read", "a file that ends early");
	close(fd);
	oci_hasher_free(h);
	free(data);
}

/* a 24 MiB layer (many buffers of every stage): digest and diff_id match the tools */
static void t_writer_large(void)
{
	cleanup_free char *tree = pn_path_join(tap_tmpdir(), "bigtree");
	cleanup_free char *f = pn_path_join(tree, "weights.bin");
	size_t n = (size_t)24 << 20;
	unsigned char *data = xmalloc(n);
	struct oci_layout *l = layout_new();
	static const char *const tools[] = {"cat", "gzip -dc", "zstd -dc"};

	pn_mkdir_p(tree, 0755, NULL);
	fill_noise(data, n / 2, 7);
	memset(data + n / 2, 'z', n / 2); /* compressible half */
	ok(pn_write_file_atomic(f, data, n, 0644, NULL) == 0, "24 MiB file written");
	for (int c = OCI_COMP_NONE; c <= OCI_COMP_ZSTD; c++) {
		struct oci_layer_result r;
		cleanup_free char *blob = NULL;
		oci_digest_t d, tool;

		write_layer(l, tree, (enum oci_compression)c, 0, &r);
		blob = oci_layout_blob_path(l, r.desc.digest);
		ok(oci_digest_file(blob, d, NULL, NULL) == 0, "blob read back");
		is_str(d, r.desc.digest, "%s: blob digest is the sha256 of the file",
		       oci_compression_name((enum oci_compression)c));
		tool_diff_id(l, r.desc.digest, tools[c], tool);
		is_str(r.diff_id, tool, "%s: diff_id is the sha256 of the decompressed tar",
		       oci_compression_name((enum oci_compression)c));
		oci_layer_result_release(&r);
	}
	free(data);
	oci_layout_free(l);
}

/* ---------------------------------------------------- aligned file data */
static void write_aligned(struct oci_layout *l, const char *tree, enum oci_compression c,
			  struct oci_layer_result *res)
{
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct pn_error *err = NULL;

	oci_layer_opts_init(&o);
	o.compression = c;
	o.mtime_clamp = 1000;
	o.normalize_owner = true;
	o.align_data = true;
	w = oci_layer_writer_new(l, &o, &err);
	ok(w != NULL, "aligned writer created (%s)", oci_compression_name(c));
	ok_call(oci_layer_writer_add_tree(w, tree, "srv", &err), &err, "tree added");
	ok_call(oci_layer_writer_finish(w, res, &err), &err, "layer finished");
	oci_layer_writer_free(w);
}

/* libarchive reads the aligned layer: every entry, the long path from PAX,
 * the data */
static void check_aligned_tar(struct oci_layout *l, const char *digest, const char *big_rel,
			      const unsigned char *big, size_t n)
{
	cleanup_free char *p = oci_layout_blob_path(l, digest);
	cleanup_free char *want = xasprintf("srv/%s", big_rel);
	cleanup_archive_read struct archive *a = archive_read_new();
	struct archive_entry *e;
	unsigned char *got = xmalloc(n + 1);
	int files = 0, big_ok = 0;

	archive_read_support_format_tar(a);
	ok(archive_read_open_filename(a, p, 1 << 16) == ARCHIVE_OK, "libarchive opens the layer");
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);

		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		files++;
		if (strcmp(name, want) == 0 && archive_entry_size(e) == (la_int64_t)n &&
		    archive_read_data(a, got, n + 1) == (la_ssize_t)n && memcmp(got, big, n) == 0)
			big_ok = archive_entry_uid(e) == 0 && archive_entry_mtime(e) == 1000 &&
				 (archive_entry_perm(e) & 0777) == 0640;
	}
	is_int(files, 2, "both files are entries");
	ok(big_ok, "the big file reads back: long PAX path, size, data, owner, mtime, mode");
	free(got);
}

static int64_t blob_offset_of(struct oci_layout *l, const char *digest, const void *needle,
			      size_t len)
{
	cleanup_free char *p = oci_layout_blob_path(l, digest), *data = NULL;
	size_t n = 0;
	const char *at;

	if (pn_read_file(p, (size_t)1 << 30, &data, &n, NULL) < 0)
		return -1;
	at = memmem(data, n, needle, len);
	return at ? at - data : -1;
}

static void t_writer_aligned(void)
{
	cleanup_free char *tree = pn_path_join(tap_tmpdir(), "aligned");
	cleanup_free char *dir = NULL, *f = NULL, *rel = NULL, *cmd = NULL, *blob = NULL;
	const char *x;
	size_t n = 300000 + 123;
	unsigned char *data = xmalloc(n);
	struct oci_layout *l = layout_new();
	struct oci_layer_result plain, r;
	int64_t off;

	rel = xasprintf("models/%0120d/weights.bin", 7); /* path over 100 bytes */
	dir = xasprintf("%s/models/%0120d", tree, 7);
	f = pn_path_join(tree, rel);
	pn_mkdir_p(dir, 0755, NULL);
	put(tree, "a.txt", "a small file first\n", 0644);
	fill_noise(data, n, 11);
	ok(pn_write_file_atomic(f, data, n, 0640, NULL) == 0, "weights file written");
	write_aligned(l, tree, OCI_COMP_NONE, &plain);
	off = blob_offset_of(l, plain.desc.digest, data, 4096);
	ok(off > 0 && off % 4096 == 0, "the file's data starts 4 KiB-aligned (%lld)",
	   (long long)off);
	check_aligned_tar(l, plain.desc.digest, rel, data, n);
	x = tap_tmpdir();
	blob = oci_layout_blob_path(l, plain.desc.digest);
	cmd = xasprintf("tar -xf '%s' -C '%s' && cmp -s '%s' '%s/srv/%s'", blob, x, f, x, rel);
	ok(system(cmd) == 0, "GNU tar extracts the aligned layer");
	/* the same bytes whichever way the data reaches the blob */
	setenv("PINION_NO_REFLINK", "1", 1);
	write_aligned(l, tree, OCI_COMP_NONE, &r);
	is_str(r.desc.digest, plain.desc.digest, "O_DIRECT write: the same digest");
	oci_layer_result_release(&r);
	setenv("PINION_NO_DIRECT", "1", 1);
	write_aligned(l, tree, OCI_COMP_NONE, &r);
	is_str(r.desc.digest, plain.desc.digest, "copy_file_range: the same digest");
	oci_layer_result_release(&r);
	setenv("PINION_NO_COPY_RANGE", "1", 1);
	write_aligned(l, tree, OCI_COMP_NONE, &r);
	is_str(r.desc.digest, plain.desc.digest, "read/write: the same digest");
	oci_layer_result_release(&r);
	unsetenv("PINION_NO_REFLINK");
	unsetenv("PINION_NO_DIRECT");
	unsetenv("PINION_NO_COPY_RANGE");
	write_aligned(l, tree, OCI_COMP_GZIP, &r);
	is_str(r.diff_id, plain.desc.digest,
	       "gzip: the diff_id is the uncompressed layer's digest");
	oci_layer_result_release(&r);
	oci_layer_result_release(&plain);
	free(data);
	oci_layout_free(l);
}

/* digest_data: the weights file's own digest from the read that writes the
 * blob (one pass), whichever way the data reaches the blob; the layer's
 * bytes do not change */
static void t_writer_digest_data(void)
{
	cleanup_free char *tree = pn_path_join(tap_tmpdir(), "digest-data");
	cleanup_free char *f = pn_path_join(tree, "w.bin");
	const char *no[] = {NULL, "PINION_NO_REFLINK", "PINION_NO_DIRECT", "PINION_NO_COPY_RANGE"};
	size_t n = (5 << 20) + 77; /* past the hash thread's threshold */
	unsigned char *data = xmalloc(n);
	struct oci_layout *l = layout_new();
	struct oci_layer_result plain;
	oci_digest_t want;

	pn_mkdir_p(tree, 0755, NULL);
	fill_noise(data, n, 5);
	ok(pn_write_file_atomic(f, data, n, 0644, NULL) == 0, "weights file written");
	ok(oci_digest_file(f, want, NULL, NULL) == 0, "its digest");
	write_aligned(l, tree, OCI_COMP_NONE, &plain);
	is_str(plain.data_digest, "", "without digest_data: none");
	for (size_t i = 0; i < 4; i++) {
		struct oci_layer_opts o;
		struct oci_layer_writer *w;
		struct oci_layer_result r;
		struct pn_error *err = NULL;

		if (no[i])
			setenv(no[i], "1", 1);
		oci_layer_opts_init(&o);
		o.compression = OCI_COMP_NONE;
		o.mtime_clamp = 1000;
		o.normalize_owner = true;
		o.align_data = true;
		o.digest_data = true;
		w = oci_layer_writer_new(l, &o, &err);
		ok_call(oci_layer_writer_add_tree(w, tree, "srv", &err), &err, "tree added");
		ok_call(oci_layer_writer_finish(w, &r, &err), &err, "layer finished");
		oci_layer_writer_free(w);
		is_str(r.data_digest, want, "data digest = the file's sha256 (%s)",
		       no[i] ? no[i] : "clone or O_DIRECT");
		is_str(r.desc.digest, plain.desc.digest, "the same layer");
		is_str(r.diff_id, r.desc.digest, "diff_id = blob digest (uncompressed)");
		oci_layer_result_release(&r);
	}
	unsetenv("PINION_NO_REFLINK");
	unsetenv("PINION_NO_DIRECT");
	unsetenv("PINION_NO_COPY_RANGE");
	oci_layer_result_release(&plain);
	free(data);
	oci_layout_free(l);
}

/* the default clamp is SOURCE_DATE_EPOCH (0 when unset or not a number), and
 * a layer written with the defaults carries it */
static void t_writer_source_date_epoch(void)
{
	cleanup_free char *tree = make_tree(), *list = NULL;
	struct oci_layout *l = layout_new();
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	struct pn_error *err = NULL;

	unsetenv("SOURCE_DATE_EPOCH");
	oci_layer_opts_init(&o);
	is_int(o.mtime_clamp, 0, "unset: clamp 0");
	setenv("SOURCE_DATE_EPOCH", "junk", 1);
	oci_layer_opts_init(&o);
	is_int(o.mtime_clamp, 0, "not a number: clamp 0");
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	oci_layer_opts_init(&o);
	is_int(o.mtime_clamp, 1700000000, "SOURCE_DATE_EPOCH=1700000000");
	o.compression = OCI_COMP_NONE;
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(oci_layer_writer_add_tree(w, tree, "", &err), &err, "tree added");
	ok_call(oci_layer_writer_finish(w, &r, &err), &err, "layer");
	oci_layer_writer_free(w);
	list = tar_listing(l, r.desc.digest);
	ok(tap_contains(list, "2023-11-14") && !tap_contains(list, "2026-"),
	   "every mtime clamped to 2023-11-14");
	unsetenv("SOURCE_DATE_EPOCH");
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

static void t_apply_roundtrip(void)
{
	cleanup_free char *tree = make_tree();
	cleanup_free char *dest = pn_path_join(tap_tmpdir(), "dest");
	struct oci_layout *l = layout_new();
	struct oci_layer_result r;
	struct oci_apply_opts ao;
	struct pn_error *err = NULL;
	cleanup_free char *a = pn_path_join(dest, "usr/bin/tool"),
			  *b = pn_path_join(dest, "usr/bin/tool2");
	cleanup_free char *ln = pn_path_join(dest, "link"), *f = pn_path_join(dest, "file.txt");
	cleanup_free char *data = NULL;
	struct stat sa, sb;
	char target[64] = "", xv[8] = "";
	size_t len;

	write_layer(l, tree, OCI_COMP_ZSTD, 0, &r);
	mkdir(dest, 0755);
	oci_apply_opts_init(&ao);
	ok_call(oci_layer_apply(l, r.desc.digest, dest, &ao, &err), &err, "apply zstd layer");
	ok_call(pn_read_file(f, 100, &data, &len, &err), &err, "file extracted");
	is_str(data, "hello\n", "content");
	ok(stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino, "hardlink restored");
	ok((sa.st_mode & 0777) == 0755, "mode restored");
	ok(readlink(ln, target, sizeof(target) - 1) > 0 && strcmp(target, "usr/bin/tool") == 0,
	   "symlink restored");
	ok(sa.st_mtime == 1000, "mtime restored");
	ok(getxattr(f, "user.pinion.test", xv, sizeof(xv)) == 2 && memcmp(xv, "v1", 2) == 0,
	   "xattr restored");
	if (geteuid() == 0) {
		unsigned char cap[32];

		ok(getxattr(a, "security.capability", cap, sizeof(cap)) == 20 && cap[5] == 0x04,
		   "file capability restored");
	}
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

static void t_apply_whiteouts(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *lower = pn_path_join(base, "lower"),
			  *upper = pn_path_join(base, "upper");
	cleanup_free char *dest = pn_path_join(base, "dest"),
			  *d1 = pn_path_join(base, "lower/keep");
	cleanup_free char *d2 = pn_path_join(base, "lower/opq"),
			  *u1 = pn_path_join(base, "upper/opq");
	cleanup_free char *p = NULL;
	struct oci_layout *l = layout_new();
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result r1, r2;
	struct pn_error *err = NULL;
	struct stat st;

	pn_mkdir_p(d1, 0755, NULL);
	pn_mkdir_p(d2, 0755, NULL);
	pn_mkdir_p(u1, 0755, NULL);
	put(lower, "keep/a", "a", 0644);
	put(lower, "keep/b", "b", 0644);
	put(lower, "opq/old", "old", 0644);
	put(upper, "opq/new", "new", 0644);
	oci_layer_opts_init(&o);
	write_layer(l, lower, OCI_COMP_GZIP, 0, &r1);
	w = oci_layer_writer_new(l, &o, &err);
	oci_layer_writer_add_dir(w, "opq", 0755, &err);
	oci_layer_writer_add_data(w, "opq/.wh..wh..opq", "", 0, 0, &err);
	oci_layer_writer_add_data(w, "opq/new", "new", 3, 0644, &err);
	oci_layer_writer_add_whiteout(w, "keep/a", &err);
	ok_call(oci_layer_writer_finish(w, &r2, &err), &err, "whiteout layer");
	oci_layer_writer_free(w);
	mkdir(dest, 0755);
	ok_call(oci_layer_apply(l, r1.desc.digest, dest, NULL, &err), &err, "apply lower");
	ok_call(oci_layer_apply(l, r2.desc.digest, dest, NULL, &err), &err, "apply whiteouts");
	p = pn_path_join(dest, "keep/a");
	ok(lstat(p, &st) < 0 && errno == ENOENT, ".wh.a removed keep/a");
	free(p);
	p = pn_path_join(dest, "keep/b");
	ok(lstat(p, &st) == 0, "keep/b kept");
	free(p);
	p = pn_path_join(dest, "opq/old");
	ok(lstat(p, &st) < 0, "opaque dir hid the lower file");
	free(p);
	p = pn_path_join(dest, "opq/new");
	ok(lstat(p, &st) == 0, "opaque dir kept this layer's file");
	free(p);
	p = pn_path_join(dest, "opq/.wh..wh..opq");
	ok(lstat(p, &st) < 0, "marker itself not extracted");
	oci_layer_result_release(&r1);
	oci_layer_result_release(&r2);
	oci_layout_free(l);
}

static bool is_whiteout_dev(const char *dest, const char *rel)
{
	cleanup_free char *p = pn_path_join(dest, rel);
	struct stat st;

	return lstat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *dest, const char *rel, const char *xattr)
{
	cleanup_free char *p = pn_path_join(dest, rel);
	char v[4] = "";

	return lgetxattr(p, xattr, v, sizeof(v)) == 1 && v[0] == 'y';
}

static bool exists(const char *dest, const char *rel)
{
	cleanup_free char *p = pn_path_join(dest, rel);
	struct stat st;

	return lstat(p, &st) == 0;
}

/* a layer with OCI whiteouts and one with overlay-style ones (a 0:0 device
 * and an opaque xattr in the tar), unpacked with overlay_whiteouts */
static void t_apply_overlay_whiteouts(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *dest = pn_path_join(base, "ovl"), *dest2 = pn_path_join(base, "ovl2");
	cleanup_free char *up = pn_path_join(base, "ovlupper"), *odir = pn_path_join(up, "odir");
	cleanup_free char *dev = pn_path_join(up, "gone"), *tdest = pn_path_join(base, "ovl3");
	struct oci_layout *l = layout_new();
	struct oci_layer_opts o;
	struct oci_apply_opts ao;
	struct oci_layer_writer *w;
	struct oci_layer_result r1, r2;
	struct pn_error *err = NULL;

	oci_layer_opts_init(&o);
	w = oci_layer_writer_new(l, &o, &err);
	oci_layer_writer_add_dir(w, "opq", 0755, &err);
	oci_layer_writer_add_data(w, "opq/.wh..wh..opq", "", 0, 0, &err);
	oci_layer_writer_add_data(w, "opq/new", "new", 3, 0644, &err);
	oci_layer_writer_add_whiteout(w, "keep/a", &err);
	oci_layer_writer_add_data(w, "made", "m", 1, 0644, &err);
	oci_layer_writer_add_whiteout(w, "made", &err);
	oci_layer_writer_add_whiteout(w, "top", &err);
	ok_call(oci_layer_writer_finish(w, &r1, &err), &err, "OCI whiteout layer");
	oci_layer_writer_free(w);
	mkdir(dest, 0755);
	put(dest, "top", "lower file, replaced by the whiteout", 0644);
	oci_apply_opts_init(&ao);
	ao.overlay_whiteouts = true;
	ao.skip_devices = true;
	ok_call(oci_layer_apply(l, r1.desc.digest, dest, &ao, &err), &err, "apply, overlay form");
	ok(is_whiteout_dev(dest, "keep/a"), ".wh.a became a 0:0 character device keep/a");
	ok(is_whiteout_dev(dest, "top"), "a file in dest was replaced by the whiteout device");
	ok(!exists(dest, "keep/.wh.a") && !exists(dest, "opq/.wh..wh..opq"),
	   "no .wh. files extracted");
	ok(is_opaque(dest, "opq", "user.overlay.opaque"), "opq marked user.overlay.opaque=y");
	ok(exists(dest, "opq/new"), "opaque dir kept this layer's file");
	ok(exists(dest, "made") && !is_whiteout_dev(dest, "made"),
	   "a whiteout of this layer's own file does not hide it");

	mkdir(dest2, 0755);
	ao.opaque_xattr = "trusted.overlay.opaque";
	ok_call(oci_layer_apply(l, r1.desc.digest, dest2, &ao, &err), &err,
		"apply, trusted opaque xattr");
	ok(is_opaque(dest2, "opq", "trusted.overlay.opaque") &&
		   !is_opaque(dest2, "opq", "user.overlay.opaque"),
	   "opq marked trusted.overlay.opaque=y only");

	/* overlay-style whiteouts in the tar itself */
	pn_mkdir_p(odir, 0755, NULL);
	put(odir, "f", "f", 0644);
	ok(setxattr(odir, "user.overlay.opaque", "y", 1, 0) == 0, "opaque xattr set on host dir");
	ok(mknod(dev, S_IFCHR | 0, makedev(0, 0)) == 0, "0:0 device made on host");
	write_layer(l, up, OCI_COMP_ZSTD, 0, &r2);
	mkdir(tdest, 0755);
	ao.opaque_xattr = NULL;
	ok_call(oci_layer_apply(l, r2.desc.digest, tdest, &ao, &err), &err,
		"apply overlay-style tar, overlay form");
	ok(is_whiteout_dev(tdest, "gone"), "0:0 device in the tar kept as a whiteout");
	ok(is_opaque(tdest, "odir", "user.overlay.opaque") && exists(tdest, "odir/f"),
	   "opaque xattr in the tar kept, its file too");
	/* and the default mode still applies them */
	ao.overlay_whiteouts = false;
	put(tdest, "top", "lower", 0644);
	ok_call(oci_layer_apply(l, r1.desc.digest, tdest, &ao, &err), &err, "apply, default");
	ok(!exists(tdest, "top") && !exists(tdest, "keep/a") &&
		   !is_opaque(tdest, "opq", "user.overlay.opaque"),
	   "default mode: whiteouts applied, no device, no opaque xattr");
	oci_layer_result_release(&r1);
	oci_layer_result_release(&r2);
	oci_layout_free(l);
}

/* as an unprivileged user, device nodes are skipped even when not told to,
 * and the rest of the layer is applied */
static void t_apply_devices_unprivileged(void)
{
	struct oci_layout *l = layout_new();
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result r;
	struct pn_error *err = NULL;
	char dest[] = "/tmp/pinion-unit-nodev-XXXXXX";
	int status = -1;
	pid_t pid;
	int fd;

	oci_layer_opts_init(&o);
	w = oci_layer_writer_new(l, &o, &err);
	ok_call(oci_layer_writer_add_path(w, "/dev/null", "null", &err), &err,
		"character device added");
	oci_layer_writer_add_data(w, "plain", "p", 1, 0644, &err);
	ok_call(oci_layer_writer_finish(w, &r, &err), &err, "device layer");
	oci_layer_writer_free(w);
	{
		cleanup_free char *list = tar_listing(l, r.desc.digest);

		ok(strstr(list, "\nc") || strncmp(list, "c", 1) == 0, "the layer holds a device");
	}
	if (geteuid() != 0 || !mkdtemp(dest) || chown(dest, 65534, 65534) < 0) {
		tap_diag("skipped: needs root to drop to uid 65534");
		goto out;
	}
	ok_call(oci_layout_open_blob(l, r.desc.digest, &fd, NULL, &err), &err, "blob opened");
	pid = fork();
	if (pid == 0) {
		struct oci_apply_opts ao;
		struct stat st;
		cleanup_free char *dev = pn_path_join(dest, "null"),
				  *plain = pn_path_join(dest, "plain");

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		oci_apply_opts_init(&ao);
		ao.skip_devices = false;
		if (oci_layer_apply_fd(fd, dest, &ao, NULL) < 0)
			_exit(4);
		_exit(lstat(dev, &st) == 0 ? 5 : lstat(plain, &st) < 0 ? 6 : 0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "unprivileged apply skipped the device and wrote the file (child status %d)",
	   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	close(fd);
	pn_rm_rf(dest, NULL);
out:
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

static void t_apply_corrupt_and_dest(void)
{
	cleanup_free char *tree = make_tree();
	char *base = tap_tmpdir();
	cleanup_free char *dest = pn_path_join(base, "dest"), *sl = pn_path_join(base, "sl");
	struct oci_layout *l = layout_new();
	struct oci_layer_result r;
	struct pn_error *err = NULL;
	cleanup_free char *bp = NULL;

	write_layer(l, tree, OCI_COMP_NONE, 0, &r);
	mkdir(dest, 0755);
	symlink(dest, sl);
	ok_fail(oci_layer_apply(l, r.desc.digest, sl, NULL, &err), &err, PN_ERR_INVALID,
		"is a symlink", "destination that is a symlink refused");
	bp = oci_layout_blob_path(l, r.desc.digest);
	{
		int fd = open(bp, O_WRONLY | O_APPEND);

		ok(fd >= 0 && write(fd, "junk", 4) == 4, "blob corrupted (trailing bytes)");
		if (fd >= 0)
			close(fd);
	}
	ok_fail(oci_layer_apply(l, r.desc.digest, dest, NULL, &err), &err, PN_ERR_DIGEST, "corrupt",
		"corrupt layer detected while applying");
	oci_layer_result_release(&r);
	oci_layout_free(l);
}

/* the uncompressed stream is checked against the config's diff_id, to its
 * very end (bytes after the tar's end blocks count) */
static void t_apply_diff_id(void)
{
	cleanup_free char *tree = make_tree();
	char *base = tap_tmpdir();
	struct oci_layout *l = layout_new();
	const enum oci_compression comps[] = {OCI_COMP_GZIP, OCI_COMP_ZSTD, OCI_COMP_NONE};
	const char *wrong =
		"sha256:0000000000000000000000000000000000000000000000000000000000000bad";
	struct oci_apply_opts ao;
	struct pn_error *err = NULL;

	oci_apply_opts_init(&ao);
	for (size_t i = 0; i < 3; i++) {
		struct oci_layer_result r;
		cleanup_free char *ok_dest = xasprintf("%s/did-ok-%zu", base, i),
				  *bad_dest = xasprintf("%s/did-bad-%zu", base, i);

		write_layer(l, tree, comps[i], 0, &r);
		mkdir(ok_dest, 0755);
		mkdir(bad_dest, 0755);
		ao.diff_id = r.diff_id;
		ok_call(oci_layer_apply(l, r.desc.digest, ok_dest, &ao, &err), &err,
			"%s layer matches its diff_id", oci_compression_name(comps[i]));
		ao.diff_id = wrong;
		ok(oci_layer_apply(l, r.desc.digest, bad_dest, &ao, &err) < 0 && err &&
			   err->code == PN_ERR_DIGEST && strstr(err->msg, r.diff_id) &&
			   strstr(err->msg, wrong) && strstr(err->msg, r.desc.digest),
		   "%s layer with another diff_id refused, naming blob, content and config digests",
		   oci_compression_name(comps[i]));
		if (err)
			tap_diag("%s", err->msg);
		pn_error_clear(&err);
		oci_layer_result_release(&r);
	}
	{
		/* gzip(tar + junk after the end blocks): the diff_id covers the junk */
		struct oci_layer_result r;
		cleanup_free char *tarp = NULL, *gz = xasprintf("%s/junk.tar.gz", base);
		cleanup_free char *cmd = NULL, *data = NULL;
		cleanup_free char *d1 = xasprintf("%s/junk-1", base),
				  *d2 = xasprintf("%s/junk-2", base);
		oci_digest_t blob, whole;
		size_t len = 0;

		write_layer(l, tree, OCI_COMP_NONE, 0, &r);
		tarp = oci_layout_blob_path(l, r.desc.digest);
		cmd = xasprintf("(cat '%s'; printf 'trailing junk') | gzip -n > '%s'", tarp, gz);
		ok(system(cmd) == 0, "gzip of tar + trailing bytes");
		pn_read_file(gz, 1 << 24, &data, &len, NULL);
		ok_call(oci_layout_put_blob(l, data, len, NULL, blob, &err), &err, "stored");
		cmd = (free(cmd),
		       xasprintf("(cat '%s'; printf 'trailing junk') | sha256sum", tarp));
		tap_sha256_cmd(cmd, whole, sizeof(whole));
		mkdir(d1, 0755);
		mkdir(d2, 0755);
		ao.diff_id = r.diff_id;
		ok_fail(oci_layer_apply(l, blob, d1, &ao, &err), &err, PN_ERR_DIGEST, whole,
			"the tar's own digest does not pass for a stream with bytes after it");
		ao.diff_id = whole;
		ok_call(oci_layer_apply(l, blob, d2, &ao, &err), &err,
			"the digest of the whole stream does");
		oci_layer_result_release(&r);
	}
	oci_layout_free(l);
}

static void t_writer_idmap_and_tar(void)
{
	char *base = tap_tmpdir();
	cleanup_free char *tree = pn_path_join(base, "idtree"), *f = NULL,
			  *tarp = pn_path_join(base, "in.tar.gz");
	cleanup_free char *cmd = NULL, *list = NULL, *list2 = NULL;
	struct oci_layout *l = layout_new();
	struct oci_idmap map = {100000, 100000, 0, 0, 65536};
	struct oci_layer_opts o;
	struct oci_layer_writer *w;
	struct oci_layer_result r, r2;
	struct pn_error *err = NULL;
	int fd;

	pn_mkdir_p(tree, 0755, NULL);
	put(tree, "shared", "s", 0666);
	f = pn_path_join(tree, "shared");
	chmod(f, 0666);
	if (geteuid() != 0 || chown(f, 101000, 101001) < 0) {
		ok(1, "# SKIP id mapping needs root");
	} else {
		oci_layer_opts_init(&o);
		o.compression = OCI_COMP_NONE;
		o.idmaps = &map;
		o.n_idmaps = 1;
		o.normalize_mode = true;
		w = oci_layer_writer_new(l, &o, &err);
		ok_call(oci_layer_writer_add_tree(w, tree, "", &err), &err,
			"tree with mapped owners");
		ok_call(oci_layer_writer_finish(w, &r, &err), &err, "finished");
		oci_layer_writer_free(w);
		list = tar_listing(l, r.desc.digest);
		ok(tap_contains(list, "1000/1001"), "host 101000:101001 -> image 1000:1001");
		ok(tap_contains(list, "-rw-r--r--"), "normalize_mode drops group/other write");
		if (!tap_contains(list, "1000/1001"))
			tap_diag("%s", list);
		oci_layer_result_release(&r);
	}
	/* a tar input is copied with the same options */
	cmd = xasprintf("tar -C '%s' -czf '%s' ./shared", tree, tarp);
	ok(system(cmd) == 0, "input tar made");
	oci_layer_opts_init(&o);
	o.compression = OCI_COMP_GZIP;
	o.normalize_owner = true;
	o.mtime_clamp = 5;
	w = oci_layer_writer_new(l, &o, &err);
	fd = open(tarp, O_RDONLY);
	ok_call(oci_layer_writer_add_tar(w, fd, &err), &err, "add_tar");
	close(fd);
	ok_call(oci_layer_writer_finish(w, &r2, &err), &err, "finished");
	oci_layer_writer_free(w);
	list2 = tar_listing(l, r2.desc.digest);
	ok(tap_contains(list2, " 0/0 ") && tap_contains(list2, " shared\n") &&
		   !tap_contains(list2, "./shared"),
	   "entries cleaned and owners normalised");
	if (!tap_contains(list2, " shared\n"))
		tap_diag("%s", list2);
	oci_layer_result_release(&r2);
	w = oci_layer_writer_new(l, &o, &err);
	fd = open(tarp, O_RDONLY);
	{
		/* ".." in an input tar is refused */
		cleanup_free char *bad = pn_path_join(base, "bad.tar");
		cleanup_free char *mk =
			xasprintf("%s -c \"import tarfile,io; t=tarfile.open('%s','w'); "
				  "i=tarfile.TarInfo('../x'); t.addfile(i, io.BytesIO(b''))\"",
				  "/usr/bin/python3", bad);

		close(fd);
		ok(system(mk) == 0, "bad tar made");
		fd = open(bad, O_RDONLY);
		ok_fail(oci_layer_writer_add_tar(w, fd, &err), &err, PN_ERR_INVALID, "..",
			".. in input tar refused");
		close(fd);
	}
	oci_layer_writer_free(w);
	oci_layout_free(l);
}

int main(void)
{
	TEST(t_hash_thread);
	TEST(t_fd_pass);
	TEST(t_writer_reproducible);
	TEST(t_writer_large);
	TEST(t_writer_aligned);
	TEST(t_writer_digest_data);
	TEST(t_writer_source_date_epoch);
	TEST(t_writer_entries);
	TEST(t_writer_api);
	TEST(t_writer_overlay);
	TEST(t_writer_add_at);
	TEST(t_writer_idmap_and_tar);
	TEST(t_apply_roundtrip);
	TEST(t_apply_whiteouts);
	TEST(t_apply_overlay_whiteouts);
	TEST(t_apply_diff_id);
	TEST(t_apply_devices_unprivileged);
	TEST(t_apply_corrupt_and_dest);
	return tap_done();
}
