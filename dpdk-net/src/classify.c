// SPDX-License-Identifier: MIT
// RX classification: checks the Ethernet header of each received frame and sorts the burst
// by a const ethertype table into per-protocol bursts handed to <proto>_input.
#include "dnet_int.h"

typedef int dnet_burst_fn(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n);

enum dnet_l2_class { DNET_CL_DROP, DNET_CL_ARP, DNET_CL_IP4, DNET_CL_MAX };

static const struct {
    uint16_t ethertype;         /* host order */
    enum dnet_l2_class cls;
} g_ethertypes[] = {
    { RTE_ETHER_TYPE_ARP, DNET_CL_ARP },
    { RTE_ETHER_TYPE_IPV4, DNET_CL_IP4 },
};

static dnet_burst_fn *const g_l2_input[DNET_CL_MAX] = {
    [DNET_CL_ARP] = dnet_arp_input,
    [DNET_CL_IP4] = dnet_ip4_input,
};

static enum dnet_l2_class classify_one(struct dnet_ctx *ctx, struct rte_mbuf *m)
{
    const struct rte_ether_hdr *eh;
    uint16_t type;

    if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN)
        return DNET_CL_DROP;
    eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
    /* Unicast to us or broadcast; other multicast is not subscribed to. */
    if (!rte_is_same_ether_addr(&eh->dst_addr, &ctx->mac) && !rte_is_broadcast_ether_addr(&eh->dst_addr))
        return DNET_CL_DROP;
    type = rte_be_to_cpu_16(eh->ether_type);
    m->l2_len = RTE_ETHER_HDR_LEN;
    for (unsigned i = 0; i < RTE_DIM(g_ethertypes); i++)
        if (g_ethertypes[i].ethertype == type)
            return g_ethertypes[i].cls;
    return DNET_CL_DROP;
}

int dnet_classify(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    struct rte_mbuf *by_cls[DNET_CL_MAX][DNET_BURST];
    int cnt[DNET_CL_MAX] = { 0 };
    int handled = 0;

    for (int base = 0; base < n; base += DNET_BURST) {
        int k = n - base < DNET_BURST ? n - base : DNET_BURST;

        for (int c = 0; c < DNET_CL_MAX; c++)
            cnt[c] = 0;
        for (int i = 0; i < k; i++) {
            struct rte_mbuf *m = pkts[base + i];
            enum dnet_l2_class c = classify_one(ctx, m);

            by_cls[c][cnt[c]++] = m;
        }
        if (cnt[DNET_CL_DROP]) {
            ctx->st.eth_drop += cnt[DNET_CL_DROP];
            rte_pktmbuf_free_bulk(by_cls[DNET_CL_DROP], cnt[DNET_CL_DROP]);
        }
        for (int c = DNET_CL_DROP + 1; c < DNET_CL_MAX; c++)
            if (cnt[c])
                handled += g_l2_input[c](ctx, by_cls[c], cnt[c]);
    }
    return handled;
}
