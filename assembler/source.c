/* source.c - the model directory walk, the weight rule, input digests and
 * the /src layers (see source.h). */
#include "assembler/source.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ------------------------------------------------------------ weight rule */

static const char *const not_weight_ext[] = {
	/* code */
	".py",
	".pyc",
	".ipynb",
	".pyi",
	".pyx",
	".c",
	".h",
	".cpp",
	".cu",
	".sh",
	".js",
	".ts",
	/* packages */
	".whl",
	".egg",
	".tar.gz",
	/* images */
	".jpg",
	".jpeg",
	".png",
	".gif",
	".webp",
	".bmp",
	".tif",
	".tiff",
	".svg",
	".ico",
	".heic",
	/* audio */
	".mp3",
	".wav",
	".flac",
	".ogg",
	".m4a",
	".aac",
	".opus",
	/* video */
	".mp4",
	".mov",
	".avi",
	".mkv",
	".webm",
	".m4v",
	".wmv",
	/* logs */
	".log",
};

static bool has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

bool src_is_weight(const char *name, int64_t size, int64_t min)
{
	if (min <= 0)
		min = SRC_WEIGHT_MIN;
	if (size < min)
		return false;
	for (size_t i = 0; i < sizeof(not_weight_ext) / sizeof(not_weight_ext[0]); i++)
		if (has_suffix_ci(name, not_weight_ext[i]))
			return false;
	return true;
}

/* ------------------------------------------------------------------ walk */

void src_tree_init(struct src_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->root_fd = -1;
}

void src_tree_release(struct src_tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->entries[i].path);
	free(t->entries);
	free(t->digests);
	free(t->root);
	if (t->root_fd >= 0)
		close(t->root_fd);
	if (t->memo)
		json_decref(t->memo);
	src_tree_init(t);
}

struct walk {
	struct src_tree *t;
	const struct src_opts *opts;
	struct src_ignore *ig;
	size_t cap;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void entry_push(struct walk *w, char *path, const struct stat *st)
{
	struct src_tree *t = w->t;
	struct src_entry *e;
	const char *base;

	if (t->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		t->entries = xrealloc(t->entries, st_mult(w->cap, sizeof(*t->entries)));
	}
	e = &t->entries[t->n++];
	e->path = path;
	e->mode = st->st_mode;
	e->size = S_ISREG(st->st_mode) ? (int64_t)st->st_size : 0;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	e->weight = w->opts->separate_weights && S_ISREG(st->st_mode) &&
		    src_is_weight(base, e->size, w->opts->weight_min);
	e->weights_only = false; /* a directory's is known after its walk */
	if (e->weight) {
		t->n_weights++;
		t->weight_bytes += e->size;
	}
}

static int list_dir(int dfd, struct pn_strv *names, struct pn_error **err)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return pn_error_set_errno(err, errno, "dup");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return pn_error_set_errno(err, errno, "open directory");
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		pn_strv_push(names, de->d_name);
	}
	closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), name_cmp);
	return 0;
}

static int walk_dir(struct walk *w, int dfd, const char *rel, struct pn_error **err);

/* the directory at entries[at], its subtree walked (entries at+1..n-1):
 * weights_only when that holds a weight and nothing but weights and such
 * directories */
static void mark_weights_only(struct src_tree *t, size_t at)
{
	bool any = false;

	for (size_t i = at + 1; i < t->n; i++) {
		const struct src_entry *e = &t->entries[i];

		if (!e->weight && !(S_ISDIR(e->mode) && e->weights_only))
			return;
		any |= e->weight;
	}
	t->entries[at].weights_only = any;
}

/* one directory entry: filter, record, descend */
static int walk_one(struct walk *w, int dfd, const char *rel, const char *name,
		    struct pn_error **err)
{
	cleanup_free char *path = rel[0] ? xasprintf("%s/%s", rel, name) : xstrdup(name);
	struct stat st;
	bool excluded;

