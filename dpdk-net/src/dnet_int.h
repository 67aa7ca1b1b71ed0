// SPDX-License-Identifier: MIT
// dpdk-net internals shared by the src/ files: the per-core context, the timer wheel, the
// ARP cache and the protocol entry points (<proto>_input bursts and _output helpers).
#ifndef DNET_INT_H
#define DNET_INT_H

#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/port.h"

#define DNET_BURST 32
/* The clock's fixed point: 2^-40 us per cycle, ~1e-9 relative error at GHz rates. */
#define DNET_TSC_US_SHIFT 40
#define DNET_TX_MAX 64

/* ---- timer wheel (lcore/timer.c): 1 ms ticks, hashed into DNET_WHEEL_SLOTS slots ---- */
#define DNET_WHEEL_SLOTS 1024u
#define DNET_TICK_US 1000u

struct dnet_timer;
typedef void dnet_timer_fn(struct dnet_ctx *ctx, struct dnet_timer *t);

struct dnet_timer {
    struct dnet_timer *next, **pprev; /* pprev == NULL: not armed */
    uint64_t expire_tick;
    dnet_timer_fn *fn;
};

struct dnet_wheel {
    struct dnet_timer *slot[DNET_WHEEL_SLOTS];
    uint64_t cur_tick;                 /* every tick <= cur_tick has been run */
};

void dnet_timer_init(struct dnet_timer *t, dnet_timer_fn *fn);
/* Arm (or re-arm) @t to fire @delay_us from now (rounded up to a tick). */
void dnet_timer_arm(struct dnet_ctx *ctx, struct dnet_timer *t, uint64_t delay_us);
void dnet_timer_cancel(struct dnet_timer *t);
static inline int dnet_timer_armed(const struct dnet_timer *t) { return t->pprev != NULL; }
/* Run every timer due at or before tick @now_tick.  Returns the number fired. */
int dnet_wheel_run(struct dnet_ctx *ctx, uint64_t now_tick);

/* ---- ARP cache (arp.c) ---- */
#define DNET_ARP_SLOTS 256u
#define DNET_ARP_QLEN 4u

enum { DNET_ARP_FREE, DNET_ARP_DEAD, DNET_ARP_PENDING, DNET_ARP_RESOLVED };

struct dnet_arp_entry {
    rte_be32_t ip;
    uint8_t state, tries, nq;
    uint8_t permanent;                 /* dnet_arp_add(): never aged, never overwritten */
    struct rte_ether_addr mac;
    uint64_t confirmed_us;             /* the last ARP frame from it (RESOLVED) */
    struct rte_mbuf *q[DNET_ARP_QLEN]; /* IPv4 frames (eth header reserved) waiting */
    struct dnet_timer timer;           /* request retry, or the next probe of a stale entry */
    struct dnet_ctx *ctx;
};

/* ---- seeded fault injection (lcore/fault.c) ---- */
enum { DNET_FAULT_RX, DNET_FAULT_TX };

struct dnet_fault {
    int on;                        /* some probability is non-zero */
    struct dnet_fault_conf conf;
    uint64_t rng[2];               /* splitmix64 state per direction */
    struct rte_mbuf *held[2];      /* frame held back for reordering, per direction */
    uint8_t held_old[2];           /* it was held in an earlier burst */
};

/* ---- the per-core context ---- */
struct dnet_tcb;
struct dnet_tcb_slab;
struct dnet_udp_sock;
struct rte_ring;

#define DNET_TCP_HASH 4096u
#define DNET_UDP_HASH 256u

struct dnet_ctx {
    struct dnet_port *port;
    struct rte_mempool *pool;
    uint16_t port_id, queue;
    uint32_t offloads;
    struct rte_ether_addr mac;
    rte_be32_t ip, mask, gw;
    struct dnet_ctx_conf conf;

    int virt;                       /* virtual clock */
    uint64_t now_us, tsc_hz, tsc0;
    uint64_t tsc_us_mult;           /* microseconds per cycle << DNET_TSC_US_SHIFT */
    struct dnet_wheel wheel;
    uint64_t gen;                   /* readiness generation (dnet_ctx_gen) */
    uint64_t ev_clock;              /* the last stamp dnet_tcb_touch() gave (never repeats) */
    struct dnet_tcb *tq_head, *tq_tail; /* touched blocks with a user (dnet_tcp_touched) */

    struct rte_mbuf *tx[DNET_TX_MAX];
    uint16_t ntx;
    uint16_t ip_id;

    struct dnet_arp_entry arp[DNET_ARP_SLOTS];

    struct rte_ip_frag_tbl *frag_tbl;
    struct rte_ip_frag_death_row frag_dr;

