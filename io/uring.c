/*
 * The io_uring backend: one ring per worker, set up with the best flags the
 * kernel takes, submitted to in batches by its worker alone.
 *
 * A task prepares its SQE on the ring of the worker it runs on and parks;
 * the worker submits what its tasks queued when it polls (every few ticks,
 * when it runs out of work) or parks.  A parked worker waits in
 * io_uring_enter for a completion, its next timer (the wait's timeout) or a
 * wake-up: a MSG_RING completion from another worker, or the eventfd read
 * it keeps armed for threads that have no ring.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "io/io.h"
#include "runtime/fault.h"
#include "runtime/timer.h"

#define RING_ENTRIES 256
#define CQ_ENTRIES 4096

#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

/* Flag sets to try, best first; the first the kernel takes is kept for
 * every later ring.  SINGLE_ISSUER + DEFER_TASKRUN run completions only when
 * the worker asks (no interrupting task work); COOP_TASKRUN at least avoids
 * the IPI that forces it. */
static const unsigned flag_sets[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_R_DISABLED,
	IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
	0,
};
static _Atomic int chosen_set = -1;
static _Atomic int have_msg_ring = -1;

/* liburing 2.3 declares io_uring_enable_rings but does not export it. */
static int enable_ring(struct io_uring *ring)
{
	return (int)syscall(__NR_io_uring_register, ring->ring_fd,
			    IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

static int setup(struct io_uring *ring, unsigned flags)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE;
	p.cq_entries = CQ_ENTRIES;
	return io_uring_queue_init_params(RING_ENTRIES, ring, &p);
}

/*
 * Can this process use io_uring at all?  0 or a negative errno (ENOSYS: no
 * kernel support; EPERM: a seccomp profile or io_uring_disabled).  Asked
 * without making a ring: io_uring_setup with 0 entries is refused with
 * EINVAL exactly when io_uring is there to refuse it.  (A real ring costs
 * ~0.15 ms to make and tear down, a sixth of the start-up budget.)
 */
int weft__uring_probe(void)
{
	struct io_uring_params p;
	long r;

	if (atomic_load(&chosen_set) >= 0)
		return 0;
	memset(&p, 0, sizeof(p));
	r = syscall(__NR_io_uring_setup, 0, &p);
	if (r >= 0) {
		close((int)r);	/* a kernel that took 0 entries: usable */
		return 0;
	}
	return errno == EINVAL ? 0 : -errno;
}

/* The first ring made picks the flag set for every later one and learns
 * whether the kernel has MSG_RING (a disabled ring takes registrations). */
static int setup_first(struct io_uring *ring)
{
	struct io_uring_probe *probe;
	unsigned i;
	int r = -ENOSYS;

	for (i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		r = setup(ring, flag_sets[i]);
		if (r == 0)
			break;
	}
	if (r < 0)
		return r;
	probe = io_uring_get_probe_ring(ring);
	atomic_store(&have_msg_ring,
		     probe && io_uring_opcode_supported(probe,
							IORING_OP_MSG_RING));
	if (probe)
		io_uring_free_probe(probe);
	atomic_store(&chosen_set, (int)i);
	return 0;
}

int weft__uring_init(struct weft__io *io, int batch_us)
{
	int set = atomic_load(&chosen_set);
	int r;

	/* Test builds: this ring cannot be made, as when the locked-memory
	 * limit is reached (runtime/fault.h). */
	if (weft__fault_hit(WEFT__FAULT_RING))
		return -ENOMEM;
	r = set >= 0 ? setup(&io->ring, flag_sets[set])
		     : setup_first(&io->ring);
	if (r < 0)
		return r;
	io->ring_ready = true;
	if (batch_us > 0 && (io->ring.features & IORING_FEAT_MIN_TIMEOUT))
		io->batch_us = (unsigned)batch_us;
	return 0;
}

void weft__uring_fini(struct weft__io *io)
{
	if (io->ring_ready)
		io_uring_queue_exit(&io->ring);
	io->ring_ready = false;
}

/* Keep a read armed on the wake eventfd: it completes when a thread
 * without a ring wakes us. */
static void arm_efd(struct weft__io *io)
{
	struct io_uring_sqe *sqe = weft__uring_sqe(io);

	io_uring_prep_read(sqe, io->efd, &io->efd_buf, sizeof(io->efd_buf),
			   0);
	io_uring_sqe_set_data64(sqe, WEFT__UD_EFD);
	io->efd_armed = true;
}

void weft__uring_start(struct weft__io *io)
{
	/* A ring made with R_DISABLED takes the thread that enables it as
	 * its single issuer. */
	if (flag_sets[atomic_load(&chosen_set)] & IORING_SETUP_R_DISABLED)
		enable_ring(&io->ring);
	arm_efd(io);
}

static bool reap(struct weft__io *io);

/* The SQ is full: submit it.  A kernel that refuses while its CQ overflows
 * (-EBUSY) wants completions reaped first. */
static void make_room(struct weft__io *io)
{
	int r = io_uring_submit(&io->ring);

	if (r < 0 && r != -EINTR) {
		io_uring_get_events(&io->ring);
		reap(io);
	}
}

struct io_uring_sqe *weft__uring_sqe(struct weft__io *io)
{
	struct io_uring_sqe *sqe;

	/* Test builds: the SQ is found full this time (runtime/fault.h), and
	 * the call must still end with an SQE. */
	if (weft__fault_hit(WEFT__FAULT_SQE))
		make_room(io);
	while (!(sqe = io_uring_get_sqe(&io->ring)))
		make_room(io);
	return sqe;
}

/* Reap every completion in the CQ; whether a task was woken. */
static bool reap(struct weft__io *io)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	bool woke = false;
	struct worker *w = weft__tls_worker;

	w->io_reaping = true;
	io_uring_for_each_cqe(&io->ring, head, cqe) {
		uint64_t ud = cqe->user_data;

		n++;
		if (ud == WEFT__UD_EFD) {
			io->efd_armed = false;
		} else if (ud > WEFT__UD_EFD) {
			weft__io_inflight_add(io, -1);
			weft__uring_complete((struct weft__uring_op *)ud,
					     cqe->res);
			woke = true;
		}
		/* NONE (a failed cancel request) and WAKE: nothing to do. */
	}
	io_uring_cq_advance(&io->ring, n);
	w->io_reaping = false;
	/* Only with room in the SQ (a full one is being drained by
	 * weft__uring_sqe, which calls us); else at the next reap. */
	if (!io->efd_armed && io_uring_sq_space_left(&io->ring))
		arm_efd(io);
	return woke;
}

