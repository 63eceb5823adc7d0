/*
 * Tasks: spawn, join, detach, cancel and the handle's lifetime.
 *
 * Join protocol.  The joiner fills t->joiner, then sets T_JOIN_WAITING with
 * a CAS that fails if T_COMPLETE is already set.  The finishing task sets
 * T_COMPLETE with one fetch_or and fires the joiner only if it saw
 * T_JOIN_WAITING.  A joiner that is cancelled while waiting takes its
 * T_JOIN_WAITING back (CAS, again failing if the task completed), cancels
 * the task and waits again without cancellation: join always waits for the
 * task to end, as asyncio's does.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "runtime/alloc.h"
#include "runtime/compiler.h"
#include "runtime/group.h"
#include "runtime/local.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/task_cache.h"
#include "runtime/worker.h"

static void task_free(struct weft_task *t)
{
	struct worker *w = weft__tls_worker;

	/* No references: a handle used after its release (a second join
	 * or detach) finds a zero count here and aborts with a message
	 * (weft__task_check_handle) instead of waiting forever or freeing
	 * the block twice.  Relaxed: nobody may legally read it now. */
	atomic_store_explicit(&t->state, 0, memory_order_relaxed);

	if (t->dl != t->dl_inline) {
		weft__free(t->dl);
		t->dl = t->dl_inline;
	}

	weft__tcb_free(w, t);
}

struct weft_task *weft__task_new(struct weft_runtime *rt, int (*fn)(void *),
				 void *arg, uint64_t id)
{
	struct weft_task *t = weft__tcb_alloc(rt, weft__tls_worker);

	if (!t)
		return NULL;
	t->stack = NULL;
	t->next = NULL;
	atomic_init(&t->state, 2 * T_REF_ONE);
	/* t->park keeps the gen of a recycled block: a waker left over from
	 * its previous life names an old gen and cannot wake this one. */
	t->fn = fn;
	t->arg = arg;
	t->status = 0;
	t->shield = 0;
	t->rt = rt;
	t->dl_min = WEFT__FOREVER;
	t->dl = t->dl_inline;
	t->dl_depth = 0;
	t->dl_cap = WEFT__DL_INLINE;
	t->timer.wheel = NULL;
	t->locals = NULL;
	t->group = NULL;
	t->home = NULL;
	t->id = id;
	t->name[0] = '\0';
	t->io_recv_hot_fd = -1;
	t->io_send_full_fd = -1;
	t->io_read_cold_fd = -1;
	return t;
}

void weft__task_unref(struct weft_task *t)
{
	uint64_t old = atomic_load_explicit(&t->state, memory_order_acquire);

	/* The last reference: nobody else can touch the block, so skip the
	 * read-modify-write (a detached task's exit then has none). */
	if (T_REFS(old) != 1)
		old = atomic_fetch_sub_explicit(&t->state, T_REF_ONE,
						memory_order_acq_rel);
	if (T_REFS(old) == 1)
		task_free(t);
}

static void report_failure(struct weft_task *t, int status)
{
	const weft_config *cfg = &t->rt->cfg;

	if (status >= 0 || status == -ECANCELED || !cfg->on_task_error)
		return;
	cfg->on_task_error(t, status, cfg->on_task_error_arg);
}

void weft__task_complete(struct weft_task *t, int status)
{
	uint64_t old;

	weft__locals_release(t);
	if (t->group)
		weft__group_child_done(t, status);
	old = atomic_load_explicit(&t->state, memory_order_acquire);
	t->status = status;
	if ((old & T_DETACHED) && T_REFS(old) == 1) {
		/* Detached and only our reference left: no joiner, and
		 * nobody will look at T_COMPLETE. */
		report_failure(t, status);
		return;
	}
	/* release: status before T_COMPLETE; acquire: the joiner's fields. */
	old = atomic_fetch_or_explicit(&t->state, T_COMPLETE,
				       memory_order_acq_rel);
	if (old & T_JOIN_WAITING) {
		weft__waker_fire(&t->joiner, 0);
		/* release: a joiner that lost its wake to a cancel waits for
		 * this before it may leave (and its block be reused). */
		atomic_fetch_or_explicit(&t->state, T_JOIN_FIRED,
					 memory_order_release);
	}
	if (old & T_DETACHED)
		report_failure(t, status);
}

/* ------------------------------------------------------------------ spawn */

weft_task *weft__spawn_in(struct weft_group *g, int (*fn)(void *), void *arg)
{
	struct worker *w = weft__tls_worker;
	struct weft_task *t;

	if (!fn) {
		errno = EINVAL;
		return NULL;
	}
	if (!w || !w->current) {
		errno = EPERM;
		return NULL;
	}
	t = weft__task_new(w->rt, fn, arg,
			   (++w->next_id << 16) | (w->index + 1));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->group = g;
	if (weft__locals_inherit(t, w->current) < 0) {
		task_free(t);
		errno = ENOMEM;
		return NULL;
	}
	weft__worker_spawned(w, t);
	return t;
}

