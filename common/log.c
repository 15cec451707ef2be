/* log.c - messages and progress events on stderr, in the progress mode:
 * lines (tty, plain), JSON events (json) or nearly nothing (quiet).  What
 * reaches stderr goes through screen.c. */
#include "common.h"
#include "internal.h"

#include <string.h>
#include <unistd.h>

static enum pn_progress progress_mode = PN_PROGRESS_AUTO;
static int verbose_level;

void pn_log_set_progress(enum pn_progress p)
{
	progress_mode = p;
}

enum pn_progress pn_log_progress(void)
{
	if (progress_mode == PN_PROGRESS_AUTO)
		return isatty(STDERR_FILENO) ? PN_PROGRESS_TTY : PN_PROGRESS_PLAIN;
	return progress_mode;
}

int pn_log_parse_progress(const char *s, enum pn_progress *out)
{
	static const struct {
		const char *name;
		enum pn_progress p;
	} modes[] = {
		{"auto", PN_PROGRESS_AUTO},   {"tty", PN_PROGRESS_TTY},
		{"plain", PN_PROGRESS_PLAIN}, {"quiet", PN_PROGRESS_QUIET},
		{"json", PN_PROGRESS_JSON},
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*out = modes[i].p;
			return 0;
		}
	}
	return -1;
}

void pn_log_set_verbose(int level)
{
	verbose_level = level;
}

int pn_log_verbose(void)
{
	return verbose_level;
}

/* ------------------------------------------------------------- messages */

/* bytes of the UTF-8 character at s (1-4), or 0 when it is not one */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* s as the inside of a JSON string; bytes that are not UTF-8 (a step's
 * binary output) become U+FFFD, so every event stays valid JSON */
static void json_escape(struct pn_buf *b, const char *s)
{
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = 1;

		if (c == '"' || c == '\\')
			pn_buf_printf(b, NULL, "\\%c", c);
		else if (c < 0x20)
			pn_buf_printf(b, NULL, "\\u%04x", c);
		else if (c < 0x80)
			pn_buf_append(b, s, 1, NULL);
		else if ((n = utf8_len((const unsigned char *)s)))
			pn_buf_append(b, s, n, NULL);
		else
			pn_buf_puts(b, "\\ufffd", NULL);
		s += n ? n : 1;
	}
}

/* {"event":E,"message":M,fields}\n into b */
static void event_json(struct pn_buf *b, const char *event, const char *text,
		       const char *fields_json)
{
	pn_buf_puts(b, "{\"event\":\"", NULL);
	json_escape(b, event);
	pn_buf_puts(b, "\",\"message\":\"", NULL);
	json_escape(b, text);
	pn_buf_puts(b, "\"", NULL);
	if (fields_json && *fields_json)
		pn_buf_printf(b, NULL, ",%s", fields_json);
	pn_buf_puts(b, "}\n", NULL);
}

/* Each line is formatted first and written with one call, so lines from
 * several threads never interleave.  A line too long to format is dropped,
 * never cut: JSON readers would choke on it. */
static void put(const struct pn_buf *b)
{
	if (pn_buf_check(b, "message", NULL) == 0)
		pn_screen_write(b->data, b->len);
}

/* a message: "<prefix><text>" on a line, or in json mode the event */
__attribute__((format(printf, 3, 0))) static void vlog(const char *event, const char *prefix,
						       const char *fmt, va_list ap)
{
	cleanup_free char *text = xvasprintf(fmt, ap);
	cleanup_buf struct pn_buf b = PN_BUF_INIT;

	if (pn_log_progress() == PN_PROGRESS_JSON)
		event_json(&b, event, text, NULL);
	else
		pn_buf_printf(&b, NULL, "%s%s\n", prefix, text);
	put(&b);
}

void pn_info(const char *fmt, ...)
{
	va_list ap;

	if (pn_log_progress() == PN_PROGRESS_QUIET)
		return;
	va_start(ap, fmt);
	vlog("info", "", fmt, ap);
	va_end(ap);
}

void pn_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning", "pinion: warning: ", fmt, ap);
	va_end(ap);
}

void pn_notice(const char *fmt, ...)
{
	va_list ap;

	if (pn_log_progress() == PN_PROGRESS_QUIET)
		return;
	va_start(ap, fmt);
	vlog("warning", "pinion: warning: ", fmt, ap);
	va_end(ap);
}

