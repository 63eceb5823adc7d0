/*
 * The allocation seam: every heap object of weft goes through these, so the
 * allocator (jemalloc or libc, chosen by -Djemalloc) is one decision.
 */
#ifndef WEFT_RUNTIME_ALLOC_H
#define WEFT_RUNTIME_ALLOC_H

#include <stddef.h>

void *weft__malloc(size_t n);
void *weft__calloc(size_t nmemb, size_t n);
void *weft__aligned_alloc(size_t align, size_t n);
void weft__free(void *p);
/* Free a block of known size (cheaper with jemalloc). */
void weft__free_sized(void *p, size_t n);

#endif /* WEFT_RUNTIME_ALLOC_H */
