/* cogconfig.c - cog.yaml: parse (libyaml document API), validate (every
 * problem at once, with file:line:col and the key path), complete (compat). */
#include "assembler/cogconfig.h"
#include "compat/compat.h"
#include "oci/oci.h"
#include "common/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* named limits of the cog.yaml reader (the file size: COG_CONFIG_MAX_SIZE,
 * checked before anything is read); all are checked on libyaml's event
 * stream before its document loader runs, which is quadratic in the depth */
#define COG_MAX_LIST_ITEMS 4096
#define COG_MAX_PROBLEMS   100
#define COG_MAX_SCALAR	   65536
#define COG_MAX_DEPTH	   64	  /* nested lists and mappings */
#define COG_MAX_NODES	   100000 /* nodes, each alias counting its whole anchor */
#define COG_MAX_ANCHORS	   256
#define COG_MAX_PATH	   4096 /* a path cog.yaml names */

static const char *const top_keys[] = {"build",	      "image",	     "predict", "run",	 "train",
				       "concurrency", "environment", "weights", "model", NULL};
static const char *const build_keys[] = {
	"gpu", "python_version", "python_packages", "python_requirements", "system_packages",
	"run", "cuda",		 "cudnn",	    "pre_install",	   "sdk_version",
	NULL};
static const char *const run_keys[] = {"command", "mounts", NULL};
static const char *const mount_keys[] = {"type", "id", "target", NULL};
static const char *const concurrency_keys[] = {"max", "default_target", NULL};
static const char *const weights_keys[] = {"name", "target", "source", NULL};
static const char *const env_deny[] = {"PATH",	      "LD_LIBRARY_PATH",	   "PYTHONPATH",
				       "VIRTUAL_ENV", "PYTHONUNBUFFERED",	   "LIBRARY_PATH",
				       "HF_ENDPOINT", "HF_HUB_ENABLE_HF_TRANSFER", NULL};
static const char *const env_deny_prefix[] = {"R8_", "REPLICATE_", "CUDA_",	  "NVIDIA_",
					      "NV_", "PGET_",	   "KUBERNETES_", NULL};

struct ctx {
	const char *name;
	const char *dir;
	yaml_document_t *doc;
	struct cog_config *cfg;
	struct pn_strv problems;
	/* where the completion's subjects were written, for messages */
	yaml_node_t *cuda_node;
	yaml_node_t *packages_node;
	yaml_node_t *requirements_node;
	char *requirements_text; /* build.python_requirements, read when checked */
	int dir_fd;		 /* the model directory (opened on first use), or -1 */
	bool dir_tried;
};

void cog_config_init(struct cog_config *c)
{
	memset(c, 0, sizeof(*c));
}

static void run_release(struct cog_run *r)
{
	size_t i;

	free(r->command);
	for (i = 0; i < r->n_mounts; i++) {
		free(r->mounts[i].type);
		free(r->mounts[i].id);
		free(r->mounts[i].target);
	}
	free(r->mounts);
}

void cog_config_release(struct cog_config *c)
{
	size_t i;

	free(c->path);
	free(c->dir);
	free(c->build.python_version);
	pn_strv_release(&c->build.python_packages);
	free(c->build.python_requirements);
	free(c->build.python_requirements_path);
	pn_strv_release(&c->build.system_packages);
	for (i = 0; i < c->build.n_run; i++)
		run_release(&c->build.run[i]);
	free(c->build.run);
	pn_strv_release(&c->build.pre_install);
	free(c->build.cuda);
	free(c->build.cudnn);
	free(c->build.sdk_version);
	free(c->image);
	free(c->model);
	free(c->predict);
	free(c->train);
	pn_strv_release(&c->environment);
	free(c->torch_version);
	free(c->tensorflow_version);
	free(c->requirements);
	pn_strv_release(&c->warnings);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ problems */
/* "name:L:C: msg" (line and col 0-based; line SIZE_MAX: no position) */
__attribute__((format(printf, 4, 0))) static void vproblem(struct ctx *c, size_t line, size_t col,
							   const char *fmt, va_list ap)
{
	char *msg;

	if (c->problems.n >= COG_MAX_PROBLEMS)
		return;
	msg = xvasprintf(fmt, ap);
	if (line != SIZE_MAX)
		pn_strv_push_owned(&c->problems,
				   xasprintf("%s:%zu:%zu: %s", c->name, line + 1, col + 1, msg));
	else
		pn_strv_push_owned(&c->problems, xasprintf("%s: %s", c->name, msg));
	free(msg);
}

__attribute__((format(printf, 3, 4))) static void problem(struct ctx *c, const yaml_node_t *at,
							  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(c, at ? at->start_mark.line : SIZE_MAX, at ? at->start_mark.column : 0, fmt, ap);
	va_end(ap);
}

/* a problem at a libyaml mark (an event's, the parser's) */
__attribute__((format(printf, 3, 4))) static void problem_mark(struct ctx *c, yaml_mark_t m,
							       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem(c, m.line, m.column, fmt, ap);
	va_end(ap);
}

/* a warning at a node, "name:L:C: msg" like a problem (kept in cfg->warnings) */
__attribute__((format(printf, 3, 4))) static void warning(struct ctx *c, const yaml_node_t *at,
							  const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pn_strv_push_owned(&c->cfg->warnings,
			   xasprintf("%s:%zu:%zu: %s", c->name, at->start_mark.line + 1,
				     at->start_mark.column + 1, msg));
	free(msg);
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

static const char *did_you_mean(const char *key, const char *const *known)
{
	const char *best = NULL;
	size_t bd = 99, i;

	for (i = 0; known[i]; i++) {
		size_t d = edit_distance(key, known[i]);

		if (d < bd) {
			bd = d;
			best = known[i];
		}
	}
	if (best && (bd <= 2 || (bd <= strlen(key) / 3)))
		return best;
	return NULL;
}

/* ------------------------------------------------------------- nodes */
static const char *node_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return false;
	s = scalar(n);
	return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	       strcmp(s, "NULL") == 0;
}

/* a string value (plain numbers accepted as their text); NULL + problem if not */
static const char *get_string(struct ctx *c, const yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		problem(c, n, "%s: expected a string, got %s", path,
			is_null(n) ? "null" : node_type_name(n));
		return NULL;
	}
	if (n->data.scalar.length > COG_MAX_SCALAR || strlen(scalar(n)) != n->data.scalar.length) {
		problem(c, n, "%s: value too long or contains a NUL byte", path);
		return NULL;
	}
	return scalar(n);
}

static int get_bool(struct ctx *c, const yaml_node_t *n, const char *path, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On", NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off", NULL};
	size_t i;

	if (n->type == YAML_SCALAR_NODE && is_plain(n)) {
		for (i = 0; yes[i]; i++)
			if (strcmp(scalar(n), yes[i]) == 0)
				return (*out = true), 0;
		for (i = 0; no[i]; i++)
			if (strcmp(scalar(n), no[i]) == 0)
				return (*out = false), 0;
	}
	if (n->type == YAML_SCALAR_NODE)
		problem(c, n, "%s: expected true or false, got \"%s\"", path, scalar(n));
	else
		problem(c, n, "%s: expected true or false, got %s", path, node_type_name(n));
	return -1;
}

