/*
 * The timing wheel, white box: entries fire at the first poll at or after
 * their deadline and never before, disarmed entries never fire, the next
 * deadline reported is never later than the earliest entry, and a million
 * entries are cheap.  Entries point at zeroed task blocks: the wake they
 * make finds no armed park and does nothing, and "fired" is read from the
 * entry itself (unlinked by the poll).
 */
#include <stdlib.h>

#include "tests/crit.h"
#include "tests/helpers.h"
#include "runtime/task.h"
#include "runtime/timer.h"

TestSuite(timer, .timeout = 60);

#define BASE 1000000000000ull /* an arbitrary "now", ns */

static struct weft_task dummy;

static void arm_at(struct weft__timer_wheel *wh, struct weft__timer *e,
		   uint64_t deadline)
{
	e->deadline = deadline;
	e->task = &dummy;
	e->gen = 12345;
	e->result = 0;
	e->wheel = NULL;
	cr_assert(weft__timer_arm(wh, e), "deadline %llu not linked",
		  (unsigned long long)deadline);
}

Test(timer, entries_fire_at_the_first_poll_past_their_deadline)
{
	static const uint64_t offs[] = { 1500, 70000, 1000000, 5000000,
					 300000000, 20000000000ull,
					 3600000000000ull };
	enum { N = sizeof(offs) / sizeof(offs[0]) };
	struct weft__timer_wheel wh;
	struct weft__timer e[N];
	uint64_t now = BASE;
	unsigned i;

	weft__timer_wheel_init(&wh, BASE);
	for (i = 0; i < N; i++)
		arm_at(&wh, &e[i], BASE + offs[i]);
	/* Walk time forward in uneven steps past the last deadline. */
	while (now < BASE + offs[N - 1] + 5000) {
		uint64_t step = (now - BASE) / 3 + 777;

		weft__timer_poll(&wh, now);
		for (i = 0; i < N; i++) {
			uint64_t d = BASE + offs[i];
			/* Precision: the wheel's unit is 1024 ns. */
			int due = now >= d + 1024;
			int fired = e[i].wheel == NULL;

			cr_assert(!(fired && now + 1024 < d),
				  "entry %u fired %lld ns early", i,
				  (long long)(d - now));
			cr_assert(!(due && !fired),
				  "entry %u not fired %llu ns after its "
				  "deadline", i,
				  (unsigned long long)(now - d));
		}
		now += step;
	}
}

Test(timer, disarmed_entries_never_fire_and_leave_the_wheel_empty)
{
	struct weft__timer_wheel wh;
	struct weft__timer e[64];
	unsigned i;

	weft__timer_wheel_init(&wh, BASE);
	for (i = 0; i < 64; i++)
		arm_at(&wh, &e[i], BASE + 1000 * (i + 2) * (i + 2));
	for (i = 0; i < 64; i += 2)
		weft__timer_disarm(&e[i]);
	cr_assert_eq(wh.count, 32, "count %llu after disarming half",
		     (unsigned long long)wh.count);
	cr_assert_eq(weft__timer_poll(&wh, BASE + 100000000), WEFT__FOREVER,
		     "entries left after the last deadline");
	cr_assert_eq(wh.count, 0, "count %llu", (unsigned long long)wh.count);
}

Test(timer, next_deadline_is_never_after_the_earliest_entry)
{
	struct weft__timer_wheel wh;
	struct weft__timer e[200];
	uint64_t earliest = WEFT__FOREVER, next, now = BASE;
	t_rng rng;
	unsigned i;

	t_rng_init(&rng, t_seed());
	weft__timer_wheel_init(&wh, BASE);
	for (i = 0; i < 200; i++) {
		uint64_t d = BASE + 2048 + t_rand_below(&rng, 10000000000ull);

		arm_at(&wh, &e[i], d);
		if (d < earliest)
			earliest = d;
	}
	next = weft__timer_poll(&wh, BASE); /* nothing due yet */
	cr_assert_leq(next, earliest, "next %llu after earliest %llu",
		      (unsigned long long)next, (unsigned long long)earliest);
	/* Polling at each reported time makes progress to the end. */
	for (i = 0; i < 100000 && wh.count; i++) {
		next = weft__timer_poll(&wh, now);
		cr_assert_geq(next == WEFT__FOREVER ? now : next, now - 1024,
			      "next deadline %llu behind now %llu",
			      (unsigned long long)next,
			      (unsigned long long)now);
		now = next == WEFT__FOREVER ? now : next + 1024;
	}
	cr_assert_eq(wh.count, 0, "%llu entries never fired",
		     (unsigned long long)wh.count);
}

