/* oci.h - the one public face of oci/: digests, the image model (descriptor,
 * manifest, index, config) in OCI and Docker v2 media types, the OCI image
 * layout store, the streaming layer writer and the safe layer applier.
 *
 * Errors follow common.h: < 0 / NULL and *err filled, err passed last.
 * Codes used here: PN_ERR_INVALID (malformed input: digest, JSON, tar entry),
 * PN_ERR_DIGEST (content does not match its digest), PN_ERR_NOT_FOUND (blob,
 * tag), PN_ERR_TOO_LARGE (a named limit), PN_ERR_UNSUPPORTED (media type). */
#ifndef PN_OCI_H
#define PN_OCI_H

#include "common/common.h"

#include <jansson.h>

/* ------------------------------------------------------------------ limits */
/* manifest / index JSON */
#define OCI_MANIFEST_MAX ((size_t)4 << 20)
/* image config JSON (labels carry schema + pip freeze) */
#define OCI_CONFIG_MAX ((size_t)32 << 20)
#define OCI_LAYERS_MAX 1024 /* layers per manifest */
#define OCI_INDEX_MAX  4096 /* manifests per index */

/* ----------------------------------------------------------------- digests
 * Only sha256 is accepted: "sha256:" followed by 64 lowercase hex digits. */
#define OCI_DIGEST_STRLEN 71
typedef char oci_digest_t[OCI_DIGEST_STRLEN + 1]; /* "sha256:<64 hex>" + NUL */

/* validate s and copy it to out; anything else is PN_ERR_INVALID naming why */
int oci_digest_parse(const char *s, oci_digest_t out, struct pn_error **err);
bool oci_digest_valid(const char *s);
/* the 64 hex characters after "sha256:" */
const char *oci_digest_hex(const char *digest);

/* streaming sha256 through libcrypto */
struct oci_hasher;
struct oci_hasher *oci_hasher_new(void);
void oci_hasher_update(struct oci_hasher *h, const void *data, size_t len);
/* writes "sha256:..." to out; the hasher may be reused after oci_hasher_reset */
void oci_hasher_final(struct oci_hasher *h, oci_digest_t out);
void oci_hasher_reset(struct oci_hasher *h);
void oci_hasher_free(struct oci_hasher *h);
void oci_digest_buf(const void *data, size_t len, oci_digest_t out);
int oci_digest_fd(int fd, oci_digest_t out, int64_t *size_out, struct pn_error **err);
int oci_digest_file(const char *path, oci_digest_t out, int64_t *size_out, struct pn_error **err);

/* ------------------------------------------------------------- media types */
#define OCI_MT_INDEX	     "application/vnd.oci.image.index.v1+json"
#define OCI_MT_MANIFEST	     "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_CONFIG	     "application/vnd.oci.image.config.v1+json"
#define OCI_MT_LAYER	     "application/vnd.oci.image.layer.v1.tar"
#define OCI_MT_LAYER_GZIP    "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MT_LAYER_ZSTD    "application/vnd.oci.image.layer.v1.tar+zstd"
#define DOCKER_MT_LIST	     "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MT_MANIFEST   "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MT_CONFIG     "application/vnd.docker.container.image.v1+json"
#define DOCKER_MT_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define OCI_ANNOT_REF_NAME   "org.opencontainers.image.ref.name"

enum oci_compression { OCI_COMP_NONE = 0, OCI_COMP_GZIP, OCI_COMP_ZSTD };
/* "gzip" | "zstd" | "none" */
int oci_compression_parse(const char *s, enum oci_compression *out, struct pn_error **err);
const char *oci_compression_name(enum oci_compression c);
/* layer media type -> compression (OCI and Docker types); -1 if not a layer type */
int oci_layer_media_compression(const char *media_type);
const char *oci_layer_media_type(enum oci_compression c);

/* --------------------------------------------------------------- the model
 * Structs own their strings.  Parsers accept OCI and Docker v2 media types;
 * writers emit OCI ones, as canonical JSON (sorted keys, compact), so the same
 * image always gives the same bytes and digests. */
struct oci_platform {
	char *os;	    /* "linux" */
	char *architecture; /* "amd64" */
	char *variant;	    /* may be NULL */
};

struct oci_descriptor {
	char *media_type;
	oci_digest_t digest;
	int64_t size;
	json_t *annotations;	       /* object of strings, or NULL */
	struct oci_platform *platform; /* index entries only, may be NULL */
};

struct oci_manifest {
	char *media_type; /* as read (OCI or Docker) */
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t n_layers;
	json_t *annotations; /* or NULL */
};