bool weft__uring_poll(struct weft__io *io)
{
	bool woke = weft__uring_drain_cancels(io);

	/* One enter submits what our tasks queued and, with DEFER_TASKRUN,
	 * runs the completions the kernel has for us. */
	if (io_uring_sq_ready(&io->ring) || io->inflight ||
	    io_uring_cq_has_overflow(&io->ring))
		io_uring_submit_and_get_events(&io->ring);
	return reap(io) || woke;
}

/*
 * Batched wake-ups.  A server under load keeps an operation in flight per
 * connection, and its completions come one at a time: woken for each, a
 * worker sleeps and wakes tens of thousands of times a second, and each
 * round trip through the scheduler costs more than the work it wakes for
 * (redis-benchmark -P 16 on 2 CPUs: 14,000 sleeps per worker per 0.5 s,
 * 7% below redis-server; batched: 4,000, 7% above it).  So a worker that
 * parks with at least BATCH_INFLIGHT operations in flight asks the kernel
 * (min_wait_usec, Linux 6.12) to wake it, during the first batch_us of its
 * sleep, only for BATCH_WAKE_NR completions; after that, for any.  What
 * that delays is bounded by batch_us, and a sleep that outlasts it (an
 * idle server) wakes at the first completion as before.  With fewer in
 * flight, a completion is likely someone's request-response round trip,
 * and it wakes the worker at once.  A wake-up from another worker counts
 * as a completion, so it can wait batch_us too.
 */
#define BATCH_INFLIGHT 16
#define BATCH_WAKE_NR 16

