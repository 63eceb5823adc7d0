/*
 * The blocking pool (weft_blocking) and calls between plain threads and
 * the runtime (weft_spawn_on, weft_runtime_block_on).
 *
 * Jobs that must stay running wait on a gate (a pthread condition) that a
 * task opens; tasks wait for pool state by polling atomics or the pool's
 * counters with short weft_sleeps, bounded by a generous timeout.  No
 * wall-clock sleep orders anything, except where a deadline must pass
 * (sleeps never end early).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "runtime/blocking.h"
#include "runtime/runtime.h"

TestSuite(blocking, .timeout = 120);

#define MS 1000000ull
#define BOUND_NS (20000 * MS)	/* give up waiting for a state after 20 s */

static const unsigned workers_set[] = { 1, 2, 8 };

/* --------------------------------------------------------------- helpers */

struct gate {
	pthread_mutex_t m;
	pthread_cond_t c;
	int open;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->m, NULL);
	pthread_cond_init(&g->c, NULL);
	g->open = 0;
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->m);
	g->open = 1;
	pthread_cond_broadcast(&g->c);
	pthread_mutex_unlock(&g->m);
}

/* Wait for the gate (from a pool thread); 0 when it opened in time. */
static int gate_wait(struct gate *g)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	pthread_mutex_lock(&g->m);
	while (!g->open && r == 0)
		r = pthread_cond_timedwait(&g->c, &g->m, &ts);
	pthread_mutex_unlock(&g->m);
	return g->open ? 0 : -ETIMEDOUT;
}

/* In a task: poll until *v >= want; false on timeout. */
static bool wait_atomic(atomic_int *v, int want)
{
	uint64_t until = weft_now() + BOUND_NS;

	while (atomic_load(v) < want) {
		if (weft_now() > until)
			return false;
		weft_sleep(50000);
	}
	return true;
}

static struct weft__blocking *pool(void)
{
	return weft_runtime_current()->blocking;
}

/* In a task: poll until n jobs are queued; false on timeout. */
static bool wait_queued(size_t n)
{
	uint64_t until = weft_now() + BOUND_NS;

	while (weft__blocking_queued(pool()) != n) {
		if (weft_now() > until)
			return false;
		weft_sleep(50000);
	}
	return true;
}

static weft_config cfg_pool(unsigned max_threads, size_t queue_max,
			    uint64_t keepalive_ns)
{
	weft_config c;

	memset(&c, 0, sizeof(c));
	c.blocking_max_threads = max_threads;
	c.blocking_queue_max = queue_max;
	c.blocking_keepalive_ns = keepalive_ns;
	return c;
}

/* A job that holds its thread until its gate opens. */
struct held {
	struct gate gate;
	atomic_int started;
	atomic_int finished;
	int result;
};

static int held_job(void *arg)
{
	struct held *h = arg;

	atomic_store(&h->started, 1);
	cr_assert_eq(gate_wait(&h->gate), 0, "gate never opened");
	atomic_store(&h->finished, 1);
	return h->result;
}

static int held_task(void *arg)
{
	return weft_blocking(held_job, arg);
}

static int plus_one(void *arg)
{
	return (int)(intptr_t)arg + 1;
}

static int mark_ran(void *arg)
{
	atomic_store((atomic_int *)arg, 1);
	return 0;
}

static int mark_task(void *arg)
{
	return weft_blocking(mark_ran, arg);
}

/* ---------------------------------------------------------------- basics */

static int return_ecanceled(void *arg)
{
	return -ECANCELED;
}

static int status_main(void *arg)
{
	for (intptr_t i = 0; i < 200; i++)
		cr_assert_eq(weft_blocking(plus_one, (void *)i), i + 1,
			     "offload %d", (int)i);
	/* A job's -ECANCELED is its status, not an interruption. */
	cr_assert_eq(weft_blocking(return_ecanceled, NULL), -ECANCELED,
		     "job status -ECANCELED");
	cr_assert_not(weft_cancelled(), "the task was not cancelled");
	cr_assert_eq(weft_blocking(NULL, NULL), -EINVAL, "NULL fn");
	return 7;
}

Test(blocking, returns_the_jobs_status)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(status_main, NULL, workers_set[i]), 7,
			     "run with %u workers", workers_set[i]);
}

Test(blocking, outside_a_task_returns_eperm)
{
	cr_assert_eq(weft_blocking(plus_one, NULL), -EPERM, "plain thread");
}

