/* fuzz_registry_auth.c - WWW-Authenticate parsing (the header a registry,
 * or anything pretending to be one, sends).  The whole input is one header
 * value, embedded NULs included.  Accepted challenges have a lowercase
 * scheme; refusals carry a message.  Nothing may crash, leak or hit UB. */
#include "registry/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct registry_challenge c = {0};
	struct pn_error *err = NULL;

	if (registry_challenge_parse((const char *)data, size, &c, &err) < 0) {
		if (!err || !err->msg || !*err->msg)
			abort();
		pn_error_free(err);
		return 0;
	}
	if (!c.scheme || !*c.scheme)
		abort();
	for (const char *p = c.scheme; *p; p++)
		if (isupper((unsigned char)*p))
			abort();
	registry_challenge_release(&c);
	return 0;
}
