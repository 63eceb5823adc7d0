/*
 * weft_poll on pipes, an eventfd and sockets; weft_signal_wait; and bad
 * input to the I/O calls: outside a task (-EPERM), bad descriptors
 * (-EBADF), descriptors of the wrong kind, NULL pointers and bad lengths.
 * Nothing may crash or hang: every call that could wait on a bug runs in a
 * deadline scope of seconds, so a hang shows up as -ETIMEDOUT in the
 * failing assertion.  Backend-neutral: CI runs this file again with
 * WEFT_IO_BACKEND=epoll.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "tests/unit/io_helpers.h"
#include "io/fdtab.h"

TestSuite(io_misc, .timeout = 120);

#define MS 1000000ull
#define SEC (1000 * MS)
#define BOUND (20 * SEC)
#define PROMPT (5 * SEC)

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

static void make_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: errno %d", errno);
}

/* ------------------------------------------------------------------ poll */

/* A task that polls fd for events (bounded) and records the result. */
struct poller {
	int fd;
	int events;
	atomic_int started;
	atomic_int done;
	int r;
};

static int poller_task(void *arg)
{
	struct poller *p = arg;

	atomic_store(&p->started, 1);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		p->r = weft_poll(p->fd, p->events);
	}
	atomic_store(&p->done, 1);
	return 0;
}

/* Spawn a poller and make sure it is waiting (has not returned). */
static weft_task *spawn_waiting_poller(struct poller *p, int fd, int events)
{
	weft_task *t;

	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->events = events;
	t = weft_spawn(poller_task, p);
	cr_assert_not_null(t, "spawn");
	cr_assert(wait_atomic(&p->started, 1));
	cr_assert(t_wait_parked(t), "weft_poll never blocked");
	cr_assert_not(atomic_load(&p->done), "weft_poll(%d, 0x%x) returned "
		      "0x%x with nothing ready", fd, events, p->r);
	return t;
}

static int pollout_main(void *arg)
{
	int p[2], r;

	make_pipe(p);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_poll(p[1], POLLOUT);
	}
	cr_assert_gt(r, 0, "poll POLLOUT on an empty pipe returned %d", r);
	cr_assert(r & POLLOUT, "no POLLOUT in 0x%x", r);
	cr_assert_not(r & (POLLERR | POLLHUP | POLLNVAL | POLLIN),
		      "unexpected events 0x%x", r);
	close_ok(p[0]);
	close_ok(p[1]);
	return 0;
}

Test(io_misc, poll_reports_pollout_at_once_on_an_empty_pipe)
{
	RUN_EACH(pollout_main, NULL);
}

static int pollin_main(void *arg)
{
	struct poller pl;
	weft_task *t;
	char b = 0;
	int p[2];
	ssize_t r;

	make_pipe(p);
	t = spawn_waiting_poller(&pl, p[0], POLLIN);
	r = weft_write(p[1], "z", 1, WEFT_OFF_CURRENT);
	cr_assert_eq(r, 1, "write: %zd", r);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_gt(pl.r, 0, "poll returned %d", pl.r);
	cr_assert(pl.r & POLLIN, "no POLLIN in 0x%x", pl.r);
	cr_assert_not(pl.r & (POLLERR | POLLHUP | POLLNVAL),
		      "unexpected events 0x%x", pl.r);
	/* poll consumed nothing. */
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_read(p[0], &b, 1, WEFT_OFF_CURRENT);
	}
	cr_assert_eq(r, 1, "read after poll: %zd", r);
	cr_assert_eq(b, 'z');
	close_ok(p[0]);
	close_ok(p[1]);
	return 0;
}

Test(io_misc, poll_waits_until_a_pipe_is_written_then_reports_pollin)
{
	RUN_EACH(pollin_main, NULL);
}

static int pollhup_main(void *arg)
{
	struct poller pl;
	weft_task *t;
	int p[2];

	make_pipe(p);
	t = spawn_waiting_poller(&pl, p[0], POLLIN);
	close_ok(p[1]);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_gt(pl.r, 0, "poll returned %d", pl.r);
	cr_assert(pl.r & POLLHUP, "no POLLHUP in 0x%x after the writer closed",
		  pl.r);
	close_ok(p[0]);
	return 0;
}

Test(io_misc, poll_reports_pollhup_when_the_write_end_closes)
{
	RUN_EACH(pollhup_main, NULL);
}

