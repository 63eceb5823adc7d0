/*
 * The worker: its scheduler loop, the switch paths of tasks, and where a
 * task goes when it becomes runnable.
 *
 * Switching.  A task that yields, parks or exits switches straight to the
 * next runnable task of its worker when there is one (no trip through the
 * loop's frame), else to the loop, which steals, polls the inject queue or
 * parks the thread.  What must happen to the task that left, requeueing
 * it, marking it off-CPU, freeing its stack, can only happen once it is off
 * its stack, so the leaving side records it in pend_task/pend_action and
 * the arriving side (after_switch) does it.  Both run on the same thread,
 * so those two fields are owner-only.
 *
 * Order of sources (next_local): every 61st tick the inject queue first (as
 * Go and Tokio: 61 is prime so it does not beat with other periods), then
 * the LIFO slot (at most LIFO_CAP runs in a row, so two tasks waking each
 * other cannot starve the queue), then the local queue, then the inject
 * queue, then the yielded tasks.  The loop adds stealing and parking.
 *
 * Yields.  A yielded task goes behind everything runnable.  While every
 * worker is busy nobody would steal it, so it waits in a private FIFO of
 * its worker (yq) instead of the shared queue: a yield then costs no
 * atomic at all (the shared queue's push and pop are a CAS each;
 * yield_many on one binary with the FIFO on and off: 16.5 against 19.9 ns
 * per yield, medians of 15 interleaved runs).  As soon as a worker is searching or
 * parked, the next yield moves the FIFO into the shared queue, where it
 * can be stolen, and wakes a worker.  The price: while one task of a
 * worker runs a long slice, an idle worker cannot take the yielded tasks
 * queued behind it until that slice ends (the coop budget bounds slices
 * that make weft calls).  Every HEAD_INTERVAL-th pick takes the oldest
 * yielded task first, so a stream of new work cannot starve them.
 *
 * Contention.  Tasks that hand items to each other through one channel
 * run best on one worker (15 ns per channel_mpmc message, 40-90 split over
 * two, where every operation moves the channel's line between cores).
 * Wakes gather them (a woken task runs on its waker's worker), but a
 * group whose channel never fills or empties never wakes anyone: split
 * once (a steal while its worker was descheduled), it stays split.  So
 * each such operation scores whether its lock was held by another worker
 * (CONTENTION_HIT up, 1 down for a free one); at CONTENTION_MOVE the task
 * moves through the inject queue, to whichever worker takes it.  Moves go
 * on while the group is split and stop once it is together, where nothing
 * contends; a group whose work between operations dwarfs them never gets
 * there (below 1 contended operation in CONTENTION_HIT).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/driver.h"
#include "runtime/overflow.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/task_cache.h"
#include "runtime/watchdog.h"
#include "runtime/worker.h"

/* Tokio's MAX_LIFO_POLLS_PER_TICK (PR #5712). */
#define LIFO_CAP 3
/* Go/Tokio global queue interval. */
#define INJECT_INTERVAL 61
/* How often the owner takes from the old end of its own queue: often
 * enough that a yielded task waits at most a few dozen picks behind newer
 * work; prime, like 61, so the two do not fall on the same ticks. */
#define HEAD_INTERVAL 31
/* How long an idle worker looks for work before it parks: a few futex
 * round trips' worth. */
#define SPIN_NS 20000

_Thread_local struct worker *weft__tls_worker
	__attribute__((tls_model("initial-exec")));

__attribute__((noinline)) struct worker *weft__worker_self(void)
{
	struct worker *w = weft__tls_worker;

	/* Keep the call from being folded into its callers. */
	__asm__ volatile("" : "+r"(w));
	return w;
}

static inline void count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* ------------------------------------------------------------------ queues */

/* A task went where another worker could take it: wake one if nobody is
 * searching.  No fence needed: the queue CAS that published the task is
 * seq_cst, and so is the idle check (idle.c). */
static inline void notify(struct weft_runtime *rt)
{
	weft__idle_notify(&rt->idle);
}

/* Our queue is full: move its oldest half to the inject queue.  False if
 * there is no memory for the batch. */
static bool overflow(struct worker *w)
{
	struct weft__inject_batch *b;

	b = weft__inject_batch_new(WEFT__RQ_CAP / 2);
	if (!b)
		return false;
	b->n = weft__rq_take_half(&w->rq, b->tasks);
	if (b->n)
		weft__inject_push_batch(&w->rt->inject, b);
	else
		weft__inject_batch_free(b);
	return true;
}

