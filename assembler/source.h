/* source.h - the model directory as it goes into the image under /src.
 *
 * .dockerignore: Docker's pattern rules (moby patternmatcher): one pattern a
 * line, `#` comments, blank lines skipped, surrounding whitespace trimmed,
 * leading `/` dropped, the pattern cleaned like filepath.Clean; `*` and `?`
 * never match `/`; `**` matches any number of directories (also none);
 * `[...]` classes, `\` escapes; a later `!pattern` re-includes what an
 * earlier pattern excluded; a path is also excluded when one of its parent
 * directories matches.  Matching is linear in pattern x path (an NFA walk),
 * so hostile patterns cannot blow up.
 *
 * The walk: every entry under the model directory that is not ignored, in a
 * stable sorted order (depth first, names sorted bytewise), symlinks kept as
 * symlinks, sockets/fifos/devices skipped.  `.pinion/` and `.cog/` at the top
 * are always left out (pinion's own output and cache, Cog's scratch dir).
 * The model directory is untrusted: it is opened once (root_fd) and every
 * entry is reached from that fd with no symlink followed, during the walk
 * and again when hashing and writing (pn_path_open_beneath with O_NOFOLLOW;
 * regular files opened O_NONBLOCK and checked to still be regular), so no
 * symlink, `..` or directory swapped after the walk reads a host file.
 *
 * Weights: a regular file of at least SRC_WEIGHT_MIN bytes that is not code
 * (.py .ipynb .pyc), a wheel, an image, audio, video or a log.  With
 * separate_weights each weight goes into its own layer (in tree order) before
 * the source layer, which then holds everything else; the union of those
 * layers is the same /src tree as the single layer without separation. */
#ifndef PN_ASSEMBLER_SOURCE_H
#define PN_ASSEMBLER_SOURCE_H

#include "common/common.h"
#include "oci/oci.h"

#include <jansson.h>

#include <sys/stat.h>

#define SRC_IGNORE_FILE_MAX ((size_t)1 << 20) /* .dockerignore size */
#define SRC_PATTERN_MAX	    4096	      /* one pattern's length */
#define SRC_PATTERNS_MAX    10000	      /* patterns per file */
#define SRC_PATH_MAX	    4096	      /* relative path length */
#define SRC_ENTRIES_MAX	    1000000	      /* entries in a model directory */
#define SRC_WEIGHT_MIN	    ((int64_t)10 << 20)

/* ------------------------------------------------------------ .dockerignore */
struct src_ignore;

/* parse .dockerignore text; a malformed pattern (unclosed `[`, trailing `\`,
 * a lone `!`) is PN_ERR_INVALID naming its line.  An empty text gives a
 * matcher that excludes nothing. */
int src_ignore_parse(const char *text, size_t len, struct src_ignore **out, struct pn_error **err);
/* read .dockerignore in the model directory dirfd (dir names it in
 * messages; absent: a matcher that excludes nothing).  It is opened beneath
 * dirfd: a symlink to another file of the model directory is followed, one
 * leading out of it is PN_ERR_INVALID (nothing of the target read or
 * printed), as is a file that is not regular or is larger than
 * SRC_IGNORE_FILE_MAX (checked before reading). */
int src_ignore_load(int dirfd, const char *dir, struct src_ignore **out, struct pn_error **err);
void src_ignore_free(struct src_ignore *ig);
/* true if the relative, `/`-separated path is excluded */
bool src_ignore_match(const struct src_ignore *ig, const char *path);
/* true if some pattern is a `!` exception (directories must then be walked) */
bool src_ignore_has_exceptions(const struct src_ignore *ig);
size_t src_ignore_count(const struct src_ignore *ig);

/* Go's filepath.Clean on a `/`-separated path (owned by the caller) */
char *src_path_clean(const char *path);

