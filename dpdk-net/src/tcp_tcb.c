// SPDX-License-Identifier: MIT
// TCP control blocks: allocation, the connection table (4-tuple hash) and listener list,
// RFC 6528 ISNs (SipHash-2-4 of the 4-tuple plus a 4 us clock), and the transitions that
// end or park a connection (CLOSED, TIME_WAIT, accept queue).
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "tcp_int.h"

static unsigned tcb_bucket(rte_be32_t rip, rte_be16_t rport, rte_be16_t lport)
{
    uint32_t h = rip * 2654435761u ^ ((uint32_t)rport << 16 | lport) * 2246822519u;

    return (h ^ (h >> 15)) & (DNET_TCP_HASH - 1);
}

struct dnet_tcb *dnet_tcb_alloc(struct dnet_ctx *ctx)
{
    struct dnet_tcb *tcb;

    if (ctx->tcp_count >= ctx->conf.max_conns)
        return NULL;
    tcb = rte_zmalloc("dnet_tcb", sizeof(*tcb), RTE_CACHE_LINE_SIZE);
    if (!tcb)
        return NULL;
    dnet_tcp_timers_init(tcb);
    tcb->rto_us = TCP_RTO_INIT_US;
    tcb->mss = TCP_DEF_PEER_MSS;
    tcb->lip = ctx->ip;
    tcb->queue = ctx->queue;
    /* Smallest scale that lets the window field cover the whole receive buffer. */
    while ((65535u << tcb->rcv_wscale) < ctx->conf.rcvbuf && tcb->rcv_wscale < 14)
        tcb->rcv_wscale++;
    ctx->tcp_count++;
    dnet_tcb_touch(ctx, tcb);   /* a stamp no earlier block at this address had */
    return tcb;
}

/* Buffers are allocated only for connections (listeners have none). */
int dnet_tcb_buffers(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->snd.cap = ctx->conf.sndbuf;
    tcb->rcv.cap = ctx->conf.rcvbuf;
    tcb->snd.data = rte_malloc("dnet_snd", tcb->snd.cap, 0);
    tcb->rcv.data = rte_malloc("dnet_rcv", tcb->rcv.cap, 0);
    return tcb->snd.data && tcb->rcv.data ? 0 : -ENOMEM;
}

static void tcb_free(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    dnet_tcb_untouch(ctx, tcb);
    dnet_tcp_timers_stop(tcb);
    rte_free(tcb->snd.data);
    rte_free(tcb->rcv.data);
    if (tcb->tw)
        ctx->tcp_tw_count--;
    else
        ctx->tcp_count--;
    rte_free(tcb);
}

void dnet_tcb_hash(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    struct dnet_tcb **b = &ctx->tcp_hash[tcb_bucket(tcb->rip, tcb->rport, tcb->lport)];

    tcb->hnext = *b;
    *b = tcb;
    tcb->hashed = 1;
}

static void tcb_unhash(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    struct dnet_tcb **pp = &ctx->tcp_hash[tcb_bucket(tcb->rip, tcb->rport, tcb->lport)];

    if (!tcb->hashed)
        return;
    for (; *pp; pp = &(*pp)->hnext) {
        if (*pp == tcb) {
            *pp = tcb->hnext;
            break;
        }
    }
    tcb->hashed = 0;
}

struct dnet_tcb *dnet_tcb_lookup(struct dnet_ctx *ctx, rte_be32_t rip, rte_be16_t rport,
                                 rte_be16_t lport)
{
    for (struct dnet_tcb *t = ctx->tcp_hash[tcb_bucket(rip, rport, lport)]; t; t = t->hnext)
        if (t->rip == rip && t->rport == rport && t->lport == lport)
            return t;
    return NULL;
}

struct dnet_tcb *dnet_tcb_listener(struct dnet_ctx *ctx, rte_be16_t lport)
{
    for (struct dnet_tcb *t = ctx->tcp_listen; t; t = t->hnext)
        if (t->lport == lport)
            return t;
    return NULL;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
    } while (0)

