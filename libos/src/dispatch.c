// SPDX-License-Identifier: MIT
/* The C side of the world switch: one handler per syscall from g_libos_table,
 * passthrough for everything else. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>

#include "image.h"
#include "internal.h"
#include "trace.h"
#include "net/net.h"

struct libos_proc g_proc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void nowait_init(void);

/* Route every number with a handler to the LibOS; all others stay on the fast path.
 * Path calls the LibOS only cares about for /proc/... are filtered in the gate. */
void libos_dispatch_init(void)
{
	memset(g_tramp_route, 0, sizeof(g_tramp_route));
	for (int nr = 0; nr < LIBOS_NR_MAX; nr++)
		g_tramp_route[nr] = g_libos_table[nr] ? TRAMP_ROUTE_LIBOS : TRAMP_ROUTE_FAST;
	g_tramp_route[SYS_open] = TRAMP_ROUTE_PATH_RDI;
	g_tramp_route[SYS_readlink] = TRAMP_ROUTE_PATH_RDI;
	g_tramp_route[SYS_openat] = TRAMP_ROUTE_PATH_RSI;
	g_tramp_route[SYS_readlinkat] = TRAMP_ROUTE_PATH_RSI;
	g_tramp_route[SYS_openat2] = TRAMP_ROUTE_PATH_RSI;
	nowait_init();
	libos_net_routes_init();	/* socket calls: fast unless --net=dpdk */
	libos_jit_routes_init();	/* mprotect, mremap: fast until JIT code is patched */
}

/* The gate's decision for @nr with these arguments: does it take the fast path? */
bool libos_route_fast(long nr, uint64_t rdi, uint64_t rsi)
{
	char head[6];
	uint8_t route = nr >= 0 && nr < TRAMP_ROUTES ? g_tramp_route[nr] : TRAMP_ROUTE_LIBOS;

	if (route == TRAMP_ROUTE_FAST || route == TRAMP_ROUTE_LIBOS)
		return route == TRAMP_ROUTE_FAST;
	if (route == TRAMP_ROUTE_FD_RDI)
		return rdi >= TRAMP_FDMAP || !g_tramp_fdmap[rdi];
	const char *path = (const char *)(route == TRAMP_ROUTE_PATH_RDI ? rdi : rsi);
	if (tramp_copy_guest(head, path, sizeof(head)))
		return false;
	return memcmp(head, "/proc/", 6) != 0;
}

/* Calls that never wait on another party (tramp.h, g_tramp_nowait): a thread's held
 * frames may stay queued across them.  Every other call may wait on something that
 * waits for those frames. */
static const uint16_t k_nowait[] = {
	SYS_close,	/* of a kernel fd; waits only for SO_LINGER on a kernel socket */
	SYS_stat, SYS_fstat, SYS_lstat, SYS_newfstatat, SYS_statx, SYS_access,
	SYS_faccessat, SYS_faccessat2, SYS_readlink, SYS_readlinkat, SYS_getcwd,
	SYS_getdents64, SYS_lseek, SYS_pread64, SYS_preadv, SYS_fadvise64,
	SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_brk,
	SYS_rt_sigprocmask, SYS_getpid, SYS_getppid, SYS_gettid, SYS_getuid, SYS_geteuid,
	SYS_getgid, SYS_getegid, SYS_uname, SYS_gettimeofday, SYS_time, SYS_clock_gettime,
	SYS_clock_getres, SYS_getrusage, SYS_times, SYS_sched_getaffinity,
};

static void nowait_init(void)
{
	memset(g_tramp_nowait, TRAMP_NOWAIT_NO, sizeof(g_tramp_nowait));
	for (size_t i = 0; i < sizeof(k_nowait) / sizeof(k_nowait[0]); i++)
		g_tramp_nowait[k_nowait[i]] = TRAMP_NOWAIT_YES;
	g_tramp_nowait[SYS_openat] = TRAMP_NOWAIT_NONBLOCK_RDX;	/* a FIFO's open waits */
}

