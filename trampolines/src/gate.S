/* SPDX-License-Identifier: MIT */
/* The gate: the one page range whose `syscall`s Syscall User Dispatch lets through
 * whatever the selector says.  Holds the stub entries (fast path, guest world), the
 * world switch into the LibOS and back (host world), the signal entry, the restorer,
 * and the raw syscall helpers.  Offsets come from trampolines/tramp.h. */
#include <trampolines/tramp.h>

/* VREGS_LOAD: put back what tramp_vectors_save_regs stored (TRAMP_XS_REGS): the vector
 * registers the CPU has, then MXCSR.  Clobbers rcx.  Labels 71/72 are its own. */
	.macro	VREGS_LOAD
	mov	%gs:TRAMP_TLS_VSAVE, %rcx
	cmpl	$TRAMP_VK_ZMM, g_tramp_vkind(%rip)
	jne	71f
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 \i*64(%rcx), %zmm\i
	.endr
	.irp	i, 0,1,2,3,4,5,6,7
	kmovq	TRAMP_VSAVE_K+\i*8(%rcx), %k\i
	.endr
	jmp	72f
71:	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	\i*32(%rcx), %ymm\i
	.endr
72:	ldmxcsr	TRAMP_VSAVE_MXCSR(%rcx)
	.endm

	.section .text.bypass_gate, "ax", @progbits
	.balign 4096
	.globl	tramp_gate_begin
tramp_gate_begin:

/* ---------------------------------------------------------------------------------
 * Fast path.  Runs in the guest world: guest stack, guest FS, selector BLOCK.
 * In:  %rax = syscall number, arguments in rdi rsi rdx r10 r8 r9,
 *      (%rsp) = return address into the stub, %rsp = guest %rsp - 136.
 * Out: %rax = result; rcx and r11 clobbered exactly as `syscall` clobbers them.
 * Flags are preserved: movz, not, lea, mov and jrcxz write none.
 * --------------------------------------------------------------------------------- */
	.balign	64
	.globl	tramp_entry
	.type	tramp_entry, @function
tramp_entry:
	movzwl	%ax, %ecx			/* rcx = nr & 0xffff */
	not	%rcx
	lea	1(%rax,%rcx), %rcx		/* rcx = nr - (nr & 0xffff): 0 iff nr < 65536 */
	jrcxz	1f
	jmp	tramp_slow			/* huge or negative nr: let the LibOS answer */
1:	lea	g_tramp_route(%rip), %r11
	movzwl	%ax, %ecx
	movzbl	(%r11,%rcx), %ecx		/* route byte */
	jrcxz	2f				/* 0: fast */
	lea	-1(%rcx), %rcx
	jrcxz	3f				/* 1: the LibOS */
	lea	-1(%rcx), %rcx
	mov	%rdi, %r11
	jrcxz	4f				/* 2: path in rdi */
	lea	-1(%rcx), %rcx
	jrcxz	7f				/* 3: path in rsi */
	movzwl	%di, %ecx			/* 4: fd in rdi */
	not	%rcx
	lea	1(%rdi,%rcx), %rcx		/* rcx = fd - (fd & 0xffff): 0 iff fd < 65536 */
	jrcxz	6f
	jmp	2f				/* past the map (or negative): the kernel's */
6:	lea	g_tramp_fdmap(%rip), %r11
	movzwl	%di, %ecx
	movzbl	(%r11,%rcx), %ecx		/* 1: a LibOS socket or epoll */
	jrcxz	2f
	jmp	3f
7:	mov	%rsi, %r11
4:	call	tramp_path_probe
	jrcxz	3f				/* /proc/...: the LibOS decides */
2:	movzbl	%gs:TRAMP_TLS_HOLD, %ecx
	jrcxz	8f				/* the LibOS holds nothing of ours */
	call	tramp_nowait
	jrcxz	3f				/* it may wait: the LibOS finishes first */
8:	syscall
	.globl	tramp_fast_ret
tramp_fast_ret:
	ret
3:	jmp	tramp_slow
	.size	tramp_entry, .-tramp_entry

