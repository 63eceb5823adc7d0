/*
 * jemalloc's thread caches make the alloc/free pair of a task control block a
 * few nanoseconds even when the free happens on another worker (tasks
 * migrate), which glibc's arenas do not.  Debian's libjemalloc replaces
 * malloc itself, so linking it is enough: these wrappers exist so that a
 * different allocator is one change.
 */
#include <stdlib.h>

#include "runtime/alloc.h"

void *weft__malloc(size_t n)
{
	return malloc(n);
}

void *weft__calloc(size_t nmemb, size_t n)
{
	return calloc(nmemb, n);
}

void *weft__aligned_alloc(size_t align, size_t n)
{
	void *p;

	if (posix_memalign(&p, align, n) != 0)
		return NULL;
	return p;
}

void weft__free(void *p)
{
	free(p);
}
