/*
 * Park/wake: the one primitive every suspension goes through.
 *
 * A task arms a park (weft__park_prepare), publishes a waker {task, gen}
 * wherever a waker will find it (a wait queue, a join slot, a timer), then
 * commits (weft__park_commit), which switches away unless a wake already
 * came.  Any thread may call weft__wake(task, gen, result) on that waker:
 * exactly one wake per park succeeds; stale wakers (an older gen) fail; a
 * wake that races the switch-out is never lost.
 *
 * A cancellable park also ends with -ECANCELED when the task is cancelled
 * (weft_cancel), at once if it already was; the caller must then retract
 * its waker, remembering that a real wake may have raced the cancel.
 */
#ifndef WEFT_RUNTIME_PARK_H
#define WEFT_RUNTIME_PARK_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/task.h"

/* Arm a park of the current task; returns the gen for its wakers.  A
 * shielded task's park is never cancellable.  The macro records where the
 * task waits (file and function), for weft_dump. */
uint32_t weft__park_prepare_at(bool cancellable, const char *file,
			       const char *func);
#define weft__park_prepare(cancellable) \
	weft__park_prepare_at((cancellable), __FILE__, __func__)

/* For weft_dump: "running", "runnable", "waiting" or "done". */
const char *weft__park_state(struct weft_task *t);

/* Suspend until woken; returns the wake's result, or -ECANCELED, or
 * -ETIMEDOUT when a deadline scope of the task passes (cancellable parks
 * only). */
int weft__park_commit(void);

/* The same, and also woken with 0 at `until` (absolute ns; a sleep). */
int weft__park_commit_until(uint64_t until);

/* Why a cancellable suspension of t must end at once: -ECANCELED,
 * -ETIMEDOUT (a deadline passed), or 0.  Level-triggered; 0 in a shield. */
int weft__interrupted(struct weft_task *t);

/* Wake t's park gen with result (>= 0, or a negative errno).  True when this
 * call was the one that woke it. */
bool weft__wake(struct weft_task *t, uint32_t gen, int result);

/* Wake t's current park with -ECANCELED if it is cancellable. */
void weft__wake_cancel(struct weft_task *t);

/* Called on the arrival side after t switched out to park. */
void weft__park_switched_out(struct weft_task *t);

/* Waker helpers: a task parked with gen, or a thread on a futex word. */
void weft__waker_fire(const struct weft__waker *w, int result);
/* Wake one thread blocked on a futex word. */
void weft__futex_wake(_Atomic uint32_t *word);
/* Block the calling (non-task) thread until *futex becomes non-zero. */
void weft__futex_wait_set(_Atomic uint32_t *futex);

#endif /* WEFT_RUNTIME_PARK_H */
