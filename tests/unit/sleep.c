/*
 * Sleeps, deadline scopes and join_timeout, through the public API.
 * Timing checks assert a lower bound (never early) and a generous upper
 * bound (the CI machine is small and shared).
 */
#include <errno.h>
#include <stdatomic.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(sleep, .timeout = 120);

#define MS 1000000ull
#define SLACK (500 * MS)

static const unsigned workers_set[] = { 1, 2, 8 };

/* ------------------------------------------------------------------ sleep */

static int sleep_20ms(void *arg)
{
	uint64_t t0 = weft_now(), dt;
	int r = weft_sleep(20 * MS);

	dt = weft_now() - t0;
	cr_assert_eq(r, 0, "weft_sleep returned %d", r);
	cr_assert_geq(dt, 20 * MS, "slept %llu ns: early",
		      (unsigned long long)dt);
	cr_assert_lt(dt, 20 * MS + SLACK, "slept %llu ns",
		     (unsigned long long)dt);
	return 0;
}

Test(sleep, never_ends_early)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(sleep_20ms, NULL, workers_set[i]), 0,
			     "run with %u workers", workers_set[i]);
}

Test(sleep, outside_a_task_returns_eperm)
{
	cr_assert_eq(weft_sleep(1), -EPERM, "weft_sleep outside a task");
	cr_assert_eq(weft_sleep_until(0), -EPERM, "sleep_until");
	cr_assert_eq(weft_deadline_push(1), -EPERM, "deadline_push");
	cr_assert_eq(weft_deadline_pop(), -EPERM, "deadline_pop");
}

static int past_deadline_main(void *arg)
{
	cr_assert_eq(weft_sleep(0), 0, "sleep(0)");
	cr_assert_eq(weft_sleep_until(weft_now() - 1), 0, "a past time");
	return 0;
}

Test(sleep, zero_or_a_past_time_yields_and_returns_0)
{
	cr_assert_eq(t_run(past_deadline_main, NULL, 2), 0, "run");
}

struct sleeper {
	atomic_int started;
	atomic_int result;
};

static int long_sleeper(void *arg)
{
	struct sleeper *s = arg;

	atomic_store(&s->started, 1);
	atomic_store(&s->result, weft_sleep(10000 * MS));
	return 0;
}

static int cancel_sleep_main(void *arg)
{
	struct sleeper s = { 0 };
	weft_task *t = weft_spawn(long_sleeper, &s);
	uint64_t t0;

	cr_assert_not_null(t, "spawn");
	while (!atomic_load(&s.started))
		weft_yield();
	weft_yield();
	t0 = weft_now();
	weft_cancel(t);
	cr_assert_eq(weft_join(t), 0, "join");
	cr_assert_eq(atomic_load(&s.result), -ECANCELED, "sleep returned %d",
		     atomic_load(&s.result));
	cr_assert_lt(weft_now() - t0, SLACK, "cancel took too long");
	return 0;
}

Test(sleep, cancel_ends_a_sleep_promptly_with_ecanceled)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(cancel_sleep_main, NULL, workers_set[i]),
			     0, "run with %u workers", workers_set[i]);
}

struct many {
	atomic_int early;
	atomic_int bad;
	atomic_int done;
};

static int random_sleeper(void *arg)
{
	struct many *m = arg;
	uint64_t d = (weft_task_id(weft_self()) % 20 + 1) * MS;
	uint64_t deadline = weft_now() + d;
	int r = weft_sleep_until(deadline);

	if (r != 0)
		atomic_fetch_add(&m->bad, 1);
	if (weft_now() < deadline)
		atomic_fetch_add(&m->early, 1);
	atomic_fetch_add(&m->done, 1);
	return 0;
}

static int many_main(void *arg)
{
	enum { N = 5000 };
	struct many *m = arg;
	static weft_task *ts[N];

	for (int i = 0; i < N; i++) {
		ts[i] = weft_spawn(random_sleeper, m);
		cr_assert_not_null(ts[i], "spawn %d", i);
	}
	for (int i = 0; i < N; i++)
		weft_join(ts[i]);
	return N;
}

