/*
 * weft_mutex: a fair, owned mutex for tasks.
 *
 * The lock word holds two bits: LOCKED (someone owns the mutex) and
 * WAITERS (the FIFO queue is not empty).  All-zero is unlocked.
 *
 *   - Uncontended lock: one CAS 0 -> LOCKED.  It fails whenever WAITERS is
 *     set, so a newcomer never overtakes a queued task (FIFO).
 *   - Contended: spin a little while the lock is held and nobody queues
 *     (the holder is likely running on another worker and about to
 *     unlock); then, under the spinlock, set WAITERS and queue.
 *   - Unlock without WAITERS: one CAS LOCKED -> 0, the last access.
 *     Unlock with WAITERS: under the spinlock pop the oldest waiter, make
 *     it the owner (LOCKED stays set: a direct hand-off), clear WAITERS if
 *     the queue emptied, wake it.
 *
 * Invariants: WAITERS is set exactly when the queue is not empty, and it
 * only changes under the spinlock; WAITERS implies LOCKED (unlock hands off
 * instead of clearing LOCKED while anyone waits).  LOCKED is set by the
 * 0 -> LOCKED CAS and cleared only by its owner.
 *
 * A waiter popped by unlock owns the mutex even when a cancel or a deadline
 * ended its park first: it reports success (waitq.h).  A woken waiter
 * settles (waitq.h) before it returns, so its waker is done with the
 * mutex.
 */
#include <errno.h>
#include <stdatomic.h>

#include "weft.h"
#include "runtime/panic.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "sync/mutex_internal.h"
#include "sync/waitq.h"

#define M_LOCKED 1u
#define M_WAITERS 2u

/*
 * Spins before queueing: each is a load and a pause (~40 cycles on recent
 * x86), so ~2-4 us at most, about one short critical section run on
 * another worker plus its unlock.  Measured in bench mutex.
 */
#define M_SPINS 64

struct mutex {
	_Atomic uint32_t word;		/* M_LOCKED | M_WAITERS, see above */
	weft__spin lock;		/* guards q and WAITERS changes */
	/* The owner's task: written by the task that takes the lock, or by
	 * the unlocker for the waiter it hands the lock to; read by unlock
	 * to catch a non-owner (relaxed: a task only needs to tell whether
	 * it reads its own pointer, which only it or its hand-off wrote). */
	_Atomic(struct weft_task *) owner;
	struct weft__waitq q;		/* under lock */
};
_Static_assert(sizeof(struct mutex) <= sizeof(weft_mutex), "mutex size");
_Static_assert(_Alignof(struct mutex) <= _Alignof(weft_mutex),
	       "mutex align");

static inline struct mutex *M(weft_mutex *m)
{
	return (struct mutex *)m;
}

static void set_owner(struct mutex *m, struct weft_task *t)
{
	atomic_store_explicit(&m->owner, t, memory_order_relaxed);
}

void weft_mutex_init(weft_mutex *m)
{
	*m = (weft_mutex)WEFT_MUTEX_INIT;
}

/* acquire: pairs with the release of the unlock CAS. */
static bool try_take(struct mutex *m)
{
	uint32_t s = 0;

	return atomic_compare_exchange_strong_explicit(
		&m->word, &s, M_LOCKED, memory_order_acquire,
		memory_order_relaxed);
}

/* Spin while the lock is held by a running owner and nobody queues. */
static bool spin_take(struct mutex *m)
{
	uint32_t s;
	int i;

	for (i = 0; i < M_SPINS; i++) {
		s = atomic_load_explicit(&m->word, memory_order_relaxed);
		if (s == 0 && try_take(m))
			return true;
		if (s & M_WAITERS)
			return false;	/* FIFO: we must queue behind them */
		weft__cpu_relax();
	}
	return false;
}

/*
 * Under lock: take the mutex if it is free, else set WAITERS (the caller
 * then queues).  The owner's unlock CAS races this one without the lock.
 */
static bool take_or_flag_locked(struct mutex *m)
{
	uint32_t s = atomic_load_explicit(&m->word, memory_order_relaxed);

	for (;;) {
		if (s == 0) {
			if (try_take(m))
				return true;
			s = atomic_load_explicit(&m->word,
						 memory_order_relaxed);
			continue;
		}
		if (s & M_WAITERS)
			return false;
		if (atomic_compare_exchange_weak_explicit(
			    &m->word, &s, s | M_WAITERS, memory_order_relaxed,
			    memory_order_relaxed))
			return false;
	}
}