/* rcx = 0 iff call %rax (< 65536) may wait on another party (g_tramp_nowait).  Clobbers
 * r11.  Flag-free: lea, movz, mov, shlx, shrx, jrcxz. */
	.type	tramp_nowait, @function
tramp_nowait:
	lea	g_tramp_nowait(%rip), %r11
	movzwl	%ax, %ecx
	movzbl	(%r11,%rcx), %ecx
	jrcxz	1f				/* TRAMP_NOWAIT_NO */
	lea	-TRAMP_NOWAIT_YES(%rcx), %rcx
	jrcxz	2f
	mov	$52, %ecx			/* TRAMP_NOWAIT_NONBLOCK_RDX */
	shlx	%rcx, %rdx, %r11		/* O_NONBLOCK (bit 11) to bit 63 */
	mov	$63, %ecx
	shrx	%rcx, %r11, %rcx
1:	ret
2:	mov	$1, %ecx
	ret
	.size	tramp_nowait, .-tramp_nowait

/* rcx = 0 iff the path at r11 starts with "/proc/" or cannot be read (a fault on the
 * load resumes at tramp_probe_fault).  Flag-free: mov, shlx, not, lea.  Reading 8 bytes
 * past a shorter string is harmless: only a mapped page is read, and garbage after the
 * NUL can at worst send the call to the LibOS. */
	.globl	tramp_probe_begin, tramp_probe_fault
	.type	tramp_path_probe, @function
tramp_path_probe:
tramp_probe_begin:
	mov	(%r11), %r11
	mov	$16, %ecx
	shlx	%rcx, %r11, %r11		/* keep the first 6 bytes, shifted up */
	movabs	$0x2f636f72702f0000, %rcx	/* "/proc/" << 16 */
	not	%rcx
	lea	1(%r11,%rcx), %rcx		/* 0 iff equal */
	ret
tramp_probe_fault:
	mov	$0, %ecx
	ret
	.size	tramp_path_probe, .-tramp_path_probe

/* Same, counting every call per number and fast-path calls per thread.  The counters
 * are bumped with single `incq`s so a signal cannot tear them; flags are saved around
 * them (the stats mode pays a pushfq/popfq). */
	.balign	64
	.globl	tramp_entry_stats
	.type	tramp_entry_stats, @function
tramp_entry_stats:
	movzwl	%ax, %ecx
	not	%rcx
	lea	1(%rax,%rcx), %rcx
	jrcxz	1f
	jmp	tramp_slow
1:	pushfq					/* flags are free from here to popfq */
	movzwl	%ax, %ecx
	mov	%gs:TRAMP_TLS_COUNTS, %r11
	incq	(%r11,%rcx,8)			/* counts[nr]++ */
	lea	g_tramp_route(%rip), %r11
	movzbl	(%r11,%rcx), %ecx
	cmp	$1, %ecx
	jb	2f				/* 0: fast */
	je	3f				/* 1: the LibOS */
	mov	%rdi, %r11
	cmp	$2, %ecx
	je	4f				/* 2: path in rdi */
	cmp	$4, %ecx
	je	5f				/* 4: fd in rdi */
	mov	%rsi, %r11			/* 3: path in rsi */
4:	call	tramp_path_probe
	jrcxz	3f
2:	cmpb	$0, %gs:TRAMP_TLS_HOLD
	je	6f
	call	tramp_nowait
	jrcxz	3f				/* it may wait: the LibOS finishes first */
6:	incq	%gs:TRAMP_TLS_NFAST
	popfq
	syscall
	.globl	tramp_stats_ret
tramp_stats_ret:
	ret
3:	popfq
	jmp	tramp_slow
5:	cmp	$0xffff, %rdi
	ja	2b				/* past the map (or negative): the kernel's */
	lea	g_tramp_fdmap(%rip), %r11
	movzbl	(%r11,%rdi), %ecx
	jrcxz	2b
	jmp	3b
	.size	tramp_entry_stats, .-tramp_entry_stats

/* A syscall caught by SUD resumes here in the guest world: the SIGSYS handler set
 * %rsp = guest %rsp - 136 with the guest's return address at (%rsp).  Run the call
 * exactly as a stub would, then return.  The `call` is 6 bytes (ff 15 rel32) like a
 * stub's, so a restart rewinds by 6 here too. */
	.balign	16
	.globl	tramp_trap_resume
	.type	tramp_trap_resume, @function
