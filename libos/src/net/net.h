/* SPDX-License-Identifier: MIT */
/* The LibOS socket layer for --net=dpdk: AF_INET stream and datagram sockets served by
 * the network backend (backend.h), each shadowed by a kernel eventfd whose number the
 * program sees; epoll instances that hold them; poll and select over a mix of them and
 * kernel fds.  The tables here are under one process-wide lock (g_net.lock); the backend
 * locks each of its contexts itself, and its poll runs outside g_net.lock. */
#ifndef LIBOS_NET_NET_H
#define LIBOS_NET_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "../internal.h"
#include "backend.h"

/* ---- used by the rest of the LibOS ---- */

/* Routes of the socket calls: all fast with --net=kernel; socket() to the LibOS with
 * --net=dpdk until the first LibOS socket exists (then net_routes_activate). */
void libos_net_routes_init(void);
/* In a fork child (the only thread): inherited LibOS sockets fail with -ENETDOWN from
 * now on, new sockets are the kernel's; the parent's backend is never touched. */
void libos_net_fork_child(void);
/* A thread leaves (not the process): its held frames leave, its home context loses an
 * owner. */
void libos_net_thread_exit(struct libos_thread *t);
/* Process exit or execve: close every LibOS socket as the kernel would and let what is
 * queued (data, FIN) leave (polls the backend briefly). */
void libos_net_exit(void);
/* execve re-entry: the net options to pass on (up to 4 pointers into @buf).  Returns
 * how many were written to @nv. */
int libos_net_exec_args(char **nv, char *buf, size_t size);
/* Frames held for the wire (the socket calls leave what they queue for the thread's next
 * poll, so a round's writes leave in one device call): send the calling thread's now.
 * The dispatcher calls it before any call of a thread whose tls.hold is set, except the
 * calls on LibOS sockets and epolls (libos_net_keeps_hold: their waits poll, which sends
 * them too) and those that never wait (g_tramp_nowait); while it is set the gate sends
 * every other call to the dispatcher.  README.md, "Held frames". */
void libos_net_release(struct libos_thread *t);

static inline bool libos_net_keeps_hold(long nr, uint64_t fd)
{
	if (nr < 0 || nr >= TRAMP_ROUTES || fd >= TRAMP_FDMAP || !g_tramp_fdmap[fd])
		return false;
	return g_tramp_route[nr] == TRAMP_ROUTE_FD_RDI || nr == SYS_epoll_wait ||
	       nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2;
}

/* The backend's counters as a JSON object into @buf, if the network was used: length,
 * or 0 when there is nothing to report. */
int libos_net_stats_json(char *buf, size_t size);

/* ---- inside the socket layer ---- */

/* The backend's watch, by default: contexts no thread polled for this long are polled by
 * a thread of its own (the stack answers while the program sleeps or computes).
 * BYPASS_NET_WATCH_US sets it (0: no watch). */
#define NET_WATCH_US	1000
#define NET_FD_MAX	TRAMP_FDMAP	/* LibOS fds live below this (the gate's map) */
#define NET_OPTS_MAX	24		/* options recorded for a socket's kernel replay */

enum net_sock_state {
	NET_NEW,	/* socket(): no address yet, nothing in the backend */
	NET_BOUND,	/* bind(): address recorded (UDP: bound in the backend) */
	NET_LISTEN,
	NET_CONNECTING,
	NET_CONNECTED,	/* TCP: a connection (maybe closed by now); UDP: a default peer */
	NET_DEAD,	/* inherited by a fork child: -ENETDOWN */
};

/* One option set by the program, replayed on the kernel socket a loopback bind or
 * connect turns the socket into. */
struct net_opt {
	int level, name;
	uint32_t len;
	uint8_t val[32];
};

struct net_epitem;
struct net_epoll;

