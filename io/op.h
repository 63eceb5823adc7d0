/*
 * What every public I/O call does first, and the io_uring call pattern.
 */
#ifndef WEFT_IO_OP_H
#define WEFT_IO_OP_H

#include <errno.h>

#include "io/io.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/worker.h"

/*
 * Enter an (S) I/O call: the current worker in *wp, or -EPERM outside a
 * task, or the task's pending cancellation / expired deadline (checked
 * before anything reaches the kernel: level-triggered, as every
 * suspension point).
 */
static inline int weft__io_enter(struct worker **wp)
{
	struct worker *w = weft__tls_worker;

	if (!w || !w->current)
		return -EPERM;
	*wp = w;
	return weft__interrupted(w->current);
}

static inline bool weft__io_uring(struct worker *w)
{
	return w->rt->io_backend == WEFT__IO_URING;
}

/* A fresh SQE on the current worker's ring. */
static inline struct io_uring_sqe *weft__io_sqe(struct worker *w)
{
	return weft__uring_sqe(w->io);
}

/* Issue sqe (prepared by the caller) and wait for its result. */
static inline int weft__io_submit_wait(struct io_uring_sqe *sqe)
{
	struct weft__uring_op op;

	return weft__uring_run(sqe, &op);
}

/* io_uring: wait until fd is ready for poll events (after a -EAGAIN from
 * a non-blocking descriptor).  The ready events or a negative errno. */
int weft__uring_poll_fd(struct worker *w, int fd, unsigned events);

#endif /* WEFT_IO_OP_H */
