// SPDX-License-Identifier: MIT
/* Guest threads.  Every guest thread runs on a host thread (its twin) whose GS base
 * points at a libos_thread block: the GS-addressed state the stubs use, the XSAVE area,
 * the real alternate signal stack and the world-switch stack. */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "net/net.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define PR_SYS_DISPATCH_OFF 0
#endif

#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#endif
#ifndef FP_XSTATE_MAGIC2
#define FP_XSTATE_MAGIC2 0x46505845u
#endif

static size_t page_up(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

/* A zeroed XSAVE image is the power-on state once MXCSR is set (XSTATE_BV = 0 makes
 * XRSTOR initialise every component).  Bytes 464..511 are for software: the kernel's
 * sigframe marker that lets rt_sigreturn take this area as a full xstate frame. */
static void xsave_area_init(uint8_t *x)
{
	uint32_t mxcsr = 0x1f80, magic2 = FP_XSTATE_MAGIC2;
	struct {
		uint32_t magic1, extended_size;
		uint64_t xfeatures;
		uint32_t xstate_size, pad[7];
	} sw = {
		.magic1 = FP_XSTATE_MAGIC1,
		.extended_size = g_tramp_xsize + 4,
		.xfeatures = g_tramp_xmask,
		.xstate_size = g_tramp_xsize,
	};

	memcpy(x + 24, &mxcsr, 4);
	memcpy(x + 464, &sw, sizeof(sw));
	memcpy(x + g_tramp_xsize, &magic2, 4);
}

struct libos_thread *libos_thread_create(void)
{
	size_t head = page_up(sizeof(struct libos_thread));
	/* The XSAVE area, then (64-byte aligned) the register-only save area. */
	size_t xs_regs = (g_tramp_xsize + 64 + 63) & ~(size_t)63;
	size_t xs = page_up(xs_regs + TRAMP_VSAVE_SIZE);
	size_t size = head + xs + 4096 + LIBOS_ALT_STACK + 4096 + LIBOS_HOST_STACK;
	uint8_t *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	/* Guard pages under both stacks. */
	mprotect(m + head + xs, 4096, PROT_NONE);
	mprotect(m + head + xs + 4096 + LIBOS_ALT_STACK, 4096, PROT_NONE);

	libos_hostmap_add((uint64_t)m, (uint64_t)m + size);
	struct libos_thread *t = (struct libos_thread *)m;
	t->map = m;
	t->map_size = size;
	t->tls.self = &t->tls;
	t->tls.xsave = (uint64_t)(m + head);
	xsave_area_init(m + head);
	t->tls.vsave = (uint64_t)(m + head + xs_regs);
	t->tls.xsaved = TRAMP_XS_XSAVE;	/* its first entry into the guest loads this state */
	t->host_alt.ss_sp = m + head + xs + 4096;
	t->host_alt.ss_size = LIBOS_ALT_STACK;
	t->tls.host_rsp = (uint64_t)(m + size) & ~15ull;
	t->tls.selector = TRAMP_SEL_ALLOW;
	/* A new thread runs host code (start-up, SUD, mask) before its first entry into
	 * the guest: signals until then are deferred to that entry, never run in place. */
	t->tls.in_host = 1;
	t->guest_alt.ss_flags = SS_DISABLE;
	libos_stats_thread_init(t);
	return t;
}

void libos_thread_destroy(struct libos_thread *t)
{
	if (t->tls.counts)
		munmap(t->tls.counts, TRAMP_ROUTES * sizeof(uint64_t));
	libos_hostmap_remove((uint64_t)t->map, (uint64_t)t->map + t->map_size);
	munmap(t->map, t->map_size);
}

void libos_thread_link(struct libos_thread *t)
{
	pthread_mutex_lock(&g_proc.lock);
	t->next = g_proc.threads;
	t->prev = NULL;
	if (g_proc.threads)
		g_proc.threads->prev = t;
	g_proc.threads = t;
	pthread_mutex_unlock(&g_proc.lock);
	atomic_fetch_add(&g_proc.live, 1);
}

void libos_thread_unlink_locked(struct libos_thread *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		g_proc.threads = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

int libos_sud_arm(struct libos_thread *t)
{
	if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
		  (unsigned long)tramp_gate_begin,
		  (unsigned long)(tramp_gate_end - tramp_gate_begin),
		  (unsigned long)&t->tls.selector))
		return -errno;
	return 0;
}

