/* SPDX-License-Identifier: MIT */
/* LibOS internals: the thread block behind every guest thread's GS base, process state,
 * the syscall handler type and the helpers the syscall families share. */
#ifndef LIBOS_INTERNAL_H
#define LIBOS_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <libos/libos.h>
#include <trampolines/tramp.h>

#include "trace.h"

#define LIBOS_NR_MAX		512
/* ld.so's variables travel to the host under this prefix (see tools/launch.c). */
#define LIBOS_GUEST_PREFIX	"BYPASS_GUEST_"	/* table size: highest x86-64 syscall is < 512 */
#define LIBOS_HOST_STACK	(256 << 10)
#define LIBOS_ALT_STACK		(64 << 10)
#define LIBOS_BRK_RESERVE	(1ul << 30)
#define LIBOS_ARENA_RESERVE	(4ul << 20)

/* Arguments of one syscall.  Handlers return the result or -errno. */
struct libos_args {
	long nr;
	long a[6];			/* rdi rsi rdx r10 r8 r9 */
	struct tramp_regs *regs;	/* the guest's registers; handlers may edit them */
	struct libos_thread *self;
};

typedef long libos_handler_fn(struct libos_args *a);

#define LIBOS_RESTARTS	64	/* nested restartable frames remembered per thread */
#define LIBOS_RECOUNT_FAST	1	/* the gate's stats entry counts it (nfast) */
#define LIBOS_RECOUNT_TRAP	2	/* the trap counts it (ntrap) */

/* One guest thread (its host twin).  The block also holds the thread's XSAVE area,
 * alternate signal stack and world-switch stack. */
struct libos_thread {
	struct tramp_tls tls;		/* first: %gs:0 */
	struct libos_thread *next, *prev;	/* live list, under g_proc.lock */
	pid_t tid;
	bool twin;			/* a pthread twin (not the main or a vfork child) */
	bool vfork_child;		/* shares memory with a suspended parent */
	bool net_hold;			/* its socket calls hold their frames (net/core.c) */
	uint64_t deferred;		/* signals re-raised and blocked while in host code */
	stack_t guest_alt;		/* the guest's sigaltstack */
	stack_t host_alt;		/* the real one: ours */
	uint32_t *clear_tid;		/* CLONE_CHILD_CLEARTID / set_tid_address of a twin */
	uint64_t rseq_area;		/* the guest's rseq registration, to drop at its exit */
	uint32_t rseq_len, rseq_sig;
	jmp_buf exit_jmp;		/* twins: back to the start routine on exit */
	int *set_tid;			/* vfork child: CLONE_CHILD_SETTID */
	uint64_t start_mask;		/* signal mask the new thread starts with */
	int trace_fd, trace_pid;	/* --trace output of this thread (0: not open) */
	void *map;			/* the block mapping */
	size_t map_size;
	/* Signal frames whose context shows a pending restart at the program's own
	 * `syscall` instead of in its stub (signal.c, restart_present). */
	struct libos_restart {
		uint64_t uc;		/* the frame's ucontext: the key; 0 = free */
		uint64_t show_ip, show_sp;	/* what the frame shows */
		uint64_t ip, sp;	/* where the restart really is */
		uint64_t nr;		/* the call, and which counter */
		int recount;		/* counts it again under --stats: LIBOS_RECOUNT_* */
	} restart[LIBOS_RESTARTS];
	unsigned restart_next;		/* the entry to reuse when all are taken */
};

/* A guest signal action (kernel layout of struct sigaction for rt_sigaction). */
struct libos_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct libos_proc {
	const struct libos_config *cfg;
	char exe[4096];			/* absolute path of the guest executable */
	pthread_mutex_t lock;		/* thread list, actions, stats folding */
	struct libos_thread *threads;
	atomic_int live;		/* live guest threads */
	struct libos_sigaction actions[65];
	uint64_t tool_size, tool_mtime_ns;	/* bypass-run's identity, for plan caches */
	/* brk */
	uintptr_t brk_start, brk_cur, brk_limit;
	/* statistics */
	bool stats;
	bool human;			/* this process prints the human summary */
	uint64_t sites_found, sites_displaced, sites_island, sites_trap;
	uint64_t sites_jit;		/* JIT code patched lazily (jit.c) */
	uint64_t nfast, nlibos, ntrap;	/* folded from exited threads */
	uint64_t *counts;		/* TRAMP_ROUTES, folded from exited threads */
	uint64_t big_nr[16], big_count[16];	/* numbers >= TRAMP_ROUTES */
};

