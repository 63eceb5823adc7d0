/*
 * The blocking pool's threads: job threads and the monitor.
 *
 * Threads (all counts under the lock).  idle_awake: threads starting,
 * spinning or just woken, that will look at the queue before they sleep.
 * A job queued while one is awake needs nothing more.  Otherwise, if a
 * thread is running a job, the job waits for it (hand-offs stay on warm,
 * already running threads: no futex wake per job) and the monitor watches;
 * else a sleeping thread is woken, or a thread is started (up to
 * blocking_max_threads).  The monitor thread ticks every TICK_NS while jobs
 * wait: a tick with jobs queued, no idle thread and no job finished means
 * every running job is blocking, so it wakes or starts as many threads
 * again as are running (at most GROW_MAX a tick): Go's sysmon, .NET's
 * starvation check.  Idle threads spin SPIN_NS on the queue length (at most
 * spin_max at once), then sleep on their own futex; unclaimed for
 * blocking_keepalive_ns, they exit.  An exiting thread joins the previous
 * one to exit (the "zombie") and leaves itself for the next, so at most one
 * thread is unjoined; drain joins the last.
 *
 * Wakes of sleepers happen under the lock: a sleeper that times out takes
 * the lock to leave, so it cannot be freed under its waker's futex call.
 *
 * The job's side (the record, the interruption handshake) is in
 * blocking.c.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/blocking.h"
#include "runtime/blocking_internal.h"
#include "runtime/compiler.h"
#include "runtime/fault.h"
#include "runtime/timer.h"

/* Idle spin before sleeping: the next job of a busy caller typically comes
 * within a few microseconds (a task woken, run, offloading again), while a
 * futex sleep and wake cost several microseconds on each side. */
#define SPIN_NS 10000
/* Monitor period: a job blocked this long with others waiting behind it
 * gets company (Go's sysmon starts at 20 us; 100 us costs ~1% of a CPU in
 * ticks while the pool is busy). */
#define TICK_NS 100000
/* Empty ticks before the monitor sleeps until kicked again (1 ms). */
#define QUIET_TICKS 10
/* Threads the monitor adds per tick, at most. */
#define GROW_MAX 8

/* ------------------------------------------------------------ threads */

static void publish_threads_locked(struct weft__blocking *p)
{
	atomic_store_explicit(&p->threads_pub, p->nthreads,
			      memory_order_relaxed);
}

/* Wake the warmest sleeper; it counts as idle_awake from now on. */
bool weft__blk_claim_sleeper_locked(struct weft__blocking *p)
{
	struct blk_thread *th = p->sleepers;

	if (!th)
		return false;
	p->sleepers = th->next;
	if (th->next)
		th->next->prev = NULL;
	th->sleeping = false;
	p->nsleep--;
	p->idle_awake++;
	atomic_store_explicit(&th->wake, 1, memory_order_relaxed);
	futex_wake1(&th->wake);
	return true;
}

/* Make sure the monitor ticks: jobs wait behind running ones. */
void weft__blk_kick_monitor_locked(struct weft__blocking *p)
{
	if (p->mon_active || !p->mon_started)
		return;
	p->mon_active = true;
	atomic_store_explicit(&p->mon_word, 1, memory_order_relaxed);
	futex_wake1(&p->mon_word);
}

/* Jobs queued and none failing: with no thread left, none would run. */
static void fail_queued_if_orphaned_locked(struct weft__blocking *p,
					   struct blk_job **out)
{
	struct blk_job *j;

	if (p->nthreads)
		return;
	while ((j = p->head)) {
		weft__blk_job_unlink_locked(p, j);
		j->next = *out;
		*out = j;
	}
}

/* Last steps of any pool thread: become the zombie, join the previous one,
 * leave the live count (drain waits for 0 under the lock). */
static void thread_exit_locked(struct weft__blocking *p,
			       struct blk_thread *me)
{
	struct blk_thread *old = p->zombie;