Test(timer, deadlines_already_past_are_not_linked)
{
	struct weft__timer_wheel wh;
	struct weft__timer e = { .deadline = BASE - 5000, .task = &dummy };

	weft__timer_wheel_init(&wh, BASE);
	cr_assert(!weft__timer_arm(&wh, &e), "a past deadline was linked");
	cr_assert_eq(wh.count, 0, "count %llu", (unsigned long long)wh.count);
}

Test(timer, a_million_entries_arm_and_fire)
{
	enum { N = 1000000 };
	struct weft__timer *e = calloc(N, sizeof(*e));
	struct weft__timer_wheel wh;
	t_rng rng;
	unsigned i;

	cr_assert_not_null(e, "calloc");
	t_rng_init(&rng, t_seed());
	weft__timer_wheel_init(&wh, BASE);
	for (i = 0; i < N; i++)
		arm_at(&wh, &e[i], BASE + 2048 + t_rand_below(&rng,
							       100000000));
	cr_assert_eq(wh.count, N, "count %llu", (unsigned long long)wh.count);
	weft__timer_poll(&wh, BASE + 200000000);
	cr_assert_eq(wh.count, 0, "%llu left", (unsigned long long)wh.count);
	for (i = 0; i < N; i++)
		cr_assert_null(e[i].wheel, "entry %u still linked", i);
	free(e);
}

/*
 * Random arms between polls that are sometimes microseconds and sometimes
 * seconds apart (a busy worker's wheel, polled rarely, while its tasks keep
 * arming): every entry fires at the first poll at least one unit past its
 * deadline, never before.  Arms made while the wheel lags far behind the
 * clock once let a poll stop at a later low-level slot and step past an
 * earlier high-level one (entries then fired a wheel turn late).
 */
Test(timer, sparse_polls_with_arms_in_between_fire_everything_on_time)
{
	enum { N = 4000 };
	static struct weft__timer e[N];
	static uint64_t due[N];
	struct weft__timer_wheel wh;
	uint64_t now = BASE, seed = t_seed();
	unsigned armed = 0, i;
	t_rng r;

	t_rng_init(&r, seed);
	weft__timer_wheel_init(&wh, BASE);
	while (armed < N || now < BASE + 100000000000ull) {
		unsigned k = (unsigned)t_rand_below(&r, 8);

		/* Arm a few, relative to the true clock. */
		for (i = 0; i < k && armed < N; i++, armed++) {
			uint64_t span = 1000ull << t_rand_below(&r, 24);

			due[armed] = now + 2048 + t_rand_below(&r, span);
			arm_at(&wh, &e[armed], due[armed]);
		}
		/* Advance by a little or a lot, then maybe poll. */
		now += 1 + t_rand_below(&r, 1ull << t_rand_below(&r, 32));
		if (t_rand_below(&r, 3) == 0)
			continue;
		weft__timer_poll(&wh, now);
		for (i = 0; i < armed; i++) {
			int fired = e[i].wheel == NULL;

			cr_assert(!(fired && now + 1024 < due[i]),
				  "seed %llu: entry %u fired early",
				  (unsigned long long)seed, i);
			cr_assert(!(!fired && now >= due[i] + 1024),
				  "seed %llu: entry %u due %llu ns ago still "
				  "armed", (unsigned long long)seed, i,
				  (unsigned long long)(now - due[i]));
		}
		if (armed == N && now > due[N - 1] + 1024)
			break;
	}
}

