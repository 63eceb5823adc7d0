/*
 * http: an HTTP/1.1 server that answers GET / with "Hello, World!"
 * (WORKLOADS.md http_plaintext).
 *
 *	http [--port P] [--workers N] [--idle-timeout-ms MS]
 *
 * One task per connection reads into a buffer, answers every complete
 * request in it, in order, from one output buffer, and sends that once per
 * read: a pipelined burst gets its answers in one send (or one per 16 KiB
 * of answers).  Then it reads again.  The connection closes
 *   - after the answer to a request that does not keep it alive
 *     (Connection: close, or HTTP/1.0 without Connection: keep-alive);
 *   - after an error answer: 400 for a malformed request, 431 for a head
 *     over HTTP_MAX_HEADER, 413 for a body over HTTP_MAX_BODY, 501 for
 *     Transfer-Encoding; the rest of the stream cannot be trusted;
 *   - when the peer sends nothing for the idle timeout (default 30 s), or
 *     does not read its answers for that long;
 *   - with 408 when a request has not arrived whole one idle timeout
 *     after its first bytes: a client that sends a byte now and then is
 *     never idle, and would otherwise hold its connection for ever
 *     (slowloris; examples/abuse.py).
 * GET and HEAD of "/" give 200; other targets 404; other methods on "/"
 * 405.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

#include "http_parse.h"
#include "serve.h"

/*
 * Reads start in 16 KiB on the task's stack and move to the heap only to
 * grow, to fit one whole request.  The connection's buffers live on its
 * 64 KiB stack, as echo's do, rather than in a malloc per connection: the
 * runtime reuses stacks, pages included, so the server's RSS stays flat
 * under connection churn, where per-connection heap buffers left it
 * wandering with the allocator's dirty-page decay (tools/soak.sh: 5.7 to
 * 6.9 MiB; docs/robustness.md).
 */
#define RBUF_INIT (16 * 1024)
#define RBUF_MAX (HTTP_MAX_HEADER + HTTP_MAX_BODY)
#define OBUF_SIZE (16 * 1024)
/* Longest answer that respond() builds: a status line and four headers. */
#define ANSWER_MAX 256

static const char hello_200[] =
	"HTTP/1.1 200 OK\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 13\r\n"
	"\r\n"
	"Hello, World!";

struct conn {
	int fd;
	uint64_t deadline;	/* serve_deadline() of the pending request */
	char *rbuf;		/* ibuf, or a heap buffer for a big request */
	size_t rlen, rcap;
	size_t olen;
	char obuf[OBUF_SIZE];
	char ibuf[RBUF_INIT];
};

/* RFC 9110's reason phrases, also the bodies of the error answers. */
static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Not Implemented";
	}
}

static int flush(struct conn *c)
{
	ssize_t n = 0;

	if (c->olen)
		n = serve_send(c->fd, c->obuf, c->olen);
	c->olen = 0;
	return n < 0 ? (int)n : 0;
}

/*
 * Append one answer.  The common case, 200 on a kept HTTP/1.1 connection,
 * is a constant; the others spell Connection out, since an HTTP/1.0 peer
 * assumes close unless told keep-alive (RFC 9112 section 9.3).
 */
static int respond(struct conn *c, int status, bool head_only, bool keep,
		   int minor)
{
	const char *body = status == 200 ? "Hello, World!" : reason(status);
	int n;

	if (OBUF_SIZE - c->olen < ANSWER_MAX && flush(c) < 0)
		return -1;
	if (status == 200 && keep && minor >= 1 && !head_only) {
		memcpy(c->obuf + c->olen, hello_200, sizeof(hello_200) - 1);
		c->olen += sizeof(hello_200) - 1;
		return 0;
	}
	n = snprintf(c->obuf + c->olen, OBUF_SIZE - c->olen,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain\r\n"
		     "Content-Length: %zu\r\n"
		     "%s%s\r\n%s",
		     status, reason(status), strlen(body),
		     status == 405 ? "Allow: GET, HEAD\r\n" : "",
		     !keep ? "Connection: close\r\n" :
		     minor == 0 ? "Connection: keep-alive\r\n" : "",
		     head_only ? "" : body);
	c->olen += (size_t)n;
	return 0;
}

