// SPDX-License-Identifier: MIT
/* Socket options, fcntl and ioctl on LibOS sockets.  Options are kept per socket (and
 * recorded for replay when a loopback address turns it into a kernel socket); the ones
 * the backend acts on (TCP_NODELAY, keepalive) are passed on.  Unknown options are
 * -ENOPROTOOPT, as Linux answers. */
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "net.h"

#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67
#endif

/* Options accepted without effect here write to g_scratch; they read back from the
 * socket's record of what was set (record()), else Linux's default (scratch_get()). */
static int g_scratch;

/* The int-valued options and where they live. */
static int *int_opt(struct net_sock *s, int level, int name)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_RCVBUF: return &s->rcvbuf;
		case SO_SNDBUF: return &s->sndbuf;
		case SO_RCVLOWAT: return &s->rcvlowat;
		case SO_SNDLOWAT: case SO_PRIORITY: case SO_OOBINLINE: case SO_DONTROUTE:
		case SO_MARK: case SO_BUSY_POLL: case SO_INCOMING_CPU:
		case SO_PASSCRED: case SO_ZEROCOPY: case SO_RCVBUFFORCE: case SO_SNDBUFFORCE:
			return &g_scratch;
		}
	} else if (level == IPPROTO_TCP) {
		switch (name) {
		case TCP_KEEPIDLE: return &s->keepidle;
		case TCP_KEEPINTVL: return &s->keepintvl;
		case TCP_KEEPCNT: return &s->keepcnt;
		case TCP_DEFER_ACCEPT: return &s->defer_accept;
		case TCP_CORK: return &s->cork;
		case TCP_NOTSENT_LOWAT: return &s->notsent_lowat;
		case TCP_QUICKACK: case TCP_FASTOPEN: case TCP_USER_TIMEOUT:
		case TCP_MAXSEG: case TCP_SYNCNT: case TCP_LINGER2: case TCP_WINDOW_CLAMP:
		case TCP_FASTOPEN_CONNECT:
			return &g_scratch;
		}
	} else if (level == IPPROTO_IPV6 && s->family == AF_INET6) {
		switch (name) {
		case IPV6_TCLASS: case IPV6_RECVPKTINFO: case IPV6_UNICAST_HOPS:
		case IPV6_MTU_DISCOVER: case IPV6_RECVERR:
			return &g_scratch;
		}
	} else if (level == IPPROTO_IP) {
		switch (name) {
		case IP_TOS: return &s->tos;
		case IP_TTL: return &s->ttl;
		case IP_MTU_DISCOVER: case IP_RECVERR: case IP_FREEBIND: case IP_BIND_ADDRESS_NO_PORT:
		case IP_MULTICAST_TTL: case IP_MULTICAST_LOOP:
			return &g_scratch;
		}
	}
	return NULL;
}

/* Linux hands a level to the protocol that owns it: SOL_SOCKET to the socket, IPPROTO_TCP
 * to TCP and SOL_UDP to UDP (which has none of its options here), everything else to IP
 * (or IPv6), which refuses a level not its own: -ENOPROTOOPT on set, -EOPNOTSUPP on get
 * (ip_setsockopt(), do_ip_getsockopt()).  That refusal comes before the length is read. */
static long level_refused(const struct net_sock *s, int level, bool get)
{
	if (level == SOL_SOCKET || level == IPPROTO_IP ||
	    (level == IPPROTO_TCP && s->type == SOCK_STREAM) ||
	    (level == IPPROTO_UDP && s->type == SOCK_DGRAM) ||
	    (level == IPPROTO_IPV6 && s->family == AF_INET6))
		return 0;
	return get ? -EOPNOTSUPP : -ENOPROTOOPT;
}

/* What @s was last set to for option @level/@name (record()); NULL: never, or it did
 * not fit. */
static struct net_opt *recorded(struct net_sock *s, int level, int name)
{
	for (int i = 0; i < s->nopts; i++)
		if (s->opts[i].level == level && s->opts[i].name == name)
			return &s->opts[i];
	return NULL;
}

/* A g_scratch option of @s as getsockopt reads it: the last value set, or the default
 * of a new Linux socket. */
