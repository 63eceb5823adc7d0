/*
 * Bad input to the synchronisation primitives and channels (issue 7):
 * unlocks of locks not held, relocks that would wait for the caller
 * itself, counters pushed past their range, closed channels, absurd sizes,
 * and waits outside a task.  Misuse that cannot be reported as a value
 * aborts in a child process with a message naming the call.
 */
#include <errno.h>
#include <stdint.h>

#include "tests/unit/bad_input.h"

TestSuite(bad_input_sync, .timeout = 120);

/* ------------------------------------------------------------ mutex */

static int unlock_unlocked(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;

	weft_mutex_unlock(&m);
	return 0;
}

static int unlock_twice(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;

	weft_mutex_lock(&m);
	weft_mutex_unlock(&m);
	weft_mutex_unlock(&m);
	return 0;
}

static int lock_it(void *arg)
{
	return weft_mutex_lock(arg);
}

static int unlock_others(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;
	weft_task *t = weft_spawn(lock_it, &m);

	weft_join(t);
	weft_mutex_unlock(&m);	/* held by the task that ended */
	return 0;
}

static int unlock_on_thread(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;

	weft_mutex_unlock(&m);
	return 0;
}

Test(bad_input_sync, unlocking_a_mutex_not_held_aborts)
{
	char out[1024];
	int st;

	EXPECT_ABORT(unlock_unlocked, "weft_mutex_unlock: mutex not held");
	EXPECT_ABORT(unlock_twice, "weft_mutex_unlock: mutex not held");
	EXPECT_ABORT(unlock_others, "weft_mutex_unlock: mutex not held");
	st = t_child(unlock_on_thread, NULL, 30, out, sizeof(out));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT &&
			  strstr(out, "weft_mutex_unlock"),
		  "weft_mutex_unlock on a plain thread: status 0x%x, "
		  "stderr \"%s\"", st, out);
}

static int relock(void *arg)
{
	weft_mutex m = WEFT_MUTEX_INIT;

	EXPECT_RET(weft_mutex_lock(&m), 0);
	EXPECT_RET(weft_mutex_trylock(&m), -EAGAIN);
	EXPECT_RET(weft_mutex_lock(&m), -EDEADLK);
	weft_mutex_unlock(&m);
	EXPECT_RET(weft_mutex_trylock(&m), 0);
	weft_mutex_unlock(&m);
	return 0;
}

Test(bad_input_sync, issue_7_relocking_a_held_mutex_returns_edeadlk)
{
	weft_mutex m = WEFT_MUTEX_INIT;

	cr_assert_eq(t_run(relock, NULL, 2), 0, "run");
	EXPECT_RET(weft_mutex_lock(&m), -EPERM);
	EXPECT_RET(weft_mutex_trylock(&m), -EPERM);
}

/* ------------------------------------------------------------- cond */

static int cond_unheld(void *arg)
{
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;

	weft_cond_wait(&c, &m);
	return 0;
}

Test(bad_input_sync, cond_wait_without_the_mutex_aborts)
{
	weft_cond c = WEFT_COND_INIT;
	weft_mutex m = WEFT_MUTEX_INIT;

	EXPECT_RET(weft_cond_wait(&c, &m), -EPERM);
	EXPECT_RET(weft_cond_wait(&c, NULL), -EINVAL);
	weft_cond_signal(&c);	/* nobody waits: nothing happens */
	weft_cond_broadcast(&c);
	EXPECT_ABORT(cond_unheld, "weft_cond_wait: mutex not held");
}

/* ----------------------------------------------------------- rwlock */

static int rw_unlock_unheld(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;

	weft_rwlock_unlock(&l);
	return 0;
}

static int rw_unlock_twice(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;

	weft_rwlock_wrlock(&l);
	weft_rwlock_unlock(&l);
	weft_rwlock_unlock(&l);
	return 0;
}

static int rw_relock(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;

	EXPECT_RET(weft_rwlock_wrlock(&l), 0);
	EXPECT_RET(weft_rwlock_wrlock(&l), -EDEADLK);
	EXPECT_RET(weft_rwlock_rdlock(&l), -EDEADLK);
	EXPECT_RET(weft_rwlock_try_wrlock(&l), -EAGAIN);
	EXPECT_RET(weft_rwlock_try_rdlock(&l), -EAGAIN);
	weft_rwlock_unlock(&l);
	/* Read holds nest (they are counted). */
	EXPECT_RET(weft_rwlock_rdlock(&l), 0);
	EXPECT_RET(weft_rwlock_rdlock(&l), 0);
	weft_rwlock_unlock(&l);
	weft_rwlock_unlock(&l);
	return 0;
}

