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
#include <stdio.h>
#include <sys/select.h>	/* sigset_t, also under -std=c11 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

/* Opaque value types are 8-aligned in C and C++ alike. */
#ifdef __cplusplus
#define WEFT__ALIGN8 alignas(8)
#else
#define WEFT__ALIGN8 _Alignas(8)
#endif

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
	/* Worker threads; default: one per CPU the process may
	 * run on, its affinity mask (env WEFT_WORKERS). */
	unsigned workers;
	/* Task stack size in bytes; default 64 KiB, minimum 16 KiB. */
	size_t stack_size;
	/* Blocking pool: thread cap (default 512), idle keep-alive (default
	 * 10 s), queued jobs beyond the cap (default 65536). */
	unsigned blocking_max_threads;
	uint64_t blocking_keepalive_ns;
	size_t blocking_queue_max;
	/* Debug mode (env WEFT_DEBUG=1): a watchdog reports tasks that run
	 * longer than WEFT_DEBUG_SLOW_MS (default 100) without suspending;
	 * shutdown reports handles never joined or detached and failed
	 * detached tasks nobody heard of; SIGQUIT prints weft_dump (if the
	 * program has no SIGQUIT handler of its own). */
	int debug;
	/* Pin worker N to CPU N % ncpu. */
	int pin_workers;
	/* Schedule fuzzing seed (env WEFT_SCHED_SEED); 0 = off. */
	uint64_t sched_seed;
	/* Called when a detached task ends with a negative status other than
	 * -ECANCELED; runs on the worker, must not suspend. */
	void (*on_task_error)(weft_task *t, int status, void *arg);
	void *on_task_error_arg;
	/* I/O backend: WEFT_IO_AUTO (io_uring where usable, else epoll;
	 * env WEFT_IO_BACKEND=uring|epoll), WEFT_IO_URING (fail with
	 * ENOSYS where io_uring cannot be used), WEFT_IO_EPOLL. */
	int io_backend;
	/* io_uring: a worker that parks with many operations in flight (a
	 * server under load) lets completions gather during the first this
	 * many microseconds of its sleep, so one wake-up runs several (env
	 * WEFT_IO_BATCH_US).  0: the default, 10; negative: off, every
	 * completion wakes at once.  At most 1000.  Kernels before 6.12
	 * cannot do it: off there. */
	int io_batch_us;
	/* Reserved for growth: keep zero. */
	uint64_t reserved[7];
} weft_config;

enum { WEFT_IO_AUTO = 0, WEFT_IO_URING = 1, WEFT_IO_EPOLL = 2 };

/*
 * Start the workers, run main(arg) as a task and return its status once the
 * runtime has shut down: every task still alive when main returns is
 * cancelled and awaited, and every thread, stack and queue is freed.
 * cfg may be NULL.  Returns -EPERM when called from inside a task, or
 * weft_runtime_new's error as a negative errno.  The calling thread serves
 * as worker 0 until then (so main and other tasks may run on it); it gets
 * back its name, signal stack, signal mask and timer slack as they were.
 */
WEFT_API int weft_run(int (*main)(void *), void *arg, const weft_config *cfg);

/*
 * Create a runtime and start its workers.  NULL with errno on failure:
 * EINVAL for a bad config (or environment switch), ENOMEM when memory runs
 * out (or, with io_backend WEFT_IO_URING, a worker's io_uring cannot be
 * made; WEFT_IO_AUTO falls back to epoll instead), EAGAIN when a worker
 * thread (or debug mode's watchdog) cannot be started, ENOSYS for
 * WEFT_IO_URING where io_uring cannot be used.  A failed call leaves no
 * thread, descriptor or memory behind.
 */
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
 * a task; use weft_spawn_on from other threads).  Never suspends the caller.
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
 * -ECANCELED for a task cancelled before it ran, or -ENOMEM for one that
 * could not get a stack when it was to run first (it never ran).  Releases
 * the handle.  If the joining task is cancelled meanwhile, t is cancelled
 * too, still awaited, and the join returns -ECANCELED.  Joining from a
 * non-runtime thread waits on the thread.  -EINVAL for NULL.  Aborts,
 * naming weft_join, for the caller's own task, a handle already joined or
 * detached (caught while its block is not reused), a detached task, a task
 * another task is joining, or a handle borrowed from a group
 * (weft_join_timeout, weft_gather, weft_wait and weft_next_done check the
 * same and name themselves).
 */
