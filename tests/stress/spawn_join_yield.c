/*
 * Stress: spawn, join, detach and yield in random fan-out trees, and tasks
 * parking on channels and events woken from other workers.  8 workers, so
 * the 2-CPU CI machines are oversubscribed and workers get preempted in
 * the middle of everything.
 *
 * Sizing: WEFT_STRESS_SCALE multiplies or divides the work.
 *   WEFT_STRESS_SCALE=1 (or unset)  the full run: about 25 million spawn, join
 *                                   and yield operations in the tree test
 *                                   (asserted: at least 10 million)
 *   WEFT_STRESS_SCALE=4             four times that
 *   WEFT_STRESS_SCALE=1/20          a twentieth (sanitizers, valgrind, CI)
 * The seed is WEFT_TEST_SEED when set, else random; every test prints it
 * and every failure message repeats it.  The scheduling itself is not
 * reproducible, only the tree shapes.
 *
 * Accounting: every task has its own slot that it increments when it ends
 * (each must end exactly 1), and the count of runs must equal the count of
 * spawns.  A watchdog thread aborts with the counters when nothing has
 * progressed for 30 s (a lost wake-up), so a hang is reported, not just
 * timed out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(spawn_join_yield, .timeout = 600);

#define WORKERS 8

/* ------------------------------------------------------------- watchdog */

struct watchdog {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	_Atomic uint64_t *progress;
	const char *what;
	uint64_t seed;
	void (*dump)(void);
};

static void *watchdog_main(void *arg)
{
	struct watchdog *wd = arg;
	uint64_t last = (uint64_t)-1;
	unsigned still = 0;

	pthread_mutex_lock(&wd->mu);
	while (!wd->done) {
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
		if (wd->done)
			break;
		now = atomic_load(wd->progress);
		if (now != last) {
			last = now;
			still = 0;
			continue;
		}
		if (++still >= 30) {
			fprintf(stderr,
				"%s: no progress for 30 s at %llu (seed %llu): "
				"a lost wake-up?\n",
				wd->what, (unsigned long long)now,
				(unsigned long long)wd->seed);
			if (wd->dump)
				wd->dump();
			fflush(stderr);
			abort();
		}
	}
	pthread_mutex_unlock(&wd->mu);
	return NULL;
}

static void watchdog_start(struct watchdog *wd, const char *what,
			   _Atomic uint64_t *progress, uint64_t seed,
			   void (*dump)(void))
{
	memset(wd, 0, sizeof(*wd));
	pthread_mutex_init(&wd->mu, NULL);
	pthread_cond_init(&wd->cv, NULL);
	wd->what = what;
	wd->progress = progress;
	wd->seed = seed;
	wd->dump = dump;
	cr_assert_eq(pthread_create(&wd->th, NULL, watchdog_main, wd), 0,
		     "pthread_create");
}

static void watchdog_stop(struct watchdog *wd)
{
	pthread_mutex_lock(&wd->mu);
	wd->done = true;
	pthread_cond_signal(&wd->cv);
	pthread_mutex_unlock(&wd->mu);
	pthread_join(wd->th, NULL);
	pthread_mutex_destroy(&wd->mu);
	pthread_cond_destroy(&wd->cv);
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ull + (a << 6) + (a >> 2));

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------ random fan-out trees */

/*
 * Each round, a root task spends a budget of ROUND_TASKS spawns on random
 * trees: every node yields a random number of times, spawns 0..MAX_FANOUT
 * children (while the round's budget lasts and the depth allows), detaches
 * some of them at once and joins the rest in a random order, yielding in
 * between.  A node that ends increments its slot; the last one of a round
 * wakes the root through an event.
 */
#define ROUND_TASKS 2500u
#define MAX_FANOUT 5
#define MAX_DEPTH 10
#define MAX_YIELDS 7	/* per node: 0..MAX_YIELDS, mean 3.5 */
#define TREE_OPS_TARGET 10000000ull

