/*
 * The per-worker run queue (runtime/queue.h), white box: no runtime, fake
 * tasks (the deque only stores pointers).
 * Capacity-dependent cases are written in terms of WEFT__RQ_CAP so they hold
 * in the -Dsmall_queues=true build (capacity 4) too.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "runtime/queue.h"
#include "runtime/task.h"

TestSuite(queue, .timeout = 60);

#define CAP WEFT__RQ_CAP

static struct weft__rq *rq_new(void)
{
	struct weft__rq *q = aligned_alloc(WEFT__CACHELINE, sizeof(*q));

	cr_assert_not_null(q, "aligned_alloc");
	weft__rq_init(q);
	return q;
}

static struct weft_task *tasks_new(unsigned n)
{
	struct weft_task *t = calloc(n, sizeof(*t));

	cr_assert_not_null(t, "calloc");
	return t;
}

Test(queue, pop_of_an_empty_queue_returns_null_at_both_ends)
{
	struct weft__rq *q = rq_new();

	cr_assert_null(weft__rq_pop_head(q), "pop_head from an empty queue");
	cr_assert_null(weft__rq_pop_tail(q), "pop_tail from an empty queue");
	cr_assert_eq(weft__rq_len(q), 0u, "len of an empty queue");
	free(q);
}

Test(queue, push_tail_then_pop_head_keeps_fifo_order)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(3 * CAP);
	unsigned i, round;

	/* Several rounds so the indices wrap around the ring. */
	for (round = 0; round < 3; round++) {
		for (i = 0; i < CAP; i++)
			cr_assert(weft__rq_push_tail(q, &t[round * CAP + i]),
				  "push %u of %u failed", i, CAP);
		cr_assert_eq(weft__rq_len(q), CAP, "len after %u pushes", CAP);
		for (i = 0; i < CAP; i++) {
			struct weft_task *x = weft__rq_pop_head(q);

			cr_assert_eq(x, &t[round * CAP + i],
				     "pop %u returned task %td, want %u", i,
				     x ? x - t : -1, round * CAP + i);
		}
		cr_assert_null(weft__rq_pop_head(q), "not empty after pops");
	}
	free(t);
	free(q);
}

Test(queue, push_tail_then_pop_tail_is_lifo)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(CAP);
	unsigned i;

	for (i = 0; i < CAP; i++)
		cr_assert(weft__rq_push_tail(q, &t[i]), "push %u", i);
	for (i = CAP; i-- > 0;) {
		struct weft_task *x = weft__rq_pop_tail(q);

		cr_assert_eq(x, &t[i], "pop_tail returned %td, want %u",
			     x ? x - t : -1, i);
	}
	cr_assert_null(weft__rq_pop_tail(q), "not empty");
	free(t);
	free(q);
}

Test(queue, push_head_puts_the_task_at_the_oldest_end)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(3);

	/* Holds for CAP >= 3, and CAP is at least 4. */
	cr_assert(weft__rq_push_tail(q, &t[0]), "push_tail");
	cr_assert(weft__rq_push_tail(q, &t[1]), "push_tail");
	cr_assert(weft__rq_push_head(q, &t[2]), "push_head");
	cr_assert_eq(weft__rq_len(q), 3u, "len");
	cr_assert_eq(weft__rq_pop_head(q), &t[2], "head: the pushed-head task");
	cr_assert_eq(weft__rq_pop_head(q), &t[0], "then the oldest tail push");
	cr_assert_eq(weft__rq_pop_tail(q), &t[1], "tail: the newest");
	cr_assert_null(weft__rq_pop_head(q), "not empty");
	free(t);
	free(q);
}

Test(queue, interleaved_pushes_and_pops_keep_order)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(1000);
	unsigned pushed = 0, popped = 0;

	while (popped < 1000) {
		struct weft_task *x;
		int k;

		/* Push up to two, pop one: the ring wraps many times. */
		for (k = 0; k < 2; k++) {
			if (pushed < 1000 && weft__rq_len(q) < CAP) {
				cr_assert(weft__rq_push_tail(q, &t[pushed]),
					  "push %u", pushed);
				pushed++;
			}
		}
		x = weft__rq_pop_head(q);
		cr_assert_eq(x, &t[popped], "pop returned %td, want %u",
			     x ? x - t : -1, popped);
		popped++;
	}
	free(t);
	free(q);
}

