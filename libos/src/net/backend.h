/* SPDX-License-Identifier: MIT */
/* The network backend: dpdk-net and DPDK, built as a shared module (libbypass-net.so) that
 * the LibOS loads with dlopen() at the first socket that needs it, so programs that never
 * use the network map none of DPDK.  The module exports one symbol, BYPASS_NET_BACKEND_SYM,
 * a const struct bypass_net_backend.  Addresses and ports are in network byte order.
 *
 * Threading (ABI 5 on): one context per queue pair of the port (ctx_count()), each with its
 * own connection tables, timers and mbuf cache, and each entered by one thread at a time:
 * the backend takes a context's lock around every call on it (the caller's lock is its
 * own business; the backend never calls back).  Every thread has a home context, given
 * round robin at its first call: its connections (without a bound port) and its datagram
 * sockets of port 0 live there.  An endpoint bound to port P lives in context P % n; a
 * listener lives in every context (one handle), so a connection stays in the context its
 * SYN arrived on.  Every call is non-blocking: what would wait returns -EAGAIN and the
 * caller polls (poll()) and retries. */
#ifndef LIBOS_NET_BACKEND_H
#define LIBOS_NET_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BYPASS_NET_BACKEND_SYM	"bypass_net_backend"
#define BYPASS_NET_BACKEND_ABI	14

/* What --dpdk/--ip/--gw (or BYPASS_DPDK, BYPASS_IP, BYPASS_GW) asked for. */
struct bypass_net_conf {
	const char *eal_args;	/* EAL arguments, one string, split on blanks by the backend */
	uint32_t ip;		/* local address */
	uint8_t prefix_len;	/* on-link prefix */
	uint32_t gw;		/* next hop off-link; 0 = none */
	uint16_t port_id;	/* DPDK port; default 0 */
	const char *fault;	/* BYPASS_NET_FAULT: dpdk-net fault injection, "key=value,..."
				 * over struct dnet_fault_conf's fields (seed, drop/dup/reorder/
				 * corrupt probabilities on rx and tx); NULL = off */
	unsigned queues;	/* BYPASS_NET_QUEUES: contexts (queue pairs); 0 = one per CPU
				 * the process may run on, within what the device offers
				 * (net_memif: 1, both ends must agree) */
	unsigned watch_us;	/* ABI 9: a thread of the backend's polls every context no
				 * one polled for this long, so the stack answers (ACKs, ARP,
				 * ICMP, retransmissions, held frames) while the program
				 * sleeps in the kernel or computes; 0 = no such thread */
};

/* Readiness bits (the EPOLL* values). */
#define BNET_IN		0x001u
#define BNET_OUT	0x004u
#define BNET_ERR	0x008u
#define BNET_HUP	0x010u
#define BNET_RDHUP	0x2000u

/* bnet_tcp_info.state: dpdk-net's enum dnet_tcp_state values (RFC 9293 names). */
#define BNET_TCP_CLOSED		0
#define BNET_TCP_LISTEN		1
#define BNET_TCP_SYN_SENT	2
#define BNET_TCP_SYN_RCVD	3
#define BNET_TCP_ESTABLISHED	4
#define BNET_TCP_FIN_WAIT_1	5
#define BNET_TCP_FIN_WAIT_2	6
#define BNET_TCP_CLOSE_WAIT	7
#define BNET_TCP_CLOSING	8
#define BNET_TCP_LAST_ACK	9
#define BNET_TCP_TIME_WAIT	10

/* TCPI_OPT_* bits of bnet_tcp_info.options (linux/tcp.h's values). */
#define BNET_TCPI_TS	0x1u
#define BNET_TCPI_SACK	0x2u
#define BNET_TCPI_WSCALE	0x4u

