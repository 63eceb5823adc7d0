/*
 * weft_limiter: a token bucket that starts full and refills at its rate,
 * serves waiters in order, refuses more than burst, and lets an interrupted
 * waiter leave with nothing taken.  Timing checks: a lower bound (the rate
 * is never exceeded) and a generous upper bound.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(limiter, .timeout = 120);

#define MS 1000000ull
#define SLACK (2000 * MS)

Test(limiter, acquire_outside_a_task_returns_eperm)
{
	weft_limiter l;

	weft_limiter_init(&l, 10, 10);
	cr_assert_eq(weft_limiter_acquire(&l, 1), -EPERM, "acquire");
	cr_assert_eq(weft_limiter_try_acquire(&l, 1), 0, "try works anywhere");
}

static int einval_main(void *arg)
{
	weft_limiter l;
	int r;

	weft_limiter_init(&l, 1000, 10);
	r = weft_limiter_acquire(&l, 11);
	cr_assert_eq(r, -EINVAL, "acquire beyond burst returned %d", r);
	r = weft_limiter_try_acquire(&l, 11);
	cr_assert_eq(r, -EINVAL, "try_acquire beyond burst returned %d", r);
	cr_assert_eq(weft_limiter_acquire(&l, 10), 0, "the whole burst");
	return 0;
}

Test(limiter, acquire_beyond_burst_returns_einval)
{
	run_on_1_2_8(einval_main, NULL);
}

static weft_limiter zero_limiter = WEFT_LIMITER_INIT;

static int zero_main(void *arg)
{
	for (unsigned i = 0; i < 1000; i++)
		cr_assert_eq(weft_limiter_acquire(&zero_limiter, 1u << 20), 0,
			     "acquire on a zero limiter");
	cr_assert_eq(weft_limiter_try_acquire(&zero_limiter, UINT64_MAX), 0,
		     "try_acquire on a zero limiter");
	return 0;
}

Test(limiter, an_all_zero_limiter_is_unlimited)
{
	run_on_1_2_8(zero_main, NULL);
}

Test(limiter, the_bucket_starts_full_and_try_acquire_is_eagain_when_empty)
{
	weft_limiter l;

	weft_limiter_init(&l, 1, 5);
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(weft_limiter_try_acquire(&l, 1), 0, "token %u", i);
	cr_assert_eq(weft_limiter_try_acquire(&l, 1), -EAGAIN, "empty");
	weft_limiter_init(&l, 1, 0);
	cr_assert_eq(weft_limiter_try_acquire(&l, 1), 0, "burst 0 means 1");
	cr_assert_eq(weft_limiter_try_acquire(&l, 2), -EINVAL, "not 2");
}

/* ---------------------------------------------------------------- rate */

#define RATE_TASKS 5
#define RATE_EACH 22	/* 5 x 22 = 110 tokens */

static weft_limiter rate_limiter;

static int rate_task(void *arg)
{
	for (unsigned i = 0; i < RATE_EACH; i++) {
		int r = weft_limiter_acquire(&rate_limiter, 1);

		if (r)
			return r;
	}
	return 0;
}

static int rate_main(void *arg)
{
	weft_task *t[RATE_TASKS];
	uint64_t t0 = weft_now(), dt;

	weft_limiter_init(&rate_limiter, 1000, 10);
	for (unsigned i = 0; i < RATE_TASKS; i++)
		t[i] = weft_spawn(rate_task, NULL);
	for (unsigned i = 0; i < RATE_TASKS; i++)
		cr_assert_eq(weft_join(t[i]), 0, "task %u", i);
	dt = weft_now() - t0;
	/* 10 from the full bucket, then 100 at 1000/s. */
	cr_assert_geq(dt, 100 * MS, "110 tokens in %llu ns: too fast",
		      (unsigned long long)dt);
	cr_assert_lt(dt, 100 * MS + SLACK, "110 tokens in %llu ns",
		     (unsigned long long)dt);
	return 0;
}

Test(limiter, rate_is_respected_over_time)
{
	run_on_1_2_8(rate_main, NULL);
}

/* --------------------------------------------------------------- order */

#define ORDERED 5

struct ordered {
	weft_limiter *l;
	atomic_uint *next;
	unsigned me;
	uint64_t n;
	unsigned got;
};

static int ordered_task(void *arg)
{
	struct ordered *o = arg;
	int r = weft_limiter_acquire(o->l, o->n);

	o->got = atomic_fetch_add(o->next, 1);
	return r;
}

static int order_main(void *arg)
{
	static const uint64_t want[ORDERED] = { 4, 1, 3, 1, 2 };
	struct ordered o[ORDERED];
	weft_task *t[ORDERED];
	atomic_uint next = 0;
	weft_limiter l;

	weft_limiter_init(&l, 50, 4);
	cr_assert_eq(weft_limiter_try_acquire(&l, 4), 0, "drain");
	for (unsigned i = 0; i < ORDERED; i++) {
		o[i] = (struct ordered){ &l, &next, i, want[i], 0 };
		t[i] = weft_spawn(ordered_task, &o[i]);
		/* Queued behind the others; on a loaded machine the head
		 * (80 ms of tokens) may be served first: then it is gone. */
		YIELD_UNTIL(weft__limiter_waiters(&l) + atomic_load(&next) ==
			    i + 1);
	}
	/* Small requests behind a big one wait for it: no overtaking. */
	for (unsigned i = 0; i < ORDERED; i++) {
		cr_assert_eq(weft_join(t[i]), 0, "waiter %u", i);
		cr_assert_eq(o[i].got, i, "waiter %u was served as %u", i,
			     o[i].got);
	}
	return 0;
}

