/* test_assembler_source.c - the model directory walk, the weight rule, input
 * digests and the /src layers */
#include "tests/unit/tap.h"
#include "assembler/source.h"
#include "common/cleanup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *root, const char *rel, const char *content)
{
	cleanup_free char *p = pn_path_join(root, rel);
	cleanup_free char *dir = xstrdup(p);

	*strrchr(dir, '/') = '\0';
	pn_mkdir_p(dir, 0755, NULL);
	pn_write_file_atomic(p, content, strlen(content), 0644, NULL);
}

static void put_big(const char *root, const char *rel, size_t size)
{
	cleanup_free char *p = pn_path_join(root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (ftruncate(fd, (off_t)size) < 0)
			tap_diag("ftruncate failed");
		close(fd);
	}
}

static bool has(const struct src_tree *t, const char *path, bool *weight)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->entries[i].path, path) == 0) {
			if (weight)
				*weight = t->entries[i].weight;
			return true;
		}
	return false;
}

static char *model(void)
{
	char *d = xstrdup(tap_tmpdir());

	put(d, "cog.yaml", "build: {}\n");
	put(d, "predict.py", "print(1)\n");
	put(d, "lib/util.py", "x = 1\n");
	put(d, "data/keep.txt", "keep\n");
	put(d, "data/drop.txt", "drop\n");
	put(d, "cache/x.bin", "x\n");
	put(d, ".pinion/layout/index.json", "{}\n");
	put(d, ".dockerignore", "# test\ncache\ndata/*\n!data/keep.txt\n*.log\n");
	put(d, "run.log", "log\n");
	pn_mkdir_p(d, 0755, NULL);
	{
		cleanup_free char *w = pn_path_join(d, "weights");

		pn_mkdir_p(w, 0755, NULL);
	}
	put_big(d, "weights/model.bin", (size_t)11 << 20);
	put_big(d, "big.py", (size_t)11 << 20);
	put_big(d, "small.bin", 1024);
	{
		cleanup_free char *l = pn_path_join(d, "link");

		if (symlink("predict.py", l) < 0)
			tap_diag("symlink failed");
	}
	return d;
}

static void t_weight_rule(void)
{
	ok(src_is_weight("model.safetensors", (int64_t)20 << 20, 0), "large blob is a weight");
	ok(!src_is_weight("model.safetensors", 1000, 0), "small file is not");
	ok(!src_is_weight("big.py", (int64_t)20 << 20, 0), "code is not");
	ok(!src_is_weight("x.whl", (int64_t)20 << 20, 0), "wheels are not");
	ok(!src_is_weight("PHOTO.JPG", (int64_t)20 << 20, 0), "images are not (any case)");
	ok(!src_is_weight("a.mp4", (int64_t)20 << 20, 0), "video is not");
	ok(!src_is_weight("train.log", (int64_t)20 << 20, 0), "logs are not");
	ok(src_is_weight("x", 100, 50), "threshold honoured");
}

static void t_walk(void)
{
	cleanup_free char *d = model();
	struct src_tree t;
	struct src_opts o = {0, true};
	struct pn_error *err = NULL;
	bool w = false;

	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk");
	ok(has(&t, "predict.py", NULL) && has(&t, "lib/util.py", NULL), "code kept");
	ok(has(&t, "data/keep.txt", NULL), "exception re-includes");
	ok(!has(&t, "data/drop.txt", NULL), "excluded by data/*");
	ok(has(&t, "data", NULL), "parent of a re-included file kept");
	ok(!has(&t, "cache", NULL) && !has(&t, "cache/x.bin", NULL), "excluded directory skipped");
	ok(!has(&t, ".pinion", NULL), ".pinion always left out");
	ok(!has(&t, "run.log", NULL), "*.log excluded");
	ok(has(&t, ".dockerignore", NULL), ".dockerignore itself is copied (as Docker does)");
	ok(has(&t, "weights/model.bin", &w) && w, "large binary is a weight");
	ok(has(&t, "big.py", &w) && !w, "large code is not");
	ok(has(&t, "small.bin", &w) && !w, "small binary is not");
	ok(has(&t, "link", NULL), "symlink kept");
	is_int(t.n_weights, 1, "one weight");
	for (size_t i = 1; i < t.n; i++)
		if (strcmp(t.entries[i - 1].path, t.entries[i].path) >= 0 &&
		    !S_ISDIR(t.entries[i - 1].mode))
			ok(0, "order: `%s` before `%s`", t.entries[i - 1].path, t.entries[i].path);
	src_tree_release(&t);

	o.separate_weights = false;
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk without separation");
	is_int(t.n_weights, 0, "no weights without separation");
	src_tree_release(&t);
}

