/* fuzz_assembler_cliunits.c - the DURATION and SIZE values of `pinion gc
 * --max-age` / `--keep-storage`, `pinion cache prune --max-size` and
 * PINION_AUTO_GC_MAX_AGE (cli_parse_duration, cli_parse_size).  Input: the
 * value (up to its first NUL).  What parses is not negative, is digits and
 * at most a unit, and a value of digits alone is that number. */
#include "assembler/cli/opt.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* digits, then at most `max_tail` more characters */
static void check_shape(const char *v, size_t max_tail, int64_t got)
{
	size_t digits = strspn(v, "0123456789");

	if (got < 0 || digits == 0 || strlen(v) - digits > max_tail)
		abort();
	if (digits == strlen(v) && (unsigned long long)got != strtoull(v, NULL, 10))
		abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *v = xmalloc(size + 1);
	struct pn_error *err = NULL;
	int64_t n = -1;

	memcpy(v, data, size);
	v[size] = '\0';
	if (cli_parse_duration(v, &n, &err) == 0)
		check_shape(v, 1, n);
	else if (!err || err->code != PN_ERR_INVALID)
		abort();
	pn_error_clear(&err);
	n = -1;
	if (cli_parse_size(v, &n, &err) == 0)
		check_shape(v, 3, n);
	else if (!err || err->code != PN_ERR_INVALID)
		abort();
	pn_error_clear(&err);
	free(v);
	return 0;
}
