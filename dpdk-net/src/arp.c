// SPDX-License-Identifier: MIT
// ARP (RFC 826): the context's cache (open addressing with tombstones), requests with
// retries, replies, gratuitous announcements, frames queued while resolving, and the
// re-confirmation of entries in use (RFC 1122 2.3.2.1), so that a changed address heals.
#include <errno.h>
#include <string.h>

#include <rte_arp.h>

#include "dnet_int.h"

#define ARP_RETRY_US 1000000u
#define ARP_TRIES 3
/* A learnt entry unconfirmed for longer is stale (Linux's base_reachable_time): the next
 * frame to it still goes to the cached address, and starts unicast probes (RFC 1122
 * 2.3.2.1, Linux's PROBE state); ARP_TRIES of them unanswered, the entry is resolved
 * again by broadcast, as a new one.  Without it an entry lived for ever: a peer whose
 * address changed without a gratuitous ARP (or one a corrupted or forged ARP frame
 * rewrote) was unreachable until it happened to send ARP itself. */
#define ARP_REACHABLE_US 30000000u

static unsigned arp_hash(rte_be32_t ip)
{
    return (uint32_t)(ip * 2654435761u) >> 24; /* DNET_ARP_SLOTS == 256 */
}

static struct dnet_arp_entry *arp_find(struct dnet_ctx *ctx, rte_be32_t ip)
{
    unsigned h = arp_hash(ip);

    for (unsigned i = 0; i < DNET_ARP_SLOTS; i++) {
        struct dnet_arp_entry *e = &ctx->arp[(h + i) & (DNET_ARP_SLOTS - 1)];

        if (e->state == DNET_ARP_FREE)
            return NULL;
        if (e->state != DNET_ARP_DEAD && e->ip == ip)
            return e;
    }
    return NULL;
}

static struct dnet_arp_entry *arp_insert(struct dnet_ctx *ctx, rte_be32_t ip)
{
    unsigned h = arp_hash(ip);

    for (unsigned i = 0; i < DNET_ARP_SLOTS; i++) {
        struct dnet_arp_entry *e = &ctx->arp[(h + i) & (DNET_ARP_SLOTS - 1)];

        if (e->state == DNET_ARP_FREE || e->state == DNET_ARP_DEAD) {
            e->ip = ip;
            e->state = DNET_ARP_PENDING;
            e->tries = 0;
            e->nq = 0;
            e->permanent = 0;
            return e;
        }
    }
    return NULL;
}

static void arp_send(struct dnet_ctx *ctx, uint16_t op, const struct rte_ether_addr *tha,
                     rte_be32_t tip, const struct rte_ether_addr *eth_dst)
{
    struct rte_mbuf *m = dnet_pkt_alloc(ctx);
    struct rte_arp_hdr *ah;

    if (!m)
        return;
    ah = (struct rte_arp_hdr *)rte_pktmbuf_append(m, sizeof(*ah));
    ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ah->arp_hlen = RTE_ETHER_ADDR_LEN;
    ah->arp_plen = 4;
    ah->arp_opcode = rte_cpu_to_be_16(op);
    rte_ether_addr_copy(&ctx->mac, &ah->arp_data.arp_sha);
    ah->arp_data.arp_sip = ctx->ip;
    rte_ether_addr_copy(tha, &ah->arp_data.arp_tha);
    ah->arp_data.arp_tip = tip;
    ctx->st.arp_tx++;
    dnet_eth_output(ctx, m, eth_dst, RTE_ETHER_TYPE_ARP);
}

static void arp_request(struct dnet_ctx *ctx, rte_be32_t ip)
{
    static const struct rte_ether_addr zero = { { 0 } };
    static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

    arp_send(ctx, RTE_ARP_OP_REQUEST, &zero, ip, &bcast);
}

/* One unicast probe of a stale entry (arp_timer_fn sends the next ones). */
static void arp_probe(struct dnet_ctx *ctx, struct dnet_arp_entry *e)
{
    e->tries++;
    arp_send(ctx, RTE_ARP_OP_REQUEST, &e->mac, e->ip, &e->mac);
    dnet_timer_arm(ctx, &e->timer, ARP_RETRY_US);
}

static void arp_drop_queue(struct dnet_ctx *ctx, struct dnet_arp_entry *e)
{
    ctx->st.arp_unresolved_drop += e->nq;
    rte_pktmbuf_free_bulk(e->q, e->nq);
    e->nq = 0;
}

static void arp_timer_fn(struct dnet_ctx *ctx, struct dnet_timer *t)
{
    struct dnet_arp_entry *e = container_of(t, struct dnet_arp_entry, timer);

    if (e->state == DNET_ARP_RESOLVED) {
        /* Probing a stale entry (arp_stale): a frame from it ends the probes (arp_learn). */
        if (e->tries < ARP_TRIES) {
            arp_probe(ctx, e);
            return;
        }
        e->state = DNET_ARP_PENDING;       /* gone, or moved: ask everyone */
        e->tries = 0;
    }
    if (e->state != DNET_ARP_PENDING)
        return;
    if (e->tries >= ARP_TRIES) {
        arp_drop_queue(ctx, e);
        e->state = DNET_ARP_DEAD;
        return;
    }
    e->tries++;
    arp_request(ctx, e->ip);
    dnet_timer_arm(ctx, &e->timer, ARP_RETRY_US);
}

/* Record ip -> mac, confirmed now; sends frames that waited for it. */
static void arp_learn(struct dnet_ctx *ctx, struct dnet_arp_entry *e, const struct rte_ether_addr *mac)
{
    rte_ether_addr_copy(mac, &e->mac);
    e->state = DNET_ARP_RESOLVED;
    e->confirmed_us = ctx->now_us;
    e->tries = 0;
    dnet_timer_cancel(&e->timer);
    for (unsigned i = 0; i < e->nq; i++)
        dnet_eth_output(ctx, e->q[i], &e->mac, RTE_ETHER_TYPE_IPV4);
    e->nq = 0;
}

