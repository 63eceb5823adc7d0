/*
 * Runtime life cycle: start-up, block_on, and ordered shutdown.
 *
 * Shutdown (weft_runtime_free, and weft_run once main returns):
 *  1. shutdown = 1: new external spawns fail; a task that has not started
 *     yet finishes with -ECANCELED instead of running.
 *  2. cancel_epoch++ and every worker is woken: each cancels the tasks of
 *     its live list (tasks that first ran there), so parked tasks wake with
 *     -ECANCELED and unwind.
 *  3. Workers keep running until no task is left (weft__runtime_live == 0):
 *     the worker that sees it sets quiescent and wakes the freeing thread.
 *  4. stopping = 1, workers leave their loops and are joined; then every
 *     queue, stack region and worker is freed.
 *
 * Counting live tasks without a shared counter on the spawn path: each
 * worker counts the tasks it spawned and the tasks that ended on it, both
 * monotonic.  Reading every "ended" first and every "spawned" after, equal
 * sums mean that when the last "ended" was read no task was alive (each
 * ended count read is <= the true count at that instant, which is <= the
 * spawned count then, which is <= the spawned sum read later).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/blocking.h"
#include "runtime/driver.h"
#include "runtime/fault.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/watchdog.h"
#include "runtime/worker.h"

static struct worker *worker_new(struct weft_runtime *rt, unsigned index)
{
	struct worker *w = weft__aligned_alloc(WEFT__CACHELINE, sizeof(*w));

	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->rt = rt;
	w->index = index;
	w->rng = 0x9e3779b97f4a7c15ull * (index + 1) ^ rt->cfg.sched_seed;
	if (!w->rng)
		w->rng = 1;
	w->fuzz = rt->cfg.sched_seed != 0;
	weft__rq_init(&w->rq);
	weft__timer_wheel_init(&w->timers, weft__now());
	w->timer_next = WEFT__FOREVER;
	return w;
}

static void pin(pthread_t th, unsigned index)
{
	long ncpu = weft__cpu_count();
	cpu_set_t set;

	if (ncpu <= 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(index % (unsigned)ncpu, &set);
	pthread_setaffinity_np(th, sizeof(set), &set);
}

/* On failure the workers that did start are left running (weft_runtime_free
 * stops them); a worker whose thread failed has thread 0 and is not joined,
 * nor is worker 0 of weft_run (w->caller), which has no thread of its own. */
static int start_workers(struct weft_runtime *rt)
{
	unsigned i;

	for (i = 0; i < rt->nworkers; i++) {
		struct worker *w = rt->workers[i];

		if (w->caller)
			continue;
		if (weft__fault_hit(WEFT__FAULT_THREAD) ||
		    pthread_create(&w->thread, NULL, weft__worker_main, w)) {
			w->thread = 0;
			return -EAGAIN;
		}
		if (rt->cfg.pin_workers)
			pin(w->thread, i);
	}
	return 0;
}

static void runtime_destroy(struct weft_runtime *rt)
{
	unsigned i;

	/* Before anything is freed: unlist rt, so no SIGQUIT dump reads it
	 * any more, and in debug mode stop the watchdog and report leaked
	 * handles (the workers are joined by now: watchdog.h). */
	weft__debug_fini(rt);
	/* Blocking pool first: its threads wake tasks through the queues
	 * freed below (a no-op when weft_runtime_free drained it). */
	weft__blocking_free(rt->blocking);
	if (rt->workers) {
		for (i = 0; i < rt->nworkers; i++) {
			if (!rt->workers[i])
				continue;
			weft__driver_fini(rt->workers[i]);
			weft__free(rt->workers[i]);
		}
		weft__free(rt->workers);
	}
	weft__idle_destroy(&rt->idle);
	weft__inject_destroy(&rt->inject);
	weft__stack_pool_destroy(&rt->stacks);
	weft__tcb_depot_destroy(&rt->tcb_depot);
	weft__free(rt);
}

/* caller: weft_run's thread will run worker 0 itself.  Not in debug mode,
 * whose slow-shutdown report runs on the freeing thread while the workers
 * finish; nor under ASan, whose fake stacks (use-after-return detection)
 * mixed up the frames of tasks run on the main thread (a local read back
 * another frame's value, then ASan's own CHECK failed); nor under Valgrind,
 * which turned a stack-overflow abort on the main thread's signal stack
 * into a SIGSEGV of its own.  The other builds run tasks there clean, and
 * the tools still cover the rest. */
