/* buf.c - bounded growable buffers and string vectors */
#include "common.h"

#include <stdlib.h>
#include <string.h>

void pn_buf_init(struct pn_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->failed = false;
}

void pn_buf_release(struct pn_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void cleanup_bufp(struct pn_buf *b)
{
	pn_buf_release(b);
}

void pn_buf_reset(struct pn_buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct pn_buf *b, size_t extra, struct pn_error **err)
{
	size_t max = b->max ? b->max : PN_BUF_DEFAULT_MAX;
	size_t need = st_add(st_add(b->len, extra), 1);
	size_t cap;

	if (b->failed || need - 1 > max) {
		b->failed = true;
		return pn_error_set(err, PN_ERR_TOO_LARGE, "buffer limit of %zu bytes exceeded",
				    max);
	}
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = st_mult(cap, 2);
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int pn_buf_append(struct pn_buf *b, const void *data, size_t len, struct pn_error **err)
{
	if (grow(b, len, err) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int pn_buf_puts(struct pn_buf *b, const char *s, struct pn_error **err)
{
	return pn_buf_append(b, s, strlen(s), err);
}

int pn_buf_printf(struct pn_buf *b, struct pn_error **err, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *s = NULL;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return pn_buf_puts(b, s, err);
}

int pn_buf_check(const struct pn_buf *b, const char *what, struct pn_error **err)
{
	if (!b->failed)
		return 0;
	return pn_error_set(err, PN_ERR_TOO_LARGE, "%s: more than %zu bytes", what,
			    b->max ? b->max : PN_BUF_DEFAULT_MAX);
}

char *pn_buf_steal(struct pn_buf *b, size_t *len_out)
{
	char *r = b->data ? b->data : xstrdup("");

	if (len_out)
		*len_out = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
	return r;
}

static void strv_grow(struct pn_strv *s)
{
	if (s->n + 2 <= s->cap)
		return;
	s->cap = s->cap ? st_mult(s->cap, 2) : 8;
	s->v = xrealloc(s->v, st_mult(s->cap, sizeof(char *)));
}

void pn_strv_push_owned(struct pn_strv *s, char *str)
{
	strv_grow(s);
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void pn_strv_push(struct pn_strv *s, const char *str)
{
	pn_strv_push_owned(s, xstrdup(str));
}

void pn_strv_release(struct pn_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}

void cleanup_strvp(struct pn_strv *s)
{
	pn_strv_release(s);
}

bool pn_strv_contains(const struct pn_strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void pn_strv_sort(struct pn_strv *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(char *), cmp_str);
}
