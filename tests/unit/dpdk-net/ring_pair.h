// SPDX-License-Identifier: MIT
// Two dpdk-net ports back to back on net_ring (no NIC): side i's TX ring is side 1 - i's RX
// ring.  For the tests that run two contexts against each other with virtual clocks.
#ifndef DNET_TEST_RING_PAIR_H
#define DNET_TEST_RING_PAIR_H

#include <check.h>
#include <rte_ring.h>

#include "dpdk-net/port.h"

struct ring_pair {
    struct dnet_port port[2];
    struct rte_ring *ring[2];       /* ring[i]: frames sent by side i */
};

/* Start EAL (no hugepages, 256 MiB) and both ports; @tag names the rings and ports.
 * Returns 0, or -1 after a line on stderr. */
int ring_pair_setup(struct ring_pair *p, const char *tag);

/* Bytes allocated from the EAL heap (rte_malloc) now, on every socket: what a test compares
 * before and after to find a leak. */
size_t ring_pair_heap_used(void);

/* Free every frame left in either ring (between tests). */
void ring_pair_drain(struct ring_pair *p);

/* Run suite @s in this process (EAL starts once per process: no fork per test), then stop
 * the ports and EAL.  Returns the exit status: 0 if every test passed, else 1. */
int ring_pair_run(struct ring_pair *p, Suite *s);

#endif