struct tree {
	uint64_t seed;
	uint64_t total;			/* tasks to spawn in all */
	unsigned rounds;
	_Atomic unsigned char *slots;	/* per task: times it ended */
	uint32_t *depth;		/* per task */
	_Atomic uint64_t next_idx;	/* next task index to hand out */
	atomic_long budget;		/* spawns left in this round */
	atomic_long outstanding;	/* spawned, not ended, +1 for root */
	weft_event round_done;
	_Atomic uint64_t spawns, runs, joins, detaches, yields;
	_Atomic uint64_t bad_status, spawn_fail;
	_Atomic uint64_t progress;
};

static struct tree *tr;

static void tree_dump(void)
{
	fprintf(stderr,
		"tree: spawns %llu runs %llu joins %llu yields %llu "
		"outstanding %ld budget %ld\n",
		(unsigned long long)atomic_load(&tr->spawns),
		(unsigned long long)atomic_load(&tr->runs),
		(unsigned long long)atomic_load(&tr->joins),
		(unsigned long long)atomic_load(&tr->yields),
		atomic_load(&tr->outstanding), atomic_load(&tr->budget));
}

static void node_end(void)
{
	if (atomic_fetch_sub(&tr->outstanding, 1) == 1)
		weft_event_set(&tr->round_done);
}

static int tree_node(void *arg);

/* Spawn one child node at depth d; NULL when the round's budget is spent. */
static weft_task *spawn_child(uint32_t d, uint64_t *nspawn)
{
	uint64_t idx;
	weft_task *t;

	if (atomic_fetch_sub(&tr->budget, 1) <= 0)
		return NULL;
	idx = atomic_fetch_add(&tr->next_idx, 1);
	if (idx >= tr->total) {
		atomic_fetch_add(&tr->bad_status, 1);
		return NULL;
	}
	tr->depth[idx] = d;
	atomic_fetch_add(&tr->outstanding, 1);
	t = weft_spawn(tree_node, (void *)(uintptr_t)idx);
	if (!t) {
		atomic_fetch_add(&tr->spawn_fail, 1);
		node_end();
		return NULL;
	}
	(*nspawn)++;
	return t;
}

static int tree_node(void *arg)
{
	uint64_t idx = (uint64_t)(uintptr_t)arg;
	uint32_t d = tr->depth[idx];
	uint64_t nspawn = 0, njoin = 0, ndetach = 0, nyield = 0;
	weft_task *kids[MAX_FANOUT];
	unsigned nkids = 0, fan, y, i;
	t_rng rng;
	int r;

	t_rng_init(&rng, mix(tr->seed, idx));
	fan = d < MAX_DEPTH ? (unsigned)t_rand_below(&rng, MAX_FANOUT + 1) : 0;
	y = (unsigned)t_rand_below(&rng, MAX_YIELDS + 1);

	for (i = 0; i < fan; i++) {
		weft_task *t = spawn_child(d + 1, &nspawn);

		if (!t)
			break;
		if (t_rand_below(&rng, 2)) {
			weft_detach(t);
			ndetach++;
		} else {
			kids[nkids++] = t;
		}
		if (y && t_rand_below(&rng, 2)) {
			y--;
			nyield++;
			if (weft_yield() != 0)
				atomic_fetch_add(&tr->bad_status, 1);
		}
	}
	while (y--) {
		nyield++;
		if (weft_yield() != 0)
			atomic_fetch_add(&tr->bad_status, 1);
	}
	/* Join in a random order. */
	while (nkids) {
		unsigned k = (unsigned)t_rand_below(&rng, nkids);
		weft_task *t = kids[k];

		kids[k] = kids[--nkids];
		r = weft_join(t);
		njoin++;
		if (r != 7)
			atomic_fetch_add(&tr->bad_status, 1);
	}
	atomic_fetch_add_explicit(&tr->spawns, nspawn, memory_order_relaxed);
	atomic_fetch_add_explicit(&tr->joins, njoin, memory_order_relaxed);
	atomic_fetch_add_explicit(&tr->detaches, ndetach, memory_order_relaxed);
	atomic_fetch_add_explicit(&tr->yields, nyield, memory_order_relaxed);
	atomic_fetch_add_explicit(&tr->runs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&tr->progress, 1, memory_order_relaxed);
	atomic_fetch_add(&tr->slots[idx], 1);
	node_end();
	return 7;
}

