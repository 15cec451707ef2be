/* reqs.c - requirement lines: pins, and the rewrite with the right wheel index */
#include "compat/compat.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* lowercase, '_' and '.' -> '-' (PEP 503 normalisation) */
static char *name_normalize(const char *s, size_t n)
{
	char *out = xstrndup(s, n), *p;

	for (p = out; *p; p++)
		*p = *p == '_' || *p == '.' ? '-' : (char)tolower((unsigned char)*p);
	return out;
}

/* the name at the start of line (after blanks); *end past name and extras */
static const char *req_name(const char *line, size_t *n, const char **end)
{
	const char *s = line, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s;
	while (name_char(*e))
		e++;
	if (e == s || !isalnum((unsigned char)*s))
		return NULL;
	*n = (size_t)(e - s);
	if (*e == '[') {
		const char *close = strchr(e, ']');

		if (!close)
			return NULL;
		e = close + 1;
	}
	*end = e;
	return s;
}

int compat_req_pin(const char *line, char **name, char **version)
{
	size_t n = 0, vn;
	const char *end = NULL, *s = req_name(line, &n, &end), *v;

	if (!s)
		return 0;
	while (*end == ' ' || *end == '\t')
		end++;
	if (strncmp(end, "==", 2) != 0 || end[2] == '=')
		return 0;
	v = end + 2;
	while (*v == ' ' || *v == '\t')
		v++;
	vn = strcspn(v, " \t;#,\r\n");
	if (vn == 0 || v[vn] == ',' || memchr(v, '*', vn))
		return 0;
	*name = name_normalize(s, n);
	*version = xstrndup(v, vn);
	return 1;
}

bool compat_req_names(const char *line, const char *name)
{
	size_t n = 0;
	const char *end = NULL, *s = req_name(line, &n, &end);
	char *norm;
	bool r;

	if (!s)
		return false;
	norm = name_normalize(s, n);
	r = strcmp(norm, name) == 0;
	free(norm);
	return r;
}

/* the row for `pkg` at version `ver`: gpu -> highest CUDA <= cuda, CPU -> cuda NULL */
static const struct compat_torch *torch_row(const char *pkg, const char *ver, bool gpu,
					    const char *cuda)
{
	size_t n, i;
	const struct compat_torch *t = compat_torch_table(&n), *best = NULL;

	if (gpu && !cuda)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *v = strcmp(pkg, "torch") == 0	  ? t[i].torch
				: strcmp(pkg, "torchvision") == 0 ? t[i].torchvision
								  : t[i].torchaudio;

		if (!*v || compat_version_cmp(v, ver) != 0)
			continue;
		if (!gpu) {
			if (!t[i].cuda)
				return &t[i];
			continue;
		}
		if (!t[i].cuda || compat_version_cmp(t[i].cuda, cuda) > 0)
			continue;
		if (!best || compat_version_cmp(t[i].cuda, best->cuda) > 0)
			best = &t[i];
	}
	return best;
}

struct rewrite {
	struct pn_strv find_links, indexes;
	struct pn_buf body;
	const char *text;
};

/* the rewritten line for a pin, or NULL to keep the line as written */
static char *rewrite_pin(struct rewrite *rw, const char *name, const char *ver, bool gpu,
			 const char *cuda)
{
	const struct compat_torch *row;
	char *base, *out;
	const char *listed;

	if (strcmp(name, "tensorflow") == 0) {
		const struct compat_tf *tf = compat_tf_find(ver);

		return tf ? xstrdup(gpu ? tf->gpu_package : tf->cpu_package) : NULL;
	}
	if (strcmp(name, "torch") && strcmp(name, "torchvision") && strcmp(name, "torchaudio"))
		return NULL;
	row = torch_row(name, ver, gpu, cuda);
	if (!row)
		return NULL;
	listed = strcmp(name, "torch") == 0	    ? row->torch
		 : strcmp(name, "torchvision") == 0 ? row->torchvision
						    : row->torchaudio;
	base = gpu ? compat_version_base(listed) : xstrdup(listed);
	out = xasprintf("%s==%s", name, base);
	free(base);
	if (*row->find_links && !pn_strv_contains(&rw->find_links, row->find_links))
		pn_strv_push(&rw->find_links, row->find_links);
	if (*row->index_url && !pn_strv_contains(&rw->indexes, row->index_url))
		pn_strv_push(&rw->indexes, row->index_url);
	return out;
}

/* does the line carry an option (" --hash=...", "\t--index-url ...")? */
static bool line_has_option(const char *line)
{
	const char *p;

	for (p = strstr(line, "--"); p; p = strstr(p + 2, "--"))
		if (p > line && (p[-1] == ' ' || p[-1] == '\t'))
			return true;
	return false;
}

static void rewrite_line(struct rewrite *rw, const char *line, bool gpu, const char *cuda)
{
	char *name = NULL, *ver = NULL, *repl = NULL;

	/* per-requirement options (--index-url, --hash ...) pass through */
	if (!line_has_option(line) && compat_req_pin(line, &name, &ver) == 1)
		repl = rewrite_pin(rw, name, ver, gpu, cuda);
	if (repl) {
		const char *marker = strchr(line, ';');

		pn_buf_puts(&rw->body, repl, NULL);
		if (marker)
			pn_buf_printf(&rw->body, NULL, " %s", marker);
	} else {
		pn_buf_puts(&rw->body, line, NULL);
	}
	pn_buf_puts(&rw->body, "\n", NULL);
	free(name);
	free(ver);
	free(repl);
}

/* is this exact option line already in the text? */
static bool text_has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0' || p[n] == '\r'))
			return true;
		p += n;
	}
	return false;
}

char *compat_requirements_rewrite(const char *text, bool gpu, const char *cuda)
{
	struct rewrite rw = {PN_STRV_INIT, PN_STRV_INIT, PN_BUF_INIT, text};
	struct pn_buf out = PN_BUF_INIT;
	const char *p = text, *nl;
	size_t i;

	while (p && *p) {
		char *line;

		nl = strchr(p, '\n');
		line = nl ? xstrndup(p, (size_t)(nl - p)) : xstrdup(p);
		if (*line && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		rewrite_line(&rw, line, gpu, cuda);
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	for (i = 0; i < rw.find_links.n; i++) {
		char *l = xasprintf("--find-links %s", rw.find_links.v[i]);

		if (!text_has_line(text, l))
			pn_buf_printf(&out, NULL, "%s\n", l);
		free(l);
	}
	for (i = 0; i < rw.indexes.n; i++) {
		char *l = xasprintf("--extra-index-url %s", rw.indexes.v[i]);

		if (!text_has_line(text, l))
			pn_buf_printf(&out, NULL, "%s\n", l);
		free(l);
	}
	if (rw.body.len)
		pn_buf_puts(&out, rw.body.data, NULL);
	/* the text is a requirements file under its size limit; each line grows
	 * by a bounded replacement */
	PN_BUF_ASSERT(&rw.body);
	PN_BUF_ASSERT(&out);
	pn_strv_release(&rw.find_links);
	pn_strv_release(&rw.indexes);
	pn_buf_release(&rw.body);
	return out.data ? pn_buf_steal(&out, NULL) : xstrdup("");
}