static void t_digests(void)
{
	cleanup_free char *d = model();
	struct src_tree t;
	struct src_opts o = {0, true};
	struct pn_error *err = NULL;
	oci_digest_t a, b, wa, wb;
	size_t wi = 0;

	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk");
	ok_call(src_tree_digest_source(&t, a, &err), &err, "source digest");
	for (size_t i = 0; i < t.n; i++)
		if (t.entries[i].weight)
			wi = i;
	ok_call(src_tree_digest_entry(&t, wi, wa, &err), &err, "weight digest");
	src_tree_release(&t);

	put(d, "predict.py", "print(2)\n");
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk after edit");
	ok_call(src_tree_digest_source(&t, b, &err), &err, "source digest again");
	ok(strcmp(a, b) != 0, "editing predict.py changes the source digest");
	ok_call(src_tree_digest_entry(&t, wi, wb, &err), &err, "weight digest again");
	is_str(wb, wa, "the weight's digest does not change");
	src_tree_release(&t);

	put(d, "predict.py", "print(1)\n");
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk after revert");
	ok_call(src_tree_digest_source(&t, b, &err), &err, "source digest after revert");
	is_str(b, a, "same content, same digest");
	src_tree_release(&t);
}

static bool dir_weights_only(const struct src_tree *t, const char *path)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->entries[i].path, path) == 0)
			return t->entries[i].weights_only;
	return false;
}

/* the source digest of d's walk (with weights separated or not) */
static void source_digest(const char *d, bool separate, oci_digest_t out, const char *what)
{
	struct src_tree t;
	struct src_opts o = {0, separate};
	struct pn_error *err = NULL;

	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk: %s", what);
	ok_call(src_tree_digest_source(&t, out, &err), &err, "source digest: %s", what);
	src_tree_release(&t);
}

/* a directory of weights only is left out of the source layer (Cog's
 * .dockerignore for such a directory): adding one does not change it */
static void t_weights_only(void)
{
	cleanup_free char *d = model();
	struct src_tree t;
	struct src_opts o = {0, true};
	struct pn_error *err = NULL;
	oci_digest_t a, b, c, n1, n2;

	source_digest(d, true, a, "the model");
	source_digest(d, false, n1, "the model, weights not separated");
	pn_mkdir_p(d, 0755, NULL);
	{
		cleanup_free char *p = pn_path_join(d, "ckpt/deep/er");

		pn_mkdir_p(p, 0755, NULL);
	}
	put_big(d, "ckpt/deep/er/step2.bin", (size_t)11 << 20);
	put_big(d, "ckpt/first.bin", (size_t)12 << 20);
	source_digest(d, true, b, "a new directory of weights");
	is_str(b, a, "a new directory of weights only leaves the source digest as it was");
	source_digest(d, false, n2, "the same, weights not separated");
	ok(strcmp(n1, n2) != 0, "without separation the new directory is in the source");

	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk");
	ok(dir_weights_only(&t, "weights") && dir_weights_only(&t, "ckpt") &&
		   dir_weights_only(&t, "ckpt/deep") && dir_weights_only(&t, "ckpt/deep/er"),
	   "directories of weights at any depth are weights-only");
	ok(!dir_weights_only(&t, "lib") && !dir_weights_only(&t, "data"),
	   "directories with other files are not");
	src_tree_release(&t);

	put(d, "ckpt/deep/config.json", "{}\n");
	source_digest(d, true, c, "a small file among the weights");
	ok(strcmp(c, a) != 0, "a small file among the weights puts the directory in the source");
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk again");
	ok(!dir_weights_only(&t, "ckpt") && !dir_weights_only(&t, "ckpt/deep") &&
		   dir_weights_only(&t, "ckpt/deep/er"),
	   "only the directories above the small file lose the mark");
	src_tree_release(&t);
	{
		cleanup_free char *p = pn_path_join(d, "weights/empty");

		pn_mkdir_p(p, 0755, NULL);
	}
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk with an empty directory");
	ok(!dir_weights_only(&t, "weights") && !dir_weights_only(&t, "weights/empty"),
	   "an empty directory is not weights-only, nor is its parent");
	src_tree_release(&t);
	o.separate_weights = false;
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk without separation");
	ok(!dir_weights_only(&t, "ckpt/deep/er"),
	   "no directory is weights-only without separation");
	src_tree_release(&t);
}