static int tree_main(void *arg)
{
	unsigned round;
	uint64_t nspawn = 0;

	for (round = 0; round < tr->rounds; round++) {
		weft_task *kids[64];
		unsigned nkids = 0, i;
		int r;

		weft_event_clear(&tr->round_done);
		atomic_store(&tr->outstanding, 1);
		atomic_store(&tr->budget, (long)ROUND_TASKS);
		/* Keep planting trees until the budget is spent: every
		 * round spawns exactly ROUND_TASKS tasks. */
		while (atomic_load(&tr->budget) > 0) {
			weft_task *t = spawn_child(0, &nspawn);

			if (!t)
				break;
			if (nkids < 64 && (round + nkids) % 3) {
				kids[nkids++] = t;
			} else {
				weft_detach(t);
				atomic_fetch_add(&tr->detaches, 1);
			}
			weft_yield();
		}
		for (i = 0; i < nkids; i++) {
			r = weft_join(kids[i]);
			if (r != 7)
				atomic_fetch_add(&tr->bad_status, 1);
		}
		atomic_fetch_add(&tr->joins, nkids);
		node_end(); /* the root's own count */
		r = weft_event_wait(&tr->round_done);
		cr_assert_eq(r, 0, "round %u: wait returned %d (seed %llu)",
			     round, r, (unsigned long long)tr->seed);
		cr_assert_eq(atomic_load(&tr->outstanding), 0,
			     "round %u ended with %ld tasks outstanding", round,
			     atomic_load(&tr->outstanding));
	}
	atomic_fetch_add(&tr->spawns, nspawn);
	{
		weft_stats st;

		weft_stats_get(NULL, &st);
		cr_log_info("random_trees: %llu polls, %llu steals, %llu worker "
			    "parks", (unsigned long long)st.polls,
			    (unsigned long long)st.steals,
			    (unsigned long long)st.parks);
	}
	return 0;
}