/* io_uring_getevents_arg with the field Linux 6.12 named min_wait_usec
 * (liburing 2.3 calls it pad and has no call that sets it: we pass it to
 * its raw io_uring_enter2). */
struct getevents_arg_min_wait {
	uint64_t sigmask;
	uint32_t sigmask_sz;
	uint32_t min_wait_usec;
	uint64_t ts;
};

/* Submit what is queued and wait as above; tp must not be NULL (with no
 * overall timeout, the kernel ends the wait at min_wait_usec even when
 * nothing came). */
static void submit_and_wait_batched(struct weft__io *io,
				    struct __kernel_timespec *tp)
{
	struct io_uring_sq *sq = &io->ring.sq;
	struct getevents_arg_min_wait arg;
	unsigned tail = sq->sqe_tail;

	/* Publish the SQEs our tasks prepared, as io_uring_submit does. */
	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	memset(&arg, 0, sizeof(arg));
	arg.sigmask_sz = _NSIG / 8;
	arg.min_wait_usec = io->batch_us;
	arg.ts = (uint64_t)(uintptr_t)tp;
	/* With EXT_ARG, the "sigset" argument is the getevents arg. */
	io_uring_enter2(io->ring.ring_fd, tail - *sq->khead, BATCH_WAKE_NR,
			IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			(sigset_t *)(void *)&arg, sizeof(arg));
}

bool weft__uring_park(struct worker *w, uint64_t until)
{
	struct weft__io *io = w->io;
	struct __kernel_timespec ts, *tp = NULL;
	struct io_uring_cqe *cqe;
	bool batch = io->batch_us && io->inflight >= BATCH_INFLIGHT;

	atomic_store_explicit(&io->parked, 1, memory_order_seq_cst);
	if (weft__io_wake_pending(w)) {
		atomic_store_explicit(&io->parked, 0, memory_order_relaxed);
		return weft__uring_poll(io);
	}
	/* A task the drain wakes is work: no sleeping on it. */
	if (weft__uring_drain_cancels(io)) {
		atomic_store_explicit(&io->parked, 0, memory_order_relaxed);
		weft__uring_poll(io);
		return true;
	}
	if (until != WEFT__FOREVER) {
		uint64_t now = weft__now();
		uint64_t d = until > now ? until - now : 0;

		ts.tv_sec = (long long)(d / 1000000000ull);
		ts.tv_nsec = (long long)(d % 1000000000ull);
		tp = &ts;
		/* The kernel looks at the timeout only once the batch time
		 * is over: a timer due sooner would fire late. */
		if (d <= io->batch_us * 1000ull)
			batch = false;
	}
	/* (A completion already in the CQ is not held back.) */
	if (batch && !io_uring_cq_ready(&io->ring)) {
		if (!tp) {
			/* An hour stands for no timeout (see above). */
			ts.tv_sec = 3600;
			ts.tv_nsec = 0;
			tp = &ts;
		}
		submit_and_wait_batched(io, tp);
	} else {
		/* Submits and waits in one enter; -ETIME when the timer is
		 * due. */
		io_uring_submit_and_wait_timeout(&io->ring, &cqe, 1, tp, NULL);
	}
	atomic_store_explicit(&io->parked, 0, memory_order_relaxed);
	return reap(io);
}

void weft__uring_unpark(struct worker *w)
{
	struct worker *self = weft__tls_worker;

	/* From a worker of the same runtime: post a completion straight
	 * into the target's ring (one enter on our side, nothing to read on
	 * theirs).  Otherwise the eventfd. */
	if (self && self != w && self->rt == w->rt && self->io &&
	    atomic_load_explicit(&have_msg_ring, memory_order_relaxed) == 1) {
		struct io_uring_sqe *sqe = weft__uring_sqe(self->io);

		io_uring_prep_msg_ring(sqe, w->io->ring.ring_fd, 0,
				       WEFT__UD_WAKE, 0);
		/* A failed send still posts a CQE to us (ignored); a sent
		 * one posts nothing here. */
		io_uring_sqe_set_data64(sqe, WEFT__UD_NONE);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_submit(&self->io->ring);
		return;
	}
	weft__io_efd_signal(w->io);
}
