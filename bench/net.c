/*
 * The servers of the network workloads (WORKLOADS.md, "I/O workloads"):
 *
 *	weft-bench serve_echo|serve_sink|serve_http --port P
 *
 * peers/run.sh starts one, waits until 127.0.0.1:P listens, drives it with
 * peers/loadgen (tcp_echo, tcp_stream) or wrk (http_plaintext) and stops it
 * with SIGTERM (SIGKILL 2 s later).  The servers print no result line: the
 * client does.  Each is written as the Go peer's serveEcho, serveSink and
 * serveHTTPRaw (peers/go/main.go): one listening socket on 127.0.0.1
 * (backlog 4096), one acceptor task, one detached task per connection,
 * TCP_NODELAY on every connection (as Go's and Tokio's servers).
 *
 * serve_echo: 16 KiB recv, weft_send_all of what came, until EOF or error.
 * serve_sink: 64 KiB recvs, discarded; at EOF one byte of acknowledgement.
 * serve_http: HTTP/1.1 keep-alive, GET without body.  Bytes accumulate in a
 * 16 KiB buffer; after each recv every complete head ("\r\n\r\n") gets the
 * 13-byte "Hello, World!" response, and all the responses to one recv go
 * out in one send (pipelining-safe); a partial head waits for the next
 * recv.  A head that is not a GET, or one larger than the buffer, closes
 * the connection.
 *
 * Shutdown: SIGTERM and SIGINT are blocked before weft_run (so that every
 * runtime thread inherits the mask) and the main task waits for them with
 * weft_signal_wait; it then cancels the acceptor and returns, and weft_run
 * cancels and joins the connection tasks.  Exit status 0, or 2 when the
 * port cannot be bound (as the Go peer; run.sh retries another port when
 * the message says "in use").  SIGPIPE is ignored, and every send also
 * passes MSG_NOSIGNAL: a client that leaves early is an error value.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "weft.h"

#include "bench.h"

#define BACKLOG 4096
#define ECHO_BUF (16 << 10)	/* as the Go and Tokio peers */
#define SINK_BUF (64 << 10)
#define HTTP_BUF (16 << 10)
#define HTTP_OUT (16 << 10)	/* responses to one recv; flushed when full */
#define ACCEPT_RETRY_NS 1000000u	/* 1 ms after a failed accept */

static const char http_response[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	"Content-Length: 13\r\n\r\nHello, World!";
#define HTTP_RESPONSE_LEN (sizeof(http_response) - 1)

struct server {
	const char *kind;
	int port;
	int (*conn)(void *);	/* the task of one connection */
	int lfd;
	bool listen_failed;
};

/* Close a connection even if the task was cancelled (at shutdown). */
static void conn_close(int c)
{
	weft_shield_begin();
	weft_close(c);
	weft_shield_end();
}

static int echo_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char *buf = malloc(ECHO_BUF);
	ssize_t n;

	while (buf) {
		n = weft_recv(c, buf, ECHO_BUF, 0);
		if (n <= 0)
			break;
		if (weft_send_all(c, buf, (size_t)n, MSG_NOSIGNAL) < 0)
			break;
	}
	free(buf);
	conn_close(c);
	return 0;
}

static int sink_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char *buf = malloc(SINK_BUF);
	ssize_t n;

	while (buf) {
		n = weft_recv(c, buf, SINK_BUF, 0);
		if (n == 0) {
			weft_send_all(c, "\1", 1, MSG_NOSIGNAL);
			break;
		}
		if (n < 0)
			break;
	}
	free(buf);
	conn_close(c);
	return 0;
}

/*
 * Answer every complete head in buf[0, *have); keep the partial one at the
 * front of buf.  *scan is where the search for "\r\n\r\n" resumes (no head
 * ends before it).  0 to read on, -1 to close the connection.
 */
