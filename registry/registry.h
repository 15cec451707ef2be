/* registry.h - the one public face of registry/: image references, mirrors,
 * the registry client (HTTPS via libcurl, token/basic auth, docker and
 * containers credential files, credential helpers), pull, push, copy,
 * exists and inspect over the OCI distribution API.
 *
 * Errors follow common.h: < 0 and *err filled, err passed last.  Codes:
 *   PN_ERR_INVALID     malformed reference, mirror spec or config line (exit 2)
 *   PN_ERR_NOT_FOUND   unknown repository, tag, digest or platform
 *   PN_ERR_AUTH        credentials refused / missing where required
 *   PN_ERR_DIGEST      content did not match its digest (never stored)
 *   PN_ERR_NETWORK     unreachable, or transient faults that outlived retries
 *   PN_ERR_TOO_LARGE   a named limit (manifest size, header size, redirects)
 *   PN_ERR_UNSUPPORTED media type or scheme we do not handle
 * Credentials never appear in messages, logs or progress events.
 *
 * "Locations" (the const char * arguments of copy/exists/inspect) are either
 * `oci:DIR[:TAG]` / `oci:DIR@sha256:...` (an OCI layout) or an image
 * reference (optionally prefixed `docker://`). */
#ifndef PN_REGISTRY_H
#define PN_REGISTRY_H

#include "common/common.h"
#include "oci/oci.h"

/* --------------------------------------------------------------- limits */
#define REGISTRY_REF_MAX	4096		    /* whole reference text */
#define REGISTRY_REPO_MAX	255		    /* repository name (distribution spec) */
#define REGISTRY_TAG_MAX	128		    /* tag */
#define REGISTRY_HEADER_MAX	8192		    /* one response header line */
#define REGISTRY_HEADERS_MAX	((size_t)256 << 10) /* all header lines of a transfer */
#define REGISTRY_TOKEN_MAX	((size_t)1 << 20)   /* token response body */
#define REGISTRY_ERROR_BODY_MAX ((size_t)64 << 10)
#define REGISTRY_REDIRECTS_MAX	5

#define REGISTRY_DEFAULT_REGISTRY "docker.io"
#define REGISTRY_DEFAULT_PLATFORM "linux/amd64"
#define REGISTRY_DEFAULT_PARALLEL 4
#define REGISTRY_DEFAULT_CHUNK	  ((size_t)16 << 20) /* push chunk size */
#define REGISTRY_MONOLITHIC_MAX	  ((size_t)16 << 20) /* blobs up to this go in one PUT */
#define REGISTRY_DEFAULT_RETRIES  5
/* a transfer slower than LOW_SPEED_LIMIT bytes/s for LOW_SPEED_TIME seconds
 * is cut (then retried); a request without a blob body (ping, token,
 * manifest, config, HEAD, POST) is cut after REQUEST_TIMEOUT seconds; a blob
 * transfer (GET, PUT, PATCH) after BLOB_TIMEOUT_BASE seconds plus one second
 * per BLOB_TIMEOUT_RATE bytes of it, unless --blob-timeout fixes it */
#define REGISTRY_DEFAULT_LOW_SPEED_LIMIT 1024
#define REGISTRY_DEFAULT_LOW_SPEED_TIME	 30
#define REGISTRY_DEFAULT_REQUEST_TIMEOUT 120
#define REGISTRY_BLOB_TIMEOUT_BASE	 600
#define REGISTRY_BLOB_TIMEOUT_RATE	 ((int64_t)256 << 10)
#define REGISTRY_TIMEOUT_MAX		 (7 * 24 * 3600) /* largest value a flag takes */
/* a blob (layer) whose descriptor declares more is refused before any
 * download; a pull also needs the missing blobs' declared sizes plus
 * SPACE_MARGIN free on the layout's filesystem */
#define REGISTRY_DEFAULT_MAX_BLOB_SIZE ((int64_t)64 << 30)
#define REGISTRY_MAX_BLOB_SIZE_MAX     ((int64_t)1 << 50) /* largest --max-blob-size */
#define REGISTRY_SPACE_MARGIN	       ((int64_t)64 << 20)
/* a docker-credential-* helper is killed after HELPER_TIMEOUT seconds; its
 * output may not pass HELPER_OUTPUT_MAX */
#define REGISTRY_DEFAULT_HELPER_TIMEOUT 30
#define REGISTRY_HELPER_OUTPUT_MAX	((size_t)64 << 10)

