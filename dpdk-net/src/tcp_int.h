// SPDX-License-Identifier: MIT
// TCP internals: the control block, sequence arithmetic, segment descriptors, and the
// functions tcp_in.c, tcp_out.c, tcp_timer.c and tcp_api.c share.
#ifndef DNET_TCP_INT_H
#define DNET_TCP_INT_H

/* Linux's tcp_invalid_ratelimit default: ACKs for refused segments, per connection. */
#define DNET_TCP_OOW_ACK_US 500000u

#include <stdint.h>

#include <rte_tcp.h>

#include "dnet_int.h"
#include "dpdk-net/socket.h"

#define TCP_F_FIN 0x01
#define TCP_F_SYN 0x02
#define TCP_F_RST 0x04
#define TCP_F_PSH 0x08
#define TCP_F_ACK 0x10

/* Option kinds (RFC 9293, 7323, 2018). */
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2
#define TCP_OPT_WS 3
#define TCP_OPT_SACK_OK 4
#define TCP_OPT_SACK 5
#define TCP_OPT_TS 8

#define TCP_OUR_MSS 1460u           /* MTU 1500 - 40 */
#define TCP_DEF_PEER_MSS 536u       /* RFC 9293 default when the peer sends no MSS */
#define TCP_OOO_MAX 8u
#define TCP_SACK_MAX 8u             /* SACKed ranges the sender remembers */
#define TCP_RTO_INIT_US 1000000u    /* RFC 6298 2.1 */
#define TCP_RTO_MAX_US 120000000u
#define TCP_SYN_RETRIES 6
#define TCP_DATA_RETRIES 15
#define TCP_ORPHAN_RETRIES 8        /* Linux tcp_orphan_retries: RTOs or zero-window probes */
#define TCP_PERSIST_MAX_US 60000000u
#define TCP_CORK_US 200000u        /* how long TCP_CORK holds a tail at most (Linux, tcp(7)) */

static inline int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline int seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

/* A byte ring: send buffer (head = first unacknowledged byte) or receive buffer
 * (head = first unread byte; len = in-order bytes; out-of-order data sits after them). */
struct dnet_bytebuf {
    uint8_t *data;
    uint32_t cap, head, len;
};

struct dnet_seqrange {
    uint32_t start, end;
};

/* Parsed options of a received segment. */
struct tcp_opts {
    uint16_t mss;
    uint8_t ws, has_mss, has_ws, sack_ok, has_ts, nsack;
    uint32_t tsval, tsecr;
    struct dnet_seqrange sack[4];
};

/* A received segment after header checks. */
struct tcp_seg {
    rte_be32_t sip;
    rte_be16_t sport, dport;
    uint32_t seq, ack, wnd;  /* wnd: raw 16-bit field */
    uint8_t flags;
    uint32_t len;            /* payload bytes */
    const uint8_t *data;
    struct tcp_opts opt;
};

enum { TCP_RTX_NONE, TCP_RTX_RTO, TCP_RTX_PERSIST, TCP_RTX_TIMEWAIT, TCP_RTX_TLP, TCP_RTX_CORK };

struct dnet_tcb {
    struct dnet_tcb *hnext;        /* hash chain, the listener list, or a slab's free list */
    struct dnet_tcb_slab *slab;    /* where it was carved (tcp_tcb.c) */
    struct dnet_tcb *parent;       /* listener while embryonic or unaccepted */
    struct dnet_tcb *aq_next;      /* accept queue link */
    rte_be32_t lip, rip;
    rte_be16_t lport, rport;
    uint8_t state;
    uint8_t user_ref;              /* a handle is held by the socket layer */
    uint8_t hashed, passive, shut_rd, shut_wr, rcv_fin, nodelay;
    uint8_t cork;                  /* TCP_CORK */
    uint8_t push;                  /* this output pass sends a held tail (dnet_tcp_push) */
    uint8_t ts_ok, ws_ok, sack_ok, ack_now, delack_segs, rtx_kind;
    uint8_t snd_wscale, rcv_wscale, backoff, retries, dupacks, in_recovery, rtt_active;
    uint8_t tlp_out;               /* a loss probe went out; none again until snd_una moves */
    uint8_t tw;                    /* counted in ctx->tcp_tw_count, not ctx->tcp_count */
    uint8_t orphan;                /* counted in ctx->tcp_orphans (user_ref is 0) */
    uint8_t ip_ttl, ip_tos;        /* every segment's IPv4 TTL and TOS (dnet_tcp_set_tx) */
    uint8_t reuse;                 /* DNET_REUSE* of its socket (dnet_tcp_set_reuse) */
    uint32_t notsent_lowat;        /* TCP_NOTSENT_LOWAT: DNET_EV_OUT rule; UINT32_MAX = none */
    int err;                       /* pending error, positive errno */
    uint64_t ev_stamp;             /* dnet_tcp_ev_stamp(): moves when the events may change */
    void *user;                    /* dnet_tcp_set_user(); non-NULL: touches are queued */
    struct dnet_tcb *tq_next, *tq_prev; /* ctx->tq_head list, while tq_on */
    uint8_t tq_on;

