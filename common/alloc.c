/* alloc.c - the aborts: allocation failure, size arithmetic overflow and
 * PN_BUG (below error.c, which allocates: no file calls back up) */
#include "common.h"

#include <stdlib.h>
#include <string.h>

void pn_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pinion: BUG at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void oom(size_t n)
{
	fprintf(stderr, "pinion: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *r = realloc(p, n ? n : 1);

	if (!r)
		oom(n);
	return r;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s);

	if (!r)
		oom(strlen(s));
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);

	if (!r)
		oom(n);
	return r;
}

__attribute__((format(printf, 1, 0))) char *xvasprintf(const char *fmt, va_list ap)
{
	char *r;

	if (vasprintf(&r, fmt, ap) < 0)
		oom(0);
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = xvasprintf(fmt, ap);
	va_end(ap);
	return r;
}

size_t st_add(size_t a, size_t b)
{
	size_t r;

	if (__builtin_add_overflow(a, b, &r))
		PN_BUG("size overflow: %zu + %zu", a, b);
	return r;
}

size_t st_mult(size_t a, size_t b)
{
	size_t r;

	if (__builtin_mul_overflow(a, b, &r))
		PN_BUG("size overflow: %zu * %zu", a, b);
	return r;
}

void cleanup_freep(void *p)
{
	void **pp = p;

	free(*pp);
	*pp = NULL;
}
