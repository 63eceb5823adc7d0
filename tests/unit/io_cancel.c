/*
 * Cancellation and deadlines of the blocking I/O calls: accept, recv,
 * send, read, connect and poll.  For each: a task blocked in the call and
 * cancelled by another task gets -ECANCELED promptly; inside
 * WEFT_WITH_TIMEOUT(50 ms) it gets -ETIMEDOUT, never early; in a task
 * cancelled before the call it gets -ECANCELED at once.  After each, the
 * descriptor still works and no byte or connection was lost: the cancelled
 * operation was withdrawn from the kernel before the call returned.
 *
 * Then the buffer rules (the kernel writes nothing into a cancelled
 * call's buffer, on the heap or on the task's stack), races between a
 * cancel and arriving data, shields, and waits in both directions on one
 * socket.  Backend-neutral: CI runs this file again with
 * WEFT_IO_BACKEND=epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "tests/unit/io_helpers.h"

TestSuite(io_cancel, .timeout = 180);

#define MS 1000000ull
#define SEC (1000 * MS)
#define BOUND (20 * SEC)	/* a wait that should end at once */
#define PROMPT (5 * SEC)	/* "promptly", on a slow shared machine */
#define DEADLINE (50 * MS)
#define BUFSZ 65536

static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_EACH_WORKERS(w)                                                  \
	for (unsigned wi_ = 0, w;                                            \
	     wi_ < sizeof(workers_set) / sizeof(workers_set[0]) &&           \
	     (w = workers_set[wi_], 1);                                      \
	     wi_++)

#define RUN_EACH(fn, arg)                                                    \
	FOR_EACH_WORKERS(w_)                                                 \
	{                                                                    \
		int r_ = t_run(fn, arg, w_);                                 \
		cr_assert_eq(r_, 0, "weft_run returned %d with %u workers",  \
			     r_, w_);                                        \
	}

/* ---------------------------------------------------------------- helpers */

/* The byte at position i of the stream the send fixtures write. */
static unsigned char pat(uint64_t i)
{
	return (unsigned char)(i * 131 + (i >> 9) + 7);
}

static void pat_fill(unsigned char *p, size_t n, uint64_t from)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(from + i);
}

/*
 * Fill fd's send buffer (and the peer's receive buffer) with the pattern
 * until the socket stays unwritable for 200 ms; returns the bytes queued.
 * Plain calls: the socket is non-blocking, and weft has not waited on it.
 */
static uint64_t fill_send_buffer(int fd, int peer)
{
	unsigned char chunk[4096];
	uint64_t queued = 0;
	int small = 16384;
	ssize_t r;

	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)), 0);
	cr_assert_eq(setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)), 0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		for (;;) {
			pat_fill(chunk, sizeof(chunk), queued);
			r = send(fd, chunk, sizeof(chunk),
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r < 0)
				break;
			queued += (uint64_t)r;
		}
		cr_assert_eq(t_errno(), EAGAIN, "filling: errno %d", t_errno());
		if (poll(&p, 1, 200) == 0)
			break;
	}
	return queued;
}

/*
 * Close the writing end's direction and read the whole stream at peer:
 * every byte must follow the pattern, and there must be exactly `total`.
 */
static void drain_and_check(int fd, int peer, uint64_t total)
{
	unsigned char *buf = malloc(BUFSZ);
	uint64_t pos = 0;
	ssize_t r = 0;

	cr_assert_not_null(buf);
	cr_assert_eq(weft_shutdown(fd, SHUT_WR), 0, "shutdown");
	WEFT_WITH_TIMEOUT(BOUND)
	{
		while ((r = weft_recv(peer, buf, BUFSZ, 0)) > 0) {
			for (ssize_t i = 0; i < r; i++)
				cr_assert_eq(buf[i], pat(pos + (uint64_t)i),
					     "byte %llu of the stream is wrong",
					     (unsigned long long)(pos + i));
			pos += (uint64_t)r;
		}
	}
	cr_assert_eq(r, 0, "draining ended with %zd", r);
	cr_assert_eq(pos, total, "the peer received %llu bytes, the sender "
		     "reported %llu", (unsigned long long)pos,
		     (unsigned long long)total);
	free(buf);
}

/* ------------------------------------------------------- the op fixtures */

struct fx {
	int fd;		/* the descriptor of the blocked call */
	int peer;	/* socket peer or pipe write end; -1 if none */
	int lfd;	/* listener (accept, connect) */
	int port;
	int probes[8];	/* connect: the clients that filled the backlog */
	int nprobes;
	struct sockaddr_in addr;
	unsigned char *buf;
	uint64_t queued;	/* send: bytes in the stream before the call */
};

struct op {
	const char *name;
	void (*setup)(struct fx *);
	ssize_t (*call)(struct fx *);
	/* After the call returned r: the descriptor still works, nothing
	 * was lost; then free everything. */
	void (*after)(struct fx *, ssize_t r);
};