static int scratch_get(struct net_sock *s, int level, int name)
{
	bool flag = level == SOL_SOCKET && (name == SO_OOBINLINE || name == SO_DONTROUTE ||
					    name == SO_PASSCRED || name == SO_ZEROCOPY);
	const struct net_opt *o = recorded(s, level, name);
	int v = 0;

	if (o && o->len < sizeof(v))
		return o->len ? o->val[0] : 0;	/* an IP option's one byte */
	if (o) {
		memcpy(&v, o->val, sizeof(v));
		return flag ? v != 0 : v;	/* Linux keeps those as flags */
	}
	if (level == SOL_SOCKET)
		return name == SO_SNDLOWAT ? 1 : name == SO_INCOMING_CPU ? -1 : 0;
	if (level == IPPROTO_TCP)
		return name == TCP_QUICKACK ? 1 : name == TCP_SYNCNT ? 6 :
		       name == TCP_LINGER2 ? 60 : 0;
	if (level == IPPROTO_IP)
		return name == IP_MTU_DISCOVER || name == IP_MULTICAST_TTL ||
		       name == IP_MULTICAST_LOOP ? 1 : 0;
	return 0;
}

static bool *bool_opt(struct net_sock *s, int level, int name)
{
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR: return &s->reuseaddr;
		case SO_REUSEPORT: return &s->reuseport;
		case SO_KEEPALIVE: return &s->keepalive;
		case SO_BROADCAST: return &s->broadcast;
		}
	} else if (level == IPPROTO_TCP && name == TCP_NODELAY) {
		return &s->nodelay;
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && s->family == AF_INET6) {
		return &s->v6only;
	} else if (level == IPPROTO_IP) {
		switch (name) {
		case IP_PKTINFO: return &s->pktinfo;
		case IP_RECVTTL: return &s->recvttl;
		case IP_RECVTOS: return &s->recvtos;
		}
	}
	return NULL;
}

/* SO_TIMESTAMP, SO_TIMESTAMPNS and the _NEW forms (time64 on 32-bit ABIs; the same
 * layout here) share one state, as in Linux's sock_set_timestamp(): turning one on
 * chooses it (SO_TIMESTAMP clears the nanoseconds), turning either off turns off both. */
#define NET_SO_TIMESTAMP_OLD	29
#define NET_SO_TIMESTAMPNS_OLD	35
#define NET_SO_TIMESTAMP_NEW	63
#define NET_SO_TIMESTAMPNS_NEW	64

static bool is_tstamp_opt(int level, int name)
{
	return level == SOL_SOCKET &&
	       (name == NET_SO_TIMESTAMP_OLD || name == NET_SO_TIMESTAMPNS_OLD ||
		name == NET_SO_TIMESTAMP_NEW || name == NET_SO_TIMESTAMPNS_NEW);
}

static void tstamp_set(struct net_sock *s, int name, bool on)
{
	bool ns = name == NET_SO_TIMESTAMPNS_OLD || name == NET_SO_TIMESTAMPNS_NEW;

	s->tstamp = !on ? NET_TS_NONE : ns ? NET_TS_NS : NET_TS_US;
	s->tstamp_new = on && (name == NET_SO_TIMESTAMP_NEW || name == NET_SO_TIMESTAMPNS_NEW);
}

static int tstamp_get(const struct net_sock *s, int name)
{
	bool ns = name == NET_SO_TIMESTAMPNS_OLD || name == NET_SO_TIMESTAMPNS_NEW;
	bool nw = name == NET_SO_TIMESTAMP_NEW || name == NET_SO_TIMESTAMPNS_NEW;

	return s->tstamp == (ns ? NET_TS_NS : NET_TS_US) && s->tstamp_new == nw;
}

static void record(struct net_sock *s, int level, int name, const void *val, uint32_t len)
{
	struct net_opt *o = recorded(s, level, name);

	if (len > sizeof(s->opts[0].val))
		return;
	if (!o) {
		if (s->nopts == NET_OPTS_MAX)
			return;
		o = &s->opts[s->nopts++];
	}
	o->level = level;
	o->name = name;
	o->len = len;
	memcpy(o->val, val, len);
}

/* TCP option @name (0: SO_KEEPALIVE) was set: tell the connection.  A listener keeps them
 * for the connections it accepts. */
