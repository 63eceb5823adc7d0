/*
 * Idle accounting.  state packs (unparked << 16 | searching) so that the
 * notify check is one load.  Transitions to and from "parked" and the
 * choice of whom to wake happen under the mutex, so two notifiers never
 * pick the same sleeper and a parked worker is counted exactly once.
 *
 * No lost wake-up: a producer publishes its task, fences (seq_cst), then
 * loads state.  A worker going to park updates state under the lock with a
 * seq_cst RMW and then, if it was the last searcher, re-checks every queue
 * (worker.c).  Either the producer sees a searcher (who will find the task or
 * hand the search on) or the parking worker sees the task.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime/alloc.h"
#include "runtime/idle.h"
#include "runtime/worker.h"

#define SEARCH_ONE 1u
#define UNPARK_ONE (1u << 16)
#define SEARCHING(s) ((s) & 0xffffu)
#define UNPARKED(s) ((s) >> 16)

int weft__idle_init(struct weft__idle *idle, unsigned nworkers)
{
	idle->nworkers = nworkers;
	atomic_init(&idle->state, nworkers * UNPARK_ONE);
	idle->nsleepers = 0;
	/* First: weft__idle_destroy runs after a failed init too. */
	pthread_mutex_init(&idle->lock, NULL);
	idle->sleepers = weft__calloc(nworkers, sizeof(*idle->sleepers));
	if (!idle->sleepers)
		return -ENOMEM;
	return 0;
}

void weft__idle_destroy(struct weft__idle *idle)
{
	weft__free(idle->sleepers);
	pthread_mutex_destroy(&idle->lock);
}

static bool should_wake(uint32_t s, unsigned nworkers)
{
	return SEARCHING(s) == 0 && UNPARKED(s) < nworkers;
}

void weft__idle_notify(struct weft__idle *idle)
{
	struct worker *w = NULL;
	uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);

	if (!should_wake(s, idle->nworkers))
		return;
	pthread_mutex_lock(&idle->lock);
	s = atomic_load_explicit(&idle->state, memory_order_seq_cst);
	if (should_wake(s, idle->nworkers) && idle->nsleepers > 0) {
		/* The woken worker starts out searching. */
		atomic_fetch_add_explicit(&idle->state, SEARCH_ONE + UNPARK_ONE,
					  memory_order_seq_cst);
		w = idle->sleepers[--idle->nsleepers];
	}
	pthread_mutex_unlock(&idle->lock);
	if (w)
		weft__worker_unpark(w);
}

bool weft__idle_someone_idle(struct weft__idle *idle)
{
	uint32_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);

	return SEARCHING(s) > 0 || UNPARKED(s) < idle->nworkers;
}

bool weft__idle_to_searching(struct weft__idle *idle)
{
	uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);

	/* At most half the workers search (rounded up, so one of one can). */
	if (2 * SEARCHING(s) >= idle->nworkers && SEARCHING(s) > 0)
		return false;
	atomic_fetch_add_explicit(&idle->state, SEARCH_ONE,
				  memory_order_seq_cst);
	return true;
}

bool weft__idle_from_searching(struct weft__idle *idle)
{
	uint32_t prev = atomic_fetch_sub_explicit(&idle->state, SEARCH_ONE,
						  memory_order_seq_cst);

	return SEARCHING(prev) == 1;
}

bool weft__idle_to_parked(struct weft__idle *idle, struct worker *w,
			  bool searching)
{
	uint32_t dec = UNPARK_ONE + (searching ? SEARCH_ONE : 0);
	uint32_t prev;

	pthread_mutex_lock(&idle->lock);
	prev = atomic_fetch_sub_explicit(&idle->state, dec,
					 memory_order_seq_cst);
	idle->sleepers[idle->nsleepers++] = w;
	pthread_mutex_unlock(&idle->lock);
	return searching && SEARCHING(prev) == 1;
}

bool weft__idle_unpark_self(struct weft__idle *idle, struct worker *w)
{
	bool found = false;
	unsigned i;

	pthread_mutex_lock(&idle->lock);
	for (i = 0; i < idle->nsleepers; i++) {
		if (idle->sleepers[i] == w) {
			idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
			atomic_fetch_add_explicit(&idle->state, UNPARK_ONE,
						  memory_order_seq_cst);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&idle->lock);
	return found;
}

void weft__idle_unpark_all(struct weft__idle *idle)
{
	/* Wake under the lock: a woken worker that parks again needs the
	 * lock, so it cannot be popped (and woken) twice while an original
	 * sleeper is left asleep. */
	pthread_mutex_lock(&idle->lock);
	while (idle->nsleepers > 0) {
		struct worker *w = idle->sleepers[--idle->nsleepers];

		atomic_fetch_add_explicit(&idle->state, SEARCH_ONE + UNPARK_ONE,
					  memory_order_seq_cst);
		weft__worker_unpark(w);
	}
	pthread_mutex_unlock(&idle->lock);
}