/* accept: a listener nobody connects to. */
static void accept_setup(struct fx *f)
{
	f->lfd = listen_local(&f->port);
	f->fd = f->lfd;
}

static ssize_t accept_call(struct fx *f)
{
	return weft_accept(f->fd, NULL, NULL);
}

static void accept_after(struct fx *f, ssize_t r)
{
	int c = weft_dial_tcp("127.0.0.1", f->port), s;

	cr_assert_geq(c, 0, "dial: %d", c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(f->lfd, NULL, NULL);
	}
	cr_assert_geq(s, 0, "the accept after the cancelled one: %d", s);
	send_str(c, "after");
	expect_bytes(s, "after");
	close_ok(c);
	close_ok(s);
	close_ok(f->lfd);
}

/* recv: a connection on which nobody sends. */
static void recv_setup(struct fx *f)
{
	tcp_pair(&f->fd, &f->peer);
}

static ssize_t recv_call(struct fx *f)
{
	return weft_recv(f->fd, f->buf, BUFSZ, 0);
}

static void recv_after(struct fx *f, ssize_t r)
{
	send_str(f->peer, "after");
	expect_bytes(f->fd, "after");
	close_ok(f->fd);
	close_ok(f->peer);
}

/* send: a connection whose buffers are full; nobody reads. */
static void send_setup(struct fx *f)
{
	tcp_pair(&f->fd, &f->peer);
	f->queued = fill_send_buffer(f->fd, f->peer);
	pat_fill(f->buf, BUFSZ, f->queued);
}

static ssize_t send_call(struct fx *f)
{
	return weft_send(f->fd, f->buf, BUFSZ, MSG_NOSIGNAL);
}

static void send_after(struct fx *f, ssize_t r)
{
	drain_and_check(f->fd, f->peer, f->queued + (r > 0 ? (uint64_t)r : 0));
	close_ok(f->fd);
	close_ok(f->peer);
}

/* read: a pipe with nothing written. */
static void pipe_setup(struct fx *f)
{
	int p[2];

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2");
	f->fd = p[0];
	f->peer = p[1];
}

static ssize_t read_call(struct fx *f)
{
	return weft_read(f->fd, f->buf, 4096, WEFT_OFF_CURRENT);
}

static void pipe_after(struct fx *f, ssize_t r)
{
	char buf[8] = { 0 };
	ssize_t w;

	w = weft_write(f->peer, "after", 5, WEFT_OFF_CURRENT);
	cr_assert_eq(w, 5, "write to the pipe: %zd", w);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		w = weft_read(f->fd, buf, sizeof(buf), WEFT_OFF_CURRENT);
	}
	cr_assert_eq(w, 5, "the read after the cancelled one: %zd", w);
	cr_assert_eq(memcmp(buf, "after", 5), 0, "got %.5s", buf);
	close_ok(f->fd);
	close_ok(f->peer);
}

/*
 * connect: a listener with backlog 0 that never accepts.  Its accept queue
 * holds one connection; once that is full, the kernel drops further SYNs
 * and a connect waits (SYN retransmits for about two minutes).  This is
 * deterministic on loopback, unlike a non-routable address, whose
 * behaviour depends on the sandbox's routes.  The listener and the probes
 * are plain sockets (weft never waits on them).
 */
static void connect_setup(struct fx *f)
{
	socklen_t len = sizeof(f->addr);
	int stuck = 0;

	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->lfd, 0);
	memset(&f->addr, 0, sizeof(f->addr));
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&f->addr,
			  sizeof(f->addr)), 0);
	cr_assert_eq(getsockname(f->lfd, (struct sockaddr *)&f->addr, &len),
		     0);
	cr_assert_eq(listen(f->lfd, 0), 0);
	/* Probe until a connect hangs for a second: the queue is full. */
	while (!stuck && f->nprobes < 8) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
					SOCK_NONBLOCK, 0);
		struct pollfd p = { .fd = c, .events = POLLOUT };

		cr_assert_geq(c, 0);
		f->probes[f->nprobes++] = c;
		if (connect(c, (struct sockaddr *)&f->addr,
			    sizeof(f->addr)) == 0)
			continue;
		cr_assert_eq(t_errno(), EINPROGRESS, "probe connect: %d",
			     t_errno());
		stuck = poll(&p, 1, 1000) == 0;
	}
	cr_assert(stuck, "could not fill the accept queue of a backlog-0 "
		  "listener with %d connections", f->nprobes);
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(f->fd, 0);
}

static ssize_t connect_call(struct fx *f)
{
	return weft_connect(f->fd, (struct sockaddr *)&f->addr,
			    sizeof(f->addr));
}

static void connect_after(struct fx *f, ssize_t r)
{
	/* The socket is left half-way; closing it is all one can do. */
	close_ok(f->fd);
	for (int i = 0; i < f->nprobes; i++)
		close(f->probes[i]);
	close(f->lfd);
}

