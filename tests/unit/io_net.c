/*
 * Sockets through the public API: the TCP and Unix-domain helpers,
 * accept/connect/recv/send/send_all/readv/writev/shutdown with exact bytes,
 * large transfers, many connections at once, IPv6, a peer that closes or
 * resets mid-stream, a refused connection, and EMFILE on accept.
 *
 * Every test is backend-neutral: CI runs this file again with
 * WEFT_IO_BACKEND=epoll.  Waits that could hang on a bug are bounded by
 * deadline scopes of seconds, so a hang shows up as -ETIMEDOUT in an
 * assertion rather than as a killed test; no assertion bounds a duration
 * tighter than seconds (the suites also run under Valgrind and TSan).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "tests/unit/io_helpers.h"
#if WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

/* Valgrind checks each new descriptor against the limit it shows us and,
 * past it, closes the descriptor itself and reports EMFILE: an accept then
 * consumes the pending connection, which the EMFILE test cannot survive. */
static bool under_valgrind(void)
{
#if WEFT_HAVE_VALGRIND
	return RUNNING_ON_VALGRIND;
#else
	return false;
#endif
}

TestSuite(io_net, .timeout = 180);

#define MS 1000000ull
#define SEC (1000 * MS)
#define BOUND (20 * SEC)	/* a wait that should end at once: give up after 20 s */

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

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	t_rng rng;
	size_t i;

	t_rng_init(&rng, seed);
	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t x = t_rand(&rng);

		memcpy(p + i, &x, 8);
	}
	for (; i < n; i++)
		p[i] = (unsigned char)t_rand(&rng);
}

static bool ipv6_loopback_usable(void)
{
	struct sockaddr_in6 a;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* ------------------------------------------------------ listen and dial */

static int listen_port_main(void *arg)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int port, l = listen_local(&port), one = 0;
	socklen_t olen = sizeof(one);

	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	cr_assert_eq(a.sin_family, AF_INET, "family %d", a.sin_family);
	cr_assert_eq(ntohs(a.sin_port), port, "getsockname port %d, "
		     "weft_local_port %d", ntohs(a.sin_port), port);
	cr_assert_eq(ntohl(a.sin_addr.s_addr), INADDR_LOOPBACK,
		     "bound to %08x", ntohl(a.sin_addr.s_addr));
	cr_assert(fcntl(l, F_GETFL) & O_NONBLOCK, "listener not non-blocking");
	cr_assert(fcntl(l, F_GETFD) & FD_CLOEXEC, "listener not close-on-exec");
	cr_assert_eq(getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, &olen), 0);
	cr_assert(one, "SO_REUSEADDR not set");
	close_ok(l);
	return 0;
}

Test(io_net, listen_tcp_on_port_0_picks_a_port_that_local_port_reports)
{
	RUN_EACH(listen_port_main, NULL);
}

static int listen_any_main(void *arg)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int l = weft_listen_tcp(NULL, 0, 16), port, c, s;

	cr_assert_geq(l, 0, "weft_listen_tcp(NULL, 0): %d", l);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	cr_assert_eq(a.sin_family, AF_INET, "NULL host: family %d",
		     a.sin_family);
	cr_assert_eq(a.sin_addr.s_addr, htonl(INADDR_ANY), "not INADDR_ANY");
	port = weft_local_port(l);
	cr_assert_eq(port, ntohs(a.sin_port), "port %d", port);
	c = weft_dial_tcp("127.0.0.1", port);
	cr_assert_geq(c, 0, "dial: %d", c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(l, NULL, NULL);
	}
	cr_assert_geq(s, 0, "accept: %d", s);
	send_str(c, "any");
	expect_bytes(s, "any");
	close_ok(c);
	close_ok(s);
	close_ok(l);
	return 0;
}

Test(io_net, listen_tcp_with_a_null_host_listens_on_every_ipv4_address)
{
	cr_assert_eq(t_run(listen_any_main, NULL, 2), 0);
}

static int dial_accept_addr_main(void *arg)
{
	struct sockaddr_in peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	int port, l = listen_local(&port), c, s, nodelay = 0;
	socklen_t olen = sizeof(nodelay);

	c = weft_dial_tcp("127.0.0.1", port);
	cr_assert_geq(c, 0, "weft_dial_tcp: %d", c);
	cr_assert(fcntl(c, F_GETFL) & O_NONBLOCK, "dialled: not non-blocking");
	cr_assert(fcntl(c, F_GETFD) & FD_CLOEXEC, "dialled: not cloexec");
	cr_assert_eq(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nodelay, &olen),
		     0);
	cr_assert(nodelay, "dialled socket without TCP_NODELAY");
	memset(&peer, 0xee, sizeof(peer));
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(l, (struct sockaddr *)&peer, &plen);
	}
	cr_assert_geq(s, 0, "weft_accept: %d", s);
	cr_assert_eq(plen, sizeof(struct sockaddr_in), "addrlen %u",
		     (unsigned)plen);
	cr_assert_eq(peer.sin_family, AF_INET, "family %d", peer.sin_family);
	cr_assert_eq(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK,
		     "peer %08x", ntohl(peer.sin_addr.s_addr));
	cr_assert_eq(getsockname(c, (struct sockaddr *)&local, &llen), 0);
	cr_assert_eq(peer.sin_port, local.sin_port,
		     "accept reported port %d, the client is on %d",
		     ntohs(peer.sin_port), ntohs(local.sin_port));
	close_ok(c);
	close_ok(s);
	close_ok(l);
	return 0;
}

