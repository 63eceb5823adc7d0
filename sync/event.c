/*
 * weft_event: a flag that tasks wait on.  All-zero is a clear event with no
 * waiters.  set wakes every waiter; a waiter cancelled after the set popped
 * it still reports success (the event was set while it waited).
 */
#include <errno.h>

#include "weft.h"
#include "runtime/waitq.h"

struct event {
	weft__spin lock;
	uint32_t set;		/* under lock; read racily by is_set */
	struct weft__waitq q;	/* under lock */
};
_Static_assert(sizeof(struct event) <= sizeof(weft_event), "event size");
_Static_assert(_Alignof(struct event) <= _Alignof(weft_event), "event align");

void weft_event_init(weft_event *e)
{
	if (!e)
		return;
	*e = (weft_event)WEFT_EVENT_INIT;
}

void weft_event_set(weft_event *ev)
{
	struct event *e = (struct event *)ev;

	if (!ev)
		return;
	weft__spin_lock(&e->lock);
	__atomic_store_n(&e->set, 1, __ATOMIC_RELEASE);
	weft__waitq_wake_all(&e->q, 0);
	weft__spin_unlock(&e->lock);
}

void weft_event_clear(weft_event *ev)
{
	struct event *e = (struct event *)ev;

	if (!ev)
		return;
	weft__spin_lock(&e->lock);
	__atomic_store_n(&e->set, 0, __ATOMIC_RELEASE);
	weft__spin_unlock(&e->lock);
}

bool weft_event_is_set(weft_event *ev)
{
	struct event *e = (struct event *)ev;

	if (!ev)
		return false;
	return __atomic_load_n(&e->set, __ATOMIC_ACQUIRE) != 0;
}

int weft_event_wait(weft_event *ev)
{
	struct event *e = (struct event *)ev;
	struct weft__waiter w;
	int r;

	WEFT__CHECK(ev, -EINVAL);
	if (!weft__current_task())
		return -EPERM;
	weft__spin_lock(&e->lock);
	if (e->set) {
		weft__spin_unlock(&e->lock);
		return 0;
	}
	weft__waitq_push(&e->q, &w, NULL, true);
	weft__spin_unlock(&e->lock);
	r = weft__park_commit();
	if (weft__interruption(r)) {
		weft__spin_lock(&e->lock);
		if (!weft__waitq_withdraw(&e->q, &w))
			r = w.result;
		weft__spin_unlock(&e->lock);
	} else {
		weft__spin_settle(&e->lock);
	}
	return r;
}
