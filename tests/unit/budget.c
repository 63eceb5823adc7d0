/*
 * The cooperative budget: a task that keeps making weft calls that never
 * suspend must still let the other tasks of its worker run.  On one worker
 * a spinner that never yields would otherwise starve the task that stops
 * it, and the test would time out.
 */
#include <errno.h>
#include <stdatomic.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(budget, .timeout = 30);

struct spin {
	atomic_int stop;
	weft_chan *ch;
	long calls;
};

/* Sends and receives on an unbounded channel: neither ever waits. */
static int chan_spinner(void *arg)
{
	struct spin *s = arg;
	int v = 1, r;

	while (!atomic_load(&s->stop)) {
		r = weft_chan_send(s->ch, &v);
		if (r == 0)
			r = weft_chan_recv(s->ch, &v);
		if (r != 0)
			return r;
		s->calls++;
	}
	return 0;
}

static int stopper(void *arg)
{
	struct spin *s = arg;

	atomic_store(&s->stop, 1);
	return 0;
}

static int chan_main(void *arg)
{
	struct spin *s = arg;
	weft_task *a, *b;
	int ra, rb;

	s->ch = weft_chan_new(sizeof(int), 0);
	if (!s->ch)
		return -ENOMEM;
	a = weft_spawn(chan_spinner, s);
	if (!a)
		return -ENOMEM;
	/* Let the spinner start: on one worker, only its budget brings us
	 * back here to start the task that stops it. */
	weft_yield();
	b = weft_spawn(stopper, s);
	if (!b)
		return -ENOMEM;
	ra = weft_join(a);
	rb = weft_join(b);
	weft_chan_free(s->ch);
	return ra ? ra : rb;
}

Test(budget, a_task_that_never_suspends_still_lets_others_run)
{
	struct spin s = { .calls = 0 };
	int r;

	atomic_init(&s.stop, 0);
	r = t_run(chan_main, &s, 1);
	cr_assert_eq(r, 0, "run returned %d", r);
	cr_assert_gt(s.calls, 0, "the spinner never ran");
}
