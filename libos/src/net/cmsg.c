// SPDX-License-Identifier: MIT
/* Control messages on recvmsg/recvmmsg for LibOS sockets, as Linux builds them: the
 * receive time (SO_TIMESTAMP, SO_TIMESTAMPNS and their _NEW forms) for UDP and TCP, and
 * for UDP IP_PKTINFO, IP_TTL and IP_TOS from the datagram's headers.  put_cmsg's rules:
 * a message that does not fit is cut to the room left (its cmsg_len says so) and
 * MSG_CTRUNC is set; with less room than a header nothing more is written. */
#include <string.h>

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
