/*
 * The timing wheel (in the manner of the kernel's and Tokio's).
 *
 * Time is counted in units of 2^10 ns.  Level k has 64 slots of 64^k units
 * each.  An entry with time t is placed, relative to the wheel's current
 * time `elapsed`, at the level of the highest 6-bit group in which t and
 * elapsed differ, in the slot given by that group of t.  So every entry at
 * level k lies beyond every entry at levels below k, and the earliest entry
 * is in the first occupied slot, at or after the current one, of the lowest
 * non-empty level.  When the wheel reaches a slot of level k > 0 its entries
 * move down (cascade) to finer levels; at level 0 a slot is one unit, and
 * its entries fire.  Insert and remove are O(1); finding the next slot is a
 * count-trailing-zeros per level over a 64-bit occupancy mask.
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
#define LEVEL_BITS 6
#define MAX_UNITS (((uint64_t)1 << (LEVEL_BITS * WEFT__TIMER_LEVELS)) - 1)

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
	atomic_init(&wh->next_due, WEFT__FOREVER);
	for (l = 0; l < WEFT__TIMER_LEVELS; l++) {
		wh->occupied[l] = 0;
		for (s = 0; s < WEFT__TIMER_SLOTS; s++)
			wh->slots[l][s] = NULL;
	}
}

/* Where time t (units, > elapsed) belongs. */
static void place(struct weft__timer_wheel *wh, uint64_t t, unsigned *level,
		  unsigned *slot)
{
	uint64_t diff = (t ^ wh->elapsed) & MAX_UNITS;
	unsigned l = diff ? (63 - (unsigned)__builtin_clzll(diff)) / LEVEL_BITS
			  : 0;

	*level = l;
	*slot = (unsigned)(t >> (LEVEL_BITS * l)) & (WEFT__TIMER_SLOTS - 1);
}

static void link_locked(struct weft__timer_wheel *wh, struct weft__timer *e)
{
	uint64_t t = UNIT_UP(e->deadline);
	unsigned l, s;

	/* Beyond the wheel's span (~51 days): park it at the far end; it
	 * cascades back in as the wheel turns. */
	if (t - wh->elapsed > MAX_UNITS)
		t = wh->elapsed + MAX_UNITS;
	place(wh, t, &l, &s);
	e->level = (uint8_t)l;
	e->slot = (uint8_t)s;
	e->prev = NULL;
	e->next = wh->slots[l][s];
	if (e->next)
		e->next->prev = e;
	wh->slots[l][s] = e;
	wh->occupied[l] |= 1ull << s;
	e->wheel = wh;
	__atomic_store_n(&wh->count, wh->count + 1, __ATOMIC_RELAXED);
}

static void unlink_locked(struct weft__timer_wheel *wh, struct weft__timer *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		wh->slots[e->level][e->slot] = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (!wh->slots[e->level][e->slot])
		wh->occupied[e->level] &= ~(1ull << e->slot);
	e->wheel = NULL;
	__atomic_store_n(&wh->count, wh->count - 1, __ATOMIC_RELAXED);
}

bool weft__timer_arm(struct weft__timer_wheel *wh, struct weft__timer *e)
{
	bool linked = false;

	lock(wh);
	if (UNIT_UP(e->deadline) > wh->elapsed) {
		uint64_t due = e->deadline;

		link_locked(wh, e);
		linked = true;
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
	if (e->wheel == wh)
		unlink_locked(wh, e);
	unlock(wh);
}

/* The first occupied slot at or after the current one at level l, and its
 * start time in units; false when the level is empty. */
static bool level_next(struct weft__timer_wheel *wh, unsigned l,
		       unsigned *slot, uint64_t *start)
{
	unsigned shift = LEVEL_BITS * l;
	unsigned cur = (unsigned)(wh->elapsed >> shift) &
		       (WEFT__TIMER_SLOTS - 1);
	uint64_t mask = wh->occupied[l] & (~0ull << cur);
	uint64_t span = (uint64_t)1 << (shift + LEVEL_BITS);

	if (!mask)
		return false;
	*slot = (unsigned)__builtin_ctzll(mask);
	*start = (wh->elapsed & ~(span - 1)) | ((uint64_t)*slot << shift);
	return true;
}

/*
 * The occupied slot that starts first, at any level.  (Not simply the
 * lowest occupied level: when polls are far apart, an entry linked at a
 * high level can start before one at a lower level, and the poll loop
 * would stop at the later one and let elapsed pass the earlier slot.)
 */
static bool next_slot(struct weft__timer_wheel *wh, unsigned *level,
		      unsigned *slot, uint64_t *start)
{
	unsigned l, s;
	uint64_t st;
	bool found = false;

	for (l = 0; l < WEFT__TIMER_LEVELS; l++) {
		if (level_next(wh, l, &s, &st) && (!found || st < *start)) {
			*level = l;
			*slot = s;
			*start = st;
			found = true;
		}
	}
	return found;
}

/* Take slot (l, s): fire what is due, cascade the rest down. */
static void expire_slot_locked(struct weft__timer_wheel *wh, unsigned l,
			       unsigned s, uint64_t now_units)
{
	struct weft__timer *e = wh->slots[l][s], *next;

	wh->slots[l][s] = NULL;
	wh->occupied[l] &= ~(1ull << s);
	for (; e; e = next) {
		next = e->next;
		__atomic_store_n(&wh->count, wh->count - 1, __ATOMIC_RELAXED);
		if (UNIT_UP(e->deadline) <= now_units) {
			/* Release: the task sees wheel == NULL only after
			 * the wake below has been decided (we hold the lock
			 * until both are done). */
			__atomic_store_n(&e->wheel, NULL, __ATOMIC_RELEASE);
			weft__wake(e->task, e->gen, e->result);
		} else {
			link_locked(wh, e);
		}
	}
}

uint64_t weft__timer_poll(struct weft__timer_wheel *wh, uint64_t now)
{
	uint64_t now_units = UNIT(now), start, due;
	unsigned l, s;

	/* Nothing due yet: no lock (an entry armed meanwhile by another
	 * thread is its owner's to account for, as before). */
	due = atomic_load_explicit(&wh->next_due, memory_order_relaxed);
	if (now < due)
		return due;
	lock(wh);
	while (next_slot(wh, &l, &s, &start) && start <= now_units) {
		if (start > wh->elapsed)
			wh->elapsed = start;
		expire_slot_locked(wh, l, s, now_units);
	}
	if (now_units > wh->elapsed)
		wh->elapsed = now_units;
	if (!next_slot(wh, &l, &s, &start))
		due = WEFT__FOREVER;
	else
		due = start << WEFT__TIMER_SHIFT;
	atomic_store_explicit(&wh->next_due, due, memory_order_relaxed);
	unlock(wh);
	return due;
}
