/*
 * Debug mode (weft_config.debug, env WEFT_DEBUG=1): the slow-task
 * watchdog (watchdog.c), the task registry behind the shutdown report and
 * the list of runtimes (debug_report.c), and SIGQUIT dumps.
 *
 * With debug off, a worker's dbg pointer is NULL and the only cost is one
 * predictable branch on it where a task switches in and where a task
 * starts: no store, no atomic.
 */
#ifndef WEFT_RUNTIME_WATCHDOG_H
#define WEFT_RUNTIME_WATCHDOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/compiler.h"

struct weft_runtime;
struct weft_task;
struct weft__debug;

/* One worker's debug state: an array of them per runtime, one cache line
 * (or more) each, since owners write them at every switch. */
struct weft__dbg_worker {
	/* Owner stores, the watchdog loads.  current: the task running now,
	 * NULL while the loop runs (release, so that the watchdog may read
	 * the task's id; pairs with the acquire in sample()).  seq: bumped
	 * at every switch-in and at every suspension point a task passes
	 * without switching (nothing else to run); relaxed. */
	_Atomic(struct weft_task *) current;
	_Atomic uint64_t seq;
	struct weft__debug *d;		/* constant */
	unsigned index;			/* constant: the worker's index */
	/* Registry shard (debug_report.c): the tasks that started on this
	 * worker, each holding one reference of the registry.  Under lock:
	 * the owner appends, the watchdog sweeps. */
	pthread_mutex_t lock;
	struct weft_task **tasks;
	size_t n;
	size_t cap;
	/* Watchdog thread only: the last sample and its report. */
	struct weft_task *seen;
	uint64_t seen_seq;
	uint64_t since;			/* first sample that saw them, ns */
	bool reported;
	uint64_t rep_id;
	char rep_name[32];
} weft__cacheline_aligned;

/* A failed detached task nobody heard of (no on_task_error). */
struct weft__dbg_failed {
	uint64_t id;
	int status;
	char name[32];
};

/* Failed detached tasks kept for the shutdown report; more are counted. */
#define WEFT__DBG_FAILED_MAX 32

/* A runtime's debug state. */
struct weft__debug {
	struct weft_runtime *rt;	/* constant */
	struct weft__dbg_worker *w;	/* one per worker, constant */
	unsigned nworkers;
	uint64_t slow_ns;		/* the slow-task threshold */
	pthread_t thread;		/* the watchdog */
	bool started;
	int stop_fd;			/* eventfd: written once, to stop it */
	/* Sweeps: the watchdog's, then the final one after it is joined. */
	struct weft__dbg_failed failed[WEFT__DBG_FAILED_MAX];
	uint64_t nfailed;
	/* Reports made so far (relaxed; tests wait on them). */
	_Atomic uint64_t slow_reports;
	_Atomic uint64_t stuck_reports;
};

/*
 * Every runtime alive, debug or not, newest first: for SIGQUIT dumps and
 * for tools/weft-gdb.py, which walks weft__rt_list from a live process or a
 * core.  Under the lock in debug_report.c.
 */
struct weft__rt_node {
	struct weft_runtime *rt;
	struct weft__rt_node *next;
};
extern struct weft__rt_node *weft__rt_list;

/* The slow-task threshold from env WEFT_DEBUG_SLOW_MS in ms (default 100);
 * -EINVAL for a bad value (config.c). */
int64_t weft__config_debug_slow_ms(void);

/*
 * List rt (for gdb and SIGQUIT) and, in debug mode, set up each worker's
 * dbg, install the SIGQUIT handler and start the watchdog thread.  Called
 * once the workers exist, before they start.  0, -ENOMEM or -EAGAIN.
 */
int weft__debug_init(struct weft_runtime *rt);

/*
 * Shutdown, debug mode: wait for rt's tasks to end, and if they have not
 * within a second, report on stderr which are left and why (blocking jobs
 * still running, tasks not yet cancelled).  Returns without waiting
 * further.  Does nothing with debug off.
 */
void weft__debug_slow_shutdown(struct weft_runtime *rt);

/*
 * After the workers are joined: stop the watchdog, report leaked handles
 * and unheard failures on stderr, drop the registry's references, unlist
 * rt.  Copes with a half-built runtime; idempotent.
 */
void weft__debug_fini(struct weft_runtime *rt);

/* Owner, debug mode: t starts (first run) on the worker of x. */
void weft__dbg_register(struct weft__dbg_worker *x, struct weft_task *t);

/* Owner, debug mode: t (NULL: the loop) runs now, or the running task t
 * passed a suspension point without switching. */
static inline void weft__dbg_switch(struct weft__dbg_worker *x,
				    struct weft_task *t)
{
	atomic_store_explicit(&x->seq,
			      atomic_load_explicit(&x->seq,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
	/* release: pairs with the acquire in sample() (watchdog.c). */
	atomic_store_explicit(&x->current, t, memory_order_release);
}

/* The watchdog thread (watchdog.c): start it; stop and join it. */
int weft__watchdog_start(struct weft__debug *d);
void weft__watchdog_stop(struct weft__debug *d);

/* SIGQUIT (watchdog.c): install the handler if SIGQUIT is at its default
 * action; uninstall it when the last debug runtime ends. */
void weft__sigquit_acquire(void);
void weft__sigquit_release(void);

/* Copy t's name (or "-") for a report, terminated; t may be renaming
 * itself meanwhile (debug_report.c). */
void weft__dbg_copy_name(char *dst, size_t cap, const struct weft_task *t);

/* weft_dump every listed runtime on stderr (debug_report.c). */
void weft__debug_dump_all(void);

/* Drop the references of finished tasks whose handles are gone, noting
 * failed detached tasks nobody heard of (debug_report.c). */
void weft__debug_sweep(struct weft__debug *d);

/* For tests: reports made so far by rt's watchdog (slow tasks) and by
 * weft__debug_slow_shutdown; 0 with debug off. */
uint64_t weft__debug_slow_reports(struct weft_runtime *rt);
uint64_t weft__debug_stuck_reports(struct weft_runtime *rt);
/* For tests: SIGQUIT dumps made in this process. */
uint64_t weft__debug_quit_dumps(void);

#endif /* WEFT_RUNTIME_WATCHDOG_H */
