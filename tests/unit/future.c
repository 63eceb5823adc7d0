/*
 * weft_future: set once from any thread (a second set is -EALREADY), awaited
 * by many tasks or a plain thread, interrupted awaiters leave it pending for
 * the others, done-callbacks run once in order, and freeing is safe as soon
 * as an await returns.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "runtime/future.h"
#include "tests/unit/sync_helpers.h"

TestSuite(future, .timeout = 120);

#define MS 1000000ull

static int payload[4];

Test(future, free_null_does_nothing)
{
	weft_future_free(NULL);
}

static int set_twice_main(void *arg)
{
	weft_future *f = weft_future_new();
	void *v = NULL;
	int r;

	cr_assert_not_null(f, "new");
	cr_assert_not(weft_future_done(f), "a new future is pending");
	cr_assert_eq(weft_future_set(f, &payload[0], 7), 0, "first set");
	r = weft_future_set(f, &payload[1], 8);
	cr_assert_eq(r, -EALREADY, "second set returned %d", r);
	cr_assert(weft_future_done(f), "done after the set");
	r = weft_future_await(f, &v);
	cr_assert_eq(r, 7, "await returned %d, not the first status", r);
	cr_assert_eq(v, &payload[0], "the first value stays");
	cr_assert_eq(weft_future_result(f, NULL), 7, "result");
	cr_assert_eq(weft_future_await(f, NULL), 7, "value may be NULL");
	weft_future_free(f);
	return 0;
}

Test(future, second_set_returns_ealready_and_the_first_value_stays)
{
	run_on_1_2_8(set_twice_main, NULL);
}

/* ------------------------------------------------------- many awaiters */

#define AWAITERS 16

struct awaiter {
	weft_future *f;
	void *v;
	int r;
};

static int await_task(void *arg)
{
	struct awaiter *a = arg;

	a->r = weft_future_await(a->f, &a->v);
	return 0;
}

static void *set_thread(void *arg)
{
	weft_future *f = arg;

	while (weft__future_waiters(f) < AWAITERS)
		sched_yield();
	weft_future_set(f, &payload[2], -EIO);
	return NULL;
}

/* Spawn AWAITERS awaiters of f; a[i] receives each result. */
static void spawn_awaiters(weft_future *f, struct awaiter *a, weft_task **t)
{
	for (unsigned i = 0; i < AWAITERS; i++) {
		a[i] = (struct awaiter){ f, NULL, 1 };
		t[i] = weft_spawn(await_task, &a[i]);
		cr_assert_not_null(t[i], "spawn");
	}
}

static void check_awaiters(struct awaiter *a, weft_task **t, int status,
			   void *value)
{
	for (unsigned i = 0; i < AWAITERS; i++) {
		cr_assert_eq(weft_join(t[i]), 0, "join");
		cr_assert_eq(a[i].r, status, "awaiter %u got %d", i, a[i].r);
		cr_assert_eq(a[i].v, value, "awaiter %u value", i);
	}
}

static int foreign_main(void *arg)
{
	weft_future *f = weft_future_new();
	struct awaiter a[AWAITERS];
	weft_task *t[AWAITERS];
	pthread_t th;

	cr_assert_not_null(f, "new");
	cr_assert_eq(pthread_create(&th, NULL, set_thread, f), 0, "thread");
	spawn_awaiters(f, a, t);
	check_awaiters(a, t, -EIO, &payload[2]);
	pthread_join(th, NULL);
	weft_future_free(f);
	return 0;
}

Test(future, set_from_a_foreign_thread_wakes_every_awaiter)
{
	run_on_1_2_8(foreign_main, NULL);
}

static int task_set_main(void *arg)
{
	weft_future *f = weft_future_new();
	struct awaiter a[AWAITERS];
	weft_task *t[AWAITERS];

	cr_assert_not_null(f, "new");
	spawn_awaiters(f, a, t);
	YIELD_UNTIL(weft__future_waiters(f) == AWAITERS);
	cr_assert_eq(weft_future_set(f, &payload[3], 42), 0, "set");
	check_awaiters(a, t, 42, &payload[3]);
	weft_future_free(f);
	return 0;
}

