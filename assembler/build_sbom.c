/* build_sbom.c - the SBOM and provenance of a build (docs/sbom.md): the
 * inventory read from the image's unpacked layers (cached under the key of
 * the whole layer chain, so an unchanged rebuild reads nothing again), the
 * SPDX document written from it, and both attached to the stored or pushed
 * image as OCI 1.1 referrers. */
#include "assembler/build_internal.h"
#include "assembler/sbom.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

#define SBOM_KEY_SALT "pinion-sbom-inventory-v1"

void build_sbom_release(struct build_sbom *s)
{
	free(s->spdx);
	free(s->name);
	free(s->base_name);
	free(s->created);
	memset(s, 0, sizeof(*s));
}

/* the inventory of the image so far: from the cache, else its layers */
static int inventory(struct step_ctx *sc, json_t **out, struct pn_error **err)
{
	struct oci_hasher *h = oci_hasher_new();
	oci_digest_t key;
	int hit = 0;

	oci_hasher_update(h, SBOM_KEY_SALT, sizeof(SBOM_KEY_SALT));
	oci_hasher_update(h, sc->chain, strlen(sc->chain));
	oci_hasher_final(h, key);
	oci_hasher_free(h);
	if (sc->use_cache && (hit = build_cache_get_data(sc->cache, key, out, err)) < 0)
		return -1;
	if (hit)
		return 0;
	/* the weights are files the SBOM lists by digest, never scanned */
	if (build_exec_rootfs(sc->ex, true, err) < 0 ||
	    sbom_scan_lowers(&sc->ex->rf.lowers, out, err) < 0)
		return pn_error_wrap(err, "read the image's packages");
	return build_cache_put_data(sc->cache, key, *out, err);
}

static bool plan_has(const struct build_plan *p, enum plan_step_id id)
{
	for (size_t i = 0; i < p->n_steps; i++)
		if (p->steps[i].id == id)
			return true;
	return false;
}

/* the weight files as the image holds them */
static int weight_files(struct step_ctx *sc, struct sbom_file **out, size_t *n,
			struct pn_strv *paths, struct pn_error **err)
{
	const struct build_plan *p = sc->plan;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < p->n_steps; i++) {
		const struct plan_step *s = &p->steps[i];

		for (size_t k = 0; s->kind == PLAN_STEP_COPY && k < s->n_weights; k++) {
			const struct plan_weight *w = &s->weights[k];
			oci_digest_t d;

			if (!sc->src->digests[w->entry][0] &&
			    src_tree_digest_entry(sc->src, w->entry, d, err) < 0)
				return -1;
			pn_strv_push_owned(paths, xasprintf("%s/%s", s->copy_dest, w->path));
			*out = xrealloc(*out, st_mult(*n + 1, sizeof(**out)));
			(*out)[*n].path = NULL;
			(*out)[*n].size = w->size;
			(*out)[*n].digest = sc->src->digests[w->entry];
			++*n;
		}
	}
	for (size_t i = 0; i < *n; i++)
		(*out)[i].path = paths->v[i];
	return 0;
}

static void own_parts(struct step_ctx *sc, struct sbom_doc_in *d, oci_digest_t wheel,
		      oci_digest_t tini, char **tini_version)
{
	size_t len = 0;
	const unsigned char *data = build_tini_data(&len);

	if (plan_has(sc->plan, PLAN_ID_COG_WHEEL) && sc->wheel->path &&
	    oci_digest_file(sc->wheel->path, wheel, NULL, NULL) == 0) {
		d->wheel_name = sc->wheel->name;
		d->wheel_digest = wheel;
	}
	if (plan_has(sc->plan, PLAN_ID_TINI)) {
		oci_digest_buf(data, len, tini);
		*tini_version = sbom_tini_version(data, len);
		d->tini_version = *tini_version;
		d->tini_digest = tini;
	}
}