Test(io_net, accept_returns_the_address_of_the_dialled_socket)
{
	RUN_EACH(dial_accept_addr_main, NULL);
}

/* An accept that waits for a client to come: the client dials later. */
struct late {
	int port;
	atomic_int accepting;
	weft_task *acceptor;
	int fd;
};

static int late_dialer(void *arg)
{
	struct late *lt = arg;
	int c;

	if (!wait_atomic(&lt->accepting, 1) || !t_wait_parked(lt->acceptor))
		return -ETIMEDOUT;
	c = weft_dial_tcp("127.0.0.1", lt->port);
	if (c < 0)
		return c;
	lt->fd = c;
	return 0;
}

static int accept_waits_main(void *arg)
{
	struct late lt = { 0 };
	int l = listen_local(&lt.port), s, r;
	weft_task *t = weft_spawn(late_dialer, &lt);

	cr_assert_not_null(t, "spawn");
	lt.acceptor = weft_self();
	atomic_store(&lt.accepting, 1);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(l, NULL, NULL);
	}
	cr_assert_geq(s, 0, "weft_accept of a late client: %d", s);
	r = weft_join(t);
	cr_assert_eq(r, 0, "dialer returned %d", r);
	send_str(lt.fd, "late");
	expect_bytes(s, "late");
	close_ok(lt.fd);
	close_ok(s);
	close_ok(l);
	return 0;
}

Test(io_net, accept_waits_for_a_client_that_connects_later)
{
	RUN_EACH(accept_waits_main, NULL);
}

static int connect_plain_main(void *arg)
{
	int port, l = listen_local(&port), s, i, r;
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A blocking socket, then a non-blocking one: both are fine. */
	for (i = 0; i < 2; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
					 (i ? SOCK_NONBLOCK : 0), 0);

		cr_assert_geq(c, 0, "socket");
		WEFT_WITH_TIMEOUT(BOUND)
		{
			r = weft_connect(c, (struct sockaddr *)&a, sizeof(a));
		}
		cr_assert_eq(r, 0, "weft_connect (%s socket) returned %d",
			     i ? "non-blocking" : "blocking", r);
		WEFT_WITH_TIMEOUT(BOUND)
		{
			s = weft_accept(l, NULL, NULL);
		}
		cr_assert_geq(s, 0, "accept: %d", s);
		send_str(c, i ? "nonblocking" : "blocking");
		expect_bytes(s, i ? "nonblocking" : "blocking");
		send_str(s, "back");
		expect_bytes(c, "back");
		close_ok(c);
		close_ok(s);
	}
	close_ok(l);
	return 0;
}

Test(io_net, connect_works_on_blocking_and_non_blocking_sockets)
{
	RUN_EACH(connect_plain_main, NULL);
}

/* -------------------------------------------------------- exact bytes */

static int exact_bytes_main(void *arg)
{
	unsigned char out[1000], in[1000];
	int c, s, i;
	ssize_t r;

	tcp_pair(&c, &s);
	send_str(c, "ping");
	expect_bytes(s, "ping");
	send_str(s, "pong");
	expect_bytes(c, "pong");
	/* All 256 byte values, NULs included. */
	for (i = 0; i < (int)sizeof(out); i++)
		out[i] = (unsigned char)(i * 7 + 3);
	r = weft_send(c, out, sizeof(out), MSG_NOSIGNAL);
	cr_assert_eq(r, (ssize_t)sizeof(out), "send returned %zd", r);
	memset(in, 0, sizeof(in));
	r = recv_full(s, in, sizeof(in));
	cr_assert_eq(r, (ssize_t)sizeof(in), "recv_full returned %zd", r);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0, "bytes differ");
	/* A send of 0 bytes sends nothing and returns 0. */
	r = weft_send(c, out, 0, MSG_NOSIGNAL);
	cr_assert_eq(r, 0, "send of 0 bytes returned %zd", r);
	close_ok(c);
	close_ok(s);
	return 0;
}

Test(io_net, send_and_recv_carry_exact_bytes_both_ways)
{
	RUN_EACH(exact_bytes_main, NULL);
}

static int recv_short_main(void *arg)
{
	char buf[64];
	int c, s;
	ssize_t r;

	tcp_pair(&c, &s);
	send_str(c, "abc");
	memset(buf, 0, sizeof(buf));
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(s, buf, sizeof(buf), 0);
	}
	/* recv returns what is there, without waiting for the 64 bytes. */
	cr_assert_gt(r, 0, "recv returned %zd", r);
	cr_assert_leq(r, 3, "recv returned %zd of 3 bytes sent", r);
	if (r < 3) {
		ssize_t r2 = recv_full(s, buf + r, (size_t)(3 - r));

		cr_assert_eq(r2, 3 - r, "rest: %zd", r2);
	}
	cr_assert_eq(memcmp(buf, "abc", 3), 0, "got %.3s", buf);
	/* MSG_PEEK is passed through: the bytes stay. */
	send_str(c, "xyz");
	WEFT_WITH_TIMEOUT(BOUND)
	{
		do
			r = weft_recv(s, buf, 3, MSG_PEEK);
		while (r > 0 && r < 3 && weft_sleep(MS) == 0);
	}
	cr_assert_eq(r, 3, "peek returned %zd", r);
	expect_bytes(s, "xyz");
	close_ok(c);
	close_ok(s);
	return 0;
}

