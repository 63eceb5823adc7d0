/*
 * The timing wheel, with its cascades spread out in time.
 *
 * Time is counted in units of 2^10 ns.  Write P_k(t) = t >> 6k for the
 * number of the level-k slot holding time t (a level-k slot spans 64^k
 * units), and E for the wheel's time (`elapsed`).  Level k keeps a row of
 * 128 slots indexed by P_k(t) mod 128: they cover two slots of the level
 * above, the current one, P_{k+1}(E), and the next.  An entry goes to the
 * lowest level whose row covers it, so an entry at level k > 0 is at least
 * one level-k slot ahead of E.  When E reaches the start of an occupied slot
 * of level k > 0, its entries move down (a cascade); at level 0 a slot is
 * one unit and its entries fire.  Insert and remove are O(1); the next slot
 * is found by a count-trailing-zeros over each level's occupancy bits.
 *
 * Why two slots of the level above and not one (the kernel's and Tokio's
 * wheels use 64 slots, one slot above): with one, the entries of a level-k
 * slot can only move down when E reaches that slot, all at once.  Each move
 * touches a cold task block (the entry is embedded in it), ~140 ns, and a
 * level-2 slot of a busy wheel holds thousands of entries: 100,000 sleeps of
 * 1..100 ms stalled the wheel 300-500 us every 4.2 ms, and every ~268 ms a
 * level-3 slot for tens of ms (docs/design.md, the timers p99).  With two,
 * the next slot of level k+1 has a place to go at level k before it is
 * reached, so each poll *stages* a share of it: the share of the current
 * level-(k+1) slot's time that has passed since the last poll.  Staging
 * finishes one level-k slot before the boundary (so the level below can
 * stage from it in turn), and the cascade at the boundary finds the slot
 * empty.  A wheel with a big slot to stage and nothing due asks to be
 * polled again when about STAGE_CHUNK entries are due to move, so an idle
 * worker's wheel stages too.  Every entry still moves once per level, as
 * before; only the bursts are gone.
 *
 * Entries are fired (their task woken) under the wheel lock, so a task that
 * disarms after its park ended never races a wake that is still touching
 * its entry.
 */
#include <sched.h>
#include <time.h>

#include "runtime/compiler.h"
#include "runtime/park.h"
#include "runtime/timer.h"

#define UNIT(ns) ((ns) >> WEFT__TIMER_SHIFT)
/* An entry's time in units, rounded up: it fires when the wheel reaches
 * that unit, which is never before its deadline. */
#define UNIT_UP(ns)                                                   \
	((ns) > UINT64_MAX - 1023 ? UNIT(UINT64_MAX)                  \
				  : UNIT((ns) + ((1ull << WEFT__TIMER_SHIFT) - 1)))
#define LEVELS WEFT__TIMER_LEVELS
#define LEVEL_BITS WEFT__TIMER_LEVEL_BITS
#define ROW WEFT__TIMER_ROW
/* How far ahead the top level reaches (~52 days); later deadlines are
 * linked at that distance and re-linked when it comes. */
#define SPAN ((uint64_t)1 << (LEVEL_BITS * LEVELS))
/* An idle wheel staging a big slot wakes every ~this many moves. */
#define STAGE_CHUNK 128

uint64_t weft__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void lock(struct weft__timer_wheel *wh)
{
	unsigned n = 0;

	while (atomic_exchange_explicit(&wh->lock, 1, memory_order_acquire))
		while (atomic_load_explicit(&wh->lock, memory_order_relaxed))
			if (++n % 64 == 0)
				sched_yield();
			else
				weft__cpu_relax();
}

static void unlock(struct weft__timer_wheel *wh)
{
	atomic_store_explicit(&wh->lock, 0, memory_order_release);
}

void weft__timer_wheel_init(struct weft__timer_wheel *wh, uint64_t now)
{
	unsigned l, s;

	atomic_init(&wh->lock, 0);
	wh->elapsed = UNIT(now);
	wh->count = 0;
	wh->staged_at = wh->elapsed;
	wh->moves = 0;
	atomic_init(&wh->next_due, WEFT__FOREVER);
	for (l = 0; l < LEVELS; l++) {
		wh->occupied[l][0] = wh->occupied[l][1] = 0;
		for (s = 0; s < ROW; s++) {
			wh->slots[l][s] = NULL;
			wh->slot_count[l][s] = 0;
		}
	}
}

/* P_l(t): the number of the level-l slot holding time t (units). */
static inline uint64_t slot_of(uint64_t t, unsigned l)
{
	return t >> (LEVEL_BITS * l);
}

/* The start (units) of slot s of level l, whose position lies at or after
 * the wheel's current one, less than a row on. */
static uint64_t slot_start(struct weft__timer_wheel *wh, unsigned l,
			   unsigned s)
{
	uint64_t cur = slot_of(wh->elapsed, l);
	unsigned d = (s - (unsigned)cur) & (ROW - 1);

	return (cur + d) << (LEVEL_BITS * l);
}