Test(bad_input_sync, issue_7_rwlock_misuse_is_reported)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;

	cr_assert_eq(t_run(rw_relock, NULL, 2), 0, "run");
	EXPECT_RET(weft_rwlock_rdlock(&l), -EPERM);
	EXPECT_RET(weft_rwlock_wrlock(&l), -EPERM);
	EXPECT_RET(weft_rwlock_try_rdlock(&l), -EPERM);
	EXPECT_RET(weft_rwlock_try_wrlock(&l), -EPERM);
	EXPECT_ABORT(rw_unlock_unheld, "weft_rwlock_unlock: lock not held");
	EXPECT_ABORT(rw_unlock_twice, "weft_rwlock_unlock: lock not held");
}

/* -------------------------------------------------------- semaphore */

static int sem_overflow(void *arg)
{
	weft_sem s;

	weft_sem_init(&s, UINT64_MAX);
	weft_sem_release(&s);
	return 0;
}

Test(bad_input_sync, issue_7_sem_release_past_the_counter_aborts)
{
	weft_sem s;

	weft_sem_init(&s, 0);
	EXPECT_RET(weft_sem_acquire(&s), -EPERM);
	EXPECT_RET(weft_sem_try_acquire(&s), -EAGAIN);
	weft_sem_release(&s);	/* any thread */
	EXPECT_RET(weft_sem_try_acquire(&s), 0);
	weft_sem_init(&s, UINT64_MAX - 1);
	weft_sem_release(&s);	/* the last permit that fits */
	EXPECT_ABORT(sem_overflow, "weft_sem_release");
}

/* -------------------------------------------------------- waitgroup */

static int wg_below_zero(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;

	weft_waitgroup_done(&wg);
	return 0;
}

static int wg_add_negative(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;

	weft_waitgroup_add(&wg, INT64_MIN);
	return 0;
}

static int wg_overflow(void *arg)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;

	weft_waitgroup_add(&wg, INT64_MAX);
	weft_waitgroup_add(&wg, 1);
	return 0;
}

Test(bad_input_sync, waitgroup_count_out_of_range_aborts)
{
	weft_waitgroup wg = WEFT_WAITGROUP_INIT;

	EXPECT_RET(weft_waitgroup_wait(&wg), -EPERM);
	weft_waitgroup_add(&wg, 0);
	EXPECT_ABORT(wg_below_zero, "weft_waitgroup_done: wait group count "
		     "below zero");
	EXPECT_ABORT(wg_add_negative, "weft_waitgroup_add: wait group count "
		     "below zero");
	EXPECT_ABORT(wg_overflow, "weft_waitgroup_add: wait group count "
		     "overflows");
}

/* ------------------------------------- barrier, event, oneshot, limiter */

static int small_counts(void *arg)
{
	weft_barrier b;
	weft_limiter l;
	uint64_t t0;

	weft_barrier_init(&b, 0);
	EXPECT_RET(weft_barrier_wait(&b), 1);
	weft_barrier_init(&b, 1);
	EXPECT_RET(weft_barrier_wait(&b), 1);
	weft_limiter_init(&l, 1, 2);
	EXPECT_RET(weft_limiter_acquire(&l, 3), -EINVAL);
	EXPECT_RET(weft_limiter_acquire(&l, UINT64_MAX), -EINVAL);
	EXPECT_RET(weft_limiter_try_acquire(&l, 3), -EINVAL);
	EXPECT_RET(weft_limiter_acquire(&l, 0), 0);
	EXPECT_RET(weft_limiter_try_acquire(&l, 0), 0);
	/* Absurd rate and burst: no overflow, the bucket starts full. */
	weft_limiter_init(&l, UINT64_MAX, UINT64_MAX);
	t0 = weft_now();
	EXPECT_RET(weft_limiter_acquire(&l, UINT64_MAX), 0);
	cr_assert_lt(weft_now() - t0, 5000000000ull,
		     "weft_limiter_acquire at rate UINT64_MAX waited");
	/* Rate 0 is unlimited, whatever n. */
	weft_limiter_init(&l, 0, 1);
	EXPECT_RET(weft_limiter_acquire(&l, UINT64_MAX), 0);
	return 0;
}