struct oci_index {
	char *media_type; /* as read (OCI index or Docker list) */
	struct oci_descriptor *manifests;
	size_t n_manifests;
	json_t *annotations;
};

/* The image config.  Known fields are parsed into the struct; `raw` keeps the
 * whole document so unknown fields (Healthcheck, OnBuild, ...) survive a round
 * trip: oci_config_to_json() writes the struct's fields over raw. */
struct oci_history {
	char *created;
	char *created_by;
	char *comment;
	bool empty_layer;
};

struct oci_config {
	char *architecture;
	char *os;
	char *created; /* RFC 3339, may be NULL */
	char *author;
	/* "config" section */
	char *user;
	char *working_dir;
	struct pn_strv env; /* "NAME=value" */
	struct pn_strv entrypoint;
	struct pn_strv cmd;
	struct pn_strv exposed_ports; /* "5000/tcp" */
	struct pn_strv volumes;
	char *stop_signal;
	json_t *labels;			/* object of strings (never NULL after parse/init) */
	bool entrypoint_null, cmd_null; /* explicitly null vs empty */
	/* rootfs */
	oci_digest_t *diff_ids;
	size_t n_diff_ids;
	struct oci_history *history;
	size_t n_history;
	json_t *raw; /* the document as read, or NULL */
};

void oci_descriptor_init(struct oci_descriptor *d);
void oci_descriptor_release(struct oci_descriptor *d);
void oci_descriptor_copy(struct oci_descriptor *out, const struct oci_descriptor *in);
json_t *oci_descriptor_to_json(const struct oci_descriptor *d);
/* a new JSON array of the strings of s, in order (the one strv-to-JSON helper) */
json_t *oci_strv_to_json(const struct pn_strv *s);

int oci_manifest_parse(const char *data, size_t len, struct oci_manifest *out,
		       struct pn_error **err);
void oci_manifest_init(struct oci_manifest *m);
void oci_manifest_release(struct oci_manifest *m);
void oci_manifest_add_layer(struct oci_manifest *m, const struct oci_descriptor *d);
/* canonical OCI JSON; *out is owned by the caller */
int oci_manifest_to_json(const struct oci_manifest *m, char **out, size_t *len,
			 struct pn_error **err);

int oci_index_parse(const char *data, size_t len, struct oci_index *out, struct pn_error **err);
void oci_index_init(struct oci_index *ix);
void oci_index_release(struct oci_index *ix);
int oci_index_to_json(const struct oci_index *ix, char **out, size_t *len, struct pn_error **err);
/* the manifest for os/arch[/variant]; PN_ERR_NOT_FOUND lists what there is */
int oci_index_select_platform(const struct oci_index *ix, const char *platform,
			      const struct oci_descriptor **out, struct pn_error **err);

int oci_config_parse(const char *data, size_t len, struct oci_config *out, struct pn_error **err);
void oci_config_init(struct oci_config *c); /* linux/amd64, empty */
void oci_config_release(struct oci_config *c);
int oci_config_to_json(const struct oci_config *c, char **out, size_t *len, struct pn_error **err);
/* set NAME=value in env (replacing NAME) */
void oci_config_set_env(struct oci_config *c, const char *name, const char *value);
const char *oci_config_get_env(const struct oci_config *c, const char *name);
void oci_config_set_label(struct oci_config *c, const char *key, const char *value);
void oci_config_add_layer(struct oci_config *c, const char *diff_id, const char *created_by);
void oci_config_add_history(struct oci_config *c, const char *created_by, bool empty_layer);

/* "manifest" or "index" from a document's mediaType (or its shape when the
 * field is absent); PN_ERR_UNSUPPORTED for anything else */
enum oci_doc_kind { OCI_DOC_MANIFEST = 1, OCI_DOC_INDEX };
int oci_doc_kind(const char *media_type, const char *data, size_t len, enum oci_doc_kind *out,
		 struct pn_error **err);

/* ------------------------------------------------------------ layout store
 * An OCI image layout directory: oci-layout, index.json, blobs/sha256/.
 * Blob writes are verified and atomic (temp, fsync, rename).  index.json is
 * replaced atomically, never edited in place, under an exclusive lock file
 * (".pinion.lock") held for tag/untag, so concurrent writers serialise and
 * a killed writer leaves the previous index intact.
 *
 * Every handle holds a shared flock on ".pinion-gc.lock" from open to free
 * (waiting, with a message, while a gc runs); gc holds it exclusively.  So
 * gc never runs while another pinion process has the layout open, and never
 * removes a blob or temp file a running build, pull, push or copy uses.  A
 * reader of a layout it cannot write, without that file, goes without. */
struct oci_layout;

