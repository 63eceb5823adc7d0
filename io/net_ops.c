/*
 * Socket calls: accept, connect, recv, send, shutdown, poll.
 *
 * io_uring: one SQE each; the kernel waits for readiness itself.  A
 * -EAGAIN can still come back (a non-blocking descriptor on some kernels):
 * then we wait for readiness with a poll request and try again.  A send,
 * and a recv that follows a full one, first try the system call itself
 * (sock_direct).  MSG_WAITALL is looped here, for both backends.
 * epoll: the non-blocking system call first, then a wait on the
 * descriptor's record (epoll.c) after EAGAIN.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/op.h"
#include "runtime/task.h"
#include "weft.h"

/* Linux moves at most this much in one call (MAX_RW_COUNT). */
#define RW_MAX 0x7ffff000ul

static size_t clamp_len(size_t len)
{
	return len > RW_MAX ? RW_MAX : len;
}

int weft__uring_poll_fd(struct worker *w, int fd, unsigned events)
{
	struct io_uring_sqe *sqe = weft__io_sqe(w);

	io_uring_prep_poll_add(sqe, fd, events);
	return weft__io_submit_wait(sqe);
}

/* After -EAGAIN: wait until fd may be ready for `in` (else out).  0 to
 * retry, or why not. */
static int wait_ready(struct worker *w, int fd, bool in)
{
	int r;

	w->net_waits++;		/* worker.c: courtesy */
	if (weft__io_uring(w)) {
		r = weft__uring_poll_fd(w, fd, in ? POLLIN : POLLOUT);
		return r < 0 ? r : 0;
	}
	return weft__epoll_wait_fd(fd, in ? EPOLLIN : EPOLLOUT);
}

/* epoll: a call that did not wait still spends coop budget, so a task
 * echoing on a busy socket cannot hold its worker forever. */
static void epoll_attempt(struct worker *w)
{
	weft__coop_tick(w);
}

int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct worker *w;
	int r = weft__io_enter(&w);

	if (r)
		return r;
	for (;;) {
		/* After a wait the task may run on another worker. */
		w = weft__worker_self();
		if (weft__io_uring(w)) {
			struct io_uring_sqe *sqe = weft__io_sqe(w);

			io_uring_prep_accept(sqe, fd, addr, addrlen,
					     SOCK_CLOEXEC);
			r = weft__io_submit_wait(sqe);
		} else {
			epoll_attempt(w);
			weft__epoll_fd_is_file(fd);	/* registers fd */
			r = accept4(fd, addr, addrlen,
				    SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (r < 0)
				r = -errno;
		}
		if (r >= 0) {
			/* A record left by an earlier descriptor of that
			 * number (closed behind our back) must not apply. */
			weft__epoll_forget(r);
			return r;
		}
		if (r != -EAGAIN && r != -EINTR)
			return r;
		r = wait_ready(weft__worker_self(), fd, true);
		if (r)
			return r;
	}
}

/* The outcome of a non-blocking connect that said EINPROGRESS. */
static int connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct worker *w;
	int r = weft__io_enter(&w);

	if (r)
		return r;
	if (weft__io_uring(w)) {
		struct io_uring_sqe *sqe = weft__io_sqe(w);

		io_uring_prep_connect(sqe, fd, addr, addrlen);
		r = weft__io_submit_wait(sqe);
		if (r != -EAGAIN && r != -EINPROGRESS)
			return r;
	} else {
		epoll_attempt(w);
		weft__epoll_fd_is_file(fd);	/* registers, non-blocking */
		if (connect(fd, addr, addrlen) == 0)
			return 0;
		if (errno != EINPROGRESS && errno != EAGAIN &&
		    errno != EINTR)
			return -errno;
	}
	r = wait_ready(weft__worker_self(), fd, false);
	if (r)
		return r;
	return connect_result(fd);
}

/*
 * io_uring: the system call itself, when it will most likely not wait.
 * A send usually finds room, and a recv after one that filled its buffer
 * usually finds more queued: then recv(2)/send(2) with MSG_DONTWAIT does
 * the same work without the ring's round trip (park, batch, reap, wake),
 * which cost tcp_stream's reader a scheduler pass per 64 KiB, and an echo
 * server a second park per message.  A recv with nothing queued, or a send
 * into a full socket, goes to the ring, which waits in the kernel; a send
 * that found the socket full goes there until a send completes whole.
 * Returns -EAGAIN when the ring should take the call.
 */
