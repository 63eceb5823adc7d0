/*
 * What the three example servers share: the command line, the listening
 * socket, the accept loop with one detached task per connection, and a
 * clean stop on SIGINT or SIGTERM.  Each server supplies only the function
 * that serves one connection.
 */
#ifndef WEFT_EXAMPLES_SERVE_H
#define WEFT_EXAMPLES_SERVE_H

#include <stdint.h>
#include <sys/types.h>

struct server {
	const char *name;	/* for the usage line and messages */
	/*
	 * Serve the connection fd until the peer leaves, an error, or the
	 * task is cancelled (shutdown).  Runs as its own task; serve closes
	 * fd after it returns.
	 */
	void (*conn)(int fd);
	/* Defaults, overridden by the command line. */
	int port;			/* --port P; 0: any free port */
	unsigned workers;		/* --workers N; 0: one per CPU */
	uint64_t idle_timeout_ms;	/* --idle-timeout-ms MS; 0: none */
};

/*
 * Parse the command line into s, listen on 127.0.0.1, print
 * "listening on 127.0.0.1:PORT" on stderr, serve until SIGINT or SIGTERM,
 * and return main()'s exit status: 0 after a signal, 1 on an error, 2 for
 * a bad command line.
 */
int serve_main(struct server *s, int argc, char **argv);

/*
 * weft_recv and weft_send_all (with MSG_NOSIGNAL) bounded by the idle
 * timeout: -ETIMEDOUT when the peer neither sends nor reads for that long.
 */
ssize_t serve_recv(int fd, void *buf, size_t len);
ssize_t serve_send(int fd, const void *buf, size_t len);

/*
 * Request deadlines, against clients that send a byte just often enough
 * never to be idle (slowloris).  serve_deadline: the time (weft_now() ns)
 * by which a request whose first bytes arrive now must have arrived whole,
 * one idle timeout from now, or 0 when there is no idle timeout.
 * serve_recv_until: serve_recv, but also -ETIMEDOUT once deadline has
 * passed (0: none).
 */
uint64_t serve_deadline(void);
ssize_t serve_recv_until(int fd, void *buf, size_t len, uint64_t deadline);

/*
 * Before the server closes a connection (after an error reply, QUIT,
 * Connection: close): stop sending, then read and drop what the peer still
 * sends, until it closes or for at most a second, so that closing with
 * unread bytes does not reset the connection before the peer has read the
 * last reply.
 */
void serve_linger(int fd);

#endif /* WEFT_EXAMPLES_SERVE_H */