enum { OCI_LAYOUT_CREATE = 1 };
int oci_layout_open(const char *dir, int flags, struct oci_layout **out, struct pn_error **err);
void oci_layout_free(struct oci_layout *l);
const char *oci_layout_path(const struct oci_layout *l);

bool oci_layout_has_blob(struct oci_layout *l, const char *digest);
/* the blob's path inside the layout (owned by the caller) */
char *oci_layout_blob_path(struct oci_layout *l, const char *digest);
int oci_layout_open_blob(struct oci_layout *l, const char *digest, int *fd_out, int64_t *size_out,
			 struct pn_error **err);
int oci_layout_read_blob(struct oci_layout *l, const char *digest, size_t max, char **out,
			 size_t *len_out, struct pn_error **err);
/* write a whole buffer as a blob; if expected is not NULL it must match */
int oci_layout_put_blob(struct oci_layout *l, const void *data, size_t len, const char *expected,
			oci_digest_t out, struct pn_error **err);

/* streaming blob writer: bytes are hashed as they are written; commit checks
 * the digest (and size, if expected_size >= 0) and renames into place;
 * abort (or free without commit) removes the temp file. */
struct oci_blob_writer;
struct oci_blob_writer *oci_layout_blob_begin(struct oci_layout *l, struct pn_error **err);
int oci_blob_writer_write(struct oci_blob_writer *w, const void *data, size_t len,
			  struct pn_error **err);
int64_t oci_blob_writer_size(const struct oci_blob_writer *w);
int oci_blob_writer_commit(struct oci_blob_writer *w, const char *expected, int64_t expected_size,
			   oci_digest_t out, struct pn_error **err);
void oci_blob_writer_free(struct oci_blob_writer *w); /* aborts if not committed */
/* how oci_blob_writer_append_fd placed the bytes */
enum oci_blob_share { OCI_SHARE_CLONE, OCI_SHARE_COPY_RANGE, OCI_SHARE_WRITE };
/* append `size` bytes of the regular file fd (from offset 0): its extents
 * shared (FICLONERANGE) when the blob's end is 4 KiB-aligned and on the same
 * reflink filesystem, else copy_file_range, else read/write.  The file is
 * read once for the digest; it must not change meanwhile (checked by
 * fstat).  *how may be NULL.  data_out (an oci_digest_t, or NULL): also the
 * digest of the file's bytes alone, from the same read (on a second thread). */
int oci_blob_writer_append_fd(struct oci_blob_writer *w, int fd, int64_t size, const char *label,
			      enum oci_blob_share *how, char *data_out, struct pn_error **err);

/* copy blob `digest` from src into dst unless dst has it: a hard link when
 * both are on one filesystem (blobs are immutable), else a stream copy that
 * dst's blob writer verifies against the digest */
int oci_layout_copy_blob(struct oci_layout *src, struct oci_layout *dst, const char *digest,
			 struct pn_error **err);

/* Names in a layout.  An index.json entry is named by its
 * org.opencontainers.image.ref.name annotation: a bare tag (`latest`) or, as
 * skopeo and buildah write `oci:DIR:r8.im/me/model:v3`, a whole reference.
 * The tag of a name is what follows the last ':' after the last '/' before
 * any '@' (`v3` in `r8.im:5000/me/model:v3`), or NULL when it has none. */
const char *oci_ref_tag_of(const char *name);
/* the name a layout stores for an image named NAME[:TAG][@DIGEST] (`-t`):
 * NAME:TAG whole; NAME:latest without a tag; the digest dropped */
char *oci_ref_layout_name(const char *name);

/* tags: index.json entries annotated with org.opencontainers.image.ref.name */
int oci_layout_tag(struct oci_layout *l, const char *tag, const struct oci_descriptor *manifest,
		   struct pn_error **err);
int oci_layout_untag(struct oci_layout *l, const char *tag, struct pn_error **err);
/* by name, or by "sha256:..." digest of a manifest in the index; with ref NULL
 * the only image in the layout (error if none or several).  A name matches
 * an entry named exactly so; else a bare tag (`v3`, no '/' or ':') the one
 * entry whose tag it is (`r8.im/me/model:v3`; PN_ERR_INVALID when several
 * are), and a name without a tag NAME:latest. */
int oci_layout_resolve(struct oci_layout *l, const char *ref, struct oci_descriptor *out,
		       struct pn_error **err);
struct oci_layout_entry {
	char *tag; /* NULL for an untagged entry */
	struct oci_descriptor desc;
};
int oci_layout_list(struct oci_layout *l, struct oci_layout_entry **out, size_t *n,
		    struct pn_error **err);