tramp_trap_resume:
	call	*g_tramp_entry_ptr(%rip)
	.globl	tramp_trap_resume_ret
tramp_trap_resume_ret:
	pop	%rcx				/* native `syscall` leaves the return rip in rcx too */
	lea	128(%rsp), %rsp			/* back over the red zone; flags untouched */
	jmp	*%rcx
	.size	tramp_trap_resume, .-tramp_trap_resume

/* ---------------------------------------------------------------------------------
 * Host world.  A signal whose interrupted rip lies in [tramp_host_begin,
 * tramp_host_end) is deferred by the LibOS, never run on top of this code.
 * --------------------------------------------------------------------------------- */
	.balign	64
	.globl	tramp_host_begin
tramp_host_begin:

/* World switch in: save the guest on the host stack, swap FS, allow host syscalls,
 * save the extended state, call libos_dispatch(regs). */
	.type	tramp_slow, @function
tramp_slow:
	movb	$1, %gs:TRAMP_TLS_IN_HOST	/* first: from here on signals are deferred */
	mov	%rsp, %gs:TRAMP_TLS_SCRATCH	/* guest %rsp - 136, (%rsp) = return address */
	mov	%gs:TRAMP_TLS_HOST_RSP, %rsp
	lea	-TRAMP_REGS_SIZE(%rsp), %rsp	/* lea: flags still the guest's */
	pushfq
	popq	TRAMP_REGS_RFLAGS(%rsp)
	mov	%r15, TRAMP_REGS_R15(%rsp)
	mov	%r14, TRAMP_REGS_R14(%rsp)
	mov	%r13, TRAMP_REGS_R13(%rsp)
	mov	%r12, TRAMP_REGS_R12(%rsp)
	mov	%r11, TRAMP_REGS_R11(%rsp)
	mov	%r10, TRAMP_REGS_R10(%rsp)
	mov	%r9, TRAMP_REGS_R9(%rsp)
	mov	%r8, TRAMP_REGS_R8(%rsp)
	mov	%rdi, TRAMP_REGS_RDI(%rsp)
	mov	%rsi, TRAMP_REGS_RSI(%rsp)
	mov	%rbp, TRAMP_REGS_RBP(%rsp)
	mov	%rbx, TRAMP_REGS_RBX(%rsp)
	mov	%rdx, TRAMP_REGS_RDX(%rsp)
	mov	%rcx, TRAMP_REGS_RCX(%rsp)
	mov	%rax, TRAMP_REGS_RAX(%rsp)
	mov	%rax, TRAMP_REGS_NR(%rsp)
	mov	%gs:TRAMP_TLS_SCRATCH, %rcx
	mov	(%rcx), %rdx
	mov	%rdx, TRAMP_REGS_RIP(%rsp)	/* resume where the stub's call returns */
	lea	8(%rcx), %rdx
	mov	%rdx, TRAMP_REGS_RSP(%rsp)	/* %rsp after that return */
	rdfsbase %rdx
	mov	%rdx, TRAMP_REGS_FS(%rsp)
	mov	%gs:TRAMP_TLS_HOST_FS, %rdx
	wrfsbase %rdx				/* host TLS from here */
	movb	$TRAMP_SEL_ALLOW, %gs:TRAMP_TLS_SELECTOR
	mov	%rsp, %gs:TRAMP_TLS_FRAME
	movb	$TRAMP_XS_LIVE, %gs:TRAMP_TLS_XSAVED	/* vector state: saved by the C
					 * side if it needs to touch it (tramp_vectors_save*) */
	cld
	mov	%rsp, %rdi
	call	libos_dispatch
	/* Host code runs with host FS: the exit need not write it again (a wrfsbase is
	 * a quarter of the exit's time). */
	mov	%gs:TRAMP_TLS_FRAME, %rsp
	jmp	tramp_exit_host_fs