/*
 * Push at the tail (runs soon) or the head (runs last), then notify.  A
 * full queue with no memory to move half of it away sends t alone to the
 * inject queue, in the one-task batch every task carries: running out of
 * memory must not lose a runnable task, nor crash.
 */
static void push_tail(struct worker *w, struct weft_task *t)
{
	while (!weft__rq_push_tail(&w->rq, t)) {
		if (!overflow(w)) {
			weft__inject_push(&w->rt->inject, t);
			break;
		}
	}
	notify(w->rt);
}

static void push_head(struct worker *w, struct weft_task *t)
{
	while (!weft__rq_push_head(&w->rq, t)) {
		if (!overflow(w)) {
			weft__inject_push(&w->rt->inject, t);
			break;
		}
	}
	notify(w->rt);
}

/* Take from inject: one task to run, and as many more as fit in our queue
 * without overflowing (the rest goes back to the front of inject, so tasks
 * do not bounce between a full queue and inject). */
static struct weft_task *pop_inject(struct worker *w)
{
	struct weft__inject_batch *b;
	struct weft_task *t;
	unsigned room, i;

	if (weft__inject_empty(&w->rt->inject))
		return NULL;
	b = weft__inject_pop(&w->rt->inject);
	if (!b)
		return NULL;
	count(&w->c.inject_pops);
	t = b->tasks[b->first++];
	room = WEFT__RQ_CAP - weft__rq_len(&w->rq);
	if (room > b->n - b->first)
		room = b->n - b->first;
	/* Newest of the taken ones first at the head, so they keep order. */
	for (i = b->first + room; i-- > b->first;)
		weft__rq_push_head(&w->rq, b->tasks[i]);
	b->first += room;
	if (b->first < b->n)
		weft__inject_push_front(&w->rt->inject, b);
	else
		weft__inject_batch_free(b);
	if (room)
		notify(w->rt);
	return t;
}

/* ------------------------------------------------------------------ yields */

static struct weft_task *yq_pop(struct worker *w)
{
	struct weft_task *t = w->yq_head;

	if (t && !(w->yq_head = t->next))
		w->yq_tail = NULL;
	return t;
}

/* t yielded: behind everything runnable, privately while every worker is
 * busy, else in the shared queue with the private ones before it. */
static void yield_put(struct worker *w, struct weft_task *t)
{
	struct weft_task *y;

	if (!weft__idle_someone_idle(&w->rt->idle) && !weft__fuzz(w, 8)) {
		t->next = NULL;
		if (w->yq_tail)
			w->yq_tail->next = t;
		else
			w->yq_head = t;
		w->yq_tail = t;
		return;
	}
	/* The head end runs last: oldest first, then t. */
	while ((y = yq_pop(w)))
		push_head(w, y);
	push_head(w, t);
}

static void lifo_put(struct worker *w, struct weft_task *t)
{
	struct weft_task *prev = w->lifo;

	w->lifo = t;
	if (prev)
		push_tail(w, prev);
}

void weft__schedule(struct weft_task *t)
{
	struct worker *w = weft__tls_worker;
	struct weft_runtime *rt = t->rt;

	if (w && w->rt == rt) {
		if (unlikely(w->io_reaping))
			push_head(w, t);
		else
			lifo_put(w, t);
		return;
	}
	/* Once pushed, t may run, end and be freed by a worker before we
	 * notify (a wake from a blocking-pool thread): rt was read first. */
	weft__inject_push(&rt->inject, t);
	notify(rt);
}

void weft__worker_seed(struct worker *w, struct weft_task *t)
{
	/* Only the owner touches the slot, and its loop has not run: the
	 * calling thread is the owner-to-be.  No other worker is woken, so
	 * the task runs here without a cross-thread hand-off (startup: one
	 * woken by the inject queue won the race and ran main on another
	 * thread, while this one waited for it). */
	lifo_put(w, t);
}

void weft__worker_spawned(struct worker *w, struct weft_task *t)
{
	count(&w->c.spawned);
	lifo_put(w, t);
}

/* ------------------------------------------------------------ live tasks */

static void live_link(struct worker *w, struct weft_task *t)
{
	t->home = w;
	t->live_prev = NULL;
	weft__worker_live_lock(w);
	t->live_next = w->live;
	if (w->live)
		w->live->live_prev = t;
	w->live = t;
	weft__worker_live_unlock(w);
}

static void live_unlink(struct worker *w, struct weft_task *t)
{
	weft__worker_live_lock(w);
	if (t->live_prev)
		t->live_prev->live_next = t->live_next;
	else
		w->live = t->live_next;
	if (t->live_next)
		t->live_next->live_prev = t->live_prev;
	weft__worker_live_unlock(w);
}