void oci_layout_entries_free(struct oci_layout_entry *e, size_t n);
/* ---------------------------------------------------------------------- gc
 * Remove the blobs no index entry reaches (through indexes, manifests,
 * configs, layers) nor opts->roots names, and the temp files in .pinion-tmp/
 * older than opts->tmp_min_age, holding the gc lock exclusively: it waits for
 * the other handles on the layout to close (opts->no_wait: skips instead,
 * stats->skipped).  If a document the index reaches cannot be read, nothing
 * is removed (the error says why).  Bytes are the space a removal frees: a
 * blob hard-linked into another layout frees none.
 * Deadlock: a process must not gc (waiting) through one handle while it holds
 * another on the same layout. */
#define OCI_GC_TMP_MIN_AGE 600 /* seconds */
struct oci_gc_opts {
	bool dry_run;		     /* count only */
	bool no_wait;		     /* layout in use: skip instead of waiting */
	int64_t tmp_min_age;	     /* seconds (OCI_GC_TMP_MIN_AGE) */
	const struct pn_strv *roots; /* digests to keep besides the index's (leaves) */
	/* remove blobs only if the store holds more than over_bytes, or more than
	 * over_garbage unreferenced blobs (< 0: that bound is off; both off:
	 * always); temp files are removed either way */
	int64_t over_bytes;
	int64_t over_garbage;
};
void oci_gc_opts_init(struct oci_gc_opts *o);
struct oci_gc_stats {
	bool skipped;	       /* in use and no_wait: nothing done */
	bool swept;	       /* the garbage was removed (dry run: would be) */
	size_t blobs;	       /* blobs in the store before gc ... */
	int64_t blob_bytes;    /* ... and their size */
	size_t garbage;	       /* unreferenced blobs */
	int64_t garbage_bytes; /* the space removing them frees */
	size_t tmp;	       /* stale temp files removed (dry run: found) */
	int64_t tmp_bytes;
	size_t tmp_young; /* temp files kept: younger than tmp_min_age */
};
int oci_layout_gc(struct oci_layout *l, const struct oci_gc_opts *opts, struct oci_gc_stats *out,
		  struct pn_error **err);
/* append to live every digest index.json reaches (gc's marking: indexes,
 * manifests, configs, layers, referrers); a digest may come more than once.
 * < 0 when a reached document cannot be read. */
int oci_layout_reachable(struct oci_layout *l, struct pn_strv *live, struct pn_error **err);
/* hold the gc lock exclusively (nested calls count): 1 held, 0 in use and
 * !wait (the handle keeps its shared hold), < 0 error.  While held no other
 * pinion process has the layout open, so a caller may also collect files
 * that only such processes write (the build cache's keys and scratch dirs).
 * Unlock returns to the shared hold. */
int oci_layout_gc_lock(struct oci_layout *l, bool wait, struct pn_error **err);
void oci_layout_gc_unlock(struct oci_layout *l);

/* An image read from a layout: the manifest (an index entry that is an
 * index is followed to the linux/amd64 manifest, or `platform`) and config. */
struct oci_image {
	struct oci_descriptor desc; /* of the manifest */
	struct oci_manifest manifest;
	struct oci_config config;
};
void oci_image_init(struct oci_image *img);
void oci_image_release(struct oci_image *img);
/* *out need not be initialised (it is overwritten: do not pass an image that
 * holds anything).  On success release it with oci_image_release; on failure
 * it holds nothing (releasing it anyway is harmless).  Blobs are verified. */
int oci_image_load(struct oci_layout *l, const char *ref, const char *platform,
		   struct oci_image *out, struct pn_error **err);
/* write config and manifest blobs (layers must already be stored) and tag it
 * if tag != NULL; desc_out (may be NULL) receives the manifest descriptor.
 * img->manifest.config is filled from the written config. */
int oci_image_store(struct oci_layout *l, struct oci_image *img, const char *tag,
		    struct oci_descriptor *desc_out, struct pn_error **err);
/* the same, where the layers named in absent need not be in l (a build's
 * weights streamed to the push target: the push finds them there) */
int oci_image_store_absent(struct oci_layout *l, struct oci_image *img, const char *tag,
			   const struct pn_strv *absent, struct oci_descriptor *desc_out,
			   struct pn_error **err);

/* Copy image img into dst; every blob it needs must be in src.
 * OCI_COPY_IMAGE: img as loaded from src (oci_image_load): config, layers and
 * manifest, then the tag `tag` in dst when tag is not NULL.
 * OCI_COPY_LAYERS: the layers only (tag must be NULL), for an image changed
 * in memory whose config and manifest the caller writes (oci_image_store). */