static weft_runtime *runtime_new(const weft_config *cfg, bool caller)
{
	struct weft_runtime *rt;
	unsigned i;
	int r;

	/* Test builds: WEFT_FAULT arms injected failures (fault.h). */
	r = weft__fault_env();
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	rt = weft__calloc(1, sizeof(*rt));
	if (!rt) {
		errno = ENOMEM;
		return NULL;
	}
	r = weft__config_resolve(cfg, &rt->cfg);
	if (r < 0) {
		weft__free(rt);
		errno = -r;
		return NULL;
	}
	rt->nworkers = rt->cfg.workers;
	weft__inject_init(&rt->inject);
	weft__stack_pool_init(&rt->stacks, rt->cfg.stack_size);
	r = weft__idle_init(&rt->idle, rt->nworkers);
	rt->workers = weft__calloc(rt->nworkers, sizeof(*rt->workers));
	if (r < 0 || !rt->workers)
		goto out_free;
	for (i = 0; i < rt->nworkers; i++)
		if (!(rt->workers[i] = worker_new(rt, i)))
			goto out_free;
#ifdef WEFT_ASAN
	caller = false;
#endif
	if (weft__under_valgrind())
		caller = false;
	rt->workers[0]->caller = caller && !rt->cfg.debug;
	/* The I/O backend, then each worker's ring or epoll set: made here
	 * so that a failure is this call's error, not a worker's crash. */
	r = weft__driver_choose(rt);
	if (r == 0)
		r = weft__driver_init(rt);
	if (r < 0) {
		runtime_destroy(rt);
		errno = -r;
		return NULL;
	}
	/* No threads yet: they start with the first weft_blocking. */
	rt->blocking = weft__blocking_new(&rt->cfg);
	if (!rt->blocking)
		goto out_free;
	/* Listed for SIGQUIT dumps and tools/weft-gdb.py; in debug mode,
	 * the watchdog starts (watchdog.h). */
	r = weft__debug_init(rt);
	if (r < 0) {
		runtime_destroy(rt);
		errno = -r;
		return NULL;
	}
	if (start_workers(rt) < 0) {
		/* Threads that did start stop at once: nothing is queued. */
		weft_runtime_free(rt);
		errno = EAGAIN;
		return NULL;
	}
	return rt;
out_free:
	runtime_destroy(rt);
	errno = ENOMEM;
	return NULL;
}

weft_runtime *weft_runtime_new(const weft_config *cfg)
{
	return runtime_new(cfg, false);
}

uint64_t weft__runtime_live(struct weft_runtime *rt)
{
	uint64_t ended = 0, spawned;
	unsigned i;

	for (i = 0; i < rt->nworkers; i++)
		ended += atomic_load_explicit(&rt->workers[i]->c.exited,
					      memory_order_seq_cst);
	spawned = atomic_load_explicit(&rt->ext_spawned, memory_order_seq_cst);
	for (i = 0; i < rt->nworkers; i++)
		spawned += atomic_load_explicit(&rt->workers[i]->c.spawned,
						memory_order_seq_cst);
	return spawned - ended;
}

void weft__runtime_check_quiescent(struct weft_runtime *rt)
{
	uint32_t zero = 0;

	if (!atomic_load_explicit(&rt->shutdown, memory_order_acquire))
		return;
	if (atomic_load_explicit(&rt->quiescent, memory_order_acquire))
		return;
	if (weft__runtime_live(rt) != 0)
		return;
	if (!atomic_compare_exchange_strong_explicit(
		    &rt->quiescent, &zero, 1, memory_order_acq_rel,
		    memory_order_relaxed))
		return;
	weft__futex_wake(&rt->quiescent);
	/* weft_run's thread, if parked as worker 0, goes on with the
	 * shutdown (the idle lock orders this with its park: worker.c). */
	if (rt->workers[0]->caller)
		weft__idle_unpark_all(&rt->idle);
}

void weft_runtime_free(weft_runtime *rt)
{
	unsigned i;

	if (!rt)
		return;
	if (weft__tls_worker && weft__tls_worker->rt == rt)
		weft__panic("weft_runtime_free: called from a task or worker "
			    "of the runtime it frees");
	weft__runtime_begin_shutdown(rt);
	/* Debug mode: say which tasks hold shutdown up (watchdog.h). */
	if (rt->cfg.debug)
		weft__debug_slow_shutdown(rt);
	weft__futex_wait_set(&rt->quiescent);
	/* No task is left to await a job: cancel the queued ones, wait for
	 * the running ones, join the pool's threads. */
	weft__blocking_drain(rt->blocking);
	atomic_store_explicit(&rt->stopping, 1, memory_order_release);
	weft__idle_unpark_all(&rt->idle);
	for (i = 0; i < rt->nworkers; i++)
		if (rt->workers[i]->thread)
			pthread_join(rt->workers[i]->thread, NULL);
	runtime_destroy(rt);
}