Test(queue, push_fails_when_the_queue_is_full)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(CAP + 1);
	unsigned i;

	for (i = 0; i < CAP; i++)
		cr_assert(weft__rq_push_tail(q, &t[i]), "push %u failed", i);
	cr_assert_not(weft__rq_push_tail(q, &t[CAP]), "push_tail when full");
	cr_assert_not(weft__rq_push_head(q, &t[CAP]), "push_head when full");
	cr_assert_eq(weft__rq_len(q), CAP, "len %u", weft__rq_len(q));
	/* One pop makes room for one push. */
	cr_assert_eq(weft__rq_pop_head(q), &t[0], "pop");
	cr_assert(weft__rq_push_tail(q, &t[CAP]), "push after a pop");
	cr_assert_not(weft__rq_push_tail(q, &t[0]), "full again");
	cr_assert_eq(weft__rq_pop_tail(q), &t[CAP], "pop_tail");
	cr_assert(weft__rq_push_head(q, &t[0]), "push_head after a pop");
	cr_assert_not(weft__rq_push_head(q, &t[CAP]), "full again");
	cr_assert_eq(weft__rq_pop_head(q), &t[0], "the head push");
	free(t);
	free(q);
}

Test(queue, take_half_of_a_full_queue_moves_out_the_oldest_half)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(CAP), *out[CAP / 2 + 1];
	unsigned i, n;

	for (i = 0; i < CAP; i++)
		cr_assert(weft__rq_push_tail(q, &t[i]), "push %u failed", i);
	memset(out, 0, sizeof(out));
	n = weft__rq_take_half(q, out);
	cr_assert_eq(n, CAP / 2, "took %u, want %u", n, CAP / 2);
	for (i = 0; i < n; i++)
		cr_assert_eq(out[i], &t[i], "out[%u] is task %td", i,
			     out[i] ? out[i] - t : -1);
	cr_assert_null(out[n], "wrote past the half");
	/* The newer half stays, in order, and there is room again. */
	cr_assert_eq(weft__rq_len(q), CAP - CAP / 2, "left %u",
		     weft__rq_len(q));
	for (i = CAP / 2; i < CAP; i++)
		cr_assert_eq(weft__rq_pop_head(q), &t[i], "remaining %u", i);
	cr_assert_null(weft__rq_pop_head(q), "queue not empty");
	free(t);
	free(q);
}

Test(queue, take_half_of_a_queue_less_than_half_full_takes_nothing)
{
	struct weft__rq *q = rq_new();
	struct weft_task *t = tasks_new(CAP), *out[CAP / 2 + 1];
	unsigned i;

	cr_assert_eq(weft__rq_take_half(q, out), 0u, "empty");
	for (i = 0; i + 1 < CAP / 2; i++)
		cr_assert(weft__rq_push_tail(q, &t[i]), "push");
	cr_assert_eq(weft__rq_take_half(q, out), 0u, "%u tasks of %u",
		     CAP / 2 - 1, CAP);
	cr_assert_eq(weft__rq_len(q), CAP / 2 - 1, "queue changed");
	free(t);
	free(q);
}

Test(queue, steal_into_takes_half_rounded_up_and_returns_one)
{
	struct weft_task *t = tasks_new(CAP);
	unsigned k;

	for (k = 1; k <= CAP; k++) {
		struct weft__rq *src = rq_new(), *dst = rq_new();
		unsigned i, n = 0, want = k - k / 2;
		unsigned char *seen = calloc(CAP, 1);
		struct weft_task *x;

		for (i = 0; i < k; i++)
			cr_assert(weft__rq_push_tail(src, &t[i]), "push");
		x = weft__rq_steal_into(src, dst, &n);
		cr_assert_eq(n, want, "stole %u of %u, want %u", n, k, want);
		cr_assert_not_null(x, "steal of %u returned NULL", k);
		cr_assert_lt((unsigned)(x - t), want,
			     "returned task %td is not among the oldest %u",
			     x - t, want);
		seen[x - t] = 1;
		cr_assert_eq(weft__rq_len(dst), want - 1, "dst holds %u",
			     weft__rq_len(dst));
		cr_assert_eq(weft__rq_len(src), k - want, "src keeps %u",
			     weft__rq_len(src));
		/* dst holds the other stolen ones, oldest first. */
		while ((x = weft__rq_pop_head(dst))) {
			cr_assert_lt((unsigned)(x - t), want, "dst has task "
				     "%td", x - t);
			cr_assert_eq(seen[x - t], 0, "task %td stolen twice",
				     x - t);
			seen[x - t] = 1;
		}
		for (i = 0; i < want; i++)
			cr_assert_eq(seen[i], 1, "task %u was not stolen", i);
		free(seen);
		for (i = want; i < k; i++)
			cr_assert_eq(weft__rq_pop_head(src), &t[i], "src %u", i);
		cr_assert_null(weft__rq_pop_head(src), "src empty");
		free(src);
		free(dst);
	}
	free(t);
}

Test(queue, steal_from_an_empty_queue_returns_null)
{
	struct weft__rq *src = rq_new(), *dst = rq_new();
	unsigned n = 12345;

	cr_assert_null(weft__rq_steal_into(src, dst, &n), "steal from empty");
	cr_assert_eq(weft__rq_len(dst), 0u, "dst touched");
	free(src);
	free(dst);
}

