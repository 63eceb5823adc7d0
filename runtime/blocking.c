/*
 * The blocking pool (weft_blocking): the task-side call.
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
 * The threads' side (who takes a job, when threads start) is in
 * blocking_thread.c; the queue and its bound in blocking_queue.c.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "weft.h"
#include "runtime/blocking.h"
#include "runtime/blocking_internal.h"
#include "runtime/compiler.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/worker.h"

/* The job's end, from the thread that ran it (or cancelled it unrun). */
void weft__blk_job_complete(struct blk_job *j, int result)
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

void weft__blk_complete_list(struct blk_job *j, int result)
{
	struct blk_job *next;

	for (; j; j = next) {
		next = j->next;	/* j may be gone once completed */
		weft__blk_job_complete(j, result);
	}
}

/* Queue j and arm the caller's park; 0, -EAGAIN or -ECANCELED. */
static int submit(struct weft__blocking *p, struct blk_job *j)
{
	bool start = false, mon = false;

	pool_lock(p);
	if (p->stopping || weft__blk_full_locked(p)) {
		pool_unlock(p);
		return p->stopping ? -ECANCELED : -EAGAIN;
	}
	/* Relaxed: a thread reads it after taking j under the lock. */
	atomic_store_explicit(&j->wk, weft__park_prepare(true),
			      memory_order_relaxed);
	weft__blk_job_link_locked(p, j);
	if (p->idle_awake) {
		/* It takes the job before it sleeps. */
	} else if (p->nrunning) {
		weft__blk_kick_monitor_locked(p);
	} else if (!weft__blk_claim_sleeper_locked(p) &&
		   p->nthreads < p->max_threads) {
		mon = weft__blk_reserve_thread_locked(p);
		start = true;
	}
	pool_unlock(p);
	if (mon)
		weft__blk_spawn(p, true);
	if (start)
		weft__blk_spawn(p, false);
	return 0;
}

/* Wait until the thread that failed to wake us is done with j. */
static void settle(struct blk_job *j)
{
	unsigned n = 0;

	/* acquire: pairs with the release of J_FIRED in
	 * weft__blk_job_complete(). */
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
		weft__blk_job_unlink_locked(p, j);
		pool_unlock(p);
		return r;
	}
	pool_unlock(p);
	gen = weft__park_prepare(false);
	old = atomic_load_explicit(&j->wk, memory_order_acquire);
	/* acq_rel: pairs with the fetch_or in weft__blk_job_complete(). */
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
