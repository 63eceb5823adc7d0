/*
 * Task control blocks without the allocator on the spawn/exit path.
 *
 * Blocks are carved from chunks the runtime maps itself (1 MiB each, kept
 * until the runtime is freed) and recycled through free lists:
 *  - each worker keeps a list of free blocks (owner only, no atomics) and
 *    a fresh run: the untouched rest of its newest chunk, carved one block
 *    at a time so RSS follows use;
 *  - blocks move between workers because tasks do (spawned on A, ended on
 *    B), so a full list hands a batch of WEFT__TCB_BATCH blocks to the
 *    runtime's depot and an empty one takes a batch back: the depot lock
 *    is taken once per batch, not per task;
 *  - threads outside the runtime (weft_spawn_on, a join from a plain
 *    thread) take and give single blocks under the depot lock.
 *
 * Why not malloc: a block allocated on one thread and freed on another is
 * the slow path of every allocator with thread caches, and glibc's arenas
 * also grow their heaps by an mprotect per step (skynet: 105 ns per task on
 * glibc against 78 on jemalloc, whose start-up alone costs 0.4 ms of the
 * 1 ms process budget).  The price is Go's: peak live tasks x block size
 * stays mapped (for reuse) until the runtime is freed.
 *
 * ASan builds allocate each block with malloc and free it at once, so ASan
 * sees every use after free.
 */
#ifndef WEFT_RUNTIME_TASK_CACHE_H
#define WEFT_RUNTIME_TASK_CACHE_H

#include <stddef.h>

#include "runtime/spin.h"

struct weft_runtime;
struct weft_task;
struct worker;

#define WEFT__TCB_BATCH 128
#define WEFT__TCB_CHUNK (1u << 20)

struct weft__tcb_depot {
	weft__spin lock;
	/* Full batches (lists of WEFT__TCB_BATCH through ->next), as a list
	 * of batches through each head's ->live_next.  The count is also
	 * read unlocked, as a hint. */
	struct weft_task *batches;
	unsigned nbatches;
	/* Single blocks for threads outside the runtime. */
	struct weft_task *loose;
	/* The fresh run of outside threads. */
	char *fresh, *fresh_end;
	/* Every chunk, through its first word: unmapped at destroy. */
	void *chunks;
};

struct weft__tcb_cache {
	struct weft_task *list;
	unsigned n;
	char *fresh, *fresh_end;
};

/* A block for a task of rt (w: the calling worker, NULL outside rt).
 * NULL when memory is out. */
struct weft_task *weft__tcb_alloc(struct weft_runtime *rt, struct worker *w);

/* Give back t, a block of t->rt (w: the calling worker, any runtime's, or
 * NULL). */
void weft__tcb_free(struct worker *w, struct weft_task *t);

/* Unmap every chunk (the runtime is being destroyed: no block is used). */
void weft__tcb_depot_destroy(struct weft__tcb_depot *d);

#endif /* WEFT_RUNTIME_TASK_CACHE_H */