static void apply_tcp(struct net_sock *s, int name)
{
	if (!s->tcb || !g_net.be || s->state == NET_LISTEN)
		return;
	if (name == TCP_NODELAY)
		g_net.be->tcp_set_nodelay(s->tcb, s->nodelay);	/* on: sends what is held */
	else if (name == TCP_CORK)
		g_net.be->tcp_set_cork(s->tcb, s->cork);	/* off: sends what is held */
	else
		g_net.be->tcp_set_keepalive(s->tcb, s->keepalive ? (uint32_t)s->keepidle : 0,
					    (uint32_t)s->keepintvl, (uint32_t)s->keepcnt);
}

void net_sock_apply_tx(struct net_sock *s)
{
	if (!s->tcb || !g_net.be || s->state == NET_DEAD)
		return;
	/* TCP_NOTSENT_LOWAT 0 is the sysctl's default, "no limit" (tcp_notsent_lowat()). */
	g_net.be->tcp_set_tx(s->tcb, (uint8_t)s->ttl, (uint8_t)s->tos,
			     s->notsent_lowat ? (uint32_t)s->notsent_lowat : UINT32_MAX);
}

void net_sock_apply_reuse(struct net_sock *s)
{
	if (!s->tcb || !g_net.be || s->state == NET_DEAD)
		return;
	g_net.be->tcp_set_reuse(s->tcb, net_sock_reuse(s));
}

/* TCP_DEFER_ACCEPT as Linux keeps it: a count of SYN-ACK retransmissions (1 s, doubling,
 * at most 120 s apart) that covers the seconds asked, read back as their sum
 * (secs_to_retrans(), retrans_to_secs()). */
static int defer_secs(int secs)
{
	int timeout = 1, period = 0;

	if (secs <= 0)
		return 0;
	period = timeout;
	for (int n = 1; secs > period && n < 255; n++) {
		timeout = timeout * 2 > 120 ? 120 : timeout * 2;
		period += timeout;
	}
	return period;
}

static uint64_t tv_to_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

