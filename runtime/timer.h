/*
 * Per-worker timers: a hierarchical timing wheel.
 *
 * A task has one timer entry, embedded in its control block, armed while it
 * parks with a deadline (a sleep, or a deadline scope in force) and disarmed
 * when the park ends.  The entry lives in the wheel of the worker the task
 * parked on; that worker fires it.  Each wheel has a spinlock so that a task
 * resumed elsewhere can disarm its entry at once (eager removal: a cancelled
 * 30 s timeout does not linger for 30 s); in practice the lock is taken by
 * its owner almost always.
 */
#ifndef WEFT_RUNTIME_TIMER_H
#define WEFT_RUNTIME_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct weft_task;

#define WEFT__TIMER_LEVELS 7
/* A slot of level k spans 64^k units; each level's row holds 128 slots:
 * the current slot of the level above, and the next one (timer.c). */
#define WEFT__TIMER_LEVEL_BITS 6
#define WEFT__TIMER_ROW 128
/* Level-0 slots are 2^10 ns (~1 us) wide: the precision of a wake-up. */
#define WEFT__TIMER_SHIFT 10
#define WEFT__FOREVER UINT64_MAX

struct weft__timer_wheel;

struct weft__timer {
	struct weft__timer *next;	/* slot list; under the wheel lock */
	struct weft__timer *prev;
	struct weft__timer_wheel *wheel; /* where it is linked, or NULL */
	uint64_t deadline;		/* CLOCK_MONOTONIC ns */
	struct weft_task *task;		/* woken at the deadline ... */
	uint32_t gen;			/* ... in this park ... */
	int result;			/* ... with this result */
	uint8_t level;
	uint8_t slot;			/* 0 .. WEFT__TIMER_ROW - 1 */
};

struct weft__timer_wheel {
	_Atomic uint32_t lock;
	uint64_t elapsed;		/* wheel time, in level-0 units */
	uint64_t count;			/* entries linked; written under
					 * the lock, peeked without it */
	/* A lower bound on when the next entry is due (ns; FOREVER when
	 * none): written under the lock, read without it, so a poll with
	 * nothing due takes no lock (idle workers poll every wheel). */
	_Atomic uint64_t next_due;
	uint64_t staged_at;		/* elapsed at the last staging pass */
	uint64_t moves;			/* entries relinked lower, ever (a
					 * statistic; tests bound it per poll) */
	uint64_t occupied[WEFT__TIMER_LEVELS][WEFT__TIMER_ROW / 64];
	uint32_t slot_count[WEFT__TIMER_LEVELS][WEFT__TIMER_ROW];
	struct weft__timer *slots[WEFT__TIMER_LEVELS][WEFT__TIMER_ROW];
};

/* CLOCK_MONOTONIC in ns. */
uint64_t weft__now(void);

void weft__timer_wheel_init(struct weft__timer_wheel *wh, uint64_t now);

/*
 * Link e (deadline, task, gen, result filled in) into wh.  False when the
 * deadline has already passed (nothing linked: the caller acts at once).
 */
bool weft__timer_arm(struct weft__timer_wheel *wh, struct weft__timer *e);

/* Unlink e if it is still linked (any thread). */
void weft__timer_disarm(struct weft__timer *e);

/* Does the wheel hold any entry?  A peek without the lock. */
static inline bool weft__timer_any(struct weft__timer_wheel *wh)
{
	return __atomic_load_n(&wh->count, __ATOMIC_RELAXED) != 0;
}

/* Owner: fire every entry due at now (waking its task); returns the
 * deadline of the next entry (WEFT__FOREVER when none). */
uint64_t weft__timer_poll(struct weft__timer_wheel *wh, uint64_t now);

#endif /* WEFT_RUNTIME_TIMER_H */