static ssize_t sock_direct(struct weft_task *t, int fd, void *buf,
			   size_t len, int flags, bool in)
{
	ssize_t r;

	if (in ? t->io_recv_hot_fd != fd : t->io_send_full_fd == fd)
		return -EAGAIN;
	r = in ? recv(fd, buf, len, flags | MSG_DONTWAIT)
	       : send(fd, buf, len, flags | MSG_DONTWAIT);
	if (r < 0) {
		r = -errno;	/* EWOULDBLOCK is EAGAIN on Linux */
		if (r == -EAGAIN || r == -EINTR) {
			if (in)
				t->io_recv_hot_fd = -1;
			else
				t->io_send_full_fd = fd;
			return -EAGAIN;
		}
	}
	return r;
}

/* After a recv or send that moved r bytes of len: update the guesses. */
static void sock_learn(struct weft_task *t, int fd, ssize_t r, size_t len,
		       bool in)
{
	if (in)
		t->io_recv_hot_fd = r > 0 && (size_t)r == len ? fd : -1;
	else if (r >= 0 && (size_t)r == len && t->io_send_full_fd == fd)
		t->io_send_full_fd = -1;
}

/* recv (in) or send (!in): one attempt, then a readiness wait after
 * EAGAIN, until it moves bytes or fails. */
static ssize_t sock_transfer(int fd, void *buf, size_t len, int flags,
			     bool in)
{
	struct worker *w;
	ssize_t r = weft__io_enter(&w);

	if (r)
		return r;
	len = clamp_len(len);
	for (;;) {
		/* After a wait the task may run on another worker. */
		w = weft__worker_self();
		if (weft__io_uring(w)) {
			struct weft_task *t = w->current;
			struct io_uring_sqe *sqe;

			r = sock_direct(t, fd, buf, len, flags, in);
			if (r != -EAGAIN) {
				/* Did not suspend: spend coop budget, so a
				 * busy socket cannot hold the worker. */
				sock_learn(t, fd, r, len, in);
				weft__coop_tick(w);
				return r;
			}
			sqe = weft__io_sqe(w);
			w->net_waits++;		/* worker.c: courtesy */
			if (in)
				io_uring_prep_recv(sqe, fd, buf, len, flags);
			else
				io_uring_prep_send(sqe, fd, buf, len, flags);
			r = weft__io_submit_wait(sqe);
			sock_learn(weft__worker_self()->current, fd, r, len,
				   in);
		} else {
			epoll_attempt(w);
			weft__epoll_fd_is_file(fd);
			r = in ? recv(fd, buf, len, flags | MSG_DONTWAIT)
			       : send(fd, buf, len, flags | MSG_DONTWAIT);
			if (r < 0)
				r = -errno;
		}
		/* A caller's own MSG_DONTWAIT means: do not wait. */
		if ((r != -EAGAIN && r != -EINTR) || (flags & MSG_DONTWAIT))
			return r;
		r = wait_ready(weft__worker_self(), fd, in);
		if (r)
			return r;
	}
}

/*
 * MSG_WAITALL, as recv(2) keeps it: wait for len bytes, or fewer at the end
 * of the stream or on an error after some bytes (the error then comes at
 * the next call; a cancellation at the next suspension point).  Looped here
 * rather than left to the kernel: the epoll backend's non-blocking recv
 * would return what is there.
 */
static ssize_t recv_waitall(int fd, char *buf, size_t len, int flags)
{
	size_t got = 0;
	ssize_t r;

	do {
		r = sock_transfer(fd, buf + got, len - got, flags, true);
		if (r <= 0)
			return got ? (ssize_t)got : r;
		got += (size_t)r;
	} while (got < len);
	return (ssize_t)got;
}

ssize_t weft_recv(int fd, void *buf, size_t len, int flags)
{
	/* MSG_DONTWAIT wins: what is there, as recv(2). */
	if ((flags & MSG_WAITALL) && !(flags & MSG_DONTWAIT) && buf && len)
		return recv_waitall(fd, buf, clamp_len(len),
				    flags & ~MSG_WAITALL);
	return sock_transfer(fd, buf, len, flags, true);
}

