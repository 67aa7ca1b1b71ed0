// SPDX-License-Identifier: MIT
/* Signals.  The LibOS owns every real handler (tramp_signal_entry).  A signal that
 * interrupts guest code is delivered to the guest at once: the kernel's frame is copied
 * onto the guest's stack and the handler returns into the guest's handler.  One that
 * interrupts host code is re-raised and kept blocked until the world switch's exit,
 * which returns through rt_sigreturn so the kernel delivers it at the guest's resume
 * point.  SIGSYS from Syscall User Dispatch resumes the call in the gate. */
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "image.h"
#include "internal.h"

#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif
#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#endif
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define EFLAGS_TF 0x100
#define EFLAGS_DF 0x400
#define EFLAGS_RF 0x10000

/* The kernel's x86-64 struct ucontext and rt_sigframe. */
struct kucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	stack_t uc_stack;
	mcontext_t uc_mcontext;
	uint64_t uc_sigmask;
};
struct kframe {
	uint64_t pretcode;
	struct kucontext uc;
	siginfo_t info;
};
_Static_assert(offsetof(struct kucontext, uc_sigmask) == 296, "kernel ucontext layout");
_Static_assert(sizeof(struct kframe) == 440, "kernel rt_sigframe layout");

/* Signals the guest may never block or catch in place of the LibOS. */
#define LIBOS_UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | SIGBIT(SIGSYS))

/* Faults the LibOS must always catch (guest memory access from host code), even
 * when the guest leaves them at SIG_DFL: deliver() then applies the default itself. */
static int libos_signal_owned(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS;
}

static int in_range(uint64_t ip, const char *lo, const char *hi)
{
	return ip >= (uint64_t)lo && ip < (uint64_t)hi;
}

static int on_stack(const stack_t *ss, uint64_t sp)
{
	return !(ss->ss_flags & SS_DISABLE) && sp > (uint64_t)ss->ss_sp &&
	       sp <= (uint64_t)ss->ss_sp + ss->ss_size;
}

/* Install the real action for @sig from the guest's action @g. */
static void install(int sig, const struct libos_sigaction *g)
{
	struct libos_sigaction k = { 0 };

	if (sig == SIGSYS)
		return;		/* ours for good; the guest's is kept virtual */
	if (g->handler <= 1 && !libos_signal_owned(sig)) {
		/* SIG_DFL, SIG_IGN: the kernel acts, exactly */
		k.handler = g->handler;
		k.flags = (g->flags & ~(uint64_t)SA_RESTORER) | SA_RESTORER;
		k.restorer = (uint64_t)tramp_restorer;
	} else {
		k.handler = (uint64_t)tramp_signal_entry;
		k.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER |
			  (g->flags & (SA_RESTART | SA_NOCLDSTOP | SA_NOCLDWAIT));
		k.restorer = (uint64_t)tramp_restorer;
		k.mask = ~0ull;
	}
	libos_raw(SYS_rt_sigaction, sig, (long)&k, 0, 8, 0, 0);
}

void libos_signal_install(int sig)
{
	install(sig, &g_proc.actions[sig]);
}

/* A vfork child (CLONE_VM without CLONE_SIGHAND) has actions of its own, but
 * g_proc.actions is its parent's memory.  What such a child sets before exec (Go's
 * clearSignalHandlers, posix_spawn's resets) is SIG_DFL or SIG_IGN: the kernel applies
 * those from the child's own table, so they go there and nowhere else.  Returns 1 when
 * done, 0 when @act must take the shared path (a handler, or a signal the LibOS owns). */
int libos_signal_install_child(int sig, const struct libos_sigaction *act)
{
	if (act->handler > 1 || libos_signal_owned(sig) || sig == SIGSYS)
		return 0;
	install(sig, act);
	return 1;
}