extern struct libos_proc g_proc;
extern libos_handler_fn *const g_libos_table[LIBOS_NR_MAX];
extern const bool g_libos_light[LIBOS_NR_MAX];
/* Handlers whose paths change only vector registers and MXCSR (no x87): dispatch saves
 * the guest's with tramp_vectors_save_regs() instead of XSAVE (see table.c). */
extern const bool g_libos_vregs[LIBOS_NR_MAX];

static inline struct libos_thread *libos_self(void)
{
	struct libos_thread *t;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(t));
	return t;
}

static inline long libos_raw(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	return tramp_syscall6(nr, a0, a1, a2, a3, a4, a5);
}

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

#define SIGBIT(sig) (1ull << ((sig) - 1))

/* Guest memory, read or written by host code: 0 or -EFAULT, never a crash. */
static inline long libos_from_guest(void *dst, const void *guest_src, size_t n)
{
	return tramp_copy_guest(dst, guest_src, n);
}

static inline long libos_to_guest(void *guest_dst, const void *src, size_t n)
{
	return tramp_copy_guest(guest_dst, src, n);
}

/* Copy the guest string @s into @buf (@size bytes): its length, -EFAULT, or
 * -ENAMETOOLONG when it does not fit. */
static inline long libos_path_from_guest(char *buf, size_t size, const char *s)
{
	long n = tramp_strnlen_guest(s, size);

	if (n < 0)
		return n;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	return tramp_copy_guest(buf, s, (size_t)n + 1) ?: n;
}

/* dispatch.c: the gate's route decision for a call, made in C */
bool libos_route_fast(long nr, uint64_t rdi, uint64_t rsi);

/* thread.c */
struct libos_thread *libos_thread_create(void);
/* A block for a clone child of the caller: it resumes at the caller's resume point with
 * rax = 0, on @stack (if non-zero) and with FS @tls under CLONE_SETTLS. */
struct libos_thread *libos_thread_create_child(const struct libos_args *a, unsigned long flags,
					      uint64_t stack, uint64_t tls);
void libos_thread_destroy(struct libos_thread *t);
void libos_thread_enter(struct libos_thread *t);	/* GS, altstack, rseq, SUD for the caller */
void libos_thread_link(struct libos_thread *t);
void libos_thread_unlink_locked(struct libos_thread *t);	/* g_proc.lock held */
int libos_sud_arm(struct libos_thread *t);
long libos_thread_clone(struct libos_args *a, unsigned long flags, uint64_t stack,
			int *ptid, int *ctid, uint64_t tls);
__attribute__((noreturn)) void libos_thread_exit(struct libos_thread *t, int code);

/* signal.c */
void libos_signal_init(void);
void libos_signal_install(int sig);
/* A guest thread leaves for good (every signal blocked): hand what was deferred on it to
 * the process, as the kernel would a process-directed signal. */
void libos_signal_hand_over(struct libos_thread *t);
/* sys/proc.c */
__attribute__((noreturn)) void libos_exit_group(int code);
/* hostmap.c: the host's ranges, which the program may not map over or unmap */
void libos_hostmap_init(void);
void libos_hostmap_add(uint64_t lo, uint64_t hi);
void libos_hostmap_remove(uint64_t lo, uint64_t hi);
bool libos_hostmap_overlaps(uint64_t lo, uint64_t len);

/* tracing.c */
extern bool g_trace_on;
extern uint8_t g_trace_filter[LIBOS_TRACE_FILTER_BYTES];
/* Whether --trace writes a line for @nr.  Only those numbers are routed to the LibOS
 * for the trace's sake; the others keep their own routes and cost. */
static inline bool libos_trace_selects(long nr)
{
	return g_trace_on && libos_trace_filter_has(g_trace_filter, nr);
}
int libos_trace_init(const char **bad);
void libos_trace_call(struct libos_args *a, long result, int flags);
/* stats.c */
void libos_expand_pid(char *dst, size_t size, const char *pattern);
void libos_stats_init(void);
void libos_stats_thread_init(struct libos_thread *t);
void libos_stats_fold(struct libos_thread *t);	/* g_proc.lock held */
void libos_stats_reset_child(struct libos_thread *t);
void libos_stats_write(bool human);
/* fs.c */
int libos_is_self_exe(const char *path);
/* exec: validate like the kernel and re-enter bypass-run; returns -errno on failure. */
long libos_exec(const char *path, char *const *argv, char *const *envp,
		struct libos_args *trace_args);

#endif
