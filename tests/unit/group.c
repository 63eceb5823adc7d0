/*
 * Task groups: wait, the first failure, cancellation in every direction,
 * nesting, the error list, spawning into a closed group, and free.
 */
#include <errno.h>
#include <stdatomic.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(group, .timeout = 120);

#define MS 1000000ull
static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_WORKERS(w) \
	for (unsigned wi_ = 0, w; wi_ < 3 && (w = workers_set[wi_], 1); wi_++)

struct counts {
	atomic_int ran;
	atomic_int ok;
	atomic_int cancelled;
};

static int counted_sleeper(void *arg)
{
	struct counts *c = arg;
	int r;

	atomic_fetch_add(&c->ran, 1);
	r = weft_sleep(10000 * MS);
	if (r == -ECANCELED)
		atomic_fetch_add(&c->cancelled, 1);
	return r;
}

static int quick_ok(void *arg)
{
	struct counts *c = arg;

	atomic_fetch_add(&c->ran, 1);
	weft_yield();
	atomic_fetch_add(&c->ok, 1);
	return 0;
}

static int fail_eio(void *arg)
{
	weft_yield();
	return -EIO;
}

/* ----------------------------------------------------------------- wait */

static int all_ok_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();

	cr_assert_not_null(g, "group_new");
	for (int i = 0; i < 200; i++)
		cr_assert_not_null(weft_group_spawn(g, quick_ok, c), "spawn");
	cr_assert_eq(weft_group_wait(g), 0, "wait");
	cr_assert_eq(atomic_load(&c->ok), 200, "%d of 200 finished before "
		     "wait returned", atomic_load(&c->ok));
	weft_group_free(g);
	return 0;
}

Test(group, wait_returns_0_once_every_child_succeeded)
{
	FOR_WORKERS(w)
	{
		struct counts c = { 0 };

		cr_assert_eq(t_run(all_ok_main, &c, w), 0, "run, %u workers",
			     w);
	}
}

static int first_failure_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();
	uint64_t t0 = weft_now();
	int r;

	for (int i = 0; i < 20; i++)
		weft_group_spawn(g, counted_sleeper, c);
	weft_group_spawn(g, fail_eio, NULL);
	r = weft_group_wait(g);
	cr_assert_eq(r, -EIO, "wait returned %d", r);
	cr_assert_lt(weft_now() - t0, 5000 * MS, "siblings not cancelled");
	cr_assert_eq(atomic_load(&c->cancelled), atomic_load(&c->ran),
		     "%d ran, %d saw -ECANCELED", atomic_load(&c->ran),
		     atomic_load(&c->cancelled));
	weft_group_free(g);
	return 0;
}

Test(group, first_failure_cancels_siblings_and_is_returned)
{
	FOR_WORKERS(w)
	{
		struct counts c = { 0 };

		cr_assert_eq(t_run(first_failure_main, &c, w), 0, "run");
	}
}

static int child_cancelled_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();
	weft_task *t = weft_group_spawn(g, counted_sleeper, c);

	weft_group_spawn(g, quick_ok, c);
	while (!atomic_load(&c->ran))
		weft_yield();
	weft_cancel(t);
	cr_assert_eq(weft_group_wait(g), 0, "a child's -ECANCELED failed "
		     "the group");
	weft_group_free(g);
	return 0;
}

Test(group, a_childs_ecanceled_is_never_a_group_failure)
{
	struct counts c = { 0 };

	cr_assert_eq(t_run(child_cancelled_main, &c, 2), 0, "run");
}

static int cancel_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();

	for (int i = 0; i < 10; i++)
		weft_group_spawn(g, counted_sleeper, c);
	weft_yield();
	weft_group_cancel(g);
	cr_assert_eq(weft_group_wait(g), -ECANCELED, "after group_cancel");
	weft_group_free(g);
	/* A failure that came first wins over a later cancel. */
	g = weft_group_new();
	weft_group_spawn(g, fail_eio, NULL);
	weft_group_spawn(g, counted_sleeper, c);
	while (weft_group_errors(g, NULL, 0) == 0)
		weft_yield();
	weft_group_cancel(g);
	cr_assert_eq(weft_group_wait(g), -EIO, "failure then cancel");
	weft_group_free(g);
	return 0;
}

Test(group, cancel_makes_wait_return_ecanceled_unless_a_child_failed_first)
{
	FOR_WORKERS(w)
	{
		struct counts c = { 0 };

		cr_assert_eq(t_run(cancel_main, &c, w), 0, "run");
	}
}

static atomic_int never_ran_flag;

static int must_not_run(void *arg)
{
	atomic_store(&never_ran_flag, 1);
	return 0;
}

static int closed_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g;

	/* cancelled */
	g = weft_group_new();
	weft_group_cancel(g);
	t_errno_clear();
	cr_assert_null(weft_group_spawn(g, must_not_run, NULL), "cancelled");
	cr_assert_eq(t_errno(), ECANCELED, "errno %d", t_errno());
	weft_group_wait(g);
	weft_group_free(g);
	/* failing */
	g = weft_group_new();
	weft_group_spawn(g, fail_eio, NULL);
	weft_group_spawn(g, counted_sleeper, c);
	while (weft_group_errors(g, NULL, 0) == 0)
		weft_yield();
	t_errno_clear();
	cr_assert_null(weft_group_spawn(g, must_not_run, NULL), "failing");
	cr_assert_eq(t_errno(), ECANCELED, "errno %d", t_errno());
	weft_group_wait(g);
	weft_group_free(g);
	/* waited */
	g = weft_group_new();
	weft_group_wait(g);
	t_errno_clear();
	cr_assert_null(weft_group_spawn(g, must_not_run, NULL), "waited");
	cr_assert_eq(t_errno(), ECANCELED, "errno %d", t_errno());
	weft_group_free(g);
	for (int i = 0; i < 10; i++)
		weft_yield();
	cr_assert_eq(atomic_load(&never_ran_flag), 0, "a refused fn ran");
	return 0;
}

