/*
 * timers (WORKLOADS.md): 100,000 tasks each sleep a pseudo-random 1..100 ms
 * drawn from the shared LCG (x = 1, advanced before each draw), then add 1
 * to a counter.  Reported: wall time and the lateness of the wake-ups
 * (actual wake minus deadline), p50/p99/max, p99 being the main figure.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "weft.h"

#include "bench.h"

#define LCG_MUL 6364136223846793005ull
#define LCG_ADD 1442695040888963407ull

struct timers {
	int64_t n;
	uint64_t *delay_ns;	/* drawn before the run */
	uint64_t *late_ns;	/* written by task i only */
	_Atomic int64_t counter;
	_Atomic int failed;
	uint64_t wall_ns;
};

struct timer_arg {
	struct timers *t;
	int64_t i;
};

static int timer_task(void *arg)
{
	struct timer_arg *a = arg;
	struct timers *t = a->t;
	uint64_t deadline = weft_now() + t->delay_ns[a->i];
	int r = weft_sleep_until(deadline);

	t->late_ns[a->i] = weft_now() - deadline;
	if (r != 0)
		atomic_store_explicit(&t->failed, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->counter, 1, memory_order_relaxed);
	return 0;
}

static int timers_main(void *arg)
{
	struct timers *t = arg;
	struct timer_arg *args = bench_calloc((size_t)t->n, sizeof(*args));
	weft_task **ts = bench_calloc((size_t)t->n, sizeof(*ts));
	uint64_t t0 = bench_now_ns();
	int64_t i;

	if (!args || !ts)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		args[i].t = t;
		args[i].i = i;
		ts[i] = weft_spawn(timer_task, &args[i]);
		if (!ts[i])
			return -errno;
	}
	for (i = 0; i < t->n; i++)
		weft_join(ts[i]);
	t->wall_ns = bench_now_ns() - t0;
	free(ts);
	free(args);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *sorted, int64_t n, double p)
{
	return (double)sorted[(int64_t)(p * (double)(n - 1))] / 1e3;
}

int bench_timers(const struct bench_opts *o)
{
	static struct timers t;
	struct bench_result r = { .name = "timers" };
	uint64_t x = 1;
	int64_t i;
	int st;

	t.n = bench_scale(o, 100000);
	t.delay_ns = bench_calloc((size_t)t.n, sizeof(uint64_t));
	t.late_ns = bench_calloc((size_t)t.n, sizeof(uint64_t));
	if (!t.delay_ns || !t.late_ns)
		return 1;
	for (i = 0; i < t.n; i++) {
		x = x * LCG_MUL + LCG_ADD;
		t.delay_ns[i] = (1 + (x >> 33) % 100) * 1000000ull;
	}
	st = bench_run(o, timers_main, &t);
	r.n = t.n;
	r.wall_ns = t.wall_ns;
	r.ok = st == 0 && !BENCH_LOAD(&t.failed) &&
	       BENCH_LOAD(&t.counter) == t.n;
	qsort(t.late_ns, (size_t)t.n, sizeof(uint64_t), cmp_u64);
	bench_extra(&r, " p50_late_us=%.1f p99_late_us=%.1f max_late_us=%.1f",
		    pct_us(t.late_ns, t.n, 0.50), pct_us(t.late_ns, t.n, 0.99),
		    (double)t.late_ns[t.n - 1] / 1e3);
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	free(t.delay_ns);
	free(t.late_ns);
	return bench_report(&r);
}