/* ------------------------------------------------------ owner vs thief */

/*
 * The owner pushes N fake tasks at either end, pops some from either end
 * and moves the oldest half out with take_half when full (as the worker
 * does on overflow); a thief steals into its own queue and drains it.  Each
 * task is taken exactly once.
 *
 * Tasks are identified by ->id so a pool of POOL structs can stand for N
 * tasks: the owner reuses a struct only after its previous task was taken
 * (bounded wait, so a lost task fails instead of hanging).
 */
#define N_ITEMS 1000000u
#define POOL 4096u

struct race {
	struct weft__rq *q;
	struct weft_task *pool;
	_Atomic unsigned char *taken;	/* per task: times taken */
	atomic_int owner_done;
	atomic_ulong by_thief, by_owner, steals;
};

static void take(struct race *r, struct weft_task *t, atomic_ulong *by)
{
	uint64_t id = t->id;

	cr_assert_lt(id, (uint64_t)N_ITEMS, "bad task id %llu",
		     (unsigned long long)id);
	atomic_fetch_add_explicit(&r->taken[id], 1, memory_order_release);
	atomic_fetch_add_explicit(by, 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
	struct race *r = arg;
	struct weft__rq *dst = rq_new();

	for (;;) {
		int done = atomic_load(&r->owner_done);
		struct weft_task *t, *x;
		unsigned n;

		t = weft__rq_steal_into(r->q, dst, &n);
		if (t) {
			atomic_fetch_add_explicit(&r->steals, 1,
						  memory_order_relaxed);
			take(r, t, &r->by_thief);
			while ((x = weft__rq_pop_head(dst)))
				take(r, x, &r->by_thief);
		} else if (done) {
			break;
		} else {
			sched_yield();
		}
	}
	free(dst);
	return NULL;
}

static void wait_taken(struct race *r, uint64_t id)
{
	double deadline = 0;
	unsigned spins = 0;

	while (!atomic_load_explicit(&r->taken[id], memory_order_acquire)) {
		if (++spins < 64)
			continue;
		if (deadline == 0)
			deadline = t_now() + 20;
		cr_assert_lt(t_now(), deadline,
			     "task %llu was never taken (queue len %u)",
			     (unsigned long long)id, weft__rq_len(r->q));
		sched_yield();
	}
}

Test(queue, owner_and_thief_take_every_task_exactly_once, .timeout = 120)
{
	struct race r;
	pthread_t th;
	t_rng rng;
	uint64_t seed = t_seed();
	unsigned i;

	memset(&r, 0, sizeof(r));
	r.q = rq_new();
	r.pool = tasks_new(POOL);
	r.taken = calloc(N_ITEMS, 1);
	cr_assert_not_null(r.taken, "calloc");
	t_rng_init(&rng, seed);
	cr_assert_eq(pthread_create(&th, NULL, thief, &r), 0, "pthread_create");

	for (i = 0; i < N_ITEMS; i++) {
		struct weft_task *t = &r.pool[i % POOL], *x;
		struct weft_task *out[CAP / 2 + 1];
		bool head = t_rand_below(&rng, 4) == 0;
		unsigned n, j;

		if (i >= POOL)
			wait_taken(&r, i - POOL);
		t->id = i;
		/* Overflow as the worker does: take the oldest half out. */
		while (!(head ? weft__rq_push_head(r.q, t)
			      : weft__rq_push_tail(r.q, t))) {
			n = weft__rq_take_half(r.q, out);
			for (j = 0; j < n; j++)
				take(&r, out[j], &r.by_owner);
		}
		switch (t_rand_below(&rng, 6)) {
		case 0:
			if ((x = weft__rq_pop_tail(r.q)))
				take(&r, x, &r.by_owner);
			break;
		case 1:
			if ((x = weft__rq_pop_head(r.q)))
				take(&r, x, &r.by_owner);
			break;
		default:
			break;
		}
	}
	{
		struct weft_task *x;

		while ((x = weft__rq_pop_tail(r.q)))
			take(&r, x, &r.by_owner);
	}
	atomic_store(&r.owner_done, 1);
	pthread_join(th, NULL);

	for (i = 0; i < N_ITEMS; i++)
		cr_assert_eq(atomic_load(&r.taken[i]), 1,
			     "task %u taken %u times (seed %llu)", i,
			     atomic_load(&r.taken[i]),
			     (unsigned long long)seed);
	cr_assert_eq(atomic_load(&r.by_owner) + atomic_load(&r.by_thief),
		     (unsigned long)N_ITEMS, "total taken");
	cr_log_info("owner took %lu, thief %lu in %lu steals",
		    atomic_load(&r.by_owner), atomic_load(&r.by_thief),
		    atomic_load(&r.steals));
	free((void *)r.taken);
	free(r.pool);
	free(r.q);
}