WEFT_API int weft_join(weft_task *t);

/* Release the handle without waiting.  A detached task that fails (negative
 * status other than -ECANCELED) is reported to on_task_error.  Aborts,
 * naming weft_detach, for a handle detached or joined already or borrowed
 * from a group. */
WEFT_API void weft_detach(weft_task *t);

/* (S) Let other tasks run.  0, or -ECANCELED in a cancelled task, or
 * -ETIMEDOUT past a deadline scope's deadline. */
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
/* (A handle already released aborts, naming weft_cancel, while its block
 * is not reused.) */

/* True when the current task has been cancelled. */
WEFT_API bool weft_cancelled(void);

/* Hold off cancellation inside; they nest.  No-ops outside a task. */
WEFT_API void weft_shield_begin(void);
WEFT_API void weft_shield_end(void);

/* ------------------------------------------------------------------------
 * Time and deadlines
 */

/* No timeout / no deadline. */
#define WEFT_FOREVER UINT64_MAX

/* CLOCK_MONOTONIC, in ns. */
WEFT_API uint64_t weft_now(void);

/*
 * (S) Sleep for ns nanoseconds (weft_sleep) or until weft_now() reaches
 * deadline (weft_sleep_until); never ends early.  A time already past
 * yields once.  0, -ECANCELED, or -ETIMEDOUT when a deadline scope of the
 * task passes first.
 */
WEFT_API int weft_sleep(uint64_t ns);
WEFT_API int weft_sleep_until(uint64_t deadline);

/*
 * Deadline scopes (asyncio.timeout, Trio's move_on_after).  Inside a scope,
 * once its deadline (ns_from_now after the push; WEFT_FOREVER: none) has
 * passed, every suspension of the task returns -ETIMEDOUT (level-triggered,
 * held off by shields, as cancellation is).  Scopes nest and the earliest
 * deadline wins; they belong to the task that pushed them and are not
 * inherited by tasks it spawns.  push: 0, -EPERM outside a task, -ENOMEM.
 * pop closes the innermost scope: 1 if its deadline had passed, else 0;
 * -EINVAL when no scope is open.
 */
WEFT_API int weft_deadline_push(uint64_t ns_from_now);
WEFT_API int weft_deadline_pop(void);

/* WEFT_WITH_TIMEOUT(ns) { ... }: a deadline scope around the block, popped
 * on every way out of it (break ends the block, return is safe). */
#define WEFT_WITH_TIMEOUT(ns) \
	WEFT__WITH_TIMEOUT_(ns, WEFT__CAT(weft__deadline_, __LINE__))

/*
 * (S) asyncio.wait_for: wait for t at most ns.  On timeout t is cancelled
 * and awaited, and the call returns -ETIMEDOUT; otherwise t's status.
 * Releases the handle either way.  As weft_join, a cancelled caller
 * cancels t and returns -ECANCELED.
 */
WEFT_API int weft_join_timeout(weft_task *t, uint64_t ns);

/* ------------------------------------------------------------------------
 * Combinators
 */

typedef enum weft_when {
	WEFT_FIRST_COMPLETED,	/* any task finished */
	WEFT_FIRST_EXCEPTION,	/* any task failed (status < 0, not
				 * -ECANCELED), else all finished */
	WEFT_ALL_COMPLETED,	/* every task finished */
} weft_when;

/*
 * (S) asyncio.gather: wait for every task of ts[0..n) and release every
 * handle.  With statuses NULL: returns the first failure in time (a
 * negative status other than -ECANCELED), else 0; gather cancels nothing
 * (a task group without the cancelling).  With statuses non-NULL: stores
 * each task's status in input order and returns 0
 * (return_exceptions=True).  If the caller is cancelled (or a deadline
 * passes), every task is cancelled and awaited and the call returns
 * -ECANCELED (-ETIMEDOUT).  -EINVAL for NULL handles.
 */
WEFT_API int weft_gather(weft_task **ts, size_t n, int *statuses);

