/*
 * Wait queues: an intrusive doubly linked FIFO under the owning primitive's
 * spinlock.  See waitq.h for the wait/cancel protocol.
 */
#include "runtime/waitq.h"
#include "runtime/worker.h"

struct weft_task *weft__current_task(void)
{
	struct worker *w = weft__tls_worker;

	return w ? w->current : NULL;
}

/* Arm the current task's park and fill w in (linking is the caller's). */
static void arm(struct weft__waiter *w, void *data, bool cancellable,
		const char *file, const char *func)
{
	w->task = weft__current_task();
	w->gen = weft__park_prepare_at(cancellable, file, func);
	w->data = data;
	w->result = 0;
	w->linked = true;
}

void weft__waitq_push_at(struct weft__waitq *q, struct weft__waiter *w,
			 void *data, bool cancellable, const char *file,
			 const char *func)
{
	arm(w, data, cancellable, file, func);
	weft__waitq_link(q, w);
}

void weft__waitq_link(struct weft__waitq *q, struct weft__waiter *w)
{
	w->linked = true;
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
}

void weft__waitq_push_front_at(struct weft__waitq *q,
			       struct weft__waiter *w, void *data,
			       bool cancellable, const char *file,
			       const char *func)
{
	arm(w, data, cancellable, file, func);
	w->prev = NULL;
	w->next = q->head;
	if (q->head)
		q->head->prev = w;
	else
		q->tail = w;
	q->head = w;
}

void weft__waitq_unlink(struct weft__waitq *q, struct weft__waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		q->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		q->tail = w->prev;
	w->linked = false;
}

struct weft__waiter *weft__waitq_pop(struct weft__waitq *q)
{
	struct weft__waiter *w = q->head;

	if (w)
		weft__waitq_unlink(q, w);
	return w;
}

bool weft__waitq_wake_one(struct weft__waitq *q, int result)
{
	struct weft__waiter *w;

	while ((w = weft__waitq_pop(q))) {
		w->result = result;
		if (weft__wake(w->task, w->gen, result))
			return true;
	}
	return false;
}

void weft__waitq_wake_all(struct weft__waitq *q, int result)
{
	struct weft__waiter *w;

	while ((w = weft__waitq_pop(q))) {
		w->result = result;
		weft__wake(w->task, w->gen, result);
	}
}

bool weft__waitq_withdraw(struct weft__waitq *q, struct weft__waiter *w)
{
	if (!w->linked)
		return false;
	weft__waitq_unlink(q, w);
	return true;
}
