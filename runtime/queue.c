/*
 * The run queue ring.
 *
 * Indices are free-running u32 counters; slot = index % WEFT__RQ_CAP.
 * Invariant: 0 <= tail - head <= CAP.  Only the owner writes tail, so only
 * the owner writes slots, and only in [tail, head + CAP): a slot is never
 * overwritten while a consumer may still read it, because consumers read
 * [head, tail) before their CAS moves head past it.
 *
 * Orderings:
 *  - push: slot store (relaxed) then tail store-release; consumers load tail
 *    with acquire before reading slots.  The task's own fields written before
 *    the push travel with the same release.
 *  - pop / steal: head CAS is acq_rel: acquire pairs with the release of
 *    another consumer's CAS (so we read slots after it finished reading
 *    them), release pairs with the owner's acquire load of head in push
 *    (so the owner overwrites a slot only after we read it).
 *  - A thief copies slots before its CAS; if the CAS fails the copies are
 *    discarded, so reading a slot that is concurrently reused is harmless
 *    (the slots are atomics, so this is not a data race).
 */
#include "runtime/queue.h"
#include "runtime/task.h"

#define MASK (WEFT__RQ_CAP - 1)
_Static_assert((WEFT__RQ_CAP & MASK) == 0, "capacity is a power of two");

void weft__rq_init(struct weft__rq *q)
{
	unsigned i;

	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	for (i = 0; i < WEFT__RQ_CAP; i++)
		atomic_init(&q->buf[i], NULL);
}

bool weft__rq_push(struct weft__rq *q, struct weft_task *t)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	if (tail - head >= WEFT__RQ_CAP)
		return false;
	atomic_store_explicit(&q->buf[tail & MASK], t, memory_order_relaxed);
	/* Pairs with the acquire loads of tail in pop, steal and len. */
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

struct weft_task *weft__rq_take_half(struct weft__rq *q, struct weft_task *t,
				     struct weft_task **tail_out,
				     unsigned *n_out)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t n = (tail - head) / 2, i;
	struct weft_task *first, *prev;

	if (n == 0 || tail - head < WEFT__RQ_CAP / 2)
		return NULL;
	/* Claim [head, head + n) before reading it as ours. */
	if (!atomic_compare_exchange_strong_explicit(&q->head, &head, head + n,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return NULL;
	first = prev = atomic_load_explicit(&q->buf[head & MASK],
					    memory_order_relaxed);
	for (i = 1; i < n; i++) {
		struct weft_task *x = atomic_load_explicit(
			&q->buf[(head + i) & MASK], memory_order_relaxed);

		prev->next = x;
		prev = x;
	}
	prev->next = t;
	t->next = NULL;
	*tail_out = t;
	*n_out = n + 1;
	return first;
}

struct weft_task *weft__rq_pop(struct weft__rq *q)
{
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
	struct weft_task *t;

	for (;;) {
		uint32_t tail = atomic_load_explicit(&q->tail,
						     memory_order_relaxed);

		if (head == tail)
			return NULL;
		t = atomic_load_explicit(&q->buf[head & MASK],
					 memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(
			    &q->head, &head, head + 1, memory_order_acq_rel,
			    memory_order_acquire))
			return t;
	}
}

struct weft_task *weft__rq_steal_into(struct weft__rq *src,
				      struct weft__rq *dst, unsigned *n_out)
{
	uint32_t dtail = atomic_load_explicit(&dst->tail, memory_order_relaxed);
	uint32_t h, t, n, i;

	for (;;) {
		h = atomic_load_explicit(&src->head, memory_order_acquire);
		t = atomic_load_explicit(&src->tail, memory_order_acquire);
		n = t - h;
		n -= n / 2;
		if (n == 0)
			return NULL;
		if (n > WEFT__RQ_CAP / 2 + 1)
			continue; /* h and t read at different times: retry */
		for (i = 0; i < n; i++) {
			struct weft_task *x = atomic_load_explicit(
				&src->buf[(h + i) & MASK],
				memory_order_relaxed);

			atomic_store_explicit(&dst->buf[(dtail + i) & MASK],
					      x, memory_order_relaxed);
		}
		if (atomic_compare_exchange_strong_explicit(
			    &src->head, &h, h + n, memory_order_acq_rel,
			    memory_order_relaxed))
			break;
	}
	*n_out = n;
	n--;
	if (n)
		atomic_store_explicit(&dst->tail, dtail + n,
				      memory_order_release);
	return atomic_load_explicit(&dst->buf[(dtail + n) & MASK],
				    memory_order_relaxed);
}
