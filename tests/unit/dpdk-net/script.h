// SPDX-License-Identifier: MIT
// Packet-script driver for dpdk-net unit tests: runs a text script (inject / expect /
// advance / call / check lines) against a context on a net_ring test double.
#ifndef DNET_TEST_SCRIPT_H
#define DNET_TEST_SCRIPT_H

#include <stdint.h>

struct dnet_port;
struct rte_ring;

/* The device double: the port and the rings behind its single queue pair. */
struct script_dev {
    struct dnet_port *port;
    struct rte_ring *rx;   /* frames we inject: the stack receives them */
    struct rte_ring *tx;   /* frames the stack sends */
};

/* Run script file @path.  Returns 0 on success; on failure writes "file:line: why" to
 * @err (size @errlen) and returns -1. */
int script_run_file(struct script_dev *dev, const char *path, char *err, unsigned errlen);

#endif