struct net_sock {
	struct net_sock *next;		/* g_net.socks */
	int refs;			/* fds that name it */
	int family;			/* AF_INET, or AF_INET6 (IPv4 through the dual stack) */
	int type;			/* SOCK_STREAM, SOCK_DGRAM */
	int state;			/* enum net_sock_state */
	bool nonblock;			/* O_NONBLOCK of the (shared) open file */
	bool rd_shut, wr_shut;
	bool bind_addr, bind_port;	/* bind() named them (Linux's SOCK_BIND*_LOCK) */
	uint8_t port_hold;		/* TCP: how local.sin_port is held (enum net_port) */
	bool conn_async;		/* connect() returned before the outcome (EINPROGRESS,
					 * EINTR): the next one tells it (SS_CONNECTING) */
	bool disconnecting;		/* shut while conn_async and not connected
					 * (SS_DISCONNECTING): until connect(AF_UNSPEC),
					 * connect and listen are -EINVAL */
	int error;			/* pending error for SO_ERROR (positive errno) */
	struct sockaddr_in local, peer;	/* network byte order; zero = unset */
	struct bnet_tcb *tcb;
	struct bnet_udp *udp;
	/* options with meaning here */
	bool reuseaddr, reuseport, keepalive, nodelay, broadcast, v6only;
	struct linger linger;
	int rcvbuf, sndbuf, keepidle, keepintvl, keepcnt, defer_accept, tos, ttl;
	int rcvlowat, cork;
	int notsent_lowat;		/* TCP_NOTSENT_LOWAT; 0 = none (the sysctl's "no limit") */
	/* Control messages asked for (cmsg.c): IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, and the
	 * receive time (SO_TIMESTAMP*: none, microseconds or nanoseconds; _NEW types). */
	bool pktinfo, recvttl, recvtos, tstamp_new;
	uint8_t tstamp;
	uint64_t rcvtimeo_us, sndtimeo_us;	/* 0 = none */
	uint32_t gen;			/* bumped at every -EAGAIN: re-arms epoll ET items */
	/* The backend's last answer about tcb's readiness (net_sock_events): it holds while
	 * the handle is the same and the stamp at ev_stampp has not moved. */
	struct bnet_tcb *ev_tcb;
	const uint64_t *ev_stampp;
	uint64_t ev_stamp;
	uint32_t ev, ev_rcv;
	struct net_epitem *epitems;	/* the epoll items naming it (it->snext) */
	uint8_t *peek;			/* MSG_PEEK: bytes taken from the backend, unread */
	uint32_t peek_len, peek_off;
	bool peek_dgram;		/* UDP: s->peek holds the next datagram (MSG_PEEK,
					 * FIONREAD), peek_len bytes, with peek_meta */
	struct bnet_udp_meta peek_meta;
	int nopts;
	struct net_opt opts[NET_OPTS_MAX];
};

/* How a TCP socket holds its local port (Linux's inet_num beside inet_sport): for good
 * (bind, listen, or a port bind() named: SOCK_BINDPORT_LOCK); while its connection lasts
 * (TCP_CLOSE lets it go: inet_put_port); or not at all, only shown by getsockname. */
enum net_port { NET_PORT_HELD, NET_PORT_CONN, NET_PORT_SHOWN };

enum { NET_TS_NONE, NET_TS_US, NET_TS_NS };

/* What a receive learnt for the control messages of recvmsg/recvmmsg. */
struct net_rxinfo {
	bool have_dgram;		/* UDP: the datagram's headers below */
	bool have_time;			/* @when is set */
	struct bnet_udp_meta meta;
	struct timespec when;		/* CLOCK_REALTIME of the arrival */
};

