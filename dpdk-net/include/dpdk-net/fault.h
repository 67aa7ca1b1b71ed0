// SPDX-License-Identifier: MIT
// dpdk-net seeded fault injection: drop, reorder, duplicate and corrupt frames on a context's
// RX burst and TX drain paths with fixed probabilities, reproducibly from a seed.
#ifndef DPDK_NET_FAULT_H
#define DPDK_NET_FAULT_H

#include <stdint.h>

struct dnet_ctx;

/** One in a million: probabilities are integers in parts per million (0..1000000). */
#define DNET_FAULT_PPM 1000000u

/**
 * Fault probabilities for one direction, applied to each frame in this order:
 *  - drop: the frame is freed (counted in fault_*_drop);
 *  - dup: a copy of the frame goes out right after it (the copy takes no further faults);
 *  - corrupt: the IPv4 header checksum is replaced by a wrong one (offload flags are cleared
 *    so no device repairs or trusts it); the receiver's checksum check must drop it.  Frames
 *    that are not IPv4 (ARP) have no checksum, and received frames not addressed to us
 *    (multicast) never reach one: both are left alone (and not counted);
 *  - reorder: the frame is held back and released right after the next frame that passes
 *    this direction, or at the end of the next burst (RX poll or TX drain) if none does.
 *    One frame is held at a time; a frame picked while one is held passes normally.
 */
struct dnet_fault_dir {
    uint32_t drop_ppm, dup_ppm, corrupt_ppm, reorder_ppm;
};

/**
 * Seeded fault injection for a context.  All zero = off (the fast path then costs one test
 * per burst).  Each direction draws from its own splitmix64 stream derived from @c seed, one
 * number per frame for every non-zero probability, so a run is reproducible from the seed
 * and the frame sequence alone.
 */
struct dnet_fault_conf {
    uint64_t seed;
    struct dnet_fault_dir rx;  /**< frames received from the device, before classification */
    struct dnet_fault_dir tx;  /**< frames handed to the device when the TX buffer drains */
};

/**
 * Replace the fault configuration of @p ctx and restart both random streams from
 * @p conf->seed.  A frame already held for reordering is still released as described.
 * @return 0; -EINVAL if a probability exceeds DNET_FAULT_PPM.
 */
int dnet_ctx_fault_set(struct dnet_ctx *ctx, const struct dnet_fault_conf *conf);

#endif