/*
 * (S) asyncio.wait: wait until `when` holds for ts[0..n), at most
 * timeout_ns (WEFT_FOREVER: no timeout).  0 when it holds, with
 * *first_done (may be NULL) the index of the task that met it: the lowest
 * index done for FIRST_COMPLETED, the failed task for FIRST_EXCEPTION, and
 * n - 1 once all are done.  -ETIMEDOUT if the timeout passed first,
 * -ECANCELED if the caller was cancelled.  Cancels nothing and releases no
 * handle.
 */
WEFT_API int weft_wait(weft_task **ts, size_t n, weft_when when,
		       uint64_t timeout_ns, size_t *first_done);

/*
 * (S) asyncio.as_completed: wait until a task of ts finishes, set its slot
 * to NULL and return it (still the caller's: join it for its status, which
 * returns at once).  NULL slots are skipped.  NULL with errno 0 when every
 * slot is NULL, ECANCELED / ETIMEDOUT when the caller was interrupted,
 * EPERM outside a task.
 */
WEFT_API weft_task *weft_next_done(weft_task **ts, size_t n);

/* ------------------------------------------------------------------------
 * Task groups
 */

typedef struct weft_group weft_group;

/* A new, empty group (asyncio.TaskGroup).  NULL with errno ENOMEM. */
WEFT_API weft_group *weft_group_new(void);

/*
 * Spawn fn(arg) in g on the current worker.  The handle is borrowed from
 * the group: valid until weft_group_wait returns, for weft_cancel only
 * (never join or detach it).  NULL with errno ECANCELED when the group is
 * failing, cancelled or already waited (fn then never runs), EPERM
 * outside a task, EINVAL, ENOMEM.
 */
WEFT_API weft_task *weft_group_spawn(weft_group *g, int (*fn)(void *),
				     void *arg);

/*
 * (S) Wait until every child has finished.  The first child that fails (a
 * negative status other than -ECANCELED) cancels the others, and its
 * status is returned.  Otherwise: -ECANCELED after weft_group_cancel; if
 * the waiting task is cancelled or its deadline passes, the children are
 * cancelled and awaited and that error is returned; else 0.  Call it once
 * (a second wait, or a second waiter, aborts).  -EDEADLK from a child of g,
 * which would wait for itself.
 */
WEFT_API int weft_group_wait(weft_group *g);

/* Cancel every child; later spawns are refused.  Any thread. */
WEFT_API void weft_group_cancel(weft_group *g);

/* Store up to cap failure statuses of the children, oldest first; returns
 * how many failures there were. */
WEFT_API size_t weft_group_errors(weft_group *g, int *out, size_t cap);

/* (S) Free g; if it was never waited, cancel and await its children first
 * (a plain thread waits on a futex).  NULL does nothing. */
WEFT_API void weft_group_free(weft_group *g);

/* ------------------------------------------------------------------------
 * Async generators
 */

typedef struct weft_gen weft_gen;

/*
 * A generator whose producer is fn(g, arg), run as a task that starts at
 * the first weft_gen_next.  NULL with errno EINVAL or ENOMEM.
 */
WEFT_API weft_gen *weft_gen_new(int (*fn)(weft_gen *, void *), void *arg);

/*
 * (S) Producer: hand item to the consumer and wait to be resumed.  0, or
 * -ECANCELED once the generator is being closed (or the producer task is
 * cancelled): clean up and return.  -EPERM from any task but the producer.
 */
WEFT_API int weft_gen_yield(weft_gen *g, void *item);

/*
 * (S) Consumer (async for): resume the producer until its next item.  1
 * with *item set; 0 at the end (and on every call after); or, once, the
 * producer's negative status after its items.  -ECANCELED / -ETIMEDOUT if
 * the consumer is interrupted (the next call gets the item that was being
 * produced).  One consumer at a time: -EBUSY while another waits in next;
 * -EDEADLK from the producer itself.
 */
WEFT_API int weft_gen_next(weft_gen *g, void **item);

/*
 * (S, when the producer has started) Close and free g: the producer's
 * pending and later weft_gen_yield return -ECANCELED so it can clean up;
 * close waits for it to return.  Call once for every generator.
 */