/* ----------------------------------------------------------- references
 * Accepted forms (as docker/podman): `python:3.11-slim` ->
 * docker.io/library/python:3.11-slim; `o/r` -> docker.io/o/r:latest;
 * `ghcr.io/o/r:tag`; `localhost:5000/r@sha256:...`; `host/r:tag@sha256:...`
 * (tag kept, digest wins when fetching).  The first component is a registry
 * when it contains '.' or ':' or is `localhost`.  `index.docker.io` and
 * `registry-1.docker.io` normalise to `docker.io`.  Repository names are
 * lowercase [a-z0-9] components joined by [._-] / "__" / "-"+, separated by
 * '/'; tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digests as oci_digest_parse.
 * A leading `docker://` is accepted and dropped. */
struct registry_ref {
	char *registry;	  /* "docker.io", "127.0.0.1:5000" (never NULL after parse) */
	char *repository; /* "library/python" (never NULL after parse) */
	char *tag;    /* "3.11-slim"; "latest" when neither tag nor digest; NULL if only a digest */
	char *digest; /* "sha256:..." or NULL */
};
void registry_ref_init(struct registry_ref *r);
void registry_ref_release(struct registry_ref *r);
void registry_ref_copy(struct registry_ref *out, const struct registry_ref *in);
/* PN_ERR_INVALID with a message that says which part is wrong */
int registry_ref_parse(const char *s, struct registry_ref *out, struct pn_error **err);
/* canonical text "registry/repository[:tag][@digest]" (caller frees) */
char *registry_ref_format(const struct registry_ref *r);
/* what goes in /v2/<repo>/manifests/<X>: the digest if set, else the tag */
const char *registry_ref_reference(const struct registry_ref *r);
/* true for local locations: `oci:DIR`, `oci-archive:FILE`,
 * `docker-archive:FILE` (oci_transport_of; opened with oci_location_open) */
bool registry_location_is_layout(const char *loc);

/* -------------------------------------------------------------- options */
struct registry_mirror {
	char *from;   /* registry name as written in references, e.g. "docker.io" */
	char *to;     /* registry host[:port], or NULL when `layout` is set */
	char *layout; /* OCI layout directory (spec `r8.im=oci:/srv/bases`), or NULL */
};

struct registry_opts {
	struct registry_mirror *mirrors;
	size_t n_mirrors;
	struct pn_strv insecure; /* hosts (host or host:port) allowed plain HTTP / unverified TLS */
	char *ca_bundle;	 /* extra CA file (PEM) added to the system store, or NULL */
	char *auth_file; /* credentials file to read/write; NULL = default search (docs/registry.md)
			  */
	char *username, *password; /* explicit credentials (--creds), used for every registry; NULL
				      = none */
	char *platform;		   /* "os/arch[/variant]"; NULL = REGISTRY_DEFAULT_PLATFORM */
	int parallel;		   /* concurrent blob transfers; <= 0 = REGISTRY_DEFAULT_PARALLEL */
	size_t chunk_size;	   /* push chunk; 0 = REGISTRY_DEFAULT_CHUNK */
	size_t monolithic_max;	   /* blobs <= this are one PUT; 0 = REGISTRY_MONOLITHIC_MAX */
	int retries;		   /* per request; < 0 = REGISTRY_DEFAULT_RETRIES */
	/* < 0 = the defaults above; 0 = off (no low-speed cut, no deadline) */
	int64_t low_speed_limit; /* bytes/s */
	int low_speed_time;	 /* seconds */
	int request_timeout;	 /* seconds */
	int blob_timeout;	 /* seconds, instead of the size-scaled deadline */
	int64_t max_blob_size;	 /* bytes; <= 0 = REGISTRY_DEFAULT_MAX_BLOB_SIZE */
	int helper_timeout;	 /* credential helper, seconds; < 0 = the default, 0 = none */
	bool progress;		 /* emit pn_progress_event() per blob (default true) */
	bool no_referrers;	 /* registry_copy leaves the referrers behind */
	/* `cache-from REF` / `cache-to SPEC` lines of the config file, kept as
	 * text for `pinion build` (used when neither flag nor $PINION_CACHE_* is) */
	struct pn_strv cache_from, cache_to;
};
void registry_opts_init(struct registry_opts *o);
void registry_opts_release(struct registry_opts *o);
/* "FROM=HOST[:PORT]" or "FROM=oci:DIR"; a later mirror for the same FROM wins */
int registry_opts_add_mirror(struct registry_opts *o, const char *spec, struct pn_error **err);
void registry_opts_add_insecure(struct registry_opts *o, const char *host);
/* Read a registries config file.  path NULL = $PINION_REGISTRIES_CONF, else
 * ~/.config/pinion/registries.conf ($XDG_CONFIG_HOME honoured); a missing
 * default file is not an error.  Format, one directive a line, '#' comments:
 *   mirror docker.io=127.0.0.1:5000
 *   mirror r8.im=oci:/srv/bases
 *   insecure myregistry.local:5000
 *   ca-bundle /etc/ssl/my-ca.pem
 *   retries 3 | low-speed-limit 1K | low-speed-time 30 | request-timeout 120
 *   blob-timeout 3600 | max-blob-size 64G | credential-helper-timeout 30
 *   cache-from REF | cache-to REF[,OPTIONS]   (pinion build's registry cache)
 *                            (as registry_opts_set, below; the CLI flags of the same names)
 * Errors carry path:line. */
