/*
 * The I/O driver hook: what the worker loop needs of io/, and nothing more.
 *
 * A worker owns one driver instance (an io_uring, or an epoll set where
 * io_uring cannot be used).  The loop polls it without blocking every few
 * scheduler ticks and whenever it runs out of work, and parks in it instead
 * of a futex: a completion, the next timer or a wake-up from another thread
 * ends the park.  Completions wake their tasks through park/wake, so what a
 * poll produced shows up in the worker's own queues.
 *
 * This is the only runtime/ header that may include io/ (layering.sh).
 */
#ifndef WEFT_RUNTIME_DRIVER_H
#define WEFT_RUNTIME_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct worker;
struct weft_runtime;

/* Pick the backend for rt (config, WEFT_IO_BACKEND, then a probe): 0 or
 * a negative errno (io_uring forced but unusable). */
int weft__driver_choose(struct weft_runtime *rt);
/* Every worker's driver, on the thread that makes the runtime: 0 or a
 * negative errno.  fini is safe on a worker whose init failed or never
 * ran. */
int weft__driver_init(struct weft_runtime *rt);
void weft__driver_fini(struct worker *w);
/* On the worker's own thread, before its loop (io_uring: become the ring's
 * single issuer). */
void weft__driver_start(struct worker *w);

/* Submit what is queued and reap completions without blocking.  Returns
 * whether any task was woken. */
bool weft__driver_poll(struct worker *w);
/* Does the driver have operations in flight or queued (worth a poll)? */
bool weft__driver_busy(struct worker *w);

/* Block until a completion, a weft__driver_unpark, or the absolute time
 * `until` (WEFT__FOREVER: none), reaping what completed.  Returns whether
 * any task was woken.  May return early for no reason. */
bool weft__driver_park(struct worker *w, uint64_t until);
/* From any thread: end w's current or next weft__driver_park. */
void weft__driver_unpark(struct worker *w);

/* For weft_dump: one line on w's driver state (any thread). */
void weft__driver_describe(struct worker *w, FILE *out);

#endif /* WEFT_RUNTIME_DRIVER_H */