static void drain_remote_exits(struct worker *w)
{
	struct weft_task *t, *next;

	if (!atomic_load_explicit(&w->remote_exits, memory_order_relaxed))
		return;
	/* acquire: pairs with the release CAS in exit_finish. */
	t = atomic_exchange_explicit(&w->remote_exits, NULL,
				     memory_order_acquire);
	for (; t; t = next) {
		next = t->next;
		live_unlink(w, t);
		weft__task_unref(t);
	}
}

/* Shutdown: cancel every task that first ran here (each worker does its
 * own list, so the list needs no lock). */
static void cancel_live(struct worker *w, unsigned epoch)
{
	struct weft_task *t;

	w->epoch_seen = epoch;
	for (t = w->live; t; t = t->live_next)
		weft_cancel(t);
}

/* ---------------------------------------------------------------- running */

static void task_entry(void *arg);

/* A task has ended on w.  release: the ended count is read after every
 * ended task's last access (runtime.c: counting live tasks). */
static void count_exit(struct worker *w)
{
	atomic_store_explicit(&w->c.exited,
			      atomic_load_explicit(&w->c.exited,
						   memory_order_relaxed) + 1,
			      memory_order_release);
	weft__runtime_check_quiescent(w->rt);
}

/* A task that never ran finishes here, on the loop or a task's stack. */
static void finish_unstarted(struct worker *w, struct weft_task *t, int r)
{
	/* weft_run's main task got no stack: nothing else would ever start
	 * the shutdown (runtime.c). */
	if (unlikely(t == w->rt->main_task))
		weft__runtime_begin_shutdown(w->rt);
	weft__task_complete(t, r);
	weft__task_unref(t);
	count_exit(w);
}

/* Give t a stack and a first frame; false if it finished without running
 * (cancelled before it started, or no memory for a stack). */
static void poll_timers(struct worker *w);

static bool first_run(struct worker *w, struct weft_task *t)
{
	struct weft__stack *s;

	/* A first run costs microseconds (a stack, its first page faults),
	 * so a burst of them would delay due timers by WEFT__TIMER_INTERVAL of
	 * these ticks: look at the wheel each time (a clock read), when it
	 * holds anything.  timers p99: see docs/design.md. */
	if (weft__timer_any(&w->timers))
		poll_timers(w);

	/* Debug mode: the registry takes a reference (debug_report.c). */
	if (unlikely(w->dbg))
		weft__dbg_register(w->dbg, t);
	if (atomic_load_explicit(&w->rt->shutdown, memory_order_acquire))
		atomic_fetch_or_explicit(&t->state, T_CANCELLED,
					 memory_order_seq_cst);
	if (atomic_load_explicit(&t->state, memory_order_acquire) &
	    T_CANCELLED) {
		finish_unstarted(w, t, -ECANCELED);
		return false;
	}
	s = weft__stack_get(&w->rt->stacks, &w->stacks);
	if (!s) {
		finish_unstarted(w, t, -ENOMEM);
		return false;
	}
	t->stack = s;
	t->canary = s->guarded ? NULL : (const uint64_t *)s->lo - 1;
	weft__san_stack_reset(s->lo, s->size);
	t->san.lo = s->lo;
	t->san.size = s->size;
	t->san.asan_fake = NULL;
	if (!s->tsan)
		s->tsan = weft__san_fiber_new();
	t->san.tsan = s->tsan;
	weft__ctx_make(&t->ctx, s->lo, s->size, task_entry, t);
	return true;
}

static inline bool ready_to_run(struct worker *w, struct weft_task *t)
{
	return likely(t->stack != NULL) || first_run(w, t);
}

/* Fire the timers of our wheel that are due (waking their tasks into our
 * queues).  w->timer_next caches the next deadline so that most calls
 * cost a clock read and a compare. */
static void poll_timers(struct worker *w)
{
	uint64_t now;

	if (!weft__timer_any(&w->timers))
		return;
	now = weft__now();
	if (now >= w->timer_next || w->timer_next == WEFT__FOREVER)
		w->timer_next = weft__timer_poll(&w->timers, now);
}

/*
 * A busy worker's look at the other workers' wheels (every INJECT_INTERVAL
 * ticks): a worker the OS has descheduled, for a time slice of 4 ms on a
 * loaded machine, cannot fire its own timers, and idle workers (who poll
 * every wheel) may be none.  One atomic load per wheel when nothing is due;
 * what fires runs here.
 */
