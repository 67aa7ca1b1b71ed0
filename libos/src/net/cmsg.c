// SPDX-License-Identifier: MIT
/* Control messages on recvmsg/recvmmsg for LibOS sockets, as Linux builds them: the
 * receive time (SO_TIMESTAMP, SO_TIMESTAMPNS and their _NEW forms) for UDP and TCP, and
 * for UDP IP_PKTINFO, IP_TTL and IP_TOS from the datagram's headers.  put_cmsg's rules:
 * a message that does not fit is cut to the room left (its cmsg_len says so) and
 * MSG_CTRUNC is set; with less room than a header nothing more is written. */
#include <string.h>
#include <sys/syscall.h>

#include "net.h"

#define NET_SO_TIMESTAMP_OLD	29
#define NET_SO_TIMESTAMPNS_OLD	35
#define NET_SO_TIMESTAMP_NEW	63
#define NET_SO_TIMESTAMPNS_NEW	64

struct cmsg_out {
	uint8_t *at;		/* guest: the next message goes here */
	size_t left, used;
	int *flags;
};

/* put_cmsg(): one message of @len data bytes. */
static long put(struct cmsg_out *o, int level, int type, const void *data, size_t len)
{
	struct cmsghdr h;
	size_t cmlen = CMSG_LEN(len);

	if (o->left < sizeof(h)) {
		*o->flags |= MSG_CTRUNC;
		return 0;
	}
	if (o->left < cmlen) {
		*o->flags |= MSG_CTRUNC;
		cmlen = o->left;
	}
	h.cmsg_len = cmlen;
	h.cmsg_level = level;
	h.cmsg_type = type;
	if (libos_to_guest(o->at, &h, sizeof(h)) ||
	    libos_to_guest(o->at + CMSG_LEN(0), data, cmlen - CMSG_LEN(0)))
		return -EFAULT;
	cmlen = CMSG_SPACE(len) < o->left ? CMSG_SPACE(len) : o->left;
	o->at += cmlen;
	o->left -= cmlen;
	o->used += cmlen;
	return 0;
}

void net_rx_stamp(struct net_rxinfo *rx, uint64_t rx_us)
{
	struct timespec now;

	if (!rx_us || !g_net.be)
		return;
	/* The backend's clock is monotonic: the age of the arrival, taken from the real
	 * time now. */
	uint64_t bnow = g_net.be->now_us();
	uint64_t age_ns = (bnow > rx_us ? bnow - rx_us : 0) * 1000u;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	t = t > age_ns ? t - age_ns : 0;
	rx->when.tv_sec = (time_t)(t / 1000000000u);
	rx->when.tv_nsec = (long)(t % 1000000000u);
	rx->have_time = true;
}

long net_cmsg_put(const struct net_sock *s, const struct net_rxinfo *rx, void *uctl,
		  size_t len, int *flags)
{
	struct cmsg_out o = { .at = uctl, .left = uctl ? len : 0, .flags = flags };
	long r = 0;

	if (s->tstamp != NET_TS_NONE && rx->have_time) {
		if (s->tstamp == NET_TS_NS) {
			struct timespec ts = rx->when;
			r = put(&o, SOL_SOCKET, s->tstamp_new ? NET_SO_TIMESTAMPNS_NEW :
				NET_SO_TIMESTAMPNS_OLD, &ts, sizeof(ts));
		} else {
			struct timeval tv = { rx->when.tv_sec, rx->when.tv_nsec / 1000 };
			r = put(&o, SOL_SOCKET, s->tstamp_new ? NET_SO_TIMESTAMP_NEW :
				NET_SO_TIMESTAMP_OLD, &tv, sizeof(tv));
		}
	}
	if (!r && rx->have_dgram && s->pktinfo) {
		/* ipi_spec_dst: the local address a reply would come from (ours, also for
		 * a broadcast); ipi_addr: the destination the datagram was sent to. */
		struct in_pktinfo pi = {
			.ipi_ifindex = (int)rx->meta.ifindex,
			.ipi_spec_dst.s_addr = g_net.be ? g_net.be->local_ip() : 0,
			.ipi_addr.s_addr = rx->meta.dip,
		};
		r = put(&o, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	}
	if (!r && rx->have_dgram && s->recvttl) {
		int ttl = rx->meta.ttl;
		r = put(&o, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl));
	}
	if (!r && rx->have_dgram && s->recvtos) {
		uint8_t tos = rx->meta.tos;	/* one byte, as Linux puts it */
		r = put(&o, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	}
	return r ? r : (long)o.used;
}

/* ---- sendmsg ---- */

#define NET_SO_TIMESTAMPING_OLD	37
#define NET_SO_TIMESTAMPING_NEW	65
/* SOF_TIMESTAMPING_TX_RECORD_MASK: TX_HARDWARE, TX_SOFTWARE, TX_SCHED, TX_ACK,
 * TX_COMPLETION. */
#define NET_SOF_TX_RECORD_MASK	(0x1u | 0x2u | 0x100u | 0x200u | 0x40000u)
#define NET_SOL_UDP		17
#define NET_IP_PROTOCOL		52
#define NET_UDP_SEGMENT		103
#define NET_UDP_MAX_SEGMENTS	128
#define NET_CAP_NET_ADMIN	12
#define NET_CAP_NET_RAW		13

/* The caller holds CAP_NET_RAW or CAP_NET_ADMIN (effective), as ns_capable asks. */
static bool net_capable(void)
{
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };	/* _V3 */
	struct { uint32_t effective, permitted, inheritable; } data[2];

	if (libos_raw(SYS_capget, (long)&hdr, (long)data, 0, 0, 0, 0))
		return false;
	return data[0].effective & ((1u << NET_CAP_NET_ADMIN) | (1u << NET_CAP_NET_RAW));
}

