/*
 * Park/wake across threads: tasks parked on events are woken from plain
 * pthreads (not workers), and none is lost.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(park, .timeout = 60);

static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_EACH_WORKERS(w)                                                  \
	for (unsigned wi_ = 0, w;                                            \
	     wi_ < sizeof(workers_set) / sizeof(workers_set[0]) &&           \
	     (w = workers_set[wi_], 1);                                      \
	     wi_++)

#define N_TASKS 256
#define N_ROUNDS 50
#define N_SETTERS 4

struct slot {
	weft_event go;		/* set by a foreign thread */
	weft_event ack;		/* set by the task */
};

struct park_test {
	struct slot slots[N_TASKS];
	atomic_int woken;
	atomic_int failed;
	atomic_int started;
};

static struct park_test *pt;

static int parked_task(void *arg)
{
	struct slot *s = arg;
	int round, r;

	atomic_fetch_add(&pt->started, 1);
	for (round = 0; round < N_ROUNDS; round++) {
		r = weft_event_wait(&s->go);
		if (r) {
			atomic_fetch_add(&pt->failed, 1);
			return r;
		}
		weft_event_clear(&s->go);
		atomic_fetch_add(&pt->woken, 1);
		weft_event_set(&s->ack);
	}
	return 0;
}

/* A plain thread: for each round, wake its share of tasks, then wait for
 * their acks by spinning on is_set (a thread cannot wait on an event). */
static void *setter(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, round, i;

	for (round = 0; round < N_ROUNDS; round++) {
		for (i = id; i < N_TASKS; i += N_SETTERS)
			weft_event_set(&pt->slots[i].go);
		for (i = id; i < N_TASKS; i += N_SETTERS) {
			while (!weft_event_is_set(&pt->slots[i].ack))
				sched_yield();
			weft_event_clear(&pt->slots[i].ack);
		}
	}
	return NULL;
}

static int park_main(void *arg)
{
	weft_task *ts[N_TASKS];
	pthread_t th[N_SETTERS];
	int i, r;

	for (i = 0; i < N_TASKS; i++) {
		ts[i] = weft_spawn(parked_task, &pt->slots[i]);
		cr_assert_not_null(ts[i], "spawn: errno %d", errno);
	}
	/* Threads started from inside a task are still plain threads. */
	for (i = 0; i < N_SETTERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, setter,
					    (void *)(uintptr_t)i), 0,
			     "pthread_create");
	for (i = 0; i < N_TASKS; i++) {
		r = weft_join(ts[i]);
		cr_assert_eq(r, 0, "task %d returned %d", i, r);
	}
	for (i = 0; i < N_SETTERS; i++)
		pthread_join(th[i], NULL);
	return 0;
}

Test(park, tasks_parked_on_events_woken_from_foreign_threads_are_never_lost)
{
	FOR_EACH_WORKERS(w)
	{
		int r;

		pt = calloc(1, sizeof(*pt));
		cr_assert_not_null(pt, "calloc");
		r = t_run(park_main, NULL, w);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
		cr_assert_eq(atomic_load(&pt->woken), N_TASKS * N_ROUNDS,
			     "%d of %d wake-ups arrived (%u workers)",
			     atomic_load(&pt->woken), N_TASKS * N_ROUNDS, w);
		cr_assert_eq(atomic_load(&pt->failed), 0, "failed waits");
		free(pt);
	}
}

/* Wake from a foreign thread racing the park itself: the thread sets the
 * event as soon as the task says it is about to wait. */
struct race {
	weft_event ev;
	atomic_int armed;
	atomic_int stop;
};

static void *racer(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		if (atomic_exchange(&r->armed, 0))
			weft_event_set(&r->ev);
		else
			sched_yield();
	}
	return NULL;
}

static int race_main(void *arg)
{
	struct race *rc = arg;
	pthread_t th;
	unsigned i, n = (unsigned)t_scaled(20000);
	int r;

	cr_assert_eq(pthread_create(&th, NULL, racer, rc), 0, "pthread_create");
	for (i = 0; i < n; i++) {
		weft_event_clear(&rc->ev);
		atomic_store(&rc->armed, 1);
		r = weft_event_wait(&rc->ev);
		cr_assert_eq(r, 0, "wait %u returned %d", i, r);
	}
	atomic_store(&rc->stop, 1);
	pthread_join(th, NULL);
	return 0;
}

Test(park, a_wake_racing_the_park_from_a_foreign_thread_is_not_lost)
{
	FOR_EACH_WORKERS(w)
	{
		struct race rc;
		int r;

		memset(&rc, 0, sizeof(rc));
		r = t_run(race_main, &rc, w);
		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}
