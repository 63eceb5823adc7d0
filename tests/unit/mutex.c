/*
 * weft_mutex: mutual exclusion, FIFO hand-off, ownership checks, the try
 * form, cancellation of a blocked lock, and WEFT_WITH_LOCK.
 */
#include <errno.h>
#include <stdatomic.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(mutex, .timeout = 120);

static weft_mutex global_mutex = WEFT_MUTEX_INIT;

Test(mutex, lock_and_trylock_outside_a_task_return_eperm)
{
	weft_mutex m = WEFT_MUTEX_INIT;
	int r;

	r = weft_mutex_lock(&m);
	cr_assert_eq(r, -EPERM, "lock outside a task returned %d", r);
	r = weft_mutex_trylock(&m);
	cr_assert_eq(r, -EPERM, "trylock outside a task returned %d", r);
}

static int static_init_main(void *arg)
{
	int r = weft_mutex_lock(&global_mutex);

	cr_assert_eq(r, 0, "lock of WEFT_MUTEX_INIT returned %d", r);
	weft_mutex_unlock(&global_mutex);
	r = weft_mutex_trylock(&global_mutex);
	cr_assert_eq(r, 0, "trylock after unlock returned %d", r);
	weft_mutex_unlock(&global_mutex);
	return 0;
}

Test(mutex, static_initializer_is_an_unlocked_mutex)
{
	run_on_1_2_8(static_init_main, NULL);
}

/* ------------------------------------------------------------ trylock */

static int try_other(void *arg)
{
	return weft_mutex_trylock(arg);
}

static int trylock_main(void *arg)
{
	weft_mutex m;
	weft_task *t;
	int r;

	weft_mutex_init(&m);
	cr_assert_eq(weft_mutex_trylock(&m), 0, "trylock of a free mutex");
	r = weft_mutex_trylock(&m);
	cr_assert_eq(r, -EAGAIN, "trylock by the holder returned %d", r);
	t = weft_spawn(try_other, &m);
	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -EAGAIN, "trylock by another task returned %d", r);
	weft_mutex_unlock(&m);
	t = weft_spawn(try_other, &m);
	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, 0, "trylock after unlock returned %d", r);
	/* That task ended holding it: the mutex stays locked. */
	cr_assert_eq(weft_mutex_trylock(&m), -EAGAIN, "still held");
	return 0;
}

Test(mutex, trylock_returns_eagain_while_held)
{
	run_on_1_2_8(trylock_main, NULL);
}

/* ---------------------------------------------------- mutual exclusion */

#define EXCL_TASKS 1000
#define EXCL_ITERS 100

struct excl {
	weft_mutex m;
	int counter;		/* plain: the mutex is the only guard */
	atomic_int inside;	/* tasks inside the critical section */
	atomic_int overlap;	/* times two were inside at once */
};

static int excl_task(void *arg)
{
	struct excl *e = arg;
	int i, r;

	for (i = 0; i < EXCL_ITERS; i++) {
		r = weft_mutex_lock(&e->m);
		if (r)
			return r;
		if (atomic_fetch_add(&e->inside, 1) != 0)
			atomic_fetch_add(&e->overlap, 1);
		e->counter++;
		/* Suspend inside now and then, so that waiters queue. */
		if (i % 10 == 0)
			weft_yield();
		atomic_fetch_sub(&e->inside, 1);
		weft_mutex_unlock(&e->m);
	}
	return 0;
}

static int excl_main(void *arg)
{
	static weft_task *ts[EXCL_TASKS];
	struct excl e = { .m = WEFT_MUTEX_INIT };
	int i, r;

	for (i = 0; i < EXCL_TASKS; i++) {
		ts[i] = weft_spawn(excl_task, &e);
		cr_assert_not_null(ts[i], "spawn %d", i);
	}
	for (i = 0; i < EXCL_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "task %d returned %d", i, r);
	}
	cr_assert_eq(atomic_load(&e.overlap), 0, "%d overlaps",
		     atomic_load(&e.overlap));
	cr_assert_eq(e.counter, EXCL_TASKS * EXCL_ITERS, "counter %d",
		     e.counter);
	return 0;
}