static int pollerr_main(void *arg)
{
	char chunk[4096];
	struct poller pl;
	weft_task *t;
	int p[2];

	make_pipe(p);
	cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	memset(chunk, 'f', sizeof(chunk));
	while (write(p[1], chunk, sizeof(chunk)) > 0)
		;
	cr_assert_eq(t_errno(), EAGAIN, "filling the pipe: errno %d",
		     t_errno());
	/* Asked for POLLOUT only; POLLERR comes anyway. */
	t = spawn_waiting_poller(&pl, p[1], POLLOUT);
	close_ok(p[0]);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_gt(pl.r, 0, "poll returned %d", pl.r);
	cr_assert(pl.r & POLLERR, "no POLLERR in 0x%x after the reader closed",
		  pl.r);
	close_ok(p[1]);
	return 0;
}

Test(io_misc, poll_reports_pollerr_when_the_read_end_of_a_full_pipe_closes)
{
	RUN_EACH(pollerr_main, NULL);
}

static int eventfd_main(void *arg)
{
	struct poller pl;
	weft_task *t;
	uint64_t v = 3;
	int efd;
	ssize_t r;

	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	cr_assert_geq(efd, 0, "eventfd: errno %d", errno);
	t = spawn_waiting_poller(&pl, efd, POLLIN);
	r = weft_write(efd, &v, sizeof(v), WEFT_OFF_CURRENT);
	cr_assert_eq(r, (ssize_t)sizeof(v), "eventfd write: %zd", r);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_gt(pl.r, 0, "poll returned %d", pl.r);
	cr_assert(pl.r & POLLIN, "no POLLIN in 0x%x", pl.r);
	v = 0;
	r = weft_read(efd, &v, sizeof(v), WEFT_OFF_CURRENT);
	cr_assert_eq(r, (ssize_t)sizeof(v), "eventfd read: %zd", r);
	cr_assert_eq(v, 3, "eventfd counter %llu", (unsigned long long)v);
	/* Drained: a poll waits again; a second write ends it. */
	t = spawn_waiting_poller(&pl, efd, POLLIN);
	v = 1;
	cr_assert_eq(weft_write(efd, &v, sizeof(v), WEFT_OFF_CURRENT),
		     (ssize_t)sizeof(v));
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert(pl.r > 0 && (pl.r & POLLIN), "second poll returned 0x%x",
		  pl.r);
	close_ok(efd);
	return 0;
}

Test(io_misc, poll_on_an_eventfd_reports_pollin_after_each_write)
{
	RUN_EACH(eventfd_main, NULL);
}

static int socket_poll_main(void *arg)
{
	struct poller pl;
	weft_task *t;
	int sv[2], r;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
				SOCK_NONBLOCK, 0, sv), 0);
	/* Both asked, only POLLOUT ready: it returns with POLLOUT alone. */
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_poll(sv[0], POLLIN | POLLOUT);
	}
	cr_assert(r > 0 && (r & POLLOUT), "poll IN|OUT returned 0x%x", r);
	cr_assert_not(r & POLLIN, "POLLIN with nothing to read: 0x%x", r);
	t = spawn_waiting_poller(&pl, sv[0], POLLIN);
	cr_assert_eq(weft_send(sv[1], "s", 1, MSG_NOSIGNAL), 1);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert(pl.r > 0 && (pl.r & POLLIN), "poll returned 0x%x", pl.r);
	close_ok(sv[0]);
	close_ok(sv[1]);
	return 0;
}

Test(io_misc, poll_on_a_socket_reports_what_is_ready)
{
	RUN_EACH(socket_poll_main, NULL);
}

/* Ping-pong through two pipes: weft_poll + read on one side, weft_read
 * on the other, 1000 rounds (every wait re-armed on the same fds). */
#define ROUNDS 1000

struct pingpong {
	int in, out;
	int err;
};

static int pong_task(void *arg)
{
	struct pingpong *pp = arg;
	unsigned char b;
	int i;
	ssize_t r;

	for (i = 0; i < ROUNDS; i++) {
		r = weft_poll(pp->in, POLLIN);
		if (r < 0 || !(r & POLLIN)) {
			pp->err = r < 0 ? (int)r : -EPROTO;
			return pp->err;
		}
		r = read(pp->in, &b, 1);	/* ready: does not block */
		if (r != 1 || b != (unsigned char)i) {
			pp->err = r < 0 ? (int)r : -EILSEQ;
			return pp->err;
		}
		b++;
		r = weft_write(pp->out, &b, 1, WEFT_OFF_CURRENT);
		if (r != 1) {
			pp->err = r < 0 ? (int)r : -EIO;
			return pp->err;
		}
	}
	return 0;
}