static int http_answer(int c, char *buf, size_t *have, size_t *scan,
		       char *out)
{
	size_t pos = 0, nout = 0;
	char *p;

	while ((p = memmem(buf + *scan, *have - *scan, "\r\n\r\n", 4))) {
		if (memcmp(buf + pos, "GET ", 4) != 0)
			return -1;
		if (nout + HTTP_RESPONSE_LEN > HTTP_OUT) {
			if (weft_send_all(c, out, nout, MSG_NOSIGNAL) < 0)
				return -1;
			nout = 0;
		}
		memcpy(out + nout, http_response, HTTP_RESPONSE_LEN);
		nout += HTTP_RESPONSE_LEN;
		pos = *scan = (size_t)(p - buf) + 4;
	}
	if (nout && weft_send_all(c, out, nout, MSG_NOSIGNAL) < 0)
		return -1;
	memmove(buf, buf + pos, *have - pos);
	*have -= pos;
	*scan = *have >= 3 ? *have - 3 : 0;
	return *have == HTTP_BUF ? -1 : 0;
}

static int http_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	char *buf = malloc(HTTP_BUF + HTTP_OUT);
	size_t have = 0, scan = 0;
	ssize_t n;

	while (buf) {
		n = weft_recv(c, buf + have, HTTP_BUF - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		if (http_answer(c, buf, &have, &scan, buf + HTTP_BUF) < 0)
			break;
	}
	free(buf);
	conn_close(c);
	return 0;
}

static int accept_loop(void *arg)
{
	struct server *s = arg;
	int c, one = 1;
	weft_task *t;

	for (;;) {
		c = weft_accept(s->lfd, NULL, NULL);
		if (c == -ECANCELED)
			return 0;
		if (c < 0) {
			/* As Go's serve loop: report and go on (EMFILE...),
			 * but without spinning on an error that stays. */
			fprintf(stderr, "accept: %s\n", strerror(-c));
			if (weft_sleep(ACCEPT_RETRY_NS) == -ECANCELED)
				return 0;
			continue;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t = weft_spawn(s->conn, (void *)(intptr_t)c);
		if (!t) {
			fprintf(stderr, "spawn: %s\n", strerror(errno));
			conn_close(c);
			continue;
		}
		weft_detach(t);
	}
}

static int serve_main(void *arg)
{
	struct server *s = arg;
	weft_task *acceptor;
	sigset_t set;
	int r;

	s->lfd = weft_listen_tcp("127.0.0.1", s->port, BACKLOG);
	if (s->lfd < 0) {
		fprintf(stderr, "listen: %s\n", strerror(-s->lfd));
		s->listen_failed = true;
		return s->lfd;
	}
	fprintf(stderr, "listening on 127.0.0.1:%d\n", s->port);
	acceptor = weft_spawn(accept_loop, s);
	if (!acceptor) {
		r = -errno;
		weft_close(s->lfd);
		return r;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	r = weft_signal_wait(&set);
	if (r < 0)
		fprintf(stderr, "%s: weft_signal_wait: %s\n", s->kind,
			strerror(-r));
	weft_cancel(acceptor);
	weft_join(acceptor);
	weft_close(s->lfd);
	return r < 0 ? r : 0;
}

static int serve(const struct bench_opts *o, const char *kind,
		 int (*conn)(void *))
{
	struct server s = { .kind = kind, .port = o->port, .conn = conn };
	sigset_t set;
	int r;

	if (o->port == 0) {
		fprintf(stderr, "serve_* needs --port P\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	r = bench_run(o, serve_main, &s);
	if (s.listen_failed)
		return 2;
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", kind, strerror(-r));
		return 1;
	}
	return 0;
}

int bench_serve_echo(const struct bench_opts *o)
{
	return serve(o, "serve_echo", echo_conn);
}

int bench_serve_sink(const struct bench_opts *o)
{
	return serve(o, "serve_sink", sink_conn);
}

int bench_serve_http(const struct bench_opts *o)
{
	return serve(o, "serve_http", http_conn);
}