WEFT_API void weft_gen_close(weft_gen *g);

/* ------------------------------------------------------------------------
 * Futures
 */

/*
 * A future (asyncio.Future): a value and a status set once, from any
 * thread, awaited by any number of tasks.  Heap object: weft_future_new,
 * then weft_future_free once nobody awaits it.
 */
typedef struct weft_future weft_future;

/* A new, pending future.  NULL with errno ENOMEM. */
WEFT_API weft_future *weft_future_new(void);

/*
 * Set f to value and status (any int; by convention >= 0 or a negative
 * errno), from any thread, runtime or not; wakes every awaiter, then runs
 * the done-callbacks on the calling thread, in registration order.  0, or
 * -EALREADY when f was already set (the first value stays), -EINVAL for
 * NULL.
 */
WEFT_API int weft_future_set(weft_future *f, void *value, int status);

/*
 * (S) Wait until f is set; returns the status given to weft_future_set and
 * stores the value in *value (value may be NULL).  A set future returns at
 * once.  In a task: -ECANCELED when the task is cancelled (even if f is
 * set: cancellation is level-triggered), -ETIMEDOUT when a deadline scope
 * passes; the future then stays pending for its other awaiters.  On a
 * thread outside any runtime it blocks the thread (on a futex) until the
 * set, with no cancellation or deadline: a way in for code that is not yet
 * a task.  -EPERM on a worker thread outside a task, -EINVAL for NULL.
 */
WEFT_API int weft_future_await(weft_future *f, void **value);

/* True once f is set (then weft_future_result and await return at once). */
WEFT_API bool weft_future_done(weft_future *f);

/*
 * A set future's status, its value in *value (may be NULL); never
 * suspends, even in a cancelled task, so done-callbacks can use it.  Aborts
 * with a message naming weft_future_result when f is not set.
 */
WEFT_API int weft_future_result(weft_future *f, void **value);

/*
 * Call cb(f, arg) once f is set: on the thread that sets it, after the
 * awaiters are woken, or at once on the caller if f is already set.
 * Callbacks run in registration order and must not suspend; one may free
 * f.  Callbacks of a future freed unset never run.  0, -ENOMEM (the first
 * callback never allocates), -EINVAL for NULL.
 */
WEFT_API int weft_future_on_done(weft_future *f,
				 void (*cb)(weft_future *f, void *arg),
				 void *arg);

/*
 * Free f.  NULL does nothing.  Aborts with a message naming
 * weft_future_free when tasks or threads still await it.  If a setter on
 * another thread is still running callbacks, waits until it is done with
 * f, so it is safe to free f as soon as an await returns.
 */
WEFT_API void weft_future_free(weft_future *f);

/* ------------------------------------------------------------------------
 * Task-local values
 */

/*
 * contextvars.  A key names one value per task.  A task spawned with
 * weft_spawn or weft_group_spawn starts with a snapshot of its parent's
 * values (weft_spawn_on from outside starts with none); later sets in
 * either are not seen by the other.  A spawn from a task with no values
 * costs nothing, else one atomic increment (the snapshot is shared
 * copy-on-write).
 *
 * Ownership: the key's destructor runs on a value exactly once, when no
 * task holds that value any more: when the last task holding it ends (a
 * value inherited by children stays alive until they too have ended or
 * replaced it), or when a set replaces or clears the last holding.  It runs
 * on the thread of that task and must not suspend; weft_local_get there
 * no longer sees the value.  Setting a key to the value it already has
 * changes nothing (the destructor does not run).
 */
typedef struct weft_local_key weft_local_key;

/* A new key; dtor (may be NULL) destroys its values, see above.  NULL
 * with errno ENOMEM. */
WEFT_API weft_local_key *weft_local_key_new(void (*dtor)(void *));

/*
 * Free k.  NULL does nothing.  Values tasks still hold are not lost: each
 * is destroyed as above when its last holder lets go.  Do not use k after.
 */
WEFT_API void weft_local_key_free(weft_local_key *k);

/* The current task's value for k; NULL when unset, outside a task, or for
 * a NULL key. */
WEFT_API void *weft_local_get(weft_local_key *k);

