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
json_t *oci_strv_to_json(const struct pn_strv *s);

int oci_descriptor_from_json(json_t *j, const char *what, struct oci_descriptor *out,
			     struct pn_error **err);

/* the lock serialising writers of a layout's index.json */
int oci_layout_lock(struct oci_layout *l, struct pn_error **err);
void oci_layout_unlock(struct oci_layout *l);
int oci_layout_dirfd(const struct oci_layout *l);

/* a tar entry's path cleaned: "./a//b/" -> "a/b", "/etc/x" -> "etc/x",
 * "." -> "" (*out owned by the caller); ".." anywhere is PN_ERR_INVALID */
int oci_tar_path_clean(const char *in, char **out, struct pn_error **err);

/* tests: force the applier's fallback walk (no openat2) on or off */
void oci_apply_force_no_openat2(bool on);

#endif
