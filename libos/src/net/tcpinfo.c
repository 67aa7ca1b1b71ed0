// SPDX-License-Identifier: MIT
/* getsockopt(IPPROTO_TCP, TCP_INFO) on LibOS sockets: Linux's struct tcp_info (the
 * layout of linux/tcp.h, which glibc's netinet/tcp.h lacks the tail of) from the
 * backend's snapshot of the connection.  What dpdk-net does not track is 0; README.md
 * ("TCP_INFO") lists it. */
#include <linux/tcp.h>
#include <string.h>

#include "net.h"

/* Linux's state numbers (include/net/tcp_states.h; no uapi header has them). */
enum {
	LINUX_TCP_ESTABLISHED = 1, LINUX_TCP_SYN_SENT, LINUX_TCP_SYN_RECV, LINUX_TCP_FIN_WAIT1,
	LINUX_TCP_FIN_WAIT2, LINUX_TCP_TIME_WAIT, LINUX_TCP_CLOSE, LINUX_TCP_CLOSE_WAIT,
	LINUX_TCP_LAST_ACK, LINUX_TCP_LISTEN, LINUX_TCP_CLOSING,
};

/* TIME_WAIT is CLOSE: Linux hands that state to a separate mini-socket and the
 * program's socket is closed. */
static const uint8_t g_linux_state[] = {
	[BNET_TCP_CLOSED] = LINUX_TCP_CLOSE, [BNET_TCP_LISTEN] = LINUX_TCP_LISTEN,
	[BNET_TCP_SYN_SENT] = LINUX_TCP_SYN_SENT, [BNET_TCP_SYN_RCVD] = LINUX_TCP_SYN_RECV,
	[BNET_TCP_ESTABLISHED] = LINUX_TCP_ESTABLISHED,
	[BNET_TCP_FIN_WAIT_1] = LINUX_TCP_FIN_WAIT1, [BNET_TCP_FIN_WAIT_2] = LINUX_TCP_FIN_WAIT2,
	[BNET_TCP_CLOSE_WAIT] = LINUX_TCP_CLOSE_WAIT, [BNET_TCP_CLOSING] = LINUX_TCP_CLOSING,
	[BNET_TCP_LAST_ACK] = LINUX_TCP_LAST_ACK, [BNET_TCP_TIME_WAIT] = LINUX_TCP_CLOSE,
};

#define LINUX_INFINITE_SSTHRESH	0x7fffffffu
#define LINUX_MSS_DEFAULT	536u
#define LINUX_TIMEOUT_INIT_US	1000000u
#define LINUX_INIT_CWND		10u
#define LINUX_REORDERING	3u	/* the stack's dup-ACK threshold, Linux's default */

static uint32_t per_mss(uint32_t bytes, uint32_t mss)
{
	return mss ? bytes / mss : 0;
}

size_t net_tcp_info(struct net_sock *s, void *buf, size_t size)
{
	struct tcp_info ti;
	struct bnet_tcp_info in;

	memset(&ti, 0, sizeof(ti));
	ti.tcpi_state = LINUX_TCP_CLOSE;
	ti.tcpi_rto = LINUX_TIMEOUT_INIT_US;
	ti.tcpi_snd_mss = LINUX_MSS_DEFAULT;
	ti.tcpi_snd_cwnd = LINUX_INIT_CWND;
	ti.tcpi_snd_ssthresh = LINUX_INFINITE_SSTHRESH;
	ti.tcpi_reordering = LINUX_REORDERING;
	ti.tcpi_min_rtt = ~0u;
	if (s->tcb && g_net.be && s->state != NET_DEAD && g_net.be->tcp_info(s->tcb, &in) == 0) {
		uint32_t mss = in.snd_mss ? in.snd_mss : LINUX_MSS_DEFAULT;
		ti.tcpi_state = (unsigned)in.state < sizeof(g_linux_state) ?
				g_linux_state[in.state] : LINUX_TCP_CLOSE;
		ti.tcpi_ca_state = in.ca_state;
		ti.tcpi_retransmits = in.retransmits;
		ti.tcpi_probes = in.probes;
		ti.tcpi_backoff = in.backoff;
		ti.tcpi_options = (in.options & BNET_TCPI_TS ? TCPI_OPT_TIMESTAMPS : 0) |
				  (in.options & BNET_TCPI_SACK ? TCPI_OPT_SACK : 0) |
				  (in.options & BNET_TCPI_WSCALE ? TCPI_OPT_WSCALE : 0);
		ti.tcpi_snd_wscale = in.snd_wscale & 0xf;
		ti.tcpi_rcv_wscale = in.rcv_wscale & 0xf;
		ti.tcpi_rto = in.rto_us;
		ti.tcpi_ato = in.ato_us;
		ti.tcpi_snd_mss = mss;
		ti.tcpi_rcv_mss = in.rcv_mss;
		ti.tcpi_unacked = in.unacked;
		ti.tcpi_sacked = in.sacked;
		ti.tcpi_last_data_sent = in.last_data_sent_ms;
		ti.tcpi_last_data_recv = in.last_data_recv_ms;
		ti.tcpi_last_ack_recv = in.last_ack_recv_ms;
		ti.tcpi_pmtu = in.pmtu;
		ti.tcpi_rcv_ssthresh = in.rcv_wnd;
		ti.tcpi_rtt = in.srtt_us;
		ti.tcpi_rttvar = in.rttvar_us;
		ti.tcpi_snd_ssthresh = in.ssthresh == UINT32_MAX ? LINUX_INFINITE_SSTHRESH :
				       per_mss(in.ssthresh, mss);
		ti.tcpi_snd_cwnd = ti.tcpi_state == LINUX_TCP_LISTEN ? LINUX_INIT_CWND : per_mss(in.cwnd, mss);
		ti.tcpi_advmss = in.advmss;
		ti.tcpi_rcv_space = in.rcv_space;
		ti.tcpi_total_retrans = in.total_retrans;
		ti.tcpi_bytes_acked = in.bytes_acked;
		ti.tcpi_bytes_received = in.bytes_received;
		ti.tcpi_segs_out = in.segs_out;
		ti.tcpi_segs_in = in.segs_in;
		ti.tcpi_notsent_bytes = in.notsent_bytes;
		ti.tcpi_min_rtt = in.min_rtt_us;
		ti.tcpi_data_segs_in = in.data_segs_in;
		ti.tcpi_data_segs_out = in.data_segs_out;
		ti.tcpi_delivered = in.delivered;
		ti.tcpi_bytes_sent = in.bytes_sent;
		ti.tcpi_bytes_retrans = in.bytes_retrans;
		ti.tcpi_snd_wnd = in.snd_wnd;
	}
	if (size > sizeof(ti))
		size = sizeof(ti);
	memcpy(buf, &ti, size);
	return size;
}
