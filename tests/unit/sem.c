/*
 * weft_sem: permits, FIFO waiters, the try form, release from a plain
 * thread, and cancellation of a blocked acquire.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(sem, .timeout = 120);

static weft_sem global_sem = WEFT_SEM_INIT;

Test(sem, acquire_outside_a_task_returns_eperm)
{
	weft_sem s;
	int r;

	weft_sem_init(&s, 1);
	r = weft_sem_acquire(&s);
	cr_assert_eq(r, -EPERM, "acquire outside a task returned %d", r);
	/* The try form needs no task. */
	cr_assert_eq(weft_sem_try_acquire(&s), 0, "try_acquire");
	cr_assert_eq(weft_sem_try_acquire(&s), -EAGAIN, "no permit left");
	weft_sem_release(&s);
	cr_assert_eq(weft_sem_try_acquire(&s), 0, "released permit");
}

static int static_init_main(void *arg)
{
	int r = weft_sem_try_acquire(&global_sem);

	cr_assert_eq(r, -EAGAIN, "WEFT_SEM_INIT has a permit (%d)", r);
	weft_sem_release(&global_sem);
	r = weft_sem_acquire(&global_sem);
	cr_assert_eq(r, 0, "acquire after release returned %d", r);
	return 0;
}

Test(sem, static_initializer_has_zero_permits)
{
	run_on_1_2_8(static_init_main, NULL);
}

static int count_main(void *arg)
{
	weft_sem s;
	int i, r;

	weft_sem_init(&s, 3);
	for (i = 0; i < 3; i++) {
		r = weft_sem_acquire(&s);
		cr_assert_eq(r, 0, "acquire %d returned %d", i, r);
	}
	r = weft_sem_try_acquire(&s);
	cr_assert_eq(r, -EAGAIN, "a fourth permit (%d)", r);
	weft_sem_release(&s);
	weft_sem_release(&s);
	cr_assert_eq(weft_sem_try_acquire(&s), 0, "first of two");
	cr_assert_eq(weft_sem_try_acquire(&s), 0, "second of two");
	cr_assert_eq(weft_sem_try_acquire(&s), -EAGAIN, "none left");
	return 0;
}

Test(sem, init_sets_the_permits_and_try_acquire_returns_eagain_at_zero)
{
	run_on_1_2_8(count_main, NULL);
}

/* ---------------------------------------------------------------- FIFO */

#define FIFO_N 16

struct fifo {
	weft_sem s;
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
	int r = weft_sem_acquire(&a->f->s);

	if (r)
		return r;
	weft_mutex_lock(&a->f->m);
	a->f->order[a->f->n++] = a->id;
	weft_mutex_unlock(&a->f->m);
	return 0;
}

static int fifo_main(void *arg)
{
	struct fifo f = { .s = WEFT_SEM_INIT, .m = WEFT_MUTEX_INIT };
	struct fifo_arg a[FIFO_N];
	weft_task *ts[FIFO_N];
	int i, r;

	for (i = 0; i < FIFO_N; i++) {
		a[i] = (struct fifo_arg){ &f, i };
		ts[i] = weft_spawn(fifo_task, &a[i]);
		cr_assert_not_null(ts[i], "spawn");
		YIELD_UNTIL(weft__sem_waiters(&f.s) == (unsigned)i + 1);
	}
	/* One permit at a time: each goes to the oldest waiter. */
	for (i = 0; i < FIFO_N; i++) {
		weft_sem_release(&f.s);
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "task %d returned %d", i, r);
		cr_assert_eq(f.n, i + 1, "one task per permit");
		cr_assert_eq(f.order[i], i, "permit %d went to task %d", i,
			     f.order[i]);
	}
	return 0;
}

Test(sem, release_gives_the_permit_to_the_oldest_waiter)
{
	run_on_1_2_8(fifo_main, NULL);
}

/* Never more than the permits inside at once. */
#define BOUND_TASKS 500
#define BOUND_PERMITS 3

struct bound {
	weft_sem s;
	atomic_int inside, max;
};

static int bound_task(void *arg)
{
	struct bound *b = arg;
	int i, n, m, r;

	for (i = 0; i < 10; i++) {
		r = weft_sem_acquire(&b->s);
		if (r)
			return r;
		n = atomic_fetch_add(&b->inside, 1) + 1;
		m = atomic_load(&b->max);
		while (n > m && !atomic_compare_exchange_weak(&b->max, &m, n))
			;
		weft_yield();
		atomic_fetch_sub(&b->inside, 1);
		weft_sem_release(&b->s);
	}
	return 0;
}

