/*
 * Park/wake.
 *
 * The park word of a task (64 bits):
 *   bits 0-7   flags: P_WAITING (armed), P_CANCELLABLE, P_WOKEN, P_OFF_CPU
 *   bits 8-31  gen: which park this is (wakers name it)
 *   bits 32-63 the wake's result
 *
 * Two parties must agree before a parked task is queued again: the waker
 * (sets P_WOKEN) and the worker the task switched away from (sets P_OFF_CPU
 * on the arrival side, once the task's registers are saved).  Each does one
 * CAS; whoever comes second sees the other's bit and queues the task.  A
 * wake that lands before the task even switched (P_WOKEN seen in
 * weft__park_commit) skips the switch.  The task itself clears the word
 * when it runs again, so a stale waker's CAS, naming an old gen or finding
 * P_WAITING clear, fails.
 *
 * Cancellation: weft_cancel sets T_CANCELLED in the state word (seq_cst),
 * then reads the park word (seq_cst).  A task arms its park (seq_cst store),
 * then reads T_CANCELLED (seq_cst).  So either the canceller sees the armed
 * park and wakes it, or the task sees the flag and does not sleep.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/park.h"
#include "runtime/timer.h"
#include "runtime/worker.h"

#define P_WAITING 0x1ull
#define P_CANCELLABLE 0x2ull
#define P_WOKEN 0x4ull
#define P_OFF_CPU 0x8ull
#define P_FLAGS 0xffull
#define P_GEN_SHIFT 8
#define P_GEN_MASK 0xffffffull
#define P_GEN(w) ((uint32_t)(((w) >> P_GEN_SHIFT) & P_GEN_MASK))
#define P_RESULT(w) ((int)(int32_t)(uint32_t)((w) >> 32))

static uint64_t with_result(uint64_t w, int result)
{
	return (w & 0xffffffffull) | ((uint64_t)(uint32_t)result << 32);
}

uint32_t weft__park_prepare_at(bool cancellable, const char *file,
			       const char *func)
{
	struct weft_task *t = weft__tls_worker->current;
	uint64_t w = atomic_load_explicit(&t->park, memory_order_relaxed);
	uint32_t gen = (P_GEN(w) + 1) & P_GEN_MASK;
	uint64_t flags = P_WAITING;

	weft__task_set_wait(t, file, func, -1);
	if (cancellable && t->shield == 0)
		flags |= P_CANCELLABLE;
	/* seq_cst: the Dekker pair with weft_cancel (see top). */
	atomic_store_explicit(&t->park,
			      ((uint64_t)gen << P_GEN_SHIFT) | flags,
			      memory_order_seq_cst);
	return gen;
}

/* End our own park with result, unless someone woke it first. */
static void self_wake(struct weft_task *t, uint64_t w, int result)
{
	while (!(w & P_WOKEN)) {
		uint64_t n = with_result(w | P_WOKEN, result);

		if (atomic_compare_exchange_weak_explicit(
			    &t->park, &w, n, memory_order_acq_rel,
			    memory_order_acquire))
			return;
	}
}

int weft__interrupted(struct weft_task *t)
{
	if (t->shield)
		return 0;
	if (atomic_load_explicit(&t->state, memory_order_acquire) &
	    T_CANCELLED)
		return -ECANCELED;
	if (t->dl_min != WEFT__FOREVER && weft__now() >= t->dl_min)
		return -ETIMEDOUT;
	return 0;
}

/*
 * Arm t's timer for the earlier of `until` (result 0) and, for a
 * cancellable park, its deadline scopes (result -ETIMEDOUT).  Returns the
 * result to end the park with now when that time has already come, 1 when
 * the timer is armed, 0 when no timer is needed.
 */
static int arm_timer(struct worker *wk, struct weft_task *t, uint64_t w,
		     uint64_t until)
{
	uint64_t deadline = until;
	int result = 0;

	if ((w & P_CANCELLABLE) && t->dl_min < deadline) {
		deadline = t->dl_min;
		result = -ETIMEDOUT;
	}
	if (deadline == WEFT__FOREVER)
		return 0;
	/* Level-triggered: a deadline that has passed ends the park now,
	 * whether or not the wheel has caught up with the clock. */
	if (deadline <= weft__now())
		return result ? result : 2;
	t->timer.deadline = deadline;
	t->timer.task = t;
	t->timer.gen = P_GEN(w);
	t->timer.result = result;
	if (weft__timer_arm(&wk->timers, &t->timer)) {
		/* The worker's cached next poll (worker.c: poll_timers):
		 * the wheel's, which may come before the deadline when the
		 * wheel has entries to stage (timer.c). */
		uint64_t due = atomic_load_explicit(&wk->timers.next_due,
						    memory_order_relaxed);

		if (due < wk->timer_next)
			wk->timer_next = due;
		return 1;
	}
	/* Already due: a negative result, or a finished sleep (2 means 0). */
	return result ? result : 2;
}

