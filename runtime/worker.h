/*
 * A worker: one OS thread running tasks from its queues.  Fields marked
 * "owner" are touched only by the worker's own thread (whichever task it is
 * running, or its scheduler loop).
 */
#ifndef WEFT_RUNTIME_WORKER_H
#define WEFT_RUNTIME_WORKER_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/compiler.h"
#include "runtime/ctx.h"
#include "runtime/queue.h"
#include "runtime/sanitizer.h"
#include "runtime/stack.h"
#include "runtime/task_cache.h"
#include "runtime/timer.h"

struct weft_task;
struct weft__io;
struct weft__dbg_worker;

/* What the task that just switched out wants done, once it is off its
 * stack (see worker.c: the arrival side). */
enum switch_action {
	SW_NONE,
	SW_YIELD,	/* requeue at the back */
	SW_PARK,	/* mark off-CPU; requeue if a wake came meanwhile */
	SW_EXIT,	/* release its stack and the scheduler's reference */
	SW_MIGRATE,	/* requeue on the inject queue: any worker may take it */
};

/* Per-worker counters: owner writes (relaxed store), anyone reads. */
struct worker_counters {
	_Atomic uint64_t spawned;
	_Atomic uint64_t exited;
	_Atomic uint64_t polls;
	_Atomic uint64_t steals;
	_Atomic uint64_t parks;
	_Atomic uint64_t wakeups;
	_Atomic uint64_t inject_pops;
	_Atomic uint64_t io_ops;
};

struct worker {
	/* Owner. */
	struct weft_runtime *rt;
	unsigned index;
	struct weft_task *current;	/* task running now, NULL in the loop */
	struct weft_task *lifo;		/* runs next: the task just woken */
	unsigned lifo_runs;		/* consecutive LIFO runs */
	/* Contention score of the sync/ locks our tasks took (worker.c,
	 * weft__coop_tick_contended). */
	unsigned contention;
	/* Yielded tasks while every worker is busy: a FIFO through ->next,
	 * owner only (worker.c, "Yields"). */
	struct weft_task *yq_head, *yq_tail;
	unsigned tick;
	uint64_t awake_since;		/* last park or courtesy yield (ns) */
	/* Socket operations this worker put in its driver, and the count at
	 * the last courtesy yield (worker.c). */
	unsigned net_waits, net_waits_seen;
	int budget;			/* coop budget of the current task */
	bool searching;
	/* A victim's short queue we left alone (worker.c: worth_stealing). */
	struct worker *short_victim;
	uint64_t short_state;
	uint64_t short_since;
	struct weft_task *pend_task;	/* arrival-side action pending */
	enum switch_action pend_action;
	struct weft__ctx sched_ctx;	/* the loop's own context */
	struct weft__san sched_san;
	struct weft__ctx dead_ctx;	/* where an exiting task saves nothing */
	struct weft__stack_cache stacks;
	uint64_t rng;
	bool fuzz;			/* WEFT_SCHED_SEED set: see fuzz() */
	/* Worker 0 of weft_run, run by weft_run's own thread (no thread of
	 * its own): it leaves its loop once the runtime is quiescent. */
	bool caller;
	/* Debug mode (watchdog.h), else NULL: set before the thread starts,
	 * cleared after it is joined. */
	struct weft__dbg_worker *dbg;
	void *altstack;			/* signal stack (overflow.c) */
	stack_t old_altstack;		/* the thread's, put back after */
	uint64_t next_id;
	struct weft_task *live;		/* tasks that first ran here */
	struct weft__tcb_cache tcb;	/* free task blocks (task_cache.h) */
	unsigned epoch_seen;		/* last cancel epoch acted on */
	struct worker_counters c;
	/* Timers of the tasks that parked here (its own lock: a task
	 * resumed elsewhere disarms its entry at once). */
	struct weft__timer_wheel timers;
	uint64_t timer_next;		/* owner: cached next deadline */
	struct weft__io *io;		/* the I/O driver it parks in */
	/* Owner: set while the driver reaps completions, so the tasks they
	 * wake queue up in completion order behind the work already queued
	 * (not in the LIFO slot, newest first: that starved the connections
	 * completed first, p99 8 ms in tcp_echo). */
	bool io_reaping;

	/* Shared. */
	struct weft__rq rq;
	/* Tasks of our live list that exited elsewhere: a Treiber stack
	 * pushed by any worker (release CAS), taken whole by the owner
	 * (acquire exchange), so no ABA. */
	_Atomic(struct weft_task *) remote_exits weft__cacheline_aligned;
	/* Guards `live` against weft_dump reading it from another thread
	 * (the owner alone changes the list). */
	_Atomic uint32_t live_lock;
	/* 1 = unpark token available. */
	_Atomic uint32_t unpark weft__cacheline_aligned;
	pthread_t thread;
};

