/* error.c - the error chain (see common.h) */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void set_msg(struct pn_error **err, int code, int errnum, char *msg)
{
	struct pn_error *e;

	if (!err) {
		free(msg);
		return;
	}
	if (*err)
		pn_error_free(*err);
	e = xcalloc(1, sizeof(*e));
	e->code = code;
	e->errno_val = errnum;
	e->msg = msg;
	*err = e;
}

int pn_error_set(struct pn_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_msg(err, code, 0, xvasprintf(fmt, ap));
	va_end(ap);
	return -1;
}

int pn_error_set_errno(struct pn_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *m = NULL;
	int code = PN_ERR_GENERIC;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	if (errnum == ENOENT)
		code = PN_ERR_NOT_FOUND;
	set_msg(err, code, errnum, xasprintf("%s: %s", m, strerror(errnum)));
	return -1;
}

int pn_error_wrap(struct pn_error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *m;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	ctx = xvasprintf(fmt, ap);
	va_end(ap);
	m = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = m;
	return -1;
}

void pn_error_hint(struct pn_error **err, const char *fmt, ...)
{
	va_list ap;

	if (!err || !*err)
		return;
	va_start(ap, fmt);
	free((*err)->hint);
	(*err)->hint = xvasprintf(fmt, ap);
	va_end(ap);
}

int pn_error_propagate(struct pn_error **err, struct pn_error *e)
{
	if (!err) {
		pn_error_free(e);
		return -1;
	}
	if (*err && *err != e)
		pn_error_free(*err);
	*err = e;
	return -1;
}

void pn_error_free(struct pn_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e->hint);
	free(e);
}

void pn_error_clear(struct pn_error **err)
{
	if (err && *err) {
		pn_error_free(*err);
		*err = NULL;
	}
}

void cleanup_errorp(struct pn_error **e)
{
	pn_error_clear(e);
}

int pn_error_exit_status(const struct pn_error *e)
{
	if (e && e->code == PN_ERR_INTERRUPTED && e->errno_val > 0)
		return 128 + e->errno_val;
	return (e && e->code == PN_ERR_INVALID) ? 2 : 1;
}
