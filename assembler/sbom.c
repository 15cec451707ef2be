/* sbom.c - the parsers of what a base image says it holds (dpkg's status
 * file, a wheel's METADATA: both hostile input) and the writers of the SPDX
 * document and the in-toto provenance statement (see sbom.h). */
#include "assembler/sbom.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ text */

/* one header value as kept: printable ASCII (other bytes '?'), trimmed, at
 * most SBOM_FIELD_MAX bytes */
static char *field_clean(const char *p, size_t n)
{
	char *s;

	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && strchr(" \t\r", p[n - 1]))
		n--;
	if (n > SBOM_FIELD_MAX)
		n = SBOM_FIELD_MAX;
	s = xmalloc(n + 1); /* not xstrndup: a NUL in the value is a byte like any other */
	memcpy(s, p, n);
	s[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
	return s;
}

/* the next line of [*p, end): its start and length; *p moves past it */
static bool next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *nl;

	if (*p >= end)
		return false;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*n = (size_t)((nl ? nl : end) - *p);
	*p = nl ? nl + 1 : end;
	return true;
}

/* "Name: value" (name matched without case): the value, else NULL */
static const char *header_value(const char *line, size_t n, const char *name, size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	*vlen = n - k - 1;
	return line + k + 1;
}

static void set_field(json_t *o, const char *key, const char *v, size_t n)
{
	cleanup_free char *s = field_clean(v, n);

	json_object_set_new(o, key, json_string(s));
}

/* ----------------------------------------------------------------- dpkg */

static const char *const dpkg_fields[][2] = {
	{"Package", "name"},  {"Version", "version"}, {"Architecture", "arch"},
	{"Source", "source"}, {"Status", "status"},
};

static void dpkg_line(json_t *para, const char *line, size_t n)
{
	size_t vlen;

	for (size_t i = 0; i < sizeof(dpkg_fields) / sizeof(dpkg_fields[0]); i++) {
		const char *v = header_value(line, n, dpkg_fields[i][0], &vlen);

		if (v) {
			set_field(para, dpkg_fields[i][1], v, vlen);
			return;
		}
	}
}

/* a paragraph that is installed and names a package and version: into out */
static int dpkg_flush(json_t *para, json_t *out, struct pn_error **err)
{
	const char *status = json_string_value(json_object_get(para, "status"));
	size_t sl = status ? strlen(status) : 0;

	if (json_object_size(para) == 0)
		return 0;
	if (!status || sl < 9 || strcmp(status + sl - 9, "installed") != 0 ||
	    (sl > 9 && status[sl - 10] != ' ') ||
	    !json_string_length(json_object_get(para, "name")) ||
	    !json_string_length(json_object_get(para, "version")))
		return 0;
	if (json_array_size(out) >= SBOM_PACKAGES_MAX)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "dpkg status: more than %d packages",
				    SBOM_PACKAGES_MAX);
	json_object_del(para, "status");
	json_array_append(out, para);
	return 0;
}

int sbom_dpkg_parse(const char *text, size_t len, json_t *out, struct pn_error **err)
{
	const char *p = text, *end = text + len, *line;
	json_t *para = json_object();
	size_t n;
	int rc = 0;

	while (rc == 0 && next_line(&p, end, &line, &n)) {
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0) { /* the end of a paragraph */
			rc = dpkg_flush(para, out, err);
			json_decref(para);
			para = json_object();
		} else if (line[0] != ' ' && line[0] != '\t') { /* continuations: not kept */
			dpkg_line(para, line, n);
		}
	}
	if (rc == 0)
		rc = dpkg_flush(para, out, err);
	json_decref(para);
	return rc;
}

/* ------------------------------------------------------------- METADATA */

int sbom_metadata_parse(const char *text, size_t len, json_t **out, struct pn_error **err)
{
	const char *p = text, *end = text + len, *line, *v;
	cleanup_json json_t *o = json_object();
	bool expr = false;
	size_t n, vlen;

	while (next_line(&p, end, &line, &n)) {
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break; /* the body (the description) follows */
		if ((v = header_value(line, n, "Name", &vlen)) && !json_object_get(o, "name"))
			set_field(o, "name", v, vlen);
		else if ((v = header_value(line, n, "Version", &vlen)) &&
			 !json_object_get(o, "version"))
			set_field(o, "version", v, vlen);
		else if ((v = header_value(line, n, "License-Expression", &vlen))) {
			set_field(o, "license", v, vlen);
			expr = true;
		} else if ((v = header_value(line, n, "License", &vlen)) && !expr &&
			   !json_object_get(o, "license"))
			set_field(o, "license", v, vlen);
	}
	if (!json_object_get(o, "name") || !json_object_get(o, "version"))
		return pn_error_set(err, PN_ERR_INVALID, "METADATA: no Name or Version");
	if (json_string_length(json_object_get(o, "name")) == 0)
		return pn_error_set(err, PN_ERR_INVALID, "METADATA: an empty Name");
	if (json_string_length(json_object_get(o, "license")) == 0)
		json_object_del(o, "license");
	*out = steal_pointer(&o);
	return 0;
}

/* ------------------------------------------------------------- inventory */

static int str_cmp(const json_t *a, const json_t *b, const char *key)
{
	const char *x = json_string_value(json_object_get(a, key));
	const char *y = json_string_value(json_object_get(b, key));

	return strcmp(x ? x : "", y ? y : "");
}

static int pkg_cmp(const void *pa, const void *pb)
{
	const json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
	static const char *const keys[] = {"name", "version", "arch", "path"};
	int c = 0;

	for (size_t i = 0; c == 0 && i < sizeof(keys) / sizeof(keys[0]); i++)
		c = str_cmp(a, b, keys[i]);
	return c;
}

static void list_sort(json_t *list)
{
	size_t n = json_array_size(list);
	json_t **v = xcalloc(n + 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(list, i));
	qsort(v, n, sizeof(*v), pkg_cmp);
	json_array_clear(list);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
}

void sbom_inventory_sort(json_t *inv)
{
	list_sort(json_object_get(inv, "deb"));
	list_sort(json_object_get(inv, "python"));
}

char *sbom_tini_version(const unsigned char *data, size_t len)
{
	static const char tag[] = "tini version ";
	const unsigned char *p = memmem(data, len, tag, sizeof(tag) - 1);
	size_t n = 0;

	if (!p)
		return NULL;
	p += sizeof(tag) - 1;
	while (p + n < data + len && n < 32 && (p[n] == '.' || (p[n] >= '0' && p[n] <= '9')))
		n++;
	return n ? xstrndup((const char *)p, n) : NULL;
}
