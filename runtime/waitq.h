/*
 * The building blocks of every primitive in sync/ (and of futures and the
 * epoll records, which is why they live in runtime/, on park/wake alone): a
 * small spinlock and a FIFO queue of waiting tasks, both valid when
 * all-zero.
 *
 * Waiters live on the waiting task's stack.  The protocol, shared by every
 * primitive:
 *   lock; arm a park (weft__park_prepare); push a waiter; unlock;
 *   r = weft__park_commit();
 *   if r is -ECANCELED or -ETIMEDOUT (the task was interrupted): lock; if
 *     still linked, unlink and fail with r; else a waker already popped us
 *     and did the operation on our behalf (its wake lost the race to the
 *     interruption): report what it left in w->result; unlock.
 * Wakers pop a waiter and wake it while holding the lock, so the waiter
 * (which must take the lock to learn it was popped) cannot return and free
 * its stack frame under them.
 */
#ifndef WEFT_RUNTIME_WAITQ_H
#define WEFT_RUNTIME_WAITQ_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/compiler.h"
#include "runtime/park.h"
#include "runtime/spin.h"

/*
 * What a woken waiter does before it returns: wait until its waker has
 * released the primitive's spinlock.  Wakers wake while holding the lock,
 * and their unlock is their last access to the primitive; a waiter that
 * returned at once could let its caller free the primitive (an event or a
 * wait group on the waiter's stack is the common case) while the waker
 * still has that unlock to do.  Seeing the lock free (acquire) orders the
 * waker's unlock before our return; the waiter only reads the word.
 */
static inline void weft__spin_settle(weft__spin *l)
{
	unsigned n = 0;

	/* acquire: pairs with the release in weft__spin_unlock() */
	while (atomic_load_explicit(&l->v, memory_order_acquire)) {
		if (++n < 128)
			weft__cpu_relax();
		else
			sched_yield();
	}
}


struct weft__waiter {
	struct weft__waiter *next;
	struct weft__waiter *prev;
	struct weft_task *task;
	uint32_t gen;
	bool linked;
	int result;		/* set by the waker that pops it */
	void *data;		/* primitive-specific: an element, a count */
};

struct weft__waitq {
	struct weft__waiter *head;
	struct weft__waiter *tail;
};

static inline bool weft__waitq_empty(const struct weft__waitq *q)
{
	return q->head == NULL;
}

/* Arm the current task's park and append its waiter (under the lock). */
void weft__waitq_push_at(struct weft__waitq *q, struct weft__waiter *w,
			 void *data, bool cancellable, const char *file,
			 const char *func);
#define weft__waitq_push(q, w, data, cancellable) \
	weft__waitq_push_at((q), (w), (data), (cancellable), __FILE__, __func__)
/* The same, at the head of the line (a waiter keeping its seniority). */
void weft__waitq_push_front_at(struct weft__waitq *q,
			       struct weft__waiter *w, void *data,
			       bool cancellable, const char *file,
			       const char *func);
#define weft__waitq_push_front(q, w, data, cancellable)                   \
	weft__waitq_push_front_at((q), (w), (data), (cancellable), __FILE__, \
				  __func__)
/* Append a waiter armed elsewhere (a copy of one pushed on another queue:
 * one park waiting on either of two queues). */
void weft__waitq_link(struct weft__waitq *q, struct weft__waiter *w);
void weft__waitq_unlink(struct weft__waitq *q, struct weft__waiter *w);
/* Pop the oldest waiter (under the lock); NULL when empty. */
struct weft__waiter *weft__waitq_pop(struct weft__waitq *q);
/* Is r, from weft__park_commit, an interruption (cancel or deadline)
 * rather than a waker's result? */
static inline bool weft__interruption(int r)
{
	return r == -ECANCELED || r == -ETIMEDOUT;
}

/* Pop and wake one waiter with result; false when none was woken. */
bool weft__waitq_wake_one(struct weft__waitq *q, int result);
/* Pop and wake every waiter with result. */
void weft__waitq_wake_all(struct weft__waitq *q, int result);

/*
 * After weft__park_commit returned -ECANCELED: under the lock, unlink w if
 * it is still queued (true: the wait failed) or learn that a waker popped it
 * first (false: the operation was done for us).
 */
bool weft__waitq_withdraw(struct weft__waitq *q, struct weft__waiter *w);

/* The calling task, or NULL outside a task (then the call is -EPERM). */
struct weft_task *weft__current_task(void);

#endif /* WEFT_RUNTIME_WAITQ_H */
