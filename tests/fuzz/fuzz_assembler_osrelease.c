/* fuzz_assembler_osrelease.c - the package cache's key from an image's
 * os-release text (pkgcache_key): any input gives one path component made of
 * [a-z0-9._-] with two dashes, never "." or "..". */
#include "assembler/pkgcache.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = xmalloc(size + 1);
	char *key;
	size_t dashes = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	key = pkgcache_key(text, "amd64");
	for (const char *s = key; *s; s++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", *s))
			abort();
		dashes += *s == '-';
	}
	if (dashes != 2 || strlen(key) > 3 * 32 + 2)
		abort();
	free(key);
	free(text);
	return 0;
}
