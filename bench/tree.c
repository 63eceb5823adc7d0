/*
 * Tree-shaped workloads: skynet and fib (WORKLOADS.md, "Task workloads").
 *
 * A task's status is an int, so results travel through an argument struct
 * that lives on the parent's stack: the parent joins the child before the
 * frame goes away, and the join orders the child's write before the
 * parent's read.  Children return 0 or a negative errno as their status.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "weft.h"

#include "bench.h"

/* -------------------------------------------------------------- skynet */

#define SKYNET_FANOUT 10

struct sky {
	int64_t num;	/* index of the subtree's first leaf */
	int64_t size;	/* leaves under this node */
	int64_t sum;	/* written by the node, read after its join */
};

static int sky_task(void *arg)
{
	struct sky *s = arg, kid[SKYNET_FANOUT];
	weft_task *h[SKYNET_FANOUT];
	int64_t sz = s->size / SKYNET_FANOUT;
	int i, k, r, st = 0;

	if (s->size == 1) {
		s->sum = s->num;
		return 0;
	}
	for (k = 0; k < SKYNET_FANOUT; k++) {
		kid[k] = (struct sky){ .num = s->num + k * sz, .size = sz };
		h[k] = weft_spawn(sky_task, &kid[k]);
		if (!h[k]) {
			st = -errno;
			break;
		}
	}
	/* join even after a failed spawn: kid[] lives in this frame */
	s->sum = 0;
	for (i = 0; i < k; i++) {
		r = weft_join(h[i]);
		if (r != 0 && st == 0)
			st = r;
		s->sum += kid[i].sum;
	}
	return st;
}

struct skynet {
	struct sky root;
	int st;			/* the root's status */
	uint64_t wall_ns;	/* main task only */
};

static int skynet_main(void *arg)
{
	struct skynet *k = arg;
	uint64_t t0 = bench_now_ns();
	weft_task *t;

	t = weft_spawn(sky_task, &k->root);
	if (!t)
		return -errno;
	k->st = weft_join(t);
	k->wall_ns = bench_now_ns() - t0;
	return 0;
}

int bench_skynet(const struct bench_opts *o)
{
	static struct skynet k;
	struct bench_result r = { .name = "skynet" };
	int64_t leaves = bench_scale(o, 1000000), s, tasks = 0;
	int st;

	/* every level of the tree, root included: 1,111,111 tasks */
	for (s = leaves; s >= 1; s /= SKYNET_FANOUT)
		tasks += s;
	k.root = (struct sky){ .num = 0, .size = leaves };
	st = bench_run(o, skynet_main, &k);
	r.n = tasks;
	r.wall_ns = k.wall_ns;
	r.ok = st == 0 && k.st == 0 &&
	       k.root.sum == leaves * (leaves - 1) / 2;
	bench_extra(&r, " sum=%lld", (long long)k.root.sum);
	if (st != 0 || k.st != 0)
		bench_extra(&r, " status=%d task_status=%d", st, k.st);
	return bench_report(&r);
}

/* ----------------------------------------------------------------- fib */

struct fib_arg {
	int n;
	int64_t result;	/* written by the task, read after its join */
};

static _Atomic int fib_failed;	/* a spawn or a join went wrong */

static int fib_task(void *arg);

/*
 * fib(n) as the workload defines it: fib(n-1) in a new task, fib(n-2) in
 * this one, then wait for the task.  A failed spawn computes fib(n-1) here
 * so the tree still ends, and marks the run as failed.
 */
static int64_t fib_call(int n)
{
	struct fib_arg a = { .n = n - 1 };
	weft_task *t;
	int64_t b;

	if (n < 2)
		return n;
	t = weft_spawn(fib_task, &a);
	if (!t) {
		atomic_store_explicit(&fib_failed, 1, memory_order_relaxed);
		fib_task(&a);
	}
	b = fib_call(n - 2);
	if (t && weft_join(t) != 0)
		atomic_store_explicit(&fib_failed, 1, memory_order_relaxed);
	return a.result + b;
}

static int fib_task(void *arg)
{
	struct fib_arg *a = arg;

	a->result = fib_call(a->n);
	return 0;
}

struct fib_run {
	int k;
	int64_t got;
	uint64_t wall_ns;	/* main task only */
};

static int fib_main(void *arg)
{
	struct fib_run *f = arg;
	uint64_t t0 = bench_now_ns();

	f->got = fib_call(f->k);
	f->wall_ns = bench_now_ns() - t0;
	return 0;
}

int bench_fib(const struct bench_opts *o)
{
	static struct fib_run f;
	struct bench_result r = { .name = "fib" };
	int64_t a = 0, b = 1, c;
	int i, st;

	/* 22 for --quick, as the Go peer; not 27 / 10 */
	f.k = o->quick ? 22 : 27;
	/* F(k), and the calls with n >= 2, which spawn: F(k+1) - 1 */
	for (i = 0; i < f.k; i++) {
		c = a + b;
		a = b;
		b = c;
	}
	st = bench_run(o, fib_main, &f);
	r.n = b - 1;
	r.wall_ns = f.wall_ns;
	r.ok = st == 0 && !BENCH_LOAD(&fib_failed) && f.got == a;
	bench_extra(&r, " result=%lld", (long long)f.got);
	if (st != 0)
		bench_extra(&r, " status=%d", st);
	return bench_report(&r);
}