weft_runtime *weft_runtime_current(void)
{
	struct worker *w = weft__tls_worker;

	return w ? w->rt : NULL;
}

int weft_runtime_block_on(weft_runtime *rt, int (*fn)(void *), void *arg)
{
	struct worker *w = weft__tls_worker;
	weft_task *t;

	WEFT__CHECK(rt && fn, -EINVAL);
	if (w && w->rt == rt)
		return -EPERM;
	if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
		return -ECANCELED;
	t = weft_spawn_on(rt, fn, arg);
	if (!t)
		return -errno;
	return weft_join(t);
}

void weft__runtime_begin_shutdown(struct weft_runtime *rt)
{
	atomic_store_explicit(&rt->shutdown, 1, memory_order_seq_cst);
	atomic_fetch_add_explicit(&rt->cancel_epoch, 1, memory_order_release);
	weft__idle_unpark_all(&rt->idle);
	weft__runtime_check_quiescent(rt);
}

struct run_main {
	int (*fn)(void *);
	void *arg;
};

/* weft_run's main task: once main returns, the shutdown starts from
 * inside (a main task that never ran starts it in worker.c). */
static int run_main(void *arg)
{
	struct run_main *m = arg;
	int r = m->fn(m->arg);

	weft__runtime_begin_shutdown(weft_runtime_current());
	return r;
}

/*
 * The calling thread is worker 0 (as Go's first M and Tokio's block_on
 * thread): one thread fewer to start and join, and the main task starts
 * without a cross-thread wake (startup).  The manual API cannot do this:
 * block_on may be called again, and the runtime outlives each call.
 */
int weft_run(int (*main_fn)(void *), void *arg, const weft_config *cfg)
{
	struct run_main m = { .fn = main_fn, .arg = arg };
	weft_runtime *rt;
	weft_task *t;
	int r;

	WEFT__CHECK(main_fn, -EINVAL);
	if (weft__tls_worker)
		return -EPERM;
	rt = runtime_new(cfg, true);
	if (!rt)
		return -errno;
	if (!rt->workers[0]->caller) {
		r = weft_runtime_block_on(rt, main_fn, arg);
		weft_runtime_free(rt);
		return r;
	}
	t = weft__spawn_main(rt, run_main, &m);
	if (!t) {
		r = -errno;
		weft_runtime_free(rt);
		return r;
	}
	weft__worker_run_on_caller(rt->workers[0]);
	/* Quiescent: t has ended, and the rest of the shutdown finds
	 * nothing to wait for. */
	r = weft_join(t);
	weft_runtime_free(rt);
	return r;
}

int weft_stats_get(weft_runtime *rt, weft_stats *out)
{
	unsigned i;

	if (!rt)
		rt = weft_runtime_current();
	WEFT__CHECK(rt && out, -EINVAL);
	memset(out, 0, sizeof(*out));
	out->workers = rt->nworkers;
	out->tasks_spawned = atomic_load_explicit(&rt->ext_spawned,
						  memory_order_relaxed);
	for (i = 0; i < rt->nworkers; i++) {
		struct worker_counters *c = &rt->workers[i]->c;

		out->tasks_spawned += atomic_load_explicit(
			&c->spawned, memory_order_relaxed);
		out->polls += atomic_load_explicit(&c->polls,
						   memory_order_relaxed);
		out->steals += atomic_load_explicit(&c->steals,
						    memory_order_relaxed);
		out->parks += atomic_load_explicit(&c->parks,
						   memory_order_relaxed);
		out->wakeups += atomic_load_explicit(&c->wakeups,
						     memory_order_relaxed);
		out->inject_pops += atomic_load_explicit(
			&c->inject_pops, memory_order_relaxed);
		out->io_ops += atomic_load_explicit(&c->io_ops,
						    memory_order_relaxed);
	}
	out->tasks_live = weft__runtime_live(rt);
	out->blocking_threads = weft__blocking_threads(rt->blocking);
	return 0;
}