static void t_layers(void)
{
	cleanup_free char *d = model();
	cleanup_free char *lp = pn_path_join(tap_tmpdir(), "layout");
	struct oci_layout *l = NULL;
	struct src_tree t;
	struct src_opts o = {0, true};
	struct pn_error *err = NULL;
	struct oci_layer_opts lo;
	struct oci_layer_writer *w;
	struct oci_layer_result r1, r2;

	ok_call(oci_layout_open(lp, OCI_LAYOUT_CREATE, &l, &err), &err, "layout");
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk");
	oci_layer_opts_init(&lo);
	lo.normalize_owner = true;
	memset(&r1, 0, sizeof(r1));
	memset(&r2, 0, sizeof(r2));
	for (int k = 0; k < 2; k++) {
		struct oci_layer_result *r = k ? &r2 : &r1;

		w = oci_layer_writer_new(l, &lo, &err);
		ok_call(w ? 0 : -1, &err, "writer %d", k);
		if (!w)
			break;
		ok_call(src_layer_add_source(w, &t, "src", &err), &err, "source layer %d", k);
		ok_call(oci_layer_writer_finish(w, r, &err), &err, "finish %d", k);
		oci_layer_writer_free(w);
	}
	is_str(r2.diff_id, r1.diff_id, "the source layer is reproducible");
	for (size_t i = 0; i < t.n; i++) {
		if (!t.entries[i].weight)
			continue;
		w = oci_layer_writer_new(l, &lo, &err);
		ok_call(src_layer_add_weight(w, &t, i, "src", &err), &err, "weight layer");
		oci_layer_writer_free(w);
	}
	oci_layer_result_release(&r1);
	oci_layer_result_release(&r2);
	src_tree_release(&t);
	oci_layout_free(l);
}

static void t_memo(void)
{
	cleanup_free char *d = model();
	cleanup_free char *memo = pn_path_join(tap_tmpdir(), "memo.json");
	cleanup_free char *text = NULL;
	struct src_tree t;
	struct src_opts o = {0, true};
	struct pn_error *err = NULL;
	oci_digest_t a, b;
	size_t len;

	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk");
	src_tree_memo_load(&t, memo);
	ok_call(src_tree_digest_source(&t, a, &err), &err, "digest with an empty memo");
	ok(t.memo_dirty, "large files recorded");
	ok_call(src_tree_memo_save(&t, memo, &err), &err, "save");
	src_tree_release(&t);
	ok_call(pn_read_file(memo, 1 << 20, &text, &len, &err), &err, "memo written");
	ok(tap_contains(text, "big.py") && !tap_contains(text, "predict.py"),
	   "only large files are memoized");
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk again");
	src_tree_memo_load(&t, memo);
	ok_call(src_tree_digest_source(&t, b, &err), &err, "digest from the memo");
	is_str(b, a, "same digest through the memo");
	ok(!t.memo_dirty, "nothing new to record");
	src_tree_release(&t);
	put_big(d, "big.py", (size_t)12 << 20);
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk after a change");
	src_tree_memo_load(&t, memo);
	ok_call(src_tree_digest_source(&t, b, &err), &err, "digest after a change");
	ok(strcmp(a, b) != 0, "a changed large file is hashed again");
	src_tree_release(&t);
	pn_write_file_atomic(memo, "[corrupt", 8, 0644, NULL);
	ok_call(src_tree_walk(d, &o, &t, &err), &err, "walk with a corrupt memo");
	src_tree_memo_load(&t, memo);
	ok_call(src_tree_digest_source(&t, b, &err), &err, "a corrupt memo is empty");
	src_tree_release(&t);
}

static void t_walk_errors(void)
{
	struct src_tree t;
	struct pn_error *err = NULL;
	cleanup_free char *d = xstrdup(tap_tmpdir());

	ok_fail(src_tree_walk("/nonexistent/pinion-model", NULL, &t, &err), &err, PN_ERR_NOT_FOUND,
		"model directory", "missing model directory");
	put(d, ".dockerignore", "[oops\n");
	ok_fail(src_tree_walk(d, NULL, &t, &err), &err, PN_ERR_INVALID, "line 1",
		"bad .dockerignore reported with its line");
}

int main(void)
{
	TEST(t_weight_rule);
	TEST(t_walk);
	TEST(t_digests);
	TEST(t_weights_only);
	TEST(t_layers);
	TEST(t_memo);
	TEST(t_walk_errors);
	return tap_done();
}
