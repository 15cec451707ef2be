/* roundtrip.h - the fuzz targets' round trip of a parsed document: what
 * to_json writes of *obj parses again and writes the same bytes; a failure
 * of either aborts, which the fuzzer keeps as a crash.  parse, to_json and
 * release are one type's oci_X_parse, oci_X_to_json and oci_X_release; a
 * to_json that fails on *obj itself is no finding. */
#ifndef PN_FUZZ_ROUNDTRIP_H
#define PN_FUZZ_ROUNDTRIP_H

#include "common/common.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_ROUNDTRIP(obj, parse, to_json, release)                                               \
	do {                                                                                       \
		__typeof__(*(obj)) rt_again;                                                       \
		struct pn_error *rt_err = NULL;                                                    \
		char *rt_out = NULL, *rt_out2 = NULL;                                              \
		size_t rt_len, rt_len2;                                                            \
		if (to_json((obj), &rt_out, &rt_len, &rt_err) == 0) {                              \
			if (parse(rt_out, rt_len, &rt_again, &rt_err) < 0)                         \
				abort();                                                           \
			if (to_json(&rt_again, &rt_out2, &rt_len2, &rt_err) < 0 ||                 \
			    strcmp(rt_out, rt_out2) != 0)                                          \
				abort();                                                           \
			release(&rt_again);                                                        \
		}                                                                                  \
		pn_error_clear(&rt_err);                                                           \
		free(rt_out);                                                                      \
		free(rt_out2);                                                                     \
	} while (0)

#endif