static void poll_other_timers(struct worker *w)
{
	struct weft_runtime *rt = w->rt;
	uint64_t now = 0;
	unsigned i;

	for (i = 0; i < rt->nworkers; i++) {
		struct weft__timer_wheel *wh = &rt->workers[i]->timers;

		if (rt->workers[i] == w || !weft__timer_any(wh))
			continue;
		if (!now)
			now = weft__now();
		if (now >= atomic_load_explicit(&wh->next_due,
						memory_order_relaxed))
			weft__timer_poll(wh, now);
	}
}

/*
 * The scheduler loop, before it looks for work: our timers, then those of
 * every other worker.  The wheels have locks, so an idle worker can fire
 * the timers of a busy one, whose own checks come only between its tasks.
 * Returns the earliest deadline left, for the park timeout.
 */
static uint64_t poll_all_timers(struct worker *w)
{
	struct weft_runtime *rt = w->rt;
	uint64_t now = weft__now(), next = WEFT__FOREVER, d;
	unsigned i;

	for (i = 0; i < rt->nworkers; i++) {
		struct weft__timer_wheel *wh = &rt->workers[i]->timers;

		if (!weft__timer_any(wh))
			continue;
		d = weft__timer_poll(wh, now);
		if (rt->workers[i] == w)
			w->timer_next = d;
		if (d < next)
			next = d;
	}
	return next;
}

static struct weft_task *next_local(struct worker *w)
{
	unsigned epoch;
	struct weft_task *t;

	epoch = atomic_load_explicit(&w->rt->cancel_epoch,
				     memory_order_acquire);
	if (unlikely(epoch != w->epoch_seen))
		cancel_live(w, epoch);
	if (unlikely(++w->tick % WEFT__TIMER_INTERVAL == 0))
		poll_timers(w);
	if (unlikely(w->tick % INJECT_INTERVAL == 0)) {
		poll_other_timers(w);
		drain_remote_exits(w);
		/* Submit what our tasks queued and reap completions even
		 * while there is always work: I/O must not starve. */
		if (weft__driver_busy(w))
			weft__driver_poll(w);
		t = pop_inject(w);
		if (t)
			return t;
	}
	t = w->lifo;
	if (t) {
		w->lifo = NULL;
		if (w->lifo_runs++ < LIFO_CAP && !weft__fuzz(w, 8))
			return t;
		push_tail(w, t);
	}
	w->lifo_runs = 0;
	/* Mostly newest first (depth first), but every HEAD_INTERVAL-th pick
	 * takes the oldest so yielded tasks are not starved by a stream of
	 * new ones. */
	if (unlikely(w->tick % HEAD_INTERVAL == 0) || weft__fuzz(w, 4)) {
		t = yq_pop(w);
		if (!t)
			t = weft__rq_pop_head(&w->rq);
	} else {
		t = weft__rq_pop_tail(&w->rq);
	}
	if (t)
		return t;
	t = pop_inject(w);
	if (t)
		return t;
	return yq_pop(w);
}

/* next_local, skipping tasks that finish without running. */
static struct weft_task *next_runnable(struct worker *w)
{
	struct weft_task *t;

	while ((t = next_local(w)) && !ready_to_run(w, t))
		;
	return t;
}

static void exit_finish(struct worker *w, struct weft_task *t)
{
	struct worker *home = t->home;

	weft__stack_put(&w->rt->stacks, &w->stacks, t->stack);
	if (!home) {
		weft__task_unref(t);	/* never waited: in no list */
	} else if (home == w) {
		live_unlink(w, t);
		weft__task_unref(t);
	} else {
		struct weft_task *head = atomic_load_explicit(
			&home->remote_exits, memory_order_relaxed);

		do {
			t->next = head;
		} while (!atomic_compare_exchange_weak_explicit(
			&home->remote_exits, &head, t, memory_order_release,
			memory_order_relaxed));
	}
	count_exit(w);
}

/* The arriving side of a switch: act for the task that just left. */
/*
 * A task joins a live list (the one shutdown cancels and weft_dump reads)
 * the first time it switches out, not when it first runs: most tasks end
 * without ever waiting (leaves of fork/join trees, spawn_many), and they
 * skip the list entirely.  One that switches out after shutdown began has
 * missed its worker's cancel pass: cancel it here (the shutdown store is
 * ordered before the epoch bump this worker has seen).
 */
static void adopt(struct worker *w, struct weft_task *t)
{
	live_link(w, t);
	if (atomic_load_explicit(&w->rt->shutdown, memory_order_acquire))
		weft_cancel(t);
}