/* The calling thread's worker, NULL elsewhere.  Read it again after any
 * switch: a task may resume on another thread.  initial-exec: one %fs load,
 * no __tls_get_addr, as the library is never dlopen'ed mid-run by design. */
extern _Thread_local struct worker *weft__tls_worker
	__attribute__((tls_model("initial-exec")));

/* Run worker w's loop on the calling thread until the runtime is
 * quiescent (w->caller), restoring what the loop changes in the thread. */
void weft__worker_run_on_caller(struct worker *w);

/* Re-read the worker after a switch; noinline so the compiler cannot reuse
 * the thread pointer it loaded before the switch. */
struct worker *weft__worker_self(void);

/* Coop budget: 128 weft calls without suspending, as Tokio ("picked mostly
 * because it felt good"; tail latency cut ~3x in their measurements). */
#define WEFT__BUDGET 128


/* Owner: the worker's xorshift generator. */
static inline uint64_t weft__worker_rand(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/*
 * Schedule fuzzing (WEFT_SCHED_SEED): true once in `one_in` calls, drawn
 * from the worker's seeded generator, so runs differ from the default
 * schedule in ways a seed replays (as far as thread timing allows).  Never
 * true without a seed: one predictable branch on the hot paths.
 */
static inline bool weft__fuzz(struct worker *w, unsigned one_in)
{
	return unlikely(w->fuzz) && weft__worker_rand(w) % one_in == 0;
}

/* A short lock: test-and-test-and-set, yielding after a while. */
static inline void weft__worker_live_lock(struct worker *w)
{
	unsigned n = 0;

	while (atomic_exchange_explicit(&w->live_lock, 1,
					memory_order_acquire))
		while (atomic_load_explicit(&w->live_lock,
					    memory_order_relaxed))
			if (++n % 128 == 0)
				sched_yield();
			else
				weft__cpu_relax();
}

static inline void weft__worker_live_unlock(struct worker *w)
{
	atomic_store_explicit(&w->live_lock, 0, memory_order_release);
}

/* Owner: one more I/O operation issued (weft_stats). */
static inline void weft__worker_count_io(struct worker *w)
{
	atomic_store_explicit(&w->c.io_ops,
			      atomic_load_explicit(&w->c.io_ops,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

void *weft__worker_main(void *arg);
void weft__worker_unpark(struct worker *w);

/* Make t runnable: the current worker's LIFO slot when called on a worker
 * of t's runtime, else the inject queue (and wake a worker). */
void weft__schedule(struct weft_task *t);

/* Queue t on w before w's loop first runs, from the thread that will run
 * it (weft_run's main task on worker 0, the caller's thread). */
void weft__worker_seed(struct worker *w, struct weft_task *t);

/* Queue a new task spawned by the current worker's task. */
void weft__worker_spawned(struct worker *w, struct weft_task *t);

/* From a task: switch to the next runnable task (or the loop) with the
 * given arrival-side action.  Returns when the task runs again (never for
 * SW_EXIT).  SW_YIELD with nothing else runnable returns at once. */
void weft__switch_away(enum switch_action action);

/* How often, in scheduler ticks and in coop ticks, a busy worker looks at
 * its timers: a clock read every 8 (~20 ns, so ~3 ns a switch while timers
 * are pending) keeps wake-ups within a few microseconds of their deadline. */
#define WEFT__TIMER_INTERVAL 8

void weft__coop_tick_slow(struct worker *w);

/* One coop tick of the current task: yields when its budget is spent.
 * Inline: it is on every channel operation, lock and direct I/O call, and
 * the common case is a decrement and a test. */
static inline void weft__coop_tick(struct worker *w)
{
	if (likely(--w->budget > 0 &&
		   (w->budget & (WEFT__TIMER_INTERVAL - 1)) != 0 && !w->fuzz))
		return;
	weft__coop_tick_slow(w);
}

void weft__coop_tick_contended_slow(struct worker *w, bool contended);

/* weft__coop_tick after an operation on a shared structure whose lock
 * was, or was not, held by another worker at the first try: a task that
 * keeps meeting another worker there moves (worker.c, "Contention").
 * Inline: the common case is no contention, then a plain tick. */
static inline void weft__coop_tick_contended(struct worker *w, bool contended)
{
	if (likely(!contended && !w->contention && !w->fuzz)) {
		weft__coop_tick(w);
		return;
	}
	weft__coop_tick_contended_slow(w, contended);
}

#endif /* WEFT_RUNTIME_WORKER_H */