/* poll: a pipe with nothing written. */
static ssize_t poll_call(struct fx *f)
{
	return weft_poll(f->fd, POLLIN);
}

static void poll_after(struct fx *f, ssize_t r)
{
	char b = 0;
	ssize_t w;

	w = weft_write(f->peer, "p", 1, WEFT_OFF_CURRENT);
	cr_assert_eq(w, 1, "write: %zd", w);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		w = weft_poll(f->fd, POLLIN);
	}
	cr_assert(w > 0 && (w & POLLIN), "the poll after the cancelled one "
		  "returned %zd", w);
	w = weft_read(f->fd, &b, 1, WEFT_OFF_CURRENT);
	cr_assert_eq(w, 1, "read: %zd", w);
	cr_assert_eq(b, 'p');
	close_ok(f->fd);
	close_ok(f->peer);
}

static const struct op op_accept = { "weft_accept", accept_setup,
				     accept_call, accept_after };
static const struct op op_recv = { "weft_recv", recv_setup, recv_call,
				   recv_after };
static const struct op op_send = { "weft_send", send_setup, send_call,
				   send_after };
static const struct op op_read = { "weft_read", pipe_setup, read_call,
				   pipe_after };
static const struct op op_connect = { "weft_connect", connect_setup,
				      connect_call, connect_after };
static const struct op op_poll = { "weft_poll", pipe_setup, poll_call,
				   poll_after };

/* ----------------------------------------------- cancel, deadline, pre */

enum mode { M_CANCEL, M_DEADLINE, M_PRECANCEL };

struct blocked {
	const struct op *op;
	struct fx *f;
	enum mode mode;
	atomic_int started;
	atomic_int done;
	ssize_t r;
	uint64_t elapsed;
};

static int blocked_task(void *arg)
{
	struct blocked *b = arg;
	uint64_t t0;
	ssize_t r = -EINVAL;

	if (b->mode == M_PRECANCEL)
		weft_cancel(weft_self());
	atomic_store(&b->started, 1);
	t0 = weft_now();
	if (b->mode == M_DEADLINE) {
		WEFT_WITH_TIMEOUT(DEADLINE)
		{
			r = b->op->call(b->f);
		}
	} else {
		r = b->op->call(b->f);
	}
	b->elapsed = weft_now() - t0;
	b->r = r;
	atomic_store(&b->done, 1);
	return 0;
}

struct job {
	const struct op *op;
	enum mode mode;
};

static int job_main(void *arg)
{
	const struct job *j = arg;
	const char *name = j->op->name;
	struct fx f;
	struct blocked b;
	weft_task *t;
	uint64_t t0 = 0, dt;
	int r;

	memset(&f, 0, sizeof(f));
	f.fd = f.peer = f.lfd = -1;
	f.buf = malloc(BUFSZ);
	cr_assert_not_null(f.buf);
	j->op->setup(&f);
	memset(&b, 0, sizeof(b));
	b.op = j->op;
	b.f = &f;
	b.mode = j->mode;
	t = weft_spawn(blocked_task, &b);
	cr_assert_not_null(t, "spawn");
	cr_assert(wait_atomic(&b.started, 1), "the task never started");
	if (j->mode == M_CANCEL) {
		cr_assert(t_wait_parked(t), "the task never blocked");
		cr_assert_not(atomic_load(&b.done), "%s did not block: it "
			      "returned %zd", name, b.r);
		t0 = weft_now();
		weft_cancel(t);
	}
	r = weft_join_timeout(t, BOUND);
	dt = weft_now() - t0;
	cr_assert_eq(r, 0, "the task blocked in %s did not end within 20 s "
		     "(join_timeout %d)", name, r);
	switch (j->mode) {
	case M_CANCEL:
		cr_assert_eq(b.r, -ECANCELED, "%s cancelled returned %zd", name,
			     b.r);
		cr_assert_lt(dt, PROMPT, "%s took %.3f s to end after the "
			     "cancel", name, dt / 1e9);
		break;
	case M_DEADLINE:
		cr_assert_eq(b.r, -ETIMEDOUT, "%s past its deadline returned "
			     "%zd", name, b.r);
		cr_assert_geq(b.elapsed, DEADLINE, "%s timed out early, after "
			      "%llu ns", name, (unsigned long long)b.elapsed);
		cr_assert_lt(b.elapsed, DEADLINE + PROMPT, "%s timed out after "
			     "%.3f s", name, b.elapsed / 1e9);
		break;
	case M_PRECANCEL:
		cr_assert_eq(b.r, -ECANCELED, "%s in a cancelled task returned "
			     "%zd", name, b.r);
		cr_assert_lt(b.elapsed, PROMPT, "%s in a cancelled task took "
			     "%.3f s", name, b.elapsed / 1e9);
		break;
	}
	j->op->after(&f, b.r);
	free(f.buf);
	return 0;
}

