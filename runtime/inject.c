/*
 * Inject queue.  The mutex orders everything inside; len is read outside it
 * only as a hint (a worker that sees 0 may miss a task pushed a moment ago:
 * the pusher then notifies an idle worker, see idle.c, so it is not lost).
 */
#include <stddef.h>

#include "runtime/inject.h"
#include "runtime/task.h"

void weft__inject_init(struct weft__inject *q)
{
	pthread_mutex_init(&q->lock, NULL);
	q->head = q->tail = NULL;
	atomic_init(&q->len, 0);
}

void weft__inject_destroy(struct weft__inject *q)
{
	pthread_mutex_destroy(&q->lock);
}

void weft__inject_push_batch(struct weft__inject *q, struct weft_task *first,
			     struct weft_task *last, unsigned n)
{
	unsigned long len;

	last->next = NULL;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = first;
	else
		q->head = first;
	q->tail = last;
	len = atomic_load_explicit(&q->len, memory_order_relaxed);
	/* Pairs with the acquire in weft__inject_empty. */
	atomic_store_explicit(&q->len, len + n, memory_order_release);
	pthread_mutex_unlock(&q->lock);
}

void weft__inject_push(struct weft__inject *q, struct weft_task *t)
{
	weft__inject_push_batch(q, t, t, 1);
}

struct weft_task *weft__inject_pop(struct weft__inject *q, unsigned max)
{
	struct weft_task *first, *t;
	unsigned long len;
	unsigned n = 1;

	if (weft__inject_empty(q))
		return NULL;
	pthread_mutex_lock(&q->lock);
	first = q->head;
	if (!first) {
		pthread_mutex_unlock(&q->lock);
		return NULL;
	}
	for (t = first; n < max && t->next; n++)
		t = t->next;
	q->head = t->next;
	if (!q->head)
		q->tail = NULL;
	t->next = NULL;
	len = atomic_load_explicit(&q->len, memory_order_relaxed);
	atomic_store_explicit(&q->len, len - n, memory_order_release);
	pthread_mutex_unlock(&q->lock);
	return first;
}