Test(io_net, recv_returns_the_bytes_there_without_waiting_to_fill_the_buffer)
{
	RUN_EACH(recv_short_main, NULL);
}

static int vectored_main(void *arg)
{
	char a[2] = { 'a', 'b' }, b[3] = { 'c', 'd', 'e' },
	     c3[5] = { 'f', 'g', 'h', 'i', 'j' };
	struct iovec out[3] = { { a, 2 }, { b, 3 }, { c3, 5 } };
	char x[4], y[6], all[10];
	struct iovec in[2];
	size_t got = 0;
	int c, s;
	ssize_t r;

	tcp_pair(&c, &s);
	r = weft_writev(c, out, 3, WEFT_OFF_CURRENT);
	cr_assert_eq(r, 10, "writev returned %zd", r);
	memset(x, 0, sizeof(x));
	memset(y, 0, sizeof(y));
	/* Short readv are legal: move through the iovecs until 10 bytes. */
	WEFT_WITH_TIMEOUT(BOUND)
	{
		while (got < 10) {
			size_t off = got;

			if (off < 4) {
				in[0].iov_base = x + off;
				in[0].iov_len = 4 - off;
				in[1].iov_base = y;
				in[1].iov_len = 6;
				r = weft_readv(s, in, 2, WEFT_OFF_CURRENT);
			} else {
				in[0].iov_base = y + (off - 4);
				in[0].iov_len = 10 - off;
				r = weft_readv(s, in, 1, WEFT_OFF_CURRENT);
			}
			if (r <= 0)
				break;
			got += (size_t)r;
		}
	}
	cr_assert_eq(got, 10, "readv got %zu bytes (last %zd)", got, r);
	memcpy(all, x, 4);
	memcpy(all + 4, y, 6);
	cr_assert_eq(memcmp(all, "abcdefghij", 10), 0, "got %.10s", all);
	close_ok(c);
	close_ok(s);
	return 0;
}

Test(io_net, readv_and_writev_on_a_socket_scatter_and_gather_exact_bytes)
{
	RUN_EACH(vectored_main, NULL);
}

/* ------------------------------------------------------ large transfers */

#define BIG (4u << 20)

struct xfer {
	int fd;
	const unsigned char *src;
	size_t len;
	ssize_t result;
};

static int sender(void *arg)
{
	struct xfer *x = arg;

	x->result = weft_send_all(x->fd, x->src, x->len, MSG_NOSIGNAL);
	return 0;
}

/* Receive x->len bytes in chunks and compare with x->src. */
static int receiver(void *arg)
{
	struct xfer *x = arg;
	unsigned char *buf = malloc(65536);
	size_t got = 0;
	ssize_t r = 0;

	if (!buf)
		return -ENOMEM;
	while (got < x->len) {
		size_t want = x->len - got < 65536 ? x->len - got : 65536;

		r = weft_recv(x->fd, buf, want, 0);
		if (r <= 0)
			break;
		if (memcmp(buf, x->src + got, (size_t)r) != 0) {
			r = -EILSEQ;
			break;
		}
		got += (size_t)r;
	}
	free(buf);
	x->result = r < 0 ? r : (ssize_t)got;
	return 0;
}

/*
 * A recv that filled its buffer makes the next one on that socket try
 * recv(2) directly (io_uring backend, net_ops.c).  Whatever the path, a
 * recv with nothing queued must still wait for bytes (not return EAGAIN),
 * and MSG_WAITALL must still wait for the whole length.
 */
struct late_send {
	int fd;
	const char *msg;
};

/* Spawned just before the reader's recv, this task waits in its spawner's
 * LIFO slot, which no other worker takes: it runs once the reader has
 * suspended in that recv, so its bytes arrive late without a sleep. */
static int late_sender(void *arg)
{
	struct late_send *l = arg;

	return weft_send_all(l->fd, l->msg, strlen(l->msg), 0) < 0 ? -1 : 0;
}

/* Recv exactly n bytes of 'x' on s (sent before). */
static void recv_xs(int s, char *buf, size_t n)
{
	size_t got = 0, i;
	ssize_t r;

	memset(buf, 0, n);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		/* Loopback queues a send at once, so these recvs fill their
		 * buffer; but only the bytes are asserted. */
		while (got < n) {
			r = weft_recv(s, buf + got, n - got, 0);
			cr_assert_gt(r, 0, "recv returned %zd", r);
			got += (size_t)r;
		}
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(buf[i], 'x', "byte %zu is %d", i, buf[i]);
}

static int recv_after_full_main(void *arg)
{
	char buf[1000];
	struct late_send l;
	weft_task *t;
	ssize_t r;
	int c, s, i;

	tcp_pair(&c, &s);
	/* Three full recvs in a row: the second and third go direct. */
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < 3; i++)
		cr_assert_eq(weft_send_all(c, buf, sizeof(buf), 0), 1000);
	for (i = 0; i < 3; i++)
		recv_xs(s, buf, sizeof(buf));
	/* Nothing queued now: the recv must wait for the late bytes. */
	l = (struct late_send){ c, "late" };
	t = weft_spawn(late_sender, &l);
	cr_assert_not_null(t);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(s, buf, sizeof(buf), 0);
	}
	cr_assert_eq(r, 4, "recv on an empty socket after full ones "
		     "returned %zd", r);
	cr_assert_eq(memcmp(buf, "late", 4), 0);
	cr_assert_eq(weft_join(t), 0);
	/* Full again, then MSG_WAITALL: half of it is queued, the other
	 * half comes late, so the call must wait past what is there. */
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(weft_send_all(c, buf, sizeof(buf), 0), 1000);
	recv_xs(s, buf, sizeof(buf));
	cr_assert_eq(weft_send_all(c, "first half,", 11, 0), 11);
	l = (struct late_send){ c, "second half" };
	t = weft_spawn(late_sender, &l);
	cr_assert_not_null(t);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(s, buf, 22, MSG_WAITALL);
	}
	cr_assert_eq(r, 22, "MSG_WAITALL recv returned %zd", r);
	cr_assert_eq(memcmp(buf, "first half,second half", 22), 0);
	cr_assert_eq(weft_join(t), 0);
	close_ok(c);
	close_ok(s);
	return 0;
}

