// SPDX-License-Identifier: MIT
// dpdk-net internal socket API: TCP and UDP endpoints on one context, for the LibOS socket
// layer.  Non-blocking throughout: calls that would wait return -EAGAIN; the caller polls
// the context (dnet_ctx_poll) and retries.  Addresses and ports are in network byte order.
//
// Several contexts on one port (dpdk-net/ctx.h): a frame for a local port P that reaches a
// context without an endpoint for it goes to the context of queue P % N (dnet_port_owner()).
// So, for every endpoint to be reachable whatever queue the device picks:
// - a listener is opened in every context of the port (same port);
// - a UDP endpoint bound to P lives in context P % N (port 0 picks such a port itself);
// - a connection with a chosen source port P (dnet_tcp_connect with sport != 0) is made in
//   context P % N; with sport 0 any context will do (it picks a port of its own).
// An endpoint elsewhere receives only what its own queue happens to receive.
#ifndef DPDK_NET_SOCKET_H
#define DPDK_NET_SOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_byteorder.h>

struct dnet_ctx;
struct dnet_tcb;
struct dnet_udp_sock;

/** TCP states (RFC 9293 names). */
enum dnet_tcp_state {
    DNET_TCP_CLOSED, DNET_TCP_LISTEN, DNET_TCP_SYN_SENT, DNET_TCP_SYN_RCVD,
    DNET_TCP_ESTABLISHED, DNET_TCP_FIN_WAIT_1, DNET_TCP_FIN_WAIT_2, DNET_TCP_CLOSE_WAIT,
    DNET_TCP_CLOSING, DNET_TCP_LAST_ACK, DNET_TCP_TIME_WAIT,
};

