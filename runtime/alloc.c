/*
 * The allocation seam.  With jemalloc we call its own API (mallocx,
 * sdallocx): that keeps the library linked even under --as-needed (glibc's
 * malloc would otherwise satisfy every symbol), and sized frees skip a
 * size lookup.  jemalloc's thread caches make a task block's alloc/free a
 * few nanoseconds even when the free happens on another worker (tasks
 * migrate), which glibc's arenas do not.
 *
 * In test builds each allocation can be made to fail (runtime/fault.h);
 * frees never fail.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "runtime/alloc.h"
#include "runtime/fault.h"

#if WEFT_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

void *weft__malloc(size_t n)
{
	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return NULL;
	return mallocx(n ? n : 1, 0);
}

void *weft__calloc(size_t nmemb, size_t n)
{
	size_t total;

	if (__builtin_mul_overflow(nmemb, n, &total))
		return NULL;
	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return NULL;
	return mallocx(total ? total : 1, MALLOCX_ZERO);
}

void *weft__aligned_alloc(size_t align, size_t n)
{
	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return NULL;
	return mallocx(n ? n : 1, MALLOCX_ALIGN(align));
}

void weft__free(void *p)
{
	if (p)
		dallocx(p, 0);
}

void weft__free_sized(void *p, size_t n)
{
	if (p)
		sdallocx(p, n ? n : 1, 0);
}

#else

void *weft__malloc(size_t n)
{
	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return NULL;
	return malloc(n);
}

void *weft__calloc(size_t nmemb, size_t n)
{
	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return NULL;
	return calloc(nmemb, n);
}

void *weft__aligned_alloc(size_t align, size_t n)
{
	void *p;

	if (weft__fault_hit(WEFT__FAULT_ALLOC))
		return NULL;
	if (posix_memalign(&p, align, n) != 0)
		return NULL;
	return p;
}

void weft__free(void *p)
{
	free(p);
}

void weft__free_sized(void *p, size_t n)
{
	(void)n;
	free(p);
}

#endif
