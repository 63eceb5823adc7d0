/*
 * io/ internals: the per-worker driver state of both backends and the
 * operation records tasks wait on.
 */
#ifndef WEFT_IO_IO_H
#define WEFT_IO_IO_H

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/worker.h"

struct weft_task;

enum weft__io_backend {
	WEFT__IO_URING = 1,
	WEFT__IO_EPOLL = 2,
};

/* user_data values that name no operation. */
#define WEFT__UD_NONE 0ull	/* cancel requests (their CQEs are skipped) */
#define WEFT__UD_WAKE 1ull	/* a MSG_RING wake-up from another worker */
#define WEFT__UD_EFD 2ull	/* the read armed on the wake eventfd */

/*
 * An io_uring operation a task waits on; it lives on the task's stack until
 * its completion has been reaped, even when the task is cancelled (the
 * kernel may write to the task's buffers until then).  See uring_op.c for
 * the protocol between the reaping worker and the task.
 */
struct weft__uring_op {
	struct weft_task *task;
	struct worker *owner;		/* whose ring has it */
	/* The park gen the reaper must wake, with a phase flag; DONE once
	 * the completion was reaped. */
	_Atomic uint64_t waiter;
	_Atomic uint32_t released;	/* reaper no longer touches us */
	int res;
	struct weft__uring_op *cancel_next;	/* owner's cancel inbox */
	_Atomic uint64_t cancel_word;	/* uring_op.c: CQ_* */
};

struct weft__io {
	int backend;
	/* 1 while the owner blocks in its ring or epoll set; a waker moves
	 * it to 2 and sends one wake-up. */
	_Atomic int parked;
	int efd;			/* eventfd: wake-ups from any thread */
	/* Owner writes (relaxed atomics: weft_dump reads it from any thread):
	 * operations not yet reaped. */
	unsigned inflight;

	/* io_uring */
	struct io_uring ring;
	bool ring_ready;
	bool efd_armed;
	/* Batched wake-ups (uring.c): microseconds, 0 when off. */
	unsigned batch_us;
	uint64_t efd_buf;
	_Atomic(struct weft__uring_op *) cancel_inbox;

	/* epoll */
	int epfd;
	unsigned registered;		/* descriptors in this set */
};

static inline void weft__io_inflight_add(struct weft__io *io, int d)
{
	__atomic_store_n(&io->inflight,
			 __atomic_load_n(&io->inflight, __ATOMIC_RELAXED) + d,
			 __ATOMIC_RELAXED);
}

/* The runtime's backend, fixed at its creation. */
int weft__io_backend_of(struct worker *w);
static inline struct weft__io *weft__io_of(struct worker *w)
{
	return w->io;
}

/* ---- io_uring (uring.c, uring_op.c) */
int weft__uring_probe(void);
/* batch_us: weft_config.io_batch_us (kept where the kernel has it). */
int weft__uring_init(struct weft__io *io, int batch_us);
void weft__uring_fini(struct weft__io *io);
void weft__uring_start(struct weft__io *io);
bool weft__uring_poll(struct weft__io *io);
bool weft__uring_park(struct worker *w, uint64_t until);
void weft__uring_unpark(struct worker *w);
/* A free SQE of the current worker's ring (submitting to make room). */
struct io_uring_sqe *weft__uring_sqe(struct weft__io *io);
/* Complete op with res: on the owner, from a reaped CQE. */
void weft__uring_complete(struct weft__uring_op *op, int res);
/* Cancel requests posted by other workers: submit them.  Whether a task
 * was woken (one waiting for its request to be taken). */
bool weft__uring_drain_cancels(struct weft__io *io);
/*
 * The task side: sqe was prepared on the current worker's ring; tag it with
 * op, suspend until it completes, cancelling it in the kernel when the task
 * is cancelled or its deadline passes.  Returns the result.
 */
int weft__uring_run(struct io_uring_sqe *sqe, struct weft__uring_op *op);

/* ---- epoll (epoll.c, fdtab.c) */
int weft__epoll_init(struct weft__io *io);
void weft__epoll_fini(struct weft__io *io);
bool weft__epoll_poll(struct weft__io *io);
bool weft__epoll_park(struct worker *w, uint64_t until);
void weft__epoll_unpark(struct worker *w);
/* Suspend until fd may be ready for `events` (EPOLLIN / EPOLLOUT), after a
 * non-blocking attempt said EAGAIN: 0, or -ECANCELED / -ETIMEDOUT. */
int weft__epoll_wait_fd(int fd, uint32_t events);
/* Forget fd's record (before it is closed); wakes its waiters. */
void weft__epoll_forget(int fd);
/* Is fd a regular file or block device (I/O that never says EAGAIN)? */
bool weft__epoll_fd_is_file(int fd);

/* Wake-up eventfd: 0 or a negative errno. */
int weft__io_efd_new(struct weft__io *io);
void weft__io_efd_signal(struct weft__io *io);

/* Should a parking owner skip the wait (a wake-up token or a cancel
 * request is already there)?  Called after setting io->parked. */
bool weft__io_wake_pending(struct worker *w);

#endif /* WEFT_IO_IO_H */
