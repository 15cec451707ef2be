/* wheel.h - the cog SDK wheel installed in every image, chosen by COG_WHEEL.
 *
 * pinion embeds its own wheel of the Cog-compatible `cog` package (built from
 * assembler/sdk/ by assembler/sdk/module.mk).  COG_WHEEL selects another:
 *   unset, "" or "cog"   the embedded wheel (written once to the cache)
 *   /path/to/x.whl       that local wheel
 *   https://.../x.whl    downloaded with libcurl into
 *                        <cache>/wheels/url-<hash of URL>/x.whl; verified
 *                        against a `#sha256=<hex>` fragment when given,
 *                        otherwise against the digest recorded on the first
 *                        download (so a changed file is an error, not a
 *                        silent change); a verified cached copy is reused
 *                        without network
 *   coglet               an error (exit 2): no coglet wheel is embedded; the
 *                        hint says how to point COG_WHEEL at one
 * Whatever the source, the result is a local file, the wheel's file name (pip
 * needs the proper name to install it) and its sha256 digest, which the build
 * uses as the cache key of the wheel step. */
#ifndef PN_ASSEMBLER_WHEEL_H
#define PN_ASSEMBLER_WHEEL_H

#include "common/common.h"
#include "oci/oci.h"

#define WHEEL_DOWNLOAD_MAX ((int64_t)512 << 20) /* bytes of one downloaded wheel */
#define WHEEL_NAME_MAX	   255

struct wheel_choice {
	char *path; /* owned: a local file holding the wheel */
	char *name; /* owned: its wheel file name, e.g. cog-0.16.12+pinion.0.1.0-py3-none-any.whl */
	char *source;	     /* owned: "embedded", the path or the URL (without fragment) */
	oci_digest_t digest; /* "sha256:<hex>" of the file */
	bool embedded;
};

void wheel_choice_release(struct wheel_choice *w);

/* Resolve a COG_WHEEL value (spec may be NULL) into out (filled only on
 * success; release it with wheel_choice_release).  Errors: PN_ERR_INVALID for
 * "coglet", plain http, unknown schemes and names that are not wheels;
 * PN_ERR_NOT_FOUND for a missing file; PN_ERR_NETWORK for a failed download;
 * PN_ERR_DIGEST when a download does not match its pinned or recorded digest;
 * PN_ERR_TOO_LARGE past WHEEL_DOWNLOAD_MAX. */
int wheel_select(const char *spec, struct wheel_choice *out, struct pn_error **err);

/* The file name the wheel of a COG_WHEEL value has (owned), without reading
 * or downloading it (`pinion dockerfile`, the plan); NULL for "coglet" and
 * values wheel_select refuses by their form. */
char *wheel_spec_name(const char *spec);
/* The version in a wheel file name without its local part (owned):
 * "cog-0.16.12+pinion.0.1.0-py3-none-any.whl" -> "0.16.12"; NULL when the
 * name has no version. */
char *wheel_name_version(const char *name);

/* The embedded wheel's bytes (static, not owned) and its file name. */
const void *wheel_embedded(size_t *len_out, const char **name_out);

/* Write the embedded wheel as dir/<name> (atomic); *path_out is owned by the
 * caller. */
int wheel_write_embedded(const char *dir, char **path_out, struct pn_error **err);

/* Download url (any scheme libcurl allows here: https, and file for tests)
 * into the cache as wheel_select does for https URLs. */
int wheel_fetch_url(const char *url, struct wheel_choice *out, struct pn_error **err);

#endif