	if (strlen(path) > SRC_PATH_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "path longer than %d bytes: `%.64s...`",
				    SRC_PATH_MAX, path);
	if (!rel[0] && (strcmp(name, ".pinion") == 0 || strcmp(name, ".cog") == 0))
		return 0;
	for (const char *const *x = w->opts->exclude; x && *x; x++)
		if (strcmp(path, *x) == 0)
			return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", path);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
		pn_warn("skipping `%s`: not a regular file, directory or symlink", path);
		return 0;
	}
	excluded = src_ignore_match(w->ig, path);
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int sub = -1;
		size_t at = w->t->n;

		if (excluded && !src_ignore_has_exceptions(w->ig))
			return 0;
		if (w->t->n >= SRC_ENTRIES_MAX)
			return pn_error_set(err, PN_ERR_TOO_LARGE, "more than %d entries",
					    SRC_ENTRIES_MAX);
		entry_push(w, xstrdup(path), &st);
		sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return pn_error_set_errno(err, errno, "open `%s`", path);
		if (walk_dir(w, sub, path, err) < 0)
			return -1;
		mark_weights_only(w->t, at);
		/* an excluded directory stays only as the parent of re-included entries */
		if (excluded && w->t->n == at + 1) {
			free(w->t->entries[at].path);
			w->t->n--;
		}
		return 0;
	}
	if (excluded)
		return 0;
	if (w->t->n >= SRC_ENTRIES_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "more than %d entries", SRC_ENTRIES_MAX);
	entry_push(w, steal_pointer(&path), &st);
	return 0;
}

static int walk_dir(struct walk *w, int dfd, const char *rel, struct pn_error **err)
{
	cleanup_strv struct pn_strv names = PN_STRV_INIT;

	if (list_dir(dfd, &names, err) < 0)
		return pn_error_wrap(err, "read directory `%s`", rel[0] ? rel : ".");
	for (size_t i = 0; i < names.n; i++)
		if (walk_one(w, dfd, rel, names.v[i], err) < 0)
			return -1;
	return 0;
}

int src_tree_walk(const char *dir, const struct src_opts *opts, struct src_tree *out,
		  struct pn_error **err)
{
	struct src_opts defaults = {0};
	struct walk w = {out, opts ? opts : &defaults, NULL, 0};
	int rc;

	src_tree_init(out);
	out->root = xstrdup(dir);
	/* the one path resolution of the model directory (the user's own); all
	 * else is found from this fd without following a symlink */
	out->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (out->root_fd < 0) {
		pn_error_set_errno(err, errno, "open model directory `%s`", dir);
		src_tree_release(out);
		return -1;
	}
	if (src_ignore_load(out->root_fd, dir, &w.ig, err) < 0) {
		src_tree_release(out);
		return -1;
	}
	rc = walk_dir(&w, out->root_fd, "", err);
	src_ignore_free(w.ig);
	if (rc < 0) {
		src_tree_release(out);
		return pn_error_wrap(err, "walk `%s`", dir);
	}
	out->digests = xcalloc(out->n ? out->n : 1, sizeof(*out->digests));
	return 0;
}

/* ------------------------------------------------ entries, by fd again */

/* after the walk, entries are reached again from root_fd with no symlink
 * followed on the way (pn_path_open_beneath, O_NOFOLLOW): a directory the
 * walk saw that was since swapped for a symlink (to /etc, say) fails here
 * instead of leading out */
static int beneath_fail(struct pn_error *e, const char *path, struct pn_error **err)
{
	if (e->code == PN_ERR_INVALID || e->errno_val == ENOTDIR)
		pn_error_set(err, PN_ERR_INVALID,
			     "`%s` changed since the walk: a symlink is now on its path", path);
	else
		pn_error_propagate(err, steal_pointer(&e));
	pn_error_free(e);
	return -1;
}

/* the directory holding entry `path` (O_PATH), *base its last component */
static int entry_parent(const struct src_tree *t, const char *path, const char **base,
			struct pn_error **err)
{
	const char *slash = strrchr(path, '/');
	cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	struct pn_error *e = NULL;
	int fd;