static int get_int(struct ctx *c, const yaml_node_t *n, const char *path, int *out)
{
	char *end;
	long v;

	if (n->type == YAML_SCALAR_NODE && is_plain(n)) {
		errno = 0;
		v = strtol(scalar(n), &end, 10);
		if (!errno && *scalar(n) && !*end && v >= 1 && v <= 1000000)
			return (*out = (int)v), 0;
	}
	problem(c, n, "%s: expected a whole number from 1 to 1000000, got %s%s%s", path,
		n->type == YAML_SCALAR_NODE ? "\"" : "",
		n->type == YAML_SCALAR_NODE ? scalar(n) : node_type_name(n),
		n->type == YAML_SCALAR_NODE ? "\"" : "");
	return -1;
}

/* each (key, value) of a mapping, with unknown/duplicate keys reported */
struct map_iter {
	yaml_node_pair_t *p, *end;
};

static bool map_check(struct ctx *c, const yaml_node_t *n, const char *path)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	if (!is_null(n))
		problem(c, n, "%s: expected a mapping, got %s", path, node_type_name(n));
	return false;
}

static bool key_in(const char *k, const char *const *list)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strcmp(k, list[i]) == 0)
			return true;
	return false;
}

/* returns the index of key in known, or -1 after reporting it */
static int map_key(struct ctx *c, const yaml_node_t *key, const char *path,
		   const char *const *known, unsigned *seen)
{
	const char *k;
	const char *hint;
	size_t i;

	if (key->type != YAML_SCALAR_NODE) {
		problem(c, key, "%s: a key must be a string, got %s", path, node_type_name(key));
		return -1;
	}
	k = scalar(key);
	for (i = 0; known[i]; i++) {
		if (strcmp(k, known[i]) != 0)
			continue;
		if (*seen & (1u << i)) {
			problem(c, key, "%s%s%s: duplicate key", path, *path ? "." : "", k);
			return -1;
		}
		*seen |= 1u << i;
		return (int)i;
	}
	hint = did_you_mean(k, known);
	if (hint)
		problem(c, key, "%s%s%s: unknown key (did you mean `%s`?)", path, *path ? "." : "",
			k, hint);
	else if (!*path && key_in(k, build_keys) && strcmp(k, "run") != 0)
		problem(c, key, "%s: unknown key (did you mean `build.%s`?)", k, k);
	else if (strcmp(path, "build") == 0 && key_in(k, top_keys))
		problem(c, key, "build.%s: unknown key (`%s` belongs at the top level)", k, k);
	else
		problem(c, key, "%s%s%s: unknown key", path, *path ? "." : "", k);
	return -1;
}

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

/* fn for each item of the list n (null: no items) with its path "path[i]";
 * anything else than a list, or more than COG_MAX_LIST_ITEMS, is a problem */
static void
list_each(struct ctx *c, const yaml_node_t *n, const char *path,
	  void (*fn)(struct ctx *c, const yaml_node_t *item, const char *path, void *ud), void *ud)
{
	yaml_node_item_t *it;
	size_t i = 0;

	if (is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		problem(c, n, "%s: expected a list, got %s", path, node_type_name(n));
		return;
	}
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		cleanup_free char *ip = xasprintf("%s[%zu]", path, i);

		if (i >= COG_MAX_LIST_ITEMS) {
			problem(c, node(c, *it), "%s: more than %d items", path,
				COG_MAX_LIST_ITEMS);
			return;
		}
		fn(c, node(c, *it), ip, ud);
	}
}

/* fn for each known key of the mapping n (unknown and duplicate keys are
 * reported), with the key's index in known and its path "path.key"; a key
 * whose bit is set in `strings` must have a string value, passed as s (else
 * s is NULL).  Returns the keys seen (bit i for known[i]). */
static unsigned map_each(struct ctx *c, const yaml_node_t *n, const char *path,
			 const char *const *known, unsigned strings,
			 void (*fn)(struct ctx *c, int key, const yaml_node_t *v, const char *kp,
				    const char *s, void *ud),
			 void *ud)
{
	yaml_node_pair_t *p;
	unsigned seen = 0;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *v = node(c, p->value);
		int i = map_key(c, node(c, p->key), path, known, &seen);
		cleanup_free char *kp = i >= 0 ? xasprintf("%s.%s", path, known[i]) : NULL;
		const char *s = NULL;

		if (i < 0 || (((strings >> i) & 1) && !(s = get_string(c, v, kp))))
			continue;
		fn(c, i, v, kp, s, ud);
	}
	return seen;
}

/* a list of strings into out, each kept if check (NULL: none) accepts it;
 * check reports its own problem at the item */
struct string_list {
	struct pn_strv *out;
	bool (*check)(struct ctx *c, const yaml_node_t *item, const char *path, const char *s);
};

static void string_item(struct ctx *c, const yaml_node_t *item, const char *path, void *ud)
{
	struct string_list *l = ud;
	const char *s = get_string(c, item, path);

	if (s && (!l->check || l->check(c, item, path, s)))
		pn_strv_push(l->out, s);
}

static void get_string_list(struct ctx *c, const yaml_node_t *n, const char *path,
			    struct pn_strv *out,
			    bool (*check)(struct ctx *c, const yaml_node_t *item, const char *path,
					  const char *s))
{
	struct string_list l = {out, check};

	if (!is_null(n) && n->type != YAML_SEQUENCE_NODE) {
		problem(c, n, "%s: expected a list of strings, got %s", path, node_type_name(n));
		return;
	}
	list_each(c, n, path, string_item, &l);
}

/* ------------------------------------------------------------- values */
static bool version_shape(const char *s, int min_parts, int max_parts)
{
	int parts = 0;

	while (*s) {
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
		parts++;
		if (*s == '.')
			s++;
		else if (*s)
			return false;
		else
			break;
	}
	return parts >= min_parts && parts <= max_parts && s[-1] != '.';
}

static void check_python_version(struct ctx *c, const yaml_node_t *n)
{
	const char *v = get_string(c, n, "build.python_version");
	char *mm;

	if (!v)
		return;
	if (!version_shape(v, 2, 3)) {
		problem(c, n, "build.python_version: \"%s\" is not a version like \"3.12\"", v);
		return;
	}
	mm = compat_version_majmin(v);
	if (compat_version_cmp(mm, COG_MIN_PYTHON) < 0)
		problem(c, n, "build.python_version: \"%s\" is below the minimum %s", v,
			COG_MIN_PYTHON);
	else if (compat_version_cmp(mm, COG_MAX_PYTHON) > 0)
		problem(c, n, "build.python_version: \"%s\" is above the maximum %s", v,
			COG_MAX_PYTHON);
	free(c->cfg->build.python_version);
	c->cfg->build.python_version = mm;
}

static void check_cuda(struct ctx *c, const yaml_node_t *n, const char *key, char **out)
{
	cleanup_free char *path = xasprintf("build.%s", key);
	const char *v = get_string(c, n, path);

	if (!v)
		return;
	if (!version_shape(v, 1, 3)) {
		problem(c, n, "%s: \"%s\" is not a version like \"%s\"", path, v,
			strcmp(key, "cuda") == 0 ? "12.1" : "8");
		return;
	}
	if (strcmp(key, "cuda") == 0 && compat_version_cmp(v, "11") < 0) {
		problem(c, n, "build.cuda: \"%s\" is below the minimum 11", v);
		return;
	}
	*out = xstrdup(v);
}

/* Debian package names (with an optional =version): they go into a shell line */
static bool apt_name_ok(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".+-:=~_", *s))
			return false;
	return true;
}

