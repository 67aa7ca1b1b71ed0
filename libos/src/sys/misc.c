// SPDX-License-Identifier: MIT
/* arch_prctl (the guest's FS base lives in its saved registers), prctl (Syscall User
 * Dispatch is the LibOS's), set_tid_address (a twin's is emulated). */
#include <errno.h>
#include <asm/prctl.h>
#include <sys/syscall.h>

#include "sys.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif

long libos_sys_arch_prctl(struct libos_args *a)
{
	switch (a->a[0]) {
	case ARCH_SET_FS:
		if ((uint64_t)a->a[1] >= 0x800000000000ull)
			return -EPERM;
		a->regs->fs = (uint64_t)a->a[1];
		return 0;
	case ARCH_GET_FS:
		return libos_to_guest((void *)a->a[1], &a->regs->fs, 8);
	case ARCH_SET_GS:
		return -EPERM;	/* GS belongs to the LibOS */
	case ARCH_GET_GS:
		return libos_to_guest((void *)a->a[1], &(uint64_t){ 0 }, 8);
	default:
		return libos_raw(SYS_arch_prctl, a->a[0], a->a[1], 0, 0, 0, 0);
	}
}

long libos_sys_prctl(struct libos_args *a)
{
	if (a->a[0] == PR_SET_SYSCALL_USER_DISPATCH)
		return -EBUSY;
	return libos_raw(SYS_prctl, a->a[0], a->a[1], a->a[2], a->a[3], a->a[4], 0);
}

long libos_sys_set_tid_address(struct libos_args *a)
{
	struct libos_thread *t = a->self;

	if (t->twin) {
		t->clear_tid = (uint32_t *)a->a[0];
		return t->tid;
	}
	return libos_raw(SYS_set_tid_address, a->a[0], 0, 0, 0, 0, 0);
}

/* rseq stays registered with the kernel thread; a twin outlives its guest thread, so
 * the LibOS must know the registration to drop it when the guest thread exits. */
long libos_sys_rseq(struct libos_args *a)
{
	struct libos_thread *t = a->self;
	long r = libos_raw(SYS_rseq, a->a[0], a->a[1], a->a[2], a->a[3], 0, 0);

	if (r == 0 && a->a[2] == 0) {
		t->rseq_area = (uint64_t)a->a[0];
		t->rseq_len = (uint32_t)a->a[1];
		t->rseq_sig = (uint32_t)a->a[3];
	} else if (r == 0) {
		t->rseq_area = 0;
	}
	return r;
}
