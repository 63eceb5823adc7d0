/*
 * How many tasks wait on a value type right now: a snapshot taken under
 * its lock, stale as soon as it returns.  For tests, which must know that
 * a task is blocked before they act on it, and for weft_dump.
 */
#ifndef WEFT_SYNC_INTROSPECT_H
#define WEFT_SYNC_INTROSPECT_H

#include "weft.h"
#include "runtime/waitq.h"

unsigned weft__mutex_waiters(weft_mutex *m);
unsigned weft__sem_waiters(weft_sem *s);
unsigned weft__cond_waiters(weft_cond *c);
unsigned weft__barrier_waiters(weft_barrier *b);
unsigned weft__rwlock_waiters(weft_rwlock *l);
unsigned weft__waitgroup_waiters(weft_waitgroup *wg);
unsigned weft__oneshot_waiters(weft_oneshot *o);
unsigned weft__limiter_waiters(weft_limiter *l);

/* Length of q; under its lock. */
static inline unsigned weft__waitq_len_locked(const struct weft__waitq *q)
{
	const struct weft__waiter *w;
	unsigned n = 0;

	for (w = q->head; w; w = w->next)
		n++;
	return n;
}

/* Define weft__<type>_waiters for a struct with `lock` and `q` fields. */
#define WEFT__DEFINE_WAITERS(type, st)                          \
	unsigned weft__##type##_waiters(weft_##type *x)         \
	{                                                       \
		st *p = (st *)x;                                \
		unsigned n;                                     \
                                                                \
		weft__spin_lock(&p->lock);                      \
		n = weft__waitq_len_locked(&p->q);              \
		weft__spin_unlock(&p->lock);                    \
		return n;                                       \
	}

#endif /* WEFT_SYNC_INTROSPECT_H */
