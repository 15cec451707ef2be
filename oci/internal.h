/* internal.h - helpers shared inside oci/ only. */
#ifndef PN_OCI_INTERNAL_H
#define PN_OCI_INTERNAL_H

#include "oci/oci.h"

/* json helpers: an optional string member (NULL if absent); wrong type is an error */
int oci_json_opt_string(json_t *obj, const char *key, const char *what, char **out,
			struct pn_error **err);
/* an optional array of strings into a strv; *was_null set when the value is JSON null */
int oci_json_opt_strv(json_t *obj, const char *key, const char *what, struct pn_strv *out,
		      bool *was_null, struct pn_error **err);
/* an optional object whose values are all strings (copied, may be NULL) */
int oci_json_opt_str_object(json_t *obj, const char *key, const char *what, json_t **out,
			    struct pn_error **err);
json_t *oci_json_load(const char *data, size_t len, const char *what, struct pn_error **err);
/* canonical: sorted keys, compact */
int oci_json_dump(json_t *j, char **out, size_t *len, struct pn_error **err);

int oci_descriptor_from_json(json_t *j, const char *what, struct oci_descriptor *out,
			     struct pn_error **err);

/* the "C" locale for libarchive's header (de)coding, or (locale_t)0 if it
 * could not be made: under uselocale() of it, libarchive keeps non-ASCII
 * names as their bytes (oci_tar_next_header, the writer's headers) */
#include <locale.h>
locale_t oci_tar_locale(void);

/* set annotation key=value (value NULL: remove it) on every index.json entry
 * of manifest digest; PN_ERR_NOT_FOUND when none (artifact.c's referrers) */
int oci_layout_annotate(struct oci_layout *l, const char *digest, const char *key,
			const char *value, struct pn_error **err);
/* the lock serialising writers of a layout's index.json */
int oci_layout_lock(struct oci_layout *l, struct pn_error **err);
void oci_layout_unlock(struct oci_layout *l);
int oci_layout_dirfd(const struct oci_layout *l);

/* share.c: size bytes of src (from 0) into dst at dst_off by FICLONERANGE
 * (dst_off 4 KiB-aligned), else copy_file_range; *how = OCI_SHARE_WRITE when
 * neither works here, or when dst takes O_DIRECT writes (oci_fd_pass then
 * writes what it reads, with no copy into the page cache), and nothing was
 * written.  *direct: dst reopened with O_DIRECT for that write (the caller
 * closes it), else -1.  The env PINION_NO_REFLINK / PINION_NO_DIRECT /
 * PINION_NO_COPY_RANGE turn a way off (tests of the fallbacks). */
int oci_fd_share(int dst, int64_t dst_off, int src, int64_t size, enum oci_blob_share *how,
		 int *direct, struct pn_error **err);
bool oci_fd_clone(int dst, int src); /* FICLONE of the whole file */

/* a tar entry's path cleaned: "./a//b/" -> "a/b", "/etc/x" -> "etc/x",
 * "." -> "" (*out owned by the caller); ".." anywhere is PN_ERR_INVALID */
int oci_tar_path_clean(const char *in, char **out, struct pn_error **err);

/* sha256 on a second thread for large streams (hashthread.c).  start takes
 * over updates of h (borrowed); update copies the bytes into a bounded ring
 * (1 MiB) and blocks while it is full; finish waits for every byte to be
 * hashed, joins and frees (NULL is fine), after which h is used as before.
 * start returns NULL if no thread can be made (then update h directly). */
#define OCI_HASH_THREAD_MIN ((uint64_t)4 << 20)
struct oci_hash_thread;
struct oci_hash_thread *oci_hash_thread_start(struct oci_hasher *h);
void oci_hash_thread_update(struct oci_hash_thread *t, const void *data, size_t len);
void oci_hash_thread_finish(struct oci_hash_thread *t);
/* update h directly until so_far + len reaches OCI_HASH_THREAD_MIN, then
 * through a thread started in *t (finish it before oci_hasher_final);
 * PINION_HASH_THREAD=0 in the environment keeps hashing in line */
void oci_hasher_update_large(struct oci_hasher *h, struct oci_hash_thread **t, uint64_t so_far,
			     const void *data, size_t len);

/* One read for several consumers (hashthread.c): each fn runs on a thread
 * of its own and sees every published chunk in order (off: its offset in
 * the stream); fn returns 0 or an errno, after which that consumer skips
 * the rest.  start returns NULL if no threads can be made or
 * PINION_HASH_THREAD=0 (then the caller works in line).  slot waits for a
 * free chunk of oci_fanout_chunk() bytes, 4 KiB-aligned, to fill; publish
 * hands its first len bytes on; finish waits for every consumer, frees, and
 * returns the first consumer's errno or 0. */
typedef int (*oci_fanout_fn)(void *ud, const unsigned char *buf, size_t len, uint64_t off);
struct oci_fanout;
size_t oci_fanout_chunk(void);
struct oci_fanout *oci_fanout_start(const oci_fanout_fn *fns, void *const *uds, size_t n);
unsigned char *oci_fanout_slot(struct oci_fanout *f);
void oci_fanout_publish(struct oci_fanout *f, size_t len);
int oci_fanout_finish(struct oci_fanout *f);