	me->th = pthread_self();
	p->zombie = me;
	if (!me->monitor) {
		p->nthreads--;
		publish_threads_locked(p);
	}
	pool_unlock(p);
	if (old) {
		pthread_join(old->th, NULL);
		weft__free(old);
	}
	pool_lock(p);
	atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
	futex_wake1(&p->live);
	pool_unlock(p);
}

static void *thread_main(void *arg);
static void *monitor_main(void *arg);

/*
 * Start a thread reserved under the lock (nthreads/idle_awake or
 * mon_started, and live, already counted).  On failure, undo that; a job
 * left with no thread at all ends with -EAGAIN.
 */
void weft__blk_spawn(struct weft__blocking *p, bool monitor)
{
	struct blk_thread *th = weft__calloc(1, sizeof(*th));
	struct blk_job *orphans = NULL;
	pthread_attr_t attr;
	pthread_t id;
	int r = -ENOMEM;

	if (th) {
		th->pool = p;
		th->monitor = monitor;
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(p->cpus), &p->cpus);
		r = weft__fault_hit(WEFT__FAULT_THREAD)
			    ? -EAGAIN
			    : -pthread_create(&id, &attr,
					      monitor ? monitor_main
						      : thread_main,
					      th);
		pthread_attr_destroy(&attr);
	}
	if (r == 0)
		return;
	weft__free(th);
	pool_lock(p);
	if (monitor) {
		p->mon_started = false;
	} else {
		p->nthreads--;
		p->idle_awake--;
		publish_threads_locked(p);
		fail_queued_if_orphaned_locked(p, &orphans);
	}
	atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
	futex_wake1(&p->live);
	pool_unlock(p);
	weft__blk_complete_list(orphans, -EAGAIN);
}

/* Reserve one job thread (and the monitor with the first); returns
 * whether the monitor must be started too. */
bool weft__blk_reserve_thread_locked(struct weft__blocking *p)
{
	bool mon = !p->mon_started;

	p->nthreads++;
	p->idle_awake++;
	publish_threads_locked(p);
	atomic_fetch_add_explicit(&p->live, mon ? 2 : 1,
				  memory_order_relaxed);
	p->mon_started = true;
	return mon;
}

/* ------------------------------------------------------- thread bodies */

/* Spin on the queue length outside the lock until a job (or the stop)
 * shows up or SPIN_NS pass.  Called and returns with the lock held. */
static void spin_locked(struct weft__blocking *p)
{
	uint64_t until;
	unsigned i;

	p->nspinning++;
	pool_unlock(p);
	until = weft__now() + SPIN_NS;
	do {
		for (i = 0; i < 64; i++)
			weft__cpu_relax();
		if (atomic_load_explicit(&p->qlen, memory_order_relaxed) ||
		    atomic_load_explicit(&p->stop, memory_order_relaxed))
			break;
	} while (weft__now() < until);
	pool_lock(p);
	p->nspinning--;
}

/* Sleep until claimed (true) or unclaimed for the keep-alive (false: the
 * thread exits).  Drops the lock while asleep. */
static bool sleep_locked(struct weft__blocking *p, struct blk_thread *me)
{
	uint64_t now = weft__now(), until = WEFT__FOREVER;

	if (p->keepalive_ns < WEFT__FOREVER - now)
		until = now + p->keepalive_ns;
	p->idle_awake--;
	p->nsleep++;
	me->prev = NULL;
	me->next = p->sleepers;
	if (p->sleepers)
		p->sleepers->prev = me;
	p->sleepers = me;
	me->sleeping = true;
	atomic_store_explicit(&me->wake, 0, memory_order_relaxed);
	while (me->sleeping) {
		now = weft__now();
		if (now >= until) {
			if (me->prev)
				me->prev->next = me->next;
			else
				p->sleepers = me->next;
			if (me->next)
				me->next->prev = me->prev;
			p->nsleep--;
			return false;
		}
		pool_unlock(p);
		futex_wait0(&me->wake,
			    until == WEFT__FOREVER ? until : until - now);
		pool_lock(p);
	}
	return true;
}

/* The next job for an idle thread (counted in idle_awake), or NULL when it
 * must exit (stop, keep-alive), no longer counted idle then. */
