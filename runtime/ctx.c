/*
 * Building the first frame of a new context.  The frame mirrors what
 * weft__ctx_switch pushes, so the first switch "returns" into the
 * trampoline, which calls entry(arg).
 */
#include <stdint.h>
#include <string.h>

#include "runtime/ctx.h"

void weft__ctx_trampoline(void);

#if defined(__x86_64__)

/* Default MXCSR (all exceptions masked, round to nearest) and x87 control
 * word (extended precision, exceptions masked), as at process start. */
#define MXCSR_DEFAULT 0x1f80u
#define FPUCW_DEFAULT 0x037fu

void weft__ctx_make(struct weft__ctx *ctx, void *base, size_t size,
		    void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
	uint64_t *sp;

	/* After the switch pops 8 + 6*8 bytes and ret pops 8, rsp must be
	 * 16-aligned at the trampoline: so the frame starts 64 bytes below an
	 * aligned top. */
	sp = (uint64_t *)(top - 64);
	sp[0] = MXCSR_DEFAULT | ((uint64_t)FPUCW_DEFAULT << 32);
	sp[1] = 0;			/* r15 */
	sp[2] = 0;			/* r14 */
	sp[3] = (uint64_t)(uintptr_t)arg;	/* r13 */
	sp[4] = (uint64_t)(uintptr_t)entry;	/* r12 */
	sp[5] = 0;			/* rbx */
	sp[6] = 0;			/* rbp */
	sp[7] = (uint64_t)(uintptr_t)weft__ctx_trampoline;
	ctx->sp = sp;
}

#elif defined(__aarch64__)

void weft__ctx_make(struct weft__ctx *ctx, void *base, size_t size,
		    void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
	uint64_t *sp = (uint64_t *)(top - 176);

	memset(sp, 0, 176);
	sp[0] = (uint64_t)(uintptr_t)entry;	/* x19 */
	sp[1] = (uint64_t)(uintptr_t)arg;	/* x20 */
	sp[11] = (uint64_t)(uintptr_t)weft__ctx_trampoline; /* x30 */
	ctx->sp = sp;
}

#else
#error "weft: no context switch for this architecture"
#endif
