/* docker_archive.c - docker-archive: (`docker save` / `docker load`).
 * manifest.json is an array of {Config, RepoTags, Layers} naming members:
 * legacy archives name `<id>.json` and `<id>/layer.tar` (a repeated layer
 * may be a symlink to another member), docker 25+ and podman name
 * `blobs/sha256/<hex>`.  Layers are tars, their digest the config's diff_id.
 * Reading turns the chosen image into an OCI manifest in a layout (the
 * config kept byte for byte, so the image ID survives); writing turns one
 * back, decompressing gzip/zstd layers. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------------------- names */
/* "docker.io/library/x" == "x", "localhost/x" == "x", no tag == ":latest" */
static char *name_norm(const char *s)
{
	static const char *const prefixes[] = {"docker.io/library/", "docker.io/", "localhost/"};
	const char *slash;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (!strncmp(s, prefixes[i], strlen(prefixes[i]))) {
			s += strlen(prefixes[i]);
			break;
		}
	slash = strrchr(s, '/');
	if (strchr(slash ? slash : s, ':') || strchr(s, '@'))
		return xstrdup(s);
	return xasprintf("%s:latest", s);
}

static const char *first_tag(json_t *entry)
{
	return json_string_value(json_array_get(json_object_get(entry, "RepoTags"), 0));
}

static bool entry_has(json_t *entry, const char *want)
{
	cleanup_free char *w = name_norm(want);
	size_t i;
	json_t *t;

	json_array_foreach(json_object_get(entry, "RepoTags"), i, t)
	{
		cleanup_free char *h = json_is_string(t) ? name_norm(json_string_value(t)) : NULL;
		if (h && !strcmp(h, w))
			return true;
	}
	return false;
}

static void list_names(json_t *arr, struct pn_buf *b)
{
	size_t i, j;
	json_t *e, *t;

	json_array_foreach(arr, i, e)
	{
		pn_buf_puts(b, i ? "; " : "", NULL);
		if (!json_array_size(json_object_get(e, "RepoTags")))
			pn_buf_puts(b, "(untagged)", NULL);
		json_array_foreach(json_object_get(e, "RepoTags"), j, t)
		{
			pn_buf_puts(b, j ? ", " : "", NULL);
			pn_buf_puts(b, json_is_string(t) ? json_string_value(t) : "?", NULL);
		}
	}
}

/* the entry ref names (NULL: the only one; "@N": the Nth from 0; else a
 * RepoTags name); *name: the name it goes by (ref, its first RepoTag, NULL) */
static json_t *select_entry(json_t *arr, const char *file, const char *ref, const char **name,
			    struct pn_error **err)
{
	size_t n = json_array_size(arr), i;
	long k;
	json_t *e;
	cleanup_buf struct pn_buf names;

	pn_buf_init(&names, 4096);
	*name = ref;
	e = NULL;
	if (ref && ref[0] == '@' && pn_parse_long(ref + 1, 0, (long)n - 1, &k) == 0)
		e = json_array_get(arr, (size_t)k);
	else if (!ref && n == 1)
		e = json_array_get(arr, 0);
	if (e) {
		*name = first_tag(e);
		return e;
	}
	json_array_foreach(arr, i, e)
	{
		if (ref && ref[0] != '@' && entry_has(e, ref))
			return e;
	}
	list_names(arr, &names);
	if (!ref)
		pn_error_set(err, PN_ERR_INVALID,
			     "`%s` holds %zu images (%s): name one as docker-archive:FILE:NAME or "
			     "docker-archive:FILE:@N",
			     file, n, names.len ? names.data : "");
	else
		pn_error_set(err, PN_ERR_NOT_FOUND, "`%s` has no image `%s` (it holds %s)", file,
			     ref, names.len ? names.data : "");
	return NULL;
}

/* ------------------------------------------------------------- reading */
static int sniff_compression(struct oci_layout *l, const char *digest, enum oci_compression *out,
			     struct pn_error **err)
{
	cleanup_close int fd = -1;
	unsigned char m[4] = {0};

