/*
 * Scheduler workloads without a tree: spawn_many, chained_spawn, yield_many
 * and ping_pong (WORKLOADS.md, "Task workloads").
 *
 * Each runs under weft_run(); the timed region starts in the main task (the
 * runtime is up) and ends when the main task knows the result.  Tasks that
 * are waited for by count rather than by handle are detached at once: that
 * is the cheap, Go-like form, and the last one sets a weft_event.  The
 * atomics use relaxed order for counting; the event carries the
 * happens-before from the last task to the main task.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft.h"

#include "bench.h"

/* ---------------------------------------------------------- spawn_many */

struct spawn_many {
	int64_t n;
	/* Its own cache line: the tasks' adds must not evict what the
	 * spawner reads (Go's and Tokio's counters are alone too). */
	_Alignas(64) _Atomic int64_t counter;	/* every task adds 1 */
	_Alignas(64) weft_event done;	/* set by the task that reaches n */
	int spawn_err;			/* main task only */
	uint64_t wall_ns;		/* main task only */
};

static int spawn_many_task(void *arg)
{
	struct spawn_many *s = arg;

	if (atomic_fetch_add_explicit(&s->counter, 1,
				      memory_order_relaxed) + 1 == s->n)
		weft_event_set(&s->done);
	return 0;
}

static int spawn_many_main(void *arg)
{
	struct spawn_many *s = arg;
	uint64_t t0 = bench_now_ns();
	int64_t i, n = s->n;
	weft_task *t;

	for (i = 0; i < n; i++) {
		t = weft_spawn(spawn_many_task, s);
		if (!t) {
			/* the counter can never reach n: do not wait */
			s->spawn_err = errno;
			return -s->spawn_err;
		}
		weft_detach(t);
	}
	weft_event_wait(&s->done);
	s->wall_ns = bench_now_ns() - t0;
	return 0;
}

int bench_spawn_many(const struct bench_opts *o)
{
	static struct spawn_many s;
	struct bench_result r = { .name = "spawn_many" };
	int st;

	s.n = bench_scale(o, 1000000);
	st = bench_run(o, spawn_many_main, &s);
	r.n = s.n;
	r.wall_ns = s.wall_ns;
	r.ok = st == 0 && BENCH_LOAD(&s.counter) == s.n;
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	return bench_report(&r);
}

/* ------------------------------------------------------- chained_spawn */

/*
 * The chain's depth travels in the task argument itself (depth 1 is the
 * first task), so a link allocates nothing but its task; the rest is
 * shared, read-only while the chain runs.
 */
static struct chain {
	int64_t n;
	_Atomic int64_t reached;	/* written once, by the last link */
	_Atomic int failed;		/* a link could not spawn */
	weft_event done;
	uint64_t wall_ns;		/* main task only */
} chain;

static int chain_task(void *arg)
{
	int64_t depth = (int64_t)(intptr_t)arg;
	weft_task *t;

	if (depth >= chain.n) {
		atomic_store_explicit(&chain.reached, depth,
				      memory_order_relaxed);
		weft_event_set(&chain.done);
		return 0;
	}
	t = weft_spawn(chain_task, (void *)(intptr_t)(depth + 1));
	if (!t) {
		/* end the wait now: the check reports the short chain */
		atomic_store_explicit(&chain.failed, 1, memory_order_relaxed);
		atomic_store_explicit(&chain.reached, depth,
				      memory_order_relaxed);
		weft_event_set(&chain.done);
		return -ENOMEM;
	}
	weft_detach(t);
	return 0;
}

static int chain_main(void *arg)
{
	uint64_t t0 = bench_now_ns();
	weft_task *t;

	t = weft_spawn(chain_task, (void *)(intptr_t)1);
	if (!t)
		return -errno;
	weft_detach(t);
	weft_event_wait(&chain.done);
	chain.wall_ns = bench_now_ns() - t0;
	return 0;
}

int bench_chained_spawn(const struct bench_opts *o)
{
	struct bench_result r = { .name = "chained_spawn" };
	int64_t got;
	int st;

	chain.n = bench_scale(o, 1000000);
	st = bench_run(o, chain_main, NULL);
	got = BENCH_LOAD(&chain.reached);
	r.n = chain.n;
	r.wall_ns = chain.wall_ns;
	r.ok = st == 0 && !BENCH_LOAD(&chain.failed) && got == chain.n;
	bench_extra(&r, " depth=%lld", (long long)got);
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	return bench_report(&r);
}

/* ---------------------------------------------------------- yield_many */

struct yield_many {
	int64_t tasks, yields;
	_Atomic int64_t total;	/* yields done, added once per task */
	int64_t bad;		/* main task only: joins that did not give 0 */
	uint64_t wall_ns;	/* main task only */
};

static int yield_task(void *arg)
{
	struct yield_many *y = arg;
	int64_t i;
	int r;

	for (i = 0; i < y->yields; i++) {
		r = weft_yield();
		if (r < 0)
			return r;
	}
	atomic_fetch_add_explicit(&y->total, y->yields, memory_order_relaxed);
	return 0;
}

