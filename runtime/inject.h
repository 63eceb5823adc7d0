/*
 * The global inject queue: tasks spawned or woken from outside the workers,
 * and overflow from full local queues.  A spinlock-protected list of batches
 * (arrays of task pointers): an overflow moves half a local queue in one
 * node, and a worker takes a whole node at once without touching the tasks
 * (a linked list through the tasks would cost a cache miss per task under
 * the lock).  An atomic count makes the empty check one load.
 */
#ifndef WEFT_RUNTIME_INJECT_H
#define WEFT_RUNTIME_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime/spin.h"

struct weft_task;

struct weft__inject_batch {
	struct weft__inject_batch *next;
	unsigned n;		/* tasks[0..n) were filled */
	unsigned cap;		/* room allocated, for the sized free */
	unsigned first;		/* tasks[first..n) are still queued */
	bool embedded;		/* lives inside its one task: not freed */
	struct weft_task *tasks[];
};

struct weft__inject {
	/* A spinlock, not a mutex: pool threads push wakes while both
	 * workers pop, and a mutex slept in futex waits of 100 us and more
	 * when they met (the blocking workload). */
	weft__spin lock;
	struct weft__inject_batch *head;	/* under lock */
	struct weft__inject_batch *tail;	/* under lock */
	_Atomic unsigned long len;	/* tasks; written under lock */
};

void weft__inject_init(struct weft__inject *q);
/* Frees queued batches (their tasks must have been accounted for). */
void weft__inject_destroy(struct weft__inject *q);
/* A batch of n tasks, filled by the caller, then pushed. */
struct weft__inject_batch *weft__inject_batch_new(unsigned n);
void weft__inject_push_batch(struct weft__inject *q,
			     struct weft__inject_batch *b);
/* Push one task (never allocates). */
void weft__inject_push(struct weft__inject *q, struct weft_task *t);
/* Put a partly consumed batch back at the front (it was the oldest). */
void weft__inject_push_front(struct weft__inject *q,
			     struct weft__inject_batch *b);
/* Pop the oldest batch (free it with weft__inject_batch_free). */
struct weft__inject_batch *weft__inject_pop(struct weft__inject *q);
void weft__inject_batch_free(struct weft__inject_batch *b);

/* Room a task reserves for its own one-task batch. */
#define WEFT__INJECT_EMBED \
	(sizeof(struct weft__inject_batch) + sizeof(struct weft_task *))

static inline bool weft__inject_empty(struct weft__inject *q)
{
	return atomic_load_explicit(&q->len, memory_order_seq_cst) == 0;
}

#endif /* WEFT_RUNTIME_INJECT_H */