Test(sleep, thousands_of_concurrent_sleeps_all_end_none_early)
{
	for (unsigned i = 0; i < 3; i++) {
		struct many m = { 0 };
		int n = t_run(many_main, &m, workers_set[i]);

		cr_assert_eq(atomic_load(&m.done), n, "%d of %d ended",
			     atomic_load(&m.done), n);
		cr_assert_eq(atomic_load(&m.early), 0, "%d ended early",
			     atomic_load(&m.early));
		cr_assert_eq(atomic_load(&m.bad), 0, "%d failed",
			     atomic_load(&m.bad));
	}
}

/* -------------------------------------------------------------- deadlines */

static weft_event never;

static int scope_times_out_main(void *arg)
{
	uint64_t t0 = weft_now(), dt;
	int r;

	cr_assert_eq(weft_deadline_push(20 * MS), 0, "push");
	r = weft_event_wait(&never);
	dt = weft_now() - t0;
	cr_assert_eq(r, -ETIMEDOUT, "event wait returned %d", r);
	cr_assert_geq(dt, 20 * MS, "timed out early: %llu ns",
		      (unsigned long long)dt);
	cr_assert_lt(dt, 20 * MS + SLACK, "timed out late");
	/* Level-triggered until the scope is popped. */
	cr_assert_eq(weft_yield(), -ETIMEDOUT, "yield past the deadline");
	cr_assert_eq(weft_sleep(1), -ETIMEDOUT, "sleep past the deadline");
	cr_assert_eq(weft_deadline_pop(), 1, "pop reports the expiry");
	cr_assert_eq(weft_yield(), 0, "yield after the pop");
	cr_assert_eq(weft_deadline_pop(), -EINVAL, "pop with no scope");
	return 0;
}

Test(sleep, a_passed_deadline_ends_waits_with_etimedout_until_popped)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(scope_times_out_main, NULL,
				   workers_set[i]), 0, "run");
}

static int nested_main(void *arg)
{
	uint64_t t0 = weft_now();

	/* Inner earlier: it wins, and the outer scope stays in force. */
	cr_assert_eq(weft_deadline_push(10000 * MS), 0, "outer push");
	cr_assert_eq(weft_deadline_push(20 * MS), 0, "inner push");
	cr_assert_eq(weft_sleep(10000 * MS), -ETIMEDOUT, "inner timeout");
	cr_assert_lt(weft_now() - t0, SLACK, "the earliest did not win");
	cr_assert_eq(weft_deadline_pop(), 1, "inner expired");
	cr_assert_eq(weft_yield(), 0, "outer not expired");
	cr_assert_eq(weft_deadline_pop(), 0, "outer pop");
	/* Inner later: the outer one still ends the wait. */
	t0 = weft_now();
	cr_assert_eq(weft_deadline_push(20 * MS), 0, "outer push");
	cr_assert_eq(weft_deadline_push(10000 * MS), 0, "inner push");
	cr_assert_eq(weft_event_wait(&never), -ETIMEDOUT, "outer timeout");
	cr_assert_lt(weft_now() - t0, SLACK, "outer deadline ignored");
	cr_assert_eq(weft_deadline_pop(), 0, "inner did not expire");
	cr_assert_eq(weft_deadline_pop(), 1, "outer expired");
	return 0;
}

Test(sleep, nested_scopes_the_earliest_deadline_wins)
{
	cr_assert_eq(t_run(nested_main, NULL, 2), 0, "run");
}

static int shield_main(void *arg)
{
	uint64_t t0 = weft_now();

	cr_assert_eq(weft_deadline_push(10 * MS), 0, "push");
	weft_shield_begin();
	cr_assert_eq(weft_sleep(40 * MS), 0, "sleep in a shield");
	cr_assert_geq(weft_now() - t0, 40 * MS, "shielded sleep cut short");
	weft_shield_end();
	cr_assert_eq(weft_yield(), -ETIMEDOUT, "after the shield");
	cr_assert_eq(weft_deadline_pop(), 1, "pop");
	return 0;
}

Test(sleep, shields_hold_off_deadlines)
{
	cr_assert_eq(t_run(shield_main, NULL, 1), 0, "run");
}

static int with_timeout_block(int how)
{
	WEFT_WITH_TIMEOUT(5 * MS)
	{
		cr_assert_eq(weft_sleep(1000 * MS), -ETIMEDOUT, "in block");
		if (how == 1)
			break;
		if (how == 2)
			return 7;
	}
	return 0;
}