void dnet_arp_init(struct dnet_ctx *ctx)
{
    for (unsigned i = 0; i < DNET_ARP_SLOTS; i++) {
        ctx->arp[i].ctx = ctx;
        dnet_timer_init(&ctx->arp[i].timer, arp_timer_fn);
    }
}

void dnet_arp_fini(struct dnet_ctx *ctx)
{
    for (unsigned i = 0; i < DNET_ARP_SLOTS; i++) {
        rte_pktmbuf_free_bulk(ctx->arp[i].q, ctx->arp[i].nq);
        ctx->arp[i].nq = 0;
        dnet_timer_cancel(&ctx->arp[i].timer);
    }
}

int dnet_arp_resolve(struct dnet_ctx *ctx, rte_be32_t ip, struct rte_mbuf *m, struct rte_ether_addr *mac)
{
    struct dnet_arp_entry *e = arp_find(ctx, ip);

    if (e && e->state == DNET_ARP_RESOLVED) {
        /* Stale and not yet probed (tries counts the probes; arp_learn zeroes it). */
        if (unlikely(ctx->now_us - e->confirmed_us > ARP_REACHABLE_US) && !e->permanent &&
            !e->tries)
            arp_probe(ctx, e);
        rte_ether_addr_copy(&e->mac, mac);
        return 0;
    }
    if (!e) {
        e = arp_insert(ctx, ip);
        if (!e) {
            ctx->st.arp_unresolved_drop += m != NULL;
            rte_pktmbuf_free(m);
            return -ENOSPC;
        }
        e->tries = 1;
        arp_request(ctx, ip);
        dnet_timer_arm(ctx, &e->timer, ARP_RETRY_US);
    }
    if (!m)
        return -EINPROGRESS;
    if (e->nq == DNET_ARP_QLEN) {
        ctx->st.arp_unresolved_drop++;
        rte_pktmbuf_free(m);
        return -EHOSTUNREACH;
    }
    e->q[e->nq++] = m;
    return -EINPROGRESS;
}

/* RFC 826 merge: refresh a known sender; learn it only if the packet is for us. */
static void arp_merge(struct dnet_ctx *ctx, const struct rte_arp_hdr *ah)
{
    struct dnet_arp_entry *e;

    if (ah->arp_data.arp_sip == 0 || ah->arp_data.arp_sip == ctx->ip)
        return;
    e = arp_find(ctx, ah->arp_data.arp_sip);
    if (!e && ah->arp_data.arp_tip == ctx->ip)
        e = arp_insert(ctx, ah->arp_data.arp_sip);
    if (e && !e->permanent)
        arp_learn(ctx, e, &ah->arp_data.arp_sha);
}

void dnet_arp_learn(struct dnet_ctx *ctx, struct rte_mbuf *m)
{
    /* Checked by the context that received it; that one answered it too. */
    arp_merge(ctx, rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, m->l2_len));
    rte_pktmbuf_free(m);
}

int dnet_arp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    for (int i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        struct rte_arp_hdr *ah;
        uint16_t op;
        int for_us;

        ctx->st.arp_rx++;
        if (rte_pktmbuf_data_len(m) < m->l2_len + sizeof(*ah))
            goto bad;
        ah = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, m->l2_len);
        op = rte_be_to_cpu_16(ah->arp_opcode);
        if (ah->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
            ah->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
            ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != 4 ||
            (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
            !rte_is_unicast_ether_addr(&ah->arp_data.arp_sha))
            goto bad;
        for_us = ah->arp_data.arp_tip == ctx->ip;
        arp_merge(ctx, ah);
        if (op == RTE_ARP_OP_REQUEST && for_us && ah->arp_data.arp_sip != ctx->ip) {
            struct rte_ether_addr sha = ah->arp_data.arp_sha;

            arp_send(ctx, RTE_ARP_OP_REPLY, &sha, ah->arp_data.arp_sip, &sha);
        }
        /* Several contexts on the port: the others learn from it too (answered once, here). */
        if (ctx->inbox && ah->arp_data.arp_sip != 0 && ah->arp_data.arp_sip != ctx->ip)
            dnet_group_share_arp(ctx, m);
        rte_pktmbuf_free(m);
        continue;
bad:
        ctx->st.arp_bad++;
        rte_pktmbuf_free(m);
    }
    return n;
}

int dnet_arp_add(struct dnet_ctx *ctx, rte_be32_t ip, const struct rte_ether_addr *mac)
{
    struct dnet_arp_entry *e = arp_find(ctx, ip);

    if (!e)
        e = arp_insert(ctx, ip);
    if (!e)
        return -ENOSPC;
    arp_learn(ctx, e, mac);
    e->permanent = 1;
    return 0;
}

int dnet_arp_lookup(struct dnet_ctx *ctx, rte_be32_t ip, struct rte_ether_addr *mac)
{
    struct dnet_arp_entry *e = arp_find(ctx, ip);

    if (!e || e->state != DNET_ARP_RESOLVED)
        return -ENOENT;
    rte_ether_addr_copy(&e->mac, mac);
    return 0;
}

int dnet_arp_announce(struct dnet_ctx *ctx)
{
    static const struct rte_ether_addr zero = { { 0 } };
    static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
    uint64_t before = ctx->st.arp_tx;

    arp_send(ctx, RTE_ARP_OP_REQUEST, &zero, ctx->ip, &bcast);
    return ctx->st.arp_tx > before ? 0 : -ENOBUFS;
}
