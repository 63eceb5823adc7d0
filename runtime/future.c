/*
 * weft_future: a value set once, from any thread, awaited by any number of
 * tasks (and plain threads), with done-callbacks.
 *
 * Protocol.  Everything but the callbacks' run happens under the spinlock:
 * set publishes value and status, pops every waiter and wakes it (waitq.h:
 * a task waiter lives on its stack and may leave once it finds itself
 * unlinked, so it is only touched under the lock), and takes the callback
 * list.  Then, outside the lock, the setter runs the callbacks in
 * registration order and last clears F_BUSY.  The callbacks run unlocked
 * because they may look at the future (weft_future_result, on_done).
 *
 * Memory safety.  A setter on a foreign thread must not touch the future
 * after its owner could free it.  An awaiter may return as soon as its wake
 * lands, while the setter still holds the lock or runs callbacks, so
 * weft_future_free settles: it waits until F_BUSY is clear, which is the
 * setter's last access (release store; free's acquire load pairs with it).
 * A callback that frees its own future would wait for itself: the setter
 * notices (a thread-local names the future whose callbacks run here) and
 * frees it after the last callback instead.
 *
 * A thread outside the runtime waits on a futex word in its waiter record
 * (task NULL); a worker thread outside a task gets -EPERM rather than block
 * every task queued behind it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/compiler.h"
#include "runtime/future.h"
#include "runtime/panic.h"
#include "runtime/park.h"
#include "runtime/task.h"
#include "runtime/worker.h"
#include "runtime/waitq.h"

enum {
	F_SET = 1u << 0,	/* value and status are final */
	F_BUSY = 1u << 1,	/* the setter still touches the future */
};

struct future_cb {
	struct future_cb *next;
	void (*fn)(weft_future *, void *);
	void *arg;
};

struct weft_future {
	weft__spin lock;
	/* F_SET | F_BUSY: written under lock (F_BUSY is cleared by the
	 * setter after it unlocks); read without it with acquire. */
	_Atomic uint32_t state;
	int status;			/* under lock; fixed once F_SET */
	bool free_deferred;		/* setter's thread only */
	void *value;			/* under lock; fixed once F_SET */
	struct weft__waitq q;		/* under lock: tasks and threads */
	/* Under lock until F_SET, then the setter's: pending callbacks,
	 * oldest first.  The first lives inline so that the usual single
	 * callback needs no allocation. */
	struct future_cb *cbs;
	struct future_cb **cbs_tail;
	struct future_cb cb0;
	bool cb0_used;
};

/* The future whose callbacks this thread is running (see top). */
static _Thread_local struct weft_future *running_cbs;

weft_future *weft_future_new(void)
{
	struct weft_future *f = weft__calloc(1, sizeof(*f));

	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->cbs_tail = &f->cbs;
	return f;
}

bool weft_future_done(weft_future *f)
{
	/* acquire: pairs with the release that published F_SET */
	return f && (atomic_load_explicit(&f->state, memory_order_acquire) &
		     F_SET);
}

int weft_future_result(weft_future *f, void **value)
{
	if (!f)
		return -EINVAL;
	if (!weft_future_done(f))
		weft__panic("weft_future_result: the future is not set");
	if (value)
		*value = f->value;
	return f->status;
}

/* Under lock: wake every waiter, task or thread, with 0. */
static void wake_all_locked(struct weft_future *f)
{
	struct weft__waiter *w;

	while ((w = weft__waitq_pop(&f->q))) {
		struct weft__waker k = { w->task, w->gen, w->data };

		w->result = 0;
		weft__waker_fire(&k, 0);
	}
}

static void run_callbacks(struct weft_future *f, struct future_cb *cb)
{
	struct weft_future *outer = running_cbs;

	running_cbs = f;
	while (cb) {
		struct future_cb *next = cb->next;

		cb->fn(f, cb->arg);
		if (cb != &f->cb0)
			weft__free(cb);
		cb = next;
	}
	running_cbs = outer;
}

int weft_future_set(weft_future *f, void *value, int status)
{
	struct future_cb *cbs;

	WEFT__CHECK(f, -EINVAL);
	weft__spin_lock(&f->lock);
	if (atomic_load_explicit(&f->state, memory_order_relaxed) & F_SET) {
		weft__spin_unlock(&f->lock);
		return -EALREADY;
	}
	f->value = value;
	f->status = status;
	/* release: value and status before F_SET (weft_future_done) */
	atomic_store_explicit(&f->state, F_SET | F_BUSY, memory_order_release);
	wake_all_locked(f);
	cbs = f->cbs;
	f->cbs = NULL;
	weft__spin_unlock(&f->lock);
	run_callbacks(f, cbs);
	if (f->free_deferred) {
		weft__free(f);
		return 0;
	}
	/* release: our last access; pairs with the acquire in settle() */
	atomic_store_explicit(&f->state, F_SET, memory_order_release);
	return 0;
}

