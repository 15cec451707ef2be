/* version.c - dotted version comparison and the small version helpers */
#include "compat/compat.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* next numeric component of a version; *p advances past it and its dot */
static unsigned long version_part(const char **p)
{
	unsigned long v = 0;

	while (isdigit((unsigned char)**p)) {
		if (v < 100000000UL)
			v = v * 10 + (unsigned long)(**p - '0');
		(*p)++;
	}
	while (**p && **p != '.' && **p != '+')
		(*p)++; /* "0rc1" -> 0 */
	if (**p == '.')
		(*p)++;
	return v;
}

int compat_version_cmp(const char *a, const char *b)
{
	while ((*a && *a != '+') || (*b && *b != '+')) {
		unsigned long x = version_part(&a), y = version_part(&b);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

char *compat_version_base(const char *v)
{
	const char *plus = strchr(v, '+');

	return plus ? xstrndup(v, (size_t)(plus - v)) : xstrdup(v);
}

char *compat_version_majmin(const char *v)
{
	const char *dot = strchr(v, '.');

	if (dot)
		dot = strchr(dot + 1, '.');
	if (!dot)
		dot = strchr(v, '+');
	return dot ? xstrndup(v, (size_t)(dot - v)) : xstrdup(v);
}

/* "+cu121" -> "12.1", "+cu118" -> "11.8", "+cu92" -> "9.2" */
char *compat_cuda_from_suffix(const char *v)
{
	const char *s = strchr(v, '+');
	size_t n;

	if (!s || strncmp(s + 1, "cu", 2) != 0)
		return NULL;
	s += 3;
	n = strspn(s, "0123456789");
	if (n < 2 || s[n] != '\0')
		return NULL;
	return xasprintf("%.*s.%c", (int)(n - 1), s, s[n - 1]);
}

/* "2.1.0+cu121" -> {2,1,0}, 3 parts; false for what Cog's NewVersion refuses
 * (more than three parts, a part that is not a number) */
static bool version_parts(const char *v, unsigned long part[3], int *n)
{
	size_t len = strcspn(v, "+");

	*n = 0;
	while (len) {
		size_t d = strspn(v, "0123456789");

		if (d == 0 || d > 9 || *n == 3 || (d < len && v[d] != '.') || d + 1 == len)
			return false;
		part[(*n)++] = strtoul(v, NULL, 10);
		if (d == len)
			break;
		v += d + 1;
		len -= d + 1;
	}
	return *n > 0;
}

bool compat_version_matches(const char *a, const char *b)
{
	unsigned long x[3] = {0}, y[3] = {0};
	int nx, ny;

	if (!version_parts(a, x, &nx) || !version_parts(b, y, &ny))
		return false;
	return x[0] == y[0] && x[1] == y[1] && (nx < 3 || ny < 3 || x[2] == y[2]);
}
