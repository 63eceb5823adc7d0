/*
 * Inject queue.  The lock orders everything inside; len is read outside it
 * only as a hint (a worker that sees 0 may miss a batch pushed a moment
 * ago: the pusher then notifies an idle worker, see idle.c, so it is not
 * lost).
 */
#include <errno.h>
#include <stddef.h>

#include "runtime/alloc.h"
#include "runtime/inject.h"
#include "runtime/task.h"

void weft__inject_init(struct weft__inject *q)
{
	atomic_init(&q->lock.v, 0);
	q->head = q->tail = NULL;
	atomic_init(&q->len, 0);
}

void weft__inject_destroy(struct weft__inject *q)
{
	struct weft__inject_batch *b;

	while ((b = q->head)) {
		q->head = b->next;
		weft__inject_batch_free(b);
	}
}

struct weft__inject_batch *weft__inject_batch_new(unsigned n)
{
	struct weft__inject_batch *b;

	b = weft__malloc(sizeof(*b) + n * sizeof(b->tasks[0]));
	if (b) {
		b->next = NULL;
		b->n = n;
		b->cap = n;
		b->first = 0;
		b->embedded = false;
	}
	return b;
}

void weft__inject_batch_free(struct weft__inject_batch *b)
{
	if (b->embedded)
		return;
	weft__free_sized(b, sizeof(*b) + b->cap * sizeof(b->tasks[0]));
}

void weft__inject_push_batch(struct weft__inject *q,
			     struct weft__inject_batch *b)
{
	b->next = NULL;
	weft__spin_lock(&q->lock);
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	/* seq_cst RMW: ordered before the pusher's idle check (idle.c). */
	atomic_fetch_add_explicit(&q->len, b->n - b->first,
				  memory_order_seq_cst);
	weft__spin_unlock(&q->lock);
}

void weft__inject_push(struct weft__inject *q, struct weft_task *t)
{
	/* A runnable task is in one queue at a time, so its own embedded
	 * one-task batch is free: a wake never needs to allocate. */
	struct weft__inject_batch *b = (struct weft__inject_batch *)t->inject;

	b->n = b->cap = 1;
	b->first = 0;
	b->embedded = true;
	b->tasks[0] = t;
	weft__inject_push_batch(q, b);
}

void weft__inject_push_front(struct weft__inject *q,
			     struct weft__inject_batch *b)
{
	weft__spin_lock(&q->lock);
	b->next = q->head;
	q->head = b;
	if (!q->tail)
		q->tail = b;
	atomic_fetch_add_explicit(&q->len, b->n - b->first,
				  memory_order_seq_cst);
	weft__spin_unlock(&q->lock);
}

struct weft__inject_batch *weft__inject_pop(struct weft__inject *q)
{
	struct weft__inject_batch *b;

	if (weft__inject_empty(q))
		return NULL;
	weft__spin_lock(&q->lock);
	b = q->head;
	if (b) {
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
		atomic_fetch_sub_explicit(&q->len, b->n - b->first,
					  memory_order_release);
	}
	weft__spin_unlock(&q->lock);
	return b;
}