void libos_signal_init(void)
{
	for (int sig = 1; sig <= 64; sig++) {
		struct libos_sigaction k;
		if (libos_raw(SYS_rt_sigaction, sig, 0, (long)&k, 8, 0, 0) == 0)
			g_proc.actions[sig] = k;
	}
	struct libos_sigaction sys = {
		.handler = (uint64_t)tramp_signal_entry,
		.flags = SA_SIGINFO | SA_ONSTACK | SA_RESTORER,
		.restorer = (uint64_t)tramp_restorer,
		.mask = ~0ull,
	};
	libos_raw(SYS_rt_sigaction, SIGSYS, (long)&sys, 0, 8, 0, 0);
	libos_signal_install(SIGSEGV);
	libos_signal_install(SIGBUS);
}

/* Keep @sig for later: re-raise it to this thread and leave it blocked when the handler
 * returns.  The kernel keeps it queued with its siginfo.  The tid is the kernel's, not
 * t->tid: a fork child runs host code (glibc's fork) before do_fork updates that, and
 * a signal sent to it meanwhile went to its parent's tid, i.e. nowhere (-ESRCH). */
static void requeue(int sig, siginfo_t *info, ucontext_t *uc)
{
	libos_raw(SYS_rt_tgsigqueueinfo, getpid(), libos_raw(SYS_gettid, 0, 0, 0, 0, 0, 0), sig,
		  (long)info, 0, 0);
	uc->uc_sigmask.__val[0] |= SIGBIT(sig);
}

/* A signal that arrived at the end of a fast-path syscall interrupted the gate, whose
 * code the program's unwinder cannot see.  What is left to run there is fixed: `ret`,
 * then either the stub's `lea 0x80(%rsp),%rsp; jmp rel32` back to the program (a
 * window that ends at the syscall) or tramp_trap_resume's `pop %rcx; lea; jmp *%rcx`.
 * None of it touches the flags, so run it here and show the program its own position:
 * the same state, one the unwinder can walk (backtrace() in the handler).  A pending
 * restart (rip on the `syscall`) is restart_present's; stubs with work after the
 * syscall stay as they are. */
static void gate_unwind(greg_t *gr)
{
	static const uint8_t lea_up[8] = { 0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0 };
	uint64_t ip = (uint64_t)gr[REG_RIP], sp = (uint64_t)gr[REG_RSP], ret, guest;
	uint8_t code[13];
	int32_t rel;

	if (ip != (uint64_t)tramp_fast_ret && ip != (uint64_t)tramp_stats_ret)
		return;
	if (libos_from_guest(&ret, (void *)sp, 8))
		return;
	if (ret == (uint64_t)tramp_trap_resume_ret) {
		if (libos_from_guest(&guest, (void *)(sp + 8), 8))
			return;
		gr[REG_RCX] = (greg_t)guest;		/* pop %rcx */
		gr[REG_RSP] = (greg_t)(sp + 16 + TRAMP_RED_ZONE);
		gr[REG_RIP] = (greg_t)guest;		/* jmp *%rcx */
		return;
	}
	if (libos_from_guest(code, (void *)ret, sizeof(code)) || memcmp(code, lea_up, 8))
		return;
	if (code[8] != 0xe9)
		return;
	memcpy(&rel, code + 9, 4);
	gr[REG_RSP] = (greg_t)(sp + 8 + TRAMP_RED_ZONE);	/* ret; lea 0x80(%rsp),%rsp */
	gr[REG_RIP] = (greg_t)(ret + 13 + (int64_t)rel);	/* jmp rel32 */
}

/* A restart is pending in a stub: the kernel rewound rip onto the gate's fast-path
 * `syscall` (SA_RESTART), or net_reissue rewound the program onto its stub's call.  The
 * gate and LIVE stubs have no unwind info the program can see, so a forced unwind
 * (pthread_cancel) or backtrace() from the handler would stop there.  Show the handler
 * the state as the kernel would natively: rip on the program's own `syscall`, its own
 * %rsp, every other register as it is (rax is the call's number again), which the
 * original .eh_frame row there describes.  That address may now hold the patch's jump
 * or int3 fill, so *@r keeps where the restart really is (the stub's call, %rsp
 * TRAMP_RED_ZONE lower: re-entering the gate issues the same call) for
 * libos_sigreturn to put back.  The trap path shows the program's own `syscall` too
 * (running it again traps again, or takes the island patched meanwhile), and a stub
 * that is not in the table (an IMAGE stub of bypass-rewrite, whose unwind info is in
 * the file) is shown its own call, a valid restart point as well.  Either way the
 * restart passes a counter again, which *@r->recount says.  Returns 1 when *@r must
 * be kept, 0 otherwise (anything else stays as it is). */
