/*
 * The descriptor table of the epoll backend: pages of records made on
 * demand and published with a CAS, so lookups take no lock.
 */
#include <stdatomic.h>

#include "io/fdtab.h"
#include "runtime/alloc.h"

#define PAGE_BITS 10
#define PAGE_SIZE_RECS (1u << PAGE_BITS)
#define PAGES 4096		/* 4M descriptors */

static _Atomic(struct weft__fdrec *) pages[PAGES];

struct weft__fdrec *weft__fdtab_find(int fd)
{
	struct weft__fdrec *page;

	if (fd < 0 || (unsigned)fd >= PAGES * PAGE_SIZE_RECS)
		return NULL;
	/* acquire: pairs with the release CAS that published the page. */
	page = atomic_load_explicit(&pages[(unsigned)fd >> PAGE_BITS],
				    memory_order_acquire);
	return page ? &page[(unsigned)fd & (PAGE_SIZE_RECS - 1)] : NULL;
}

struct weft__fdrec *weft__fdtab_get(int fd)
{
	struct weft__fdrec *rec = weft__fdtab_find(fd), *page, *none = NULL;

	if (rec || fd < 0 || (unsigned)fd >= PAGES * PAGE_SIZE_RECS)
		return rec;
	page = weft__calloc(PAGE_SIZE_RECS, sizeof(*page));
	if (!page)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(
		    &pages[(unsigned)fd >> PAGE_BITS], &none, page,
		    memory_order_release, memory_order_acquire))
		weft__free(page);	/* another thread published one */
	return weft__fdtab_find(fd);
}