/** Readiness bits returned by dnet_tcp_events() and dnet_tcp_info() (the EPOLLIN etc. values). */
#define DNET_EV_IN    0x001u  /**< data, EOF, an error, or (listener) a connection to accept */
#define DNET_EV_OUT   0x004u  /**< connected, and the send buffer's room is at least half of
                                   *   what it holds (Linux's sk_stream_is_writeable()) */
#define DNET_EV_ERR   0x008u  /**< a pending error (read it with dnet_tcp_info().error) */
#define DNET_EV_HUP   0x010u  /**< both directions are shut */
#define DNET_EV_RDHUP 0x2000u /**< the peer sent FIN */

/** A snapshot of a TCP endpoint. */
struct dnet_tcp_info {
    enum dnet_tcp_state state;
    uint32_t events;         /**< DNET_EV_* */
    int error;               /**< pending error as a positive errno (0 = none); not cleared */
    uint32_t rcv_avail;      /**< bytes readable now (FIONREAD) */
    uint32_t snd_space;      /**< bytes dnet_tcp_send() would accept now */
    uint32_t snd_mss, rto_ms, srtt_us, cwnd, snd_wnd;
    uint8_t snd_wscale, rcv_wscale, ts_ok, sack_ok;
    rte_be32_t lip, rip;
    rte_be16_t lport, rport;
};

/**
 * Open a listener on local port @p port (any local address) with @p backlog (SYN queue +
 * accept queue).  @p port 0 picks an ephemeral port no listener or connection uses (read it
 * back with dnet_tcp_info().lport), one this context owns; with several contexts on the
 * port, open the same port in each of the others too.
 * @return 0 and *out; -EADDRINUSE if the port listens already; -EADDRNOTAVAIL if no
 * ephemeral port is free; -ENOMEM.
 */
int dnet_tcp_listen(struct dnet_ctx *ctx, rte_be16_t port, int backlog, struct dnet_tcb **out);

/**
 * Count listener @p lsn's queues in @p queued, shared with the same port's listeners in the
 * other contexts: the group then holds at most the backlog, as one socket would.  The caller
 * zeroes @p queued and keeps it until every listener sharing it is closed; the contexts move
 * it atomically.  Call it before @p lsn sees a segment (under its context's lock).
 */
void dnet_tcp_listen_share(struct dnet_tcb *lsn, uint32_t *queued);

/**
 * listen() again: @p backlog becomes the limit of @p lsn's queues (SYN + accept; <= 0 is 1).
 * Connections already queued stay; new SYNs wait for room.
 * @return 0; -EINVAL if @p lsn is not listening.
 */
int dnet_tcp_set_backlog(struct dnet_ctx *ctx, struct dnet_tcb *lsn, int backlog);

/**
 * Take the oldest established connection of listener @p lsn.
 * @return 0 and *out (owned by the caller until dnet_tcp_close); -EAGAIN if none;
 *         -EINVAL if @p lsn is not listening.
 */
int dnet_tcp_accept(struct dnet_ctx *ctx, struct dnet_tcb *lsn, struct dnet_tcb **out);

/**
 * Start an active open to @p dip:@p dport from local port @p sport (0 = an ephemeral port
 * this context owns; with several contexts on the port a chosen @p sport must be owned by
 * this context: dnet_port_owner(port, sport) == its queue).
 * Completes asynchronously: DNET_EV_OUT when established, error ECONNREFUSED/ETIMEDOUT.
 * @return 0 and *out; -EADDRINUSE if the 4-tuple exists; -EADDRNOTAVAIL if no ephemeral port
 *         is free; -ENOMEM.
 */
int dnet_tcp_connect(struct dnet_ctx *ctx, rte_be32_t dip, rte_be16_t dport, rte_be16_t sport,
                     struct dnet_tcb **out);

/**
 * The ephemeral port dnet_tcp_connect() with @p sport 0 would take next: one this context
 * owns, with no listener and no connection to @p dip:@p dport on it.  Each call moves on.
 * @return 0 and *sport; -EADDRNOTAVAIL if none is free.
 */
int dnet_tcp_pick_port(struct dnet_ctx *ctx, rte_be32_t dip, rte_be16_t dport, rte_be16_t *sport);

/**
 * dnet_tcp_connect() whose SYN, and every segment after it, carries IP TTL @p ttl (0: the
 * default) and TOS @p tos, as a socket's IP_TTL/IP_TOS set before connect() do on Linux.
 */
int dnet_tcp_connect_tx(struct dnet_ctx *ctx, rte_be32_t dip, rte_be16_t dport, rte_be16_t sport,
                        uint8_t ttl, uint8_t tos, struct dnet_tcb **out);

/**
 * Queue up to @p len bytes for sending.  @return bytes queued (> 0); -EAGAIN if the buffer
 * is full or the connection is not yet established; -EPIPE after shutdown(SHUT_WR) or close;
 * the pending error (-ECONNRESET, -ETIMEDOUT, -ECONNREFUSED) once; -ENOTCONN otherwise.
 */
ssize_t dnet_tcp_send(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const void *buf, size_t len);

/**
 * Copy up to @p len received bytes out.  @return bytes (> 0); 0 at end of stream; -EAGAIN if
 * nothing is available yet; a pending error once (-ECONNRESET ...); -ENOTCONN otherwise.
 */
ssize_t dnet_tcp_recv(struct dnet_ctx *ctx, struct dnet_tcb *tcb, void *buf, size_t len);

/**
 * How dnet_tcp_send_copy() and dnet_tcp_recv_copy() move bytes: @p len bytes at byte @p off
 * of the caller's data to (send) or from (recv) the stack's buffer at @p p.  @return the
 * bytes copied: @p len, or fewer where the caller's memory faulted.
 */
typedef size_t dnet_copy_fn(void *arg, void *p, size_t off, size_t len);

/**
 * dnet_tcp_send() whose bytes come through @p copy, straight into the send buffer (the
 * LibOS copies from a guest with its fault-safe copy, and no bounce buffer).  A fault
 * keeps nothing of the call: @return -EFAULT (Linux's tcp_sendmsg keeps nothing of the
 * chunk it could not copy whole, and a chunk is up to 64 KiB).
 */
ssize_t dnet_tcp_send_copy(struct dnet_ctx *ctx, struct dnet_tcb *tcb, size_t len,
                           dnet_copy_fn *copy, void *arg);

/**
 * dnet_tcp_recv() whose bytes go out through @p copy.  A fault consumes nothing (the bytes
 * stay for the next call, as Linux keeps an skb it could not copy): @return -EFAULT.
 */
ssize_t dnet_tcp_recv_copy(struct dnet_ctx *ctx, struct dnet_tcb *tcb, size_t len,
                           dnet_copy_fn *copy, void *arg);

/**
 * Shut down reading (@p how = SHUT_RD), writing (SHUT_WR: FIN after the queued data) or both.
 * @return 0; -ENOTCONN if not connected; -EINVAL for a bad @p how.
 */
int dnet_tcp_shutdown(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int how);

/**
 * Release the caller's handle.  Queued data is still sent, then FIN (or RST if unread data
 * is discarded, as Linux does); the stack frees the block when the connection is done.
 * Until then it is an orphan: its receive buffer is gone (data that arrives draws a RST),
 * its send buffer shrinks to the bytes still to deliver, and it gives up after fewer
 * retransmissions; past max_orphans (dnet_ctx_conf) the close resets at once instead.
 * @return 0.
 */
int dnet_tcp_close(struct dnet_ctx *ctx, struct dnet_tcb *tcb);

/** Abort: send RST (if synchronized) and release the handle.  @return 0. */
int dnet_tcp_abort(struct dnet_ctx *ctx, struct dnet_tcb *tcb);

/**
 * Readiness only, without the rest of the snapshot: the DNET_EV_* bits dnet_tcp_info() would
 * report, and the bytes readable now in *@p rcv_avail when it is not NULL (0 for a
 * listener).  Cheap enough to call for every interest item at every wait.
 */
uint32_t dnet_tcp_events(const struct dnet_tcb *tcb, uint32_t *rcv_avail);

/**
 * Where @p tcb's readiness stamp lives: a value that changes whenever what
 * dnet_tcp_events() says of it may have changed (a segment for it or, for a listener, for
 * a connection joining or leaving its accept queue; its timers; every socket.h call on
 * it).  Stamps come from one counter of the context and are never given twice, so a
 * poller may keep (handle, stamp, events) and skip asking again while the stamp at this
 * address stays.  Valid while the handle is held.
 */
const uint64_t *dnet_tcp_ev_stamp(const struct dnet_tcb *tcb);

/**
 * Name the handle's user: from now on every time @p tcb's stamp moves (see
 * dnet_tcp_ev_stamp()), @p user is queued (once until taken) for dnet_tcp_touched(); it is
 * queued at once too.  NULL stops it; so do dnet_tcp_close() and dnet_tcp_abort().
 */
void dnet_tcp_set_user(struct dnet_ctx *ctx, struct dnet_tcb *tcb, void *user);

/**
 * Take up to @p max users of handles whose readiness may have changed since they were last
 * taken (oldest first) into @p users.  @return how many.  A poller that keeps its answers
 * per handle needs to ask again only about these.
 */
int dnet_tcp_touched(struct dnet_ctx *ctx, void **users, int max);

/** The queue of the context @p tcb lives in (a caller with one context per queue finds
 *  the context of a handle without a table). */
uint16_t dnet_tcb_queue(const struct dnet_tcb *tcb);

/** Fill @p info (a snapshot; the pending error stays).  @return 0. */
int dnet_tcp_info(const struct dnet_tcb *tcb, struct dnet_tcp_info *info);

/** What TCP_INFO reports beyond dnet_tcp_info(): the connection's counters and timers. */
struct dnet_tcp_stats {
    uint8_t ca_state;        /**< 0 open, 3 fast recovery, 4 after a timeout (Linux's TCP_CA_*) */
    uint8_t retransmits;     /**< timeouts since the last forward progress */
    uint8_t probes;          /**< keepalive probes unanswered */
    uint8_t backoff;         /**< RTO backoff exponent */
    uint8_t ts_ok, sack_ok, ws_ok;
    uint8_t snd_wscale, rcv_wscale;
    uint32_t rto_us, ato_us, snd_mss, rcv_mss, advmss, pmtu;
    uint32_t unacked, sacked;       /**< segments in flight / SACKed (bytes / MSS, rounded up);
                                     *   a listener: accept queue length / backlog */
    uint32_t srtt_us, rttvar_us, min_rtt_us;  /**< min_rtt_us UINT32_MAX: no sample yet */
    uint32_t cwnd, ssthresh;        /**< bytes; ssthresh UINT32_MAX = none yet */
    uint32_t rcv_wnd, rcv_space, snd_wnd;     /**< bytes */
    uint32_t last_data_sent_ms, last_data_recv_ms, last_ack_recv_ms;  /**< ago */
    uint32_t segs_out, segs_in, data_segs_out, data_segs_in, total_retrans, delivered;
    uint32_t notsent_bytes;
    uint32_t outq;                  /**< SIOCOUTQ: queued and not acknowledged, a FIN as one
                                     *   (Linux's write_seq - snd_una); 0 while opening */
    uint64_t bytes_acked, bytes_received, bytes_sent, bytes_retrans;
    uint64_t last_data_recv_us;     /**< context clock (dnet_ctx_now_us) of the last data in */
};

/** Fill @p st for TCP_INFO; the ages are against the context's clock.  @return 0. */
int dnet_tcp_stats(const struct dnet_ctx *ctx, const struct dnet_tcb *tcb, struct dnet_tcp_stats *st);

/** SO_ERROR: return the pending error as a positive errno (0 = none) and clear it. */
int dnet_tcp_take_error(struct dnet_ctx *ctx, struct dnet_tcb *tcb);

/**
 * IP_TTL @p ttl (0: the default, 64) and IP_TOS @p tos for every segment of @p tcb from now
 * on (a listener's connections start with its values, as Linux's do), and
 * TCP_NOTSENT_LOWAT @p notsent_lowat (UINT32_MAX: none): DNET_EV_OUT needs twice the bytes
 * queued but not yet sent below it, besides the free room being at least half of what is
 * queued (Linux's sk_stream_is_writeable()).  @return 0.
 */
int dnet_tcp_set_tx(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint8_t ttl, uint8_t tos,
                    uint32_t notsent_lowat);

/** SO_REUSEADDR and SO_REUSEPORT of a socket, for dnet_tcp_port_held(). */
enum { DNET_REUSEADDR = 1, DNET_REUSEPORT = 2 };

/** @p tcb's socket has SO_REUSE* @p reuse (DNET_REUSE* bits); a listener's connections
 * start with its bits.  @return 0. */
int dnet_tcp_set_reuse(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int reuse);

/**
 * Does a connection in TIME_WAIT, or one closing that its socket has let go of (an
 * orphan), hold local port @p port against a bind by a socket with DNET_REUSE* bits
 * @p reuse?  As Linux's bind-bucket rule: not when both have SO_REUSEADDR, nor when both
 * have SO_REUSEPORT.  The socket layer knows the rest (listeners, its own connections).
 * A scan of the connection table: for bind() and the choice of a port, not per packet.
 */
int dnet_tcp_port_held(const struct dnet_ctx *ctx, rte_be16_t port, int reuse);

/** TCP_NODELAY: non-zero disables Nagle's algorithm.  @return 0. */
int dnet_tcp_set_nodelay(struct dnet_tcb *tcb, int on);

/**
 * TCP_CORK, as Linux's: while on, a tail smaller than a segment is not sent even with
 * nothing in flight (TCP_NODELAY or not), until it fills a segment, the cork comes off, a
 * FIN follows it, or it has waited 200 ms with nothing in flight.  Off sends it.  @return 0.
 */
int dnet_tcp_set_cork(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int on);

/** Send now what Nagle or TCP_CORK holds (Linux pushes so when TCP_NODELAY is set). */
void dnet_tcp_push(struct dnet_ctx *ctx, struct dnet_tcb *tcb);

/**
 * SO_KEEPALIVE with TCP_KEEPIDLE @p idle_s, TCP_KEEPINTVL @p intvl_s and TCP_KEEPCNT @p cnt;
 * @p idle_s == 0 turns it off.  After @p cnt unanswered probes the connection is reset and
 * its error is ETIMEDOUT.  @return 0; -EINVAL if @p idle_s is set but @p intvl_s or @p cnt is 0.
 */
int dnet_tcp_set_keepalive(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t idle_s,
                           uint32_t intvl_s, uint32_t cnt);

/** The name of a state ("ESTABLISHED"...). */
const char *dnet_tcp_state_name(enum dnet_tcp_state st);

/**
 * Bind a UDP endpoint to local port @p port (0 = an ephemeral port this context owns) with a
 * queue of @p qlen datagrams.  With several contexts on the port, bind port P in the context
 * of queue dnet_port_owner(port, P): datagrams for P that other queues receive go there.
 * @return 0 and *out; -EADDRINUSE; -EADDRNOTAVAIL; -ENOMEM.
 */
int dnet_udp_bind(struct dnet_ctx *ctx, rte_be16_t port, uint32_t qlen, struct dnet_udp_sock **out);

/**
 * Send one datagram of @p len bytes to @p dip:@p dport.
 * @return @p len; -EMSGSIZE if it does not fit in one unfragmented frame; -ENOBUFS.
 */
ssize_t dnet_udp_sendto(struct dnet_ctx *ctx, struct dnet_udp_sock *us, const void *buf,
                        size_t len, rte_be32_t dip, rte_be16_t dport);

/**
 * dnet_udp_sendto() with the IPv4 header's @p ttl (1-255; 0 = the default, 64) and @p tos:
 * the sender's IP_TTL and IP_TOS, or a control message's.  dnet_udp_sendto() sends with the
 * defaults.
 */
ssize_t dnet_udp_sendto_ext(struct dnet_ctx *ctx, struct dnet_udp_sock *us, const void *buf,
                            size_t len, rte_be32_t dip, rte_be16_t dport, uint8_t ttl,
                            uint8_t tos);

/**
 * Take the oldest queued datagram: copies up to @p len bytes (the rest is discarded, as
 * recvfrom does) and fills the source if @p sip / @p sport are not NULL.
 * @return the datagram's full length; -EAGAIN if the queue is empty.
 */
ssize_t dnet_udp_recvfrom(struct dnet_ctx *ctx, struct dnet_udp_sock *us, void *buf, size_t len,
                          rte_be32_t *sip, rte_be16_t *sport);

/** What the headers of a received datagram said, and when it came. */
struct dnet_udp_meta {
    rte_be32_t sip, dip;     /**< source; destination as addressed (ours, or a broadcast) */
    rte_be16_t sport;
    uint8_t ttl, tos;
    uint64_t rx_us;          /**< the context's clock (dnet_ctx_now_us) at its arrival */
};

/**
 * dnet_udp_recvfrom() with the datagram's headers and arrival time in @p meta.
 * @return the datagram's full length; -EAGAIN if the queue is empty.
 */
ssize_t dnet_udp_recvmsg(struct dnet_ctx *ctx, struct dnet_udp_sock *us, void *buf, size_t len,
                         struct dnet_udp_meta *meta);

/** Datagrams waiting in the queue. */
uint32_t dnet_udp_pending(const struct dnet_udp_sock *us);

/** The local port @p us is bound to (the ephemeral one if it was bound to 0). */
rte_be16_t dnet_udp_port(const struct dnet_udp_sock *us);

/** The queue of the context @p us lives in. */
uint16_t dnet_udp_queue(const struct dnet_udp_sock *us);

/** Unbind and free the endpoint and its queued datagrams. */
void dnet_udp_close(struct dnet_ctx *ctx, struct dnet_udp_sock *us);

#endif
