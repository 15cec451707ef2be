/* sbom.h - what an image holds, as an SPDX 2.3 JSON document (docs/sbom.md).
 *
 * Files:
 *   sbom.c        the parsers of files a base image supplies (dpkg status,
 *                 a wheel's METADATA) and the SPDX and in-toto writers
 *   sbom_scan.c   the inventory of a built image, read from its unpacked
 *                 layers (the snapshots, in overlay form) without running
 *                 anything in it
 *
 * The inventory is JSON (so the build cache can keep it):
 *   {"deb": [{"name", "version", "arch", "source"?}...],
 *    "python": [{"name", "version", "license"?, "path"}...]}
 * each list sorted.  Every string taken from the image is printable ASCII
 * (other bytes become '?') and at most SBOM_FIELD_MAX bytes.
 *
 * Errors as everywhere (common.h): < 0 and *err filled. */
#ifndef PN_ASSEMBLER_SBOM_H
#define PN_ASSEMBLER_SBOM_H

#include "common/common.h"
#include "oci/oci.h"

#include <jansson.h>

/* named limits of the parsers (files of a hostile base image) */
#define SBOM_DPKG_STATUS_MAX ((size_t)64 << 20) /* bytes of /var/lib/dpkg/status */
#define SBOM_METADATA_MAX    ((size_t)1 << 20)	/* bytes of one METADATA read */
#define SBOM_PACKAGES_MAX    100000		/* packages of one kind */
#define SBOM_FIELD_MAX	     1024		/* bytes of one field kept */
#define SBOM_SITE_DIRS_MAX   64			/* site-packages dirs scanned */

/* dpkg's status file: every paragraph whose Status is `... installed`,
 * appended to out (a JSON array) as {"name", "version", "arch", "source"?};
 * a paragraph without Package or Version is skipped.  PN_ERR_TOO_LARGE past
 * SBOM_PACKAGES_MAX. */
int sbom_dpkg_parse(const char *text, size_t len, json_t *out, struct pn_error **err);

/* the headers of a wheel's METADATA (email style, up to the first empty
 * line): a new object {"name", "version", "license"?} into *out (License-
 * Expression wins over License, whose first line is kept).  PN_ERR_INVALID
 * without Name or Version. */
int sbom_metadata_parse(const char *text, size_t len, json_t **out, struct pn_error **err);

/* sort the lists of an inventory (by name, then version, arch, path) */
void sbom_inventory_sort(json_t *inv);

/* The image's inventory from its layers unpacked as overlay lowers (bottom
 * first; whiteouts as 0:0 character devices, opaque directories by the
 * *.overlay.opaque xattr).  Nothing is followed through a symlink.  A new
 * object into *out. */
int sbom_scan_lowers(const struct pn_strv *lowers, json_t **out, struct pn_error **err);

/* one file or component the SBOM names besides the packages */
struct sbom_file {
	const char *path; /* in the image, e.g. "/src/weights/model.bin" */
	int64_t size;
	const char *digest; /* sha256:... */
};

struct sbom_doc_in {
	const char *name;	 /* the image name (a reference, or "model") */
	const char *created;	 /* RFC 3339 (the image's created time) */
	const char *base_name;	 /* the base reference */
	const char *base_digest; /* its manifest digest */
	const json_t *inventory; /* sbom_scan_lowers() */
	const char *wheel_name;	 /* the cog SDK wheel's file name, or NULL */
	const char *wheel_digest;
	const char *tini_version; /* or NULL */
	const char *tini_digest;
	const struct sbom_file *files; /* weights */
	size_t n_files;
};
/* the SPDX 2.3 document: canonical JSON (sorted keys, compact), so the same
 * input gives the same bytes; documentNamespace is derived from the rest.
 * *out is owned by the caller. */
void sbom_spdx_write(const struct sbom_doc_in *in, char **out, size_t *len);

/* "0.19.0" from tini's own bytes ("tini version X"), or NULL (owned) */
char *sbom_tini_version(const unsigned char *data, size_t len);

struct sbom_provenance_in {
	const char *name;     /* the image name */
	const char *digest;   /* the image manifest's */
	const char *cog_yaml; /* digests, "sha256:..." (NULL: left out) */
	const char *base_name;
	const char *base_digest;
	const char *source_digest; /* the model directory (sbom_source_digest) */
	int64_t source_date_epoch; /* < 0: not set */
};
/* an in-toto Statement v1 with a SLSA provenance v1 predicate, canonical JSON */
void sbom_provenance_write(const struct sbom_provenance_in *in, char **out, size_t *len);

#define SBOM_MT_SPDX   "application/spdx+json"
#define SBOM_MT_INTOTO "application/vnd.in-toto+json"

#endif
