/*
 * Task-local values: get/set in a task, inheritance at spawn as a snapshot
 * (later sets are not shared), zero cost when nothing is set, and the
 * destructor contract of weft.h: a value is destroyed once, when its last
 * holder lets go.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "runtime/task.h"
#include "tests/unit/sync_helpers.h"

TestSuite(local, .timeout = 120);

static int vals[64];

#define V(i) ((void *)&vals[i])

Test(local, get_outside_a_task_is_null)
{
	weft_local_key *k = weft_local_key_new(NULL);

	cr_assert_not_null(k, "key_new");
	cr_assert_null(weft_local_get(k), "get outside a task");
	cr_assert_null(weft_local_get(NULL), "get with a NULL key");
	weft_local_key_free(k);
	weft_local_key_free(NULL);
}

Test(local, set_outside_a_task_returns_eperm)
{
	weft_local_key *k = weft_local_key_new(NULL);
	int r = weft_local_set(k, V(0));

	cr_assert_eq(r, -EPERM, "set outside a task returned %d", r);
	cr_assert_eq(weft_local_set(NULL, V(0)), -EINVAL, "NULL key");
	weft_local_key_free(k);
}

static int set_get_main(void *arg)
{
	weft_local_key *a = weft_local_key_new(NULL);
	weft_local_key *b = weft_local_key_new(NULL);

	cr_assert(a && b, "key_new");
	cr_assert_null(weft_local_get(a), "unset reads NULL");
	cr_assert_eq(weft_local_set(NULL, V(0)), -EINVAL, "NULL key");
	cr_assert_eq(weft_local_set(a, V(1)), 0, "set a");
	cr_assert_eq(weft_local_set(b, V(2)), 0, "set b");
	cr_assert_eq(weft_local_get(a), V(1), "a");
	cr_assert_eq(weft_local_get(b), V(2), "b");
	cr_assert_eq(weft_local_set(a, V(3)), 0, "replace a");
	cr_assert_eq(weft_local_get(a), V(3), "a replaced");
	cr_assert_eq(weft_local_set(a, NULL), 0, "clear a");
	cr_assert_null(weft_local_get(a), "a cleared");
	cr_assert_eq(weft_local_get(b), V(2), "b untouched");
	cr_assert_eq(weft_local_set(b, NULL), 0, "clear b");
	cr_assert_null(weft_self()->locals, "no values: no snapshot left");
	weft_local_key_free(a);
	weft_local_key_free(b);
	return 0;
}

Test(local, set_values_read_back_and_null_clears)
{
	run_on_1_2_8(set_get_main, NULL);
}

static int many_keys_child(void *arg)
{
	weft_local_key **k = arg;

	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(weft_local_get(k[i]), V(i), "child key %u", i);
	return 0;
}

static int many_keys_main(void *arg)
{
	weft_local_key *k[40];

	for (unsigned i = 0; i < 40; i++) {
		k[i] = weft_local_key_new(NULL);
		cr_assert_eq(weft_local_set(k[i], V(i)), 0, "set %u", i);
	}
	for (unsigned i = 0; i < 40; i++)
		cr_assert_eq(weft_local_get(k[i]), V(i), "key %u", i);
	cr_assert_eq(weft_join(weft_spawn(many_keys_child, k)), 0, "child");
	for (unsigned i = 0; i < 40; i++) {
		weft_local_set(k[i], NULL);
		weft_local_key_free(k[i]);
	}
	return 0;
}

Test(local, forty_keys_hold_their_values_in_the_task_and_its_child)
{
	run_on_1_2_8(many_keys_main, NULL);
}

/* --------------------------------------------------------- inheritance */

struct fork_arg {
	weft_local_key *a, *b, *c;
	weft_event go;
};

static int snapshot_child(void *arg)
{
	struct fork_arg *f = arg;

	cr_assert_eq(weft_local_get(f->a), V(1), "child starts with a");
	cr_assert_eq(weft_local_get(f->b), V(2), "child starts with b");
	cr_assert_null(weft_local_get(f->c), "c was not set");
	weft_event_wait(&f->go);
	cr_assert_eq(weft_local_get(f->b), V(2),
		     "the parent's later set is not seen");
	cr_assert_eq(weft_local_set(f->a, V(10)), 0, "child set a");
	cr_assert_eq(weft_local_set(f->c, V(11)), 0, "child set c");
	cr_assert_eq(weft_local_get(f->a), V(10), "child sees its own set");
	return 0;
}