/*
 * When slot s of level l > 0 (starting at start, units) wants a poll for
 * its staging: at the start of its staging window (the level-l slot before
 * it), then whenever about STAGE_CHUNK of its entries are due to move.
 * Small slots want none: a cascade of fewer than STAGE_CHUNK entries is
 * cheap enough to do when the wheel reaches them.
 */
static uint64_t stage_wake(struct weft__timer_wheel *wh, unsigned l,
			   unsigned s, uint64_t start)
{
	uint64_t now = wh->elapsed, until, left = wh->slot_count[l][s];
	uint64_t window = start - ((uint64_t)1 << (LEVEL_BITS * l));

	if (left < STAGE_CHUNK)
		return UINT64_MAX;
	if (now < window)
		return window;
	until = start - ((uint64_t)1 << (LEVEL_BITS * (l - 1)));
	if (now >= until)
		return now + 1;
	return now + 1 + (until - now) * STAGE_CHUNK / left;
}

/* Link e at time t (units, > elapsed) on the lowest level whose row
 * covers t: the row of level l covers level-(l+1) slots P_{l+1}(E) and
 * P_{l+1}(E) + 1. */
static void link_locked(struct weft__timer_wheel *wh, struct weft__timer *e)
{
	uint64_t t = UNIT_UP(e->deadline), now = wh->elapsed;
	unsigned l = 0, s;

	if (t - now > SPAN)
		t = now + SPAN;
	while (slot_of(t, l + 1) - slot_of(now, l + 1) > 1)
		l++;
	s = (unsigned)slot_of(t, l) & (ROW - 1);
	e->level = (uint8_t)l;
	e->slot = (uint8_t)s;
	e->prev = NULL;
	e->next = wh->slots[l][s];
	if (e->next)
		e->next->prev = e;
	wh->slots[l][s] = e;
	wh->slot_count[l][s]++;
	wh->occupied[l][s / 64] |= 1ull << (s % 64);
	__atomic_store_n(&e->wheel, wh, __ATOMIC_RELAXED);
	__atomic_store_n(&wh->count, wh->count + 1, __ATOMIC_RELAXED);
}

/* Take e off its slot's list.  e->wheel stays set: the caller clears it
 * when it is done with e (see drain_slot_locked). */
static void unlink_locked(struct weft__timer_wheel *wh, struct weft__timer *e)
{
	unsigned l = e->level, s = e->slot;

	if (e->prev)
		e->prev->next = e->next;
	else
		wh->slots[l][s] = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (--wh->slot_count[l][s] == 0)
		wh->occupied[l][s / 64] &= ~(1ull << (s % 64));
	__atomic_store_n(&wh->count, wh->count - 1, __ATOMIC_RELAXED);
}

bool weft__timer_arm(struct weft__timer_wheel *wh, struct weft__timer *e)
{
	bool linked = false;

	lock(wh);
	if (UNIT_UP(e->deadline) > wh->elapsed) {
		uint64_t due = e->deadline, w;

		link_locked(wh, e);
		linked = true;
		/* Or sooner, if its slot has grown big enough to stage. */
		if (e->level > 0) {
			w = stage_wake(wh, e->level, e->slot,
				       slot_start(wh, e->level, e->slot));
			if (w <= UNIT(WEFT__FOREVER) &&
			    w << WEFT__TIMER_SHIFT < due)
				due = w << WEFT__TIMER_SHIFT;
		}
		/* Never later than the entry (a poll just before it
		 * fires takes the lock and finds it not yet due). */
		if (due < atomic_load_explicit(&wh->next_due,
					       memory_order_relaxed))
			atomic_store_explicit(&wh->next_due, due,
					      memory_order_relaxed);
	}
	unlock(wh);
	return linked;
}

void weft__timer_disarm(struct weft__timer *e)
{
	struct weft__timer_wheel *wh = __atomic_load_n(&e->wheel,
						       __ATOMIC_ACQUIRE);

	/* Only this entry's task arms and disarms it, so e->wheel changes
	 * under us only to NULL (fired, under wh's lock). */
	if (!wh)
		return;
	lock(wh);
	if (e->wheel == wh) {
		unlink_locked(wh, e);
		__atomic_store_n(&e->wheel, NULL, __ATOMIC_RELAXED);
	}
	unlock(wh);
}

/* The first occupied slot of level l, and its start time in units; false
 * when the level is empty.  Occupied slots lie at P_l(E) or after it, less
 * than 128 slots on, so a search from P_l(E) round the row finds them in
 * time order. */
static bool level_next(struct weft__timer_wheel *wh, unsigned l,
		       unsigned *slot, uint64_t *start)
{
	uint64_t lo = wh->occupied[l][0], hi = wh->occupied[l][1];
	uint64_t cur = slot_of(wh->elapsed, l);
	unsigned c = (unsigned)cur & (ROW - 1), d;
	unsigned __int128 m;

	if (!(lo | hi))
		return false;
	m = ((unsigned __int128)hi << 64) | lo;
	if (c)
		m = (m >> c) | (m << (ROW - c));
	lo = (uint64_t)m;
	d = lo ? (unsigned)__builtin_ctzll(lo)
	       : 64 + (unsigned)__builtin_ctzll((uint64_t)(m >> 64));
	*slot = (c + d) & (ROW - 1);
	*start = (cur + d) << (LEVEL_BITS * l);
	return true;
}

