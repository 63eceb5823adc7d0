/*
 * Bad input to the runtime, task, time, combinator, group, generator,
 * future, task-local and blocking calls (issue 7): misused handles, absurd
 * sizes and times, and calls that need a task made outside one.  Each
 * check names the call it failed on; misuse that cannot be reported as a
 * value must abort in a child process with a message naming the call.
 * docs/robustness.md, "Bad input", lists what the user sees.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/unit/bad_input.h"

TestSuite(bad_input_tasks, .timeout = 120);

#define MS 1000000ull

static int ret0(void *arg)
{
	return 0;
}

static int ret7(void *arg)
{
	return 7;
}

/* Parks until its event is set (or it is cancelled). */
static int wait_event(void *arg)
{
	return weft_event_wait(arg);
}

/* ---------------------------------------------------------- runtime */

static int run_from_task(void *arg)
{
	weft_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	EXPECT_RET(weft_run(ret0, NULL, NULL), -EPERM);
	EXPECT_RET(weft_runtime_block_on(weft_runtime_current(), ret0, NULL),
		   -EPERM);
	EXPECT_RET(weft_stats_get(NULL, NULL), -EINVAL);
	return 0;
}

Test(bad_input_tasks, runtime_calls_reject_bad_configs_and_wrong_threads)
{
	weft_config cfg;
	weft_stats st;

	memset(&cfg, 0, sizeof(cfg));
	cfg.workers = 100000;
	EXPECT_RET(weft_run(ret0, NULL, &cfg), -EINVAL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.stack_size = 1;
	EXPECT_RET(weft_run(ret0, NULL, &cfg), -EINVAL);
	cfg.stack_size = SIZE_MAX;
	EXPECT_RET(weft_run(ret0, NULL, &cfg), -EINVAL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.io_backend = 99;
	EXPECT_RET(weft_run(ret0, NULL, &cfg), -EINVAL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.io_backend = -1;
	EXPECT_RET(weft_run(ret0, NULL, &cfg), -EINVAL);
	/* Outside any runtime: nothing to report on. */
	EXPECT_RET(weft_stats_get(NULL, &st), -EINVAL);
	EXPECT_RET(weft_dump(NULL, NULL), -EINVAL);
	cr_assert_null(weft_runtime_current(), "weft_runtime_current()");
	cr_assert_eq(t_run(run_from_task, NULL, 2), 0, "run_from_task");
}

static int free_own_runtime(void *arg)
{
	weft_runtime_free(weft_runtime_current());
	return 0;
}

Test(bad_input_tasks, runtime_free_from_its_own_task_aborts)
{
	EXPECT_ABORT(free_own_runtime, "weft_runtime_free");
}

/* ------------------------------------------------------------- tasks */

static int outside_calls(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_task *ts[1] = { NULL };

	EXPECT_NULL_ERRNO(weft_spawn(ret0, NULL), EPERM);
	EXPECT_RET(weft_yield(), -EPERM);
	EXPECT_RET(weft_sleep(1), -EPERM);
	EXPECT_RET(weft_sleep_until(0), -EPERM);
	EXPECT_RET(weft_deadline_push(MS), -EPERM);
	EXPECT_RET(weft_deadline_pop(), -EPERM);
	EXPECT_RET(weft_event_wait(&ev), -EPERM);
	EXPECT_RET(weft_wait(ts, 1, WEFT_ALL_COMPLETED, 0, NULL), -EINVAL);
	EXPECT_RET(weft_wait(ts, 0, WEFT_ALL_COMPLETED, 0, NULL), -EPERM);
	EXPECT_RET(weft_gather(ts, 0, NULL), -EPERM);
	EXPECT_NULL_ERRNO(weft_next_done(ts, 1), EPERM);
	EXPECT_RET(weft_blocking(ret0, NULL), -EPERM);
	EXPECT_RET(weft_local_set((weft_local_key *)arg, &ev), -EPERM);
	cr_assert_null(weft_local_get((weft_local_key *)arg),
		       "weft_local_get outside a task");
	EXPECT_RET(weft_recv(0, NULL, 0, 0), -EPERM);
	EXPECT_RET(weft_send(1, "", 0, 0), -EPERM);
	EXPECT_RET(weft_read(0, NULL, 0, -1), -EPERM);
	EXPECT_RET(weft_write(1, "", 0, -1), -EPERM);
	EXPECT_RET(weft_fsync(1), -EPERM);
	EXPECT_RET(weft_poll(0, 0), -EPERM);
	EXPECT_RET(weft_shutdown(0, SHUT_RDWR), -EPERM);
	EXPECT_RET(weft_accept(0, NULL, NULL), -EPERM);
	EXPECT_RET(weft_connect(0, NULL, 0), -EPERM);
	EXPECT_RET(weft_open("/", 0, 0), -EPERM);
	EXPECT_RET(weft_send_all(1, "", 0, 0), -EPERM);
	EXPECT_RET(weft_dial_tcp("127.0.0.1", 1), -EPERM);
	EXPECT_RET(weft_dial_unix("/nonexistent"), -EPERM);
	cr_assert(!weft_cancelled(), "weft_cancelled outside a task");
	cr_assert(!weft_in_task(), "weft_in_task outside a task");
	cr_assert_null(weft_self(), "weft_self outside a task");
	/* No-ops outside a task, as documented. */
	weft_shield_begin();
	weft_shield_end();
	weft_shield_end();
	return 0;
}

Test(bad_input_tasks, calls_that_need_a_task_return_eperm_on_a_plain_thread)
{
	weft_local_key *k = weft_local_key_new(NULL);

	cr_assert_not_null(k, "weft_local_key_new");
	outside_calls(k);
	weft_local_key_free(k);
}

static int in_blocking_fn(void *arg)
{
	/* A blocking-pool thread is a plain thread: the same answers. */
	outside_calls(arg);
	return 42;
}

static int blocking_main(void *arg)
{
	weft_local_key *k = weft_local_key_new(NULL);
	int r = weft_blocking(in_blocking_fn, k);

	weft_local_key_free(k);
	cr_assert_eq(r, 42, "weft_blocking returned %d", r);
	return 0;
}

Test(bad_input_tasks, calls_that_need_a_task_return_eperm_on_the_blocking_pool)
{
	cr_assert_eq(t_run(blocking_main, NULL, 2), 0, "run");
}

static int join_self(void *arg)
{
	weft_join(weft_self());
	return 0;
}

static int join_twice(void *arg)
{
	weft_task *t = weft_spawn(ret0, NULL);

	weft_join(t);
	weft_join(t);
	return 0;
}

static int join_detached_running(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_task *t = weft_spawn(wait_event, &ev);

	weft_detach(t);
	weft_join(t);
	return 0;
}

static int join_detached_done(void *arg)
{
	weft_task *t = weft_spawn(ret0, NULL);

	weft_yield();
	weft_detach(t);
	weft_join(t);
	return 0;
}

static int detach_twice_running(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_task *t = weft_spawn(wait_event, &ev);

	weft_detach(t);
	weft_detach(t);
	return 0;
}

static int detach_after_join(void *arg)
{
	weft_task *t = weft_spawn(ret0, NULL);

	weft_join(t);
	weft_detach(t);
	return 0;
}

static int join_timeout_after_join(void *arg)
{
	weft_task *t = weft_spawn(ret0, NULL);

	weft_join(t);
	weft_join_timeout(t, MS);
	return 0;
}

static int join_it(void *arg)
{
	return weft_join(arg);
}

static int join_while_joined(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_task *t = weft_spawn(wait_event, &ev);
	weft_task *j = weft_spawn(join_it, t);

	t_wait_parked(j);
	weft_join(t);
	return 0;
}

static int gather_duplicate(void *arg)
{
	weft_task *ts[2];

	ts[0] = ts[1] = weft_spawn(ret0, NULL);
	weft_gather(ts, 2, NULL);
	return 0;
}

static int gather_duplicate_statuses(void *arg)
{
	weft_task *ts[2];
	int st[2];

	ts[0] = ts[1] = weft_spawn(ret0, NULL);
	weft_gather(ts, 2, st);
	return 0;
}

static int join_group_child(void *arg)
{
	weft_group *g = weft_group_new();
	weft_task *t = weft_group_spawn(g, ret0, NULL);

	weft_join(t);
	return 0;
}

static int detach_group_child(void *arg)
{
	weft_group *g = weft_group_new();
	weft_task *t = weft_group_spawn(g, ret0, NULL);

	weft_detach(t);
	return 0;
}

static int shield_end_unopened(void *arg)
{
	weft_shield_end();
	return 0;
}

Test(bad_input_tasks, joining_a_task_itself_aborts)
{
	EXPECT_ABORT(join_self, "weft_join: a task cannot join itself");
}

Test(bad_input_tasks, issue_7_double_join_aborts)
{
	EXPECT_ABORT(join_twice, "weft_join: ");
	EXPECT_ABORT(join_timeout_after_join, "weft_join_timeout: ");
	EXPECT_ABORT(gather_duplicate, "weft_next_done: the task handle was "
		     "already released");
	EXPECT_ABORT(gather_duplicate_statuses, "weft_join: the task handle "
		     "was already released");
}

Test(bad_input_tasks, issue_7_join_of_a_detached_task_aborts)
{
	EXPECT_ABORT(join_detached_running, "weft_join: ");
	EXPECT_ABORT(join_detached_done, "weft_join: ");
}

Test(bad_input_tasks, issue_7_two_joiners_of_one_task_abort)
{
	EXPECT_ABORT(join_while_joined, "weft_join: ");
}

Test(bad_input_tasks, detach_twice_aborts)
{
	EXPECT_ABORT(detach_twice_running, "weft_detach: ");
	EXPECT_ABORT(detach_after_join, "weft_detach: ");
}

Test(bad_input_tasks, issue_7_join_or_detach_of_a_group_child_aborts)
{
	EXPECT_ABORT(join_group_child, "weft_join: ");
	EXPECT_ABORT(detach_group_child, "weft_detach: ");
}

Test(bad_input_tasks, shield_end_without_begin_aborts)
{
	EXPECT_ABORT(shield_end_unopened, "weft_shield_end");
}

static int names_and_cancels(void *arg)
{
	weft_task *t = weft_spawn(ret7, NULL);
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT_RET(weft_task_set_name(t, big), 0);
	cr_assert_eq(strlen(weft_task_name(t)), 31, "weft_task_set_name: "
		     "a 999-byte name keeps %zu bytes",
		     strlen(weft_task_name(t)));
	EXPECT_RET(weft_task_set_name(t, NULL), -EINVAL);
	EXPECT_RET(weft_join_timeout(t, WEFT_FOREVER), 7);
	t = weft_spawn(ret7, NULL);
	weft_yield();
	weft_cancel(t);	/* finished: does nothing */
	weft_cancel(t);
	EXPECT_RET(weft_join(t), 7);
	return 0;
}

Test(bad_input_tasks, long_names_are_truncated_and_late_cancels_do_nothing)
{
	cr_assert_eq(t_run(names_and_cancels, NULL, 2), 0, "run");
}

/* ------------------------------------------------------- time, scopes */

static int absurd_times(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_task *t;
	uint64_t t0;

	EXPECT_RET(weft_deadline_pop(), -EINVAL);
	EXPECT_RET(weft_sleep(0), 0);
	EXPECT_RET(weft_sleep_until(0), 0);
	EXPECT_RET(weft_sleep_until(weft_now() - 1), 0);
	/* "Negative" (huge) times are no deadline at all, never a wrap. */
	EXPECT_RET(weft_deadline_push((uint64_t)-1), 0);
	EXPECT_RET(weft_deadline_push(UINT64_MAX - 1), 0);
	EXPECT_RET(weft_yield(), 0);
	EXPECT_RET(weft_deadline_pop(), 0);
	EXPECT_RET(weft_deadline_pop(), 0);
	/* A huge sleep is cut short only by a deadline scope. */
	t0 = weft_now();
	EXPECT_RET(weft_deadline_push(2 * MS), 0);
	EXPECT_RET(weft_sleep((uint64_t)-1), -ETIMEDOUT);
	EXPECT_RET(weft_sleep_until(UINT64_MAX), -ETIMEDOUT);
	EXPECT_RET(weft_deadline_pop(), 1);
	cr_assert_geq(weft_now() - t0, 2 * MS, "weft_sleep ended early");
	/* A zero deadline has passed at once. */
	EXPECT_RET(weft_deadline_push(0), 0);
	EXPECT_RET(weft_yield(), -ETIMEDOUT);
	EXPECT_RET(weft_deadline_pop(), 1);
	/* join_timeout: 0 gives up at once, and cancels and awaits. */
	t = weft_spawn(wait_event, &ev);
	EXPECT_RET(weft_join_timeout(t, 0), -ETIMEDOUT);
	t = weft_spawn(ret7, NULL);
	EXPECT_RET(weft_join_timeout(t, (uint64_t)-1), 7);
	return 0;
}

Test(bad_input_tasks, absurd_times_saturate_and_zero_times_pass_at_once)
{
	cr_assert_eq(t_run(absurd_times, NULL, 2), 0, "run");
}

/* ------------------------------------------------------- combinators */

static int combinator_edges(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_task *ts[3] = { NULL, NULL, NULL };
	size_t first = 99;
	int st[1];

	EXPECT_RET(weft_gather(ts, 0, NULL), 0);
	EXPECT_RET(weft_gather(NULL, 0, st), 0);
	EXPECT_RET(weft_wait(NULL, 0, WEFT_ALL_COMPLETED, 0, NULL), 0);
	EXPECT_NULL_ERRNO(weft_next_done(ts, 3), 0);
	EXPECT_NULL_ERRNO(weft_next_done(NULL, 0), 0);
	ts[0] = weft_spawn(wait_event, &ev);
	EXPECT_RET(weft_wait(ts, 1, (weft_when)99, 0, NULL), -EINVAL);
	EXPECT_RET(weft_wait(ts, 1, (weft_when)-1, 0, NULL), -EINVAL);
	EXPECT_RET(weft_wait(ts, 2, WEFT_ALL_COMPLETED, 0, NULL), -EINVAL);
	EXPECT_RET(weft_wait(ts, 1, WEFT_ALL_COMPLETED, 0, &first),
		   -ETIMEDOUT);
	cr_assert_eq(first, 99, "weft_wait set *first_done on a timeout");
	EXPECT_RET(weft_gather(ts, 2, NULL), -EINVAL);
	weft_event_set(&ev);
	EXPECT_RET(weft_wait(ts, 1, WEFT_FIRST_EXCEPTION, (uint64_t)-1,
			     &first), 0);
	cr_assert_eq(first, 0, "weft_wait first_done %zu", first);
	EXPECT_RET(weft_gather(ts, 1, st), 0);
	cr_assert_eq(st[0], 0, "weft_gather status %d", st[0]);
	return 0;
}

Test(bad_input_tasks, combinators_take_empty_sets_and_refuse_bad_ones)
{
	cr_assert_eq(t_run(combinator_edges, NULL, 2), 0, "run");
}

/* ------------------------------------------------------------ groups */

static int group_child_waits_own_group(void *arg)
{
	return weft_group_wait(arg);
}

static int group_edges(void *arg)
{
	weft_group *g = weft_group_new();
	int errs[2];

	cr_assert_not_null(g, "weft_group_new");
	EXPECT_RET(weft_group_errors(g, NULL, 5), 0);
	/* A child waiting for its own group would wait for itself. */
	cr_assert_not_null(weft_group_spawn(g, group_child_waits_own_group,
					    g), "weft_group_spawn");
	EXPECT_RET(weft_group_wait(g), -EDEADLK);
	EXPECT_RET(weft_group_errors(g, errs, 2), 1);
	cr_assert_eq(errs[0], -EDEADLK, "weft_group_errors: %d", errs[0]);
	EXPECT_NULL_ERRNO(weft_group_spawn(g, ret0, NULL), ECANCELED);
	weft_group_cancel(g);	/* after the wait: nothing to do */
	weft_group_free(g);
	return 0;
}

static int group_wait_twice(void *arg)
{
	weft_group *g = weft_group_new();

	weft_group_wait(g);
	weft_group_wait(g);
	return 0;
}

static int group_outside(void *arg)
{
	weft_group *g = weft_group_new();

	EXPECT_NULL_ERRNO(weft_group_spawn(g, ret0, NULL), EPERM);
	EXPECT_RET(weft_group_wait(g), -EPERM);
	weft_group_cancel(g);
	weft_group_free(g);
	return 0;
}

Test(bad_input_tasks, issue_7_group_misuse_is_reported)
{
	cr_assert_eq(t_run(group_edges, NULL, 2), 0, "run");
	group_outside(NULL);
	EXPECT_ABORT(group_wait_twice, "weft_group_wait: group waited twice");
}

/* -------------------------------------------------------- generators */

static int gen_self_next(weft_gen *g, void *arg)
{
	void *item;
	int r = weft_gen_next(g, &item);

	cr_assert_eq(r, -EDEADLK, "weft_gen_next from the producer: %d", r);
	return weft_gen_yield(g, arg);
}

static int gen_two_items(weft_gen *g, void *arg)
{
	int r = weft_gen_yield(g, arg);

	if (r == 0)
		r = weft_gen_yield(g, arg);
	return r < 0 ? r : 0;
}

/* A second consumer, while the first waits for the producer. */
static int gen_other_consumer(void *arg)
{
	void *item;

	return weft_gen_next(arg, &item);
}

static int gen_parked_producer(weft_gen *g, void *arg)
{
	weft_event *ev = arg;
	int r = weft_event_wait(ev);

	if (r == 0)
		r = weft_gen_yield(g, ev);
	return r < 0 ? r : 0;
}

static int gen_edges(void *arg)
{
	weft_event ev = WEFT_EVENT_INIT;
	weft_gen *g = weft_gen_new(gen_self_next, &ev);
	void *item = NULL;
	weft_task *t;

	EXPECT_RET(weft_gen_next(g, &item), 1);
	cr_assert_eq(item, &ev, "weft_gen_next item");
	EXPECT_RET(weft_gen_yield(g, NULL), -EPERM);
	EXPECT_RET(weft_gen_next(g, NULL), -EINVAL);
	EXPECT_RET(weft_gen_next(g, &item), 0);
	EXPECT_RET(weft_gen_next(g, &item), 0);
	weft_gen_close(g);

	/* Closed before it ever ran: the producer never starts. */
	g = weft_gen_new(gen_two_items, NULL);
	weft_gen_close(g);

	/* Two consumers at once: the second is refused. */
	g = weft_gen_new(gen_parked_producer, &ev);
	weft_event_clear(&ev);
	t = weft_spawn(gen_other_consumer, g);
	t_wait_parked(t);
	EXPECT_RET(weft_gen_next(g, &item), -EBUSY);
	weft_event_set(&ev);
	EXPECT_RET(weft_join(t), 1);
	weft_gen_close(g);
	return 0;
}

Test(bad_input_tasks, issue_7_generator_misuse_is_reported)
{
	weft_gen *g = weft_gen_new(gen_two_items, NULL);
	void *item;

	cr_assert_eq(t_run(gen_edges, NULL, 2), 0, "run");
	cr_assert_not_null(g, "weft_gen_new");
	EXPECT_RET(weft_gen_next(g, &item), -EPERM);
	EXPECT_RET(weft_gen_yield(g, NULL), -EPERM);
	weft_gen_close(g);	/* never started: a plain thread may close */
}

/* ----------------------------------------------------------- futures */

static int future_unset_result(void *arg)
{
	weft_future *f = weft_future_new();

	weft_future_result(f, NULL);
	return 0;
}

static int await_future(void *arg)
{
	return weft_future_await(arg, NULL);
}

static int future_free_awaited(void *arg)
{
	weft_future *f = weft_future_new();
	weft_task *t = weft_spawn(await_future, f);

	t_wait_parked(t);
	weft_future_free(f);
	return 0;
}

static void on_done_noop(weft_future *f, void *arg)
{
}

Test(bad_input_tasks, future_misuse_is_reported)
{
	weft_future *f = weft_future_new();
	void *v = NULL;

	cr_assert_not_null(f, "weft_future_new");
	EXPECT_RET(weft_future_on_done(f, NULL, NULL), -EINVAL);
	EXPECT_RET(weft_future_set(f, &v, -5), 0);
	EXPECT_RET(weft_future_set(f, NULL, 3), -EALREADY);
	EXPECT_RET(weft_future_result(f, &v), -5);
	cr_assert_eq(v, (void *)&v, "the first value stays");
	/* A plain thread may await: a set future answers at once. */
	EXPECT_RET(weft_future_await(f, NULL), -5);
	EXPECT_RET(weft_future_on_done(f, on_done_noop, NULL), 0);
	weft_future_free(f);
	EXPECT_ABORT(future_unset_result, "weft_future_result");
	EXPECT_ABORT(future_free_awaited, "weft_future_free");
}