enum oci_copy_what {
	OCI_COPY_IMAGE,
	OCI_COPY_LAYERS,
};
int oci_layout_copy_image(struct oci_layout *src, struct oci_layout *dst,
			  const struct oci_image *img, enum oci_copy_what what, const char *tag,
			  struct pn_error **err);

/* ------------------------------------------------ artifacts and referrers
 * OCI 1.1 (artifact.c, docs/sbom.md): an artifact is an image manifest with
 * `artifactType`, the empty config ({}), one blob, and `subject` naming the
 * manifest it speaks about.  The referrers of a manifest are listed in an
 * image index whose entries carry artifactType and the artifacts'
 * annotations: on a registry without the referrers API under the
 * distribution spec's fallback tag `sha256-<hex of the subject>`, in a
 * layout by an annotation on the subject's index.json entries, so the
 * layout holds as many entries as images (OCI_ANNOT_REFERRERS).  Documents are
 * canonical JSON (sorted keys, compact). */
#define OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"
/* in a layout, the index.json entry of a manifest names its referrers index
 * by this annotation (the index's digest); gc keeps what it names, and a
 * re-tag drops it with the entry */
#define OCI_ANNOT_REFERRERS "run.pinion.referrers"
struct oci_artifact {
	const char *artifact_type; /* e.g. "application/spdx+json" */
	const char *media_type;	   /* of the blob */
	const void *data;
	size_t len;
	const char *title;	   /* the blob's org.opencontainers.image.title, or NULL */
	const json_t *annotations; /* of the manifest (strings), or NULL */
	const struct oci_descriptor *subject; /* the image manifest */
};
/* write the blob, the empty config and the manifest into l; *out (need not
 * be initialised) is the manifest's descriptor, with the annotations */
int oci_artifact_store(struct oci_layout *l, const struct oci_artifact *a,
		       struct oci_descriptor *out, struct pn_error **err);
/* "sha256-<hex>" (owned) */
char *oci_referrers_tag(const char *subject_digest);
/* a new referrers index: the entries of old (an index document, may be
 * NULL) and d as an entry of artifact_type (one of the same digest is
 * replaced), sorted by digest */
json_t *oci_referrers_index_add(const json_t *old, const struct oci_descriptor *d,
				const char *artifact_type);
/* the digest of the first entry of artifact_type in a referrers index, or NULL */
const char *oci_referrers_find(const json_t *index, const char *artifact_type);
/* the referrers index of subject in l (*out new; index_digest, may be NULL:
 * its digest); PN_ERR_NOT_FOUND if none */
int oci_layout_referrers(struct oci_layout *l, const char *subject_digest, json_t **out,
			 oci_digest_t index_digest, struct pn_error **err);
/* add artifact (stored: oci_artifact_store) to subject's referrers in l;
 * subject must be an index.json entry (PN_ERR_NOT_FOUND) */
int oci_layout_referrers_add(struct oci_layout *l, const char *subject_digest,
			     const struct oci_descriptor *artifact, const char *artifact_type,
			     struct pn_error **err);
/* the blob of artifact manifest `digest` (at most max bytes) */
int oci_artifact_read(struct oci_layout *l, const char *digest, size_t max, char **out, size_t *len,
		      struct pn_error **err);
/* copy subject's referrers (artifacts and index) from src to dst (none: 0),
 * merged with those dst has */
int oci_layout_copy_referrers(struct oci_layout *src, struct oci_layout *dst,
			      const char *subject_digest, struct pn_error **err);

/* "oci:DIR[:TAG]" or "oci:DIR@sha256:..." -> dir and ref (ref may be NULL) */
int oci_ref_parse_layout(const char *s, char **dir_out, char **ref_out, struct pn_error **err);

/* -------------------------------------------------------------- archives
 * Where an image can be read from or written to on this machine, besides a
 * registry (docs/oci.md, "transports"):
 *   oci:DIR[:REF]              an OCI image layout directory;
 *   oci-archive:FILE[:REF]     a tar of an OCI layout (skopeo's oci-archive);
 *   docker-archive:FILE[:REF]  what `docker save` writes and `docker load`
 *                              reads (manifest.json naming a config and
 *                              uncompressed layer tars; the legacy layout and
 *                              docker 25+'s blobs/sha256 one are both read).
 * REF is the text after the first `:` (or `@sha256:...`): a tag or full
 * name in a layout or oci-archive; a RepoTags name or `@N` (the Nth image)
 * in a docker-archive.
 *
 * An archive is read by unpacking it into a temporary layout (every member
 * stored as a verified blob; member names are never used as paths, so no
 * name can reach outside) and written by packing one at commit, to a temp
 * file renamed over FILE.  Refused with PN_ERR_INVALID naming the member: a
 * `..` or absolute name, a hard link, a device, a symlink (oci-archive; in a
 * docker-archive only one naming another member, as old `docker save`
 * writes for a repeated layer), a name twice, more than
 * OCI_ARCHIVE_ENTRIES_MAX members or OCI_ARCHIVE_BYTES_MAX bytes
 * (PN_ERR_TOO_LARGE); a manifest naming a member the archive lacks is
 * PN_ERR_NOT_FOUND; a blob whose content does not match its name, or a layer
 * whose diff_id differs from its config, is PN_ERR_DIGEST. */