/* Under lock: take w out of the queue; the last one out clears WAITERS. */
static bool withdraw_locked(struct mutex *m, struct weft__waiter *w)
{
	if (!weft__waitq_withdraw(&m->q, w))
		return false;
	if (weft__waitq_empty(&m->q))
		atomic_fetch_and_explicit(&m->word, ~M_WAITERS,
					  memory_order_relaxed);
	return true;
}

/*
 * Queue and park until unlock hands us the mutex.  A cancellable wait that
 * is cancelled (or times out) first withdraws and fails; a non-cancellable
 * one that a deadline ends anyway queues again.
 */
static int lock_slow(struct mutex *m, struct weft_task *self,
		     bool cancellable)
{
	struct weft__waiter w;
	int r;

	if (spin_take(m))
		goto owned;
	for (;;) {
		weft__spin_lock(&m->lock);
		if (take_or_flag_locked(m)) {
			weft__spin_unlock(&m->lock);
			goto owned;
		}
		weft__waitq_push(&m->q, &w, NULL, cancellable);
		weft__spin_unlock(&m->lock);
		r = weft__park_commit();
		if (r >= 0) {
			weft__spin_settle(&m->lock);
			return 0;	/* the unlocker made us the owner */
		}
		weft__spin_lock(&m->lock);
		if (!withdraw_locked(m, &w)) {
			/* Popped (and made owner) before our park ended. */
			weft__spin_unlock(&m->lock);
			return 0;
		}
		weft__spin_unlock(&m->lock);
		if (cancellable)
			return r;
	}
owned:
	set_owner(m, self);
	return 0;
}

int weft_mutex_lock(weft_mutex *mx)
{
	struct weft_task *self = weft__current_task();
	struct mutex *m = M(mx);

	WEFT__CHECK(mx, -EINVAL);
	if (!self)
		return -EPERM;
	/* The coop tick comes before the lock is taken, never after: a task
	 * that yields while holding the mutex stalls every other taker. */
	weft__coop_tick(weft__tls_worker);
	if (weft__task_cancel_pending(self))
		return -ECANCELED;
	if (likely(try_take(m))) {
		set_owner(m, self);
		return 0;
	}
	return lock_slow(m, self, true);
}

int weft__mutex_lock_uncancellable(weft_mutex *mx)
{
	struct weft_task *self = weft__current_task();
	struct mutex *m = M(mx);

	if (!self)
		return -EPERM;
	if (try_take(m)) {
		set_owner(m, self);
		return 0;
	}
	return lock_slow(m, self, false);
}

int weft_mutex_trylock(weft_mutex *mx)
{
	struct weft_task *self = weft_self();
	struct mutex *m = M(mx);

	WEFT__CHECK(mx, -EINVAL);
	/* Owned by a task: a thread could never unlock it. */
	if (!self)
		return -EPERM;
	if (!try_take(m))
		return -EAGAIN;
	set_owner(m, self);
	return 0;
}

bool weft__mutex_held(weft_mutex *mx)
{
	struct weft_task *self = weft_self();

	return self && atomic_load_explicit(&M(mx)->owner,
					    memory_order_relaxed) == self;
}

/* Under lock, with WAITERS set: make the oldest waiter the owner. */
static void hand_off_locked(struct mutex *m)
{
	struct weft__waiter *w = weft__waitq_pop(&m->q);

	set_owner(m, w->task);
	if (weft__waitq_empty(&m->q))
		atomic_fetch_and_explicit(&m->word, ~M_WAITERS,
					  memory_order_relaxed);
	/* A failed wake means a cancel or deadline beat us: that waiter
	 * still finds itself popped and takes the mutex (lock_slow). */
	weft__wake(w->task, w->gen, 0);
}

void weft_mutex_unlock(weft_mutex *mx)
{
	struct mutex *m = M(mx);
	uint32_t s;

	if (!mx || !weft__mutex_held(mx))
		weft__panic("weft_mutex_unlock: mutex not held by this task");
	set_owner(m, NULL);
	s = atomic_load_explicit(&m->word, memory_order_relaxed);
	for (;;) {
		if (!(s & M_WAITERS)) {
			/* release: pairs with the acquire in try_take(). */
			if (atomic_compare_exchange_weak_explicit(
				    &m->word, &s, 0, memory_order_release,
				    memory_order_relaxed))
				return;
			continue;
		}
		weft__spin_lock(&m->lock);
		s = atomic_load_explicit(&m->word, memory_order_relaxed);
		if (s & M_WAITERS) {
			hand_off_locked(m);
			weft__spin_unlock(&m->lock);
			return;
		}
		/* The last waiter withdrew meanwhile: unlock plainly. */
		weft__spin_unlock(&m->lock);
	}
}

WEFT__DEFINE_WAITERS(mutex, struct mutex)