/* Poll at now; return how many entries the poll moved down a level. */
static uint64_t moves_in_poll(struct weft__timer_wheel *wh, uint64_t now,
			      uint64_t *next)
{
	uint64_t before = wh->moves;

	*next = weft__timer_poll(wh, now);
	return wh->moves - before;
}

/*
 * The timers workload's shape (100,000 sleeps of 1..100 ms), polled every
 * microsecond: a level-2 slot holds ~4,000 entries, and moving them all
 * when the wheel reaches it stalled the wheel for 300-500 us every 4.2 ms.
 * Staged, a poll moves the share of the slot's window that passed: a few,
 * or up to STAGE_CHUNK (128) where nothing was due for a while.
 */
Test(timer, a_full_slot_moves_down_a_few_entries_per_poll_not_all_at_once)
{
	enum { N = 100000 };
	struct weft__timer *e = calloc(N, sizeof(*e));
	struct weft__timer_wheel *wh = malloc(sizeof(*wh));
	uint64_t now, next, worst = 0, total = 0;
	t_rng rng;
	unsigned i;

	cr_assert(e && wh, "calloc");
	t_rng_init(&rng, t_seed());
	weft__timer_wheel_init(wh, BASE);
	for (i = 0; i < N; i++)
		arm_at(wh, &e[i], BASE + 1000000 +
				      t_rand_below(&rng, 99000000));
	for (now = BASE; wh->count; now += 1024) {
		uint64_t m = moves_in_poll(wh, now, &next);

		total += m;
		if (m > worst)
			worst = m;
		cr_assert_lt(now, BASE + 200000000ull, "entries never fired");
	}
	/* Each entry moves once per level it passes: the work is all there,
	 * only spread out. */
	cr_assert_gt(total, N, "only %llu moves", (unsigned long long)total);
	cr_assert_leq(worst, 128, "a poll moved %llu entries at once",
		      (unsigned long long)worst);
	free(wh);
	free(e);
}

/*
 * A worker with nothing else to do polls its wheel only when the wheel
 * asks to be polled (its park timeout).  With 100,000 entries an hour out,
 * those wake-ups must also come often enough that no poll moves more than
 * about STAGE_CHUNK (128) entries, and every entry still fires on time.
 */
Test(timer, an_idle_wheel_asks_to_be_polled_often_enough_to_stage_in_chunks)
{
	enum { N = 100000 };
	struct weft__timer *e = calloc(N, sizeof(*e));
	struct weft__timer_wheel *wh = malloc(sizeof(*wh));
	uint64_t hour = 3600000000000ull, now = BASE, next, worst = 0;
	unsigned i, polls = 0;
	t_rng rng;

	cr_assert(e && wh, "calloc");
	t_rng_init(&rng, t_seed());
	weft__timer_wheel_init(wh, BASE);
	for (i = 0; i < N; i++)
		arm_at(wh, &e[i], BASE + hour + t_rand_below(&rng, 100000000));
	next = weft__timer_poll(wh, now);
	while (wh->count) {
		uint64_t m;

		cr_assert_neq(next, WEFT__FOREVER, "entries but no next poll");
		cr_assert_gt(next, now - 1024, "next poll in the past");
		now = next;
		m = moves_in_poll(wh, now, &next);
		if (m > worst)
			worst = m;
		cr_assert_lt(++polls, 1000000, "too many wake-ups");
		for (i = 0; i < N && now > BASE + hour; i += 997)
			cr_assert(!(e[i].wheel && now >= e[i].deadline + 1024),
				  "entry %u late", i);
	}
	cr_log_info("worst %llu polls %u", (unsigned long long)worst, polls);
	cr_assert_leq(worst, 3 * 128, "a poll moved %llu entries at once",
		      (unsigned long long)worst);
	free(wh);
	free(e);
}
