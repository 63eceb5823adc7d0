/*
 * Stack regions, the mapping budget, and pooling.
 *
 * Where the kernel has MADV_GUARD_INSTALL (6.13+), a guard page is a marker
 * in the page tables: regions are one read-write mapping and every stack is
 * guarded, at any count.  Otherwise (what follows) guard pages are mprotect'ed:
 * vm.max_map_count (65,530 by default) bounds the mappings of a process, and
 * a guard page splits a mapping: a guarded stack costs two.  So stacks are
 * carved from regions of REGION_MIN to REGION_MAX stacks.  While the budget allows, a
 * region is mapped PROT_NONE and each stack made read-write above its own
 * guard page; past the budget (half of max_map_count, leaving the rest to
 * the allocator, rings and the program), regions have no guards: stacks sit
 * back to back above one spare page, and a stack that overflows runs into
 * the canary that ends the descriptor of the stack below (or of the spare
 * page), which the scheduler checks whenever the task switches out.  We say
 * so once on stderr.
 *
 * Free stacks go to the worker's cache (no lock).  Past its cap the worker
 * returns half to the pool's hot list; workers about to park trim hot
 * stacks beyond a reserve with madvise(MADV_DONTNEED), so idle stacks stop
 * costing RAM without a syscall per stack on the hot path.  The pool is a
 * mutex-protected pair of lists, touched only on those slow paths and when
 * a worker's cache is empty.  Regions are unmapped when the runtime is
 * freed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/alloc.h"
#include "runtime/compiler.h"
#include "runtime/fault.h"
#include "runtime/sanitizer.h"
#include "runtime/stack.h"

/* Regions start small (start-up maps 2 stacks, not 16: one mprotect per
 * guarded stack) and double up to 64 stacks per mapping. */
#define REGION_MIN 2
#define REGION_MAX 64
/* Returned stacks kept untrimmed for reuse: a burst of this many spawns
 * needs no page faults. */
#define HOT_RESERVE 256

struct region {
	struct region *next;
	void *base;
	size_t len;
};

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

/* Read once per process: a sysctl that changes mid-run only matters to
 * runtimes created after the change, and startup should not pay a file
 * read per runtime. */
static size_t read_max_map_count(void)
{
	static _Atomic unsigned long cached;
	unsigned long v = atomic_load_explicit(&cached, memory_order_relaxed);
	FILE *f;

	if (v)
		return v;
	v = 65530;
	f = fopen("/proc/sys/vm/max_map_count", "r");
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	atomic_store_explicit(&cached, v, memory_order_relaxed);
	return v;
}

int weft__stack_pool_init(struct weft__stack_pool *p, size_t stack_size)
{
	size_t ps = page_size();

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->stack_size = (stack_size + ps - 1) & ~(ps - 1);
	p->map_budget = 0;	/* read when first needed: map_budget() */
	p->guard_install = true;	/* until the kernel says otherwise */
	return 0;
}

void weft__stack_pool_destroy(struct weft__stack_pool *p)
{
	struct region *r, *next;
	struct weft__stack *s;

	for (s = p->free; s; s = s->next) {
		weft__san_stack_deregister(s->vg_id);
		weft__san_fiber_free(s->tsan);
	}
	for (s = p->hot; s; s = s->next) {
		weft__san_stack_deregister(s->vg_id);
		weft__san_fiber_free(s->tsan);
	}
	for (r = p->regions; r; r = next) {
		next = r->next;
		munmap(r->base, r->len);
		weft__free(r);
	}
	pthread_mutex_destroy(&p->lock);
}

/* Carve one stack at lo (usable bytes [lo, lo + span)). */
static struct weft__stack *carve(struct weft__stack_pool *p, char *lo,
				 bool guarded)
{
	size_t span = p->stack_size;
	struct weft__stack *s;

	s = (struct weft__stack *)(lo + span - sizeof(*s));
	s->lo = lo;
	s->size = span - sizeof(*s);
	s->guarded = guarded;
	s->next = NULL;
	s->vg_id = weft__san_stack_register(lo, span);
	s->canary = WEFT__STACK_CANARY;
	s->tsan = NULL;
	s->guard_pending = 0;
	return s;
}