static int where_job(void *arg)
{
	char name[16] = "";

	pthread_getname_np(pthread_self(), name, sizeof(name));
	cr_assert_eq(strncmp(name, "weft-blocking-", 14), 0,
		     "pool thread named \"%s\"", name);
	cr_assert_not(weft_in_task(), "a job runs outside any task");
	cr_assert_eq(weft_blocking(plus_one, NULL), -EPERM,
		     "weft_blocking from a job");
	return 0;
}

static int where_main(void *arg)
{
	return weft_blocking(where_job, NULL);
}

Test(blocking, jobs_run_on_threads_named_weft_blocking_n_outside_tasks)
{
	cr_assert_eq(t_run(where_main, NULL, 2), 0, "run");
}

static int reuse_main(void *arg)
{
	weft_stats s;

	for (intptr_t i = 0; i < 1000; i++)
		cr_assert_eq(weft_blocking(plus_one, (void *)i), i + 1, "job");
	weft_stats_get(NULL, &s);
	/* 1, or 2 if a job's thread was preempted a whole monitor tick
	 * (the test machine is small and shared). */
	cr_assert_leq(s.blocking_threads, 2,
		     "sequential offloads kept %llu threads",
		     (unsigned long long)s.blocking_threads);
	return 0;
}

Test(blocking, sequential_offloads_reuse_one_thread)
{
	cr_assert_eq(t_run(reuse_main, NULL, 2), 0, "run");
}

/* ------------------------------------------------------------ the limits */

struct limit {
	pthread_mutex_t m;
	pthread_cond_t c;
	int running;
	int peak;
};

/* Count jobs running at once; the first ones wait (bounded) until two
 * overlap, so the test also sees the limit reached. */
static int limit_job(void *arg)
{
	struct limit *l = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	pthread_mutex_lock(&l->m);
	if (++l->running > l->peak)
		l->peak = l->running;
	pthread_cond_broadcast(&l->c);
	while (l->peak < 2 &&
	       pthread_cond_timedwait(&l->c, &l->m, &ts) == 0)
		;
	l->running--;
	pthread_mutex_unlock(&l->m);
	return 1;
}

static int limit_task(void *arg)
{
	return weft_blocking(limit_job, arg);
}

static int limit_main(void *arg)
{
	struct limit *l = arg;
	weft_task *ts[10];
	weft_stats s;

	for (int i = 0; i < 10; i++)
		ts[i] = weft_spawn(limit_task, l);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(weft_join(ts[i]), 1, "job %d", i);
	weft_stats_get(NULL, &s);
	cr_assert_leq(s.blocking_threads, 2, "%llu threads",
		      (unsigned long long)s.blocking_threads);
	return 0;
}

Test(blocking, never_runs_more_jobs_at_once_than_max_threads)
{
	weft_config c = cfg_pool(2, 0, 0);

	for (unsigned i = 0; i < 3; i++) {
		struct limit l = { .running = 0, .peak = 0 };

		pthread_mutex_init(&l.m, NULL);
		pthread_cond_init(&l.c, NULL);
		cr_assert_eq(t_run_cfg(limit_main, &l, workers_set[i], &c), 0,
			     "run");
		cr_assert_eq(l.peak, 2, "peak %d jobs at once (%u workers)",
			     l.peak, workers_set[i]);
	}
}

struct queue_case {
	struct held h;
	atomic_int ran2, ran3;
};

static int queue_main(void *arg)
{
	struct queue_case *q = arg;
	weft_task *a, *b;

	a = weft_spawn(held_task, &q->h);
	cr_assert(wait_atomic(&q->h.started, 1), "job 1 started");
	b = weft_spawn(mark_task, &q->ran2);
	cr_assert(wait_queued(1), "job 2 queued");
	cr_assert_eq(weft_blocking(mark_ran, &q->ran3), -EAGAIN,
		     "third offload with 1 thread and a queue of 1");
	gate_open(&q->h.gate);
	cr_assert_eq(weft_join(a), 0, "job 1");
	cr_assert_eq(weft_join(b), 0, "job 2");
	cr_assert_eq(atomic_load(&q->ran2), 1, "job 2 ran");
	cr_assert_eq(atomic_load(&q->ran3), 0, "job 3 never ran");
	return 0;
}

Test(blocking, a_full_queue_returns_eagain)
{
	weft_config c = cfg_pool(1, 1, 0);

	for (unsigned i = 0; i < 3; i++) {
		struct queue_case q = { 0 };

		gate_init(&q.h.gate);
		cr_assert_eq(t_run_cfg(queue_main, &q, workers_set[i], &c), 0,
			     "run with %u workers", workers_set[i]);
	}
}

