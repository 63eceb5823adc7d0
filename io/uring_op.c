/*
 * Waiting for an io_uring operation, and cancelling it in the kernel.
 *
 * The op record lives on the waiting task's stack, and the kernel may write
 * into the task's buffers until the op's completion is reaped: so a task
 * never returns before that, even when cancelled.  Two parties touch the
 * record: the task, and the owner worker that reaps the completion.  They
 * agree through op->waiter:
 *
 *   PHASE1|gen1  the task parked cancellably on gen1 (the normal wait)
 *   PHASE2|gen2  the task was interrupted, asked for an in-kernel cancel,
 *                and parked (not cancellable) on gen2 for the completion
 *   DONE         the completion was reaped; op->res holds the result
 *
 * The reaper stores res, swaps in DONE and wakes the gen it swapped out.
 * That wake is its last touch of the record, except in one case: it woke
 * gen1 after an interruption had already ended that park (the wake fails);
 * the task then finds DONE instead of moving to PHASE2 and waits for
 * op->released, which the reaper sets after its failed wake.
 *
 * Cancelling: the owner submits IORING_OP_ASYNC_CANCEL for the op.  A task
 * resumed on another worker cannot touch the owner's ring (a ring has a
 * single issuer), so it posts the op to the owner's cancel inbox and wakes
 * the owner.  The op may complete before the owner drains its inbox; the
 * task then also waits until the owner has taken the request
 * (op->cancel_word), so the inbox never holds a dead stack frame.
 */
#include <errno.h>
#include <sched.h>

#include "io/io.h"
#include "runtime/compiler.h"
#include "runtime/driver.h"
#include "runtime/park.h"

#define PHASE1 (1ull << 32)
#define PHASE2 (2ull << 32)
#define DONE (3ull << 32)
#define PHASE_MASK (3ull << 32)
#define GEN_OF(v) ((uint32_t)(v))

void weft__uring_complete(struct weft__uring_op *op, int res)
{
	struct weft_task *t = op->task;
	uint64_t old;

	op->res = res;
	/* acq_rel: publishes res; sees the task's PHASE2 gen. */
	old = atomic_exchange_explicit(&op->waiter, DONE,
				       memory_order_acq_rel);
	if ((old & PHASE_MASK) == PHASE2) {
		weft__wake(t, GEN_OF(old), 0);
		return;
	}
	if (!weft__wake(t, GEN_OF(old), 0))
		/* release: our last touch; the task waits for it. */
		atomic_store_explicit(&op->released, 1, memory_order_release);
}