Test(group, spawn_into_a_cancelled_failing_or_waited_group_fails_with_ecanceled)
{
	struct counts c = { 0 };

	cr_assert_eq(t_run(closed_main, &c, 2), 0, "run");
}

struct waiter_arg {
	struct counts c;
	atomic_int started;
	atomic_int wait_result;
};

static int group_waiter(void *arg)
{
	struct waiter_arg *a = arg;
	weft_group *g = weft_group_new();

	for (int i = 0; i < 10; i++)
		weft_group_spawn(g, counted_sleeper, &a->c);
	atomic_store(&a->started, 1);
	atomic_store(&a->wait_result, weft_group_wait(g));
	/* Every child ended before the wait returned. */
	cr_assert_eq(atomic_load(&a->c.cancelled), atomic_load(&a->c.ran),
		     "children not all cancelled and awaited");
	weft_group_free(g);
	return 0;
}

static int cancel_waiter_main(void *arg)
{
	struct waiter_arg *a = arg;
	weft_task *t = weft_spawn(group_waiter, a);

	while (!atomic_load(&a->started))
		weft_yield();
	weft_yield();
	weft_cancel(t);
	cr_assert_eq(weft_join(t), 0, "waiter");
	cr_assert_eq(atomic_load(&a->wait_result), -ECANCELED, "wait got %d",
		     atomic_load(&a->wait_result));
	return 0;
}

Test(group, cancelling_the_waiter_cancels_the_children_and_awaits_them)
{
	FOR_WORKERS(w)
	{
		struct waiter_arg a = { 0 };

		cr_assert_eq(t_run(cancel_waiter_main, &a, w), 0, "run");
	}
}

static int deadline_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();
	int r;

	for (int i = 0; i < 5; i++)
		weft_group_spawn(g, counted_sleeper, c);
	/* At least one child is in its sleep before the deadline starts (a
	 * slow run, Valgrind on a busy machine, may take 20 ms to start
	 * one). */
	while (atomic_load(&c->ran) == 0)
		weft_yield();
	weft_deadline_push(20 * MS);
	r = weft_group_wait(g);
	weft_deadline_pop();
	cr_assert_eq(r, -ETIMEDOUT, "wait returned %d", r);
	/* Every child that got to its sleep was cancelled in it; on a slow
	 * run some are cancelled before they first run, and never count
	 * themselves. */
	cr_assert_eq(atomic_load(&c->cancelled), atomic_load(&c->ran),
		     "children cancelled %d of %d that ran",
		     atomic_load(&c->cancelled), atomic_load(&c->ran));
	weft_group_free(g);
	return 0;
}

Test(group, a_deadline_on_the_waiter_cancels_the_children_and_returns_etimedout)
{
	struct counts c = { 0 };

	cr_assert_eq(t_run(deadline_main, &c, 2), 0, "run");
}

/* After the group's first failure cancels it, a sibling fails too. */
static int fail_after_cancel(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	if (weft_sleep(10000 * MS) == -ECANCELED)
		return -EPIPE;
	return 0;
}

static int errors_main(void *arg)
{
	weft_group *g = weft_group_new();
	atomic_int started = 0;
	int out[8];
	size_t n;

	for (int i = 0; i < 3; i++)
		weft_group_spawn(g, fail_after_cancel, &started);
	/* All three must be running (not cancelled before they start). */
	while (atomic_load(&started) < 3)
		weft_yield();
	weft_group_spawn(g, fail_eio, NULL);
	cr_assert_eq(weft_group_wait(g), -EIO, "first failure");
	n = weft_group_errors(g, out, 8);
	cr_assert_eq(n, 4, "%zu failures", n);
	cr_assert_eq(out[0], -EIO, "oldest first: %d", out[0]);
	for (size_t i = 1; i < n; i++)
		cr_assert_eq(out[i], -EPIPE, "failure %zu: %d", i, out[i]);
	cr_assert_eq(weft_group_errors(g, out, 1), 4, "count with a small cap");
	weft_group_free(g);
	return 0;
}

Test(group, errors_lists_every_failure_oldest_first)
{
	cr_assert_eq(t_run(errors_main, NULL, 2), 0, "run");
}

static int inner_group(void *arg)
{
	weft_group *g = weft_group_new();
	int r;

	weft_group_spawn(g, quick_ok, arg);
	weft_group_spawn(g, fail_eio, NULL);
	r = weft_group_wait(g);
	weft_group_free(g);
	return r;
}

static int nest_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();

	weft_group_spawn(g, inner_group, c);
	weft_group_spawn(g, counted_sleeper, c);
	cr_assert_eq(weft_group_wait(g), -EIO, "inner failure propagates");
	weft_group_free(g);
	return 0;
}

Test(group, groups_nest_and_an_inner_failure_fails_the_outer_group)
{
	struct counts c = { 0 };

	cr_assert_eq(t_run(nest_main, &c, 2), 0, "run");
}

static int free_main(void *arg)
{
	struct counts *c = arg;
	weft_group *g = weft_group_new();

	for (int i = 0; i < 10; i++)
		weft_group_spawn(g, counted_sleeper, c);
	weft_yield();
	weft_group_free(g);
	cr_assert_eq(atomic_load(&c->cancelled), atomic_load(&c->ran),
		     "free did not cancel and await");
	return 0;
}

Test(group, free_without_wait_cancels_and_awaits_the_children)
{
	FOR_WORKERS(w)
	{
		struct counts c = { 0 };

		cr_assert_eq(t_run(free_main, &c, w), 0, "run");
	}
}
