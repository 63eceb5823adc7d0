/*
 * weft_waitgroup: wait until a count is back to zero (Go's WaitGroup).
 * All-zero has count 0, so a wait passes at once.
 *
 * add and done run on any thread.  The change that brings the count to 0
 * wakes every waiter under the lock; a waiter popped by it passed, even if
 * a cancel or deadline ended its park first.  The wait's fast path reads
 * the count under the lock too, and a woken waiter settles (waitq.h), so
 * the usual pattern, a wait group on the waiter's stack with the last done
 * on another thread, never has done touch a returned frame.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/panic.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "runtime/waitq.h"

struct waitgroup {
	weft__spin lock;
	uint32_t pad_;
	int64_t count;		/* under lock */
	struct weft__waitq q;	/* under lock: waiting for count == 0 */
};
_Static_assert(sizeof(struct waitgroup) <= sizeof(weft_waitgroup),
	       "waitgroup size");
_Static_assert(_Alignof(struct waitgroup) <= _Alignof(weft_waitgroup),
	       "waitgroup align");

void weft_waitgroup_init(weft_waitgroup *wg)
{
	if (!wg)
		return;
	*wg = (weft_waitgroup)WEFT_WAITGROUP_INIT;
}

/* name: the public call, for the panic message. */
static void add(weft_waitgroup *wgp, int64_t n, const char *name)
{
	struct waitgroup *wg = (struct waitgroup *)wgp;
	int64_t c;

	if (!wgp)
		weft__panic("%s: NULL wait group", name);
	weft__spin_lock(&wg->lock);
	if (__builtin_add_overflow(wg->count, n, &c) || c < 0) {
		weft__spin_unlock(&wg->lock);
		/* Past INT64_MAX is not "below zero": say which (issue 7). */
		if (n > 0)
			weft__panic("%s: wait group count overflows", name);
		weft__panic("%s: wait group count below zero", name);
	}
	wg->count = c;
	if (c == 0)
		weft__waitq_wake_all(&wg->q, 0);
	weft__spin_unlock(&wg->lock);
}

void weft_waitgroup_add(weft_waitgroup *wg, int64_t n)
{
	if (!wg)
		return;
	add(wg, n, "weft_waitgroup_add");
}

void weft_waitgroup_done(weft_waitgroup *wg)
{
	if (!wg)
		return;
	add(wg, -1, "weft_waitgroup_done");
}

int weft_waitgroup_wait(weft_waitgroup *wgp)
{
	struct weft_task *self = weft__current_task();
	struct waitgroup *wg = (struct waitgroup *)wgp;
	struct weft__waiter w;
	int r;

	WEFT__CHECK(wgp, -EINVAL);
	if (!self)
		return -EPERM;
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	weft__spin_lock(&wg->lock);
	if (wg->count == 0) {
		weft__spin_unlock(&wg->lock);
		weft__coop_tick(weft__tls_worker);
		return 0;
	}
	weft__waitq_push(&wg->q, &w, NULL, true);
	weft__spin_unlock(&wg->lock);
	r = weft__park_commit();
	if (r >= 0) {
		weft__spin_settle(&wg->lock);
		return 0;
	}
	weft__spin_lock(&wg->lock);
	if (!weft__waitq_withdraw(&wg->q, &w))
		r = 0;		/* the count reached 0 before the cancel */
	weft__spin_unlock(&wg->lock);
	return r;
}

WEFT__DEFINE_WAITERS(waitgroup, struct waitgroup)