/* SipHash-2-4 of two 64-bit words (the 4-tuple). */
static uint64_t siphash_2w(const uint64_t k[2], uint64_t a, uint64_t b)
{
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ull, v1 = k[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ull, v3 = k[1] ^ 0x7465646279746573ull;
    uint64_t m[3] = { a, b, 16ull << 56 };

    for (int i = 0; i < 3; i++) {
        v3 ^= m[i];
        SIPROUND;
        SIPROUND;
        v0 ^= m[i];
    }
    v2 ^= 0xff;
    SIPROUND; SIPROUND; SIPROUND; SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t dnet_tcp_isn(struct dnet_ctx *ctx, const struct dnet_tcb *tcb)
{
    uint64_t a = (uint64_t)tcb->lip << 32 | tcb->rip;
    uint64_t b = (uint64_t)tcb->lport << 16 | tcb->rport;

    /* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 microsecond timer. */
    return (uint32_t)(ctx->now_us / 4) + (uint32_t)siphash_2w(ctx->isn_secret, a, b);
}

uint32_t dnet_tcp_rcv_window(const struct dnet_tcb *tcb)
{
    return seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
}

static void tcb_detach_parent(struct dnet_tcb *tcb)
{
    struct dnet_tcb *p = tcb->parent;

    if (!p)
        return;
    for (struct dnet_tcb **pp = &p->aq_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->aq_next) {
        if (*pp == tcb) {
            *pp = tcb->aq_next;
            if (p->aq_tail == tcb)
                p->aq_tail = prev;
            p->aq_len--;
            tcb->parent = NULL;
            return;
        }
    }
    p->syn_len--;   /* not queued: it was an embryo */
    tcb->parent = NULL;
}

void dnet_tcp_set_closed(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int err)
{
    dnet_tcb_touch(ctx, tcb);   /* and its listener, whose queue it may leave */
    tcb->state = DNET_TCP_CLOSED;
    if (err)
        tcb->err = err;
    dnet_tcp_timers_stop(tcb);
    tcb_unhash(ctx, tcb);
    if (tcb->parent) {
        tcb_detach_parent(tcb);
        tcb_free(ctx, tcb);
        return;
    }
    if (!tcb->user_ref)
        tcb_free(ctx, tcb);
}

void dnet_tcp_child_established(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    struct dnet_tcb *p = tcb->parent;

    if (!p)
        return;
    dnet_tcb_touch(ctx, tcb);   /* the listener: its accept queue grows */
    p->syn_len--;
    tcb->aq_next = NULL;
    if (p->aq_tail)
        p->aq_tail->aq_next = tcb;
    else
        p->aq_head = tcb;
    p->aq_tail = tcb;
    p->aq_len++;
}

/* TIME_WAIT keeps only what answers the peer's old segments: sequence numbers, timestamps,
 * the window it was offered.  Our FIN is acknowledged, so the send buffer is empty; the
 * receive buffer goes once nobody can read it.  Capacities stay: the window field of the
 * ACKs sent from here is computed from them, and nothing copies in or out any more (no
 * data is accepted in TIME_WAIT, and recv on an empty buffer reads nothing). */
static void tcb_time_wait_trim(struct dnet_tcb *tcb)
{
    rte_free(tcb->snd.data);
    tcb->snd.data = NULL;
    if (!tcb->user_ref || !tcb->rcv.len) {
        rte_free(tcb->rcv.data);
        tcb->rcv.data = NULL;
        tcb->rcv.len = 0;
    }
}

void dnet_tcp_enter_time_wait(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    dnet_tcb_touch(ctx, tcb);
    uint64_t wait_us = ctx->conf.time_wait_ms * 1000ull;

    if (tcb->state != DNET_TCP_TIME_WAIT) {
        /* TIME_WAIT blocks are not connections: without a limit of their own, an active
         * closer serving short connections (nginx after keepalive_requests) would fill
         * max_conns with them in seconds and refuse every SYN after. */
        if (ctx->tcp_tw_count < ctx->conf.max_time_wait) {
            tcb->tw = 1;
            ctx->tcp_count--;
            ctx->tcp_tw_count++;
        } else {
            ctx->st.tcp_tw_overflow++;
        }
        tcb->state = DNET_TCP_TIME_WAIT;
        tcb_time_wait_trim(tcb);
    }
    /* Over the limit: gone at the next tick, once the ACK of the peer's FIN has left. */
    if (!tcb->tw)
        wait_us = 0;
    dnet_timer_cancel(&tcb->delack_timer);
    tcb->rtx_kind = TCP_RTX_TIMEWAIT;
    dnet_timer_arm(ctx, &tcb->rtx_timer, wait_us);
}

void dnet_tcp_time_wait_orphan(struct dnet_tcb *tcb)
{
    tcb_time_wait_trim(tcb);
}

/* Free a listener and every connection it still parents (RST to the established ones). */
void dnet_tcb_listener_free(struct dnet_ctx *ctx, struct dnet_tcb *lsn)
{
    for (struct dnet_tcb **pp = &ctx->tcp_listen; *pp; pp = &(*pp)->hnext) {
        if (*pp == lsn) {
            *pp = lsn->hnext;
            break;
        }
    }
    for (unsigned i = 0; i < DNET_TCP_HASH; i++) {
        struct dnet_tcb *t = ctx->tcp_hash[i], *next;

        for (; t; t = next) {
            next = t->hnext;
            if (t->parent != lsn)
                continue;
            if (t->state != DNET_TCP_SYN_RCVD)
                dnet_tcp_send_rst(ctx, t);
            dnet_tcp_set_closed(ctx, t, 0);
        }
    }
    tcb_free(ctx, lsn);
}

void dnet_tcp_fini(struct dnet_ctx *ctx)
{
    for (unsigned i = 0; i < DNET_TCP_HASH; i++) {
        while (ctx->tcp_hash[i]) {
            struct dnet_tcb *t = ctx->tcp_hash[i];

            tcb_unhash(ctx, t);
            t->parent = NULL;
            tcb_free(ctx, t);
        }
    }
    while (ctx->tcp_listen) {
        struct dnet_tcb *l = ctx->tcp_listen;

        ctx->tcp_listen = l->hnext;
        tcb_free(ctx, l);
    }
}