/* One LibOS socket in an epoll instance's LibOS interest list. */
struct net_epitem {
	struct net_epoll *ep;
	struct net_epitem *snext;	/* the next item naming the same socket */
	/* On ep's check list (queued): its readiness may have changed since its last visit,
	 * or it must be looked at again (level-triggered and ready; no backend stamp). */
	struct net_epitem *qnext, *qprev;
	bool queued;
	int fd;
	int idx;			/* where it is in ep->items */
	struct net_sock *s;
	uint32_t events;		/* EPOLL* asked for, with EPOLLET/ONESHOT/EXCLUSIVE */
	uint64_t data;
	uint32_t seen;			/* ET: readiness reported last time */
	uint32_t avail;			/* ET: bytes readable at the last visit */
	uint32_t gen;			/* ET: the socket's gen when last reported */
	bool off;			/* ONESHOT fired: until EPOLL_CTL_MOD */
};

struct net_epoll {
	struct net_epoll *next;		/* g_net.epolls */
	int refs;			/* fds that name it (dups of the kernel epoll) */
	int n, cap;
	struct net_epitem **items;
	/* The check list: the only items a scan visits (epoll.c, collect). */
	struct net_epitem *qhead, *qtail;
	/* The last scan found nothing to report, at these g_net.gen and ready_gen: until
	 * either moves, another scan would find nothing either. */
	bool idle;
	uint64_t idle_gen, idle_bgen;
	/* The kernel epoll may hold kernel fds: it held some when this became ours, or one
	 * was added through a number we know since.  Without, a wait that found LibOS
	 * events or is still spinning asks the kernel's side only every EP_KCHECK_EVERY
	 * rounds (kskip counts them): a member added behind our back (an older dup, a fork
	 * child) is still seen. */
	bool kfds;
	unsigned kskip;
};

enum net_fd_kind { NET_FD_NONE, NET_FD_SOCK, NET_FD_EPOLL };

struct net_fd {
	uint8_t kind;
	union {
		struct net_sock *s;
		struct net_epoll *ep;
	};
};

struct net_state {
	bool on;			/* --net=dpdk */
	bool child;			/* a fork child: no backend for us */
	bool active;			/* the fd routes are switched on */
	bool used;			/* the backend was initialised */
	int status;			/* 0 untried, 1 up, -ENETDOWN failed */
	void *dl;
	const struct bypass_net_backend *be;
	uint32_t lock;			/* everything below (the backend: its own locks) */
	struct net_fd *fds;		/* NET_FD_MAX entries */
	struct net_sock *socks;
	struct net_epoll *epolls;
	uint64_t gen;			/* bumped by net_lock(): see net_lock_ro() */
	int kick;			/* epoll.c's wake-up eventfd, 0 until needed */
	uint8_t bounce[64 << 10];	/* datagrams and file data pass through here, under the lock */
	struct bnet_udp_meta bounce_meta;	/* the headers of a datagram in bounce */
};

extern struct net_state g_net;

/* Every call that may change what a wait would see (a socket's state, data, error, gen,
 * an interest list) takes the lock with net_lock(), which moves g_net.gen; epoll_wait
 * compares it (with the backend's ready_gen) to skip rescans that cannot find anything. */
void net_lock_slow(void);

/* The lock for code that only reads readiness and polls the backend (poll, select and
 * epoll waits): g_net.gen stays, the backend's ready_gen tells what the poll changed.
 * A lock word, not a futex mutex: its release is a plain store, where a mutex's must be
 * an atomic exchange (to see waiters), a full barrier that waited for the device's
 * stores just made (memif's ring, shared with the peer's core) to leave: 8-10% of nginx
 * over memif, all on that one instruction.  Holders never wait for anything. */
static inline void net_lock_ro(void)
{
	if (__atomic_exchange_n(&g_net.lock, 1, __ATOMIC_ACQUIRE))
		net_lock_slow();
}

static inline void net_lock(void)
{
	net_lock_ro();
	g_net.gen++;
}

static inline void net_unlock(void)
{
	__atomic_store_n(&g_net.lock, 0, __ATOMIC_RELEASE);
}

/* The LibOS object behind @fd (lock held), or NULL: the kernel's. */
static inline struct net_fd *net_fd_get(long fd)
{
	if (fd < 0 || fd >= NET_FD_MAX || !g_net.fds || g_net.fds[fd].kind == NET_FD_NONE)
		return NULL;
	return &g_net.fds[fd];
}

