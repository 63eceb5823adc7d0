/*
 * The frame of every example server: command line, listener, accept loop,
 * signals.
 *
 * Tasks:
 *   main    listens, starts "signal" and one "accept" per worker, waits
 *           for the first of them to end, cancels and joins them all, and
 *           returns: 0 after a signal, an accept loop's error otherwise;
 *   accept  accepts and spawns one detached task per connection;
 *   signal  weft_signal_wait for SIGINT or SIGTERM;
 *   conn    one per connection: the server's function, then close.
 *
 * Connection tasks are detached rather than spawned into a task group: a
 * group keeps every child's handle until weft_group_wait, so a server that
 * runs for days would keep one per connection it ever had.  They need no
 * bookkeeping at shutdown either: once main returns, weft_run cancels and
 * joins every task still alive, so each connection's pending recv returns
 * -ECANCELED, the task closes its socket, and weft_run returns main's 0.
 *
 * SIGINT and SIGTERM are blocked in main() before weft_run, so every
 * worker thread inherits the mask and a signal waits for weft_signal_wait
 * instead of killing the process (weft.h).
 */
#include <errno.h>
#include <limits.h>
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

#include "serve.h"

#define MS 1000000ull

/* One server per process; written before weft_run, read-only after. */
static struct server *srv;
static sigset_t stop_signals;
/* Written by the main task before it spawns the accept tasks. */
static int listen_fd = -1;

static __attribute__((noreturn)) void usage(void)
{
	fprintf(stderr,
		"usage: %s [--port P] [--workers N] [--idle-timeout-ms MS]\n",
		srv->name);
	exit(2);
}

/* "--name V" or "--name=V": the value, or NULL when arg is not --name. */
static const char *option(char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || !argv[*i + 1])
		return NULL;
	return argv[++*i];
}

static unsigned long long number(const char *v, unsigned long long max)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || x > max)
		usage();
	return x;
}

static void parse_args(int argc, char **argv)
{
	const char *v;
	int i;

	for (i = 1; i < argc; i++) {
		if ((v = option(argv, &i, "--port")))
			srv->port = (int)number(v, 65535);
		else if ((v = option(argv, &i, "--workers")))
			srv->workers = (unsigned)number(v, 4096);
		else if ((v = option(argv, &i, "--idle-timeout-ms")))
			srv->idle_timeout_ms = number(v, UINT64_MAX / MS);
		else
			usage();
	}
}

/* Close even in a cancelled task: weft_close suspends, and a cancelled
 * task's suspensions fail at once, which would leak the descriptor. */
static void close_fd(int fd)
{
	weft_shield_begin();
	weft_close(fd);
	weft_shield_end();
}

static int conn_task(void *arg)
{
	int fd = (int)(intptr_t)arg;

	srv->conn(fd);
	close_fd(fd);
	return 0;
}

/* Errors of accept(2) that end the loop; the others concern one pending
 * connection (see accept(2), "Error handling"; EPERM: a firewall rule)
 * or pass. */
static bool accept_fatal(int r)
{
	return r == -EBADF || r == -EINVAL || r == -ENOTSOCK ||
	       r == -EFAULT || r == -ECANCELED || r == -ETIMEDOUT;
}

/* Out of descriptors or memory: the connection stays in the backlog, so
 * wait for others to close rather than spin on the same error. */
static bool accept_exhausted(int r)
{
	return r == -EMFILE || r == -ENFILE || r == -ENOBUFS || r == -ENOMEM;
}

