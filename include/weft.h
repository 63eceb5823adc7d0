/*
 * weft: a multi-threaded, work-stealing async executor for Linux.
 *
 * A task is a function with its own stack; every call marked (S) may suspend
 * the calling task (never the thread) and returns -EPERM when called outside
 * a task.  Errors are values: 0 (or a count) on success, a negative errno on
 * failure.  Constructors return NULL and set errno.  See docs/guide.md for the
 * asyncio-to-weft map and ../shared/design/API.md for the contract.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

#if defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/* ------------------------------------------------------------------------
 * Runtime
 */

typedef struct weft_runtime weft_runtime;
typedef struct weft_task weft_task;

/*
 * Runtime configuration.  A zero field means "the default"; the environment
 * (WEFT_WORKERS, WEFT_DEBUG, WEFT_SCHED_SEED) fills in what the config leaves
 * zero.  Zero the whole struct before setting fields so that fields added
 * later keep their defaults.
 */
typedef struct weft_config {
	/* Worker threads; default: one per online CPU (env WEFT_WORKERS). */
	unsigned workers;
	/* Task stack size in bytes; default 64 KiB, minimum 16 KiB. */
	size_t stack_size;
	/* Blocking pool: thread cap (default 512), idle keep-alive (default
	 * 10 s), queued jobs beyond the cap (default 65536). */
	unsigned blocking_max_threads;
	uint64_t blocking_keepalive_ns;
	size_t blocking_queue_max;
	/* Debug mode (env WEFT_DEBUG=1). */
	int debug;
	/* Pin worker N to CPU N % ncpu. */
	int pin_workers;
	/* Schedule fuzzing seed (env WEFT_SCHED_SEED); 0 = off. */
	uint64_t sched_seed;
	/* Called when a detached task ends with a negative status other than
	 * -ECANCELED; runs on the worker, must not suspend. */
	void (*on_task_error)(weft_task *t, int status, void *arg);
	void *on_task_error_arg;
	/* Reserved for growth: keep zero. */
	uint64_t reserved[8];
} weft_config;

/*
 * Start the workers, run main(arg) as a task and return its status once the
 * runtime has shut down: every task still alive when main returns is
 * cancelled and awaited, and every thread, stack and queue is freed.
 * cfg may be NULL.  Returns -EINVAL for a bad config, -ENOMEM, or -EPERM
 * when called from inside a task.
 */
WEFT_API int weft_run(int (*main)(void *), void *arg, const weft_config *cfg);

/* Create a runtime and start its workers.  NULL with errno on failure. */
WEFT_API weft_runtime *weft_runtime_new(const weft_config *cfg);

/*
 * From a thread that is not one of rt's workers: run fn(arg) as a task on rt
 * and wait for it; returns its status.  Other tasks keep running before,
 * during and after.  -EINVAL for NULL arguments, -EPERM from inside a task of
 * rt, -ECANCELED if rt is shutting down.
 */
WEFT_API int weft_runtime_block_on(weft_runtime *rt, int (*fn)(void *),
				   void *arg);

/*
 * Cancel every task still alive, wait for them, stop the workers and free
 * rt.  Must not be called from a task of rt (aborts).  NULL does nothing.
 */
WEFT_API void weft_runtime_free(weft_runtime *rt);

/* The runtime of the calling task or worker, else NULL. */
WEFT_API weft_runtime *weft_runtime_current(void);

/* ------------------------------------------------------------------------
 * Tasks
 */

/*
 * Spawn fn(arg) as a task on the current worker.  The returned handle must be
 * given to weft_join (or weft_join_timeout, weft_gather) or weft_detach
 * exactly once.  NULL with errno ENOMEM, EINVAL (fn NULL) or EPERM (outside
 * a task; use weft_spawn_on from other threads).
 */
WEFT_API weft_task *weft_spawn(int (*fn)(void *), void *arg);

/*
 * Spawn fn(arg) on rt from any thread.  The calling thread owns the handle.
 * NULL with errno EINVAL, ENOMEM, or ECANCELED when rt is shutting down.
 */
WEFT_API weft_task *weft_spawn_on(weft_runtime *rt, int (*fn)(void *),
				  void *arg);

/*
 * (S) Wait for t and return its status: what its function returned, or
 * -ECANCELED for a task cancelled before it ran.  Releases the handle.  If
 * the joining task is cancelled meanwhile, t is cancelled too, still awaited,
 * and the join returns -ECANCELED.  Joining from a non-runtime thread waits
 * on the thread.  -EINVAL for NULL.
 */
