/*
 * echo: a TCP echo server.  Each connection is one task that reads up to
 * 16 KiB and writes back what it read, until the peer closes.
 *
 *	echo [--port P] [--workers N] [--idle-timeout-ms MS]
 *
 * With --port 0 (the default) the kernel picks a free port; the server
 * prints "listening on 127.0.0.1:PORT" on stderr either way.  SIGINT or
 * SIGTERM stops it cleanly.
 */
#include "weft.h"

#include "serve.h"

/* 16 KiB per call: a whole burst of small messages, or a good slice of a
 * stream; it fits on the task's 64 KiB stack with room to spare. */
#define ECHO_BUF (16 * 1024)

static void echo_conn(int fd)
{
	char buf[ECHO_BUF];
	ssize_t n;

	for (;;) {
		n = serve_recv(fd, buf, sizeof(buf));
		if (n <= 0)
			return;	/* closed, reset, idle or shutting down */
		if (serve_send(fd, buf, (size_t)n) < 0)
			return;
	}
}

int main(int argc, char **argv)
{
	struct server s = {
		.name = "echo",
		.conn = echo_conn,
	};

	return serve_main(&s, argc, argv);
}
