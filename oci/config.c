/* config.c - the image config: known fields in the struct, the whole
 * document kept in `raw` so unknown fields survive a round trip. */
#include "oci/internal.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

void oci_config_init(struct oci_config *c)
{
	memset(c, 0, sizeof(*c));
	c->architecture = xstrdup("amd64");
	c->os = xstrdup("linux");
	c->labels = json_object();
}

void oci_config_release(struct oci_config *c)
{
	free(c->architecture);
	free(c->os);
	free(c->created);
	free(c->author);
	free(c->user);
	free(c->working_dir);
	pn_strv_release(&c->env);
	pn_strv_release(&c->entrypoint);
	pn_strv_release(&c->cmd);
	pn_strv_release(&c->exposed_ports);
	pn_strv_release(&c->volumes);
	free(c->stop_signal);
	json_decref(c->labels);
	free(c->diff_ids);
	for (size_t i = 0; i < c->n_history; i++) {
		free(c->history[i].created);
		free(c->history[i].created_by);
		free(c->history[i].comment);
	}
	free(c->history);
	json_decref(c->raw);
	memset(c, 0, sizeof(*c));
}

/* keys of an object ({"5000/tcp": {}}) into a sorted strv */
static int object_keys(json_t *obj, const char *key, struct pn_strv *out, struct pn_error **err)
{
	json_t *v = json_object_get(obj, key);
	const char *k;
	json_t *it;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return pn_error_set(err, PN_ERR_INVALID, "config: `%s` is not an object", key);
	json_object_foreach(v, k, it) pn_strv_push(out, k);
	pn_strv_sort(out);
	return 0;
}

static int parse_exec_config(json_t *cc, struct oci_config *c, struct pn_error **err)
{
	const char *w = "config: config";

	if (!cc || json_is_null(cc))
		return 0;
	if (!json_is_object(cc))
		return pn_error_set(err, PN_ERR_INVALID, "config: `config` is not an object");
	if (oci_json_opt_string(cc, "User", w, &c->user, err) < 0 ||
	    oci_json_opt_string(cc, "WorkingDir", w, &c->working_dir, err) < 0 ||
	    oci_json_opt_string(cc, "StopSignal", w, &c->stop_signal, err) < 0 ||
	    oci_json_opt_strv(cc, "Env", w, &c->env, NULL, err) < 0 ||
	    oci_json_opt_strv(cc, "Entrypoint", w, &c->entrypoint, &c->entrypoint_null, err) < 0 ||
	    oci_json_opt_strv(cc, "Cmd", w, &c->cmd, &c->cmd_null, err) < 0 ||
	    object_keys(cc, "ExposedPorts", &c->exposed_ports, err) < 0 ||
	    object_keys(cc, "Volumes", &c->volumes, err) < 0)
		return -1;
	json_decref(c->labels);
	c->labels = NULL;
	if (oci_json_opt_str_object(cc, "Labels", w, &c->labels, err) < 0)
		return -1;
	if (!c->labels)
		c->labels = json_object();
	return 0;
}

static int parse_rootfs(json_t *rf, struct oci_config *c, struct pn_error **err)
{
	json_t *ids, *it;
	size_t i;

	if (!rf || json_is_null(rf))
		return 0;
	if (!json_is_object(rf))
		return pn_error_set(err, PN_ERR_INVALID, "config: `rootfs` is not an object");
	ids = json_object_get(rf, "diff_ids");
	if (!ids || json_is_null(ids))
		return 0;
	if (!json_is_array(ids))
		return pn_error_set(err, PN_ERR_INVALID,
				    "config: `rootfs.diff_ids` is not an array");
	if (json_array_size(ids) > OCI_LAYERS_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "config: %zu diff_ids (limit %d)",
				    json_array_size(ids), OCI_LAYERS_MAX);
	c->diff_ids = xcalloc(json_array_size(ids) + 1, sizeof(*c->diff_ids));
	json_array_foreach(ids, i, it)
	{
		if (oci_digest_parse(json_string_value(it), c->diff_ids[i], err) < 0)
			return pn_error_wrap(err, "config: rootfs.diff_ids[%zu]", i);
		c->n_diff_ids = i + 1;
	}
	return 0;
}