static int snapshot_main(void *arg)
{
	struct fork_arg f = { weft_local_key_new(NULL),
			      weft_local_key_new(NULL),
			      weft_local_key_new(NULL), WEFT_EVENT_INIT };
	weft_task *t;

	weft_local_set(f.a, V(1));
	weft_local_set(f.b, V(2));
	t = weft_spawn(snapshot_child, &f);
	cr_assert_not_null(t, "spawn");
	cr_assert_eq(weft_local_set(f.b, V(20)), 0, "parent set b");
	weft_event_set(&f.go);
	cr_assert_eq(weft_join(t), 0, "child");
	cr_assert_eq(weft_local_get(f.a), V(1), "the child's set is not seen");
	cr_assert_null(weft_local_get(f.c), "nor its new key");
	cr_assert_eq(weft_local_get(f.b), V(20), "parent keeps its own set");
	weft_local_key_free(f.a);
	weft_local_key_free(f.b);
	weft_local_key_free(f.c);
	return 0;
}

Test(local, child_starts_with_parent_values_and_later_sets_are_not_shared)
{
	run_on_1_2_8(snapshot_main, NULL);
}

static weft_local_key *depth_key;

static int chain_task(void *arg)
{
	uintptr_t depth = (uintptr_t)arg;

	cr_assert_eq(weft_local_get(depth_key), V(depth),
		     "level %u inherits its parent's value", (unsigned)depth);
	if (depth == 10)
		return 0;
	weft_local_set(depth_key, V(depth + 1));
	return weft_join(weft_spawn(chain_task, (void *)(depth + 1)));
}

static int chain_main(void *arg)
{
	depth_key = weft_local_key_new(NULL);
	weft_local_set(depth_key, V(0));
	cr_assert_eq(chain_task((void *)0), 0, "chain");
	weft_local_key_free(depth_key);
	return 0;
}

Test(local, values_pass_down_a_chain_of_spawns)
{
	run_on_1_2_8(chain_main, NULL);
}

static int peek_child(void *arg)
{
	*(void **)arg = weft_self()->locals;
	return 0;
}

static int cost_main(void *arg)
{
	weft_local_key *k = weft_local_key_new(NULL);
	void *seen = V(0);

	cr_assert_eq(weft_join(weft_spawn(peek_child, &seen)), 0, "child");
	cr_assert_null(seen, "no values: the child gets nothing");
	weft_local_set(k, V(1));
	cr_assert_eq(weft_join(weft_spawn(peek_child, &seen)), 0, "child");
	cr_assert_eq(seen, (void *)weft_self()->locals,
		     "the child shares the parent's snapshot (no copy)");
	weft_local_set(k, NULL);
	weft_local_key_free(k);
	return 0;
}

Test(local, a_spawn_shares_the_snapshot_and_costs_nothing_without_values)
{
	run_on_1_2_8(cost_main, NULL);
}

/* --------------------------------------------------------- destructors */

static atomic_uint destroyed[64];

static void count_dtor(void *v)
{
	atomic_fetch_add(&destroyed[(int *)v - vals], 1);
}

static unsigned dtors(unsigned i)
{
	return atomic_load(&destroyed[i]);
}

static void reset_dtors(void)
{
	for (unsigned i = 0; i < 64; i++)
		atomic_store(&destroyed[i], 0);
}

static int replace_main(void *arg)
{
	weft_local_key *k = weft_local_key_new(count_dtor);

	reset_dtors();
	weft_local_set(k, V(1));
	weft_local_set(k, V(1));
	cr_assert_eq(dtors(1), 0u, "setting the same value destroys nothing");
	weft_local_set(k, V(2));
	cr_assert_eq(dtors(1), 1u, "a replaced value is destroyed at once");
	weft_local_set(k, NULL);
	cr_assert_eq(dtors(2), 1u, "a cleared value is destroyed at once");
	weft_local_set(k, V(3));
	weft_local_key_free(k);
	return 0;
}

static int end_task(void *arg)
{
	weft_local_set(arg, V(4));
	return 0;
}

Test(local, dtor_runs_when_a_set_replaces_or_clears_a_value_or_its_task_ends)
{
	weft_local_key *k = weft_local_key_new(count_dtor);

	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(t_run(replace_main, NULL, sync_workers[i]), 0,
			     "run");
		cr_assert_eq(dtors(3), 1u,
			     "the value held at the end is destroyed once");
		cr_assert_eq(dtors(1) + dtors(2), 2u, "no double destroy");
		cr_assert_eq(t_run(end_task, k, sync_workers[i]), 0, "run");
		cr_assert_eq(dtors(4), 1u, "the ended task's value");
	}
	weft_local_key_free(k);
}

