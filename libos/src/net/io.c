// SPDX-License-Identifier: MIT
/* Data on LibOS sockets: read, write, readv, writev, send*, recv*, sendfile.  Guest
 * memory is only ever touched with the fault-safe copies, so a bad pointer is -EFAULT and
 * never a crash: TCP data moves straight between the guest and the connection's buffers
 * through a copy callback the backend calls; datagrams, peeks and sendfile's file data
 * pass through g_net.bounce (under the lock). */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define IOV_MAX_N	1024
#define NET_PEEK_MAX	(64u << 10)	/* what one MSG_PEEK takes from the backend at most */
/* iovecs held in struct net_iov itself: nginx writes a response as header + body, and a
 * malloc/free per writev was ~1% of its time. */
#define IOV_SMALL_N	8

/* A guest iovec array, copied in. */
struct net_iov {
	struct iovec *v;
	int n;
	size_t total;
	struct iovec small[IOV_SMALL_N];
};

/* What Linux checks of a guest buffer before any byte moves (import_ubuf(),
 * import_iovec()): a range outside user space is -EFAULT even when nothing would be
 * copied (a recv at the end of the stream); one call moves at most MAX_RW_COUNT bytes. */
#define NET_RW_MAX	0x7ffff000ul		/* MAX_RW_COUNT: INT_MAX & PAGE_MASK */

static long iov_get(struct net_iov *io, const struct iovec *uiov, long n)
{
	if (n < 0 || n > IOV_MAX_N)
		return -EINVAL;
	io->n = (int)n;
	io->total = 0;
	io->v = n <= IOV_SMALL_N ? io->small : malloc((size_t)n * sizeof(*io->v));
	if (!io->v)
		return -ENOMEM;
	if (n && libos_from_guest(io->v, uiov, (size_t)n * sizeof(*io->v)))
		return -EFAULT;
	for (int i = 0; i < io->n; i++)
		if ((ssize_t)io->v[i].iov_len < 0)
			return -EINVAL;
	for (int i = 0; i < io->n; i++) {
		size_t len = io->v[i].iov_len;
		if (!net_user_range_ok(io->v[i].iov_base, len))
			return -EFAULT;
		if (len > NET_RW_MAX - io->total)
			io->v[i].iov_len = len = NET_RW_MAX - io->total;
		io->total += len;
	}
	return 0;
}

static void iov_put(struct net_iov *io)
{
	if (io->v && io->v != io->small)
		free(io->v);
}

/* One guest buffer: 0, or -EFAULT for a range outside user space. */
static long iov_one(struct net_iov *io, void *buf, size_t len)
{
	if (len > NET_RW_MAX)
		len = NET_RW_MAX;
	io->small[0].iov_base = buf;
	io->small[0].iov_len = len;
	io->v = io->small;
	io->n = 1;
	io->total = len;
	return net_user_range_ok(buf, len) ? 0 : -EFAULT;
}

/* Copy between @buf and the iovec from byte offset @off on, up to the first fault: the
 * bytes copied (@len, or fewer where guest memory faulted, at an iovec's start). */