/* glibc registered an rseq area for this host thread; the guest's libc wants its own
 * and the kernel allows one per thread.  Hand it over, and make the host's
 * sched_getcpu() take its fallback. */
static void rseq_release(void)
{
	if (__rseq_size == 0)
		return;
	struct rseq *r = (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
	if (syscall(SYS_rseq, r, 32, RSEQ_FLAG_UNREGISTER, 0x53053053) == 0 ||
	    syscall(SYS_rseq, r, __rseq_size, RSEQ_FLAG_UNREGISTER, 0x53053053) == 0)
		r->cpu_id = RSEQ_CPU_ID_REGISTRATION_FAILED;
}

void libos_thread_enter(struct libos_thread *t)
{
	uint64_t fs;

	__asm__ volatile("rdfsbase %0" : "=r"(fs));
	t->tls.host_fs = fs;
	t->tid = (pid_t)syscall(SYS_gettid);
	sigaltstack(&t->host_alt, NULL);
	rseq_release();
	__asm__ volatile("wrgsbase %0" ::"r"(t) : "memory");
}

/* A call the trap resumed in the gate returns through a word tramp_trap_resume left
 * on the guest's stack, below its %rsp.  A child that shares that stack (clone with
 * CLONE_VM and no stack of its own: Go's vfork) writes there before the parent
 * resumes.  Resume at the guest's return address directly, as `syscall` would (rcx =
 * rip), so neither reads that word after the child has run. */
static void regs_untrap(struct tramp_regs *r)
{
	uint64_t ret;

	if (r->rip != (uint64_t)tramp_trap_resume_ret ||
	    libos_from_guest(&ret, (const void *)r->rsp, 8))
		return;
	r->rip = ret;
	r->rcx = ret;
	r->rsp += 8 + TRAMP_RED_ZONE;
}

struct libos_thread *libos_thread_create_child(const struct libos_args *a, unsigned long flags,
					      uint64_t stack, uint64_t tls)
{
	struct libos_thread *t = libos_thread_create();

	if (!t)
		return NULL;
	if (!stack && (flags & CLONE_VM))
		regs_untrap(a->regs);	/* the parent's too: both resume from it */
	/* The child resumes where the parent does, with rax = 0, on its own stack/TLS. */
	struct tramp_regs *r = (struct tramp_regs *)(t->tls.host_rsp - sizeof(*r));
	*r = *a->regs;
	r->rax = 0;
	if (stack)
		tramp_regs_set_stack(r, stack);
	if (flags & CLONE_SETTLS)
		r->fs = tls;
	t->tls.frame = (uint64_t)r;
	t->tls.host_rsp = (uint64_t)r & ~15ull;
	memcpy((void *)t->tls.xsave, (void *)a->self->tls.xsave, g_tramp_xsize);
	/* The kernel's rule (copy_process): a child sharing the VM but not suspending its
	 * parent starts without an alternate stack; a vfork child keeps the parent's.
	 * Inheriting it made Go's cgo threads take their creator's stack as their own
	 * signal stack (minitSignalStack keeps one it finds), and two threads' handlers
	 * then ran on the same memory. */
	if ((flags & (CLONE_VM | CLONE_VFORK)) == CLONE_VM)
		t->guest_alt = (stack_t){ .ss_flags = SS_DISABLE };
	else
		t->guest_alt = a->self->guest_alt;
	return t;
}

/* ---- clone(CLONE_THREAD): a pthread twin ---- */

/* Start of a twin, in the parent's frame: the child reports its tid here once, then
 * never touches it again (the parent's frame is gone after that). */
struct twin_start {
	struct libos_thread *t;
	unsigned long flags;
	int *ptid, *ctid;
	volatile int tid;
};

static void *twin_main(void *arg)
{
	struct twin_start *st = arg;
	struct libos_thread *t = st->t;

	libos_thread_enter(t);
	if (setjmp(t->exit_jmp)) {
		/* The guest thread is gone: become a plain host thread and free the block
		 * (SUD reads the selector in it at every syscall: disarm it first). */
		prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
		__asm__ volatile("wrgsbase %0" ::"r"(0ul) : "memory");
		sigaltstack(&(stack_t){ .ss_flags = SS_DISABLE }, NULL);
		libos_thread_destroy(t);
		return NULL;
	}
	if (libos_sud_arm(t))
		_exit(126);	/* cannot happen once the main thread armed it */
	libos_thread_link(t);
	/* The guest's thread descriptor must hold its tid before its first instruction
	 * (glibc's mutexes compare it), as the kernel writes both before the child runs. */
	if (st->flags & CLONE_PARENT_SETTID)
		libos_to_guest(st->ptid, &t->tid, 4);
	if (st->flags & CLONE_CHILD_SETTID)
		libos_to_guest(st->ctid, &t->tid, 4);
	sigset_t m;
	memcpy(&m, &t->start_mask, sizeof(t->start_mask));
	int *word = (int *)&st->tid;
	__atomic_store_n(word, t->tid, __ATOMIC_RELEASE);
	/* st may be gone from here on; a wake on a stale address is harmless. */
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, 8);
	tramp_resume(&t->tls);
}