static bool apt_item_ok(struct ctx *c, const yaml_node_t *item, const char *path, const char *s)
{
	if (apt_name_ok(s))
		return true;
	problem(c, item, "%s: \"%s\" is not a Debian package name", path, s);
	return false;
}

/* a command: one line; a trailing newline (YAML block scalars) is dropped */
static char *check_command(struct ctx *c, const yaml_node_t *n, const char *path)
{
	const char *s = get_string(c, n, path);
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (memchr(s, '\n', len) || memchr(s, '\r', len)) {
		problem(c, n, "%s: the command contains a newline; split it into several run items",
			path);
		return NULL;
	}
	if (!len) {
		problem(c, n, "%s: the command is empty", path);
		return NULL;
	}
	return xstrndup(s, len);
}

/* a path in normal form: components separated by single slashes, none of
 * them empty, "." or ".." (an optional leading "/" makes it absolute) */
static bool path_normal(const char *s)
{
	const char *p = s + (*s == '/');

	if (strlen(s) > COG_MAX_PATH || !*p)
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static void mount_key(struct ctx *c, int i, const yaml_node_t *v, const char *kp, const char *s,
		      void *ud)
{
	struct cog_mount *m = ud;

	if (i == 0 && strcmp(s, "secret") != 0)
		problem(c, v, "%s: \"%s\" is not supported (only secret)", kp, s);
	else if (i == 2 && !path_normal(s))
		problem(c, v,
			"%s: \"%s\" is not a plain path (no `..`, `.` or empty components, at "
			"most %d bytes)",
			kp, s, COG_MAX_PATH);
	else if (i == 2 && s[0] != '/')
		/* as Docker does: relative to the step's working directory, which
		 * for build.run is the base image's, "/" (WORKDIR /src comes later) */
		m->target = xasprintf("/%s", s);
	else if (i == 1 && (!*s || strchr(s, '/') || strchr(s, ',') || strchr(s, '=')))
		problem(c, v, "%s: \"%s\" is not a valid secret id", kp, s);
	else
		*(i == 0 ? &m->type : i == 1 ? &m->id : &m->target) = xstrdup(s);
}

static void check_mount(struct ctx *c, const yaml_node_t *n, const char *path, void *ud)
{
	struct cog_run *r = ud;
	struct cog_mount m = {NULL, NULL, NULL};
	unsigned seen;

	if (!map_check(c, n, path))
		return;
	seen = map_each(c, n, path, mount_keys, 7, mount_key, &m);
	if (!(seen & 1) || !(seen & 2))
		problem(c, n, "%s: missing %s", path, !(seen & 1) ? "type" : "id");
	if (!m.target && m.id && !(seen & 4))
		m.target = xasprintf("/run/secrets/%s", m.id);
	if (m.type && m.id && m.target) {
		r->mounts = xrealloc(r->mounts, st_mult(r->n_mounts + 1, sizeof(*r->mounts)));
		r->mounts[r->n_mounts++] = m;
	} else {
		free(m.type);
		free(m.id);
		free(m.target);
	}
}

static void run_key(struct ctx *c, int i, const yaml_node_t *v, const char *kp, const char *s,
		    void *ud)
{
	struct cog_run *r = ud;

	(void)s;
	if (i == 0)
		r->command = check_command(c, v, kp);
	else
		list_each(c, v, kp, check_mount, r);
}

static void run_item(struct ctx *c, const yaml_node_t *item, const char *path, void *ud)
{
	struct cog_build *b = ud;
	struct cog_run r = {NULL, NULL, 0};

	if (item->type != YAML_MAPPING_NODE)
		r.command = check_command(c, item, path);
	else if (!(map_each(c, item, path, run_keys, 0, run_key, &r) & 1))
		problem(c, item, "%s: missing command", path);
	if (!r.command) {
		run_release(&r);
		return;
	}
	b->run = xrealloc(b->run, st_mult(b->n_run + 1, sizeof(*b->run)));
	b->run[b->n_run++] = r;
}

/* ------------------------------------------------ paths cog.yaml names */
/* the model directory (the config's), opened on first use; -1 if it cannot be */
static int model_dir_fd(struct ctx *c)
{
	if (!c->dir_tried) {
		c->dir_tried = true;
		c->dir_fd = open(c->dir ? c->dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	return c->dir_fd;
}

/* Open the file `rel` that cog.yaml names at n (key path `path`) inside the
 * model directory, never outside it (pn_path_open_beneath).  Returns the fd;
 * -1 after reporting a problem; -2 (nothing reported) when it does not exist
 * and missing_ok.  Messages name the path, never anything read from it. */
static int named_open(struct ctx *c, const yaml_node_t *n, const char *path, const char *rel,
		      int flags, bool missing_ok)
{
	struct pn_error *e = NULL;
	int fd;

	if (strlen(rel) > COG_MAX_PATH) {
		problem(c, n, "%s: the path is longer than %d bytes", path, COG_MAX_PATH);
		return -1;
	}
	fd = pn_path_open_beneath(model_dir_fd(c), rel, flags, &e);
	if (fd >= 0)
		return fd;
	if (e->code == PN_ERR_INVALID && e->errno_val == EXDEV)
		problem(c, n,
			"%s: `%s` is outside the model directory (a path in cog.yaml must stay "
			"inside it, symlinks included)",
			path, rel);
	else if (e->code == PN_ERR_INVALID)
		problem(c, n, "%s: %s", path, e->msg);
	else if (e->code == PN_ERR_NOT_FOUND || model_dir_fd(c) < 0)
		fd = missing_ok ? -2 : (problem(c, n, "%s: `%s` does not exist", path, rel), -1);
	else
		problem(c, n, "%s: %s", path, e->msg);
	pn_error_free(e);
	return fd;
}

/* build.python_requirements: read here, once, from the file checked */
static void check_requirements_file(struct ctx *c, const yaml_node_t *n)
{
	const char *v = get_string(c, n, "build.python_requirements");
	struct cog_build *b = &c->cfg->build;
	struct pn_error *e = NULL;
	cleanup_close int fd = -1;
	struct stat st;
	size_t len = 0;

	if (!v)
		return;
	b->python_requirements = xstrdup(v);
	b->python_requirements_path = v[0] == '/' || !c->dir || strcmp(c->dir, ".") == 0
					      ? xstrdup(v)
					      : pn_path_join(c->dir, v);
	c->requirements_node = (yaml_node_t *)n;
	fd = named_open(c, n, "build.python_requirements", v, O_RDONLY | O_NONBLOCK, false);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		problem(c, n, "build.python_requirements: `%s` is not a regular file", v);
	else if ((uint64_t)st.st_size > COG_REQUIREMENTS_MAX_SIZE)
		problem(c, n, "build.python_requirements: `%s` is larger than %zu bytes", v,
			COG_REQUIREMENTS_MAX_SIZE);
	else if (pn_read_fd(fd, v, COG_REQUIREMENTS_MAX_SIZE, &c->requirements_text, &len, &e) < 0)
		problem(c, n, "build.python_requirements: %s", e->msg);
	else if (memchr(c->requirements_text, '\0', len))
		problem(c, n, "build.python_requirements: `%s` contains a NUL byte", v);
	pn_error_free(e);
}

/* predict, run, train: "FILE.py:NAME", the module file inside the model
 * directory (it need not exist on this side: the image loads it from /src) */
static void check_module_file(struct ctx *c, const yaml_node_t *n, const char *key, const char *v)
{
	cleanup_free char *file = xstrndup(v, (size_t)(strrchr(v, ':') - v));
	int fd = named_open(c, n, key, file, O_PATH, true);

	if (fd >= 0)
		close(fd);
}

/* items of a list that end up one per line (requirements, commands) */
static bool one_line(struct ctx *c, const yaml_node_t *item, const char *path, const char *s,
		     const char *what)
{
	if (!strchr(s, '\n') && !strchr(s, '\r'))
		return true;
	problem(c, item, "%s: the %s contains a newline", path, what);
	return false;
}

static bool requirement_ok(struct ctx *c, const yaml_node_t *item, const char *path, const char *s)
{
	return one_line(c, item, path, s, "requirement");
}

static bool command_ok(struct ctx *c, const yaml_node_t *item, const char *path, const char *s)
{
	return one_line(c, item, path, s, "command");
}

/* Cog pins the cog wheel it installs with this; pinion installs the wheel
 * COG_WHEEL selects (the embedded one by default), so it is kept and noted */
static void check_sdk_version(struct ctx *c, const yaml_node_t *n)
{
	const char *v = get_string(c, n, "build.sdk_version");

	if (!v)
		return;
	free(c->cfg->build.sdk_version);
	c->cfg->build.sdk_version = xstrdup(v);
	warning(c, n,
		"build.sdk_version: \"%s\" is not installed; pinion installs its embedded cog "
		"wheel (set COG_WHEEL to a wheel file or URL to choose another)",
		v);
}

static void check_build(struct ctx *c, const yaml_node_t *n)
{
	struct cog_build *b = &c->cfg->build;
	yaml_node_pair_t *p;
	yaml_node_t *pkgs_key = NULL, *reqs_key = NULL;
	unsigned seen = 0;

	if (!map_check(c, n, "build"))
		return;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);

		switch (map_key(c, k, "build", build_keys, &seen)) {
		case 0:
			get_bool(c, v, "build.gpu", &b->gpu);
			break;
		case 1:
			check_python_version(c, v);
			break;
		case 2:
			pkgs_key = k;
			c->packages_node = v;
			get_string_list(c, v, "build.python_packages", &b->python_packages,
					requirement_ok);
			break;
		case 3:
			reqs_key = k;
			check_requirements_file(c, v);
			break;
		case 4:
			get_string_list(c, v, "build.system_packages", &b->system_packages,
					apt_item_ok);
			break;
		case 5:
			list_each(c, v, "build.run", run_item, b);
			break;
		case 6:
			c->cuda_node = v;
			check_cuda(c, v, "cuda", &b->cuda);
			b->cuda_from_user = b->cuda != NULL;
			break;
		case 7:
			check_cuda(c, v, "cudnn", &b->cudnn);
			break;
		case 8:
			get_string_list(c, v, "build.pre_install", &b->pre_install, command_ok);
			break;
		case 9:
			check_sdk_version(c, v);
			break;
		default:
			break;
		}
	}
	if (pkgs_key && reqs_key)
		problem(c,
			pkgs_key->start_mark.line > reqs_key->start_mark.line ? pkgs_key : reqs_key,
			"build.python_packages and build.python_requirements cannot be used "
			"together");
}

static bool env_name_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* the problem with the name of an environment entry, or NULL */
static char *env_name_problem(const char *name)
{
	size_t j;

	for (j = 0; env_deny[j]; j++)
		if (strcmp(name, env_deny[j]) == 0)
			return xasprintf("%s is set by Cog and cannot be overridden", name);
	for (j = 0; env_deny_prefix[j]; j++)
		if (strncmp(name, env_deny_prefix[j], strlen(env_deny_prefix[j])) == 0)
			return xasprintf("names starting with %s are reserved (%s)",
					 env_deny_prefix[j], name);
	return NULL;
}

/* NAME=value, not denied, one line, not set before (kept in cfg->environment) */
static bool env_item_ok(struct ctx *c, const yaml_node_t *at, const char *path, const char *e)
{
	const char *eq = strchr(e, '=');
	size_t len = eq ? (size_t)(eq - e) : 0, j;
	cleanup_free char *name = eq ? xstrndup(e, len) : NULL;
	cleanup_free char *why = NULL;

	if (!eq || !env_name_ok(e, len))
		why = xasprintf("\"%s\" is not NAME=value", e);
	else if (!(why = env_name_problem(name)) && (strchr(eq, '\n') || strchr(eq, '\r')))
		why = xasprintf("the value of %s contains a newline", name);
	for (j = 0; j < c->cfg->environment.n && !why; j++)
		if (strncmp(c->cfg->environment.v[j], e, len + 1) == 0)
			why = xasprintf("%s is set twice", name);
	if (why)
		problem(c, at, "%s: %s", path, why);
	return !why;
}

static void check_predict(struct ctx *c, const yaml_node_t *n, const char *key, char **out)
{
	const char *v = get_string(c, n, key);
	const char *colon;

	if (!v)
		return;
	colon = strrchr(v, ':');
	if (!colon || colon == v || !colon[1] || !strstr(v, ".py")) {
		problem(c, n, "%s: \"%s\" is not FILE.py:NAME (e.g. \"predict.py:Predictor\")", key,
			v);
		return;
	}
	check_module_file(c, n, key, v);
	free(*out);
	*out = xstrdup(v);
}

static void check_concurrency(struct ctx *c, const yaml_node_t *n)
{
	yaml_node_pair_t *p;
	unsigned seen = 0;

	if (!map_check(c, n, "concurrency"))
		return;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		int i = map_key(c, k, "concurrency", concurrency_keys, &seen);

		if (i == 0)
			get_int(c, v, "concurrency.max", &c->cfg->concurrency_max);
		else if (i == 1)
			get_int(c, v, "concurrency.default_target",
				&c->cfg->concurrency_default_target);
	}
	if (c->cfg->concurrency_max && c->cfg->concurrency_default_target > c->cfg->concurrency_max)
		problem(c, n, "concurrency.default_target: %d is above concurrency.max %d",
			c->cfg->concurrency_default_target, c->cfg->concurrency_max);
}