static int spread_task(void *arg)
{
	return weft_blocking(limit_job, arg);
}

/* The pool while a job holds a thread, then after: a held thread cannot
 * exit, so "busy" is asserted while it is held, not after the joins (the
 * keep-alive is 2 ms, which a slow run, under Valgrind, can pass between
 * the last job's end and the check). */
struct shrink_case {
	struct limit l;
	struct held h;
};

static int shrink_main(void *arg)
{
	struct shrink_case *sc = arg;
	uint64_t until = weft_now() + BOUND_NS;
	weft_task *ts[4], *held;
	weft_stats s;

	held = weft_spawn(held_task, &sc->h);
	cr_assert_not_null(held);
	cr_assert(wait_atomic(&sc->h.started, 1), "held job started");
	weft_stats_get(NULL, &s);
	cr_assert_geq(s.blocking_threads, 1, "threads while busy");
	for (int i = 0; i < 4; i++)
		ts[i] = weft_spawn(spread_task, &sc->l);
	for (int i = 0; i < 4; i++)
		weft_join(ts[i]);
	gate_open(&sc->h.gate);
	cr_assert_eq(weft_join(held), 0, "held job");
	do {
		weft_sleep(MS);
		weft_stats_get(NULL, &s);
	} while (s.blocking_threads > 0 && weft_now() < until);
	cr_assert_eq(s.blocking_threads, 0, "%llu threads left",
		     (unsigned long long)s.blocking_threads);
	/* And the pool grows again. */
	cr_assert_eq(weft_blocking(plus_one, (void *)1), 2, "after shrink");
	return 0;
}

Test(blocking, idle_threads_exit_after_the_keep_alive)
{
	weft_config c = cfg_pool(0, 0, 2 * MS);
	struct shrink_case sc;

	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.l.m, NULL);
	pthread_cond_init(&sc.l.c, NULL);
	gate_init(&sc.h.gate);
	cr_assert_eq(t_run_cfg(shrink_main, &sc, 2, &c), 0, "run");
}

/* ---------------------------------------------------------- cancellation */

struct cancel_case {
	struct held h;		/* occupies the one thread */
	atomic_int ran;
};

static int cancel_queued_main(void *arg)
{
	struct cancel_case *k = arg;
	weft_task *a, *b;

	a = weft_spawn(held_task, &k->h);
	cr_assert(wait_atomic(&k->h.started, 1), "job 1 started");
	b = weft_spawn(mark_task, &k->ran);
	cr_assert(wait_queued(1), "job 2 queued");
	weft_cancel(b);
	cr_assert_eq(weft_join(b), -ECANCELED, "cancelled while queued");
	cr_assert_eq(weft__blocking_queued(pool()), 0, "job 2 withdrawn");
	gate_open(&k->h.gate);
	cr_assert_eq(weft_join(a), 0, "job 1");
	return 0;
}

Test(blocking, cancel_while_queued_returns_ecanceled_and_never_runs_the_job)
{
	weft_config c = cfg_pool(1, 0, 0);

	for (unsigned i = 0; i < 3; i++) {
		struct cancel_case k = { 0 };

		gate_init(&k.h.gate);
		cr_assert_eq(t_run_cfg(cancel_queued_main, &k, workers_set[i],
				       &c), 0, "run");
		cr_assert_eq(atomic_load(&k.ran), 0, "the job never ran");
	}
}

/* The job writes into its caller's stack frame after its gate opens: any
 * return of the caller before the job ends shows as a use after return
 * (ASan) or a failed check. */
struct frame_job {
	struct gate *gate;
	atomic_int *started;
	volatile uint64_t words[64];
	atomic_int done;
};

static int frame_job_fn(void *arg)
{
	struct frame_job *f = arg;

	atomic_store(f->started, 1);
	cr_assert_eq(gate_wait(f->gate), 0, "gate");
	for (int i = 0; i < 64; i++)
		f->words[i] = 0xfeed0000u + (uint64_t)i;
	atomic_store(&f->done, 1);
	return 5;
}

struct running_case {
	struct gate gate;
	atomic_int started;
	atomic_int returned;
	uint64_t deadline_ns;	/* 0: cancel instead */
};

