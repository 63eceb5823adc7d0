/*
 * The per-worker run queue: a bounded deque of task pointers.
 *
 * The owner works both ends: new and woken tasks go on the tail and the
 * owner takes its next task from the tail (LIFO, so fork/join runs depth
 * first, as in Cilk: the live stacks stay bounded by the recursion depth);
 * yielded tasks go on the head, the back of the line.  Thieves take half
 * from the head: the oldest tasks, the biggest subtrees of a fork/join.
 *
 * Every operation is one CAS on a single word packing head, tail and a
 * version, so any concurrent change makes a stale CAS fail (no ABA when the
 * owner pops and pushes between a thief's read and its CAS).
 */
#ifndef WEFT_RUNTIME_QUEUE_H
#define WEFT_RUNTIME_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "runtime/compiler.h"

struct weft_task;

/* 1024 (Go and Tokio use 256): yield_many's 500 tasks per worker then
 * never overflow to the inject queue and back, which cost a third of its
 * time at 256; 8 KiB per worker.  The small_queues build uses 4 so overflow
 * and stealing run constantly. */
#if WEFT_SMALL_QUEUES
#define WEFT__RQ_CAP 4u
#else
#define WEFT__RQ_CAP 1024u
#endif

struct weft__rq {
	/* head (bits 0-15), tail (16-31), version (32-63).  Owner and
	 * thieves change it only by CAS. */
	_Atomic uint64_t ht weft__cacheline_aligned;
	/* Written by the owner only, in slots outside [head, tail). */
	_Atomic(struct weft_task *) buf[WEFT__RQ_CAP];
};

void weft__rq_init(struct weft__rq *q);

/* Owner: push at the tail (runs next) or the head (runs last).  False
 * when full: the caller overflows half of the queue (take_half). */
bool weft__rq_push_tail(struct weft__rq *q, struct weft_task *t);
bool weft__rq_push_head(struct weft__rq *q, struct weft_task *t);

/* Owner: pop the newest (tail) or the oldest (head); NULL when empty. */
struct weft_task *weft__rq_pop_tail(struct weft__rq *q);
struct weft_task *weft__rq_pop_head(struct weft__rq *q);

/* Owner: move the oldest half of a queue at least half full into out[]
 * (room for WEFT__RQ_CAP / 2); returns how many, 0 if it is not. */
unsigned weft__rq_take_half(struct weft__rq *q, struct weft_task **out);

/* Thief: move the oldest half of src (rounded up) into dst, which must be
 * empty, and return one of them; NULL when src was empty. */
struct weft_task *weft__rq_steal_into(struct weft__rq *src,
				      struct weft__rq *dst, unsigned *n_out);

/* Any thread: the queue's state word (changes with every push, pop and
 * steal), and how many tasks it says are queued. */
static inline uint64_t weft__rq_state(struct weft__rq *q)
{
	return atomic_load_explicit(&q->ht, memory_order_acquire);
}

static inline uint32_t weft__rq_state_len(uint64_t v)
{
	return (uint16_t)((uint16_t)(v >> 16) - (uint16_t)v);
}

/* Any thread: how many tasks are queued (a snapshot). */
static inline uint32_t weft__rq_len(struct weft__rq *q)
{
	return weft__rq_state_len(
		atomic_load_explicit(&q->ht, memory_order_seq_cst));
}

#endif /* WEFT_RUNTIME_QUEUE_H */
