// SPDX-License-Identifier: MIT
/* Socket lifetime and addresses: socket, bind, listen, accept, connect, shutdown, close,
 * dup, getsockname/getpeername.  A LibOS socket is a struct net_sock named by the fds of
 * its shadow eventfd.  The address decides who serves it: 127.0.0.0/8 (and 0.0.0.0 as a
 * destination) turn it into a real kernel socket on the same fd number; INADDR_ANY and
 * our --ip stay with the backend; any other local address is EADDRNOTAVAIL. */
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "net.h"

#define EPHEMERAL_LO	32768
#define EPHEMERAL_HI	60999
#define UDP_QLEN	512

static bool is_loopback(uint32_t addr_be)
{
	return (ntohl(addr_be) >> 24) == 127;
}

/* In a child that shares nothing of the parent's network (fork, or a vfork child that
 * shares its memory): new sockets are the kernel's, inherited ones are dead. */
static bool net_child(struct libos_args *a)
{
	return g_net.child || a->self->vfork_child;
}

struct net_sock *net_sock_create(int type)
{
	struct net_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->refs = 1;
	s->type = type;
	s->state = NET_NEW;
	s->local.sin_family = AF_INET;
	/* Linux's defaults: tcp_rmem[1] and tcp_wmem[1]; UDP has net.core's */
	s->rcvbuf = type == SOCK_STREAM ? 131072 : 212992;
	s->sndbuf = type == SOCK_STREAM ? 16384 : 212992;
	s->keepidle = 7200;
	s->keepintvl = 75;
	s->keepcnt = 9;
	s->ttl = 64;
	s->rcvlowat = 1;
	s->next = g_net.socks;
	g_net.socks = s;
	return s;
}

