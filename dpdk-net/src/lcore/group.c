// SPDX-License-Identifier: MIT
// Several contexts on one port as one host: the port's registry of its contexts, which
// context owns a local port (port % queues), ephemeral ports by that rule, and the inbox
// through which one context hands frames to another (an rte_ring: many producers, the owner
// alone consumes).  No locks; see "Several contexts on one port" in dpdk-net/ctx.h.
#include <errno.h>
#include <stdio.h>

#include <rte_malloc.h>
#include <rte_ring.h>

#include "dnet_int.h"

#define EPH_LO 32768u
#define EPH_HI 60999u
#define INBOX_DEF_LEN 1024u

/* An inbox entry is the mbuf's address with its DNET_REDIR_* kind in the low bits (an mbuf
 * is cache-line aligned). */
#define KIND_MASK ((uintptr_t)3)

static void *inbox_tag(struct rte_mbuf *m, int kind)
{
    return (void *)((uintptr_t)m | (uintptr_t)kind);
}

static struct rte_mbuf *inbox_mbuf(void *obj)
{
    return (struct rte_mbuf *)((uintptr_t)obj & ~KIND_MASK);
}

uint16_t dnet_port_owner(const struct dnet_port *port, rte_be16_t lport)
{
    return port->nb_queues > 1 ? (uint16_t)(rte_be_to_cpu_16(lport) % port->nb_queues) : 0;
}

/* The context of queue @q, if one lives (another thread may be creating or destroying it:
 * the acquire pairs with the release in dnet_group_join, so its inbox is seen set up). */
static struct dnet_ctx *group_ctx(const struct dnet_ctx *ctx, uint16_t q)
{
    return __atomic_load_n(&ctx->port->ctx[q], __ATOMIC_ACQUIRE);
}

int dnet_group_join(struct dnet_ctx *ctx)
{
    struct dnet_port *port = ctx->port;
    struct dnet_ctx *none = NULL;
    uint16_t q = ctx->queue, n = port->nb_queues;

    ctx->nq = n;
    /* The lowest ephemeral port with port % n == q; dnet_eph_next steps by n from it. */
    ctx->eph_first = (uint16_t)(EPH_LO + (q + n - EPH_LO % n) % n);
    ctx->eph_next = ctx->eph_first;
    if (n > 1) {
        unsigned len = ctx->conf.inbox_len ? ctx->conf.inbox_len : INBOX_DEF_LEN;
        ssize_t sz = rte_ring_get_memsize(rte_align32pow2(len + 1));
        char name[RTE_RING_NAMESIZE];

        if (sz < 0)
            return -EINVAL;
        ctx->inbox = rte_zmalloc("dnet_inbox", (size_t)sz, RTE_CACHE_LINE_SIZE);
        if (!ctx->inbox)
            return -ENOMEM;
        /* rte_ring_init, not _create: the ring is in no global list, so no name clash. */
        snprintf(name, sizeof(name), "dnet_ib_%u_%u", port->port_id, q);
        if (rte_ring_init(ctx->inbox, name, len, RING_F_EXACT_SZ | RING_F_SC_DEQ) < 0) {
            rte_free(ctx->inbox);
            ctx->inbox = NULL;
            return -EINVAL;
        }
    }
    if (!__atomic_compare_exchange_n(&port->ctx[q], &none, ctx, 0, __ATOMIC_RELEASE,
                                     __ATOMIC_RELAXED)) {
        rte_free(ctx->inbox);
        ctx->inbox = NULL;
        return -EBUSY;
    }
    return 0;
}