/* a weights name as Cog's schema has it: ^[a-z0-9]+([._-][a-z0-9]+)*$ */
static bool weights_name_ok(const char *s)
{
	bool after_sep = true;

	for (; *s; s++) {
		if (islower((unsigned char)*s) || isdigit((unsigned char)*s))
			after_sep = false;
		else if (strchr("._-", *s) && !after_sep)
			after_sep = true;
		else
			return false;
	}
	return !after_sep;
}

static void weights_key(struct ctx *c, int i, const yaml_node_t *v, const char *kp, const char *s,
			void *ud)
{
	(void)ud;
	if (i == 0 && !weights_name_ok(s))
		problem(c, v, "%s: \"%s\" is not a name like \"base-model\"", kp, s);
	else if (i == 1 && s[0] != '/')
		problem(c, v, "%s: \"%s\" is not an absolute path", kp, s);
}

/* weights (Cog's newer key): not used by pinion, but its shape is checked so
 * a typo is not silently ignored: a list of {name, target, source} */
static void weights_item(struct ctx *c, const yaml_node_t *n, const char *path, void *ud)
{
	(void)ud;
	if (map_check(c, n, path))
		map_each(c, n, path, weights_keys, 3, weights_key, NULL);
}

/* model: the repository images are pushed to, bare (no tag, no digest) */
static void check_model(struct ctx *c, const yaml_node_t *n)
{
	const char *v = get_string(c, n, "model");
	const char *slash;

	if (!v)
		return;
	slash = strrchr(v, '/');
	if (!*v || strchr(v, '@') || strchr(slash ? slash : v, ':') || strpbrk(v, " \t\n")) {
		problem(c, n,
			"model: \"%s\" is not a bare repository (no tag or digest), e.g. "
			"\"r8.im/user/model\"",
			v);
		return;
	}
	free(c->cfg->model);
	c->cfg->model = xstrdup(v);
}

