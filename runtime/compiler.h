/*
 * Small compiler helpers shared by every module: branch hints, cache-line
 * alignment, container_of, argument checks and the "never" guard.
 */
#ifndef WEFT_RUNTIME_COMPILER_H
#define WEFT_RUNTIME_COMPILER_H

#include <stddef.h>

#include "runtime/panic.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* 64 bytes on x86-64; 128 would also cover adjacent-line prefetch, but the
 * per-worker structs are few, so 128 costs nothing. */
#define WEFT__CACHELINE 128
#define weft__cacheline_aligned __attribute__((aligned(WEFT__CACHELINE)))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Public entry points check their arguments with this (systemd's
 * assert_return): a clear error value, never a crash. */
#define WEFT__CHECK(cond, err)            \
	do {                              \
		if (unlikely(!(cond)))    \
			return (err);     \
	} while (0)

/* A condition that should never hold but that release builds must still
 * survive (SQLite's NEVER). */
#define WEFT__NEVER(x) unlikely(x)

static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

#endif /* WEFT_RUNTIME_COMPILER_H */
