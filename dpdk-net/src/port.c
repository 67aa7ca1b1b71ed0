// SPDX-License-Identifier: MIT
// Port set-up on any DPDK ethdev: queue pairs, mbuf pool, checksum offload detection.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>

#include "dpdk-net/port.h"

#define DNET_DEF_DESC 1024
#define DNET_DEF_MBUFS 8191
#define DNET_POOL_CACHE 256

/* Map DNET_OFF_* to the device capability bits they need. */
static uint32_t port_detect_offloads(const struct rte_eth_dev_info *info)
{
    uint32_t off = 0;

    if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
        off |= DNET_OFF_RX_IP4_CSUM;
    if ((info->rx_offload_capa & (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM)) ==
        (RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM))
        off |= DNET_OFF_RX_L4_CSUM;
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
        off |= DNET_OFF_TX_IP4_CSUM;
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
        off |= DNET_OFF_TX_TCP_CSUM;
    if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
        off |= DNET_OFF_TX_UDP_CSUM;
    return off;
}

static void port_fill_eth_conf(struct rte_eth_conf *ec, uint32_t off, uint16_t nq,
                               const struct rte_eth_dev_info *info)
{
    memset(ec, 0, sizeof(*ec));
    if (off & DNET_OFF_RX_IP4_CSUM)
        ec->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    if (off & DNET_OFF_RX_L4_CSUM)
        ec->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    if (off & DNET_OFF_TX_IP4_CSUM)
        ec->txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
    if (off & DNET_OFF_TX_TCP_CSUM)
        ec->txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    if (off & DNET_OFF_TX_UDP_CSUM)
        ec->txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    /* Spread flows over the queues by the 4-tuple when there is more than one. */
    if (nq > 1 && info->flow_type_rss_offloads) {
        ec->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        ec->rx_adv_conf.rss_conf.rss_hf = info->flow_type_rss_offloads &
            (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV4);
    }
}

/* The mbuf pool.  With IOVA as VA every virtual range is an IOVA range, so an mbuf may
 * straddle a page: without RTE_MEMPOOL_F_NO_IOVA_CONTIG, 4 KiB pages (--no-huge) hold one
 * 2.3 KiB mbuf each and the pool takes 1.7 times the memory.  Otherwise (IOVA as PA) this
 * is rte_pktmbuf_pool_create(). */
static struct rte_mempool *port_pool_create(const char *name, uint32_t n, int socket)
{
    struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE };
    struct rte_mempool *mp;

    if (rte_eal_iova_mode() != RTE_IOVA_VA)
        return rte_pktmbuf_pool_create(name, n, DNET_POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                       socket);
    mp = rte_mempool_create_empty(name, n, sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE,
                                  DNET_POOL_CACHE, sizeof(priv), socket,
                                  RTE_MEMPOOL_F_NO_IOVA_CONTIG);
    if (!mp)
        return NULL;
    if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) < 0)
        goto out;
    rte_pktmbuf_pool_init(mp, &priv);
    if (rte_mempool_populate_default(mp) < 0)
        goto out;
    rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
    return mp;
out:
    rte_mempool_free(mp);
    return NULL;
}

int dnet_port_setup(struct dnet_port *port, uint16_t port_id, const struct dnet_port_conf *conf)
{
    struct dnet_port_conf c = { 0 };
    struct rte_eth_dev_info info;
    struct rte_eth_conf ec;
    char name[RTE_MEMPOOL_NAMESIZE];
    int socket, rc;

    if (conf)
        c = *conf;
    if (!c.nb_queues)
        c.nb_queues = 1;
    if (!c.nb_rxd)
        c.nb_rxd = DNET_DEF_DESC;
    if (!c.nb_txd)
        c.nb_txd = DNET_DEF_DESC;
    if (!c.nb_mbufs)
        c.nb_mbufs = DNET_DEF_MBUFS;

    memset(port, 0, sizeof(*port));
    if (!rte_eth_dev_is_valid_port(port_id))
        return -ENODEV;
    rc = rte_eth_dev_info_get(port_id, &info);
    if (rc < 0)
        return rc;
    if (info.max_rx_queues < c.nb_queues || info.max_tx_queues < c.nb_queues ||
        c.nb_queues > DNET_PORT_MAX_QUEUES)
        return -EINVAL;

    port->port_id = port_id;
    port->nb_queues = c.nb_queues;
    port->offloads = c.no_offload ? 0 : port_detect_offloads(&info);
    if (c.offload_mask)
        port->offloads &= c.offload_mask;

    socket = rte_eth_dev_socket_id(port_id);
    if (socket < 0)
        socket = (int)rte_socket_id();
    snprintf(name, sizeof(name), "dnet_pool_%u", port_id);
    port->pool = port_pool_create(name, c.nb_mbufs, socket);
    if (!port->pool)
        return -ENOMEM;

    port_fill_eth_conf(&ec, port->offloads, c.nb_queues, &info);
    rc = rte_eth_dev_configure(port_id, c.nb_queues, c.nb_queues, &ec);
    if (rc < 0)
        goto out;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &c.nb_rxd, &c.nb_txd);
    if (rc < 0)
        goto out;
    for (uint16_t q = 0; q < c.nb_queues; q++) {
        struct rte_eth_txconf txc = info.default_txconf;

        txc.offloads = ec.txmode.offloads;
        rc = rte_eth_rx_queue_setup(port_id, q, c.nb_rxd, (unsigned)socket, NULL, port->pool);
        if (rc < 0)
            goto out;
        rc = rte_eth_tx_queue_setup(port_id, q, c.nb_txd, (unsigned)socket, &txc);
        if (rc < 0)
            goto out;
    }
    rc = rte_eth_macaddr_get(port_id, &port->mac);
    if (rc < 0)
        goto out;
    rc = rte_eth_dev_start(port_id);
    if (rc < 0)
        goto out;
    /* Promiscuous mode is best effort: virtual devices often lack it and do not need it. */
    (void)rte_eth_promiscuous_enable(port_id);
    return 0;
out:
    rte_mempool_free(port->pool);
    port->pool = NULL;
    return rc;
}

void dnet_port_teardown(struct dnet_port *port)
{
    if (!port->pool)
        return;
    (void)rte_eth_dev_stop(port->port_id);
    (void)rte_eth_dev_close(port->port_id);
    rte_mempool_free(port->pool);
    port->pool = NULL;
}
