/*
 * Fault injection (test builds): make a resource acquisition fail on demand,
 * so the error paths that the machine almost never takes can be tested.
 *
 * Each site asks before it acquires:
 *
 *	if (weft__fault_hit(WEFT__FAULT_ALLOC))
 *		return NULL;
 *
 * weft__fault_arm(kind, skip, count) makes the next `skip` hits of kind
 * succeed and the `count` after them fail (WEFT__FAULT_FOREVER: every one).
 * Env WEFT_FAULT=kind:skip:count[,...] arms at the first weft_runtime_new
 * (see fault.c).  Built only with -Dfault_injection (auto: every build type
 * but release and minsize); otherwise the stubs below are constant false and
 * every site compiles away.
 */
#ifndef WEFT_RUNTIME_FAULT_H
#define WEFT_RUNTIME_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "runtime/compiler.h"

enum weft__fault {
	WEFT__FAULT_RING,	/* making a worker's io_uring (io/uring.c) */
	WEFT__FAULT_SQE,	/* a free SQE: the SQ is found full */
	WEFT__FAULT_ALLOC,	/* weft__malloc, _calloc, _aligned_alloc */
	WEFT__FAULT_THREAD,	/* pthread_create of workers, pool, watchdog */
	WEFT__FAULT_MMAP,	/* mapping a region of task stacks */
	WEFT__FAULT_KINDS
};

/* count for "fail every time from now on" */
#define WEFT__FAULT_FOREVER UINT32_MAX

#if WEFT_FAULT_INJECTION

/* Bit (1 << kind) set while kind is armed: the one load a site pays. */
extern _Atomic unsigned weft__fault_armed;

bool weft__fault_hit_slow(enum weft__fault kind);

static inline bool weft__fault_hit(enum weft__fault kind)
{
	/* Relaxed: the slow path's CAS on the kind's own word decides; a
	 * hit that races the arming call may fall either side of it. */
	if (likely(!atomic_load_explicit(&weft__fault_armed,
					 memory_order_relaxed)))
		return false;
	return weft__fault_hit_slow(kind);
}

/* Arm kind (count 0 disarms it); resets its counters. */
void weft__fault_arm(enum weft__fault kind, uint32_t skip, uint32_t count);
/* Failures injected, and hits seen while armed, since the last arm. */
uint64_t weft__fault_failed(enum weft__fault kind);
uint64_t weft__fault_seen(enum weft__fault kind);
/* Parse WEFT_FAULT (once per process): 0, or -EINVAL for a bad spec. */
int weft__fault_env(void);

#else

static inline bool weft__fault_hit(enum weft__fault kind)
{
	(void)kind;
	return false;
}

static inline int weft__fault_env(void)
{
	return 0;
}

#endif /* WEFT_FAULT_INJECTION */

#endif /* WEFT_RUNTIME_FAULT_H */