static int yield_main(void *arg)
{
	struct yield_many *y = arg;
	weft_task **h = bench_calloc((size_t)y->tasks, sizeof(*h));
	uint64_t t0;
	int64_t i, k;

	if (!h)
		return -ENOMEM;
	t0 = bench_now_ns();
	for (k = 0; k < y->tasks; k++) {
		h[k] = weft_spawn(yield_task, y);
		if (!h[k])
			break;
	}
	for (i = 0; i < k; i++)
		if (weft_join(h[i]) != 0)
			y->bad++;
	y->wall_ns = bench_now_ns() - t0;
	y->bad += y->tasks - k;
	free(h);
	return 0;
}

int bench_yield_many(const struct bench_opts *o)
{
	static struct yield_many y;
	struct bench_result r = { .name = "yield_many" };
	int st;

	y.tasks = bench_scale(o, 1000);
	y.yields = 1000;
	st = bench_run(o, yield_main, &y);
	r.n = y.tasks * y.yields;
	r.wall_ns = y.wall_ns;
	r.ok = st == 0 && y.bad == 0 && BENCH_LOAD(&y.total) == r.n;
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	if (y.bad)
		bench_extra(&r, " failed_tasks=%lld", (long long)y.bad);
	return bench_report(&r);
}

/* ----------------------------------------------------------- ping_pong */

/* One pair: A sends the token on a2b, B answers token + 1 on b2a. */
struct pair {
	weft_chan *a2b, *b2a;
	int rounds;
	int token;	/* A's final token; read by main after joining A */
};

static int pong_task(void *arg)
{
	struct pair *p = arg;
	int i, v, r;

	for (i = 0; i < p->rounds; i++) {
		r = weft_chan_recv(p->a2b, &v);
		if (r < 0)
			return r;
		v++;
		r = weft_chan_send(p->b2a, &v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int ping_task(void *arg)
{
	struct pair *p = arg;
	int i, tok = 0, r;

	for (i = 0; i < p->rounds; i++) {
		r = weft_chan_send(p->a2b, &tok);
		if (r < 0)
			return r;
		r = weft_chan_recv(p->b2a, &tok);
		if (r < 0)
			return r;
	}
	p->token = tok;
	return 0;
}

struct ping_pong {
	int pairs, rounds;
	struct pair *p;
	weft_task **h;		/* 2 per pair: B then A */
	int bad;		/* main task only: pairs that failed */
	uint64_t wall_ns;	/* main task only */
};

/*
 * Create pair i's channels and spawn B then A.  On failure nothing of the
 * pair is left waiting: B sees a closed channel if A could not start.
 */
static int pair_start(struct ping_pong *pp, int i)
{
	struct pair *p = &pp->p[i];

	p->rounds = pp->rounds;
	p->a2b = weft_chan_new(sizeof(int), 1);
	p->b2a = weft_chan_new(sizeof(int), 1);
	if (!p->a2b || !p->b2a)
		return -ENOMEM;
	pp->h[2 * i] = weft_spawn(pong_task, p);
	if (!pp->h[2 * i])
		return -errno;
	pp->h[2 * i + 1] = weft_spawn(ping_task, p);
	if (!pp->h[2 * i + 1]) {
		weft_chan_close(p->a2b);
		return -errno;
	}
	return 0;
}

static int ping_pong_main(void *arg)
{
	struct ping_pong *pp = arg;
	uint64_t t0 = bench_now_ns();
	int i, st = 0;

	for (i = 0; i < pp->pairs && st == 0; i++)
		st = pair_start(pp, i);
	for (i = 0; i < 2 * pp->pairs; i++) {
		if (!pp->h[i])
			continue;
		if (weft_join(pp->h[i]) != 0)
			pp->bad++;
	}
	pp->wall_ns = bench_now_ns() - t0;
	for (i = 0; i < pp->pairs; i++) {
		if (pp->p[i].token != pp->rounds)
			pp->bad++;
		weft_chan_free(pp->p[i].a2b);
		weft_chan_free(pp->p[i].b2a);
	}
	return st;
}

int bench_ping_pong(const struct bench_opts *o)
{
	static struct ping_pong pp;
	struct bench_result r = { .name = "ping_pong" };
	int st = -ENOMEM;

	pp.pairs = (int)bench_scale(o, 1000);
	pp.rounds = 1000;
	pp.p = bench_calloc((size_t)pp.pairs, sizeof(*pp.p));
	pp.h = bench_calloc(2 * (size_t)pp.pairs, sizeof(*pp.h));
	if (pp.p && pp.h)
		st = bench_run(o, ping_pong_main, &pp);
	r.n = (int64_t)pp.pairs * pp.rounds;
	r.wall_ns = pp.wall_ns;
	r.ok = st == 0 && pp.bad == 0;
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	if (pp.bad)
		bench_extra(&r, " failed=%d", pp.bad);
	free(pp.p);
	free(pp.h);
	return bench_report(&r);
}
