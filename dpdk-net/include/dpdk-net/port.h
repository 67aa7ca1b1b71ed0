// SPDX-License-Identifier: MIT
// dpdk-net port set-up: configures any DPDK ethdev with 1..n RX/TX queue pairs, one mbuf
// pool, and the checksum offloads the device offers (the stack falls back to software).
#ifndef DPDK_NET_PORT_H
#define DPDK_NET_PORT_H

#include <stdint.h>

#include <rte_ether.h>

struct rte_mempool;
struct dnet_ctx;

/** Most queue pairs (and so contexts) one port can have. */
#define DNET_PORT_MAX_QUEUES 64

/** Offload bits detected on a port (DNET_OFF_*). */
#define DNET_OFF_RX_IP4_CSUM (1u << 0) /**< device verifies IPv4 header checksums */
#define DNET_OFF_RX_L4_CSUM  (1u << 1) /**< device verifies TCP and UDP checksums */
#define DNET_OFF_TX_IP4_CSUM (1u << 2) /**< device fills IPv4 header checksums */
#define DNET_OFF_TX_TCP_CSUM (1u << 3) /**< device fills TCP checksums */
#define DNET_OFF_TX_UDP_CSUM (1u << 4) /**< device fills UDP checksums */

/** What dnet_port_setup() should build.  Zero fields take the documented default. */
struct dnet_port_conf {
    uint16_t nb_queues;  /**< RX/TX queue pairs, one per context; default 1 */
    uint16_t nb_rxd;     /**< RX descriptors per queue; default 1024 */
    uint16_t nb_txd;     /**< TX descriptors per queue; default 1024 */
    uint32_t nb_mbufs;   /**< mbufs in the pool; default 8191 */
    uint32_t offload_mask; /**< DNET_OFF_* bits allowed; 0 = all the device offers */
    int no_offload;      /**< non-zero: use no offload at all (software checksums) */
};

/** A configured and started port; filled by dnet_port_setup(), owned by the caller. */
struct dnet_port {
    uint16_t port_id;            /**< DPDK ethdev id */
    uint16_t nb_queues;          /**< queue pairs configured */
    uint32_t offloads;           /**< DNET_OFF_* bits in use */
    struct rte_ether_addr mac;   /**< the port's MAC address */
    struct rte_mempool *pool;    /**< mbuf pool shared by the port's queues */
    /** The live context of each queue: set by dnet_ctx_create(), cleared by
     *  dnet_ctx_destroy(); NULL = none.  The contexts of one port find each other here. */
    struct dnet_ctx *ctx[DNET_PORT_MAX_QUEUES];
};

/**
 * Configure, set up and start DPDK port @p port_id with @p conf (NULL = defaults).
 * EAL must be initialised.  The pool is named "dnet_pool_<port_id>".
 * @return 0 on success; -ENODEV if the port id is invalid; -EINVAL if the device offers
 *         fewer queues than asked, or more than DNET_PORT_MAX_QUEUES are asked; -ENOMEM if
 *         the pool cannot be created; or the negative error of the failing rte_eth_* call.
 */
int dnet_port_setup(struct dnet_port *port, uint16_t port_id, const struct dnet_port_conf *conf);

/**
 * The queue (and so the context) that owns local TCP/UDP port @p lport (network byte order)
 * on @p port: lport % nb_queues.  With more than one queue the contexts of a port act as one
 * host, and a segment that reaches another context is passed to the owner (see ctx.h,
 * "Several contexts on one port").  0 when the port has one queue.
 */
uint16_t dnet_port_owner(const struct dnet_port *port, rte_be16_t lport);

/**
 * Stop and close the port and free its pool.  The port's contexts must be destroyed first.
 */
void dnet_port_teardown(struct dnet_port *port);

#endif
