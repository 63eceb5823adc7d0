/*
 * Events: waiting on a set event, set waking every waiter, the static
 * initializer, is_set/clear, and cancellation of a waiter.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(event, .timeout = 60);

static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_EACH_WORKERS(w)                                                  \
	for (unsigned wi_ = 0, w;                                            \
	     wi_ < sizeof(workers_set) / sizeof(workers_set[0]) &&           \
	     (w = workers_set[wi_], 1);                                      \
	     wi_++)

static void wait_count(atomic_int *flag, int n)
{
	while (atomic_load(flag) < n)
		weft_yield();
}

static int set_wait_main(void *arg)
{
	weft_event e;
	int i, r;

	weft_event_init(&e);
	weft_event_set(&e);
	for (i = 0; i < 3; i++) {
		r = weft_event_wait(&e);
		cr_assert_eq(r, 0, "wait on a set event returned %d", r);
	}
	return 0;
}

Test(event, wait_on_a_set_event_returns_at_once)
{
	int r = t_run(set_wait_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

Test(event, wait_outside_a_task_returns_eperm)
{
	weft_event e = WEFT_EVENT_INIT;
	int r = weft_event_wait(&e);

	cr_assert_eq(r, -EPERM, "wait outside a task returned %d", r);
}

#define N_WAITERS 100

struct many {
	weft_event ev;
	atomic_int started;
	atomic_int woken;
	atomic_int bad;
};

static int many_waiter(void *arg)
{
	struct many *m = arg;
	int r;

	atomic_fetch_add(&m->started, 1);
	r = weft_event_wait(&m->ev);
	if (r == 0)
		atomic_fetch_add(&m->woken, 1);
	else
		atomic_fetch_add(&m->bad, 1);
	return r;
}

static int many_main(void *arg)
{
	struct many m;
	weft_task *ts[N_WAITERS];
	int i, r;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < N_WAITERS; i++) {
		ts[i] = weft_spawn(many_waiter, &m);
		cr_assert_not_null(ts[i], "spawn: errno %d", errno);
	}
	wait_count(&m.started, N_WAITERS);
	for (i = 0; i < 10; i++)
		weft_yield();
	cr_assert_eq(atomic_load(&m.woken), 0, "woken before the set");
	weft_event_set(&m.ev);
	for (i = 0; i < N_WAITERS; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "waiter %d returned %d", i, r);
	}
	cr_assert_eq(atomic_load(&m.woken), N_WAITERS, "%d of %d woken",
		     atomic_load(&m.woken), N_WAITERS);
	return 0;
}

Test(event, set_wakes_every_waiter)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(many_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

static weft_event static_ev = WEFT_EVENT_INIT;
static atomic_int static_woken;

static int static_waiter(void *arg)
{
	int r = weft_event_wait(&static_ev);

	if (r == 0)
		atomic_fetch_add(&static_woken, 1);
	return r;
}

static int static_main(void *arg)
{
	weft_task *t = weft_spawn(static_waiter, NULL);
	int i;

	cr_assert_not_null(t, "spawn: errno %d", errno);
	for (i = 0; i < 10; i++)
		weft_yield();
	cr_assert_not(weft_event_is_set(&static_ev), "starts clear");
	weft_event_set(&static_ev);
	cr_assert_eq(weft_join(t), 0, "waiter");
	return 0;
}

Test(event, static_initializer_gives_a_clear_working_event)
{
	int r;

	cr_assert_not(weft_event_is_set(&static_ev), "WEFT_EVENT_INIT is set");
	r = t_run(static_main, NULL, 2);
	cr_assert_eq(r, 0, "weft_run returned %d", r);
	cr_assert_eq(atomic_load(&static_woken), 1, "waiter not woken");
}

Test(event, zeroed_memory_is_a_clear_event)
{
	weft_event e;

	memset(&e, 0, sizeof(e));
	cr_assert_not(weft_event_is_set(&e), "zeroed event is set");
	weft_event_set(&e);
	cr_assert(weft_event_is_set(&e), "not set after set");
}

Test(event, is_set_and_clear_track_the_state)
{
	weft_event e;

	weft_event_init(&e);
	cr_assert_not(weft_event_is_set(&e), "init: set");
	weft_event_set(&e);
	cr_assert(weft_event_is_set(&e), "after set: clear");
	weft_event_set(&e);
	cr_assert(weft_event_is_set(&e), "set twice: clear");
	weft_event_clear(&e);
	cr_assert_not(weft_event_is_set(&e), "after clear: set");
	weft_event_clear(&e);
	cr_assert_not(weft_event_is_set(&e), "clear twice: set");
}

struct clr {
	weft_event ev;
	atomic_int started;
	atomic_int done;
};

static int clr_waiter(void *arg)
{
	struct clr *c = arg;
	int r;

	atomic_store(&c->started, 1);
	r = weft_event_wait(&c->ev);
	atomic_store(&c->done, 1);
	return r;
}

static int clear_main(void *arg)
{
	struct clr c;
	weft_task *t;
	int i;

	memset(&c, 0, sizeof(c));
	weft_event_set(&c.ev);
	weft_event_clear(&c.ev);
	t = weft_spawn(clr_waiter, &c);
	cr_assert_not_null(t, "spawn: errno %d", errno);
	wait_count(&c.started, 1);
	for (i = 0; i < 50; i++)
		weft_yield();
	cr_assert_eq(atomic_load(&c.done), 0, "a wait on a cleared event "
		     "returned");
	weft_event_set(&c.ev);
	cr_assert_eq(weft_join(t), 0, "waiter");
	return 0;
}

Test(event, wait_on_a_cleared_event_waits_for_the_next_set)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(clear_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

static int cancel_one_main(void *arg)
{
	struct many m;
	weft_task *ts[3];
	int i, r;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < 3; i++)
		ts[i] = weft_spawn(many_waiter, &m);
	wait_count(&m.started, 3);
	for (i = 0; i < 10; i++)
		weft_yield();
	weft_cancel(ts[1]);
	r = weft_join(ts[1]);
	cr_assert_eq(r, -ECANCELED, "cancelled waiter returned %d", r);
	weft_event_set(&m.ev);
	cr_assert_eq(weft_join(ts[0]), 0, "waiter 0");
	cr_assert_eq(weft_join(ts[2]), 0, "waiter 2");
	return 0;
}

Test(event, cancelling_one_waiter_leaves_the_others_waiting)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(cancel_one_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}