static int parse_history(json_t *h, struct oci_config *c, struct pn_error **err)
{
	json_t *it;
	size_t i;

	if (!h || json_is_null(h))
		return 0;
	if (!json_is_array(h))
		return pn_error_set(err, PN_ERR_INVALID, "config: `history` is not an array");
	if (json_array_size(h) > 4 * OCI_LAYERS_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "config: %zu history entries (limit %d)",
				    json_array_size(h), 4 * OCI_LAYERS_MAX);
	c->history = xcalloc(json_array_size(h) + 1, sizeof(*c->history));
	json_array_foreach(h, i, it)
	{
		struct oci_history *e = &c->history[i];
		json_t *el;

		if (!json_is_object(it))
			return pn_error_set(err, PN_ERR_INVALID,
					    "config: history[%zu] is not an object", i);
		c->n_history = i + 1;
		if (oci_json_opt_string(it, "created", "config: history", &e->created, err) < 0 ||
		    oci_json_opt_string(it, "created_by", "config: history", &e->created_by, err) <
			    0 ||
		    oci_json_opt_string(it, "comment", "config: history", &e->comment, err) < 0)
			return -1;
		el = json_object_get(it, "empty_layer");
		e->empty_layer = json_is_true(el);
	}
	return 0;
}

int oci_config_parse(const char *data, size_t len, struct oci_config *out, struct pn_error **err)
{
	json_t *j;

	memset(out, 0, sizeof(*out));
	if (len > OCI_CONFIG_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "image config of %zu bytes (limit %zu)",
				    len, OCI_CONFIG_MAX);
	j = oci_json_load(data, len, "image config", err);
	if (!j)
		return -1;
	out->raw = j;
	out->labels = json_object();
	if (oci_json_opt_string(j, "architecture", "config", &out->architecture, err) < 0 ||
	    oci_json_opt_string(j, "os", "config", &out->os, err) < 0 ||
	    oci_json_opt_string(j, "created", "config", &out->created, err) < 0 ||
	    oci_json_opt_string(j, "author", "config", &out->author, err) < 0 ||
	    parse_exec_config(json_object_get(j, "config"), out, err) < 0 ||
	    parse_rootfs(json_object_get(j, "rootfs"), out, err) < 0 ||
	    parse_history(json_object_get(j, "history"), out, err) < 0) {
		oci_config_release(out);
		return -1;
	}
	if (!out->architecture || !out->os) {
		oci_config_release(out);
		return pn_error_set(err, PN_ERR_INVALID,
				    "config: `architecture` and `os` are required");
	}
	return 0;
}

/* set key to a string, or delete it when s is NULL */
static void set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
	else
		json_object_del(o, key);
}

static void set_strv(json_t *o, const char *key, const struct pn_strv *s, bool null)
{
	if (s->n)
		json_object_set_new(o, key, oci_strv_to_json(s));
	else if (null)
		json_object_set_new(o, key, json_null());
	else
		json_object_del(o, key);
}

static void set_keys(json_t *o, const char *key, const struct pn_strv *s)
{
	json_t *m;

	if (!s->n) {
		json_object_del(o, key);
		return;
	}
	m = json_object();
	for (size_t i = 0; i < s->n; i++)
		json_object_set_new(m, s->v[i], json_object());
	json_object_set_new(o, key, m);
}