#define OCI_ARCHIVE_ENTRIES_MAX 100000
#define OCI_ARCHIVE_NAME_MAX	1024
#define OCI_ARCHIVE_BYTES_MAX	((int64_t)1 << 40)

enum oci_transport {
	OCI_TRANSPORT_NONE = 0, /* not a local location (a registry reference) */
	OCI_TRANSPORT_LAYOUT,
	OCI_TRANSPORT_OCI_ARCHIVE,
	OCI_TRANSPORT_DOCKER_ARCHIVE,
};
/* by the prefix alone ("oci:", "oci-archive:", "docker-archive:") */
enum oci_transport oci_transport_of(const char *s);
/* the prefix without its colon ("oci-archive") */
const char *oci_transport_name(enum oci_transport t);
/* any transport's "PREFIX:PATH[:REF]" -> path and ref (ref may be NULL) */
int oci_location_parse(const char *s, enum oci_transport *t_out, char **path_out, char **ref_out,
		       struct pn_error **err);

struct oci_location {
	enum oci_transport transport;
	char *path;		   /* DIR or FILE */
	char *ref;		   /* the image in `layout` (NULL: its only one) */
	char *repo_tag;		   /* docker-archive written: its RepoTags name (NULL: ref) */
	struct oci_layout *layout; /* the layout, or the temporary one behind an archive */
	char *tmp;		   /* that temporary layout's directory, or NULL */
	bool write;
};
void oci_location_init(struct oci_location *loc);
/* open s; flags OCI_LAYOUT_CREATE to write (callers store the image in
 * loc->layout, under a tag, then call commit).  An archive to read is
 * unpacked now (a docker-archive's image is tagged loc->ref in the
 * temporary layout, or "latest" when it has no name); temporary layouts
 * live in tmp_parent (NULL: pn_cache_dir()) as copy-archive-XXXXXX, so
 * `pinion gc` removes those of a killed process as it does copy-* ones. */
int oci_location_open(struct oci_location *loc, const char *s, int flags, const char *tmp_parent,
		      struct pn_error **err);
/* written archives: pack the temporary layout into FILE (atomically); a
 * docker-archive takes the layout's only image.  Nothing for the others. */
int oci_location_commit(struct oci_location *loc, struct pn_error **err);
/* close the layout, remove a temporary one; an uncommitted archive is not
 * written */
void oci_location_release(struct oci_location *loc);

/* the pieces, for tests and fuzzing: unpack an archive file into the open
 * (empty) layout l; ref as in a location (docker: *tag_out is the name the
 * image was tagged with in l, or NULL when it has none and got "latest") */
int oci_archive_unpack(struct oci_layout *l, const char *file, struct pn_error **err);
int oci_docker_archive_unpack(struct oci_layout *l, const char *file, const char *ref,
			      char **tag_out, struct pn_error **err);
/* pack layout directory dir (its oci-layout, index.json, blobs) into file */
int oci_archive_pack(const char *dir, const char *file, struct pn_error **err);
/* image ref of l (NULL: the only one) as a docker-archive in file; compressed
 * layers are decompressed into tmp_dir and checked against the config's
 * diff_ids; repo_tag (may be NULL) is its RepoTags entry */
int oci_docker_archive_pack(struct oci_layout *l, const char *ref, const char *repo_tag,
			    const char *tmp_dir, const char *file, struct pn_error **err);
/* open s to read (as oci_location_open) and load its image (ref loc->ref,
 * the given platform) into img, which the caller releases; for predict,
 * run, unpack.  On failure loc is released (a temporary layout removed) and
 * the error is wrapped "image `S`". */
int oci_location_open_image(struct oci_location *loc, const char *s, const char *tmp_parent,
			    const char *platform, struct oci_image *img, struct pn_error **err);
/* `pinion inspect` of any local location (oci_layout_inspect_json) */
int oci_location_inspect_json(const char *s, const char *platform, json_t **out,
			      struct pn_error **err);