Test(mutex, mutual_exclusion_holds_for_1000_tasks_of_100_increments)
{
	run_on_1_2_8(excl_main, NULL);
}

/* -------------------------------------------------------------- FIFO */

#define FIFO_N 16

struct fifo {
	weft_mutex m;
	int order[FIFO_N];	/* under m */
	int n;			/* under m */
};

struct fifo_arg {
	struct fifo *f;
	int id;
};

static int fifo_task(void *arg)
{
	struct fifo_arg *a = arg;
	int r = weft_mutex_lock(&a->f->m);

	if (r)
		return r;
	a->f->order[a->f->n++] = a->id;
	weft_mutex_unlock(&a->f->m);
	return 0;
}

static int fifo_main(void *arg)
{
	struct fifo f = { .m = WEFT_MUTEX_INIT };
	struct fifo_arg a[FIFO_N];
	weft_task *ts[FIFO_N];
	int i, r;

	cr_assert_eq(weft_mutex_lock(&f.m), 0, "lock");
	for (i = 0; i < FIFO_N; i++) {
		a[i] = (struct fifo_arg){ &f, i };
		ts[i] = weft_spawn(fifo_task, &a[i]);
		cr_assert_not_null(ts[i], "spawn");
		/* Task i queues before task i + 1 is even spawned. */
		YIELD_UNTIL(weft__mutex_waiters(&f.m) == (unsigned)i + 1);
	}
	weft_mutex_unlock(&f.m);
	for (i = 0; i < FIFO_N; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "task %d returned %d", i, r);
	}
	for (i = 0; i < FIFO_N; i++)
		cr_assert_eq(f.order[i], i, "position %d went to task %d", i,
			     f.order[i]);
	return 0;
}

Test(mutex, unlock_hands_the_lock_to_the_oldest_waiter)
{
	run_on_1_2_8(fifo_main, NULL);
}

/*
 * A running task may take a free mutex ahead of a parked waiter (barging:
 * no convoy), but never forever: a waiter overtaken for over 1 ms gets the
 * mutex handed to it, and then trylock fails between owners.
 */
static int starve_main(void *arg)
{
	struct fifo f = { .m = WEFT_MUTEX_INIT };
	struct fifo_arg a = { &f, 0 };
	uint64_t t0;
	bool refused = false;
	weft_task *t;

	cr_assert_eq(weft_mutex_lock(&f.m), 0, "lock");
	t = weft_spawn(fifo_task, &a);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__mutex_waiters(&f.m) == 1);
	t0 = weft_now();
	/* Release and retake at once, letting the waiter run (and lose)
	 * in between, until it gets the mutex: handed to it (our trylock
	 * is refused), or taken while free. */
	while (!refused) {
		cr_assert_lt(weft_now() - t0, 5000000000ull,
			     "the waiter was overtaken for 5 s");
		weft_mutex_unlock(&f.m);
		if (weft_mutex_trylock(&f.m) != 0)
			refused = true;
		else if (f.n == 1) /* read under the mutex */
			break;
		else
			weft_yield();
	}
	if (!refused)
		weft_mutex_unlock(&f.m);
	cr_assert_eq(weft_join(t), 0, "waiter");
	cr_assert_eq(f.n, 1, "the waiter ran");
	cr_assert_eq(weft_mutex_trylock(&f.m), 0, "free again");
	weft_mutex_unlock(&f.m);
	return 0;
}

