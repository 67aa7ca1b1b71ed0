// SPDX-License-Identifier: MIT
// UDP (RFC 768): a bind table of local ports, one bounded datagram queue per endpoint
// (the received mbufs themselves), and datagram output.
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_udp.h>

#include "dnet_int.h"
#include "dpdk-net/socket.h"

#define UDP_MAX_PAYLOAD (RTE_ETHER_MTU - 20 - 8)

/* A queued datagram: the received mbuf itself and when it came (the context's clock, for
 * SO_TIMESTAMP). */
struct dnet_udp_slot {
    struct rte_mbuf *m;
    uint64_t rx_us;
};

struct dnet_udp_sock {
    struct dnet_udp_sock *next;  /* bind table chain */
    rte_be16_t port;
    uint16_t queue;              /* its context's queue (dnet_udp_queue) */
    uint32_t qlen, head, count;
    struct dnet_udp_slot q[];    /* qlen slots, ring */
};

static struct dnet_udp_sock **udp_bucket(struct dnet_ctx *ctx, rte_be16_t port)
{
    return &ctx->udp_hash[rte_be_to_cpu_16(port) & (DNET_UDP_HASH - 1)];
}

static struct dnet_udp_sock *udp_lookup(struct dnet_ctx *ctx, rte_be16_t port)
{
    for (struct dnet_udp_sock *us = *udp_bucket(ctx, port); us; us = us->next)
        if (us->port == port)
            return us;
    return NULL;
}

int dnet_udp_bind(struct dnet_ctx *ctx, rte_be16_t port, uint32_t qlen, struct dnet_udp_sock **out)
{
    struct dnet_udp_sock *us;
    struct dnet_udp_sock **b;

    *out = NULL;
    ctx->gen++;
    if (!port) {
        for (unsigned tries = 0; tries < 28232 && !port; tries++) {
            rte_be16_t p = dnet_eph_next(ctx);

            if (!udp_lookup(ctx, p))
                port = p;
        }
        if (!port)
            return -EADDRNOTAVAIL;
    } else if (udp_lookup(ctx, port)) {
        return -EADDRINUSE;
    }
    if (!qlen)
        qlen = 256;
    us = rte_zmalloc("dnet_udp", sizeof(*us) + qlen * sizeof(us->q[0]), 0);
    if (!us)
        return -ENOMEM;
    us->port = port;
    us->queue = ctx->queue;
    us->qlen = qlen;
    b = udp_bucket(ctx, port);
    us->next = *b;
    *b = us;
    *out = us;
    return 0;
}

void dnet_udp_close(struct dnet_ctx *ctx, struct dnet_udp_sock *us)
{
    ctx->gen++;
    for (struct dnet_udp_sock **pp = udp_bucket(ctx, us->port); *pp; pp = &(*pp)->next) {
        if (*pp == us) {
            *pp = us->next;
            break;
        }
    }
    while (us->count) {
        rte_pktmbuf_free(us->q[us->head].m);
        us->head = (us->head + 1) % us->qlen;
        us->count--;
    }
    rte_free(us);
}

void dnet_udp_fini(struct dnet_ctx *ctx)
{
    for (unsigned i = 0; i < DNET_UDP_HASH; i++)
        while (ctx->udp_hash[i])
            dnet_udp_close(ctx, ctx->udp_hash[i]);
}

uint32_t dnet_udp_pending(const struct dnet_udp_sock *us)
{
    return us->count;
}

uint16_t dnet_udp_queue(const struct dnet_udp_sock *us)
{
    return us->queue;
}

rte_be16_t dnet_udp_port(const struct dnet_udp_sock *us)
{
    return us->port;
}

int dnet_udp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    for (int i = 0; i < n; i++) {
        struct rte_mbuf *m = pkts[i];
        unsigned off = m->l2_len + m->l3_len;
        unsigned plen = rte_pktmbuf_pkt_len(m) - off;
        const struct rte_udp_hdr *uh;
        struct dnet_udp_sock *us;

        ctx->st.udp_rx++;
        /* The header is in the first segment: reassembly keeps it there. */
        if (plen < sizeof(*uh) || rte_pktmbuf_data_len(m) < off + sizeof(*uh))
            goto bad;
        uh = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, off);
        if (rte_be_to_cpu_16(uh->dgram_len) < sizeof(*uh) || rte_be_to_cpu_16(uh->dgram_len) > plen)
            goto bad;
        if (rte_be_to_cpu_16(uh->dgram_len) < plen)
            rte_pktmbuf_trim(m, (uint16_t)(plen - rte_be_to_cpu_16(uh->dgram_len)));
        if (uh->dgram_cksum != 0 && !dnet_l4_csum_ok(ctx, m))
            goto bad;
        us = udp_lookup(ctx, uh->dst_port);
        if (!us) {
            /* Several contexts on the port: the port's owner may have the endpoint. */
            struct dnet_ctx *owner = dnet_group_owner(ctx, uh->dst_port);

            if (owner) {
                dnet_group_redirect(ctx, owner, m, DNET_REDIR_UDP);
                continue;
            }
            ctx->st.udp_no_port++;
            rte_pktmbuf_free(m);
            continue;
        }
        if (us->count == us->qlen) {
            ctx->st.udp_queue_drop++;
            rte_pktmbuf_free(m);
            continue;
        }
        us->q[(us->head + us->count) % us->qlen] =
            (struct dnet_udp_slot){ .m = m, .rx_us = ctx->now_us };
        us->count++;
        continue;