long libos_sys_setsockopt(struct libos_args *a)
{
	int fd = (int)a->a[0], level = (int)a->a[1], name = (int)a->a[2];
	uint32_t len = (uint32_t)a->a[4];
	uint8_t val[64] = { 0 };
	long r = 0;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	/* Linux's order: a negative length; the level; for SOL_SOCKET and TCP a length
	 * short of an int (TCP's string options aside); an option nobody knows (before
	 * the value is read); then the value (-EFAULT). */
	if ((int32_t)len < 0) {
		r = -EINVAL;
		goto out;
	}
	if ((r = level_refused(s, level, false)))
		goto out;
	bool cong = level == IPPROTO_TCP && name == TCP_CONGESTION;
	if ((level == SOL_SOCKET || level == IPPROTO_TCP) && !cong && len < sizeof(int)) {
		r = -EINVAL;
		goto out;
	}
	bool *b = bool_opt(s, level, name);
	int *ip = int_opt(s, level, name);
	bool other = cong || is_tstamp_opt(level, name) ||
		     (level == SOL_SOCKET && (name == SO_LINGER || name == SO_RCVTIMEO ||
					      name == SO_SNDTIMEO || name == SO_RCVTIMEO_NEW ||
					      name == SO_SNDTIMEO_NEW));
	/* SOL_SOCKET and TCP read the int before they look at the name; IP does not */
	if (!b && !ip && !other && level == IPPROTO_IP) {
		r = -ENOPROTOOPT;
		goto out;
	}
	if (libos_from_guest(val, (const void *)a->a[3], len < sizeof(val) ? len : sizeof(val))) {
		r = -EFAULT;
		goto out;
	}
	if (!b && !ip && !other) {
		r = -ENOPROTOOPT;
		goto out;
	}
	int iv;
	memcpy(&iv, val, sizeof(iv));
	if (cong) {
		/* NewReno is what runs; Linux's own two names are taken (and read back),
		 * others are not there (-ENOENT); an empty one is -EINVAL */
		char nm[16] = { 0 };
		if (len < 1) {
			r = -EINVAL;
			goto out;
		}
		memcpy(nm, val, len < sizeof(nm) - 1 ? len : sizeof(nm) - 1);
		if (strcmp(nm, "reno") && strcmp(nm, "cubic")) {
			r = -ENOENT;
			goto out;
		}
		record(s, level, name, nm, sizeof(nm));
		goto out;
	}
	if (b || ip) {
		if (len < sizeof(int) && level == IPPROTO_IP) {
			iv = len ? val[0] : 0;	/* do_ip_setsockopt: one unsigned byte, or 0 */
		} else if (len < sizeof(int)) {
			r = -EINVAL;
			goto out;
		}
		if (level == IPPROTO_IP && name == IP_TTL && iv != -1 && (iv < 1 || iv > 255)) {
			r = -EINVAL;	/* do_ip_setsockopt: -1 (the default) or 1-255 */
			goto out;
		}
		if (level == IPPROTO_IP && name == IP_MTU_DISCOVER &&
		    (iv < IP_PMTUDISC_DONT || iv > IP_PMTUDISC_OMIT)) {
			r = -EINVAL;
			goto out;
		}
		/* MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT, MAX_TCP_SYNCNT;
		 * TCP_MIN_MSS and MAX_TCP_WINDOW for TCP_MAXSEG; no negative
		 * TCP_USER_TIMEOUT: checked before anything is kept */
		if ((level == IPPROTO_TCP && (name == TCP_KEEPIDLE || name == TCP_KEEPINTVL) &&
		     (iv < 1 || iv > 32767)) ||
		    (level == IPPROTO_TCP && (name == TCP_KEEPCNT || name == TCP_SYNCNT) &&
		     (iv < 1 || iv > 127)) ||
		    (level == IPPROTO_TCP && name == TCP_MAXSEG && iv && (iv < 88 || iv > 32767)) ||
		    (level == IPPROTO_TCP && name == TCP_USER_TIMEOUT && iv < 0)) {
			r = -EINVAL;
			goto out;
		}
		if (level == IPPROTO_TCP && name == TCP_DEFER_ACCEPT)
			iv = defer_secs(iv);
		/* TCP_LINGER2 reads back as Linux keeps it: -1 for any negative, at most
		 * TCP_FIN_TIMEOUT_MAX (120 s), 0 as tcp_fin_timeout (60 s) */
		if (level == IPPROTO_TCP && name == TCP_LINGER2)
			iv = iv < 0 ? -1 : iv == 0 ? 60 : iv > 120 ? 120 : iv;
		if (level == IPPROTO_TCP && name == TCP_QUICKACK)
			iv = iv != 0;	/* Linux keeps "not in pingpong mode" */
		if (ip == &g_scratch && level == IPPROTO_TCP)
			memcpy(val, &iv, sizeof(iv));	/* the record reads back as kept */
		if (b)
			*b = iv != 0;
		else
			*ip = iv;
		if (level == IPPROTO_IP && name == IP_TTL && iv == -1)
			*ip = 64;	/* reads back as the sysctl's default, as on Linux */
		if (level == IPPROTO_IP && name == IP_TOS) {
			/* A byte; TCP keeps its own ECN bits, the low two (Linux's
			 * __ip_sock_set_tos), which are 0 here: no ECN. */
			*ip = iv & 0xff;
			if (s->type == SOCK_STREAM)
				*ip &= ~3;
		}
		if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF))
			*ip = iv > 0x7fffffff / 2 ? 0x7fffffff : iv * 2;	/* as Linux reports */
		if (level == IPPROTO_TCP || (level == SOL_SOCKET && name == SO_KEEPALIVE))
			apply_tcp(s, level == IPPROTO_TCP ? name : 0);
		if ((level == IPPROTO_IP && (name == IP_TTL || name == IP_TOS)) ||
		    (level == IPPROTO_TCP && name == TCP_NOTSENT_LOWAT))
			net_sock_apply_tx(s);
		if (level == SOL_SOCKET && (name == SO_REUSEADDR || name == SO_REUSEPORT))
			net_sock_apply_reuse(s);
	} else if (is_tstamp_opt(level, name)) {
		if (len < sizeof(int)) {
			r = -EINVAL;
			goto out;
		}
		tstamp_set(s, name, iv != 0);
	} else if (level == SOL_SOCKET && name == SO_LINGER) {
		if (len < sizeof(struct linger)) {
			r = -EINVAL;
			goto out;
		}
		/* As Linux keeps it: a flag (reported as 1) and a time, which turning the
		 * flag off leaves as it was. */
		struct linger lg;
		memcpy(&lg, val, sizeof(lg));
		s->linger.l_onoff = lg.l_onoff != 0;
		if (lg.l_onoff)
			s->linger.l_linger = lg.l_linger;
	} else if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO ||
					   name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW)) {
		struct timeval tv;
		if (len < sizeof(tv)) {
			r = -EINVAL;
			goto out;
		}
		memcpy(&tv, val, sizeof(tv));
		if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) {
			r = -EDOM;
			goto out;
		}
		uint64_t us = tv.tv_sec < 0 ? 0 : tv_to_us(&tv);
		if (name == SO_RCVTIMEO || name == SO_RCVTIMEO_NEW)
			s->rcvtimeo_us = us;
		else
			s->sndtimeo_us = us;
	} else {
		r = -ENOPROTOOPT;
		goto out;
	}
	record(s, level, name, val, len);
