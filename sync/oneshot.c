/*
 * weft_oneshot: one value, sent once from any thread, waited for by a
 * task.  All-zero is empty with no waiters.
 *
 * send stores the value and wakes every waiter under the lock; the value
 * stays, so every recv after the send returns it at once.  A waiter popped
 * by the send has the value even if a cancel or deadline ended its park
 * first: it reports success.  A woken waiter settles (waitq.h) before it
 * returns, so a one-shot on the receiver's stack is safe to leave as soon
 * as recv returns.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "runtime/waitq.h"

struct oneshot {
	weft__spin lock;
	uint32_t sent;		/* under lock */
	void *value;		/* under lock; fixed once sent */
	struct weft__waitq q;	/* under lock */
};
_Static_assert(sizeof(struct oneshot) <= sizeof(weft_oneshot),
	       "oneshot size");
_Static_assert(_Alignof(struct oneshot) <= _Alignof(weft_oneshot),
	       "oneshot align");

void weft_oneshot_init(weft_oneshot *o)
{
	if (!o)
		return;
	*o = (weft_oneshot)WEFT_ONESHOT_INIT;
}

int weft_oneshot_send(weft_oneshot *os, void *value)
{
	struct oneshot *o = (struct oneshot *)os;
	int r = 0;

	WEFT__CHECK(os, -EINVAL);
	weft__spin_lock(&o->lock);
	if (o->sent) {
		r = -EALREADY;
	} else {
		o->value = value;
		o->sent = 1;
		weft__waitq_wake_all(&o->q, 0);
	}
	weft__spin_unlock(&o->lock);
	return r;
}

int weft_oneshot_try_recv(weft_oneshot *os, void **value)
{
	struct oneshot *o = (struct oneshot *)os;
	int r = -EAGAIN;

	WEFT__CHECK(os && value, -EINVAL);
	weft__spin_lock(&o->lock);
	if (o->sent) {
		*value = o->value;
		r = 0;
	}
	weft__spin_unlock(&o->lock);
	return r;
}

/* Park until the send; 0 once sent, else the park's error. */
static int wait_locked(struct oneshot *o)
{
	struct weft__waiter w;
	int r;

	weft__waitq_push(&o->q, &w, NULL, true);
	weft__spin_unlock(&o->lock);
	r = weft__park_commit();
	if (r >= 0) {
		weft__spin_settle(&o->lock);
		return 0;
	}
	weft__spin_lock(&o->lock);
	if (!weft__waitq_withdraw(&o->q, &w))
		r = 0;		/* sent before the cancel */
	weft__spin_unlock(&o->lock);
	return r;
}

int weft_oneshot_recv(weft_oneshot *os, void **value)
{
	struct weft_task *self = weft__current_task();
	struct oneshot *o = (struct oneshot *)os;
	int r;

	WEFT__CHECK(os && value, -EINVAL);
	if (!self)
		return -EPERM;
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	weft__spin_lock(&o->lock);
	if (o->sent) {
		*value = o->value;
		weft__spin_unlock(&o->lock);
		weft__coop_tick(weft__tls_worker);
		return 0;
	}
	r = wait_locked(o);
	if (r == 0)
		/* Sent before our wake (park word acquire) or, after a
		 * cancel, before we saw ourselves popped (lock acquire). */
		*value = o->value;
	return r;
}

WEFT__DEFINE_WAITERS(oneshot, struct oneshot)