static int pingpong_main(void *arg)
{
	int a[2], b[2];
	struct pingpong x;
	weft_task *tx;
	unsigned char first = 0;

	make_pipe(a);
	make_pipe(b);
	/* x reads a (weft_poll, then read) and writes b; this task reads b
	 * (weft_read) and writes a.  Round i: i goes out, i + 1 comes back. */
	x = (struct pingpong){ a[0], b[1], 0 };
	tx = weft_spawn(pong_task, &x);
	cr_assert_not_null(tx);
	cr_assert_eq(weft_write(a[1], &first, 1, WEFT_OFF_CURRENT), 1);
	{
		unsigned char bb;
		int i;
		ssize_t r;

		for (i = 0; i < ROUNDS; i++) {
			WEFT_WITH_TIMEOUT(BOUND)
			{
				r = weft_read(b[0], &bb, 1, WEFT_OFF_CURRENT);
			}
			cr_assert_eq(r, 1, "round %d: read %zd (x: %d)", i, r,
				     x.err);
			cr_assert_eq(bb, (unsigned char)(i + 1), "round %d: %u",
				     i, bb);
			if (i + 1 < ROUNDS) {
				cr_assert_eq(weft_write(a[1], &bb, 1,
							WEFT_OFF_CURRENT), 1);
			}
		}
	}
	cr_assert_eq(weft_join_timeout(tx, BOUND), 0, "x: %d", x.err);
	close_ok(a[0]);
	close_ok(a[1]);
	close_ok(b[0]);
	close_ok(b[1]);
	return 0;
}

Test(io_misc, a_thousand_rounds_of_poll_and_read_on_the_same_pipes)
{
	RUN_EACH(pingpong_main, NULL);
}

/*
 * Non-blocking pipes: weft_read and weft_write wait for the other side
 * (the descriptor's O_NONBLOCK is the caller's business, never an EAGAIN
 * for the task).  Eight pairs of tasks ping-pong at once, so that tasks
 * resume on other workers between a try and the retry.
 */
#define NB_PAIRS 8
#define NB_ROUNDS 500

struct nb_side {
	int in, out;
	int first;	/* sends first */
	int err;
};

static int nb_task(void *arg)
{
	struct nb_side *s = arg;
	unsigned char b = 0;
	int i;
	ssize_t r;

	for (i = 0; i < NB_ROUNDS; i++) {
		if (s->first) {
			b = (unsigned char)i;
			r = weft_write(s->out, &b, 1, WEFT_OFF_CURRENT);
			if (r != 1)
				return s->err = r < 0 ? (int)r : -EIO;
		}
		r = weft_read(s->in, &b, 1, WEFT_OFF_CURRENT);
		if (r != 1)
			return s->err = r < 0 ? (int)r : -EPROTO;
		if (b != (unsigned char)i)
			return s->err = -EILSEQ;
		if (!s->first) {
			r = weft_write(s->out, &b, 1, WEFT_OFF_CURRENT);
			if (r != 1)
				return s->err = r < 0 ? (int)r : -EIO;
		}
	}
	return 0;
}