struct bnet_tcp_info {
	int state;		/* BNET_TCP_* */
	uint32_t events;	/* BNET_* now */
	int error;		/* pending error, positive errno, 0 = none */
	uint32_t rcv_avail, snd_space, snd_mss;
	uint32_t lip, rip;
	uint16_t lport, rport;
	/* For TCP_INFO (ABI 3), in struct tcp_info's units.  A listener has only rto_us,
	 * snd_mss, rcv_mss, advmss, pmtu, and unacked/sacked = accept queue / backlog. */
	uint8_t ca_state;	/* 0 open, 3 fast recovery, 4 after a timeout (TCP_CA_*) */
	uint8_t retransmits;	/* timeouts since the last forward progress */
	uint8_t probes, backoff;
	uint8_t options;	/* BNET_TCPI_* negotiated */
	uint8_t snd_wscale, rcv_wscale;
	uint32_t rto_us, ato_us, rcv_mss, advmss, pmtu;
	uint32_t unacked, sacked;	/* segments in flight / SACKed (bytes by MSS) */
	uint32_t srtt_us, rttvar_us, min_rtt_us;	/* min_rtt_us UINT32_MAX: no sample */
	uint32_t cwnd, ssthresh;	/* bytes; ssthresh UINT32_MAX: not set yet */
	uint32_t rcv_wnd, rcv_space, snd_wnd;	/* bytes */
	uint32_t last_data_sent_ms, last_data_recv_ms, last_ack_recv_ms;	/* ago */
	uint32_t segs_out, segs_in, data_segs_out, data_segs_in, total_retrans, delivered;
	uint32_t notsent_bytes;
	uint64_t bytes_acked, bytes_received, bytes_sent, bytes_retrans;
	uint64_t last_data_recv_us;	/* now_us() clock of the last data in; 0 = none */
	uint32_t outq;		/* ABI 14: SIOCOUTQ, queued and unacknowledged (FIN: 1) */
};

/* A received datagram's headers and arrival (udp_recvmsg). */
struct bnet_udp_meta {
	uint32_t sip, dip;	/* source; destination as addressed (ours or a broadcast) */
	uint16_t sport;
	uint8_t ttl, tos;
	uint32_t ifindex;	/* the kernel's index of the interface behind the port, 0 = none */
	uint64_t rx_us;		/* now_us() clock at its arrival */
};

struct bnet_tcb;	/* a TCP endpoint */
struct bnet_udp;	/* a UDP endpoint */

/* ABI 11: how tcp_send_copy/tcp_recv_copy move bytes: @len bytes at byte @off of the
 * caller's data to (send) or from (recv) the backend's buffer at @p.  The bytes copied:
 * @len, or fewer where the caller's memory faulted.  Called with the context locked. */
typedef size_t bnet_copy_fn(void *arg, void *p, size_t off, size_t len);

