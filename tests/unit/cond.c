/*
 * weft_cond: signal and broadcast wake waiters, the mutex is held again on
 * every return (errors included), and a cancelled wait returns -ECANCELED.
 */
#include <errno.h>
#include <stdatomic.h>

#include "sync/introspect.h"
#include "sync/mutex_internal.h"
#include "tests/unit/sync_helpers.h"

TestSuite(cond, .timeout = 120);

static weft_cond global_cond = WEFT_COND_INIT;
static weft_mutex global_mutex = WEFT_MUTEX_INIT;

Test(cond, wait_outside_a_task_returns_eperm)
{
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;
	int r = weft_cond_wait(&c, &m);

	cr_assert_eq(r, -EPERM, "wait outside a task returned %d", r);
	weft_cond_signal(&c);		/* no waiter: nothing happens */
	weft_cond_broadcast(&c);
}

struct flag {
	weft_cond *c;
	weft_mutex *m;
	int ready;		/* under m */
	int result;		/* the waiter's last wait result */
	int held;		/* the waiter held m when wait returned */
};

static int flag_waiter(void *arg)
{
	struct flag *f = arg;
	int r = 0;

	weft_mutex_lock(f->m);
	while (!f->ready && r == 0)
		r = weft_cond_wait(f->c, f->m);
	f->result = r;
	f->held = weft__mutex_held(f->m);
	weft_mutex_unlock(f->m);
	return r;
}

static int static_init_main(void *arg)
{
	struct flag f = { .c = &global_cond, .m = &global_mutex };
	weft_task *t = weft_spawn(flag_waiter, &f);

	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__cond_waiters(&global_cond) == 1);
	weft_mutex_lock(&global_mutex);
	f.ready = 1;
	weft_cond_signal(&global_cond);
	weft_mutex_unlock(&global_mutex);
	cr_assert_eq(weft_join(t), 0, "waiter");
	cr_assert(f.held, "the mutex was held when wait returned");
	return 0;
}

Test(cond, static_initializers_give_a_working_condition)
{
	run_on_1_2_8(static_init_main, NULL);
}

/* ------------------------------------------------------------- signal */

#define SIG_N 8

struct count {
	weft_cond c;
	weft_mutex m;
	int tokens;		/* under m */
	int woken;		/* under m */
};

static int token_waiter(void *arg)
{
	struct count *k = arg;
	int r = 0;

	weft_mutex_lock(&k->m);
	while (k->tokens == 0 && r == 0)
		r = weft_cond_wait(&k->c, &k->m);
	if (r == 0) {
		k->tokens--;
		k->woken++;
	}
	weft_mutex_unlock(&k->m);
	return r;
}

static int woken(struct count *k)
{
	int n;

	weft_mutex_lock(&k->m);
	n = k->woken;
	weft_mutex_unlock(&k->m);
	return n;
}

static int signal_main(void *arg)
{
	struct count k = { .c = WEFT_COND_INIT, .m = WEFT_MUTEX_INIT };
	weft_task *ts[SIG_N];
	unsigned left;
	int i, r;

	for (i = 0; i < SIG_N; i++) {
		ts[i] = weft_spawn(token_waiter, &k);
		cr_assert_not_null(ts[i], "spawn");
	}
	YIELD_UNTIL(weft__cond_waiters(&k.c) == SIG_N);
	/* Each signal takes exactly one waiter off the queue. */
	for (i = 1; i <= SIG_N; i++) {
		weft_mutex_lock(&k.m);
		k.tokens++;
		weft_cond_signal(&k.c);
		left = weft__cond_waiters(&k.c);
		weft_mutex_unlock(&k.m);
		cr_assert_eq(left, (unsigned)(SIG_N - i),
			     "signal %d left %u waiters", i, left);
		YIELD_UNTIL(woken(&k) == i);
	}
	for (i = 0; i < SIG_N; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "waiter %d returned %d", i, r);
	}
	cr_assert_eq(k.woken, SIG_N, "woken %d", k.woken);
	return 0;
}

Test(cond, signal_wakes_one_waiter)
{
	run_on_1_2_8(signal_main, NULL);
}

static int broadcast_main(void *arg)
{
	static weft_task *ts[100];
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;
	struct flag f = { .c = &c, .m = &m };
	int i, r;

	for (i = 0; i < 100; i++) {
		ts[i] = weft_spawn(flag_waiter, &f);
		cr_assert_not_null(ts[i], "spawn");
	}
	YIELD_UNTIL(weft__cond_waiters(&c) == 100);
	weft_mutex_lock(&m);
	f.ready = 1;
	weft_cond_broadcast(&c);
	weft_mutex_unlock(&m);
	cr_assert_eq(weft__cond_waiters(&c), 0u, "broadcast woke all");
	for (i = 0; i < 100; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "waiter %d returned %d", i, r);
	}
	return 0;
}