static int nonblocking_main(void *arg)
{
	static struct nb_side sides[NB_PAIRS][2];
	weft_task *t[NB_PAIRS][2];
	int a[2], b[2], i, k, r;

	for (i = 0; i < NB_PAIRS; i++) {
		cr_assert_eq(pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
		cr_assert_eq(pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
		sides[i][0] = (struct nb_side){ b[0], a[1], 1, 0 };
		sides[i][1] = (struct nb_side){ a[0], b[1], 0, 0 };
	}
	for (i = 0; i < NB_PAIRS; i++)
		for (k = 0; k < 2; k++) {
			t[i][k] = weft_spawn(nb_task, &sides[i][k]);
			cr_assert_not_null(t[i][k]);
		}
	for (i = 0; i < NB_PAIRS; i++)
		for (k = 0; k < 2; k++) {
			r = weft_join_timeout(t[i][k], BOUND);
			cr_assert_eq(r, 0, "pair %d side %d returned %d (-EAGAIN "
				     "is %d)", i, k, r, -EAGAIN);
		}
	for (i = 0; i < NB_PAIRS; i++)
		for (k = 0; k < 2; k++) {
			close_ok(sides[i][k].in);
			close_ok(sides[i][k].out);
		}
	return 0;
}

Test(io_misc, reads_and_writes_on_non_blocking_pipes_wait_instead_of_eagain)
{
	RUN_EACH(nonblocking_main, NULL);
}

/* ------------------------------------------------------------- signals */

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
}

struct sigwaiter {
	sigset_t set;
	atomic_int started;
	atomic_int done;
	int r;
	int mode;	/* 0: bounded by 20 s, 1: 50 ms deadline */
	uint64_t elapsed;
};

static int sigwaiter_task(void *arg)
{
	struct sigwaiter *s = arg;
	uint64_t t0;

	atomic_store(&s->started, 1);
	t0 = weft_now();
	WEFT_WITH_TIMEOUT(s->mode ? 50 * MS : BOUND)
	{
		s->r = weft_signal_wait(&s->set);
	}
	s->elapsed = weft_now() - t0;
	atomic_store(&s->done, 1);
	return 0;
}

static weft_task *spawn_sigwaiter(struct sigwaiter *s, int sig1, int sig2,
				  int mode)
{
	weft_task *t;

	memset(s, 0, sizeof(*s));
	sigemptyset(&s->set);
	sigaddset(&s->set, sig1);
	if (sig2)
		sigaddset(&s->set, sig2);
	s->mode = mode;
	t = weft_spawn(sigwaiter_task, s);
	cr_assert_not_null(t, "spawn");
	cr_assert(wait_atomic(&s->started, 1));
	return t;
}

static int killer_task(void *arg)
{
	return kill(getpid(), (int)(intptr_t)arg) ? -t_errno() : 0;
}

static void send_from_a_task(int sig)
{
	weft_task *k = weft_spawn(killer_task, (void *)(intptr_t)sig);

	cr_assert_not_null(k);
	cr_assert_eq(weft_join(k), 0, "kill");
}

static int signal_main(void *arg)
{
	struct sigwaiter s;
	weft_task *t;
	int round;

	/* Twice: the second wait works as well as the first. */
	for (round = 0; round < 2; round++) {
		t = spawn_sigwaiter(&s, SIGUSR1, 0, 0);
		cr_assert(t_wait_parked(t), "signal_wait never blocked");
		cr_assert_not(atomic_load(&s.done), "signal_wait returned %d "
			      "before any signal", s.r);
		send_from_a_task(SIGUSR1);
		cr_assert_eq(weft_join_timeout(t, BOUND), 0);
		cr_assert_eq(s.r, SIGUSR1, "round %d: weft_signal_wait "
			     "returned %d, want SIGUSR1 (%d)", round, s.r,
			     SIGUSR1);
	}
	return 0;
}

Test(io_misc, signal_wait_returns_sigusr1_sent_by_another_task)
{
	block_signals();
	RUN_EACH(signal_main, NULL);
}

static int signal_set_main(void *arg)
{
	struct sigwaiter s;
	weft_task *t = spawn_sigwaiter(&s, SIGUSR1, SIGUSR2, 0);

	cr_assert(t_wait_parked(t), "signal_wait never blocked");
	send_from_a_task(SIGUSR2);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_eq(s.r, SIGUSR2, "weft_signal_wait returned %d, want "
		     "SIGUSR2 (%d)", s.r, SIGUSR2);
	return 0;
}

Test(io_misc, signal_wait_returns_whichever_signal_of_the_set_arrived)
{
	block_signals();
	RUN_EACH(signal_set_main, NULL);
}

static int signal_pending_main(void *arg)
{
	sigset_t set;
	int r;

	/* Sent before the wait: pending, and returned at once. */
	cr_assert_eq(kill(getpid(), SIGUSR1), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_signal_wait(&set);
	}
	cr_assert_eq(r, SIGUSR1, "a pending signal: weft_signal_wait "
		     "returned %d", r);
	return 0;
}

Test(io_misc, signal_wait_returns_a_signal_already_pending)
{
	block_signals();
	RUN_EACH(signal_pending_main, NULL);
}

static int signal_cancel_main(void *arg)
{
	struct sigwaiter s;
	weft_task *t;
	uint64_t t0;

	t = spawn_sigwaiter(&s, SIGUSR1, 0, 0);
	cr_assert(t_wait_parked(t), "signal_wait never blocked");
	t0 = weft_now();
	weft_cancel(t);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_eq(s.r, -ECANCELED, "cancelled signal_wait returned %d",
		     s.r);
	cr_assert_lt(weft_now() - t0, PROMPT, "the cancel took too long");
	/* Deadline. */
	t = spawn_sigwaiter(&s, SIGUSR1, 0, 1);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_eq(s.r, -ETIMEDOUT, "signal_wait past its deadline "
		     "returned %d", s.r);
	cr_assert_geq(s.elapsed, 50 * MS, "timed out early");
	/* And a later wait still gets the signal. */
	t = spawn_sigwaiter(&s, SIGUSR1, 0, 0);
	cr_assert(t_wait_parked(t), "signal_wait never blocked");
	send_from_a_task(SIGUSR1);
	cr_assert_eq(weft_join_timeout(t, BOUND), 0);
	cr_assert_eq(s.r, SIGUSR1, "after a cancel: %d", s.r);
	return 0;
}

Test(io_misc, signal_wait_ends_with_ecanceled_or_etimedout_and_works_after)
{
	block_signals();
	RUN_EACH(signal_cancel_main, NULL);
}

static int signal_bad_main(void *arg)
{
	sigset_t empty;
	int r;

	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_signal_wait(NULL);
	}
	cr_assert_eq(r, -EINVAL, "weft_signal_wait(NULL) returned %d", r);
	sigemptyset(&empty);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_signal_wait(&empty);
	}
	cr_assert_eq(r, -EINVAL, "weft_signal_wait(empty set) returned %d", r);
	return 0;
}