Test(io_net, a_recv_after_full_ones_still_waits_when_nothing_is_queued)
{
	RUN_EACH(recv_after_full_main, NULL);
}

/*
 * A send that finds the socket full (tiny buffers, filled before the
 * sender starts) waits for room, and later sends still move every byte in
 * order:
 * on io_uring the first sends go direct, the one that meets a full socket
 * goes to the ring, and a whole send brings the direct path back.
 */
static int full_socket_main(void *arg)
{
	enum { N = 1 << 20 };
	unsigned char *src = malloc(N);
	struct xfer tx, rx;
	weft_task *ts, *tr;
	int c, s, small = 4096;
	size_t k = 0;
	ssize_t r;

	cr_assert_not_null(src);
	fill_random(src, N, 7);
	tcp_pair(&c, &s);
	cr_assert_eq(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)), 0);
	cr_assert_eq(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)), 0);
	/* Fill the connection with plain non-blocking sends until it says
	 * EAGAIN: full, whatever the timing, before any task sends. */
	while ((r = send(c, src + k, N - k, MSG_DONTWAIT)) > 0)
		k += (size_t)r;
	cr_assert(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
		  "filling send: %zd, errno %d", r, errno);
	cr_assert_lt(k, (size_t)N, "4 KiB buffers held the whole MiB");
	tx = (struct xfer){ c, src + k, N - k, 0 };
	rx = (struct xfer){ s, src, N, 0 };
	ts = weft_spawn(sender, &tx);
	cr_assert_not_null(ts);
	/* Let the sender meet the full socket before the reader starts. */
	cr_assert_eq(weft_yield(), 0);
	tr = weft_spawn(receiver, &rx);
	cr_assert_not_null(tr);
	cr_assert_eq(weft_join_timeout(tr, 60 * SEC), 0, "receiver");
	cr_assert_eq(weft_join_timeout(ts, 60 * SEC), 0, "sender");
	cr_assert_eq(tx.result, (ssize_t)(N - k), "send_all returned %zd",
		     tx.result);
	cr_assert_eq(rx.result, (ssize_t)N, "receiver: %zd (-EILSEQ: "
		     "corrupt bytes)", rx.result);
	close_ok(c);
	close_ok(s);
	free(src);
	return 0;
}

Test(io_net, a_send_into_a_full_socket_waits_for_room_and_keeps_every_byte)
{
	RUN_EACH(full_socket_main, NULL);
}

static int big_main(void *arg)
{
	unsigned char *src = malloc(BIG);
	struct xfer tx = { 0 }, rx = { 0 };
	weft_task *ts, *tr;
	uint64_t seed = t_seed();
	unsigned char b;
	int c, s;

	cr_assert_not_null(src);
	fill_random(src, BIG, seed);
	tcp_pair(&c, &s);
	tx = (struct xfer){ c, src, BIG, 0 };
	rx = (struct xfer){ s, src, BIG, 0 };
	ts = weft_spawn(sender, &tx);
	tr = weft_spawn(receiver, &rx);
	cr_assert(ts && tr, "spawn");
	cr_assert_eq(weft_join_timeout(tr, 60 * SEC), 0, "receiver");
	cr_assert_eq(weft_join_timeout(ts, 60 * SEC), 0, "sender");
	cr_assert_eq(tx.result, (ssize_t)BIG, "send_all returned %zd (seed %llu)",
		     tx.result, (unsigned long long)seed);
	cr_assert_eq(rx.result, (ssize_t)BIG, "receiver: %zd (-EILSEQ: "
		     "corrupt bytes; seed %llu)", rx.result,
		     (unsigned long long)seed);
	/* The stream ends there. */
	close_ok(c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		cr_assert_eq(weft_recv(s, &b, 1, 0), 0, "bytes after the end");
	}
	close_ok(s);
	free(src);
	return 0;
}

Test(io_net, send_all_of_4_mib_arrives_intact_through_a_recv_loop)
{
	RUN_EACH(big_main, NULL);
}