out:
	net_unlock();
	return r;
}

long libos_sys_getsockopt(struct libos_args *a)
{
	int fd = (int)a->a[0], level = (int)a->a[1], name = (int)a->a[2];
	void *uval = (void *)a->a[3];
	uint32_t *ulen = (uint32_t *)a->a[4], len;
	uint8_t val[256] = { 0 };	/* room for struct tcp_info */
	uint32_t vlen = sizeof(int);
	int iv = 0;
	long r = 0;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	if ((r = level_refused(s, level, true)))
		goto out;
	if (libos_from_guest(&len, ulen, sizeof(len))) {
		r = -EFAULT;
		goto out;
	}
	if ((int32_t)len < 0) {
		r = -EINVAL;
		goto out;
	}
	bool *b = bool_opt(s, level, name);
	int *ip = int_opt(s, level, name);
	if (b) {
		iv = *b;
	} else if (ip == &g_scratch) {
		iv = scratch_get(s, level, name);
	} else if (ip) {
		iv = *ip;
	} else if (is_tstamp_opt(level, name)) {
		iv = tstamp_get(s, name);
	} else if (level == SOL_SOCKET) {
		switch (name) {
		case SO_TYPE: iv = s->type; break;
		case SO_DOMAIN: iv = s->family; break;
		case SO_PROTOCOL: iv = s->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP; break;
		case SO_ACCEPTCONN: iv = s->state == NET_LISTEN; break;
		case SO_ERROR:
			if (s->state == NET_CONNECTING)
				net_sock_conn_update(s);
			if (s->error) {
				iv = s->error;
				s->error = 0;
			} else if (s->tcb && g_net.be && s->state != NET_DEAD) {
				iv = g_net.be->tcp_take_error(s->tcb);
			}
			break;
		case SO_LINGER:
			memcpy(val, &s->linger, sizeof(s->linger));
			vlen = sizeof(s->linger);
			goto copy;
		case SO_RCVTIMEO: case SO_SNDTIMEO: case SO_RCVTIMEO_NEW: case SO_SNDTIMEO_NEW: {
			uint64_t us = name == SO_RCVTIMEO || name == SO_RCVTIMEO_NEW ?
				      s->rcvtimeo_us : s->sndtimeo_us;
			struct timeval tv = { (time_t)(us / 1000000u), (suseconds_t)(us % 1000000u) };
			memcpy(val, &tv, sizeof(tv));
			vlen = sizeof(tv);
			goto copy;
		}
		default:
			r = -ENOPROTOOPT;
			goto out;
		}
	} else if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
		const struct net_opt *o = recorded(s, level, name);
		memcpy(val, o ? (const char *)o->val : "reno", o ? 16 : 5);
		vlen = 16;	/* TCP_CA_NAME_MAX */
		goto copy;
	} else if (level == IPPROTO_TCP && name == TCP_INFO) {
		if (s->type != SOCK_STREAM) {
			r = -EOPNOTSUPP;	/* as Linux answers for UDP */
			goto out;
		}
		if (g_net.be && s->state != NET_DEAD)
			g_net.be->poll();	/* the counters as of now */
		vlen = (uint32_t)net_tcp_info(s, val, sizeof(val));
		goto copy;
	} else {
		r = -ENOPROTOOPT;
		goto out;
	}
	if (level == IPPROTO_TCP && name == TCP_MAXSEG && s->tcb && g_net.be &&
	    s->state != NET_DEAD) {
		struct bnet_tcp_info info;
		g_net.be->tcp_info(s->tcb, &info);
		iv = (int)info.snd_mss;
	}
	memcpy(val, &iv, sizeof(iv));
	if (level == IPPROTO_IP && len > 0 && len < sizeof(int) && iv >= 0 && iv <= 255)
		vlen = 1;	/* do_ip_getsockopt(): a short buffer gets the one byte */
