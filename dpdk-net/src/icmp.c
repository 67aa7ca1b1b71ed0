// SPDX-License-Identifier: MIT
// ICMP: answers echo requests addressed to the context (RFC 792); everything else is counted
// and dropped.
#include <rte_icmp.h>

#include "dnet_int.h"

static void icmp_echo_reply(struct dnet_ctx *ctx, struct rte_mbuf *m, rte_be32_t to)
{
    struct rte_icmp_hdr *h = rte_pktmbuf_mtod(m, struct rte_icmp_hdr *);
    uint16_t len = (uint16_t)rte_pktmbuf_data_len(m);

    /* Reuse the request: only the type changes, the identifier, sequence and data stay. */
    h->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    h->icmp_cksum = 0;
    h->icmp_cksum = (uint16_t)~rte_raw_cksum(h, len);
    m->ol_flags = 0;
    ctx->st.icmp_echo_replies++;
    dnet_ip4_output(ctx, m, to, IPPROTO_ICMP, sizeof(*h));
}

int dnet_icmp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    for (int i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        struct rte_ipv4_hdr *ih = dnet_ip4_hdr(m);
        struct rte_icmp_hdr *h;
        rte_be32_t src = ih->src_addr, dst = ih->dst_addr;
        unsigned len = rte_pktmbuf_data_len(m) - m->l2_len - m->l3_len;

        ctx->st.icmp_rx++;
        if (len < sizeof(*h)) {
            ctx->st.icmp_bad++;
            rte_pktmbuf_free(m);
            continue;
        }
        h = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, m->l2_len + m->l3_len);
        if (rte_raw_cksum(h, len) != 0xffff) {
            ctx->st.icmp_bad++;
            rte_pktmbuf_free(m);
            continue;
        }
        /* Echo to a broadcast address is not answered (smurf amplification). */
        if (h->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || h->icmp_code != 0 || dst != ctx->ip) {
            rte_pktmbuf_free(m);
            continue;
        }
        rte_pktmbuf_adj(m, (uint16_t)(m->l2_len + m->l3_len));
        icmp_echo_reply(ctx, m, src);
    }
    return n;
}
