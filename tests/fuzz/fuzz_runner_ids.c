/* fuzz_runner_ids.c - the sandbox's parsers of text from the host and the
 * image: /etc/subuid lines, and a user spec resolved against an image's
 * /etc/passwd and /etc/group.  Input: "SPEC\0PASSWD\0GROUP" (missing parts
 * are empty); the whole input is also parsed as an /etc/subuid file and as
 * /proc/self/uid_map (with the chooser of root's mapping over it). */
#include "runner/internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *buf = xmalloc(size + 3);
	const char *spec, *passwd, *group;
	struct runner_user u;
	struct runner_idmap m;
	struct pn_error *err = NULL;
	uint32_t start = 0, count = 0;
	size_t l1, l2;

	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	spec = buf;
	l1 = strlen(spec);
	passwd = spec + l1 + 1;
	l2 = l1 + 1 <= size ? strlen(passwd) : 0;
	group = l1 + 1 + l2 + 1 <= size ? passwd + l2 + 1 : "";
	if (runner_subid_parse(buf, "alice", 1000, &start, &count, &err) < 0)
		pn_error_clear(&err);
	if (runner_idmap_choose_root(buf, buf, passwd, 0, &m, &err) < 0) {
		if (!err || !err->msg)
			abort();
		pn_error_clear(&err);
	} else if (m.n_uid > RUNNER_IDMAP_MAX_RANGES || m.n_gid > RUNNER_IDMAP_MAX_RANGES ||
		   (m.mode != RUNNER_IDMAP_ROOT && m.mode != RUNNER_IDMAP_USERNS &&
		    m.mode != RUNNER_IDMAP_SINGLE)) {
		abort();
	}
	if (runner_user_resolve(spec, passwd, group, &u, &err) == 0) {
		if (!u.home)
			abort();
		runner_user_release(&u);
	} else {
		if (!err || !err->msg)
			abort();
		pn_error_clear(&err);
	}
	free(buf);
	return 0;
}