static void after_switch(struct worker *w)
{
	struct weft_task *t = w->pend_task;

	if (!t)
		return;
	w->pend_task = NULL;
	if (w->pend_action != SW_EXIT && unlikely(!t->home))
		adopt(w, t);
	switch (w->pend_action) {
	case SW_YIELD:
		yield_put(w, t);
		break;
	case SW_MIGRATE:
		weft__inject_push(&w->rt->inject, t);
		notify(w->rt);
		break;
	case SW_PARK:
		weft__park_switched_out(t);
		break;
	case SW_EXIT:
		exit_finish(w, t);
		break;
	case SW_NONE:
		break;
	}
}

static __attribute__((noreturn, cold)) void overflowed(struct weft_task *t)
{
	weft__panic("task %llu '%s' overflowed its %zu-byte stack (no guard "
		    "page: vm.max_map_count exhausted); raise "
		    "weft_config.stack_size or vm.max_map_count",
		    (unsigned long long)t->id, t->name, t->stack->size);
}

void weft__switch_away(enum switch_action action)
{
	struct worker *w = weft__tls_worker;
	struct weft_task *t = w->current, *n;
	struct weft__ctx *save = action == SW_EXIT ? &w->dead_ctx : &t->ctx;

	if (unlikely(t->canary && *t->canary != WEFT__STACK_CANARY))
		overflowed(t);
	n = next_runnable(w);
	if (!n && action == SW_YIELD) {
		w->budget = WEFT__BUDGET;
		/* Debug mode: t passed a suspension point (watchdog.h). */
		if (unlikely(w->dbg))
			weft__dbg_switch(w->dbg, t);
		return;
	}
	w->pend_task = t;
	w->pend_action = action;
	/* Debug mode: publish what runs next, n or the loop (watchdog.h). */
	if (unlikely(w->dbg))
		weft__dbg_switch(w->dbg, n);
	if (n) {
		w->current = n;
		w->budget = WEFT__BUDGET;
		count(&w->c.polls);
		weft__san_start(&t->san, &n->san, action == SW_EXIT);
		weft__ctx_switch(save, &n->ctx);
	} else {
		w->current = NULL;
		weft__san_start(&t->san, &w->sched_san, action == SW_EXIT);
		weft__ctx_switch(save, &w->sched_ctx);
	}
	/* Resumed, maybe on another worker. */
	w = weft__worker_self();
	weft__san_finish(&t->san);
	after_switch(w);
}

/* Did a look at our wheel fire anything?  (Count went down: a disarm by
 * another thread meanwhile only makes the caller yield for nothing.) */
static bool timers_fired(struct worker *w)
{
	uint64_t before = __atomic_load_n(&w->timers.count, __ATOMIC_RELAXED);

	poll_timers(w);
	return __atomic_load_n(&w->timers.count, __ATOMIC_RELAXED) < before;
}

void weft__coop_tick_slow(struct worker *w)
{
	/* Fuzzing: now and then a suspension point yields when it need
	 * not, as a preemption would. */
	if (w->budget <= 0 || weft__fuzz(w, 16)) {
		weft__switch_away(SW_YIELD);
		return;
	}
	/* A task making weft calls that never suspend (a spawn loop) would
	 * hold due timers back for its whole budget, 100 us and more: every
	 * WEFT__TIMER_INTERVAL calls, with timers pending, look at the wheel,
	 * and yield to what fired (timers p99, docs/design.md). */
	if ((w->budget & (WEFT__TIMER_INTERVAL - 1)) == 0 &&
	    weft__timer_any(&w->timers) && timers_fired(w))
		weft__switch_away(SW_YIELD);
}

#define CONTENTION_HIT 16u
#define CONTENTION_MOVE 1024u

void weft__coop_tick_contended_slow(struct worker *w, bool contended)
{
	/* Fuzzing: now and then move anyway, so the seeded test runs take
	 * this path without needing two cores to collide. */
	if (unlikely(contended) || weft__fuzz(w, 64)) {
		w->contention += CONTENTION_HIT;
		if (w->contention >= CONTENTION_MOVE || w->fuzz) {
			w->contention = 0;
			w->budget = WEFT__BUDGET;
			weft__switch_away(SW_MIGRATE);
			return;
		}
	} else if (w->contention) {
		w->contention--;
	}
	weft__coop_tick(w);
}

static void task_entry(void *arg)
{
	struct weft_task *t = arg;
	int r;

	weft__san_finish(&t->san);
	after_switch(weft__worker_self());
	r = t->fn(t->arg);
	weft__task_complete(t, r);
	weft__switch_away(SW_EXIT);
	__builtin_unreachable();
}

