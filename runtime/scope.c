/*
 * Time, sleeps and deadline scopes.
 *
 * A task's open deadline scopes form a stack in its control block; each
 * records the earliest deadline in force outside it, so the one in force
 * inside (dl_min) is a min with the new deadline on push and a restore on
 * pop: O(1) both ways.  Nothing is armed at push: a timer is armed only
 * when the task parks with a deadline in force (park.c), and a passed
 * deadline is noticed at the task's next suspension (level-triggered, like
 * cancellation; shields hold it off).
 */
#include <errno.h>
#include <string.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/park.h"
#include "runtime/task.h"
#include "runtime/timer.h"
#include "runtime/worker.h"

uint64_t weft_now(void)
{
	return weft__now();
}

static struct weft_task *current(void)
{
	struct worker *w = weft__tls_worker;

	return w ? w->current : NULL;
}

int weft_sleep_until(uint64_t deadline)
{
	struct weft_task *t = current();
	int r;

	if (!t)
		return -EPERM;
	r = weft__interrupted(t);
	if (r)
		return r;
	if (deadline <= weft__now())
		return weft_yield();
	weft__park_prepare(true);
	return weft__park_commit_until(deadline);
}

/* ns from now, saturating: WEFT_FOREVER and huge values never wrap. */
static uint64_t after(uint64_t ns)
{
	uint64_t now = weft__now();

	return ns >= WEFT__FOREVER - now ? WEFT__FOREVER : now + ns;
}

int weft_sleep(uint64_t ns)
{
	if (!current())
		return -EPERM;
	return weft_sleep_until(after(ns));
}

/* Room for one more scope: the inline four, then a doubling heap array. */
static int grow(struct weft_task *t)
{
	uint32_t cap = t->dl_cap * 2;
	struct weft__dl_scope *dl;

	if (t->dl_depth < t->dl_cap)
		return 0;
	dl = weft__malloc(cap * sizeof(*dl));
	if (!dl)
		return -ENOMEM;
	memcpy(dl, t->dl, t->dl_depth * sizeof(*dl));
	if (t->dl != t->dl_inline)
		weft__free(t->dl);
	t->dl = dl;
	t->dl_cap = cap;
	return 0;
}

int weft_deadline_push(uint64_t ns_from_now)
{
	struct weft_task *t = current();
	struct weft__dl_scope *s;
	int r;

	if (!t)
		return -EPERM;
	r = grow(t);
	if (r)
		return r;
	s = &t->dl[t->dl_depth++];
	s->deadline = after(ns_from_now);
	s->outer_min = t->dl_min;
	if (s->deadline < t->dl_min)
		t->dl_min = s->deadline;
	return 0;
}

int weft_deadline_pop(void)
{
	struct weft_task *t = current();
	struct weft__dl_scope *s;

	if (!t)
		return -EPERM;
	if (t->dl_depth == 0)
		return -EINVAL;
	s = &t->dl[--t->dl_depth];
	t->dl_min = s->outer_min;
	return s->deadline != WEFT__FOREVER && weft__now() >= s->deadline;
}

int weft_join_timeout(weft_task *task, uint64_t ns)
{
	int r, expired;

	WEFT__CHECK(task, -EINVAL);
	if (!current())
		return -EPERM;
	/* Here, so that a misuse names this call rather than weft_join. */
	weft__task_check_handle(task, "weft_join_timeout", true);
	r = weft_deadline_push(ns);
	if (r) {
		/* No scope: still release the handle, as promised. */
		weft_cancel(task);
		weft_join(task);
		return r;
	}
	r = weft_join(task);
	expired = weft_deadline_pop();
	/* Our scope's deadline (not an outer one) made the join give up. */
	if (r == -ETIMEDOUT && expired != 1)
		return -ETIMEDOUT;
	return r;
}