/*
 * Set the current task's value for k; NULL clears it.  0, -EPERM outside
 * a task, -EINVAL for a NULL key, -ENOMEM (the old value stays).
 */
WEFT_API int weft_local_set(weft_local_key *k, void *value);

/* ------------------------------------------------------------------------
 * Synchronisation (value types: all-zero bytes are the initial state)
 */

/* An event: tasks wait until it is set.  WEFT_EVENT_INIT is clear. */
typedef struct weft_event {
	WEFT__ALIGN8 unsigned char _priv[24];
} weft_event;
#define WEFT_EVENT_INIT { { 0 } }

WEFT_API void weft_event_init(weft_event *e);
/* Set the event and wake every waiter; safe from any thread. */
WEFT_API void weft_event_set(weft_event *e);
WEFT_API void weft_event_clear(weft_event *e);
WEFT_API bool weft_event_is_set(weft_event *e);
/* (S) Wait until e is set: 0, or -ECANCELED. */
WEFT_API int weft_event_wait(weft_event *e);

/*
 * A mutex for tasks: a contended lock suspends the task, not the thread.
 * Fair: waiters get the lock in arrival order (unlock hands it to the
 * oldest waiter), so no waiter is overtaken forever.  Owned: unlocking a
 * mutex the calling task does not hold aborts, naming weft_mutex_unlock.
 */
typedef struct weft_mutex {
	WEFT__ALIGN8 unsigned char _priv[32];
} weft_mutex;
#define WEFT_MUTEX_INIT { { 0 } }

WEFT_API void weft_mutex_init(weft_mutex *m);
/* (S) 0, -ECANCELED or -ETIMEDOUT (the lock is then not held);
 * -EDEADLK when the calling task holds it already. */
WEFT_API int weft_mutex_lock(weft_mutex *m);
/* 0, or -EAGAIN when held. */
WEFT_API int weft_mutex_trylock(weft_mutex *m);
WEFT_API void weft_mutex_unlock(weft_mutex *m);

/* Scoped lock: unlocks on every way out of the block (break ends the block,
 * return is safe).  The block is skipped if the lock failed (cancelled);
 * weft_cancelled() tells.  Inside a task only. */
#define WEFT_WITH_LOCK(m) \
	WEFT__WITH_LOCK_(m, WEFT__CAT(weft__lock_, __LINE__))

/* A counting semaphore; WEFT_SEM_INIT has zero permits. */
typedef struct weft_sem {
	WEFT__ALIGN8 unsigned char _priv[32];
} weft_sem;
#define WEFT_SEM_INIT { { 0 } }

WEFT_API void weft_sem_init(weft_sem *s, uint64_t permits);
/* (S) Take one permit: 0, -ECANCELED or -ETIMEDOUT.  FIFO. */
WEFT_API int weft_sem_acquire(weft_sem *s);
/* 0, or -EAGAIN when no permit is free. */
WEFT_API int weft_sem_try_acquire(weft_sem *s);
/* Give one permit back (to the oldest waiter if any); any thread.  Aborts
 * when the count would pass UINT64_MAX. */
WEFT_API void weft_sem_release(weft_sem *s);

/* A condition variable used with a weft_mutex. */
typedef struct weft_cond {
	WEFT__ALIGN8 unsigned char _priv[24];
} weft_cond;
#define WEFT_COND_INIT { { 0 } }

WEFT_API void weft_cond_init(weft_cond *c);
/* (S) Unlock m, wait for a signal, lock m again; m is held again when it
 * returns, errors included.  0, -ECANCELED or -ETIMEDOUT.  Wake-ups may
 * be spurious: wait in a loop on the condition. */
WEFT_API int weft_cond_wait(weft_cond *c, weft_mutex *m);
WEFT_API void weft_cond_signal(weft_cond *c);
WEFT_API void weft_cond_broadcast(weft_cond *c);

/* A barrier for n tasks (reusable, round after round). */
typedef struct weft_barrier {
	WEFT__ALIGN8 unsigned char _priv[32];
} weft_barrier;
#define WEFT_BARRIER_INIT { { 0 } }