static int duplex_main(void *arg)
{
	unsigned char *a = malloc(BIG), *b = malloc(BIG);
	struct xfer ca, cb, ra, rb;
	weft_task *t[4];
	int c, s, i;

	cr_assert(a && b);
	fill_random(a, BIG, 1);
	fill_random(b, BIG, 2);
	tcp_pair(&c, &s);
	/* Both ends send and receive at once, each from two tasks. */
	ca = (struct xfer){ c, a, BIG, 0 };
	cb = (struct xfer){ s, b, BIG, 0 };
	ra = (struct xfer){ s, a, BIG, 0 };
	rb = (struct xfer){ c, b, BIG, 0 };
	t[0] = weft_spawn(sender, &ca);
	t[1] = weft_spawn(sender, &cb);
	t[2] = weft_spawn(receiver, &ra);
	t[3] = weft_spawn(receiver, &rb);
	for (i = 0; i < 4; i++) {
		cr_assert_not_null(t[i], "spawn %d", i);
	}
	for (i = 0; i < 4; i++)
		cr_assert_eq(weft_join_timeout(t[i], 60 * SEC), 0, "task %d", i);
	cr_assert_eq(ca.result, (ssize_t)BIG, "c send_all: %zd", ca.result);
	cr_assert_eq(cb.result, (ssize_t)BIG, "s send_all: %zd", cb.result);
	cr_assert_eq(ra.result, (ssize_t)BIG, "s received: %zd", ra.result);
	cr_assert_eq(rb.result, (ssize_t)BIG, "c received: %zd", rb.result);
	close_ok(c);
	close_ok(s);
	free(a);
	free(b);
	return 0;
}

Test(io_net, send_all_and_recv_run_both_ways_at_once_on_one_connection)
{
	RUN_EACH(duplex_main, NULL);
}

/* ---------------------------------------------- many connections at once */

#define N_CONN 200
#define ROUNDS 10
#define MSG 100

struct echo_srv {
	int l;
	int n;
	atomic_int served;
};

static int echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[512];
	ssize_t r;

	for (;;) {
		r = weft_recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			break;
		r = weft_send_all(fd, buf, (size_t)r, MSG_NOSIGNAL);
		if (r < 0)
			break;
	}
	weft_close(fd);
	return r < 0 ? (int)r : 0;
}

static int echo_acceptor(void *arg)
{
	struct echo_srv *e = arg;
	weft_task **ts = calloc((size_t)e->n, sizeof(*ts));
	int i, r = 0, st;

	if (!ts)
		return -ENOMEM;
	for (i = 0; i < e->n; i++) {
		int fd = weft_accept(e->l, NULL, NULL);

		if (fd < 0) {
			r = fd;
			break;
		}
		ts[i] = weft_spawn(echo_conn, (void *)(intptr_t)fd);
		if (!ts[i]) {
			weft_close(fd);
			r = -ENOMEM;
			break;
		}
	}
	for (int j = 0; j < i; j++) {
		st = weft_join(ts[j]);
		if (st == 0)
			atomic_fetch_add(&e->served, 1);
		else if (!r)
			r = st;
	}
	free(ts);
	return r;
}

struct client_arg {
	int port;
	int id;
};

static int echo_client(void *arg)
{
	struct client_arg *ca = arg;
	unsigned char out[MSG], in[MSG];
	int fd = weft_dial_tcp("127.0.0.1", ca->port), k, i;
	ssize_t r;

	if (fd < 0)
		return fd;
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; i < MSG; i++)
			out[i] = (unsigned char)(ca->id * 31 + k * 7 + i);
		r = weft_send_all(fd, out, MSG, MSG_NOSIGNAL);
		if (r != MSG)
			return r < 0 ? (int)r : -EIO;
		r = recv_full(fd, in, MSG);
		if (r != MSG)
			return r < 0 ? (int)r : -EPROTO;
		if (memcmp(in, out, MSG))
			return -EILSEQ;
		/* Let the other connections interleave. */
		weft_yield();
	}
	weft_close(fd);
	return 0;
}

static int many_main(void *arg)
{
	static struct client_arg ca[N_CONN];
	static weft_task *tc[N_CONN];
	struct echo_srv e = { 0 };
	weft_task *ta;
	int port, i, r, failed = 0, first = 0;

	e.l = listen_local(&port);
	e.n = N_CONN;
	ta = weft_spawn(echo_acceptor, &e);
	cr_assert_not_null(ta, "spawn acceptor");
	for (i = 0; i < N_CONN; i++) {
		ca[i].port = port;
		ca[i].id = i;
		tc[i] = weft_spawn(echo_client, &ca[i]);
		cr_assert_not_null(tc[i], "spawn client %d", i);
	}
	for (i = 0; i < N_CONN; i++) {
		r = weft_join_timeout(tc[i], 60 * SEC);
		if (r) {
			if (!failed++)
				first = r;
		}
	}
	cr_assert_eq(failed, 0, "%d of %d clients failed, first with %d",
		     failed, N_CONN, first);
	r = weft_join_timeout(ta, 60 * SEC);
	cr_assert_eq(r, 0, "acceptor returned %d", r);
	cr_assert_eq(atomic_load(&e.served), N_CONN, "served %d",
		     atomic_load(&e.served));
	close_ok(e.l);
	return 0;
}

Test(io_net, two_hundred_concurrent_echo_connections_all_get_their_bytes_back)
{
	RUN_EACH(many_main, NULL);
}

/* -------------------------------------------------------------- IPv6 */

