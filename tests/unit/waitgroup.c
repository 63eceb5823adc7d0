/*
 * weft_waitgroup: wait returns once the count is 0, add and done work from
 * any thread, a count below zero aborts, and a cancelled wait returns
 * -ECANCELED.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(waitgroup, .timeout = 120);

static weft_waitgroup global_wg = WEFT_WAITGROUP_INIT;

Test(waitgroup, wait_outside_a_task_returns_eperm)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;
	int r = weft_waitgroup_wait(&wg);

	cr_assert_eq(r, -EPERM, "wait outside a task returned %d", r);
}

static int zero_main(void *arg)
{
	weft_waitgroup wg;
	int r;

	r = weft_waitgroup_wait(&global_wg);
	cr_assert_eq(r, 0, "wait on WEFT_WAITGROUP_INIT returned %d", r);
	weft_waitgroup_init(&wg);
	weft_waitgroup_add(&wg, 2);
	weft_waitgroup_add(&wg, -2);
	r = weft_waitgroup_wait(&wg);
	cr_assert_eq(r, 0, "wait at count 0 returned %d", r);
	return 0;
}

Test(waitgroup, wait_at_zero_returns_at_once)
{
	run_on_1_2_8(zero_main, NULL);
}

/* ------------------------------------------------------- tasks finish */

#define WG_TASKS 1000

struct work {
	weft_waitgroup *wg;
	atomic_int done;
};

static int worker_task(void *arg)
{
	struct work *w = arg;

	weft_yield();
	atomic_fetch_add(&w->done, 1);
	weft_waitgroup_done(w->wg);
	return 0;
}

static int waiter_task(void *arg)
{
	struct work *w = arg;
	int r = weft_waitgroup_wait(w->wg);

	if (r)
		return r;
	return atomic_load(&w->done) == WG_TASKS ? 0 : -EBADE;
}

/*
 * The wait group lives on this task's stack, and the last done runs on
 * another worker: settling makes leaving the frame at once safe.
 */
static int tasks_main(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;
	struct work w = { .wg = &wg };
	weft_task *waiters[3];
	weft_task *t;
	int i, r;

	weft_waitgroup_add(&wg, WG_TASKS);
	for (i = 0; i < 3; i++) {
		waiters[i] = weft_spawn(waiter_task, &w);
		cr_assert_not_null(waiters[i], "spawn");
	}
	for (i = 0; i < WG_TASKS; i++) {
		t = weft_spawn(worker_task, &w);
		cr_assert_not_null(t, "spawn");
		weft_detach(t);
	}
	r = weft_waitgroup_wait(&wg);
	cr_assert_eq(r, 0, "wait returned %d", r);
	cr_assert_eq(atomic_load(&w.done), WG_TASKS, "returned at %d of %d",
		     atomic_load(&w.done), WG_TASKS);
	for (i = 0; i < 3; i++) {
		r = weft_join(waiters[i]);
		cr_assert_eq(r, 0, "waiter %d returned %d", i, r);
	}
	return 0;
}

Test(waitgroup, wait_returns_when_every_task_is_done)
{
	run_on_1_2_8(tasks_main, NULL);
}

#define THREAD_DONES 1000

static void *done_thread(void *arg)
{
	int i;

	while (weft__waitgroup_waiters(arg) == 0)
		sched_yield();
	for (i = 0; i < THREAD_DONES; i++)
		weft_waitgroup_done(arg);
	return NULL;
}

static int thread_main(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;
	pthread_t th;
	int r;

	weft_waitgroup_add(&wg, THREAD_DONES);
	cr_assert_eq(pthread_create(&th, NULL, done_thread, &wg), 0,
		     "pthread_create");
	r = weft_waitgroup_wait(&wg);
	cr_assert_eq(r, 0, "wait returned %d", r);
	pthread_join(th, NULL);
	return 0;
}

Test(waitgroup, done_from_a_plain_thread_wakes_the_waiting_task)
{
	run_on_1_2_8(thread_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int wait_task(void *arg)
{
	return weft_waitgroup_wait(arg);
}

static int cancel_main(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;
	weft_task *t;
	int r;

	weft_waitgroup_add(&wg, 1);
	t = weft_spawn(wait_task, &wg);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__waitgroup_waiters(&wg) == 1);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "cancelled wait returned %d", r);
	cr_assert_eq(weft__waitgroup_waiters(&wg), 0u, "withdrew");
	t = weft_spawn(wait_task, &wg);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__waitgroup_waiters(&wg) == 1);
	weft_waitgroup_done(&wg);
	cr_assert_eq(weft_join(t), 0, "a later wait");
	return 0;
}

Test(waitgroup, cancel_of_a_waiting_task_returns_ecanceled)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int self_cancel_task(void *arg)
{
	weft_cancel(weft_self());
	return weft_waitgroup_wait(arg);
}

static int cancelled_main(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;
	weft_task *t;
	int r;

	weft_waitgroup_add(&wg, 1);
	t = weft_spawn(self_cancel_task, &wg);
	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "wait in a cancelled task: %d", r);
	return 0;
}

Test(waitgroup, wait_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}

/* ------------------------------------------------------------- misuse */

static int done_below_zero_main(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;

	weft_waitgroup_done(&wg);
	return 0;
}

Test(waitgroup, done_below_zero_aborts)
{
	expect_abort(done_below_zero_main, "weft_waitgroup_done");
}

static int add_below_zero_main(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;

	weft_waitgroup_add(&wg, 1);
	weft_waitgroup_add(&wg, -2);
	return 0;
}

Test(waitgroup, add_below_zero_aborts)
{
	expect_abort(add_below_zero_main, "weft_waitgroup_add");
}
