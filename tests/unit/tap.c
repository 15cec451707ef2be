/* tap.c - see tap.h */
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_tests, n_failed;
static struct pn_strv tmpdirs;

int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - ", cond ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *s = NULL;
	char *line, *save = NULL;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	fflush(stdout);
}

char *tap_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	struct pn_error *err = NULL;
	char *d = pn_mkdtemp_in(t && *t ? t : "/tmp", "pinion-unit-", &err);

	if (!d)
		PN_BUG("%s", err->msg);
	pn_strv_push_owned(&tmpdirs, d);
	return d;
}

void tap_run(const char *name, void (*fn)(void))
{
	printf("# %s\n", name);
	fflush(stdout);
	fn();
}

int tap_done(void)
{
	for (size_t i = 0; i < tmpdirs.n; i++)
		pn_rm_rf(tmpdirs.v[i], NULL);
	pn_strv_release(&tmpdirs);
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# failed %d of %d\n", n_failed, n_tests);
	return n_failed ? 1 : 0;
}

int tap_contains(const char *s, const char *needle)
{
	return !needle || (s && strstr(s, needle));
}

void tap_sha256_cmd(const char *cmd, char *out, size_t cap)
{
	FILE *f = popen(cmd, "r");
	char hex[65] = "";

	if (!f || fscanf(f, "%64s", hex) != 1)
		hex[0] = '\0';
	if (f)
		pclose(f);
	snprintf(out, cap, "sha256:%s", hex);
}