void pn_debug(const char *fmt, ...)
{
	va_list ap;

	if (verbose_level < 1)
		return;
	va_start(ap, fmt);
	vlog("debug", "pinion: debug: ", fmt, ap);
	va_end(ap);
}

void pn_log_error(const char *msg, const char *hint, int status)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;

	if (pn_log_progress() == PN_PROGRESS_JSON) {
		cleanup_buf struct pn_buf f = PN_BUF_INIT;

		if (hint) {
			pn_buf_puts(&f, "\"hint\":\"", NULL);
			json_escape(&f, hint);
			pn_buf_puts(&f, "\",", NULL);
		}
		pn_buf_printf(&f, NULL, "\"status\":%d", status);
		event_json(&b, "error", msg, f.data);
	} else {
		pn_buf_printf(&b, NULL, "pinion: %s\n", msg);
		if (hint)
			pn_buf_printf(&b, NULL, "hint: %s\n", hint);
	}
	put(&b);
}

void pn_error_print(const struct pn_error *e)
{
	if (e)
		pn_log_error(e->msg, e->hint, pn_error_exit_status(e));
}

/* ------------------------------------------------------------- progress */

void pn_progress_event(const char *event, const char *fields_json, const char *fmt, ...)
{
	va_list ap;
	cleanup_free char *text = NULL;
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	enum pn_progress mode = pn_log_progress();

	if (mode == PN_PROGRESS_QUIET)
		return;
	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	if (mode == PN_PROGRESS_JSON)
		event_json(&b, event, text, fields_json);
	else
		pn_buf_printf(&b, NULL, "%s\n", text);
	put(&b);
}

void pn_progress_output(const char *step, const char *s, size_t n)
{
	enum pn_progress mode = pn_log_progress();
	cleanup_buf struct pn_buf b = PN_BUF_INIT;

	if (mode == PN_PROGRESS_QUIET)
		return;
	if (mode == PN_PROGRESS_TTY && pn_screen_live_line(s, n))
		return;
	if (mode == PN_PROGRESS_JSON) {
		cleanup_buf struct pn_buf f = PN_BUF_INIT;
		cleanup_free char *text = xstrndup(s, n);

		pn_buf_puts(&f, "\"step\":\"", NULL);
		json_escape(&f, step);
		pn_buf_puts(&f, "\"", NULL);
		event_json(&b, "output", text, f.data);
	} else {
		pn_buf_printf(&b, NULL, "%s | %.*s\n", step, (int)n, s);
	}
	put(&b);
}

void pn_progress_step_begin(const char *title)
{
	if (pn_log_progress() == PN_PROGRESS_TTY)
		pn_screen_live_begin(title);
}

double pn_progress_step_end(void)
{
	return pn_screen_live_end();
}

void pn_progress_bar_format(char *out, size_t size, const char *label, int64_t done, int64_t total,
			    double mib_per_s, int width)
{
	char tail[96];
	int cells, full;

	char rate[32] = "";

	if (mib_per_s >= 0)
		snprintf(rate, sizeof(rate), " %.1f MiB/s", mib_per_s);
	if (total > 0)
		snprintf(tail, sizeof(tail), " %3d%% %.1f/%.1f MiB%s", (int)(done * 100 / total),
			 (double)done / 1048576.0, (double)total / 1048576.0, rate);
	else
		snprintf(tail, sizeof(tail), " %.1f MiB%s", (double)done / 1048576.0, rate);
	/* label, " [", bar, "]", tail within width (bar at least 10 cells) */
	cells = width - (int)strlen(label) - 3 - (int)strlen(tail);
	if (cells < 10)
		cells = 10;
	if (cells > 40)
		cells = 40;
	full = total > 0 ? (int)(done * cells / total) : 0;
	if (full > cells)
		full = cells;
	snprintf(out, size, "%s [%.*s%.*s]%s", label, full,
		 "########################################", cells - full,
		 "                                        ", tail);
}

void pn_progress_bar(const char *label, int64_t done, int64_t total, double mib_per_s)
{
	char line[256];

	if (pn_log_progress() != PN_PROGRESS_TTY)
		return;
	pn_progress_bar_format(line, sizeof(line), label, done, total, mib_per_s, 80);
	pn_screen_bar(line, total > 0 && done >= total);
}
