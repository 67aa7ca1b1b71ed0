// SPDX-License-Identifier: MIT
// dpdk-net per-core context: owns one RX/TX queue pair of a port, its ARP cache view,
// connection tables, timer wheel and clock.  Polled run-to-completion by one thread; no locks.
//
// Several contexts on one port (nb_queues = N > 1) act as one host with one address, without
// locks between them:
// - Ownership: local TCP/UDP port P belongs to the context of queue P % N
//   (dnet_port_owner()).  Ephemeral ports a context picks (dnet_tcp_connect() without a
//   source port, dnet_udp_bind() and dnet_tcp_listen() on port 0) are always its own.
// - A TCP segment or UDP datagram that reaches a context which has no connection, listener
//   or UDP endpoint for it, for a destination port it does not own, is *redirected*: put in
//   the owner's inbox (a lock-free multi-producer ring), which the owner drains at the start
//   of its next dnet_ctx_poll() and handles as if it had received the frame itself (RX
//   faults are not applied again).  Listeners are meant to be replicated in every context:
//   a connection accepted lives in the context its SYN reached, where flow hashing brings
//   its later segments.  One that lands elsewhere (af_packet's rollover when a queue is
//   full) finds a listener and no connection there: it is passed round the other contexts
//   until one has its connection, and only the last answers it as a listener would.
// - ARP: a context that receives an ARP frame answers it (once) and passes a copy to every
//   other context of the port, which only learns from it: a reply any queue receives
//   resolves a request any context is waiting on.
// With N == 1 none of this happens and nothing is added to the packet path.
#ifndef DPDK_NET_CTX_H
#define DPDK_NET_CTX_H

#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ether.h>

#include "dpdk-net/fault.h"

struct dnet_port;
struct dnet_ctx;

/** Context configuration.  Addresses are in network byte order; zero fields take defaults. */
struct dnet_ctx_conf {
    uint16_t queue;          /**< queue pair of the port this context owns */
    rte_be32_t ip;           /**< local IPv4 address (required) */
    uint8_t prefix_len;      /**< on-link prefix length; default 24 */
    rte_be32_t gateway;      /**< next hop for off-link destinations; 0 = none */
    int virtual_clock;       /**< non-zero: time moves only by dnet_ctx_clock_advance() */
    uint64_t isn_secret;     /**< RFC 6528 secret; 0 = random (tests pass a fixed one) */
    uint32_t rcvbuf;         /**< TCP receive buffer bytes; default 262144 */
    uint32_t sndbuf;         /**< TCP send buffer bytes; default 262144 */
    uint32_t delack_ms;      /**< delayed-ACK timeout; default 40 */
    uint32_t rto_min_ms;     /**< RTO lower bound; default 200 */
    uint32_t time_wait_ms;   /**< TIME_WAIT duration (2 MSL); default 60000 */
    uint32_t max_conns;      /**< TCP control blocks, TIME_WAIT excepted; default 4096 */
    uint32_t max_time_wait;  /**< connections held in TIME_WAIT (no buffers, ~600 bytes each);
                                  past it a connection closes without waiting, as with
                                  Linux's tcp_max_tw_buckets; default 16384 */
    uint32_t max_orphans;    /**< connections the user has closed that are still finishing
                                  (FIN_WAIT_1/2, CLOSING, LAST_ACK; counted in max_conns
                                  too); past it close() resets instead, as with Linux's
                                  tcp_max_orphans; default max_conns / 2 */
    int no_tlp;              /**< non-zero: no tail loss probe (RFC 8985 7), the RTO alone */
    struct dnet_fault_conf fault; /**< seeded fault injection; all zero = off (fault.h) */
    uint32_t inbox_len;      /**< frames the redirect inbox holds when the port has more than
                                  one queue (past it redirects are dropped); default 1024 */
};

/**
 * Counters; every dropped packet is counted in exactly one *_drop or bad_* field.  rx_pkts
 * counts frames taken from the device, tx_pkts frames the device accepted (duplicates made
 * by fault injection included).  A corrupted frame is counted once in fault_*_corrupt and
 * again by the receiver's check that drops it (ip_bad_csum).
 */