static int restart_present(greg_t *gr, struct libos_restart *r)
{
	/* 48 8d 64 24 80  lea -0x80(%rsp),%rsp;  ff 15 rel32  call *slot(%rip) */
	static const uint8_t call_seq[7] = { 0x48, 0x8d, 0x64, 0x24, 0x80, 0xff, 0x15 };
	uint64_t ip = (uint64_t)gr[REG_RIP], sp = (uint64_t)gr[REG_RSP], ret, guest, site;
	uint8_t code[7];
	int gate = ip == (uint64_t)tramp_fast_ret - 2 || ip == (uint64_t)tramp_stats_ret - 2;
	int stats = ip == (uint64_t)tramp_stats_ret - 2;

	*r = (struct libos_restart){ .nr = (uint64_t)gr[REG_RAX] };
	if (gate) {
		/* [sp] = the stub's return address, sp = the site's %rsp - 136 */
		if (libos_from_guest(&ret, (void *)sp, 8))
			return 0;
		if (ret == (uint64_t)tramp_trap_resume_ret) {
			if (libos_from_guest(&guest, (void *)(sp + 8), 8))
				return 0;
			r->show_ip = r->ip = guest - 2;
			r->show_sp = r->sp = sp + 16 + TRAMP_RED_ZONE;
			r->recount = stats ? LIBOS_RECOUNT_TRAP : 0;
			goto show;
		}
		sp += 8;	/* at the call: the site's %rsp - TRAMP_RED_ZONE */
	} else {
		ret = ip + 6;
	}
	/* Our own table first: no guest memory is read for an arbitrary rip (a fault here,
	 * with every signal blocked, would kill the process). */
	r->ip = ret - 6;
	r->sp = sp;
	r->recount = stats ? LIBOS_RECOUNT_FAST : 0;
	if (libos_image_stub_site(ret, &site) == 0) {
		r->show_ip = site;
		r->show_sp = sp + TRAMP_RED_ZONE;
		goto show;
	}
	/* The gate was called from code: a stub that is not in the table, whose call
	 * sequence is behind @ret. */
	if (!gate || ret < 11 || libos_from_guest(code, (void *)(ret - 11), sizeof(code)) ||
	    memcmp(code, call_seq, sizeof(code)))
		return 0;
	r->show_ip = r->ip;
	r->show_sp = r->sp;
show:
	gr[REG_RIP] = (greg_t)r->show_ip;
	gr[REG_RSP] = (greg_t)r->show_sp;
	return r->show_ip != r->ip || r->recount;
}

/* Remember (@keep) or forget what the frame whose ucontext is at @uc shows: a frame
 * the handler left by siglongjmp or cancellation never comes back, so its entry is
 * overwritten by the next frame at the same place, or the oldest is reused. */
static void restart_note(struct libos_thread *t, uint64_t uc, int keep,
			 const struct libos_restart *r)
{
	struct libos_restart *free_e = NULL;

	for (unsigned i = 0; i < LIBOS_RESTARTS; i++) {
		if (t->restart[i].uc == uc)
			t->restart[i].uc = 0;
		if (!t->restart[i].uc && !free_e)
			free_e = &t->restart[i];
	}
	if (!keep)
		return;
	if (!free_e) {
		free_e = &t->restart[t->restart_next];
		t->restart_next = (t->restart_next + 1) % LIBOS_RESTARTS;
	}
	*free_e = *r;
	free_e->uc = uc;
}

