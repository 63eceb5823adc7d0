/*
 * The blocking pool's life: made with the runtime (no thread yet), drained
 * at its shutdown, freed with it.
 *
 * Drain: set stopping under the lock (no job is queued after it, and idle
 * threads exit instead of taking one), end the queued jobs with -ECANCELED
 * unrun, wake every sleeper and the monitor, then wait until the live
 * count of threads reaches 0 and join the last zombie (each exiting thread
 * joins the one before it: blocking_thread.c).
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "weft.h"
#include "runtime/alloc.h"
#include "runtime/blocking.h"
#include "runtime/blocking_internal.h"
#include "runtime/runtime.h"

struct weft__blocking *weft__blocking_new(const weft_config *cfg)
{
	struct weft__blocking *p = weft__calloc(1, sizeof(*p));
	long ncpu = weft__cpu_count();

	if (!p)
		return NULL;
	p->max_threads = cfg->blocking_max_threads;
	p->keepalive_ns = cfg->blocking_keepalive_ns;
	p->queue_max = cfg->blocking_queue_max;
	/* One spinner per two CPUs: spinners take CPU time from the
	 * workers that make the next jobs. */
	p->spin_max = ncpu >= 4 ? (unsigned)(ncpu / 2) : 1;
	/* Pool threads may start on a pinned worker: give them the
	 * creating thread's CPUs instead. */
	if (sched_getaffinity(0, sizeof(p->cpus), &p->cpus) < 0) {
		CPU_ZERO(&p->cpus);
		for (long i = 0; i < ncpu && i < CPU_SETSIZE; i++)
			CPU_SET(i, &p->cpus);
	}
	return p;
}

void weft__blocking_drain(struct weft__blocking *p)
{
	struct blk_job *j, *cancelled = NULL;
	uint32_t live;

	if (!p)
		return;
	pool_lock(p);
	p->stopping = true;
	atomic_store_explicit(&p->stop, 1, memory_order_relaxed);
	while ((j = p->head)) {
		weft__blk_job_unlink_locked(p, j);
		j->next = cancelled;
		cancelled = j;
	}
	while (weft__blk_claim_sleeper_locked(p))
		;
	atomic_store_explicit(&p->mon_word, 1, memory_order_relaxed);
	futex_wake1(&p->mon_word);
	pool_unlock(p);
	weft__blk_complete_list(cancelled, -ECANCELED);
	for (;;) {
		pool_lock(p);
		live = atomic_load_explicit(&p->live, memory_order_relaxed);
		pool_unlock(p);
		if (!live)
			break;
		syscall(SYS_futex, &p->live, FUTEX_WAIT_PRIVATE, live, NULL,
			NULL, 0);
	}
	if (p->zombie) {
		pthread_join(p->zombie->th, NULL);
		weft__free(p->zombie);
		p->zombie = NULL;
	}
}

void weft__blocking_free(struct weft__blocking *p)
{
	if (!p)
		return;
	weft__blocking_drain(p);
	weft__free(p);
}

unsigned weft__blocking_threads(struct weft__blocking *p)
{
	return p ? atomic_load_explicit(&p->threads_pub, memory_order_relaxed)
		 : 0;
}