static void check_top(struct ctx *c, const yaml_node_t *root)
{
	yaml_node_pair_t *p;
	yaml_node_t *predict_key = NULL, *run_key = NULL;
	unsigned seen = 0;
	const char *s;

	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);

		switch (map_key(c, k, "", top_keys, &seen)) {
		case 0:
			check_build(c, v);
			break;
		case 1:
			if (!is_null(v) && (s = get_string(c, v, "image")))
				c->cfg->image = xstrdup(s);
			break;
		case 2:
			predict_key = k;
			check_predict(c, v, "predict", &c->cfg->predict);
			break;
		case 3:
			run_key = k;
			check_predict(c, v, "run", &c->cfg->predict);
			break;
		case 4:
			check_predict(c, v, "train", &c->cfg->train);
			break;
		case 5:
			check_concurrency(c, v);
			break;
		case 6:
			get_string_list(c, v, "environment", &c->cfg->environment, env_item_ok);
			break;
		case 7:
			list_each(c, v, "weights", weights_item, NULL);
			break;
		case 8:
			check_model(c, v);
			break;
		default:
			break;
		}
	}
	if (predict_key && run_key)
		problem(c, run_key, "run: only one of run or predict can be set");
}

/* ---------------------------------------------------------- completion */
struct reqs_scan {
	struct pn_strv lines;
	bool from_file;
	long torch_line, tf_line, torch_named_line; /* -1 = none */
};

/* "cog.yaml:7:5: build.python_packages[1]: " or "requirements.txt:3:1: " */
static char *req_where(struct ctx *c, const struct reqs_scan *s, long i)
{
	yaml_node_t *n;

	if (s->from_file)
		return xasprintf("%s:%ld:1: ", c->cfg->build.python_requirements, i + 1);
	n = node(c, c->packages_node->data.sequence.items.start[i]);
	return xasprintf("%s:%zu:%zu: build.python_packages[%ld]: ", c->name,
			 n->start_mark.line + 1, n->start_mark.column + 1, i);
}

static int reqs_read(struct ctx *c, struct reqs_scan *s, struct pn_error **err)
{
	struct cog_build *b = &c->cfg->build;
	cleanup_free char *text = NULL;
	char *line, *next;
	size_t i;

	s->torch_line = s->tf_line = s->torch_named_line = -1;
	(void)err;
	if (b->python_requirements_path) {
		text = steal_pointer(&c->requirements_text); /* read by check_requirements_file */
		s->from_file = true;
		for (line = text; line && *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			pn_strv_push(&s->lines, line);
		}
	} else {
		for (i = 0; i < b->python_packages.n; i++)
			pn_strv_push(&s->lines, b->python_packages.v[i]);
	}
	for (i = 0; i < s->lines.n; i++) {
		cleanup_free char *name = NULL, *ver = NULL;

		if (compat_req_names(s->lines.v[i], "torch") && s->torch_named_line < 0)
			s->torch_named_line = (long)i;
		if (compat_req_pin(s->lines.v[i], &name, &ver) != 1)
			continue;
		if (strcmp(name, "torch") == 0 && !c->cfg->torch_version) {
			c->cfg->torch_version = xstrdup(ver);
			s->torch_line = (long)i;
		} else if (strcmp(name, "tensorflow") == 0 && !c->cfg->tensorflow_version) {
			c->cfg->tensorflow_version = xstrdup(ver);
			s->tf_line = (long)i;
		}
	}
	return 0;
}

static char *cuda_where(struct ctx *c)
{
	const yaml_node_t *n = c->cuda_node;

	return xasprintf("%s:%zu:%zu: build.cuda: ", c->name, n->start_mark.line + 1,
			 n->start_mark.column + 1);
}

static void complete_gpu(struct ctx *c, const struct reqs_scan *s)
{
	struct cog_build *b = &c->cfg->build;
	struct compat_cuda_req req = {b->cuda, b->cudnn, c->cfg->torch_version,
				      s->torch_named_line >= 0, c->cfg->tensorflow_version};
	struct compat_cuda_result res;
	struct pn_error *e = NULL;
	long at = s->torch_line >= 0 ? s->torch_line : s->torch_named_line;
	size_t i;

	if (compat_cuda_complete(&req, &res, &e) < 0) {
		cleanup_free char *where = NULL;

		if (req.torch_listed && !req.torch)
			at = s->torch_named_line;
		else if (req.tensorflow && !compat_tf_find(req.tensorflow))
			at = s->tf_line;
		where = at >= 0 ? req_where(c, s, at) : xstrdup("");
		pn_strv_push_owned(&c->problems, xasprintf("%s%s", where, e->msg));
		pn_error_free(e);
		return;
	}
	for (i = 0; i < res.warnings.n; i++) {
		cleanup_free char *where = c->cuda_node ? cuda_where(c)
					   : at >= 0	? req_where(c, s, at)
							: xstrdup("");

		pn_strv_push_owned(&c->cfg->warnings, xasprintf("%s%s", where, res.warnings.v[i]));
	}
	free(b->cuda);
	free(b->cudnn);
	b->cuda = steal_pointer(&res.cuda);
	b->cudnn = steal_pointer(&res.cudnn);
	compat_cuda_result_release(&res);
}

/* the pinned torch/tensorflow has no build for the Python version */
static void python_warning(struct ctx *c, const struct reqs_scan *s)
{
	char *w = compat_python_warning(c->cfg->torch_version, c->cfg->tensorflow_version,
					c->cfg->build.python_version);
	long at = s->torch_line;
	cleanup_free char *where = NULL;

	if (!w)
		return;
	if (strncmp(w, "tensorflow", 10) == 0)
		at = s->tf_line;
	where = at >= 0 ? req_where(c, s, at) : xstrdup("");
	pn_strv_push_owned(&c->cfg->warnings, xasprintf("%s%s", where, w));
	free(w);
}

static int complete(struct ctx *c, struct pn_error **err)
{
	struct cog_build *b = &c->cfg->build;
	struct reqs_scan s = {PN_STRV_INIT, false, -1, -1, -1};
	struct pn_buf text = PN_BUF_INIT;
	size_t i;

	if (!b->python_version)
		b->python_version = xstrdup(COG_DEFAULT_PYTHON);
	if (reqs_read(c, &s, err) < 0) {
		pn_strv_release(&s.lines);
		return -1;
	}
	python_warning(c, &s);
	if (b->gpu) {
		complete_gpu(c, &s);
	} else if (b->cuda || b->cudnn) {
		cleanup_free char *where = c->cuda_node ? cuda_where(c) : xstrdup("");

		pn_strv_push_owned(
			&c->cfg->warnings,
			xasprintf("%sCUDA settings are ignored without build.gpu: true", where));
		free(b->cuda);
		free(b->cudnn);
		b->cuda = b->cudnn = NULL;
	}
	if (c->problems.n) { /* completion failed: no requirements to generate */
		pn_strv_release(&s.lines);
		return 0;
	}
	for (i = 0; i < s.lines.n; i++)
		pn_buf_printf(&text, NULL, "%s\n", s.lines.v[i]);
	PN_BUF_ASSERT(&text); /* the lines of a file under COG_REQUIREMENTS_MAX_SIZE */
	c->cfg->requirements =
		compat_requirements_rewrite(text.data ? text.data : "", b->gpu, b->cuda);
	pn_buf_release(&text);
	pn_strv_release(&s.lines);
	return 0;
}

