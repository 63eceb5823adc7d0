/*
 * Synchronisation workloads: channel_mpmc and mutex (WORKLOADS.md, "Task
 * workloads"), shaped like the Go peer's (peers/go/main.go).
 *
 * channel_mpmc: 4 producers send disjoint ranges of 0..n-1 into one channel
 * of capacity 1,024; 4 consumers receive until -EPIPE, which comes once the
 * main task has joined the producers and closed the channel.  The check:
 * the consumers' sums add up to n(n-1)/2.
 *
 * mutex: 1,000 tasks each take one weft_mutex 1,000 times and add 1 to a
 * plain integer inside it; the check: the integer is 1,000,000.
 *
 * The timed region starts in the main task (the runtime is up) and ends
 * when the main task has joined every task.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "weft.h"

#include "bench.h"

/* -------------------------------------------------------- channel_mpmc */

#define MPMC_PRODUCERS 4
#define MPMC_CONSUMERS 4
#define MPMC_CAPACITY 1024

struct mpmc {
	int64_t n;
	weft_chan *ch;
	/* Each written by its consumer, read by main after joining it. */
	int64_t sums[MPMC_CONSUMERS];
	int64_t idx[MPMC_PRODUCERS];	/* a producer's index, its arg */
	int bad;			/* main task only */
	uint64_t wall_ns;		/* main task only */
};

static struct mpmc mpmc;

static int mpmc_producer(void *arg)
{
	int64_t p = *(int64_t *)arg, n = mpmc.n, v;
	int r;

	for (v = p * n / MPMC_PRODUCERS; v < (p + 1) * n / MPMC_PRODUCERS;
	     v++) {
		r = weft_chan_send(mpmc.ch, &v);
		if (r < 0)
			return r;
	}
	return 0;
}

static int mpmc_consumer(void *arg)
{
	int64_t *sum = arg, s = 0, v;
	int r;

	while ((r = weft_chan_recv(mpmc.ch, &v)) == 0)
		s += v;
	*sum = s;
	return r == -EPIPE ? 0 : r;
}

/* Join n tasks of h (NULL slots were never spawned); count failures. */
static int join_all(weft_task **h, int n)
{
	int i, bad = 0;

	for (i = 0; i < n; i++)
		if (!h[i] || weft_join(h[i]) != 0)
			bad++;
	return bad;
}

static int mpmc_main(void *arg)
{
	weft_task *c[MPMC_CONSUMERS], *p[MPMC_PRODUCERS];
	uint64_t t0 = bench_now_ns();
	int i;

	for (i = 0; i < MPMC_CONSUMERS; i++)
		c[i] = weft_spawn(mpmc_consumer, &mpmc.sums[i]);
	for (i = 0; i < MPMC_PRODUCERS; i++) {
		mpmc.idx[i] = i;
		p[i] = weft_spawn(mpmc_producer, &mpmc.idx[i]);
	}
	mpmc.bad = join_all(p, MPMC_PRODUCERS);
	weft_chan_close(mpmc.ch);
	mpmc.bad += join_all(c, MPMC_CONSUMERS);
	mpmc.wall_ns = bench_now_ns() - t0;
	return 0;
}

int bench_channel_mpmc(const struct bench_opts *o)
{
	struct bench_result r = { .name = "channel_mpmc" };
	int64_t total = 0;
	int i, st = -ENOMEM;

	mpmc.n = bench_scale(o, 1000000);
	mpmc.ch = weft_chan_new(sizeof(int64_t), MPMC_CAPACITY);
	if (mpmc.ch)
		st = bench_run(o, mpmc_main, NULL);
	for (i = 0; i < MPMC_CONSUMERS; i++)
		total += mpmc.sums[i];
	r.n = mpmc.n;
	r.wall_ns = mpmc.wall_ns;
	r.ok = st == 0 && mpmc.bad == 0 && total == mpmc.n * (mpmc.n - 1) / 2;
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	if (mpmc.bad)
		bench_extra(&r, " failed_tasks=%d", mpmc.bad);
	weft_chan_free(mpmc.ch);
	return bench_report(&r);
}

/* --------------------------------------------------------------- mutex */

struct mutex_bench {
	int64_t tasks, iters;
	weft_mutex m;
	int64_t shared;		/* plain: the mutex is its only guard */
	int64_t bad;		/* main task only */
	uint64_t wall_ns;	/* main task only */
};

static struct mutex_bench mb = { .m = WEFT_MUTEX_INIT };

static int mutex_task(void *arg)
{
	int64_t i;
	int r;

	for (i = 0; i < mb.iters; i++) {
		r = weft_mutex_lock(&mb.m);
		if (r < 0)
			return r;
		mb.shared++;
		weft_mutex_unlock(&mb.m);
	}
	return 0;
}

static int mutex_main(void *arg)
{
	weft_task **h = bench_calloc((size_t)mb.tasks, sizeof(*h));
	uint64_t t0;
	int64_t i, k;

	if (!h)
		return -ENOMEM;
	t0 = bench_now_ns();
	for (k = 0; k < mb.tasks; k++) {
		h[k] = weft_spawn(mutex_task, NULL);
		if (!h[k])
			break;
	}
	for (i = 0; i < k; i++)
		if (weft_join(h[i]) != 0)
			mb.bad++;
	mb.wall_ns = bench_now_ns() - t0;
	mb.bad += mb.tasks - k;
	free(h);
	return 0;
}

int bench_mutex(const struct bench_opts *o)
{
	struct bench_result r = { .name = "mutex" };
	int st;

	mb.tasks = bench_scale(o, 1000);
	mb.iters = 1000;
	st = bench_run(o, mutex_main, NULL);
	r.n = mb.tasks * mb.iters;
	r.wall_ns = mb.wall_ns;
	r.ok = st == 0 && mb.bad == 0 && mb.shared == r.n;
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	if (mb.bad)
		bench_extra(&r, " failed_tasks=%lld", (long long)mb.bad);
	return bench_report(&r);
}