copy:
	if (len > vlen)
		len = vlen;
	/* sk_getsockopt() writes the value, then the length; TCP and IP write the length
	 * first (a bad value pointer still gets it) */
	if (level == SOL_SOCKET ?
	    libos_to_guest(uval, val, len) || libos_to_guest(ulen, &len, sizeof(len)) :
	    libos_to_guest(ulen, &len, sizeof(len)) || libos_to_guest(uval, val, len))
		r = -EFAULT;
out:
	net_unlock();
	return r;
}

long libos_sys_fcntl(struct libos_args *a)
{
	int fd = (int)a->a[0], cmd = (int)a->a[1];

	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return net_dup_common(a, fd);
	if (cmd != F_SETFL)
		return net_passthrough(a);
	/* The eventfd carries the open file's flags (F_GETFL reads them there); the socket
	 * keeps O_NONBLOCK for itself. */
	net_lock();
	struct net_sock *s = net_sock_get(fd);
	long r = net_passthrough(a);
	if (s && r == 0)
		s->nonblock = a->a[2] & O_NONBLOCK;
	net_unlock();
	return r;
}

long libos_sys_ioctl(struct libos_args *a)
{
	int fd = (int)a->a[0];
	unsigned long req = (unsigned long)a->a[1];
	long r = 0;

	struct net_sock *s = net_sock_lock(fd);
	if (!s)
		return net_passthrough(a);
	if (req == FIONBIO) {
		int on;
		if (libos_from_guest(&on, (const void *)a->a[2], sizeof(on))) {
			r = -EFAULT;
		} else {
			s->nonblock = on != 0;
			r = net_passthrough(a);	/* the eventfd's flag, for F_GETFL */
		}
	} else if (req == FIONREAD || req == SIOCOUTQ) {
		uint32_t avail = 0;
		if (s->state == NET_DEAD) {
			r = -ENETDOWN;
		} else if (s->state == NET_LISTEN) {
			r = -EINVAL;
		} else {
			if (req == FIONREAD && g_net.be)
				g_net.be->poll();
			if (req == FIONREAD && s->type == SOCK_DGRAM) {
				/* first_packet_length(): the next datagram's bytes, held */
				long n = g_net.be ? net_udp_hold(s) : -EAGAIN;
				avail = n > 0 ? (uint32_t)n : 0;
			} else if (req == FIONREAD) {
				net_sock_events(s, &avail);
			} else if (s->tcb && g_net.be) {
				/* tcp_ioctl(): sent or queued, not yet acknowledged (UDP's
				 * datagrams leave at once: 0) */
				struct bnet_tcp_info info;
				g_net.be->tcp_info(s->tcb, &info);
				avail = info.outq;
			}
			int v = (int)avail;
			r = libos_to_guest((void *)a->a[2], &v, sizeof(v)) ? -EFAULT : 0;
		}
	} else if (req == FIOCLEX || req == FIONCLEX || req == FIOASYNC) {
		r = net_passthrough(a);
	} else if (req == SIOCATMARK && s->type == SOCK_STREAM) {
		int v = 0;	/* at the urgent mark: never, no urgent data is kept */
		r = libos_to_guest((void *)a->a[2], &v, sizeof(v)) ? -EFAULT : 0;
	} else if ((req >> 8) == 0x89) {
		/* SIOCGIFADDR and friends (ifconfig, getifaddrs users): Linux answers device
		 * and route requests on any socket (dev_ioctl()), so a kernel socket of ours
		 * answers for this one, which stays ours; so are requests UDP does not know
		 * (SIOCATMARK), as sock_do_ioctl() passes them on. */
		net_unlock();
		long k = libos_raw(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0, 0);
		if (k < 0)
			return k;
		r = libos_raw(SYS_ioctl, k, (long)req, a->a[2], 0, 0, 0);
		libos_raw(SYS_close, k, 0, 0, 0, 0, 0);
		return r;
	} else {
		r = -ENOTTY;
	}
	net_unlock();
	return r;
}
