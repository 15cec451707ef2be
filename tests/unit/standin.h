/* standin.h - a stand-in HTTP server on 127.0.0.1 for the unit tests.
 *
 *   static void serve(void *data, int cfd) { ...read one request, answer... }
 *   struct standin_http h;
 *   if (standin_http_start(&h, serve, &state) == 0) { ...h.port... }
 *   standin_http_stop(&h);
 *
 * A thread accepts one connection at a time on an ephemeral port, hands it
 * to serve() and closes it after, until standin_http_stop() shuts the
 * listening socket down.  serve() runs on that thread: state it shares with
 * the test wants the test's own lock. */
#ifndef PN_TESTS_STANDIN_H
#define PN_TESTS_STANDIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct standin_http {
	int fd;	      /* the listening socket, -1 when there is none */
	int port;     /* its port, once started */
	pthread_t th; /* the accept loop */
	bool running; /* th was started */
	void (*serve)(void *data, int cfd);
	void *data;
};

/* listens on 127.0.0.1 and starts the accept loop: 0, or -1 (a failed
 * check "start the stand-in server" is printed); standin_http_stop() is due
 * either way */
int standin_http_start(struct standin_http *h, void (*serve)(void *data, int cfd), void *data);
/* shuts the listening socket down and waits for the accept loop to end */
void standin_http_stop(struct standin_http *h);
/* reads a request's head from cfd into req (room for max + 1 bytes, NUL
 * terminated) until its blank line, EOF or max bytes; returns its length,
 * 0 when the client sent nothing or a TLS ClientHello (0x16), which is
 * dropped so that the client falls back to plain HTTP, as it does for
 * loopback hosts */
size_t standin_read_head(int cfd, char *req, size_t max);

#endif
