// SPDX-License-Identifier: MIT
// Two dpdk-net ports back to back on net_ring; see ring_pair.h.
#include <stdio.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "ring_pair.h"

int ring_pair_setup(struct ring_pair *p, const char *tag)
{
    char *eal[] = { "test", "--no-pci", "--no-huge", "-m", "256", "--no-shconf",
                    "-l", "0", "--log-level=error" };
    struct dnet_port_conf pc = { .nb_mbufs = 4095 };
    char name[32];

    if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
        goto fail;
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), "dnet_%s_%d", tag, i);
        p->ring[i] = rte_ring_create(name, 2048, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!p->ring[i])
            goto fail;
    }
    for (int i = 0; i < 2; i++) {
        int id;

        snprintf(name, sizeof(name), "net_ring_dnet_%s%d", tag, i);
        /* Side i receives what the other side sends and sends into its own ring. */
        id = rte_eth_from_rings(name, &p->ring[1 - i], 1, &p->ring[i], 1, 0);
        if (id < 0 || dnet_port_setup(&p->port[i], (uint16_t)id, &pc) < 0)
            goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "EAL or net_ring port set-up failed\n");
    return -1;
}

size_t ring_pair_heap_used(void)
{
    struct rte_malloc_socket_stats st;
    size_t used = 0;

    for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
        if (rte_malloc_get_socket_stats(s, &st) == 0)
            used += st.heap_allocsz_bytes;
    return used;
}

void ring_pair_drain(struct ring_pair *p)
{
    for (int i = 0; i < 2; i++) {
        void *m;

        while (rte_ring_dequeue(p->ring[i], &m) == 0)
            rte_pktmbuf_free(m);
    }
}

int ring_pair_run(struct ring_pair *p, Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int i = 0; i < 2; i++)
        dnet_port_teardown(&p->port[i]);
    rte_eal_cleanup();
    return failed ? 1 : 0;
}