struct share_arg {
	weft_local_key *k;
	weft_event go;
};

static int holder_child(void *arg)
{
	struct share_arg *s = arg;

	weft_event_wait(&s->go);
	cr_assert_eq(weft_local_get(s->k), V(5), "the child still has it");
	cr_assert_eq(dtors(5), 0u, "alive while the child holds it");
	return 0;
}

static int share_main(void *arg)
{
	struct share_arg s = { weft_local_key_new(count_dtor),
			       WEFT_EVENT_INIT };
	weft_task *t[3];

	reset_dtors();
	weft_local_set(s.k, V(5));
	for (unsigned i = 0; i < 3; i++)
		t[i] = weft_spawn(holder_child, &s);
	weft_local_set(s.k, V(6));
	cr_assert_eq(dtors(5), 0u, "the children still hold the old value");
	weft_event_set(&s.go);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(weft_join(t[i]), 0, "child %u", i);
	cr_assert_eq(dtors(5), 1u,
		     "destroyed once, when its last holder ended");
	weft_local_set(s.k, NULL);
	cr_assert_eq(dtors(6), 1u, "the parent's own value");
	weft_local_key_free(s.k);
	return 0;
}

Test(local, an_inherited_value_is_destroyed_once_by_its_last_holder)
{
	run_on_1_2_8(share_main, NULL);
}

static int late_child(void *arg)
{
	weft_event_wait(arg);
	return 0;
}

static int key_free_main(void *arg)
{
	weft_local_key *k = weft_local_key_new(count_dtor);
	weft_event go = WEFT_EVENT_INIT;
	weft_task *t;

	reset_dtors();
	weft_local_set(k, V(7));
	t = weft_spawn(late_child, &go);
	weft_local_set(k, NULL);
	weft_local_key_free(k);
	cr_assert_eq(dtors(7), 0u, "the child still holds the value");
	weft_event_set(&go);
	cr_assert_eq(weft_join(t), 0, "child");
	cr_assert_eq(dtors(7), 1u, "destroyed when the child ended");
	return 0;
}

Test(local, freeing_a_key_keeps_held_values_until_their_holders_end)
{
	run_on_1_2_8(key_free_main, NULL);
}

/* A dtor's value is no longer visible; a set there is released too. */
static weft_local_key *reset_key;

static void resetting_dtor(void *v)
{
	cr_assert_null(weft_local_get(reset_key), "gone in its dtor");
	count_dtor(v);
	if (v == V(8))
		weft_local_set(reset_key, V(9));
}

static int dtor_set_task(void *arg)
{
	weft_local_set(reset_key, V(8));
	return 0;
}

Test(local, a_value_set_by_a_dtor_at_task_end_is_released_too)
{
	reset_key = weft_local_key_new(resetting_dtor);
	reset_dtors();
	cr_assert_eq(t_run(dtor_set_task, NULL, 2), 0, "run");
	cr_assert_eq(dtors(8), 1u, "first value");
	cr_assert_eq(dtors(9), 1u, "the value its dtor set");
	weft_local_key_free(reset_key);
}

/* Many children on many workers read, set and end at once. */
#define KIDS 200

static int busy_child(void *arg)
{
	weft_local_key *k = arg;
	uintptr_t i = (uintptr_t)weft_task_id(weft_self()) % 32;

	cr_assert_eq(weft_local_get(k), V(40), "inherited");
	weft_local_set(k, V(41 + i % 8));
	weft_yield();
	cr_assert_eq(weft_local_get(k), V(41 + i % 8), "own set");
	return 0;
}

static int busy_main(void *arg)
{
	weft_local_key *k = weft_local_key_new(count_dtor);
	weft_task *t[KIDS];
	unsigned total = 0;

	reset_dtors();
	weft_local_set(k, V(40));
	for (unsigned i = 0; i < KIDS; i++)
		t[i] = weft_spawn(busy_child, k);
	for (unsigned i = 0; i < KIDS; i++)
		cr_assert_eq(weft_join(t[i]), 0, "child %u", i);
	for (unsigned i = 41; i < 49; i++)
		total += dtors(i);
	cr_assert_eq(total, (unsigned)KIDS, "each child's own value, once");
	cr_assert_eq(dtors(40), 0u, "the parent still holds its value");
	weft_local_set(k, NULL);
	cr_assert_eq(dtors(40), 1u, "destroyed once");
	weft_local_key_free(k);
	return 0;
}

Test(local, children_on_many_workers_set_and_end_concurrently)
{
	run_on_1_2_8(busy_main, NULL);
}