Test(spawn_join_yield, random_trees_run_every_task_exactly_once)
{
	struct watchdog wd;
	uint64_t seed = t_seed(), i, ops, target;
	double t0, dt;
	int r;

	tr = calloc(1, sizeof(*tr));
	cr_assert_not_null(tr, "calloc");
	tr->seed = seed;
	tr->rounds = (unsigned)t_scaled(2000);
	tr->total = (uint64_t)tr->rounds * ROUND_TASKS;
	tr->slots = calloc(tr->total, 1);
	tr->depth = calloc(tr->total, sizeof(*tr->depth));
	cr_assert(tr->slots && tr->depth, "calloc");
	cr_log_info("random_trees: seed %llu, %u rounds of %u tasks, %u "
		    "workers", (unsigned long long)seed, tr->rounds,
		    ROUND_TASKS, WORKERS);

	watchdog_start(&wd, "random_trees", &tr->progress, seed, tree_dump);
	t0 = t_now();
	r = t_run(tree_main, NULL, WORKERS);
	dt = t_now() - t0;
	watchdog_stop(&wd);

	cr_assert_eq(r, 0, "weft_run returned %d (seed %llu)", r,
		     (unsigned long long)seed);
	cr_assert_eq(atomic_load(&tr->spawn_fail), 0u,
		     "%llu spawns failed (seed %llu)",
		     (unsigned long long)atomic_load(&tr->spawn_fail),
		     (unsigned long long)seed);
	cr_assert_eq(atomic_load(&tr->bad_status), 0u,
		     "%llu joins or yields returned a wrong status (seed %llu)",
		     (unsigned long long)atomic_load(&tr->bad_status),
		     (unsigned long long)seed);
	cr_assert_eq(atomic_load(&tr->spawns), tr->total,
		     "spawned %llu, want %llu (seed %llu)",
		     (unsigned long long)atomic_load(&tr->spawns),
		     (unsigned long long)tr->total, (unsigned long long)seed);
	cr_assert_eq(atomic_load(&tr->runs), atomic_load(&tr->spawns),
		     "ran %llu tasks for %llu spawns (seed %llu)",
		     (unsigned long long)atomic_load(&tr->runs),
		     (unsigned long long)atomic_load(&tr->spawns),
		     (unsigned long long)seed);
	for (i = 0; i < tr->total; i++)
		cr_assert_eq(atomic_load(&tr->slots[i]), 1,
			     "task %llu ended %u times (seed %llu)",
			     (unsigned long long)i, atomic_load(&tr->slots[i]),
			     (unsigned long long)seed);
	cr_assert_eq(atomic_load(&tr->joins) + atomic_load(&tr->detaches),
		     tr->total, "every handle joined or detached once");

	ops = atomic_load(&tr->spawns) + atomic_load(&tr->joins) +
	      atomic_load(&tr->yields);
	cr_log_info("random_trees: %llu spawns, %llu joins, %llu detaches, "
		    "%llu yields = %llu ops in %.1f s (%.0f ns/op)",
		    (unsigned long long)atomic_load(&tr->spawns),
		    (unsigned long long)atomic_load(&tr->joins),
		    (unsigned long long)atomic_load(&tr->detaches),
		    (unsigned long long)atomic_load(&tr->yields),
		    (unsigned long long)ops, dt, dt * 1e9 / (double)ops);
	/* The op count is part of the contract of this test: at scale 1 it
	 * must reach TREE_OPS_TARGET. */
	target = t_scaled(TREE_OPS_TARGET);
	cr_assert_geq(ops, target - target / 50,
		      "only %llu operations, want about %llu",
		      (unsigned long long)ops, (unsigned long long)target);
	free((void *)tr->slots);
	free(tr->depth);
	free(tr);
}

/* ------------------------------------------------- parking across workers */

/*
 * Lost wake-up hunt.  Three kinds of tasks park and are woken by tasks on
 * other workers:
 *  - a ring of RING tasks joined by capacity-1 channels, TOKENS tokens
 *    circulating: receivers park on empty channels, senders on full ones;
 *  - PAIRS pairs of tasks ping-ponging through two events (set, wait,
 *    clear);
 *  - a fan-in: PRODUCERS tasks send into one capacity-4 channel drained by
 *    CONSUMERS tasks.
 * A lost wake-up stops one of them for good: the watchdog reports it.
 */
#define RING 64
#define TOKENS 24
#define PAIRS 32
#define PRODUCERS 16
#define CONSUMERS 4

struct parking {
	uint64_t seed;
	uint64_t ring_hops;		/* hops to make in all */
	unsigned pair_rounds;
	unsigned fan_items;		/* per producer */
	weft_chan *ring[RING];
	atomic_int ring_closed;
	_Atomic uint64_t hop_tickets;	/* hops attempted */
	_Atomic uint64_t hops;		/* hops made: exactly ring_hops */
	weft_event ev[PAIRS][2];
	_Atomic uint64_t pair_done[PAIRS];
	weft_chan *fan;
	_Atomic uint64_t fan_recv, fan_sum;
	_Atomic uint64_t progress;
	_Atomic uint64_t errors;
	_Atomic int last_error;
};

static struct parking *pk;

static void parking_dump(void)
{
	unsigned i;

	fprintf(stderr, "parking: hops %llu/%llu, fan %llu, pairs:",
		(unsigned long long)atomic_load(&pk->hops),
		(unsigned long long)pk->ring_hops,
		(unsigned long long)atomic_load(&pk->fan_recv));
	for (i = 0; i < PAIRS; i++)
		fprintf(stderr, " %llu",
			(unsigned long long)atomic_load(&pk->pair_done[i]));
	fputc('\n', stderr);
}

static void pk_error(int r)
{
	atomic_fetch_add(&pk->errors, 1);
	atomic_store(&pk->last_error, r);
}