/* ------------------------------------------------------------------ loop */

/*
 * A victim with only a few tasks queued is usually about to run them:
 * tasks that wake each other through a channel or a mutex keep a busy
 * worker's queue short but never empty, and a thief that takes them
 * splits the group over two cores, where every hand-off bounces the lock's
 * cache line (channel_mpmc ran at 55-60 ns per message split, 16-17 ns
 * together).  So a queue of SHORT_QUEUE tasks or fewer is stolen from only
 * once it has not moved (no push, pop or steal: its state word is the
 * same) for SHORT_PATIENCE_NS, as Go leaves a P's runnext alone for a few
 * microseconds.  50 us, not 5: a group split once at start-up (the first
 * runs, with their stack faults, stall a queue for microseconds) gathers
 * again through its wakes unless further steals keep splitting it; with
 * 5 us one channel_mpmc run in 6-10 stayed split (40-90 ns per message),
 * with 50 us none in 40.  A task that runs long without suspending still
 * loses the queue behind it within that time (test task/tasks_queued_behind_
 * a_task_that_never_suspends_run_elsewhere), and longer queues are stolen
 * from at once.
 */
/*
 * 32, not 8: a steal takes 16 tasks or more, so a thief that drains a busy
 * owner's queue meets the owner's push CAS on the queue word less often.
 * Interleaved medians, 8 -> 32: yield_many 12.4 -> 9.6 ns, mutex 15.2 ->
 * 14.1, ping_pong 54.6 -> 51.7, channel_mpmc 16.7 -> 16.0, skynet 65.3 ->
 * 63.2, fib 59.8 -> 63.2 (noise range).  spawn_many's slow mode (nearly
 * every task stolen) comes from a CPU shared with other load, not from
 * this bound: docs/design.md.
 * (Half the queue in the small_queues test build, so steals still run.)
 */
#define SHORT_QUEUE (WEFT__RQ_CAP < 64 ? WEFT__RQ_CAP / 2 : 32)
#define SHORT_PATIENCE_NS 50000

static bool worth_stealing(struct worker *w, struct worker *v)
{
	uint64_t st = weft__rq_state(&v->rq), now;
	uint32_t len = weft__rq_state_len(st);

	if (len == 0)
		return false;
	if (len > SHORT_QUEUE)
		return true;
	now = weft__now();
	if (w->short_victim == v && w->short_state == st)
		return now - w->short_since >= SHORT_PATIENCE_NS;
	w->short_victim = v;
	w->short_state = st;
	w->short_since = now;
	return false;
}

static struct weft_task *steal(struct worker *w)
{
	struct weft_runtime *rt = w->rt;
	unsigned i, n = rt->nworkers, start;
	struct weft_task *t;
	unsigned got;

	start = (unsigned)(weft__worker_rand(w) % n);
	for (i = 0; i < n; i++) {
		struct worker *v = rt->workers[(start + i) % n];

		if (v == w)
			continue;
		if (!worth_stealing(w, v))
			continue;
		t = weft__rq_steal_into(&v->rq, &w->rq, &got);
		if (t) {
			atomic_store_explicit(
				&w->c.steals,
				atomic_load_explicit(&w->c.steals,
						     memory_order_relaxed) + got,
				memory_order_relaxed);
			return t;
		}
	}
	return NULL;
}

static void end_search(struct worker *w)
{
	if (!w->searching)
		return;
	w->searching = false;
	/* The last searcher found work: hand the search on, as there may
	 * be more. */
	if (weft__idle_from_searching(&w->rt->idle))
		notify(w->rt);
}

/*
 * Courtesy yield.  A worker whose I/O keeps completing never parks, so the
 * kernel takes its CPU back only at a scheduler tick after its slice (4 ms
 * at HZ=250), and a thread that shares the CPU (a client on loopback,
 * another service) waits whole ticks for it: tcp_echo's p99 sat at 8.0 ms,
 * two ticks, with p999 at 8.1.  So a worker that has run COURTESY_NS
 * without parking, and has waited on sockets meanwhile (data that another
 * thread or process must produce), offers its CPU before it polls its I/O
 * again: sched_yield returns at once when nothing else wants the CPU, and
 * under EEVDF moves only our deadline, not our share.  tcp_echo (2 workers
 * and 2 client threads on 2 CPUs), p99: 8.0 ms without, 2.8-4.5 with 1 ms,
 * 0.67-0.96 ms with 100 us in most runs (4.3, one tick, in the rest);
 * throughput unchanged.
 *
 * Not for file reads: they complete without anyone else's help, and when
 * both workers shared one CPU (the other busy elsewhere) the yields only
 * passed it between them: file_read medians 20.5 against 22.6 GB/s.
 */
