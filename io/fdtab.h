/*
 * The epoll backend's record of each descriptor it has waited on: which
 * set it is registered in, readiness seen with nobody waiting, and the
 * tasks waiting to read and to write.  Records are indexed by descriptor
 * number in a table that only grows (descriptors are small integers, reused
 * after close), and are never freed, so a waker never races a free.
 */
#ifndef WEFT_IO_FDTAB_H
#define WEFT_IO_FDTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/waitq.h"

struct weft__io;

enum fd_kind {
	FD_UNKNOWN = 0,
	FD_POLLABLE,	/* registered in an epoll set */
	FD_FILE,	/* epoll refuses it (regular file): the blocking pool */
};

struct weft__fdrec {
	weft__spin lock;
	/* enum fd_kind: written under the lock, read without it. */
	_Atomic uint8_t kind;
	uint32_t ready;		/* EPOLLIN/EPOLLOUT seen with nobody waiting */
	int epfd;		/* the set it was registered in */
	struct weft__waitq rd, wr;
};

/* fd's record, made on first use; NULL for a negative or huge fd, or when
 * memory runs out. */
struct weft__fdrec *weft__fdtab_get(int fd);
/* fd's record if one was ever made, else NULL (never allocates). */
struct weft__fdrec *weft__fdtab_find(int fd);

#endif /* WEFT_IO_FDTAB_H */