/* Never a suspension point (API.md: not (S)): a spawn does not spend coop
 * budget, so code holding a lock of its own may spawn.  A yield every 128
 * spawns made spawn_many twice as fast (its worker ran the children while
 * hot), but would make every spawn a place where the task may switch out. */
weft_task *weft_spawn(int (*fn)(void *), void *arg)
{
	return weft__spawn_in(NULL, fn, arg);
}

/* A task on rt from outside its workers; main: it is weft_run's main task
 * (known before anything can run it), queued on worker 0, whose loop the
 * calling thread is about to run. */
static weft_task *spawn_outside(weft_runtime *rt, int (*fn)(void *),
				void *arg, bool main)
{
	struct weft_task *t;
	uint64_t id;

	if (atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
		errno = ECANCELED;
		return NULL;
	}
	id = atomic_fetch_add_explicit(&rt->ext_ids, 1, memory_order_relaxed);
	t = weft__task_new(rt, fn, arg, (id + 1) << 16);
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_fetch_add_explicit(&rt->ext_spawned, 1, memory_order_release);
	if (main) {
		rt->main_task = t;
		weft__worker_seed(rt->workers[0], t);
	} else {
		weft__schedule(t);
	}
	return t;
}

weft_task *weft_spawn_on(weft_runtime *rt, int (*fn)(void *), void *arg)
{
	struct worker *w = weft__tls_worker;

	if (!rt || !fn) {
		errno = EINVAL;
		return NULL;
	}
	if (w && w->rt == rt && w->current)
		return weft_spawn(fn, arg);
	return spawn_outside(rt, fn, arg, false);
}

weft_task *weft__spawn_main(weft_runtime *rt, int (*fn)(void *), void *arg)
{
	return spawn_outside(rt, fn, arg, true);
}

/* ------------------------------------------------------------------- join */

void weft__task_check_handle(const struct weft_task *t, const char *call,
			     bool releases)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
	unsigned long long id = (unsigned long long)t->id;

	if (T_REFS(s) == 0 || (s & T_RELEASED))
		weft__panic("%s: the task handle was already released "
			    "(joined or detached)", call);
	if (s & T_DETACHED)
		weft__panic("%s: task %llu was detached", call, id);
	/* The joiner slot holds one waiter: a second would never wake. */
	if ((s & T_JOIN_WAITING) && !(s & T_COMPLETE))
		weft__panic("%s: task %llu is already being joined or waited "
			    "for by another task", call, id);
	if (releases && t->group)
		weft__panic("%s: task %llu belongs to a group (its handle is "
			    "for weft_cancel only)", call, id);
}

/* Publish T_JOIN_WAITING; false if t completed first. */
bool weft__join_register(struct weft_task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);

	do {
		if (s & T_COMPLETE)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, s | T_JOIN_WAITING, memory_order_acq_rel,
		memory_order_acquire));
	return true;
}

/* Withdraw T_JOIN_WAITING; false if t completed (and fired) first. */
bool weft__join_unregister(struct weft_task *t)
{
	uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);

	do {
		if (s & T_COMPLETE)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&t->state, &s, s & ~(uint64_t)T_JOIN_WAITING,
		memory_order_acq_rel, memory_order_acquire));
	return true;
}

/* A handful of instructions away, unless the completer's thread was
 * preempted there: then give the CPU up rather than spin out its slice. */
void weft__join_settle(struct weft_task *t)
{
	unsigned n = 0;

	while (!(atomic_load_explicit(&t->state, memory_order_acquire) &
		 T_JOIN_FIRED)) {
		if (++n < 64)
			weft__cpu_relax();
		else
			sched_yield();
	}
}

/*
 * Wait in a task until t completes.  Returns 0, or the error that
 * interrupted the wait (-ECANCELED, -ETIMEDOUT): t was then cancelled and
 * still awaited, as asyncio does for an awaited task.
 */
static int join_wait(struct weft_task *self, struct weft_task *t)
{
	bool cancellable = true;
	uint32_t gen;
	int err = 0, r;

	for (;;) {
		gen = weft__park_prepare(cancellable);
		t->joiner.task = self;
		t->joiner.gen = gen;
		t->joiner.futex = NULL;
		if (!weft__join_register(t)) {
			/* Completed before we slept: consume the armed park
			 * by waking it ourselves. */
			weft__wake(self, gen, 0);
			weft__park_commit();
			return err;
		}
		r = weft__park_commit();
		if (r >= 0)
			return err;
		if (!weft__join_unregister(t)) {
			/* t completed as we were interrupted and is about to
			 * wake us (in vain: the interruption took the wake).
			 * Wait until it has, so it never touches a finished
			 * task. */
			weft__join_settle(t);
			return r;
		}
		weft_cancel(t);
		err = r;
		cancellable = false;
	}
}

static void join_foreign(struct weft_task *t)
{
	_Atomic uint32_t done = 0;

	t->joiner.task = NULL;
	t->joiner.gen = 0;
	t->joiner.futex = &done;
	if (weft__join_register(t))
		weft__futex_wait_set(&done);
}

/*
 * Drop the joiner's reference.  If the task's own is still held (its
 * worker has yet to let go), mark the handle released in the same RMW, so
 * a second join or detach is caught whichever reference goes last; when
 * ours is the last, task_free zeroes the word instead.
 */