static int with_timeout_main(void *arg)
{
	for (int how = 0; how < 3; how++) {
		int r = with_timeout_block(how);

		cr_assert_eq(r, how == 2 ? 7 : 0, "block returned %d", r);
		/* The scope was popped on the way out. */
		cr_assert_eq(weft_deadline_pop(), -EINVAL,
			     "a scope left open (how %d)", how);
		cr_assert_eq(weft_yield(), 0, "deadline still in force");
	}
	return 0;
}

Test(sleep, with_timeout_pops_on_every_way_out_of_the_block)
{
	cr_assert_eq(t_run(with_timeout_main, NULL, 2), 0, "run");
}

static int child_sleeps_50ms(void *arg)
{
	return weft_sleep(50 * MS);
}

static int not_inherited_main(void *arg)
{
	weft_task *t;

	cr_assert_eq(weft_deadline_push(5 * MS), 0, "push");
	t = weft_spawn(child_sleeps_50ms, NULL);
	cr_assert_not_null(t, "spawn");
	/* (Under Valgrind the 5 ms may pass before this pop: 0 or 1.) */
	cr_assert_geq(weft_deadline_pop(), 0, "pop");
	cr_assert_eq(weft_join(t), 0, "the child saw its parent's deadline");
	return 0;
}

Test(sleep, deadlines_are_not_inherited_by_spawned_tasks)
{
	cr_assert_eq(t_run(not_inherited_main, NULL, 2), 0, "run");
}

static int chan_deadline_main(void *arg)
{
	weft_chan *ch = weft_chan_new(sizeof(int), 1);
	int v = 5, out = 0;

	cr_assert_not_null(ch, "chan");
	cr_assert_eq(weft_deadline_push(10 * MS), 0, "push");
	cr_assert_eq(weft_chan_recv(ch, &out), -ETIMEDOUT, "recv");
	cr_assert_eq(weft_deadline_pop(), 1, "pop");
	cr_assert_eq(weft_chan_send(ch, &v), 0, "send after");
	cr_assert_eq(weft_chan_recv(ch, &out), 0, "recv after");
	cr_assert_eq(out, 5, "value");
	weft_chan_free(ch);
	return 0;
}

Test(sleep, a_deadline_ends_a_channel_wait_and_the_channel_stays_usable)
{
	cr_assert_eq(t_run(chan_deadline_main, NULL, 2), 0, "run");
}

/* ----------------------------------------------------------- join_timeout */

static int fast(void *arg)
{
	return 42;
}

static int join_timeout_main(void *arg)
{
	struct sleeper s = { 0 };
	weft_task *t = weft_spawn(long_sleeper, &s);
	uint64_t t0 = weft_now();

	cr_assert_not_null(t, "spawn");
	cr_assert_eq(weft_join_timeout(t, 20 * MS), -ETIMEDOUT, "timeout");
	cr_assert_lt(weft_now() - t0, SLACK, "late");
	/* The task was cancelled and awaited before the call returned. */
	cr_assert_eq(atomic_load(&s.result), -ECANCELED, "task saw %d",
		     atomic_load(&s.result));
	t = weft_spawn(fast, NULL);
	cr_assert_eq(weft_join_timeout(t, 1000 * MS), 42, "fast task");
	cr_assert_eq(weft_yield(), 0, "no scope left behind");
	return 0;
}

Test(sleep, join_timeout_cancels_and_awaits_the_task_on_timeout)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(join_timeout_main, NULL, workers_set[i]),
			     0, "run with %u workers", workers_set[i]);
}

/* ------------------------------------------------------------ regressions */

static int repeated_sleeps_main(void *arg)
{
	for (int i = 0; i < 300; i++)
		cr_assert_eq(weft_sleep((uint64_t)(i % 3 + 1) * 100000), 0,
			     "sleep %d", i);
	return 0;
}

/*
 * A worker about to park polled the timers, which woke the only task into
 * its own LIFO slot, and then slept with no timer left: the task was never
 * run (hung ~1 run in 5 with 2 workers before the fix).
 */
Test(sleep, a_timer_fired_by_a_parking_worker_is_not_left_asleep)
{
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(t_run(repeated_sleeps_main, NULL, workers_set[i]),
			     0, "run with %u workers", workers_set[i]);
}