static size_t iov_copy_n(const struct net_iov *io, size_t off, void *buf, size_t len, bool out)
{
	size_t done = 0;

	for (int i = 0; i < io->n && done < len; i++) {
		size_t l = io->v[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t k = l - off < len - done ? l - off : len - done;
		char *g = (char *)io->v[i].iov_base + off;
		long e = out ? libos_to_guest(g, (char *)buf + done, k) :
			       libos_from_guest((char *)buf + done, g, k);
		if (e)
			break;
		done += k;
		off = 0;
	}
	return done;
}

/* Copy between the bounce buffer and the iovec at byte offset @off: 0 or -EFAULT. */
static long iov_copy(const struct net_iov *io, size_t off, void *buf, size_t len, bool out)
{
	return iov_copy_n(io, off, buf, len, out) == len ? 0 : -EFAULT;
}

/* The guest's iovec from byte @base on, as the backend's copy callback sees it (TCP data
 * moves between guest memory and the connection's buffers with no bounce). */
struct iov_cursor {
	const struct net_iov *io;
	size_t base;
};

static size_t cursor_from_guest(void *arg, void *p, size_t off, size_t len)
{
	const struct iov_cursor *c = arg;

	return iov_copy_n(c->io, c->base + off, p, len, false);
}

static size_t cursor_to_guest(void *arg, void *p, size_t off, size_t len)
{
	const struct iov_cursor *c = arg;

	return iov_copy_n(c->io, c->base + off, p, len, true);
}

struct xfer {
	struct net_iov *io;
	size_t done;		/* bytes moved so far */
	int flags;		/* MSG_* */
	struct sockaddr_in *addr;	/* recv: the source; send: the destination or NULL */
	size_t dgram_len;	/* recv: a datagram's full length */
	int in_fd;		/* sendfile */
	bool no_restart;	/* not restartable (a later message of sendmmsg/recvmmsg) */
	struct net_rxinfo *rx;	/* recvmsg/recvmmsg: what the control messages need */
	long long *offset;	/* sendfile: NULL = the file position */
	size_t count;
	int ttl;		/* UDP send: a control message's IP_TTL, 0 = none */
	bool have_tos;		/* UDP send: a control message's IP_TOS in tos */
	uint8_t tos;
	uint16_t gso;		/* UDP send: UDP_SEGMENT, 0 = none */
};

/* sendmsg's control messages into @x (net_cmsg_send): 0 or -errno. */
static long tx_cmsg(const struct net_sock *s, const struct msghdr *m, struct xfer *x)
{
	struct net_txinfo tx;
	long r;

	if (!m->msg_controllen)
		return 0;
	if ((r = net_cmsg_send(s, m->msg_control, m->msg_controllen, &tx)))
		return r;
	x->ttl = tx.ttl;
	x->have_tos = tx.tos >= 0;
	x->tos = (uint8_t)tx.tos;
	x->gso = tx.gso;
	return 0;
}

/* A read's or a write's try before net_wait, which polls the device first: a busy
 * server's read finds its data already taken in by the epoll wait that reported it, and
 * its write finds room, so a poll there (an RX and a TX burst of the device) bought
 * nothing.  Only -EAGAIN goes on to net_wait, which polls before it tries again: a
 * non-blocking call never reports EAGAIN without having looked at the device (the ACKs
 * that poll takes in free send-buffer room, as the kernel's would).  What a write queues
 * leaves at the end of the backend's call, not at the next poll. */
static long try_unpolled(struct net_sock *s, net_try_fn *try, struct xfer *x)
{
	net_lock();
	long r = try(s, x);
	net_sock_changed(s);
	net_unlock();
	return r;
}

/* ---- receive ---- */

/* The next datagram for UDP socket @s, its full length: the one held (s->peek_dgram),
 * else the backend's next into g_net.bounce and bounce_meta.  A socket with a local
 * address (bind, or connect's route source) hears only datagrams sent to it, as
 * __udp4_lib_lookup() matches inet_rcv_saddr (bound to a multicast group: not our
 * unicasts; to our address: no broadcasts); a connected one only its peer.  -EAGAIN:
 * none. */
static long udp_next(struct net_sock *s)
{
	if (s->peek_dgram)
		return s->peek_len;
	if (!s->udp)
		return -EAGAIN;	/* never bound: nothing can arrive (Linux waits too) */
	for (;;) {
		struct bnet_udp_meta *meta = &g_net.bounce_meta;
		long r = g_net.be->udp_recvmsg(s->udp, g_net.bounce, sizeof(g_net.bounce), meta);
		if (r < 0)
			return r;
		if (s->local.sin_addr.s_addr && meta->dip != s->local.sin_addr.s_addr)
			continue;
		if (s->state != NET_CONNECTED || (meta->sip == s->peer.sin_addr.s_addr &&
						  meta->sport == s->peer.sin_port))
			return r;
	}
}

long net_udp_hold(struct net_sock *s)
{
	if (s->peek_dgram)
		return s->peek_len;
	if (!s->peek && !(s->peek = malloc(NET_PEEK_MAX)))
		return -ENOMEM;	/* before anything is taken */
	long r = udp_next(s);
	if (r < 0)
		return r;
	memcpy(s->peek, g_net.bounce, (size_t)r);
	s->peek_len = (uint32_t)r;
	s->peek_off = 0;
	s->peek_meta = g_net.bounce_meta;
	s->peek_dgram = true;
	return r;
}

/* MSG_PEEK: the bytes are taken into s->peek (what the next reads return first) and
 * copied from there. */
static long tcp_peek(struct net_sock *s, struct xfer *x, size_t want)
{
	if (!s->peek && !(s->peek = malloc(NET_PEEK_MAX)))
		return -ENOMEM;
	if (!s->peek_len) {
		long r = g_net.be->tcp_recv(s->tcb, s->peek, NET_PEEK_MAX);
		if (r <= 0)
			return r;
		s->peek_off = 0;
		s->peek_len = (uint32_t)r;
	}
	size_t k = want < s->peek_len ? want : s->peek_len;
	long e = iov_copy(x->io, x->done, s->peek + s->peek_off, k, true);
	return e ? e : (long)k;
}

/* Up to @want bytes to the guest at x->done: what a peek left (alone: a pending error is
 * not taken behind it), else straight out of the connection's buffer.  A fault consumes
 * nothing. */
static long tcp_take(struct net_sock *s, struct xfer *x, size_t want)
{
	if (s->peek_len) {
		size_t k = want < s->peek_len ? want : s->peek_len;
		if (iov_copy(x->io, x->done, s->peek + s->peek_off, k, true))
			return -EFAULT;
		s->peek_off += (uint32_t)k;
		s->peek_len -= (uint32_t)k;
		return (long)k;		/* what follows comes next time, or an error */
	}
	struct iov_cursor c = { .io = x->io, .base = x->done };
	return g_net.be->tcp_recv_copy(s->tcb, want, cursor_to_guest, &c);
}

static long try_recv(struct net_sock *s, void *arg)
{
	struct xfer *x = arg;
	size_t want = x->io->total - x->done;
	long r;

	if (s->state == NET_DEAD)
		return -ENETDOWN;
	if (s->type == SOCK_STREAM) {
		if (s->state == NET_CONNECTING && (r = net_sock_conn_update(s)) < 0) {
			if (r != -EAGAIN)
				s->error = 0;
			return r;
		}
		if (s->state != NET_CONNECTED)	/* shut for reading: the end, as Linux */
			return s->rd_shut && s->state != NET_LISTEN ? 0 : -ENOTCONN;
		if (!want)
			return 0;
		r = x->flags & MSG_PEEK ? tcp_peek(s, x, want) : tcp_take(s, x, want);
		if (r == -EAGAIN && s->rd_shut)
			r = 0;	/* shut for reading: end of stream, not a wait */
		if (r == -EFAULT && x->done)
			return (long)x->done;
		if (r > 0) {
			x->done += (size_t)r;
			want -= (size_t)r;
		}
		/* Drained (EAGAIN, or a short read: nothing arrives while we hold the lock):
		 * an edge-triggered epoll fires again on the next data, as Linux does. */
		if (r == -EAGAIN || (r > 0 && want && !(x->flags & MSG_PEEK)))
			s->gen++;
		if (x->done && x->rx && s->tstamp != NET_TS_NONE) {
			/* A byte stream keeps no time per byte: the last data's arrival (Linux
			 * gives the last segment read's). */
			struct bnet_tcp_info info;
			if (g_net.be->tcp_info(s->tcb, &info) == 0)
				net_rx_stamp(x->rx, info.last_data_recv_us);
		}
		if (x->done && (r >= 0 || r == -EAGAIN)) {
			if (want && (x->flags & MSG_WAITALL) && r != 0)
				return -EAGAIN;	/* more to come: keep waiting */
			return (long)x->done;
		}
		return r;
	}
	/* UDP: one datagram per call; a pending error first (__skb_recv_udp: sock_error) */
	if (s->error) {
		int e = s->error;
		s->error = 0;
		return -e;
	}
	if (x->flags & MSG_PEEK)
		r = net_udp_hold(s);
	else
		r = udp_next(s);
	if (r < 0) {
		if (r == -EAGAIN)
			s->gen++;
		return r;
	}
	uint8_t *p = s->peek_dgram ? s->peek : g_net.bounce;
	const struct bnet_udp_meta *meta = s->peek_dgram ? &s->peek_meta : &g_net.bounce_meta;
	size_t k = (size_t)r < want ? (size_t)r : want;
	long e = iov_copy(x->io, 0, p, k, true);
	if (!(x->flags & MSG_PEEK)) {
		s->peek_dgram = false;	/* taken, a fault too (udp_recvmsg drops it) */
		if (!s->udp || !g_net.be->udp_pending(s->udp))
			s->gen++;	/* drained: re-arms edge-triggered epoll */
	}
	if (e)
		return e;
	if (x->addr) {
		x->addr->sin_family = AF_INET;
		x->addr->sin_addr.s_addr = meta->sip;
		x->addr->sin_port = meta->sport;
	}
	if (x->rx) {
		x->rx->have_dgram = true;
		x->rx->meta = *meta;
		if (s->tstamp != NET_TS_NONE)
			net_rx_stamp(x->rx, meta->rx_us);
	}
	x->dgram_len = (size_t)r;
	return (x->flags & MSG_TRUNC) ? r : (long)k;
}

static long sock_recv(struct libos_args *a, struct net_sock *s, struct xfer *x)
{
	bool nb = s->nonblock || (x->flags & MSG_DONTWAIT);
	long r;

	/* No error queue is kept (IP_RECVERR is not served): it is always empty.  No urgent
	 * data is kept either: TCP says so as tcp_recv_urg() does, UDP has none.  Other
	 * flags Linux does not know are ignored, as there. */
	if (x->flags & MSG_ERRQUEUE)
		return -EAGAIN;
	if ((x->flags & MSG_OOB) && s->type == SOCK_STREAM)
		return s->state == NET_LISTEN ? -ENOTCONN : -EINVAL;
	net_hold_arm(a->self);
	r = try_unpolled(s, try_recv, x);
	if (r == -EAGAIN)
		r = net_wait(a, s, try_recv, x, nb, s->rcvtimeo_us, !x->no_restart, &x->done);
	if (r == -EINTR && x->done)
		r = (long)x->done;
	return r;
}

/* ---- send ---- */

static void raise_sigpipe(void)
{
	libos_raw(SYS_tgkill, libos_raw(SYS_getpid, 0, 0, 0, 0, 0, 0),
		  libos_raw(SYS_gettid, 0, 0, 0, 0, 0, 0), SIGPIPE, 0, 0, 0);
}

static long try_send(struct net_sock *s, void *arg)
{
	struct xfer *x = arg;
	long r = 0;

	if (s->state == NET_DEAD)
		return -ENETDOWN;
	if (s->type == SOCK_DGRAM) {
		const struct sockaddr_in *to = x->addr ? x->addr : &s->peer;
		if (!to->sin_port && !to->sin_addr.s_addr)
			return x->addr ? -EINVAL : -EDESTADDRREQ;
		if (s->wr_shut)
			return -EPIPE;	/* sock_alloc_send_pskb(); no SIGPIPE for UDP */
		if (x->io->total > sizeof(g_net.bounce))
			return -EMSGSIZE;
		if ((r = iov_copy(x->io, 0, g_net.bounce, x->io->total, false)))
			return r;
		uint8_t ttl = (uint8_t)(x->ttl ? x->ttl : s->ttl);
		uint8_t tos = x->have_tos ? x->tos : (uint8_t)s->tos;
		size_t seg = x->io->total;
		if (x->gso && x->io->total > x->gso) {
			/* UDP_SEGMENT: datagrams of gso bytes (the last one shorter), as the
			 * kernel's GSO would cut them; udp_send_skb's limits. */
			if (x->io->total > (size_t)x->gso * 128)
				return -EINVAL;
			seg = x->gso;
		}
		/* at least one datagram: an empty one is a datagram too */
		size_t off = 0;
		do {
			size_t n = x->io->total - off < seg ? x->io->total - off : seg;
			r = g_net.be->udp_sendto_ext(s->udp, g_net.bounce + off, n,
						     to->sin_addr.s_addr, to->sin_port, ttl, tos);
			off += n;
		} while (r >= 0 && off < x->io->total);
		if (r == -EAGAIN)
			s->gen++;
		return r < 0 ? r : (long)x->io->total;
	}
	if (s->state == NET_CONNECTING && (r = net_sock_conn_update(s)) < 0) {
		if (r != -EAGAIN)
			s->error = 0;
		return r;
	}
	if (s->state != NET_CONNECTED) {
		/* sk_stream_wait_connect(): an error pending from the connection once, else
		 * -EPIPE (never connected, listening, or closed) */
		r = s->error ? -s->error : -EPIPE;
		s->error = 0;
		return r;
	}
	if (s->wr_shut)
		return x->done ? (long)x->done : -EPIPE;
	if (x->flags & MSG_OOB && !x->done)
		return -EOPNOTSUPP;	/* no urgent pointer is sent */
	while (x->done < x->io->total) {
		size_t left = x->io->total - x->done;
		size_t chunk = left < sizeof(g_net.bounce) ? left : sizeof(g_net.bounce);
		if (x->in_fd >= 0) {
			/* sendfile: file -> bounce -> the connection; what did not fit is given
			 * back to the file position.  A read without an offset may wait (a tty):
			 * what the thread holds leaves first.  pread64 does not, as the gate
			 * rules for the program's own (dispatch.c): the frames stay held. */
			if (!x->offset && libos_self()->tls.hold)
				libos_net_release(libos_self());
			r = x->offset ? libos_raw(SYS_pread64, x->in_fd, (long)g_net.bounce, (long)chunk,
						  (long)(*x->offset + (long long)x->done), 0, 0) :
					libos_raw(SYS_read, x->in_fd, (long)g_net.bounce, (long)chunk,
						  0, 0, 0);
			if (r < 0)
				break;		/* the read's error, unless bytes went before */
			if (r == 0) {
				x->io->total = x->done;	/* end of file: done */
				break;
			}
			long got = r;
			chunk = (size_t)got;
			r = g_net.be->tcp_send(s->tcb, g_net.bounce, (size_t)got);
			long sent = r > 0 ? r : 0;
			if (!x->offset && sent < got)
				libos_raw(SYS_lseek, x->in_fd, sent - got, SEEK_CUR, 0, 0, 0);
		} else {
			/* Straight from the guest into the send buffer, in chunks as Linux
			 * copies them: a fault (-EFAULT) keeps the chunks before it. */
			struct iov_cursor c = { .io = x->io, .base = x->done };
			r = g_net.be->tcp_send_copy(s->tcb, chunk, cursor_from_guest, &c);
		}
		if (r <= 0)
			break;
		x->done += (size_t)r;
		if ((size_t)r < chunk) {
			r = -EAGAIN;	/* the buffer is full: the rest waits */
			break;
		}
	}
	if (r == -EAGAIN)
		s->gen++;
	if (x->done >= x->io->total)
		return (long)x->done;
	if (r == -EAGAIN)
		return -EAGAIN;		/* partial: the wait decides (net_wait / sock_send) */
	return x->done ? (long)x->done : r;
}

static long sock_send(struct libos_args *a, struct net_sock *s, struct xfer *x)
{
	bool nb = s->nonblock || (x->flags & MSG_DONTWAIT);
	long r;

	/* Flags Linux does not know are ignored, as there; urgent data (MSG_OOB) is not sent
	 * (try_send).  UDP binds a port first (inet_send_prepare()), then udp_sendmsg()
	 * refuses MSG_OOB. */
	if (s->type == SOCK_DGRAM && s->state != NET_DEAD) {
		net_lock();
		r = net_udp_autobind(s, 0);
		net_unlock();
		if (r)
			return r;
		if (x->flags & MSG_OOB)
			return -EOPNOTSUPP;
	}
	net_hold_arm(a->self);
	r = try_unpolled(s, try_send, x);
	if (r == -EAGAIN)
		r = net_wait(a, s, try_send, x, nb, s->sndtimeo_us, !x->no_restart, &x->done);
	if (r == -EAGAIN && x->done)
		r = (long)x->done;
	if (r == -EINTR && x->done)
		r = (long)x->done;
	if (r == -EPIPE && s->type == SOCK_STREAM) {
		/* sk_stream_error(): an error the connection met (a reset) is told first,
		 * once, and without SIGPIPE */
		net_lock();
		int e = s->tcb && g_net.be && s->state == NET_CONNECTED ?
			g_net.be->tcp_take_error(s->tcb) : 0;
		net_unlock();
		if (e)
			r = -e;
		else if (!(x->flags & MSG_NOSIGNAL))
			raise_sigpipe();
	}
	return r;
}

/* ---- the calls ---- */

/* A UDP destination from the guest: 1 (in @to), 0 (none given), 2 (the kernel's:
 * loopback or IPv6 proper), or -errno. */
static long dest_get(struct net_sock *s, struct sockaddr_in *to, const void *uaddr, long len)
{
	if (!uaddr)
		return 0;
	long r = net_addr_in(s, uaddr, len, to);
	if (r < 0)
		return r;
	if (r == NET_ADDR_KERNEL)
		return 2;
	if (to->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	if ((ntohl(to->sin_addr.s_addr) >> 24) == 127 || !to->sin_addr.s_addr)
		return 2;
	return 1;
}

/* A datagram for the kernel's loopback (or IPv6): nothing in the backend yet, so the
 * socket becomes the kernel's and the call goes again. */
static long dgram_to_kernel(struct libos_args *a, struct net_sock *s)
{
	net_lock();
	long r = s->udp ? -ENETUNREACH : net_sock_to_kernel((int)a->a[0], s);
	net_unlock();
	return r ? r : net_reissue(a);
}

long libos_sys_read(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io;
	struct xfer x = { .io = &io, .in_fd = -1 };

	if (!s)
		return net_passthrough(a);
	long r = iov_one(&io, (void *)a->a[1], a->a[2]);
	if (!r && io.total)	/* sock_read_iter(): an empty read takes no datagram */
		r = sock_recv(a, s, &x);
	net_sock_release(s);
	return net_ret(a, r);
}

long libos_sys_write(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io;
	struct xfer x = { .io = &io, .in_fd = -1 };

	if (!s)
		return net_passthrough(a);
	long r = iov_one(&io, (void *)a->a[1], a->a[2]);
	if (!r)
		r = sock_send(a, s, &x);
	net_sock_release(s);
	return net_ret(a, r);
}

static long vec_io(struct libos_args *a, bool out)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io = { 0 };
	struct xfer x = { .io = &io, .in_fd = -1 };
	long r;

	if (!s)
		return net_passthrough(a);
	/* vfs_readv()/vfs_writev() stop at an empty vector: no empty datagram goes, none is
	 * taken */
	if (!(r = iov_get(&io, (const struct iovec *)a->a[1], a->a[2])) && io.total)
		r = out ? sock_send(a, s, &x) : sock_recv(a, s, &x);
	iov_put(&io);
	net_sock_release(s);
	return net_ret(a, r);
}

long libos_sys_readv(struct libos_args *a)
{
	return vec_io(a, false);
}

long libos_sys_writev(struct libos_args *a)
{
	return vec_io(a, true);
}

long libos_sys_sendto(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io;
	struct sockaddr_in to;
	struct xfer x = { .io = &io, .in_fd = -1, .flags = (int)a->a[3] };
	long r;

	if (!s)
		return net_passthrough(a);
	r = iov_one(&io, (void *)a->a[1], a->a[2]);
	if (!r && s->type == SOCK_DGRAM)
		r = dest_get(s, &to, (const void *)a->a[4], (long)(int)a->a[5]);
	if (r == 2)
		r = dgram_to_kernel(a, s);
	else if (r >= 0) {
		x.addr = r == 1 ? &to : NULL;
		r = sock_send(a, s, &x);
	}
	net_sock_release(s);
	return net_ret(a, r);
}

long libos_sys_recvfrom(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io;
	struct sockaddr_in from = { 0 };
	struct xfer x = { .io = &io, .in_fd = -1, .flags = (int)a->a[3], .addr = &from };
	long r;

	if (!s)
		return net_passthrough(a);
	r = iov_one(&io, (void *)a->a[1], a->a[2]);
	if (!r)
		r = sock_recv(a, s, &x);
	if (r >= 0 && a->a[4] && s->type == SOCK_STREAM) {
		uint32_t zero = 0;	/* TCP names no source: Linux writes length 0 */
		if (a->a[5] && libos_to_guest((void *)a->a[5], &zero, sizeof(zero)))
			r = -EFAULT;
	} else if (r >= 0 && a->a[4]) {
		long e = net_addr_to_guest(s->family, (void *)a->a[4], (void *)a->a[5], &from);
		if (e)
			r = e;
	}
	net_sock_release(s);
	return net_ret(a, r);
}

long libos_sys_sendmsg(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io = { 0 };
	struct msghdr m;
	struct sockaddr_in to;
	struct xfer x = { .io = &io, .in_fd = -1, .flags = (int)a->a[2] };
	long r;

	if (!s)
		return net_passthrough(a);
	if ((r = libos_from_guest(&m, (const void *)a->a[1], sizeof(m))))
		goto out;
	if ((r = iov_get(&io, m.msg_iov, (long)m.msg_iovlen)))
		goto out;
	r = s->type == SOCK_DGRAM ? dest_get(s, &to, m.msg_name, (long)m.msg_namelen) : 0;
	if (r == 2)
		r = dgram_to_kernel(a, s);
	else if (r >= 0) {
		x.addr = r == 1 ? &to : NULL;
		if ((r = tx_cmsg(s, &m, &x)) == 0)
			r = sock_send(a, s, &x);
	}
out:
	iov_put(&io);
	net_sock_release(s);
	return net_ret(a, r);
}

/* What ___sys_recvmsg writes back after a receive into the guest's message @um (@m is
 * its copy): the source's name (TCP names none: length 0), the control messages, the
 * flags (MSG_TRUNC for a datagram cut short, MSG_CTRUNC) and the lengths.  0 or -EFAULT. */
static long recv_msg_out(struct net_sock *s, struct msghdr *um, struct msghdr *m,
			 const struct xfer *x, const struct sockaddr_in *from)
{
	if (m->msg_name && s->type == SOCK_STREAM) {
		m->msg_namelen = 0;
	} else if (m->msg_name) {
		uint32_t len = m->msg_namelen;
		struct sockaddr_in6 six = { .sin6_family = AF_INET6, .sin6_port = from->sin_port };
		const void *src = from;
		uint32_t size = sizeof(*from);
		if (s->family == AF_INET6) {
			uint8_t *b = (uint8_t *)&six.sin6_addr;
			b[10] = b[11] = 0xff;
			memcpy(b + 12, &from->sin_addr, 4);
			src = &six;
			size = sizeof(six);
		}
		if (libos_to_guest(m->msg_name, src, len < size ? len : size))
			return -EFAULT;
		m->msg_namelen = size;
	}
	int flags = s->type == SOCK_DGRAM && x->dgram_len > x->io->total ? MSG_TRUNC : 0;
	long c = net_cmsg_put(s, x->rx, m->msg_control, m->msg_controllen, &flags);
	if (c < 0)
		return c;
	m->msg_controllen = (size_t)c;
	m->msg_flags = flags;
	if (libos_to_guest(&um->msg_namelen, &m->msg_namelen, sizeof(m->msg_namelen)) ||
	    libos_to_guest(&um->msg_controllen, &m->msg_controllen, sizeof(m->msg_controllen)) ||
	    libos_to_guest(&um->msg_flags, &m->msg_flags, sizeof(m->msg_flags)))
		return -EFAULT;
	return 0;
}

long libos_sys_recvmsg(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io = { 0 };
	struct msghdr m;
	struct sockaddr_in from = { 0 };
	struct net_rxinfo rx = { 0 };
	struct xfer x = { .io = &io, .in_fd = -1, .flags = (int)a->a[2], .addr = &from,
			  .rx = &rx };
	struct msghdr *um = (struct msghdr *)a->a[1];
	long r;

	if (!s)
		return net_passthrough(a);
	if ((r = libos_from_guest(&m, um, sizeof(m))))
		goto out;
	if ((r = iov_get(&io, m.msg_iov, (long)m.msg_iovlen)))
		goto out;
	r = sock_recv(a, s, &x);
	if (r >= 0) {
		long e = recv_msg_out(s, um, &m, &x, &from);
		if (e)
			r = e;
	}
out:
	iov_put(&io);
	net_sock_release(s);
	return net_ret(a, r);
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* recvmmsg's timeout as do_recvmmsg() keeps it: a deadline on CLOCK_MONOTONIC, looked at
 * only after each datagram (the wait for one is the socket's own). */
struct mmsg_timeout {
	struct timespec *user;	/* the guest's, written back with what is left */
	int64_t end_ns;		/* 0: {0, 0} was given, already past */
	struct timespec left;
};

static long mmsg_timeout_get(struct mmsg_timeout *t, struct timespec *user)
{
	struct timespec now;

	t->user = user;
	if (!user)
		return 0;
	if (libos_from_guest(&t->left, user, sizeof(t->left)))
		return -EFAULT;
	if (t->left.tv_sec < 0 || t->left.tv_nsec < 0 || t->left.tv_nsec >= 1000000000)
		return -EINVAL;
	t->end_ns = 0;
	if (t->left.tv_sec || t->left.tv_nsec) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		t->end_ns = t->left.tv_sec > INT64_MAX / 1000000000 - now.tv_sec - 1 ?
			    INT64_MAX : ts_ns(&now) + ts_ns(&t->left);
	}
	return 0;
}

/* After a datagram: false when the time is up (what is left becomes {0, 0}). */
static bool mmsg_timeout_left(struct mmsg_timeout *t)
{
	struct timespec now;

	if (!t->user)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t left = t->end_ns - ts_ns(&now);
	if (left <= 0) {
		t->left = (struct timespec){ 0, 0 };
		return false;
	}
	t->left = (struct timespec){ (time_t)(left / 1000000000), (long)(left % 1000000000) };
	return true;
}

/* sendmmsg/recvmmsg: one sendmsg/recvmsg after the other (glibc's resolver sends its A
 * and AAAA queries with one sendmmsg).  The count done, or the first call's error.
 * recvmmsg as Linux's do_recvmmsg: MSG_WAITFORONE makes every datagram after the first
 * MSG_DONTWAIT; the timeout is looked at only after each datagram, and what is left of
 * it is written back when any came. */
static long mmsg(struct libos_args *a, bool out)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct mmsghdr *uv = (struct mmsghdr *)a->a[1];
	unsigned vlen = (unsigned)a->a[2];
	int flags = (int)a->a[3];
	struct mmsg_timeout tmo = { 0 };
	long r = 0, done = 0;

	if (!s)
		return net_passthrough(a);
	if (!out && (r = mmsg_timeout_get(&tmo, (struct timespec *)a->a[4]))) {
		net_sock_release(s);
		return r;
	}
	if (vlen > 1024)
		vlen = 1024;
	for (unsigned i = 0; i < vlen; i++) {
		struct mmsghdr mh;
		struct net_iov io = { 0 };
		struct sockaddr_in addr = { 0 };
		struct net_rxinfo rx = { 0 };
		struct xfer x = { .io = &io, .in_fd = -1,
				  .flags = flags & ~MSG_WAITFORONE,
				  .no_restart = i > 0 };
		if ((r = libos_from_guest(&mh, &uv[i], sizeof(mh))))
			break;
		if ((r = iov_get(&io, mh.msg_hdr.msg_iov, (long)mh.msg_hdr.msg_iovlen))) {
			iov_put(&io);
			break;
		}
		if (out) {
			r = s->type == SOCK_DGRAM ?
			    dest_get(s, &addr, mh.msg_hdr.msg_name, (long)mh.msg_hdr.msg_namelen) : 0;
			if (r == 2)
				r = -ENETUNREACH;	/* loopback mid-batch: not ours to convert */
			if (r >= 0) {
				x.addr = r == 1 ? &addr : NULL;
				r = tx_cmsg(s, &mh.msg_hdr, &x);
			}
			if (r >= 0)
				r = sock_send(a, s, &x);
		} else {
			if (i && (flags & MSG_WAITFORONE))
				x.flags |= MSG_DONTWAIT;
			x.addr = &addr;
			x.rx = &rx;
			r = sock_recv(a, s, &x);
			if (r >= 0) {
				long e = recv_msg_out(s, &uv[i].msg_hdr, &mh.msg_hdr, &x, &addr);
				if (e)
					r = e;
			}
		}
		iov_put(&io);
		if (r < 0)
			break;
		unsigned len = (unsigned)r;
		if (libos_to_guest(&uv[i].msg_len, &len, sizeof(len))) {
			r = -EFAULT;
			break;
		}
		done++;
		if (!out && !mmsg_timeout_left(&tmo))
			break;
	}
	if (done && !out && r < 0 && r != -EAGAIN && r != -EINTR && r != -NET_ERESTART) {
		/* do_recvmmsg: the count now, the error at the socket's next call (sk_err) */
		net_lock();
		s->error = (int)-r;
		net_unlock();
	}
	net_sock_release(s);
	if (done) {
		if (tmo.user && libos_to_guest(tmo.user, &tmo.left, sizeof(tmo.left)))
			return -EFAULT;
		return done;
	}
	return net_ret(a, r);	/* the error, or a restart */
}

long libos_sys_sendmmsg(struct libos_args *a)
{
	return mmsg(a, true);
}

long libos_sys_recvmmsg(struct libos_args *a)
{
	return mmsg(a, false);
}

long libos_sys_sendfile(struct libos_args *a)
{
	struct net_sock *s = net_sock_hold(a->a[0]);
	struct net_iov io;
	long long off = 0;
	long long *uoff = (long long *)a->a[2];
	struct xfer x = { .io = &io, .in_fd = (int)a->a[1] };
	long r;

	if (!s)
		return net_passthrough(a);
	if (s->type != SOCK_STREAM) {
		r = -EINVAL;
		goto out;
	}
	if (uoff) {
		if ((r = libos_from_guest(&off, uoff, sizeof(off))))
			goto out;
		if (off < 0) {
			r = -EINVAL;
			goto out;
		}
		x.offset = &off;
	}
	/* Linux reads in_fd through its splice_read, which pipes, sockets, epolls and ttys
	 * lack: EINVAL (for ours too, whose fds are eventfds).  With an offset (nginx's
	 * way) it checks pread first, as our pread64 does: ESPIPE, and no fstat here. */
	if (!x.offset) {
		struct stat st;
		net_lock_ro();
		bool ours = net_fd_get(x.in_fd) != NULL;
		net_unlock();
		if (ours || (libos_raw(SYS_fstat, x.in_fd, (long)&st, 0, 0, 0, 0) == 0 &&
			     (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))) {
			r = -EINVAL;
			goto out;
		}
	}
	(void)iov_one(&io, NULL, a->a[3]);	/* no guest buffer: the count, clamped */
	r = sock_send(a, s, &x);
	if (uoff && r > 0) {
		off += r;
		if (libos_to_guest(uoff, &off, sizeof(off)))
			r = -EFAULT;
	}
out:
	net_sock_release(s);
	return net_ret(a, r);
}