/* One control message of the guest's buffer, read where the kernel's for_each_cmsghdr
 * would find it: the header and the first data bytes (all any type here needs). */
struct cm {
	struct cmsghdr h;
	union { uint8_t b[sizeof(struct in6_pktinfo)]; int i; uint32_t u; } d;
};
#define NET_CMSG_ALIGN(n)	(((n) + sizeof(long) - 1) & ~(sizeof(long) - 1))

/* The message at @off (CMSG_FIRSTHDR / __cmsg_nxthdr: one more header must fit): 1 and
 * *@c, 0 past the end, -EINVAL when it fails CMSG_OK, -EFAULT. */
static long cm_at(const uint8_t *uctl, size_t len, size_t off, struct cm *c)
{
	if (off > len || len - off < sizeof(struct cmsghdr))
		return 0;
	if (libos_from_guest(&c->h, uctl + off, sizeof(c->h)))
		return -EFAULT;
	if (c->h.cmsg_len < sizeof(struct cmsghdr) || c->h.cmsg_len > len - off)
		return -EINVAL;
	size_t dl = c->h.cmsg_len - CMSG_LEN(0);
	memset(&c->d, 0, sizeof(c->d));
	if (c->h.cmsg_len >= CMSG_LEN(0) &&
	    libos_from_guest(&c->d, uctl + off + CMSG_LEN(0), dl < sizeof(c->d) ? dl : sizeof(c->d)))
		return -EFAULT;
	return 1;
}

#define CM_FOR_EACH(r, uctl, len, off, c) \
	for (off = 0; (r = cm_at(uctl, len, off, &c)) == 1; off += NET_CMSG_ALIGN(c.h.cmsg_len))

/* __sock_cmsg_send: the SOL_SOCKET types Linux takes on a send; none has an effect here
 * (marks, priorities and TX timestamps mean nothing to dpdk-net). */
static long sock_cmsg(const struct cm *c)
{
	uint32_t v;

	switch (c->h.cmsg_type) {
	case SO_MARK:
		if (!net_capable())
			return -EPERM;
		if (c->h.cmsg_len != CMSG_LEN(sizeof(uint32_t)))
			return -EINVAL;
		return 0;
	case SO_PRIORITY:
		if (c->h.cmsg_len != CMSG_LEN(sizeof(uint32_t)))
			return -EINVAL;
		v = c->d.u;
		return v <= 6 || net_capable() ? 0 : -EPERM;	/* TC_PRIO_INTERACTIVE */
	case NET_SO_TIMESTAMPING_OLD:
	case NET_SO_TIMESTAMPING_NEW:
		if (c->h.cmsg_len != CMSG_LEN(sizeof(uint32_t)))
			return -EINVAL;
		v = c->d.u;
		return v & ~NET_SOF_TX_RECORD_MASK ? -EINVAL : 0;
	case SCM_RIGHTS:
	case SCM_CREDENTIALS:
		return 0;	/* semantically SOL_UNIX: ignored */
	default:
		return -EINVAL;	/* SCM_TXTIME and SCM_TS_OPT_ID need options we lack */
	}
}

/* ip_cmsg_send's IP_PKTINFO (or IPV6_PKTINFO's v4-mapped form): a source of 0 or ours, an
 * interface of 0 or the port's; else the error Linux's route lookup gives. */
