/*
 * weft__spin: a small spinlock, valid when all-zero, for critical sections
 * of a few pointer writes that several threads take (the sync/ primitives,
 * the inject queue).  A pthread mutex puts a contended locker to sleep in
 * the kernel at once, and on this kind of machine the wake-up takes 100 us
 * and more: worse than any wait for a holder of such a lock.
 */
#ifndef WEFT_RUNTIME_SPIN_H
#define WEFT_RUNTIME_SPIN_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/compiler.h"

/* Test-and-test-and-set; yields the thread after a while because workers
 * may outnumber CPUs and the holder may be preempted. */
typedef struct {
	_Atomic uint32_t v;
} weft__spin;

/* The lock was held at our exchange: wait until it looks free, then try
 * again. */
static inline void weft__spin_lock_slow(weft__spin *l)
{
	unsigned n = 0;

	do {
		while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
			if (++n < 128)
				weft__cpu_relax();
			else
				sched_yield();
		}
	} while (atomic_exchange_explicit(&l->v, 1, memory_order_acquire));
}

/* Take the lock; true if another thread held it at the first try
 * (contention worth acting on: see weft__coop_tick_contended). */
static inline bool weft__spin_lock_contended(weft__spin *l)
{
	if (!atomic_exchange_explicit(&l->v, 1, memory_order_acquire))
		return false;
	weft__spin_lock_slow(l);
	return true;
}

static inline void weft__spin_lock(weft__spin *l)
{
	(void)weft__spin_lock_contended(l);
}

static inline void weft__spin_unlock(weft__spin *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

#endif /* WEFT_RUNTIME_SPIN_H */
