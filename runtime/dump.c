/*
 * weft_dump: every task that has waited at least once (the live lists of
 * worker.c), with its state and what it waits on (asyncio's all_tasks()
 * with the repr of each).  Tasks that have not switched out yet (queued, or
 * running their first stretch) are only counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "weft.h"
#include "runtime/driver.h"
#include "runtime/park.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/worker.h"

static void dump_task(FILE *out, struct weft_task *t, struct weft_task *self)
{
	const char *state = weft__park_state(t);
	const char *file = __atomic_load_n(&t->wait_file, __ATOMIC_RELAXED);
	const char *func = __atomic_load_n(&t->wait_func, __ATOMIC_RELAXED);
	int fd = __atomic_load_n(&t->wait_fd, __ATOMIC_RELAXED);
	uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);

	if (t == self)
		state = "running (the dumping task)";
	else if (state[0] == 'r')
		state = "ready (running or queued)";
	fprintf(out, "  task %" PRIu64 " \"%s\": %s", t->id,
		t->name[0] ? t->name : "-", state);
	if (state[0] == 'w' && func) {
		fprintf(out, " in %s", func);
		if (fd >= 0)
			fprintf(out, " fd %d", fd);
		if (file)
			fprintf(out, " (%s)", file);
	}
	if (st & T_CANCELLED)
		fprintf(out, ", cancel requested");
	if (st & T_COMPLETE)
		fprintf(out, ", status %d", t->status);
	fputc('\n', out);
}

int weft_dump(weft_runtime *rt, FILE *out)
{
	struct worker *me = weft__tls_worker;
	struct weft_task *self = me ? me->current : NULL;
	uint64_t listed = 0;
	weft_stats s;
	unsigned i;

	if (!rt)
		rt = weft_runtime_current();
	if (!rt)
		return -EINVAL;
	if (!out)
		out = stderr;
	weft_stats_get(rt, &s);
	fprintf(out,
		"weft: %u workers, %" PRIu64 " tasks live, %" PRIu64
		" blocking threads, I/O: %s\n",
		s.workers, s.tasks_live, s.blocking_threads,
		rt->io_backend == 1 ? "io_uring" : "epoll");
	for (i = 0; i < rt->nworkers; i++) {
		struct worker *w = rt->workers[i];
		struct weft_task *t;

		fprintf(out, "worker %u (weft-worker-%u): queue %u\n", i, i,
			weft__rq_len(&w->rq));
		weft__driver_describe(w, out);
		weft__worker_live_lock(w);
		for (t = w->live; t; t = t->live_next) {
			dump_task(out, t, self);
			listed++;
		}
		weft__worker_live_unlock(w);
	}
	if (s.tasks_live > listed)
		fprintf(out,
			"  (%" PRIu64 " more: queued or running, not yet "
			"switched out)\n",
			s.tasks_live - listed);
	fflush(out);
	return 0;
}