/* The JSON `pinion inspect` prints for one image, whatever its source (layout
 * or registry): {"name", "digest", "mediaType", "os", "architecture",
 * "labels" (object, never null), "layers" (digests), "size" (sum of layer
 * sizes), "manifest" (the manifest document as stored), "config" (the config
 * document as stored)}.  name is the reference as the user wrote it; desc is
 * the manifest's descriptor; manifest/config are the raw blobs (documents
 * that are not JSON appear as null).  Returns a new reference. */
json_t *oci_image_inspect_json(const char *name, const struct oci_descriptor *desc,
			       const char *manifest, size_t manifest_len, const char *config,
			       size_t config_len);
/* the same for an image in a layout (ref/platform as in oci_image_load) */
int oci_layout_inspect_json(struct oci_layout *l, const char *ref, const char *platform,
			    const char *name, json_t **out, struct pn_error **err);

/* ------------------------------------------------------------ layer writer
 * One streaming pass: entries -> tar (libarchive, pax) -> gzip | zstd | none
 * -> blob writer, with sha256 of the tar (diff_id) and of the compressed
 * stream (digest) computed together.  Memory does not grow with layer size. */
struct oci_idmap {		     /* host id -> id in the image */
	uint32_t host_uid, host_gid; /* range start on the host */
	uint32_t uid, gid;	     /* ... maps to this id in the image */
	uint32_t count;		     /* 0 = no mapping */
};

struct oci_layer_opts {
	enum oci_compression compression;
	int level;   /* 0 = default for the compression */
	int threads; /* zstd and gzip workers; 0: cores (gzip: $PINION_COMPRESS_THREADS first) */
	int64_t mtime_clamp;		/* mtimes above are clamped; < 0 = keep */
	bool normalize_owner;		/* all files 0:0 */
	bool normalize_mode;		/* drop group/other write bits */
	bool overlay_upper;		/* translate overlayfs whiteouts / opaque dirs to OCI */
	const struct oci_idmap *idmaps; /* translate owners (host -> image) */
	size_t n_idmaps;
	/* each regular file's data at a 4 KiB-aligned offset of the tar (a PAX
	 * header padded with a `comment` record), owner 0:0, no xattrs; when
	 * uncompressed the data extents are shared into the blob (FICLONERANGE)
	 * where the filesystem can, else copied.  The bytes, and so the digest,
	 * are the same either way. */
	bool align_data;
	/* with align_data and no compression: the result's data_digest is the
	 * sha256 of the (last) aligned file's bytes, hashed in the same read as
	 * the blob (a weights layer: its cache-key input without a second pass) */
	bool digest_data;
	/* no blob in the layout: the layer's bytes go to sink as they are made
	 * (the result's digest and size are still theirs); a sink error is the
	 * writer's.  A weights layer streamed to a registry upload. */
	int (*sink)(void *ud, const void *data, size_t len, struct pn_error **err);
	void *sink_ud;
};
void oci_layer_opts_init(struct oci_layer_opts *o); /* gzip, clamp SOURCE_DATE_EPOCH or 0 */

struct oci_layer_writer;
/* the result goes to l's blob store */
struct oci_layer_writer *oci_layer_writer_new(struct oci_layout *l,
					      const struct oci_layer_opts *opts,
					      struct pn_error **err);
/* add a directory tree under prefix (e.g. "" or "src"), entries sorted */
int oci_layer_writer_add_tree(struct oci_layer_writer *w, const char *dir, const char *prefix,
			      struct pn_error **err);
/* add one file from disk as `path` in the layer (its parents are not added) */
int oci_layer_writer_add_path(struct oci_layer_writer *w, const char *host_path, const char *path,
			      struct pn_error **err);
/* the same for `name` (one component, no `/`) in the directory dirfd, for a
 * tree walked by fd: nothing on the way is resolved again by path, a final
 * symlink is stored as a symlink, a regular file is opened O_NOFOLLOW |
 * O_NONBLOCK and must still be one when opened; label names it in messages */
int oci_layer_writer_add_at(struct oci_layer_writer *w, int dirfd, const char *name,
			    const char *label, const char *path, struct pn_error **err);
/* add a regular file with the given bytes (mode, owner 0:0) */
int oci_layer_writer_add_data(struct oci_layer_writer *w, const char *path, const void *data,
			      size_t len, mode_t mode, struct pn_error **err);
int oci_layer_writer_add_dir(struct oci_layer_writer *w, const char *path, mode_t mode,
			     struct pn_error **err);
int oci_layer_writer_add_whiteout(struct oci_layer_writer *w, const char *path,
				  struct pn_error **err);