/* n = 0 or 1: every wait passes at once. */
WEFT_API void weft_barrier_init(weft_barrier *b, unsigned n);
/* (S) Wait until n tasks have arrived: 1 in exactly one task per round, 0
 * in the others, or -ECANCELED / -ETIMEDOUT (the task then no longer
 * counts as arrived). */
WEFT_API int weft_barrier_wait(weft_barrier *b);

/* A readers-writer lock; writers are not starved (a waiting writer holds
 * off new readers). */
typedef struct weft_rwlock {
	WEFT__ALIGN8 unsigned char _priv[40];
} weft_rwlock;
#define WEFT_RWLOCK_INIT { { 0 } }

WEFT_API void weft_rwlock_init(weft_rwlock *l);
/* (S) 0, -ECANCELED, -ETIMEDOUT; -EDEADLK when the calling task holds the
 * write lock.  (A task holding a read lock that asks for the write lock
 * waits for itself: read holds are counted, not named.) */
WEFT_API int weft_rwlock_rdlock(weft_rwlock *l);		/* (S) */
WEFT_API int weft_rwlock_wrlock(weft_rwlock *l);		/* (S) */
WEFT_API int weft_rwlock_try_rdlock(weft_rwlock *l);	/* 0 or -EAGAIN */
WEFT_API int weft_rwlock_try_wrlock(weft_rwlock *l);	/* 0 or -EAGAIN */
/* Release the read or write hold of the calling task. */
WEFT_API void weft_rwlock_unlock(weft_rwlock *l);

/* A wait group (Go's sync.WaitGroup): wait until the count is back to 0. */
typedef struct weft_waitgroup {
	WEFT__ALIGN8 unsigned char _priv[32];
} weft_waitgroup;
#define WEFT_WAITGROUP_INIT { { 0 } }

WEFT_API void weft_waitgroup_init(weft_waitgroup *wg);
/* Add n (may be negative); the count going below 0 or past INT64_MAX
 * aborts. */
WEFT_API void weft_waitgroup_add(weft_waitgroup *wg, int64_t n);
WEFT_API void weft_waitgroup_done(weft_waitgroup *wg);
/* (S) 0 once the count is 0, -ECANCELED or -ETIMEDOUT. */
WEFT_API int weft_waitgroup_wait(weft_waitgroup *wg);

/* A one-shot slot: one value sent once, received by one task. */
typedef struct weft_oneshot {
	WEFT__ALIGN8 unsigned char _priv[40];
} weft_oneshot;
#define WEFT_ONESHOT_INIT { { 0 } }

WEFT_API void weft_oneshot_init(weft_oneshot *o);
/* Store value; any thread.  0, or -EALREADY on a second send. */
WEFT_API int weft_oneshot_send(weft_oneshot *o, void *value);
/* (S) Wait for the value: 0, -ECANCELED or -ETIMEDOUT. */
WEFT_API int weft_oneshot_recv(weft_oneshot *o, void **value);
/* 0 with the value, or -EAGAIN before the send. */
WEFT_API int weft_oneshot_try_recv(weft_oneshot *o, void **value);

/*
 * A token bucket: the bucket holds up to burst tokens, starts full and
 * refills continuously at rate_per_s tokens per second.  WEFT_LIMITER_INIT
 * (all-zero) has rate 0, which means unlimited: every acquire succeeds at
 * once.  Call weft_limiter_init before use, never while tasks wait.
 */
typedef struct weft_limiter {
	WEFT__ALIGN8 unsigned char _priv[64];
} weft_limiter;
#define WEFT_LIMITER_INIT { { 0 } }

/* Set the rate (0: unlimited) and burst (0 means 1); the bucket is full. */
WEFT_API void weft_limiter_init(weft_limiter *l, uint64_t rate_per_s,
				uint64_t burst);
/*
 * (S) Wait until n tokens are there and take them.  Waiters are served in
 * arrival order: none is overtaken, by a newcomer or by try_acquire.  0,
 * -EINVAL when n > burst, -ECANCELED or -ETIMEDOUT (then nothing is taken
 * and the next waiter proceeds), -EPERM outside a task.
 */
WEFT_API int weft_limiter_acquire(weft_limiter *l, uint64_t n);
/* Take n tokens if they are there and nobody waits: 0, -EAGAIN, or
 * -EINVAL when n > burst. */