static void warn_unguarded_locked(struct weft__stack_pool *p)
{
	if (p->warned)
		return;
	p->warned = true;
	fprintf(stderr,
		"weft: vm.max_map_count leaves no room for more stack guard "
		"pages; new task stacks use a canary instead (raise it with "
		"`sysctl vm.max_map_count=262144`)\n");
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/*
 * Make the page below a stack a guard page with madvise(MADV_GUARD_INSTALL):
 * a marker in the page tables that faults like PROT_NONE but splits no
 * mapping, so every stack can be guarded whatever vm.max_map_count says,
 * and a region stays one VMA.  False when the kernel lacks it (before
 * 6.13).  One call costs microseconds, so a region's stacks get theirs one
 * at a time as they are first handed out (weft__stack_get), not 64 at once
 * under the pool lock: that burst stalled both workers for ~0.5 ms each
 * time a region was made (timers p99).
 */
static bool install_guard(char *lo, size_t ps)
{
	return madvise(lo - ps, ps, MADV_GUARD_INSTALL) == 0;
}

/* A region's mapping, or MAP_FAILED (as the kernel's ENOMEM in test
 * builds that ask for it, runtime/fault.h). */
static char *map_region(size_t len, int prot)
{
	if (weft__fault_hit(WEFT__FAULT_MMAP))
		return MAP_FAILED;
	return mmap(NULL, len, prot,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

/* The mappings we may spend on mprotect guards; read on first need, as a
 * kernel with guard markers never needs it (startup: a /proc read was
 * 20 us of it).  Under p->lock. */
static size_t map_budget(struct weft__stack_pool *p)
{
	if (!p->map_budget)
		p->map_budget = read_max_map_count() / 2;
	return p->map_budget;
}

/* Map a region and put its stacks on the free list; under p->lock. */
static int grow_locked(struct weft__stack_pool *p)
{
	size_t ps = page_size(), span = p->stack_size;
	size_t k = p->region_next ? p->region_next : REGION_MIN;
	bool guarded = p->guard_install ||
		       p->guarded_maps + 2 * k <= map_budget(p);
	size_t per = guarded ? span + ps : span;
	size_t len = per * k + (guarded ? 0 : ps), i;
	struct region *r;
	char *base;

	r = weft__malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (p->guard_install) {
		/* Guard markers (Linux 6.13+): one mapping, every stack
		 * guarded, no mapping budget spent. */
		per = span + ps;
		len = per * k;
		base = map_region(len, PROT_READ | PROT_WRITE);
		if (base == MAP_FAILED) {
			weft__free(r);
			return -ENOMEM;
		}
		/* The first stack's guard now: it tells whether the kernel
		 * has guard markers at all.  The others' when handed out. */
		if (install_guard(base + ps, ps)) {
			guarded = true;
			goto carve_all;
		}
		/* Not supported here: fall back to mprotect from now on. */
		munmap(base, len);
		p->guard_install = false;
		guarded = p->guarded_maps + 2 * k <= map_budget(p);
		per = guarded ? span + ps : span;
		len = per * k + (guarded ? 0 : ps);
	}
	base = map_region(len, guarded ? PROT_NONE : PROT_READ | PROT_WRITE);
	if (base == MAP_FAILED) {
		weft__free(r);
		return -ENOMEM;
	}
	for (i = 0; guarded && i < k; i++) {
		if (mprotect(base + i * per + ps, span,
			     PROT_READ | PROT_WRITE) != 0) {
			munmap(base, len);
			weft__free(r);
			return -ENOMEM;
		}
	}
	if (guarded) {
		p->guarded_maps += 2 * k;
	} else {
		/* The spare page below the first stack ends in a canary. */
		((uint64_t *)(base + ps))[-1] = WEFT__STACK_CANARY;
		base += ps;
		warn_unguarded_locked(p);
	}
carve_all:
	r->base = guarded ? base : base - ps;
	r->len = len;
	r->next = p->regions;
	p->regions = r;
	p->region_next = k * 2 < REGION_MAX ? k * 2 : REGION_MAX;
	/* Stacks are carved when first handed out (take_fresh_locked). */
	p->fresh = base + (guarded ? ps : 0);
	p->fresh_left = k;
	p->fresh_per = per;
	p->fresh_guarded = guarded;
	p->fresh_first = true;
	return 0;
}

/* Move up to want never-used stacks of the newest region into c's fresh
 * run; under p->lock (c's run is empty). */
static void take_fresh_locked(struct weft__stack_pool *p,
			      struct weft__stack_cache *c, unsigned want)
{
	unsigned n = p->fresh_left < want ? (unsigned)p->fresh_left : want;

	c->fresh = p->fresh;
	c->fresh_per = p->fresh_per;
	c->fresh_left = n;
	c->fresh_guarded = p->fresh_guarded;
	c->fresh_first = p->fresh_first;
	p->fresh_first = false;
	p->fresh += n * p->fresh_per;
	p->fresh_left -= n;
}

/* Refill the cache with up to half its cap from the pool: returned stacks
 * if there are any, else a run of fresh ones. */
static void refill(struct weft__stack_pool *p, struct weft__stack_cache *c)
{
	unsigned want = WEFT__STACK_CACHE_CAP / 2;

	pthread_mutex_lock(&p->lock);
	if (!p->hot && !p->free && !p->fresh_left && grow_locked(p) != 0) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	/* Hot (resident) stacks first: no page faults. */
	while (c->n < want && (p->hot || p->free)) {
		struct weft__stack *s;

		if (p->hot) {
			s = p->hot;
			p->hot = s->next;
			__atomic_store_n(&p->nhot, p->nhot - 1,
					 __ATOMIC_RELAXED);
		} else {
			s = p->free;
			p->free = s->next;
			p->nfree--;
		}
		s->next = c->head;
		c->head = s;
		c->n++;
	}
	if (!c->n && p->fresh_left)
		take_fresh_locked(p, c, want);
	pthread_mutex_unlock(&p->lock);
}

/* The next stack of c's fresh run, carved now (no lock: the run is ours). */
static struct weft__stack *carve_fresh(struct weft__stack_pool *p,
				       struct weft__stack_cache *c)
{
	struct weft__stack *s = carve(p, c->fresh, c->fresh_guarded);

	/* Guard markers: the region's first one is in (grow_locked tried
	 * it); the others go in as the stack is handed out. */
	s->guard_pending = p->guard_install && !c->fresh_first;
	c->fresh_first = false;
	c->fresh += c->fresh_per;
	c->fresh_left--;
	return s;
}

struct weft__stack *weft__stack_get(struct weft__stack_pool *p,
				    struct weft__stack_cache *c)
{
	struct weft__stack *s;

	if (!c->head && !c->fresh_left)
		refill(p, c);
	s = c->head;
	if (s) {
		c->head = s->next;
		c->n--;
	} else if (c->fresh_left) {
		s = carve_fresh(p, c);
	} else {
		return NULL;
	}
	if (unlikely(s->guard_pending)) {
		s->guard_pending = 0;
		if (!install_guard(s->lo, page_size())) {
			/* Out of memory for the page tables, say: this stack
			 * is checked by a canary in the page below instead
			 * (see t->canary in worker.c). */
			((uint64_t *)s->lo)[-1] = WEFT__STACK_CANARY;
			s->guarded = 0;
		}
	}
	return s;
}

/* Drop the pages of a stack except the top one, which holds the
 * descriptor and is the first the next task touches. */
static void trim(struct weft__stack *s)
{
	size_t ps = page_size();
	size_t len = ((char *)s - (char *)s->lo) & ~(ps - 1);

	if (len > ps)
		madvise(s->lo, len, MADV_DONTNEED);
}

void weft__stack_pool_trim(struct weft__stack_pool *p, unsigned max)
{
	struct weft__stack *s;

	/* A peek without the lock: a hint is enough. */
	if (__atomic_load_n(&p->nhot, __ATOMIC_RELAXED) <= HOT_RESERVE)
		return;
	while (max--) {
		pthread_mutex_lock(&p->lock);
		s = NULL;
		if (p->nhot > HOT_RESERVE) {
			s = p->hot;
			p->hot = s->next;
			__atomic_store_n(&p->nhot, p->nhot - 1,
					 __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&p->lock);
		if (!s)
			return;
		trim(s);
		pthread_mutex_lock(&p->lock);
		s->next = p->free;
		p->free = s;
		p->nfree++;
		pthread_mutex_unlock(&p->lock);
	}
}

static void give_back(struct weft__stack_pool *p, struct weft__stack_cache *c,
		      unsigned keep)
{
	struct weft__stack *batch = NULL, *last = NULL;
	unsigned n = 0;

	while (c->n > keep) {
		struct weft__stack *s = c->head;

		c->head = s->next;
		c->n--;
		s->next = batch;
		batch = s;
		if (!last)
			last = s;
		n++;
	}
	if (!batch)
		return;
	pthread_mutex_lock(&p->lock);
	last->next = p->hot;
	p->hot = batch;
	__atomic_store_n(&p->nhot, p->nhot + n, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->lock);
}

void weft__stack_put(struct weft__stack_pool *p, struct weft__stack_cache *c,
		     struct weft__stack *s)
{
	s->next = c->head;
	c->head = s;
	if (++c->n > WEFT__STACK_CACHE_CAP)
		give_back(p, c, WEFT__STACK_CACHE_CAP / 2);
}

void weft__stack_cache_flush(struct weft__stack_pool *p,
			     struct weft__stack_cache *c)
{
	give_back(p, c, 0);
}