static int running_task(void *arg)
{
	struct running_case *k = arg;
	struct frame_job f = { .gate = &k->gate, .started = &k->started };
	int r = 0;

	/* Warm: a thread exists, so the job starts well before the deadline
	 * (which must pass while it runs). */
	cr_assert_eq(weft_blocking(plus_one, NULL), 1, "warm-up");
	if (k->deadline_ns) {
		WEFT_WITH_TIMEOUT(k->deadline_ns)
			r = weft_blocking(frame_job_fn, &f);
	} else {
		r = weft_blocking(frame_job_fn, &f);
	}
	cr_assert_eq(atomic_load(&f.done), 1,
		     "returned (%d) before the job finished", r);
	for (int i = 0; i < 64; i++)
		cr_assert_eq(f.words[i], 0xfeed0000u + (uint64_t)i, "word");
	atomic_store(&k->returned, 1);
	return r;
}

static int running_main(void *arg)
{
	struct running_case *k = arg;
	weft_task *t = weft_spawn(running_task, k);

	cr_assert(wait_atomic(&k->started, 1), "job started");
	if (k->deadline_ns)
		weft_sleep(2 * k->deadline_ns);	/* the deadline passes */
	else
		weft_cancel(t);
	for (int i = 0; i < 100; i++)
		weft_yield();
	cr_assert_eq(atomic_load(&k->returned), 0,
		     "the task left while its job ran");
	gate_open(&k->gate);
	return weft_join(t);
}

Test(blocking, cancel_while_running_waits_for_the_job_then_returns_ecanceled)
{
	for (unsigned i = 0; i < 3; i++) {
		struct running_case k = { .deadline_ns = 0 };

		gate_init(&k.gate);
		cr_assert_eq(t_run(running_main, &k, workers_set[i]),
			     -ECANCELED, "run with %u workers",
			     workers_set[i]);
	}
}

Test(blocking, deadline_while_running_waits_for_the_job_then_etimedout)
{
	for (unsigned i = 0; i < 3; i++) {
		struct running_case k = { .deadline_ns = 200 * MS };

		gate_init(&k.gate);
		cr_assert_eq(t_run(running_main, &k, workers_set[i]),
			     -ETIMEDOUT, "run with %u workers",
			     workers_set[i]);
	}
}

static int deadline_queued_task(void *arg)
{
	struct cancel_case *k = arg;
	int r = 0;

	WEFT_WITH_TIMEOUT(5 * MS)
		r = weft_blocking(mark_ran, &k->ran);
	return r;
}

static int deadline_queued_main(void *arg)
{
	struct cancel_case *k = arg;
	weft_task *a, *b;

	a = weft_spawn(held_task, &k->h);
	cr_assert(wait_atomic(&k->h.started, 1), "job 1 started");
	b = weft_spawn(deadline_queued_task, k);
	cr_assert_eq(weft_join(b), -ETIMEDOUT, "deadline while queued");
	cr_assert_eq(weft__blocking_queued(pool()), 0, "job 2 withdrawn");
	gate_open(&k->h.gate);
	cr_assert_eq(weft_join(a), 0, "job 1");
	return 0;
}

Test(blocking, deadline_while_queued_returns_etimedout_and_never_runs_the_job)
{
	weft_config c = cfg_pool(1, 0, 0);

	for (unsigned i = 0; i < 3; i++) {
		struct cancel_case k = { 0 };

		gate_init(&k.h.gate);
		cr_assert_eq(t_run_cfg(deadline_queued_main, &k,
				       workers_set[i], &c), 0, "run");
		cr_assert_eq(atomic_load(&k.ran), 0, "the job never ran");
	}
}

static int cancelled_first_main(void *arg)
{
	atomic_int ran = 0;
	int r;

	weft_cancel(weft_self());
	cr_assert_eq(weft_blocking(mark_ran, &ran), -ECANCELED, "cancelled");
	WEFT_WITH_TIMEOUT(0)
		r = weft_blocking(mark_ran, &ran);
	(void)r;
	cr_assert_eq(atomic_load(&ran), 0, "no job ran");
	return 0;
}

Test(blocking, an_already_cancelled_task_never_queues_its_job)
{
	cr_assert_eq(t_run(cancelled_first_main, NULL, 2), 0, "run");
}

/* ------------------------------------------------------------- progress */

#define SPINNERS_PER_WORKER 4
#define YIELDS 200

struct stall_case {
	struct gate gate;
	atomic_int done_tasks;
	int ntasks;
};

static int yielder(void *arg)
{
	struct stall_case *k = arg;

	for (int i = 0; i < YIELDS; i++)
		weft_yield();
	if (atomic_fetch_add(&k->done_tasks, 1) + 1 == k->ntasks)
		gate_open(&k->gate);
	return 0;
}

