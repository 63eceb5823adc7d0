/*
 * Task stacks.  A stack is carved from a larger mapped region; its
 * descriptor sits at the very top of its own memory (the page a new task
 * touches first anyway), so a stack costs no heap allocation.
 */
#ifndef WEFT_RUNTIME_STACK_H
#define WEFT_RUNTIME_STACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct weft__stack {
	struct weft__stack *next;	/* free-list link (owner of the list) */
	void *lo;			/* lowest usable byte (above the guard) */
	size_t size;			/* usable bytes below the descriptor */
	uint32_t guarded;		/* 0: canary-checked instead */
	uint32_t vg_id;			/* Valgrind stack id */
	uint32_t guard_pending;		/* guard marker not installed yet */
	/* TSan fiber of whatever task runs here: made on first use, kept
	 * with the stack (creating one per task costs ~0.3 ms under TSan). */
	void *tsan;
	/* Last, so it ends exactly where the next stack up begins: that
	 * stack overflows into it first.  Checked at every switch out of
	 * an unguarded stack, in the page that holds this descriptor and is
	 * resident anyway (a canary at the stack's own bottom would cost a
	 * page of RSS per parked task). */
	uint64_t canary;
};

/* Process-wide state of one runtime's stacks (shared by its workers). */
struct weft__stack_pool {
	pthread_mutex_t lock;
	struct weft__stack *free;	/* trimmed stacks; under lock */
	size_t nfree;
	struct weft__stack *hot;	/* returned, not trimmed; under lock */
	size_t nhot;
	struct region *regions;		/* every mapping; under lock */
	size_t stack_size;		/* usable size, page multiple */
	size_t guarded_maps;		/* mappings spent on guards; under lock */
	size_t map_budget;		/* how many mappings we may spend */
	bool guard_install;		/* MADV_GUARD_INSTALL works here */
	size_t region_next;		/* stacks in the next region */
	/* The newest region's stacks not handed out yet (under lock):
	 * workers take runs of them into their caches and carve each when a
	 * task needs it, so no stack's first touch happens in a burst or
	 * under the lock (a burst of 64 cost ~100-400 us: timers p99). */
	char *fresh;
	size_t fresh_left;
	size_t fresh_per;
	bool fresh_guarded;
	bool fresh_first;		/* the next one has its guard already */
	bool warned;			/* said once that guards ran out */
};

/* Per-worker cache of hot stacks: owner only. */
struct weft__stack_cache {
	struct weft__stack *head;
	unsigned n;
	/* A run of never-used stacks taken from the pool's newest region
	 * in one go (refill), carved here one at a time as tasks need them:
	 * the first touch of a stack's top page is a page fault, and doing
	 * it under the pool lock made both workers queue on that lock and
	 * sleep in futex waits of 100 us and more while spawning (timers
	 * p99, docs/design.md). */
	char *fresh;
	size_t fresh_per;
	unsigned fresh_left;
	bool fresh_guarded;
	bool fresh_first;		/* the next one has its guard already */
};

/* Above this many cached stacks a worker trims and returns half to the
 * pool: 64 covers the working set of fork/join workloads (fib, skynet)
 * while bounding a worker's untrimmed stack memory to 4 MiB at 64 KiB. */
#define WEFT__STACK_CACHE_CAP 64

int weft__stack_pool_init(struct weft__stack_pool *p, size_t stack_size);
void weft__stack_pool_destroy(struct weft__stack_pool *p);

/* NULL when memory is truly exhausted. */
struct weft__stack *weft__stack_get(struct weft__stack_pool *p,
				    struct weft__stack_cache *c);
void weft__stack_put(struct weft__stack_pool *p, struct weft__stack_cache *c,
		     struct weft__stack *s);
/* Idle-time housekeeping: trim up to max returned stacks beyond the hot
 * reserve, so a burst's stacks stop costing RAM without slowing the burst. */
void weft__stack_pool_trim(struct weft__stack_pool *p, unsigned max);
/* Give every cached stack back to the pool (worker exit). */
void weft__stack_cache_flush(struct weft__stack_pool *p,
			     struct weft__stack_cache *c);

/* The canary that ends each descriptor: an unguarded stack overflows into
 * the one of the stack below it, lo[-1], checked at every switch out. */
#define WEFT__STACK_CANARY 0x5745465453544b21ull /* "WEFTSTK!" */

#endif /* WEFT_RUNTIME_STACK_H */