static inline struct net_sock *net_sock_get(long fd)
{
	struct net_fd *f = net_fd_get(fd);
	return f && f->kind == NET_FD_SOCK ? f->s : NULL;
}

/* epoll.c: poll() on epoll instance @ep (lock held): would an epoll_wait report one of
 * its LibOS items now?  (Linux: the items on its ready list that are still ready.) */
bool net_epoll_readable(struct net_epoll *ep);

/* epoll.c: a call on @s may change its readiness (lock held): its epoll items go on
 * their check lists.  Every call that changes a socket reaches it through
 * net_sock_lock(), net_sock_hold()/net_sock_release() or net_wait(), which call this;
 * what the backend changes comes through its touched list. */
void net_sock_changed_slow(struct net_sock *s);
static inline void net_sock_changed(struct net_sock *s)
{
	if (s->epitems)
		net_sock_changed_slow(s);
}

/* The LibOS socket @fd with the lock taken, or NULL (lock released): the kernel's. */
static inline struct net_sock *net_sock_lock(long fd)
{
	net_lock();
	struct net_sock *s = net_sock_get(fd);
	if (!s)
		net_unlock();
	else
		net_sock_changed(s);
	return s;
}

/* The LibOS socket @fd with a reference for a call that waits (another thread may close
 * it meanwhile), or NULL; net_sock_release() drops it. */
static inline struct net_sock *net_sock_hold(long fd)
{
	net_lock();
	struct net_sock *s = net_sock_get(fd);
	if (s) {
		s->refs++;
		net_sock_changed(s);
	}
	net_unlock();
	return s;
}

/* A call the kernel serves after all, in the host world: what the thread held leaves
 * first, as the call may wait (libos_net_keeps_hold let it keep them so far). */
static inline long net_passthrough(struct libos_args *a)
{
	if (__builtin_expect(a->self->tls.hold, 0))
		libos_net_release(a->self);
	return libos_raw(a->nr, a->a[0], a->a[1], a->a[2], a->a[3], a->a[4], a->a[5]);
}

/* core.c */
/* The backend, initialised at the first use (lock held): 0, or -ENETDOWN (the reason was
 * printed once). */
int net_backend_up(void);
void net_routes_activate(void);		/* lock held */
void net_fd_set(int fd, int kind, void *obj);	/* lock held; kind NONE clears */
uint64_t net_now_us(void);
/* How a blocking wait idles after @idle_us without progress: spin, yield or sleep.
 * Returns the microseconds a sleep in the kernel may last (0: do not sleep). */
int net_idle_sleep_us(uint64_t idle_us);
void net_idle(uint64_t idle_us);
/* A blocking call was interrupted by a deferred signal: -EINTR, or -NET_ERESTART when
 * @restartable and every deferred signal's handler has SA_RESTART.  -NET_ERESTART (the
 * kernel's ERESTARTSYS, never seen by programs) travels up like an error, writing
 * nothing; the handler's net_ret() turns it into the restart. */
#define NET_ERESTART	512
long net_interrupted(struct libos_args *a, bool restartable);
/* A handler's result: @r, or for -NET_ERESTART, rewind the program so the call is issued
 * again after the signal handler (what rax must hold then; -EINTR if it cannot). */
long net_ret(struct libos_args *a, long r);
/* Rewind the program to issue the same call again (now routed elsewhere): what rax
 * must hold, or -EINTR if the call site is not one we know. */
long net_reissue(struct libos_args *a);
/* From now on the calling thread's sends and receives hold the frames they queue until
 * its next poll or next call that may wait (libos_net_release): a round's writes leave
 * in one device call.  Once per thread, at its first send or receive.  A vfork child
 * shares its parent's host thread, whose backend state names the parent's flag: it
 * holds nothing (the parent sends at once from then on too; rare, and only slower). */