WEFT_API int weft_limiter_try_acquire(weft_limiter *l, uint64_t n);

/* Macro plumbing (not API). */
#define WEFT__CAT_(a, b) a##b
#define WEFT__CAT(a, b) WEFT__CAT_(a, b)
struct weft__deadline_scope {
	int pushed;
	int once;
};
static inline struct weft__deadline_scope weft__deadline_begin(uint64_t ns)
{
	struct weft__deadline_scope s = { weft_deadline_push(ns) == 0, 1 };

	return s;
}
static inline void weft__deadline_end(struct weft__deadline_scope *s)
{
	if (s->pushed)
		weft_deadline_pop();
}
#define WEFT__WITH_TIMEOUT_(ns, v)                                       \
	for (struct weft__deadline_scope v                               \
		     __attribute__((cleanup(weft__deadline_end))) =       \
			     weft__deadline_begin(ns);                    \
	     v.once; v.once = 0)
struct weft__lock_scope {
	weft_mutex *m;
	int once;
};
static inline struct weft__lock_scope weft__lock_scope_begin(weft_mutex *m)
{
	int locked = weft_mutex_lock(m) == 0;
	struct weft__lock_scope s = { locked ? m : NULL, locked };

	return s;
}
static inline void weft__lock_scope_end(struct weft__lock_scope *s)
{
	if (s->m)
		weft_mutex_unlock(s->m);
}
/* Runs the body once when the lock was taken; the cleanup attribute
 * unlocks on every way out of the for statement. */
#define WEFT__WITH_LOCK_(m, v)                                          \
	for (struct weft__lock_scope v                                  \
		     __attribute__((cleanup(weft__lock_scope_end))) =    \
			     weft__lock_scope_begin(m);                  \
	     v.once; v.once = 0)

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
 * Sockets and files
 *
 * Each call takes the arguments of the system call it replaces and returns
 * what it returns (bytes, a descriptor, the ready events, or 0), or a
 * negative errno; errno is left alone.  All are (S): the task suspends, the
 * worker runs others.  A cancelled task (or one past a deadline scope)
 * gets -ECANCELED (-ETIMEDOUT): the operation is cancelled in the kernel
 * first, so the kernel touches no buffer after the call returns.  If the
 * operation completed before the cancellation took hold, its result is
 * returned instead (no received bytes are lost); the next suspension point
 * reports the cancellation.  Short reads and writes come back as the kernel
 * returns them; weft_send_all loops until every byte is sent.
 *
 * Descriptors are plain ones: made by weft or by anyone else, blocking or
 * not.  Close the ones weft has waited on with weft_close (the epoll backend
 * keeps a record per descriptor).  Backend: io_uring, or epoll where
 * io_uring is unavailable or WEFT_IO_BACKEND=epoll.
 */

/* `off` of weft_read/weft_write/weft_readv/weft_writev: the file position
 * (read(2)/write(2)), for pipes, sockets and sequential file access. */
#define WEFT_OFF_CURRENT ((off_t)-1)

WEFT_API int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
WEFT_API int weft_connect(int fd, const struct sockaddr *addr,
			  socklen_t addrlen);
WEFT_API ssize_t weft_recv(int fd, void *buf, size_t len, int flags);
WEFT_API ssize_t weft_send(int fd, const void *buf, size_t len, int flags);
/* Send all len bytes: len, or a negative errno (bytes may have gone out). */
WEFT_API ssize_t weft_send_all(int fd, const void *buf, size_t len,
			       int flags);
/* pread/pwrite at off; off == -1: read/write at the file position. */
WEFT_API ssize_t weft_read(int fd, void *buf, size_t len, off_t off);
WEFT_API ssize_t weft_write(int fd, const void *buf, size_t len, off_t off);
WEFT_API ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt,
			    off_t off);
WEFT_API ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt,
			     off_t off);
/* open(2) with O_CLOEXEC added: a descriptor. */
WEFT_API int weft_open(const char *path, int flags, mode_t mode);
WEFT_API int weft_close(int fd);
WEFT_API int weft_fsync(int fd);
WEFT_API int weft_shutdown(int fd, int how);
WEFT_API int weft_stat(const char *path, struct stat *st);
/* Wait until fd is ready for any of events (POLLIN, POLLOUT, ...): the
 * ready events (POLLERR and POLLHUP are always reported, so events 0
 * waits for an error or hang-up only).  -EBADF for a bad descriptor. */