/* World switch out.  Restartable: a signal landing anywhere in [tramp_exit_begin,
 * tramp_exit_end) is deferred and the handler resumes at tramp_exit_begin, which
 * reloads everything from tls->frame and re-checks for pending signals.  Nothing here
 * writes the frame, so running it twice is harmless. */
	.globl	tramp_exit_begin
tramp_exit_begin:
	mov	%gs:TRAMP_TLS_FRAME, %rsp
	mov	%gs:TRAMP_TLS_HOST_FS, %rdx
	wrfsbase %rdx
tramp_exit_host_fs:
	movb	$TRAMP_SEL_ALLOW, %gs:TRAMP_TLS_SELECTOR
	movb	$1, %gs:TRAMP_TLS_IN_HOST
	cmpb	$0, %gs:TRAMP_TLS_PENDING
	jne	tramp_exit_flush
	cmpb	$TRAMP_XS_XSAVE, %gs:TRAMP_TLS_XSAVED
	jb	1f				/* untouched: the registers still hold it */
	ja	2f				/* registers only: plain loads */
	mov	%gs:TRAMP_TLS_XSAVE, %rcx
	mov	g_tramp_xmask(%rip), %rax
	mov	%rax, %rdx
	shr	$32, %rdx
	xrstor64 (%rcx)
	jmp	1f
2:	VREGS_LOAD				/* idempotent, like the rest of the window */
1:	mov	TRAMP_REGS_FS(%rsp), %rdx
	wrfsbase %rdx				/* guest TLS from here */
	mov	TRAMP_REGS_RIP(%rsp), %rdx
	mov	%rdx, %gs:TRAMP_TLS_RET
	movb	$TRAMP_SEL_BLOCK, %gs:TRAMP_TLS_SELECTOR
	pushq	TRAMP_REGS_RFLAGS(%rsp)
	popfq
	mov	TRAMP_REGS_R15(%rsp), %r15
	mov	TRAMP_REGS_R14(%rsp), %r14
	mov	TRAMP_REGS_R13(%rsp), %r13
	mov	TRAMP_REGS_R12(%rsp), %r12
	mov	TRAMP_REGS_R11(%rsp), %r11
	mov	TRAMP_REGS_R10(%rsp), %r10
	mov	TRAMP_REGS_R9(%rsp), %r9
	mov	TRAMP_REGS_R8(%rsp), %r8
	mov	TRAMP_REGS_RDI(%rsp), %rdi
	mov	TRAMP_REGS_RSI(%rsp), %rsi
	mov	TRAMP_REGS_RBP(%rsp), %rbp
	mov	TRAMP_REGS_RBX(%rsp), %rbx
	mov	TRAMP_REGS_RDX(%rsp), %rdx
	mov	TRAMP_REGS_RCX(%rsp), %rcx
	mov	TRAMP_REGS_RAX(%rsp), %rax
	mov	TRAMP_REGS_RSP(%rsp), %rsp	/* guest stack from here */
	movb	$0, %gs:TRAMP_TLS_IN_HOST
	jmp	*%gs:TRAMP_TLS_RET		/* the window ends after this jump */
	.globl	tramp_exit_end
tramp_exit_end:

/* Deferred signals: the LibOS re-raises them and returns through rt_sigreturn so the
 * kernel delivers them at the guest's resume point; it returns here if none. */
tramp_exit_flush:
	mov	%rsp, %rdi
	call	libos_signal_flush
	jmp	tramp_exit_begin
	.size	tramp_slow, .-tramp_slow

/* void tramp_vectors_save(void): save the guest's extended state, once per world
 * switch, before host code may touch a vector register (the exit restores it then).
 * XSAVEOPT: the area is the one the last XRSTOR used, so only what changed is written.
 * After tramp_vectors_save_regs, host code may have changed the registers since: load
 * the guest's back first (a function call: every vector register is the caller's to
 * lose, and MXCSR's control bits are the guest's, which host code runs with anyway). */
	.globl	tramp_vectors_save
	.type	tramp_vectors_save, @function
tramp_vectors_save:
	cmpb	$TRAMP_XS_XSAVE, %gs:TRAMP_TLS_XSAVED
	je	1f				/* done already */
	jb	2f
	VREGS_LOAD				/* TRAMP_XS_REGS: the guest's registers back */