static struct blk_job *next_job_locked(struct weft__blocking *p,
				       struct blk_thread *me)
{
	struct blk_job *j;
	bool spun = false;

	for (;;) {
		if (p->stopping) {
			p->idle_awake--;
			return NULL;
		}
		if ((j = p->head)) {
			weft__blk_job_unlink_locked(p, j);
			p->idle_awake--;
			p->nrunning++;
			atomic_fetch_add_explicit(&p->in_fn, 1,
						  memory_order_relaxed);
			/* If this job blocks, those behind it need the
			 * monitor's eye. */
			if (p->head && !p->idle_awake)
				weft__blk_kick_monitor_locked(p);
			return j;
		}
		/* Look at the queue again after a spin (the lock was
		 * dropped: a job queued then counted on us) or a sleep. */
		if (!spun && p->nspinning < p->spin_max) {
			spun = true;
			spin_locked(p);
			continue;
		}
		spun = false;
		if (!sleep_locked(p, me))
			return NULL;
	}
}

static void *thread_main(void *arg)
{
	struct blk_thread *me = arg;
	struct weft__blocking *p = me->pool;
	struct blk_job *j;
	char name[16];
	int r;

	pool_lock(p);
	me->id = p->next_id++;
	pool_unlock(p);
	/* 15 characters at most: "weft-blocking-1" stands for 1x too. */
	snprintf(name, sizeof(name), "weft-blocking-%u", me->id);
	pthread_setname_np(pthread_self(), name);
	pool_lock(p);
	while ((j = next_job_locked(p, me))) {
		pool_unlock(p);
		r = j->fn(j->arg);
		atomic_fetch_sub_explicit(&p->in_fn, 1, memory_order_relaxed);
		weft__blk_job_complete(j, r);
		pool_lock(p);
		p->nrunning--;
		p->completed++;
		p->idle_awake++;
	}
	thread_exit_locked(p, me);
	return NULL;
}

/* One monitor tick; returns how many threads to start (reserved). */
static unsigned tick_locked(struct weft__blocking *p, uint64_t *last,
			    unsigned *quiet)
{
	bool progress = p->completed != *last;
	size_t want;
	unsigned n;

	*last = p->completed;
	if (!p->head) {
		if (++*quiet >= QUIET_TICKS)
			p->mon_active = false;
		return 0;
	}
	*quiet = 0;
	if (progress || p->idle_awake ||
	    atomic_load_explicit(&p->in_fn, memory_order_relaxed) <
		    p->nrunning)
		return 0;
	/* Every running job blocked a whole tick with work waiting. */
	want = p->nrunning ? p->nrunning : 1;
	if (want > GROW_MAX)
		want = GROW_MAX;
	if (want > atomic_load_explicit(&p->qlen, memory_order_relaxed))
		want = atomic_load_explicit(&p->qlen, memory_order_relaxed);
	while (want && weft__blk_claim_sleeper_locked(p))
		want--;
	n = 0;
	while (want-- && p->nthreads < p->max_threads) {
		weft__blk_reserve_thread_locked(p);
		n++;
	}
	return n;
}

static void *monitor_main(void *arg)
{
	struct blk_thread *me = arg;
	struct weft__blocking *p = me->pool;
	uint64_t last = 0;
	unsigned quiet = 0, n;
	bool active;

	pthread_setname_np(pthread_self(), "weft-blkmon");
	pool_lock(p);
	while (!p->stopping) {
		active = p->mon_active;
		atomic_store_explicit(&p->mon_word, 0, memory_order_relaxed);
		pool_unlock(p);
		futex_wait0(&p->mon_word, active ? TICK_NS : WEFT__FOREVER);
		pool_lock(p);
		if (!active) {
			/* Kicked: the first tick measures a whole period. */
			last = p->completed;
			quiet = 0;
			continue;
		}
		if (!p->mon_active || p->stopping)
			continue;
		n = tick_locked(p, &last, &quiet);
		if (!n)
			continue;
		pool_unlock(p);
		while (n--)
			weft__blk_spawn(p, false);
		pool_lock(p);
	}
	thread_exit_locked(p, me);
	return NULL;
}
