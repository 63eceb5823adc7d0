/*
 * weft_sem: a counting semaphore with FIFO waiters.  All-zero has no
 * permits and no waiters.
 *
 * Invariant (under lock): permits > 0 only while nobody waits.  release
 * gives its permit straight to the oldest waiter (a hand-off), so a woken
 * task never retries and a newcomer never overtakes a waiter.  A waiter
 * popped by release holds the permit even if a cancel or deadline ended its
 * park first: it reports success (waitq.h).  release may run on any
 * thread: weft__wake queues the task from anywhere.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/panic.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "runtime/waitq.h"

struct sem {
	weft__spin lock;
	uint32_t pad_;
	uint64_t permits;	/* under lock */
	struct weft__waitq q;	/* under lock */
};
_Static_assert(sizeof(struct sem) <= sizeof(weft_sem), "sem size");
_Static_assert(_Alignof(struct sem) <= _Alignof(weft_sem), "sem align");

void weft_sem_init(weft_sem *s, uint64_t permits)
{
	if (!s)
		return;
	*s = (weft_sem)WEFT_SEM_INIT;
	((struct sem *)s)->permits = permits;
}

/* Under lock: take a permit if one is free. */
static bool take_locked(struct sem *s)
{
	if (!s->permits)
		return false;
	s->permits--;
	return true;
}

static int wait_locked(struct sem *s)
{
	struct weft__waiter w;
	int r;

	weft__waitq_push(&s->q, &w, NULL, true);
	weft__spin_unlock(&s->lock);
	r = weft__park_commit();
	if (r >= 0) {
		weft__spin_settle(&s->lock);
		return 0;
	}
	weft__spin_lock(&s->lock);
	if (!weft__waitq_withdraw(&s->q, &w))
		r = 0;		/* released to us before the cancel */
	weft__spin_unlock(&s->lock);
	return r;
}

int weft_sem_acquire(weft_sem *sem)
{
	struct weft_task *self = weft__current_task();
	struct sem *s = (struct sem *)sem;

	WEFT__CHECK(sem, -EINVAL);
	if (!self)
		return -EPERM;
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	weft__spin_lock(&s->lock);
	if (take_locked(s)) {
		weft__spin_unlock(&s->lock);
		weft__coop_tick(weft__tls_worker);
		return 0;
	}
	return wait_locked(s);
}

int weft_sem_try_acquire(weft_sem *sem)
{
	struct sem *s = (struct sem *)sem;
	bool ok;

	WEFT__CHECK(sem, -EINVAL);
	weft__spin_lock(&s->lock);
	ok = take_locked(s);
	weft__spin_unlock(&s->lock);
	return ok ? 0 : -EAGAIN;
}

void weft_sem_release(weft_sem *sem)
{
	struct sem *s = (struct sem *)sem;
	struct weft__waiter *w;

	if (!sem)
		return;
	weft__spin_lock(&s->lock);
	w = weft__waitq_pop(&s->q);
	if (w) {
		/* Even a failed wake (a racing cancel) gave the permit away:
		 * that waiter finds itself popped and keeps it. */
		weft__wake(w->task, w->gen, 0);
	} else if (s->permits == UINT64_MAX) {
		/* The count's only bound: wrapping to 0 would lose every
		 * permit.  A release returns nothing, so say it (issue 7). */
		weft__spin_unlock(&s->lock);
		weft__panic("weft_sem_release: permit count overflows "
			    "(released more than acquired)");
	} else {
		s->permits++;
	}
	weft__spin_unlock(&s->lock);
}

WEFT__DEFINE_WAITERS(sem, struct sem)