2:	mov	%gs:TRAMP_TLS_XSAVE, %rcx
	mov	g_tramp_xmask(%rip), %rax
	mov	%rax, %rdx
	shr	$32, %rdx
	xsaveopt64 (%rcx)
	movb	$TRAMP_XS_XSAVE, %gs:TRAMP_TLS_XSAVED
1:	ret
	.size	tramp_vectors_save, .-tramp_vectors_save

/* void tramp_vectors_save_regs(void): the guest's vector registers and MXCSR to
 * tls->vsave with plain stores (see tramp.h for when that is enough).  No CPU
 * support: the full save. */
	.globl	tramp_vectors_save_regs
	.type	tramp_vectors_save_regs, @function
tramp_vectors_save_regs:
	cmpb	$TRAMP_XS_LIVE, %gs:TRAMP_TLS_XSAVED
	jne	9f				/* saved already, one way or the other */
	mov	%gs:TRAMP_TLS_VSAVE, %rcx
	cmpl	$TRAMP_VK_ZMM, g_tramp_vkind(%rip)
	jne	1f
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, \i*64(%rcx)
	.endr
	.irp	i, 0,1,2,3,4,5,6,7
	kmovq	%k\i, TRAMP_VSAVE_K+\i*8(%rcx)
	.endr
	jmp	2f
1:	cmpl	$TRAMP_VK_YMM, g_tramp_vkind(%rip)
	jne	tramp_vectors_save		/* TRAMP_VK_NONE */
	.irp	i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	%ymm\i, \i*32(%rcx)
	.endr
2:	stmxcsr	TRAMP_VSAVE_MXCSR(%rcx)
	movb	$TRAMP_XS_REGS, %gs:TRAMP_TLS_XSAVED
9:	ret
	.size	tramp_vectors_save_regs, .-tramp_vectors_save_regs

/* void tramp_resume(struct tramp_tls *tls): enter the guest from tls->frame. */
	.globl	tramp_resume
	.type	tramp_resume, @function
tramp_resume:
	jmp	tramp_exit_begin
	.size	tramp_resume, .-tramp_resume

/* void tramp_sigreturn(void *uc, uint64_t fs): rt_sigreturn on a kernel-format frame
 * whose ucontext is at @uc (the kernel reads the frame at %rsp - 8). */
	.globl	tramp_sigreturn
	.type	tramp_sigreturn, @function
tramp_sigreturn:
	wrfsbase %rsi
	movb	$TRAMP_SEL_BLOCK, %gs:TRAMP_TLS_SELECTOR
	mov	%rdi, %rsp
	movb	$0, %gs:TRAMP_TLS_IN_HOST
	mov	$15, %eax			/* __NR_rt_sigreturn */
	syscall
	ud2
	.size	tramp_sigreturn, .-tramp_sigreturn

/* Every real signal handler of the LibOS starts here, on the host alternate stack with
 * all signals blocked.  On a guest thread (GS base set) switch to host TLS and allow
 * host syscalls for the handler's duration, then restore both as they were. */
	.globl	tramp_signal_entry
	.type	tramp_signal_entry, @function
tramp_signal_entry:
	rdgsbase %rax
	test	%rax, %rax
	jz	1f				/* a host-only thread: plain C handler */
	rdfsbase %rcx				/* 4th argument: the interrupted FS base */
	push	%rcx
	movzbl	%gs:TRAMP_TLS_SELECTOR, %eax
	push	%rax
	movb	$TRAMP_SEL_ALLOW, %gs:TRAMP_TLS_SELECTOR
	mov	%gs:TRAMP_TLS_HOST_FS, %rax
	wrfsbase %rax
	sub	$8, %rsp			/* entry %rsp is 8 mod 16; two pushes keep it so */
	call	libos_signal_handle
	add	$8, %rsp
	pop	%rax
	movb	%al, %gs:TRAMP_TLS_SELECTOR
	pop	%rcx
	wrfsbase %rcx
	ret					/* into tramp_restorer */
1:	rdfsbase %rcx
	jmp	libos_signal_handle
	.size	tramp_signal_entry, .-tramp_signal_entry

