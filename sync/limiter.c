/*
 * weft_limiter: a token bucket with FIFO waiters.  All-zero (rate 0) is an
 * unlimited limiter: every acquire succeeds at once.
 *
 * Tokens are counted exactly: whole tokens plus `frac`, the fraction of
 * the next token earned so far, in units of 1/NS_PER_S token.  A refill
 * adds elapsed * rate / NS_PER_S (128-bit product), so the rate never
 * drifts however often it runs; a full bucket drops the fraction.
 *
 * Waiters queue in arrival order (waitq.h) and only the head may take
 * tokens: a newcomer, or try_acquire, never overtakes a waiter.  The head
 * parks with a timer for the moment its tokens are due; the others park
 * without one.  Whoever stops being head (it took its tokens, or was
 * cancelled or timed out, taking nothing) wakes the next one, which then
 * recomputes its own due time.  A waiter learns from the queue, under the
 * lock, whether it is head, never from its wake's result, so a wake that
 * lands while it is awake (and not parked) needs no care: it looks again.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "sync/introspect.h"
#include "runtime/waitq.h"

#define NS_PER_S 1000000000ull

struct limiter {
	weft__spin lock;
	uint32_t pad_;
	/* Written by init only (before any use): tokens per second (0:
	 * unlimited) and the bucket size. */
	uint64_t rate;
	uint64_t burst;
	uint64_t tokens;	/* under lock: whole tokens now */
	uint64_t frac;		/* under lock: < NS_PER_S, see top */
	uint64_t last;		/* under lock: time of the last refill */
	struct weft__waitq q;	/* under lock */
};
_Static_assert(sizeof(struct limiter) <= sizeof(weft_limiter),
	       "limiter size");
_Static_assert(_Alignof(struct limiter) <= _Alignof(weft_limiter),
	       "limiter align");

void weft_limiter_init(weft_limiter *lim, uint64_t rate_per_s, uint64_t burst)
{
	struct limiter *l = (struct limiter *)lim;

	if (!lim)
		return;
	*lim = (weft_limiter)WEFT_LIMITER_INIT;
	l->rate = rate_per_s;
	l->burst = burst ? burst : 1;
	l->tokens = l->burst;	/* the bucket starts full */
	l->last = weft_now();
}

/* Under lock: add the tokens earned since the last refill. */
static void refill_locked(struct limiter *l, uint64_t now)
{
	unsigned __int128 earned;
	uint64_t add;

	if (now <= l->last)
		return;
	earned = (unsigned __int128)(now - l->last) * l->rate + l->frac;
	l->last = now;
	if (earned / NS_PER_S >= l->burst - l->tokens) {
		l->tokens = l->burst;
		l->frac = 0;
		return;
	}
	add = (uint64_t)(earned / NS_PER_S);
	l->tokens += add;
	l->frac = (uint64_t)(earned % NS_PER_S);
}

/* Under lock, after a refill at l->last: when n tokens will be there. */
static uint64_t due_locked(const struct limiter *l, uint64_t n)
{
	unsigned __int128 need, ns;

	if (l->tokens >= n)
		return l->last;
	need = (unsigned __int128)(n - l->tokens) * NS_PER_S - l->frac;
	ns = (need + l->rate - 1) / l->rate;
	if (ns >= WEFT__FOREVER - l->last)
		return WEFT__FOREVER;
	return l->last + (uint64_t)ns;
}

/* Under lock: take n tokens if they are there; refills first. */
static bool take_locked(struct limiter *l, uint64_t n)
{
	refill_locked(l, weft_now());
	if (l->tokens < n)
		return false;
	l->tokens -= n;
	return true;
}

/* Under lock: w leaves the queue; if it was head, the next one is now. */
static void leave_locked(struct limiter *l, struct weft__waiter *w)
{
	bool head = l->q.head == w;

	weft__waitq_unlink(&l->q, w);
	if (head && l->q.head)
		weft__wake(l->q.head->task, l->q.head->gen, 0);
}

/* Under lock, with a park armed: how long w may sleep. */
static uint64_t until_locked(struct limiter *l, struct weft__waiter *w,
			     uint64_t n)
{
	return l->q.head == w ? due_locked(l, n) : WEFT__FOREVER;
}

/*
 * Wait in the queue for n tokens (called locked, after a refill, returns
 * unlocked): 0 once taken, or the interruption that ended the wait with
 * nothing taken.  Each pass parks first, so no armed park is left behind.
 */
static int wait_locked(struct limiter *l, uint64_t n)
{
	struct weft__waiter w;
	uint64_t until;
	int r;

	weft__waitq_push(&l->q, &w, NULL, true);
	until = until_locked(l, &w, n);
	for (;;) {
		weft__spin_unlock(&l->lock);
		r = weft__park_commit_until(until);
		weft__spin_lock(&l->lock);
		if (weft__interruption(r)) {
			leave_locked(l, &w);
			break;
		}
		if (l->q.head == &w && take_locked(l, n)) {
			leave_locked(l, &w);
			r = 0;
			break;
		}
		/* Re-armed under the lock: a wake sent after this look
		 * (wakers hold the lock) finds the new park. */
		w.gen = weft__park_prepare(true);
		until = until_locked(l, &w, n);
	}
	weft__spin_unlock(&l->lock);
	return r;
}

int weft_limiter_acquire(weft_limiter *lim, uint64_t n)
{
	struct weft_task *self = weft__current_task();
	struct limiter *l = (struct limiter *)lim;
	int r;

	WEFT__CHECK(lim, -EINVAL);
	if (!self)
		return -EPERM;
	r = weft__interrupted(self);
	if (r)
		return r;
	if (!l->rate)
		return 0;	/* unlimited; rate and burst are fixed */
	WEFT__CHECK(n <= l->burst, -EINVAL);
	weft__spin_lock(&l->lock);
	if (weft__waitq_empty(&l->q) && take_locked(l, n)) {
		weft__spin_unlock(&l->lock);
		weft__coop_tick(weft__tls_worker);
		return 0;
	}
	return wait_locked(l, n);
}

int weft_limiter_try_acquire(weft_limiter *lim, uint64_t n)
{
	struct limiter *l = (struct limiter *)lim;
	bool ok;

	WEFT__CHECK(lim, -EINVAL);
	if (!l->rate)
		return 0;
	WEFT__CHECK(n <= l->burst, -EINVAL);
	weft__spin_lock(&l->lock);
	ok = weft__waitq_empty(&l->q) && take_locked(l, n);
	weft__spin_unlock(&l->lock);
	return ok ? 0 : -EAGAIN;
}

WEFT__DEFINE_WAITERS(limiter, struct limiter)