    struct dnet_tcb *tcp_hash[DNET_TCP_HASH];  /* connections by 4-tuple */
    struct dnet_tcb *tcp_listen;               /* listeners, a short list */
    uint32_t tcp_count;                        /* control blocks, TIME_WAIT ones excepted */
    uint32_t tcp_tw_count;                     /* control blocks in TIME_WAIT */
    uint32_t tcp_orphans;                      /* closed by the user, still finishing */
    struct dnet_tcb_slab *slab_head, *slab_tail; /* control blocks' slabs, those with room first */
    uint16_t eph_next;                         /* next ephemeral port to try (host order) */
    uint64_t isn_secret[2];

    struct dnet_udp_sock *udp_hash[DNET_UDP_HASH];

    struct dnet_fault fault;

    /* Several contexts on one port (lcore/group.c): NULL inbox = the port has one queue. */
    struct rte_ring *inbox;                    /* redirected frames, tagged (group.c) */
    uint16_t nq;                               /* the port's queues */
    uint16_t eph_first;                        /* first ephemeral port we own (host order) */

    struct dnet_stats st;
};

/* ---- TX (lcore/ctx.c) ---- */
/* Queue a complete frame for transmission; flushes when the buffer fills.  Takes @m. */
void dnet_ctx_tx(struct dnet_ctx *ctx, struct rte_mbuf *m);
void dnet_ctx_tx_flush(struct dnet_ctx *ctx);
struct rte_mbuf *dnet_pkt_alloc(struct dnet_ctx *ctx);

/* Faults for direction @dir on the burst @in[0..n) (which it consumes): writes the frames to
 * pass on, in order, to @out (room for 2 * n + 1) and returns how many. */
int dnet_fault_apply(struct dnet_ctx *ctx, int dir, struct rte_mbuf **in, int n,
                     struct rte_mbuf **out);
/* Is there anything for dnet_fault_apply() to do in direction @dir? */
static inline int dnet_fault_active(const struct dnet_ctx *ctx, int dir)
{
    return ctx->fault.on || ctx->fault.held[dir] != NULL;
}
int dnet_fault_check(const struct dnet_fault_conf *conf);
void dnet_fault_fini(struct dnet_ctx *ctx);

/* ---- layers: burst inputs return the number handled; each consumes its mbufs ---- */
int dnet_classify(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);
int dnet_arp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);
int dnet_ip4_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);
int dnet_icmp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);
int dnet_udp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);
int dnet_tcp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);
/* The same for segments another context asked this one to look up (dnet_group_ask). */
int dnet_tcp_input_asked(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);

/* Prepend the Ethernet header for @next_hop (resolving it with ARP, possibly queueing @m)
 * and transmit.  Takes @m.  Returns 0, or -EHOSTUNREACH / -ENOSPC when @m was dropped. */
int dnet_eth_output_ip(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t next_hop);
/* Frame with a known destination MAC (ARP replies): prepends eth, transmits; takes @m. */
void dnet_eth_output(struct dnet_ctx *ctx, struct rte_mbuf *m, const struct rte_ether_addr *dst,
                     uint16_t ethertype);

/* @m's data starts at the L4 header, whose length is @l4_len; prepends the IPv4 header,
 * fills checksums (L4 for TCP/UDP; ICMP fills its own) in software or by offload flags,
 * and routes.  Takes @m.  Returns 0 or a negative errno (frame dropped). */
int dnet_ip4_output(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint8_t proto,
                    uint16_t l4_len);
/* The TTL every datagram carries unless its endpoint chose one (Linux's ip_default_ttl). */
#define DNET_IP4_TTL_DEF 64
/* dnet_ip4_output() with the header's @ttl and @tos (an endpoint's IP_TTL/IP_TOS). */
int dnet_ip4_output_ext(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint8_t proto,
                        uint16_t l4_len, uint8_t ttl, uint8_t tos);
/* dnet_ip4_output() for a TCP segment whose payload (what follows its @hlen header bytes)
 * the caller has summed while copying it in: @data_sum, a one's complement sum of at most
 * 17 bits (__rte_raw_cksum_reduce() of __rte_raw_cksum(), or two such added).  A software
 * checksum then reads only the header. */
int dnet_ip4_output_tcp(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint16_t hlen,
                        uint32_t data_sum, uint8_t ttl, uint8_t tos);
/* Verify the TCP/UDP checksum of @m (l2_len/l3_len set), trusting RX offload flags when the
 * device checked it.  Returns 1 if good. */
int dnet_l4_csum_ok(const struct dnet_ctx *ctx, const struct rte_mbuf *m);

/* ---- checksums (csum.c) ---- */
/* The one's complement sum of @len bytes at @buf folded to 16 bits (1..0xffff, 0 only for
 * all zeros): what __rte_raw_cksum_reduce(__rte_raw_cksum(buf, len, 0)) gives, faster.
 * dnet_csum() calls the best implementation the CPU has; both are exported for the tests. */
