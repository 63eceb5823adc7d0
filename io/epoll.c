/*
 * The epoll backend, for where io_uring cannot be used (old kernels,
 * seccomp profiles, io_uring_disabled) or WEFT_IO_BACKEND=epoll.
 *
 * Each worker has an epoll set and parks in it.  A descriptor is registered
 * once, edge-triggered for input and output, in the set of the worker
 * where a task first waited on it; its record (fdtab.h) keeps the tasks
 * waiting on it.  A task tries the system call without blocking first and
 * waits only after EAGAIN: an edge seen while nobody waited is kept in
 * rec->ready so the next waiter retries instead of sleeping through it.
 * Regular files, which epoll refuses, go to the blocking pool (file_ops.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "io/fdtab.h"
#include "io/io.h"
#include "runtime/timer.h"

#define EFD_TAG UINT64_MAX
#define EVENTS_PER_WAIT 128
#define IN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define OUT_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

static _Atomic bool no_pwait2;

/* acquire: pairs with the release stores under rec->lock (classify). */
static inline uint8_t kind_of(struct weft__fdrec *rec)
{
	return atomic_load_explicit(&rec->kind, memory_order_acquire);
}

int weft__epoll_init(struct weft__io *io)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EFD_TAG };

	io->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (io->epfd < 0)
		return -errno;
	/* Level-triggered: stays ready until the owner reads it. */
	if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->efd, &ev) < 0)
		return -errno;
	return 0;
}

void weft__epoll_fini(struct weft__io *io)
{
	if (io->epfd >= 0)
		close(io->epfd);
	io->epfd = -1;
}

static void on_ready(struct weft__io *io, uint64_t data, uint32_t events)
{
	struct weft__fdrec *rec;
	uint64_t count;

	if (data == EFD_TAG) {
		/* A wake-up: its only job was to end the wait. */
		if (read(io->efd, &count, sizeof(count)) < 0)
			return;
		return;
	}
	rec = weft__fdtab_find((int)data);
	if (!rec)
		return;
	weft__spin_lock(&rec->lock);
	if (events & IN_EVENTS) {
		if (weft__waitq_empty(&rec->rd))
			rec->ready |= EPOLLIN;
		else
			weft__waitq_wake_all(&rec->rd, 0);
	}
	if (events & OUT_EVENTS) {
		if (weft__waitq_empty(&rec->wr))
			rec->ready |= EPOLLOUT;
		else
			weft__waitq_wake_all(&rec->wr, 0);
	}
	weft__spin_unlock(&rec->lock);
}

/* Handle what one epoll_wait returned; whether anything was ready. */
static bool handle(struct weft__io *io, struct epoll_event *evs, int n)
{
	struct worker *w = weft__tls_worker;
	int i;

	w->io_reaping = true;	/* wakes in order, behind queued work */
	for (i = 0; i < n; i++)
		on_ready(io, evs[i].data.u64, evs[i].events);
	w->io_reaping = false;
	return n > 0;
}

bool weft__epoll_poll(struct weft__io *io)
{
	struct epoll_event evs[EVENTS_PER_WAIT];

	return handle(io, evs,
		      epoll_wait(io->epfd, evs, EVENTS_PER_WAIT, 0));
}

bool weft__epoll_park(struct worker *w, uint64_t until)
{
	struct weft__io *io = w->io;
	struct epoll_event evs[EVENTS_PER_WAIT];
	struct timespec ts, *tp = NULL;
	int n;

	atomic_store_explicit(&io->parked, 1, memory_order_seq_cst);
	if (weft__io_wake_pending(w)) {
		atomic_store_explicit(&io->parked, 0, memory_order_relaxed);
		return weft__epoll_poll(io);
	}
	if (until != WEFT__FOREVER) {
		uint64_t now = weft__now();
		uint64_t d = until > now ? until - now : 0;

		ts.tv_sec = (time_t)(d / 1000000000ull);
		ts.tv_nsec = (long)(d % 1000000000ull);
		tp = &ts;
	}
	/* epoll_pwait2: a nanosecond timeout (epoll_wait rounds to ms);
	 * kernels before 5.11 (and Valgrind 3.19) lack it. */
	n = -1;
	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		n = epoll_pwait2(io->epfd, evs, EVENTS_PER_WAIT, tp, NULL);
		if (n < 0 && errno == ENOSYS)
			atomic_store_explicit(&no_pwait2, true,
					      memory_order_relaxed);
	}
	if (n < 0 && atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		int ms = -1;

		if (tp)
			ms = (int)(ts.tv_sec * 1000 +
				   (ts.tv_nsec + 999999) / 1000000);
		n = epoll_wait(io->epfd, evs, EVENTS_PER_WAIT, ms);
	}
	atomic_store_explicit(&io->parked, 0, memory_order_relaxed);
	return handle(io, evs, n);
}

void weft__epoll_unpark(struct worker *w)
{
	weft__io_efd_signal(w->io);
}

