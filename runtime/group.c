/*
 * Task groups.
 *
 * A group holds a handle (a reference) on each child until weft_group_wait
 * returns, so the handles it gives out stay valid for weft_cancel and the
 * group may cancel its children at any time.  A child tells its group when
 * it completes (weft__group_child_done, called from weft__task_complete):
 * under the group's lock it records a failure, cancels its siblings on the
 * first one, and wakes the waiter when it was the last child.  The waiter
 * takes the lock again before it returns, so a child that woke it has left
 * the group before the group can be freed.
 *
 * States: open -> failing (a child failed) or cancelled (weft_group_cancel,
 * or its waiter interrupted) -> waited.  Spawning is refused in every state
 * but open.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/group.h"
#include "runtime/park.h"
#include "runtime/task.h"
#include "runtime/worker.h"

struct weft_group {
	pthread_mutex_t lock;
	struct weft_task **children;	/* handles; under lock */
	size_t n, cap;
	size_t live;			/* children not yet complete */
	int first_failure;		/* 0 until a child fails */
	bool cancelled;
	bool waited;
	int *errors;			/* failures, oldest first */
	size_t nerr, errcap;
	struct weft__waker waiter;	/* valid while has_waiter */
	bool has_waiter;
};

weft_group *weft_group_new(void)
{
	struct weft_group *g = weft__calloc(1, sizeof(*g));

	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

static bool open_locked(struct weft_group *g)
{
	return !g->cancelled && !g->first_failure && !g->waited;
}

/* Cancel every child still running; under lock. */
static void cancel_children_locked(struct weft_group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		weft_cancel(g->children[i]);
}

static int reserve_locked(struct weft_group *g)
{
	struct weft_task **c;
	size_t cap = g->cap ? g->cap * 2 : 8;

	if (g->n < g->cap)
		return 0;
	c = weft__malloc(cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (g->n)
		memcpy(c, g->children, g->n * sizeof(*c));
	weft__free(g->children);
	g->children = c;
	g->cap = cap;
	return 0;
}

weft_task *weft_group_spawn(weft_group *g, int (*fn)(void *), void *arg)
{
	struct weft_task *t;
	int r = 0;

	if (!g || !fn) {
		errno = EINVAL;
		return NULL;
	}
	if (!weft_in_task()) {
		errno = EPERM;
		return NULL;
	}
	pthread_mutex_lock(&g->lock);
	if (!open_locked(g))
		r = -ECANCELED;
	else
		r = reserve_locked(g);
	if (r == 0) {
		/* Created and queued, but it cannot run before we suspend:
		 * it waits in our worker's LIFO slot. */
		t = weft__spawn_in(g, fn, arg);
		if (!t)
			r = -errno;
	}
	if (r == 0) {
		g->children[g->n++] = t;
		g->live++;
	}
	pthread_mutex_unlock(&g->lock);
	if (r) {
		errno = -r;
		return NULL;
	}
	return t;
}

static void add_error_locked(struct weft_group *g, int status)
{
	size_t cap = g->errcap ? g->errcap * 2 : 4;
	int *e;

	if (g->nerr == g->errcap) {
		e = weft__malloc(cap * sizeof(*e));
		if (!e)
			return; /* the count stays right; the list is short */
		if (g->nerr)
			memcpy(e, g->errors, g->nerr * sizeof(*e));
		weft__free(g->errors);
		g->errors = e;
		g->errcap = cap;
	}
	g->errors[g->nerr++] = status;
}

void weft__group_child_done(struct weft_task *t, int status)
{
	struct weft_group *g = t->group;

	pthread_mutex_lock(&g->lock);
	/* A child's -ECANCELED is never a group failure. */
	if (status < 0 && status != -ECANCELED) {
		add_error_locked(g, status);
		if (!g->first_failure) {
			g->first_failure = status;
			cancel_children_locked(g);
		}
	}
	if (--g->live == 0 && g->has_waiter) {
		g->has_waiter = false;
		weft__waker_fire(&g->waiter, 0);
	}
	pthread_mutex_unlock(&g->lock);
}

void weft_group_cancel(weft_group *g)
{
	if (!g)
		return;
	if (weft_self() && weft_self()->group == g)
		weft__panic("weft_group_free: called from a child of the "
			    "group (it would wait for itself)");
	pthread_mutex_lock(&g->lock);
	if (!g->waited) {
		g->cancelled = true;
		cancel_children_locked(g);
	}
	pthread_mutex_unlock(&g->lock);
}

size_t weft_group_errors(weft_group *g, int *out, size_t cap)
{
	size_t n, i;

	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	n = g->nerr;
	for (i = 0; out && i < n && i < cap; i++)
		out[i] = g->errors[i];
	pthread_mutex_unlock(&g->lock);
	return n;
}

/*
 * Wait, under g->lock (dropped while asleep), until every child has
 * completed.  An interrupted waiter (cancel, deadline) cancels the group
 * and keeps waiting, without interruptions, as asyncio's TaskGroup does;
 * the interruption is returned.  Outside a task (weft_group_free from a
 * plain thread) the thread sleeps on a futex.
 */
static int wait_children_locked(struct weft_group *g)
{
	struct weft_task *self = weft_self();
	bool cancellable = true;
	_Atomic uint32_t done;
	int err = 0, r;

	while (g->live) {
		g->has_waiter = true;
		g->waiter.task = self;
		g->waiter.futex = self ? NULL : &done;
		if (self)
			g->waiter.gen = weft__park_prepare(cancellable);
		else
			atomic_init(&done, 0);
		pthread_mutex_unlock(&g->lock);
		r = self ? weft__park_commit() : (weft__futex_wait_set(&done), 0);
		pthread_mutex_lock(&g->lock);
		if (r < 0) {
			/* Interrupted: we may still be registered. */
			g->has_waiter = false;
			if (!err) {
				err = r;
				g->cancelled = true;
				cancel_children_locked(g);
			}
			cancellable = false;
		}
	}
	return err;
}

/* The group is done: give back the children's handles; under lock. */
static void release_children_locked(struct weft_group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		weft__detach_quiet(g->children[i]);
	g->n = 0;
	g->waited = true;
}

int weft_group_wait(weft_group *g)
{
	int err, r;

	WEFT__CHECK(g, -EINVAL);
	if (!weft_in_task())
		return -EPERM;
	/* A child waiting for its own group would wait for itself. */
	if (weft_self()->group == g)
		return -EDEADLK;
	pthread_mutex_lock(&g->lock);
	/* has_waiter: another task waits now; the waiter slot holds one. */
	if (g->waited || g->has_waiter) {
		pthread_mutex_unlock(&g->lock);
		weft__panic("weft_group_wait: group waited twice");
	}
	err = wait_children_locked(g);
	if (g->first_failure)
		r = g->first_failure;
	else if (g->cancelled)
		r = err ? err : -ECANCELED;
	else
		r = 0;
	release_children_locked(g);
	pthread_mutex_unlock(&g->lock);
	return r;
}

void weft_group_free(weft_group *g)
{
	if (!g)
		return;
	if (weft_self() && weft_self()->group == g)
		weft__panic("weft_group_free: called from a child of the "
			    "group (it would wait for itself)");
	pthread_mutex_lock(&g->lock);
	if (!g->waited) {
		g->cancelled = true;
		cancel_children_locked(g);
		weft_shield_begin();
		wait_children_locked(g);
		weft_shield_end();
		release_children_locked(g);
	}
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_destroy(&g->lock);
	weft__free(g->children);
	weft__free(g->errors);
	weft__free(g);
}