/* ----------------------------------------------------------- entry points */
/* line and column of a "name:L:C: ..." problem (0 if it has none) */
static void problem_pos(const char *p, size_t name_len, unsigned long *line, unsigned long *col)
{
	char *end;

	*line = *col = 0;
	if (strlen(p) <= name_len || p[name_len] != ':')
		return;
	*line = strtoul(p + name_len + 1, &end, 10);
	if (*end == ':')
		*col = strtoul(end + 1, NULL, 10);
}

/* problems in file order (stable: insertion sort, at most COG_MAX_PROBLEMS) */
static void problems_sort(struct ctx *c)
{
	size_t nl = strlen(c->name), i, j;

	for (i = 1; i < c->problems.n; i++) {
		for (j = i; j > 0; j--) {
			unsigned long l1, c1, l2, c2;
			char *tmp;

			problem_pos(c->problems.v[j - 1], nl, &l1, &c1);
			problem_pos(c->problems.v[j], nl, &l2, &c2);
			if (l1 < l2 || (l1 == l2 && c1 <= c2))
				break;
			tmp = c->problems.v[j];
			c->problems.v[j] = c->problems.v[j - 1];
			c->problems.v[j - 1] = tmp;
		}
	}
}

static int problems_to_error(struct ctx *c, struct pn_strv *problems, struct pn_error **err)
{
	struct pn_buf b = PN_BUF_INIT;
	size_t i;

	problems_sort(c);

	for (i = 0; problems && i < c->problems.n; i++)
		pn_strv_push(problems, c->problems.v[i]);
	if (c->problems.n == 1) {
		pn_error_set(err, PN_ERR_INVALID, "%s", c->problems.v[0]);
		return -1;
	}
	pn_buf_printf(&b, NULL, "%zu problems in `%s`:", c->problems.n, c->name);
	for (i = 0; i < c->problems.n; i++)
		pn_buf_printf(&b, NULL, "\n%s", c->problems.v[i]);
	pn_error_set(err, PN_ERR_INVALID, "%s", b.data);
	pn_buf_release(&b);
	return -1;
}

/* ------------------------------------------------------- input checks */
/* the mark (0-based line, column in characters) of byte off of UTF-8 text */
static yaml_mark_t text_mark(const char *text, size_t off)
{
	yaml_mark_t m = {off, 0, 0};
	size_t i;

	for (i = 0; i < off; i++) {
		if (text[i] == '\n')
			m.line++, m.column = 0;
		else if (((unsigned char)text[i] & 0xc0) != 0x80)
			m.column++;
	}
	return m;
}

static void utf8_put(struct pn_buf *b, uint32_t u)
{
	unsigned char o[4];
	size_t n;

	if (u < 0x80)
		o[0] = (unsigned char)u, n = 1;
	else if (u < 0x800)
		o[0] = (unsigned char)(0xc0 | u >> 6), o[1] = (unsigned char)(0x80 | (u & 0x3f)),
		n = 2;
	else if (u < 0x10000)
		o[0] = (unsigned char)(0xe0 | u >> 12),
		o[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f)),
		o[2] = (unsigned char)(0x80 | (u & 0x3f)), n = 3;
	else
		o[0] = (unsigned char)(0xf0 | u >> 18),
		o[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3f)),
		o[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3f)),
		o[3] = (unsigned char)(0x80 | (u & 0x3f)), n = 4;
	pn_buf_append(b, o, n, NULL);
}

/* UTF-16 (after its byte order mark) to UTF-8 in b; false at an odd length
 * or a lone surrogate (b then holds the text before it) */
static bool utf16_to_utf8(const unsigned char *s, size_t len, bool le, struct pn_buf *b)
{
	size_t i = 0;

	if (len % 2)
		return false;
	while (i < len) {
		uint32_t u =
			le ? (uint32_t)(s[i] | s[i + 1] << 8) : (uint32_t)(s[i] << 8 | s[i + 1]);
		uint32_t lo;

		if (u >= 0xdc00 && u <= 0xdfff)
			return false;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (i + 4 > len)
				return false;
			lo = le ? (uint32_t)(s[i + 2] | s[i + 3] << 8)
				: (uint32_t)(s[i + 2] << 8 | s[i + 3]);
			if (lo < 0xdc00 || lo > 0xdfff)
				return false;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			i += 2;
		}
		i += 2;
		utf8_put(b, u);
	}
	return true;
}

/* The UTF-8 text libyaml reads, without its byte order mark, or NULL after a
 * problem.  UTF-16 with a byte order mark is converted (Go's yaml, which Cog
 * uses, reads it too); a NUL byte, or a byte order mark past the start (a
 * doubled one made libyaml drop the rest of the file unsaid), is refused. */
static char *input_utf8(struct ctx *c, const char *text, size_t len, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)text;
	struct pn_buf b = PN_BUF_INIT;
	const char *at;

	pn_buf_init(&b, 2 * COG_CONFIG_MAX_SIZE); /* UTF-16 to UTF-8: at most 3/2 */
	if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
		if (!utf16_to_utf8(u + 2, len - 2, u[0] == 0xff, &b)) {
			problem_mark(c, text_mark(b.data ? b.data : "", b.len),
				     "not valid UTF-16 (a lone surrogate or an odd length)");
			pn_buf_release(&b);
			return NULL;
		}
	} else {
		size_t skip = len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;

		pn_buf_append(&b, text + skip, len - skip, NULL);
	}
	if (!b.data)
		pn_buf_append(&b, "", 0, NULL);
	PN_BUF_ASSERT(&b); /* the text is under half the buffer's maximum */
	if ((at = memchr(b.data, '\0', b.len)))
		problem_mark(c, text_mark(b.data, (size_t)(at - b.data)), "a NUL byte");
	else if ((at = memmem(b.data, b.len, "\xef\xbb\xbf", 3)))
		problem_mark(c, text_mark(b.data, (size_t)(at - b.data)),
			     "a byte order mark (U+FEFF) past the start of the file");
	if (at) {
		pn_buf_release(&b);
		return NULL;
	}
	return pn_buf_steal(&b, out_len);
}

/* a libyaml failure as a problem, at its mark (a reader error has only a
 * byte offset into the UTF-8 text) */
static void yaml_problem(struct ctx *c, const yaml_parser_t *p, const char *text)
{
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_READER_ERROR)
		m = text_mark(text, p->problem_offset);
	problem_mark(c, m, "yaml: %s%s%s", p->problem ? p->problem : "syntax error",
		     p->context ? " " : "", p->context ? p->context : "");
}

struct anchor {
	char *name;
	size_t size; /* nodes, its aliases expanded; 0 while open */
};

struct limits {
	struct anchor anchors[COG_MAX_ANCHORS];
	size_t n_anchors, nodes;
	int depth, docs;
	size_t open_start[COG_MAX_DEPTH + 1]; /* nodes when each open collection started */
	int open_anchor[COG_MAX_DEPTH + 1];   /* its anchor's index, or -1 */
};