static int ipv6_main(void *arg)
{
	struct sockaddr_in6 peer;
	socklen_t plen = sizeof(peer);
	int l, port, c, s;

	l = weft_listen_tcp("::1", 0, 16);
	if (!*(bool *)arg) {
		/* No ::1 here: the call must say so, with a clear errno. */
		cr_assert(l == -EADDRNOTAVAIL || l == -EAFNOSUPPORT,
			  "weft_listen_tcp(::1) without IPv6 returned %d", l);
		cr_log_warn("io_net: no IPv6 loopback; checked the error only");
		return 0;
	}
	cr_assert_geq(l, 0, "weft_listen_tcp(::1): %d", l);
	port = weft_local_port(l);
	cr_assert_gt(port, 0, "weft_local_port on IPv6: %d", port);
	c = weft_dial_tcp("::1", port);
	cr_assert_geq(c, 0, "weft_dial_tcp(::1): %d", c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(l, (struct sockaddr *)&peer, &plen);
	}
	cr_assert_geq(s, 0, "accept: %d", s);
	cr_assert_eq(peer.sin6_family, AF_INET6, "family %d",
		     peer.sin6_family);
	cr_assert(IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr), "peer not ::1");
	send_str(c, "six");
	expect_bytes(s, "six");
	send_str(s, "ack6");
	expect_bytes(c, "ack6");
	close_ok(c);
	close_ok(s);
	close_ok(l);
	return 0;
}

Test(io_net, ipv6_loopback_listen_dial_and_echo_or_a_clear_error)
{
	bool have = ipv6_loopback_usable();

	FOR_EACH_WORKERS(w)
	cr_assert_eq(t_run(ipv6_main, &have, w), 0, "%u workers", w);
}

/* A dual-stack listener (plain calls), so "localhost" works either way. */
static int listen_dual_stack(int *port)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	socklen_t len;
	int fd, off = 0;

	if (ipv6_loopback_usable()) {
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(fd, 0);
		cr_assert_eq(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
					sizeof(off)), 0);
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_any;
		cr_assert_eq(bind(fd, (struct sockaddr *)&a6, sizeof(a6)), 0);
		len = sizeof(a6);
		cr_assert_eq(getsockname(fd, (struct sockaddr *)&a6, &len), 0);
		*port = ntohs(a6.sin6_port);
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(fd, 0);
		memset(&a4, 0, sizeof(a4));
		a4.sin_family = AF_INET;
		a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cr_assert_eq(bind(fd, (struct sockaddr *)&a4, sizeof(a4)), 0);
		len = sizeof(a4);
		cr_assert_eq(getsockname(fd, (struct sockaddr *)&a4, &len), 0);
		*port = ntohs(a4.sin_port);
	}
	cr_assert_eq(listen(fd, 16), 0);
	return fd;
}

static int dial_name_main(void *arg)
{
	int port, l = listen_dual_stack(&port), c, s;

	c = weft_dial_tcp("localhost", port);
	cr_assert_geq(c, 0, "weft_dial_tcp(\"localhost\"): %d", c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(l, NULL, NULL);
	}
	cr_assert_geq(s, 0, "accept: %d", s);
	send_str(c, "by name");
	expect_bytes(s, "by name");
	close_ok(c);
	close_ok(s);
	close_ok(l);
	return 0;
}

Test(io_net, dial_tcp_resolves_a_host_name)
{
	RUN_EACH(dial_name_main, NULL);
}

/* -------------------------------------------------------- Unix domain */

static int unix_main(void *arg)
{
	char dir[] = "/tmp/weft-io-net-XXXXXX", path[128], missing[160];
	int l, c, s;

	cr_assert_not_null(mkdtemp(dir), "mkdtemp");
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	l = weft_listen_unix(path, 16);
	cr_assert_geq(l, 0, "weft_listen_unix(%s): %d", path, l);
	cr_assert(fcntl(l, F_GETFL) & O_NONBLOCK, "listener not non-blocking");
	cr_assert(fcntl(l, F_GETFD) & FD_CLOEXEC, "listener not cloexec");
	c = weft_dial_unix(path);
	cr_assert_geq(c, 0, "weft_dial_unix: %d", c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		s = weft_accept(l, NULL, NULL);
	}
	cr_assert_geq(s, 0, "accept on a Unix socket: %d", s);
	send_str(c, "over unix");
	expect_bytes(s, "over unix");
	send_str(s, "and back");
	expect_bytes(c, "and back");
	close_ok(c);
	close_ok(s);
	c = weft_dial_unix(missing);
	cr_assert_eq(c, -ENOENT, "dial of a missing path returned %d", c);
	close_ok(l);
	unlink(path);
	rmdir(dir);
	return 0;
}

Test(io_net, unix_domain_listen_dial_and_echo)
{
	RUN_EACH(unix_main, NULL);
}

/* ------------------------------------------------ close, shutdown, reset */

static int shutdown_main(void *arg)
{
	char b;
	int c, s;
	ssize_t r;

	tcp_pair(&c, &s);
	send_str(c, "bye");
	cr_assert_eq(weft_shutdown(c, SHUT_WR), 0, "shutdown");
	expect_bytes(s, "bye");
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(s, &b, 1, 0);
	}
	cr_assert_eq(r, 0, "recv after the peer's SHUT_WR returned %zd", r);
	/* The other direction still works (a half-close). */
	send_str(s, "still here");
	expect_bytes(c, "still here");
	close_ok(s);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_recv(c, &b, 1, 0);
	}
	cr_assert_eq(r, 0, "recv after the close returned %zd", r);
	close_ok(c);
	return 0;
}

Test(io_net, shutdown_wr_makes_the_peer_recv_return_zero_and_keeps_the_other_way)
{
	RUN_EACH(shutdown_main, NULL);
}

struct blocked_recv {
	int fd;
	atomic_int started;
	ssize_t r;
	char buf[64];
};

