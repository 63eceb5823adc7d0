/*
 * NULL handles and missing arguments, in a task and on a plain thread:
 * every call that returns a status returns -EINVAL, every constructor
 * returns NULL with errno EINVAL, and every call that returns nothing does
 * nothing.  Nothing crashes.
 */
#include <errno.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(bad_input, .timeout = 30);

#define EXPECT_EINVAL(expr)                                               \
	do {                                                              \
		int r_ = (expr);                                          \
		cr_assert_eq(r_, -EINVAL, "%s: %s returned %d", where,    \
			     #expr, r_);                                  \
	} while (0)

static void statuses_are_einval(const char *where)
{
	EXPECT_EINVAL(weft_mutex_lock(NULL));
	EXPECT_EINVAL(weft_mutex_trylock(NULL));
	EXPECT_EINVAL(weft_sem_acquire(NULL));
	EXPECT_EINVAL(weft_sem_try_acquire(NULL));
	EXPECT_EINVAL(weft_cond_wait(NULL, NULL));
	EXPECT_EINVAL(weft_barrier_wait(NULL));
	EXPECT_EINVAL(weft_rwlock_rdlock(NULL));
	EXPECT_EINVAL(weft_rwlock_wrlock(NULL));
	EXPECT_EINVAL(weft_rwlock_try_rdlock(NULL));
	EXPECT_EINVAL(weft_rwlock_try_wrlock(NULL));
	EXPECT_EINVAL(weft_waitgroup_wait(NULL));
	EXPECT_EINVAL(weft_oneshot_send(NULL, NULL));
	EXPECT_EINVAL(weft_oneshot_recv(NULL, NULL));
	EXPECT_EINVAL(weft_oneshot_try_recv(NULL, NULL));
	EXPECT_EINVAL(weft_limiter_acquire(NULL, 1));
	EXPECT_EINVAL(weft_limiter_try_acquire(NULL, 1));
	EXPECT_EINVAL(weft_chan_send(NULL, NULL));
	EXPECT_EINVAL(weft_chan_recv(NULL, NULL));
	EXPECT_EINVAL(weft_chan_try_send(NULL, NULL));
	EXPECT_EINVAL(weft_chan_try_recv(NULL, NULL));
	EXPECT_EINVAL(weft_event_wait(NULL));
	EXPECT_EINVAL(weft_future_set(NULL, NULL, 0));
	EXPECT_EINVAL(weft_future_await(NULL, NULL));
	EXPECT_EINVAL(weft_future_result(NULL, NULL));
	EXPECT_EINVAL(weft_future_on_done(NULL, NULL, NULL));
	EXPECT_EINVAL(weft_local_set(NULL, NULL));
	EXPECT_EINVAL(weft_group_wait(NULL));
	EXPECT_EINVAL(weft_gen_next(NULL, NULL));
	EXPECT_EINVAL(weft_gen_yield(NULL, NULL));
	EXPECT_EINVAL(weft_task_set_name(NULL, NULL));
	EXPECT_EINVAL(weft_join(NULL));
	EXPECT_EINVAL(weft_join_timeout(NULL, 1));
	EXPECT_EINVAL(weft_gather(NULL, 3, NULL));
	EXPECT_EINVAL(weft_wait(NULL, 3, WEFT_ALL_COMPLETED, 0, NULL));
	EXPECT_EINVAL(weft_blocking(NULL, NULL));
	EXPECT_EINVAL(weft_stats_get(NULL, NULL));
	EXPECT_EINVAL(weft_runtime_block_on(NULL, NULL, NULL));
	EXPECT_EINVAL(weft_run(NULL, NULL, NULL));
}

static void voids_do_nothing(void)
{
	weft_event_init(NULL);
	weft_event_set(NULL);
	weft_event_clear(NULL);
	cr_assert(!weft_event_is_set(NULL), "event_is_set(NULL)");
	weft_mutex_init(NULL);
	weft_sem_init(NULL, 1);
	weft_sem_release(NULL);
	weft_cond_init(NULL);
	weft_cond_signal(NULL);
	weft_cond_broadcast(NULL);
	weft_barrier_init(NULL, 2);
	weft_rwlock_init(NULL);
	weft_waitgroup_init(NULL);
	weft_waitgroup_add(NULL, 1);
	weft_waitgroup_done(NULL);
	weft_oneshot_init(NULL);
	weft_limiter_init(NULL, 1, 1);
	weft_chan_close(NULL);
	weft_chan_free(NULL);
	weft_future_free(NULL);
	weft_local_key_free(NULL);
	cr_assert_null(weft_local_get(NULL), "local_get(NULL)");
	weft_group_cancel(NULL);
	cr_assert_eq(weft_group_errors(NULL, NULL, 0), 0, "group_errors");
	weft_group_free(NULL);
	weft_gen_close(NULL);
	weft_cancel(NULL);
	weft_detach(NULL);
	weft_runtime_free(NULL);
	cr_assert_eq(weft_task_id(NULL), 0, "task_id(NULL)");
	cr_assert_str_eq(weft_task_name(NULL), "", "task_name(NULL)");
	cr_assert(!weft_future_done(NULL), "future_done(NULL)");
}

static void constructors_say_einval(void)
{
	t_errno_clear();
	cr_assert_null(weft_chan_new(0, 1), "chan_new(0, 1)");
	cr_assert_eq(t_errno(), EINVAL, "chan_new errno %d", t_errno());
	t_errno_clear();
	cr_assert_null(weft_gen_new(NULL, NULL), "gen_new(NULL)");
	cr_assert_eq(t_errno(), EINVAL, "gen_new errno %d", t_errno());
	t_errno_clear();
	cr_assert_null(weft_spawn_on(NULL, NULL, NULL), "spawn_on(NULL)");
	cr_assert_eq(t_errno(), EINVAL, "spawn_on errno %d", t_errno());
	t_errno_clear();
	cr_assert_null(weft_group_spawn(NULL, NULL, NULL), "group_spawn");
	cr_assert_eq(t_errno(), EINVAL, "group_spawn errno %d", t_errno());
	t_errno_clear();
	cr_assert_null(weft_next_done(NULL, 3), "next_done(NULL, 3)");
	cr_assert_eq(t_errno(), EINVAL, "next_done errno %d", t_errno());
}

Test(bad_input, null_arguments_on_a_plain_thread_never_crash)
{
	statuses_are_einval("thread");
	voids_do_nothing();
	constructors_say_einval();
}

static int in_task(void *arg)
{
	statuses_are_einval("task");
	voids_do_nothing();
	constructors_say_einval();
	return 0;
}

Test(bad_input, null_arguments_in_a_task_never_crash)
{
	cr_assert_eq(t_run(in_task, NULL, 2), 0, "run");
}