static void prep_cancel(struct weft__io *io, struct weft__uring_op *op)
{
	struct io_uring_sqe *sqe = weft__uring_sqe(io);

	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data64(sqe, WEFT__UD_NONE);
	/* Its own completion says nothing we need: the op's does. */
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* op->cancel_word: a cancel request posted to the owner's inbox. */
#define CQ_QUEUED 1ull			/* in the inbox */
#define CQ_DRAINED 2ull			/* the owner has taken it */
#define CQ_WAITING (1ull << 32)		/* | gen: the task waits for that */

bool weft__uring_drain_cancels(struct weft__io *io)
{
	struct worker *w = weft__tls_worker;
	struct weft__uring_op *op;
	bool woke = false;

	if (!atomic_load_explicit(&io->cancel_inbox, memory_order_relaxed))
		return false;
	/* acquire: pairs with the release of the pushing CAS. */
	op = atomic_exchange_explicit(&io->cancel_inbox, NULL,
				      memory_order_acquire);
	while (op) {
		struct weft__uring_op *next = op->cancel_next;
		struct weft_task *t = op->task;
		uint64_t old;

		prep_cancel(io, op);
		/* Our last touch: the task may return once it sees this,
		 * or once we wake the park it armed to wait for it. */
		old = atomic_exchange_explicit(&op->cancel_word, CQ_DRAINED,
					       memory_order_acq_rel);
		if (old & CQ_WAITING) {
			/* Into the queue, not the LIFO slot: we may be on
			 * our way to park (see weft__uring_park). */
			w->io_reaping = true;
			woke |= weft__wake(t, (uint32_t)old, 0);
			w->io_reaping = false;
		}
		op = next;
	}
	return woke;
}

static void request_cancel(struct weft__uring_op *op)
{
	struct worker *w = weft__worker_self();
	struct weft__io *io = op->owner->io;
	struct weft__uring_op *head;

	if (w == op->owner) {
		prep_cancel(io, op);
		return;
	}
	atomic_store_explicit(&op->cancel_word, CQ_QUEUED,
			      memory_order_relaxed);
	head = atomic_load_explicit(&io->cancel_inbox, memory_order_relaxed);
	do
		op->cancel_next = head;
	while (!atomic_compare_exchange_weak_explicit(
		&io->cancel_inbox, &head, op, memory_order_seq_cst,
		memory_order_relaxed));
	weft__driver_unpark(op->owner);
}

/*
 * The op completed, but a cancel request for it may still sit in the
 * owner's inbox (the completion can beat the owner's next drain): the
 * record must outlive that, so wait until the owner has taken it.
 */
static void wait_drained(struct weft__uring_op *op)
{
	uint64_t expect = CQ_QUEUED;
	uint32_t gen;

	if (atomic_load_explicit(&op->cancel_word, memory_order_acquire) !=
	    CQ_QUEUED)
		return;
	gen = weft__park_prepare(false);
	/* acq_rel: on failure, the owner's DRAINED. */
	if (!atomic_compare_exchange_strong_explicit(
		    &op->cancel_word, &expect, CQ_WAITING | gen,
		    memory_order_acq_rel, memory_order_acquire))
		weft__wake(op->task, gen, 0);	/* drained meanwhile */
	weft__park_commit();
}

static void wait_released(struct weft__uring_op *op)
{
	unsigned n = 0;

	/* acquire: pairs with the reaper's release. */
	while (!atomic_load_explicit(&op->released, memory_order_acquire)) {
		if (++n < 128)
			weft__cpu_relax();
		else
			sched_yield();
	}
}

/* The operation was cancelled (or is being): what the caller gets. */
static int settle(struct weft__uring_op *op, int why)
{
	/* An op that completed before the cancel took hold keeps its result
	 * (received bytes are not lost); one the kernel cancelled reports
	 * why we cancelled it. */
	if (op->res == -ECANCELED || op->res == -EINTR)
		return why;
	return op->res;
}

/* For weft_dump: what a task waiting on this SQE waits for. */
static const char *op_name(unsigned opcode)
{
	switch (opcode) {
	case IORING_OP_ACCEPT: return "accept";
	case IORING_OP_CONNECT: return "connect";
	case IORING_OP_RECV: return "recv";
	case IORING_OP_SEND: return "send";
	case IORING_OP_READ: return "read";
	case IORING_OP_WRITE: return "write";
	case IORING_OP_READV: return "readv";
	case IORING_OP_WRITEV: return "writev";
	case IORING_OP_OPENAT: return "open";
	case IORING_OP_CLOSE: return "close";
	case IORING_OP_FSYNC: return "fsync";
	case IORING_OP_STATX: return "stat";
	case IORING_OP_SHUTDOWN: return "shutdown";
	case IORING_OP_POLL_ADD: return "poll";
	default: return "io";
	}
}

int weft__uring_run(struct io_uring_sqe *sqe, struct weft__uring_op *op)
{
	struct worker *w = weft__worker_self();
	uint32_t gen1, gen2;
	uint64_t expect;
	int r;

	op->task = w->current;
	op->owner = w;
	op->res = 0;
	atomic_store_explicit(&op->released, 0, memory_order_relaxed);
	atomic_store_explicit(&op->cancel_word, 0, memory_order_relaxed);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op);
	weft__io_inflight_add(w->io, 1);
	weft__worker_count_io(w);

	gen1 = weft__park_prepare(true);
	weft__task_set_wait(op->task, "io_uring", op_name(sqe->opcode),
			    sqe->fd);
	atomic_store_explicit(&op->waiter, PHASE1 | gen1, memory_order_relaxed);
	/* The reaper wakes with 0 (the result is in op->res), so a non-zero
	 * r can only be an interruption: the two are never confused. */
	r = weft__park_commit();
	if (r == 0)
		return op->res;

	/* Interrupted (-ECANCELED or -ETIMEDOUT).  Unless the completion
	 * came meanwhile, cancel the op in the kernel and wait for it. */
	gen2 = weft__park_prepare(false);
	expect = PHASE1 | gen1;
	/* acq_rel: on failure, sees the reaper's DONE and op->res. */
	if (atomic_compare_exchange_strong_explicit(
		    &op->waiter, &expect, PHASE2 | gen2, memory_order_acq_rel,
		    memory_order_acquire)) {
		request_cancel(op);
		weft__park_commit();
		wait_drained(op);
		return settle(op, r);
	}
	/* DONE: the reaper's wake of gen1 fails (or failed).  Retire the
	 * park we armed, then let the reaper finish with the record. */
	weft__wake(op->task, gen2, 0);
	weft__park_commit();
	wait_released(op);
	return settle(op, r);
}
