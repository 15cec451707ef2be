/* tap.h - a tiny TAP harness for the C unit tests.
 *
 *   static void t_something(void) { ok(1 + 1 == 2, "adds"); ... }
 *   int main(void) { TEST(t_something); return tap_done(); }
 *
 * Every check prints "ok N - desc" or "not ok N - desc"; ok_err() also
 * prints the error chain of a failed call.  tap_done() prints the plan and
 * returns non-zero if any check failed. */
#ifndef PN_TAP_H
#define PN_TAP_H

#include "common/common.h"

__attribute__((format(printf, 2, 3))) int tap_ok(int cond, const char *fmt, ...);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);
/* a fresh empty directory under $TMPDIR, removed by tap_done(); the string
 * belongs to the harness (do not free it) */
char *tap_tmpdir(void);
void tap_run(const char *name, void (*fn)(void));
/* needle NULL, or found in s */
int tap_contains(const char *s, const char *needle);
/* "sha256:<hex>" into out (cap bytes) of what the shell command cmd prints
 * first (a sha256sum line); "sha256:" alone when it printed none */
void tap_sha256_cmd(const char *cmd, char *out, size_t cap);

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define TEST(fn) tap_run(#fn, fn)
/* call succeeded (rc >= 0); on failure print the error chain */
#define ok_call(rc, errp, ...)                                              \
	do {                                                                \
		int ok_rc_ = (rc);                                          \
		struct pn_error **ep_ = (errp);                             \
		tap_ok(ok_rc_ >= 0, __VA_ARGS__);                           \
		if (ok_rc_ < 0 && *ep_)                                     \
			tap_diag("error: %s", (*ep_)->msg);                 \
		pn_error_clear(errp);                                       \
	} while (0)
/* call failed with the given error code and a message containing `needle` */
#define ok_fail(rc, errp, code_, needle, ...)                               \
	do {                                                                \
		int ok_rc_ = (rc);                                          \
		struct pn_error **ep_ = (errp);                             \
		const struct pn_error *e_ = *ep_;                           \
		int good_ = ok_rc_ < 0 && e_ && (code_ == 0 || e_->code == code_) && \
			    tap_contains(e_->msg, (needle));       \
		tap_ok(good_, __VA_ARGS__);                                 \
		if (!good_)                                                 \
			tap_diag("rc=%d code=%d msg=%s", ok_rc_, e_ ? e_->code : 0, \
				 e_ ? e_->msg : "(no error)");              \
		pn_error_clear(errp);                                       \
	} while (0)
#define is_str(got, want, ...)                                              \
	do {                                                                \
		const char *g_ = (got), *w_ = (want);                       \
		int good_ = g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_;      \
		tap_ok(good_, __VA_ARGS__);                                 \
		if (!good_)                                                 \
			tap_diag("got:  %s\nwant: %s", g_ ? g_ : "(null)",  \
				 w_ ? w_ : "(null)");                       \
	} while (0)
#define is_int(got, want, ...)                                              \
	do {                                                                \
		long long g_ = (long long)(got), w_ = (long long)(want);   \
		tap_ok(g_ == w_, __VA_ARGS__);                              \
		if (g_ != w_)                                               \
			tap_diag("got %lld, want %lld", g_, w_);            \
	} while (0)

#include <string.h>

#endif