/* share.c: size bytes of src (from offset 0) read once, hashed into h and
 * (if not NULL) data, and (dst >= 0) written into dst at dst_off: through
 * direct (dst opened with O_DIRECT, from oci_fd_share; borrowed) for the
 * 4 KiB-aligned part when it is not -1 (the bytes go to the disk as they
 * are read and not through the page cache: nothing is left for the
 * commit's fsync to write), else pwrite.  A file that ends early is an
 * error. */
int oci_fd_pass(int src, int64_t size, const char *label, struct oci_hasher *h,
		struct oci_hasher *data, int dst, int direct, int64_t dst_off,
		struct pn_error **err);

/* lstream.c: a layer blob's uncompressed bytes (gzip, zstd or a plain tar,
 * told by their first bytes), made on a thread of their own into a bounded
 * ring (1 MiB).  open reads from fd (borrowed, at its current offset); with
 * verify, the blob's bytes and the uncompressed ones are hashed.  read hands
 * out the next chunk, valid until the next read: > 0 bytes, 0 at the end
 * (with verify, the blob was then read to its end), -1 on failure (error and
 * error_code say what; the chunks before it were handed out first).
 * digests: after read returned 0, the blob's digest and the diff_id.
 * free stops the thread wherever it is.  PINION_UNPACK_THREAD=0 decodes in
 * the reader's thread, PINION_INFLATE=zlib inflates with zlib where igzip
 * (ISA-L, PN_HAVE_ISAL) is built in. */
struct oci_lstream;
struct oci_lstream *oci_lstream_open(int fd, bool verify, struct pn_error **err);
ssize_t oci_lstream_read(struct oci_lstream *s, const void **buf);
const char *oci_lstream_error(const struct oci_lstream *s);
int oci_lstream_error_code(const struct oci_lstream *s);
void oci_lstream_digests(struct oci_lstream *s, oci_digest_t blob, oci_digest_t diff_id);
void oci_lstream_free(struct oci_lstream *s);

/* tests: force the applier's fallback walk (no openat2) on or off */
void oci_apply_force_no_openat2(bool on);

/* archive.c: an archive's members, each regular file stored as a blob of
 * the layout it was read into; sorted by name, names unique and cleaned */
struct oci_archive_member {
	char *name;
	char *link; /* a symlink's target as a member name (docker-archive), or NULL */
	oci_digest_t digest;
	int64_t size;
};
struct oci_archive_members {
	struct oci_archive_member *v;
	size_t n;
};
int oci_archive_read_members(struct oci_layout *l, const char *file, bool symlinks,
			     struct oci_archive_members *out, struct pn_error **err);
void oci_archive_members_release(struct oci_archive_members *m);
/* the regular member `name` (a symlink followed once); NULL and
 * PN_ERR_NOT_FOUND if there is none */
const struct oci_archive_member *oci_archive_member_find(const struct oci_archive_members *m,
							 const char *name, struct pn_error **err);
int oci_archive_member_read(struct oci_layout *l, const struct oci_archive_members *m,
			    const char *name, size_t max, char **out, size_t *len,
			    struct pn_error **err);
/* a tar written to "FILE.pinion-XXXXXX" and renamed to FILE by commit;
 * abort (after any failure) removes the temp file */
struct oci_tar_out {
	struct archive *a;
	int fd;
	char *path, *tmp;
};
int oci_tar_out_begin(struct oci_tar_out *t, const char *file, struct pn_error **err);
int oci_tar_out_add_dir(struct oci_tar_out *t, const char *name, struct pn_error **err);
int oci_tar_out_add_data(struct oci_tar_out *t, const char *name, const void *data, size_t len,
			 struct pn_error **err);
int oci_tar_out_add_fd(struct oci_tar_out *t, const char *name, int fd, int64_t size,
		       struct pn_error **err);
int oci_tar_out_commit(struct oci_tar_out *t, struct pn_error **err);
void oci_tar_out_abort(struct oci_tar_out *t);

/* pgzip.c: gzip on worker threads (the layer writer's gzip).  The input is
 * cut into blocks of `block` bytes (0: OCI_PGZIP_BLOCK; at least 32 KiB),
 * each deflated by libdeflate at `level` (0: 6; at most 12) into a gzip
 * member of its own; the output is the members in order and the same bytes
 * for any thread count (1: in line, no thread).  out receives the bytes in order, on the
 * caller's thread, and fills *err when it fails.  write and finish return < 0
 * on the first failure (a worker's or out's) and every call after it; free
 * (NULL is fine) stops and joins the workers at any point. */
#define OCI_PGZIP_BLOCK ((size_t)1 << 20)
typedef int (*oci_pgzip_out_fn)(void *ud, const void *data, size_t len, struct pn_error **err);
struct oci_pgzip;
struct oci_pgzip *oci_pgzip_new(int level, int threads, size_t block, oci_pgzip_out_fn out,
				void *ud, struct pn_error **err);
int oci_pgzip_write(struct oci_pgzip *z, const void *data, size_t len, struct pn_error **err);
/* the last member (an empty one for an empty input) */
int oci_pgzip_finish(struct oci_pgzip *z, struct pn_error **err);
void oci_pgzip_free(struct oci_pgzip *z);
/* workers for gzip: requested if > 0, else $PINION_COMPRESS_THREADS if > 0,
 * else the number of cores; at least 1, at most 8 */
int oci_pgzip_threads(int requested);
/* tests: the compression of block number `block` (from 0) fails */
void oci_pgzip_test_fail_block(struct oci_pgzip *z, uint64_t block);
/* tests: new streams start no thread, as where pthread_create fails */
void oci_pgzip_test_no_threads(bool on);

#endif