static int bound_main(void *arg)
{
	static weft_task *ts[BOUND_TASKS];
	struct bound b = { .inside = 0 };
	int i, r;

	weft_sem_init(&b.s, BOUND_PERMITS);
	for (i = 0; i < BOUND_TASKS; i++) {
		ts[i] = weft_spawn(bound_task, &b);
		cr_assert_not_null(ts[i], "spawn");
	}
	for (i = 0; i < BOUND_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "task %d returned %d", i, r);
	}
	cr_assert_leq(atomic_load(&b.max), BOUND_PERMITS, "%d inside at once",
		      atomic_load(&b.max));
	for (i = 0; i < BOUND_PERMITS; i++)
		cr_assert_eq(weft_sem_try_acquire(&b.s), 0, "permit %d back", i);
	cr_assert_eq(weft_sem_try_acquire(&b.s), -EAGAIN, "no extra permit");
	return 0;
}

Test(sem, no_more_tasks_than_permits_hold_it_at_once)
{
	run_on_1_2_8(bound_main, NULL);
}

/* ------------------------------------------------------ foreign release */

#define THREAD_RELEASES 1000

static void *release_thread(void *arg)
{
	int i;

	/* The first release finds the task parked. */
	while (weft__sem_waiters(arg) == 0)
		sched_yield();
	for (i = 0; i < THREAD_RELEASES; i++)
		weft_sem_release(arg);
	return NULL;
}

static int thread_release_main(void *arg)
{
	weft_sem s = WEFT_SEM_INIT;
	pthread_t th;
	int i, r;

	cr_assert_eq(pthread_create(&th, NULL, release_thread, &s), 0,
		     "pthread_create");
	for (i = 0; i < THREAD_RELEASES; i++) {
		r = weft_sem_acquire(&s);
		cr_assert_eq(r, 0, "acquire %d returned %d", i, r);
	}
	pthread_join(th, NULL);
	cr_assert_eq(weft_sem_try_acquire(&s), -EAGAIN, "no permit left");
	return 0;
}

Test(sem, release_from_a_plain_thread_wakes_the_waiting_task)
{
	run_on_1_2_8(thread_release_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int acquire_task(void *arg)
{
	return weft_sem_acquire(arg);
}

static int cancel_main(void *arg)
{
	weft_sem s = WEFT_SEM_INIT;
	weft_task *t;
	int r;

	t = weft_spawn(acquire_task, &s);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__sem_waiters(&s) == 1);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "cancelled acquire returned %d", r);
	cr_assert_eq(weft__sem_waiters(&s), 0u, "the waiter withdrew");
	/* The next permit is not lost to the cancelled task. */
	weft_sem_release(&s);
	cr_assert_eq(weft_sem_try_acquire(&s), 0, "permit kept");
	t = weft_spawn(acquire_task, &s);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__sem_waiters(&s) == 1);
	weft_sem_release(&s);
	cr_assert_eq(weft_join(t), 0, "a later acquire");
	return 0;
}

Test(sem, cancel_of_a_task_blocked_in_acquire_returns_ecanceled)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int self_cancel_task(void *arg)
{
	weft_cancel(weft_self());
	return weft_sem_acquire(arg);
}

static int cancelled_main(void *arg)
{
	weft_sem s;
	weft_task *t;
	int r;

	weft_sem_init(&s, 1);
	t = weft_spawn(self_cancel_task, &s);
	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "acquire in a cancelled task: %d", r);
	cr_assert_eq(weft_sem_try_acquire(&s), 0, "the permit stayed");
	return 0;
}

Test(sem, acquire_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}

/* Cancels racing releases: permits are conserved. */
#define RACE_TASKS 200

static int race_main(void *arg)
{
	static weft_task *ts[RACE_TASKS];
	weft_sem s = WEFT_SEM_INIT;
	int i, r, ok = 0, left = 0;

	for (i = 0; i < RACE_TASKS; i++) {
		ts[i] = weft_spawn(acquire_task, &s);
		cr_assert_not_null(ts[i], "spawn");
	}
	for (i = 0; i < RACE_TASKS; i++) {
		weft_sem_release(&s);
		if (i % 2 == 0)
			weft_cancel(ts[i]);
	}
	for (i = 0; i < RACE_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert(r == 0 || r == -ECANCELED, "task %d: %d", i, r);
		ok += r == 0;
	}
	while (weft_sem_try_acquire(&s) == 0)
		left++;
	cr_assert_eq(ok + left, RACE_TASKS, "%d acquired + %d left != %d",
		     ok, left, RACE_TASKS);
	return 0;
}

Test(sem, cancels_racing_releases_lose_no_permit)
{
	run_on_1_2_8(race_main, NULL);
}
