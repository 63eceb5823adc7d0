/*
 * The blocking pool (weft_blocking).
 *
 * A job record lives on the calling task's stack; the task queues it under
 * the pool's spinlock and parks.  A pool thread takes jobs one at a time in
 * FIFO order, runs fn, and wakes the task with weft__wake (which puts it on
 * the runtime's inject queue).  The park is always woken with 0 by the pool:
 * the job's status travels in the record, so a job that itself returns
 * -ECANCELED is never mistaken for an interruption of the park.
 *
 * Interruption handshake (cancel or deadline while parked).  The task
 * takes the lock: a job still queued is unlinked and never runs.  A job
 * already taken is running: the task re-arms a non-cancellable park and
 * publishes its new gen in the record's word `wk` with a CAS that fails
 * once the thread has set J_DONE.  The thread, after fn returns, does
 * fetch_or(J_DONE), which gives it the gen to wake: the re-armed one (that
 * wake succeeds, and is the thread's last access to the record), or the old
 * one (that wake fails, the interruption took it: the thread then sets
 * J_FIRED as its last access, and the task waits for J_FIRED).  So the task
 * leaves, and its stack frame dies, only once the thread is done with the
 * record and with the task.  A pool wake that succeeds is the thread's last
 * touch in the common case, so the fast path has no settle.
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
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/blocking.h"
#include "runtime/compiler.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/timer.h"
#include "runtime/worker.h"

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

#define J_GEN_MASK 0xffffffu
#define J_DONE (1u << 30)	/* fn returned; result is set */
#define J_FIRED (1u << 31)	/* thread's wake failed; it is done */

struct blk_job {
	struct blk_job *next;	/* queue links, under the lock */
	struct blk_job *prev;
	int (*fn)(void *);
	void *arg;
	struct weft_task *task;
	bool queued;		/* under the lock */
	int result;		/* thread: before J_DONE (release) */
	/* gen of the park to wake | J_DONE | J_FIRED: see top. */
	_Atomic uint32_t wk;
};

struct blk_thread {
	struct blk_thread *next;	/* sleepers list, under the lock */
	struct blk_thread *prev;
	struct weft__blocking *pool;
	pthread_t th;			/* set by the thread before exit */
	_Atomic uint32_t wake;		/* futex: 1 once claimed */
	bool sleeping;			/* under the lock: on the list */
	bool monitor;
	unsigned id;
};

struct weft__blocking {
	_Atomic uint32_t lock;
	/* Under the lock. */
	struct blk_job *head;
	struct blk_job *tail;
	unsigned nthreads;		/* job threads alive or starting */
	unsigned idle_awake;		/* see top */
	unsigned nspinning;		/* spinning outside the lock now */
	unsigned nrunning;		/* took a job, not yet idle again */
	unsigned nsleep;
	struct blk_thread *sleepers;	/* LIFO: the warmest first */
	struct blk_thread *zombie;	/* exited, not yet joined */
	uint64_t completed;		/* jobs done: the monitor's progress */
	bool stopping;
	bool mon_started;
	bool mon_active;		/* ticking (else asleep until kicked) */
	unsigned next_id;
	/* Written under the lock, read by anyone (relaxed: hints). */
	_Atomic size_t qlen;
	_Atomic unsigned threads_pub;
	_Atomic int stop;
	/* Threads inside fn: incremented under the lock, decremented when fn
	 * returns (before the lock is taken again).  The monitor counts a
	 * thread past fn, but preempted before it looks for the next job, as
	 * coming back rather than blocked. */
	_Atomic unsigned in_fn;
	/* Futex words. */
	_Atomic uint32_t mon_word;	/* 1: monitor, look again */
	_Atomic uint32_t live;		/* threads alive, monitor included */
	/* Config (constant). */
	unsigned max_threads;
	uint64_t keepalive_ns;
	size_t queue_max;
	unsigned spin_max;
	cpu_set_t cpus;			/* the creator's affinity */
};

/* ---------------------------------------------------------- primitives */

static void pool_lock(struct weft__blocking *p)
{
	unsigned n = 0;

	for (;;) {
		/* acquire: pairs with the release in pool_unlock(). */
		if (!atomic_exchange_explicit(&p->lock, 1,
					      memory_order_acquire))
			return;
		while (atomic_load_explicit(&p->lock, memory_order_relaxed)) {
			/* The holder may be preempted (threads outnumber
			 * CPUs): give the CPU up after a short spin. */
			if (++n < 128)
				weft__cpu_relax();
			else
				sched_yield();
		}
	}
}

static void pool_unlock(struct weft__blocking *p)
{
	atomic_store_explicit(&p->lock, 0, memory_order_release);
}

