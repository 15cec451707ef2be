/* lstream_modes.h - the four ways oci/lstream.c reads a gzip layer (on its
 * thread or in line; ISA-L's igzip or zlib), for the unit tests that run a
 * check in each: lstream_mode_set(i) sets the environment for mode i and
 * returns its name, NULL past the last. */
#ifndef PN_TESTS_LSTREAM_MODES_H
#define PN_TESTS_LSTREAM_MODES_H

#include <stddef.h>
#include <stdlib.h>

static inline const char *lstream_mode_set(size_t i)
{
	static const struct {
		const char *name, *thread, *inflate;
	} modes[] = {
		{"thread, igzip", "1", "igzip"},
		{"thread, zlib", "1", "zlib"},
		{"in line, igzip", "0", "igzip"},
		{"in line, zlib", "0", "zlib"},
	};

	if (i >= sizeof(modes) / sizeof(modes[0]))
		return NULL;
	setenv("PINION_UNPACK_THREAD", modes[i].thread, 1);
	setenv("PINION_INFLATE", modes[i].inflate, 1);
	return modes[i].name;
}

#endif
