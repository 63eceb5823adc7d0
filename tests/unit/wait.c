/*
 * gather, wait and next_done.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(wait, .timeout = 120);

#define MS 1000000ull
static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_WORKERS(w) \
	for (unsigned wi_ = 0, w; wi_ < 3 && (w = workers_set[wi_], 1); wi_++)

/* Sleeps arg ms, then returns -(arg) when arg is odd, arg when even. */
static int sleep_then(void *arg)
{
	intptr_t ms = (intptr_t)arg;
	int r = weft_sleep((uint64_t)ms * MS);

	if (r)
		return r;
	return ms % 2 ? -(int)ms : (int)ms;
}

static weft_task *spawn_ms(intptr_t ms)
{
	weft_task *t = weft_spawn(sleep_then, (void *)ms);

	cr_assert_not_null(t, "spawn");
	return t;
}

/* A task that finishes with status when its gate opens: tests that need
 * one task to end before another open the gates in that order, instead of
 * trusting sleeps of different lengths to end in order. */
struct gate {
	weft_event open;
	int status;
};

static int gated(void *arg)
{
	struct gate *g = arg;
	int r = weft_event_wait(&g->open);

	return r ? r : g->status;
}

static weft_task *spawn_gated(struct gate *g, int status)
{
	weft_task *t;

	weft_event_init(&g->open);
	g->status = status;
	t = weft_spawn(gated, g);
	cr_assert_not_null(t, "spawn");
	return t;
}

/* --------------------------------------------------------------- gather */

static int gather_ok_main(void *arg)
{
	weft_task *ts[50];

	for (int i = 0; i < 50; i++)
		ts[i] = spawn_ms(2 * (i % 5));
	cr_assert_eq(weft_gather(ts, 50, NULL), 0, "all succeeded");
	return 0;
}

Test(wait, gather_returns_0_when_every_task_succeeds)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(gather_ok_main, NULL, w), 0, "run");
}

static int gather_first_main(void *arg)
{
	/* Input order: the later failure (-201 after 201 ms) comes first.
	 * "First in time" is about time, and gates cannot order it: gather
	 * joins (and frees) the first task to end, so nothing outside it
	 * can tell when to let the second end.  198 ms apart. */
	weft_task *ts[3] = { spawn_ms(201), spawn_ms(3), spawn_ms(10) };

	cr_assert_eq(weft_gather(ts, 3, NULL), -3,
		     "not the first failure in time");
	return 0;
}

Test(wait, gather_returns_the_first_failure_in_time_not_in_input_order)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(gather_first_main, NULL, w), 0, "run");
}

static int gather_statuses_main(void *arg)
{
	weft_task *ts[4] = { spawn_ms(9), spawn_ms(2), spawn_ms(5),
			     spawn_ms(0) };
	int st[4] = { 99, 99, 99, 99 };

	cr_assert_eq(weft_gather(ts, 4, st), 0, "return_exceptions form");
	cr_assert_eq(st[0], -9, "status 0: %d", st[0]);
	cr_assert_eq(st[1], 2, "status 1: %d", st[1]);
	cr_assert_eq(st[2], -5, "status 2: %d", st[2]);
	cr_assert_eq(st[3], 0, "status 3: %d", st[3]);
	return 0;
}

Test(wait, gather_with_statuses_stores_every_status_in_input_order)
{
	cr_assert_eq(t_run(gather_statuses_main, NULL, 2), 0, "run");
}

struct gather_cancel {
	atomic_int started;
	atomic_int ran;
	atomic_int cancelled;
	atomic_int result;
};

static int long_child(void *arg)
{
	struct gather_cancel *g = arg;
	int r;

	atomic_fetch_add(&g->ran, 1);
	r = weft_sleep(10000 * MS);
	if (r == -ECANCELED)
		atomic_fetch_add(&g->cancelled, 1);
	return r;
}

static int gatherer(void *arg)
{
	struct gather_cancel *g = arg;
	weft_task *ts[10];

	for (int i = 0; i < 10; i++)
		ts[i] = weft_spawn(long_child, g);
	atomic_store(&g->started, 1);
	atomic_store(&g->result, weft_gather(ts, 10, NULL));
	return 0;
}

static int gather_cancel_main(void *arg)
{
	struct gather_cancel *g = arg;
	weft_task *t = weft_spawn(gatherer, g);

	while (!atomic_load(&g->started))
		weft_yield();
	weft_yield();
	weft_cancel(t);
	weft_join(t);
	cr_assert_eq(atomic_load(&g->result), -ECANCELED, "gather got %d",
		     atomic_load(&g->result));
	/* A child cancelled before it started never runs; every one that
	 * did run saw its cancellation before gather returned. */
	cr_assert_eq(atomic_load(&g->cancelled), atomic_load(&g->ran),
		     "%d ran, %d saw -ECANCELED before gather returned",
		     atomic_load(&g->ran), atomic_load(&g->cancelled));
	return 0;
}

Test(wait, gather_in_a_cancelled_task_cancels_and_awaits_every_task)
{
	FOR_WORKERS(w)
	{
		struct gather_cancel g = { 0 };

		cr_assert_eq(t_run(gather_cancel_main, &g, w), 0, "run");
	}
}

/* ----------------------------------------------------------------- wait */

