/*
 * Which workers are searching for work, which are parked, and whom to wake.
 * The rule (Go's spinning Ms, Tokio's idle.rs): a task made runnable wakes a
 * parked worker only when no worker is searching; at most half the workers
 * search at once; the last searcher to stop either found work (and wakes
 * another to keep searching) or re-checks every queue before it parks.
 */
#ifndef WEFT_RUNTIME_IDLE_H
#define WEFT_RUNTIME_IDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct worker;

struct weft__idle {
	/* searching count in the low 16 bits, unparked count above. */
	_Atomic uint32_t state;
	unsigned nworkers;
	pthread_mutex_t lock;
	struct worker **sleepers;	/* stack of parked workers; under lock */
	unsigned nsleepers;		/* under lock */
};

int weft__idle_init(struct weft__idle *idle, unsigned nworkers);
void weft__idle_destroy(struct weft__idle *idle);

/* A task was made runnable where others could take it: wake a worker if
 * nobody is searching.  The caller issues a seq_cst fence after making the
 * task visible (pairs with the lock-ordered transitions below). */
void weft__idle_notify(struct weft__idle *idle);

/* Is any worker searching or parked?  A hint (one relaxed load): the
 * caller looks again at its next switch. */
bool weft__idle_someone_idle(struct weft__idle *idle);

bool weft__idle_to_searching(struct weft__idle *idle);
/* Returns true when the caller was the last searcher. */
bool weft__idle_from_searching(struct weft__idle *idle);
/* Register w as parked; returns true when it was the last searcher. */
bool weft__idle_to_parked(struct weft__idle *idle, struct worker *w,
			  bool searching);
/* A parked worker woke by itself (its timer): take it off the sleepers
 * and count it unparked, not searching.  False when a notifier popped it
 * first: its unpark token is then set or about to be, and it was counted
 * as searching. */
bool weft__idle_unpark_self(struct weft__idle *idle, struct worker *w);
/* Wake every parked worker (shutdown). */
void weft__idle_unpark_all(struct weft__idle *idle);

#endif /* WEFT_RUNTIME_IDLE_H */