struct bypass_net_backend {
	int abi;		/* BYPASS_NET_BACKEND_ABI */
	/* rte_eal_init (with signals blocked, so EAL's threads never take the guest's),
	 * port and context set-up.  Once per process.  0, or -errno with one line in @err
	 * ("EAL: ...", "port 0: no such device"). */
	int (*init)(const struct bypass_net_conf *conf, char *err, size_t errlen);
	/* One run-to-completion step (RX burst, protocol, timers, TX flush) on the caller's
	 * home context and on every context no home thread polled of late; a context another
	 * thread is in is skipped.  Packets handled.  The one call a LibOS makes while other
	 * threads may be inside the backend for it. */
	int (*poll)(void);
	uint64_t (*now_us)(void);
	/* TCP: the semantics of dpdk-net/include/dpdk-net/socket.h, one to one. */
	int (*tcp_listen)(uint16_t port, int backlog, struct bnet_tcb **out);
	int (*tcp_accept)(struct bnet_tcb *lsn, struct bnet_tcb **out);
	int (*tcp_connect)(uint32_t dip, uint16_t dport, uint16_t sport, struct bnet_tcb **out);
	ssize_t (*tcp_send)(struct bnet_tcb *t, const void *buf, size_t len);
	ssize_t (*tcp_recv)(struct bnet_tcb *t, void *buf, size_t len);
	int (*tcp_shutdown)(struct bnet_tcb *t, int how);
	int (*tcp_close)(struct bnet_tcb *t);
	int (*tcp_abort)(struct bnet_tcb *t);
	int (*tcp_info)(const struct bnet_tcb *t, struct bnet_tcp_info *info);
	int (*tcp_take_error)(struct bnet_tcb *t);
	int (*tcp_set_nodelay)(struct bnet_tcb *t, int on);
	int (*tcp_set_keepalive)(struct bnet_tcb *t, uint32_t idle_s, uint32_t intvl_s,
				 uint32_t cnt);
	/* UDP */
	int (*udp_bind)(uint16_t port, uint32_t qlen, struct bnet_udp **out);
	ssize_t (*udp_sendto)(struct bnet_udp *u, const void *buf, size_t len, uint32_t dip,
			      uint16_t dport);
	ssize_t (*udp_recvfrom)(struct bnet_udp *u, void *buf, size_t len, uint32_t *sip,
				uint16_t *sport);
	uint32_t (*udp_pending)(const struct bnet_udp *u);
	uint16_t (*udp_port)(const struct bnet_udp *u);
	void (*udp_close)(struct bnet_udp *u);
	/* The local address and the contexts' counters as one JSON object (for --stats):
	 * "contexts", then each context's "ctxN_rx_pkts", "ctxN_tx_pkts" and "ctxN_owners"
	 * (threads whose home it is), then the sums of dpdk-net's counters. */
	uint32_t (*local_ip)(void);
	int (*stats_json)(char *buf, size_t len);
	/* Readiness for poll/select/epoll (appended: older fields keep their places).
	 * tcp_events: what tcp_info's events would say, plus rcv_avail when @rcv_avail is
	 * not NULL, without the rest of the snapshot.  ready_gen: a counter that moves
	 * whenever any endpoint's readiness may have changed (packets or timers in poll, and
	 * every call above that takes an endpoint, except tcp_take_error/tcp_set_nodelay,
	 * which the caller knows it made); it may move without a change. */
	uint32_t (*tcp_events)(const struct bnet_tcb *t, uint32_t *rcv_avail);
	uint64_t (*ready_gen)(void);
	/* ABI 3: udp_recvfrom with the datagram's headers and arrival time (control
	 * messages).  The full length, or -EAGAIN. */
	ssize_t (*udp_recvmsg)(struct bnet_udp *u, void *buf, size_t len,
			       struct bnet_udp_meta *meta);
	/* ABI 4: where @t's readiness stamp lives (valid while the handle is held): it
	 * changes whenever what tcp_events(@t) says may have changed, and no stamp is ever
	 * given twice, so (handle, stamp) names one answer of tcp_events.  NULL (ABI 5: a
	 * listener on several contexts): no stamp, ask tcp_events every time. */
	const uint64_t *(*tcp_ev_stamp)(const struct bnet_tcb *t);
	/* ABI 4: tcp_set_user names @t's user (NULL: none; tcp_close/tcp_abort end it):
	 * whenever @t's stamp moves, @user is queued, once until taken, and at once too.
	 * tcp_touched takes up to @max queued users, oldest first: how many. */
	void (*tcp_set_user)(struct bnet_tcb *t, void *user);
	int (*tcp_touched)(void **users, int max);
	/* ABI 5: the number of contexts. */
	int (*ctx_count)(void);
	/* ABI 6: IP_TTL @ttl (1-255; 0 = the default, 64) and IP_TOS @tos for every segment of
	 * @t from now on (a listener's: on each context; its connections start with them),
	 * and TCP_NOTSENT_LOWAT (UINT32_MAX = none).  BNET_OUT follows Linux's tcp_poll: the
	 * free room at least half of what is queued, and twice the bytes not yet sent below
	 * @notsent_lowat.  0. */
	int (*tcp_set_tx)(struct bnet_tcb *t, uint8_t ttl, uint8_t tos, uint32_t notsent_lowat);
	/* ABI 6: udp_sendto with the datagram's TTL (1-255) and TOS. */
	ssize_t (*udp_sendto_ext)(struct bnet_udp *u, const void *buf, size_t len, uint32_t dip,
				  uint16_t dport, uint8_t ttl, uint8_t tos);
	/* ABI 6: the kernel's index of the interface behind the port (0 = none), as
	 * bnet_udp_meta.ifindex says. */
	uint32_t (*if_index)(void);
	/* ABI 7: tcp_connect whose SYN already carries IP TTL @ttl (0 = the default) and TOS
	 * @tos (IP_TTL/IP_TOS set before connect). */
	int (*tcp_connect_tx)(uint32_t dip, uint16_t dport, uint16_t sport, uint8_t ttl,
			      uint8_t tos, struct bnet_tcb **out);
	/* ABI 8: held frames.  After tx_hold(@flag), the calling thread's tcp_send, tcp_recv
	 * and udp_sendto(_ext) leave what they queue (data, ACKs) in their context's TX
	 * buffer and set *@flag; its next poll() or tx_release() hands them to the device
	 * and clears *@flag (so may any other thread's call on the context, or a full
	 * buffer).  A burst of calls between two polls leaves in one device call.  NULL:
	 * every call sends at once again (the default). */
	void (*tx_hold)(uint8_t *flag);
	void (*tx_release)(void);
	/* ABI 10: the calling thread is leaving: what it held leaves, and its home context
	 * has one owner less (stats_json's ctxN_owners). */
	void (*thread_exit)(void);
	/* ABI 11: tcp_send and tcp_recv whose bytes move through @copy, straight between
	 * the caller's memory and the connection's buffers.  A fault takes nothing: no
	 * byte of the call is queued (send) or consumed (recv), and the call gives
	 * -EFAULT. */
	ssize_t (*tcp_send_copy)(struct bnet_tcb *t, size_t len, bnet_copy_fn *copy, void *arg);
	ssize_t (*tcp_recv_copy)(struct bnet_tcb *t, size_t len, bnet_copy_fn *copy, void *arg);
	/* ABI 12: listen() on a listener: @backlog (1..4096) becomes the limit of its SYN
	 * and accept queues, counted over all contexts (tcp_listen's too).  Queued
	 * connections stay. */
	int (*tcp_set_backlog)(struct bnet_tcb *t, int backlog);
	/* ABI 12: TCP_CORK, as Linux's: a tail smaller than a segment waits, with or
	 * without data in flight, until the cork comes off (which sends it) or for 200 ms.
	 * tcp_set_nodelay(t, 1) sends what is held, as setting TCP_NODELAY does. */
	int (*tcp_set_cork)(struct bnet_tcb *t, int on);
	/* ABI 13: @t's socket has SO_REUSEADDR and SO_REUSEPORT as BNET_REUSE* bits @reuse
	 * (a listener's connections start with its bits). */
	int (*tcp_set_reuse)(struct bnet_tcb *t, int reuse);
	/* ABI 13: does a connection in TIME_WAIT, or one closing after its last handle
	 * went, hold local port @port against a bind by a socket with @reuse?  Not when
	 * both have SO_REUSEADDR, nor both SO_REUSEPORT (Linux's bind bucket); @reuse 0
	 * asks whether any holds it.  A scan: for bind and picking a port. */
	int (*tcp_port_held)(uint16_t port, int reuse);
	/* ABI 13: the local port tcp_connect_tx with @sport 0 would take for @dip:@dport,
	 * in *@sport; each call moves on.  Given to tcp_connect_tx, the connection lives
	 * where it would have.  0, or -EADDRNOTAVAIL. */
	int (*tcp_port_next)(uint32_t dip, uint16_t dport, uint16_t *sport);
};

enum { BNET_REUSEADDR = 1, BNET_REUSEPORT = 2 };

#endif