/* count one node (n: its size, an alias's anchor's) and register its anchor */
static bool limits_node(struct ctx *c, struct limits *l, const yaml_event_t *e, size_t n,
			const yaml_char_t *anchor, int *index)
{
	*index = -1;
	l->nodes += n;
	if (l->nodes > COG_MAX_NODES) {
		problem_mark(c, e->start_mark, "more than %d values (aliases counted expanded)",
			     COG_MAX_NODES);
		return false;
	}
	if (!anchor)
		return true;
	if (l->n_anchors == COG_MAX_ANCHORS) {
		problem_mark(c, e->start_mark, "more than %d anchors", COG_MAX_ANCHORS);
		return false;
	}
	*index = (int)l->n_anchors;
	l->anchors[l->n_anchors].name = xstrdup((const char *)anchor);
	l->anchors[l->n_anchors++].size = 1;
	return true;
}

static bool limits_alias(struct ctx *c, struct limits *l, const yaml_event_t *e)
{
	const char *name = (const char *)e->data.alias.anchor;
	size_t i = l->n_anchors;
	int ignored;

	while (i-- > 0) {
		if (strcmp(l->anchors[i].name, name) != 0)
			continue;
		if (!l->anchors[i].size) {
			problem_mark(c, e->start_mark, "alias `*%s` is inside its own anchor",
				     name);
			return false;
		}
		return limits_node(c, l, e, l->anchors[i].size, NULL, &ignored);
	}
	return true; /* undefined: the loader reports it */
}

/* one event; false after reporting a limit */
static bool limits_event(struct ctx *c, struct limits *l, const yaml_event_t *e)
{
	int a;

	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++l->docs <= 1)
			return true;
		problem_mark(c, e->start_mark,
			     "a second YAML document; cog.yaml must be a single document");
		return false;
	case YAML_ALIAS_EVENT:
		return limits_alias(c, l, e);
	case YAML_SCALAR_EVENT:
		if (e->data.scalar.length > COG_MAX_SCALAR) {
			problem_mark(c, e->start_mark, "a value longer than %d bytes",
				     COG_MAX_SCALAR);
			return false;
		}
		return limits_node(c, l, e, 1, e->data.scalar.anchor, &a);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (l->depth == COG_MAX_DEPTH) {
			problem_mark(c, e->start_mark, "nested deeper than %d levels",
				     COG_MAX_DEPTH);
			return false;
		}
		if (!limits_node(c, l, e, 1,
				 e->type == YAML_SEQUENCE_START_EVENT
					 ? e->data.sequence_start.anchor
					 : e->data.mapping_start.anchor,
				 &a))
			return false;
		l->depth++;
		l->open_start[l->depth] = l->nodes - 1;
		l->open_anchor[l->depth] = a;
		if (a >= 0)
			l->anchors[a].size = 0;
		return true;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (l->depth > 0 && (a = l->open_anchor[l->depth]) >= 0)
			l->anchors[a].size = l->nodes - l->open_start[l->depth];
		l->depth -= l->depth > 0;
		return true;
	default:
		return true;
	}
}

/* Stream libyaml's events over the text and stop at the first limit (depth,
 * values with aliases expanded, anchors, scalar length, documents) or
 * syntax error, before the document loader does its (quadratic) work. */
static bool limits_check(struct ctx *c, const char *text, size_t len)
{
	struct limits *l = xcalloc(1, sizeof(*l));
	yaml_parser_t parser;
	yaml_event_t e;
	bool ok = true, end = false;
	size_t i;

	yaml_parser_initialize(&parser);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (ok && !end) {
		if (!yaml_parser_parse(&parser, &e)) {
			yaml_problem(c, &parser, text);
			ok = false;
			break;
		}
		ok = limits_event(c, l, &e);
		end = e.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&parser);
	for (i = 0; i < l->n_anchors; i++)
		free(l->anchors[i].name);
	free(l);
	return ok;
}

static void load_document(struct ctx *c, const char *raw, size_t raw_len)
{
	yaml_parser_t parser;
	yaml_node_t *root;
	cleanup_free char *text = NULL;
	size_t len = 0;

	text = input_utf8(c, raw, raw_len, &len);
	if (!text || !limits_check(c, text, len)) {
		c->doc = NULL;
		return;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, c->doc)) {
		yaml_problem(c, &parser, text);
		yaml_parser_delete(&parser);
		memset(c->doc, 0, sizeof(*c->doc));
		c->doc = NULL;
		return;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(c->doc);
	if (!root || is_null(root))
		return;
	if (root->type != YAML_MAPPING_NODE) {
		problem(c, root,
			"expected a mapping of keys (build, predict, ...) at the top level, got %s",
			node_type_name(root));
		return;
	}
	check_top(c, root);
}

int cog_config_parse(const char *text, size_t len, const char *name, const char *dir,
		     struct cog_config *out, struct pn_strv *problems, struct pn_error **err)
{
	yaml_document_t doc;
	struct ctx c;
	int rc = 0;

	cog_config_init(out);
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.dir = dir;
	c.dir_fd = -1;
	c.cfg = out;
	c.doc = &doc;
	out->path = xstrdup(name);
	out->dir = xstrdup(dir ? dir : ".");
	if (len > COG_CONFIG_MAX_SIZE) {
		cog_config_release(out);
		return pn_error_set(err, PN_ERR_INVALID, "%s: larger than %zu bytes", name,
				    COG_CONFIG_MAX_SIZE);
	}
	load_document(&c, text, len);
	if (!c.problems.n && (rc = complete(&c, err)) < 0)
		pn_error_wrap(err, "%s", name);
	if (!rc && c.problems.n)
		rc = problems_to_error(&c, problems, err);
	if (c.doc)
		yaml_document_delete(c.doc);
	pn_strv_release(&c.problems);
	free(c.requirements_text);
	if (c.dir_fd >= 0)
		close(c.dir_fd);
	if (rc < 0)
		cog_config_release(out);
	return rc;
}

/* open cog.yaml inside its own directory (the model directory): a symlink
 * leading out of it is refused like any path cog.yaml names */
static int config_open(const char *path, const char *dir, struct pn_error **err)
{
	const char *slash = strrchr(path, '/');
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct pn_error *e = NULL;
	int fd;

	if (dfd < 0)
		return pn_error_set_errno(err, errno, "open `%s`", path);
	fd = pn_path_open_beneath(dfd, slash ? slash + 1 : path, O_RDONLY | O_NONBLOCK, &e);
	if (fd >= 0)
		return fd;
	if (e->code == PN_ERR_INVALID && e->errno_val == EXDEV)
		pn_error_set(err, PN_ERR_INVALID,
			     "%s: a symlink leading outside the model directory `%s`", path, dir);
	else if (e->code == PN_ERR_INVALID)
		pn_error_set(err, PN_ERR_INVALID, "%s: %s", path, e->msg);
	else
		pn_error_set_errno(err, e->errno_val, "open `%s`", path);
	pn_error_free(e);
	return -1;
}

/* the whole file, refused (PN_ERR_INVALID) past COG_CONFIG_MAX_SIZE before
 * it is read; not a regular file (a FIFO would block) is refused too */
static int config_read(const char *path, const char *dir, char **text, size_t *len,
		       struct pn_error **err)
{
	cleanup_close int fd = config_open(path, dir, err);
	struct stat st;

