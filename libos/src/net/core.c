// SPDX-License-Identifier: MIT
/* The socket layer's core: the backend module (loaded at the first socket that needs
 * it), the routes that send socket calls here, the fd table, and the blocking wait:
 * poll the backend, retry, idle, and give way to signals as the kernel would. */
#include <dlfcn.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

struct net_state g_net;

void net_lock_slow(void)
{
	/* The holder runs a short call; if it lost its CPU, give it ours after a while. */
	for (unsigned i = 0;; i++) {
		if (!__atomic_load_n(&g_net.lock, __ATOMIC_RELAXED) &&
		    !__atomic_exchange_n(&g_net.lock, 1, __ATOMIC_ACQUIRE))
			return;
		if (i < 256)
			__builtin_ia32_pause();
		else
			libos_raw(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	}
}

/* Idle policy of a blocking wait: poll flat out for NET_SPIN_US after the last packet
 * (latency), then yield the CPU between polls until NET_YIELD_US, then sleep
 * NET_SLEEP_US at a time (in the kernel's poll on the wait's kernel fds, if any). */
#define NET_SPIN_US	50
#define NET_YIELD_US	2000
#define NET_SLEEP_US	200
/* At exit: close everything, then poll until nothing arrived for NET_EXIT_QUIET_US, at
 * most NET_EXIT_MAX_US. */
#define NET_EXIT_QUIET_US	5000
#define NET_EXIT_MAX_US		200000

/* Calls whose first argument is an fd: fast unless it is one of ours (route 4). */
static const int fd_calls[] = {
	SYS_read, SYS_write, SYS_close, SYS_ioctl, SYS_readv, SYS_writev, SYS_dup,
	SYS_sendfile, SYS_connect, SYS_accept, SYS_sendto, SYS_recvfrom, SYS_sendmsg,
	SYS_recvmsg, SYS_shutdown, SYS_bind, SYS_listen, SYS_getsockname, SYS_getpeername,
	SYS_setsockopt, SYS_getsockopt, SYS_fcntl, SYS_epoll_wait, SYS_epoll_pwait,
	SYS_accept4, SYS_recvmmsg, SYS_sendmmsg, SYS_epoll_pwait2,
};
/* Calls that name LibOS objects elsewhere than in rdi: always ours once active. */
static const int libos_calls[] = {
	SYS_poll, SYS_select, SYS_dup2, SYS_dup3, SYS_close_range, SYS_ppoll, SYS_pselect6,
	SYS_epoll_ctl,
};

/* Every epoll wait, from the start under --net=dpdk: a thread may wait on an epoll before
 * the process's first LibOS socket exists, and must be woken when one joins it (epoll.c,
 * the kick); a wait that began on the fast path could not be.  Until then such a wait
 * costs a world switch and an epoll_ctl more (net.sockapi.epoll_first). */
static void epoll_waits_route(void)
{
	g_tramp_route[SYS_epoll_wait] = TRAMP_ROUTE_LIBOS;
	g_tramp_route[SYS_epoll_pwait] = TRAMP_ROUTE_LIBOS;
	g_tramp_route[SYS_epoll_pwait2] = TRAMP_ROUTE_LIBOS;
}

void libos_net_routes_init(void)
{
	const struct libos_config *cfg = g_proc.cfg;

	for (size_t i = 0; i < sizeof(fd_calls) / sizeof(fd_calls[0]); i++)
		g_tramp_route[fd_calls[i]] = TRAMP_ROUTE_FAST;
	for (size_t i = 0; i < sizeof(libos_calls) / sizeof(libos_calls[0]); i++)
		g_tramp_route[libos_calls[i]] = TRAMP_ROUTE_FAST;
	g_net.on = cfg && cfg->net_dpdk;
	g_tramp_route[SYS_socket] = g_net.on ? TRAMP_ROUTE_LIBOS : TRAMP_ROUTE_FAST;
	if (g_net.on)
		epoll_waits_route();
}

void net_routes_activate(void)
{
	if (g_net.active)
		return;
	g_net.active = true;
	for (size_t i = 0; i < sizeof(libos_calls) / sizeof(libos_calls[0]); i++)
		g_tramp_route[libos_calls[i]] = TRAMP_ROUTE_LIBOS;
	for (size_t i = 0; i < sizeof(fd_calls) / sizeof(fd_calls[0]); i++)
		if (!libos_trace_selects(fd_calls[i]))	/* traced: the LibOS's already */
			g_tramp_route[fd_calls[i]] = TRAMP_ROUTE_FD_RDI;
	epoll_waits_route();	/* not route 4: the kernel's epolls need the kick too */
}

void net_fd_set(int fd, int kind, void *obj)
{
	if (!g_net.fds) {
		g_net.fds = mmap(NULL, NET_FD_MAX * sizeof(struct net_fd), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (g_net.fds == MAP_FAILED) {
			g_net.fds = NULL;
			return;
		}
	}
	g_net.fds[fd].kind = (uint8_t)kind;
	g_net.fds[fd].s = obj;
	/* The gate reads the map without the lock: a stale 1 sends a call here, where the
	 * table (under the lock) decides; a stale 0 can only be a call racing the close or
	 * the creation of this very fd, which the kernel would order arbitrarily too. */
	__atomic_store_n(&g_tramp_fdmap[fd], kind != NET_FD_NONE, __ATOMIC_RELEASE);
}

/* Where the module is: BYPASS_NET_MODULE, else <dir of bypass-run-host>/../dpdk-net. */
static void module_path(char *buf, size_t size)
{
	const char *env = getenv("BYPASS_NET_MODULE");
	char dir[PATH_MAX];

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", g_proc.cfg->self_exe);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(buf, size, "%s/../dpdk-net/libbypass-net.so", dir);
}

static int backend_fail(const char *what, const char *why)
{
	char line[768];
	int n = snprintf(line, sizeof(line), "bypass-run: network: %s: %s\n", what, why);
	(void)!write(2, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	g_net.status = -ENETDOWN;
	return -ENETDOWN;
}

int net_backend_up(void)
{
	const struct libos_config *cfg = g_proc.cfg;
	char path[PATH_MAX + 64], err[512] = "";

	if (g_net.status)
		return g_net.status > 0 ? 0 : g_net.status;
	/* dlopen, EAL and DPDK's start-up are not the packet path the socket calls' cheap
	 * register save covers (table.c, g_libos_vregs): take the full one. */
	tramp_vectors_save();
	module_path(path, sizeof(path));
	g_net.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!g_net.dl)
		return backend_fail("cannot load the DPDK module", dlerror());
	const struct bypass_net_backend *be = dlsym(g_net.dl, BYPASS_NET_BACKEND_SYM);
	if (!be)
		return backend_fail(path, "no " BYPASS_NET_BACKEND_SYM " in the module");
	if (be->abi != BYPASS_NET_BACKEND_ABI)
		return backend_fail(path, "the module's interface version differs from ours");
	struct bypass_net_conf conf = {
		.eal_args = cfg->net_eal ? cfg->net_eal : "",
		.ip = cfg->net_ip,
		.prefix_len = cfg->net_prefix,
		.gw = cfg->net_gw,
		.fault = cfg->net_fault,
		.queues = cfg->net_queues,
		.watch_us = cfg->net_watch_us,
	};
	int r = be->init(&conf, err, sizeof(err));
	if (r < 0)
		return backend_fail("DPDK", err[0] ? err : strerror(-r));
	g_net.be = be;
	g_net.status = 1;
	g_net.used = true;
	return 0;
}

uint64_t net_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int net_idle_sleep_us(uint64_t idle_us)
{
	return idle_us < NET_YIELD_US ? 0 : NET_SLEEP_US;
}

void net_idle(uint64_t idle_us)
{
	if (idle_us < NET_SPIN_US) {
		__builtin_ia32_pause();
	} else if (idle_us < NET_YIELD_US) {
		libos_raw(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	} else {
		struct timespec ts = { 0, NET_SLEEP_US * 1000 };
		libos_raw(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
	}
}

/* Would the kernel restart the call after the handlers of every deferred signal? */
static bool all_restart(uint64_t deferred)
{
	if (!deferred)
		return false;
	for (int sig = 1; sig <= 64; sig++) {
		if (!(deferred & SIGBIT(sig)))
			continue;
		const struct libos_sigaction *act = &g_proc.actions[sig];
		if (act->handler <= 1 || !(act->flags & SA_RESTART))
			return false;
	}
	return true;
}

long net_reissue(struct libos_args *a)
{
	struct tramp_regs *r = a->regs;
	uint8_t call[2];

	/* Re-enter the gate through the call that brought us here, with every argument
	 * register as it was: a live stub's, an image stub's tail or the trap resume's
	 * `call *slot(%rip)` (ff 15 rel32; %rsp is the one the call started from). */
	if (libos_from_guest(call, (void *)(r->rip - 6), sizeof(call)) ||
	    call[0] != 0xff || call[1] != 0x15)
		return -EINTR;
	r->rip -= 6;
	return a->nr;	/* rax at the call: the number again */
}

long net_interrupted(struct libos_args *a, bool restartable)
{
	if (!restartable || !all_restart(a->self->deferred))
		return -EINTR;
	return -NET_ERESTART;
}

long net_ret(struct libos_args *a, long r)
{
	return r == -NET_ERESTART ? net_reissue(a) : r;
}

long net_wait(struct libos_args *a, struct net_sock *s, net_try_fn *try, void *arg,
	      bool nonblock, uint64_t timeout_us, bool restartable, const size_t *progress)
{
	uint64_t start = 0, busy = 0;
	long r;

	for (;;) {
		/* The poll runs outside the lock: another thread's calls go on meanwhile
		 * (the backend serialises each context itself). */
		int n = g_net.be && !g_net.child ? g_net.be->poll() : 0;
		net_lock();
		r = try(s, arg);
		net_sock_changed(s);
		net_unlock();
		if (r != -EAGAIN || nonblock)
			return r;
		if (a->self->tls.pending)
			return net_interrupted(a, restartable && !timeout_us &&
						  !(progress && *progress));
		uint64_t now = net_now_us();
		if (!start)
			start = busy = now;
		if (n > 0)
			busy = now;
		if (timeout_us && now - start >= timeout_us)
			return -EAGAIN;
		net_idle(now - busy);
	}
}

void libos_net_release(struct libos_thread *t)
{
	tramp_vectors_save_regs();	/* the packet path: the register-only save covers it */
	if (g_net.be && !g_net.child)
		g_net.be->tx_release();
	t->tls.hold = 0;
}

void libos_net_thread_exit(struct libos_thread *t)
{
	if (g_net.be && !g_net.child && !t->vfork_child)
		g_net.be->thread_exit();
	t->tls.hold = 0;
}

void libos_net_fork_child(void)
{
	if (!g_net.on)
		return;
	/* Another thread may have held the lock at the fork: it is ours alone now. */
	g_net.lock = 0;
	g_net.child = true;
	g_net.be = NULL;
	g_tramp_route[SYS_socket] = libos_trace_selects(SYS_socket) ? TRAMP_ROUTE_LIBOS
								      : TRAMP_ROUTE_FAST;
	for (struct net_sock *s = g_net.socks; s; s = s->next) {
		s->state = NET_DEAD;
		s->tcb = NULL;
		s->udp = NULL;
	}
}

void libos_net_exit(void)
{
	/* What close() queued (data, FIN) leaves only when the context is polled: keep
	 * polling until the wire is quiet (the peer's ACKs came), at most a moment. */
	if (!g_net.used || g_net.child || libos_self()->vfork_child)
		return;
	/* The kernel closes a dying process's sockets (FIN, or RST over unread data): so do
	 * we, for every connection and listener still open. */
	net_lock();
	for (struct net_sock *s = g_net.socks; s; s = s->next) {
		if (s->tcb)
			g_net.be->tcp_close(s->tcb);
		if (s->udp)
			g_net.be->udp_close(s->udp);
		s->tcb = NULL;
		s->udp = NULL;
		s->state = NET_DEAD;
	}
	net_unlock();
	uint64_t start = net_now_us(), busy = start, now;
	do {
		int n = g_net.be->poll();
		now = net_now_us();
		if (n > 0)
			busy = now;
	} while (now - busy < NET_EXIT_QUIET_US && now - start < NET_EXIT_MAX_US);
}

int libos_net_stats_json(char *buf, size_t size)
{
	if (!g_net.used || g_net.child || !g_net.be || !g_net.be->stats_json)
		return 0;
	net_lock();
	int n = g_net.be->stats_json(buf, size);
	net_unlock();
	return n > 0 && (size_t)n < size ? n : 0;
}
