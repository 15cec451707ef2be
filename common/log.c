/* log.c - messages and progress events on stderr */
#include "common.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static enum pn_progress progress_mode = PN_PROGRESS_AUTO;
static int verbose_level;
static bool bar_shown; /* a bar is on the terminal's last line (stderr's lock) */

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

/* the caller holds stderr's lock */
static void bar_clear(void)
{
	if (bar_shown) {
		fputs("\r\033[K", stderr);
		bar_shown = false;
	}
}

__attribute__((format(printf, 2, 0))) static void vlog(const char *prefix, const char *fmt,
						       va_list ap)
{
	flockfile(stderr);
	bar_clear();
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void pn_info(const char *fmt, ...)
{
	va_list ap;

	if (pn_log_progress() == PN_PROGRESS_QUIET || pn_log_progress() == PN_PROGRESS_JSON)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void pn_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("pinion: warning: ", fmt, ap);
	va_end(ap);
}

void pn_debug(const char *fmt, ...)
{
	va_list ap;

	if (verbose_level < 1)
		return;
	va_start(ap, fmt);
	vlog("pinion: debug: ", fmt, ap);
	va_end(ap);
}

static void json_escape(struct pn_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			pn_buf_printf(b, NULL, "\\%c", c);
		else if (c < 0x20)
			pn_buf_printf(b, NULL, "\\u%04x", c);
		else
			pn_buf_append(b, s, 1, NULL);
	}
}

/* Each event is formatted first and written with one call, so events from
 * several threads never interleave within a line. */
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
	if (mode == PN_PROGRESS_JSON) {
		pn_buf_puts(&b, "{\"event\":\"", NULL);
		json_escape(&b, event);
		pn_buf_puts(&b, "\",\"message\":\"", NULL);
		json_escape(&b, text);
		pn_buf_puts(&b, "\"", NULL);
		if (fields_json && *fields_json)
			pn_buf_printf(&b, NULL, ",%s", fields_json);
		pn_buf_puts(&b, "}\n", NULL);
	} else {
		pn_buf_printf(&b, NULL, "%s\n", text);
	}
	if (pn_buf_check(&b, "progress event", NULL) < 0)
		return; /* never a cut line: JSON readers would choke on it */
	flockfile(stderr);
	bar_clear();
	fwrite(b.data, 1, b.len, stderr);
	fflush(stderr);
	funlockfile(stderr);
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

/* last_ms and bar_shown are read and written only under stderr's lock: push
 * threads draw the bar concurrently */
void pn_progress_bar(const char *label, int64_t done, int64_t total, double mib_per_s)
{
	static int64_t last_ms;
	struct timespec ts;
	int64_t now;
	char line[256];

	if (pn_log_progress() != PN_PROGRESS_TTY)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pn_progress_bar_format(line, sizeof(line), label, done, total, mib_per_s, 80);
	flockfile(stderr);
	if (now - last_ms >= 200 || (total > 0 && done >= total)) {
		last_ms = now;
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		bar_shown = true;
	}
	funlockfile(stderr);
}