int registry_opts_load_config(struct registry_opts *o, const char *path, struct pn_error **err);
/* One setting by its name (the long flag without "--"), validated:
 * platform OS/ARCH[/VARIANT], parallel 1-64, chunk-size BYTES (>= 1024; also
 * the largest monolithic upload), and the numbers of the config file
 * (retries, low-speed-limit, low-speed-time, request-timeout, blob-timeout,
 * max-blob-size, credential-helper-timeout).  PN_ERR_INVALID for a bad value
 * or an unknown name.  The command line itself is the CLI's (assembler/cli/):
 * it fills this struct and calls this for the values registry/ checks. */
int registry_opts_set(struct registry_opts *o, const char *name, const char *value,
		      struct pn_error **err);

/* --------------------------------------------------------------- client
 * Holds the curl share handle (connections, DNS, TLS sessions), the token
 * cache (per registry + scope, until expiry) and the options (copied). */
struct registry_client;
int registry_client_new(const struct registry_opts *opts, struct registry_client **out,
			struct pn_error **err);
void registry_client_free(struct registry_client *c);

/* ------------------------------------------------------------ operations
 * All reference arguments are resolved through the mirrors first.  A
 * descriptor `out` is overwritten on success (pass an empty one, e.g. after
 * oci_descriptor_init, and release it with oci_descriptor_release); it is
 * left untouched on failure.  The client may be shared by threads. */

/* Pull `ref` (a registry reference) into dst: index/list -> platform ->
 * manifest -> config + layers fetched in parallel, each verified while it
 * streams, skipped if dst already has it.  The image is tagged `tag` in dst
 * (NULL: not tagged).  out (may be NULL) gets the descriptor of the manifest
 * that was stored (the platform manifest, not the index). */
int registry_pull(struct registry_client *c, const char *ref, struct oci_layout *dst,
		  const char *tag, struct oci_descriptor *out, struct pn_error **err);

/* Push the image `src_ref` of src (tag or digest; NULL = the only image) to
 * the registry reference dst_ref: blobs the registry has are skipped, blobs of
 * another repository on the same registry are mounted, the rest uploaded
 * (monolithic or chunked, resuming from the registry's offset), then config
 * and manifest.  out (may be NULL) gets the pushed manifest descriptor. */
int registry_push(struct registry_client *c, struct oci_layout *src, const char *src_ref,
		  const char *dst_ref, struct oci_descriptor *out, struct pn_error **err);

/* Fetch one blob d (digest, declared size) of the repository of `ref` (its
 * tag or digest is not used) into dst, verified while it streams; nothing
 * is fetched when dst has it.  PN_ERR_NOT_FOUND when the registry has no
 * such blob, PN_ERR_DIGEST when the bytes do not match d->digest. */
int registry_blob_pull(struct registry_client *c, const char *ref, const struct oci_descriptor *d,
		       struct oci_layout *dst, struct pn_error **err);

/* Copy between any two locations (registry -> layout, layout -> registry,
 * registry -> registry, layout -> layout). */
int registry_copy(struct registry_client *c, const char *src, const char *dst,
		  struct oci_descriptor *out, struct pn_error **err);

/* Referrers (OCI 1.1, referrers.c; the layout side is in oci.h): the index
 * of the artifacts whose subject is manifest subject_digest in the
 * repository of ref, from the referrers API or else the fallback tag
 * `sha256-<hex>` (*out new; PN_ERR_NOT_FOUND when neither lists any). */
int registry_referrers_get(struct registry_client *c, const char *ref, const char *subject_digest,
			   json_t **out, struct pn_error **err);
/* push the referrers layout l keeps for subject_digest (none: 0) to the
 * repository of dst_ref: the artifacts, then the fallback tag's index, which
 * keeps the entries the registry listed there whose artifacts l holds */