int build_sbom_make(struct step_ctx *sc, const struct build_sbom_in *in, struct build_sbom *out,
		    struct pn_error **err)
{
	cleanup_json json_t *inv = NULL;
	cleanup_free struct sbom_file *files = NULL;
	cleanup_strv struct pn_strv paths = PN_STRV_INIT;
	cleanup_free char *tini_version = NULL;
	const char *created = sc->ex->img.config.created;
	struct sbom_doc_in d = {0};
	oci_digest_t wheel, tini;

	if (inventory(sc, &inv, err) < 0 || weight_files(sc, &files, &d.n_files, &paths, err) < 0 ||
	    src_tree_digest_source(sc->src, out->source, err) < 0)
		return -1;
	d.name = in->name;
	d.created = created ? created : "1970-01-01T00:00:00Z";
	d.base_name = in->base_ref;
	d.base_digest = in->base_digest;
	d.inventory = inv;
	d.files = files;
	own_parts(sc, &d, wheel, tini, &tini_version);
	sbom_spdx_write(&d, &out->spdx, &out->spdx_len);
	out->n_deb = json_array_size(json_object_get(inv, "deb"));
	out->n_python = json_array_size(json_object_get(inv, "python"));
	out->name = xstrdup(in->name);
	out->base_name = xstrdup(in->base_ref);
	memcpy(out->base_digest, in->base_digest, sizeof(out->base_digest));
	out->created = xstrdup(d.created);
	out->has_cog_yaml = oci_digest_file(in->cog_yaml, out->cog_yaml, NULL, NULL) == 0;
	out->source_date_epoch = in->timestamp >= 0 ? in->timestamp : pn_source_date_epoch(-1);
	out->ready = true;
	pn_progress_event("sbom", NULL,
			  "SBOM: %zu Debian and %zu Python packages, %zu weight files", out->n_deb,
			  out->n_python, d.n_files);
	return 0;
}

/* one artifact about subject, stored in l and listed among its referrers */
static int attach_one(struct oci_layout *l, const struct build_sbom *s,
		      const struct oci_descriptor *subject, const char *type, const char *data,
		      size_t len, const char *title, struct pn_error **err)
{
	cleanup_json json_t *ann =
		json_pack("{s:s}", "org.opencontainers.image.created", s->created);
	struct oci_artifact a = {type, type, data, len, title, ann, subject};
	struct oci_descriptor d;
	int rc;

	if (oci_artifact_store(l, &a, &d, err) < 0)
		return -1;
	rc = oci_layout_referrers_add(l, subject->digest, &d, type, err);
	oci_descriptor_release(&d);
	return rc;
}

int build_sbom_attach(const struct build_sbom *s, struct oci_layout *l,
		      const struct oci_descriptor *subject, struct pn_error **err)
{
	cleanup_free char *prov = NULL;
	size_t prov_len = 0;
	struct sbom_provenance_in p = {
		.name = s->name,
		.digest = subject->digest,
		.cog_yaml = s->has_cog_yaml ? s->cog_yaml : NULL,
		.base_name = s->base_name,
		.base_digest = s->base_digest,
		.source_digest = s->source,
		.source_date_epoch = s->source_date_epoch,
	};

	if (!s->ready)
		return 0;
	sbom_provenance_write(&p, &prov, &prov_len);
	if (attach_one(l, s, subject, SBOM_MT_SPDX, s->spdx, s->spdx_len, "sbom.spdx.json", err) <
		    0 ||
	    attach_one(l, s, subject, SBOM_MT_INTOTO, prov, prov_len, "provenance.intoto.json",
		       err) < 0)
		return pn_error_wrap(err, "attach the SBOM");
	return 0;
}

int build_sbom_push(const struct build_sbom *s, struct registry_client *c, struct oci_layout *l,
		    const struct oci_descriptor *subject, const char *dst, struct pn_error **err)
{
	if (!s->ready)
		return 0;
	if (build_sbom_attach(s, l, subject, err) < 0 ||
	    registry_referrers_push(c, l, subject->digest, dst, err) < 0)
		return pn_error_wrap(err, "push the SBOM");
	return 0;
}