#define COURTESY_NS 100000u

static void courtesy_yield(struct worker *w)
{
	uint64_t now;

	if (w->net_waits == w->net_waits_seen)
		return;
	now = weft__now();
	if (now - w->awake_since < COURTESY_NS)
		return;
	w->net_waits_seen = w->net_waits;
	w->awake_since = now;
	sched_yield();
}

static struct weft_task *find_work(struct worker *w)
{
	struct weft_task *t;

	poll_all_timers(w);
	t = next_local(w);
	/* Out of local work: what has our I/O completed? */
	if (!t && weft__driver_busy(w)) {
		courtesy_yield(w);
		if (weft__driver_poll(w))
			t = next_local(w);
	}

	if (!t) {
		if (!w->searching)
			w->searching = weft__idle_to_searching(&w->rt->idle);
		if (w->searching)
			t = steal(w);
		if (!t)
			t = pop_inject(w);
	}
	if (t)
		end_search(w);
	return t;
}

static bool work_anywhere(struct weft_runtime *rt)
{
	unsigned i;

	if (!weft__inject_empty(&rt->inject))
		return true;
	for (i = 0; i < rt->nworkers; i++)
		if (weft__rq_len(&rt->workers[i]->rq) > 0)
			return true;
	return false;
}

void weft__worker_unpark(struct worker *w)
{
	/* seq_cst: the Dekker pair with the driver's parked flag (the
	 * driver sends a wake-up only to a worker blocked in it). */
	atomic_store_explicit(&w->unpark, 1, memory_order_seq_cst);
	weft__driver_unpark(w);
}

/*
 * Sleep in the I/O driver until unparked, until the next timer is due, or
 * until the driver's completions woke tasks here.  Returns whether we are
 * counted as searching: a notifier that unparks us counts us so; when our
 * own timer or I/O wakes us we take ourselves off the sleepers (unless a
 * notifier popped us at that moment: then its token is on its way).
 */
static bool sleep_until(struct worker *w, uint64_t until)
{
	bool own_work;

	for (;;) {
		/* acquire: pairs with the store in weft__worker_unpark. */
		if (atomic_exchange_explicit(&w->unpark, 0,
					     memory_order_acquire))
			return true;
		/* A task in our LIFO slot is ours alone: never sleep on it
		 * (belt and braces: wakes made while we park go to the
		 * queue, see io_reaping). */
		own_work = weft__driver_park(w, until) || w->lifo;
		count(&w->c.wakeups);
		if (own_work ||
		    (until != WEFT__FOREVER && weft__now() >= until)) {
			if (weft__idle_unpark_self(&w->rt->idle, w))
				return false;
			until = WEFT__FOREVER;
		}
	}
}

/*
 * Idle: return a burst's stacks to the kernel, a small slice at a time and
 * only when no timer is due soon.  Each madvise can cost a TLB shoot-down
 * IPI to every other CPU (5-10 us in a VM): trimming 64 at every park made
 * timer wake-ups ~100 us late.
 */
static void trim_when_idle(struct worker *w, uint64_t next_timer)
{
	/* 2 ms: far above the cost of the slice below. */
	if (next_timer != WEFT__FOREVER && next_timer - weft__now() < 2000000)
		return;
	weft__stack_pool_trim(&w->rt->stacks, 8);
}

/* Leave the loop: the runtime stops, or (weft_run's thread) no task is
 * left and the caller goes on with the shutdown. */
static bool loop_done(struct worker *w)
{
	struct weft_runtime *rt = w->rt;

	return atomic_load_explicit(&rt->stopping, memory_order_acquire) ||
	       (w->caller &&
		atomic_load_explicit(&rt->quiescent, memory_order_acquire));
}

static void park(struct worker *w)
{
	struct weft_runtime *rt = w->rt;
	uint64_t next;
	bool last;

	drain_remote_exits(w);
	if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
		weft__runtime_check_quiescent(rt);
	if (loop_done(w))
		return;
	/* Timers last: what they wake lands in our own queues (our LIFO slot
	 * is seen by nobody else), so look again instead of sleeping on it. */
	next = poll_all_timers(w);
	if (w->lifo || weft__rq_len(&w->rq))
		return;
	trim_when_idle(w, next);
	last = weft__idle_to_parked(&rt->idle, w, w->searching);
	w->searching = false;
	if (last && work_anywhere(rt))
		weft__idle_notify(&rt->idle);
	/* Shutdown wakes every parked worker once; one that registered just
	 * after that (the idle lock orders the two) wakes everyone itself,
	 * itself included, instead of sleeping through it. */
	if (loop_done(w) ||
	    atomic_load_explicit(&rt->cancel_epoch, memory_order_acquire) !=
		    w->epoch_seen)
		weft__idle_unpark_all(&rt->idle);
	count(&w->c.parks);
	w->searching = sleep_until(w, next);
	w->awake_since = weft__now();
}