Test(io_misc, signal_wait_with_a_null_or_empty_set_returns_einval)
{
	RUN_EACH(signal_bad_main, NULL);
}

/* ------------------------------------------------------------ bad input */

#define EXPECT(expr, want)                                                   \
	do {                                                                 \
		long r_ = LONG_MIN;                                          \
		WEFT_WITH_TIMEOUT(BOUND)                                     \
		{                                                            \
			r_ = (long)(expr);                                   \
		}                                                            \
		cr_assert_eq(r_, (long)(want), "%s returned %ld, want %s",   \
			     #expr, r_, #want);                              \
	} while (0)

/* -EFAULT or -EINVAL: either is a fair answer to a NULL pointer. */
#define EXPECT_FAULT(expr)                                                   \
	do {                                                                 \
		long r_ = LONG_MIN;                                          \
		WEFT_WITH_TIMEOUT(BOUND)                                     \
		{                                                            \
			r_ = (long)(expr);                                   \
		}                                                            \
		cr_assert(r_ == -EFAULT || r_ == -EINVAL,                    \
			  "%s returned %ld, want -EFAULT or -EINVAL", #expr, \
			  r_);                                               \
	} while (0)

Test(io_misc, io_calls_outside_a_task_return_eperm)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	struct iovec iov = { NULL, 0 };
	struct stat st;
	sigset_t set;
	char buf[4] = "abc";
	int p[2], sv[2];

	make_pipe(p);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	iov.iov_base = buf;
	iov.iov_len = 1;
	cr_assert_eq(weft_accept(sv[0], (struct sockaddr *)&a, &alen), -EPERM);
	cr_assert_eq(weft_connect(sv[0], (struct sockaddr *)&a, sizeof(a)),
		     -EPERM);
	cr_assert_eq(weft_recv(sv[0], buf, 1, 0), -EPERM);
	cr_assert_eq(weft_send(sv[0], buf, 1, MSG_NOSIGNAL), -EPERM);
	cr_assert_eq(weft_send_all(sv[0], buf, 1, MSG_NOSIGNAL), -EPERM);
	cr_assert_eq(weft_read(p[0], buf, 1, WEFT_OFF_CURRENT), -EPERM);
	cr_assert_eq(weft_write(p[1], buf, 1, WEFT_OFF_CURRENT), -EPERM);
	cr_assert_eq(weft_readv(p[0], &iov, 1, WEFT_OFF_CURRENT), -EPERM);
	cr_assert_eq(weft_writev(p[1], &iov, 1, WEFT_OFF_CURRENT), -EPERM);
	cr_assert_eq(weft_open("/dev/null", O_RDONLY, 0), -EPERM);
	cr_assert_eq(weft_close(p[0]), -EPERM);
	cr_assert_eq(weft_fsync(p[1]), -EPERM);
	cr_assert_eq(weft_shutdown(sv[0], SHUT_WR), -EPERM);
	cr_assert_eq(weft_stat("/", &st), -EPERM);
	cr_assert_eq(weft_poll(p[1], POLLOUT), -EPERM);
	cr_assert_eq(weft_signal_wait(&set), -EPERM);
	cr_assert_eq(weft_dial_tcp("127.0.0.1", 1), -EPERM);
	cr_assert_eq(weft_dial_unix("/nonexistent/weft.sock"), -EPERM);
	/* Nothing happened: no byte was written, the pipe is still open. */
	cr_assert_eq(fcntl(p[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC,
		     "weft_close outside a task closed the descriptor");
	cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	cr_assert(read(p[0], buf, 1) < 0 && errno == EAGAIN,
		  "weft_write outside a task wrote");
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* A descriptor number that is surely not open. */
static int closed_fd(void)
{
	struct rlimit rl;
	int fd;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	fd = rl.rlim_cur > 100000 ? 99999 : (int)rl.rlim_cur - 1;
	cr_assert(fcntl(fd, F_GETFD) < 0 && errno == EBADF,
		  "descriptor %d is open", fd);
	return fd;
}

static void ebadf_on(int fd)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char buf[8] = "abcdefg";
	struct iovec iov = { buf, sizeof(buf) };

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(9);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	EXPECT(weft_accept(fd, (struct sockaddr *)&a, &alen), -EBADF);
	EXPECT(weft_connect(fd, (struct sockaddr *)&a, sizeof(a)), -EBADF);
	EXPECT(weft_recv(fd, buf, sizeof(buf), 0), -EBADF);
	EXPECT(weft_send(fd, buf, sizeof(buf), MSG_NOSIGNAL), -EBADF);
	EXPECT(weft_send_all(fd, buf, sizeof(buf), MSG_NOSIGNAL), -EBADF);
	EXPECT(weft_read(fd, buf, sizeof(buf), 0), -EBADF);
	EXPECT(weft_read(fd, buf, sizeof(buf), WEFT_OFF_CURRENT), -EBADF);
	EXPECT(weft_write(fd, buf, sizeof(buf), 0), -EBADF);
	EXPECT(weft_write(fd, buf, sizeof(buf), WEFT_OFF_CURRENT), -EBADF);
	EXPECT(weft_readv(fd, &iov, 1, WEFT_OFF_CURRENT), -EBADF);
	EXPECT(weft_writev(fd, &iov, 1, 0), -EBADF);
	EXPECT(weft_fsync(fd), -EBADF);
	EXPECT(weft_shutdown(fd, SHUT_RDWR), -EBADF);
	EXPECT(weft_poll(fd, POLLIN), -EBADF);
	EXPECT(weft_close(fd), -EBADF);
	EXPECT(weft_local_port(fd), -EBADF);
}

static int ebadf_main(void *arg)
{
	ebadf_on(-1);
	ebadf_on(closed_fd());
	return 0;
}

Test(io_misc, bad_descriptors_return_ebadf)
{
	RUN_EACH(ebadf_main, NULL);
}

static int wrong_kind_main(void *arg)
{
	struct sockaddr_in a;
	char buf[4];
	int p[2], s, port, l, r;

	make_pipe(p);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Socket calls on a pipe. */
	EXPECT(weft_accept(p[0], NULL, NULL), -ENOTSOCK);
	EXPECT(weft_connect(p[0], (struct sockaddr *)&a, sizeof(a)), -ENOTSOCK);
	EXPECT(weft_recv(p[0], buf, sizeof(buf), 0), -ENOTSOCK);
	EXPECT(weft_send(p[1], "x", 1, MSG_NOSIGNAL), -ENOTSOCK);
	EXPECT(weft_shutdown(p[0], SHUT_RD), -ENOTSOCK);
	EXPECT(weft_local_port(p[0]), -ENOTSOCK);
	/* The wrong end of a pipe. */
	EXPECT(weft_write(p[0], "x", 1, WEFT_OFF_CURRENT), -EBADF);
	EXPECT(weft_read(p[1], buf, 1, WEFT_OFF_CURRENT), -EBADF);
	/* fsync of a pipe. */
	EXPECT(weft_fsync(p[0]), -EINVAL);
	close_ok(p[0]);
	close_ok(p[1]);
	/* accept on a socket that does not listen. */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(s, 0);
	EXPECT(weft_accept(s, NULL, NULL), -EINVAL);
	/* recv on a socket that is not connected. */
	EXPECT(weft_recv(s, buf, sizeof(buf), 0), -ENOTCONN);
	EXPECT(weft_shutdown(s, SHUT_RDWR), -ENOTCONN);
	close_ok(s);
	/* Bad arguments to connect and shutdown. */
	l = weft_listen_tcp("127.0.0.1", 0, 4);
	cr_assert_geq(l, 0);
	port = weft_local_port(l);
	s = weft_dial_tcp("127.0.0.1", port);
	cr_assert_geq(s, 0, "dial: %d", s);
	EXPECT(weft_shutdown(s, 42), -EINVAL);
	close_ok(s);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(s, 0);
	a.sin_port = htons((uint16_t)port);
	EXPECT(weft_connect(s, (struct sockaddr *)&a, 4), -EINVAL);
	r = 0;
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_connect(s, (struct sockaddr *)&a, sizeof(a));
	}
	cr_assert_eq(r, 0, "connect after a bad one: %d", r);
	/*
	 * Connect again: -EISCONN.  (Linux answers 0 to the first connect
	 * after a non-blocking connect completed, if nothing has asked with
	 * connect since; the backend may have asked with SO_ERROR instead,
	 * so the next one may be 0 and only the one after must fail.)
	 */
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_connect(s, (struct sockaddr *)&a, sizeof(a));
	}
	cr_assert(r == 0 || r == -EISCONN, "a second connect returned %d", r);
	EXPECT(weft_connect(s, (struct sockaddr *)&a, sizeof(a)), -EISCONN);
	close_ok(s);
	close_ok(l);
	return 0;
}