static void futex_wake1(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait while *w == 0, at most ns (WEFT__FOREVER: no limit). */
static void futex_wait0(_Atomic uint32_t *w, uint64_t ns)
{
	struct timespec ts, *tp = NULL;

	if (ns != WEFT__FOREVER) {
		ts.tv_sec = (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		tp = &ts;
	}
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, tp, NULL, 0);
}

static void job_link_locked(struct weft__blocking *p, struct blk_job *j)
{
	j->next = NULL;
	j->prev = p->tail;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	j->queued = true;
	atomic_store_explicit(&p->qlen,
			      atomic_load_explicit(&p->qlen,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static void job_unlink_locked(struct weft__blocking *p, struct blk_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		p->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		p->tail = j->prev;
	j->queued = false;
	atomic_store_explicit(&p->qlen,
			      atomic_load_explicit(&p->qlen,
						   memory_order_relaxed) - 1,
			      memory_order_relaxed);
}

/* The job's end, from the thread that ran it (or cancelled it unrun). */
static void job_complete(struct blk_job *j, int result)
{
	struct weft_task *t = j->task;
	uint32_t old;

	j->result = result;
	/* acq_rel: release publishes result; acquire sees a gen the task
	 * re-armed in abandon() (pairs with its CAS). */
	old = atomic_fetch_or_explicit(&j->wk, J_DONE, memory_order_acq_rel);
	if (weft__wake(t, old & J_GEN_MASK, 0))
		return;		/* the task may be gone already */
	/* release: pairs with the acquire in settle(); our last access. */
	atomic_store_explicit(&j->wk, old | J_DONE | J_FIRED,
			      memory_order_release);
}

/* ------------------------------------------------------------ threads */

static void publish_threads_locked(struct weft__blocking *p)
{
	atomic_store_explicit(&p->threads_pub, p->nthreads,
			      memory_order_relaxed);
}

/* Wake the warmest sleeper; it counts as idle_awake from now on. */
static bool claim_sleeper_locked(struct weft__blocking *p)
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
static void kick_monitor_locked(struct weft__blocking *p)
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
		job_unlink_locked(p, j);
		j->next = *out;
		*out = j;
	}
}

static void complete_list(struct blk_job *j, int result)
{
	struct blk_job *next;

	for (; j; j = next) {
		next = j->next;	/* j may be gone once completed */
		job_complete(j, result);
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
static void spawn(struct weft__blocking *p, bool monitor)
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
		r = -pthread_create(&id, &attr, monitor ? monitor_main :
						   thread_main, th);
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
	complete_list(orphans, -EAGAIN);
}

/* Reserve one job thread (and the monitor with the first); returns
 * whether the monitor must be started too. */
static bool reserve_thread_locked(struct weft__blocking *p)
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
			job_unlink_locked(p, j);
			p->idle_awake--;
			p->nrunning++;
			atomic_fetch_add_explicit(&p->in_fn, 1,
						  memory_order_relaxed);
			/* If this job blocks, those behind it need the
			 * monitor's eye. */
			if (p->head && !p->idle_awake)
				kick_monitor_locked(p);
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
		job_complete(j, r);
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
	while (want && claim_sleeper_locked(p))
		want--;
	n = 0;
	while (want-- && p->nthreads < p->max_threads) {
		reserve_thread_locked(p);
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
			spawn(p, false);
		pool_lock(p);
	}
	thread_exit_locked(p, me);
	return NULL;
}

/* --------------------------------------------------------- the caller */

/* Room for one more job not yet running: the threads that could still
 * take one, plus queue_max. */
static bool full_locked(struct weft__blocking *p)
{
	size_t room = p->queue_max + (p->max_threads - p->nrunning);

	return atomic_load_explicit(&p->qlen, memory_order_relaxed) >= room;
}

/* Queue j and arm the caller's park; 0, -EAGAIN or -ECANCELED. */
static int submit(struct weft__blocking *p, struct blk_job *j)
{
	bool start = false, mon = false;

	pool_lock(p);
	if (p->stopping || full_locked(p)) {
		pool_unlock(p);
		return p->stopping ? -ECANCELED : -EAGAIN;
	}
	/* Relaxed: a thread reads it after taking j under the lock. */
	atomic_store_explicit(&j->wk, weft__park_prepare(true),
			      memory_order_relaxed);
	job_link_locked(p, j);
	if (p->idle_awake) {
		/* It takes the job before it sleeps. */
	} else if (p->nrunning) {
		kick_monitor_locked(p);
	} else if (!claim_sleeper_locked(p) &&
		   p->nthreads < p->max_threads) {
		mon = reserve_thread_locked(p);
		start = true;
	}
	pool_unlock(p);
	if (mon)
		spawn(p, true);
	if (start)
		spawn(p, false);
	return 0;
}

/* Wait until the thread that failed to wake us is done with j. */
static void settle(struct blk_job *j)
{
	unsigned n = 0;

	/* acquire: pairs with the release of J_FIRED in job_complete(). */
	while (!(atomic_load_explicit(&j->wk, memory_order_acquire) &
		 J_FIRED)) {
		if (++n < 64)
			weft__cpu_relax();
		else
			sched_yield();
	}
}

/* The park ended with r (-ECANCELED, -ETIMEDOUT): withdraw the job, or
 * wait (not cancellable) for the running one to end.  Returns r. */
static int abandon(struct weft__blocking *p, struct blk_job *j, int r)
{
	uint32_t gen, old;

	pool_lock(p);
	if (j->queued) {
		job_unlink_locked(p, j);
		pool_unlock(p);
		return r;
	}
	pool_unlock(p);
	gen = weft__park_prepare(false);
	old = atomic_load_explicit(&j->wk, memory_order_acquire);
	/* acq_rel: pairs with the fetch_or in job_complete(). */
	if (!(old & J_DONE) &&
	    atomic_compare_exchange_strong_explicit(&j->wk, &old, gen,
						    memory_order_acq_rel,
						    memory_order_acquire)) {
		weft__park_commit();
		return r;
	}
	/* fn returned already: the thread is waking the old park, in vain.
	 * Consume the one we armed, then wait for its last access. */
	weft__wake(j->task, gen, 0);
	weft__park_commit();
	settle(j);
	return r;
}

int weft_blocking(int (*fn)(void *), void *arg)
{
	struct worker *w = weft__tls_worker;
	struct weft_task *self = w ? w->current : NULL;
	struct weft__blocking *p;
	struct blk_job j;
	int r;

	WEFT__CHECK(fn, -EINVAL);
	if (!self)
		return -EPERM;
	r = weft__interrupted(self);
	if (r)
		return r;	/* never queue a job that would not be awaited */
	p = w->rt->blocking;
	j.fn = fn;
	j.arg = arg;
	j.task = self;
	j.result = 0;
	r = submit(p, &j);
	if (r < 0)
		return r;
	r = weft__park_commit();
	/* 0: the pool's wake, after fn (the park's acquire pairs with the
	 * wake's release, so j.result is visible). */
	if (r == 0)
		return j.result;
	return abandon(p, &j, r);
}

/* ------------------------------------------------------------ the pool */

struct weft__blocking *weft__blocking_new(const weft_config *cfg)
{
	struct weft__blocking *p = weft__calloc(1, sizeof(*p));
	long ncpu = weft__online_cpus();

	if (!p)
		return NULL;
	p->max_threads = cfg->blocking_max_threads;
	p->keepalive_ns = cfg->blocking_keepalive_ns;
	p->queue_max = cfg->blocking_queue_max;
	/* One spinner per two CPUs: spinners take CPU time from the
	 * workers that make the next jobs. */
	p->spin_max = ncpu >= 4 ? (unsigned)(ncpu / 2) : 1;
	/* Pool threads may start on a pinned worker: give them the
	 * creating thread's CPUs instead. */
	if (sched_getaffinity(0, sizeof(p->cpus), &p->cpus) < 0) {
		CPU_ZERO(&p->cpus);
		for (long i = 0; i < ncpu && i < CPU_SETSIZE; i++)
			CPU_SET(i, &p->cpus);
	}
	return p;
}

void weft__blocking_drain(struct weft__blocking *p)
{
	struct blk_job *j, *cancelled = NULL;
	uint32_t live;

	if (!p)
		return;
	pool_lock(p);
	p->stopping = true;
	atomic_store_explicit(&p->stop, 1, memory_order_relaxed);
	while ((j = p->head)) {
		job_unlink_locked(p, j);
		j->next = cancelled;
		cancelled = j;
	}
	while (claim_sleeper_locked(p))
		;
	atomic_store_explicit(&p->mon_word, 1, memory_order_relaxed);
	futex_wake1(&p->mon_word);
	pool_unlock(p);
	complete_list(cancelled, -ECANCELED);
	for (;;) {
		pool_lock(p);
		live = atomic_load_explicit(&p->live, memory_order_relaxed);
		pool_unlock(p);
		if (!live)
			break;
		syscall(SYS_futex, &p->live, FUTEX_WAIT_PRIVATE, live, NULL,
			NULL, 0);
	}
	if (p->zombie) {
		pthread_join(p->zombie->th, NULL);
		weft__free(p->zombie);
		p->zombie = NULL;
	}
}

void weft__blocking_free(struct weft__blocking *p)
{
	if (!p)
		return;
	weft__blocking_drain(p);
	weft__free(p);
}

unsigned weft__blocking_threads(struct weft__blocking *p)
{
	return p ? atomic_load_explicit(&p->threads_pub, memory_order_relaxed)
		 : 0;
}

size_t weft__blocking_queued(struct weft__blocking *p)
{
	return p ? atomic_load_explicit(&p->qlen, memory_order_relaxed) : 0;
}
