/* json.c - jansson helpers shared by the model parsers: the one place where
 * jansson's errors become pn_errors, and canonical output. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <string.h>

json_t *oci_json_load(const char *data, size_t len, const char *what, struct pn_error **err)
{
	json_error_t je;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);

	if (!j) {
		pn_error_set(err, PN_ERR_INVALID, "parse %s: line %d column %d: %s", what, je.line,
			     je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		pn_error_set(err, PN_ERR_INVALID, "parse %s: not a JSON object", what);
		return NULL;
	}
	return j;
}

int oci_json_dump(json_t *j, char **out, size_t *len, struct pn_error **err)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	if (!s)
		return pn_error_set(err, PN_ERR_INVALID,
				    "serialise JSON: invalid content (not UTF-8?)");
	*out = s;
	if (len)
		*len = strlen(s);
	return 0;
}

int oci_json_opt_string(json_t *obj, const char *key, const char *what, char **out,
			struct pn_error **err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return pn_error_set(err, PN_ERR_INVALID, "%s: `%s` is not a string", what, key);
	*out = xstrdup(json_string_value(v));
	return 0;
}

int oci_json_opt_strv(json_t *obj, const char *key, const char *what, struct pn_strv *out,
		      bool *was_null, struct pn_error **err)
{
	json_t *v = json_object_get(obj, key);
	size_t i;
	json_t *it;

	if (was_null)
		*was_null = v && json_is_null(v);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return pn_error_set(err, PN_ERR_INVALID, "%s: `%s` is not an array", what, key);
	json_array_foreach(v, i, it)
	{
		if (!json_is_string(it))
			return pn_error_set(err, PN_ERR_INVALID, "%s: `%s[%zu]` is not a string",
					    what, key, i);
		pn_strv_push(out, json_string_value(it));
	}
	return 0;
}

int oci_json_opt_str_object(json_t *obj, const char *key, const char *what, json_t **out,
			    struct pn_error **err)
{
	json_t *v = json_object_get(obj, key);
	const char *k;
	json_t *it;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return pn_error_set(err, PN_ERR_INVALID, "%s: `%s` is not an object", what, key);
	json_object_foreach(v, k, it)
	{
		if (!json_is_string(it))
			return pn_error_set(err, PN_ERR_INVALID, "%s: `%s.%s` is not a string",
					    what, key, k);
	}
	*out = json_deep_copy(v);
	return 0;
}

json_t *oci_strv_to_json(const struct pn_strv *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(a, json_string(s->v[i]));
	return a;
}