int registry_referrers_push(struct registry_client *c, struct oci_layout *l,
			    const char *subject_digest, const char *dst_ref, struct pn_error **err);
/* pull the referrers of subject_digest in ref's repository into l and list
 * them there (none: 0) */
int registry_referrers_pull(struct registry_client *c, const char *ref, const char *subject_digest,
			    struct oci_layout *l, struct pn_error **err);

/* Does the manifest exist?  HEAD on the registry (a mirror to a layout answers
 * from the layout).  *exists = false for an unknown repository/tag; errors
 * only for auth failures and transport faults. */
/* a blob made as it is sent (a weights layer streamed from its file) to
 * ref's repository: bytes are PATCHed in chunks of opts.chunk_size (one sent
 * on a thread while the next is filled), each kept in memory until the
 * registry confirmed it, so a failed chunk resumes
 * from the registry's offset; finish PUTs ?digest= (the registry checks it
 * against what it got).  begin returns 1, or 0 (*out NULL) when ref is not a
 * registry (an oci: target). */
struct registry_upload;
int registry_upload_begin(struct registry_client *c, const char *ref, struct registry_upload **out,
			  struct pn_error **err);
int registry_upload_write(struct registry_upload *u, const void *data, size_t len,
			  struct pn_error **err);
int registry_upload_finish(struct registry_upload *u, const char *digest, struct pn_error **err);
/* after write or finish failed with cause (owned here): 0 when u is in a new
 * upload session (the registry lost the last one, or its offset could not be
 * resumed), and the caller writes the blob again from its first byte; -1
 * with cause in *err when u saw no upload failure (cause is the caller's),
 * after an auth refusal or invalid input, or when the restarts a file-based
 * push makes (--retries, at most 3, with its backoff) are spent */
int registry_upload_restart(struct registry_upload *u, struct pn_error *cause,
			    struct pn_error **err);
void registry_upload_free(struct registry_upload *u);
/* ref is pushed to a registry (not to an oci: layout a mirror names) */
bool registry_ref_is_remote(struct registry_client *c, const char *ref);
/* HEAD: has ref's repository the blob?  0 with *exists false for an oci: target */
int registry_blob_exists(struct registry_client *c, const char *ref, const char *digest,
			 bool *exists, struct pn_error **err);
int registry_exists(struct registry_client *c, const char *ref, bool *exists,
		    struct pn_error **err);

/* Manifest (for the client's platform) and config, without layers.
 * out must be oci_image_init()ed; release it with oci_image_release(). */
int registry_inspect(struct registry_client *c, const char *ref, struct oci_image *out,
		     struct pn_error **err);

/* `pinion inspect REF` for a registry reference: the JSON of
 * oci_image_inspect_json() (manifest for `platform`, NULL = linux/amd64, and
 * config; no layers), with mirrors, insecure hosts and CA bundle from the
 * registries config file and credentials from the usual sources.  *out is a
 * new reference. */
int registry_inspect_json(const char *ref, const char *platform, json_t **out,
			  struct pn_error **err);
/* the same with a client the caller made (its options: credentials, CA
 * bundle, mirrors, platform, as the CLI filled them) */
int registry_inspect_json_with(struct registry_client *c, const char *ref, json_t **out,
			       struct pn_error **err);

/* The raw top-level manifest or index as served (for `inspect --raw`);
 * *media_type and *out are owned by the caller. */
int registry_manifest_get(struct registry_client *c, const char *ref, char **media_type, char **out,
			  size_t *len, oci_digest_t digest, struct pn_error **err);

/* ---------------------------------------------------------- credentials
 * Lookup order for a registry host: opts->username/password; the auth file
 * (opts->auth_file, else $REGISTRY_AUTH_FILE, else
 * ${XDG_RUNTIME_DIR}/containers/auth.json, else ~/.config/containers/auth.json);
 * then $DOCKER_CONFIG/config.json or ~/.docker/config.json: credHelpers[host],
 * then auths[host], then credsStore (docker-credential-<name> get). */

/* Check user/pass against the registry (a /v2/ ping with the challenge it
 * answers), then store them in the auth file (the one registry_opts names,
 * else the default containers auth.json), mode 0600. PN_ERR_AUTH if refused. */
int registry_login(struct registry_client *c, const char *registry, const char *user,
		   const char *pass, struct pn_error **err);
/* Remove stored credentials for registry; PN_ERR_NOT_FOUND if none were stored. */
int registry_logout(struct registry_client *c, const char *registry, struct pn_error **err);

#endif