static inline void net_hold_arm(struct libos_thread *t)
{
	if (__builtin_expect(t->net_hold, 1) || !g_net.be || g_net.child)
		return;
	g_net.be->tx_hold(t->vfork_child ? NULL : &t->tls.hold);
	t->net_hold = !t->vfork_child;
}

/* Run @try (lock held around it, after a backend poll) until it returns anything but
 * -EAGAIN; honour @nonblock, @timeout_us (0 = none; then -EAGAIN) and signals (a call
 * is restartable if @restartable, no timeout is set and *@progress, if given, is 0). */
typedef long net_try_fn(struct net_sock *s, void *arg);
long net_wait(struct libos_args *a, struct net_sock *s, net_try_fn *try, void *arg,
	      bool nonblock, uint64_t timeout_us, bool restartable, const size_t *progress);
/* sock.c: make @s (named by @fd) a real kernel socket on the same fd (lock held). */
int net_sock_to_kernel(int fd, struct net_sock *s);

/* sock.c */
struct net_sock *net_sock_create(int type);	/* lock held */
void net_sock_put(struct net_sock *s);		/* lock held: one fd less */
int net_fd_close(int fd);			/* lock held: drop the LibOS side of @fd */
uint32_t net_sock_events(struct net_sock *s, uint32_t *avail);	/* BNET_* now */
/* A connecting TCP socket: -EAGAIN still connecting, 0 connected (or not connecting),
 * or the failure (-ECONNREFUSED...; then the socket is unconnected with s->error set). */
int net_sock_conn_update(struct net_sock *s);
/* Is [@p, @p + @len) in user space (access_ok(): Linux checks it before anything moves,
 * even when nothing would)? */
static inline bool net_user_range_ok(const void *p, size_t len)
{
	uintptr_t b = (uintptr_t)p, e = b + len;

	return e >= b && e < 0x7ffffffff000ul;	/* TASK_SIZE_MAX, 4-level paging */
}
/* sock.c: UDP socket @s gets its port (@port, 0: an ephemeral one) unless it has one. */
long net_udp_autobind(struct net_sock *s, uint16_t port);
/* io.c: UDP socket @s's next datagram held in s->peek (MSG_PEEK, FIONREAD), its length;
 * -EAGAIN if none, -ENOMEM. */
long net_udp_hold(struct net_sock *s);
/* opt.c: give the backend @s's IP_TTL, IP_TOS and TCP_NOTSENT_LOWAT (lock held; @s has
 * a tcb, a connection or a listener). */
void net_sock_apply_tx(struct net_sock *s);
/* opt.c: and its SO_REUSEADDR and SO_REUSEPORT, which its TIME_WAIT keeps (tcp_port_held). */
void net_sock_apply_reuse(struct net_sock *s);
static inline int net_sock_reuse(const struct net_sock *s)	/* as BNET_REUSE* bits */
{
	return (s->reuseaddr ? BNET_REUSEADDR : 0) | (s->reuseport ? BNET_REUSEPORT : 0);
}
/* A guest address for @s as IPv4 in @sin (AF_INET6 sockets: :: and ::ffff:a.b.c.d are
 * IPv4 through the dual stack): 0, NET_ADDR_KERNEL (IPv6 proper: the kernel's), or
 * -EINVAL/-EFAULT/-EAFNOSUPPORT.  sin_family AF_UNSPEC passes through. */
#define NET_ADDR_KERNEL	1
int net_addr_in(const struct net_sock *s, const void *uaddr, long len, struct sockaddr_in *sin);
/* Write @sin to the guest's (addr, addrlen) as accept and getsockname do, as a
 * sockaddr_in6 with a v4-mapped address for @family AF_INET6: 0 or -errno. */
