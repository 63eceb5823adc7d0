/*
 * The task control block and its state word.
 *
 * state (atomic, 64 bits): flags in the low byte, the reference count above.
 * A task starts with two references: the handle (released by join or
 * detach) and the scheduler's (released when the task has finished and left
 * its stack).  Whoever drops the last one frees the block.
 */
#ifndef WEFT_RUNTIME_TASK_H
#define WEFT_RUNTIME_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "weft.h"
#include "runtime/ctx.h"
#include "runtime/inject.h"
#include "runtime/sanitizer.h"
#include "runtime/timer.h"

struct worker;
struct weft__stack;
struct weft__locals;

enum {
	T_COMPLETE = 1u << 0,	  /* status is final */
	T_JOIN_WAITING = 1u << 1, /* joiner is filled in; wake it on exit */
	T_DETACHED = 1u << 2,	  /* handle released without join */
	T_CANCELLED = 1u << 3,	  /* cancellation requested */
	T_FOREIGN = 1u << 4,	  /* spawned from outside the workers */
	T_JOIN_FIRED = 1u << 5,	  /* the completer is done with the joiner */
	T_RELEASED = 1u << 6,	  /* a join released the handle (issue 7) */
};
#define T_REF_ONE (1ull << 8)

/* One open deadline scope (weft_deadline_push). */
struct weft__dl_scope {
	uint64_t deadline;		/* absolute, ns */
	uint64_t outer_min;		/* dl_min before this scope */
};
#define WEFT__DL_INLINE 4
#define T_REFS(s) ((s) >> 8)

/* Who waits for a task: another task's park, or a thread on a futex. */
struct weft__waker {
	struct weft_task *task;
	uint32_t gen;
	_Atomic uint32_t *futex;
};

struct weft_task {
	/* Hot: touched by every switch.  Written by the worker running the
	 * task; a queue hand-off (release/acquire) orders them for the next
	 * worker. */
	struct weft__ctx ctx;
	struct weft__stack *stack;	/* NULL until first run */
	/* The canary of an unguarded stack (stack.h), NULL for a guarded
	 * one: checked at every switch without touching the descriptor's
	 * cache line. */
	const uint64_t *canary;
	_Atomic uint64_t state;		/* flags + refs, see above */
	_Atomic uint64_t park;		/* park word, see park.c */
	struct weft_task *next;		/* link in inject batches, exit lists */
	int shield;			/* owner only: shield depth */
	int status;			/* written before T_COMPLETE (release) */
	/* 64 bytes so far: the line every switch touches. */
	int (*fn)(void *);
	void *arg;
	struct weft__waker joiner;	/* written before T_JOIN_WAITING */
	struct weft_runtime *rt;
	struct weft__san san;
	/* Owner only: the earliest deadline of the open scopes (FOREVER when
	 * none), the scopes themselves (inline up to 4 deep, then heap). */
	uint64_t dl_min;
	struct weft__dl_scope *dl;
	uint32_t dl_depth;
	uint32_t dl_cap;
	struct weft__dl_scope dl_inline[WEFT__DL_INLINE];
	/* Armed while the task parks with a deadline (timer.h). */
	struct weft__timer timer;
	/* Task-local values (local.c): inherited at spawn. */
	struct weft__locals *locals;
	/* The group that spawned it (group.c), told when it completes. */
	struct weft_group *group;

	/* Cold. */
	struct worker *home;		/* its live list; set at first run */
	struct weft_task *live_prev;	/* home's live list, home only */
	struct weft_task *live_next;
	uint64_t id;
	char name[32];
	/* Where it last parked (weft__park_prepare's caller), for weft_dump;
	 * io/ names the operation and descriptor instead. */
	const char *wait_file;
	const char *wait_func;
	int wait_fd;
	/* Owner only, io/net_ops.c's guesses (-1: none): the socket whose
	 * last recv filled its buffer (more is likely queued: try recv(2)
	 * first), and the one whose last direct send found it full. */
	int io_recv_hot_fd;
	int io_send_full_fd;
	/* io/file_ops.c: the descriptor whose last direct read could not be
	 * served from the page cache (-1: none). */
	int io_read_cold_fd;
	/* Its one-task inject batch (inject.c). */
	_Alignas(8) unsigned char inject[WEFT__INJECT_EMBED];
};

/* weft_run's main task, queued on rt from its (not yet worker) thread. */
struct weft_task *weft__spawn_main(struct weft_runtime *rt,
				   int (*fn)(void *), void *arg);

/* Allocate a task for fn(arg) on rt (not yet queued): two references. */
struct weft_task *weft__task_new(struct weft_runtime *rt, int (*fn)(void *),
				 void *arg, uint64_t id);

/*
 * The completion wait of one task (join, gather, wait, next_done): fill
 * t->joiner, then register (false: t completed first).  To give up before
 * the wake, unregister; if that fails t completed meanwhile and is about to
 * fire the joiner: settle waits until it has, so it never touches a waiter
 * that has moved on.
 */
bool weft__join_register(struct weft_task *t);
bool weft__join_unregister(struct weft_task *t);
void weft__join_settle(struct weft_task *t);

/* Is t complete (its status final and readable)? */
static inline bool weft__task_done(struct weft_task *t)
{
	return atomic_load_explicit(&t->state, memory_order_acquire) &
	       T_COMPLETE;
}

/* Spawn fn(arg) on the current worker as a child of g (NULL: none). */
struct weft_task *weft__spawn_in(struct weft_group *g, int (*fn)(void *),
				 void *arg);

/* Release a handle whose failures are reported elsewhere (a group's). */
void weft__detach_quiet(struct weft_task *t);

/*
 * Abort, naming `call`, when the caller's handle t cannot be used: it was
 * released already (joined or detached: task_free zeroes the state word,
 * so this is caught for as long as the block is not reused), it was
 * detached, another task is joining it, or (when the call releases the
 * handle: releases true) it is borrowed from a group.
 */
void weft__task_check_handle(const struct weft_task *t, const char *call,
			     bool releases);

/* Drop one reference; frees the block on the last. */
void weft__task_unref(struct weft_task *t);

/*
 * The task has its final status: publish it, wake the joiner, report a
 * failed detached task.  Called once, by the task itself on exit or by the
 * scheduler for a task that never ran.  Does not drop the scheduler's ref.
 */
void weft__task_complete(struct weft_task *t, int status);

/* Has cancellation been requested, and is it in force (no shield)? */
static inline bool weft__task_cancel_pending(struct weft_task *t)
{
	return t->shield == 0 &&
	       (atomic_load_explicit(&t->state, memory_order_acquire) &
		T_CANCELLED);
}

/* Record where t waits (relaxed atomics: weft_dump reads them from any
 * thread). */
static inline void weft__task_set_wait(struct weft_task *t, const char *file,
				       const char *func, int fd)
{
	__atomic_store_n(&t->wait_file, file, __ATOMIC_RELAXED);
	__atomic_store_n(&t->wait_func, func, __ATOMIC_RELAXED);
	__atomic_store_n(&t->wait_fd, fd, __ATOMIC_RELAXED);
}

#endif /* WEFT_RUNTIME_TASK_H */