struct dnet_stats {
    uint64_t rx_pkts, tx_pkts, tx_drop;
    uint64_t fault_rx_drop, fault_rx_dup, fault_rx_corrupt, fault_rx_reorder;
    uint64_t fault_tx_drop, fault_tx_dup, fault_tx_corrupt, fault_tx_reorder;
    uint64_t eth_drop;         /**< not for us / unknown ethertype */
    uint64_t arp_rx, arp_tx, arp_bad, arp_unresolved_drop;
    uint64_t ip_rx, ip_bad_hdr, ip_bad_csum, ip_not_for_us, ip_frag_rx, ip_frag_drop,
             ip_reassembled, ip_unknown_proto;
    uint64_t icmp_rx, icmp_echo_replies, icmp_bad;
    uint64_t udp_rx, udp_bad, udp_no_port, udp_queue_drop, udp_tx;
    uint64_t tcp_rx, tcp_bad, tcp_tx, tcp_rst_tx, tcp_retrans, tcp_fast_retrans,
             tcp_rto, tcp_ooo, tcp_drop, tcp_backlog_drop, tcp_challenge_ack;
    uint64_t tcp_nomem_drop;   /**< SYN to a listener dropped: max_conns reached or no memory */
    uint64_t tcp_tw_overflow;  /**< closed without TIME_WAIT: max_time_wait reached */
    uint64_t tcp_orphan_overflow; /**< close() reset instead of FIN: max_orphans reached */
    uint64_t tcp_abort_on_data;   /**< data for a connection closed for reading: RST */
    uint64_t tcp_orphan_timeout;  /**< an orphan gave up: FIN_WAIT_2 timeout, retransmissions
                                       or zero-window probes unanswered */
    uint64_t tcp_oow_ack_limited; /**< a refused segment (out of window, PAWS, one that
                                       acknowledges data never sent, or a challenge) left
                                       unanswered: its connection answered one under 500 ms
                                       ago (Linux's tcp_invalid_ratelimit) */
    /** Several contexts on one port.  A redirected frame counts in rx_pkts, eth and ip_*
     *  of the context that received it, then in redirect_tx there and redirect_rx plus
     *  tcp_ or udp_* in its owner (summed over the contexts, each layer counts it once).
     *  ARP copies count in redirect_tx / redirect_rx and nowhere else. */
    uint64_t redirect_tx;      /**< frames put in another context's inbox */
    uint64_t redirect_rx;      /**< frames taken from this context's inbox */
    uint64_t redirect_drop;    /**< frames dropped because the owner's inbox was full */
    uint64_t redirect_ask;     /**< of redirect_tx: segments for a listening port that no
                                    connection here took, passed to the next context to
                                    look up (their SYN came in on another queue) */
    uint64_t tx_bursts;        /**< flushes that handed frames to the device (tx_pkts /
                                    tx_bursts: frames per device call) */
};

/**
 * Create a context on queue conf->queue of @p port and record it in port->ctx[].  @p port
 * must outlive the context.  The contexts of one port must share ip, prefix_len and gateway.
 * @return 0 and *out on success; -EINVAL on a bad conf (no ip, queue out of range, a fault
 *         probability above DNET_FAULT_PPM, an inbox_len too large for a ring); -EBUSY if the
 *         queue has a context already;
 *         -ENOMEM when allocation fails.
 */
int dnet_ctx_create(struct dnet_ctx **out, struct dnet_port *port, const struct dnet_ctx_conf *conf);

/**
 * Free the context, its connections (without sending anything) and queued mbufs, frames in
 * its inbox included.  With several contexts on the port, others may be putting frames in
 * this one's inbox while they poll: destroy the contexts of a port together, once no thread
 * polls any of them (or calls socket.h on them).
 */
void dnet_ctx_destroy(struct dnet_ctx *ctx);

/**
 * One run-to-completion step: take frames other contexts of the port redirected here (at
 * most a burst), receive a burst, process them, run due timers, flush TX.
 * @return the number of packets received and handled, redirected ones included (>= 0).
 */
int dnet_ctx_poll(struct dnet_ctx *ctx);

/**
 * Hand the frames queued for transmission to the device now, as dnet_ctx_poll() does at
 * its end: the socket.h calls queue what they send (data, ACKs, SYN, FIN, RST) and only a
 * poll or this sends it.  Nothing to send: a test.
 */
void dnet_ctx_flush(struct dnet_ctx *ctx);

/** Frames queued for transmission and not yet handed to the device. */
unsigned dnet_ctx_tx_queued(const struct dnet_ctx *ctx);

/**
 * The readiness generation: a counter that moves whenever the readiness of any endpoint of
 * the context may have changed: packets received (dnet_ctx_poll), timers run, and every
 * socket.h call that takes the context.  It may move without a change; it never stays put
 * across one, except for dnet_tcp_set_nodelay() (no context, and no readiness change).  A poller that found nothing ready may skip its next scan
 * while the generation is unchanged.
 */
uint64_t dnet_ctx_gen(const struct dnet_ctx *ctx);

/** Current context time in microseconds (virtual or TSC-derived). */
uint64_t dnet_ctx_now_us(const struct dnet_ctx *ctx);

/**
 * Move a virtual clock forward by @p us and run the timers that fall due (and flush TX).
 * @return 0; -EINVAL if the context has a real clock.
 */
int dnet_ctx_clock_advance(struct dnet_ctx *ctx, uint64_t us);

/** The context's counters (read-only view, valid while the context lives). */
const struct dnet_stats *dnet_ctx_stats(const struct dnet_ctx *ctx);

/** The context's local MAC address. */
const struct rte_ether_addr *dnet_ctx_mac(const struct dnet_ctx *ctx);

/**
 * Insert or replace a permanent ARP entry @p ip -> @p mac (network byte order), as
 * `ip neigh add ... nud permanent`: never aged or probed, and ARP frames received do not
 * change it.  (Learnt entries are probed again once they go 30 s unconfirmed.)
 * @return 0; -ENOSPC if the cache is full.
 */
int dnet_arp_add(struct dnet_ctx *ctx, rte_be32_t ip, const struct rte_ether_addr *mac);

/**
 * Look @p ip up in the cache.  @return 0 and *mac if resolved; -ENOENT otherwise.
 */
int dnet_arp_lookup(struct dnet_ctx *ctx, rte_be32_t ip, struct rte_ether_addr *mac);

/** Broadcast a gratuitous ARP request for the local address.  @return 0 or -ENOBUFS. */
int dnet_arp_announce(struct dnet_ctx *ctx);

#endif