	*base = slash ? slash + 1 : path;
	fd = pn_path_open_beneath(t->root_fd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW, &e);
	if (fd < 0)
		return beneath_fail(e, path, err);
	return fd;
}

/* a regular file of the tree, opened for reading (never a FIFO's open) */
static int entry_open(const struct src_tree *t, const char *path, struct stat *st,
		      struct pn_error **err)
{
	struct pn_error *e = NULL;
	int fd = pn_path_open_beneath(t->root_fd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, &e);

	if (fd < 0)
		return beneath_fail(e, path, err);
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return pn_error_set(err, PN_ERR_INVALID,
				    "`%s` changed since the walk: no longer a regular file", path);
	}
	return fd;
}

/* --------------------------------------------------------------- digests */

/* ------------------------------------------------------------------ memo */

#define MEMO_MAX ((size_t)64 << 20)

void src_tree_memo_load(struct src_tree *t, const char *path)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	json_t *j;

	if (t->memo)
		json_decref(t->memo);
	t->memo = NULL;
	if (pn_read_file(path, MEMO_MAX, &text, &len, NULL) == 0 &&
	    (j = json_loadb(text, len, 0, NULL)) != NULL) {
		if (json_is_object(j))
			t->memo = j;
		else
			json_decref(j);
	}
	if (!t->memo)
		t->memo = json_object();
}