/* Holds its thread until every task on the workers has finished. */
static int stall_job(void *arg)
{
	struct stall_case *k = arg;

	return gate_wait(&k->gate) == 0 ? 1 : -ETIMEDOUT;
}

static int stall_blocker(void *arg)
{
	return weft_blocking(stall_job, arg);
}

static int stall_main(void *arg)
{
	struct stall_case *k = arg;
	weft_task *blocker, *ts[8 * SPINNERS_PER_WORKER];

	blocker = weft_spawn(stall_blocker, k);
	for (int i = 0; i < k->ntasks; i++)
		ts[i] = weft_spawn(yielder, k);
	for (int i = 0; i < k->ntasks; i++)
		cr_assert_eq(weft_join(ts[i]), 0, "task %d", i);
	cr_assert_eq(weft_join(blocker), 1, "the long job");
	return 0;
}

Test(blocking, a_long_job_does_not_stall_other_tasks)
{
	for (unsigned i = 0; i < 3; i++) {
		struct stall_case k = {
			.ntasks = (int)workers_set[i] * SPINNERS_PER_WORKER,
		};

		gate_init(&k.gate);
		cr_assert_eq(t_run(stall_main, &k, workers_set[i]), 0,
			     "run with %u workers", workers_set[i]);
	}
}

/* ------------------------------------------------------- foreign threads */

static int times_two(void *arg)
{
	return (int)(intptr_t)arg * 2;
}

static void *foreign_spawner(void *arg)
{
	weft_runtime *rt = arg;
	weft_task *ts[16];
	intptr_t bad = 0;

	for (intptr_t i = 0; i < 16; i++)
		ts[i] = weft_spawn_on(rt, times_two, (void *)i);
	for (intptr_t i = 0; i < 16; i++)
		if (!ts[i] || weft_join(ts[i]) != 2 * i)
			bad++;
	return (void *)bad;
}

Test(blocking, spawn_on_and_join_work_from_a_foreign_thread)
{
	for (unsigned i = 0; i < 3; i++) {
		weft_config c = cfg_pool(0, 0, 0);
		weft_runtime *rt;
		pthread_t th[2];
		void *bad;

		c.workers = workers_set[i];
		rt = weft_runtime_new(&c);
		cr_assert_not_null(rt, "runtime");
		for (int j = 0; j < 2; j++)
			pthread_create(&th[j], NULL, foreign_spawner, rt);
		for (int j = 0; j < 2; j++) {
			pthread_join(th[j], &bad);
			cr_assert_null(bad, "failed joins: %p", bad);
		}
		weft_runtime_free(rt);
	}
}

struct busy {
	atomic_int stop;
	atomic_int running;
};

static int busy_task(void *arg)
{
	struct busy *b = arg;

	atomic_store(&b->running, 1);
	while (!atomic_load(&b->stop))
		weft_sleep(100000);
	return 3;
}

static void *busy_thread(void *arg)
{
	weft_runtime **rtp = arg;

	return (void *)(intptr_t)weft_runtime_block_on(rtp[0], busy_task,
						       (void *)rtp[1]);
}

/* A job calls back into the runtime: sync code using async code. */
static int callback_job(void *arg)
{
	return weft_runtime_block_on(arg, times_two, (void *)21);
}

static int callback_main(void *arg)
{
	return weft_blocking(callback_job, weft_runtime_current());
}

Test(blocking, block_on_works_from_foreign_threads_while_tasks_run)
{
	struct busy b = { 0 };
	weft_runtime *rt = weft_runtime_new(NULL);
	void *args[2] = { rt, &b };
	pthread_t th;
	void *st;

	cr_assert_not_null(rt, "runtime");
	pthread_create(&th, NULL, busy_thread, args);
	while (!atomic_load(&b.running))
		sched_yield();
	cr_assert_eq(weft_runtime_block_on(rt, times_two, (void *)5), 10,
		     "block_on while another block_on's task runs");
	cr_assert_eq(weft_runtime_block_on(rt, callback_main, NULL), 42,
		     "a job's block_on from a pool thread");
	atomic_store(&b.stop, 1);
	pthread_join(th, &st);
	cr_assert_eq((int)(intptr_t)st, 3, "the busy task's status");
	weft_runtime_free(rt);
}

/* -------------------------------------------------------------- shutdown */

struct shutdown_case {
	struct held h;
	atomic_int ran2;
	atomic_int status1, status2;
};

