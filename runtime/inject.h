/*
 * The global inject queue: tasks spawned or woken from outside the workers,
 * and overflow from full local queues.  A mutex-protected intrusive list
 * with an atomic length so that the empty check, which every worker makes
 * often, costs one load.
 */
#ifndef WEFT_RUNTIME_INJECT_H
#define WEFT_RUNTIME_INJECT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct weft_task;

struct weft__inject {
	pthread_mutex_t lock;
	struct weft_task *head;		/* under lock */
	struct weft_task *tail;		/* under lock */
	_Atomic unsigned long len;	/* written under lock; read anywhere */
};

void weft__inject_init(struct weft__inject *q);
void weft__inject_destroy(struct weft__inject *q);
void weft__inject_push(struct weft__inject *q, struct weft_task *t);
/* Push a list linked through task->next. */
void weft__inject_push_batch(struct weft__inject *q, struct weft_task *first,
			     struct weft_task *last, unsigned n);
/* Pop up to max tasks as a list; returns the head, NULL when empty. */
struct weft_task *weft__inject_pop(struct weft__inject *q, unsigned max);

static inline bool weft__inject_empty(struct weft__inject *q)
{
	return atomic_load_explicit(&q->len, memory_order_acquire) == 0;
}

#endif /* WEFT_RUNTIME_INJECT_H */