Test(future, set_from_a_task_wakes_every_awaiter)
{
	run_on_1_2_8(task_set_main, NULL);
}

/* -------------------------------------------------------- interruption */

static int cancel_one_main(void *arg)
{
	weft_future *f = weft_future_new();
	struct awaiter a = { f, NULL, 1 }, b = { f, NULL, 1 };
	weft_task *ta = weft_spawn(await_task, &a);
	weft_task *tb = weft_spawn(await_task, &b);

	cr_assert(ta && tb, "spawn");
	YIELD_UNTIL(weft__future_waiters(f) == 2);
	weft_cancel(ta);
	cr_assert_eq(weft_join(ta), 0, "join");
	cr_assert_eq(a.r, -ECANCELED, "cancelled awaiter got %d", a.r);
	cr_assert_not(weft_future_done(f), "the future stays pending");
	cr_assert_eq(weft__future_waiters(f), 1u, "the other still waits");
	cr_assert_eq(weft_future_set(f, &payload[0], 5), 0, "set");
	cr_assert_eq(weft_join(tb), 0, "join");
	cr_assert_eq(b.r, 5, "the other awaiter got %d", b.r);
	cr_assert_eq(b.v, &payload[0], "and the value");
	weft_future_free(f);
	return 0;
}

Test(future, cancelled_awaiter_leaves_the_future_pending_for_others)
{
	run_on_1_2_8(cancel_one_main, NULL);
}

static int self_cancel_task(void *arg)
{
	weft_cancel(weft_self());
	return weft_future_await(arg, NULL);
}

static int cancelled_main(void *arg)
{
	weft_future *f = weft_future_new();
	weft_task *t;
	int r;

	cr_assert_not_null(f, "new");
	t = weft_spawn(self_cancel_task, f);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "await in a cancelled task: %d", r);
	weft_future_set(f, NULL, 0);
	t = weft_spawn(self_cancel_task, f);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "even on a set future: %d", r);
	weft_future_free(f);
	return 0;
}

Test(future, await_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}

static int deadline_main(void *arg)
{
	weft_future *f = weft_future_new();
	uint64_t t0 = weft_now();
	int r = 1;

	cr_assert_not_null(f, "new");
	WEFT_WITH_TIMEOUT(10 * MS) {
		r = weft_future_await(f, NULL);
	}
	cr_assert_eq(r, -ETIMEDOUT, "await past a deadline returned %d", r);
	cr_assert_geq(weft_now() - t0, 10 * MS, "never early");
	cr_assert_eq(weft__future_waiters(f), 0u, "withdrew");
	cr_assert_not(weft_future_done(f), "still pending");
	weft_future_free(f);
	return 0;
}

Test(future, deadline_ends_an_await_with_etimedout)
{
	run_on_1_2_8(deadline_main, NULL);
}

Test(future, null_arguments_return_einval)
{
	cr_assert_eq(weft_future_await(NULL, NULL), -EINVAL, "await");
	cr_assert_eq(weft_future_set(NULL, NULL, 0), -EINVAL, "set");
	cr_assert_eq(weft_future_on_done(NULL, NULL, NULL), -EINVAL, "on_done");
	cr_assert_not(weft_future_done(NULL), "done");
}

/* ------------------------------------------------------- plain threads */

struct thread_await {
	weft_future *f;
	void *v;
	int r;
};

static void *await_thread(void *arg)
{
	struct thread_await *a = arg;

	a->r = weft_future_await(a->f, &a->v);
	return NULL;
}