/* Deliver @sig to the guest's handler now: the signal interrupted guest code. */
static void deliver(struct libos_thread *t, int sig, siginfo_t *info, ucontext_t *uc)
{
	struct libos_sigaction *act = &g_proc.actions[sig];
	greg_t *gr = uc->uc_mcontext.gregs;

	int sync = info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
					 sig == SIGFPE || sig == SIGTRAP);
	if (act->handler <= 1 || !(act->flags & SA_RESTORER)) {
		/* No guest handler (SIG_DFL, a fault the LibOS always catches, or an action
		 * changed meanwhile; or no restorer, which the x86-64 kernel refuses): let the
		 * kernel apply the default.  A fault is not re-raised: the instruction runs
		 * again and faults under SIG_DFL, as it would have natively. */
		struct libos_sigaction dfl = { .flags = SA_RESTORER,
					       .restorer = (uint64_t)tramp_restorer };
		if (act->handler == 1 && !sync)
			return;		/* SIG_IGN; a fault cannot be ignored */
		libos_raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0, 0);
		if (!sync)
			requeue(sig, info, uc);
		uc->uc_sigmask.__val[0] &= ~SIGBIT(sig);
		return;
	}

	struct libos_restart rs = { 0 };
	int keep = restart_present(gr, &rs);
	gate_unwind(gr);
	uint64_t isp = gr[REG_RSP], sp = isp;
	int was_on = on_stack(&t->guest_alt, isp);
	if ((act->flags & SA_ONSTACK) && !(t->guest_alt.ss_flags & SS_DISABLE) && !was_on)
		sp = (uint64_t)t->guest_alt.ss_sp + t->guest_alt.ss_size;
	else
		sp -= 128;	/* the interrupted code's red zone */

	/* Extended state, as the kernel laid it out (64-byte aligned). */
	const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
	size_t fpsize = 0;
	int bad = 0;
	if (fp) {
		uint32_t magic1, ext;
		memcpy(&magic1, fp + 464, 4);
		memcpy(&ext, fp + 468, 4);
		fpsize = (uc->uc_flags & UC_FP_XSTATE) && magic1 == FP_XSTATE_MAGIC1 ? ext : 512;
		sp = (sp - fpsize) & ~63ull;
		bad |= tramp_copy_guest((void *)sp, fp, fpsize) != 0;
	}
	uint64_t newfp = fp ? sp : 0;

	sp = ((sp - sizeof(struct kframe)) & ~15ull) - 8;
	struct kframe frame, *f = &frame;
	struct kucontext *kuc = (struct kucontext *)uc;
	f->pretcode = act->restorer;
	f->uc.uc_flags = kuc->uc_flags;
	f->uc.uc_link = 0;
	f->uc.uc_stack.ss_sp = t->guest_alt.ss_sp;
	f->uc.uc_stack.ss_size = t->guest_alt.ss_size;
	f->uc.uc_stack.ss_flags = (t->guest_alt.ss_flags & SS_DISABLE) ? SS_DISABLE :
				  was_on ? SS_ONSTACK : 0;
	f->uc.uc_mcontext = uc->uc_mcontext;
	f->uc.uc_mcontext.fpregs = (struct _libc_fpstate *)newfp;
	f->uc.uc_sigmask = kuc->uc_sigmask;
	memcpy(&f->info, info, sizeof(f->info));
	bad |= tramp_copy_guest((void *)sp, f, sizeof(*f)) != 0;
	f = (struct kframe *)sp;
	if (bad) {
		/* No room for the frame (stack overflow, bad sigaltstack): the kernel's
		 * force_sigsegv, i.e. SIGSEGV with the default action. */
		struct libos_sigaction dfl = { .flags = SA_RESTORER,
					       .restorer = (uint64_t)tramp_restorer };
		g_proc.actions[SIGSEGV].handler = 0;
		libos_raw(SYS_rt_sigaction, SIGSEGV, (long)&dfl, 0, 8, 0, 0);
		libos_raw(SYS_tgkill, getpid(), t->tid, SIGSEGV, 0, 0, 0);
		uc->uc_sigmask.__val[0] &= ~SIGBIT(SIGSEGV);
		return;
	}
	restart_note(t, (uint64_t)&f->uc, keep, &rs);

	gr[REG_RIP] = (greg_t)act->handler;
	gr[REG_RSP] = (greg_t)sp;
	gr[REG_RDI] = sig;
	gr[REG_RSI] = (greg_t)&f->info;
	gr[REG_RDX] = (greg_t)&f->uc;
	gr[REG_RAX] = 0;
	gr[REG_EFL] &= ~(greg_t)(EFLAGS_DF | EFLAGS_TF | EFLAGS_RF);

	uint64_t mask = kuc->uc_sigmask | act->mask;
	if (!(act->flags & SA_NODEFER))
		mask |= SIGBIT(sig);
	kuc->uc_sigmask = mask & ~LIBOS_UNBLOCKABLE;
	if (act->flags & SA_RESETHAND) {
		act->handler = 0;
		act->flags &= ~(uint64_t)SA_SIGINFO;
		libos_signal_install(sig);
	}
}

