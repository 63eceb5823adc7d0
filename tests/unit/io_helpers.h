/*
 * Socket helpers shared by the I/O tests (io_net, io_cancel, io_misc,
 * io_file): each asserts on failure, in a task.
 */
#ifndef WEFT_TESTS_IO_HELPERS_H
#define WEFT_TESTS_IO_HELPERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/crit.h"
#include "weft.h"

/* A wait that should end at once gives up after this long. */
#define T_IO_BOUND_NS 20000000000ull

static inline void close_ok(int fd)
{
	int r = weft_close(fd);

	cr_assert_eq(r, 0, "weft_close(%d) returned %d", fd, r);
}

static inline int listen_local(int *port)
{
	int l = weft_listen_tcp("127.0.0.1", 0, 256);

	cr_assert_geq(l, 0, "weft_listen_tcp(127.0.0.1, 0): %d", l);
	*port = weft_local_port(l);
	cr_assert_gt(*port, 0, "weft_local_port: %d", *port);
	return l;
}

/* A connected loopback pair: *c dialled, *s accepted. */
static inline void tcp_pair(int *c, int *s)
{
	int port, l = listen_local(&port);

	*c = weft_dial_tcp("127.0.0.1", port);
	cr_assert_geq(*c, 0, "weft_dial_tcp: %d", *c);
	WEFT_WITH_TIMEOUT(T_IO_BOUND_NS)
	{
		*s = weft_accept(l, NULL, NULL);
	}
	cr_assert_geq(*s, 0, "weft_accept: %d", *s);
	cr_assert_eq(weft_close(l), 0, "close the listener");
}

/* Receive exactly len bytes (bounded): the count, or the negative errno. */
static inline ssize_t recv_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t r = 0;

	WEFT_WITH_TIMEOUT(T_IO_BOUND_NS)
	{
		while (got < len) {
			r = weft_recv(fd, (char *)buf + got, len - got, 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
	}
	return r < 0 ? r : (ssize_t)got;
}

static inline void expect_bytes(int fd, const char *want)
{
	size_t n = strlen(want);
	char buf[256];
	ssize_t r;

	cr_assert_lt(n, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	r = recv_full(fd, buf, n);
	cr_assert_eq(r, (ssize_t)n, "recv of \"%s\" returned %zd", want, r);
	cr_assert_eq(memcmp(buf, want, n), 0, "got \"%.*s\", want \"%s\"",
		     (int)n, buf, want);
}

static inline void send_str(int fd, const char *s)
{
	ssize_t r = weft_send(fd, s, strlen(s), MSG_NOSIGNAL);

	cr_assert_eq(r, (ssize_t)strlen(s), "send of \"%s\" returned %zd", s,
		     r);
}

/* In a task: poll until *v >= want; false after T_IO_BOUND_NS. */
static inline bool wait_atomic(atomic_int *v, int want)
{
	uint64_t until = weft_now() + T_IO_BOUND_NS;

	while (atomic_load(v) < want) {
		if (weft_now() > until)
			return false;
		weft_sleep(1000000);
	}
	return true;
}

#endif /* WEFT_TESTS_IO_HELPERS_H */