	if (oci_layout_open_blob(l, digest, &fd, NULL, err) < 0)
		return -1;
	if (pn_read_all(fd, m, sizeof(m)) < 0)
		return pn_error_set_errno(err, errno, "read layer `%s`", digest);
	*out = m[0] == 0x1f && m[1] == 0x8b				      ? OCI_COMP_GZIP
	       : m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd ? OCI_COMP_ZSTD
									      : OCI_COMP_NONE;
	return 0;
}

static int layer_desc(struct oci_layout *l, const struct oci_archive_members *m, json_t *jname,
		      const char *diff_id, struct oci_descriptor *d, struct pn_error **err)
{
	const char *name = json_string_value(jname);
	const struct oci_archive_member *mb;
	enum oci_compression comp;

	if (!name)
		return pn_error_set(err, PN_ERR_INVALID, "manifest.json: a layer is not a string");
	mb = oci_archive_member_find(m, name, err);
	if (!mb || sniff_compression(l, mb->digest, &comp, err) < 0)
		return pn_error_wrap(err, "manifest.json names layer `%s`", name);
	if (comp == OCI_COMP_NONE && strcmp(mb->digest, diff_id) != 0)
		return pn_error_set(err, PN_ERR_DIGEST,
				    "layer `%s` has diff_id `%s`, the config says `%s`", name,
				    mb->digest, diff_id);
	if (comp != OCI_COMP_NONE && oci_layer_verify_diff_id(l, mb->digest, diff_id, err) < 0)
		return pn_error_wrap(err, "layer `%s`", name);
	d->media_type = xstrdup(oci_layer_media_type(comp));
	memcpy(d->digest, mb->digest, sizeof(d->digest));
	d->size = mb->size;
	return 0;
}

/* the config member: a legacy `<hex>.json` name must be its digest */
static const struct oci_archive_member *config_member(const struct oci_archive_members *m,
						      json_t *entry, struct pn_error **err)
{
	const char *name = json_string_value(json_object_get(entry, "Config"));
	const struct oci_archive_member *mb;
	size_t n;

	if (!name) {
		pn_error_set(err, PN_ERR_INVALID, "manifest.json: Config is not a string");
		return NULL;
	}
	mb = oci_archive_member_find(m, name, err);
	if (!mb) {
		pn_error_wrap(err, "manifest.json names config `%s`", name);
		return NULL;
	}
	n = strlen(name);
	if (n == 69 && !strcmp(name + 64, ".json") && strncmp(name, mb->digest + 7, 64) != 0) {
		pn_error_set(err, PN_ERR_DIGEST, "config `%s` has digest `%s`", name, mb->digest);
		return NULL;
	}
	return mb;
}

static int import_entry(struct oci_layout *l, const struct oci_archive_members *m, json_t *entry,
			struct oci_manifest *man, struct pn_error **err)
{
	const struct oci_archive_member *cm = config_member(m, entry, err);
	json_t *layers = json_object_get(entry, "Layers");
	cleanup_free char *cdata = NULL;
	struct oci_config cfg;
	size_t clen;
	int rc = 0;

	if (!cm || oci_layout_read_blob(l, cm->digest, OCI_CONFIG_MAX, &cdata, &clen, err) < 0 ||
	    oci_config_parse(cdata, clen, &cfg, err) < 0)
		return -1;
	if (!json_is_array(layers) || json_array_size(layers) != cfg.n_diff_ids ||
	    cfg.n_diff_ids > OCI_LAYERS_MAX)
		rc = pn_error_set(err, PN_ERR_INVALID,
				  "manifest.json lists %zu layers, the config %zu diff_ids (at "
				  "most %d)",
				  json_array_size(layers), cfg.n_diff_ids, OCI_LAYERS_MAX);
	man->media_type = xstrdup(OCI_MT_MANIFEST);
	man->config.media_type = xstrdup(OCI_MT_CONFIG);
	memcpy(man->config.digest, cm->digest, sizeof(man->config.digest));
	man->config.size = cm->size;
	for (size_t i = 0; rc == 0 && i < cfg.n_diff_ids; i++) {
		struct oci_descriptor d;

		oci_descriptor_init(&d);
		rc = layer_desc(l, m, json_array_get(layers, i), cfg.diff_ids[i], &d, err);
		if (rc == 0)
			oci_manifest_add_layer(man, &d);
		oci_descriptor_release(&d);
	}
	oci_config_release(&cfg);
	return rc;
}