static int plain_thread_main(void *arg)
{
	struct thread_await a = { weft_future_new(), NULL, 1 };
	pthread_t th;

	cr_assert_not_null(a.f, "new");
	cr_assert_eq(pthread_create(&th, NULL, await_thread, &a), 0, "thread");
	YIELD_UNTIL(weft__future_waiters(a.f) == 1);
	cr_assert_eq(weft_future_set(a.f, &payload[1], 3), 0, "set");
	pthread_join(th, NULL);
	cr_assert_eq(a.r, 3, "the thread got %d", a.r);
	cr_assert_eq(a.v, &payload[1], "and the value");
	weft_future_free(a.f);
	return 0;
}

Test(future, a_plain_thread_blocks_in_await_until_a_task_sets_it)
{
	run_on_1_2_8(plain_thread_main, NULL);
}

Test(future, await_outside_any_runtime_on_a_set_future_returns_at_once)
{
	weft_future *f = weft_future_new();
	void *v = NULL;

	cr_assert_not_null(f, "new");
	cr_assert_eq(weft_future_set(f, &payload[0], 9), 0, "set");
	cr_assert_eq(weft_future_await(f, &v), 9, "await");
	cr_assert_eq(v, &payload[0], "value");
	weft_future_free(f);
}

/* ----------------------------------------------------------- callbacks */

struct cb_log {
	atomic_uint n;
	unsigned order[8];
	pthread_t thread[8];
	void *value[8];
};

static struct cb_log cb_log;

static void log_cb(weft_future *f, void *arg)
{
	unsigned i = atomic_fetch_add(&cb_log.n, 1);

	cb_log.order[i] = (unsigned)(uintptr_t)arg;
	cb_log.thread[i] = pthread_self();
	weft_future_result(f, &cb_log.value[i]);
}

struct setter {
	weft_future *f;
	pthread_t self;
};

static void *set_and_note(void *arg)
{
	struct setter *s = arg;

	s->self = pthread_self();
	weft_future_set(s->f, &payload[3], 0);
	weft_future_set(s->f, &payload[2], 0);	/* runs nothing again */
	return NULL;
}

static void check_log(unsigned n, pthread_t on)
{
	cr_assert_eq(atomic_load(&cb_log.n), n, "%u callbacks ran, not %u",
		     atomic_load(&cb_log.n), n);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(cb_log.order[i], i, "callback %u ran as %u",
			     cb_log.order[i], i);
		cr_assert(pthread_equal(cb_log.thread[i], on),
			  "callback %u ran on the wrong thread", i);
		cr_assert_eq(cb_log.value[i], &payload[3], "saw the value");
	}
}

Test(future, on_done_runs_once_on_the_setting_thread_or_at_once_if_set)
{
	struct setter s = { weft_future_new(), 0 };
	pthread_t th;

	cr_assert_not_null(s.f, "new");
	memset(&cb_log, 0, sizeof(cb_log));
	for (uintptr_t i = 0; i < 3; i++)
		cr_assert_eq(weft_future_on_done(s.f, log_cb, (void *)i), 0,
			     "on_done");
	cr_assert_eq(atomic_load(&cb_log.n), 0u, "nothing runs before set");
	cr_assert_eq(pthread_create(&th, NULL, set_and_note, &s), 0, "thr");
	pthread_join(th, NULL);
	check_log(3, s.self);
	/* Already set: runs at once, on the caller. */
	cr_assert_eq(weft_future_on_done(s.f, log_cb, (void *)3), 0, "late");
	cr_assert_eq(atomic_load(&cb_log.n), 4u, "ran at once");
	cr_assert(pthread_equal(cb_log.thread[3], pthread_self()), "caller");
	weft_future_free(s.f);
}

static void free_cb(weft_future *f, void *arg)
{
	atomic_fetch_add((atomic_uint *)arg, 1);
	weft_future_free(f);
}

static void after_free_cb(weft_future *f, void *arg)
{
	void *v = NULL;

	/* The free in the callback before us waits for the last one. */
	cr_assert_eq(weft_future_result(f, &v), 6, "f is still alive");
	cr_assert_eq(v, &payload[0], "value");
	atomic_fetch_add((atomic_uint *)arg, 1);
}

