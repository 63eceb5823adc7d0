/*
 * weft_mutex: a fair, owned mutex for tasks (in the manner of Go's
 * sync.Mutex: barging with a starvation bound).
 *
 * The lock word: LOCKED (owned), WAITERS (the queue is not empty), HANDOFF
 * (starvation mode), WOKEN (a waiter was woken to retry and has not yet).
 * All-zero is unlocked.
 *
 *   - Lock: one CAS setting LOCKED when neither LOCKED nor HANDOFF is set,
 *     even if tasks wait: a running task takes a free lock at once (no
 *     convoy: a strict FIFO hand-off made every contended lock a park, a
 *     wake and a switch, and kept the lock on one worker).  Contended:
 *     queue under the spinlock and park at once, without spinning.  The
 *     holder runs on another worker (ours is running us), so a spin only
 *     pulls the lock's line over to this core while the holder wants it
 *     back; a parked waiter is woken by the unlock onto the unlocker's
 *     worker, so the tasks that contend gather on one core and take the
 *     lock there without a transfer (bench mutex: 15-50 ns per lock/unlock
 *     with 64 spins, 14-16 with none; 2 tasks hammering it: 25 -> 14).
 *   - Unlock: clear LOCKED; if tasks wait and none is already woken, wake
 *     the oldest to retry.  A woken waiter that loses the race to a barger
 *     queues again at the head, keeping its place.
 *   - Starvation bound: a waiter that has waited over STARVE_NS sets
 *     HANDOFF when it queues again; the next unlock then gives the lock
 *     directly to the oldest waiter (LOCKED stays set, nobody can barge),
 *     and clears HANDOFF.  So no waiter is overtaken forever.
 *
 * WAITERS, HANDOFF and WOKEN change only under the spinlock; LOCKED is set
 * by a take CAS and cleared only by its owner (or kept for a hand-off).
 * A waiter popped for a hand-off owns the mutex even when a cancel or a
 * deadline ended its park first: it reports success (waitq.h).  A woken
 * waiter settles (waitq.h) before it returns, so its waker is done with
 * the mutex.
 */
#include <errno.h>
#include <stdatomic.h>

#include "weft.h"
#include "runtime/panic.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "sync/mutex_internal.h"
#include "runtime/waitq.h"

#define M_LOCKED 1u
#define M_WAITERS 2u
#define M_HANDOFF 4u
#define M_WOKEN 8u

/* Waited this long (Go uses the same 1 ms): hand-off mode. */
#define STARVE_NS 1000000ull

/* w->result of a popped waiter: it owns the mutex, or it should retry. */
#define GOT_LOCK 1
#define RETRY 0

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
	if (!m)
		return;
	*m = (weft_mutex)WEFT_MUTEX_INIT;
}

/* Set LOCKED unless held or in hand-off mode.  acquire: pairs with the
 * release of the unlock. */
static bool try_take(struct mutex *m)
{
	uint32_t s = atomic_load_explicit(&m->word, memory_order_relaxed);

	while (!(s & (M_LOCKED | M_HANDOFF)))
		if (atomic_compare_exchange_weak_explicit(
			    &m->word, &s, s | M_LOCKED, memory_order_acquire,
			    memory_order_relaxed))
			return true;
	return false;
}

/* Under lock: take the mutex if it is free, else set WAITERS (the caller
 * then queues); `starving` also sets HANDOFF. */
static bool take_or_flag_locked(struct mutex *m, bool starving)
{
	uint32_t s = atomic_load_explicit(&m->word, memory_order_relaxed);
	uint32_t add = M_WAITERS | (starving ? M_HANDOFF : 0);

	for (;;) {
		if (!(s & (M_LOCKED | M_HANDOFF))) {
			if (try_take(m))
				return true;
			s = atomic_load_explicit(&m->word,
						 memory_order_relaxed);
			continue;
		}
		if ((s & add) == add)
			return false;
		if (atomic_compare_exchange_weak_explicit(
			    &m->word, &s, s | add, memory_order_relaxed,
			    memory_order_relaxed))
			return false;
	}
}

/* Under lock: the queue lost w (or its head); keep the bits true. */
static void queue_changed_locked(struct mutex *m)
{
	if (weft__waitq_empty(&m->q))
		atomic_fetch_and_explicit(&m->word, ~(M_WAITERS | M_HANDOFF),
					  memory_order_relaxed);
}

/* Under lock: wake the oldest waiter to retry, unless one already is. */
static void wake_retry_locked(struct mutex *m)
{
	uint32_t s = atomic_load_explicit(&m->word, memory_order_relaxed);
	struct weft__waiter *w;

	if (s & M_WOKEN)
		return;
	w = weft__waitq_pop(&m->q);
	if (!w)
		return;
	queue_changed_locked(m);
	atomic_fetch_or_explicit(&m->word, M_WOKEN, memory_order_relaxed);
	w->result = RETRY;
	weft__wake(w->task, w->gen, 0);
}