static json_t *exec_config_to_json(const struct oci_config *c, json_t *raw_cc)
{
	json_t *cc = json_is_object(raw_cc) ? json_deep_copy(raw_cc) : json_object();

	set_str(cc, "User", c->user);
	set_str(cc, "WorkingDir", c->working_dir);
	set_str(cc, "StopSignal", c->stop_signal);
	set_strv(cc, "Env", &c->env, false);
	set_strv(cc, "Entrypoint", &c->entrypoint, c->entrypoint_null);
	set_strv(cc, "Cmd", &c->cmd, c->cmd_null);
	set_keys(cc, "ExposedPorts", &c->exposed_ports);
	set_keys(cc, "Volumes", &c->volumes);
	if (c->labels && json_object_size(c->labels))
		json_object_set_new(cc, "Labels", json_deep_copy(c->labels));
	else
		json_object_del(cc, "Labels");
	return cc;
}

static json_t *history_to_json(const struct oci_config *c)
{
	json_t *a = json_array();

	for (size_t i = 0; i < c->n_history; i++) {
		const struct oci_history *h = &c->history[i];
		json_t *e = json_object();

		set_str(e, "created", h->created);
		set_str(e, "created_by", h->created_by);
		set_str(e, "comment", h->comment);
		if (h->empty_layer)
			json_object_set_new(e, "empty_layer", json_true());
		json_array_append_new(a, e);
	}
	return a;
}

int oci_config_to_json(const struct oci_config *c, char **out, size_t *len, struct pn_error **err)
{
	cleanup_json json_t *j = c->raw ? json_deep_copy(c->raw) : json_object();
	json_t *rootfs = json_object(), *ids = json_array();

	set_str(j, "architecture", c->architecture ? c->architecture : "amd64");
	set_str(j, "os", c->os ? c->os : "linux");
	set_str(j, "created", c->created);
	set_str(j, "author", c->author);
	json_object_set_new(j, "config", exec_config_to_json(c, json_object_get(j, "config")));
	for (size_t i = 0; i < c->n_diff_ids; i++)
		json_array_append_new(ids, json_string(c->diff_ids[i]));
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_object_set_new(rootfs, "diff_ids", ids);
	json_object_set_new(j, "rootfs", rootfs);
	if (c->n_history)
		json_object_set_new(j, "history", history_to_json(c));
	else
		json_object_del(j, "history");
	return oci_json_dump(j, out, len, err);
}

void oci_config_set_env(struct oci_config *c, const char *name, const char *value)
{
	size_t n = strlen(name);
	char *e = xasprintf("%s=%s", name, value);

	for (size_t i = 0; i < c->env.n; i++) {
		if (strncmp(c->env.v[i], name, n) == 0 && c->env.v[i][n] == '=') {
			free(c->env.v[i]);
			c->env.v[i] = e;
			return;
		}
	}
	pn_strv_push_owned(&c->env, e);
}

const char *oci_config_get_env(const struct oci_config *c, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < c->env.n; i++)
		if (strncmp(c->env.v[i], name, n) == 0 && c->env.v[i][n] == '=')
			return c->env.v[i] + n + 1;
	return NULL;
}

void oci_config_set_label(struct oci_config *c, const char *key, const char *value)
{
	if (!c->labels)
		c->labels = json_object();
	json_object_set_new(c->labels, key, json_string(value));
}

void oci_config_add_history(struct oci_config *c, const char *created_by, bool empty_layer)
{
	struct oci_history *h;

	c->history = xrealloc(c->history, st_mult(c->n_history + 1, sizeof(*c->history)));
	h = &c->history[c->n_history++];
	memset(h, 0, sizeof(*h));
	h->created = c->created ? xstrdup(c->created) : NULL;
	h->created_by = created_by ? xstrdup(created_by) : NULL;
	h->empty_layer = empty_layer;
}

void oci_config_add_layer(struct oci_config *c, const char *diff_id, const char *created_by)
{
	c->diff_ids = xrealloc(c->diff_ids, st_mult(c->n_diff_ids + 1, sizeof(*c->diff_ids)));
	snprintf(c->diff_ids[c->n_diff_ids++], sizeof(oci_digest_t), "%s", diff_id);
	oci_config_add_history(c, created_by, false);
}
