/*
 * What a woken waiter does before it returns: wait until its waker has
 * released the primitive's spinlock.
 *
 * Wakers wake while holding the lock (waitq.h), and their unlock is their
 * last access to the primitive.  A waiter that returns at once may let its
 * caller free the primitive (a wait group or a one-shot on the waiter's
 * stack is the common case) while the waker still has that unlock to do.
 * Seeing the lock free (acquire) orders the waker's unlock, its last
 * access, before our return.  The waiter only reads the word, so settling
 * costs no write to a contended line.
 */
#ifndef WEFT_SYNC_SETTLE_H
#define WEFT_SYNC_SETTLE_H

#include <sched.h>
#include <stdatomic.h>

#include "runtime/compiler.h"
#include "sync/waitq.h"

static inline void weft__spin_settle(weft__spin *l)
{
	unsigned n = 0;

	/* acquire: pairs with the release in weft__spin_unlock() */
	while (atomic_load_explicit(&l->v, memory_order_acquire)) {
		if (++n < 128)
			weft__cpu_relax();
		else
			sched_yield();
	}
}

#endif /* WEFT_SYNC_SETTLE_H */
