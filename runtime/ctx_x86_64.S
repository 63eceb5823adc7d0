/*
 * Context switch for x86-64 System V.
 *
 * Saved on the outgoing stack: rbp, rbx, r12-r15 (callee-saved), then the
 * MXCSR control bits and the x87 control word (the ABI makes both
 * callee-saved) in one zero-padded 8-byte slot, then the stack pointer
 * goes to from->sp.  The return
 * address is already on the stack from the call.
 *
 * A new context (see ctx.c) is laid out as if it had been switched out just
 * before entering weft__ctx_trampoline, with the entry function in r12 and
 * its argument in r13.
 */
	.text
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch, @function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	$0
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	/* r8d, r9d: this thread's FP control state, to compare below.  Two
	 * loads, each the size of the store it reads: one 8-byte load over
	 * both stores cannot be forwarded from them and stalled until they
	 * reached the cache (most of a yield's switch). */
	movl	(%rsp), %r8d
	movzwl	4(%rsp), %r9d
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	/* ldmxcsr and fldcw stall the pipeline (they were 80% of a
	 * switch); tasks almost never change the control words, so load
	 * them only when the incoming context's differ. */
	cmpl	(%rsp), %r8d
	jne	2f
	cmpw	4(%rsp), %r9w
	jne	2f
1:
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	/* Resuming a task: ret.  The return-stack predictor pairs it with
	 * the call that entered, and both sides of a switch almost always
	 * called from the same place (weft__switch_away, or run), so the
	 * prediction holds (a jmp would leave that call's entry on the
	 * predictor's stack, and a later ret of the task would miss: 15 ->
	 * 11 ns per yield_many yield).  Starting a task: the predictor
	 * would always miss the trampoline, so jump there, predicted from
	 * history (chained_spawn: 43 -> 32 ns with the jump). */
	leaq	weft__ctx_trampoline(%rip), %rcx
	cmpq	%rcx, (%rsp)
	je	3f
	ret
3:
	popq	%rcx
	jmpq	*%rcx
2:
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	jmp	1b
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

	.globl	weft__ctx_trampoline
	.hidden	weft__ctx_trampoline
	.type	weft__ctx_trampoline, @function
	.p2align 4
weft__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	/* rsp is 16-byte aligned here (ctx.c), so entry sees the ABI's
	 * rsp % 16 == 8 after the call pushes its return address. */
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	weft__ctx_trampoline, .-weft__ctx_trampoline

	.section .note.GNU-stack,"",@progbits
