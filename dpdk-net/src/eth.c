// SPDX-License-Identifier: MIT
// Ethernet output: prepends the header and, for IPv4, resolves the next hop through the
// ARP cache (queueing the frame while a request is outstanding).
#include <errno.h>

#include "dnet_int.h"

void dnet_eth_output(struct dnet_ctx *ctx, struct rte_mbuf *m, const struct rte_ether_addr *dst,
                     uint16_t ethertype)
{
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN);

    if (!eh) {
        ctx->st.tx_drop++;
        rte_pktmbuf_free(m);
        return;
    }
    rte_ether_addr_copy(dst, &eh->dst_addr);
    rte_ether_addr_copy(&ctx->mac, &eh->src_addr);
    eh->ether_type = rte_cpu_to_be_16(ethertype);
    m->l2_len = RTE_ETHER_HDR_LEN;
    dnet_ctx_tx(ctx, m);
}

int dnet_eth_output_ip(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t next_hop)
{
    struct rte_ether_addr mac;
    int rc = dnet_arp_resolve(ctx, next_hop, m, &mac);

    if (rc == 0) {
        dnet_eth_output(ctx, m, &mac, RTE_ETHER_TYPE_IPV4);
        return 0;
    }
    /* -EINPROGRESS: the ARP entry holds m now; anything else: m was freed and counted. */
    return rc == -EINPROGRESS ? 0 : rc;
}