static int store_manifest(struct oci_layout *l, const struct oci_manifest *man, const char *tag,
			  struct pn_error **err)
{
	cleanup_free char *json = NULL;
	struct oci_descriptor d;
	size_t len;
	int rc;

	if (oci_manifest_to_json(man, &json, &len, err) < 0)
		return -1;
	oci_descriptor_init(&d);
	d.media_type = xstrdup(OCI_MT_MANIFEST);
	d.size = (int64_t)len;
	rc = oci_layout_put_blob(l, json, len, NULL, d.digest, err);
	if (rc == 0)
		rc = oci_layout_tag(l, tag, &d, err);
	oci_descriptor_release(&d);
	return rc;
}

static int unpack_members(struct oci_layout *l, const struct oci_archive_members *m,
			  const char *file, const char *ref, char **tag_out, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	cleanup_json json_t *arr = NULL;
	struct oci_manifest man;
	json_error_t je;
	const char *name = NULL;
	json_t *entry;
	size_t len;
	int rc;

	if (oci_archive_member_read(l, m, "manifest.json", OCI_MANIFEST_MAX, &data, &len, err) < 0)
		return pn_error_wrap(err, "`%s` is not a docker archive", file);
	arr = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!arr)
		return pn_error_set(err, PN_ERR_INVALID,
				    "parse manifest.json: line %d column %d: %s", je.line,
				    je.column, je.text);
	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > OCI_INDEX_MAX)
		return pn_error_set(err, PN_ERR_INVALID,
				    "manifest.json: not an array of 1 to %d images", OCI_INDEX_MAX);
	entry = select_entry(arr, file, ref, &name, err);
	if (!entry)
		return -1;
	oci_manifest_init(&man);
	rc = import_entry(l, m, entry, &man, err);
	if (rc == 0)
		rc = store_manifest(l, &man, name ? name : "latest", err);
	if (rc < 0)
		pn_error_wrap(err, "`%s`", file);
	oci_manifest_release(&man);
	if (rc == 0)
		*tag_out = name ? xstrdup(name) : NULL;
	return rc;
}

int oci_docker_archive_unpack(struct oci_layout *l, const char *file, const char *ref,
			      char **tag_out, struct pn_error **err)
{
	struct oci_archive_members m;
	int rc;

	*tag_out = NULL;
	if (ref && oci_digest_valid(ref))
		return pn_error_set(err, PN_ERR_UNSUPPORTED,
				    "`%s`: a docker archive's image is chosen by name or @N, not "
				    "by digest",
				    file);
	if (oci_archive_read_members(l, file, true, &m, err) < 0)
		return -1;
	rc = unpack_members(l, &m, file, ref, tag_out, err);
	oci_archive_members_release(&m);
	return rc;
}

/* ------------------------------------------------------------- writing */
/* a layer as a plain tar: as stored, or decompressed into a temp file */
static int add_layer(struct oci_tar_out *t, struct oci_layout *l, const struct oci_descriptor *d,
		     const char *diff_id, const char *tmp_dir, const char *name,
		     struct pn_error **err)
{
	int comp = oci_layer_media_compression(d->media_type);
	cleanup_close int fd = -1;
	int64_t bsize;
	off_t size;

