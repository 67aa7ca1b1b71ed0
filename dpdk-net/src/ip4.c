// SPDX-License-Identifier: MIT
// IPv4: header checks (version, IHL, lengths, checksum, destination), reassembly of
// fragments (rte_ip_frag, 30 s lifetime), demultiplexing by a const protocol table, output.
#include <errno.h>

#include <rte_malloc.h>

#include "dnet_int.h"

#define FRAG_BUCKETS 64
#define FRAG_ENTRIES 4
#define FRAG_TTL_US (30ull * 1000000)

typedef int dnet_burst_fn(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);

enum dnet_l3_class { DNET_L3_DROP, DNET_L3_ICMP, DNET_L3_UDP, DNET_L3_TCP, DNET_L3_MAX };

static const uint8_t g_proto_class[256] = {
    [IPPROTO_ICMP] = DNET_L3_ICMP,
    [IPPROTO_UDP] = DNET_L3_UDP,
    [IPPROTO_TCP] = DNET_L3_TCP,
};

static dnet_burst_fn *const g_l4_input[DNET_L3_MAX] = {
    [DNET_L3_ICMP] = dnet_icmp_input,
    [DNET_L3_UDP] = dnet_udp_input,
    [DNET_L3_TCP] = dnet_tcp_input,
};

int dnet_ip4_frag_init(struct dnet_ctx *ctx)
{
    ctx->frag_tbl = rte_ip_frag_table_create(FRAG_BUCKETS, FRAG_ENTRIES,
                                             FRAG_BUCKETS * FRAG_ENTRIES, FRAG_TTL_US,
                                             (int)rte_socket_id());
    return ctx->frag_tbl ? 0 : -ENOMEM;
}

void dnet_ip4_frag_fini(struct dnet_ctx *ctx)
{
    if (ctx->frag_tbl)
        rte_ip_frag_table_destroy(ctx->frag_tbl);
    dnet_ip4_frag_reap(ctx);
    ctx->frag_tbl = NULL;
}

void dnet_ip4_frag_reap(struct dnet_ctx *ctx)
{
    /* The death row holds every fragment the reassembly gave up on since the last reap:
     * overlapping or malformed ones, those of a datagram that timed out, and any that found
     * the table full.  rte_ip_frag does not bound the row: it must be reaped once a burst. */
    ctx->st.ip_frag_drop += ctx->frag_dr.cnt;
    rte_ip_frag_free_death_row(&ctx->frag_dr, 0);
}