extern uint32_t (*dnet_csum_fn)(const void *buf, size_t len);
uint32_t dnet_csum_generic(const void *buf, size_t len);
uint32_t dnet_csum_avx2(const void *buf, size_t len);
static inline uint32_t dnet_csum(const void *buf, size_t len)
{
    return __atomic_load_n(&dnet_csum_fn, __ATOMIC_RELAXED)(buf, len);
}
int dnet_ip4_frag_init(struct dnet_ctx *ctx);
void dnet_ip4_frag_fini(struct dnet_ctx *ctx);
/* Free the fragments the reassembly dropped since the last call, counting them; once a burst. */
void dnet_ip4_frag_reap(struct dnet_ctx *ctx);

/* Resolve @ip: 0 and *mac if known; else -EINPROGRESS with @m (if not NULL) queued until the
 * reply comes, or -ENOSPC / -EHOSTUNREACH with @m freed and counted. */
int dnet_arp_resolve(struct dnet_ctx *ctx, rte_be32_t ip, struct rte_mbuf *m,
                     struct rte_ether_addr *mac);
void dnet_arp_init(struct dnet_ctx *ctx);
void dnet_arp_fini(struct dnet_ctx *ctx);

/* ---- several contexts on one port (lcore/group.c) ---- */
/* DNET_REDIR_ASK: a TCP segment passed round the contexts (dnet_group_ask). */
enum { DNET_REDIR_TCP, DNET_REDIR_UDP, DNET_REDIR_ARP, DNET_REDIR_ASK };

/* Register @ctx in its port and make its inbox (when the port has several queues).
 * Returns 0, -EBUSY (the queue has a context), -EINVAL (inbox_len too large) or -ENOMEM. */
int dnet_group_join(struct dnet_ctx *ctx);
/* Unregister @ctx and free its inbox and what is in it. */
void dnet_group_leave(struct dnet_ctx *ctx);
/* Handle up to a burst of frames from the inbox.  Returns how many. */
int dnet_group_drain(struct dnet_ctx *ctx);
/* The next ephemeral port to try (network order), one @ctx owns; advances. */
rte_be16_t dnet_eph_next(struct dnet_ctx *ctx);
struct dnet_ctx *dnet_group_owner_slow(struct dnet_ctx *ctx, rte_be16_t lport);
/* The live context of the port that owns local port @lport when it is not @ctx; else NULL
 * (@ctx owns it, or its owner has no context: handle the frame as a lone context would). */
static inline struct dnet_ctx *dnet_group_owner(struct dnet_ctx *ctx, rte_be16_t lport)
{
    /* One queue (the common case): every port is ours. */
    if (likely(ctx->inbox == NULL))
        return NULL;
    return dnet_group_owner_slow(ctx, lport);
}
/* Pass @m, a TCP segment or UDP datagram (@kind DNET_REDIR_TCP / _UDP; headers checked,
 * l2_len and l3_len set) to @owner (from dnet_group_owner): queued in its inbox, or dropped
 * and counted when the inbox is full.  Takes @m. */
void dnet_group_redirect(struct dnet_ctx *ctx, struct dnet_ctx *owner, struct rte_mbuf *m,
                         int kind);
/* A segment for a listening port that no connection of @ctx takes and that opens none (not
 * a lone SYN): its connection may live in another context, whose SYN came in on another
 * queue (af_packet's rollover, a peer that spreads its flows differently).  The contexts
 * are asked in queue order, round from @origin (the queue that received it) back to just
 * before it; each looks the segment up, and the last one answers it as its own listener
 * would (RST).  Returns 1 and takes *@mp when it is passed on to the next live context,
 * 0 when @ctx is the last to ask (or the only context). */
int dnet_group_ask(struct dnet_ctx *ctx, struct rte_mbuf **mp, uint16_t origin);
/* The queue whose context first received @m, a segment dnet_group_ask passed on. */
uint16_t dnet_group_asker(const struct rte_mbuf *m);
/* Give every other context of the port a reference to the ARP frame @m (checked, l2_len set)
 * to learn from.  @m stays the caller's. */
void dnet_group_share_arp(struct dnet_ctx *ctx, struct rte_mbuf *m);
/* Learn from an ARP frame another context received and answered (arp.c); frees @m. */
void dnet_arp_learn(struct dnet_ctx *ctx, struct rte_mbuf *m);

/* Sockets teardown on ctx destroy. */
void dnet_tcp_fini(struct dnet_ctx *ctx);
void dnet_udp_fini(struct dnet_ctx *ctx);

static inline uint64_t dnet_now_ms(const struct dnet_ctx *ctx) { return ctx->now_us / 1000; }

/* Data offsets recorded by the input path in mbuf l2_len/l3_len before protocol handlers. */
static inline struct rte_ipv4_hdr *dnet_ip4_hdr(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
}

#endif
