/* digest.c - sha256 digests (libcrypto EVP, streaming), compression names */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int oci_digest_parse(const char *s, oci_digest_t out, struct pn_error **err)
{
	size_t n;

	if (!s)
		return pn_error_set(err, PN_ERR_INVALID, "missing digest");
	if (strncmp(s, "sha256:", 7) != 0) {
		const char *colon = strchr(s, ':');

		if (colon && colon != s)
			return pn_error_set(
				err, PN_ERR_INVALID,
				"unsupported digest algorithm `%.*s` in `%.80s` (only sha256)",
				(int)(colon - s > 20 ? 20 : colon - s), s, s);
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid digest `%.80s`: expected `sha256:<64 hex digits>`", s);
	}
	n = strlen(s + 7);
	if (n != 64)
		return pn_error_set(err, PN_ERR_INVALID,
				    "invalid digest `%.80s`: %zu hex digits, expected 64", s, n);
	for (size_t i = 7; i < 71; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return pn_error_set(
				err, PN_ERR_INVALID,
				"invalid digest `%.80s`: `%c` is not a lowercase hex digit", s,
				(c >= 0x20 && c < 0x7f) ? c : '?');
	}
	if (out)
		memcpy(out, s, OCI_DIGEST_STRLEN + 1);
	return 0;
}

bool oci_digest_valid(const char *s)
{
	return oci_digest_parse(s, NULL, NULL) == 0;
}

const char *oci_digest_hex(const char *digest)
{
	return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}

struct oci_hasher {
	EVP_MD_CTX *ctx;
};

struct oci_hasher *oci_hasher_new(void)
{
	struct oci_hasher *h = xcalloc(1, sizeof(*h));

	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx)
		PN_BUG("EVP_MD_CTX_new failed");
	oci_hasher_reset(h);
	return h;
}

void oci_hasher_reset(struct oci_hasher *h)
{
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		PN_BUG("EVP_DigestInit_ex(sha256) failed");
}

void oci_hasher_update(struct oci_hasher *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		PN_BUG("EVP_DigestUpdate failed");
}

void oci_hasher_final(struct oci_hasher *h, oci_digest_t out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1 || n != 32)
		PN_BUG("EVP_DigestFinal_ex failed");
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[OCI_DIGEST_STRLEN] = '\0';
}

void oci_hasher_free(struct oci_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void oci_digest_buf(const void *data, size_t len, oci_digest_t out)
{
	struct oci_hasher *h = oci_hasher_new();

	oci_hasher_update(h, data, len);
	oci_hasher_final(h, out);
	oci_hasher_free(h);
}

int oci_digest_fd(int fd, oci_digest_t out, int64_t *size_out, struct pn_error **err)
{
	struct oci_hasher *h = oci_hasher_new();
	size_t bufsz = 1 << 20;
	cleanup_free char *buf = xmalloc(bufsz);
	int64_t total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, bufsz);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			oci_hasher_free(h);
			return pn_error_set_errno(err, errno, "read");
		}
		if (n == 0)
			break;
		oci_hasher_update(h, buf, (size_t)n);
		total += n;
	}
	oci_hasher_final(h, out);
	oci_hasher_free(h);
	if (size_out)
		*size_out = total;
	return 0;
}

int oci_digest_file(const char *path, oci_digest_t out, int64_t *size_out, struct pn_error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", path);
	if (oci_digest_fd(fd, out, size_out, err) < 0)
		return pn_error_wrap(err, "digest `%s`", path);
	return 0;
}

int oci_compression_parse(const char *s, enum oci_compression *out, struct pn_error **err)
{
	if (strcmp(s, "gzip") == 0)
		*out = OCI_COMP_GZIP;
	else if (strcmp(s, "zstd") == 0)
		*out = OCI_COMP_ZSTD;
	else if (strcmp(s, "none") == 0)
		*out = OCI_COMP_NONE;
	else
		return pn_error_set(err, PN_ERR_INVALID,
				    "unknown compression `%s` (gzip, zstd or none)", s);
	return 0;
}

const char *oci_compression_name(enum oci_compression c)
{
	switch (c) {
	case OCI_COMP_GZIP:
		return "gzip";
	case OCI_COMP_ZSTD:
		return "zstd";
	default:
		return "none";
	}
}

int oci_layer_media_compression(const char *mt)
{
	if (!mt)
		return -1;
	if (strcmp(mt, OCI_MT_LAYER) == 0 ||
	    strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar") == 0 ||
	    strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar") == 0)
		return OCI_COMP_NONE;
	if (strcmp(mt, OCI_MT_LAYER_GZIP) == 0 || strcmp(mt, DOCKER_MT_LAYER_GZIP) == 0 ||
	    strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") == 0 ||
	    strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 0)
		return OCI_COMP_GZIP;
	if (strcmp(mt, OCI_MT_LAYER_ZSTD) == 0 ||
	    strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd") == 0)
		return OCI_COMP_ZSTD;
	return -1;
}

const char *oci_layer_media_type(enum oci_compression c)
{
	switch (c) {
	case OCI_COMP_GZIP:
		return OCI_MT_LAYER_GZIP;
	case OCI_COMP_ZSTD:
		return OCI_MT_LAYER_ZSTD;
	default:
		return OCI_MT_LAYER;
	}
}
