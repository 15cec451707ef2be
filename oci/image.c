/* image.c - images in a layout (load, store), `oci:` references, and the
 * JSON shape `pinion inspect` prints. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

void oci_image_init(struct oci_image *img)
{
	oci_descriptor_init(&img->desc);
	oci_manifest_init(&img->manifest);
	oci_config_init(&img->config);
}

void oci_image_release(struct oci_image *img)
{
	oci_descriptor_release(&img->desc);
	oci_manifest_release(&img->manifest);
	oci_config_release(&img->config);
}

/* follow an index entry to the platform's manifest descriptor */
static int image_follow_index(struct oci_layout *l, const char *platform,
			      struct oci_descriptor *desc, struct pn_error **err)
{
	for (int depth = 0; depth < 4; depth++) {
		cleanup_free char *data = NULL;
		size_t len;
		enum oci_doc_kind kind;
		struct oci_index ix;
		const struct oci_descriptor *sel;
		struct oci_descriptor next;

		if (oci_doc_kind(desc->media_type, NULL, 0, &kind, err) < 0)
			return -1;
		if (kind == OCI_DOC_MANIFEST)
			return 0;
		if (oci_layout_read_blob(l, desc->digest, OCI_MANIFEST_MAX, &data, &len, err) < 0 ||
		    oci_index_parse(data, len, &ix, err) < 0)
			return -1;
		if (oci_index_select_platform(&ix, platform, &sel, err) < 0) {
			oci_index_release(&ix);
			return -1;
		}
		oci_descriptor_copy(&next, sel);
		oci_index_release(&ix);
		oci_descriptor_release(desc);
		*desc = next;
	}
	return pn_error_set(err, PN_ERR_INVALID, "indexes nested too deeply");
}

int oci_image_load(struct oci_layout *l, const char *ref, const char *platform,
		   struct oci_image *out, struct pn_error **err)
{
	cleanup_free char *mdata = NULL, *cdata = NULL;
	size_t mlen, clen;

	oci_descriptor_init(&out->desc);
	oci_manifest_init(&out->manifest);
	memset(&out->config, 0, sizeof(out->config));
	if (oci_layout_resolve(l, ref, &out->desc, err) < 0)
		return -1;
	if (image_follow_index(l, platform, &out->desc, err) < 0 ||
	    oci_layout_read_blob(l, out->desc.digest, OCI_MANIFEST_MAX, &mdata, &mlen, err) < 0 ||
	    oci_manifest_parse(mdata, mlen, &out->manifest, err) < 0)
		goto fail;
	if (oci_layout_read_blob(l, out->manifest.config.digest, OCI_CONFIG_MAX, &cdata, &clen,
				 err) < 0 ||
	    oci_config_parse(cdata, clen, &out->config, err) < 0)
		goto fail;
	return 0;
fail:
	/* released: nothing for the caller to free (releasing again is harmless) */
	oci_image_release(out);
	return pn_error_wrap(err, "load image `%s`", ref ? ref : "(default)");
}

int oci_image_store(struct oci_layout *l, struct oci_image *img, const char *tag,
		    struct oci_descriptor *desc_out, struct pn_error **err)
{
	return oci_image_store_absent(l, img, tag, NULL, desc_out, err);
}

int oci_image_store_absent(struct oci_layout *l, struct oci_image *img, const char *tag,
			   const struct pn_strv *absent, struct oci_descriptor *desc_out,
			   struct pn_error **err)
{
	cleanup_free char *cjson = NULL, *mjson = NULL;
	size_t clen, mlen;
	struct oci_descriptor d;

