// SPDX-License-Identifier: MIT
// Per-core context: creation, the run-to-completion poll step (RX burst -> faults -> classify
// -> protocol bursts -> timers -> TX flush), the clock, and the TX buffer.
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "dnet_int.h"

#define DEF(field, val) do { if (!c->field) c->field = (val); } while (0)

static int ctx_conf_fill(struct dnet_ctx_conf *c, const struct dnet_port *port)
{
    if (!c->ip || c->queue >= port->nb_queues || c->prefix_len > 32)
        return -EINVAL;
    DEF(prefix_len, 24);
    DEF(rcvbuf, 262144);
    DEF(sndbuf, 262144);
    DEF(delack_ms, 40);
    DEF(rto_min_ms, 200);
    DEF(time_wait_ms, 60000);
    DEF(max_conns, 4096);
    DEF(max_time_wait, 16384);
    DEF(max_orphans, RTE_MAX(c->max_conns / 2, 1u));
    return dnet_fault_check(&c->fault);
}

int dnet_ctx_create(struct dnet_ctx **out, struct dnet_port *port, const struct dnet_ctx_conf *conf)
{
    struct dnet_ctx *ctx;
    struct dnet_ctx_conf c = *conf;
    int rc;

    *out = NULL;
    rc = ctx_conf_fill(&c, port);
    if (rc < 0)
        return rc;
    ctx = rte_zmalloc("dnet_ctx", sizeof(*ctx), RTE_CACHE_LINE_SIZE);
    if (!ctx)
        return -ENOMEM;
    ctx->port = port;
    ctx->pool = port->pool;
    ctx->port_id = port->port_id;
    ctx->queue = c.queue;
    ctx->offloads = port->offloads;
    ctx->mac = port->mac;
    ctx->conf = c;
    ctx->ip = c.ip;
    ctx->mask = c.prefix_len ? rte_cpu_to_be_32(~0u << (32 - c.prefix_len)) : 0;
    ctx->gw = c.gateway;
    ctx->virt = c.virtual_clock;
    ctx->tsc_hz = rte_get_tsc_hz();
    ctx->tsc_us_mult = (uint64_t)(((unsigned __int128)1000000 << DNET_TSC_US_SHIFT) / ctx->tsc_hz);
    ctx->tsc0 = rte_get_tsc_cycles();
    ctx->isn_secret[0] = c.isn_secret ? c.isn_secret : rte_rand();
    ctx->isn_secret[1] = c.isn_secret ? ~c.isn_secret : rte_rand();
    dnet_ctx_fault_set(ctx, &c.fault);   /* checked by ctx_conf_fill */
    dnet_arp_init(ctx);
    rc = dnet_ip4_frag_init(ctx);
    if (rc == 0)
        rc = dnet_group_join(ctx);     /* last: others may redirect to us from now on */
    if (rc < 0) {
        dnet_ip4_frag_fini(ctx);
        rte_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void dnet_ctx_destroy(struct dnet_ctx *ctx)
{
    if (!ctx)
        return;
    dnet_group_leave(ctx);
    dnet_tcp_fini(ctx);
    dnet_udp_fini(ctx);
    dnet_arp_fini(ctx);
    dnet_ip4_frag_fini(ctx);
    dnet_fault_fini(ctx);
    rte_pktmbuf_free_bulk(ctx->tx, ctx->ntx);
    rte_free(ctx);
}

struct rte_mbuf *dnet_pkt_alloc(struct dnet_ctx *ctx)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(ctx->pool);

    if (!m)
        ctx->st.tx_drop++;
    return m;
}

void dnet_ctx_tx_flush(struct dnet_ctx *ctx)
{
    struct rte_mbuf *faulted[2 * DNET_TX_MAX + 1], **tx = ctx->tx;
    uint16_t sent = 0, n = ctx->ntx;

    /* The drain is where TX faults apply; a frame held for reordering leaves at a later one. */
    if (unlikely(dnet_fault_active(ctx, DNET_FAULT_TX))) {
        n = (uint16_t)dnet_fault_apply(ctx, DNET_FAULT_TX, ctx->tx, ctx->ntx, faulted);
        tx = faulted;
    }
    while (sent < n) {
        uint16_t k = rte_eth_tx_burst(ctx->port_id, ctx->queue, tx + sent, n - sent);

        if (k == 0)
            break;
        sent += k;
    }
    ctx->st.tx_pkts += sent;
    ctx->st.tx_bursts += sent > 0;
    if (sent < n) {
        /* The device is full: drop the rest (TCP retransmits; UDP is best effort). */
        ctx->st.tx_drop += n - sent;
        rte_pktmbuf_free_bulk(tx + sent, n - sent);
    }
    ctx->ntx = 0;
}

void dnet_ctx_tx(struct dnet_ctx *ctx, struct rte_mbuf *m)
{
    if (ctx->ntx == DNET_TX_MAX)
        dnet_ctx_tx_flush(ctx);
    ctx->tx[ctx->ntx++] = m;
}

/* The real clock now.  Every poll reads it: a multiply and a shift instead of three
 * 64-bit divisions (2% of a polling process); the product is 128 bits wide, so it does
 * not overflow for years of cycles. */
static uint64_t ctx_tsc_now_us(const struct dnet_ctx *ctx)
{
    uint64_t d = rte_get_tsc_cycles() - ctx->tsc0;

    return (uint64_t)(((unsigned __int128)d * ctx->tsc_us_mult) >> DNET_TSC_US_SHIFT);
}

static void ctx_clock_update(struct dnet_ctx *ctx)
{
    if (!ctx->virt)
        ctx->now_us = ctx_tsc_now_us(ctx);
}

int dnet_ctx_poll(struct dnet_ctx *ctx)
{
    struct rte_mbuf *pkts[2 * DNET_BURST + 1], *raw[DNET_BURST];
    int n, redirected = 0;

    ctx_clock_update(ctx);
    /* Frames other contexts of the port passed us; faulted and counted where they came in. */
    if (ctx->inbox)
        redirected = dnet_group_drain(ctx);
    n = rte_eth_rx_burst(ctx->port_id, ctx->queue, pkts, DNET_BURST);
    ctx->st.rx_pkts += (uint64_t)n;
    /* RX faults apply to the burst as the device delivered it, before any header is read. */
    if (unlikely(dnet_fault_active(ctx, DNET_FAULT_RX))) {
        memcpy(raw, pkts, (size_t)n * sizeof(pkts[0]));
        n = dnet_fault_apply(ctx, DNET_FAULT_RX, raw, n, pkts);
    }
    if (n)
        dnet_classify(ctx, pkts, n);
    n += redirected;
    /* Any packet handled or timer run may have changed some endpoint's readiness. */
    if (dnet_wheel_run(ctx, ctx->now_us / DNET_TICK_US) > 0 || n)
        ctx->gen++;
    dnet_ip4_frag_reap(ctx);
    dnet_ctx_tx_flush(ctx);
    return n;
}

void dnet_ctx_flush(struct dnet_ctx *ctx)
{
    if (ctx->ntx)
        dnet_ctx_tx_flush(ctx);
}

unsigned dnet_ctx_tx_queued(const struct dnet_ctx *ctx)
{
    return ctx->ntx;
}

uint64_t dnet_ctx_gen(const struct dnet_ctx *ctx)
{
    return ctx->gen;
}

uint64_t dnet_ctx_now_us(const struct dnet_ctx *ctx)
{
    /* The time now, not the last poll's: a receive that finds its data without polling
     * (libos/src/net/io.c) dates it by its age. */
    return ctx->virt ? ctx->now_us : ctx_tsc_now_us(ctx);
}

int dnet_ctx_clock_advance(struct dnet_ctx *ctx, uint64_t us)
{
    uint64_t target;

    if (!ctx->virt)
        return -EINVAL;
    target = ctx->now_us + us;
    ctx->gen++;
    /* Step tick by tick so each timer sees the time it was due at. */
    for (;;) {
        uint64_t next = (ctx->wheel.cur_tick + 1) * DNET_TICK_US;

        if (next > target) {
            ctx->now_us = target;
            break;
        }
        ctx->now_us = next;
        dnet_wheel_run(ctx, ctx->wheel.cur_tick + 1);
    }
    dnet_ip4_frag_reap(ctx);
    dnet_ctx_tx_flush(ctx);
    return 0;
}

const struct dnet_stats *dnet_ctx_stats(const struct dnet_ctx *ctx)
{
    return &ctx->st;
}

const struct rte_ether_addr *dnet_ctx_mac(const struct dnet_ctx *ctx)
{
    return &ctx->mac;
}