Test(mutex, a_waiter_is_never_overtaken_forever)
{
	run_on_1_2_8(starve_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int lock_task(void *arg)
{
	int r = weft_mutex_lock(arg);

	if (r == 0)
		weft_mutex_unlock(arg);
	return r;
}

static int cancel_blocked_main(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;
	weft_task *t;
	int r;

	cr_assert_eq(weft_mutex_lock(&m), 0, "lock");
	t = weft_spawn(lock_task, &m);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__mutex_waiters(&m) == 1);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "cancelled lock returned %d", r);
	cr_assert_eq(weft__mutex_waiters(&m), 0u, "the waiter withdrew");
	weft_mutex_unlock(&m);
	/* Usable: the cancelled waiter was not handed the lock. */
	cr_assert_eq(weft_mutex_trylock(&m), 0, "trylock after the cancel");
	weft_mutex_unlock(&m);
	t = weft_spawn(lock_task, &m);
	cr_assert_not_null(t, "spawn");
	cr_assert_eq(weft_join(t), 0, "a later lock");
	return 0;
}

Test(mutex, cancel_of_a_task_blocked_in_lock_returns_ecanceled)
{
	run_on_1_2_8(cancel_blocked_main, NULL);
}

static int self_cancel_task(void *arg)
{
	weft_cancel(weft_self());
	return weft_mutex_lock(arg);
}

static int cancelled_free_main(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;
	weft_task *t = weft_spawn(self_cancel_task, &m);
	int r;

	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "lock in a cancelled task returned %d", r);
	cr_assert_eq(weft_mutex_trylock(&m), 0, "the mutex stayed free");
	weft_mutex_unlock(&m);
	return 0;
}

Test(mutex, lock_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_free_main, NULL);
}

/*
 * Cancels racing unlocks: every lock either fails with -ECANCELED and
 * leaves nothing held, or succeeds and is unlocked; the count of successes
 * matches the increments and the mutex ends free.
 */
#define RACE_TASKS 200
#define RACE_ITERS 50

struct race {
	weft_mutex m;
	int counter;		/* under m */
	atomic_int locked;	/* successful locks */
};

static int race_task(void *arg)
{
	struct race *rc = arg;
	int i;

	for (i = 0; i < RACE_ITERS; i++) {
		if (weft_mutex_lock(&rc->m) != 0)
			return -ECANCELED;
		rc->counter++;
		atomic_fetch_add(&rc->locked, 1);
		weft_yield();
		weft_mutex_unlock(&rc->m);
	}
	return 0;
}

static int race_main(void *arg)
{
	static weft_task *ts[RACE_TASKS];
	struct race rc = { .m = WEFT_MUTEX_INIT };
	int i, r;

	for (i = 0; i < RACE_TASKS; i++) {
		ts[i] = weft_spawn(race_task, &rc);
		cr_assert_not_null(ts[i], "spawn");
	}
	for (i = 0; i < RACE_TASKS; i += 2) {
		weft_yield();
		weft_cancel(ts[i]);
	}
	for (i = 0; i < RACE_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert(r == 0 || r == -ECANCELED, "task %d returned %d", i,
			  r);
		if (i % 2)
			cr_assert_eq(r, 0, "uncancelled task %d: %d", i, r);
	}
	cr_assert_eq(rc.counter, atomic_load(&rc.locked), "counter %d, locks %d",
		     rc.counter, atomic_load(&rc.locked));
	cr_assert_eq(weft__mutex_waiters(&rc.m), 0u, "no waiter left");
	cr_assert_eq(weft_mutex_trylock(&rc.m), 0, "the mutex ends free");
	weft_mutex_unlock(&rc.m);
	return 0;
}

Test(mutex, cancels_racing_unlocks_leave_the_mutex_consistent)
{
	run_on_1_2_8(race_main, NULL);
}

/* ----------------------------------------------------------- ownership */

static int hold_forever(void *arg)
{
	return weft_mutex_lock(arg);
}

static int unlock_by_other_main(void *arg)
{
	static weft_mutex m = WEFT_MUTEX_INIT;
	weft_task *t = weft_spawn(hold_forever, &m);

	weft_join(t);
	weft_mutex_unlock(&m);	/* held by the finished task: aborts */
	return 0;
}

Test(mutex, unlock_by_non_owner_aborts)
{
	expect_abort(unlock_by_other_main, "weft_mutex_unlock");
}