/* copy every entry of a tar stream (plain, gzip or zstd; detected) read from
 * fd into the layer, in the stream's order, with the writer's options
 * (mtime clamp, owner/mode normalisation; overlay translation does not
 * apply).  Paths are cleaned ("./", leading "/"); ".." is PN_ERR_INVALID. */
int oci_layer_writer_add_tar(struct oci_layer_writer *w, int fd, struct pn_error **err);
struct oci_layer_result {
	struct oci_descriptor desc; /* media type by compression, digest, size */
	oci_digest_t diff_id;	    /* sha256 of the uncompressed tar */
	int64_t tar_size;
	oci_digest_t data_digest; /* opts.digest_data: of the aligned file's bytes, else "" */
};
int oci_layer_writer_finish(struct oci_layer_writer *w, struct oci_layer_result *out,
			    struct pn_error **err);
void oci_layer_writer_free(struct oci_layer_writer *w); /* discards if not finished */
void oci_layer_result_release(struct oci_layer_result *r);

/* ----------------------------------------------------------- layer applier
 * Unpack a layer blob (compression detected) onto dest safely: OCI and
 * overlay-style whiteouts and opaque directories applied; nothing can be
 * written outside dest ("..", absolute paths, symlinked parents, hardlinks to
 * outside, dest replaced by a symlink); device nodes skipped when not
 * privileged; limits stop decompression bombs.  Each refusal is PN_ERR_INVALID
 * (or PN_ERR_TOO_LARGE) naming the entry. */
struct oci_apply_opts {
	uint64_t max_entries; /* 0 = default 1,000,000 */
	uint64_t max_bytes;   /* expanded size; 0 = default 64 GiB */
	size_t max_path;      /* 0 = default 4096 */
	bool skip_devices;    /* skip device nodes (forced when unprivileged) */
	bool chown;	      /* set owners from the tar (needs privilege) */
	bool keep_xattrs;
	/* keep whiteouts in overlay form instead of applying them, for a layer
	 * unpacked into its own overlayfs lower directory: `.wh.NAME` (and a 0:0
	 * character device in the tar) becomes a 0:0 character device NAME
	 * (created even with skip_devices; Linux >= 5.8 allows it in a user
	 * namespace), `.wh..wh..opq` (and an opaque xattr in the tar) sets
	 * opaque_xattr = "y" on its directory; nothing is removed.  What this
	 * same layer created is still not hidden.  A whiteout that cannot be
	 * made is an error naming the entry. */
	bool overlay_whiteouts;
	/* NULL = "user.overlay.opaque" (overlay mounted with userxattr, as in a
	 * user namespace); "trusted.overlay.opaque" for real root without it */
	const char *opaque_xattr;
	/* oci_layer_apply only: the layer's diff_id from the image config.  The
	 * uncompressed stream is hashed as it is extracted (and to its end, past
	 * the tar's end blocks); a different digest is PN_ERR_DIGEST naming both,
	 * after the extraction, so the caller must discard dest.  NULL: not
	 * checked (the compressed digest always is). */
	const char *diff_id;
};
void oci_apply_opts_init(struct oci_apply_opts *o);
int oci_layer_apply_fd(int fd, const char *dest, const struct oci_apply_opts *opts,
		       struct pn_error **err);
int oci_layer_apply(struct oci_layout *l, const char *digest, const char *dest,
		    const struct oci_apply_opts *opts, struct pn_error **err);
/* read the blob through (no extraction): its digest and its uncompressed
 * sha256 must be digest and diff_id, else PN_ERR_DIGEST naming both */
int oci_layer_verify_diff_id(struct oci_layout *l, const char *digest, const char *diff_id,
			     struct pn_error **err);
/* the same, writing the uncompressed tar to out_fd as it goes (a layer for
 * a docker-archive); on error out_fd holds part of it */
int oci_layer_decompress(struct oci_layout *l, const char *digest, const char *diff_id, int out_fd,
			 struct pn_error **err);

/* archive_read_next_header() for every tar pinion reads: entry names and
 * link targets come out as the bytes of the header whatever the process
 * locale.  libarchive converts PAX names (UTF-8 by the standard) to the
 * current locale: a UTF-8 locale normalizes them to NFC, a Latin-1 locale
 * re-encodes them.  This reads the header in the "C" locale (uselocale, so
 * thread-local), where the conversion of a non-ASCII name fails and
 * libarchive keeps the bytes as they are and returns ARCHIVE_WARN, which the
 * caller treats as success (docs/oci.md, "names"). */
struct archive;
struct archive_entry;
int oci_tar_next_header(struct archive *a, struct archive_entry **e);

#endif
