/*
 * Execution contexts: a saved stack pointer.  Everything else a context needs
 * (callee-saved registers, the FP control words, the return address) is
 * pushed on its own stack by weft__ctx_switch, so a switch is a handful of
 * pushes and pops and one store.
 *
 * A new context is made by weft__ctx_make: the first switch to it calls
 * entry(arg) on the new stack.  entry must never return: a task leaves its
 * stack by switching away for the last time.
 */
#ifndef WEFT_RUNTIME_CTX_H
#define WEFT_RUNTIME_CTX_H

#include <stddef.h>

struct weft__ctx {
	void *sp;
};

/* Save the current context into from, resume to (assembly). */
void weft__ctx_switch(struct weft__ctx *from, struct weft__ctx *to);

/* Prepare ctx so that switching to it runs entry(arg) on [base, base+size). */
void weft__ctx_make(struct weft__ctx *ctx, void *base, size_t size,
		    void (*entry)(void *), void *arg);

#endif /* WEFT_RUNTIME_CTX_H */
