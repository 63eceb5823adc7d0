/*
 * A joiner cancelled at the moment its task completes.
 *
 * Each round spawns a target that yields a random number of times, a
 * joiner that joins it, and cancels the joiner after a random number of
 * yields, so the cancel lands before, during and after the completion.
 * The joiner's join must return the target's status or -ECANCELED and
 * nothing else, and every task must end exactly once.  It also exercises
 * the completer-versus-leaving-joiner race fixed with T_JOIN_FIRED (ASan
 * would see a use after free: sanitizer builds do not recycle task
 * blocks), though that window is a few instructions wide and this test
 * alone does not hit it reliably.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "weft.h"

TestSuite(join_cancel_race, .timeout = 600);

#define TARGET_STATUS 7

struct round {
	unsigned target_yields;
	atomic_int target_done;
	atomic_int join_result;
	atomic_int joiner_done;
};

static int target_fn(void *arg)
{
	struct round *r = arg;
	unsigned i;

	for (i = 0; i < r->target_yields; i++)
		weft_yield();
	atomic_fetch_add(&r->target_done, 1);
	return TARGET_STATUS;
}

static int joiner_fn(void *arg)
{
	struct round *r = arg;
	weft_task *t = weft_spawn(target_fn, r);

	if (!t)
		return -ENOMEM;
	atomic_store(&r->join_result, weft_join(t));
	atomic_fetch_add(&r->joiner_done, 1);
	return 0;
}

/*
 * The outcomes allowed: the joiner was cancelled before it ran (then
 * nothing ran); or it ran and its join returned the target's status (the
 * target ran once) or -ECANCELED (the target was cancelled with it, and ran
 * once or, cancelled before it started, never).
 */
static bool round_ok(struct round *r, int jr, int res)
{
	int target = atomic_load(&r->target_done);
	int joiner = atomic_load(&r->joiner_done);

	if (jr == -ECANCELED)
		return joiner == 0 && target == 0;
	if (jr != 0 || joiner != 1)
		return false;
	if (res == TARGET_STATUS)
		return target == 1;
	return res == -ECANCELED && target <= 1;
}

struct run {
	uint64_t seed;
	uint64_t rounds;
	int bad;
};

static int race_main(void *arg)
{
	struct run *run = arg;
	struct round r;
	t_rng rng;
	uint64_t i;
	unsigned k, delay;

	t_rng_init(&rng, run->seed);
	for (i = 0; i < run->rounds; i++) {
		weft_task *j;
		int res, jr;

		r.target_yields = (unsigned)t_rand_below(&rng, 4);
		atomic_init(&r.target_done, 0);
		atomic_init(&r.join_result, 1);
		atomic_init(&r.joiner_done, 0);
		delay = (unsigned)t_rand_below(&rng, 6);
		j = weft_spawn(joiner_fn, &r);
		if (!j)
			return -ENOMEM;
		for (k = 0; k < delay; k++)
			weft_yield();
		weft_cancel(j);
		jr = weft_join(j);
		res = atomic_load(&r.join_result);
		if (!round_ok(&r, jr, res)) {
			fprintf(stderr, "round %llu: joiner %d, join %d, "
				"target ran %d, joiner ended %d\n",
				(unsigned long long)i, jr, res,
				atomic_load(&r.target_done),
				atomic_load(&r.joiner_done));
			run->bad++;
		}
	}
	return 0;
}

Test(join_cancel_race, cancelled_joiner_gets_status_or_ecanceled_only)
{
	static const unsigned workers[] = { 1, 2, 8 };
	unsigned w;

	for (w = 0; w < 3; w++) {
		struct run run = { .seed = t_seed(), .bad = 0 };
		int r;

		run.rounds = t_scaled(20000);
		r = t_run(race_main, &run, workers[w]);
		cr_assert_eq(r, 0, "weft_run returned %d (seed %llu)", r,
			     (unsigned long long)run.seed);
		cr_assert_eq(run.bad, 0, "%d bad rounds with %u workers, "
			     "WEFT_TEST_SEED=%llu", run.bad, workers[w],
			     (unsigned long long)run.seed);
	}
}