static int ring_task(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg, k;
	weft_chan *in = pk->ring[i], *out = pk->ring[(i + 1) % RING];
	uint64_t token, h;
	int r;

	for (;;) {
		r = weft_chan_recv(in, &token);
		if (r == -EPIPE)
			return 0;
		if (r) {
			pk_error(r);
			return r;
		}
		token++;
		atomic_fetch_add_explicit(&pk->progress, 1,
					  memory_order_relaxed);
		h = atomic_fetch_add(&pk->hop_tickets, 1);
		if (h >= pk->ring_hops)
			return 0; /* the ring is closing: drop the token */
		atomic_fetch_add(&pk->hops, 1);
		if (h + 1 == pk->ring_hops) {
			atomic_store(&pk->ring_closed, 1);
			for (k = 0; k < RING; k++)
				weft_chan_close(pk->ring[k]);
			return 0;
		}
		r = weft_chan_send(out, &token);
		if (r == -EPIPE)
			return 0;
		if (r) {
			pk_error(r);
			return r;
		}
	}
}

static int pair_task(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, p = id / 2, side = id % 2, n;
	weft_event *mine = &pk->ev[p][side], *theirs = &pk->ev[p][!side];
	int r;

	for (n = 0; n < pk->pair_rounds; n++) {
		if (side == 0)
			weft_event_set(theirs);
		r = weft_event_wait(mine);
		if (r) {
			pk_error(r);
			return r;
		}
		weft_event_clear(mine);
		if (side == 1)
			weft_event_set(theirs);
		else
			atomic_fetch_add(&pk->pair_done[p], 1);
		atomic_fetch_add_explicit(&pk->progress, 1,
					  memory_order_relaxed);
	}
	return 0;
}

static int producer(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg * 1000000ull, i;
	int r;

	for (i = 1; i <= pk->fan_items; i++) {
		uint64_t v = base + i;

		r = weft_chan_send(pk->fan, &v);
		if (r) {
			pk_error(r);
			return r;
		}
	}
	return 0;
}

static int consumer(void *arg)
{
	uint64_t v;
	int r;

	while ((r = weft_chan_recv(pk->fan, &v)) == 0) {
		atomic_fetch_add_explicit(&pk->fan_sum, v, memory_order_relaxed);
		atomic_fetch_add_explicit(&pk->fan_recv, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&pk->progress, 1,
					  memory_order_relaxed);
	}
	if (r != -EPIPE)
		pk_error(r);
	return r == -EPIPE ? 0 : r;
}

static int parking_main(void *arg)
{
	weft_task *ring[RING], *pairs[2 * PAIRS], *prod[PRODUCERS],
		*cons[CONSUMERS];
	unsigned i;
	uint64_t tok = 0;
	int r;

	for (i = 0; i < RING; i++) {
		pk->ring[i] = weft_chan_new(sizeof(uint64_t), 1);
		cr_assert_not_null(pk->ring[i], "chan_new: errno %d", errno);
	}
	pk->fan = weft_chan_new(sizeof(uint64_t), 4);
	cr_assert_not_null(pk->fan, "chan_new: errno %d", errno);
	/* Tokens spread round the ring. */
	for (i = 0; i < TOKENS; i++)
		cr_assert_eq(weft_chan_try_send(pk->ring[i * RING / TOKENS],
						&tok), 0, "seed a token");

	for (i = 0; i < CONSUMERS; i++)
		cons[i] = weft_spawn(consumer, NULL);
	for (i = 0; i < RING; i++)
		ring[i] = weft_spawn(ring_task, (void *)(uintptr_t)i);
	for (i = 0; i < 2 * PAIRS; i++)
		pairs[i] = weft_spawn(pair_task, (void *)(uintptr_t)i);
	for (i = 0; i < PRODUCERS; i++)
		prod[i] = weft_spawn(producer, (void *)(uintptr_t)(i + 1));

	for (i = 0; i < PRODUCERS; i++) {
		cr_assert_not_null(prod[i], "spawn");
		r = weft_join(prod[i]);
		cr_assert_eq(r, 0, "producer %u returned %d", i, r);
	}
	weft_chan_close(pk->fan);
	for (i = 0; i < CONSUMERS; i++) {
		cr_assert_not_null(cons[i], "spawn");
		r = weft_join(cons[i]);
		cr_assert_eq(r, 0, "consumer %u returned %d", i, r);
	}
	for (i = 0; i < 2 * PAIRS; i++) {
		cr_assert_not_null(pairs[i], "spawn");
		r = weft_join(pairs[i]);
		cr_assert_eq(r, 0, "pair task %u returned %d", i, r);
	}
	for (i = 0; i < RING; i++) {
		cr_assert_not_null(ring[i], "spawn");
		r = weft_join(ring[i]);
		cr_assert_eq(r, 0, "ring task %u returned %d", i, r);
	}
	for (i = 0; i < RING; i++)
		weft_chan_free(pk->ring[i]);
	weft_chan_free(pk->fan);
	{
		weft_stats st;

		weft_stats_get(NULL, &st);
		cr_log_info("parking: %llu polls, %llu steals, %llu worker "
			    "parks, %llu inject pops",
			    (unsigned long long)st.polls,
			    (unsigned long long)st.steals,
			    (unsigned long long)st.parks,
			    (unsigned long long)st.inject_pops);
	}
	return 0;
}

