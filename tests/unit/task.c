/*
 * Tasks: spawn, join, detach, cancel, shield, identity, and the runtime's
 * life cycle (weft_run, weft_runtime_new/block_on/free, config).
 *
 * Most behaviours run with 1, 2 and 8 workers (8 oversubscribes the CI
 * machines, which is the point).  A few tests peek at the task state word
 * (runtime/task.h) to know that a task has finished without joining it.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sched.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <stdio.h>
#include <stdint.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"
#include "runtime/sanitizer.h"
#include "runtime/task.h"

TestSuite(task, .timeout = 60);

static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_EACH_WORKERS(w)                                                  \
	for (unsigned wi_ = 0, w;                                            \
	     wi_ < sizeof(workers_set) / sizeof(workers_set[0]) &&           \
	     (w = workers_set[wi_], 1);                                      \
	     wi_++)

/* Yield until *flag reaches n. */
static void wait_count(atomic_int *flag, int n)
{
	while (atomic_load(flag) < n)
		weft_yield();
}

static int ret_arg(void *arg)
{
	return (int)(intptr_t)arg;
}

/* ------------------------------------------------------------ spawn/join */

static int spawn_join_main(void *arg)
{
	static const int values[] = { 0, 1, 42, -EIO, -ECANCELED, 1000000 };
	unsigned i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		weft_task *t = weft_spawn(ret_arg, (void *)(intptr_t)values[i]);
		int r;

		cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
		r = weft_join(t);
		cr_assert_eq(r, values[i], "join returned %d, task returned %d",
			     r, values[i]);
	}
	return 0;
}