int net_addr_to_guest(int family, void *uaddr, void *ulen, const struct sockaddr_in *sin);
/* dup/dup2/dup3/F_DUPFD: do it, and let the new fd name what @oldfd names. */
long net_dup_common(struct libos_args *a, int oldfd);
/* cmsg.c: the control messages Linux's recvmsg would give @s for what @rx says, into
 * the guest's buffer @uctl of @len bytes, in Linux's order (SO_TIMESTAMP*, then
 * IP_PKTINFO, IP_TTL, IP_TOS; TCP only the time).  What does not fit is cut as put_cmsg
 * cuts it and sets MSG_CTRUNC in *@flags.  Returns the bytes used (the new
 * msg_controllen), or -EFAULT. */
long net_cmsg_put(const struct net_sock *s, const struct net_rxinfo *rx, void *uctl,
		  size_t len, int *flags);
/* What sendmsg's control messages ask of one send. */
struct net_txinfo {
	int ttl;	/* IP_TTL, 0 = the socket's */
	int tos;	/* IP_TOS, -1 = the socket's */
	uint16_t gso;	/* UDP_SEGMENT, 0 = none */
};
/* cmsg.c: check the guest's control messages @uctl (@len bytes) of a send on @s as
 * Linux does (UDP: udp_cmsg_send and ip_cmsg_send; TCP: sock_cmsg_send, only SOL_SOCKET)
 * and fill @tx.  0; -EINVAL (a bad length, a value out of range, an unknown SOL_IP or
 * SOL_SOCKET type; on TCP every failure); -EPERM (SO_MARK, SO_PRIORITY above 6 without
 * CAP_NET_ADMIN/CAP_NET_RAW); -ENODEV (IP_PKTINFO: an interface not the port's);
 * -ENETUNREACH (IP_PKTINFO: a unicast source not ours);
 * -EOPNOTSUPP (IP_RETOPTS with options); -ENOBUFS; -EFAULT. */
long net_cmsg_send(const struct net_sock *s, const void *uctl, size_t len,
		   struct net_txinfo *tx);
/* The arrival time of what a receive just took, for @rx (lock held): @rx_us on the
 * backend's clock, 0 = unknown. */
void net_rx_stamp(struct net_rxinfo *rx, uint64_t rx_us);

/* tcpinfo.c: Linux's struct tcp_info for @s (lock held) into @buf, at most @size bytes:
 * the bytes written (sizeof(struct tcp_info) or @size). */
size_t net_tcp_info(struct net_sock *s, void *buf, size_t size);

/* epoll.c */
/* lock held: drop @s's epoll items under @fd (-1: all of them, @s is going) */
void net_epoll_forget(int fd, struct net_sock *s);
void net_epoll_free(struct net_epoll *ep);

/* Drop the reference net_sock_hold() took. */
static inline void net_sock_release(struct net_sock *s)
{
	net_lock();
	net_sock_changed(s);
	net_sock_put(s);
	net_unlock();
}


/* Handlers (table.c routes them; each passes kernel fds through). */
libos_handler_fn libos_sys_socket, libos_sys_bind, libos_sys_listen, libos_sys_accept;
libos_handler_fn libos_sys_accept4, libos_sys_connect, libos_sys_shutdown, libos_sys_close;
libos_handler_fn libos_sys_close_range, libos_sys_getsockname, libos_sys_getpeername;
libos_handler_fn libos_sys_dup, libos_sys_dup2, libos_sys_dup3;
libos_handler_fn libos_sys_read, libos_sys_write, libos_sys_readv, libos_sys_writev;
libos_handler_fn libos_sys_sendto, libos_sys_recvfrom, libos_sys_sendmsg, libos_sys_recvmsg;
libos_handler_fn libos_sys_sendmmsg, libos_sys_recvmmsg, libos_sys_sendfile;
libos_handler_fn libos_sys_getsockopt, libos_sys_setsockopt, libos_sys_fcntl, libos_sys_ioctl;
libos_handler_fn libos_sys_poll, libos_sys_ppoll, libos_sys_select, libos_sys_pselect6;
libos_handler_fn libos_sys_epoll_ctl, libos_sys_epoll_wait, libos_sys_epoll_pwait;
libos_handler_fn libos_sys_epoll_pwait2;

#endif
