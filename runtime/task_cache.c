/*
 * Task control block chunks, per-worker lists and the depot that moves
 * batches between them (task_cache.h).
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>

#include "runtime/alloc.h"
#include "runtime/compiler.h"
#include "runtime/fault.h"
#include "runtime/runtime.h"
#include "runtime/task.h"
#include "runtime/task_cache.h"
#include "runtime/worker.h"

/* A whole number of cache lines, so no two blocks share one. */
#define TCB_SIZE ((sizeof(struct weft_task) + 63) & ~(size_t)63)

/* A worker keeps up to two batches: one to hand over when full and room
 * for a burst, so alternating spawns and exits never reach the depot. */
#define CACHE_CAP (2 * WEFT__TCB_BATCH)

#ifdef WEFT_ASAN

struct weft_task *weft__tcb_alloc(struct weft_runtime *rt, struct worker *w)
{
	struct weft_task *t = weft__malloc(sizeof(*t));

	(void)rt;
	(void)w;
	if (t)
		atomic_init(&t->park, 0);
	return t;
}

void weft__tcb_free(struct worker *w, struct weft_task *t)
{
	(void)w;
	weft__free_sized(t, sizeof(*t));
}

void weft__tcb_depot_destroy(struct weft__tcb_depot *d)
{
	(void)d;
}

#else

/* Map a chunk and list it (depot lock held); its first line holds the
 * link, the rest is returned as a fresh run.  False if out of memory. */
static bool chunk_new(struct weft__tcb_depot *d, char **fresh, char **end)
{
	char *c;

	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return false;
	c = mmap(NULL, WEFT__TCB_CHUNK, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c == MAP_FAILED)
		return false;
	*(void **)c = d->chunks;
	d->chunks = c;
	*fresh = c + 64;
	*end = c + WEFT__TCB_CHUNK;
	return true;
}

/* A block from a fresh run (mapped zero, so its park word is 0). */
static struct weft_task *carve(char **fresh, char *end)
{
	struct weft_task *t = (struct weft_task *)*fresh;

	if (*fresh + TCB_SIZE > end)
		return NULL;
	*fresh += TCB_SIZE;
	return t;
}

/* w's list is empty: take a batch from the depot, or carve one block
 * (mapping a chunk when the run is used up). */
static struct weft_task *refill(struct weft__tcb_depot *d,
				struct weft__tcb_cache *c)
{
	struct weft_task *b = NULL, *t;
	bool ok;

	/* Unlocked hint: a stale zero only means carving one block. */
	if (__atomic_load_n(&d->nbatches, __ATOMIC_RELAXED)) {
		weft__spin_lock(&d->lock);
		if ((b = d->batches)) {
			d->batches = b->live_next;
			__atomic_store_n(&d->nbatches, d->nbatches - 1,
					 __ATOMIC_RELAXED);
		}
		weft__spin_unlock(&d->lock);
		if (b) {
			c->list = b->next;
			c->n = WEFT__TCB_BATCH - 1;
			return b;
		}
	}
	if ((t = carve(&c->fresh, c->fresh_end)))
		return t;
	weft__spin_lock(&d->lock);
	ok = chunk_new(d, &c->fresh, &c->fresh_end);
	weft__spin_unlock(&d->lock);
	return ok ? carve(&c->fresh, c->fresh_end) : NULL;
}

/* w's list is full: the older half goes to the depot.  The newer half,
 * freed last and so still in this core's cache, stays for our next
 * spawns. */
static void spill(struct weft__tcb_depot *d, struct weft__tcb_cache *c)
{
	struct weft_task *last = c->list, *old;
	unsigned i;

	for (i = 1; i < CACHE_CAP - WEFT__TCB_BATCH; i++)
		last = last->next;
	old = last->next;
	last->next = NULL;
	c->n -= WEFT__TCB_BATCH;

	weft__spin_lock(&d->lock);
	old->live_next = d->batches;
	d->batches = old;
	__atomic_store_n(&d->nbatches, d->nbatches + 1, __ATOMIC_RELAXED);
	weft__spin_unlock(&d->lock);
}

/* Outside the runtime: one block under the lock. */
static struct weft_task *alloc_loose(struct weft__tcb_depot *d)
{
	struct weft_task *t;

	weft__spin_lock(&d->lock);
	if ((t = d->loose)) {
		d->loose = t->next;
	} else if ((t = d->batches)) {
		/* Break a batch: the rest of it becomes loose blocks. */
		d->batches = t->live_next;
		__atomic_store_n(&d->nbatches, d->nbatches - 1,
				 __ATOMIC_RELAXED);
		d->loose = t->next;
	} else if (!(t = carve(&d->fresh, d->fresh_end)) &&
		   chunk_new(d, &d->fresh, &d->fresh_end)) {
		t = carve(&d->fresh, d->fresh_end);
	}
	weft__spin_unlock(&d->lock);
	return t;
}

struct weft_task *weft__tcb_alloc(struct weft_runtime *rt, struct worker *w)
{
	struct weft__tcb_cache *c;
	struct weft_task *t;

	if (!w || w->rt != rt)
		return alloc_loose(&rt->tcb_depot);
	c = &w->tcb;
	if (likely(c->list)) {
		t = c->list;
		c->list = t->next;
		c->n--;
		return t;
	}
	return refill(&rt->tcb_depot, c);
}

void weft__tcb_free(struct worker *w, struct weft_task *t)
{
	struct weft__tcb_depot *d = &t->rt->tcb_depot;
	struct weft__tcb_cache *c;

	/* A block goes back to its own runtime: another one's chunks may be
	 * unmapped first. */
	if (!w || w->rt != t->rt) {
		weft__spin_lock(&d->lock);
		t->next = d->loose;
		d->loose = t;
		weft__spin_unlock(&d->lock);
		return;
	}
	c = &w->tcb;
	if (unlikely(c->n == CACHE_CAP))
		spill(d, c);
	t->next = c->list;
	c->list = t;
	c->n++;
}

void weft__tcb_depot_destroy(struct weft__tcb_depot *d)
{
	void *c, *next;

	for (c = d->chunks; c; c = next) {
		next = *(void **)c;
		munmap(c, WEFT__TCB_CHUNK);
	}
	d->chunks = NULL;
}

#endif /* WEFT_ASAN */