static void run(struct worker *w, struct weft_task *t)
{
	w->current = t;
	/* Debug mode: publish it for the watchdog (watchdog.h). */
	if (unlikely(w->dbg))
		weft__dbg_switch(w->dbg, t);
	w->budget = WEFT__BUDGET;
	count(&w->c.polls);
	weft__san_start(&w->sched_san, &t->san, 0);
	weft__ctx_switch(&w->sched_ctx, &t->ctx);
	weft__san_finish(&w->sched_san);
	after_switch(w);
}

static void sched_san_init(struct worker *w)
{
	void *lo = NULL;
	size_t size = 0;

#ifdef WEFT_ASAN
	/* ASan alone needs the bounds of the stack we switch back to; the
	 * call reads /proc/self/maps on the main thread (weft_run's worker
	 * 0), ~20 us, so other builds skip it. */
	pthread_attr_t a;

	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &lo, &size);
		pthread_attr_destroy(&a);
	}
#endif
	w->sched_san.lo = lo;
	w->sched_san.size = size;
	w->sched_san.asan_fake = NULL;
	w->sched_san.tsan = weft__san_fiber_current();
}

/*
 * A searching worker spins a little before it parks: new work often shows
 * up within microseconds (a task woken by another worker), while a futex
 * sleep and wake cost several microseconds on each side and showed as 30%
 * of the mutex workload.  Only when every worker has a CPU of its own: an
 * oversubscribed spinner takes the CPU from the worker it waits for.
 */
static struct weft_task *spin_for_work(struct worker *w)
{
	uint64_t until;
	struct weft_task *t;
	unsigned i;

	if (!w->searching || w->rt->nworkers > (unsigned)weft__cpu_count())
		return NULL;
	until = weft__now() + SPIN_NS;
	do {
		for (i = 0; i < 64; i++)
			weft__cpu_relax();
		/* Let a runnable thread that shares our CPU have it: the
		 * work we wait for often comes from a blocking-pool thread,
		 * which our spinning would otherwise hold off the CPU until
		 * we park (the blocking workload, on 2 cores). */
		sched_yield();
		if (work_anywhere(w->rt) || weft__timer_any(&w->timers) ||
		    weft__driver_busy(w)) {
			t = find_work(w);
			if (t)
				return t;
		}
	} while (weft__now() < until);
	return NULL;
}

static void worker_loop(struct worker *w)
{
	struct weft_runtime *rt = w->rt;
	struct weft_task *t;

	weft__tls_worker = w;
	sched_san_init(w);
	/* Stack-overflow reports (once per process, then per thread); if
	 * the signal stack cannot be had, an overflow is a plain SIGSEGV. */
	weft__overflow_install();
	weft__overflow_thread_init(w);
	weft__driver_start(w);
	for (;;) {
		t = find_work(w);
		if (!t)
			t = spin_for_work(w);
		if (t) {
			if (ready_to_run(w, t))
				run(w, t);
			continue;
		}
		if (loop_done(w))
			break;
		park(w);
	}
	drain_remote_exits(w);
	weft__stack_cache_flush(&rt->stacks, &w->stacks);
	weft__overflow_thread_fini(w);
	weft__tls_worker = NULL;
}

void *weft__worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	/* Named by itself: naming another thread writes /proc/.../comm, a
	 * file open and write in the starting thread's path (startup). */
	snprintf(name, sizeof(name), "weft-worker-%u", w->index % 1000);
	pthread_setname_np(pthread_self(), name);
	/* Timer wake-ups to the microsecond, not the default 50 us slack. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	worker_loop(w);
	return NULL;
}

/* The caller's thread keeps its name; its timer slack and signal mask
 * (weft_signal_wait blocks signals on the worker it runs on) are put
 * back.  Its signal stack is saved and restored by overflow.c. */
void weft__worker_run_on_caller(struct worker *w)
{
	int slack = prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
	sigset_t mask;

	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	worker_loop(w);
	if (slack > 0)
		prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0UL, 0UL, 0UL);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
}
