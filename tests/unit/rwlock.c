/*
 * weft_rwlock: readers share, writers are alone, a waiting writer holds
 * off new readers, the try forms, and cancellation of blocked locks.
 */
#include <errno.h>
#include <stdatomic.h>

#include "sync/introspect.h"
#include "tests/unit/sync_helpers.h"

TestSuite(rwlock, .timeout = 120);

static weft_rwlock global_rwlock = WEFT_RWLOCK_INIT;

Test(rwlock, locks_outside_a_task_return_eperm)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;
	int r;

	r = weft_rwlock_rdlock(&l);
	cr_assert_eq(r, -EPERM, "rdlock outside a task returned %d", r);
	r = weft_rwlock_wrlock(&l);
	cr_assert_eq(r, -EPERM, "wrlock outside a task returned %d", r);
}

static int static_init_main(void *arg)
{
	cr_assert_eq(weft_rwlock_wrlock(&global_rwlock), 0, "wrlock");
	weft_rwlock_unlock(&global_rwlock);
	cr_assert_eq(weft_rwlock_rdlock(&global_rwlock), 0, "rdlock");
	weft_rwlock_unlock(&global_rwlock);
	return 0;
}

Test(rwlock, static_initializer_is_unlocked)
{
	run_on_1_2_8(static_init_main, NULL);
}

static int try_main(void *arg)
{
	weft_rwlock l;

	weft_rwlock_init(&l);
	cr_assert_eq(weft_rwlock_try_rdlock(&l), 0, "try_rdlock");
	cr_assert_eq(weft_rwlock_try_rdlock(&l), 0, "second reader");
	cr_assert_eq(weft_rwlock_try_wrlock(&l), -EAGAIN, "writer vs readers");
	weft_rwlock_unlock(&l);
	weft_rwlock_unlock(&l);
	cr_assert_eq(weft_rwlock_try_wrlock(&l), 0, "try_wrlock when free");
	cr_assert_eq(weft_rwlock_try_rdlock(&l), -EAGAIN, "reader vs writer");
	cr_assert_eq(weft_rwlock_try_wrlock(&l), -EAGAIN, "writer vs writer");
	weft_rwlock_unlock(&l);
	cr_assert_eq(weft_rwlock_try_rdlock(&l), 0, "free again");
	weft_rwlock_unlock(&l);
	return 0;
}

Test(rwlock, try_forms_return_eagain_where_the_lock_would_wait)
{
	run_on_1_2_8(try_main, NULL);
}

/* ------------------------------------------------ readers and writers */

#define RW_TASKS 400
#define RW_ITERS 20

struct rw {
	weft_rwlock l;
	atomic_int readers, writers;
	atomic_int max_readers;
	atomic_int bad;		/* a writer was not alone */
	int value;		/* written under the write lock */
};

static void note_max(atomic_int *max, int n)
{
	int m = atomic_load(max);

	while (n > m && !atomic_compare_exchange_weak(max, &m, n))
		;
}

static int reader(struct rw *s)
{
	int r = weft_rwlock_rdlock(&s->l);

	if (r)
		return r;
	note_max(&s->max_readers, atomic_fetch_add(&s->readers, 1) + 1);
	if (atomic_load(&s->writers))
		atomic_fetch_add(&s->bad, 1);
	weft_yield();		/* let other readers in meanwhile */
	atomic_fetch_sub(&s->readers, 1);
	weft_rwlock_unlock(&s->l);
	return 0;
}

static int writer(struct rw *s)
{
	int r = weft_rwlock_wrlock(&s->l);

	if (r)
		return r;
	if (atomic_fetch_add(&s->writers, 1) || atomic_load(&s->readers))
		atomic_fetch_add(&s->bad, 1);
	s->value++;
	weft_yield();
	atomic_fetch_sub(&s->writers, 1);
	weft_rwlock_unlock(&s->l);
	return 0;
}

struct rw_arg {
	struct rw *s;
	int w;			/* a writer (1 in 8) */
};

static int rw_task(void *arg)
{
	struct rw_arg *a = arg;
	struct rw *s = a->s;
	int i, r, w = a->w;

	for (i = 0; i < RW_ITERS; i++)
		if ((r = w ? writer(s) : reader(s)))
			return r;
	return w;
}

static int rw_main(void *arg)
{
	static weft_task *ts[RW_TASKS];
	static struct rw_arg args[RW_TASKS];
	static struct rw s;
	int i, r, writers = 0;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < RW_TASKS; i++) {
		args[i] = (struct rw_arg){ &s, i % 8 == 0 };
		ts[i] = weft_spawn(rw_task, &args[i]);
		cr_assert_not_null(ts[i], "spawn");
	}
	for (i = 0; i < RW_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert(r == 0 || r == 1, "task %d returned %d", i, r);
		writers += r;
	}
	cr_assert_eq(atomic_load(&s.bad), 0, "%d exclusion failures",
		     atomic_load(&s.bad));
	cr_assert_eq(s.value, writers * RW_ITERS, "value %d", s.value);
	cr_assert_gt(atomic_load(&s.max_readers), 1,
		     "readers were never inside together (max %d)",
		     atomic_load(&s.max_readers));
	return 0;
}