Test(limiter, waiters_are_served_in_order)
{
	run_on_1_2_8(order_main, NULL);
}

/* A waiter for 1000 tokens: at the rates below, far longer than the
 * tests' sleeps, even when a loaded machine makes those overshoot. */
static int want_lots(void *arg)
{
	return weft_limiter_acquire(arg, 1000);
}

static int overtake_main(void *arg)
{
	weft_limiter l;
	weft_task *t;
	int r;

	weft_limiter_init(&l, 1000, 1000);
	cr_assert_eq(weft_limiter_try_acquire(&l, 1000), 0, "drain");
	t = weft_spawn(want_lots, &l);
	YIELD_UNTIL(weft__limiter_waiters(&l) == 1);
	/* Let a few tokens in (the measured quantity, not a hand-off); the
	 * waiter needs 1 s of them, so a sleep that overshoots by most of a
	 * second on a loaded machine changes nothing. */
	weft_sleep(30 * MS);
	r = weft_limiter_try_acquire(&l, 1);
	cr_assert_eq(r, -EAGAIN, "try_acquire overtook a waiter: %d", r);
	cr_assert_eq(weft_join(t), 0, "the waiter is served");
	return 0;
}

Test(limiter, try_acquire_never_overtakes_a_waiter)
{
	run_on_1_2_8(overtake_main, NULL);
}

/* -------------------------------------------------------- interruption */

static int want_1(void *arg)
{
	return weft_limiter_acquire(arg, 1);
}

static int cancel_main(void *arg)
{
	weft_limiter l;
	weft_task *a, *b;
	int r;

	weft_limiter_init(&l, 10, 1000);
	cr_assert_eq(weft_limiter_try_acquire(&l, 1000), 0, "drain");
	a = weft_spawn(want_lots, &l);
	YIELD_UNTIL(weft__limiter_waiters(&l) == 1);
	b = weft_spawn(want_1, &l);
	YIELD_UNTIL(weft__limiter_waiters(&l) == 2);
	/* Let ~3 tokens in while the head waits for 1000 (100 s: a sleep
	 * that overshoots on a loaded machine cannot let it through). */
	weft_sleep(300 * MS);
	weft_cancel(a);
	r = weft_join(a);
	cr_assert_eq(r, -ECANCELED, "the cancelled waiter returned %d", r);
	cr_assert_eq(weft_join(b), 0, "the next in line proceeds");
	cr_assert_eq(weft_limiter_try_acquire(&l, 1), 0,
		     "the cancelled waiter took nothing: tokens are left");
	return 0;
}

Test(limiter, cancelled_waiter_takes_no_tokens)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int deadline_main(void *arg)
{
	weft_limiter l;
	uint64_t t0;
	int r = 1;

	weft_limiter_init(&l, 1, 1);
	cr_assert_eq(weft_limiter_try_acquire(&l, 1), 0, "drain");
	t0 = weft_now();
	WEFT_WITH_TIMEOUT(20 * MS) {
		r = weft_limiter_acquire(&l, 1);
	}
	cr_assert_eq(r, -ETIMEDOUT, "acquire past a deadline returned %d", r);
	cr_assert_geq(weft_now() - t0, 20 * MS, "never early");
	cr_assert_eq(weft__limiter_waiters(&l), 0u, "withdrew");
	return 0;
}

Test(limiter, deadline_ends_a_wait_with_etimedout)
{
	run_on_1_2_8(deadline_main, NULL);
}

static int cancelled_task(void *arg)
{
	weft_cancel(weft_self());
	return weft_limiter_acquire(arg, 1);
}

static int cancelled_main(void *arg)
{
	weft_limiter l;
	int r;

	weft_limiter_init(&l, 10, 10);
	r = weft_join(weft_spawn(cancelled_task, &l));
	cr_assert_eq(r, -ECANCELED, "acquire in a cancelled task: %d", r);
	cr_assert_eq(weft_limiter_try_acquire(&l, 10), 0, "nothing taken");
	return 0;
}

Test(limiter, acquire_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}

/* --------------------------------------------------------------- churn */

#define CHURN_TASKS 64
#define CHURN_EACH 5

static int churn_task(void *arg)
{
	for (unsigned i = 0; i < CHURN_EACH; i++) {
		int r = weft_limiter_acquire(arg, 1 + i % 2);

		if (r)
			return r;
	}
	return 0;
}

static int churn_main(void *arg)
{
	weft_task *t[CHURN_TASKS];
	weft_limiter l;

	weft_limiter_init(&l, 100000, 2);
	for (unsigned i = 0; i < CHURN_TASKS; i++)
		t[i] = weft_spawn(churn_task, &l);
	for (unsigned i = 0; i < CHURN_TASKS; i++) {
		if (i % 7 == 0)
			weft_cancel(t[i]);
	}
	for (unsigned i = 0; i < CHURN_TASKS; i++) {
		int r = weft_join(t[i]);

		cr_assert(r == 0 || (r == -ECANCELED && i % 7 == 0),
			  "task %u returned %d", i, r);
	}
	cr_assert_eq(weft__limiter_waiters(&l), 0u, "nobody left waiting");
	return 0;
}

Test(limiter, many_tasks_on_many_workers_all_get_their_tokens)
{
	run_on_1_2_8(churn_main, NULL);
}