    /* listener */
    struct dnet_tcb *aq_head, *aq_tail;
    uint32_t aq_len, syn_len, backlog;
    uint32_t queued_own;           /* syn_len + aq_len, when no group shares the count */
    uint32_t *queued;              /* &queued_own, or the group's (dnet_tcp_listen_share) */

    /* send side */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, snd_buf_seq, fin_seq;
    uint32_t mss, cwnd, ssthresh, recover;
    uint32_t high_rxt;             /* loss recovery resent everything below (RFC 6675 HighRxt) */
    uint32_t rxt_mark;             /* snd_max when the current round of hole repair began */
    uint8_t nsacked;
    struct dnet_seqrange sacked[TCP_SACK_MAX]; /* SACK scoreboard: sorted, merged, > snd_una */
    uint32_t srtt_us, rttvar_us, rto_us, rtt_seq;
    uint64_t rtt_start_us;

    /* receive side */
    uint32_t irs, rcv_nxt, rcv_adv, last_ack_sent, ts_recent, ooo_fin_seq;
    uint8_t nooo, ooo_fin, sack_first;
    struct dnet_seqrange ooo[TCP_OOO_MAX];

    /* keepalive (off while ka_idle_us == 0) */
    uint64_t ka_idle_us, ka_intvl_us, last_rcv_us;
    uint64_t oow_ack_us;           /* when the last ACK for a refused segment left, + 1 */
    uint32_t ka_cnt, ka_probes;

    struct dnet_bytebuf snd, rcv;
    struct dnet_timer rtx_timer, delack_timer, ka_timer;

    /* Counters for TCP_INFO (tcp_stats.c); nothing in the stack reads them. */
    uint64_t born_us;              /* the first segment out (SYN or SYN-ACK) */
    uint64_t last_data_sent_us, last_data_rcv_us, last_ack_rcv_us;
    uint64_t bytes_sent, bytes_retrans;   /* payload bytes, retransmissions included */
    uint32_t segs_out, segs_in, data_segs_out, data_segs_in, total_retrans;
    uint32_t rcv_mss;              /* the largest payload received */
    uint32_t min_rtt_us;           /* the smallest RTT sample, 0 = none yet */

    uint16_t queue;                /* its context's queue (dnet_tcb_queue) */
};

/* What dnet_tcp_events() says of @tcb (or of its listener: the accept queue) may change
 * now: give it a fresh stamp from the context's clock.  Called at every way in that
 * touches a block (a segment for it, its timers, the socket.h calls) and where a block
 * changes its listener's queue, so a stamp that did not move means events that did not. */
static inline void dnet_tcb_stamp(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->ev_stamp = ++ctx->ev_clock;
    if (tcb->user && !tcb->tq_on) {
        tcb->tq_on = 1;
        tcb->tq_next = NULL;
        tcb->tq_prev = ctx->tq_tail;
        if (ctx->tq_tail)
            ctx->tq_tail->tq_next = tcb;
        else
            ctx->tq_head = tcb;
        ctx->tq_tail = tcb;
    }
}

static inline void dnet_tcb_touch(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    dnet_tcb_stamp(ctx, tcb);
    if (tcb->parent)
        dnet_tcb_stamp(ctx, tcb->parent);
}

