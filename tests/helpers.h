/*
 * Shared test helpers (prefixed t_, liburing style).
 */
#ifndef WEFT_TESTS_HELPERS_H
#define WEFT_TESTS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/*
 * Build a fresh runtime with `workers` workers (a zeroed weft_config with
 * .workers set), run fn(arg) as its main task through weft_run and return
 * the status weft_run returned.
 */
int t_run(int (*fn)(void *), void *arg, unsigned workers);

/* Same, with the caller's config (its .workers is overridden when
 * workers != 0). */
int t_run_cfg(int (*fn)(void *), void *arg, unsigned workers,
	      const weft_config *cfg);

/*
 * WEFT_STRESS_SCALE sizes the stress tests.  "N" multiplies the work by N;
 * "1/N" (or "/N") divides it by N, for slow builds (valgrind, sanitizers).
 * Unset, empty or bad: 1.  t_stress_scale() is the multiplier (1 when the
 * value is a divisor), t_stress_div() the divisor (1 when a multiplier),
 * and t_scaled(n) = max(1, n * scale / div).
 */
unsigned t_stress_scale(void);
unsigned t_stress_div(void);
uint64_t t_scaled(uint64_t n);

/*
 * A small seeded PRNG (splitmix64 seeding xorshift64*).  t_seed() is
 * WEFT_TEST_SEED when set, else derived from the clock and pid; print it so
 * a failure can be replayed.
 */
typedef struct {
	uint64_t s;
} t_rng;

uint64_t t_seed(void);
void t_rng_init(t_rng *r, uint64_t seed);
uint64_t t_rand(t_rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t t_rand_below(t_rng *r, uint64_t n);

/*
 * errno from inside a task.  A task may resume on another thread, and the
 * compiler may keep the address of the (thread-local) errno that it looked
 * up before a suspension: a function that suspends and then reads errno
 * can read another thread's.  These helpers are out of line, so each call
 * looks the address up afresh on the thread it runs on.
 */
int t_errno(void);
void t_errno_clear(void);

/*
 * In a task: yield until t is parked (waiting in a weft call, not queued or
 * running), the deterministic form of "sleep a while to let it block".
 * False if it has not parked within 20 s (it finished, or never waits).
 */
bool t_wait_parked(weft_task *t);

/*
 * In a task: yield until t has finished (its status is final), without
 * joining it, so its handle stays free for a join or a gather.  False if
 * it has not finished within 20 s.
 */
bool t_wait_done(weft_task *t);

/*
 * Run fn(arg) in a forked child and return its wait status; what the
 * child wrote to stderr lands in out (cap bytes, NUL-terminated).  The
 * child exits with fn's return value, or dies of SIGALRM after timeout_s
 * seconds, so a call that hangs fails the test instead of stalling it.
 * Fork only while no runtime runs in the caller (TSan cannot follow a
 * fork of a multi-threaded process).
 */
int t_child(int (*fn)(void *), void *arg, unsigned timeout_s, char *out,
	    size_t cap);

/* Monotonic clock in seconds, for reporting durations. */
double t_now(void);

#endif /* WEFT_TESTS_HELPERS_H */