long libos_thread_clone(struct libos_args *a, unsigned long flags, uint64_t stack,
			int *ptid, int *ctid, uint64_t tls)
{
	struct libos_thread *self = a->self, *t;
	const unsigned long need = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;

	if ((flags & need) != need)
		return -EINVAL;
	if (!(t = libos_thread_create_child(a, flags, stack, tls)))
		return -ENOMEM;
	t->twin = true;
	if (flags & CLONE_CHILD_CLEARTID)
		t->clear_tid = (uint32_t *)ctid;

	/* The twin starts with everything blocked and then takes the parent's mask. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	memcpy(&t->start_mask, &old, sizeof(t->start_mask));
	t->start_mask &= ~self->deferred;

	pthread_attr_t attr;
	pthread_t th;
	struct twin_start st = { .t = t, .flags = flags, .ptid = ptid, .ctid = ctid };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 << 10);
	int err = pthread_create(&th, &attr, twin_main, &st);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		libos_thread_destroy(t);
		return -err;
	}
	int tid;
	while (!(tid = __atomic_load_n(&st.tid, __ATOMIC_ACQUIRE)))
		syscall(SYS_futex, &st.tid, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return tid;
}

/* Exit of one guest thread.  The last one out ends the process with its code. */
void libos_thread_exit(struct libos_thread *t, int code)
{
	if (atomic_fetch_sub(&g_proc.live, 1) == 1)
		libos_exit_group(code);
	libos_net_thread_exit(t);
	/* The kernel thread lives on (as a twin's host thread, or a zombie leader): the
	 * guest thread's registrations end here, before clearing the tid lets the joiner
	 * reuse the memory they point into. */
	if (t->rseq_area)
		syscall(SYS_rseq, t->rseq_area, t->rseq_len, RSEQ_FLAG_UNREGISTER, t->rseq_sig);
	syscall(SYS_set_robust_list, NULL, 24);
	if (t->clear_tid && libos_to_guest(t->clear_tid, &(uint32_t){ 0 }, 4) == 0)
		syscall(SYS_futex, t->clear_tid, FUTEX_WAKE, 1, NULL, NULL, 0);
	pthread_mutex_lock(&g_proc.lock);
	libos_stats_fold(t);
	libos_thread_unlink_locked(t);
	pthread_mutex_unlock(&g_proc.lock);
	/* Leave the guest for good: signals for this thread now would find no guest. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	t->tls.in_host = 1;
	libos_signal_hand_over(t);
	if (t->twin)
		longjmp(t->exit_jmp, 1);
	/* The main thread: the process lives on while other threads do. */
	for (;;)
		syscall(SYS_exit, code);
}
