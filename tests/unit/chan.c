/*
 * Channels: FIFO order, bounded and unbounded capacity, close, the try
 * forms, and cancellation of blocked senders and receivers.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(chan, .timeout = 60);

static const unsigned workers_set[] = { 1, 2, 8 };
#define FOR_EACH_WORKERS(w)                                                  \
	for (unsigned wi_ = 0, w;                                            \
	     wi_ < sizeof(workers_set) / sizeof(workers_set[0]) &&           \
	     (w = workers_set[wi_], 1);                                      \
	     wi_++)

static void wait_count(atomic_int *flag, int n)
{
	while (atomic_load(flag) < n)
		weft_yield();
}

static weft_chan *chan_new(size_t elem, size_t cap)
{
	weft_chan *ch = weft_chan_new(elem, cap);

	cr_assert_not_null(ch, "weft_chan_new(%zu, %zu): errno %d", elem, cap,
			   errno);
	return ch;
}

Test(chan, new_with_zero_element_size_returns_null_with_einval)
{
	errno = 0;
	cr_assert_null(weft_chan_new(0, 1), "weft_chan_new(0, 1)");
	cr_assert_eq(errno, EINVAL, "errno %d, want EINVAL", errno);
	errno = 0;
	cr_assert_null(weft_chan_new(0, 0), "weft_chan_new(0, 0)");
	cr_assert_eq(errno, EINVAL, "errno %d, want EINVAL", errno);
	weft_chan_free(NULL);
}

Test(chan, send_and_recv_outside_a_task_return_eperm)
{
	weft_chan *ch = chan_new(sizeof(int), 4);
	int v = 1, r;

	r = weft_chan_send(ch, &v);
	cr_assert_eq(r, -EPERM, "send outside a task returned %d", r);
	r = weft_chan_recv(ch, &v);
	cr_assert_eq(r, -EPERM, "recv outside a task returned %d", r);
	weft_chan_free(ch);
}

/* ------------------------------------------------------------------ FIFO */

static int fifo_single_main(void *arg)
{
	size_t caps[] = { 1000, 0 };
	unsigned c;
	int i, v, r;

	for (c = 0; c < 2; c++) {
		weft_chan *ch = chan_new(sizeof(int), caps[c]);

		for (i = 0; i < 1000; i++) {
			r = weft_chan_send(ch, &i);
			cr_assert_eq(r, 0, "send %d returned %d", i, r);
		}
		for (i = 0; i < 1000; i++) {
			r = weft_chan_recv(ch, &v);
			cr_assert_eq(r, 0, "recv %d returned %d", i, r);
			cr_assert_eq(v, i, "recv %d got %d (cap %zu)", i, v,
				     caps[c]);
		}
		cr_assert_eq(weft_chan_try_recv(ch, &v), -EAGAIN, "empty");
		weft_chan_free(ch);
	}
	return 0;
}

