/* predict_input.c - the -i inputs of predict and train (predict.h): typed by
 * the model's OpenAPI schema and checked against it before anything runs, so
 * a bad input is one line naming the input, the value and the constraint. */
#include "assembler/predict.h"
#include "common/cleanup.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define INPUT_LIST_MAX ((size_t)4096) /* bytes of the input names an error lists */
#define INPUT_SHOW_MAX 60	      /* characters of a value an error shows */
#define SCHEMA_REF     "#/components/schemas/"

static const json_t *components(const json_t *schema)
{
	return json_object_get(json_object_get(schema, "components"), "schemas");
}

const json_t *predict_schema_props(const json_t *schema, const char *component)
{
	return json_object_get(json_object_get(components(schema), component), "properties");
}

/* a property's own schema, or for choices the enum component its
 * allOf [{"$ref": ...}] names */
static const json_t *resolved(const json_t *schema, const json_t *prop)
{
	const json_t *all = json_object_get(prop, "allOf"), *c;
	const char *ref;

	if (!json_is_array(all) || json_array_size(all) == 0)
		return prop;
	ref = json_string_value(json_object_get(json_array_get(all, 0), "$ref"));
	if (!ref || strncmp(ref, SCHEMA_REF, strlen(SCHEMA_REF)) != 0)
		return json_array_get(all, 0);
	c = json_object_get(components(schema), ref + strlen(SCHEMA_REF));
	return c ? c : prop;
}

static const char *prop_type(const json_t *schema, const json_t *prop)
{
	return json_string_value(json_object_get(resolved(schema, prop), "type"));
}

struct named {
	const char *name;
	json_int_t order;
};

static int by_order(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

char *predict_input_names(const json_t *props)
{
	size_t n = json_object_size(props), i = 0;
	struct named *v = xcalloc(n ? n : 1, sizeof(*v));
	struct pn_buf b = PN_BUF_INIT;
	const char *k;
	json_t *p;

	json_object_foreach((json_t *)props, k, p)
	{
		v[i].name = k;
		v[i++].order = json_integer_value(json_object_get(p, "x-order"));
	}
	qsort(v, n, sizeof(*v), by_order);
	pn_buf_init(&b, INPUT_LIST_MAX);
	for (i = 0; i < n; i++)
		if (pn_buf_printf(&b, NULL, "%s%s", i ? ", " : "", v[i].name) < 0)
			break;
	free(v);
	return pn_buf_steal(&b, NULL);
}

/* the first input by x-order */
static const char *first_input(const json_t *props)
{
	const char *k, *best = NULL;
	json_int_t best_order = 0;
	json_t *v;

	json_object_foreach((json_t *)props, k, v)
	{
		json_int_t o = json_integer_value(json_object_get(v, "x-order"));

		if (!best || o < best_order) {
			best = k;
			best_order = o;
		}
	}
	return best;
}

/* v as `type`; the error says what v is not (the caller names the input) */
static json_t *file_value(const char *path, struct pn_error **err);

static json_t *typed_value(const char *type, const char *v, struct pn_error **err)
{
	char *end;

	if (!type || strcmp(type, "string") == 0)
		return json_string(v);
	if (strcmp(type, "integer") == 0) {
		long long n;

		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end)
			goto bad;
		return json_integer(n);
	}
	if (strcmp(type, "number") == 0) {
		double d = strtod(v, &end);

		if (end == v || *end || !isfinite(d))
			goto bad;
		return json_real(d);
	}
	if (strcmp(type, "boolean") == 0) {
		if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
			return json_true();
		if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
			return json_false();
		goto bad;
	}
	return json_string(v);
bad:
	pn_error_set(err, PN_ERR_INVALID, "`%s` is not a valid %s", v, type);
	return NULL;
}

/* a dict input (`type: object`): VALUE is JSON */
static json_t *object_value(const char *v, struct pn_error **err)
{
	json_error_t je;
	json_t *j = json_loads(v, JSON_DECODE_ANY, &je);

	if (!json_is_object(j)) {
		json_decref(j);
		pn_error_set(err, PN_ERR_INVALID, "`%s` is not a JSON object", v);
		return NULL;
	}
	return j;
}

static bool union_has(const json_t *schema, const json_t *members, const char *type)
{
	size_t i;
	const json_t *m;

	json_array_foreach(members, i, m)
	{
		const char *t = json_string_value(json_object_get(resolved(schema, m), "type"));

		if (t && strcmp(t, type) == 0)
			return true;
	}
	return false;
}

/* a union input (anyOf, no type), as Cog's CLI reads it: a number when the
 * union has a number (an int when it reads as one), a bool for true/false
 * when it has a bool, else the string */
