// SPDX-License-Identifier: MIT
// TCP_INFO's numbers for one endpoint: the control block's state and the counters tcp_in.c,
// tcp_out.c and tcp_timer.c keep for it, in the units Linux's struct tcp_info uses.
#include <string.h>

#include "tcp_int.h"

static uint32_t tcp_ms_since(const struct dnet_ctx *ctx, uint64_t then)
{
    if (!then || ctx->now_us <= then)
        return 0;
    return (uint32_t)RTE_MIN((ctx->now_us - then) / 1000, (uint64_t)UINT32_MAX);
}

static uint32_t tcp_segs(uint32_t bytes, uint32_t mss)
{
    return mss ? (bytes + mss - 1) / mss : 0;
}

int dnet_tcp_stats(const struct dnet_ctx *ctx, const struct dnet_tcb *tcb, struct dnet_tcp_stats *st)
{
    uint32_t mss = tcb->mss ? tcb->mss : TCP_DEF_PEER_MSS, sacked = 0, end;
    /* Times with nothing yet count from the connection's first segment, as Linux counts
     * from its start. */
    uint64_t born = tcb->born_us;

    memset(st, 0, sizeof(*st));
    st->min_rtt_us = UINT32_MAX;
    st->ssthresh = UINT32_MAX;
    st->pmtu = RTE_ETHER_MTU;
    st->advmss = TCP_OUR_MSS - (tcb->ts_ok ? 12 : 0);
    if (tcb->state == DNET_TCP_LISTEN) {
        st->unacked = tcb->aq_len;
        st->sacked = tcb->backlog;
        st->rto_us = tcb->rto_us;
        st->snd_mss = mss;
        st->rcv_mss = RTE_MIN(st->advmss, TCP_DEF_PEER_MSS);
        return 0;
    }
    st->ca_state = tcb->in_recovery ? 3 : tcb->backoff && tcp_flight(tcb) ? 4 : 0;
    st->retransmits = tcb->retries;
    st->probes = (uint8_t)RTE_MIN(tcb->ka_probes, 255u);
    st->backoff = tcb->backoff;
    st->ts_ok = tcb->ts_ok;
    st->sack_ok = tcb->sack_ok;
    st->ws_ok = tcb->ws_ok;
    st->snd_wscale = tcb->ws_ok ? tcb->snd_wscale : 0;
    st->rcv_wscale = tcb->ws_ok ? tcb->rcv_wscale : 0;
    st->rto_us = tcb->rto_us;
    st->ato_us = ctx->conf.delack_ms * 1000u;
    st->snd_mss = mss;
    st->rcv_mss = tcb->rcv_mss ? tcb->rcv_mss : RTE_MIN(st->advmss, TCP_DEF_PEER_MSS);
    st->unacked = tcp_segs(tcp_flight(tcb), mss);
    for (unsigned i = 0; i < tcb->nsacked; i++)
        sacked += tcb->sacked[i].end - tcb->sacked[i].start;
    st->sacked = tcp_segs(sacked, mss);
    st->srtt_us = tcb->srtt_us;
    st->rttvar_us = tcb->rttvar_us;
    if (tcb->min_rtt_us)
        st->min_rtt_us = tcb->min_rtt_us;
    st->cwnd = tcb->cwnd;
    st->ssthresh = tcb->ssthresh;
    st->rcv_wnd = dnet_tcp_rcv_window(tcb);
    st->rcv_space = tcb->rcv.cap;
    st->snd_wnd = tcb->snd_wnd;
    st->last_data_sent_ms = tcp_ms_since(ctx, tcb->last_data_sent_us ? tcb->last_data_sent_us : born);
    st->last_data_recv_ms = tcp_ms_since(ctx, tcb->last_data_rcv_us ? tcb->last_data_rcv_us : born);
    st->last_ack_recv_ms = tcp_ms_since(ctx, tcb->last_ack_rcv_us ? tcb->last_ack_rcv_us : born);
    st->last_data_recv_us = tcb->last_data_rcv_us;
    st->segs_out = tcb->segs_out;
    st->segs_in = tcb->segs_in;
    st->data_segs_out = tcb->data_segs_out;
    st->data_segs_in = tcb->data_segs_in;
    st->total_retrans = tcb->total_retrans;
    st->bytes_sent = tcb->bytes_sent;
    st->bytes_retrans = tcb->bytes_retrans;
    /* Sequence space acknowledged or received, SYN and FIN included, as Linux counts. */
    if (tcb->state != DNET_TCP_SYN_SENT && tcb->snd_una != tcb->iss)
        st->bytes_acked = tcb->snd_una - tcb->iss;
    if (tcb->rcv_nxt != tcb->irs)
        st->bytes_received = tcb->rcv_nxt - tcb->irs - 1;
    /* Segments delivered: the SYN, then the acknowledged data by MSS. */
    if (st->bytes_acked)
        st->delivered = 1 + tcp_segs((uint32_t)st->bytes_acked - 1, mss);
    end = tcb->snd_buf_seq + tcb->snd.len;
    if (seq_gt(end, tcb->snd_max))
        st->notsent_bytes = end - tcb->snd_max;
    if (tcb->shut_wr)
        end = tcb->fin_seq + 1;
    if (tcb->state != DNET_TCP_SYN_SENT && tcb->state != DNET_TCP_SYN_RCVD &&
        seq_gt(end, tcb->snd_una))
        st->outq = end - tcb->snd_una;
    return 0;
}