static int unlock_unlocked_main(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;

	weft_mutex_unlock(&m);
	return 0;
}

Test(mutex, unlock_of_an_unlocked_mutex_aborts)
{
	expect_abort(unlock_unlocked_main, "weft_mutex_unlock");
}

/* ------------------------------------------------------ WEFT_WITH_LOCK */

static int with_lock_return(weft_mutex *m, int *x)
{
	WEFT_WITH_LOCK(m)
	{
		(*x)++;
		return 7;
	}
	return -1;
}

static int with_lock_main(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;
	int i, x = 0, ran = 0;

	cr_assert_eq(with_lock_return(&m, &x), 7, "return inside the block");
	cr_assert_eq(weft_mutex_trylock(&m), 0, "unlocked after return");
	weft_mutex_unlock(&m);
	for (i = 0; i < 3; i++) {
		WEFT_WITH_LOCK(&m)
		{
			ran++;
			break;		/* ends the block, not the loop */
			ran += 100;
		}
		cr_assert_eq(weft_mutex_trylock(&m), 0, "unlocked after break");
		weft_mutex_unlock(&m);
	}
	cr_assert_eq(ran, 3, "the body ran once per loop turn (%d)", ran);
	cr_assert_eq(x, 1, "x %d", x);
	return 0;
}

Test(mutex, with_lock_unlocks_on_break_and_return)
{
	run_on_1_2_8(with_lock_main, NULL);
}

static int with_lock_cancelled(void *arg)
{
	int *ran = arg;

	weft_cancel(weft_self());
	WEFT_WITH_LOCK(&global_mutex)
		(*ran)++;
	return weft_cancelled() ? -ECANCELED : 0;
}

static int with_lock_skip_main(void *arg)
{
	int ran = 0, r;
	weft_task *t = weft_spawn(with_lock_cancelled, &ran);

	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "status %d", r);
	cr_assert_eq(ran, 0, "the block ran in a cancelled task");
	cr_assert_eq(weft_mutex_trylock(&global_mutex), 0, "left unlocked");
	weft_mutex_unlock(&global_mutex);
	return 0;
}

Test(mutex, with_lock_skips_the_block_when_the_lock_fails)
{
	run_on_1_2_8(with_lock_skip_main, NULL);
}

/* ------------------------------------------------------------ regressions */

struct heavy {
	weft_mutex m;
	long count;		/* under m */
};

static int heavy_task(void *arg)
{
	struct heavy *h = arg;

	for (int i = 0; i < 1000; i++) {
		int r = weft_mutex_lock(&h->m);

		if (r)
			return r;
		h->count++;
		weft_mutex_unlock(&h->m);
	}
	return 0;
}

static int heavy_main(void *arg)
{
	static weft_task *ts[1000];

	/* The bench mutex pattern, which hung about one run in three. */
	for (int round = 0; round < 8; round++) {
		struct heavy h = { .m = WEFT_MUTEX_INIT };

		for (int i = 0; i < 1000; i++)
			ts[i] = weft_spawn(heavy_task, &h);
		for (int i = 0; i < 1000; i++)
			cr_assert_eq(weft_join(ts[i]), 0, "task %d", i);
		cr_assert_eq(h.count, 1000 * 1000, "count %ld", h.count);
	}
	return 0;
}

/*
 * Heavy contention, the bench mutex pattern: every lock must be granted
 * and counted.  It covers the hand-off race fixed with the unlock CAS (a
 * starving waiter set the hand-off bit just as the owner cleared LOCKED
 * with a plain fetch-and, leaving the mutex free in hand-off mode, which
 * nobody may take); that hang showed in the release build's bench (one run
 * in three) but this test alone did not reproduce it in the test build.
 */
Test(mutex, heavy_contention_never_leaves_the_mutex_free_and_unreachable,
     .timeout = 60)
{
	run_on_1_2_8(heavy_main, NULL);
}