	if (comp < 0)
		return pn_error_set(err, PN_ERR_UNSUPPORTED, "layer `%s`: media type `%s`",
				    d->digest, d->media_type ? d->media_type : "");
	if (comp == OCI_COMP_NONE) {
		if (strcmp(d->digest, diff_id) != 0)
			return pn_error_set(err, PN_ERR_DIGEST,
					    "layer `%s` is uncompressed but the config's diff_id "
					    "is `%s`",
					    d->digest, diff_id);
		if (oci_layout_open_blob(l, d->digest, &fd, &bsize, err) < 0)
			return -1;
		return oci_tar_out_add_fd(t, name, fd, bsize, err);
	}
	fd = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return pn_error_set_errno(err, errno, "create a temporary file in `%s`", tmp_dir);
	if (oci_layer_decompress(l, d->digest, diff_id, fd, err) < 0)
		return -1;
	size = lseek(fd, 0, SEEK_CUR);
	if (size < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return pn_error_set_errno(err, errno, "read back layer `%s`", d->digest);
	return oci_tar_out_add_fd(t, name, fd, (int64_t)size, err);
}

static int add_layers(struct oci_tar_out *t, struct oci_layout *l, const struct oci_image *img,
		      const char *tmp_dir, json_t *names, struct pn_error **err)
{
	const struct oci_config *c = &img->config;

	if (img->manifest.n_layers != c->n_diff_ids)
		return pn_error_set(err, PN_ERR_INVALID,
				    "the manifest has %zu layers, the config %zu diff_ids",
				    img->manifest.n_layers, c->n_diff_ids);
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		cleanup_free char *name = xasprintf("%s.tar", oci_digest_hex(c->diff_ids[i]));
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen = seen || !strcmp(c->diff_ids[i], c->diff_ids[j]);
		if (!seen && add_layer(t, l, &img->manifest.layers[i], c->diff_ids[i], tmp_dir,
				       name, err) < 0)
			return -1;
		json_array_append_new(names, json_string(name));
	}
	return 0;
}

static int add_manifest(struct oci_tar_out *t, const char *config, json_t *layers,
			const char *repo_tag, struct pn_error **err)
{
	cleanup_json json_t *arr = json_array();
	json_t *e = json_object(), *tags = json_array();
	cleanup_free char *data = NULL;
	size_t len;

	if (repo_tag)
		json_array_append_new(tags, json_string(repo_tag));
	json_object_set_new(e, "Config", json_string(config));
	json_object_set_new(e, "RepoTags", tags);
	json_object_set_new(e, "Layers", json_incref(layers));
	json_array_append_new(arr, e);
	if (oci_json_dump(arr, &data, &len, err) < 0)
		return -1;
	return oci_tar_out_add_data(t, "manifest.json", data, len, err);
}

static int pack_image(struct oci_tar_out *t, struct oci_layout *l, const struct oci_image *img,
		      const char *repo_tag, const char *tmp_dir, struct pn_error **err)
{
	cleanup_free char *cname =
		xasprintf("%s.json", oci_digest_hex(img->manifest.config.digest));
	cleanup_free char *tag = repo_tag ? name_norm(repo_tag) : NULL;
	cleanup_json json_t *layers = json_array();
	cleanup_close int fd = -1;
	int64_t size;

	if (oci_layout_open_blob(l, img->manifest.config.digest, &fd, &size, err) < 0 ||
	    oci_tar_out_add_fd(t, cname, fd, size, err) < 0 ||
	    add_layers(t, l, img, tmp_dir, layers, err) < 0)
		return -1;
	return add_manifest(t, cname, layers, tag, err);
}

int oci_docker_archive_pack(struct oci_layout *l, const char *ref, const char *repo_tag,
			    const char *tmp_dir, const char *file, struct pn_error **err)
{
	struct oci_image img;
	struct oci_tar_out t;
	int rc;

	if (oci_image_load(l, ref, NULL, &img, err) < 0) {
		oci_image_release(&img);
		return -1;
	}
	rc = oci_tar_out_begin(&t, file, err);
	if (rc == 0) {
		rc = pack_image(&t, l, &img, repo_tag, tmp_dir, err);
		if (rc == 0)
			rc = oci_tar_out_commit(&t, err);
		else
			oci_tar_out_abort(&t);
	}
	oci_image_release(&img);
	return rc < 0 ? pn_error_wrap(err, "write docker archive `%s`", file) : 0;
}
