/* internal.h - helpers shared between the files of common/ (not for other
 * modules).
 *
 * screen.c is the one writer of log.c's output on stderr.  On a terminal it
 * keeps a live area at the bottom: a transfer bar, or the running step (its
 * title, elapsed time and last output lines).  A message is written above it:
 * the area is cleared, the message written whole, the area drawn again, all
 * under one lock, so lines of several threads never interleave.  Nothing
 * here looks at the progress mode: log.c decides what reaches the screen. */
#ifndef PN_COMMON_INTERNAL_H
#define PN_COMMON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#define PN_SCREEN_TAIL_LINES 5 /* output lines the live step shows */

/* write len bytes (whole lines) above the live area */
void pn_screen_write(const char *data, size_t len);
/* draw line as the transfer bar on the last line (no newline); at most every
 * 200 ms unless force */
void pn_screen_bar(const char *line, bool force);
/* A step runs: title is shown with its elapsed time, redrawn by a ticker
 * thread every 100 ms (signals blocked in it; fork() waits for a redraw to
 * finish), with the last PN_SCREEN_TAIL_LINES lines given to
 * pn_screen_live_line below it.  A second begin replaces the first. */
void pn_screen_live_begin(const char *title);
/* an output line of the running step; false when no step runs (the caller
 * shows it another way) */
bool pn_screen_live_line(const char *s, size_t n);
/* the step is over: the area is cleared and the ticker stopped (no-op when
 * no step runs); returns the step's seconds, or -1 */
double pn_screen_live_end(void);
/* s as one terminal line of at most width columns into out (size bytes):
 * the text after its last carriage return, control characters as spaces,
 * cut at a character boundary (pure; for tests) */
void pn_screen_fit(char *out, size_t size, const char *s, size_t n, int width);

#endif