Test(bad_input_sync, zero_and_huge_counts)
{
	weft_barrier b = WEFT_BARRIER_INIT;
	weft_event e = WEFT_EVENT_INIT;
	weft_oneshot o = WEFT_ONESHOT_INIT;
	weft_limiter l;
	void *v = NULL;

	cr_assert_eq(t_run(small_counts, NULL, 2), 0, "run");
	EXPECT_RET(weft_barrier_wait(&b), -EPERM);
	EXPECT_RET(weft_event_wait(&e), -EPERM);
	weft_event_set(&e);
	weft_event_set(&e);	/* twice is once */
	cr_assert(weft_event_is_set(&e), "weft_event_set twice");
	weft_event_clear(&e);
	weft_event_clear(&e);
	EXPECT_RET(weft_oneshot_recv(&o, &v), -EPERM);
	EXPECT_RET(weft_oneshot_try_recv(&o, &v), -EAGAIN);
	EXPECT_RET(weft_oneshot_send(&o, &o), 0);
	EXPECT_RET(weft_oneshot_send(&o, NULL), -EALREADY);
	EXPECT_RET(weft_oneshot_try_recv(&o, &v), 0);
	cr_assert_eq(v, (void *)&o, "the first value stays");
	weft_limiter_init(&l, 1, 1);
	EXPECT_RET(weft_limiter_acquire(&l, 1), -EPERM);
	EXPECT_RET(weft_limiter_try_acquire(&l, 1), 0);
}

/* ---------------------------------------------------------- channels */

static int recv_it(void *arg)
{
	int v;

	return weft_chan_recv(arg, &v);
}

static int chan_free_waited(void *arg)
{
	weft_chan *ch = weft_chan_new(sizeof(int), 1);
	weft_task *t = weft_spawn(recv_it, ch);

	t_wait_parked(t);
	weft_chan_free(ch);
	return 0;
}

static int chan_closed(void *arg)
{
	weft_chan *ch = weft_chan_new(sizeof(int), 2);
	int v = 5;

	EXPECT_RET(weft_chan_send(ch, &v), 0);
	weft_chan_close(ch);
	weft_chan_close(ch);	/* twice is once */
	EXPECT_RET(weft_chan_send(ch, &v), -EPIPE);
	EXPECT_RET(weft_chan_try_send(ch, &v), -EPIPE);
	v = 0;
	EXPECT_RET(weft_chan_recv(ch, &v), 0);	/* drains first */
	cr_assert_eq(v, 5, "weft_chan_recv drained %d", v);
	EXPECT_RET(weft_chan_recv(ch, &v), -EPIPE);
	EXPECT_RET(weft_chan_try_recv(ch, &v), -EPIPE);
	weft_chan_free(ch);
	return 0;
}

Test(bad_input_sync, channel_misuse_is_reported)
{
	weft_chan *ch;
	int v = 1;

	EXPECT_NULL_ERRNO(weft_chan_new(0, 0), EINVAL);
	EXPECT_NULL_ERRNO(weft_chan_new(SIZE_MAX, 1), EINVAL);
	EXPECT_NULL_ERRNO(weft_chan_new(1, SIZE_MAX), EINVAL);
	EXPECT_NULL_ERRNO(weft_chan_new(SIZE_MAX, SIZE_MAX), EINVAL);
	ch = weft_chan_new(sizeof(int), 1);
	cr_assert_not_null(ch, "weft_chan_new");
	EXPECT_RET(weft_chan_send(ch, &v), -EPERM);
	EXPECT_RET(weft_chan_recv(ch, &v), -EPERM);
	EXPECT_RET(weft_chan_try_recv(ch, &v), -EAGAIN);
	EXPECT_RET(weft_chan_try_send(ch, &v), 0);	/* any thread */
	EXPECT_RET(weft_chan_try_send(ch, &v), -EAGAIN);
	EXPECT_RET(weft_chan_try_send(ch, NULL), -EINVAL);
	EXPECT_RET(weft_chan_try_recv(ch, NULL), -EINVAL);
	weft_chan_free(ch);
	cr_assert_eq(t_run(chan_closed, NULL, 2), 0, "run");
	EXPECT_ABORT(chan_free_waited, "weft_chan_free: tasks are still "
		     "waiting");
}