/* Append a callback (under lock, before the set). */
static void add_cb_locked(struct weft_future *f, struct future_cb *cb)
{
	cb->next = NULL;
	*f->cbs_tail = cb;
	f->cbs_tail = &cb->next;
}

int weft_future_on_done(weft_future *f, void (*fn)(weft_future *, void *),
			void *arg)
{
	struct future_cb *cb = NULL;

	WEFT__CHECK(f && fn, -EINVAL);
	weft__spin_lock(&f->lock);
	if (atomic_load_explicit(&f->state, memory_order_relaxed) & F_SET) {
		weft__spin_unlock(&f->lock);
		fn(f, arg);
		return 0;
	}
	if (!f->cb0_used) {
		f->cb0_used = true;
		cb = &f->cb0;
	} else {
		/* Allocate unlocked: the set cannot complete meanwhile
		 * without us seeing F_SET when we lock again. */
		weft__spin_unlock(&f->lock);
		cb = weft__malloc(sizeof(*cb));
		if (!cb)
			return -ENOMEM;
		weft__spin_lock(&f->lock);
		if (atomic_load_explicit(&f->state, memory_order_relaxed) &
		    F_SET) {
			weft__spin_unlock(&f->lock);
			weft__free(cb);
			fn(f, arg);
			return 0;
		}
	}
	cb->fn = fn;
	cb->arg = arg;
	add_cb_locked(f, cb);
	weft__spin_unlock(&f->lock);
	return 0;
}

/* A task waits; r is 0 once set, else the interruption. */
static int await_task_locked(struct weft_future *f)
{
	struct weft__waiter w;
	int r;

	weft__waitq_push(&f->q, &w, NULL, true);
	weft__spin_unlock(&f->lock);
	r = weft__park_commit();
	if (!weft__interruption(r))
		return 0;
	weft__spin_lock(&f->lock);
	if (!weft__waitq_withdraw(&f->q, &w))
		r = 0;		/* set before the interruption */
	weft__spin_unlock(&f->lock);
	return r;
}

/* A plain thread waits on a futex word; no cancellation, no deadline. */
static void await_thread_locked(struct weft_future *f)
{
	_Atomic uint32_t word = 0;
	struct weft__waiter w = { .data = (void *)&word, .linked = true };

	w.prev = f->q.tail;
	if (f->q.tail)
		f->q.tail->next = &w;
	else
		f->q.head = &w;
	f->q.tail = &w;
	weft__spin_unlock(&f->lock);
	weft__futex_wait_set(&word);
}

int weft_future_await(weft_future *f, void **value)
{
	struct weft_task *self = weft__current_task();
	int r;

	WEFT__CHECK(f, -EINVAL);
	if (!self && weft__tls_worker)
		return -EPERM;
	if (self && (r = weft__interrupted(self)))
		return r;
	weft__spin_lock(&f->lock);
	if (atomic_load_explicit(&f->state, memory_order_relaxed) & F_SET) {
		weft__spin_unlock(&f->lock);
		if (self)
			weft__coop_tick(weft__tls_worker);
	} else if (self) {
		r = await_task_locked(f);
		if (r < 0)
			return r;
	} else {
		await_thread_locked(f);
	}
	/* Fixed once F_SET: our wake (park word or futex acquire) or the
	 * lock ordered the set before this read. */
	if (value)
		*value = f->value;
	return f->status;
}

/* Wait until the setter has let go of f (see top). */
static void settle(struct weft_future *f)
{
	unsigned n = 0;

	/* acquire: pairs with the release that clears F_BUSY */
	while (atomic_load_explicit(&f->state, memory_order_acquire) &
	       F_BUSY) {
		if (++n < 128)
			weft__cpu_relax();
		else
			sched_yield();
	}
}

void weft_future_free(weft_future *f)
{
	struct future_cb *cb, *next;

	if (!f)
		return;
	if (f == running_cbs) {
		f->free_deferred = true;
		return;
	}
	weft__spin_lock(&f->lock);
	if (!weft__waitq_empty(&f->q))
		weft__panic("weft_future_free: tasks still await the future");
	weft__spin_unlock(&f->lock);
	settle(f);
	/* Callbacks of a future never set never run. */
	for (cb = f->cbs; cb; cb = next) {
		next = cb->next;
		if (cb != &f->cb0)
			weft__free(cb);
	}
	weft__free(f);
}

unsigned weft__future_waiters(weft_future *f)
{
	const struct weft__waiter *w;
	unsigned n = 0;

	weft__spin_lock(&f->lock);
	for (w = f->q.head; w; w = w->next)
		n++;
	weft__spin_unlock(&f->lock);
	return n;
}