static int accept_task(void *arg)
{
	weft_task *t;
	int fd, one = 1, r;

	for (;;) {
		fd = weft_accept(listen_fd, NULL, NULL);
		if (fd < 0 && accept_fatal(fd))
			return fd;
		if (fd < 0 && accept_exhausted(fd)) {
			r = weft_sleep(100 * MS);
			if (r < 0)
				return r;
		}
		if (fd < 0)
			continue;
		/* Replies go out whole; do not hold them for Nagle. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t = weft_spawn(conn_task, (void *)(intptr_t)fd);
		if (!t) {
			close_fd(fd);
			continue;
		}
		weft_detach(t);
	}
}

static int signal_task(void *arg)
{
	return weft_signal_wait(&stop_signals);
}

/* Acceptors: one per worker, all on the one listening socket, so that
 * accepting is never one task's job (with io_uring each waits in its own
 * worker's ring; the kernel hands each connection to one of them). */
#define ACCEPTORS_MAX 64

static unsigned acceptor_count(void)
{
	weft_stats st;

	if (weft_stats_get(NULL, &st) < 0 || st.workers == 0)
		return 1;
	return st.workers < ACCEPTORS_MAX ? st.workers : ACCEPTORS_MAX;
}

/* Run the accept loops until a stop signal (0) or the first one's error. */
static int serve_until_signal(void)
{
	weft_task *t[ACCEPTORS_MAX + 1];
	unsigned n = acceptor_count(), i, k = 0;
	size_t done = 0;
	int r = 0, rs;

	t[k] = weft_spawn(signal_task, NULL);
	if (!t[k])
		return -errno;
	for (k = 1; k <= n; k++) {
		t[k] = weft_spawn(accept_task, NULL);
		if (!t[k]) {
			r = -errno;
			break;
		}
	}
	if (r == 0)
		weft_wait(t, k, WEFT_FIRST_COMPLETED, WEFT_FOREVER, &done);
	for (i = 0; i < k; i++)
		weft_cancel(t[i]);
	rs = weft_join(t[0]);
	for (i = 1; i < k; i++) {
		int ra = weft_join(t[i]);

		/* The error of the loop that ended first, not a cancel. */
		if (i == done && r == 0 && ra < 0 && ra != -ECANCELED)
			r = ra;
	}
	if (r < 0)
		return r;
	if (rs > 0) {
		fprintf(stderr, "%s: %s, stopping\n", srv->name, strsignal(rs));
		return 0;
	}
	return rs;
}

static int main_task(void *arg)
{
	int r;

	listen_fd = weft_listen_tcp("127.0.0.1", srv->port, SOMAXCONN);
	if (listen_fd < 0)
		return listen_fd;
	r = weft_local_port(listen_fd);
	if (r >= 0) {
		fprintf(stderr, "listening on 127.0.0.1:%d\n", r);
		r = serve_until_signal();
	}
	close_fd(listen_fd);
	return r;
}

int serve_main(struct server *s, int argc, char **argv)
{
	weft_config cfg;
	int r;

	srv = s;
	parse_args(argc, argv);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	r = pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	if (r) {
		fprintf(stderr, "%s: pthread_sigmask: %s\n", s->name,
			strerror(r));
		return 1;
	}
	/* A peer that leaves mid-reply must not kill the server. */
	signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = s->workers;
	r = weft_run(main_task, NULL, &cfg);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", s->name, strerror(-r));
		return 1;
	}
	return 0;
}

ssize_t serve_recv(int fd, void *buf, size_t len)
{
	ssize_t n = -ETIMEDOUT;

	if (!srv->idle_timeout_ms)
		return weft_recv(fd, buf, len, 0);
	WEFT_WITH_TIMEOUT(srv->idle_timeout_ms * MS)
		n = weft_recv(fd, buf, len, 0);
	return n;
}

uint64_t serve_deadline(void)
{
	if (!srv->idle_timeout_ms)
		return 0;
	return weft_now() + srv->idle_timeout_ms * MS;
}

/* A deadline comes from serve_deadline, so it is never more than one idle
 * timeout away: the remaining time bounds this recv on its own. */
ssize_t serve_recv_until(int fd, void *buf, size_t len, uint64_t deadline)
{
	uint64_t now;
	ssize_t n = -ETIMEDOUT;

	if (!deadline)
		return serve_recv(fd, buf, len);
	now = weft_now();
	if (now >= deadline)
		return -ETIMEDOUT;
	WEFT_WITH_TIMEOUT(deadline - now)
		n = weft_recv(fd, buf, len, 0);
	return n;
}

ssize_t serve_send(int fd, const void *buf, size_t len)
{
	ssize_t n = -ETIMEDOUT;

	if (!srv->idle_timeout_ms)
		return weft_send_all(fd, buf, len, MSG_NOSIGNAL);
	WEFT_WITH_TIMEOUT(srv->idle_timeout_ms * MS)
		n = weft_send_all(fd, buf, len, MSG_NOSIGNAL);
	return n;
}

void serve_linger(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	if (weft_shutdown(fd, SHUT_WR) < 0)
		return;
	/* 1 s and 256 KiB: enough for a peer to read a short reply, too
	 * little for one that keeps sending to hold the task. */
	WEFT_WITH_TIMEOUT(1000 * MS) {
		do {
			n = weft_recv(fd, buf, sizeof(buf), 0);
			total += n > 0 ? (size_t)n : 0;
		} while (n > 0 && total < 256 * 1024);
	}
}