int dnet_l4_csum_ok(const struct dnet_ctx *ctx, const struct rte_mbuf *m)
{
    uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    const struct rte_ipv4_hdr *ih;

    if ((ctx->offloads & DNET_OFF_RX_L4_CSUM) && f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        return 1;
    if ((ctx->offloads & DNET_OFF_RX_L4_CSUM) && f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
        return 0;
    ih = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, m->l2_len);
    if (rte_pktmbuf_is_contiguous(m)) {
        /* ip4_check cut the frame to the IP total length. */
        uint32_t l4_len = rte_be_to_cpu_16(ih->total_length) - m->l3_len;
        uint32_t s = dnet_csum((const uint8_t *)ih + m->l3_len, l4_len) + rte_ipv4_phdr_cksum(ih, 0);

        s = (s & 0xffff) + (s >> 16);
        return s == 0xffff;
    }
    return rte_ipv4_udptcp_cksum_mbuf_verify(m, ih, m->l2_len + m->l3_len) == 0;
}

static int ip4_hdr_csum_ok(const struct dnet_ctx *ctx, const struct rte_mbuf *m,
                           const struct rte_ipv4_hdr *ih, unsigned hlen)
{
    uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

    if ((ctx->offloads & DNET_OFF_RX_IP4_CSUM) && f == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
        return 1;
    if ((ctx->offloads & DNET_OFF_RX_IP4_CSUM) && f == RTE_MBUF_F_RX_IP_CKSUM_BAD)
        return 0;
    return rte_raw_cksum(ih, hlen) == 0xffff;
}

/* Validate one datagram; returns it (possibly reassembled) or NULL when dropped/held. */
static struct rte_mbuf *ip4_check(struct dnet_ctx *ctx, struct rte_mbuf *m)
{
    struct rte_ipv4_hdr *ih;
    unsigned hlen, tot, avail = rte_pktmbuf_data_len(m) - m->l2_len;

    ctx->st.ip_rx++;
    if (avail < sizeof(*ih))
        goto bad_hdr;
    ih = dnet_ip4_hdr(m);
    hlen = (ih->version_ihl & 0xf) * 4u;
    tot = rte_be_to_cpu_16(ih->total_length);
    if ((ih->version_ihl >> 4) != 4 || hlen < sizeof(*ih) || hlen > avail || tot < hlen || tot > avail)
        goto bad_hdr;
    if (!ip4_hdr_csum_ok(ctx, m, ih, hlen)) {
        ctx->st.ip_bad_csum++;
        goto drop;
    }
    if (ih->dst_addr != ctx->ip && ih->dst_addr != RTE_BE32(0xffffffff) &&
        ih->dst_addr != (ctx->ip | ~ctx->mask)) {
        ctx->st.ip_not_for_us++;
        goto drop;
    }
    /* Ethernet pads short frames: cut to the IP total length. */
    if (tot < avail)
        rte_pktmbuf_trim(m, (uint16_t)(avail - tot));
    m->l3_len = hlen;
    if (rte_ipv4_frag_pkt_is_fragmented(ih)) {
        struct rte_mbuf *r;

        ctx->st.ip_frag_rx++;
        r = rte_ipv4_frag_reassemble_packet(ctx->frag_tbl, &ctx->frag_dr, m, ctx->now_us, ih);
        if (!r)
            return NULL; /* held for more fragments, or freed via the death row */
        ctx->st.ip_reassembled++;
        ih = dnet_ip4_hdr(r);
        /* Only UDP reads chained buffers; TCP and ICMP need the datagram in one segment. */
        if (r->nb_segs > 1 && ih->next_proto_id != IPPROTO_UDP && rte_pktmbuf_linearize(r) < 0) {
            ctx->st.ip_frag_drop++;
            rte_pktmbuf_free(r);
            return NULL;
        }
        return r;
    }
    return m;
bad_hdr:
    ctx->st.ip_bad_hdr++;
drop:
    rte_pktmbuf_free(m);
    return NULL;
}

int dnet_ip4_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    struct rte_mbuf *by_cls[DNET_L3_MAX][DNET_BURST];
    int cnt[DNET_L3_MAX] = { 0 };
    int handled = 0;

    for (int i = 0; i < n; i++) {
        struct rte_mbuf *m = ip4_check(ctx, pkts[i]);
        int c;

        if (!m)
            continue;
        c = g_proto_class[dnet_ip4_hdr(m)->next_proto_id];
        by_cls[c][cnt[c]++] = m;
        handled++;
    }
    if (cnt[DNET_L3_DROP]) {
        ctx->st.ip_unknown_proto += cnt[DNET_L3_DROP];
        rte_pktmbuf_free_bulk(by_cls[DNET_L3_DROP], cnt[DNET_L3_DROP]);
    }
    for (int c = DNET_L3_DROP + 1; c < DNET_L3_MAX; c++)
        if (cnt[c])
            g_l4_input[c](ctx, by_cls[c], cnt[c]);
    return handled;
}

/* dnet_ip4_output(); with @have_sum, a TCP segment's payload sums to @data_sum. */
static int ip4_output(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint8_t proto,
                      uint16_t l4_len, int have_sum, uint32_t data_sum, uint8_t ttl, uint8_t tos)
{
    struct rte_ipv4_hdr *ih = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ih));
    rte_be32_t hop;

    if (!ih) {
        ctx->st.tx_drop++;
        rte_pktmbuf_free(m);
        return -ENOBUFS;
    }
    ih->version_ihl = RTE_IPV4_VHL_DEF;
    ih->type_of_service = tos;
    ih->total_length = rte_cpu_to_be_16((uint16_t)rte_pktmbuf_pkt_len(m));
    ih->packet_id = rte_cpu_to_be_16(ctx->ip_id++);
    ih->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    ih->time_to_live = ttl;
    ih->next_proto_id = proto;
    ih->hdr_checksum = 0;
    ih->src_addr = ctx->ip;
    ih->dst_addr = dst;
    m->l2_len = RTE_ETHER_HDR_LEN;
    m->l3_len = sizeof(*ih);
    m->l4_len = l4_len;
    m->ol_flags |= RTE_MBUF_F_TX_IPV4;

    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
        int tcp = proto == IPPROTO_TCP;
        uint16_t *ck = rte_pktmbuf_mtod_offset(m, uint16_t *, sizeof(*ih) + (tcp ? 16 : 6));

        *ck = 0;
        if (ctx->offloads & (tcp ? DNET_OFF_TX_TCP_CSUM : DNET_OFF_TX_UDP_CSUM)) {
            m->ol_flags |= tcp ? RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM;
            *ck = rte_ipv4_phdr_cksum(ih, m->ol_flags);
        } else if (have_sum) {
            /* The payload starts at an even offset (l4_len is a multiple of 4): its sum
             * adds as it is.  TCP has no "0 means none", so no 0 -> 0xffff as for UDP. */
            uint32_t sum = data_sum + __rte_raw_cksum(ih + 1, l4_len, 0) +
                           rte_ipv4_phdr_cksum(ih, 0);

            *ck = (uint16_t)~__rte_raw_cksum_reduce(sum);
        } else {
            *ck = rte_ipv4_udptcp_cksum(ih, ih + 1);
        }
    }
    if (ctx->offloads & DNET_OFF_TX_IP4_CSUM)
        m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
    else
        ih->hdr_checksum = rte_ipv4_cksum(ih);

    if (dst == RTE_BE32(0xffffffff) || dst == (ctx->ip | ~ctx->mask)) {
        static const struct rte_ether_addr bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

        dnet_eth_output(ctx, m, &bcast, RTE_ETHER_TYPE_IPV4);
        return 0;
    }
    hop = ((dst ^ ctx->ip) & ctx->mask) == 0 || !ctx->gw ? dst : ctx->gw;
    return dnet_eth_output_ip(ctx, m, hop);
}

int dnet_ip4_output(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint8_t proto,
                    uint16_t l4_len)
{
    return ip4_output(ctx, m, dst, proto, l4_len, 0, 0, DNET_IP4_TTL_DEF, 0);
}

int dnet_ip4_output_ext(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint8_t proto,
                        uint16_t l4_len, uint8_t ttl, uint8_t tos)
{
    return ip4_output(ctx, m, dst, proto, l4_len, 0, 0, ttl, tos);
}

int dnet_ip4_output_tcp(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t dst, uint16_t hlen,
                        uint32_t data_sum, uint8_t ttl, uint8_t tos)
{
    return ip4_output(ctx, m, dst, IPPROTO_TCP, hlen, 1, data_sum, ttl, tos);
}