static void join_release(struct weft_task *t)
{
	uint64_t old = atomic_load_explicit(&t->state, memory_order_acquire);

	if (T_REFS(old) != 1)
		old = atomic_fetch_add_explicit(&t->state,
						T_RELEASED - T_REF_ONE,
						memory_order_acq_rel);
	if (T_REFS(old) == 1)
		task_free(t);
}

int weft_join(weft_task *t)
{
	struct worker *w = weft__tls_worker;
	struct weft_task *self;
	int err = 0, r;

	WEFT__CHECK(t, -EINVAL);
	self = w ? w->current : NULL;
	if (w && !self)
		return -EPERM; /* a worker's loop or callback: would block it */
	if (self == t)
		weft__panic("weft_join: a task cannot join itself");
	weft__task_check_handle(t, "weft_join", true);
	if (!self)
		join_foreign(t);
	else if (!(atomic_load_explicit(&t->state, memory_order_acquire) &
		   T_COMPLETE))
		err = join_wait(self, t);
	else
		weft__coop_tick(w);
	/* acquire: pairs with the release of T_COMPLETE. */
	atomic_load_explicit(&t->state, memory_order_acquire);
	r = err ? err : t->status;
	join_release(t);
	return r;
}

/* Release a handle whose failures are reported elsewhere (a group's). */
void weft__detach_quiet(struct weft_task *t)
{
	weft__task_unref(t);
}

void weft_detach(weft_task *t)
{
	uint64_t old;

	if (!t)
		return;
	/* Before the decrement: a released or borrowed handle must not
	 * touch the count (a free block, or the group's reference). */
	old = atomic_load_explicit(&t->state, memory_order_acquire);
	if (T_REFS(old) == 0 || (old & T_RELEASED))
		weft__panic("weft_detach: the task handle was already "
			    "released (joined or detached)");
	if (old & T_DETACHED)
		weft__panic("weft_detach: task %llu detached twice",
			    (unsigned long long)t->id);
	if (t->group)
		weft__panic("weft_detach: task %llu belongs to a group (its "
			    "handle is for weft_cancel only)",
			    (unsigned long long)t->id);
	old = atomic_fetch_add_explicit(&t->state, T_DETACHED - T_REF_ONE,
					memory_order_acq_rel);
	if (old & T_DETACHED)
		weft__panic("weft_detach: task %llu detached twice",
			    (unsigned long long)t->id);
	if (old & T_COMPLETE)
		report_failure(t, t->status);
	if (T_REFS(old) == 1)
		task_free(t);
}

/* ----------------------------------------------------------------- yield */

int weft_yield(void)
{
	struct worker *w = weft__tls_worker;

	int r;

	if (!w || !w->current)
		return -EPERM;
	r = weft__interrupted(w->current);
	if (r)
		return r;
	weft__switch_away(SW_YIELD);
	return 0;
}

/* ------------------------------------------------------------ cancellation */

void weft_cancel(weft_task *t)
{
	uint64_t old;

	if (!t)
		return;
	/* A freed block (its handle released): setting a bit in it would
	 * corrupt it.  (Not T_RELEASED: the runtime itself cancels joined
	 * tasks still on its live lists at shutdown.) */
	old = atomic_load_explicit(&t->state, memory_order_relaxed);
	if (T_REFS(old) == 0)
		weft__panic("weft_cancel: the task handle was already "
			    "released (joined or detached)");
	/* seq_cst: the Dekker pair with weft__park_prepare (park.c). */
	old = atomic_fetch_or_explicit(&t->state, T_CANCELLED,
				       memory_order_seq_cst);
	if (old & (T_COMPLETE | T_CANCELLED))
		return;
	weft__wake_cancel(t);
}

bool weft_cancelled(void)
{
	struct worker *w = weft__tls_worker;

	return w && w->current &&
	       (atomic_load_explicit(&w->current->state,
				     memory_order_acquire) & T_CANCELLED);
}

void weft_shield_begin(void)
{
	struct worker *w = weft__tls_worker;

	if (w && w->current)
		w->current->shield++;
}

void weft_shield_end(void)
{
	struct worker *w = weft__tls_worker;

	if (!w || !w->current)
		return;
	if (w->current->shield == 0)
		weft__panic("weft_shield_end: no shield is open");
	w->current->shield--;
}

/* ------------------------------------------------------------ identity */

weft_task *weft_self(void)
{
	struct worker *w = weft__tls_worker;

	return w ? w->current : NULL;
}

bool weft_in_task(void)
{
	return weft_self() != NULL;
}

int weft_task_set_name(weft_task *t, const char *name)
{
	WEFT__CHECK(t && name, -EINVAL);
	strncpy(t->name, name, sizeof(t->name) - 1);
	t->name[sizeof(t->name) - 1] = '\0';
	return 0;
}

const char *weft_task_name(const weft_task *t)
{
	return t ? t->name : "";
}

uint64_t weft_task_id(const weft_task *t)
{
	return t ? t->id : 0;
}