Test(io_misc, calls_on_the_wrong_kind_of_descriptor_return_the_syscall_errno)
{
	RUN_EACH(wrong_kind_main, NULL);
}

static int null_main(void *arg)
{
	static struct iovec iov[IOV_MAX + 1];	/* (in case it is read) */
	char dir[] = "/tmp/weft-io-misc-XXXXXX", path[128], big[200];
	struct stat st;
	int sv[2], fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = weft_open(path, O_CREAT | O_RDWR, 0600);
	cr_assert_geq(fd, 0, "open: %d", fd);
	cr_assert_eq(weft_write(fd, "data", 4, 0), 4);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
				SOCK_NONBLOCK, 0, sv), 0);
	cr_assert_eq(weft_send(sv[1], "pending", 7, MSG_NOSIGNAL), 7);
	/* NULL buffers with a length. */
	EXPECT_FAULT(weft_send(sv[0], NULL, 10, MSG_NOSIGNAL));
	EXPECT_FAULT(weft_send_all(sv[0], NULL, 10, MSG_NOSIGNAL));
	EXPECT_FAULT(weft_recv(sv[0], NULL, 10, 0));	/* data is waiting */
	EXPECT_FAULT(weft_read(fd, NULL, 4, 0));
	EXPECT_FAULT(weft_write(fd, NULL, 4, 0));
	EXPECT_FAULT(weft_readv(fd, NULL, 1, 0));
	EXPECT_FAULT(weft_writev(fd, NULL, 1, 0));
	/* Bad iovec counts. */
	for (int i = 0; i <= IOV_MAX; i++) {
		iov[i].iov_base = big;
		iov[i].iov_len = 1;
	}
	EXPECT(weft_readv(fd, iov, -1, 0), -EINVAL);
	EXPECT(weft_writev(fd, iov, -1, 0), -EINVAL);
	EXPECT(weft_readv(fd, iov, IOV_MAX + 1, 0), -EINVAL);
	EXPECT(weft_writev(fd, iov, IOV_MAX + 1, 0), -EINVAL);
	/* NULL paths and results. */
	EXPECT_FAULT(weft_open(NULL, O_RDONLY, 0));
	EXPECT_FAULT(weft_stat(NULL, &st));
	EXPECT_FAULT(weft_stat(path, NULL));
	EXPECT_FAULT(weft_connect(sv[0], NULL, sizeof(struct sockaddr_in)));
	/* The helpers. */
	EXPECT(weft_listen_tcp("not an address", 0, 4), -EINVAL);
	EXPECT(weft_listen_tcp("127.0.0.1", -1, 4), -EINVAL);
	EXPECT(weft_listen_tcp("127.0.0.1", 65536, 4), -EINVAL);
	EXPECT(weft_dial_tcp("127.0.0.1", 65536), -EINVAL);
	EXPECT_FAULT(weft_dial_tcp(NULL, 80));
	EXPECT_FAULT(weft_listen_unix(NULL, 4));
	EXPECT_FAULT(weft_dial_unix(NULL));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	{
		long r1 = weft_listen_unix(big, 4), r2;

		WEFT_WITH_TIMEOUT(BOUND)
		{
			r2 = weft_dial_unix(big);
		}
		cr_assert(r1 == -ENAMETOOLONG || r1 == -EINVAL,
			  "weft_listen_unix of a 199-byte path returned %ld", r1);
		cr_assert(r2 == -ENAMETOOLONG || r2 == -EINVAL,
			  "weft_dial_unix of a 199-byte path returned %ld", r2);
	}
	/* Still usable after all that. */
	{
		char got[8] = { 0 };

		EXPECT(weft_recv(sv[0], got, 7, MSG_WAITALL), 7);
		cr_assert_eq(memcmp(got, "pending", 7), 0, "got %.7s", got);
		EXPECT(weft_read(fd, got, 4, 0), 4);
		cr_assert_eq(memcmp(got, "data", 4), 0, "got %.4s", got);
	}
	close_ok(sv[0]);
	close_ok(sv[1]);
	close_ok(fd);
	unlink(path);
	rmdir(dir);
	return 0;
}