/* Guest memory access from host code, like the kernel's uaccess: a fault inside
 * [tramp_uaccess_begin, tramp_uaccess_end) resumes at tramp_uaccess_fault, which
 * returns -EFAULT (14). */
	.globl	tramp_uaccess_begin, tramp_uaccess_end, tramp_uaccess_fault

/* long tramp_copy_guest(void *dst, const void *src, size_t n): 0 or -EFAULT */
	.globl	tramp_copy_guest
	.type	tramp_copy_guest, @function
tramp_copy_guest:
	mov	%rdx, %rcx
tramp_uaccess_begin:
	rep movsb
	xor	%eax, %eax
	ret
	.size	tramp_copy_guest, .-tramp_copy_guest

/* long tramp_strnlen_guest(const char *s, size_t max): length (max if no NUL within
 * max bytes) or -EFAULT */
	.globl	tramp_strnlen_guest
	.type	tramp_strnlen_guest, @function
tramp_strnlen_guest:
	xor	%eax, %eax
1:	cmp	%rsi, %rax
	je	2f
	cmpb	$0, (%rdi,%rax)
	je	2f
	inc	%rax
	jmp	1b
2:	ret
	.size	tramp_strnlen_guest, .-tramp_strnlen_guest
tramp_uaccess_end:
tramp_uaccess_fault:
	mov	$-14, %rax
	ret

	.globl	tramp_host_end
tramp_host_end:

/* sa_restorer of every real handler: must sit inside the gate, because the selector
 * is BLOCK again when a handler that interrupted the guest returns. */
	.globl	tramp_restorer
	.type	tramp_restorer, @function
tramp_restorer:
	mov	$15, %eax			/* __NR_rt_sigreturn */
	syscall
	ud2
	.size	tramp_restorer, .-tramp_restorer

/* long tramp_syscall6(nr, a0, a1, a2, a3, a4, a5) */
	.globl	tramp_syscall6
	.type	tramp_syscall6, @function
tramp_syscall6:
	mov	%rdi, %rax
	mov	%rsi, %rdi
	mov	%rdx, %rsi
	mov	%rcx, %rdx
	mov	%r8, %r10
	mov	%r9, %r8
	mov	8(%rsp), %r9
	syscall
	ret
	.size	tramp_syscall6, .-tramp_syscall6

/* long tramp_clone_vm(flags, child_sp, child_tls): the child gets GS = child_tls and
 * runs libos_vfork_child(child_tls) on child_sp; the parent gets the raw result. */
	.globl	tramp_clone_vm
	.type	tramp_clone_vm, @function
tramp_clone_vm:
	mov	%rdx, %r9			/* child_tls survives into the child */
	xor	%edx, %edx			/* parent_tid */
	xor	%r10d, %r10d			/* child_tid */
	xor	%r8d, %r8d			/* tls */
	mov	$56, %eax			/* __NR_clone */
	syscall
	test	%rax, %rax
	jnz	1f
	wrgsbase %r9				/* child: its own tramp_tls */
	and	$-16, %rsp
	mov	%r9, %rdi
	call	libos_vfork_child
	ud2
1:	ret
	.size	tramp_clone_vm, .-tramp_clone_vm

	.balign	16
	.globl	tramp_gate_end
tramp_gate_end:
	.balign	4096, 0xcc

	.data
	.balign 8
	.globl	g_tramp_entry_ptr
g_tramp_entry_ptr:
	.quad	tramp_entry

/* While tls.hold is set: which calls never wait (tramp.h, TRAMP_NOWAIT_*). */
	.bss
	.balign	64
	.globl	g_tramp_nowait
	.type	g_tramp_nowait, @object
g_tramp_nowait:
	.zero	TRAMP_ROUTES
	.size	g_tramp_nowait, TRAMP_ROUTES

/* Route 4's map: one byte per fd number, non-zero for the LibOS's sockets and epolls. */
	.bss
	.balign	64
	.globl	g_tramp_fdmap
	.type	g_tramp_fdmap, @object
g_tramp_fdmap:
	.zero	TRAMP_FDMAP
	.size	g_tramp_fdmap, TRAMP_FDMAP

	.section .note.GNU-stack, "", @progbits