static json_t *union_value(const json_t *schema, const json_t *members, const char *v)
{
	bool num = union_has(schema, members, "number"),
	     integer = union_has(schema, members, "integer");
	json_t *j;

	if (num || integer) {
		j = typed_value("integer", v, NULL);
		if (j)
			return j;
		if (num && (j = typed_value("number", v, NULL)))
			return j;
	}
	if (union_has(schema, members, "boolean") &&
	    (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
		return json_boolean(v[0] == 't');
	return json_string(v);
}

/* VALUE for the property prop */
static json_t *prop_value(const json_t *schema, const json_t *prop, const char *v,
			  struct pn_error **err)
{
	const char *type = prop_type(schema, prop);
	const json_t *any = json_object_get(prop, "anyOf");

	if (v[0] == '@')
		return file_value(v + 1, err);
	if (!type && json_is_array(any))
		return union_value(schema, any, v);
	if (type && strcmp(type, "object") == 0)
		return object_value(v, err);
	return typed_value(type, v, err);
}

static json_t *file_value(const char *path, struct pn_error **err)
{
	cleanup_free char *data = NULL;
	size_t len = 0;
	char *url;
	json_t *j;

	if (pn_read_file(path, PREDICT_INPUT_FILE_MAX, &data, &len, err) < 0)
		return NULL;
	url = predict_data_url(data, len, path);
	j = json_string(url);
	free(url);
	return j;
}

/* NAME=VALUE, or a bare VALUE for the first input: the name (owned) */
static char *split_arg(const char *arg, const json_t *props, const char **value,
		       struct pn_error **err)
{
	const char *eq = strchr(arg, '='), *first;

	if (eq && eq != arg) {
		*value = eq + 1;
		return xstrndup(arg, (size_t)(eq - arg));
	}
	first = first_input(props);
	if (!first) {
		pn_error_set(err, PN_ERR_INVALID,
			     "input `%s` has no name and the model has no inputs", arg);
		return NULL;
	}
	*value = arg;
	return xstrdup(first);
}

static int unknown_input(const char *name, const json_t *props, struct pn_error **err)
{
	cleanup_free char *names = predict_input_names(props);

	if (json_object_size(props) == 0)
		return pn_error_set(err, PN_ERR_INVALID,
				    "unknown input `%s`: the model takes no inputs", name);
	return pn_error_set(err, PN_ERR_INVALID, "unknown input `%s`; the model's inputs: %s", name,
			    names);
}

int predict_input_add_to(json_t *input, const char *arg, const json_t *schema,
			 const char *component, struct pn_error **err)
{
	const json_t *props = predict_schema_props(schema, component), *prop;
	cleanup_free char *name = NULL;
	const char *v, *type;
	json_t *val;

	name = split_arg(arg, props, &v, err);
	if (!name)
		return -1;
	prop = json_object_get(props, name);
	if (props && !prop)
		return unknown_input(name, props, err);
	type = prop_type(schema, prop);
	if (type && strcmp(type, "array") == 0) {
		json_t *arr = json_object_get(input, name);

		val = prop_value(schema, json_object_get(prop, "items"), v, err);
		if (!val)
			return pn_error_wrap(err, "input `%s`", name);
		if (!json_is_array(arr)) {
			arr = json_array();
			json_object_set_new(input, name, arr);
		}
		json_array_append_new(arr, val);
		return 0;
	}
	val = prop_value(schema, prop, v, err);
	if (!val)
		return pn_error_wrap(err, "input `%s`", name);
	json_object_set_new(input, name, val);
	return 0;
}

int predict_input_add(json_t *input, const char *arg, const json_t *schema, struct pn_error **err)
{
	return predict_input_add_to(input, arg, schema, "Input", err);
}

/* ------------------------------------------------------------ constraints */

/* the value as the user wrote it, shortened: numbers plain, strings quoted */
static char *shown(const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (strncmp(s, "data:", 5) == 0)
			return xstrdup("(a file)");
		if (strlen(s) > INPUT_SHOW_MAX)
			return xasprintf("`%.*s…`", INPUT_SHOW_MAX, s);
		return xasprintf("`%s`", s);
	}
	if (json_is_number(v))
		return xasprintf("%g", json_number_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool in_enum(const json_t *v, const json_t *choices)
{
	for (size_t i = 0; i < json_array_size(choices); i++) {
		const json_t *c = json_array_get(choices, i);

		if (json_equal((json_t *)v, (json_t *)c) ||
		    (json_is_number(v) && json_is_number(c) &&
		     json_number_value(v) == json_number_value(c)))
			return true;
	}
	return false;
}

static int check_choices(const char *name, const json_t *v, const json_t *choices,
			 struct pn_error **err)
{
	cleanup_free char *sv = shown(v);
	struct pn_buf b = PN_BUF_INIT;
	cleanup_free char *list = NULL;

	if (in_enum(v, choices))
		return 0;
	pn_buf_init(&b, INPUT_LIST_MAX);
	for (size_t i = 0; i < json_array_size(choices); i++) {
		cleanup_free char *c = shown(json_array_get(choices, i));

		if (pn_buf_printf(&b, NULL, "%s%s", i ? ", " : "", c) < 0)
			break;
	}
	list = pn_buf_steal(&b, NULL);
	return pn_error_set(err, PN_ERR_INVALID, "input `%s`: %s is not one of the choices %s",
			    name, sv, list ? list : "");
}

static int check_bounds(const char *name, const json_t *v, const json_t *s, struct pn_error **err)
{
	const json_t *min = json_object_get(s, "minimum"), *max = json_object_get(s, "maximum");
	cleanup_free char *sv = shown(v);

	if (json_is_number(v)) {
		double d = json_number_value(v);

		if (json_is_number(min) && d < json_number_value(min))
			return pn_error_set(err, PN_ERR_INVALID,
					    "input `%s`: %s is less than the minimum %g", name, sv,
					    json_number_value(min));
		if (json_is_number(max) && d > json_number_value(max))
			return pn_error_set(err, PN_ERR_INVALID,
					    "input `%s`: %s is more than the maximum %g", name, sv,
					    json_number_value(max));
	}
	min = json_object_get(s, "minLength");
	max = json_object_get(s, "maxLength");
	if (json_is_string(v) && strncmp(json_string_value(v), "data:", 5) != 0) {
		json_int_t n = (json_int_t)json_string_length(v);

		if (json_is_integer(min) && n < json_integer_value(min))
			return pn_error_set(err, PN_ERR_INVALID,
					    "input `%s`: %s is shorter than %lld characters", name,
					    sv, (long long)json_integer_value(min));
		if (json_is_integer(max) && n > json_integer_value(max))
			return pn_error_set(err, PN_ERR_INVALID,
					    "input `%s`: %s is longer than %lld characters", name,
					    sv, (long long)json_integer_value(max));
	}
	return 0;
}

/* one value (or one item of a list) against its property's schema */
static int check_value(const char *name, const json_t *v, const json_t *schema, const json_t *prop,
		       struct pn_error **err)
{
	const json_t *s = resolved(schema, prop);
	const json_t *choices = json_object_get(s, "enum");

	if (json_is_array(choices))
		return check_choices(name, v, choices, err);
	return check_bounds(name, v, s, err);
}

int predict_input_check(const json_t *input, const json_t *schema, const char *component,
			struct pn_error **err)
{
	const json_t *props = predict_schema_props(schema, component);
	const json_t *required =
		json_object_get(json_object_get(components(schema), component), "required");
	const char *k;
	json_t *v;

	if (!props)
		return 0;
	json_object_foreach((json_t *)input, k, v)
	{
		const json_t *prop = json_object_get(props, k);

		if (!prop)
			return unknown_input(k, props, err);
		if (json_is_array(v)) {
			for (size_t i = 0; i < json_array_size(v); i++)
				if (check_value(k, json_array_get(v, i), schema,
						json_object_get(prop, "items"), err) < 0)
					return -1;
		} else if (check_value(k, v, schema, prop, err) < 0) {
			return -1;
		}
	}
	for (size_t i = 0; i < json_array_size(required); i++) {
		const char *r = json_string_value(json_array_get(required, i));

		if (r && !json_object_get(input, r))
			return pn_error_set(err, PN_ERR_INVALID,
					    "input `%s` is required (-i %s=VALUE)", r, r);
	}
	return 0;
}

int predict_input_files_check(const char *const *args, size_t n, struct pn_error **err)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		const char *v = eq && eq != args[i] ? eq + 1 : args[i];
		cleanup_free char *name =
			eq && eq != args[i] ? xstrndup(args[i], (size_t)(eq - args[i])) : NULL;
		struct stat st;

		if (v[0] != '@')
			continue;
		if (stat(v + 1, &st) < 0)
			return pn_error_set(err, PN_ERR_INVALID, "input `%s`: file `%s`: %s",
					    name ? name : v, v + 1, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return pn_error_set(err, PN_ERR_INVALID,
					    "input `%s`: `%s` is not a regular file",
					    name ? name : v, v + 1);
	}
	return 0;
}

/* the server's 422 body ({"detail":[{"loc":[...,"name"],"msg":...}]}) as
 * one line, or NULL when it is not that shape */
char *predict_refusal_message(const char *body, size_t len)
{
	cleanup_json json_t *j = json_loadb(body, len, 0, NULL);
	const json_t *d = json_array_get(json_object_get(j, "detail"), 0);
	const json_t *loc = json_object_get(d, "loc");
	const json_t *last = json_array_get(loc, json_array_size(loc) - 1);
	const char *msg = json_string_value(json_object_get(d, "msg"));

	if (!msg)
		return NULL;
	if (json_is_string(last))
		return xasprintf("input `%s`: %s", json_string_value(last), msg);
	return xstrdup(msg);
}