WEFT_API int weft_poll(int fd, int events);

/*
 * TCP helpers.  host is a numeric IPv4 or IPv6 address ("127.0.0.1",
 * "::1"); NULL listens on every IPv4 address.  weft_listen_tcp returns a
 * listening socket (SO_REUSEADDR; port 0 picks a free port: see
 * weft_local_port); weft_dial_tcp also takes a host name, resolved on the
 * blocking pool, and returns a connected socket (TCP_NODELAY).  Sockets are
 * non-blocking and close-on-exec.
 */
WEFT_API int weft_listen_tcp(const char *host, int port, int backlog);
WEFT_API int weft_dial_tcp(const char *host, int port);
/* The same for Unix-domain stream sockets at path. */
WEFT_API int weft_listen_unix(const char *path, int backlog);
WEFT_API int weft_dial_unix(const char *path);
/* The local port of a bound socket, or a negative errno. */
WEFT_API int weft_local_port(int fd);

/*
 * (S) Wait for one of the signals in set (asyncio's add_signal_handler, for
 * graceful shutdown): returns its number.  Block the signals with
 * pthread_sigmask in the main thread before weft_run or weft_runtime_new,
 * so every runtime thread inherits the mask and none is killed by a
 * default action; weft_signal_wait blocks them in the calling worker too.
 * -EINVAL for a NULL or empty set, or one of only SIGKILL and SIGSTOP
 * (which cannot be caught).
 */
WEFT_API int weft_signal_wait(const sigset_t *set);

/* ------------------------------------------------------------------------
 * Blocking offload
 */

/*
 * (S) asyncio's run_in_executor, Tokio's spawn_blocking: run fn(arg) on a
 * thread of the runtime's blocking pool and suspend the calling task (never
 * its worker) until it returns; returns what fn returned.  For calls that
 * block their thread (DNS, compression, a synchronous client) and for
 * CPU-heavy work (bound its parallelism with a weft_sem sized to the cores:
 * see docs/design.md).  fn runs on a plain thread: it must not call (S)
 * functions (they return -EPERM there) but may use weft_spawn_on and
 * weft_runtime_block_on.  The pool starts threads on demand up to
 * blocking_max_threads, keeps an idle one for blocking_keepalive_ns, and
 * queues at most blocking_queue_max jobs beyond its threads.
 * -EAGAIN when that queue is full, or when no pool thread could be
 * started to run the job (fn does not run).  If the task is
 * cancelled (or a deadline scope passes) while the job is queued, fn never
 * runs and the call returns -ECANCELED (-ETIMEDOUT); while fn runs, the call
 * waits for it to return (it cannot be interrupted), then returns
 * -ECANCELED (-ETIMEDOUT), so memory fn uses may live on the task's stack.
 * -EINVAL for a NULL fn, -EPERM outside a task.  At shutdown, queued jobs
 * are cancelled and weft_run returns only after the running ones finish.
 */
WEFT_API int weft_blocking(int (*fn)(void *), void *arg);

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
	uint64_t blocking_threads; /* blocking pool threads alive now */
	/* Returns from a sleep in the I/O driver (a park may sleep several
	 * times: each completion that wakes no task here is one). */
	uint64_t wakeups;
	uint64_t reserved[7];
} weft_stats;

/* Sum the per-worker counters of rt (NULL: the current runtime). */
WEFT_API int weft_stats_get(weft_runtime *rt, weft_stats *out);

/*
 * Print every task of rt (NULL: the current runtime) to out (NULL:
 * stderr): id, name, state (ready, waiting, done), what a waiting task waits
 * in (the weft call, or the I/O operation and descriptor), and whether
 * cancellation was requested.  Tasks that have not yet suspended or yielded
 * (queued, or in their first stretch) are only counted.
 * Safe from any thread; does not suspend.  0, or -EINVAL without a runtime.
 */
WEFT_API int weft_dump(weft_runtime *rt, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