	if (fd < 0) {
		if ((*err) && (*err)->code == PN_ERR_NOT_FOUND)
			pn_error_hint(
				err, "run pinion in the model directory, or pass -f PATH/cog.yaml");
		return -1;
	}
	if (fstat(fd, &st) < 0)
		return pn_error_set_errno(err, errno, "stat `%s`", path);
	if (!S_ISREG(st.st_mode))
		return pn_error_set(err, PN_ERR_INVALID, "%s: not a regular file", path);
	if ((uint64_t)st.st_size > COG_CONFIG_MAX_SIZE)
		return pn_error_set(err, PN_ERR_INVALID, "%s: larger than %zu bytes", path,
				    COG_CONFIG_MAX_SIZE);
	if (pn_read_fd(fd, path, COG_CONFIG_MAX_SIZE, text, len, err) < 0) {
		if (*err && (*err)->code == PN_ERR_TOO_LARGE) /* it grew while read */
			(*err)->code = PN_ERR_INVALID;
		return -1;
	}
	return 0;
}

int cog_config_load(const char *path, struct cog_config *out, struct pn_error **err)
{
	cleanup_free char *text = NULL;
	cleanup_free char *dir = NULL;
	const char *slash = strrchr(path, '/');
	size_t len = 0, i;

	cog_config_init(out);
	dir = slash ? (slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path)))
		    : xstrdup(".");
	if (config_read(path, dir, &text, &len, err) < 0)
		return -1;
	if (cog_config_parse(text, len, path, dir, out, NULL, err) < 0)
		return -1;
	for (i = 0; i < out->warnings.n; i++)
		pn_warn("%s", out->warnings.v[i]);
	return 0;
}

int cog_config_check_entry(const struct cog_config *c, struct pn_error **err)
{
	if (c->predict || c->train)
		return 0;
	pn_error_set(err, PN_ERR_INVALID,
		     "`%s` has no `predict` (or `run`): nothing to serve predictions with",
		     c->path ? c->path : "cog.yaml");
	pn_error_hint(err, "name the predictor, e.g. predict: \"predict.py:Predictor\"");
	return -1;
}

/* --------------------------------------------------------------- views */
static json_t *build_json(const struct cog_build *b)
{
	json_t *o = json_object(), *runs;
	size_t i, j;

	json_object_set_new(o, "gpu", json_boolean(b->gpu));
	json_object_set_new(o, "python_version", json_string(b->python_version));
	if (b->python_packages.n)
		json_object_set_new(o, "python_packages", oci_strv_to_json(&b->python_packages));
	if (b->python_requirements)
		json_object_set_new(o, "python_requirements", json_string(b->python_requirements));
	if (b->system_packages.n)
		json_object_set_new(o, "system_packages", oci_strv_to_json(&b->system_packages));
	if (b->n_run) {
		runs = json_array();
		for (i = 0; i < b->n_run; i++) {
			json_t *r = json_object(), *mounts = json_array();

			json_object_set_new(r, "command", json_string(b->run[i].command));
			for (j = 0; j < b->run[i].n_mounts; j++)
				json_array_append_new(mounts,
						      json_pack("{s:s, s:s, s:s}", "type",
								b->run[i].mounts[j].type, "id",
								b->run[i].mounts[j].id, "target",
								b->run[i].mounts[j].target));
			if (b->run[i].n_mounts)
				json_object_set_new(r, "mounts", mounts);
			else
				json_decref(mounts);
			json_array_append_new(runs, r);
		}
		json_object_set_new(o, "run", runs);
	}
	if (b->pre_install.n)
		json_object_set_new(o, "pre_install", oci_strv_to_json(&b->pre_install));
	if (b->cuda)
		json_object_set_new(o, "cuda", json_string(b->cuda));
	if (b->cudnn)
		json_object_set_new(o, "cudnn", json_string(b->cudnn));
	if (b->sdk_version)
		json_object_set_new(o, "sdk_version", json_string(b->sdk_version));
	return o;
}

char *cog_config_to_json(const struct cog_config *c)
{
	cleanup_json json_t *o = json_object();

	json_object_set_new(o, "build", build_json(&c->build));
	if (c->image)
		json_object_set_new(o, "image", json_string(c->image));
	if (c->model)
		json_object_set_new(o, "model", json_string(c->model));
	if (c->predict)
		json_object_set_new(o, "predict", json_string(c->predict));
	if (c->train)
		json_object_set_new(o, "train", json_string(c->train));
	if (c->concurrency_max || c->concurrency_default_target) {
		json_t *cc = json_object();

		if (c->concurrency_max)
			json_object_set_new(cc, "max", json_integer(c->concurrency_max));
		if (c->concurrency_default_target)
			json_object_set_new(cc, "default_target",
					    json_integer(c->concurrency_default_target));
		json_object_set_new(o, "concurrency", cc);
	}
	if (c->environment.n)
		json_object_set_new(o, "environment", oci_strv_to_json(&c->environment));
	return json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static void text_list(struct pn_buf *b, const char *key, const struct pn_strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		pn_buf_printf(b, NULL, "%s: %s\n", key, s->v[i]);
}

char *cog_config_to_text(const struct cog_config *c)
{
	const struct cog_build *bd = &c->build;
	struct pn_buf b = PN_BUF_INIT;
	const char *p, *nl;
	size_t i, j;

	pn_buf_printf(&b, NULL, "gpu: %s\npython_version: %s\n", bd->gpu ? "true" : "false",
		      bd->python_version);
	if (bd->cuda)
		pn_buf_printf(&b, NULL, "cuda: %s\ncudnn: %s\n", bd->cuda,
			      bd->cudnn ? bd->cudnn : "");
	text_list(&b, "python_package", &bd->python_packages);
	if (bd->python_requirements)
		pn_buf_printf(&b, NULL, "python_requirements: %s\n", bd->python_requirements);
	text_list(&b, "system_package", &bd->system_packages);
	for (i = 0; i < bd->n_run; i++) {
		pn_buf_printf(&b, NULL, "run: %s", bd->run[i].command);
		for (j = 0; j < bd->run[i].n_mounts; j++)
			pn_buf_printf(&b, NULL, " [secret id=%s target=%s]",
				      bd->run[i].mounts[j].id, bd->run[i].mounts[j].target);
		pn_buf_puts(&b, "\n", NULL);
	}
	text_list(&b, "pre_install", &bd->pre_install);
	if (bd->sdk_version)
		pn_buf_printf(&b, NULL, "sdk_version: %s\n", bd->sdk_version);
	text_list(&b, "environment", &c->environment);
	if (c->image)
		pn_buf_printf(&b, NULL, "image: %s\n", c->image);
	if (c->model)
		pn_buf_printf(&b, NULL, "model: %s\n", c->model);
	if (c->predict)
		pn_buf_printf(&b, NULL, "predict: %s\n", c->predict);
	if (c->train)
		pn_buf_printf(&b, NULL, "train: %s\n", c->train);
	if (c->concurrency_max)
		pn_buf_printf(&b, NULL, "concurrency.max: %d\n", c->concurrency_max);
	if (c->concurrency_default_target)
		pn_buf_printf(&b, NULL, "concurrency.default_target: %d\n",
			      c->concurrency_default_target);
	for (p = c->requirements; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		pn_buf_printf(&b, NULL, "requirements: %.*s\n",
			      (int)(nl ? nl - p : (long)strlen(p)), p);
	}
	text_list(&b, "warning", &c->warnings);
	PN_BUF_ASSERT(&b); /* the fields of a cog.yaml under COG_CONFIG_MAX_SIZE */
	return pn_buf_steal(&b, NULL);
}