static int blocked_recv_task(void *arg)
{
	struct blocked_recv *b = arg;

	atomic_store(&b->started, 1);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		b->r = weft_recv(b->fd, b->buf, sizeof(b->buf), 0);
	}
	return 0;
}

static int peer_close_main(void *arg)
{
	struct blocked_recv b = { 0 };
	weft_task *t;
	int c, s;

	tcp_pair(&c, &s);
	b.fd = c;
	t = weft_spawn(blocked_recv_task, &b);
	cr_assert_not_null(t);
	cr_assert(wait_atomic(&b.started, 1));
	cr_assert(t_wait_parked(t), "the recv never waited");
	close_ok(s);
	cr_assert_eq(weft_join(t), 0);
	cr_assert_eq(b.r, 0, "a recv waiting when the peer closed returned %zd",
		     b.r);
	close_ok(c);
	return 0;
}

Test(io_net, recv_returns_zero_when_peer_closes)
{
	RUN_EACH(peer_close_main, NULL);
}

/*
 * The way to wake a task blocked on a socket from another task, short of
 * cancelling it: shut the socket down (Go's conn.Close() role).  The
 * waiting recv returns 0; weft_close alone does not reach an operation
 * already in the kernel (docs/guide.md).
 */
static int own_shutdown_main(void *arg)
{
	struct blocked_recv b = { 0 };
	weft_task *t;
	int c, s;

	tcp_pair(&c, &s);
	b.fd = c;
	b.r = -1;
	t = weft_spawn(blocked_recv_task, &b);
	cr_assert_not_null(t);
	cr_assert(wait_atomic(&b.started, 1));
	cr_assert(t_wait_parked(t), "the recv never waited");
	cr_assert_eq(weft_shutdown(c, SHUT_RDWR), 0);
	cr_assert_eq(weft_join(t), 0);
	cr_assert_eq(b.r, 0, "a recv waiting when its own socket was shut "
		     "down returned %zd", b.r);
	close_ok(c);
	close_ok(s);
	return 0;
}

Test(io_net, shutdown_by_another_task_ends_a_blocked_recv_with_zero)
{
	RUN_EACH(own_shutdown_main, NULL);
}

static int partial_close_main(void *arg)
{
	unsigned char out[1000], in[2000];
	size_t got = 0;
	ssize_t r = 0;
	int c, s, i;

	tcp_pair(&c, &s);
	for (i = 0; i < 1000; i++)
		out[i] = (unsigned char)i;
	/* The peer sends 1000 bytes and goes away mid-stream. */
	cr_assert_eq(weft_send_all(c, out, 1000, MSG_NOSIGNAL), 1000);
	close_ok(c);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		while ((r = weft_recv(s, in + got, sizeof(in) - got, 0)) > 0)
			got += (size_t)r;
	}
	cr_assert_eq(r, 0, "the stream ended with %zd", r);
	cr_assert_eq(got, 1000, "got %zu bytes before the end", got);
	cr_assert_eq(memcmp(in, out, 1000), 0, "bytes differ");
	close_ok(s);
	return 0;
}

Test(io_net, a_peer_that_closes_mid_stream_leaves_every_byte_then_zero)
{
	RUN_EACH(partial_close_main, NULL);
}

static void reset(int fd)
{
	struct linger lg = { 1, 0 };

	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close_ok(fd);
}

static int peer_reset_main(void *arg)
{
	struct blocked_recv b = { 0 };
	weft_task *t;
	int c, s;
	ssize_t r;

	tcp_pair(&c, &s);
	b.fd = c;
	t = weft_spawn(blocked_recv_task, &b);
	cr_assert_not_null(t);
	cr_assert(wait_atomic(&b.started, 1));
	cr_assert(t_wait_parked(t), "the recv never waited");
	reset(s);
	cr_assert_eq(weft_join(t), 0);
	cr_assert_eq(b.r, -ECONNRESET,
		     "a recv waiting when the peer reset returned %zd", b.r);
	/* The error was reported; the socket is dead for sending. */
	r = weft_send(c, "x", 1, MSG_NOSIGNAL);
	cr_assert(r == -EPIPE || r == -ECONNRESET,
		  "send after a reset returned %zd", r);
	close_ok(c);
	return 0;
}

Test(io_net, recv_returns_econnreset_when_peer_resets)
{
	RUN_EACH(peer_reset_main, NULL);
}

static int reset_mid_send_main(void *arg)
{
	size_t len = 16u << 20;
	unsigned char *src = malloc(len), buf[4096];
	struct xfer tx;
	weft_task *t;
	size_t got = 0;
	int c, s;

	cr_assert_not_null(src);
	fill_random(src, len, 7);
	tcp_pair(&c, &s);
	tx = (struct xfer){ c, src, len, 0 };
	t = weft_spawn(sender, &tx);
	cr_assert_not_null(t);
	/* Read a little, so the transfer is under way, then reset. */
	while (got < 65536) {
		ssize_t r = recv_full(s, buf, sizeof(buf));

		cr_assert_eq(r, (ssize_t)sizeof(buf), "recv: %zd", r);
		cr_assert_eq(memcmp(buf, src + got, sizeof(buf)), 0);
		got += sizeof(buf);
	}
	reset(s);
	cr_assert_eq(weft_join_timeout(t, 30 * SEC), 0,
		     "send_all did not end after the peer reset");
	cr_assert(tx.result == -ECONNRESET || tx.result == -EPIPE,
		  "send_all into a reset connection returned %zd", tx.result);
	close_ok(c);
	free(src);
	return 0;
}

