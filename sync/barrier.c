/*
 * weft_barrier: n tasks meet, round after round.  All-zero is a barrier
 * for 0 tasks, where every wait passes at once.
 *
 * The n-th arrival of a round ends it: it starts the next round (arrived
 * back to 0), wakes the n - 1 waiters with 0 and returns 1 itself, so
 * exactly one task per round gets 1.  A waiter whose park a cancel or a
 * deadline ends withdraws under the lock and no longer counts; if the round
 * ended first (it was popped), it passed the barrier and returns 0.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "runtime/waitq.h"

struct barrier {
	weft__spin lock;
	uint32_t n;		/* set by init */
	uint32_t arrived;	/* under lock: waiters of this round */
	uint32_t pad_;
	struct weft__waitq q;	/* under lock */
};
_Static_assert(sizeof(struct barrier) <= sizeof(weft_barrier),
	       "barrier size");
_Static_assert(_Alignof(struct barrier) <= _Alignof(weft_barrier),
	       "barrier align");

void weft_barrier_init(weft_barrier *b, unsigned n)
{
	if (!b)
		return;
	*b = (weft_barrier)WEFT_BARRIER_INIT;
	((struct barrier *)b)->n = n;
}

static int wait_round_locked(struct barrier *b)
{
	struct weft__waiter w;
	int r;

	b->arrived++;
	weft__waitq_push(&b->q, &w, NULL, true);
	weft__spin_unlock(&b->lock);
	r = weft__park_commit();
	if (r >= 0) {
		weft__spin_settle(&b->lock);
		return 0;
	}
	weft__spin_lock(&b->lock);
	if (weft__waitq_withdraw(&b->q, &w))
		b->arrived--;
	else
		r = 0;		/* the round ended before the cancel */
	weft__spin_unlock(&b->lock);
	return r;
}

int weft_barrier_wait(weft_barrier *bar)
{
	struct weft_task *self = weft__current_task();
	struct barrier *b = (struct barrier *)bar;

	WEFT__CHECK(bar, -EINVAL);
	if (!self)
		return -EPERM;
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	weft__spin_lock(&b->lock);
	if (b->arrived + 1 < b->n)
		return wait_round_locked(b);
	b->arrived = 0;
	weft__waitq_wake_all(&b->q, 0);
	weft__spin_unlock(&b->lock);
	weft__coop_tick(weft__tls_worker);
	return 1;
}

WEFT__DEFINE_WAITERS(barrier, struct barrier)
