/*
 * weft_barrier: rounds of n tasks, exactly one 1 per round, n <= 1 passes
 * at once, and a cancelled waiter withdraws and no longer counts.
 */
#include <errno.h>
#include <stdatomic.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(barrier, .timeout = 120);

static weft_barrier global_barrier = WEFT_BARRIER_INIT;

Test(barrier, wait_outside_a_task_returns_eperm)
{
	weft_barrier b;
	int r;

	weft_barrier_init(&b, 2);
	r = weft_barrier_wait(&b);
	cr_assert_eq(r, -EPERM, "wait outside a task returned %d", r);
}

static int trivial_main(void *arg)
{
	weft_barrier b;
	int r;

	r = weft_barrier_wait(&global_barrier);
	cr_assert_eq(r, 1, "WEFT_BARRIER_INIT (n = 0) wait returned %d", r);
	weft_barrier_init(&b, 1);
	r = weft_barrier_wait(&b);
	cr_assert_eq(r, 1, "n = 1: first wait returned %d", r);
	r = weft_barrier_wait(&b);
	cr_assert_eq(r, 1, "n = 1: second wait returned %d", r);
	return 0;
}

Test(barrier, static_initializer_and_n_1_pass_every_wait_at_once)
{
	run_on_1_2_8(trivial_main, NULL);
}

/* ------------------------------------------------------------- rounds */

#define R_TASKS 50
#define R_ROUNDS 100

struct rounds {
	weft_barrier b;
	atomic_int ones[R_ROUNDS];	/* 1s returned per round */
	atomic_int zeros[R_ROUNDS];
	atomic_int arrived[R_ROUNDS];	/* tasks that reached round i */
	atomic_int early;		/* a task passed before all arrived */
};

static int rounds_task(void *arg)
{
	struct rounds *s = arg;
	int i, r;

	for (i = 0; i < R_ROUNDS; i++) {
		atomic_fetch_add(&s->arrived[i], 1);
		r = weft_barrier_wait(&s->b);
		if (r < 0)
			return r;
		/* Nobody passes round i before everyone reached it. */
		if (atomic_load(&s->arrived[i]) != R_TASKS)
			atomic_fetch_add(&s->early, 1);
		atomic_fetch_add(r ? &s->ones[i] : &s->zeros[i], 1);
	}
	return 0;
}

static int rounds_main(void *arg)
{
	static struct rounds s;
	weft_task *ts[R_TASKS];
	int i, r;

	memset(&s, 0, sizeof(s));
	weft_barrier_init(&s.b, R_TASKS);
	for (i = 0; i < R_TASKS; i++) {
		ts[i] = weft_spawn(rounds_task, &s);
		cr_assert_not_null(ts[i], "spawn");
	}
	for (i = 0; i < R_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "task %d returned %d", i, r);
	}
	for (i = 0; i < R_ROUNDS; i++) {
		cr_assert_eq(atomic_load(&s.ones[i]), 1, "round %d: %d ones", i,
			     atomic_load(&s.ones[i]));
		cr_assert_eq(atomic_load(&s.zeros[i]), R_TASKS - 1,
			     "round %d: %d zeros", i, atomic_load(&s.zeros[i]));
	}
	cr_assert_eq(atomic_load(&s.early), 0, "%d passed a round early",
		     atomic_load(&s.early));
	return 0;
}

Test(barrier, many_rounds_give_exactly_one_1_per_round)
{
	run_on_1_2_8(rounds_main, NULL);
}

static int wait_task(void *arg)
{
	return weft_barrier_wait(arg);
}

static int blocks_main(void *arg)
{
	weft_barrier b;
	weft_task *t[2];
	int i, r, sum = 0;

	weft_barrier_init(&b, 3);
	for (i = 0; i < 2; i++) {
		t[i] = weft_spawn(wait_task, &b);
		cr_assert_not_null(t[i], "spawn");
	}
	YIELD_UNTIL(weft__barrier_waiters(&b) == 2);
	/* Two of three arrived: both still wait. */
	for (i = 0; i < 50; i++)
		weft_yield();
	cr_assert_eq(weft__barrier_waiters(&b), 2u, "released early");
	r = weft_barrier_wait(&b);
	cr_assert(r == 0 || r == 1, "main: %d", r);
	sum += r;
	for (i = 0; i < 2; i++) {
		r = weft_join(t[i]);
		cr_assert(r == 0 || r == 1, "task %d: %d", i, r);
		sum += r;
	}
	cr_assert_eq(sum, 1, "%d tasks got 1", sum);
	return 0;
}

Test(barrier, waiters_block_until_the_nth_arrives)
{
	run_on_1_2_8(blocks_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int cancel_main(void *arg)
{
	weft_barrier b;
	weft_task *t, *u;
	int r;

	weft_barrier_init(&b, 2);
	t = weft_spawn(wait_task, &b);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__barrier_waiters(&b) == 1);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "cancelled wait returned %d", r);
	cr_assert_eq(weft__barrier_waiters(&b), 0u, "withdrew");
	/* It no longer counts: one more arrival does not end the round. */
	u = weft_spawn(wait_task, &b);
	cr_assert_not_null(u, "spawn");
	YIELD_UNTIL(weft__barrier_waiters(&b) == 1);
	r = weft_barrier_wait(&b);
	cr_assert(r == 0 || r == 1, "main: %d", r);
	r += weft_join(u);
	cr_assert_eq(r, 1, "one 1 in the round (sum %d)", r);
	return 0;
}

Test(barrier, cancelled_waiter_returns_ecanceled_and_no_longer_counts)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int self_cancel_task(void *arg)
{
	weft_cancel(weft_self());
	return weft_barrier_wait(arg);
}

static int cancelled_main(void *arg)
{
	weft_barrier b;
	weft_task *t;
	int r;

	weft_barrier_init(&b, 2);
	t = weft_spawn(self_cancel_task, &b);
	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "wait in a cancelled task: %d", r);
	cr_assert_eq(weft__barrier_waiters(&b), 0u, "it did not arrive");
	return 0;
}

Test(barrier, wait_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}
