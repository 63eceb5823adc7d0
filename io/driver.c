/*
 * The driver hook (runtime/driver.h): picks the backend once per runtime
 * and forwards each call to it.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "io/io.h"
#include "runtime/alloc.h"
#include "runtime/driver.h"
#include "runtime/runtime.h"
#include "runtime/sanitizer.h"

int weft__io_backend_of(struct worker *w)
{
	return w->rt->io_backend;
}

/*
 * Writing to a socket whose peer has gone raises SIGPIPE, whose default
 * action kills the process: a server must get -EPIPE instead.  Go and Rust
 * ignore SIGPIPE for the same reason; we do it only while the disposition
 * is still the default, so a program's own handler wins.
 */
static void ignore_sigpipe(void)
{
	struct sigaction old;

	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
	    !(old.sa_flags & SA_SIGINFO)) {
		struct sigaction ign;

		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigemptyset(&ign.sa_mask);
		sigaction(SIGPIPE, &ign, NULL);
	}
}


static bool env_forces_uring(void)
{
	const char *env = getenv("WEFT_IO_BACKEND");

	return env && (strcmp(env, "uring") == 0 ||
		       strcmp(env, "io_uring") == 0);
}

int weft__driver_choose(struct weft_runtime *rt)
{
	const char *env = getenv("WEFT_IO_BACKEND");
	int want = rt->cfg.io_backend;

	ignore_sigpipe();
	if (want == WEFT_IO_AUTO && env && *env) {
		if (strcmp(env, "uring") == 0 || strcmp(env, "io_uring") == 0)
			want = WEFT_IO_URING;
		else if (strcmp(env, "epoll") == 0)
			want = WEFT_IO_EPOLL;
		else
			return -EINVAL;
	}
	switch (want) {
	case WEFT_IO_EPOLL:
		rt->io_backend = WEFT__IO_EPOLL;
		return 0;
	case WEFT_IO_URING:
		if (weft__uring_probe() < 0)
			return -ENOSYS;
		rt->io_backend = WEFT__IO_URING;
		return 0;
	case WEFT_IO_AUTO:
		/* Valgrind (3.19) runs io_uring_enter as a call that cannot
		 * block, holding the lock that lets one thread run at a
		 * time: a worker parked in its ring would stop every other
		 * thread.  Under Valgrind, the default is epoll. */
		if (weft__under_valgrind()) {
			rt->io_backend = WEFT__IO_EPOLL;
			return 0;
		}
		/* io_uring when the kernel, the seccomp profile and
		 * io_uring_disabled let us make a ring; epoll otherwise. */
		rt->io_backend = weft__uring_probe() == 0 ? WEFT__IO_URING
							 : WEFT__IO_EPOLL;
		return 0;
	default:
		return -EINVAL;
	}
}

int weft__io_efd_new(struct weft__io *io)
{
	/* Blocking: io_uring waits in a read on it (a non-blocking eventfd
	 * would fail that read with -EAGAIN instead). */
	io->efd = eventfd(0, EFD_CLOEXEC);
	return io->efd < 0 ? -errno : 0;
}

void weft__io_efd_signal(struct weft__io *io)
{
	uint64_t one = 1;
	ssize_t r;

	do
		r = write(io->efd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
}

bool weft__io_wake_pending(struct worker *w)
{
	return atomic_load_explicit(&w->unpark, memory_order_seq_cst) ||
	       atomic_load_explicit(&w->io->cancel_inbox,
				    memory_order_seq_cst) != NULL;
}

static int init_one(struct worker *w)
{
	struct weft__io *io = weft__calloc(1, sizeof(*io));
	int r;

	if (!io)
		return -ENOMEM;
	io->efd = -1;
	io->epfd = -1;
	io->backend = weft__io_backend_of(w);
	w->io = io;
	r = weft__io_efd_new(io);
	if (r < 0)
		return r;
	if (io->backend == WEFT__IO_URING)
		return weft__uring_init(io, w->rt->cfg.io_batch_us);
	return weft__epoll_init(io);
}

static int init_all(struct weft_runtime *rt)
{
	unsigned i;
	int r = 0;

	for (i = 0; r == 0 && i < rt->nworkers; i++)
		r = init_one(rt->workers[i]);
	return r;
}

/*
 * A ring that cannot be made (the locked-memory limit reached, say: each
 * ring pins its SQ and CQ) passed the probe, which makes none.  A runtime
 * that chose io_uring on its own then falls back to epoll as a whole,
 * whichever worker's ring failed: one backend per runtime.  One that was
 * told to use io_uring fails with the ring's error.
 */
int weft__driver_init(struct weft_runtime *rt)
{
	unsigned i;
	int r = init_all(rt);

	if (r == 0 || rt->io_backend != WEFT__IO_URING ||
	    rt->cfg.io_backend != WEFT_IO_AUTO || env_forces_uring())
		return r;
	for (i = 0; i < rt->nworkers; i++)
		weft__driver_fini(rt->workers[i]);
	rt->io_backend = WEFT__IO_EPOLL;
	return init_all(rt);
}

void weft__driver_fini(struct worker *w)
{
	struct weft__io *io = w->io;

	if (!io)
		return;
	if (io->backend == WEFT__IO_URING)
		weft__uring_fini(io);
	else
		weft__epoll_fini(io);
	if (io->efd >= 0)
		close(io->efd);
	weft__free(io);
	w->io = NULL;
}

void weft__driver_start(struct worker *w)
{
	if (w->io->backend == WEFT__IO_URING)
		weft__uring_start(w->io);
}

bool weft__driver_busy(struct worker *w)
{
	struct weft__io *io = w->io;

	if (io->backend == WEFT__IO_URING)
		return io->inflight > 0 || io_uring_sq_ready(&io->ring) > 0 ||
		       atomic_load_explicit(&io->cancel_inbox,
					    memory_order_relaxed);
	return io->registered > 0;
}

bool weft__driver_poll(struct worker *w)
{
	if (w->io->backend == WEFT__IO_URING)
		return weft__uring_poll(w->io);
	return weft__epoll_poll(w->io);
}

bool weft__driver_park(struct worker *w, uint64_t until)
{
	if (w->io->backend == WEFT__IO_URING)
		return weft__uring_park(w, until);
	return weft__epoll_park(w, until);
}

void weft__driver_unpark(struct worker *w)
{
	struct weft__io *io = w->io;
	int one = 1;

	/* Only an owner that is (about to be) blocked needs a wake-up, and
	 * one is enough: the first waker moves parked 1 -> 2.  seq_cst: the
	 * Dekker pair with the owner's parked store and its check of the
	 * token and inbox (weft__io_wake_pending). */
	if (!atomic_compare_exchange_strong_explicit(&io->parked, &one, 2,
						     memory_order_seq_cst,
						     memory_order_seq_cst))
		return;
	if (io->backend == WEFT__IO_URING)
		weft__uring_unpark(w);
	else
		weft__epoll_unpark(w);
}

void weft__driver_describe(struct worker *w, FILE *out)
{
	struct weft__io *io = w->io;

	if (!io)
		return;
	fprintf(out, "  driver: %s, %u ops in flight, %s%s\n",
		io->backend == WEFT__IO_URING ? "io_uring" : "epoll",
		__atomic_load_n(&io->inflight, __ATOMIC_RELAXED),
		atomic_load_explicit(&io->parked, memory_order_relaxed)
			? "parked in it"
			: "not parked",
		atomic_load_explicit(&io->cancel_inbox, memory_order_relaxed)
			? ", cancel requests pending"
			: "");
}