static void run_job(const struct op *op, enum mode mode)
{
	struct job j = { op, mode };

	RUN_EACH(job_main, &j);
}

#define OP_TESTS(op)                                                         \
	Test(io_cancel, op##_blocked_then_cancelled_returns_ecanceled_promptly) \
	{                                                                    \
		run_job(&op_##op, M_CANCEL);                                 \
	}                                                                    \
	Test(io_cancel, op##_past_a_deadline_returns_etimedout)              \
	{                                                                    \
		run_job(&op_##op, M_DEADLINE);                               \
	}                                                                    \
	Test(io_cancel, op##_in_an_already_cancelled_task_returns_ecanceled_at_once) \
	{                                                                    \
		run_job(&op_##op, M_PRECANCEL);                              \
	}

OP_TESTS(accept)
OP_TESTS(recv)
OP_TESTS(send)
OP_TESTS(read)
OP_TESTS(connect)
OP_TESTS(poll)

/* ------------------------------------------------ the cancelled buffer */

#define CANARY 0xa5
#define DATA 0x5a
#define CANARY_LEN 4096

struct canary {
	int fd;
	int is_pipe;
	unsigned char *buf;
	atomic_int started;
	atomic_int done;
	ssize_t r;
};

static int canary_task(void *arg)
{
	struct canary *c = arg;

	atomic_store(&c->started, 1);
	if (c->is_pipe)
		c->r = weft_read(c->fd, c->buf, CANARY_LEN, WEFT_OFF_CURRENT);
	else
		c->r = weft_recv(c->fd, c->buf, CANARY_LEN, 0);
	atomic_store(&c->done, 1);
	return 0;
}

static void check_canary(const unsigned char *p, size_t n, unsigned char v,
			 const char *what)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(p[i], v, "%s: byte %zu is 0x%02x, not 0x%02x",
			     what, i, p[i], v);
}

static int canary_main(void *arg)
{
	int is_pipe = *(int *)arg, fd, peer, p[2];
	unsigned char *data = malloc(CANARY_LEN), *got = malloc(CANARY_LEN);
	struct canary c = { 0 };
	weft_task *t;
	ssize_t r;
	size_t n = 0;

	cr_assert(data && got);
	if (is_pipe) {
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		fd = p[0];
		peer = p[1];
	} else {
		tcp_pair(&fd, &peer);
	}
	c.fd = fd;
	c.is_pipe = is_pipe;
	c.buf = malloc(CANARY_LEN);
	cr_assert_not_null(c.buf);
	memset(c.buf, CANARY, CANARY_LEN);
	t = weft_spawn(canary_task, &c);
	cr_assert_not_null(t);
	cr_assert(wait_atomic(&c.started, 1));
	cr_assert(t_wait_parked(t), "the call never blocked");
	cr_assert_not(atomic_load(&c.done), "the call did not block: %zd",
		      c.r);
	weft_cancel(t);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0, "join");
	cr_assert_eq(c.r, -ECANCELED, "the cancelled call returned %zd", c.r);
	/* Now the data comes: a new call gets all of it. */
	memset(data, DATA, CANARY_LEN);
	memset(got, 0, CANARY_LEN);
	if (is_pipe)
		r = weft_write(peer, data, CANARY_LEN, WEFT_OFF_CURRENT);
	else
		r = weft_send_all(peer, data, CANARY_LEN, MSG_NOSIGNAL);
	cr_assert_eq(r, CANARY_LEN, "sending the data: %zd", r);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		while (n < CANARY_LEN) {
			r = is_pipe ? weft_read(fd, got + n, CANARY_LEN - n,
						WEFT_OFF_CURRENT)
				    : weft_recv(fd, got + n, CANARY_LEN - n, 0);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
	}
	cr_assert_eq(n, CANARY_LEN, "the new call got %zu of %d bytes (last "
		     "%zd): the cancelled one took some", n, CANARY_LEN, r);
	check_canary(got, CANARY_LEN, DATA, "the new call's buffer");
	weft_sleep(50 * MS);
	check_canary(c.buf, CANARY_LEN, CANARY, "the cancelled call's buffer");
	close_ok(fd);
	close_ok(peer);
	free(c.buf);
	free(data);
	free(got);
	return 0;
}

Test(io_cancel, a_cancelled_recv_leaves_its_heap_buffer_untouched_and_loses_no_bytes)
{
	int is_pipe = 0;

	RUN_EACH(canary_main, &is_pipe);
}

Test(io_cancel, a_cancelled_pipe_read_leaves_its_heap_buffer_untouched_and_loses_no_bytes)
{
	int is_pipe = 1;

	RUN_EACH(canary_main, &is_pipe);
}

/*
 * The buffer on the cancelled task's own stack: once the task has ended,
 * its stack goes back to the pool and the next task gets it.  That task
 * puts a canary over most of it while the data arrives.
 */
struct stack_recv {
	int fd;
	atomic_int started;
	atomic_int done;
	ssize_t r;
};

static __attribute__((noinline)) int stack_recv_task(void *arg)
{
	struct stack_recv *s = arg;
	unsigned char buf[CANARY_LEN];

	memset(buf, CANARY, sizeof(buf));
	atomic_store(&s->started, 1);
	s->r = weft_recv(s->fd, buf, sizeof(buf), 0);
	atomic_store(&s->done, 1);
	return buf[0] == CANARY ? 0 : 1;
}

#define STACK_CANARY 32768

struct stack_canary {
	weft_event go;
	atomic_int ready;
	size_t bad_at;
};

static __attribute__((noinline)) int stack_canary_task(void *arg)
{
	struct stack_canary *sc = arg;
	volatile unsigned char area[STACK_CANARY];
	size_t i;

	for (i = 0; i < STACK_CANARY; i++)
		area[i] = 0xc3;
	atomic_store(&sc->ready, 1);
	weft_event_wait(&sc->go);
	for (i = 0; i < STACK_CANARY; i++)
		if (area[i] != 0xc3) {
			sc->bad_at = i;
			return -EILSEQ;
		}
	return 0;
}

static int stack_main(void *arg)
{
	struct stack_recv s = { 0 };
	struct stack_canary sc;
	unsigned char data[CANARY_LEN], got[CANARY_LEN];
	weft_task *t, *k;
	int fd, peer, r;

	memset(&sc, 0, sizeof(sc));
	tcp_pair(&fd, &peer);
	s.fd = fd;
	t = weft_spawn(stack_recv_task, &s);
	cr_assert_not_null(t);
	cr_assert(wait_atomic(&s.started, 1));
	cr_assert(t_wait_parked(t), "recv never blocked");
	cr_assert_not(atomic_load(&s.done), "recv did not block: %zd", s.r);
	weft_cancel(t);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0, "join");
	cr_assert_eq(s.r, -ECANCELED, "the cancelled recv returned %zd", s.r);
	/* The next task takes the freed stack and paints it. */
	k = weft_spawn(stack_canary_task, &sc);
	cr_assert_not_null(k);
	cr_assert(wait_atomic(&sc.ready, 1));
	memset(data, DATA, sizeof(data));
	cr_assert_eq(weft_send_all(peer, data, sizeof(data), MSG_NOSIGNAL),
		     (ssize_t)sizeof(data));
	memset(got, 0, sizeof(got));
	cr_assert_eq(recv_full(fd, got, sizeof(got)), (ssize_t)sizeof(got),
		     "the data sent after the cancel did not all arrive");
	check_canary(got, sizeof(got), DATA, "received");
	weft_sleep(50 * MS);
	weft_event_set(&sc.go);
	r = weft_join_timeout(k, BOUND);
	cr_assert_eq(r, 0, "the stack of the next task was written at byte "
		     "%zu (status %d)", sc.bad_at, r);
	close_ok(fd);
	close_ok(peer);
	return 0;
}

Test(io_cancel, a_recv_cancelled_into_the_task_stack_writes_nothing_there_later)
{
	RUN_EACH(stack_main, NULL);
}

/* ------------------------------------------------ races: no byte lost */

struct racer {
	int fd;
	atomic_int started;
	ssize_t r;
	unsigned char b;
};

static int race_recv_task(void *arg)
{
	struct racer *x = arg;

	atomic_store(&x->started, 1);
	x->r = weft_recv(x->fd, &x->b, 1, 0);
	return 0;
}

#define RACES 200

static int race_data_main(void *arg)
{
	int fd, peer, i, got_by_task = 0, got_later = 0;
	unsigned char b;
	ssize_t r;

	tcp_pair(&fd, &peer);
	for (i = 0; i < RACES; i++) {
		struct racer x = { .fd = fd };
		weft_task *t = weft_spawn(race_recv_task, &x);

		cr_assert_not_null(t);
		cr_assert(wait_atomic(&x.started, 1));
		if (i % 2)
			weft_yield();
		b = (unsigned char)i;
		cr_assert_eq(weft_send(peer, &b, 1, MSG_NOSIGNAL), 1);
		weft_cancel(t);
		cr_assert_eq(weft_join_timeout(t, BOUND), 0, "join %d", i);
		if (x.r == 1) {
			cr_assert_eq(x.b, (unsigned char)i, "round %d: the task "
				     "got byte %u", i, x.b);
			got_by_task++;
			continue;
		}
		cr_assert_eq(x.r, -ECANCELED, "round %d: recv returned %zd", i,
			     x.r);
		/* Cancelled: the byte is still there for the next call. */
		b = 0xff;
		r = recv_full(fd, &b, 1);
		cr_assert_eq(r, 1, "round %d: the byte was lost (%zd)", i, r);
		cr_assert_eq(b, (unsigned char)i, "round %d: got byte %u", i, b);
		got_later++;
	}
	/* Nothing more is pending. */
	r = recv(fd, &b, 1, MSG_DONTWAIT);
	cr_assert(r < 0 && t_errno() == EAGAIN, "an extra byte: %zd", r);
	cr_log_info("io_cancel race: %d bytes to the task, %d after the cancel",
		    got_by_task, got_later);
	close_ok(fd);
	close_ok(peer);
	return 0;
}

Test(io_cancel, a_cancel_racing_with_arriving_data_never_loses_a_byte)
{
	RUN_EACH(race_data_main, NULL);
}

struct accept_racer {
	int lfd;
	atomic_int started;
	int r;
};

static int race_accept_task(void *arg)
{
	struct accept_racer *x = arg;

	atomic_store(&x->started, 1);
	x->r = weft_accept(x->lfd, NULL, NULL);
	return 0;
}

#define ACCEPT_RACES 50

static int race_accept_main(void *arg)
{
	int port, l = listen_local(&port), i, s, c;
	unsigned char b;

	for (i = 0; i < ACCEPT_RACES; i++) {
		struct accept_racer x = { .lfd = l };
		weft_task *t = weft_spawn(race_accept_task, &x);

		cr_assert_not_null(t);
		cr_assert(wait_atomic(&x.started, 1));
		if (i % 2)
			weft_yield();
		c = weft_dial_tcp("127.0.0.1", port);
		cr_assert_geq(c, 0, "dial %d: %d", i, c);
		b = (unsigned char)i;
		cr_assert_eq(weft_send(c, &b, 1, MSG_NOSIGNAL), 1);
		weft_cancel(t);
		cr_assert_eq(weft_join_timeout(t, BOUND), 0, "join %d", i);
		if (x.r >= 0) {
			s = x.r;
		} else {
			cr_assert_eq(x.r, -ECANCELED, "round %d: accept "
				     "returned %d", i, x.r);
			WEFT_WITH_TIMEOUT(BOUND)
			{
				s = weft_accept(l, NULL, NULL);
			}
			cr_assert_geq(s, 0, "round %d: the connection was lost "
				      "(%d)", i, s);
		}
		b = 0xff;
		cr_assert_eq(recv_full(s, &b, 1), 1, "round %d", i);
		cr_assert_eq(b, (unsigned char)i, "round %d: connection of "
			     "round %u", i, b);
		close_ok(s);
		close_ok(c);
	}
	/* No connection is left over. */
	s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	cr_assert(s < 0 && t_errno() == EAGAIN, "an extra connection: %d", s);
	close_ok(l);
	return 0;
}

Test(io_cancel, a_cancel_racing_with_a_connecting_client_never_loses_the_connection)
{
	RUN_EACH(race_accept_main, NULL);
}

static int self_cancel_recv_task(void *arg)
{
	struct racer *x = arg;

	weft_cancel(weft_self());
	atomic_store(&x->started, 1);
	x->r = weft_recv(x->fd, &x->b, 1, 0);
	return 0;
}

static int precancel_data_main(void *arg)
{
	struct racer x;
	weft_task *t;
	unsigned char b = 0;
	int fd, peer;
	ssize_t r;

	tcp_pair(&fd, &peer);
	b = 'd';
	cr_assert_eq(weft_send(peer, &b, 1, MSG_NOSIGNAL), 1);
	/* Make sure the byte is there before the call. */
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_poll(fd, POLLIN);
	}
	cr_assert(r > 0 && (r & POLLIN), "poll: %zd", r);
	memset(&x, 0, sizeof(x));
	x.fd = fd;
	t = weft_spawn(self_cancel_recv_task, &x);
	cr_assert_not_null(t);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0, "join");
	/* Either result is allowed; losing the byte is not. */
	if (x.r == -ECANCELED) {
		b = 0;
		r = recv_full(fd, &b, 1);
		cr_assert_eq(r, 1, "the byte was lost: %zd", r);
		cr_assert_eq(b, 'd');
	} else {
		cr_assert_eq(x.r, 1, "recv in a cancelled task returned %zd",
			     x.r);
		cr_assert_eq(x.b, 'd');
	}
	close_ok(fd);
	close_ok(peer);
	return 0;
}

Test(io_cancel, a_cancelled_task_recv_with_data_waiting_loses_no_bytes)
{
	RUN_EACH(precancel_data_main, NULL);
}

/* ------------------------------------------------------------ shields */

struct shielded {
	int fd;
	int with_deadline;
	atomic_int started;
	atomic_int done;
	ssize_t r;
	int after;
	char buf[16];
};

static int shielded_task(void *arg)
{
	struct shielded *s = arg;

	if (s->with_deadline) {
		WEFT_WITH_TIMEOUT(10 * MS)
		{
			weft_shield_begin();
			atomic_store(&s->started, 1);
			s->r = weft_recv(s->fd, s->buf, 5, 0);
			weft_shield_end();
			s->after = weft_yield();
		}
	} else {
		weft_shield_begin();
		atomic_store(&s->started, 1);
		s->r = weft_recv(s->fd, s->buf, 5, 0);
		weft_shield_end();
		s->after = weft_yield();
	}
	atomic_store(&s->done, 1);
	return 0;
}

static int shield_main(void *arg)
{
	struct shielded s;
	weft_task *t;
	int fd, peer;

	memset(&s, 0, sizeof(s));
	s.with_deadline = *(int *)arg;
	tcp_pair(&fd, &peer);
	s.fd = fd;
	t = weft_spawn(shielded_task, &s);
	cr_assert_not_null(t);
	cr_assert(wait_atomic(&s.started, 1));
	if (!s.with_deadline)
		weft_cancel(t);
	weft_sleep(100 * MS);	/* well past the cancel or the deadline */
	cr_assert_not(atomic_load(&s.done), "the shielded recv returned %zd "
		      "before any data", s.r);
	send_str(peer, "hello");
	cr_assert_eq(weft_join_timeout(t, BOUND), 0, "join");
	cr_assert_eq(s.r, 5, "the shielded recv returned %zd", s.r);
	cr_assert_eq(memcmp(s.buf, "hello", 5), 0, "got %.5s", s.buf);
	cr_assert_eq(s.after, s.with_deadline ? -ETIMEDOUT : -ECANCELED,
		     "the first suspension after the shield returned %d",
		     s.after);
	close_ok(fd);
	close_ok(peer);
	return 0;
}

Test(io_cancel, a_shielded_recv_completes_despite_cancellation)
{
	int with_deadline = 0;

	RUN_EACH(shield_main, &with_deadline);
}

Test(io_cancel, a_shielded_recv_completes_past_its_deadline)
{
	int with_deadline = 1;

	RUN_EACH(shield_main, &with_deadline);
}

struct late {
	int peer;
	weft_task *receiver;
};

/* Sends once the receiver is parked in its recv: the data comes late. */
static int late_sender(void *arg)
{
	struct late *l = arg;
	ssize_t r;

	if (!t_wait_parked(l->receiver))
		return -ETIMEDOUT;
	r = weft_send(l->peer, "late", 4, MSG_NOSIGNAL);
	return r == 4 ? 0 : (int)(r < 0 ? r : -EIO);
}

static int deadline_not_passed_main(void *arg)
{
	char buf[8] = { 0 };
	struct late late;
	weft_task *t;
	int fd, peer;
	ssize_t r = -1;

	tcp_pair(&fd, &peer);
	late.peer = peer;
	late.receiver = weft_self();
	t = weft_spawn(late_sender, &late);
	cr_assert_not_null(t);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(fd, buf, 4, MSG_WAITALL);
	}
	cr_assert_eq(r, 4, "recv inside a deadline that did not pass: %zd", r);
	cr_assert_eq(memcmp(buf, "late", 4), 0, "got %.4s", buf);
	cr_assert_eq(weft_join(t), 0, "sender");
	close_ok(fd);
	close_ok(peer);
	return 0;
}