ssize_t weft_send(int fd, const void *buf, size_t len, int flags)
{
	/* -EPIPE rather than SIGPIPE for a peer that has gone. */
	return sock_transfer(fd, (void *)buf, len, flags | MSG_NOSIGNAL,
			     false);
}

ssize_t weft_send_all(int fd, const void *buf, size_t len, int flags)
{
	const char *p = buf;
	size_t done = 0;

	if (!buf && len)
		return -EFAULT;
	while (done < len) {
		ssize_t r = weft_send(fd, p + done, len - done, flags);

		if (r < 0)
			return r;
		done += (size_t)r;
	}
	if (len == 0) {
		/* Still a suspension point: report -EPERM / cancellation. */
		struct worker *w;
		int r = weft__io_enter(&w);

		if (r)
			return r;
	}
	return (ssize_t)len;
}

int weft_shutdown(int fd, int how)
{
	struct worker *w;
	int r = weft__io_enter(&w);

	if (r)
		return r;
	if (weft__io_uring(w)) {
		struct io_uring_sqe *sqe = weft__io_sqe(w);

		io_uring_prep_shutdown(sqe, fd, how);
		return weft__io_submit_wait(sqe);
	}
	epoll_attempt(w);
	return shutdown(fd, how) < 0 ? -errno : 0;
}

/*
 * epoll backend, events with neither POLLIN nor POLLOUT (0: errors and
 * hang-ups only, POLLPRI, POLLRDHUP): the shared edge-triggered record
 * waits for input or output, and waiting on its input edge woke at every
 * byte that arrived and spun while nobody read them (issue 7).  A private
 * level-triggered epoll set holds fd with exactly these events, and the
 * task waits for that set's own descriptor to turn readable.  p: the
 * poll(2) check the caller just made, nothing ready.
 */
static int poll_private(int fd, int events, struct pollfd *p)
{
	struct epoll_event ev = {
		.events = (uint32_t)events & (EPOLLPRI | EPOLLRDHUP),
	};
	int ep = epoll_create1(EPOLL_CLOEXEC), r;

	if (ep < 0)
		return -errno;
	weft__epoll_forget(ep);	/* no stale record for this number */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		/* A regular file never reports these (it would wait for
		 * good): -EINVAL, as io_uring's poll answers there. */
		if (r == -EPERM)
			r = -EINVAL;
		goto out;
	}
	for (;;) {
		r = weft__epoll_wait_fd(ep, EPOLLIN);
		if (r)
			break;
		weft__coop_tick(weft__worker_self());
		p->revents = 0;
		if (poll(p, 1, 0) < 0) {
			r = -errno;
			break;
		}
		if (p->revents) {
			r = p->revents & POLLNVAL ? -EBADF : p->revents;
			break;
		}
	}
out:
	weft__epoll_forget(ep);
	close(ep);
	return r;
}

int weft_poll(int fd, int events)
{
	struct worker *w;
	struct pollfd p;
	uint32_t want;
	int r = weft__io_enter(&w);

	if (r)
		return r;
	if (fd < 0)
		return -EBADF;
	if (weft__io_uring(w)) {
		struct io_uring_sqe *sqe = weft__io_sqe(w);

		io_uring_prep_poll_add(sqe, fd, (unsigned)events);
		r = weft__io_submit_wait(sqe);
		/* POLLNVAL is how poll(2) says EBADF. */
		return r > 0 && (r & POLLNVAL) ? -EBADF : r;
	}
	/* Only what the record's edges stand for (see poll_private). */
	want = ((events & POLLIN) ? EPOLLIN : 0) |
	       ((events & POLLOUT) ? EPOLLOUT : 0);
	for (;;) {
		/* After a wait the task may run on another worker. */
		w = weft__worker_self();
		epoll_attempt(w);
		p.fd = fd;
		p.events = (short)events;
		p.revents = 0;
		if (poll(&p, 1, 0) < 0)
			return -errno;
		if (p.revents & POLLNVAL)
			return -EBADF;
		if (p.revents)
			return p.revents;
		if (!want)
			return poll_private(fd, events, &p);
		r = weft__epoll_wait_fd(fd, want);
		if (r)
			return r;
	}
}
