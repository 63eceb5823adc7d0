/*
 * The blocking pool's private parts, shared by its files and by nothing
 * else (the rest of the runtime uses blocking.h):
 *
 *   blocking.c         weft_blocking, the task-side call, and the
 *                      completion/interruption handshake on a job record
 *   blocking_queue.c   the FIFO job queue and its bound
 *   blocking_thread.c  the elastic threads: job threads (spin, sleep,
 *                      keep-alive) and the monitor
 *   blocking_pool.c    the pool's life: creation, drain at exit, counters
 *
 * A function named _locked is called with the pool's spinlock held.
 */
#ifndef WEFT_RUNTIME_BLOCKING_INTERNAL_H
#define WEFT_RUNTIME_BLOCKING_INTERNAL_H

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "runtime/blocking.h"
#include "runtime/compiler.h"
#include "runtime/spin.h"
#include "runtime/timer.h"

#define J_GEN_MASK 0xffffffu
#define J_DONE (1u << 30)	/* fn returned; result is set */
#define J_FIRED (1u << 31)	/* thread's wake failed; it is done */

struct weft_task;

struct blk_job {
	struct blk_job *next;	/* queue links, under the lock */
	struct blk_job *prev;
	int (*fn)(void *);
	void *arg;
	struct weft_task *task;
	bool queued;		/* under the lock */
	int result;		/* thread: before J_DONE (release) */
	/* gen of the park to wake | J_DONE | J_FIRED: see blocking.c. */
	_Atomic uint32_t wk;
};

struct blk_thread {
	struct blk_thread *next;	/* sleepers list, under the lock */
	struct blk_thread *prev;
	struct weft__blocking *pool;
	pthread_t th;			/* set by the thread before exit */
	_Atomic uint32_t wake;		/* futex: 1 once claimed */
	bool sleeping;			/* under the lock: on the list */
	bool monitor;
	unsigned id;
};

struct weft__blocking {
	weft__spin lock;
	/* Under the lock. */
	struct blk_job *head;
	struct blk_job *tail;
	unsigned nthreads;		/* job threads alive or starting */
	unsigned idle_awake;		/* see blocking_thread.c */
	unsigned nspinning;		/* spinning outside the lock now */
	unsigned nrunning;		/* took a job, not yet idle again */
	unsigned nsleep;
	struct blk_thread *sleepers;	/* LIFO: the warmest first */
	struct blk_thread *zombie;	/* exited, not yet joined */
	uint64_t completed;		/* jobs done: the monitor's progress */
	bool stopping;
	bool mon_started;
	bool mon_active;		/* ticking (else asleep until kicked) */
	unsigned next_id;
	/* Written under the lock, read by anyone (relaxed: hints). */
	_Atomic size_t qlen;
	_Atomic unsigned threads_pub;
	_Atomic int stop;
	/* Threads inside fn: incremented under the lock, decremented when fn
	 * returns (before the lock is taken again).  The monitor counts a
	 * thread past fn, but preempted before it looks for the next job, as
	 * coming back rather than blocked. */
	_Atomic unsigned in_fn;
	/* Futex words. */
	_Atomic uint32_t mon_word;	/* 1: monitor, look again */
	_Atomic uint32_t live;		/* threads alive, monitor included */
	/* Config (constant). */
	unsigned max_threads;
	uint64_t keepalive_ns;
	size_t queue_max;
	unsigned spin_max;
	cpu_set_t cpus;			/* the creator's affinity */
};

/* ---------------------------------------------------------- primitives */

/* The pool's lock is a weft__spin (runtime/spin.h): the holder may be
 * preempted, threads outnumbering CPUs, and it yields after a short spin. */
static inline void pool_lock(struct weft__blocking *p)
{
	weft__spin_lock(&p->lock);
}

static inline void pool_unlock(struct weft__blocking *p)
{
	weft__spin_unlock(&p->lock);
}

static inline void futex_wake1(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait while *w == 0, at most ns (WEFT__FOREVER: no limit). */
static inline void futex_wait0(_Atomic uint32_t *w, uint64_t ns)
{
	struct timespec ts, *tp = NULL;

	if (ns != WEFT__FOREVER) {
		ts.tv_sec = (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		tp = &ts;
	}
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, 0, tp, NULL, 0);
}

/* Called across the files; each definition carries its comment. */

/* blocking_queue.c: the job queue and its bound. */
void weft__blk_job_link_locked(struct weft__blocking *p, struct blk_job *j);
void weft__blk_job_unlink_locked(struct weft__blocking *p,
				 struct blk_job *j);
bool weft__blk_full_locked(struct weft__blocking *p);

/* blocking.c: a job's end, the pool's half of the handshake. */
void weft__blk_job_complete(struct blk_job *j, int result);
void weft__blk_complete_list(struct blk_job *j, int result);

/* blocking_thread.c: the threads. */
bool weft__blk_claim_sleeper_locked(struct weft__blocking *p);
void weft__blk_kick_monitor_locked(struct weft__blocking *p);
bool weft__blk_reserve_thread_locked(struct weft__blocking *p);
void weft__blk_spawn(struct weft__blocking *p, bool monitor);

#endif /* WEFT_RUNTIME_BLOCKING_INTERNAL_H */
