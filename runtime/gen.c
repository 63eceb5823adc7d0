/*
 * Async generators: a producer task and a consumer hand items over one at
 * a time, as in a Python async generator: the producer runs only between
 * a weft_gen_next that resumes it and its next weft_gen_yield.
 *
 * The hand-off is park/wake: the side that hands over wakes the other,
 * which lands in this worker's LIFO slot and so runs next, on the same
 * worker, without passing through the run queues; then it parks.  States,
 * under g->lock:
 *   IDLE      the producer has not started
 *   RUNNING   the producer runs towards its next yield (or its end)
 *   PARKED    the producer waits in yield for the consumer to resume it;
 *             g->has_item says whether the item it yielded is still to
 *             be taken (a consumer interrupted in next left it there)
 *   DONE      the producer returned; g->status is its status
 * The consumer waits in next for an item or the end; the producer waits
 * in yield to be resumed (0) or closed (-ECANCELED).  Wakes happen under
 * the lock and each side takes the lock again before it returns, so a
 * waker is done with g before anyone can free it.
 */
#include <errno.h>
#include <pthread.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/park.h"
#include "runtime/task.h"
#include "runtime/worker.h"

enum gen_state { IDLE, RUNNING, PARKED, DONE };

struct weft_gen {
	pthread_mutex_t lock;
	int (*fn)(weft_gen *, void *);
	void *arg;
	struct weft_task *producer;	/* handle, joined by close */
	enum gen_state state;
	bool closing;
	bool has_item;
	void *item;
	int status;			/* the producer's, once DONE */
	bool status_told;		/* a negative status is returned once */
	struct weft__waker consumer;	/* valid while has_consumer */
	bool has_consumer;
	struct weft__waker resume;	/* the producer parked in yield */
};

weft_gen *weft_gen_new(int (*fn)(weft_gen *, void *), void *arg)
{
	struct weft_gen *g;

	if (!fn) {
		errno = EINVAL;
		return NULL;
	}
	g = weft__calloc(1, sizeof(*g));
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	g->fn = fn;
	g->arg = arg;
	return g;
}

static void wake_consumer_locked(struct weft_gen *g, int result)
{
	if (g->has_consumer) {
		g->has_consumer = false;
		weft__wake(g->consumer.task, g->consumer.gen, result);
	}
}

static int producer_main(void *arg)
{
	struct weft_gen *g = arg;
	int r = g->fn(g, g->arg);

	pthread_mutex_lock(&g->lock);
	g->state = DONE;
	g->status = r;
	wake_consumer_locked(g, 0);
	pthread_mutex_unlock(&g->lock);
	return r;
}

int weft_gen_yield(weft_gen *g, void *item)
{
	struct weft_task *self = weft_self();
	int r;

	WEFT__CHECK(g, -EINVAL);
	if (!self || self != g->producer)
		return -EPERM;
	pthread_mutex_lock(&g->lock);
	if (g->closing) {
		pthread_mutex_unlock(&g->lock);
		return -ECANCELED;
	}
	g->item = item;
	g->has_item = true;
	g->state = PARKED;
	/* Not cancellable by deadlines or cancel: the producer is ended
	 * by close (or by the shutdown, which cancels every task: below). */
	g->resume.task = self;
	g->resume.gen = weft__park_prepare(true);
	wake_consumer_locked(g, 1);
	pthread_mutex_unlock(&g->lock);
	r = weft__park_commit();
	pthread_mutex_lock(&g->lock);
	if (r < 0 || g->closing) {
		/* Closed, or the producer itself was cancelled. */
		g->state = RUNNING;
		pthread_mutex_unlock(&g->lock);
		return r < 0 ? r : -ECANCELED;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* Start or resume the producer; under lock.  -errno if it cannot start. */
static int resume_locked(struct weft_gen *g)
{
	if (g->state == IDLE) {
		g->producer = weft_spawn(producer_main, g);
		if (!g->producer)
			return -errno;
	} else {
		weft__wake(g->resume.task, g->resume.gen, 0);
	}
	g->state = RUNNING;
	return 0;
}

/* The end: the producer's negative status once, then 0. */
static int end_locked(struct weft_gen *g)
{
	if (g->status < 0 && !g->status_told) {
		g->status_told = true;
		return g->status;
	}
	return 0;
}

int weft_gen_next(weft_gen *g, void **item)
{
	struct weft_task *self = weft_self();
	int r = 0;

	WEFT__CHECK(g && item, -EINVAL);
	if (!self)
		return -EPERM;
	pthread_mutex_lock(&g->lock);
	/* Issue 7: the producer asking itself for an item would wait for
	 * itself; a second consumer would take the first one's waker slot
	 * and leave it asleep for good. */
	if (self == g->producer || g->has_consumer) {
		r = self == g->producer ? -EDEADLK : -EBUSY;
		pthread_mutex_unlock(&g->lock);
		return r;
	}
	if (g->state == PARKED && !g->has_item)
		r = resume_locked(g);		/* item taken: go on */
	else if (g->state == IDLE)
		r = resume_locked(g);
	while (r == 0 && g->state == RUNNING) {
		g->has_consumer = true;
		g->consumer.task = self;
		g->consumer.gen = weft__park_prepare(true);
		pthread_mutex_unlock(&g->lock);
		r = weft__park_commit();
		pthread_mutex_lock(&g->lock);
		if (r < 0)
			g->has_consumer = false;	/* interrupted */
		else
			r = 0;
	}
	if (r == 0 && g->state == PARKED && g->has_item) {
		*item = g->item;
		g->has_item = false;
		r = 1;
	} else if (r == 0 && g->state == DONE) {
		r = end_locked(g);
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

void weft_gen_close(weft_gen *g)
{
	struct weft_task *p;

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	if (g->producer && g->producer == weft_self()) {
		pthread_mutex_unlock(&g->lock);
		weft__panic("weft_gen_close: called from the generator's own "
			    "producer (it would wait for itself)");
	}
	g->closing = true;
	if (g->state == PARKED)
		weft__wake(g->resume.task, g->resume.gen, -ECANCELED);
	p = g->producer;
	pthread_mutex_unlock(&g->lock);
	if (p) {
		/* The producer cleans up (its yields now fail) and returns;
		 * nothing cuts that short. */
		weft_shield_begin();
		weft_join(p);
		weft_shield_end();
	}
	pthread_mutex_lock(&g->lock);
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_destroy(&g->lock);
	weft__free(g);
}
