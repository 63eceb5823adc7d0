/*
 * weft_rwlock: readers share, a writer is alone.  All-zero is unlocked
 * with no waiters.
 *
 * One FIFO queue holds waiting readers and writers in arrival order.  A
 * newcomer takes the lock at once only when nobody queues, so a waiting
 * writer holds off every reader that comes after it (no writer
 * starvation), and readers queued behind a writer wait for that writer.
 * Grants are hand-offs made under the lock (grant_locked): the head
 * writer gets the lock once it is free; the run of readers at the head
 * gets it together while no writer holds it.  A waiter popped by a grant
 * holds the lock even if a cancel or deadline ended its park first: it
 * reports success (waitq.h).  A waiter that withdraws may uncover readers
 * at the head that can go now: withdraw grants too.
 *
 * unlock knows which hold to drop: the write hold if the caller is the
 * writer, else one of the read holds (readers are counted, not named).
 */
#include <errno.h>

#include "weft.h"
#include "runtime/panic.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "runtime/waitq.h"

/* waiter->data: what the waiter asks for. */
#define RW_READ NULL
#define RW_WRITE ((void *)1)

struct rwlock {
	weft__spin lock;
	uint32_t readers;		/* under lock: read holds */
	struct weft_task *writer;	/* under lock: the write owner */
	struct weft__waitq q;		/* under lock */
};
_Static_assert(sizeof(struct rwlock) <= sizeof(weft_rwlock), "rwlock size");
_Static_assert(_Alignof(struct rwlock) <= _Alignof(weft_rwlock),
	       "rwlock align");

void weft_rwlock_init(weft_rwlock *l)
{
	if (!l)
		return;
	*l = (weft_rwlock)WEFT_RWLOCK_INIT;
}

/* Under lock: can a newcomer (not queued) take the lock as asked? */
static bool free_for_locked(struct rwlock *l, void *mode)
{
	if (!weft__waitq_empty(&l->q) || l->writer)
		return false;
	return mode == RW_READ || l->readers == 0;
}

static void take_locked(struct rwlock *l, void *mode, struct weft_task *t)
{
	if (mode == RW_WRITE)
		l->writer = t;
	else
		l->readers++;
}

/* Under lock: hand the lock to whoever at the head of the queue can go. */
static void grant_locked(struct rwlock *l)
{
	struct weft__waiter *w;

	while ((w = l->q.head) && !l->writer) {
		if (w->data == RW_WRITE && l->readers)
			return;
		weft__waitq_pop(&l->q);
		take_locked(l, w->data, w->task);
		/* A failed wake (racing cancel): it still holds, see top. */
		weft__wake(w->task, w->gen, 0);
	}
}

static int wait_locked(struct rwlock *l, void *mode)
{
	struct weft__waiter w;
	int r;

	weft__waitq_push(&l->q, &w, mode, true);
	weft__spin_unlock(&l->lock);
	r = weft__park_commit();
	if (r >= 0) {
		weft__spin_settle(&l->lock);
		return 0;
	}
	weft__spin_lock(&l->lock);
	if (weft__waitq_withdraw(&l->q, &w))
		grant_locked(l);
	else
		r = 0;		/* granted before the cancel */
	weft__spin_unlock(&l->lock);
	return r;
}

static int lock_as(weft_rwlock *rw, void *mode)
{
	struct weft_task *self = weft__current_task();
	struct rwlock *l = (struct rwlock *)rw;

	WEFT__CHECK(rw, -EINVAL);
	if (!self)
		return -EPERM;
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	weft__spin_lock(&l->lock);
	if (l->writer == self) {
		/* The caller holds the write lock: waiting for it to go would
		 * never end (issue 7).  A read hold cannot be told apart from
		 * another task's (readers are counted, not named). */
		weft__spin_unlock(&l->lock);
		return -EDEADLK;
	}
	if (!free_for_locked(l, mode))
		return wait_locked(l, mode);
	take_locked(l, mode, self);
	weft__spin_unlock(&l->lock);
	weft__coop_tick(weft__tls_worker);
	return 0;
}

int weft_rwlock_rdlock(weft_rwlock *l)
{
	return lock_as(l, RW_READ);
}

int weft_rwlock_wrlock(weft_rwlock *l)
{
	return lock_as(l, RW_WRITE);
}

static int try_as(weft_rwlock *rw, void *mode)
{
	struct weft_task *self = weft_self();
	struct rwlock *l = (struct rwlock *)rw;
	bool ok;

	WEFT__CHECK(rw, -EINVAL);
	/* Holds belong to tasks: unlock must know the writer. */
	if (!self)
		return -EPERM;
	weft__spin_lock(&l->lock);
	ok = free_for_locked(l, mode);
	if (ok)
		take_locked(l, mode, self);
	weft__spin_unlock(&l->lock);
	return ok ? 0 : -EAGAIN;
}

int weft_rwlock_try_rdlock(weft_rwlock *l)
{
	return try_as(l, RW_READ);
}

int weft_rwlock_try_wrlock(weft_rwlock *l)
{
	return try_as(l, RW_WRITE);
}

void weft_rwlock_unlock(weft_rwlock *rw)
{
	struct weft_task *self = weft_self();
	struct rwlock *l = (struct rwlock *)rw;

	if (!rw || !self)
		weft__panic("weft_rwlock_unlock: lock not held by this task");
	weft__spin_lock(&l->lock);
	if (l->writer == self) {
		l->writer = NULL;
	} else if (!l->writer && l->readers) {
		l->readers--;
	} else {
		weft__spin_unlock(&l->lock);
		weft__panic("weft_rwlock_unlock: lock not held by this task");
	}
	grant_locked(l);
	weft__spin_unlock(&l->lock);
}

WEFT__DEFINE_WAITERS(rwlock, struct rwlock)