/* Off the touched list (the user let go, or the block is freed). */
static inline void dnet_tcb_untouch(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    if (!tcb->tq_on)
        return;
    if (tcb->tq_prev)
        tcb->tq_prev->tq_next = tcb->tq_next;
    else
        ctx->tq_head = tcb->tq_next;
    if (tcb->tq_next)
        tcb->tq_next->tq_prev = tcb->tq_prev;
    else
        ctx->tq_tail = tcb->tq_prev;
    tcb->tq_on = 0;
}

/* tcp_api.c: table, allocation, state changes */
struct dnet_tcb *dnet_tcb_alloc(struct dnet_ctx *ctx);
int dnet_tcb_buffers(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcb_listener_free(struct dnet_ctx *ctx, struct dnet_tcb *lsn);
void dnet_tcb_hash(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
struct dnet_tcb *dnet_tcb_lookup(struct dnet_ctx *ctx, rte_be32_t rip, rte_be16_t rport,
                                 rte_be16_t lport);
struct dnet_tcb *dnet_tcb_listener(struct dnet_ctx *ctx, rte_be16_t lport);
uint32_t dnet_tcp_isn(struct dnet_ctx *ctx, const struct dnet_tcb *tcb);
/* Enter CLOSED: unhash, stop timers, record @err (0 = none); frees the block when nobody
 * holds it.  The block must not be used after this returns unless user_ref is set. */
void dnet_tcp_set_closed(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int err);
/* A passive child reached ESTABLISHED: move it to the listener's accept queue. */
void dnet_tcp_child_established(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* Enter (or restart) TIME_WAIT.  The block leaves max_conns for max_time_wait and gives its
 * buffers back (the receive buffer only once nobody can read it); past max_time_wait it stays
 * only until the next tick, so the ACK already queued goes out (Linux tcp_max_tw_buckets). */
void dnet_tcp_enter_time_wait(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* The user let go of a TIME_WAIT block: the receive buffer goes too. */
void dnet_tcp_time_wait_orphan(struct dnet_tcb *tcb);
/* The user let go of a connection that still finishes (it must hold no unread data):
 * count it in ctx->tcp_orphans, free the receive buffer and shrink the send buffer to
 * what it holds.  Returns -ENOSPC (nothing done) when max_orphans are already counted. */
int dnet_tcp_orphan(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* An orphan's send buffer: shrunk to the bytes it holds (freed when empty). */
void dnet_tcp_orphan_trim(struct dnet_tcb *tcb);
uint32_t dnet_tcp_rcv_window(const struct dnet_tcb *tcb);

/* tcp_in.c / tcp_ack.c */
void dnet_tcp_established(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcp_fin_in(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* ACK processing; returns < 0 when the segment must not be processed further (it acked
 * unsent data, or the block was freed at the end of LAST_ACK), else 0. */
int dnet_tcp_ack_in(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const struct tcp_seg *s);
void dnet_tcp_data_in(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t seq,
                      const uint8_t *data, uint32_t len);

/* tcp_out.c */
void dnet_tcp_output(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
int dnet_tcp_send_syn(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcp_send_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* The ACK that answers refused segment @s (out of window, PAWS, an ACK of data never sent;
 * NULL: an RFC 5961 challenge): at most one per DNET_TCP_OOW_ACK_US per connection unless
 * @s carried data or a FIN and no SYN (counted in tcp_oow_ack_limited when held back).
 * @return 1 if the ACK went out, 0 if not. */
int dnet_tcp_send_oow_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const struct tcp_seg *s);
void dnet_tcp_send_rst(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcp_retransmit_first(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* Resend @len (<= mss) bytes at @seq (snd_una <= seq, inside the send buffer). */
void dnet_tcp_retransmit_at(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t seq, uint32_t len);
void dnet_tcp_send_probe(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* Tail loss probe: one new segment if there is data and the peer's window allows (cwnd
 * does not apply), else the last segment again. */
void dnet_tcp_send_tlp(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* RST in answer to @s, which matched no connection (RFC 9293 3.10.7.1). */
void dnet_tcp_reply_rst(struct dnet_ctx *ctx, const struct tcp_seg *s);

/* tcp_sack.c: the sender's SACK scoreboard (RFC 2018, RFC 6675) */
/* Add [start, end) to the sorted, merged ranges r[0..*n) (room for @max), merging what it
 * overlaps or touches.  Returns the index of the range holding it, or -1 when full. */
int dnet_seqrange_add(struct dnet_seqrange *r, uint8_t *n, unsigned max, uint32_t start,
                      uint32_t end);
/* Record the SACK blocks of @s (an ACK for this connection).  Returns 1 if they SACKed
 * bytes the scoreboard did not hold yet (an RFC 6675 duplicate ACK), else 0. */
int dnet_tcp_sack_update(struct dnet_tcb *tcb, const struct tcp_seg *s);
/* snd_una moved: forget what it covers. */
void dnet_tcp_sack_prune(struct dnet_tcb *tcb);
/* Forget everything (a timeout: the receiver may have reneged, RFC 6675 5.1). */
void dnet_tcp_sack_clear(struct dnet_tcb *tcb);
/* Loss recovery: resend the first hole at or above high_rxt (an unSACKed range below a
 * SACKed one), never SACKed bytes.  Returns 1 if a segment was sent, 0 if no hole is left. */
int dnet_tcp_sack_retransmit(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* RFC 6675 pipe from the scoreboard: bytes sent above the highest SACKed byte, plus the holes
 * below it that this recovery has resent; holes not resent yet are lost, not in flight. */
uint32_t dnet_tcp_sack_pipe(const struct dnet_tcb *tcb);
/* RFC 6675 IsLost(snd_una): more than DupThresh - 1 segments' worth of bytes SACKed. */
int dnet_tcp_sack_lost(const struct dnet_tcb *tcb);
/* In SACK recovery: resend holes while the pipe leaves room in cwnd (RFC 6675 NextSeg rule
 * 1); the output loop then fills what is left with new data. */
void dnet_tcp_sack_recover(struct dnet_ctx *ctx, struct dnet_tcb *tcb);

/* tcp_timer.c */
void dnet_tcp_timers_init(struct dnet_tcb *tcb);
void dnet_tcp_rtt_sample(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint64_t rtt_us);
void dnet_tcp_arm_rto(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* Data is in flight: arm the tail loss probe when it may go before the RTO, else the RTO. */
void dnet_tcp_arm_loss(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcp_arm_persist(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcp_schedule_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
/* A segment arrived: the keepalive idle time starts again. */
void dnet_tcp_ka_touch(struct dnet_ctx *ctx, struct dnet_tcb *tcb);
void dnet_tcp_timers_stop(struct dnet_tcb *tcb);

/* A listener's queues (SYN + accept) against its backlog.  The count may be a group's, moved
 * by several contexts at once: a slot is taken by compare-and-swap, so the group never holds
 * more than the backlog. */
static inline int tcp_lsn_take(struct dnet_tcb *lsn)
{
    uint32_t n = __atomic_load_n(lsn->queued, __ATOMIC_RELAXED);

    do {
        if (n >= lsn->backlog)
            return -1;
    } while (!__atomic_compare_exchange_n(lsn->queued, &n, n + 1, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return 0;
}

static inline void tcp_lsn_give(struct dnet_tcb *lsn)
{
    __atomic_fetch_sub(lsn->queued, 1, __ATOMIC_RELAXED);
}

static inline uint32_t tcp_flight(const struct dnet_tcb *tcb) { return tcb->snd_max - tcb->snd_una; }

/* The states in which data (or a retransmission) may go out. */
static inline int tcp_can_send(const struct dnet_tcb *tcb)
{
    switch (tcb->state) {
    case DNET_TCP_ESTABLISHED: case DNET_TCP_CLOSE_WAIT: case DNET_TCP_FIN_WAIT_1:
    case DNET_TCP_CLOSING: case DNET_TCP_LAST_ACK:
        return 1;
    default:
        return 0;
    }
}

/* Loss recovery uses the scoreboard (RFC 6675) when the peer SACKs and has told us something
 * above snd_una, or when part of this recovery was already driven by it. */
static inline int tcp_sack_recovery(const struct dnet_tcb *tcb)
{
    return tcb->sack_ok && (tcb->nsacked || seq_gt(tcb->high_rxt, tcb->snd_una));
}

#endif
