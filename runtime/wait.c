/*
 * Combinators: gather, wait (FIRST_COMPLETED, FIRST_EXCEPTION,
 * ALL_COMPLETED) and next_done (as_completed).
 *
 * All of them rest on wait_any: register the caller as the joiner of every
 * pending task of a set (one park generation shared by all), park until the
 * first completion or an interruption, then unregister from the others.  A
 * task that completes while we unregister settles with us (task.c) before
 * we move on, so no completer ever touches a waiter that has left.  Each
 * call is O(n); a loop of next_done over n tasks is O(n^2), fine for the
 * hundreds asyncio programs pass to as_completed.
 */
#include <errno.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/park.h"
#include "runtime/task.h"
#include "runtime/worker.h"

/* A task that completed with a failure (a cancelled one did not fail). */
static bool failed(struct weft_task *t)
{
	return t->status < 0 && t->status != -ECANCELED;
}

/*
 * Park until one of ts[0..n) (NULL slots skipped) completes.  0, or the
 * interruption (-ECANCELED, -ETIMEDOUT) of a cancellable wait.
 */
static int wait_any(weft_task **ts, size_t n, bool cancellable)
{
	struct weft_task *self = weft_self();
	uint32_t gen = weft__park_prepare(cancellable);
	size_t i, k;
	int r;

	for (k = 0; k < n; k++) {
		if (!ts[k])
			continue;
		ts[k]->joiner.task = self;
		ts[k]->joiner.gen = gen;
		ts[k]->joiner.futex = NULL;
		if (!weft__join_register(ts[k])) {
			weft__wake(self, gen, 0); /* already done */
			break;
		}
	}
	r = weft__park_commit();
	for (i = 0; i < k; i++)
		if (ts[i] && !weft__join_unregister(ts[i]))
			weft__join_settle(ts[i]);
	return r < 0 ? r : 0;
}

/* Index of a done task meeting `when`, or n. */
static size_t find_done(weft_task **ts, size_t n, weft_when when)
{
	size_t i, done = 0;

	for (i = 0; i < n; i++) {
		if (!ts[i] || !weft__task_done(ts[i]))
			continue;
		done++;
		if (when == WEFT_FIRST_COMPLETED ||
		    (when == WEFT_FIRST_EXCEPTION && failed(ts[i])))
			return i;
	}
	/* FIRST_EXCEPTION with no failure falls back to ALL_COMPLETED. */
	return done == n ? n - 1 : n;
}

int weft_wait(weft_task **ts, size_t n, weft_when when, uint64_t timeout_ns,
	      size_t *first_done)
{
	size_t i;
	int r = 0, expired;

	WEFT__CHECK(n == 0 || ts, -EINVAL);
	WEFT__CHECK(when == WEFT_FIRST_COMPLETED || when == WEFT_ALL_COMPLETED ||
			    when == WEFT_FIRST_EXCEPTION, -EINVAL);
	for (i = 0; i < n; i++)
		WEFT__CHECK(ts[i], -EINVAL);
	for (i = 0; i < n; i++)
		weft__task_check_handle(ts[i], "weft_wait", false);
	if (!weft_in_task())
		return -EPERM;
	if (n == 0)
		return 0;
	if (timeout_ns != WEFT_FOREVER && (r = weft_deadline_push(timeout_ns)))
		return r;
	while ((i = find_done(ts, n, when)) == n && r == 0)
		r = wait_any(ts, n, true);
	if (timeout_ns != WEFT_FOREVER) {
		expired = weft_deadline_pop();
		/* Only our own timeout is "the condition did not hold in
		 * time"; an outer deadline passes its error through. */
		if (r == -ETIMEDOUT && expired != 1)
			return r;
	}
	if (r)
		return r;
	if (first_done)
		*first_done = i;
	return 0;
}

weft_task *weft_next_done(weft_task **ts, size_t n)
{
	weft_task *t;
	size_t i;
	int r = 0;

	if (n && !ts) {
		errno = EINVAL;
		return NULL;
	}
	if (!weft_in_task()) {
		errno = EPERM;
		return NULL;
	}
	for (;;) {
		size_t live = 0;

		for (i = 0; i < n; i++) {
			if (!ts[i])
				continue;
			weft__task_check_handle(ts[i], "weft_next_done", false);
			live++;
			if (weft__task_done(ts[i])) {
				t = ts[i];
				ts[i] = NULL;
				return t;
			}
		}
		if (!live || r) {
			errno = live ? -r : 0;
			return NULL;
		}
		r = wait_any(ts, n, true);
	}
}

/* Sequential joins: statuses in input order.  A cancelled caller cancels
 * each remaining task in turn (join's rule) and returns -ECANCELED. */
static int gather_all(weft_task **ts, size_t n, int *statuses)
{
	int r, err = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		r = weft_join(ts[i]);
		if (weft__interrupted(weft_self()) && !err &&
		    (r == -ECANCELED || r == -ETIMEDOUT))
			err = r;
		statuses[i] = r;
	}
	return err;
}

/* Wait for all, in completion order: the first failure in time wins.
 * left: scratch room for n handles. */
static int gather_first(weft_task **ts, size_t n, weft_task **left)
{
	int first = 0, err = 0, r;
	weft_task *t;
	size_t i;

	for (i = 0; i < n; i++)
		left[i] = ts[i];
	while ((t = weft_next_done(left, n)) || errno) {
		if (!t) {
			/* Interrupted: cancel the rest, await them all. */
			err = -errno;
			for (i = 0; i < n; i++)
				if (left[i])
					weft_cancel(left[i]);
			weft_shield_begin();
			while ((t = weft_next_done(left, n)))
				weft_join(t);
			weft_shield_end();
			break;
		}
		r = t->status;
		weft_join(t);
		if (!first && r < 0 && r != -ECANCELED)
			first = r;
	}
	return err ? err : first;
}

int weft_gather(weft_task **ts, size_t n, int *statuses)
{
	weft_task **left;
	size_t i;
	int r;

	WEFT__CHECK(n == 0 || ts, -EINVAL);
	for (i = 0; i < n; i++)
		WEFT__CHECK(ts[i], -EINVAL);
	for (i = 0; i < n; i++)
		weft__task_check_handle(ts[i], "weft_gather", true);
	if (!weft_in_task())
		return -EPERM;
	if (statuses)
		return gather_all(ts, n, statuses);
	left = weft__malloc(n ? n * sizeof(*left) : 1);
	if (left) {
		r = gather_first(ts, n, left);
		weft__free(left);
		return r;
	}
	/* No room to track completion order: input order it is. */
	for (i = 0, r = 0; i < n; i++) {
		int s = weft_join(ts[i]);

		if (!r && s < 0 && s != -ECANCELED)
			r = s;
	}
	return r;
}