static void sock_release(struct net_sock *s)
{
	const struct bypass_net_backend *be = g_net.be;

	if (s->tcb && be) {
		/* Unread bytes MSG_PEEK took out of the backend are unread data too: RST, as
		 * the backend's close does for its own. */
		if ((s->linger.l_onoff && s->linger.l_linger == 0) || s->peek_len)
			be->tcp_abort(s->tcb);
		else
			be->tcp_close(s->tcb);
	}
	if (s->udp && be)
		be->udp_close(s->udp);
	net_epoll_forget(-1, s);
	for (struct net_sock **p = &g_net.socks; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	free(s->peek);
	free(s);
}

void net_sock_put(struct net_sock *s)
{
	if (--s->refs == 0)
		sock_release(s);
}

int net_fd_close(int fd)
{
	struct net_fd *f = net_fd_get(fd);

	if (!f)
		return 0;
	if (f->kind == NET_FD_SOCK) {
		/* Linux drops an epoll item with its file's last reference, not with its
		 * fd: while a dup names the socket, the items stay (under the old fd number,
		 * reported and never found again by EPOLL_CTL_DEL); sock_release() drops
		 * them. */
		struct net_sock *s = f->s;
		net_fd_set(fd, NET_FD_NONE, NULL);
		net_sock_put(s);
	} else {
		struct net_epoll *ep = f->ep;
		net_fd_set(fd, NET_FD_NONE, NULL);
		if (--ep->refs == 0)
			net_epoll_free(ep);	/* the kernel epoll's last fd */
	}
	return 0;
}

/* What shutdown() adds to readiness (tcp_poll(), datagram_poll()): shut for reading is
 * readable (the end of the stream), shut both ways is a hang-up, and a TCP socket shut
 * for writing is writable (the write fails at once) unless it is still connecting.  A
 * listener (shut before listen()) shows only its accept queue (inet_csk_listen_poll()). */
static uint32_t shut_events(const struct net_sock *s)
{
	uint32_t ev = 0;

	if (s->state == NET_LISTEN)
		return 0;

	if (s->rd_shut)
		ev |= BNET_IN | BNET_RDHUP;
	if (s->rd_shut && s->wr_shut)
		ev |= BNET_HUP;
	if (s->wr_shut && s->type == SOCK_STREAM && s->state != NET_CONNECTING)
		ev |= BNET_OUT;
	return ev;
}

uint32_t net_sock_events(struct net_sock *s, uint32_t *avail)
{
	uint32_t ev, rcv;

	*avail = s->peek_len;
	if (s->state == NET_DEAD)
		return BNET_ERR | BNET_HUP;
	if (s->type == SOCK_DGRAM) {
		uint32_t q = s->udp && g_net.be ? g_net.be->udp_pending(s->udp) : 0;
		/* a socket that hears only some (a local address, a peer) is readable only
		 * if one of those is there: it is held for the read */
		if (q && !s->peek_dgram &&
		    (s->local.sin_addr.s_addr || s->state == NET_CONNECTED)) {
			net_udp_hold(s);
			q = g_net.be->udp_pending(s->udp);
		}
		uint32_t n = q + s->peek_dgram;
		*avail = n;
		return BNET_OUT | (n ? BNET_IN : 0) | (s->error ? BNET_ERR : 0) | shut_events(s);
	}
	if (!s->tcb || !g_net.be)
		return (s->error ? BNET_ERR | BNET_HUP | BNET_OUT : BNET_OUT | BNET_HUP) |
		       shut_events(s);
	/* Ask the backend only when the connection's stamp moved since its last answer
	 * (stamps never repeat, so a new handle at an old one's address is asked too): a
	 * wait over many sockets costs a compare for each one nothing happened to.  A
	 * listener on several contexts has no stamp: asked every time. */
	if (s->ev_tcb != s->tcb || !s->ev_stampp || *s->ev_stampp != s->ev_stamp) {
		s->ev_tcb = s->tcb;
		s->ev_stampp = g_net.be->tcp_ev_stamp(s->tcb);	/* NULL: a listener group */
		s->ev_stamp = s->ev_stampp ? *s->ev_stampp : 0;
		s->ev = g_net.be->tcp_events(s->tcb, &s->ev_rcv);
	}
	ev = s->ev;
	rcv = s->ev_rcv;
	*avail += rcv;
	if (s->peek_len)
		ev |= BNET_IN;
	return ev | shut_events(s);
}

/* Is @s's TCP connection over (closed, or in TIME_WAIT, which Linux hands to a
 * mini-socket and shows as CLOSE)?  getpeername and shutdown say -ENOTCONN then. */
static bool tcp_over(const struct net_sock *s)
{
	struct bnet_tcp_info info;

	if (s->type != SOCK_STREAM || s->state != NET_CONNECTED || !s->tcb || !g_net.be)
		return false;
	g_net.be->tcp_info(s->tcb, &info);
	return info.state == BNET_TCP_CLOSED || info.state == BNET_TCP_TIME_WAIT;
}

/* Does TCP socket @s hold its local port, as Linux's inet_num (enum net_port)?  A
 * connection's own port goes when it is over; its TIME_WAIT, if any, holds it in the
 * backend from then on (tcp_port_held). */
static bool port_owned(const struct net_sock *s)
{
	return s->type == SOCK_STREAM && s->local.sin_port && s->state != NET_NEW &&
	       s->state != NET_DEAD && (s->port_hold == NET_PORT_HELD ||
					(s->port_hold == NET_PORT_CONN && !tcp_over(s)));
}

/* May @s be bound?  __inet_bind(): TCP_CLOSE and no port held (inet_num 0): never
 * bound, disconnected, refused, or a connection over whose port bind() did not name. */
static bool bind_ok(const struct net_sock *s)
{
	bool closed = s->state == NET_NEW || s->state == NET_BOUND || tcp_over(s);

	return closed && (s->type == SOCK_STREAM ? !port_owned(s) : !s->udp);
}

/* Is local port @port (network order) taken against @self's bind to self->local's
 * address?  By another of our sockets on the same address or either on INADDR_ANY, as
 * Linux's bind buckets: not when both set SO_REUSEPORT, nor when both set SO_REUSEADDR
 * and the holder does not listen (inet_csk_bind_conflict()); or by a connection in
 * TIME_WAIT or closing after its socket went (on our address), by the same rule. */
static bool tcp_port_busy(const struct net_sock *self, uint16_t port)
{
	uint32_t addr = self->local.sin_addr.s_addr;

	for (const struct net_sock *s = g_net.socks; s; s = s->next) {
		if (s == self || s->local.sin_port != port || !port_owned(s))
			continue;
		if (addr && s->local.sin_addr.s_addr && s->local.sin_addr.s_addr != addr)
			continue;	/* a multicast or broadcast address beside ours */
		if (s->reuseport && self->reuseport)
			continue;
		if (s->reuseaddr && self->reuseaddr && s->state != NET_LISTEN)
			continue;
		return true;
	}
	if (addr && addr != g_proc.cfg->net_ip)
		return false;
	return g_net.be && g_net.be->tcp_port_held(port, net_sock_reuse(self));
}

/* Is local port @port used at all, TIME_WAIT included?  A port picked for bind(0) or
 * listen() must be nobody's, as Linux's autobind picks one without a bind bucket: a
 * listener on a connection's port would take that connection's segments in every
 * context but the connection's own (the listener is in all). */
static bool tcp_port_used(uint16_t port)
{
	for (const struct net_sock *s = g_net.socks; s; s = s->next)
		if (s->local.sin_port == port && port_owned(s))
			return true;
	return g_net.be && g_net.be->tcp_port_held(port, 0);
}

/* The local port a connect() that has none takes: the stack's next for that peer, but
 * none that bind() or listen() holds (Linux's inet_hash_connect skips a port whose bind
 * bucket bind() made; connections share one only among different peers). */
static int tcp_connect_port(const struct sockaddr_in *sin, uint16_t *port)
{
	for (int i = 0; i <= EPHEMERAL_HI - EPHEMERAL_LO; i++) {
		int r = g_net.be->tcp_port_next(sin->sin_addr.s_addr, sin->sin_port, port);
		if (r < 0)
			return r;
		bool bound = false;
		for (const struct net_sock *s = g_net.socks; s && !bound; s = s->next)
			bound = s->local.sin_port == *port && port_owned(s) &&
				(s->state == NET_BOUND || s->state == NET_LISTEN || s->bind_port);
		if (!bound)
			return 0;
	}
	return -EADDRNOTAVAIL;
}

static uint16_t tcp_port_pick(void)
{
	static uint32_t next = EPHEMERAL_LO;

	for (int i = 0; i <= EPHEMERAL_HI - EPHEMERAL_LO; i++) {
		uint16_t p = htons((uint16_t)next);
		if (++next > EPHEMERAL_HI)
			next = EPHEMERAL_LO;
		if (!tcp_port_used(p))
			return p;
	}
	return 0;
}

/* The socket becomes a real kernel socket on the same fd: created with the flags of the
 * open file, every option recorded so far replayed, then put in place with dup3. */
int net_sock_to_kernel(int fd, struct net_sock *s)
{
	long fdfl = libos_raw(SYS_fcntl, fd, F_GETFD, 0, 0, 0, 0);
	long fl = libos_raw(SYS_fcntl, fd, F_GETFL, 0, 0, 0, 0);

	if (fdfl < 0 || fl < 0)
		return -EBADF;
	int k = (int)libos_raw(SYS_socket, s->family,
			       s->type | SOCK_CLOEXEC | (fl & O_NONBLOCK ? SOCK_NONBLOCK : 0), 0,
			       0, 0, 0);
	if (k < 0)
		return k;
	for (int i = 0; i < s->nopts; i++)
		libos_raw(SYS_setsockopt, k, s->opts[i].level, s->opts[i].name,
			  (long)s->opts[i].val, s->opts[i].len, 0);
	long r = libos_raw(SYS_dup3, k, fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0, 0, 0, 0);
	libos_raw(SYS_close, k, 0, 0, 0, 0, 0);
	if (r < 0)
		return (int)r;
	net_epoll_forget(fd, s);
	net_fd_set(fd, NET_FD_NONE, NULL);
	net_sock_put(s);
	return 0;
}

/* The call goes again, now to the kernel (the fd is no longer ours): the program
 * re-issues it from its own call site, so a blocking call blocks in guest context. */
static long reissue(struct libos_args *a)
{
	long r = net_reissue(a);
	return r == -EINTR ? net_passthrough(a) : r;
}

int net_addr_in(const struct net_sock *s, const void *uaddr, long len, struct sockaddr_in *sin)
{
	struct sockaddr_in6 six;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (len < (long)sizeof(sa_family_t) || len > 128)
		return -EINVAL;
	memset(&six, 0, sizeof(six));
	if (libos_from_guest(&six, uaddr, len < (long)sizeof(six) ? (size_t)len : sizeof(six)))
		return -EFAULT;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = six.sin6_family;
	if (six.sin6_family == AF_UNSPEC) {
		if (s->family == AF_INET && len >= (long)sizeof(*sin)) {
			memcpy(sin, &six, sizeof(*sin));	/* bind()'s AF_UNSPEC: see there */
			sin->sin_family = AF_UNSPEC;
		}
		return 0;
	}
	if (s->family == AF_INET) {
		if (len < (long)sizeof(*sin))
			return -EINVAL;
		if (six.sin6_family != AF_INET)
			return -EAFNOSUPPORT;
		memcpy(sin, &six, sizeof(*sin));
		return 0;
	}
	/* AF_INET6: IPv4 through the dual stack (:: and ::ffff:a.b.c.d); IPv6 proper is the
	 * kernel's. */
	if (len < 24)	/* SIN6_LEN_RFC2133 */
		return -EINVAL;
	if (six.sin6_family != AF_INET6)
		return -EAFNOSUPPORT;
	sin->sin_family = AF_INET;
	sin->sin_port = six.sin6_port;
	if (IN6_IS_ADDR_UNSPECIFIED(&six.sin6_addr) && !s->v6only)
		return 0;
	if (!memcmp(&six.sin6_addr, mapped, sizeof(mapped)) && !s->v6only) {
		memcpy(&sin->sin_addr, (const uint8_t *)&six.sin6_addr + 12, 4);
		return 0;
	}
	return NET_ADDR_KERNEL;
}

int net_addr_to_guest(int family, void *uaddr, void *ulen, const struct sockaddr_in *sin)
{
	struct sockaddr_in6 six = { .sin6_family = AF_INET6, .sin6_port = sin->sin_port };
	const void *src = sin;
	uint32_t len, size = sizeof(*sin);

	if (!uaddr)
		return 0;
	if (family == AF_INET6) {
		if (sin->sin_addr.s_addr) {
			uint8_t *b = (uint8_t *)&six.sin6_addr;
			b[10] = b[11] = 0xff;
			memcpy(b + 12, &sin->sin_addr, 4);
		}
		src = &six;
		size = sizeof(six);
	}
	if (libos_from_guest(&len, ulen, sizeof(len)))
		return -EFAULT;
	if ((int32_t)len < 0)
		return -EINVAL;
	if (libos_to_guest(uaddr, src, len < size ? len : size))
		return -EFAULT;
	return libos_to_guest(ulen, &size, sizeof(size)) ? -EFAULT : 0;
}

long libos_sys_socket(struct libos_args *a)
{
	int domain = (int)a->a[0], type = (int)a->a[1], proto = (int)a->a[2];
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (!g_net.on || net_child(a) || (domain != AF_INET && domain != AF_INET6))
		return net_passthrough(a);
	if (!((base == SOCK_STREAM && (proto == 0 || proto == IPPROTO_TCP)) ||
	      (base == SOCK_DGRAM && (proto == 0 || proto == IPPROTO_UDP))))
		return net_passthrough(a);	/* raw, ICMP, SCTP...: the kernel's */
	int efd = (int)libos_raw(SYS_eventfd2, 0,
				 (type & SOCK_CLOEXEC ? EFD_CLOEXEC : 0) |
				 (type & SOCK_NONBLOCK ? EFD_NONBLOCK : 0), 0, 0, 0, 0);
	if (efd < 0)
		return efd;
	if (efd >= NET_FD_MAX) {
		libos_raw(SYS_close, efd, 0, 0, 0, 0, 0);
		return -EMFILE;
	}
	net_lock();
	struct net_sock *s = net_sock_create(base);
	if (s) {
		s->family = domain;
		s->nonblock = type & SOCK_NONBLOCK;
		net_fd_set(efd, NET_FD_SOCK, s);
		net_routes_activate();
	}
	net_unlock();
	if (!s) {
		libos_raw(SYS_close, efd, 0, 0, 0, 0, 0);
		return -ENOMEM;
	}
	return efd;
}

/* Is @addr one of ours: INADDR_ANY or the --ip address? */
static bool addr_local(uint32_t addr)
{
	return addr == htonl(INADDR_ANY) || addr == g_proc.cfg->net_ip;
}

long net_udp_autobind(struct net_sock *s, uint16_t port)
{
	int r;

	if (s->udp)
		return 0;
	if ((r = net_backend_up()))
		return r;
	if ((r = g_net.be->udp_bind(port, UDP_QLEN, &s->udp)))
		return r;
	s->local.sin_port = g_net.be->udp_port(s->udp);
	if (s->state == NET_NEW)
		s->state = NET_BOUND;
	return 0;
}

long libos_sys_bind(struct libos_args *a)
{
	int fd = (int)a->a[0];
	struct sockaddr_in sin;
	long r;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	if (s->state == NET_DEAD) {
		r = -ENETDOWN;
		goto out;
	}
	long len = (long)(int)a->a[2];
	if ((r = net_addr_in(s, (const void *)a->a[1], len, &sin)) < 0)
		goto out;
	bool kernel = r == NET_ADDR_KERNEL;
	r = -EINVAL;
	if (s->family == AF_INET && len < (long)sizeof(sin))
		goto out;
	/* __inet_bind(): AF_UNSPEC passes for AF_INET with INADDR_ANY, an old
	 * compatibility; a multicast or broadcast address may be bound (it receives, the
	 * device's address sends); the socket's state is checked after the address. */
	if (sin.sin_family == AF_UNSPEC && s->family == AF_INET && !sin.sin_addr.s_addr)
		sin.sin_family = AF_INET;
	r = -EAFNOSUPPORT;
	if (sin.sin_family != AF_INET)
		goto out;
	uint32_t ha = ntohl(sin.sin_addr.s_addr);
	r = -EADDRNOTAVAIL;
	if (!kernel && !is_loopback(sin.sin_addr.s_addr) && !addr_local(sin.sin_addr.s_addr) &&
	    !IN_MULTICAST(ha) && ha != INADDR_BROADCAST)
		goto out;
	r = -EINVAL;
	if (!bind_ok(s))
		goto out;
	if (kernel || is_loopback(sin.sin_addr.s_addr)) {
		r = net_sock_to_kernel(fd, s);
		net_unlock();
		return r ? r : net_passthrough(a);
	}
	s->local.sin_addr = sin.sin_addr;
	bool named_port = sin.sin_port != 0;
	if (s->type == SOCK_STREAM) {
		if (!sin.sin_port)
			sin.sin_port = tcp_port_pick();
		r = -EADDRINUSE;
		if (sin.sin_port && !tcp_port_busy(s, sin.sin_port)) {
			s->local.sin_port = sin.sin_port;
			s->port_hold = NET_PORT_HELD;
			if (s->state == NET_NEW)	/* one over stays SS_CONNECTED */
				s->state = NET_BOUND;
			r = 0;
		}
	} else {
		r = net_udp_autobind(s, sin.sin_port);
	}
	if (r == 0) {
		s->bind_addr = sin.sin_addr.s_addr != 0;
		s->bind_port = named_port;
	} else {
		s->local.sin_addr.s_addr = 0;	/* __inet_bind() clears it on failure */
	}
out:
	net_unlock();
	return r;
}

/* Linux: a backlog past net.core.somaxconn (4096) is cut to it; 0 or less still admits one. */
static int net_backlog(int backlog)
{
	return backlog <= 0 ? 1 : backlog > 4096 ? 4096 : backlog;
}

long libos_sys_listen(struct libos_args *a)
{
	int fd = (int)a->a[0], backlog = (int)a->a[1];
	long r;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	if (s->state == NET_DEAD) {
		r = -ENETDOWN;
	} else if (s->type != SOCK_STREAM) {
		r = -EOPNOTSUPP;
	} else if (s->state == NET_LISTEN) {
		r = g_net.be->tcp_set_backlog(s->tcb, net_backlog(backlog));
	} else if ((s->state != NET_NEW && s->state != NET_BOUND) || s->conn_async ||
		   s->disconnecting) {
		r = -EINVAL;	/* inet_listen(): SS_UNCONNECTED only (a failed
				 * non-blocking connect is SS_CONNECTING until told) */
	} else if ((r = net_backend_up()) == 0) {
		if (!s->local.sin_port || s->port_hold == NET_PORT_SHOWN)
			s->local.sin_port = tcp_port_pick();
		s->port_hold = NET_PORT_HELD;
		backlog = net_backlog(backlog);
		r = g_net.be->tcp_listen(s->local.sin_port, backlog, &s->tcb);
		if (r == 0) {
			s->state = NET_LISTEN;
			g_net.be->tcp_set_user(s->tcb, s);	/* epoll hears of its changes */
			if (s->ttl != 64 || s->tos || s->notsent_lowat)
				net_sock_apply_tx(s);	/* its connections start with them */
			if (s->reuseaddr || s->reuseport)
				net_sock_apply_reuse(s);	/* and these */
		}
	}
	net_unlock();
	return r;
}

struct accept_arg {
	int flags;
	struct net_sock *c;
	int fd;
};

static long try_accept(struct net_sock *s, void *arg)
{
	struct accept_arg *x = arg;
	struct bnet_tcb *tcb;
	struct bnet_tcp_info info;

	if (s->type != SOCK_STREAM)
		return -EOPNOTSUPP;	/* sock_no_accept */
	if (s->state != NET_LISTEN)
		return s->state == NET_DEAD ? -ENETDOWN : -EINVAL;
	int r = g_net.be->tcp_accept(s->tcb, &tcb);
	if (r < 0) {
		if (r == -EAGAIN)
			s->gen++;
		return r;
	}
	int efd = (int)libos_raw(SYS_eventfd2, 0,
				 (x->flags & SOCK_CLOEXEC ? EFD_CLOEXEC : 0) |
				 (x->flags & SOCK_NONBLOCK ? EFD_NONBLOCK : 0), 0, 0, 0, 0);
	struct net_sock *c = efd >= 0 && efd < NET_FD_MAX ? net_sock_create(SOCK_STREAM) : NULL;
	if (!c) {
		g_net.be->tcp_abort(tcb);
		if (efd >= 0)
			libos_raw(SYS_close, efd, 0, 0, 0, 0, 0);
		return efd < 0 ? efd : efd >= NET_FD_MAX ? -EMFILE : -ENOMEM;
	}
	g_net.be->tcp_info(tcb, &info);
	c->tcb = tcb;
	g_net.be->tcp_set_user(tcb, c);
	c->family = s->family;
	c->state = NET_CONNECTED;
	c->nonblock = x->flags & SOCK_NONBLOCK;
	c->local.sin_addr.s_addr = info.lip;
	c->local.sin_port = info.lport;
	c->peer.sin_family = AF_INET;
	c->peer.sin_addr.s_addr = info.rip;
	c->peer.sin_port = info.rport;
	/* Inherited from the listener, as Linux does. */
	c->nodelay = s->nodelay;
	c->cork = s->cork;
	c->keepalive = s->keepalive;
	c->keepidle = s->keepidle;
	c->keepintvl = s->keepintvl;
	c->keepcnt = s->keepcnt;
	c->linger = s->linger;
	c->reuseaddr = s->reuseaddr;	/* the stack gave the connection the listener's */
	c->reuseport = s->reuseport;
	c->bind_addr = s->bind_addr;	/* sk_userlocks too */
	c->bind_port = s->bind_port;
	c->port_hold = c->bind_port ? NET_PORT_HELD : NET_PORT_CONN;
	c->rcvbuf = s->rcvbuf;
	c->sndbuf = s->sndbuf;
	c->ttl = s->ttl;	/* the stack gave the connection the listener's already */
	c->tos = s->tos;
	c->notsent_lowat = s->notsent_lowat;
	if (c->nodelay)
		g_net.be->tcp_set_nodelay(tcb, 1);
	if (c->cork)
		g_net.be->tcp_set_cork(tcb, 1);
	if (c->keepalive)
		g_net.be->tcp_set_keepalive(tcb, (uint32_t)c->keepidle, (uint32_t)c->keepintvl,
					    (uint32_t)c->keepcnt);
	net_fd_set(efd, NET_FD_SOCK, c);
	x->c = c;
	x->fd = efd;
	return efd;
}

static long do_accept(struct libos_args *a, int flags)
{
	int fd = (int)a->a[0];
	struct accept_arg x = { .flags = flags };

	struct net_sock *s = net_sock_hold(fd);
	if (!s)
		return net_passthrough(a);
	long r = -EINVAL;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		goto out;
	r = net_wait(a, s, try_accept, &x, s->nonblock, s->rcvtimeo_us, true, NULL);
	if (r >= 0) {
		net_lock();
		long e = net_addr_to_guest(s->family, (void *)a->a[1], (void *)a->a[2],
					   &x.c->peer);
		if (e) {
			net_fd_close(x.fd);
			libos_raw(SYS_close, x.fd, 0, 0, 0, 0, 0);
			r = e;
		}
		net_unlock();
	}
out:
	net_sock_release(s);
	return r;
}

long libos_sys_accept(struct libos_args *a)
{
	return net_ret(a, do_accept(a, 0));
}

long libos_sys_accept4(struct libos_args *a)
{
	return net_ret(a, do_accept(a, (int)a->a[3]));
}

int net_sock_conn_update(struct net_sock *s)
{
	struct bnet_tcp_info info;

	if (s->state != NET_CONNECTING)
		return 0;
	g_net.be->tcp_info(s->tcb, &info);
	if (info.state == 2 /* SYN_SENT */ || info.state == 3 /* SYN_RCVD */) {
		s->gen++;
		return -EAGAIN;
	}
	int err = g_net.be->tcp_take_error(s->tcb);
	if (err || info.state == 0 /* CLOSED */) {
		/* tcp_done(): TCP_CLOSE lets go of a port bind() did not name, which
		 * getsockname still shows */
		g_net.be->tcp_close(s->tcb);
		s->tcb = NULL;
		s->state = s->bind_port || s->bind_addr ? NET_BOUND : NET_NEW;
		s->port_hold = s->bind_port ? NET_PORT_HELD : NET_PORT_SHOWN;
		s->error = err ? err : ECONNREFUSED;
		s->rd_shut = s->wr_shut = true;	/* tcp_done(): SHUTDOWN_MASK, recv sees
						 * the end until a connect disconnects */
		return -s->error;
	}
	s->state = NET_CONNECTED;
	s->local.sin_addr.s_addr = info.lip;
	s->local.sin_port = info.lport;
	return 0;
}

/* connect() told a failure (__inet_stream_connect()'s sock_error:): the error is gone,
 * and tcp_disconnect() lifts the shutdown tcp_done() left (net_sock_conn_update()). */
static void connect_told(struct net_sock *s)
{
	s->error = 0;
	s->rd_shut = s->wr_shut = false;
}

/* Connected, refused, or still on its way?  A failure is reported here, once. */
static long try_connected(struct net_sock *s, void *arg)
{
	(void)arg;
	if (s->state == NET_DEAD)
		return -ENETDOWN;
	if (s->state != NET_CONNECTING)
		return s->state == NET_CONNECTED ? 0 : s->error ? -s->error : -ENOTCONN;
	int r = net_sock_conn_update(s);
	if (r < 0 && r != -EAGAIN)
		connect_told(s);
	return r;
}

/* connect() to AF_UNSPEC: udp_disconnect() and tcp_disconnect().  The peer is
 * forgotten; what bind() did not name (address, port) is let go; a TCP connection or a
 * listener is aborted (RST to a peer) and the socket may connect again. */
static long disconnect(struct net_sock *s)
{
	int err = 0;

	if (s->type == SOCK_STREAM) {
		struct bnet_tcp_info info = { .state = BNET_TCP_CLOSED };	/* none */
		if (s->tcb && g_net.be && s->state != NET_LISTEN)
			g_net.be->tcp_info(s->tcb, &info);
		/* a connection open or opening is reset and leaves ECONNRESET; TIME_WAIT
		 * stays the stack's (Linux's mini-socket), a listener just stops */
		switch (info.state) {
		case BNET_TCP_SYN_SENT: case BNET_TCP_SYN_RCVD: case BNET_TCP_ESTABLISHED:
		case BNET_TCP_CLOSE_WAIT: case BNET_TCP_FIN_WAIT_1: case BNET_TCP_FIN_WAIT_2:
			err = ECONNRESET;
			/* fall through */
		case BNET_TCP_CLOSING: case BNET_TCP_LAST_ACK:
			g_net.be->tcp_abort(s->tcb);
			break;
		default:
			if (s->tcb && g_net.be)
				g_net.be->tcp_close(s->tcb);
			break;
		}
		s->tcb = NULL;
		if (s->state != NET_NEW && s->state != NET_BOUND)
			s->state = s->bind_port || s->bind_addr ? NET_BOUND : NET_NEW;
		s->rd_shut = s->wr_shut = false;
	} else {
		if (!s->bind_port && s->udp && g_net.be) {
			g_net.be->udp_close(s->udp);
			s->udp = NULL;
		}
		s->state = s->udp || s->bind_addr ? NET_BOUND : NET_NEW;
	}
	memset(&s->peer, 0, sizeof(s->peer));
	s->conn_async = false;
	if (!s->bind_addr)
		s->local.sin_addr.s_addr = 0;
	if (!s->bind_port && s->type == SOCK_STREAM)
		s->port_hold = NET_PORT_SHOWN;	/* inet_put_port(): shown, not held */
	else if (!s->bind_port)
		s->local.sin_port = 0;		/* udp_disconnect() forgets it */
	s->error = err;
	s->gen++;
	return 0;
}

long libos_sys_connect(struct libos_args *a)
{
	int fd = (int)a->a[0];
	struct sockaddr_in sin;
	long r;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	if (s->state == NET_DEAD) {
		r = -ENETDOWN;
		goto out;
	}
	long len = (long)(int)a->a[2];
	r = net_addr_in(s, (const void *)a->a[1], len, &sin);
	/* Linux's order (__sys_connect, then inet_stream_connect or inet_dgram_connect): the
	 * copy and the family's two bytes, AF_UNSPEC; then TCP's state or UDP's autobind;
	 * the rest of the address last. */
	if (r == -EFAULT || len < (long)sizeof(sa_family_t) || len > 128)
		goto out;
	if (sin.sin_family == AF_UNSPEC) {
		r = disconnect(s);
		s->disconnecting = false;	/* SS_UNCONNECTED */
		goto out;
	}
	if (s->type == SOCK_STREAM && s->disconnecting) {
		r = -EINVAL;
		goto out;
	}
	if (s->type == SOCK_STREAM && s->conn_async && s->state != NET_CONNECTING) {
		/* __inet_stream_connect() in SS_CONNECTING: the outcome, once, whatever the
		 * address; a failure whose error SO_ERROR took is -ECONNABORTED */
		s->conn_async = false;
		r = s->state == NET_CONNECTED ? 0 : s->error ? -s->error : -ECONNABORTED;
		if (r)
			connect_told(s);
		goto out;
	}
	if (s->type == SOCK_STREAM && (s->state == NET_CONNECTED || s->state == NET_LISTEN)) {
		r = -EISCONN;
		goto out;
	}
	/* connecting already: the address is not looked at again */
	bool connecting = s->type == SOCK_STREAM && s->state == NET_CONNECTING;
	if (s->type == SOCK_DGRAM && r < 0)
		net_udp_autobind(s, s->local.sin_port);
	if (r < 0 && !connecting)
		goto out;
	bool kernel = r == NET_ADDR_KERNEL;
	r = -EAFNOSUPPORT;
	if (sin.sin_family != AF_INET && !connecting)
		goto out;
	bool local_dst = !connecting && (kernel || is_loopback(sin.sin_addr.s_addr) ||
				       sin.sin_addr.s_addr == 0 ||
				       sin.sin_addr.s_addr == g_proc.cfg->net_ip);
	if (local_dst) {
		/* Nothing in the backend yet: the kernel's loopback serves it. */
		if (s->tcb || s->udp || s->state == NET_LISTEN) {
			r = -ENETUNREACH;
			goto out;
		}
		if ((r = net_sock_to_kernel(fd, s)))
			goto out;
		net_unlock();
		return reissue(a);
	}
	if (s->type == SOCK_DGRAM) {
		if (!(r = net_udp_autobind(s, s->local.sin_port))) {
			s->peer = sin;
			s->state = NET_CONNECTED;
			if (!s->local.sin_addr.s_addr)	/* the route's source, as Linux */
				s->local.sin_addr.s_addr = g_proc.cfg->net_ip;
		}
		goto out;
	}
	if (s->state != NET_CONNECTING) {
		if ((r = net_backend_up()))
			goto out;
		s->error = 0;
		/* The SYN carries IP_TTL and IP_TOS already, as on Linux. */
		uint16_t sport = s->port_hold == NET_PORT_SHOWN ? 0 : s->local.sin_port;
		if (!sport && (r = tcp_connect_port(&sin, &sport)))
			goto out;
		r = g_net.be->tcp_connect_tx(sin.sin_addr.s_addr, sin.sin_port, sport,
					     (uint8_t)s->ttl, (uint8_t)s->tos, &s->tcb);
		if (r)
			goto out;
		s->local.sin_port = sport;
		s->port_hold = s->bind_port ? NET_PORT_HELD : NET_PORT_CONN;
		g_net.be->tcp_set_user(s->tcb, s);
		if (s->notsent_lowat)
			net_sock_apply_tx(s);
		if (s->nodelay)
			g_net.be->tcp_set_nodelay(s->tcb, 1);
		if (s->cork)
			g_net.be->tcp_set_cork(s->tcb, 1);
		if (s->keepalive)
			g_net.be->tcp_set_keepalive(s->tcb, (uint32_t)s->keepidle,
						    (uint32_t)s->keepintvl, (uint32_t)s->keepcnt);
		if (s->reuseaddr || s->reuseport)
			net_sock_apply_reuse(s);
		s->state = NET_CONNECTING;
		s->peer = sin;
		if (s->nonblock) {
			s->conn_async = true;
			r = -EINPROGRESS;
			goto out;
		}
	} else if (s->nonblock) {
		r = try_connected(s, NULL);
		if (r == -EAGAIN)
			r = -EALREADY;
		else
			s->conn_async = false;
		goto out;
	}
	s->refs++;
	net_unlock();
	r = net_wait(a, s, try_connected, NULL, false, s->sndtimeo_us, false, NULL);
	if (r == -EAGAIN)
		r = -EINPROGRESS;	/* SO_SNDTIMEO ran out: it goes on in the background */
	net_lock();
	s->conn_async = r == -EINPROGRESS || r == -EINTR;
	net_sock_put(s);
out:
	net_unlock();
	return r;
}

long libos_sys_shutdown(struct libos_args *a)
{
	int fd = (int)a->a[0], how = (int)a->a[1];
	long r = 0;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	/* inet_shutdown(): a listener shut for reading stops listening, a connect in
	 * progress is abandoned; a socket with no connection (never one, or one over) says
	 * -ENOTCONN but is shut all the same, so that its waiters wake. */
	if (how < SHUT_RD || how > SHUT_RDWR) {
		r = -EINVAL;
		goto out;
	}
	if (s->state == NET_DEAD) {
		r = -ENETDOWN;
		goto out;
	}
	if (s->conn_async) {
		/* an unsettled connect settles: SS_CONNECTED, or SS_DISCONNECTING when it
		 * is still on its way or failed (then connect and listen say -EINVAL) */
		if (s->state == NET_CONNECTING)
			net_sock_conn_update(s);
		s->disconnecting = s->state != NET_CONNECTED;
		s->conn_async = false;
	}
	if (s->state == NET_LISTEN || s->state == NET_CONNECTING) {
		if (s->state == NET_CONNECTING || how != SHUT_WR)
			r = disconnect(s);
		goto out;
	}
	if (s->state != NET_CONNECTED || tcp_over(s))
		r = -ENOTCONN;
	else if (s->type == SOCK_STREAM)
		r = g_net.be->tcp_shutdown(s->tcb, how);
	if (r == 0 || r == -ENOTCONN) {
		s->rd_shut |= how != SHUT_WR;
		s->wr_shut |= how != SHUT_RD;
		s->gen++;
	}
out:
	net_unlock();
	return r;
}

/* SO_LINGER with a time, at the last close of a connection with nothing unread: the
 * close waits (the microseconds; UINT64_MAX = no limit), else 0. */
static uint64_t linger_us(struct net_sock *s)
{
	uint32_t avail;

	if (!s->linger.l_onoff || s->linger.l_linger == 0 || s->refs != 1 || !s->tcb ||
	    s->state != NET_CONNECTED || !g_net.be || s->peek_len)
		return 0;
	uint32_t ev = g_net.be->tcp_events(s->tcb, &avail);
	if (avail || (ev & BNET_HUP))
		return 0;	/* unread data: close resets at once; or nothing left to wait for */
	/* Linux keeps l_linger * HZ, and waits without limit from MAX_SCHEDULE_TIMEOUT / HZ
	 * seconds on (a negative l_linger among them). */
	if (s->linger.l_linger < 0 || s->linger.l_linger >= (int)(LONG_MAX / 1000000))
		return UINT64_MAX;
	return (uint64_t)s->linger.l_linger * 1000000u;
}

/* Linux's lingering close (inet_release -> tcp_close -> sk_stream_wait_close): the FIN
 * goes after the queued data, and close returns once it is acknowledged (the states
 * FIN_WAIT_1, CLOSING and LAST_ACK are over), when @us have passed, or when a signal
 * arrives; then the connection finishes in the background as after any close (no RST at
 * the timeout: Linux sends none).  O_NONBLOCK does not shorten it, on Linux either.
 * @t is ours alone: its socket is gone. */
static void linger_close(struct libos_args *a, struct bnet_tcb *t, uint64_t us)
{
	const struct bypass_net_backend *be = g_net.be;
	struct bnet_tcp_info info;
	uint64_t start = net_now_us(), busy = start, now;

	net_lock();
	int r = be->tcp_shutdown(t, SHUT_RDWR);
	net_unlock();
	while (r == 0) {
		net_lock();
		int n = be->poll();
		be->tcp_info(t, &info);
		net_unlock();
		if (info.state != BNET_TCP_FIN_WAIT_1 && info.state != BNET_TCP_CLOSING &&
		    info.state != BNET_TCP_LAST_ACK)
			break;
		if (a->self->tls.pending)
			break;		/* close still succeeds; the signal is delivered after */
		now = net_now_us();
		if (n > 0)
			busy = now;
		if (us != UINT64_MAX && now - start >= us)
			break;
		net_idle(now - busy);
	}
	net_lock();
	be->tcp_close(t);
	net_unlock();
}

long libos_sys_close(struct libos_args *a)
{
	int fd = (int)a->a[0];
	struct bnet_tcb *lt = NULL;
	uint64_t lus = 0;

	if (a->self->vfork_child)
		return net_passthrough(a);	/* its own fd table; our objects are the parent's */
	net_lock();
	struct net_sock *s = net_sock_get(fd);
	if (s && !g_net.child && (lus = linger_us(s))) {
		lt = s->tcb;	/* the socket goes now; its connection lingers below */
		s->tcb = NULL;
		g_net.be->tcp_set_user(lt, NULL);
	}
	net_fd_close(fd);
	net_unlock();
	long r = net_passthrough(a);
	if (lt)
		linger_close(a, lt, lus);
	return r;
}

long libos_sys_close_range(struct libos_args *a)
{
	unsigned first = (unsigned)a->a[0], last = (unsigned)a->a[1];
	unsigned flags = (unsigned)a->a[2];

	if (a->self->vfork_child || first > last || (flags & CLOSE_RANGE_CLOEXEC))
		return net_passthrough(a);
	long r = net_passthrough(a);
	if (r < 0 || (flags & CLOSE_RANGE_UNSHARE))
		return r;	/* UNSHARE: a new table, the old one keeps them */
	net_lock();
	for (unsigned fd = first; fd <= last && fd < NET_FD_MAX; fd++)
		net_fd_close((int)fd);
	net_unlock();
	return r;
}

/* After a successful dup of @oldfd onto @newfd: @newfd names what @oldfd names. */
static void dup_track(int oldfd, long newfd)
{
	if (newfd < 0 || newfd == oldfd)
		return;
	net_fd_close((int)newfd);	/* whatever @newfd was, the kernel closed it */
	struct net_fd *f = net_fd_get(oldfd);
	if (!f || newfd >= NET_FD_MAX)
		return;
	if (f->kind == NET_FD_SOCK)
		f->s->refs++;
	else
		f->ep->refs++;	/* an epoll instance is its file: every fd sees its items */
	net_fd_set((int)newfd, f->kind, f->kind == NET_FD_SOCK ? (void *)f->s : (void *)f->ep);
}

long net_dup_common(struct libos_args *a, int oldfd)
{
	if (a->self->vfork_child)
		return net_passthrough(a);
	net_lock();
	long r = net_passthrough(a);
	dup_track(oldfd, r);
	net_unlock();
	return r;
}

long libos_sys_dup(struct libos_args *a)
{
	return net_dup_common(a, (int)a->a[0]);
}

long libos_sys_dup2(struct libos_args *a)
{
	return net_dup_common(a, (int)a->a[0]);
}

long libos_sys_dup3(struct libos_args *a)
{
	return net_dup_common(a, (int)a->a[0]);
}

static long get_name(struct libos_args *a, bool peer)
{
	int fd = (int)a->a[0];
	struct bnet_tcp_info info;
	struct sockaddr_in sin;
	long r;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	if (s->state == NET_DEAD) {
		r = -ENETDOWN;
		goto out;
	}
	if (s->state == NET_CONNECTING)
		net_sock_conn_update(s);
	/* a live connection's addresses are its own; one over may have been bound anew */
	if (s->type == SOCK_STREAM && s->tcb && s->state != NET_LISTEN && !tcp_over(s)) {
		g_net.be->tcp_info(s->tcb, &info);
		if (info.lport) {
			s->local.sin_addr.s_addr = info.lip;
			s->local.sin_port = info.lport;
		}
	}
	if (peer && (s->state != NET_CONNECTED || tcp_over(s))) {
		r = -ENOTCONN;
		goto out;
	}
	sin = peer ? s->peer : s->local;
	sin.sin_family = AF_INET;
	r = net_addr_to_guest(s->family, (void *)a->a[1], (void *)a->a[2], &sin);
out:
	net_unlock();
	return r;
}

long libos_sys_getsockname(struct libos_args *a)
{
	return get_name(a, false);
}

long libos_sys_getpeername(struct libos_args *a)
{
	return get_name(a, true);
}