WEFT_API int weft_join(weft_task *t);

/* Release the handle without waiting.  A detached task that fails (negative
 * status other than -ECANCELED) is reported to on_task_error. */
WEFT_API void weft_detach(weft_task *t);

/* (S) Let other tasks run.  0, or -ECANCELED in a cancelled task. */
WEFT_API int weft_yield(void);

/* The calling task, or NULL outside a task. */
WEFT_API weft_task *weft_self(void);

/* True when called from inside a task. */
WEFT_API bool weft_in_task(void);

/* Set t's name (copied, truncated to 31 bytes).  -EINVAL for NULL. */
WEFT_API int weft_task_set_name(weft_task *t, const char *name);

/* t's name ("" when unnamed); valid until the name changes or t is freed. */
WEFT_API const char *weft_task_name(const weft_task *t);

/* t's id: unique in the process, never 0. */
WEFT_API uint64_t weft_task_id(const weft_task *t);

/* ------------------------------------------------------------------------
 * Cancellation
 */

/*
 * Request cancellation of t: its current suspension and every later one
 * outside a shield return -ECANCELED (level-triggered).  Cancelling a
 * finished task does nothing; cancelling twice is cancelling once.  Safe
 * from any thread while the caller holds the handle.
 */
WEFT_API void weft_cancel(weft_task *t);

/* True when the current task has been cancelled. */
WEFT_API bool weft_cancelled(void);

/* Hold off cancellation inside; they nest.  No-ops outside a task. */
WEFT_API void weft_shield_begin(void);
WEFT_API void weft_shield_end(void);

/* ------------------------------------------------------------------------
 * Synchronisation (value types: all-zero bytes are the initial state)
 */

/* An event: tasks wait until it is set.  WEFT_EVENT_INIT is clear. */
typedef struct weft_event {
	_Alignas(8) unsigned char _priv[24];
} weft_event;
#define WEFT_EVENT_INIT { { 0 } }

WEFT_API void weft_event_init(weft_event *e);
/* Set the event and wake every waiter; safe from any thread. */
WEFT_API void weft_event_set(weft_event *e);
WEFT_API void weft_event_clear(weft_event *e);
WEFT_API bool weft_event_is_set(weft_event *e);
/* (S) Wait until e is set: 0, or -ECANCELED. */
WEFT_API int weft_event_wait(weft_event *e);

/* ------------------------------------------------------------------------
 * Channels
 */

typedef struct weft_chan weft_chan;

/*
 * A FIFO channel of elements of elem_size bytes holding up to capacity
 * elements; capacity 0 means unbounded (as asyncio.Queue).  NULL with errno
 * EINVAL (elem_size 0) or ENOMEM.
 */
WEFT_API weft_chan *weft_chan_new(size_t elem_size, size_t capacity);
/* (S) Copy one element in: 0, -EPIPE when closed, -ECANCELED. */
WEFT_API int weft_chan_send(weft_chan *ch, const void *elem);
/* (S) Copy one element out: 0, -EPIPE when closed and drained, -ECANCELED. */
WEFT_API int weft_chan_recv(weft_chan *ch, void *elem);
/* Never suspend: -EAGAIN where the blocking form would wait. */
WEFT_API int weft_chan_try_send(weft_chan *ch, const void *elem);
WEFT_API int weft_chan_try_recv(weft_chan *ch, void *elem);
/* Close: receivers drain what is left, then get -EPIPE; senders get -EPIPE. */
WEFT_API void weft_chan_close(weft_chan *ch);
/* Free; NULL does nothing.  No task may be waiting on it. */
WEFT_API void weft_chan_free(weft_chan *ch);

/* ------------------------------------------------------------------------
 * Introspection
 */

typedef struct weft_stats {
	unsigned workers;
	uint64_t tasks_spawned;  /* since start */
	uint64_t tasks_live;     /* spawned and not yet finished */
	uint64_t polls;          /* task switches-in */
	uint64_t steals;         /* tasks taken from other workers */
	uint64_t parks;          /* worker parks */
	uint64_t inject_pops;    /* tasks taken from the inject queue */
	uint64_t io_ops;
	uint64_t blocking_threads;
	uint64_t reserved[8];
} weft_stats;

/* Sum the per-worker counters of rt (NULL: the current runtime). */
WEFT_API int weft_stats_get(weft_runtime *rt, weft_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