static int wait_first_main(void *arg)
{
	struct gate g[3];
	weft_task *ts[3] = { spawn_gated(&g[0], 200), spawn_gated(&g[1], 4),
			     spawn_gated(&g[2], 300) };
	size_t idx = 99;

	weft_event_set(&g[1].open);
	cr_assert_eq(weft_wait(ts, 3, WEFT_FIRST_COMPLETED, WEFT_FOREVER,
			       &idx), 0, "wait");
	cr_assert_eq(idx, 1, "first done index %zu", idx);
	/* wait releases nothing and cancels nothing. */
	cr_assert_eq(weft_join(ts[1]), 4, "finished task");
	weft_event_set(&g[0].open);
	weft_event_set(&g[2].open);
	cr_assert_eq(weft_join(ts[0]), 200, "still running task");
	cr_assert_eq(weft_join(ts[2]), 300, "still running task");
	return 0;
}

Test(wait, first_completed_returns_the_index_of_the_finished_task)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(wait_first_main, NULL, w), 0, "run");
}

static int wait_timeout_main(void *arg)
{
	struct gate g[2];
	weft_task *ts[2] = { spawn_gated(&g[0], 100), spawn_gated(&g[1], 120) };
	uint64_t t0 = weft_now();

	cr_assert_eq(weft_wait(ts, 2, WEFT_ALL_COMPLETED, 10 * MS, NULL),
		     -ETIMEDOUT, "timeout");
	cr_assert_geq(weft_now() - t0, 10 * MS, "timed out early");
	cr_assert_eq(weft_yield(), 0, "the timeout scope was left open");
	weft_event_set(&g[0].open);
	weft_event_set(&g[1].open);
	cr_assert_eq(weft_join(ts[0]), 100, "not cancelled");
	cr_assert_eq(weft_join(ts[1]), 120, "not cancelled");
	return 0;
}

Test(wait, a_timeout_returns_etimedout_and_cancels_nothing)
{
	cr_assert_eq(t_run(wait_timeout_main, NULL, 2), 0, "run");
}

static int wait_exception_main(void *arg)
{
	struct gate g[3];
	weft_task *ts[3] = { spawn_gated(&g[0], 300), spawn_gated(&g[1], -7),
			     spawn_gated(&g[2], 2) };
	weft_task *ok[2];
	size_t idx = 99;

	weft_event_set(&g[2].open);
	weft_event_set(&g[1].open);
	cr_assert_eq(weft_wait(ts, 3, WEFT_FIRST_EXCEPTION, WEFT_FOREVER,
			       &idx), 0, "wait");
	cr_assert_eq(idx, 1, "the failed task (index %zu)", idx);
	weft_event_set(&g[0].open);
	cr_assert_eq(weft_gather(ts, 3, NULL), -7, "gather after");
	/* No failure at all: the same as ALL_COMPLETED. */
	ok[0] = spawn_ms(2);
	ok[1] = spawn_ms(6);
	cr_assert_eq(weft_wait(ok, 2, WEFT_FIRST_EXCEPTION, WEFT_FOREVER,
			       &idx), 0, "no failure");
	cr_assert_eq(weft_join(ok[0]), 2, "done");
	cr_assert_eq(weft_join(ok[1]), 6, "done");
	return 0;
}

Test(wait, first_exception_returns_on_a_failure_else_when_all_completed)
{
	cr_assert_eq(t_run(wait_exception_main, NULL, 2), 0, "run");
}

static int wait_all_main(void *arg)
{
	weft_task *ts[20];

	for (int i = 0; i < 20; i++)
		ts[i] = spawn_ms(i % 4);
	cr_assert_eq(weft_wait(ts, 20, WEFT_ALL_COMPLETED, WEFT_FOREVER,
			       NULL), 0, "wait");
	for (int i = 0; i < 20; i++)
		cr_assert_eq(weft_wait(&ts[i], 1, WEFT_FIRST_COMPLETED, 0,
				       NULL), 0, "task %d not done", i);
	cr_assert_eq(weft_gather(ts, 20, NULL), -1, "statuses");
	return 0;
}

Test(wait, all_completed_returns_when_every_task_finished)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(wait_all_main, NULL, w), 0, "run");
}

/* ------------------------------------------------------------ next_done */

static weft_event release[4];

static int wait_release(void *arg)
{
	intptr_t i = (intptr_t)arg;

	weft_event_wait(&release[i]);
	return (int)i;
}

static int next_done_main(void *arg)
{
	static const int order[4] = { 2, 0, 3, 1 };
	weft_task *ts[5];
	weft_task *t;

	for (int i = 0; i < 4; i++) {
		weft_event_init(&release[i]);
		ts[i] = weft_spawn(wait_release, (void *)(intptr_t)i);
		cr_assert_not_null(ts[i], "spawn");
	}
	ts[4] = NULL; /* skipped */
	/* Let one task finish at a time: next_done must return that one. */
	for (int k = 0; k < 4; k++) {
		weft_event_set(&release[order[k]]);
		t = weft_next_done(ts, 5);
		cr_assert_not_null(t, "next_done %d returned NULL", k);
		cr_assert_eq(weft_join(t), order[k], "result %d", k);
		cr_assert_null(ts[order[k]], "slot %d not cleared", order[k]);
	}
	t_errno_clear();
	cr_assert_null(weft_next_done(ts, 5), "all slots NULL");
	cr_assert_eq(t_errno(), 0, "errno %d at the end", t_errno());
	return 0;
}

Test(wait, next_done_returns_tasks_in_completion_order_and_clears_their_slots)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(next_done_main, NULL, w), 0, "run");
}

Test(wait, outside_a_task_the_combinators_return_eperm)
{
	weft_task *none[1] = { NULL };

	cr_assert_eq(weft_gather(NULL, 0, NULL), -EPERM, "gather");
	cr_assert_eq(weft_wait(NULL, 0, WEFT_ALL_COMPLETED, 0, NULL), -EPERM,
		     "wait");
	errno = 0;
	cr_assert_null(weft_next_done(none, 1), "next_done");
	cr_assert_eq(errno, EPERM, "errno %d", errno);
}