Test(io_cancel, a_deadline_that_does_not_pass_lets_recv_complete)
{
	RUN_EACH(deadline_not_passed_main, NULL);
}

/* ------------------------------------ both directions on one socket */

struct dir_task {
	int fd;
	int is_send;
	unsigned char *buf;
	atomic_int started;
	atomic_int done;
	ssize_t r;
};

static int dir_fn(void *arg)
{
	struct dir_task *d = arg;

	atomic_store(&d->started, 1);
	if (d->is_send)
		d->r = weft_send(d->fd, d->buf, BUFSZ, MSG_NOSIGNAL);
	else
		d->r = weft_recv(d->fd, d->buf, BUFSZ, 0);
	atomic_store(&d->done, 1);
	return 0;
}

/* cancel_send: which of the two is cancelled. */
static int two_ways_main(void *arg)
{
	int cancel_send = *(int *)arg, fd, peer;
	struct dir_task snd, rcv;
	weft_task *ts, *tr, *gone, *left;
	struct dir_task *dl;
	uint64_t queued;

	tcp_pair(&fd, &peer);
	queued = fill_send_buffer(fd, peer);
	memset(&snd, 0, sizeof(snd));
	memset(&rcv, 0, sizeof(rcv));
	snd.fd = rcv.fd = fd;
	snd.is_send = 1;
	snd.buf = malloc(BUFSZ);
	rcv.buf = malloc(BUFSZ);
	cr_assert(snd.buf && rcv.buf);
	pat_fill(snd.buf, BUFSZ, queued);
	memset(rcv.buf, 0, BUFSZ);
	ts = weft_spawn(dir_fn, &snd);
	tr = weft_spawn(dir_fn, &rcv);
	cr_assert(ts && tr);
	cr_assert(wait_atomic(&snd.started, 1));
	cr_assert(wait_atomic(&rcv.started, 1));
	cr_assert(t_wait_parked(ts) && t_wait_parked(tr), "never blocked");
	cr_assert_not(atomic_load(&snd.done), "send did not block: %zd", snd.r);
	cr_assert_not(atomic_load(&rcv.done), "recv did not block: %zd", rcv.r);
	gone = cancel_send ? ts : tr;
	left = cancel_send ? tr : ts;
	dl = cancel_send ? &rcv : &snd;
	weft_cancel(gone);
	cr_assert_eq(weft_join_timeout(gone, BOUND), 0, "join the cancelled");
	cr_assert_eq((cancel_send ? snd.r : rcv.r), -ECANCELED,
		     "the cancelled %s returned %zd",
		     cancel_send ? "send" : "recv", cancel_send ? snd.r : rcv.r);
	weft_sleep(20 * MS);
	cr_assert_not(atomic_load(&dl->done), "the other direction ended "
		      "with %zd when its neighbour was cancelled", dl->r);
	/* Now let the other direction through. */
	if (cancel_send) {
		send_str(peer, "wake");
		cr_assert_eq(weft_join_timeout(left, BOUND), 0, "join recv");
		cr_assert_gt(rcv.r, 0, "recv returned %zd", rcv.r);
		cr_assert_leq(rcv.r, 4);
		cr_assert_eq(memcmp(rcv.buf, "wake", (size_t)rcv.r), 0);
		drain_and_check(fd, peer, queued);
	} else {
		unsigned char *sink = malloc(BUFSZ);
		uint64_t pos = 0;
		ssize_t r = 0;

		cr_assert_not_null(sink);
		/* Read the peer until the blocked send has gone out. */
		WEFT_WITH_TIMEOUT(BOUND)
		{
			while (!atomic_load(&snd.done) || pos < queued +
			       (uint64_t)(snd.r > 0 ? snd.r : 0)) {
				r = weft_recv(peer, sink, BUFSZ, 0);
				if (r <= 0)
					break;
				for (ssize_t i = 0; i < r; i++)
					cr_assert_eq(sink[i], pat(pos + i));
				pos += (uint64_t)r;
			}
		}
		cr_assert_eq(weft_join_timeout(left, BOUND), 0, "join send");
		cr_assert_gt(snd.r, 0, "send returned %zd (drain %zd)", snd.r,
			     r);
		cr_assert_eq(pos, queued + (uint64_t)snd.r, "the peer got "
			     "%llu bytes", (unsigned long long)pos);
		free(sink);
	}
	close_ok(fd);
	close_ok(peer);
	free(snd.buf);
	free(rcv.buf);
	return 0;
}

