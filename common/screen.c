/* screen.c - stderr for log.c: messages written above a live area at the
 * bottom of the terminal (a transfer bar, or the running step with its
 * elapsed time and last output lines), as BuildKit shows a build.  See
 * internal.h. */
#include "common.h"
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SCREEN_TICK_MS	 100  /* redraw period of the running step */
#define SCREEN_BAR_MS	 200  /* least time between two bar redraws */
#define SCREEN_LINE_MAX	 1024 /* bytes of one drawn line */
#define SCREEN_WIDTH_DEF 80   /* columns when stderr is no terminal */

/* Everything below is read and written under `lock`; stderr's own lock is
 * taken inside it.  fork() takes `lock` first (pthread_atfork), so a child
 * never starts with it, or stderr's, held by the ticker. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static bool bar_shown; /* the bar is on the last line, the cursor after it */
static int64_t bar_last_ms;
static struct {
	bool on;
	char *title;
	double t0;
	char *tail[PN_SCREEN_TAIL_LINES]; /* a ring of the last output lines */
	size_t next, count;
	int drawn; /* lines of the area on the terminal; the cursor is below them */
	bool ticking, stop;
	pthread_t ticker;
} live;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return SCREEN_WIDTH_DEF;
}

static int fit(char *out, size_t size, const char *s, size_t n, int width)
{
	const char *cr;
	size_t o = 0, start = 0, i;
	int cols = 0;

	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	cr = memrchr(s, '\r', n);
	if (cr) { /* a terminal shows what came after the last carriage return */
		n -= (size_t)(cr + 1 - s);
		s = cr + 1;
	}
	for (i = 0; i < n && o + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c & 0xC0) != 0x80) { /* a character starts */
			if (cols >= width)
				break;
			cols++;
			start = o;
		}
		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (i < n && o + 1 >= size && ((unsigned char)s[i] & 0xC0) == 0x80) {
		o = start; /* out of room inside a character: drop it */
		cols--;
	}
	if (size)
		out[o] = '\0';
	return cols;
}

void pn_screen_fit(char *out, size_t size, const char *s, size_t n, int width)
{
	fit(out, size, s, n, width);
}

/* ------------------------------------------------------------- the area */

static void area_clear(struct pn_buf *b)
{
	if (bar_shown) {
		pn_buf_puts(b, "\r\033[K", NULL);
		bar_shown = false;
	}
	if (live.drawn) {
		pn_buf_printf(b, NULL, "\r\033[%dA\033[J", live.drawn);
		live.drawn = 0;
	}
}

static void area_draw(struct pn_buf *b)
{
	char line[SCREEN_LINE_MAX], tm[32];
	int w = term_width() - 1, tlen, cols;

	if (!live.on)
		return;
	tlen = snprintf(tm, sizeof(tm), " %.1fs", now_s() - live.t0);
	cols = fit(line, sizeof(line), live.title, strlen(live.title), w - tlen);
	pn_buf_printf(b, NULL, "%s%*s%s\n", line, w - tlen - cols, "", tm);
	for (size_t i = 0; i < live.count; i++) {
		const char *t = live.tail[(live.next + PN_SCREEN_TAIL_LINES - live.count + i) %
					  PN_SCREEN_TAIL_LINES];

		fit(line, sizeof(line), t, strlen(t), w - 4);
		pn_buf_printf(b, NULL, "  | %s\n", line);
	}
	live.drawn = 1 + (int)live.count;
}

/* the caller holds `lock` */
static void emit(const struct pn_buf *b)
{
	if (!b->len || b->failed)
		return;
	flockfile(stderr);
	fwrite(b->data, 1, b->len, stderr);
	fflush(stderr);
	funlockfile(stderr);
}

static void redraw_locked(void)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;

	area_clear(&b);
	area_draw(&b);
	emit(&b);
}

void pn_screen_write(const char *data, size_t len)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;

	pthread_mutex_lock(&lock);
	area_clear(&b);
	pn_buf_append(&b, data, len, NULL);
	area_draw(&b);
	emit(&b);
	pthread_mutex_unlock(&lock);
}

void pn_screen_bar(const char *line, bool force)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	int64_t now = (int64_t)(now_s() * 1000);

	pthread_mutex_lock(&lock);
	/* a running step owns the area */
	if (!live.on && (force || now - bar_last_ms >= SCREEN_BAR_MS)) {
		bar_last_ms = now;
		area_clear(&b);
		pn_buf_printf(&b, NULL, "\r\033[K%s", line);
		bar_shown = true;
		emit(&b);
	}
	pthread_mutex_unlock(&lock);
}

/* ---------------------------------------------------------- the ticker */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void atfork_release(void)
{
	pthread_mutex_unlock(&lock);
}

/* the child has no ticker and draws no area: the parent's stays the parent's */
static void atfork_child(void)
{
	live.on = false;
	live.ticking = false;
	live.drawn = 0;
	bar_shown = false;
	pthread_mutex_unlock(&lock);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_release, atfork_child);
}

static void *ticker_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!live.stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += SCREEN_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wake, &lock, &ts);
		if (!live.stop)
			redraw_locked();
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void live_reset_locked(void)
{
	free(live.title);
	for (size_t i = 0; i < PN_SCREEN_TAIL_LINES; i++)
		free(live.tail[i]);
	memset(&live, 0, sizeof(live));
}

void pn_screen_live_begin(const char *title)
{
	sigset_t all, old;

	pthread_once(&atfork_once, atfork_register);
	pn_screen_live_end();
	pthread_mutex_lock(&lock);
	live_reset_locked();
	live.on = true;
	live.title = xstrdup(title);
	live.t0 = now_s();
	redraw_locked();
	/* the ticker takes no signal: they stay with the threads that handle them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	live.ticking = pthread_create(&live.ticker, NULL, ticker_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&lock);
}

bool pn_screen_live_line(const char *s, size_t n)
{
	bool on;

	pthread_mutex_lock(&lock);
	on = live.on;
	if (on) {
		free(live.tail[live.next]);
		live.tail[live.next] = xstrndup(s, n);
		live.next = (live.next + 1) % PN_SCREEN_TAIL_LINES;
		if (live.count < PN_SCREEN_TAIL_LINES)
			live.count++;
	}
	pthread_mutex_unlock(&lock);
	return on;
}

double pn_screen_live_end(void)
{
	cleanup_buf struct pn_buf b = PN_BUF_INIT;
	pthread_t t;
	bool join;
	double secs;

	pthread_mutex_lock(&lock);
	if (!live.on) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	live.stop = true;
	join = live.ticking;
	live.ticking = false;
	t = live.ticker;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	if (join)
		pthread_join(t, NULL);
	pthread_mutex_lock(&lock);
	area_clear(&b);
	emit(&b);
	secs = now_s() - live.t0;
	live_reset_locked();
	pthread_mutex_unlock(&lock);
	return secs;
}
