/*
 * The runtime: workers, the shared queues and the shutdown state.
 */
#ifndef WEFT_RUNTIME_RUNTIME_H
#define WEFT_RUNTIME_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "weft.h"
#include "runtime/idle.h"
#include "runtime/inject.h"
#include "runtime/stack.h"
#include "runtime/task_cache.h"

struct worker;
struct weft__blocking;

struct weft_runtime {
	weft_config cfg;		/* resolved: no zero fields */
	unsigned nworkers;
	struct worker **workers;
	struct weft__inject inject;
	struct weft__idle idle;
	struct weft__stack_pool stacks;
	struct weft__tcb_depot tcb_depot;	/* task_cache.h */
	/* Set once by weft_runtime_free (release); read by anyone. */
	_Atomic int shutdown;
	/* Bumped when every live task must be cancelled; each worker acts on
	 * a new value once, for the tasks in its live list. */
	_Atomic unsigned cancel_epoch;
	/* Futex word: 1 once no task is left and workers may stop. */
	_Atomic uint32_t quiescent;
	_Atomic int stopping;		/* workers leave their loops */
	_Atomic uint64_t ext_spawned;	/* tasks spawned from outside */
	_Atomic uint64_t ext_ids;
	/* The blocking pool (blocking.c): made with the runtime, drained once
	 * its tasks are quiescent. */
	struct weft__blocking *blocking;
	int io_backend;			/* io/io.h: WEFT__IO_URING or _EPOLL */
	/* weft_run's main task (set before it is queued), else NULL. */
	struct weft_task *main_task;
};

/* The CPUs the process may run on, its affinity mask (cached after the
 * first call). */
long weft__cpu_count(void);

/* Resolve cfg (NULL allowed) into out with defaults and environment. */
int weft__config_resolve(const weft_config *cfg, weft_config *out);

/* Tasks spawned and not yet finished (a consistent lower bound: see
 * runtime.c). */
uint64_t weft__runtime_live(struct weft_runtime *rt);

/* The first steps of the shutdown (runtime.c): no new external spawns,
 * every live task cancelled, every worker woken. */
void weft__runtime_begin_shutdown(struct weft_runtime *rt);

/* Called by workers whenever a task ends during shutdown or before they
 * park: flags quiescence when nothing is left. */
void weft__runtime_check_quiescent(struct weft_runtime *rt);

#endif /* WEFT_RUNTIME_RUNTIME_H */
