/* SPDX-License-Identifier: MIT */
/* probe(struct probe_state *s): load every GPR (but rax rcx r11 rsp), the flags and
 * xmm0-15 from s->in, fill the red zone, issue getpid with `syscall`, then store it all
 * to s->out.  The test copies these bytes to memory near an arena, patches the site and
 * calls the copy.  Position independent: it touches memory only through s. */
	.text
	.globl	probe_begin, probe_end
probe_begin:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	%rdi				/* s, at 0(%rsp) until the end */
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	0x100+16*\i(%rdi), %xmm\i
	.endr
	pushq	0x80(%rdi)
	popfq					/* chosen flags, DF included */
	mov	0x18(%rdi), %rdx
	mov	0x20(%rdi), %rbx
	mov	0x28(%rdi), %rbp
	mov	0x30(%rdi), %rsi
	mov	0x40(%rdi), %r8
	mov	0x48(%rdi), %r9
	mov	0x50(%rdi), %r10
	mov	0x60(%rdi), %r12
	mov	0x68(%rdi), %r13
	mov	0x70(%rdi), %r14
	mov	0x78(%rdi), %r15
	/* red zone: 16 qwords below %rsp, from s->in.redzone */
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	mov	0x200+8*\i(%rdi), %rax
	mov	%rax, -128+8*\i(%rsp)
	.endr
	mov	0x38(%rdi), %rdi
	mov	$39, %eax			/* getpid */
	syscall
	/* after: only movs until the flags are saved; the red zone is read before pushfq */
	mov	%rdi, %rcx			/* rcx is dead after syscall: reuse it */
	mov	0(%rsp), %rdi			/* s */
	mov	%rcx, 0x300+0x38(%rdi)
	mov	%rdx, 0x300+0x18(%rdi)
	mov	%rbx, 0x300+0x20(%rdi)
	mov	%rbp, 0x300+0x28(%rdi)
	mov	%rsi, 0x300+0x30(%rdi)
	mov	%r8,  0x300+0x40(%rdi)
	mov	%r9,  0x300+0x48(%rdi)
	mov	%r10, 0x300+0x50(%rdi)
	mov	%r12, 0x300+0x60(%rdi)
	mov	%r13, 0x300+0x68(%rdi)
	mov	%r14, 0x300+0x70(%rdi)
	mov	%r15, 0x300+0x78(%rdi)
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	%xmm\i, 0x400+16*\i(%rdi)
	.endr
	mov	%rax, %rcx
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	mov	-128+8*\i(%rsp), %rax
	mov	%rax, 0x500+8*\i(%rdi)
	.endr
	mov	%rcx, 0x300+0x00(%rdi)
	pushfq					/* only now: it writes the red zone */
	popq	0x300+0x80(%rdi)
	cld
	pop	%rdi
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret
probe_end:
	.section .note.GNU-stack, "", @progbits