Test(chan, elements_come_out_in_the_order_they_went_in)
{
	int r = t_run(fifo_single_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

#define N_FIFO 20000

static int fifo_sender(void *arg)
{
	weft_chan *ch = arg;
	int i, r;

	for (i = 0; i < N_FIFO; i++) {
		r = weft_chan_send(ch, &i);
		if (r)
			return r;
	}
	return 0;
}

static int fifo_across_main(void *arg)
{
	size_t caps[] = { 1, 8, 0 };
	unsigned c;

	for (c = 0; c < 3; c++) {
		weft_chan *ch = chan_new(sizeof(int), caps[c]);
		weft_task *s = weft_spawn(fifo_sender, ch);
		int i, v, r;

		cr_assert_not_null(s, "spawn: errno %d", errno);
		for (i = 0; i < N_FIFO; i++) {
			r = weft_chan_recv(ch, &v);
			cr_assert_eq(r, 0, "recv returned %d", r);
			cr_assert_eq(v, i, "recv %d got %d (cap %zu)", i, v,
				     caps[c]);
		}
		r = weft_join(s);
		cr_assert_eq(r, 0, "sender returned %d", r);
		weft_chan_free(ch);
	}
	return 0;
}

Test(chan, fifo_order_holds_between_tasks)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(fifo_across_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ------------------------------------------------------------- ping-pong */

#define N_PING 10000

struct pp {
	weft_chan *ab, *ba;
};

static int pong(void *arg)
{
	struct pp *p = arg;
	uint64_t v;
	int i, r;

	for (i = 0; i < N_PING; i++) {
		if ((r = weft_chan_recv(p->ab, &v)))
			return r;
		v++;
		if ((r = weft_chan_send(p->ba, &v)))
			return r;
	}
	return 0;
}

static int ping_main(void *arg)
{
	struct pp p = { chan_new(8, 1), chan_new(8, 1) };
	weft_task *t = weft_spawn(pong, &p);
	uint64_t v = 0;
	int i, r;

	cr_assert_not_null(t, "spawn: errno %d", errno);
	for (i = 0; i < N_PING; i++) {
		r = weft_chan_send(p.ab, &v);
		cr_assert_eq(r, 0, "send %d returned %d", i, r);
		r = weft_chan_recv(p.ba, &v);
		cr_assert_eq(r, 0, "recv %d returned %d", i, r);
		cr_assert_eq(v, (uint64_t)(2 * i + 1), "round %d got %llu", i,
			     (unsigned long long)v);
		v++;
	}
	r = weft_join(t);
	cr_assert_eq(r, 0, "pong returned %d", r);
	weft_chan_free(p.ab);
	weft_chan_free(p.ba);
	return 0;
}

Test(chan, capacity_one_ping_pong_between_tasks)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(ping_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ---------------------------------------------------------- bounded send */

struct blocked_sender {
	weft_chan *ch;
	atomic_int sent;
	atomic_int result;
};

static int sender3(void *arg)
{
	struct blocked_sender *b = arg;
	int i, r;

	for (i = 0; i < 3; i++) {
		r = weft_chan_send(b->ch, &i);
		if (r) {
			atomic_store(&b->result, r);
			return r;
		}
		atomic_fetch_add(&b->sent, 1);
	}
	return 0;
}

static int bounded_main(void *arg)
{
	struct blocked_sender b = { .ch = chan_new(sizeof(int), 2) };
	weft_task *t = weft_spawn(sender3, &b);
	int i, v, r;

	cr_assert_not_null(t, "spawn: errno %d", errno);
	wait_count(&b.sent, 2);
	/* The third send must wait for room: give it every chance. */
	for (i = 0; i < 100; i++)
		weft_yield();
	cr_assert_eq(atomic_load(&b.sent), 2,
		     "a send into a full channel did not wait (%d sent)",
		     atomic_load(&b.sent));
	r = weft_chan_recv(b.ch, &v);
	cr_assert_eq(r, 0, "recv returned %d", r);
	cr_assert_eq(v, 0, "got %d", v);
	r = weft_join(t);
	cr_assert_eq(r, 0, "sender returned %d", r);
	cr_assert_eq(atomic_load(&b.sent), 3, "the blocked send completed");
	for (i = 1; i < 3; i++) {
		cr_assert_eq(weft_chan_recv(b.ch, &v), 0, "recv");
		cr_assert_eq(v, i, "got %d, want %d", v, i);
	}
	weft_chan_free(b.ch);
	return 0;
}

Test(chan, bounded_send_blocks_until_a_recv_makes_room)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(bounded_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ------------------------------------------------------------- unbounded */

#define N_UNB 100000

static int unbounded_main(void *arg)
{
	weft_chan *ch = chan_new(sizeof(int), 0);
	int i, v, r;

	for (i = 0; i < N_UNB; i++) {
		r = (i & 1) ? weft_chan_send(ch, &i) : weft_chan_try_send(ch, &i);
		cr_assert_eq(r, 0, "send %d into an unbounded channel: %d", i, r);
	}
	for (i = 0; i < N_UNB; i++) {
		r = weft_chan_try_recv(ch, &v);
		cr_assert_eq(r, 0, "recv %d returned %d", i, r);
		cr_assert_eq(v, i, "recv %d got %d", i, v);
	}
	cr_assert_eq(weft_chan_try_recv(ch, &v), -EAGAIN, "drained");
	weft_chan_free(ch);
	return 0;
}

Test(chan, unbounded_channel_accepts_100000_without_a_receiver)
{
	int r = t_run(unbounded_main, NULL, 2);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

/* ----------------------------------------------------------------- close */

static int close_drain_main(void *arg)
{
	weft_chan *ch = chan_new(sizeof(int), 8);
	int i, v, r;

	for (i = 0; i < 3; i++)
		cr_assert_eq(weft_chan_send(ch, &i), 0, "send");
	weft_chan_close(ch);
	for (i = 0; i < 3; i++) {
		r = weft_chan_recv(ch, &v);
		cr_assert_eq(r, 0, "recv %d after close returned %d", i, r);
		cr_assert_eq(v, i, "recv %d after close got %d", i, v);
	}
	r = weft_chan_recv(ch, &v);
	cr_assert_eq(r, -EPIPE, "recv of a drained closed channel: %d", r);
	r = weft_chan_recv(ch, &v);
	cr_assert_eq(r, -EPIPE, "and again: %d", r);
	r = weft_chan_try_recv(ch, &v);
	cr_assert_eq(r, -EPIPE, "try_recv of a drained closed channel: %d", r);
	weft_chan_free(ch);
	return 0;
}

Test(chan, close_lets_receivers_drain_then_returns_epipe)
{
	int r = t_run(close_drain_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

static int close_send_main(void *arg)
{
	size_t caps[] = { 4, 0 };
	unsigned c;

	for (c = 0; c < 2; c++) {
		weft_chan *ch = chan_new(sizeof(int), caps[c]);
		int v = 5, r;

		weft_chan_close(ch);
		r = weft_chan_send(ch, &v);
		cr_assert_eq(r, -EPIPE, "send after close: %d (cap %zu)", r,
			     caps[c]);
		r = weft_chan_try_send(ch, &v);
		cr_assert_eq(r, -EPIPE, "try_send after close: %d", r);
		weft_chan_close(ch); /* twice is fine */
		weft_chan_free(ch);
	}
	return 0;
}

Test(chan, send_after_close_returns_epipe)
{
	int r = t_run(close_send_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

struct closer {
	weft_chan *ch;
	atomic_int started;
	atomic_int result;
	int send;
};

static int blocked_op(void *arg)
{
	struct closer *c = arg;
	int v = 9, r;

	atomic_fetch_add(&c->started, 1);
	r = c->send ? weft_chan_send(c->ch, &v) : weft_chan_recv(c->ch, &v);
	atomic_store(&c->result, r);
	return r;
}

static int close_wakes_main(void *arg)
{
	int send;

	for (send = 0; send < 2; send++) {
		struct closer c = { .ch = chan_new(sizeof(int), 1),
				    .result = 1, .send = send };
		weft_task *ts[4];
		int i, v = 0, r;

		if (send)
			cr_assert_eq(weft_chan_send(c.ch, &v), 0, "fill");
		for (i = 0; i < 4; i++) {
			ts[i] = weft_spawn(blocked_op, &c);
			cr_assert_not_null(ts[i], "spawn: errno %d", errno);
		}
		wait_count(&c.started, 4);
		for (i = 0; i < 20; i++)
			weft_yield();
		weft_chan_close(c.ch);
		for (i = 0; i < 4; i++) {
			r = weft_join(ts[i]);
			cr_assert_eq(r, -EPIPE,
				     "a blocked %s woken by close returned %d",
				     send ? "send" : "recv", r);
		}
		weft_chan_free(c.ch);
	}
	return 0;
}

Test(chan, close_wakes_blocked_senders_and_receivers_with_epipe)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(close_wakes_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ------------------------------------------------------------- try forms */

static int try_main(void *arg)
{
	weft_chan *ch = chan_new(sizeof(int), 2);
	int v = 1, r;

	r = weft_chan_try_recv(ch, &v);
	cr_assert_eq(r, -EAGAIN, "try_recv on empty: %d", r);
	cr_assert_eq(weft_chan_try_send(ch, &v), 0, "try_send 1");
	cr_assert_eq(weft_chan_try_send(ch, &v), 0, "try_send 2");
	r = weft_chan_try_send(ch, &v);
	cr_assert_eq(r, -EAGAIN, "try_send on full: %d", r);
	cr_assert_eq(weft_chan_try_recv(ch, &v), 0, "try_recv");
	cr_assert_eq(weft_chan_try_send(ch, &v), 0, "room again");
	weft_chan_free(ch);
	return 0;
}

Test(chan, try_send_on_full_and_try_recv_on_empty_return_eagain)
{
	int r = t_run(try_main, NULL, 1);

	cr_assert_eq(r, 0, "weft_run returned %d", r);
}

Test(chan, try_forms_work_outside_a_task)
{
	weft_chan *ch = chan_new(sizeof(int), 1);
	int v = 3, r;

	cr_assert_eq(weft_chan_try_send(ch, &v), 0, "try_send");
	cr_assert_eq(weft_chan_try_send(ch, &v), -EAGAIN, "full");
	v = 0;
	r = weft_chan_try_recv(ch, &v);
	cr_assert_eq(r, 0, "try_recv: %d", r);
	cr_assert_eq(v, 3, "got %d", v);
	weft_chan_free(ch);
}

/* ---------------------------------------------------------------- cancel */

static int cancel_blocked_main(void *arg)
{
	int send;

	for (send = 0; send < 2; send++) {
		struct closer c = { .ch = chan_new(sizeof(int), 1),
				    .result = 1, .send = send };
		weft_task *t;
		int i, v = 100, r;

		if (send)
			cr_assert_eq(weft_chan_send(c.ch, &v), 0, "fill");
		t = weft_spawn(blocked_op, &c);
		cr_assert_not_null(t, "spawn: errno %d", errno);
		wait_count(&c.started, 1);
		for (i = 0; i < 20; i++)
			weft_yield();
		weft_cancel(t);
		r = weft_join(t);
		cr_assert_eq(r, -ECANCELED, "cancelled %s returned %d",
			     send ? "send" : "recv", r);
		/* The channel still works, and the cancelled send left no
		 * element behind. */
		if (send) {
			cr_assert_eq(weft_chan_recv(c.ch, &v), 0, "recv");
			cr_assert_eq(v, 100, "got %d", v);
			r = weft_chan_try_recv(c.ch, &v);
			cr_assert_eq(r, -EAGAIN,
				     "a cancelled send delivered (got %d)", v);
		} else {
			v = 7;
			cr_assert_eq(weft_chan_send(c.ch, &v), 0, "send");
			v = 0;
			cr_assert_eq(weft_chan_recv(c.ch, &v), 0, "recv");
			cr_assert_eq(v, 7, "the element went to the cancelled "
				     "receiver (got %d)", v);
		}
		weft_chan_free(c.ch);
	}
	return 0;
}

Test(chan, cancel_of_a_task_blocked_in_send_or_recv_returns_ecanceled)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(cancel_blocked_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}

/* ------------------------------------------------------------ many-to-many */

#define MPMC_P 4
#define MPMC_C 4
#define MPMC_N 20000

struct mpmc {
	weft_chan *ch;
	atomic_long sum;
	atomic_int count;
};

static int mpmc_producer(void *arg)
{
	struct mpmc *m = arg;
	int i, r;

	for (i = 1; i <= MPMC_N; i++)
		if ((r = weft_chan_send(m->ch, &i)))
			return r;
	return 0;
}

static int mpmc_consumer(void *arg)
{
	struct mpmc *m = arg;
	int v, r;

	while ((r = weft_chan_recv(m->ch, &v)) == 0) {
		atomic_fetch_add(&m->sum, v);
		atomic_fetch_add(&m->count, 1);
	}
	return r == -EPIPE ? 0 : r;
}

static int mpmc_main(void *arg)
{
	struct mpmc m = { .ch = chan_new(sizeof(int), 16) };
	weft_task *p[MPMC_P], *c[MPMC_C];
	int i, r;

	for (i = 0; i < MPMC_C; i++)
		c[i] = weft_spawn(mpmc_consumer, &m);
	for (i = 0; i < MPMC_P; i++)
		p[i] = weft_spawn(mpmc_producer, &m);
	for (i = 0; i < MPMC_P; i++) {
		r = weft_join(p[i]);
		cr_assert_eq(r, 0, "producer %d returned %d", i, r);
	}
	weft_chan_close(m.ch);
	for (i = 0; i < MPMC_C; i++) {
		r = weft_join(c[i]);
		cr_assert_eq(r, 0, "consumer %d returned %d", i, r);
	}
	cr_assert_eq(atomic_load(&m.count), MPMC_P * MPMC_N, "received %d",
		     atomic_load(&m.count));
	cr_assert_eq(atomic_load(&m.sum),
		     (long)MPMC_P * MPMC_N * (MPMC_N + 1) / 2, "sum");
	weft_chan_free(m.ch);
	return 0;
}

Test(chan, many_senders_and_receivers_deliver_every_element_once)
{
	FOR_EACH_WORKERS(w)
	{
		int r = t_run(mpmc_main, NULL, w);

		cr_assert_eq(r, 0, "weft_run returned %d with %u workers", r, w);
	}
}