void dnet_group_leave(struct dnet_ctx *ctx)
{
    struct dnet_ctx *self = ctx;
    void *obj;

    /* Only if it is ours: a context that failed to join leaves the registry alone. */
    (void)__atomic_compare_exchange_n(&ctx->port->ctx[ctx->queue], &self, NULL, 0,
                                      __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    if (!ctx->inbox)
        return;
    while (rte_ring_sc_dequeue(ctx->inbox, &obj) == 0)
        rte_pktmbuf_free(inbox_mbuf(obj));
    rte_free(ctx->inbox);
    ctx->inbox = NULL;
}

rte_be16_t dnet_eph_next(struct dnet_ctx *ctx)
{
    uint16_t p = ctx->eph_next;

    /* With one queue: 32768, 32769 ... 60999, 32768 as always. */
    ctx->eph_next = p + ctx->nq > EPH_HI ? ctx->eph_first : (uint16_t)(p + ctx->nq);
    return rte_cpu_to_be_16(p);
}

/* Put @m in @owner's inbox; counts, and frees @m when the inbox is full. */
static void group_send(struct dnet_ctx *ctx, struct dnet_ctx *owner, struct rte_mbuf *m, int kind)
{
    if (rte_ring_mp_enqueue(owner->inbox, inbox_tag(m, kind)) < 0) {
        ctx->st.redirect_drop++;
        rte_pktmbuf_free(m);
        return;
    }
    ctx->st.redirect_tx++;
}

struct dnet_ctx *dnet_group_owner_slow(struct dnet_ctx *ctx, rte_be16_t lport)
{
    uint16_t q = (uint16_t)(rte_be_to_cpu_16(lport) % ctx->nq);

    return q == ctx->queue ? NULL : group_ctx(ctx, q);
}

void dnet_group_redirect(struct dnet_ctx *ctx, struct dnet_ctx *owner, struct rte_mbuf *m, int kind)
{
    /* The owner counts the segment in its tcp_rx / udp_rx; here it is a redirect. */
    if (kind == DNET_REDIR_UDP)
        ctx->st.udp_rx--;
    else
        ctx->st.tcp_rx--;
    group_send(ctx, owner, m, kind);
}

/* The asker's queue travels in the mbuf's user hash word (the RSS hash was read already). */
uint16_t dnet_group_asker(const struct rte_mbuf *m)
{
    return (uint16_t)m->hash.usr;
}

int dnet_group_ask(struct dnet_ctx *ctx, struct rte_mbuf **mp, uint16_t origin)
{
    if (!ctx->inbox)
        return 0;
    for (uint16_t q = (uint16_t)((ctx->queue + 1) % ctx->nq); q != origin;
         q = (uint16_t)((q + 1) % ctx->nq)) {
        struct dnet_ctx *o = group_ctx(ctx, q);

        if (!o)
            continue;
        (*mp)->hash.usr = origin;
        ctx->st.redirect_ask++;
        dnet_group_redirect(ctx, o, *mp, DNET_REDIR_ASK);
        *mp = NULL;
        return 1;
    }
    return 0;
}

void dnet_group_share_arp(struct dnet_ctx *ctx, struct rte_mbuf *m)
{
    for (uint16_t q = 0; q < ctx->nq; q++) {
        struct dnet_ctx *o = q == ctx->queue ? NULL : group_ctx(ctx, q);

        if (!o)
            continue;
        /* Every context gets a reference to the same frame; all only read it. */
        rte_mbuf_refcnt_update(m, 1);
        group_send(ctx, o, m, DNET_REDIR_ARP);
    }
}

int dnet_group_drain(struct dnet_ctx *ctx)
{
    void *obj[DNET_BURST];
    struct rte_mbuf *by_kind[4][DNET_BURST];
    int cnt[4] = { 0 };
    unsigned n = rte_ring_sc_dequeue_burst(ctx->inbox, obj, DNET_BURST, NULL);

    if (n == 0)
        return 0;
    ctx->st.redirect_rx += n;
    for (unsigned i = 0; i < n; i++) {
        int k = (int)((uintptr_t)obj[i] & KIND_MASK);

        by_kind[k][cnt[k]++] = inbox_mbuf(obj[i]);
    }
    /* ARP first: a reply may release frames the segments below would otherwise queue. */
    for (int i = 0; i < cnt[DNET_REDIR_ARP]; i++)
        dnet_arp_learn(ctx, by_kind[DNET_REDIR_ARP][i]);
    if (cnt[DNET_REDIR_TCP])
        dnet_tcp_input(ctx, by_kind[DNET_REDIR_TCP], cnt[DNET_REDIR_TCP]);
    if (cnt[DNET_REDIR_ASK])
        dnet_tcp_input_asked(ctx, by_kind[DNET_REDIR_ASK], cnt[DNET_REDIR_ASK]);
    if (cnt[DNET_REDIR_UDP])
        dnet_udp_input(ctx, by_kind[DNET_REDIR_UDP], cnt[DNET_REDIR_UDP]);
    return (int)n;
}
