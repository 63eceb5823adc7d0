/*
 * Stress: random trees of task groups with random failures, cancellations
 * and deadlines, on 8 workers (oversubscribed on 2 CPUs).
 *
 * Every node is a task.  It draws, from its own seeded generator, one of:
 * fail at once, yield a few times and succeed, sleep under a deadline
 * scope that may pass first, or open a group of 2-4 children (one level
 * deeper) and wait for it.  The main task starts many trees and cancels
 * some of them midway.  Checked for every node: it ended exactly once if
 * it started; a group's wait returned 0 only when no child failed, and
 * otherwise a failure some child really returned (or the interruption);
 * every group was freed, every deadline scope popped.
 *
 * WEFT_STRESS_SCALE sizes it (see spawn_join_yield.c); WEFT_TEST_SEED
 * replays the tree shapes (not the scheduling), and is printed on failure.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(group_tree, .timeout = 600);

#define MAX_NODES (1u << 20)
#define US 1000ull

struct tree_run {
	uint64_t seed;
	unsigned roots;
	unsigned max_depth;
	_Atomic unsigned next_id;
	atomic_uchar *ended;		/* per node: times it ended */
	struct node *nodes;		/* node i is nodes[i]: nothing to
					 * free when a node never runs */
	_Atomic long groups_live;
	_Atomic long bad;		/* semantic violations */
	_Atomic long started;
	_Atomic long ended_total;
};

struct node {
	struct tree_run *run;
	unsigned depth;
	unsigned id;
};


static void violation(struct tree_run *r, const char *what, int a, int b)
{
	if (atomic_fetch_add(&r->bad, 1) < 5)
		fprintf(stderr, "group_tree: %s (%d, %d), WEFT_TEST_SEED=%llu\n",
			what, a, b, (unsigned long long)r->seed);
}

static int node_main(void *arg);

static struct node *new_node(struct tree_run *r, unsigned depth)
{
	unsigned id = atomic_fetch_add(&r->next_id, 1);
	struct node *n;

	if (id >= MAX_NODES)
		return NULL;
	n = &r->nodes[id];
	n->run = r;
	n->depth = depth;
	n->id = id;
	return n;
}

/* Open a group of 2-4 children, wait, check the result. */
static int run_group(struct node *n, t_rng *rng)
{
	struct tree_run *r = n->run;
	weft_group *g = weft_group_new();
	unsigned k = 2 + (unsigned)t_rand_below(rng, 3), i;
	int res, errs[8];
	size_t nerr;

	if (!g)
		return -ENOMEM;
	atomic_fetch_add(&r->groups_live, 1);
	for (i = 0; i < k; i++) {
		struct node *c = new_node(r, n->depth + 1);

		if (!c)
			break;
		/* Refused once the group is failing: c never runs. */
		weft_group_spawn(g, node_main, c);
	}
	res = weft_group_wait(g);
	nerr = weft_group_errors(g, errs, 8);
	if (res == 0 && nerr != 0)
		violation(r, "wait 0 with failed children", res, (int)nerr);
	if (res < 0 && res != -ECANCELED && res != -ETIMEDOUT &&
	    (nerr == 0 || errs[0] != res))
		violation(r, "wait returned a failure no child had", res,
			  nerr ? errs[0] : 0);
	weft_group_free(g);
	atomic_fetch_sub(&r->groups_live, 1);
	return res;
}

static int node_body(struct node *n, t_rng *rng)
{
	unsigned pick = (unsigned)t_rand_below(rng, 10);
	int r = 0;

	if (pick == 0)
		return -EIO;
	if (pick < 4 || n->depth >= n->run->max_depth) {
		for (unsigned i = (unsigned)t_rand_below(rng, 4); i; i--)
			if ((r = weft_yield()) < 0)
				return r;
		return 0;
	}
	if (pick < 6) {
		WEFT_WITH_TIMEOUT(t_rand_below(rng, 300) * US)
		r = weft_sleep(t_rand_below(rng, 300) * US);
		return r;
	}
	if (pick == 6) {
		WEFT_WITH_TIMEOUT(t_rand_below(rng, 500) * US)
		r = run_group(n, rng);
		return r;
	}
	return run_group(n, rng);
}

static int node_main(void *arg)
{
	struct node *n = arg;
	struct tree_run *r = n->run;
	t_rng rng;
	int res;

	atomic_fetch_add(&r->started, 1);
	t_rng_init(&rng, r->seed * 1000003u + n->id);
	res = node_body(n, &rng);
	if (weft_deadline_pop() != -EINVAL)
		violation(r, "a deadline scope left open", (int)n->id, 0);
	atomic_fetch_add(&r->ended[n->id], 1);
	atomic_fetch_add(&r->ended_total, 1);
	return res;
}

static int forest_main(void *arg)
{
	struct tree_run *r = arg;
	weft_task **roots = calloc(r->roots, sizeof(*roots));
	t_rng rng;
	unsigned i;

	cr_assert_not_null(roots, "calloc");
	t_rng_init(&rng, r->seed);
	for (i = 0; i < r->roots; i++) {
		struct node *n = new_node(r, 0);

		cr_assert_not_null(n, "node");
		roots[i] = weft_spawn(node_main, n);
		cr_assert_not_null(roots[i], "spawn root %u", i);
		if (t_rand_below(&rng, 4) == 0)
			weft_yield();
		if (i >= 8 && t_rand_below(&rng, 5) == 0)
			weft_cancel(roots[i - 8]); /* one that runs by now */
	}
	for (i = 0; i < r->roots; i++)
		weft_join(roots[i]);
	free(roots);
	return 0;
}

Test(group_tree, every_task_ends_once_and_every_group_result_is_right)
{
	struct tree_run r = { .max_depth = 5 };
	unsigned n, i;
	long started, ended;
	int st;

	r.seed = t_seed();
	r.roots = (unsigned)t_scaled(4000);
	r.ended = calloc(MAX_NODES, sizeof(*r.ended));
	r.nodes = calloc(MAX_NODES, sizeof(*r.nodes));
	cr_assert(r.ended && r.nodes, "calloc");
	st = t_run(forest_main, &r, 8);
	cr_assert_eq(st, 0, "run returned %d (WEFT_TEST_SEED=%llu)", st,
		     (unsigned long long)r.seed);
	n = atomic_load(&r.next_id);
	if (n > MAX_NODES)
		n = MAX_NODES;
	for (i = 0; i < n; i++)
		cr_assert_leq(atomic_load(&r.ended[i]), 1, "node %u ended %d "
			      "times (WEFT_TEST_SEED=%llu)", i,
			      atomic_load(&r.ended[i]),
			      (unsigned long long)r.seed);
	started = atomic_load(&r.started);
	ended = atomic_load(&r.ended_total);
	cr_assert_eq(started, ended, "%ld started, %ld ended (seed %llu)",
		     started, ended, (unsigned long long)r.seed);
	cr_assert_eq(atomic_load(&r.groups_live), 0, "groups not freed");
	cr_assert_eq(atomic_load(&r.bad), 0, "%ld violations (seed %llu)",
		     atomic_load(&r.bad), (unsigned long long)r.seed);
	fprintf(stderr, "group_tree: %u nodes, %ld ran, seed %llu\n", n,
		started, (unsigned long long)r.seed);
	free(r.ended);
	free(r.nodes);
}
