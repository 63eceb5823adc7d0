/*
 * weft_cond: a condition variable over a weft_mutex.  All-zero has no
 * waiters.
 *
 * wait queues itself on the condition before it unlocks the mutex, so a
 * signaller, which changes the predicate with the mutex held and signals
 * after, always finds it queued: no lost wake-up.  After the wake (or a
 * cancel, or a deadline) the waiter takes the mutex back with a lock that
 * ignores cancellation, so it holds the mutex whenever it returns.
 *
 * signal pops waiters until one wake succeeds: a popped waiter whose park a
 * cancel ended first still returns 0 (a spurious wake-up, which callers
 * allow for) but the signal goes on to a live waiter, so it is not lost.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/panic.h"
#include "runtime/task.h"
#include "sync/introspect.h"
#include "sync/mutex_internal.h"
#include "runtime/waitq.h"

struct cond {
	weft__spin lock;
	uint32_t pad_;
	struct weft__waitq q;	/* under lock */
};
_Static_assert(sizeof(struct cond) <= sizeof(weft_cond), "cond size");
_Static_assert(_Alignof(struct cond) <= _Alignof(weft_cond), "cond align");

void weft_cond_init(weft_cond *c)
{
	if (!c)
		return;
	*c = (weft_cond)WEFT_COND_INIT;
}

/* Queue, release m, park: 0 when signalled, else the park's error. */
static int wait_signal(struct cond *c, weft_mutex *m)
{
	struct weft__waiter w;
	int r;

	weft__spin_lock(&c->lock);
	weft__waitq_push(&c->q, &w, NULL, true);
	weft__spin_unlock(&c->lock);
	/* Never suspends, so the park armed above stays ours. */
	weft_mutex_unlock(m);
	r = weft__park_commit();
	if (r >= 0) {
		weft__spin_settle(&c->lock);
		return 0;
	}
	weft__spin_lock(&c->lock);
	if (!weft__waitq_withdraw(&c->q, &w))
		r = 0;		/* signalled before the cancel */
	weft__spin_unlock(&c->lock);
	return r;
}

int weft_cond_wait(weft_cond *cv, weft_mutex *m)
{
	struct weft_task *self = weft__current_task();
	int r;

	WEFT__CHECK(cv && m, -EINVAL);
	if (!self)
		return -EPERM;
	if (!weft__mutex_held(m))
		weft__panic("weft_cond_wait: mutex not held by this task");
	/* m is still held: nothing to take back. */
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	r = wait_signal((struct cond *)cv, m);
	weft__mutex_lock_uncancellable(m);
	return r;
}

void weft_cond_signal(weft_cond *cv)
{
	struct cond *c = (struct cond *)cv;

	if (!cv)
		return;
	weft__spin_lock(&c->lock);
	weft__waitq_wake_one(&c->q, 0);
	weft__spin_unlock(&c->lock);
}

void weft_cond_broadcast(weft_cond *cv)
{
	struct cond *c = (struct cond *)cv;

	if (!cv)
		return;
	weft__spin_lock(&c->lock);
	weft__waitq_wake_all(&c->q, 0);
	weft__spin_unlock(&c->lock);
}

WEFT__DEFINE_WAITERS(cond, struct cond)