bad:
        ctx->st.udp_bad++;
        rte_pktmbuf_free(m);
    }
    return n;
}

ssize_t dnet_udp_recvfrom(struct dnet_ctx *ctx, struct dnet_udp_sock *us, void *buf, size_t len,
                          rte_be32_t *sip, rte_be16_t *sport)
{
    struct dnet_udp_meta meta;
    ssize_t r = dnet_udp_recvmsg(ctx, us, buf, len, &meta);

    if (r >= 0 && sip)
        *sip = meta.sip;
    if (r >= 0 && sport)
        *sport = meta.sport;
    return r;
}

ssize_t dnet_udp_recvmsg(struct dnet_ctx *ctx, struct dnet_udp_sock *us, void *buf, size_t len,
                         struct dnet_udp_meta *meta)
{
    struct rte_mbuf *m;
    const struct rte_udp_hdr *uh;
    const struct rte_ipv4_hdr *ih;
    unsigned off, dlen;

    ctx->gen++;
    if (!us->count)
        return -EAGAIN;
    m = us->q[us->head].m;
    meta->rx_us = us->q[us->head].rx_us;
    us->head = (us->head + 1) % us->qlen;
    us->count--;
    off = m->l2_len + m->l3_len;
    uh = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *, off);
    ih = dnet_ip4_hdr(m);
    dlen = rte_be_to_cpu_16(uh->dgram_len) - sizeof(*uh);
    meta->sip = ih->src_addr;
    meta->dip = ih->dst_addr;
    meta->sport = uh->src_port;
    meta->ttl = ih->time_to_live;
    meta->tos = ih->type_of_service;
    off += sizeof(*uh);
    /* Copy across segments (reassembled datagrams are chains). */
    for (struct rte_mbuf *s = m; s && len; s = s->next) {
        unsigned sl = rte_pktmbuf_data_len(s);
        size_t k;

        if (off >= sl) {
            off -= sl;
            continue;
        }
        k = RTE_MIN((size_t)(sl - off), len);
        memcpy(buf, rte_pktmbuf_mtod_offset(s, const char *, off), k);
        buf = (char *)buf + k;
        len -= k;
        off = 0;
    }
    rte_pktmbuf_free(m);
    return dlen;
}

ssize_t dnet_udp_sendto(struct dnet_ctx *ctx, struct dnet_udp_sock *us, const void *buf,
                        size_t len, rte_be32_t dip, rte_be16_t dport)
{
    return dnet_udp_sendto_ext(ctx, us, buf, len, dip, dport, 0, 0);
}

ssize_t dnet_udp_sendto_ext(struct dnet_ctx *ctx, struct dnet_udp_sock *us, const void *buf,
                            size_t len, rte_be32_t dip, rte_be16_t dport, uint8_t ttl,
                            uint8_t tos)
{
    struct rte_mbuf *m;
    struct rte_udp_hdr *uh;
    int rc;

    ctx->gen++;
    if (len > UDP_MAX_PAYLOAD)
        return -EMSGSIZE;
    m = dnet_pkt_alloc(ctx);
    if (!m)
        return -ENOBUFS;
    uh = (struct rte_udp_hdr *)rte_pktmbuf_append(m, (uint16_t)(sizeof(*uh) + len));
    if (!uh) {
        rte_pktmbuf_free(m);
        return -EMSGSIZE;
    }
    uh->src_port = us->port;
    uh->dst_port = dport;
    uh->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + len));
    uh->dgram_cksum = 0;
    memcpy(uh + 1, buf, len);
    ctx->st.udp_tx++;
    rc = dnet_ip4_output_ext(ctx, m, dip, IPPROTO_UDP, sizeof(*uh), ttl ? ttl : DNET_IP4_TTL_DEF,
                             tos);
    return rc < 0 && rc != -EINPROGRESS ? rc : (ssize_t)len;
}