static bool nowait(long nr, uint64_t rdx)
{
	uint8_t w = nr >= 0 && nr < TRAMP_ROUTES ? g_tramp_nowait[nr] : TRAMP_NOWAIT_NO;

	return w == TRAMP_NOWAIT_YES || (w == TRAMP_NOWAIT_NONBLOCK_RDX && (rdx & O_NONBLOCK));
}

/* A call of a thread whose socket calls hold frames for the wire (tls.hold): they leave
 * now unless the call keeps them (one on a LibOS socket or epoll, whose waits poll, or
 * one that never waits).  A call the gate meant for the kernel came here only for that:
 * it is issued again (true), now on the fast path, in the program's world as natively
 * (a blocking call stays interruptible and restartable as the program asked). */
static bool hold_check(struct libos_args *a)
{
	struct libos_thread *t = a->self;

	if (libos_net_keeps_hold(a->nr, a->a[0]) || nowait(a->nr, a->a[2]))
		return false;
	libos_net_release(t);
	if (!libos_route_fast(a->nr, a->a[0], a->a[1]))
		return false;
	if (t->tls.counts)
		t->tls.counts[a->nr]--;	/* the gate counts it again */
	a->regs->rax = (uint64_t)net_reissue(a);
	return true;
}

static void count_big(long nr)
{
	pthread_mutex_lock(&g_proc.lock);
	for (int i = 0; i < 16; i++) {
		if (g_proc.big_count[i] == 0 || (long)g_proc.big_nr[i] == nr) {
			g_proc.big_nr[i] = nr;
			g_proc.big_count[i]++;
			break;
		}
	}
	pthread_mutex_unlock(&g_proc.lock);
}

void libos_dispatch(struct tramp_regs *r)
{
	struct libos_thread *t = libos_self();
	long nr = (long)r->nr;
	struct libos_args a = {
		.nr = nr,
		.a = { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 },
		.regs = r,
		.self = t,
	};

	if (__builtin_expect(t->tls.hold, 0) && hold_check(&a))
		return;
	bool traced = __builtin_expect(g_trace_on, 0) && libos_trace_selects(nr);

	/* First thing: nothing before this may touch a vector register (this file is built
	 * with -mgeneral-regs-only). */
	if (nr < 0 || nr >= LIBOS_NR_MAX || traced)
		tramp_vectors_save();
	else if (g_libos_vregs[nr])
		tramp_vectors_save_regs();
	else if (!g_libos_light[nr])
		tramp_vectors_save();
	if (g_proc.stats) {
		t->tls.nlibos++;
		if (nr < 0 || nr >= TRAMP_ROUTES)
			count_big(nr);
	}
	libos_handler_fn *h = nr >= 0 && nr < LIBOS_NR_MAX ? g_libos_table[nr] : NULL;
	if (traced) {
		/* Calls that do not come back are written first; execve writes its own line
		 * just before it succeeds and returns here only on failure. */
		bool gone = nr == SYS_exit || nr == SYS_exit_group || nr == SYS_rt_sigreturn;
		if (gone)
			libos_trace_call(&a, 0, LIBOS_TRACE_NORETURN);
		r->rax = h ? h(&a) : libos_raw(nr, a.a[0], a.a[1], a.a[2], a.a[3], a.a[4], a.a[5]);
		if (!gone)
			libos_trace_call(&a, (long)r->rax, 0);
		return;
	}
	r->rax = h ? h(&a) : libos_raw(nr, a.a[0], a.a[1], a.a[2], a.a[3], a.a[4], a.a[5]);
}

int libos_trace_filter_check(const char *list, const char **bad)
{
	uint8_t bitmap[LIBOS_TRACE_FILTER_BYTES];
	return libos_trace_filter_parse(list, bitmap, bad);
}
