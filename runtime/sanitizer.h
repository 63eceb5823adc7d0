/*
 * Telling the tools about our stacks.  ASan must know when the stack changes
 * (or it reports false stack-buffer errors and loses fake stacks), TSan wants
 * a fiber per stack so it keeps a separate shadow call stack and
 * happens-before clock for each, and Valgrind wants every stack registered.
 * Each hook is a no-op when the tool is absent, so call sites stay clean.
 */
#ifndef WEFT_RUNTIME_SANITIZER_H
#define WEFT_RUNTIME_SANITIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#endif

/* Running under Valgrind (in builds that know how to ask). */
static inline bool weft__under_valgrind(void)
{
#if WEFT_HAVE_VALGRIND
	return RUNNING_ON_VALGRIND;
#else
	return false;
#endif
}

/* Per-context state the tools need across a switch. */
struct weft__san {
	void *asan_fake;	/* ASan fake stack saved while switched out */
	const void *lo;		/* stack bounds, for ASan */
	size_t size;
	void *tsan;		/* TSan fiber */
};

/* Before switching from `from` to `to`; `dying` when from never resumes. */
static inline void weft__san_start(struct weft__san *from,
				   const struct weft__san *to, int dying)
{
#ifdef WEFT_ASAN
	__sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake, to->lo,
				       to->size);
#endif
#ifdef WEFT_TSAN
	__tsan_switch_to_fiber(to->tsan, 0);
#endif
	(void)from;
	(void)to;
	(void)dying;
}

/* First thing after a switch lands in `self`. */
static inline void weft__san_finish(struct weft__san *self)
{
#ifdef WEFT_ASAN
	__sanitizer_finish_switch_fiber(self->asan_fake, NULL, NULL);
#endif
	(void)self;
}

static inline void *weft__san_fiber_current(void)
{
#ifdef WEFT_TSAN
	return __tsan_get_current_fiber();
#else
	return NULL;
#endif
}

static inline void *weft__san_fiber_new(void)
{
#ifdef WEFT_TSAN
	return __tsan_create_fiber(0);
#else
	return NULL;
#endif
}

static inline void weft__san_fiber_free(void *fiber)
{
#ifdef WEFT_TSAN
	if (fiber)
		__tsan_destroy_fiber(fiber);
#endif
	(void)fiber;
}

/* A stack is reused by a new task: frames of the old one left poison. */
static inline void weft__san_stack_reset(void *lo, size_t size)
{
#ifdef WEFT_ASAN
	ASAN_UNPOISON_MEMORY_REGION(lo, size);
#endif
	(void)lo;
	(void)size;
}

static inline unsigned weft__san_stack_register(void *lo, size_t size)
{
#if WEFT_HAVE_VALGRIND
	return VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#else
	(void)lo;
	(void)size;
	return 0;
#endif
}

static inline void weft__san_stack_deregister(unsigned id)
{
#if WEFT_HAVE_VALGRIND
	VALGRIND_STACK_DEREGISTER(id);
#else
	(void)id;
#endif
}

#endif /* WEFT_RUNTIME_SANITIZER_H */