Test(io_cancel, cancelling_a_recv_leaves_a_send_waiting_on_the_same_socket)
{
	int cancel_send = 0;

	RUN_EACH(two_ways_main, &cancel_send);
}

Test(io_cancel, cancelling_a_send_leaves_a_recv_waiting_on_the_same_socket)
{
	int cancel_send = 1;

	RUN_EACH(two_ways_main, &cancel_send);
}

/* --------------------------------------------------------- many at once */

#define N_BLOCKED 100

static int many_main(void *arg)
{
	static struct blocked b[N_BLOCKED];
	static struct fx f[N_BLOCKED];
	static weft_task *t[N_BLOCKED];
	int i;

	memset(b, 0, sizeof(b));
	memset(f, 0, sizeof(f));
	for (i = 0; i < N_BLOCKED; i++) {
		f[i].buf = malloc(BUFSZ);
		cr_assert_not_null(f[i].buf);
		recv_setup(&f[i]);
		b[i].op = &op_recv;
		b[i].f = &f[i];
		b[i].mode = M_CANCEL;
		t[i] = weft_spawn(blocked_task, &b[i]);
		cr_assert_not_null(t[i]);
	}
	for (i = 0; i < N_BLOCKED; i++)
		cr_assert(t_wait_parked(t[i]), "receiver %d never blocked", i);
	for (i = 0; i < N_BLOCKED; i++)
		weft_cancel(t[i]);
	for (i = 0; i < N_BLOCKED; i++) {
		cr_assert_eq(weft_join_timeout(t[i], BOUND), 0, "join %d", i);
		cr_assert_eq(b[i].r, -ECANCELED, "recv %d returned %zd", i,
			     b[i].r);
	}
	for (i = 0; i < N_BLOCKED; i++) {
		recv_after(&f[i], b[i].r);
		free(f[i].buf);
	}
	return 0;
}

Test(io_cancel, cancelling_a_hundred_blocked_receivers_ends_each_and_every_socket_still_works)
{
	RUN_EACH(many_main, NULL);
}