/* A syscall from a site nobody patched: resume it in the gate as a stub would. */
static void trap(struct libos_thread *t, siginfo_t *info, ucontext_t *uc, uint64_t fs)
{
	greg_t *gr = uc->uc_mcontext.gregs;
	long nr = gr[REG_RAX];

	if (g_proc.stats) {
		/* Counted once as trap: the resumed call would count as fast or libos. */
		t->tls.ntrap++;
		if (libos_route_fast(nr, gr[REG_RDI], gr[REG_RSI]))
			t->tls.nfast--;
		else
			t->tls.nlibos--;
	}
	if (nr == SYS_rt_sigreturn) {
		extern __attribute__((noreturn)) void libos_sigreturn(struct libos_thread *t,
								      uint64_t rsp, uint64_t fs);
		if (g_proc.stats) {
			t->tls.nlibos++;
			if (t->tls.counts)
				t->tls.counts[nr]++;
		}
		libos_sigreturn(t, gr[REG_RSP], fs);
	}
	/* lazily, if it can be done safely */
	if (!libos_image_trap((uint64_t)gr[REG_RIP] - 2))
		libos_jit_trap((uint64_t)gr[REG_RIP] - 2);
	uint64_t sp = gr[REG_RSP] - 136;
	*(uint64_t *)sp = gr[REG_RIP];
	gr[REG_RSP] = (greg_t)sp;
	gr[REG_RIP] = (greg_t)tramp_trap_resume;
}

/* A fault in the LibOS itself: a bug of ours.  Say where, with the host stack as
 * libunwind walks it from the faulting context, and end the process. */
static void host_fault(int sig, siginfo_t *info, ucontext_t *uc)
{
	char msg[320], name[128];
	unw_cursor_t c;
	unw_word_t ip, off;
	int n = snprintf(msg, sizeof(msg),
			 "bypass-run: internal error: signal %d at %#llx (address %p) in the LibOS\n",
			 sig, (unsigned long long)uc->uc_mcontext.gregs[REG_RIP], info->si_addr);

	(void)!write(2, msg, n);
	if (unw_init_local2(&c, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) == 0) {
		for (int depth = 0; depth < 32; depth++) {
			if (unw_get_reg(&c, UNW_REG_IP, &ip) || !ip)
				break;
			if (unw_get_proc_name(&c, name, sizeof(name), &off))
				snprintf(name, sizeof(name), "?"), off = 0;
			n = snprintf(msg, sizeof(msg), "  #%d %#lx %s+%#lx\n", depth,
				     (unsigned long)ip, name, (unsigned long)off);
			(void)!write(2, msg, n);
			if (unw_step(&c) <= 0)
				break;
		}
	}
	syscall(SYS_exit_group, 125);
}