	for (size_t i = 0; i < img->manifest.n_layers; i++)
		if (!(absent && pn_strv_contains(absent, img->manifest.layers[i].digest)) &&
		    !oci_layout_has_blob(l, img->manifest.layers[i].digest))
			return pn_error_set(err, PN_ERR_NOT_FOUND,
					    "store image: layer `%s` is not in `%s`",
					    img->manifest.layers[i].digest, oci_layout_path(l));
	if (oci_config_to_json(&img->config, &cjson, &clen, err) < 0)
		return pn_error_wrap(err, "store image config");
	oci_descriptor_release(&img->manifest.config);
	img->manifest.config.media_type = xstrdup(OCI_MT_CONFIG);
	img->manifest.config.size = (int64_t)clen;
	if (oci_layout_put_blob(l, cjson, clen, NULL, img->manifest.config.digest, err) < 0)
		return pn_error_wrap(err, "store image config");
	free(img->manifest.media_type);
	img->manifest.media_type = xstrdup(OCI_MT_MANIFEST);
	if (oci_manifest_to_json(&img->manifest, &mjson, &mlen, err) < 0)
		return pn_error_wrap(err, "store manifest");
	oci_descriptor_init(&d);
	d.media_type = xstrdup(OCI_MT_MANIFEST);
	d.size = (int64_t)mlen;
	if (oci_layout_put_blob(l, mjson, mlen, NULL, d.digest, err) < 0 ||
	    (tag && oci_layout_tag(l, tag, &d, err) < 0)) {
		oci_descriptor_release(&d);
		return pn_error_wrap(err, "store image");
	}
	oci_descriptor_release(&img->desc);
	oci_descriptor_copy(&img->desc, &d);
	if (desc_out)
		*desc_out = d;
	else
		oci_descriptor_release(&d);
	return 0;
}

static json_t *doc_json(const char *data, size_t len)
{
	json_t *j = json_loadb(data, len, 0, NULL);

	return j ? j : json_null();
}

json_t *oci_image_inspect_json(const char *name, const struct oci_descriptor *desc,
			       const char *manifest, size_t manifest_len, const char *config,
			       size_t config_len)
{
	json_t *j = json_object(), *cfg = doc_json(config, config_len), *labels, *layers;
	json_t *m = doc_json(manifest, manifest_len);
	json_t *cc = json_object_get(cfg, "config");
	size_t i;
	json_t *it;
	int64_t total = 0;

	json_object_set_new(j, "name", json_string(name));
	json_object_set_new(j, "digest", json_string(desc->digest));
	json_object_set_new(j, "mediaType", json_string(desc->media_type ? desc->media_type : ""));
	json_object_set_new(j, "os", json_incref(json_object_get(cfg, "os")));
	json_object_set_new(j, "architecture", json_incref(json_object_get(cfg, "architecture")));
	labels = json_object_get(cc, "Labels");
	json_object_set_new(j, "labels",
			    json_is_object(labels) ? json_incref(labels) : json_object());
	layers = json_array();
	json_array_foreach(json_object_get(m, "layers"), i, it)
	{
		json_array_append(layers, json_object_get(it, "digest"));
		total += json_integer_value(json_object_get(it, "size"));
	}
	json_object_set_new(j, "layers", layers);
	json_object_set_new(j, "size", json_integer(total));
	json_object_set_new(j, "manifest", m);
	json_object_set_new(j, "config", cfg);
	return j;
}

int oci_layout_inspect_json(struct oci_layout *l, const char *ref, const char *platform,
			    const char *name, json_t **out, struct pn_error **err)
{
	struct oci_image img;
	cleanup_free char *mdata = NULL, *cdata = NULL;
	size_t mlen, clen;

	if (oci_image_load(l, ref, platform, &img, err) < 0)
		return -1;
	if (oci_layout_read_blob(l, img.desc.digest, OCI_MANIFEST_MAX, &mdata, &mlen, err) < 0 ||
	    oci_layout_read_blob(l, img.manifest.config.digest, OCI_CONFIG_MAX, &cdata, &clen,
				 err) < 0) {
		oci_image_release(&img);
		return -1;
	}
	*out = oci_image_inspect_json(name, &img.desc, mdata, mlen, cdata, clen);
	oci_image_release(&img);
	return 0;
}