static int cb_free_main(void *arg)
{
	atomic_uint ran = 0;
	weft_future *f = weft_future_new();

	cr_assert_not_null(f, "new");
	cr_assert_eq(weft_future_on_done(f, free_cb, &ran), 0, "on_done");
	cr_assert_eq(weft_future_on_done(f, after_free_cb, &ran), 0, "2nd");
	cr_assert_eq(weft_future_set(f, &payload[0], 6), 0, "set");
	cr_assert_eq(atomic_load(&ran), 2u, "both ran");
	return 0;
}

Test(future, a_callback_may_free_its_own_future)
{
	run_on_1_2_8(cb_free_main, NULL);
}

/* -------------------------------------------------------------- misuse */

static int free_awaited_main(void *arg)
{
	weft_future *f = weft_future_new();
	struct awaiter a = { f, NULL, 1 };
	weft_task *t = weft_spawn(await_task, &a);

	YIELD_UNTIL(weft__future_waiters(f) == 1);
	weft_future_free(f);
	weft_join(t);
	return 0;
}

Test(future, free_with_a_task_awaiting_aborts_naming_weft_future_free)
{
	expect_abort(free_awaited_main, "weft_future_free");
}

static int result_pending_main(void *arg)
{
	weft_future *f = weft_future_new();

	weft_future_result(f, NULL);
	return 0;
}

Test(future, result_of_a_pending_future_aborts_naming_weft_future_result)
{
	expect_abort(result_pending_main, "weft_future_result");
}

/* --------------------------------------------------------- races, memory */

#define ROUNDS 300

struct relay {
	_Atomic(weft_future *) slot;
	atomic_uint cbs;
};

static void count_cb(weft_future *f, void *arg)
{
	struct relay *r = arg;
	void *v;

	/* Touch f late in the setter's run: the awaiter may be back. */
	sched_yield();
	weft_future_result(f, &v);
	atomic_fetch_add(&r->cbs, 1);
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;

	for (unsigned i = 0; i < ROUNDS; i++) {
		weft_future *f;

		while (!(f = atomic_exchange(&r->slot, NULL)))
			sched_yield();
		weft_future_set(f, &payload[0], (int)i);
	}
	return NULL;
}

static int relay_main(void *arg)
{
	struct relay r = { NULL, 0 };
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, relay_thread, &r), 0, "thr");
	for (unsigned i = 0; i < ROUNDS; i++) {
		weft_future *f = weft_future_new();
		int s;

		cr_assert_not_null(f, "new");
		weft_future_on_done(f, count_cb, &r);
		weft_future_on_done(f, count_cb, &r);
		atomic_store(&r.slot, f);
		s = weft_future_await(f, NULL);
		cr_assert_eq(s, (int)i, "round %u got %d", i, s);
		weft_future_free(f);	/* the setter may still be in it */
	}
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&r.cbs), 2u * ROUNDS, "every callback ran");
	return 0;
}

Test(future, freeing_right_after_await_is_safe_with_a_foreign_setter)
{
	run_on_1_2_8(relay_main, NULL);
}

static int race_main(void *arg)
{
	for (unsigned round = 0; round < 50; round++) {
		weft_future *f = weft_future_new();
		struct awaiter a[AWAITERS];
		weft_task *t[AWAITERS];

		spawn_awaiters(f, a, t);
		for (unsigned i = 0; i < AWAITERS; i += 2)
			weft_cancel(t[i]);
		weft_future_set(f, &payload[1], 1);
		for (unsigned i = 0; i < AWAITERS; i++) {
			weft_join(t[i]);
			cr_assert(a[i].r == 1 ||
				  (a[i].r == -ECANCELED && !(i & 1)),
				  "awaiter %u got %d", i, a[i].r);
		}
		cr_assert_eq(weft__future_waiters(f), 0u, "none left");
		weft_future_free(f);
	}
	return 0;
}

Test(future, cancels_racing_the_set_end_each_wait_exactly_once)
{
	run_on_1_2_8(race_main, NULL);
}