int weft__park_commit_until(uint64_t until)
{
	struct worker *wk = weft__tls_worker;
	struct weft_task *t = wk->current;
	uint64_t w = atomic_load_explicit(&t->park, memory_order_seq_cst);
	int armed = 0, r;

	if (!(w & P_WOKEN) && (w & P_CANCELLABLE) &&
	    weft__task_cancel_pending(t))
		self_wake(t, w, -ECANCELED);
	else if (!(w & P_WOKEN))
		armed = arm_timer(wk, t, w, until);
	if (armed < 0 || armed == 2)
		self_wake(t, w, armed == 2 ? 0 : armed);
	w = atomic_load_explicit(&t->park, memory_order_acquire);
	if (!(w & P_WOKEN)) {
		weft__switch_away(SW_PARK);
		w = atomic_load_explicit(&t->park, memory_order_acquire);
	} else {
		weft__coop_tick(wk);
	}
	if (armed == 1)
		weft__timer_disarm(&t->timer);
	r = P_RESULT(w);
	/* Disarm: keep the gen so the next park gets a fresh one. */
	atomic_store_explicit(&t->park, w & ((uint64_t)P_GEN_MASK << P_GEN_SHIFT),
			      memory_order_relaxed);
	return r;
}

int weft__park_commit(void)
{
	return weft__park_commit_until(WEFT__FOREVER);
}

bool weft__wake(struct weft_task *t, uint32_t gen, int result)
{
	uint64_t w = atomic_load_explicit(&t->park, memory_order_acquire);

	for (;;) {
		if (P_GEN(w) != gen || !(w & P_WAITING) || (w & P_WOKEN))
			return false;
		if (atomic_compare_exchange_weak_explicit(
			    &t->park, &w, with_result(w | P_WOKEN, result),
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}
	/* The task is off its stack and nobody queued it: we do. */
	if (w & P_OFF_CPU)
		weft__schedule(t);
	return true;
}

void weft__wake_cancel(struct weft_task *t)
{
	uint64_t w = atomic_load_explicit(&t->park, memory_order_seq_cst);

	for (;;) {
		if (!(w & P_WAITING) || !(w & P_CANCELLABLE) || (w & P_WOKEN))
			return;
		if (atomic_compare_exchange_weak_explicit(
			    &t->park, &w, with_result(w | P_WOKEN, -ECANCELED),
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}
	if (w & P_OFF_CPU)
		weft__schedule(t);
}

void weft__park_switched_out(struct weft_task *t)
{
	uint64_t w = atomic_load_explicit(&t->park, memory_order_acquire);

	for (;;) {
		if (w & P_WOKEN) {
			/* The wake came while we were switching: the waker
			 * left the queueing to us. */
			weft__schedule(t);
			return;
		}
		/* release: the task's saved context is visible to the waker
		 * that sees P_OFF_CPU and queues it. */
		if (atomic_compare_exchange_weak_explicit(
			    &t->park, &w, w | P_OFF_CPU, memory_order_acq_rel,
			    memory_order_acquire))
			return;
	}
}

void weft__futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void weft__waker_fire(const struct weft__waker *w, int result)
{
	if (w->task) {
		weft__wake(w->task, w->gen, result);
		return;
	}
	/* release: pairs with the acquire in weft__futex_wait_set. */
	atomic_store_explicit(w->futex, 1, memory_order_release);
	weft__futex_wake(w->futex);
}

void weft__futex_wait_set(_Atomic uint32_t *word)
{
	while (!atomic_load_explicit(word, memory_order_acquire))
		syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL,
			0);
}

const char *weft__park_state(struct weft_task *t)
{
	uint64_t w = atomic_load_explicit(&t->park, memory_order_acquire);

	if (weft__task_done(t))
		return "done";
	if ((w & P_WAITING) && !(w & P_WOKEN))
		return "waiting";
	return "runnable";	/* the dump tells running ones apart */
}
