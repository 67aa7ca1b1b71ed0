// SPDX-License-Identifier: MIT
// TCP control blocks: allocation (from slabs), the connection table (4-tuple hash) and
// listener list, RFC 6528 ISNs (SipHash-2-4 of the 4-tuple plus a 4 us clock), and the
// transitions that end or park a connection (CLOSED, TIME_WAIT, accept queue).
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "tcp_int.h"

static unsigned tcb_bucket(rte_be32_t rip, rte_be16_t rport, rte_be16_t lport)
{
    uint32_t h = rip * 2654435761u ^ ((uint32_t)rport << 16 | lport) * 2246822519u;

    return (h ^ (h >> 15)) & (DNET_TCP_HASH - 1);
}

/* Control blocks come from slabs as large as a default buffer, not one rte_malloc each.
 * A TIME_WAIT block outlives its buffers by a minute: allocated on its own, each one sat at
 * the end of the hole some freed buffers had left (rte_malloc carves from the end of the
 * first free element that fits), shrinking it below a buffer's size; an active closer
 * (nginx after keepalive_requests, or wrk when it closes before the FIN is read) thus
 * broke a 256 MiB heap into pieces under 256 KiB after ~2200 connections, with 220 MiB
 * free, and SYNs were dropped (tcp_nomem_drop) or connect() failed with ENOMEM. */
#define TCB_SLAB_BYTES (256u * 1024)
#define TCB_SIZE RTE_ALIGN_CEIL(sizeof(struct dnet_tcb), RTE_CACHE_LINE_SIZE)

struct dnet_tcb_slab {
    struct dnet_tcb_slab *next, *prev;  /* ctx->slab_head list: slabs with room first */
    struct dnet_tcb *free;              /* blocks given back, linked by hnext */
    uint32_t used, carved, cap;         /* in use; ever handed out (the rest untouched) */
    uint8_t *blocks;
};

static void slab_unlink(struct dnet_ctx *ctx, struct dnet_tcb_slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        ctx->slab_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        ctx->slab_tail = s->prev;
    s->next = s->prev = NULL;
}

static void slab_push_head(struct dnet_ctx *ctx, struct dnet_tcb_slab *s)
{
    s->prev = NULL;
    s->next = ctx->slab_head;
    if (ctx->slab_head)
        ctx->slab_head->prev = s;
    else
        ctx->slab_tail = s;
    ctx->slab_head = s;
}

static void slab_push_tail(struct dnet_ctx *ctx, struct dnet_tcb_slab *s)
{
    s->next = NULL;
    s->prev = ctx->slab_tail;
    if (ctx->slab_tail)
        ctx->slab_tail->next = s;
    else
        ctx->slab_head = s;
    ctx->slab_tail = s;
}

/* A zeroed block from the first slab (which has room if any slab has), or a new slab.
 * Blocks are carved lazily: a slab's untouched pages cost no memory without hugepages. */
static struct dnet_tcb *tcb_slab_get(struct dnet_ctx *ctx)
{
    struct dnet_tcb_slab *s = ctx->slab_head;
    struct dnet_tcb *tcb;

    if (!s || s->used == s->cap) {
        size_t hdr = RTE_ALIGN_CEIL(sizeof(*s), RTE_CACHE_LINE_SIZE);

        s = rte_malloc("dnet_tcb_slab", TCB_SLAB_BYTES, RTE_CACHE_LINE_SIZE);
        if (!s)
            return NULL;
        memset(s, 0, sizeof(*s));
        s->blocks = (uint8_t *)s + hdr;
        s->cap = (uint32_t)((TCB_SLAB_BYTES - hdr) / TCB_SIZE);
        slab_push_head(ctx, s);
    }
    if (s->free) {
        tcb = s->free;
        s->free = tcb->hnext;
    } else {
        tcb = (struct dnet_tcb *)(s->blocks + (size_t)s->carved++ * TCB_SIZE);
    }
    if (++s->used == s->cap) {          /* full: behind the ones with room */
        slab_unlink(ctx, s);
        slab_push_tail(ctx, s);
    }
    memset(tcb, 0, sizeof(*tcb));
    tcb->slab = s;
    return tcb;
}

static void tcb_slab_put(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    struct dnet_tcb_slab *s = tcb->slab;

    tcb->hnext = s->free;
    s->free = tcb;
    if (--s->used == 0) {               /* an empty slab goes back to the heap */
        slab_unlink(ctx, s);
        rte_free(s);
    } else if (s->used == s->cap - 1) { /* was full: it has room again */
        slab_unlink(ctx, s);
        slab_push_head(ctx, s);
    }
}

struct dnet_tcb *dnet_tcb_alloc(struct dnet_ctx *ctx)
{
    struct dnet_tcb *tcb;

    if (ctx->tcp_count >= ctx->conf.max_conns)
        return NULL;
    tcb = tcb_slab_get(ctx);
    if (!tcb)
        return NULL;
    dnet_tcp_timers_init(tcb);
    tcb->rto_us = TCP_RTO_INIT_US;
    tcb->mss = TCP_DEF_PEER_MSS;
    tcb->lip = ctx->ip;
    tcb->queue = ctx->queue;
    tcb->ip_ttl = DNET_IP4_TTL_DEF;
    tcb->notsent_lowat = UINT32_MAX;
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
    if (tcb->orphan)
        ctx->tcp_orphans--;
    tcb_slab_put(ctx, tcb);
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
            tcp_lsn_give(p);
            tcb->parent = NULL;
            return;
        }
    }
    p->syn_len--;   /* not queued: it was an embryo */
    tcp_lsn_give(p);
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
        if (tcb->orphan) {             /* max_time_wait bounds it from here */
            tcb->orphan = 0;
            ctx->tcp_orphans--;
        }
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

/* An orphan keeps only what it still has to send.  Capacities stay non-zero: ring offsets
 * are taken modulo them, and the window field of what it sends comes from the receive one
 * (nothing is copied in any more: data for an orphan is answered with a RST). */
void dnet_tcp_orphan_trim(struct dnet_tcb *tcb)
{
    struct dnet_bytebuf *b = &tcb->snd;
    uint32_t first;
    uint8_t *d;

    if (!b->len) {
        rte_free(b->data);
        b->data = NULL;
        b->head = 0;
        return;
    }
    if (b->len == b->cap || !b->data)
        return;
    d = rte_malloc("dnet_snd", b->len, 0);
    if (!d)
        return;                        /* keeps the larger one; nothing is lost */
    first = RTE_MIN(b->len, b->cap - b->head);
    memcpy(d, b->data + b->head, first);
    memcpy(d + first, b->data, b->len - first);
    rte_free(b->data);
    b->data = d;
    b->cap = b->len;
    b->head = 0;
}

int dnet_tcp_orphan(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    if (ctx->tcp_orphans >= ctx->conf.max_orphans)
        return -ENOSPC;
    tcb->orphan = 1;
    ctx->tcp_orphans++;
    rte_free(tcb->rcv.data);
    tcb->rcv.data = NULL;
    tcb->rcv.len = 0;
    tcb->nooo = 0;                     /* out-of-order bytes nobody will read */
    dnet_tcp_orphan_trim(tcb);
    return 0;
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
