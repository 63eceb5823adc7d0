/*
 * The blocking pool's job queue and its bound.
 *
 * Jobs wait in a doubly linked FIFO under the pool's spinlock, so that a
 * task interrupted while its job is still queued can unlink it in place
 * (abandon() in blocking.c).  qlen mirrors the length for readers outside
 * the lock: idle threads spin on it, and weft__blocking_queued reports it.
 * The bound: a job is refused with -EAGAIN once the queue holds queue_max
 * jobs more than the threads not running one (started or not, up to
 * blocking_max_threads) could take.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "weft.h"
#include "runtime/blocking.h"
#include "runtime/blocking_internal.h"

void weft__blk_job_link_locked(struct weft__blocking *p, struct blk_job *j)
{
	j->next = NULL;
	j->prev = p->tail;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	j->queued = true;
	atomic_store_explicit(&p->qlen,
			      atomic_load_explicit(&p->qlen,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

void weft__blk_job_unlink_locked(struct weft__blocking *p,
				 struct blk_job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		p->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		p->tail = j->prev;
	j->queued = false;
	atomic_store_explicit(&p->qlen,
			      atomic_load_explicit(&p->qlen,
						   memory_order_relaxed) - 1,
			      memory_order_relaxed);
}

/* Room for one more job not yet running: the threads that could still
 * take one, plus queue_max. */
bool weft__blk_full_locked(struct weft__blocking *p)
{
	size_t room = p->queue_max + (p->max_threads - p->nrunning);

	return atomic_load_explicit(&p->qlen, memory_order_relaxed) >= room;
}

size_t weft__blocking_queued(struct weft__blocking *p)
{
	return p ? atomic_load_explicit(&p->qlen, memory_order_relaxed) : 0;
}
