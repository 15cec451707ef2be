/* command.c - the command registry (linker section "pn_commands") and CLI helpers */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern const struct pn_command __start_pn_commands[] __attribute__((weak));
extern const struct pn_command __stop_pn_commands[] __attribute__((weak));

const struct pn_command *pn_command_find(const char *name)
{
	for (const struct pn_command *c = __start_pn_commands; c && c < __stop_pn_commands; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int cmp_cmd(const void *a, const void *b)
{
	const struct pn_command *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

void pn_command_each(void (*fn)(const struct pn_command *, void *), void *data)
{
	size_t n = 0;
	cleanup_free const struct pn_command **v = NULL;

	if (!__start_pn_commands)
		return;
	n = (size_t)(__stop_pn_commands - __start_pn_commands);
	v = xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = &__start_pn_commands[i];
	qsort(v, n, sizeof(*v), cmp_cmd);
	for (size_t i = 0; i < n; i++)
		fn(v[i], data);
}

int pn_cli_fail(struct pn_error *e)
{
	int st = pn_error_exit_status(e);

	pn_error_print(e);
	pn_error_free(e);
	return st;
}

int pn_cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *text = NULL, *msg = NULL, *hint = NULL;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	msg = xasprintf("pinion %s: %s", cmd, text);
	hint = xasprintf("Try 'pinion %s --help'.", cmd);
	if (pn_log_progress() == PN_PROGRESS_JSON)
		pn_log_error(msg + strlen("pinion "), hint, 2);
	else
		fprintf(stderr, "%s\n%s\n", msg, hint);
	return 2;
}

bool pn_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int pn_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