Test(io_net, send_all_returns_econnreset_or_epipe_when_peer_resets_mid_stream)
{
	RUN_EACH(reset_mid_send_main, NULL);
}

static int refused_main(void *arg)
{
	struct sockaddr_in a;
	int port, l = listen_local(&port), fd, r;

	close_ok(l);	/* nobody listens on port now */
	r = weft_dial_tcp("127.0.0.1", port);
	cr_assert_eq(r, -ECONNREFUSED, "dial to a closed port returned %d", r);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_connect(fd, (struct sockaddr *)&a, sizeof(a));
	}
	cr_assert_eq(r, -ECONNREFUSED, "connect to a closed port returned %d",
		     r);
	close_ok(fd);
	return 0;
}

Test(io_net, connect_to_a_closed_port_returns_econnrefused)
{
	RUN_EACH(refused_main, NULL);
}

/* ------------------------------------------------------ EMFILE on accept */

/* The highest descriptor open in the process below the soft limit
 * (Valgrind keeps its own descriptors above the limit it shows us). */
static int max_open_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct rlimit lim;
	int max = 2;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
	cr_assert_not_null(d, "opendir /proc/self/fd");
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > max && (rlim_t)fd < lim.rlim_cur)
			max = fd;
	}
	closedir(d);
	return max;
}

#define N_FILL 512

struct emfile {
	int l;
	atomic_int emfile;	/* accepts that failed for want of a descriptor */
	atomic_int served;
	int other_error;
};

/* A server that keeps serving: EMFILE means "wait a little and retry". */
static int emfile_server(void *arg)
{
	struct emfile *e = arg;
	char buf[64];

	while (atomic_load(&e->served) < 2) {
		int fd = weft_accept(e->l, NULL, NULL);
		ssize_t r;

		if (fd == -EMFILE || fd == -ENFILE) {
			atomic_fetch_add(&e->emfile, 1);
			weft_sleep(5 * MS);
			continue;
		}
		if (fd < 0) {
			e->other_error = fd;
			return fd;
		}
		r = weft_recv(fd, buf, sizeof(buf), 0);
		if (r > 0)
			r = weft_send_all(fd, buf, (size_t)r, MSG_NOSIGNAL);
		weft_close(fd);
		if (r < 0)
			return (int)r;
		atomic_fetch_add(&e->served, 1);
	}
	return 0;
}

static int emfile_main(void *arg)
{
	struct emfile e = { 0 };
	struct rlimit old, low;
	struct sockaddr_in a;
	int fill[N_FILL], nfill = 0, port, c, c2, r, i;
	weft_task *t;

	e.l = listen_local(&port);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c, 0);
	/* Use up the descriptors: a low limit, then dup until EMFILE. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)max_open_fd() + 1 + 16;
	cr_assert_lt(low.rlim_cur, old.rlim_cur, "the limit is already low");
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0, "setrlimit");
	for (;;) {
		int fd = dup(c);

		if (fd < 0) {
			cr_assert_eq(t_errno(), EMFILE, "dup: errno %d",
				     t_errno());
			break;
		}
		cr_assert_lt(nfill, N_FILL, "more descriptors than expected");
		fill[nfill++] = fd;
	}
	/* A client connects (into the backlog) while none is free. */
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_connect(c, (struct sockaddr *)&a, sizeof(a));
	}
	cr_assert_eq(r, 0, "connect with no descriptor left returned %d", r);
	send_str(c, "hello");
	WEFT_WITH_TIMEOUT(BOUND)
	{
		r = weft_accept(e.l, NULL, NULL);
	}
	cr_assert(r == -EMFILE || r == -ENFILE,
		  "accept with no descriptor left returned %d", r);
	if (under_valgrind()) {
		/* The connection is gone (see under_valgrind): the rest
		 * runs in the other builds only. */
		for (i = 0; i < nfill; i++)
			close(fill[i]);
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		close_ok(c);
		close_ok(e.l);
		return 0;
	}
	/* The server retries and keeps failing while the table is full. */
	t = weft_spawn(emfile_server, &e);
	cr_assert_not_null(t, "spawn");
	cr_assert(wait_atomic(&e.emfile, 3), "the server saw EMFILE %d times",
		  atomic_load(&e.emfile));
	cr_assert_eq(atomic_load(&e.served), 0, "served with no descriptor");
	/* Free the descriptors: the pending client is served. */
	for (i = 0; i < nfill; i++)
		close(fill[i]);	/* weft never waited on these */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0, "restore the limit");
	expect_bytes(c, "hello");
	cr_assert(wait_atomic(&e.served, 1), "pending client not served");
	/* And the next one too. */
	c2 = weft_dial_tcp("127.0.0.1", port);
	cr_assert_geq(c2, 0, "dial: %d", c2);
	send_str(c2, "again");
	expect_bytes(c2, "again");
	cr_assert_eq(weft_join_timeout(t, BOUND), 0, "server: other error %d",
		     e.other_error);
	cr_assert_eq(atomic_load(&e.served), 2, "served %d",
		     atomic_load(&e.served));
	close_ok(c);
	close_ok(c2);
	close_ok(e.l);
	return 0;
}

/*
 * The limit is lowered in this test's own process (each test runs in a
 * process of its own) and restored before the runtime shuts down.
 */
Test(io_net, accept_returns_emfile_and_the_server_serves_once_descriptors_free_up)
{
	RUN_EACH(emfile_main, NULL);
}
