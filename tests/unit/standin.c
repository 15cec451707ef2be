/* standin.c - see standin.h */
#include "tests/unit/standin.h"
#include "tests/unit/tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* one connection at a time, until the listening socket is shut down */
static void *standin_accept_loop(void *data)
{
	struct standin_http *h = data;

	for (int cfd; (cfd = accept(h->fd, NULL, NULL)) >= 0; close(cfd))
		h->serve(h->data, cfd);
	return NULL;
}

int standin_http_start(struct standin_http *h, void (*serve)(void *data, int cfd), void *data)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	memset(h, 0, sizeof(*h));
	h->serve = serve;
	h->data = data;
	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(h->fd, 16) < 0 || getsockname(h->fd, (struct sockaddr *)&a, &len) < 0)
		return ok(0, "start the stand-in server on 127.0.0.1"), -1;
	h->port = ntohs(a.sin_port);
	h->running = pthread_create(&h->th, NULL, standin_accept_loop, h) == 0;
	if (!h->running)
		return ok(0, "start the stand-in server thread"), -1;
	return 0;
}

void standin_http_stop(struct standin_http *h)
{
	if (h->fd >= 0)
		shutdown(h->fd, SHUT_RDWR); /* accept() fails: the loop ends */
	if (h->running)
		pthread_join(h->th, NULL);
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->running = false;
}

size_t standin_read_head(int cfd, char *req, size_t max)
{
	size_t n = 0;
	ssize_t r;

	req[0] = '\0';
	while (n < max && (r = read(cfd, req + n, max - n)) > 0) {
		n += (size_t)r;
		req[n] = '\0';
		if ((unsigned char)req[0] == 0x16 || strstr(req, "\r\n\r\n"))
			break;
	}
	return n == 0 || (unsigned char)req[0] == 0x16 ? 0 : n;
}