/* Register fd in the current worker's set (under rec->lock). */
static void classify(struct weft__fdrec *rec, int fd)
{
	struct worker *w = weft__worker_self();
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)fd,
	};
	int fl;

	if (epoll_ctl(w->io->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
	    errno == EEXIST) {
		/* Calls that wait must not block the worker: accept and
		 * connect on a blocking socket would. */
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		atomic_store_explicit(&rec->kind, FD_POLLABLE, memory_order_release);
		rec->ready = 0;
		rec->epfd = w->io->epfd;
		w->io->registered++;
	} else if (errno == EPERM) {
		atomic_store_explicit(&rec->kind, FD_FILE, memory_order_release);
	}
	/* EBADF and the like: left unknown, the call reports it. */
}

static struct weft__fdrec *prepared(int fd)
{
	struct weft__fdrec *rec = weft__fdtab_get(fd);

	if (rec && kind_of(rec) == FD_UNKNOWN) {
		weft__spin_lock(&rec->lock);
		if (kind_of(rec) == FD_UNKNOWN)
			classify(rec, fd);
		weft__spin_unlock(&rec->lock);
	}
	return rec;
}

bool weft__epoll_fd_is_file(int fd)
{
	struct weft__fdrec *rec = prepared(fd);

	return rec && kind_of(rec) == FD_FILE;
}

/*
 * Before a wait: make sure fd is still in the set its record names, and
 * re-arm its edges (a fresh edge is reported if it is ready now).  A
 * descriptor closed with close(2) behind our back and reused for a new
 * socket leaves the set, and its record would otherwise wait forever for
 * an edge; then it joins the current worker's set.  So does one whose
 * record names the set of a runtime that has ended.  One system call, on
 * the slow path only (after EAGAIN).
 */
static int rearm(struct weft__fdrec *rec, int fd)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)fd,
	};
	struct worker *w;

	if (epoll_ctl(rec->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	/* ENOENT: not in that set.  EBADF, EINVAL: the set is gone, and its
	 * number closed or reused for another file (a runtime that ended,
	 * whose descriptors were closed with close(2)). */
	if (errno != ENOENT && errno != EBADF && errno != EINVAL)
		return -errno;
	w = weft__worker_self();
	if (epoll_ctl(w->io->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    errno != EEXIST)
		return -errno;
	rec->epfd = w->io->epfd;
	w->io->registered++;
	return 0;
}

/* For weft_dump: what the current task waits for. */
static void me_task_label(int fd, bool rd, bool wr)
{
	weft__task_set_wait(weft__worker_self()->current, "epoll",
			    rd && wr ? "readable or writable"
			    : rd     ? "readable"
				     : "writable",
			    fd);
}

int weft__epoll_wait_fd(int fd, uint32_t events)
{
	struct weft__fdrec *rec = prepared(fd);
	struct weft__waiter rd, wr;
	bool want_rd = events & EPOLLIN, want_wr = events & EPOLLOUT;
	int r;

	if (!rec)
		return -EBADF;
	if (kind_of(rec) != FD_POLLABLE)
		return kind_of(rec) == FD_FILE ? -EPERM : -EBADF;
	weft__spin_lock(&rec->lock);
	r = rearm(rec, fd);	/* under the lock: it may move rec->epfd */
	if (r < 0) {
		weft__spin_unlock(&rec->lock);
		return r;
	}
	if (rec->ready & events) {
		/* An edge came after the failed attempt: try again. */
		rec->ready &= ~events;
		weft__spin_unlock(&rec->lock);
		return 0;
	}
	/* One park, on one queue or both (weft_poll for in and out): the
	 * first wake ends it; the other waiter is withdrawn below. */
	if (want_rd) {
		weft__waitq_push(&rec->rd, &rd, NULL, true);
		if (want_wr) {
			wr = rd;
			weft__waitq_link(&rec->wr, &wr);
		}
	} else {
		weft__waitq_push(&rec->wr, &wr, NULL, true);
	}
	weft__spin_unlock(&rec->lock);
	me_task_label(fd, want_rd, want_wr);
	r = weft__park_commit();
	if (!weft__interruption(r) && !(want_rd && want_wr))
		return 0;
	weft__spin_lock(&rec->lock);
	/* A waiter a waker popped is unlinked already: withdrawing it is a
	 * no-op that says it was woken. */
	{
		/* Both, always: a waiter left linked would dangle. */
		bool rd_woken = want_rd && !weft__waitq_withdraw(&rec->rd, &rd);
		bool wr_woken = want_wr && !weft__waitq_withdraw(&rec->wr, &wr);

		if (rd_woken || wr_woken)
			r = 0;	/* woken too: the caller retries, harmlessly */
	}
	weft__spin_unlock(&rec->lock);
	return weft__interruption(r) ? r : 0;
}

void weft__epoll_forget(int fd)
{
	struct weft__fdrec *rec = weft__fdtab_find(fd);

	if (!rec || kind_of(rec) == FD_UNKNOWN)
		return;
	weft__spin_lock(&rec->lock);
	/* Closing the descriptor takes it out of the epoll set.  (The set's
	 * `registered` count is not decremented: it only tells its owner
	 * that polling is worth a system call.) */
	atomic_store_explicit(&rec->kind, FD_UNKNOWN, memory_order_release);
	rec->ready = 0;
	/* Tasks still waiting on it retry and see EBADF. */
	weft__waitq_wake_all(&rec->rd, 0);
	weft__waitq_wake_all(&rec->wr, 0);
	weft__spin_unlock(&rec->lock);
}