void libos_signal_handle(int sig, void *infov, void *ucv, uint64_t fs)
{
	siginfo_t *info = infov;
	ucontext_t *uc = ucv;
	uint64_t gs;

	__asm__ volatile("rdgsbase %0" : "=r"(gs));
	if (!gs) {
		/* A host-only thread: nothing of the guest's here.  Its own faults are bugs. */
		if (info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS))
			host_fault(sig, info, uc);
		return;
	}
	struct libos_thread *t = (struct libos_thread *)gs;
	uint64_t ip = uc->uc_mcontext.gregs[REG_RIP];
	int host = t->tls.in_host || in_range(ip, tramp_host_begin, tramp_host_end);

	if ((sig == SIGSEGV || sig == SIGBUS) && info->si_code > 0 &&
	    ip == (uint64_t)tramp_probe_begin) {
		/* The gate's path probe met a bad pointer: let the LibOS answer -EFAULT. */
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)tramp_probe_fault;
		return;
	}
	if (sig == SIGSYS && info->si_code == SYS_USER_DISPATCH && !host) {
		trap(t, info, uc, fs);
		return;
	}
	if (host) {
		if (info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS) &&
		    in_range(ip, tramp_uaccess_begin, tramp_uaccess_end)) {
			/* A bad guest pointer handed to the LibOS: -EFAULT, as the kernel. */
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)tramp_uaccess_fault;
			return;
		}
		if (info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
					  sig == SIGFPE || sig == SIGTRAP))
			host_fault(sig, info, uc);
		requeue(sig, info, uc);
		/* tramp_sigreturn only (tramp_signal_entry follows it in the gate): the uaccess
		 * helpers after them are plain LibOS code, whose signals must be deferred or
		 * they stay blocked with nothing left to flush them. */
		if (in_range(ip, (const char *)tramp_sigreturn, (const char *)tramp_signal_entry) &&
		    !in_range(ip, tramp_exit_begin, tramp_exit_end))
			return;	/* rt_sigreturn is about to set the mask: it will deliver */
		t->deferred |= SIGBIT(sig);
		t->tls.pending = 1;
		if (in_range(ip, tramp_exit_begin, tramp_exit_end))
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)tramp_exit_begin;
		return;
	}
	if (sig == SIGSYS) {
		/* A SIGSYS for the guest (kill, seccomp): its own action applies. */
		if (g_proc.actions[SIGSYS].handler <= 1)
			return;
	}
	deliver(t, sig, info, uc);
}

static uint64_t cur_selectors(void)
{
	uint64_t cs, ss;
	__asm__("mov %%cs, %0; mov %%ss, %1" : "=r"(cs), "=r"(ss));
	return (cs & 0xffff) | ((ss & 0xffff) << 48);
}

/* Deferred signals were re-raised to this thread (requeue).  One that was meant for
 * the process (kill, sigqueue, SIGCHLD: anything but tgkill's SI_TKILL) would natively
 * wait in the shared queue for another thread: take each back from this one and send
 * it to the process; a thread-directed one dies with the thread, as natively. */
void libos_signal_hand_over(struct libos_thread *t)
{
	uint64_t set = __atomic_exchange_n(&t->deferred, 0, __ATOMIC_RELAXED);
	struct timespec now = { 0, 0 };
	siginfo_t info;

	t->tls.pending = 0;
	while (set) {
		long sig = libos_raw(SYS_rt_sigtimedwait, (long)&set, (long)&info, (long)&now, 8,
				     0, 0);
		if (sig <= 0)
			break;
		if (info.si_code != SI_TKILL)
			libos_raw(SYS_rt_sigqueueinfo, getpid(), sig, (long)&info, 0, 0, 0);
		if (sig < 32)
			set &= ~SIGBIT(sig);	/* a standard signal: one instance at most */
	}
}

/* Called by the world switch's exit when signals were deferred: return to the guest
 * through rt_sigreturn with them unblocked, so the kernel delivers them there. */