static int answer(struct conn *c, const struct http_request *r)
{
	bool get = r->method_len == 3 && memcmp(r->method, "GET", 3) == 0;
	bool head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
	int status = 200;

	if (r->target_len != 1 || r->target[0] != '/')
		status = 404;
	else if (!get && !head)
		status = 405;
	return respond(c, status, head, r->keep_alive, r->minor);
}

/*
 * Answer every complete request in the read buffer and drop it from the
 * buffer.  Returns 1 when the connection is to close (its last answer is
 * in obuf), 0 to read on, or a negative value when a send failed.
 */
static int answer_all(struct conn *c)
{
	struct http_request req;
	size_t off = 0;
	ssize_t r;
	int ret = 0;

	for (;;) {
		r = http_parse(c->rbuf + off, c->rlen - off, &req);
		if (r == 0)
			break;
		if (r < 0) {
			ret = respond(c, (int)-r, false, false, 1) < 0 ? -1 : 1;
			break;
		}
		off += (size_t)r;
		if (answer(c, &req) < 0) {
			ret = -1;
			break;
		}
		if (!req.keep_alive) {
			ret = 1;
			break;
		}
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	/* What is left is the start of the next request: its clock starts
	 * now, with the bytes that ended the last one. */
	if (off || !c->rlen)
		c->deadline = 0;
	if (c->rlen && !c->deadline)
		c->deadline = serve_deadline();
	return ret;
}

/* Make room to read: grow a full buffer up to one whole request, go
 * back to ibuf once a big request's buffer is empty. */
static int make_room(struct conn *c)
{
	size_t cap;
	char *p;

	if (c->rlen == 0 && c->rbuf != c->ibuf) {
		free(c->rbuf);
		c->rbuf = c->ibuf;
		c->rcap = RBUF_INIT;
	}
	if (c->rlen < c->rcap)
		return 0;
	if (c->rcap >= RBUF_MAX)
		return -1;	/* not reached: http_parse bounds a request */
	cap = c->rcap * 2 < RBUF_MAX ? c->rcap * 2 : RBUF_MAX;
	p = realloc(c->rbuf == c->ibuf ? NULL : c->rbuf, cap);
	if (!p)
		return -1;
	if (c->rbuf == c->ibuf)
		memcpy(p, c->ibuf, c->rlen);
	c->rbuf = p;
	c->rcap = cap;
	return 0;
}

static void http_conn(int fd)
{
	struct conn conn, *c = &conn;
	ssize_t n;
	int r = 0;

	c->fd = fd;
	c->deadline = 0;
	c->rlen = c->olen = 0;
	c->rcap = RBUF_INIT;
	c->rbuf = c->ibuf;
	while (r == 0 && make_room(c) == 0) {
		n = serve_recv_until(fd, c->rbuf + c->rlen, c->rcap - c->rlen,
				     c->deadline);
		if (n == -ETIMEDOUT && c->rlen) {
			r = respond(c, 408, false, false, 1) < 0 ? -1 : 1;
			if (r == 1 && flush(c) < 0)
				r = -1;
			break;
		}
		if (n <= 0)
			break;	/* closed, reset, idle or shutting down */
		c->rlen += (size_t)n;
		r = answer_all(c);
		if (r >= 0 && flush(c) < 0)
			r = -1;
	}
	if (r == 1)
		serve_linger(fd);
	if (c->rbuf != c->ibuf)
		free(c->rbuf);
}

int main(int argc, char **argv)
{
	struct server s = {
		.name = "http",
		.conn = http_conn,
		.idle_timeout_ms = 30 * 1000,
	};

	return serve_main(&s, argc, argv);
}