int src_tree_memo_save(struct src_tree *t, const char *path, struct pn_error **err)
{
	cleanup_free char *text = NULL;

	json_t *keep;

	if (!t->memo)
		return 0;
	/* only the files of this tree: the memo does not grow with history */
	keep = json_object();
	for (size_t i = 0; i < t->n; i++) {
		json_t *m = json_object_get(t->memo, t->entries[i].path);

		if (m)
			json_object_set(keep, t->entries[i].path, m);
	}
	if (json_object_size(keep) != json_object_size(t->memo))
		t->memo_dirty = true;
	json_decref(t->memo);
	t->memo = keep;
	if (!t->memo_dirty)
		return 0;
	text = json_dumps(t->memo, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return pn_error_set(err, PN_ERR_GENERIC, "encode the digest memo");
	if (pn_write_file_atomic(path, text, strlen(text), 0644, err) < 0)
		return -1;
	t->memo_dirty = false;
	return 0;
}

static char *memo_stamp(const struct stat *st)
{
	return xasprintf("%llu:%llu:%lld:%lld.%09ld:%lld.%09ld", (unsigned long long)st->st_dev,
			 (unsigned long long)st->st_ino, (long long)st->st_size,
			 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
			 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* t->digests[i] from the memo entry of i if it has this stamp: 1, else 0 */
static int memo_lookup(struct src_tree *t, size_t i, const char *stamp)
{
	json_t *m = json_object_get(t->memo, t->entries[i].path);

	if (json_is_object(m) && json_is_string(json_object_get(m, "stat")) &&
	    strcmp(json_string_value(json_object_get(m, "stat")), stamp) == 0 &&
	    oci_digest_valid(json_string_value(json_object_get(m, "digest")))) {
		memcpy(t->digests[i], json_string_value(json_object_get(m, "digest")),
		       sizeof(oci_digest_t));
		return 1;
	}
	return 0;
}

static void memo_put(struct src_tree *t, size_t i, const char *stamp)
{
	json_object_set_new(t->memo, t->entries[i].path,
			    json_pack("{s:s,s:s}", "stat", stamp, "digest", t->digests[i]));
	t->memo_dirty = true;
}

/* the digest of a regular file, through the memo for large ones */
static int file_digest(struct src_tree *t, size_t i, struct pn_error **err)
{
	const struct src_entry *e = &t->entries[i];
	cleanup_free char *stamp = NULL;
	cleanup_close int fd = -1;
	struct stat st;

	fd = entry_open(t, e->path, &st, err);
	if (fd < 0)
		return -1;
	if (!t->memo || e->size < SRC_MEMO_MIN)
		return oci_digest_fd(fd, t->digests[i], NULL, err);
	stamp = memo_stamp(&st);
	if (memo_lookup(t, i, stamp))
		return 0;
	if (oci_digest_fd(fd, t->digests[i], NULL, err) < 0)
		return -1;
	memo_put(t, i, stamp);
	return 0;
}

int src_tree_digest_known(struct src_tree *t, size_t i, char **stamp_out, struct pn_error **err)
{
	cleanup_close int fd = -1;
	struct stat st;

	*stamp_out = NULL;
	if (t->digests[i][0])
		return 1;
	fd = entry_open(t, t->entries[i].path, &st, err);
	if (fd < 0)
		return -1;
	*stamp_out = memo_stamp(&st);
	return t->memo && memo_lookup(t, i, *stamp_out);
}

int src_tree_digest_learn(struct src_tree *t, size_t i, const char *digest, const char *stamp,
			  struct pn_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *now = NULL;
	struct stat st;

	if (!oci_digest_valid(digest))
		PN_BUG("learn `%s` for `%s`", digest, t->entries[i].path);
	fd = entry_open(t, t->entries[i].path, &st, err);
	if (fd < 0)
		return -1;
	now = memo_stamp(&st);
	if (strcmp(now, stamp) != 0 || st.st_size != t->entries[i].size)
		return pn_error_set(err, PN_ERR_GENERIC, "`%s` changed while read",
				    t->entries[i].path);
	memcpy(t->digests[i], digest, sizeof(oci_digest_t));
	if (t->memo && t->entries[i].size >= SRC_MEMO_MIN)
		memo_put(t, i, stamp);
	return 0;
}

static int entry_content(struct src_tree *t, size_t i, struct pn_buf *b, struct pn_error **err)
{
	const struct src_entry *e = &t->entries[i];

	if (S_ISREG(e->mode)) {
		if (!t->digests[i][0] && file_digest(t, i, err) < 0)
			return pn_error_wrap(err, "hash `%s`", e->path);
		return pn_buf_printf(b, err, " %s", t->digests[i]);
	}
	if (S_ISLNK(e->mode)) {
		char target[SRC_PATH_MAX + 1];
		const char *base;
		cleanup_close int pfd = entry_parent(t, e->path, &base, err);
		ssize_t n;

		if (pfd < 0)
			return -1;
		n = readlinkat(pfd, base, target, sizeof(target) - 1);
		if (n < 0)
			return pn_error_set_errno(err, errno, "readlink `%s`", e->path);
		target[n] = '\0';
		return pn_buf_printf(b, err, " -> %s", target);
	}
	return 0;
}

static int entry_hash(struct src_tree *t, size_t i, struct oci_hasher *h, struct pn_error **err)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	const struct src_entry *e = &t->entries[i];

	if (pn_buf_printf(&b, err, "%s\t%o\t%lld", e->path, (unsigned)e->mode, (long long)e->size) <
		    0 ||
	    entry_content(t, i, &b, err) < 0)
		return -1;
	oci_hasher_update(h, b.data, b.len + 1); /* with the NUL as separator */
	return 0;
}

int src_tree_digest_source(struct src_tree *t, oci_digest_t out, struct pn_error **err)
{
	struct oci_hasher *h = oci_hasher_new();

	oci_hasher_update(h, "pinion-source-v1", 17);
	for (size_t i = 0; i < t->n; i++) {
		if (!src_entry_in_source(&t->entries[i]))
			continue;
		if (entry_hash(t, i, h, err) < 0) {
			oci_hasher_free(h);
			return -1;
		}
	}
	oci_hasher_final(h, out);
	oci_hasher_free(h);
	return 0;
}

int src_tree_digest_entry(struct src_tree *t, size_t i, oci_digest_t out, struct pn_error **err)
{
	struct oci_hasher *h = oci_hasher_new();
	int rc;

	oci_hasher_update(h, "pinion-weight-v1", 17);
	/* the parents' modes are part of the layer */
	for (size_t k = 0; k < i; k++) {
		size_t len = strlen(t->entries[k].path);

		if (S_ISDIR(t->entries[k].mode) &&
		    strncmp(t->entries[k].path, t->entries[i].path, len) == 0 &&
		    t->entries[i].path[len] == '/' && entry_hash(t, k, h, err) < 0)
			goto fail;
	}
	rc = entry_hash(t, i, h, err);
	if (rc < 0)
		goto fail;
	oci_hasher_final(h, out);
	oci_hasher_free(h);
	return 0;
fail:
	oci_hasher_free(h);
	return -1;
}

/* ---------------------------------------------------------------- layers */

/* the last parent directory opened (entries come sorted, siblings together) */
struct parent_cache {
	char *dir;
	int fd;
};

static void parent_cache_release(struct parent_cache *pc)
{
	free(pc->dir);
	if (pc->fd >= 0)
		close(pc->fd);
	pc->dir = NULL;
	pc->fd = -1;
}

static int add_entry(struct oci_layer_writer *w, const struct src_tree *t,
		     const struct src_entry *e, const char *prefix, struct parent_cache *pc,
		     struct pn_error **err)
{
	cleanup_free char *dst = prefix[0] ? xasprintf("%s/%s", prefix, e->path) : xstrdup(e->path);
	const char *slash = strrchr(e->path, '/');
	size_t dlen = slash ? (size_t)(slash - e->path) : 0;
	const char *base;

	if (S_ISDIR(e->mode))
		return oci_layer_writer_add_dir(w, dst, e->mode & 07777, err);
	if (pc->fd < 0 || strlen(pc->dir) != dlen || strncmp(pc->dir, e->path, dlen) != 0) {
		parent_cache_release(pc);
		pc->fd = entry_parent(t, e->path, &base, err);
		if (pc->fd < 0)
			return -1;
		pc->dir = xstrndup(e->path, dlen);
	}
	base = slash ? slash + 1 : e->path;
	return oci_layer_writer_add_at(w, pc->fd, base, e->path, dst, err);
}

static int add_prefix_dirs(struct oci_layer_writer *w, const struct src_tree *t, const char *prefix,
			   struct pn_error **err)
{
	cleanup_free char *p = xstrdup(prefix);

	(void)t;
	if (!prefix[0])
		return 0;
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (oci_layer_writer_add_dir(w, p, 0755, err) < 0)
			return -1;
		*s = '/';
	}
	return oci_layer_writer_add_dir(w, p, 0755, err);
}

int src_layer_add_source(struct oci_layer_writer *w, const struct src_tree *t, const char *prefix,
			 struct pn_error **err)
{
	struct parent_cache pc = {NULL, -1};

	if (add_prefix_dirs(w, t, prefix, err) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		if (!src_entry_in_source(&t->entries[i]))
			continue;
		if (add_entry(w, t, &t->entries[i], prefix, &pc, err) < 0) {
			parent_cache_release(&pc);
			return pn_error_wrap(err, "add `%s`", t->entries[i].path);
		}
	}
	parent_cache_release(&pc);
	return 0;
}

int src_layer_add_weight(struct oci_layer_writer *w, const struct src_tree *t, size_t i,
			 const char *prefix, struct pn_error **err)
{
	struct parent_cache pc = {NULL, -1};
	const struct src_entry *e;
	int rc = 0;

	if (i >= t->n || !t->entries[i].weight)
		PN_BUG("entry %zu is not a weight", i);
	e = &t->entries[i];
	if (add_prefix_dirs(w, t, prefix, err) < 0)
		return -1;
	for (size_t k = 0; k < i; k++) {
		size_t len = strlen(t->entries[k].path);

		if (S_ISDIR(t->entries[k].mode) && strncmp(t->entries[k].path, e->path, len) == 0 &&
		    e->path[len] == '/' && add_entry(w, t, &t->entries[k], prefix, &pc, err) < 0)
			return pn_error_wrap(err, "add `%s`", t->entries[k].path);
	}
	if (add_entry(w, t, e, prefix, &pc, err) < 0)
		rc = pn_error_wrap(err, "add `%s`", e->path);
	parent_cache_release(&pc);
	return rc;
}