void libos_signal_flush(struct tramp_regs *r)
{
	struct libos_thread *t = libos_self();
	uint64_t all = ~0ull, cur;

	tramp_vectors_save();	/* the frame's fpstate is the xsave area */
	libos_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&cur, 8, 0, 0);
	uint64_t deferred = t->deferred;
	t->deferred = 0;
	t->tls.pending = 0;
	if (!deferred) {
		libos_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&cur, 0, 8, 0, 0);
		return;
	}

	struct kframe f __attribute__((aligned(16)));
	memset(&f, 0, sizeof(f));
	greg_t *gr = f.uc.uc_mcontext.gregs;
	f.uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f.uc.uc_stack = t->host_alt;	/* rt_sigreturn re-installs it: keep ours */
	gr[REG_R8] = r->r8;   gr[REG_R9] = r->r9;   gr[REG_R10] = r->r10; gr[REG_R11] = r->r11;
	gr[REG_R12] = r->r12; gr[REG_R13] = r->r13; gr[REG_R14] = r->r14; gr[REG_R15] = r->r15;
	gr[REG_RDI] = r->rdi; gr[REG_RSI] = r->rsi; gr[REG_RBP] = r->rbp; gr[REG_RBX] = r->rbx;
	gr[REG_RDX] = r->rdx; gr[REG_RAX] = r->rax; gr[REG_RCX] = r->rcx;
	gr[REG_RSP] = r->rsp; gr[REG_RIP] = r->rip; gr[REG_EFL] = r->rflags;
	gr[REG_CSGSFS] = cur_selectors();
	f.uc.uc_mcontext.fpregs = (struct _libc_fpstate *)t->tls.xsave;
	f.uc.uc_sigmask = cur & ~deferred;
	tramp_sigreturn(&f.uc, r->fs);
}

/* The guest's rt_sigreturn, its ucontext at @rsp.  Its uc_stack is the guest's
 * sigaltstack to restore: take it, and give the kernel ours instead. */
void libos_sigreturn(struct libos_thread *t, uint64_t rsp, uint64_t fs)
{
	struct kucontext *uc = (struct kucontext *)rsp;
	uint64_t all = ~0ull;

	if (!on_stack(&t->guest_alt, rsp)) {
		stack_t *ss = &uc->uc_stack;
		if (ss->ss_flags & SS_DISABLE) {
			t->guest_alt.ss_flags = SS_DISABLE;
			t->guest_alt.ss_sp = NULL;
			t->guest_alt.ss_size = 0;
		} else if (ss->ss_size >= (size_t)MINSIGSTKSZ) {
			t->guest_alt.ss_sp = ss->ss_sp;
			t->guest_alt.ss_size = ss->ss_size;
			t->guest_alt.ss_flags = 0;
		}
	}
	for (unsigned i = 0; i < LIBOS_RESTARTS; i++) {
		struct libos_restart *r = &t->restart[i];
		if (r->uc != rsp)
			continue;
		/* restart_present showed this frame another place to restart: unless the
		 * handler moved it on, resume where the restart really is. */
		greg_t *gr = uc->uc_mcontext.gregs;
		if ((uint64_t)gr[REG_RIP] == r->show_ip && (uint64_t)gr[REG_RSP] == r->show_sp) {
			gr[REG_RIP] = (greg_t)r->ip;
			gr[REG_RSP] = (greg_t)r->sp;
			/* The kernel's restart is not a call of the program's: the gate or the
			 * trap counts it once more, so take one off (trap() does the same). */
			if (r->recount == LIBOS_RECOUNT_FAST)
				t->tls.nfast--;
			if (r->recount == LIBOS_RECOUNT_TRAP)
				t->tls.ntrap--;
			if (r->recount && t->tls.counts && r->nr < TRAMP_ROUTES)
				t->tls.counts[r->nr]--;
		}
		r->uc = 0;
	}
	uc->uc_stack = t->host_alt;
	uc->uc_sigmask &= ~LIBOS_UNBLOCKABLE;
	/* Anything deferred during this call is queued and blocked; the mask the frame
	 * restores decides, as it would natively. */
	libos_raw(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, 8, 0, 0);
	t->deferred = 0;
	t->tls.pending = 0;
	tramp_sigreturn(uc, fs);
}