Test(io_misc, null_pointers_and_bad_lengths_return_an_error_without_crashing)
{
	RUN_EACH(null_main, NULL);
}

/*
 * A descriptor closed with close(2), not weft_close, keeps its epoll
 * record, which names the set of the runtime it was used in.  Once that
 * runtime has ended, the set's number may be closed or reused for another
 * file; a new socket at the old descriptor number must still wait for
 * data, not fail with EINVAL or EBADF from the stale set.  (On io_uring
 * there is no record, and this is a plain recv.)
 */
#define STALE_FD 900

static int recv_byte_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c = 0;
	ssize_t r = -ETIMEDOUT;

	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(fd, &c, 1, 0);
	}
	return r == 1 ? c : (int)r;
}

/* A task waits in a recv on STALE_FD; then peer sends `c`. */
static int stale_round_main(void *arg)
{
	int peer = (int)(intptr_t)arg;
	weft_task *t = weft_spawn(recv_byte_main, (void *)(intptr_t)STALE_FD);
	char c = 'x';
	int r;

	cr_assert_not_null(t, "weft_spawn");
	if (!t_wait_parked(t))
		cr_assert_fail("the recv did not wait: it returned %d",
			       weft_join(t));
	cr_assert_eq(write(peer, &c, 1), 1, "write: errno %d", errno);
	r = weft_join(t);
	cr_assert_eq(r, 'x', "the recv returned %d", r);
	return 0;
}