static int shut_task1(void *arg)
{
	struct shutdown_case *k = arg;

	atomic_store(&k->status1, weft_blocking(held_job, &k->h));
	return 0;
}

/* Cancelled at shutdown while its job is queued; its return lets the
 * running job finish (so weft_run must have waited for it). */
static int shut_task2(void *arg)
{
	struct shutdown_case *k = arg;

	atomic_store(&k->status2, weft_blocking(mark_ran, &k->ran2));
	gate_open(&k->h.gate);
	return 0;
}

static int shutdown_main(void *arg)
{
	struct shutdown_case *k = arg;

	weft_detach(weft_spawn(shut_task1, k));
	cr_assert(wait_atomic(&k->h.started, 1), "job 1 started");
	weft_detach(weft_spawn(shut_task2, k));
	cr_assert(wait_queued(1), "job 2 queued");
	return 0;
}

Test(blocking, shutdown_waits_for_running_jobs_and_cancels_queued_ones)
{
	weft_config c = cfg_pool(1, 0, 0);

	for (unsigned i = 0; i < 3; i++) {
		struct shutdown_case k = { 0 };

		gate_init(&k.h.gate);
		cr_assert_eq(t_run_cfg(shutdown_main, &k, workers_set[i], &c),
			     0, "run");
		cr_assert_eq(atomic_load(&k.h.finished), 1,
			     "weft_run returned before the running job");
		/* -ECANCELED, or 0 when task 2's end let the job finish
		 * before shutdown reached task 1. */
		cr_assert(atomic_load(&k.status1) == -ECANCELED ||
			  atomic_load(&k.status1) == 0,
			  "task 1: %d", atomic_load(&k.status1));
		cr_assert_eq(atomic_load(&k.status2), -ECANCELED,
			     "task 2: %d", atomic_load(&k.status2));
		cr_assert_eq(atomic_load(&k.ran2), 0, "queued job ran");
	}
}

/* ---------------------------------------------------------------- stress */

#define MANY_TASKS 64
#define MANY_EACH 500

static int many_task(void *arg)
{
	atomic_llong *sum = arg;

	for (intptr_t i = 0; i < MANY_EACH; i++) {
		int r = weft_blocking(plus_one, (void *)i);

		if (r < 0)
			return r;
		if (r != i + 1)
			return -EIO;
		atomic_fetch_add(sum, r);
	}
	return 0;
}

static int storm_task(void *arg)
{
	for (intptr_t i = 0; i < 50; i++) {
		int r = weft_blocking(plus_one, (void *)i);

		if (r < 0)
			return r;
		if (r != i + 1)
			return -EIO;
	}
	return 0;
}

static int many_main(void *arg)
{
	weft_task *ts[MANY_TASKS];

	for (int i = 0; i < MANY_TASKS; i++)
		ts[i] = weft_spawn(many_task, arg);
	for (int i = 0; i < MANY_TASKS; i++)
		cr_assert_eq(weft_join(ts[i]), 0, "task %d", i);
	return 0;
}

Test(blocking, many_concurrent_offloads_all_return_their_status)
{
	for (unsigned i = 0; i < 3; i++) {
		atomic_llong sum = 0;

		cr_assert_eq(t_run(many_main, &sum, workers_set[i]), 0, "run");
		cr_assert_eq(atomic_load(&sum),
			     (long long)MANY_TASKS * MANY_EACH *
				     (MANY_EACH + 1) / 2,
			     "sum with %u workers", workers_set[i]);
	}
}

/* Cancel tasks at random points of their offloads: every call returns
 * the job's status or -ECANCELED, and nothing is touched after return. */
static int cancel_storm_main(void *arg)
{
	weft_task *ts[MANY_TASKS];

	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < MANY_TASKS; i++)
			ts[i] = weft_spawn(storm_task, NULL);
		for (int i = 0; i < round % 5; i++)
			weft_yield();
		for (int i = 0; i < MANY_TASKS; i += 2)
			weft_cancel(ts[i]);
		for (int i = 0; i < MANY_TASKS; i++) {
			int r = weft_join(ts[i]);

			cr_assert(r == 0 || (r == -ECANCELED && i % 2 == 0),
				  "task %d: %d", i, r);
		}
	}
	return 0;
}

Test(blocking, cancelling_tasks_mid_offload_is_safe)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(cancel_storm_main, NULL, workers_set[i]), 0,
			     "run with %u workers", workers_set[i]);
}
