/*
 * The watchdog (debug mode): one thread per runtime, named weft-watchdog.
 * Every threshold/4 it samples what each worker runs, and reports on
 * stderr a task that has been running longer than the threshold without
 * suspending (asyncio's slow-callback warning; WEFT_DEBUG_SLOW_MS, default
 * 100 ms), once per such run, and again when that run ends.  It also
 * sweeps the task registry (debug_report.c) and prints weft_dump on
 * SIGQUIT.
 *
 * Sampling.  Each worker publishes its current task and a count bumped at
 * every switch-in and at every suspension point a task passes without
 * switching (weft__dbg_switch).  A sample that finds the same task and the
 * same count as the previous one means the task has not suspended between
 * them; once that has held for the threshold, measured from the first
 * sample that saw them (so the figure is a lower bound, and the report
 * comes at most one period late), the task is reported.  It is wall time,
 * as in asyncio: a blocking system call in a task shows as well as a busy
 * loop, and so does a worker thread the OS left without a CPU that long.
 *
 * SIGQUIT.  If SIGQUIT is at its default action (the program has not
 * installed a handler, nor ignored it) when the first debug runtime
 * starts, a handler is installed that only writes to an eventfd
 * (async-signal-safe); every watchdog polls that eventfd, and the one that
 * reads the count prints weft_dump of every runtime.  sigwait or a
 * signalfd would need SIGQUIT blocked in every thread of the process, the
 * program's own included, which a library cannot arrange.  The eventfd
 * stays open for the life of the process: a handler running on another
 * thread as the last debug runtime ends must never write to a descriptor
 * number that was reused meanwhile.  The default action comes back when
 * the last debug runtime ends, unless the program has replaced ours.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "weft.h"
#include "runtime/fault.h"
#include "runtime/task.h"
#include "runtime/timer.h"
#include "runtime/watchdog.h"

/* Registry sweeps, in samples: about once per threshold, so that a task's
 * block outlives it by about that long. */
#define SWEEP_EVERY 4

static pthread_mutex_t quit_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned quit_users;		/* debug runtimes; quit_lock */
static bool quit_ours;			/* our handler is in; quit_lock */
/* The eventfd the handler writes: made once, never closed (see top). */
static _Atomic int quit_fd = -1;
static _Atomic uint64_t quit_dumps;

/* ------------------------------------------------------------ SIGQUIT */

static void on_sigquit(int sig)
{
	/* acquire: as in watchdog_main() (lock-free, so signal-safe). */
	int fd = atomic_load_explicit(&quit_fd, memory_order_acquire);
	uint64_t one = 1;
	int e = errno;

	(void)sig;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* full counter: a dump is pending anyway */
	}
	errno = e;
}

static bool is_default(const struct sigaction *sa)
{
	return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL;
}

static bool is_ours(const struct sigaction *sa)
{
	return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_sigquit;
}

void weft__sigquit_acquire(void)
{
	struct sigaction old, sa;
	uint64_t v;
	int fd;

	pthread_mutex_lock(&quit_lock);
	if (quit_users++ > 0)
		goto out;
	/* The program's own handler, or SIG_IGN: left alone. */
	if (sigaction(SIGQUIT, NULL, &old) < 0 || !is_default(&old))
		goto out;
	fd = atomic_load_explicit(&quit_fd, memory_order_relaxed);
	if (fd < 0) {
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			goto out;
		/* release: pairs with the acquire in watchdog_main(), which
		 * may run on a thread started before the descriptor existed. */
		atomic_store_explicit(&quit_fd, fd, memory_order_release);
	}
	/* A signal that came after the last runtime ended is stale. */
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: none */
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigquit;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	quit_ours = sigaction(SIGQUIT, &sa, NULL) == 0;
out:
	pthread_mutex_unlock(&quit_lock);
}

void weft__sigquit_release(void)
{
	struct sigaction cur, dfl;

	pthread_mutex_lock(&quit_lock);
	if (--quit_users == 0 && quit_ours) {
		quit_ours = false;
		if (sigaction(SIGQUIT, NULL, &cur) == 0 && is_ours(&cur)) {
			memset(&dfl, 0, sizeof(dfl));
			dfl.sa_handler = SIG_DFL;
			sigemptyset(&dfl.sa_mask);
			sigaction(SIGQUIT, &dfl, NULL);
		}
	}
	pthread_mutex_unlock(&quit_lock);
}

