// SPDX-License-Identifier: MIT
/* Signal syscalls: actions and the alternate stack are the guest's, kept here; the
 * mask is the kernel's, less what the LibOS must keep deliverable (SIGSYS) and what it
 * deferred. */
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>

#include "sys.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1u << 31)
#endif
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | SIGBIT(SIGSYS))

long libos_sys_rt_sigaction(struct libos_args *a)
{
	int sig = (int)a->a[0];
	const void *act = (const void *)a->a[1];
	void *oact = (void *)a->a[2];
	struct libos_sigaction new;

	if (a->a[3] != 8)
		return -EINVAL;
	if (sig < 1 || sig > 64 || (act && (sig == SIGKILL || sig == SIGSTOP)))
		return -EINVAL;
	if (act && libos_from_guest(&new, act, sizeof(new)))
		return -EFAULT;
	if (act && a->self->vfork_child) {
		/* Its actions are its own but g_proc is its parent's (signal.c). */
		extern int libos_signal_install_child(int sig, const struct libos_sigaction *act);
		struct libos_sigaction old = g_proc.actions[sig];
		if (libos_signal_install_child(sig, &new))
			return oact ? libos_to_guest(oact, &old, sizeof(old)) : 0;
	}
	pthread_mutex_lock(&g_proc.lock);
	struct libos_sigaction old = g_proc.actions[sig];
	if (act) {
		new.mask &= ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
		g_proc.actions[sig] = new;
		libos_signal_install(sig);
	}
	pthread_mutex_unlock(&g_proc.lock);
	return oact ? libos_to_guest(oact, &old, sizeof(old)) : 0;
}

long libos_sys_rt_sigprocmask(struct libos_args *a)
{
	int how = (int)a->a[0];
	const void *set = (const void *)a->a[1];
	void *oset = (void *)a->a[2];
	struct libos_thread *t = a->self;
	uint64_t cur, guest, next, want;

	if (a->a[3] != 8)
		return -EINVAL;
	if (set && how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK)
		return -EINVAL;
	if (set && libos_from_guest(&want, set, 8))
		return -EFAULT;
	libos_raw(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8, 0, 0);
	guest = cur & ~t->deferred;
	if (set) {
		next = how == SIG_BLOCK ? guest | want : how == SIG_UNBLOCK ? guest & ~want : want;
		uint64_t blocked = next & ~UNBLOCKABLE;
		next = blocked | t->deferred;
		libos_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&next, 0, 8, 0, 0);
		/* A signal deferred during this call that the new mask blocks stays queued
		 * and blocked: the exit must not unblock what the guest just blocked.  (One
		 * deferred from now on was unblocked by this mask.)  A single `lock and`:
		 * the handler's `|=` cannot tear it. */
		__atomic_fetch_and(&t->deferred, ~blocked, __ATOMIC_RELAXED);
	}
	return oset ? libos_to_guest(oset, &guest, 8) : 0;
}

long libos_sys_rt_sigreturn(struct libos_args *a)
{
	extern __attribute__((noreturn)) void libos_sigreturn(struct libos_thread *t,
							      uint64_t rsp, uint64_t fs);
	libos_sigreturn(a->self, a->regs->rsp + TRAMP_RED_ZONE, a->regs->fs);
}

long libos_sys_sigaltstack(struct libos_args *a)
{
	stack_t ssbuf, *ss = NULL;
	void *oss = (void *)a->a[1];
	struct libos_thread *t = a->self;
	uint64_t sp = a->regs->rsp + TRAMP_RED_ZONE;
	stack_t *cur = &t->guest_alt;
	int on = !(cur->ss_flags & SS_DISABLE) && sp > (uint64_t)cur->ss_sp &&
		 sp <= (uint64_t)cur->ss_sp + cur->ss_size;
	stack_t old = *cur;

	old.ss_flags = (cur->ss_flags & SS_DISABLE) ? SS_DISABLE : on ? SS_ONSTACK : 0;
	if (a->a[0]) {
		if (libos_from_guest(&ssbuf, (const void *)a->a[0], sizeof(ssbuf)))
			return -EFAULT;
		ss = &ssbuf;
	}
	if (ss) {
		int mode = ss->ss_flags & ~SS_AUTODISARM;
		if (on)
			return -EPERM;
		if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0)
			return -EINVAL;
		if (mode == SS_DISABLE) {
			cur->ss_sp = NULL;
			cur->ss_size = 0;
			cur->ss_flags = SS_DISABLE;
		} else {
			if (ss->ss_size < (size_t)MINSIGSTKSZ)
				return -ENOMEM;
			cur->ss_sp = ss->ss_sp;
			cur->ss_size = ss->ss_size;
			cur->ss_flags = 0;
		}
	}
	return oss ? libos_to_guest(oss, &old, sizeof(old)) : 0;
}