Test(rwlock, readers_share_and_writers_are_alone)
{
	run_on_1_2_8(rw_main, NULL);
}

/* ------------------------------------------------ writer preference */

static int rd_task(void *arg)
{
	int r = weft_rwlock_rdlock(arg);

	if (r == 0)
		weft_rwlock_unlock(arg);
	return r;
}

static int wr_task(void *arg)
{
	int r = weft_rwlock_wrlock(arg);

	if (r == 0)
		weft_rwlock_unlock(arg);
	return r;
}

static int writer_first_main(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;
	weft_task *w, *rd;

	cr_assert_eq(weft_rwlock_rdlock(&l), 0, "rdlock");
	w = weft_spawn(wr_task, &l);
	cr_assert_not_null(w, "spawn");
	YIELD_UNTIL(weft__rwlock_waiters(&l) == 1);
	/* A writer waits: new readers queue behind it. */
	cr_assert_eq(weft_rwlock_try_rdlock(&l), -EAGAIN,
		     "a reader overtook a waiting writer");
	rd = weft_spawn(rd_task, &l);
	cr_assert_not_null(rd, "spawn");
	YIELD_UNTIL(weft__rwlock_waiters(&l) == 2);
	weft_rwlock_unlock(&l);
	cr_assert_eq(weft_join(w), 0, "writer");
	cr_assert_eq(weft_join(rd), 0, "reader");
	cr_assert_eq(weft_rwlock_try_wrlock(&l), 0, "free at the end");
	weft_rwlock_unlock(&l);
	return 0;
}

Test(rwlock, a_waiting_writer_holds_off_new_readers)
{
	run_on_1_2_8(writer_first_main, NULL);
}

/* -------------------------------------------------------- cancellation */

static int cancel_main(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;
	weft_task *w, *rd;
	int r;

	/* A blocked writer, cancelled, must let the readers behind it go. */
	cr_assert_eq(weft_rwlock_rdlock(&l), 0, "rdlock");
	w = weft_spawn(wr_task, &l);
	cr_assert_not_null(w, "spawn");
	YIELD_UNTIL(weft__rwlock_waiters(&l) == 1);
	rd = weft_spawn(rd_task, &l);
	cr_assert_not_null(rd, "spawn");
	YIELD_UNTIL(weft__rwlock_waiters(&l) == 2);
	weft_cancel(w);
	r = weft_join(w);
	cr_assert_eq(r, -ECANCELED, "cancelled wrlock returned %d", r);
	cr_assert_eq(weft_join(rd), 0, "the reader behind it got in");
	/* A blocked reader, cancelled. */
	weft_rwlock_unlock(&l);
	cr_assert_eq(weft_rwlock_wrlock(&l), 0, "wrlock");
	rd = weft_spawn(rd_task, &l);
	cr_assert_not_null(rd, "spawn");
	YIELD_UNTIL(weft__rwlock_waiters(&l) == 1);
	weft_cancel(rd);
	r = weft_join(rd);
	cr_assert_eq(r, -ECANCELED, "cancelled rdlock returned %d", r);
	weft_rwlock_unlock(&l);
	cr_assert_eq(weft_rwlock_try_wrlock(&l), 0, "usable after");
	weft_rwlock_unlock(&l);
	return 0;
}

Test(rwlock, cancel_of_blocked_rdlock_and_wrlock_returns_ecanceled)
{
	run_on_1_2_8(cancel_main, NULL);
}

static int self_cancel_task(void *arg)
{
	int r1, r2;

	weft_cancel(weft_self());
	r1 = weft_rwlock_rdlock(arg);
	r2 = weft_rwlock_wrlock(arg);
	return r1 == -ECANCELED && r2 == -ECANCELED ? 0 : -1;
}

static int cancelled_main(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;
	weft_task *t = weft_spawn(self_cancel_task, &l);

	cr_assert_not_null(t, "spawn");
	cr_assert_eq(weft_join(t), 0, "both locks returned -ECANCELED");
	cr_assert_eq(weft_rwlock_try_wrlock(&l), 0, "nothing held");
	weft_rwlock_unlock(&l);
	return 0;
}

Test(rwlock, locks_in_a_cancelled_task_return_ecanceled_at_once)
{
	run_on_1_2_8(cancelled_main, NULL);
}

static int unlock_unlocked_main(void *arg)
{
	weft_rwlock l = WEFT_RWLOCK_INIT;

	weft_rwlock_unlock(&l);
	return 0;
}

Test(rwlock, unlock_of_an_unlocked_rwlock_aborts)
{
	expect_abort(unlock_unlocked_main, "weft_rwlock_unlock");
}