/* A woken waiter is back (it took the lock, queued again or gave up). */
static void woken_done_locked(struct mutex *m)
{
	atomic_fetch_and_explicit(&m->word, ~M_WOKEN, memory_order_relaxed);
	/* It gave up while the lock is free: pass the wake on. */
	if (!(atomic_load_explicit(&m->word, memory_order_relaxed) &
	      M_LOCKED))
		wake_retry_locked(m);
}

/*
 * Queue and park until we own the mutex.  Woken to retry, we try once and
 * otherwise queue again at the head; waiting over STARVE_NS asks for a
 * hand-off.  An interrupted cancellable wait withdraws and fails, unless a
 * hand-off already made us the owner.
 */
static int lock_slow(struct mutex *m, struct weft_task *self,
		     bool cancellable)
{
	struct weft__waiter w;
	bool front = false, starving = false;
	uint64_t since = 0;
	int r;

	for (;;) {
		weft__spin_lock(&m->lock);
		if (front)
			woken_done_locked(m);
		if (take_or_flag_locked(m, starving)) {
			weft__spin_unlock(&m->lock);
			goto owned;
		}
		if (front)
			weft__waitq_push_front(&m->q, &w, NULL, cancellable);
		else
			weft__waitq_push(&m->q, &w, NULL, cancellable);
		weft__spin_unlock(&m->lock);
		if (!since)
			since = weft_now();
		r = weft__park_commit();
		weft__spin_lock(&m->lock);
		if (weft__interruption(r) && weft__waitq_withdraw(&m->q, &w)) {
			queue_changed_locked(m);
			weft__spin_unlock(&m->lock);
			if (cancellable)
				return r;
			front = false;
			continue;
		}
		weft__spin_unlock(&m->lock);
		/* Popped: either handed the lock, or woken to retry. */
		if (w.result == GOT_LOCK)
			goto owned;
		if (weft__interruption(r) && cancellable) {
			weft__spin_lock(&m->lock);
			woken_done_locked(m);
			weft__spin_unlock(&m->lock);
			return r;
		}
		front = true;
		starving = weft_now() - since > STARVE_NS;
		if (!starving && try_take(m)) {
			weft__spin_lock(&m->lock);
			woken_done_locked(m);
			weft__spin_unlock(&m->lock);
			goto owned;
		}
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
	/* Held by the caller itself: waiting would never end (issue 7).
	 * Off the fast path; only we could have stored our own pointer. */
	if (atomic_load_explicit(&m->owner, memory_order_relaxed) == self)
		return -EDEADLK;
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

/* Under lock, in hand-off mode: make the oldest waiter the owner (LOCKED
 * stays set).  A failed wake means a cancel or deadline beat us: that
 * waiter still finds itself popped and takes the mutex (lock_slow). */
static void hand_off_locked(struct mutex *m)
{
	struct weft__waiter *w = weft__waitq_pop(&m->q);

	atomic_fetch_and_explicit(&m->word, ~M_HANDOFF, memory_order_relaxed);
	queue_changed_locked(m);
	set_owner(m, w->task);
	w->result = GOT_LOCK;
	weft__wake(w->task, w->gen, 0);
}

void weft_mutex_unlock(weft_mutex *mx)
{
	struct mutex *m = M(mx);
	uint32_t s;

	if (!mx || !weft__mutex_held(mx))
		weft__panic("weft_mutex_unlock: mutex not held by this task");
	set_owner(m, NULL);
	for (;;) {
		s = atomic_load_explicit(&m->word, memory_order_relaxed);
		if (s & M_HANDOFF) {
			weft__spin_lock(&m->lock);
			s = atomic_load_explicit(&m->word,
						 memory_order_relaxed);
			if ((s & M_HANDOFF) && !weft__waitq_empty(&m->q)) {
				hand_off_locked(m);
				weft__spin_unlock(&m->lock);
				return;
			}
			weft__spin_unlock(&m->lock);
			continue;
		}
		/* A CAS, not a plain clear: if a starving waiter sets HANDOFF
		 * meanwhile it fails, and the lock goes to that waiter (a
		 * free lock in hand-off mode would be taken by nobody).
		 * release: pairs with the acquire in try_take(). */
		if (atomic_compare_exchange_weak_explicit(
			    &m->word, &s, s & ~M_LOCKED, memory_order_release,
			    memory_order_relaxed))
			break;
	}
	if ((s & M_WAITERS) && !(s & M_WOKEN)) {
		weft__spin_lock(&m->lock);
		wake_retry_locked(m);
		weft__spin_unlock(&m->lock);
	}
}

WEFT__DEFINE_WAITERS(mutex, struct mutex)