/* ------------------------------------------------------------------- walk */
struct src_entry {
	char *path;   /* relative, `/`-separated */
	mode_t mode;  /* type and permission bits (lstat) */
	int64_t size; /* regular files */
	bool weight;  /* a weight file (see above) */
	/* a directory holding weight files and nothing else, at any depth (no
	 * other file, symlink or empty directory): its entry is written by the
	 * weights layers only, as Cog's .dockerignore leaves such a directory
	 * out of `COPY . /src`, so a new directory of weights does not change
	 * the source layer */
	bool weights_only;
};

struct src_tree {
	char *root;		   /* the model directory */
	int root_fd;		   /* it, open: entries are reached from here */
	struct src_entry *entries; /* sorted, parents before children */
	size_t n;
	size_t n_weights;
	int64_t weight_bytes;
	oci_digest_t *digests; /* content digests, filled lazily ("" = not yet) */
	json_t *memo;	       /* digest memo (see src_tree_memo_load), or NULL */
	bool memo_dirty;
};

/* the entry is in the source layer (and its digest): not a weight, and not a
 * directory of weights only */
static inline bool src_entry_in_source(const struct src_entry *e)
{
	return !e->weight && !e->weights_only;
}

struct src_opts {
	int64_t weight_min;	    /* 0 = SRC_WEIGHT_MIN */
	bool separate_weights;	    /* mark weights (else none is a weight) */
	const char *const *exclude; /* NULL-terminated relative paths left out (the
				       output layout, the cache dir), or NULL */
};

void src_tree_init(struct src_tree *t);
void src_tree_release(struct src_tree *t);
int src_tree_walk(const char *dir, const struct src_opts *opts, struct src_tree *out,
		  struct pn_error **err);
/* the weight rule on a file name and size */
bool src_is_weight(const char *name, int64_t size, int64_t min);

/* Cache-key inputs: sha256 over (path, type, mode, size, content or link
 * target) of the entries that go into the source layer (weights == false) or
 * of entry i alone (a weight layer).  Content digests are remembered in
 * memory for the life of the tree. */
int src_tree_digest_source(struct src_tree *t, oci_digest_t out, struct pn_error **err);
int src_tree_digest_entry(struct src_tree *t, size_t i, oci_digest_t out, struct pn_error **err);
/* For a caller that reads regular entry i itself (a weights layer hashes the
 * file as it writes it: one pass instead of two).  known: 1 when i's content
 * digest needs no read (in memory, or the memo matches the file), 0 when it
 * does, with *stamp_out (owned) the file's state now; < 0 if it cannot be
 * opened.  learn: the digest the caller found in a read that began after
 * known; kept in memory and the memo, unless the file no longer has that
 * state (then an error: what was read may not be what is there). */
int src_tree_digest_known(struct src_tree *t, size_t i, char **stamp_out, struct pn_error **err);
int src_tree_digest_learn(struct src_tree *t, size_t i, const char *digest, const char *stamp,
			  struct pn_error **err);

/* The digest memo: content digests of large files (>= SRC_MEMO_MIN) kept in
 * a JSON file between builds, keyed by path and checked against the file's
 * device, inode, size, mtime and ctime (nanoseconds), so that a rebuild does
 * not read gigabytes of unchanged weights.  A missing or corrupt memo is
 * simply empty; saving is atomic and best effort. */
#define SRC_MEMO_MIN ((int64_t)1 << 20)
void src_tree_memo_load(struct src_tree *t, const char *path);
int src_tree_memo_save(struct src_tree *t, const char *path, struct pn_error **err);

/* Write layers under `prefix` (e.g. "src"): the source layer (every
 * non-weight entry, plus the prefix directory itself), or the layer of
 * weight entry i (its parent directories and the file). */
int src_layer_add_source(struct oci_layer_writer *w, const struct src_tree *t, const char *prefix,
			 struct pn_error **err);
int src_layer_add_weight(struct oci_layer_writer *w, const struct src_tree *t, size_t i,
			 const char *prefix, struct pn_error **err);

#endif
