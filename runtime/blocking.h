/*
 * The blocking pool: an elastic set of OS threads that run the functions
 * tasks hand to weft_blocking (asyncio's run_in_executor, Tokio's
 * spawn_blocking).  Pool threads never run tasks; workers never wait on the
 * pool.  Protocol and policies: see blocking.c (the call and its
 * cancellation), blocking_thread.c (the threads) and blocking_pool.c
 * (shutdown); blocking_internal.h lists the files.
 */
#ifndef WEFT_RUNTIME_BLOCKING_H
#define WEFT_RUNTIME_BLOCKING_H

#include <stddef.h>

#include "weft.h"

struct weft__blocking;

/* A pool for the resolved config cfg; no thread starts before the first
 * offload.  NULL when out of memory. */
struct weft__blocking *weft__blocking_new(const weft_config *cfg);

/*
 * Shut the pool down: queued jobs end with -ECANCELED without running,
 * running jobs are waited for, every thread is joined.  Called once the
 * runtime's tasks are quiescent; idempotent.  NULL does nothing.
 */
void weft__blocking_drain(struct weft__blocking *pool);

/* Drain, then free.  NULL does nothing. */
void weft__blocking_free(struct weft__blocking *pool);

/* Job threads alive now (weft_stats.blocking_threads); any thread. */
unsigned weft__blocking_threads(struct weft__blocking *pool);

/* Jobs queued and not yet taken by a thread; any thread (a snapshot). */
size_t weft__blocking_queued(struct weft__blocking *pool);

#endif /* WEFT_RUNTIME_BLOCKING_H */
