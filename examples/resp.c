/*
 * resp: a Redis-protocol (RESP2) server over an in-memory store, enough
 * for redis-cli and redis-benchmark (see resp_cmd.h for the commands).
 *
 *	resp [--port P] [--workers N] [--idle-timeout-ms MS]
 *
 * One task per connection reads into a buffer, runs every complete
 * command in it, in order, appending the replies to one output buffer, and
 * sends that once per read (or whenever 64 KiB of replies have piled up):
 * a pipelined burst gets its replies in one send.  As in Redis, a protocol
 * error is answered with "-ERR Protocol error: ..." and the connection
 * closed; any other error keeps it.  The read buffer grows to fit one
 * whole command, up to RESP_MAX_REQUEST (64 MiB), and shrinks back when it
 * empties.  No idle timeout by default, as Redis's "timeout 0".
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "weft.h"

#include "resp_cmd.h"
#include "resp_parse.h"
#include "resp_store.h"
#include "serve.h"

#define RBUF_INIT (16 * 1024)
#define ARGV_INIT 16
/* Send what has piled up past this, so that a long pipeline of large
 * replies does not all sit in memory. */
#define OUT_FLUSH (64 * 1024)
/* An output buffer grown past this by a large reply is freed once sent. */
#define OUT_KEEP (1024 * 1024)

/* Created in main() before the runtime starts, freed after it stops. */
static struct store *store;

struct conn {
	int fd;
	char *rbuf;
	size_t rlen, rcap;
	struct resp_arg *argv;
	size_t argcap;
	struct resp_out out;
};

static int flush(struct conn *c)
{
	ssize_t n = 0;

	if (c->out.failed)
		return -ENOMEM;	/* a reply is missing: the stream is wrong */
	if (c->out.len)
		n = serve_send(c->fd, c->out.p, c->out.len);
	c->out.len = 0;
	if (c->out.cap > OUT_KEEP)
		resp_out_free(&c->out);
	return n < 0 ? (int)n : 0;
}

/* Room for n arguments, as resp_parse asked with -ENOBUFS. */
static int grow_argv(struct conn *c, size_t n)
{
	struct resp_arg *a = realloc(c->argv, n * sizeof(*a));

	if (!a)
		return -ENOMEM;
	c->argv = a;
	c->argcap = n;
	return 0;
}

/*
 * Run every complete command in the read buffer and drop it from the
 * buffer.  Returns 1 when the connection is to close once the replies are
 * sent (QUIT, protocol error), 0 to read on, or a negative errno.
 */
static int run_all(struct conn *c)
{
	struct resp_cmd cmd;
	char msg[sizeof(cmd.err) + 4];
	/* One clock read per read buffer, not per command: a pipelined
	 * burst is one instant for expiry, as a Redis event-loop cycle
	 * (the read was 4.5% of a -P 16 run's time). */
	uint64_t now = weft_now();
	size_t off = 0;
	ssize_t r;
	int ret = 0;

	for (;;) {
		cmd.argv = c->argv;
		cmd.cap = c->argcap;
		r = resp_parse(c->rbuf + off, c->rlen - off, &cmd);
		if (r == -ENOBUFS && (ret = grow_argv(c, cmd.argc)) == 0)
			continue;
		if (r == -EPROTO) {
			snprintf(msg, sizeof(msg), "ERR %s", cmd.err);
			resp_out_error(&c->out, msg);
			ret = 1;
		}
		if (r <= 0)
			break;
		off += (size_t)r;
		if (resp_exec(store, cmd.argv, cmd.argc, &c->out, now) ==
		    RESP_EXEC_CLOSE) {
			ret = 1;
			break;
		}
		if (c->out.len >= OUT_FLUSH && (ret = flush(c)) < 0)
			break;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return ret;
}

/* Make room to read: double a full buffer (resp_parse refuses a command
 * over RESP_MAX_REQUEST, so that bounds it), shrink an empty big one. */
static int make_room(struct conn *c)
{
	size_t cap = c->rcap;
	char *p;

	if (c->rlen == 0 && c->rcap > RBUF_INIT)
		cap = RBUF_INIT;
	else if (c->rlen == c->rcap && c->rcap < RESP_MAX_REQUEST)
		cap = c->rcap * 2;
	else if (c->rlen == c->rcap)
		return -EPROTO;	/* not reached */
	if (cap == c->rcap)
		return 0;
	p = realloc(c->rbuf, cap);
	if (!p)
		return -ENOMEM;
	c->rbuf = p;
	c->rcap = cap;
	return 0;
}

static void resp_conn(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	ssize_t n;
	int r = 0;

	if (!c)
		return;
	c->fd = fd;
	c->rcap = RBUF_INIT;
	c->rbuf = malloc(c->rcap);
	if (c->rbuf && grow_argv(c, ARGV_INIT) < 0)
		r = -ENOMEM;
	while (c->rbuf && r == 0 && make_room(c) == 0) {
		n = serve_recv(fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n <= 0)
			break;	/* closed, reset, idle or shutting down */
		c->rlen += (size_t)n;
		r = run_all(c);
		if (r >= 0 && flush(c) < 0)
			r = -1;
	}
	if (r == 1)
		serve_linger(fd);
	resp_out_free(&c->out);
	free(c->argv);
	free(c->rbuf);
	free(c);
}

int main(int argc, char **argv)
{
	struct server s = {
		.name = "resp",
		.conn = resp_conn,
	};
	uint64_t seed = 0;
	int r;

	/* A per-process hash seed; a fixed one would do but for floods. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)(uintptr_t)&seed ^ (uint64_t)getpid();
	store = store_new(seed);
	if (!store) {
		fprintf(stderr, "resp: %s\n", strerror(ENOMEM));
		return 1;
	}
	r = serve_main(&s, argc, argv);
	store_free(store);
	return r;
}