Test(cond, broadcast_wakes_every_waiter)
{
	run_on_1_2_8(broadcast_main, NULL);
}

/* A producer/consumer queue of 1,000 items through one slot. */
#define PC_ITEMS 1000

struct slot {
	weft_mutex m;
	weft_cond not_full, not_empty;
	int full, value;	/* under m */
	long sum;		/* consumer only */
};

static int producer(void *arg)
{
	struct slot *s = arg;
	int i, r;

	for (i = 1; i <= PC_ITEMS; i++) {
		weft_mutex_lock(&s->m);
		while (s->full)
			if ((r = weft_cond_wait(&s->not_full, &s->m))) {
				weft_mutex_unlock(&s->m);
				return r;
			}
		s->full = 1;
		s->value = i;
		weft_cond_signal(&s->not_empty);
		weft_mutex_unlock(&s->m);
	}
	return 0;
}

static int pc_main(void *arg)
{
	struct slot s = { .m = WEFT_MUTEX_INIT };
	weft_task *t = weft_spawn(producer, &s);
	int i, r;

	cr_assert_not_null(t, "spawn");
	for (i = 1; i <= PC_ITEMS; i++) {
		weft_mutex_lock(&s.m);
		while (!s.full) {
			r = weft_cond_wait(&s.not_empty, &s.m);
			cr_assert_eq(r, 0, "wait returned %d", r);
		}
		cr_assert_eq(s.value, i, "item %d came as %d", i, s.value);
		s.sum += s.value;
		s.full = 0;
		weft_cond_signal(&s.not_full);
		weft_mutex_unlock(&s.m);
	}
	cr_assert_eq(weft_join(t), 0, "producer");
	cr_assert_eq(s.sum, (long)PC_ITEMS * (PC_ITEMS + 1) / 2, "sum");
	return 0;
}

Test(cond, producer_and_consumer_pass_1000_items_through_one_slot)
{
	run_on_1_2_8(pc_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int cancel_main(void *arg)
{
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;
	struct flag f = { .c = &c, .m = &m, .result = 1 };
	weft_task *t;
	int r;

	t = weft_spawn(flag_waiter, &f);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__cond_waiters(&c) == 1);
	/* Hold the mutex: the cancelled waiter must wait for it. */
	weft_mutex_lock(&m);
	weft_cancel(t);
	YIELD_UNTIL(weft__cond_waiters(&c) == 0 &&
		    weft__mutex_waiters(&m) == 1);
	cr_assert_eq(f.result, 1, "wait returned without the mutex");
	weft_mutex_unlock(&m);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "cancelled wait returned %d", r);
	cr_assert_eq(f.result, -ECANCELED, "result %d", f.result);
	cr_assert(f.held, "the mutex was held again on the error return");
	/* Still usable. */
	f = (struct flag){ .c = &c, .m = &m };
	t = weft_spawn(flag_waiter, &f);
	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__cond_waiters(&c) == 1);
	weft_mutex_lock(&m);
	f.ready = 1;
	weft_cond_signal(&c);
	weft_mutex_unlock(&m);
	cr_assert_eq(weft_join(t), 0, "a later wait");
	return 0;
}

Test(cond, cancel_of_a_waiting_task_returns_ecanceled_with_the_mutex_held)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int self_cancel_task(void *arg)
{
	struct flag *f = arg;

	weft_mutex_lock(f->m);
	weft_cancel(weft_self());
	f->result = weft_cond_wait(f->c, f->m);
	f->held = weft__mutex_held(f->m);
	weft_mutex_unlock(f->m);
	return f->result;
}

static int cancelled_main(void *arg)
{
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;
	struct flag f = { .c = &c, .m = &m };
	weft_task *t = weft_spawn(self_cancel_task, &f);
	int r;

	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "wait in a cancelled task: %d", r);
	cr_assert(f.held, "the mutex was held on return");
	return 0;
}

Test(cond, wait_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}

static int wait_unheld_main(void *arg)
{
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;

	weft_cond_wait(&c, &m);
	return 0;
}

Test(cond, wait_without_holding_the_mutex_aborts)
{
	expect_abort(wait_unheld_main, "weft_cond_wait");
}
