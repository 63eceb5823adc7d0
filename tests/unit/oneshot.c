/*
 * weft_oneshot: one send (a second is -EALREADY), recv waits for it,
 * try_recv is -EAGAIN before it, send works from any thread, and a
 * cancelled recv returns -ECANCELED.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(oneshot, .timeout = 120);

static weft_oneshot global_oneshot = WEFT_ONESHOT_INIT;
static int payload[2];

Test(oneshot, recv_outside_a_task_returns_eperm)
{
	weft_oneshot o = WEFT_ONESHOT_INIT;
	void *v = NULL;
	int r = weft_oneshot_recv(&o, &v);

	cr_assert_eq(r, -EPERM, "recv outside a task returned %d", r);
}

static int once_main(void *arg)
{
	void *v = NULL;
	int r;

	r = weft_oneshot_try_recv(&global_oneshot, &v);
	cr_assert_eq(r, -EAGAIN, "try_recv before the send returned %d", r);
	r = weft_oneshot_send(&global_oneshot, &payload[0]);
	cr_assert_eq(r, 0, "send returned %d", r);
	r = weft_oneshot_send(&global_oneshot, &payload[1]);
	cr_assert_eq(r, -EALREADY, "second send returned %d", r);
	r = weft_oneshot_try_recv(&global_oneshot, &v);
	cr_assert_eq(r, 0, "try_recv after the send returned %d", r);
	cr_assert_eq(v, &payload[0], "the first value stays");
	v = NULL;
	r = weft_oneshot_recv(&global_oneshot, &v);
	cr_assert_eq(r, 0, "recv after the send returned %d", r);
	cr_assert_eq(v, &payload[0], "recv got the first value");
	weft_oneshot_init(&global_oneshot);	/* for the next run */
	return 0;
}

Test(oneshot, second_send_returns_ealready_and_try_recv_eagain_before_send)
{
	run_on_1_2_8(once_main, NULL);
}

/* ---------------------------------------------------------- recv waits */

struct recv_arg {
	weft_oneshot *o;
	void *v;
};

static int recv_task(void *arg)
{
	struct recv_arg *a = arg;

	return weft_oneshot_recv(a->o, &a->v);
}

static int wait_main(void *arg)
{
	weft_oneshot o = WEFT_ONESHOT_INIT;
	struct recv_arg a = { &o, NULL };
	weft_task *t = weft_spawn(recv_task, &a);
	int r;

	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__oneshot_waiters(&o) == 1);
	cr_assert_eq(weft_oneshot_send(&o, &payload[1]), 0, "send");
	r = weft_join(t);
	cr_assert_eq(r, 0, "recv returned %d", r);
	cr_assert_eq(a.v, &payload[1], "recv got the sent value");
	return 0;
}

Test(oneshot, recv_waits_for_the_send)
{
	run_on_1_2_8(wait_main, NULL);
}

static void *send_thread(void *arg)
{
	while (weft__oneshot_waiters(arg) == 0)
		sched_yield();
	weft_oneshot_send(arg, &payload[0]);
	return NULL;
}

/* The one-shot is on this task's stack, sent from another thread. */
static int thread_main(void *arg)
{
	weft_oneshot o = WEFT_ONESHOT_INIT;
	pthread_t th;
	void *v = NULL;
	int r;

	cr_assert_eq(pthread_create(&th, NULL, send_thread, &o), 0,
		     "pthread_create");
	r = weft_oneshot_recv(&o, &v);
	cr_assert_eq(r, 0, "recv returned %d", r);
	cr_assert_eq(v, &payload[0], "value");
	pthread_join(th, NULL);
	return 0;
}

Test(oneshot, send_from_a_plain_thread_wakes_the_receiver)
{
	run_on_1_2_8(thread_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int cancel_main(void *arg)
{
	weft_oneshot o = WEFT_ONESHOT_INIT;
	struct recv_arg a = { &o, NULL };
	weft_task *t = weft_spawn(recv_task, &a);
	void *v = NULL;
	int r;

	cr_assert_not_null(t, "spawn");
	YIELD_UNTIL(weft__oneshot_waiters(&o) == 1);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "cancelled recv returned %d", r);
	cr_assert_eq(weft__oneshot_waiters(&o), 0u, "withdrew");
	cr_assert_eq(weft_oneshot_send(&o, &payload[0]), 0, "send after");
	cr_assert_eq(weft_oneshot_recv(&o, &v), 0, "recv after");
	cr_assert_eq(v, &payload[0], "value");
	return 0;
}

Test(oneshot, cancel_of_a_task_blocked_in_recv_returns_ecanceled)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int self_cancel_task(void *arg)
{
	void *v;

	weft_cancel(weft_self());
	return weft_oneshot_recv(arg, &v);
}

static int cancelled_main(void *arg)
{
	weft_oneshot o = WEFT_ONESHOT_INIT;
	weft_task *t = weft_spawn(self_cancel_task, &o);
	int r;

	cr_assert_not_null(t, "spawn");
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "recv in a cancelled task: %d", r);
	return 0;
}

Test(oneshot, recv_in_a_cancelled_task_returns_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}
