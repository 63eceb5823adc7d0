/*
 * blocking (WORKLOADS.md): 100,000 offloads to the blocking pool of a job
 * that makes no system call and returns its argument + 1 through a call
 * the compiler cannot inline, at most 64 in flight: 64 tasks each offload
 * their share one after another.  The figure is the cost of one offload
 * round trip (task parks, pool thread runs the job, task is woken).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weft.h"

#include "bench.h"

#define IN_FLIGHT 64

struct blocking {
	int64_t n;
	_Atomic int64_t sum;
	_Atomic int failed;
	uint64_t wall_ns;
};

struct share {
	struct blocking *b;
	int64_t first, end;	/* arguments [first, end) */
};

static __attribute__((noinline)) int blocking_fn(void *arg)
{
	intptr_t x = (intptr_t)arg;

	/* Keep the call opaque (the peers use black_box / an asm barrier). */
	__asm__ volatile("" : "+r"(x) : : "memory");
	return (int)(x + 1);
}

static int share_task(void *arg)
{
	struct share *s = arg;
	int64_t sum = 0, i;
	int r;

	for (i = s->first; i < s->end; i++) {
		r = weft_blocking(blocking_fn, (void *)(intptr_t)i);
		if (r < 0) {
			atomic_store_explicit(&s->b->failed, r,
					      memory_order_relaxed);
			return r;
		}
		sum += r;
	}
	atomic_fetch_add_explicit(&s->b->sum, sum, memory_order_relaxed);
	return 0;
}

static int blocking_main(void *arg)
{
	struct blocking *b = arg;
	struct share shares[IN_FLIGHT];
	weft_task *ts[IN_FLIGHT];
	uint64_t t0;
	int i;

	/* Start a pool thread outside the timed region, as the peers do
	 * (libuv's pool starts lazily too). */
	if (weft_blocking(blocking_fn, NULL) != 1)
		return -EIO;
	t0 = bench_now_ns();
	for (i = 0; i < IN_FLIGHT; i++) {
		shares[i].b = b;
		shares[i].first = b->n * i / IN_FLIGHT;
		shares[i].end = b->n * (i + 1) / IN_FLIGHT;
		ts[i] = weft_spawn(share_task, &shares[i]);
		if (!ts[i])
			return -errno;
	}
	for (i = 0; i < IN_FLIGHT; i++)
		weft_join(ts[i]);
	b->wall_ns = bench_now_ns() - t0;
	return 0;
}

int bench_blocking(const struct bench_opts *o)
{
	static struct blocking b;
	struct bench_result r = { .name = "blocking" };
	int st;

	b.n = bench_scale(o, 100000);
	st = bench_run(o, blocking_main, &b);
	r.n = b.n;
	r.wall_ns = b.wall_ns;
	r.ok = st == 0 && !BENCH_LOAD(&b.failed) &&
	       BENCH_LOAD(&b.sum) == b.n * (b.n + 1) / 2;
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	return bench_report(&r);
}