static long pktinfo_check(uint32_t spec_dst, uint32_t ifindex)
{
	if (ifindex && ifindex != g_net.be->if_index())
		return -ENODEV;	/* Linux: no such device (another one: not served) */
	if (!spec_dst || spec_dst == g_net.be->local_ip())
		return 0;
	/* The route lookup's answers (__ip_route_output_key) for a source not ours:
	 * multicast, limited broadcast, 0.0.0.0/8 are invalid, any other is unreachable. */
	uint32_t h = ntohl(spec_dst);
	if ((h >> 28) == 0xe || h == 0xffffffffu || (h >> 24) == 0)
		return -EINVAL;
	return -ENETUNREACH;
}

long net_cmsg_send(const struct net_sock *s, const void *uctl, size_t len,
		   struct net_txinfo *tx)
{
	const uint8_t *ctl = uctl;
	struct cm c;
	size_t off;
	bool need_ip = false;
	long r;

	tx->ttl = 0;
	tx->tos = -1;
	tx->gso = 0;
	if (len > INT32_MAX)
		return -ENOBUFS;	/* as ____sys_sendmsg */
	if (s->type == SOCK_STREAM) {
		/* tcp_sendmsg: sock_cmsg_send, whose every failure is EINVAL. */
		CM_FOR_EACH(r, ctl, len, off, c)
			if (c.h.cmsg_level == SOL_SOCKET && sock_cmsg(&c))
				return -EINVAL;
		return r == -EFAULT ? r : r ? -EINVAL : 0;
	}
	/* udp_sendmsg: udp_cmsg_send (SOL_UDP), then ip_cmsg_send if anything else came. */
	CM_FOR_EACH(r, ctl, len, off, c) {
		if (c.h.cmsg_level != NET_SOL_UDP) {
			need_ip = true;
			continue;
		}
		if (c.h.cmsg_type != NET_UDP_SEGMENT || c.h.cmsg_len != CMSG_LEN(sizeof(uint16_t)))
			return -EINVAL;
		uint16_t g;
		memcpy(&g, c.d.b, sizeof(g));
		tx->gso = g;
	}
	if (r || !need_ip)
		return r;
	CM_FOR_EACH(r, ctl, len, off, c) {
		int v = c.d.i;
		if (s->family == AF_INET6 && c.h.cmsg_level == SOL_IPV6 &&
		    c.h.cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi6;
			if (c.h.cmsg_len < CMSG_LEN(sizeof(pi6)))
				return -EINVAL;
			memcpy(&pi6, c.d.b, sizeof(pi6));
			if (!IN6_IS_ADDR_V4MAPPED(&pi6.ipi6_addr))
				return -EINVAL;
			if ((r = pktinfo_check(pi6.ipi6_addr.s6_addr32[3], pi6.ipi6_ifindex)))
				return r;
			continue;
		}
		if (c.h.cmsg_level == SOL_SOCKET) {
			if ((r = sock_cmsg(&c)))
				return r;
			continue;
		}
		if (c.h.cmsg_level != SOL_IP)
			continue;
		switch (c.h.cmsg_type) {
		case IP_RETOPTS:
			/* No options (an empty list) is what dpdk-net sends; options proper are
			 * not served. */
			if (c.h.cmsg_len > CMSG_LEN(0))
				return -EOPNOTSUPP;
			break;
		case IP_PKTINFO: {
			struct in_pktinfo pi;
			if (c.h.cmsg_len != CMSG_LEN(sizeof(pi)))
				return -EINVAL;
			memcpy(&pi, c.d.b, sizeof(pi));
			if ((r = pktinfo_check(pi.ipi_spec_dst.s_addr, (uint32_t)pi.ipi_ifindex)))
				return r;
			break;
		}
		case IP_TTL:
			if (c.h.cmsg_len != CMSG_LEN(sizeof(int)))
				return -EINVAL;
			if (v < 1 || v > 255)
				return -EINVAL;
			tx->ttl = v;
			break;
		case IP_TOS:
			if (c.h.cmsg_len == CMSG_LEN(sizeof(uint8_t)))
				v = c.d.b[0];
			else if (c.h.cmsg_len != CMSG_LEN(sizeof(int)))
				return -EINVAL;
			if (v < 0 || v > 255)
				return -EINVAL;
			tx->tos = v;
			break;
		case NET_IP_PROTOCOL:	/* raw sockets' business; checked all the same */
			if (c.h.cmsg_len != CMSG_LEN(sizeof(int)))
				return -EINVAL;
			if (v < 1 || v > 255)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	return r;
}
