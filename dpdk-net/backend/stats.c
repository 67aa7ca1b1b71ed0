// SPDX-License-Identifier: MIT
// The context's counters (struct dnet_stats) as one JSON object, for bypass-run --stats.
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "bnet_int.h"

/* Every field of struct dnet_stats, in declaration order; the assertion below catches a
 * field added there and not here. */
#define BNET_STATS(X) \
    X(rx_pkts) X(tx_pkts) X(tx_drop) \
    X(fault_rx_drop) X(fault_rx_dup) X(fault_rx_corrupt) X(fault_rx_reorder) \
    X(fault_tx_drop) X(fault_tx_dup) X(fault_tx_corrupt) X(fault_tx_reorder) \
    X(eth_drop) \
    X(arp_rx) X(arp_tx) X(arp_bad) X(arp_unresolved_drop) \
    X(ip_rx) X(ip_bad_hdr) X(ip_bad_csum) X(ip_not_for_us) X(ip_frag_rx) X(ip_frag_drop) \
    X(ip_reassembled) X(ip_unknown_proto) \
    X(icmp_rx) X(icmp_echo_replies) X(icmp_bad) \
    X(udp_rx) X(udp_bad) X(udp_no_port) X(udp_queue_drop) X(udp_tx) \
    X(tcp_rx) X(tcp_bad) X(tcp_tx) X(tcp_rst_tx) X(tcp_retrans) X(tcp_fast_retrans) \
    X(tcp_rto) X(tcp_ooo) X(tcp_drop) X(tcp_backlog_drop) X(tcp_challenge_ack) \
    X(tcp_nomem_drop) X(tcp_tw_overflow) X(tcp_orphan_overflow) X(tcp_abort_on_data) \
    X(tcp_orphan_timeout) X(tcp_oow_ack_limited) \
    X(redirect_tx) X(redirect_rx) X(redirect_drop) X(redirect_ask) \
    X(tx_bursts)

#define BNET_ONE(f) + 1
_Static_assert(sizeof(struct dnet_stats) == (0 BNET_STATS(BNET_ONE)) * sizeof(uint64_t),
               "struct dnet_stats changed: update BNET_STATS");

/* Append to @buf at offset @n, as far as it fits; returns the offset the full text ends at. */
static size_t put(char *buf, size_t len, size_t n, const char *fmt, ...)
{
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, fmt, ap);
    va_end(ap);
    return n + (size_t)(k > 0 ? k : 0);
}

int bnet_stats_json(const struct dnet_stats *st, char *buf, size_t len)
{
    size_t n = 0;
    const char *sep = "{";

#define BNET_FIELD(f) \
    n = put(buf, len, n, "%s\"" #f "\":%" PRIu64, sep, st->f); \
    sep = ",";
    BNET_STATS(BNET_FIELD)
#undef BNET_FIELD
    n = put(buf, len, n, "}");
    if (n >= len)
        return -ENOSPC;
    return (int)n;
}