uint64_t weft__debug_quit_dumps(void)
{
	return atomic_load_explicit(&quit_dumps, memory_order_relaxed);
}

static void quit_poll(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;	/* another watchdog took it */
	weft__debug_dump_all();
	atomic_fetch_add_explicit(&quit_dumps, 1, memory_order_relaxed);
}

/* ----------------------------------------------------------- sampling */

static void report_slow(struct weft__debug *d, struct weft__dbg_worker *x,
			uint64_t now)
{
	/* Alive: the registry holds it until our own sweep. */
	struct weft_task *t = x->seen;

	x->reported = true;
	x->rep_id = t->id;
	weft__dbg_copy_name(x->rep_name, sizeof(x->rep_name), t);
	fprintf(stderr,
		"weft: task %" PRIu64 " \"%s\" has been running on worker %u "
		"for %" PRIu64 " ms without suspending (WEFT_DEBUG_SLOW_MS=%"
		PRIu64 "): the other tasks of that worker wait\n",
		x->rep_id, x->rep_name, x->index, (now - x->since) / 1000000,
		d->slow_ns / 1000000);
	/* After the message: a test that sees the count finds the text. */
	atomic_fetch_add_explicit(&d->slow_reports, 1, memory_order_relaxed);
}

static void report_end(struct weft__dbg_worker *x, uint64_t now)
{
	fprintf(stderr,
		"weft: task %" PRIu64 " \"%s\" let worker %u go after about "
		"%" PRIu64 " ms\n",
		x->rep_id, x->rep_name, x->index, (now - x->since) / 1000000);
}

static void sample(struct weft__debug *d, struct weft__dbg_worker *x,
		   uint64_t now)
{
	/* acquire: pairs with the release in weft__dbg_switch, for the
	 * task's id. */
	struct weft_task *t =
		atomic_load_explicit(&x->current, memory_order_acquire);
	uint64_t seq = atomic_load_explicit(&x->seq, memory_order_relaxed);

	if (t == x->seen && seq == x->seen_seq) {
		if (t && !x->reported && now - x->since >= d->slow_ns)
			report_slow(d, x, now);
		return;
	}
	if (x->reported)
		report_end(x, now);
	x->seen = t;
	x->seen_seq = seq;
	x->since = now;
	x->reported = false;
}

static void *watchdog_main(void *arg)
{
	struct weft__debug *d = arg;
	uint64_t ms = d->slow_ns / 1000000, v;
	int period = ms >= 4 ? (int)(ms / 4) : 1;
	unsigned ticks = 0, i;
	struct pollfd p[2];

	p[0].fd = d->stop_fd;
	p[0].events = POLLIN;
	p[1].events = POLLIN;
	for (;;) {
		/* Made by the first debug runtime, maybe another one. */
		p[1].fd = atomic_load_explicit(&quit_fd, memory_order_acquire);
		p[1].revents = 0;
		if (poll(p, 2, period) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			if (read(d->stop_fd, &v, sizeof(v)) < 0) {
				/* leaving anyway */
			}
			break;
		}
		if (p[1].fd >= 0 && (p[1].revents & POLLIN))
			quit_poll(p[1].fd);
		v = weft__now();
		for (i = 0; i < d->nworkers; i++)
			sample(d, &d->w[i], v);
		if (++ticks % SWEEP_EVERY == 0)
			weft__debug_sweep(d);
	}
	return NULL;
}

int weft__watchdog_start(struct weft__debug *d)
{
	sigset_t all, old;
	int r;

	/* No signal of the program's is delivered to our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = weft__fault_hit(WEFT__FAULT_THREAD)
		    ? EAGAIN
		    : pthread_create(&d->thread, NULL, watchdog_main, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -EAGAIN;
	pthread_setname_np(d->thread, "weft-watchdog");
	d->started = true;
	return 0;
}

void weft__watchdog_stop(struct weft__debug *d)
{
	uint64_t one = 1;

	if (!d->started)
		return;
	if (write(d->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write of 1 cannot fail here */
	}
	pthread_join(d->thread, NULL);
	d->started = false;
}