/* The occupied slot that starts first, at any level (a level's slots do
 * not all start after those of the levels below it). */
static bool next_slot(struct weft__timer_wheel *wh, unsigned *level,
		      unsigned *slot, uint64_t *start)
{
	unsigned l, s;
	uint64_t st;
	bool found = false;

	for (l = 0; l < LEVELS; l++) {
		if (level_next(wh, l, &s, &st) && (!found || st < *start)) {
			*level = l;
			*slot = s;
			*start = st;
			found = true;
		}
	}
	return found;
}

/* Take the first n entries of slot (l, s) off it: fire those due at
 * now_units, link the rest lower (they never land in (l, s) again). */
static void drain_slot_locked(struct weft__timer_wheel *wh, unsigned l,
			      unsigned s, uint32_t n, uint64_t now_units)
{
	struct weft__timer *e;

	while (n-- && (e = wh->slots[l][s])) {
		unlink_locked(wh, e);
		if (UNIT_UP(e->deadline) <= now_units) {
			/* Release, after the wake: a task whose park ended
			 * otherwise may disarm, see NULL without the lock,
			 * and exit; so wheel goes NULL only once we are done
			 * with its block. */
			weft__wake(e->task, e->gen, e->result);
			__atomic_store_n(&e->wheel, NULL, __ATOMIC_RELEASE);
		} else {
			link_locked(wh, e);
			wh->moves++;
		}
	}
}

/* Staging, level k+1 to level k: where the next level-(k+1) slot is, how
 * many entries it holds, and by when it should be empty (one level-k slot
 * before it starts). */
struct stage {
	unsigned slot;
	uint32_t left;
	uint64_t from, until;
};

static bool stage_of(struct weft__timer_wheel *wh, unsigned k,
		     struct stage *st)
{
	uint64_t cur = slot_of(wh->elapsed, k + 1);
	unsigned up = LEVEL_BITS * (k + 1);

	st->slot = (unsigned)(cur + 1) & (ROW - 1);
	st->left = wh->slot_count[k + 1][st->slot];
	if (!st->left)
		return false;
	st->from = cur << up;
	if (wh->staged_at > st->from)
		st->from = wh->staged_at;
	st->until = ((cur + 1) << up) - ((uint64_t)1 << (LEVEL_BITS * k));
	return true;
}

/* Move down the share of each next slot that the time since the last pass
 * calls for, top level first (what lands in a next slot below moves on in
 * the same pass). */
static void stage_locked(struct weft__timer_wheel *wh)
{
	uint64_t now = wh->elapsed;
	struct stage st;
	unsigned k;

	for (k = LEVELS - 1; k-- > 0;) {
		uint32_t n;

		if (!stage_of(wh, k, &st))
			continue;
		if (now >= st.until)
			n = st.left;
		else
			n = (uint32_t)(((unsigned __int128)st.left *
						(now - st.from) +
					st.until - st.from - 1) /
				       (st.until - st.from));
		if (n)
			drain_slot_locked(wh, k + 1, st.slot, n, now);
	}
	wh->staged_at = now;
}

/* When to poll next (units): the first occupied slot, or sooner for a
 * big slot's staging. */
static uint64_t next_poll_locked(struct weft__timer_wheel *wh)
{
	uint64_t next = UINT64_MAX, start, at;
	unsigned l, s;

	for (l = 0; l < LEVELS; l++) {
		if (!level_next(wh, l, &s, &start))
			continue;
		at = start;
		if (l > 0) {
			uint64_t w = stage_wake(wh, l, s, start);

			if (w < at)
				at = w;
		}
		if (at < next)
			next = at;
	}
	return next;
}

uint64_t weft__timer_poll(struct weft__timer_wheel *wh, uint64_t now)
{
	uint64_t now_units = UNIT(now), start = 0, due;
	unsigned l = 0, s = 0;

	/* Nothing due yet: no lock (an entry armed meanwhile by another
	 * thread is its owner's to account for, as before). */
	due = atomic_load_explicit(&wh->next_due, memory_order_relaxed);
	if (now < due)
		return due;
	lock(wh);
	while (next_slot(wh, &l, &s, &start) && start <= now_units) {
		if (start > wh->elapsed)
			wh->elapsed = start;
		drain_slot_locked(wh, l, s, UINT32_MAX, now_units);
	}
	if (now_units > wh->elapsed)
		wh->elapsed = now_units;
	stage_locked(wh);
	due = next_poll_locked(wh);
	due = due > UNIT(WEFT__FOREVER) ? WEFT__FOREVER
					: due << WEFT__TIMER_SHIFT;
	atomic_store_explicit(&wh->next_due, due, memory_order_relaxed);
	unlock(wh);
	return due;
}