Test(spawn_join_yield, tasks_parked_on_channels_and_events_are_never_lost)
{
	struct watchdog wd;
	uint64_t seed = t_seed(), want_sum = 0, p, i;
	double t0, dt;
	int r;

	pk = calloc(1, sizeof(*pk));
	cr_assert_not_null(pk, "calloc");
	pk->seed = seed;
	pk->ring_hops = t_scaled(8000000);
	pk->pair_rounds = (unsigned)t_scaled(100000);
	pk->fan_items = (unsigned)t_scaled(200000);
	cr_log_info("parking: seed %llu, %llu ring hops, %u pair rounds, "
		    "%u x %u fan-in items, %u workers",
		    (unsigned long long)seed,
		    (unsigned long long)pk->ring_hops, pk->pair_rounds,
		    PRODUCERS, pk->fan_items, WORKERS);

	watchdog_start(&wd, "parking", &pk->progress, seed, parking_dump);
	t0 = t_now();
	r = t_run(parking_main, NULL, WORKERS);
	dt = t_now() - t0;
	watchdog_stop(&wd);

	cr_assert_eq(r, 0, "weft_run returned %d (seed %llu)", r,
		     (unsigned long long)seed);
	cr_assert_eq(atomic_load(&pk->errors), 0u,
		     "%llu operations failed, last %d",
		     (unsigned long long)atomic_load(&pk->errors),
		     atomic_load(&pk->last_error));
	cr_assert_eq(atomic_load(&pk->hops), pk->ring_hops,
		     "ring made %llu hops, want %llu (seed %llu)",
		     (unsigned long long)atomic_load(&pk->hops),
		     (unsigned long long)pk->ring_hops,
		     (unsigned long long)seed);
	for (i = 0; i < PAIRS; i++)
		cr_assert_eq(atomic_load(&pk->pair_done[i]),
			     (uint64_t)pk->pair_rounds, "pair %llu: %llu rounds",
			     (unsigned long long)i,
			     (unsigned long long)atomic_load(&pk->pair_done[i]));
	cr_assert_eq(atomic_load(&pk->fan_recv),
		     (uint64_t)PRODUCERS * pk->fan_items, "fan-in received %llu",
		     (unsigned long long)atomic_load(&pk->fan_recv));
	for (p = 1; p <= PRODUCERS; p++)
		for (i = 1; i <= pk->fan_items; i++)
			want_sum += p * 1000000ull + i;
	cr_assert_eq(atomic_load(&pk->fan_sum), want_sum,
		     "fan-in: an element was lost or duplicated");
	cr_log_info("parking: %llu wake-ups in %.1f s",
		    (unsigned long long)atomic_load(&pk->progress), dt);
	free(pk);
}
