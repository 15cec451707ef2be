/* fuzz_registry_config.c - the registries config file (mirror / insecure /
 * ca-bundle lines).  Accepted text must leave valid mirrors behind (a host
 * or a layout, never both); refusals are PN_ERR_INVALID with file:line.
 * Nothing may crash, leak or hit UB. */
#include "registry/internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct registry_opts o;
	struct pn_error *err = NULL;

	registry_opts_init(&o);
	if (registry_opts_parse_config(&o, "fuzz.conf", (const char *)data, size, &err) < 0) {
		if (!err || err->code != PN_ERR_INVALID || !strstr(err->msg, "fuzz.conf"))
			abort();
		pn_error_free(err);
	}
	for (size_t i = 0; i < o.n_mirrors; i++) {
		const struct registry_mirror *m = &o.mirrors[i];
		if (!registry_host_valid(m->from) || (!m->to == !m->layout) ||
		    (m->to && !registry_host_valid(m->to)))
			abort();
	}
	registry_opts_release(&o);
	return 0;
}
