/*
 * The per-worker run queue: a bounded ring of task pointers.  The owner
 * pushes at the tail with a plain store-release (no read-modify-write) and
 * pops at the head with one CAS; thieves take half of it with one CAS on the
 * head (Go's runq, and Tokio's queue without its second CAS).
 */
#ifndef WEFT_RUNTIME_QUEUE_H
#define WEFT_RUNTIME_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "runtime/compiler.h"

struct weft_task;

/* 256: as Go and Tokio; room for a burst of spawns before overflow.  The
 * small_queues build uses 4 so overflow and stealing run constantly. */
#if WEFT_SMALL_QUEUES
#define WEFT__RQ_CAP 4u
#else
#define WEFT__RQ_CAP 256u
#endif

struct weft__rq {
	/* Consumers (owner pop, thieves) advance it by CAS. */
	_Atomic uint32_t head weft__cacheline_aligned;
	/* Owner only writes it (store-release); thieves read with acquire. */
	_Atomic uint32_t tail weft__cacheline_aligned;
	_Atomic(struct weft_task *) buf[WEFT__RQ_CAP];
};

void weft__rq_init(struct weft__rq *q);

/* Owner: push at the tail.  False when full (the caller overflows). */
bool weft__rq_push(struct weft__rq *q, struct weft_task *t);

/*
 * Owner, queue full: take half of the queue out as a list linked through
 * task->next, with t appended, and return its head (*tail_out its tail,
 * *n_out its length).  NULL if thieves emptied it meanwhile: retry the push.
 */
struct weft_task *weft__rq_take_half(struct weft__rq *q, struct weft_task *t,
				     struct weft_task **tail_out,
				     unsigned *n_out);

/* Owner: pop at the head, NULL when empty. */
struct weft_task *weft__rq_pop(struct weft__rq *q);

/* Thief: move half of src (rounded up) into dst, which must be empty, and
 * return one of them; NULL when src was empty. */
struct weft_task *weft__rq_steal_into(struct weft__rq *src,
				      struct weft__rq *dst, unsigned *n_out);

/* Any thread: how many tasks are queued (a snapshot). */
static inline uint32_t weft__rq_len(struct weft__rq *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);

	return t - h;
}

#endif /* WEFT_RUNTIME_QUEUE_H */
