// SPDX-License-Identifier: MIT
// Shared by test_group.c and test_group_e2e.c: two-queue net_ring ports whose rings the test
// drives itself, and contexts on them.
#ifndef DNET_TEST_GROUP_H
#define DNET_TEST_GROUP_H

#include <check.h>
#include <rte_ring.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/port.h"

#define NQ 2
#define IP_A 0x0a000001u
#define IP_B 0x0a000002u

/* A port whose queue q receives what the test puts in rx[q] and sends into tx[q]. */
struct qport {
    struct dnet_port port;
    struct rte_ring *rx[NQ], *tx[NQ];
};

extern struct qport g_a, g_b, g_one;   /* g_one: a single queue, as every user had before */
extern int g_real_clock;               /* contexts made with the TSC clock (threaded tests) */

/* Free every frame in @p's rings. */
void qport_drain(struct qport *p);
/* A context on queue @q of @p with address @ip (network order); asserts it is registered. */
struct dnet_ctx *ctx_make(struct qport *p, int q, rte_be32_t ip, uint32_t inbox_len);
/* The end-to-end tests (test_group_e2e.c). */
void group_e2e_add(TCase *tc);

#endif