/* A socket pair whose first end is moved to STALE_FD. */
static int stale_pair(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
		     0, "socketpair: errno %d", errno);
	cr_assert_eq(dup2(sv[0], STALE_FD), STALE_FD, "dup2: errno %d", errno);
	close(sv[0]);
	return sv[1];
}

Test(io_misc, a_socket_at_a_number_last_used_in_an_ended_runtime_still_waits)
{
	struct weft__fdrec *rec;
	int peer, r, z[2] = { -1, -1 };

	peer = stale_pair();
	r = t_run(stale_round_main, (void *)(intptr_t)peer, 1);
	cr_assert_eq(r, 0, "first runtime: %d", r);
	close(STALE_FD);
	close(peer);
	/* Put a socket where that runtime's epoll set was. */
	rec = weft__fdtab_find(STALE_FD);
	if (rec && rec->epfd >= 0) {
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, z), 0,
			     "socketpair: errno %d", errno);
		cr_assert_eq(dup2(z[0], rec->epfd), rec->epfd,
			     "dup2: errno %d", errno);
	}
	peer = stale_pair();
	r = t_run(stale_round_main, (void *)(intptr_t)peer, 1);
	cr_assert_eq(r, 0, "second runtime: %d", r);
	close(STALE_FD);
	close(peer);
	if (rec && z[0] >= 0) {
		close(rec->epfd);
		close(z[0]);
		close(z[1]);
	}
}
