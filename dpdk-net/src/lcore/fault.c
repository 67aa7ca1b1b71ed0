// SPDX-License-Identifier: MIT
// Seeded fault injection on a context's RX burst and TX drain paths: drop, duplicate,
// corrupt (IPv4 header checksum) and reorder frames, each with a probability drawn from a
// per-direction splitmix64 stream, so that a seed reproduces a run exactly.
#include <errno.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dnet_int.h"

/* splitmix64 (Steele, Lea, Flood 2014): tiny state, full period, good enough for faults. */
static uint64_t fault_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One draw per frame for each non-zero probability; @r (optional) gets the raw number. */
static int fault_hit(uint64_t *s, uint32_t ppm, uint64_t *r)
{
    uint64_t v;

    if (!ppm)
        return 0;
    v = fault_next(s);
    if (r)
        *r = v;
    return v % DNET_FAULT_PPM < ppm;
}

int dnet_fault_check(const struct dnet_fault_conf *c)
{
    const struct dnet_fault_dir *d[2] = { &c->rx, &c->tx };

    for (int i = 0; i < 2; i++)
        if (d[i]->drop_ppm > DNET_FAULT_PPM || d[i]->dup_ppm > DNET_FAULT_PPM ||
            d[i]->corrupt_ppm > DNET_FAULT_PPM || d[i]->reorder_ppm > DNET_FAULT_PPM)
            return -EINVAL;
    return 0;
}

int dnet_ctx_fault_set(struct dnet_ctx *ctx, const struct dnet_fault_conf *conf)
{
    static const struct dnet_fault_dir off;

    if (dnet_fault_check(conf) < 0)
        return -EINVAL;
    ctx->fault.conf = *conf;
    ctx->fault.on = memcmp(&conf->rx, &off, sizeof(off)) || memcmp(&conf->tx, &off, sizeof(off));
    /* Distinct streams per direction: changing TX probabilities leaves RX decisions alone. */
    ctx->fault.rng[DNET_FAULT_RX] = conf->seed;
    ctx->fault.rng[DNET_FAULT_TX] = conf->seed ^ 0x5851f42d4c957f2dull;
    return 0;
}

void dnet_fault_fini(struct dnet_ctx *ctx)
{
    for (int d = 0; d < 2; d++) {
        rte_pktmbuf_free(ctx->fault.held[d]);
        ctx->fault.held[d] = NULL;
    }
}

/* Write a wrong IPv4 header checksum into @m (bit @bit of the right one flipped, so the
 * receiver's sum can never come out right).  Returns 0 if @m is not an IPv4 frame, or on RX
 * one that classification drops before any checksum is read (multicast such as the
 * kernel's IGMP reports): every frame counted here must meet a checksum check. */
static int fault_corrupt(const struct dnet_ctx *ctx, struct rte_mbuf *m, int dir, unsigned bit)
{
    struct rte_ether_hdr *eh;
    struct rte_ipv4_hdr *ih;
    unsigned hlen;

    if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN + sizeof(*ih))
        return 0;
    eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
    if (eh->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
        return 0;
    if (dir == DNET_FAULT_RX && !rte_is_same_ether_addr(&eh->dst_addr, &ctx->mac) &&
        !rte_is_broadcast_ether_addr(&eh->dst_addr))
        return 0;
    ih = (struct rte_ipv4_hdr *)(eh + 1);
    hlen = (ih->version_ihl & 0xf) * 4u;
    if ((ih->version_ihl >> 4) != 4 || hlen < sizeof(*ih) ||
        RTE_ETHER_HDR_LEN + hlen > rte_pktmbuf_data_len(m))
        return 0;
    /* A device must neither fill the checksum in (TX) nor vouch for it (RX). */
    if (dir == DNET_FAULT_TX)
        m->ol_flags &= ~RTE_MBUF_F_TX_IP_CKSUM;
    else
        m->ol_flags &= ~RTE_MBUF_F_RX_IP_CKSUM_MASK;
    ih->hdr_checksum = 0;
    ih->hdr_checksum = rte_ipv4_cksum(ih) ^ (uint16_t)(1u << (bit & 15));
    return 1;
}

int dnet_fault_apply(struct dnet_ctx *ctx, int dir, struct rte_mbuf **in, int n,
                     struct rte_mbuf **out)
{
    struct dnet_fault *f = &ctx->fault;
    const struct dnet_fault_dir *p = dir == DNET_FAULT_TX ? &f->conf.tx : &f->conf.rx;
    uint64_t *rng = &f->rng[dir];
    int tx = dir == DNET_FAULT_TX, k = 0;
    uint64_t *n_drop = tx ? &ctx->st.fault_tx_drop : &ctx->st.fault_rx_drop;
    uint64_t *n_dup = tx ? &ctx->st.fault_tx_dup : &ctx->st.fault_rx_dup;
    uint64_t *n_corrupt = tx ? &ctx->st.fault_tx_corrupt : &ctx->st.fault_rx_corrupt;
    uint64_t *n_reorder = tx ? &ctx->st.fault_tx_reorder : &ctx->st.fault_rx_reorder;

    for (int i = 0; i < n; i++) {
        struct rte_mbuf *m = in[i], *copy = NULL;
        uint64_t r = 0;

        if (f->on && fault_hit(rng, p->drop_ppm, NULL)) {
            rte_pktmbuf_free(m);
            (*n_drop)++;
            continue;
        }
        if (f->on && fault_hit(rng, p->dup_ppm, NULL)) {
            copy = rte_pktmbuf_copy(m, ctx->pool, 0, UINT32_MAX);
            if (copy)
                (*n_dup)++;
        }
        if (f->on && fault_hit(rng, p->corrupt_ppm, &r) && fault_corrupt(ctx, m, dir, (unsigned)(r >> 60)))
            (*n_corrupt)++;
        if (f->on && fault_hit(rng, p->reorder_ppm, NULL) && !f->held[dir]) {
            f->held[dir] = m;
            f->held_old[dir] = 0;
            (*n_reorder)++;
        } else {
            out[k++] = m;
            if (f->held[dir]) {       /* the next frame passed: the held one follows it */
                out[k++] = f->held[dir];
                f->held[dir] = NULL;
            }
        }
        if (copy)
            out[k++] = copy;
    }
    /* Held through a whole burst in which no frame passed after it: let it go. */
    if (f->held[dir] && f->held_old[dir]) {
        out[k++] = f->held[dir];
        f->held[dir] = NULL;
    }
    if (f->held[dir])
        f->held_old[dir] = 1;
    return k;
}