Test(task, spawn_then_join_returns_the_function_status)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(spawn_join_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

static int many_join_main(void *arg)
{
	weft_task *ts[200];
	int i;

	for (i = 0; i < 200; i++) {
		ts[i] = weft_spawn(ret_arg, (void *)(intptr_t)(i * 3));
		cr_assert_not_null(ts[i], "spawn %d failed: errno %d", i, errno);
	}
	for (i = 0; i < 200; i++) {
		int r = weft_join(ts[i]);

		cr_assert_eq(r, i * 3, "task %d: join returned %d", i, r);
	}
	return 0;
}

Test(task, joining_many_tasks_returns_each_status)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(many_join_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/*
 * weft_spawn is not a suspension point (API.md: not (S)), as asyncio's
 * create_task: on one worker, no child runs before the spawner suspends,
 * however many it spawns (a coop tick in spawn would yield every 128).
 */
#define QUIET_SPAWNS 5000

static int count_one(void *arg)
{
	atomic_fetch_add_explicit((_Atomic int *)arg, 1, memory_order_relaxed);
	return 0;
}

static int quiet_spawn_main(void *arg)
{
	static weft_task *ts[QUIET_SPAWNS];
	_Atomic int ran = 0;
	int i, before;

	for (i = 0; i < QUIET_SPAWNS; i++) {
		ts[i] = weft_spawn(count_one, &ran);
		cr_assert_not_null(ts[i], "spawn %d failed: errno %d", i, errno);
	}
	before = atomic_load(&ran);
	for (i = 0; i < QUIET_SPAWNS; i++)
		cr_assert_eq(weft_join(ts[i]), 0);
	cr_assert_eq(before, 0, "%d children ran while their spawner never "
		     "suspended", before);
	cr_assert_eq(atomic_load(&ran), QUIET_SPAWNS);
	return 0;
}

Test(task, spawning_never_suspends_the_spawner)
{
	int r = t_run(quiet_spawn_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

static int join_finished_main(void *arg)
{
	weft_task *t = weft_spawn(ret_arg, (void *)(intptr_t)77);
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	cr_assert(t_wait_done(t), "the task never finished");
	r = weft_join(t);
	cr_assert_eq(r, 77, "join of a finished task returned %d, want 77", r);
	return 0;
}

Test(task, join_of_a_finished_task_returns_its_status)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(join_finished_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

Test(task, spawn_outside_a_task_returns_null_with_eperm)
{
	weft_task *t;

	errno = 0;
	t = weft_spawn(ret_arg, NULL);
	cr_assert_null(t, "weft_spawn outside a task returned a handle");
	cr_assert_eq(errno, EPERM, "errno is %d, want EPERM", errno);
}

Test(task, yield_outside_a_task_returns_eperm)
{
	int r = weft_yield();

	cr_assert_eq(r, -EPERM, "weft_yield outside a task returned %d", r);
}

Test(task, join_null_returns_einval)
{
	int r = weft_join(NULL);

	cr_assert_eq(r, -EINVAL, "weft_join(NULL) returned %d", r);
}

static int spawn_null_main(void *arg)
{
	weft_task *t;

	errno = 0;
	t = weft_spawn(NULL, NULL);
	cr_assert_null(t, "weft_spawn(NULL) returned a handle");
	cr_assert_eq(errno, EINVAL, "errno is %d, want EINVAL", errno);
	return 0;
}

Test(task, spawn_of_null_function_returns_null_with_einval)
{
	int r = t_run(spawn_null_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
	errno = 0;
	cr_assert_null(weft_spawn(NULL, NULL), "outside a task too");
	cr_assert_eq(errno, EINVAL, "errno is %d outside a task", errno);
}

/* ---------------------------------------------------------------- detach */

static weft_event detach_ev;
static atomic_int detach_ran;

static int detached_fn(void *arg)
{
	atomic_fetch_add(&detach_ran, 1);
	weft_event_set(&detach_ev);
	return 0;
}

static int detach_main(void *arg)
{
	weft_task *t = weft_spawn(detached_fn, NULL);
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	weft_detach(t);
	r = weft_event_wait(&detach_ev);
	cr_assert_eq(r, 0, "event wait returned %d", r);
	return 0;
}

Test(task, detached_task_still_runs)
{
	FOR_EACH_WORKERS(w)
	{
		int r;

		weft_event_init(&detach_ev);
		atomic_store(&detach_ran, 0);
		r = t_run(detach_main, NULL, w);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
		cr_assert_eq(atomic_load(&detach_ran), 1,
			     "the detached task ran %d times",
			     atomic_load(&detach_ran));
	}
}

/* ---------------------------------------------------------------- cancel */

static atomic_int ran_count;

static int count_run(void *arg)
{
	atomic_fetch_add(&ran_count, 1);
	return 5;
}

static int cancel_before_run_main(void *arg)
{
	weft_task *t;
	int r;

	/* A new task waits in the spawner's LIFO slot, where nothing can
	 * steal it, until the spawner suspends: cancel it first. */
	t = weft_spawn(count_run, NULL);
	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "join returned %d, want -ECANCELED", r);
	return 0;
}

Test(task, cancel_before_it_ran_makes_join_return_ecanceled_and_fn_never_runs)
{
	FOR_EACH_WORKERS(w)
	{
		int r;

		atomic_store(&ran_count, 0);
		r = t_run(cancel_before_run_main, NULL, w);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
		cr_assert_eq(atomic_load(&ran_count), 0,
			     "the cancelled function ran %d times (%u workers)",
			     atomic_load(&ran_count), w);
	}
}

struct waiter_arg {
	weft_event ev;
	atomic_int started;
	atomic_int result;
	atomic_int after_yields;
};

static int event_waiter(void *arg)
{
	struct waiter_arg *a = arg;
	int r;

	atomic_fetch_add(&a->started, 1);
	r = weft_event_wait(&a->ev);
	atomic_store(&a->result, r);
	return r;
}

static int cancel_parked_main(void *arg)
{
	struct waiter_arg a = { .ev = WEFT_EVENT_INIT, .result = 1 };
	weft_task *t = weft_spawn(event_waiter, &a);
	int r, i;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	wait_count(&a.started, 1);
	for (i = 0; i < 10; i++)
		weft_yield(); /* let it reach its park */
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "join returned %d", r);
	cr_assert_eq(atomic_load(&a.result), -ECANCELED,
		     "the parked wait returned %d", atomic_load(&a.result));
	cr_assert_not(weft_event_is_set(&a.ev), "nobody set the event");
	return 0;
}

Test(task, cancel_of_a_task_parked_in_event_wait_makes_the_wait_return_ecanceled)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(cancel_parked_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

static int cancel_twice_main(void *arg)
{
	struct waiter_arg a = { .ev = WEFT_EVENT_INIT, .result = 1 };
	weft_task *t = weft_spawn(event_waiter, &a);
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	wait_count(&a.started, 1);
	weft_yield();
	weft_cancel(t);
	weft_cancel(t);
	weft_yield();
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, -ECANCELED, "join returned %d", r);
	cr_assert_eq(atomic_load(&a.result), -ECANCELED, "wait returned %d",
		     atomic_load(&a.result));
	return 0;
}

Test(task, cancelling_twice_is_the_same_as_cancelling_once)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(cancel_twice_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

static int cancel_finished_main(void *arg)
{
	weft_task *t = weft_spawn(ret_arg, (void *)(intptr_t)9);
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	cr_assert(t_wait_done(t), "the task never finished");
	weft_cancel(t);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, 9, "join after cancelling a finished task: %d", r);
	return 0;
}

Test(task, cancel_of_a_finished_task_does_nothing)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(cancel_finished_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

struct level_arg {
	atomic_int started;
	atomic_int cancelled_before;
	atomic_int eceled_yields;
	atomic_int cancelled_after;
	atomic_int wait_result;
};

static int level_fn(void *arg)
{
	struct level_arg *a = arg;
	weft_event never = WEFT_EVENT_INIT;
	int i;

	atomic_store(&a->cancelled_before, weft_cancelled());
	atomic_store(&a->started, 1);
	while (weft_yield() == 0)
		;
	for (i = 0; i < 5; i++)
		if (weft_yield() == -ECANCELED)
			atomic_fetch_add(&a->eceled_yields, 1);
	atomic_store(&a->wait_result, weft_event_wait(&never));
	atomic_store(&a->cancelled_after, weft_cancelled());
	return 3;
}

static int level_main(void *arg)
{
	struct level_arg a = { 0 };
	weft_task *t = weft_spawn(level_fn, &a);
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	wait_count(&a.started, 1);
	weft_cancel(t);
	r = weft_join(t);
	cr_assert_eq(r, 3, "the task returns its own status, got %d", r);
	cr_assert_eq(atomic_load(&a.cancelled_before), 0,
		     "weft_cancelled() was true before the cancel");
	cr_assert_eq(atomic_load(&a.eceled_yields), 5,
		     "only %d of 5 later yields returned -ECANCELED",
		     atomic_load(&a.eceled_yields));
	cr_assert_eq(atomic_load(&a.wait_result), -ECANCELED,
		     "a later event wait returned %d",
		     atomic_load(&a.wait_result));
	cr_assert_eq(atomic_load(&a.cancelled_after), 1,
		     "weft_cancelled() is false after the cancel");
	return 0;
}

Test(task, cancelled_task_yield_returns_ecanceled_repeatedly)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(level_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ---------------------------------------------------------------- shield */

struct shield_arg {
	weft_event in_shield;	/* child -> parent: shield is open */
	weft_event cancelled;	/* parent -> child: you are cancelled now */
	weft_event go;		/* set by a third task */
	atomic_int wait_cancelled, wait_go, yield_in, yield_after;
	atomic_int depth; /* 2: nested shields */
};

static int shield_fn(void *arg)
{
	struct shield_arg *a = arg;
	int d;

	for (d = 0; d < atomic_load(&a->depth); d++)
		weft_shield_begin();
	weft_event_set(&a->in_shield);
	atomic_store(&a->wait_cancelled, weft_event_wait(&a->cancelled));
	/* Now certainly cancelled, and still shielded. */
	atomic_store(&a->wait_go, weft_event_wait(&a->go));
	atomic_store(&a->yield_in, weft_yield());
	for (d = 0; d < atomic_load(&a->depth) - 1; d++) {
		weft_shield_end();
		if (weft_yield() != 0)
			atomic_store(&a->yield_in, -1000 - d);
	}
	weft_shield_end();
	atomic_store(&a->yield_after, weft_yield());
	return 0;
}

static int setter_fn(void *arg)
{
	int i;

	for (i = 0; i < 20; i++)
		weft_yield();
	weft_event_set(arg);
	return 0;
}

static int shield_main(void *arg)
{
	struct shield_arg *a = arg;
	weft_task *t = weft_spawn(shield_fn, a), *s;
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	r = weft_event_wait(&a->in_shield);
	cr_assert_eq(r, 0, "wait returned %d", r);
	weft_cancel(t);
	weft_event_set(&a->cancelled);
	s = weft_spawn(setter_fn, &a->go);
	cr_assert_not_null(s, "weft_spawn failed: errno %d", errno);
	cr_assert_eq(weft_join(s), 0, "setter failed");
	r = weft_join(t);
	cr_assert_eq(r, 0, "the shielded task returned %d", r);
	cr_assert_eq(atomic_load(&a->wait_cancelled), 0,
		     "wait in shield returned %d",
		     atomic_load(&a->wait_cancelled));
	cr_assert_eq(atomic_load(&a->wait_go), 0,
		     "a cancelled task's wait in a shield returned %d",
		     atomic_load(&a->wait_go));
	cr_assert_eq(atomic_load(&a->yield_in), 0,
		     "yield in the shield returned %d", atomic_load(&a->yield_in));
	cr_assert_eq(atomic_load(&a->yield_after), -ECANCELED,
		     "the first suspension after the shield returned %d",
		     atomic_load(&a->yield_after));
	return 0;
}

static void run_shield(int depth)
{
	FOR_EACH_WORKERS(w)
	{
		struct shield_arg a;
		int r;

		memset(&a, 0, sizeof(a));
		atomic_store(&a.depth, depth);
		atomic_store(&a.yield_after, 1);
		r = t_run(shield_main, &a, w);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

Test(task, shielded_cancelled_task_waits_normally_until_the_shield_ends)
{
	run_shield(1);
}

Test(task, nested_shields_hold_off_cancellation_until_the_outermost_ends)
{
	run_shield(3);
}

Test(task, shield_calls_outside_a_task_do_nothing)
{
	weft_shield_begin();
	weft_shield_end();
	cr_assert_not(weft_cancelled(), "weft_cancelled() outside a task");
}

/* ---------------------------------------------- cancel while joining */

struct joinc_arg {
	weft_event never;
	atomic_int inner_started;
	atomic_int inner_wait;
	atomic_int inner_done;
	atomic_int done_seen_by_joiner;
	atomic_int join_result;
};

static int joinc_inner(void *arg)
{
	struct joinc_arg *a = arg;
	int r, i;

	atomic_store(&a->inner_started, 1);
	r = weft_event_wait(&a->never);
	atomic_store(&a->inner_wait, r);
	/* Still awaited: unwind slowly (these yields fail fast, cancelled). */
	for (i = 0; i < 10; i++)
		weft_yield();
	atomic_store(&a->inner_done, 1);
	return 11;
}

static int joinc_joiner(void *arg)
{
	struct joinc_arg *a = arg;
	weft_task *t = weft_spawn(joinc_inner, a);
	int r;

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	r = weft_join(t);
	atomic_store(&a->done_seen_by_joiner, atomic_load(&a->inner_done));
	atomic_store(&a->join_result, r);
	return r;
}

static int joinc_main(void *arg)
{
	struct joinc_arg a = { .never = WEFT_EVENT_INIT, .inner_wait = 1 };
	weft_task *j = weft_spawn(joinc_joiner, &a);
	int r, i;

	cr_assert_not_null(j, "weft_spawn failed: errno %d", errno);
	wait_count(&a.inner_started, 1);
	for (i = 0; i < 10; i++)
		weft_yield();
	weft_cancel(j);
	r = weft_join(j);
	cr_assert_eq(r, -ECANCELED, "the joiner returned %d", r);
	cr_assert_eq(atomic_load(&a.join_result), -ECANCELED,
		     "a cancelled join returned %d", atomic_load(&a.join_result));
	cr_assert_eq(atomic_load(&a.inner_wait), -ECANCELED,
		     "the joined task was not cancelled: its wait returned %d",
		     atomic_load(&a.inner_wait));
	cr_assert_eq(atomic_load(&a.done_seen_by_joiner), 1,
		     "join returned before the joined task finished");
	return 0;
}

Test(task, join_cancelled_while_joining_cancels_and_awaits_the_joined_task)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(joinc_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ---------------------------------------------------------------- identity */

static _Atomic(weft_task *) self_seen;
static atomic_int in_task_seen;

static int self_fn(void *arg)
{
	atomic_store(&self_seen, weft_self());
	atomic_store(&in_task_seen, weft_in_task());
	return 0;
}

static int self_main(void *arg)
{
	weft_task *t;
	uintptr_t h;

	cr_assert_not_null(weft_self(), "weft_self() is NULL in main");
	cr_assert(weft_in_task(), "weft_in_task() is false in main");
	t = weft_spawn(self_fn, NULL);
	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	cr_assert_neq(t, weft_self(), "a child is not its parent");
	h = (uintptr_t)t;
	cr_assert_eq(weft_join(t), 0, "join failed");
	cr_assert_eq((uintptr_t)atomic_load(&self_seen), h,
		     "weft_self() in the task is not its handle");
	cr_assert_eq(atomic_load(&in_task_seen), 1,
		     "weft_in_task() false in a task");
	return 0;
}

Test(task, self_and_in_task_name_the_calling_task_and_nothing_outside)
{
	int r;

	cr_assert_null(weft_self(), "weft_self() outside a task is not NULL");
	cr_assert_not(weft_in_task(), "weft_in_task() true outside a task");
	r = t_run(self_main, NULL, 2);
	cr_assert_eq(r, 0, "weft_run returned %d", r);
	cr_assert_null(weft_self(), "weft_self() after weft_run is not NULL");
}

static int name_main(void *arg)
{
	static const char long_name[] =
		"abcdefghijklmnopqrstuvwxyz0123456789ABCDEF"; /* 42 bytes */
	weft_task *me = weft_self();
	char buf[8];
	int r;

	cr_assert_str_eq(weft_task_name(me), "", "unnamed task's name");
	r = weft_task_set_name(me, "worker-main");
	cr_assert_eq(r, 0, "set_name returned %d", r);
	cr_assert_str_eq(weft_task_name(me), "worker-main", "round trip");

	/* The name is copied. */
	strcpy(buf, "copy");
	weft_task_set_name(me, buf);
	strcpy(buf, "XXXX");
	cr_assert_str_eq(weft_task_name(me), "copy", "name not copied");

	r = weft_task_set_name(me, long_name);
	cr_assert_eq(r, 0, "set_name of a long name returned %d", r);
	cr_assert_eq(strlen(weft_task_name(me)), 31u,
		     "long name kept %zu bytes, want 31",
		     strlen(weft_task_name(me)));
	cr_assert_eq(strncmp(weft_task_name(me), long_name, 31), 0,
		     "truncated name is not the prefix: %s", weft_task_name(me));

	cr_assert_eq(weft_task_set_name(NULL, "x"), -EINVAL, "NULL task");
	cr_assert_eq(weft_task_set_name(me, NULL), -EINVAL, "NULL name");
	return 0;
}

Test(task, set_name_round_trips_and_truncates_to_31_bytes)
{
	int r = t_run(name_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

#define N_IDS 2000

static int id_child(void *arg)
{
	uint64_t *slot = arg;

	*slot = weft_task_id(weft_self());
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int id_spawner(void *arg)
{
	uint64_t *slots = arg;
	weft_task *ts[N_IDS / 4];
	int i;

	for (i = 0; i < N_IDS / 4; i++) {
		ts[i] = weft_spawn(id_child, &slots[i]);
		cr_assert_not_null(ts[i], "weft_spawn failed: errno %d", errno);
		if (i % 7 == 0)
			weft_yield();
	}
	for (i = 0; i < N_IDS / 4; i++)
		cr_assert_eq(weft_join(ts[i]), 0, "join failed");
	return 0;
}

static int id_main(void *arg)
{
	uint64_t *ids = arg;
	weft_task *sp[4];
	int i;

	/* Four spawners, so ids come from several workers. */
	for (i = 0; i < 4; i++) {
		sp[i] = weft_spawn(id_spawner, &ids[i * (N_IDS / 4)]);
		cr_assert_not_null(sp[i], "weft_spawn failed: errno %d", errno);
	}
	for (i = 0; i < 4; i++)
		cr_assert_eq(weft_join(sp[i]), 0, "join failed");
	ids[N_IDS] = weft_task_id(weft_self());
	return 0;
}

Test(task, task_ids_are_nonzero_and_unique)
{
	FOR_EACH_WORKERS(w)
	{
		uint64_t *ids = calloc(N_IDS + 1, sizeof(*ids));
		int r, i;

		cr_assert_not_null(ids, "calloc");
		r = t_run(id_main, ids, w);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
		qsort(ids, N_IDS + 1, sizeof(*ids), id_cmp);
		cr_assert_neq(ids[0], 0u, "a task had id 0 (%u workers)", w);
		for (i = 1; i <= N_IDS; i++)
			cr_assert_neq(ids[i], ids[i - 1],
				      "id %llu given twice (%u workers)",
				      (unsigned long long)ids[i], w);
		free(ids);
	}
}

/* --------------------------------------------------------------- weft_run */

Test(task, run_returns_the_main_status)
{
	static const int values[] = { 0, 17, -EIO, -ECANCELED };
	unsigned i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		FOR_EACH_WORKERS(w)
		{
			int r = t_run(ret_arg, (void *)(intptr_t)values[i], w);

			cr_assert_eq(r, values[i],
				     "weft_run returned %d, main returned %d "
				     "(%u workers)",
				     r, values[i], w);
		}
	}
}

Test(task, run_with_null_config_uses_defaults)
{
	int r = weft_run(ret_arg, (void *)(intptr_t)4, NULL);

	cr_assert_eq(r, 4, "weft_run(cfg NULL) returned %d", r);
}

#define N_LEFT 100

struct leftover {
	weft_event never;
	atomic_int started;
	atomic_int ecanceled;
	atomic_int other;
};

static int leftover_fn(void *arg)
{
	struct leftover *l = arg;
	int r;

	atomic_fetch_add(&l->started, 1);
	r = weft_event_wait(&l->never);
	if (r == -ECANCELED)
		atomic_fetch_add(&l->ecanceled, 1);
	else
		atomic_fetch_add(&l->other, 1);
	return r;
}

static int leftover_main(void *arg)
{
	struct leftover *l = arg;
	int i;

	for (i = 0; i < N_LEFT; i++) {
		weft_task *t = weft_spawn(leftover_fn, l);

		cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
		weft_detach(t);
	}
	wait_count(&l->started, N_LEFT);
	for (i = 0; i < 10; i++)
		weft_yield();
	return 21;
}

Test(task, main_returning_cancels_and_awaits_tasks_still_parked)
{
	FOR_EACH_WORKERS(w)
	{
		struct leftover l;
		int r;

		memset(&l, 0, sizeof(l));
		r = t_run(leftover_main, &l, w);
		cr_assert_eq(r, 21, "weft_run returned %d with %u workers", r, w);
		cr_assert_eq(atomic_load(&l.ecanceled), N_LEFT,
			     "%d of %d parked tasks saw -ECANCELED (%d other) "
			     "(%u workers)",
			     atomic_load(&l.ecanceled), N_LEFT,
			     atomic_load(&l.other), w);
	}
}

/* ------------------------------------------------------------ on_task_error */

struct err_seen {
	atomic_int calls;
	atomic_int status;
	_Atomic uint64_t id;
	atomic_int bad_arg;
};

static void on_error(weft_task *t, int status, void *arg)
{
	struct err_seen *e = arg;

	if (!e)
		return;
	atomic_fetch_add(&e->calls, 1);
	atomic_store(&e->status, status);
	atomic_store(&e->id, weft_task_id(t));
}

static int err_main(void *arg)
{
	uint64_t *eio_id = arg;
	static const int sts[] = { -ECANCELED, 0, 1, -EIO };
	weft_task *ts[4];
	unsigned i;

	for (i = 0; i < 4; i++) {
		ts[i] = weft_spawn(ret_arg, (void *)(intptr_t)sts[i]);
		cr_assert_not_null(ts[i], "weft_spawn failed: errno %d", errno);
	}
	*eio_id = weft_task_id(ts[3]);
	/* Detach two before and two after they finished. */
	weft_detach(ts[0]);
	weft_detach(ts[3]);
	for (i = 0; i < 20; i++)
		weft_yield();
	weft_detach(ts[1]);
	weft_detach(ts[2]);
	return 0;
}

Test(task, on_task_error_reports_a_detached_task_failing_and_nothing_else)
{
	FOR_EACH_WORKERS(w)
	{
		struct err_seen e;
		weft_config cfg;
		uint64_t eio_id = 0;
		int r;

		memset(&e, 0, sizeof(e));
		memset(&cfg, 0, sizeof(cfg));
		cfg.on_task_error = on_error;
		cfg.on_task_error_arg = &e;
		r = t_run_cfg(err_main, &eio_id, w, &cfg);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
		cr_assert_eq(atomic_load(&e.calls), 1,
			     "on_task_error called %d times, want 1 (%u workers)",
			     atomic_load(&e.calls), w);
		cr_assert_eq(atomic_load(&e.status), -EIO,
			     "reported status %d", atomic_load(&e.status));
		cr_assert_eq(atomic_load(&e.id), eio_id,
			     "reported the wrong task");
	}
}

static int err_joined_main(void *arg)
{
	weft_task *t = weft_spawn(ret_arg, (void *)(intptr_t)-EIO);

	cr_assert_eq(weft_join(t), -EIO, "join");
	return 0;
}

Test(task, on_task_error_is_not_called_for_a_joined_task)
{
	struct err_seen e;
	weft_config cfg;
	int r;

	memset(&e, 0, sizeof(e));
	memset(&cfg, 0, sizeof(cfg));
	cfg.on_task_error = on_error;
	cfg.on_task_error_arg = &e;
	r = t_run_cfg(err_joined_main, NULL, 2, &cfg);
	cr_assert_eq(r, 0, "weft_run returned %d", r);
	cr_assert_eq(atomic_load(&e.calls), 0, "on_task_error called %d times",
		     atomic_load(&e.calls));
}

/* ------------------------------------------------- runtime new/block_on/free */

struct bg {
	weft_event stop;
	weft_event done;
	atomic_int ticks;
	atomic_int bg_status;
};

static int bg_fn(void *arg)
{
	struct bg *b = arg;

	while (!weft_event_is_set(&b->stop)) {
		atomic_fetch_add(&b->ticks, 1);
		if (weft_yield() != 0)
			break;
	}
	atomic_store(&b->bg_status, 1);
	weft_event_set(&b->done);
	return 0;
}

static int block1(void *arg)
{
	weft_task *t = weft_spawn(bg_fn, arg);

	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	weft_detach(t);
	return 100;
}

static int block2(void *arg)
{
	struct bg *b = arg;
	int start = atomic_load(&b->ticks);
	int r;

	/* The background task keeps ticking while we run. */
	while (atomic_load(&b->ticks) < start + 100)
		weft_yield();
	weft_event_set(&b->stop);
	r = weft_event_wait(&b->done);
	cr_assert_eq(r, 0, "wait for the background task: %d", r);
	return 200;
}

Test(task, block_on_twice_on_one_runtime_keeps_detached_tasks_running)
{
	FOR_EACH_WORKERS(w)
	{
		weft_config cfg;
		weft_runtime *rt;
		struct bg b;
		int r;

		memset(&cfg, 0, sizeof(cfg));
		memset(&b, 0, sizeof(b));
		cfg.workers = w;
		rt = weft_runtime_new(&cfg);
		cr_assert_not_null(rt, "weft_runtime_new: errno %d", errno);
		r = weft_runtime_block_on(rt, block1, &b);
		cr_assert_eq(r, 100, "first block_on returned %d", r);
		r = weft_runtime_block_on(rt, block2, &b);
		cr_assert_eq(r, 200, "second block_on returned %d", r);
		cr_assert_eq(atomic_load(&b.bg_status), 1,
			     "background task did not finish");
		weft_runtime_free(rt);
	}
}

static int nested_block_on(void *arg)
{
	int r = weft_runtime_block_on(weft_runtime_current(), ret_arg, NULL);

	cr_assert_eq(r, -EPERM, "block_on inside a task returned %d", r);
	r = weft_run(ret_arg, NULL, NULL);
	cr_assert_eq(r, -EPERM, "weft_run inside a task returned %d", r);
	return 0;
}

Test(task, block_on_from_inside_a_task_returns_eperm)
{
	weft_runtime *rt;
	weft_config cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 2;
	rt = weft_runtime_new(&cfg);
	cr_assert_not_null(rt, "weft_runtime_new: errno %d", errno);
	r = weft_runtime_block_on(rt, nested_block_on, NULL);
	cr_assert_eq(r, 0, "block_on returned %d", r);
	cr_assert_eq(weft_runtime_block_on(NULL, ret_arg, NULL), -EINVAL,
		     "NULL runtime");
	cr_assert_eq(weft_runtime_block_on(rt, NULL, NULL), -EINVAL,
		     "NULL function");
	weft_runtime_free(rt);
	weft_runtime_free(NULL);
}

Test(task, run_with_a_4096_byte_stack_returns_einval)
{
	weft_config cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 1;
	cfg.stack_size = 4096;
	atomic_store(&ran_count, 0);
	r = weft_run(count_run, NULL, &cfg);
	cr_assert_eq(r, -EINVAL, "weft_run with a 4 KiB stack returned %d", r);
	cr_assert_eq(atomic_load(&ran_count), 0, "main ran anyway");
}

static int workers_main(void *arg)
{
	weft_stats s;
	int r = weft_stats_get(NULL, &s);

	cr_assert_eq(r, 0, "weft_stats_get returned %d", r);
	return (int)s.workers;
}

Test(task, weft_workers_env_sets_the_worker_count)
{
	weft_config cfg;
	int r;

	setenv("WEFT_WORKERS", "3", 1);
	r = weft_run(workers_main, NULL, NULL);
	cr_assert_eq(r, 3, "with WEFT_WORKERS=3 and no config: %d workers", r);
	memset(&cfg, 0, sizeof(cfg));
	r = weft_run(workers_main, NULL, &cfg);
	cr_assert_eq(r, 3, "with WEFT_WORKERS=3 and a zero config: %d", r);
	cfg.workers = 2;
	r = weft_run(workers_main, NULL, &cfg);
	cr_assert_eq(r, 2, "the config wins over the environment: %d", r);
	unsetenv("WEFT_WORKERS");
}

/* ---------------------------------------------------------------- stacks */

#define BIG (40 * 1024)

static int big_stack_fn(void *arg)
{
	volatile char buf[BIG];
	unsigned sum = 0;
	int i;

	for (i = 0; i < BIG; i++)
		buf[i] = (char)i;
	weft_yield(); /* survives a switch */
	for (i = 0; i < BIG; i++)
		sum += (unsigned char)buf[i];
	return (int)(sum & 0x7fffffff);
}

static int big_stack_main(void *arg)
{
	unsigned want = 0;
	int i, r;
	weft_task *t;

	for (i = 0; i < BIG; i++)
		want += (unsigned char)(char)i;
	r = big_stack_fn(NULL);
	cr_assert_eq(r, (int)want, "main task: sum %d, want %u", r, want);
	t = weft_spawn(big_stack_fn, NULL);
	cr_assert_not_null(t, "weft_spawn failed: errno %d", errno);
	r = weft_join(t);
	cr_assert_eq(r, (int)want, "child task: sum %d, want %u", r, want);
	return 0;
}

Test(task, a_task_can_use_40_kib_of_its_64_kib_stack)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(big_stack_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* --------------------------------------------------------- foreign threads */

struct foreign {
	weft_runtime *rt;
	int status;
	int spawn_errno;
};

static int foreign_task(void *arg)
{
	int i;

	cr_assert(weft_in_task(), "not in a task");
	for (i = 0; i < 10; i++)
		weft_yield();
	return 55;
}

static void *foreign_thread(void *arg)
{
	struct foreign *f = arg;
	weft_task *t = weft_spawn_on(f->rt, foreign_task, NULL);

	if (!t) {
		f->spawn_errno = errno;
		return NULL;
	}
	f->status = weft_join(t);
	return NULL;
}

Test(task, spawn_on_from_a_foreign_thread_is_joined_from_that_thread)
{
	FOR_EACH_WORKERS(w)
	{
		struct foreign f[4];
		pthread_t th[4];
		weft_config cfg;
		weft_task *t;
		int i, r;

		memset(&cfg, 0, sizeof(cfg));
		cfg.workers = w;
		memset(f, 0, sizeof(f));
		f[0].rt = weft_runtime_new(&cfg);
		cr_assert_not_null(f[0].rt, "weft_runtime_new: errno %d", errno);
		for (i = 0; i < 4; i++) {
			f[i].rt = f[0].rt;
			f[i].status = -1;
			r = pthread_create(&th[i], NULL, foreign_thread, &f[i]);
			cr_assert_eq(r, 0, "pthread_create: %d", r);
		}
		for (i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			cr_assert_eq(f[i].spawn_errno, 0,
				     "weft_spawn_on failed: errno %d",
				     f[i].spawn_errno);
			cr_assert_eq(f[i].status, 55,
				     "join from the foreign thread returned %d",
				     f[i].status);
		}
		/* The test's own thread is foreign too. */
		t = weft_spawn_on(f[0].rt, foreign_task, NULL);
		cr_assert_not_null(t, "weft_spawn_on: errno %d", errno);
		r = weft_join(t);
		cr_assert_eq(r, 55, "join from the main thread returned %d", r);
		weft_runtime_free(f[0].rt);
	}
}

Test(task, spawn_on_with_bad_arguments_returns_null_with_einval)
{
	errno = 0;
	cr_assert_null(weft_spawn_on(NULL, foreign_task, NULL), "NULL runtime");
	cr_assert_eq(errno, EINVAL, "errno %d", errno);
}

/*
 * A worker that runs a task which never suspends must not keep the tasks
 * queued behind it: an idle worker takes them.  The scheduler leaves a
 * short queue to its busy owner for a few microseconds (worker.c,
 * worth_stealing), and this is the bound on that patience: the queued
 * tasks run while the spinner still spins, with 2 workers and with 8 on
 * 2 CPUs (where idle workers park instead of spinning).
 */
struct hog {
	atomic_int ran;
};

static uint64_t t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int hog_child(void *arg)
{
	struct hog *h = arg;

	atomic_fetch_add(&h->ran, 1);
	return 0;
}

static int hog_main(void *arg)
{
	struct hog *h = arg;
	weft_task *t[3];
	uint64_t t0;
	int i;

	atomic_store(&h->ran, 0);
	for (i = 0; i < 3; i++) {
		t[i] = weft_spawn(hog_child, h);
		cr_assert_not_null(t[i]);
	}
	/* Spin without a weft call (the budget never runs out): only
	 * another worker can run the two children in our queue (the third
	 * sits in our LIFO slot, which is ours alone). */
	t0 = t_now_ns();
	while (atomic_load(&h->ran) < 2 && t_now_ns() - t0 < 5000000000ull)
		;
	cr_assert_geq(atomic_load(&h->ran), 2,
		      "queued tasks did not run while their worker was busy");
	for (i = 0; i < 3; i++)
		cr_assert_eq(weft_join(t[i]), 0);
	return 0;
}

Test(task, tasks_queued_behind_a_task_that_never_suspends_run_elsewhere)
{
	static const unsigned workers[] = { 2, 8 };
	struct hog h;
	unsigned i;

	for (i = 0; i < 2; i++)
		cr_assert_eq(t_run(hog_main, &h, workers[i]), 0,
			     "with %u workers", workers[i]);
}

/*
 * Threads carry names top, perf and gdb show: weft-worker-N for each
 * worker with a thread of its own (weft_run's worker 0 is the calling
 * thread, which keeps its name), weft-blocking-N for blocking-pool
 * threads.  (Workers name themselves as they start, before they run a
 * task.)
 */
static int count_threads_named(const char *prefix)
{
	char path[300], comm[32];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	cr_assert_not_null(dir, "opendir /proc/self/task");
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    strncmp(comm, prefix, strlen(prefix)) == 0)
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

static int add_one_job(void *arg)
{
	return (int)(intptr_t)arg + 1;
}

static pthread_t names_caller;
static _Atomic int names_held;

/*
 * Hold this task's worker (no weft call, so the worker runs nothing else)
 * until three tasks do: then all three workers run, and each named itself
 * before its loop took its first task.  Ordered by the tasks themselves,
 * not by waiting some time for the threads to start.
 */
static void hold_a_worker(void)
{
	atomic_fetch_add(&names_held, 1);
	while (atomic_load(&names_held) < 3)
		sched_yield();
}

static int names_holder(void *arg)
{
	(void)arg;
	hold_a_worker();
	return 0;
}

static int names_main(void *arg)
{
	weft_task *h[3];
	char name[16];
	int i;

	/* ASan and Valgrind keep weft_run's thread out (runtime.c). */
	int want = 2;

#ifdef WEFT_ASAN
	want = 3;
#endif
	if (weft__under_valgrind())
		want = 3;
	/* Three holders for two free workers: the newest waits in our LIFO
	 * slot, which thieves leave alone; the other two are stolen. */
	for (i = 0; i < 3; i++)
		cr_assert_not_null(h[i] = weft_spawn(names_holder, NULL));
	hold_a_worker();
	for (i = 0; i < 3; i++)
		cr_assert_eq(weft_join(h[i]), 0);
	cr_assert_eq(count_threads_named("weft-worker-"), want,
		     "threads named weft-worker-N");
	/* (Not counted by name: threads started from it, TSan's own,
	 * inherit the name.) */
	pthread_getname_np(names_caller, name, sizeof(name));
	cr_assert_str_eq(name, "t-caller", "weft_run's thread lost its name");
	cr_assert_eq(weft_blocking(add_one_job, (void *)(intptr_t)41), 42);
	cr_assert_geq(count_threads_named("weft-blocking-"), 1,
		      "no thread named weft-blocking-N");
	return 0;
}

Test(task, worker_and_blocking_threads_are_named_for_top_perf_and_gdb)
{
	names_caller = pthread_self();
	pthread_setname_np(names_caller, "t-caller");
	cr_assert_eq(t_run(names_main, NULL, 3), 0);
}

/*
 * weft_run's thread is worker 0 while it runs (one thread fewer to start,
 * and no cross-thread wake before main runs), then is given back as it
 * was: with one worker the main task runs on it, changes what a worker
 * changes (signal stack, timer slack, and a signal mask as
 * weft_signal_wait's), and none of it is left afterwards.
 */
static pid_t caller_tid;

static int caller_main(void *arg)
{
	stack_t *outer = arg, ss;
	sigset_t set;

#ifndef WEFT_ASAN
	if (weft__under_valgrind()) {
		/* Kept out there too (runtime.c). */
		cr_assert_neq(gettid(), caller_tid,
			      "Valgrind: main on weft_run's thread");
		return 7;
	}
	cr_assert_eq(gettid(), caller_tid,
		     "one worker, and main is not on weft_run's thread");
	sigaltstack(NULL, &ss);
	cr_assert_neq(ss.ss_sp, outer->ss_sp,
		      "the worker did not install its own signal stack");
#else
	/* ASan builds keep weft_run's thread out (runtime.c): only the
	 * restoring half is checked there, trivially. */
	(void)ss;
	(void)outer;
	cr_assert_neq(gettid(), caller_tid, "ASan: main on weft_run's thread");
#endif
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return 7;
}

Test(task, weft_run_lends_its_thread_as_worker_0_and_gets_it_back_unchanged)
{
	static char altstack[64 * 1024];
	stack_t outer = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	stack_t after;
	sigset_t mask;
	char name[16];

	caller_tid = gettid();
	pthread_setname_np(pthread_self(), "t-lender");
	cr_assert_eq(sigaltstack(&outer, NULL), 0);
	cr_assert_eq(prctl(PR_SET_TIMERSLACK, 12345UL, 0UL, 0UL, 0UL), 0);

	cr_assert_eq(t_run(caller_main, &outer, 1), 7);

	sigaltstack(NULL, &after);
	cr_assert_eq(after.ss_sp, outer.ss_sp, "signal stack not restored");
	cr_assert_eq(after.ss_size, outer.ss_size);
	cr_assert_eq(prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL), 12345,
		     "timer slack not restored");
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	cr_assert_eq(sigismember(&mask, SIGUSR2), 0,
		     "a signal blocked by a task stays blocked");
	pthread_getname_np(pthread_self(), name, sizeof(name));
	cr_assert_str_eq(name, "t-lender");
}
