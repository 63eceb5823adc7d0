/*
 * Async generators: order, the end, the producer's status, close, and an
 * interrupted consumer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(gen, .timeout = 60);

#define MS 1000000ull
static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_WORKERS(w) \
	for (unsigned wi_ = 0, w; wi_ < 3 && (w = workers_set[wi_], 1); wi_++)

struct prod {
	atomic_int started;
	atomic_int cleaned_up;
	int count;
	int status;
};

static int counter_producer(weft_gen *g, void *arg)
{
	struct prod *p = arg;

	atomic_store(&p->started, 1);
	for (intptr_t i = 0; i < p->count; i++)
		if (weft_gen_yield(g, (void *)i) < 0)
			break;
	return p->status;
}

static int order_main(void *arg)
{
	struct prod p = { .count = 1000, .status = 0 };
	weft_gen *g = weft_gen_new(counter_producer, &p);
	void *item;
	int r;

	cr_assert_not_null(g, "gen_new");
	weft_yield();
	cr_assert_eq(atomic_load(&p.started), 0, "started before next");
	for (intptr_t i = 0; i < 1000; i++) {
		r = weft_gen_next(g, &item);
		cr_assert_eq(r, 1, "next %ld returned %d", (long)i, r);
		cr_assert_eq((intptr_t)item, i, "item %ld", (long)i);
	}
	cr_assert_eq(weft_gen_next(g, &item), 0, "the end");
	cr_assert_eq(weft_gen_next(g, &item), 0, "and every call after");
	weft_gen_close(g);
	return 0;
}

Test(gen, items_arrive_in_order_then_0_on_every_call)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(order_main, NULL, w), 0, "run, %u workers", w);
}

static int status_main(void *arg)
{
	struct prod p = { .count = 3, .status = -EIO };
	weft_gen *g = weft_gen_new(counter_producer, &p);
	void *item;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(weft_gen_next(g, &item), 1, "item %d", i);
	cr_assert_eq(weft_gen_next(g, &item), -EIO, "status after items");
	cr_assert_eq(weft_gen_next(g, &item), 0, "then the end");
	weft_gen_close(g);
	return 0;
}

Test(gen, the_producers_negative_status_comes_once_after_its_items)
{
	cr_assert_eq(t_run(status_main, NULL, 2), 0, "run");
}

static int endless_producer(weft_gen *g, void *arg)
{
	struct prod *p = arg;
	int r;

	atomic_store(&p->started, 1);
	while ((r = weft_gen_yield(g, NULL)) == 0)
		;
	/* Clean-up may still suspend. */
	weft_yield();
	atomic_store(&p->cleaned_up, r == -ECANCELED ? 1 : -1);
	return 0;
}

static int close_main(void *arg)
{
	struct prod p = { 0 };
	weft_gen *g = weft_gen_new(endless_producer, &p);
	void *item;

	cr_assert_eq(weft_gen_next(g, &item), 1, "first item");
	cr_assert_eq(weft_gen_next(g, &item), 1, "second item");
	weft_gen_close(g);
	cr_assert_eq(atomic_load(&p.cleaned_up), 1, "close did not let the "
		     "producer clean up first (%d)", atomic_load(&p.cleaned_up));
	/* Closing before the first next: the producer never runs. */
	p.started = 0;
	g = weft_gen_new(endless_producer, &p);
	weft_gen_close(g);
	weft_yield();
	cr_assert_eq(atomic_load(&p.started), 0, "producer ran");
	return 0;
}

Test(gen, close_ends_the_pending_yield_with_ecanceled_and_waits_for_cleanup)
{
	FOR_WORKERS(w)
	cr_assert_eq(t_run(close_main, NULL, w), 0, "run");
}

/* Produces only once the consumer's deadline has passed (arg: the event
 * the consumer sets then), so the consumer is interrupted mid-production
 * whatever the machine's speed. */
static int slow_producer(weft_gen *g, void *arg)
{
	weft_event_wait(arg);
	weft_gen_yield(g, (void *)(intptr_t)77);
	return 0;
}

static int interrupted_main(void *arg)
{
	weft_event timed_out;
	weft_gen *g;
	void *item = NULL;
	int r;

	weft_event_init(&timed_out);
	g = weft_gen_new(slow_producer, &timed_out);
	weft_deadline_push(5 * MS);
	r = weft_gen_next(g, &item);
	weft_deadline_pop();
	cr_assert_eq(r, -ETIMEDOUT, "interrupted next returned %d", r);
	weft_event_set(&timed_out);
	/* The item that was being produced is not lost. */
	cr_assert_eq(weft_gen_next(g, &item), 1, "next after");
	cr_assert_eq((intptr_t)item, 77, "item");
	cr_assert_eq(weft_gen_next(g, &item), 0, "end");
	weft_gen_close(g);
	return 0;
}

Test(gen, an_interrupted_consumer_gets_the_item_on_its_next_call)
{
	cr_assert_eq(t_run(interrupted_main, NULL, 2), 0, "run");
}

static int misuse_main(void *arg)
{
	weft_gen *g = weft_gen_new(counter_producer, &(struct prod){ 0 });

	cr_assert_eq(weft_gen_yield(g, NULL), -EPERM, "yield by a stranger");
	cr_assert_eq(weft_gen_next(NULL, NULL), -EINVAL, "NULL");
	weft_gen_close(g);
	return 0;
}

Test(gen, yield_from_a_task_that_is_not_the_producer_returns_eperm)
{
	cr_assert_eq(t_run(misuse_main, NULL, 1), 0, "run");
	errno = 0;
	cr_assert_null(weft_gen_new(NULL, NULL), "gen_new(NULL)");
	cr_assert_eq(errno, EINVAL, "errno %d", errno);
}
