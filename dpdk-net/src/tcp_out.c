// SPDX-License-Identifier: MIT
// TCP output: builds segments (options: MSS, window scale, SACK, timestamps), the send loop
// with Nagle and congestion/receive window limits, retransmissions, probes, ACKs and RSTs.
#include <string.h>

#include "tcp_int.h"

static uint32_t tcp_ts_now(const struct dnet_ctx *ctx)
{
    return (uint32_t)dnet_now_ms(ctx);
}

static void put32(uint8_t *p, uint32_t v)
{
    v = rte_cpu_to_be_32(v);
    memcpy(p, &v, 4);
}

/* Options of a SYN or SYN-ACK (Linux order: MSS, SACK-permitted + TS, NOP + WS). */
static unsigned tcp_syn_opts(struct dnet_ctx *ctx, const struct dnet_tcb *tcb, uint8_t *o)
{
    unsigned n = 0;

    o[n++] = TCP_OPT_MSS; o[n++] = 4;
    o[n++] = TCP_OUR_MSS >> 8; o[n++] = TCP_OUR_MSS & 0xff;
    if (tcb->sack_ok && tcb->ts_ok) {
        o[n++] = TCP_OPT_SACK_OK; o[n++] = 2;
    } else if (tcb->sack_ok) {
        o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_SACK_OK; o[n++] = 2;
    }
    if (tcb->ts_ok) {
        if (!tcb->sack_ok) {
            o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_NOP;
        }
        o[n++] = TCP_OPT_TS; o[n++] = 10;
        put32(o + n, tcp_ts_now(ctx)); n += 4;
        put32(o + n, tcb->state == DNET_TCP_SYN_SENT ? 0 : tcb->ts_recent); n += 4;
    }
    if (tcb->ws_ok) {
        o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_WS; o[n++] = 3; o[n++] = tcb->rcv_wscale;
    }
    return n;
}

/* Options of other segments: timestamps, then SACK blocks (newest first) when out of order. */
static unsigned tcp_data_opts(struct dnet_ctx *ctx, const struct dnet_tcb *tcb, uint8_t *o)
{
    unsigned n = 0, max, k = 0;

    if (tcb->ts_ok) {
        o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_TS; o[n++] = 10;
        put32(o + n, tcp_ts_now(ctx)); n += 4;
        put32(o + n, tcb->ts_recent); n += 4;
    }
    if (!tcb->sack_ok || !tcb->nooo)
        return n;
    max = tcb->ts_ok ? 3 : 4;
    o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_NOP; o[n++] = TCP_OPT_SACK;
    o[n++] = (uint8_t)(2 + 8 * RTE_MIN(max, (unsigned)tcb->nooo));
    for (unsigned i = 0; i < tcb->nooo && k < max; i++, k++) {
        unsigned j = (tcb->sack_first + i) % tcb->nooo;

        put32(o + n, tcb->ooo[j].start); n += 4;
        put32(o + n, tcb->ooo[j].end); n += 4;
    }
    return n;
}

/* Window field for an outgoing segment; never moves the right edge left (RFC 9293 3.8.6.2). */
static uint16_t tcp_wnd_field(const struct dnet_tcb *tcb, int syn)
{
    uint32_t space = tcb->rcv.cap - tcb->rcv.len, w;

    if (syn)
        return (uint16_t)RTE_MIN(space, 65535u);
    if (seq_lt(tcb->rcv_nxt + space, tcb->rcv_adv))
        space = tcb->rcv_adv - tcb->rcv_nxt;
    w = space >> tcb->rcv_wscale;
    return (uint16_t)RTE_MIN(w, 65535u);
}

/* Copy @len bytes at send-buffer offset @off to @dst; with @sum, also return their one's
 * complement sum (folded to 17 bits at most) for a software checksum, read from the send
 * buffer rather than from the mbuf the copy has just written (the pass over the mbuf in
 * dnet_ip4_output was ~5% of nginx's time over net_memif, which has no offloads). */
static uint32_t tcp_copy_out(const struct dnet_bytebuf *b, uint32_t off, uint8_t *dst, uint32_t len,
                             int sum)
{
    uint32_t pos = (b->head + off) % b->cap;
    uint32_t first = RTE_MIN(len, b->cap - pos), s = 0, rest;

    memcpy(dst, b->data + pos, first);
    memcpy(dst + first, b->data, len - first);
    if (!sum)
        return 0;
    s = dnet_csum(b->data + pos, first);
    if (first == len)
        return s;
    rest = dnet_csum(b->data, len - first);
    /* After an odd first piece the second one's bytes sit in the other halves of the
     * segment's 16-bit words: swapping its folded sum puts them there. */
    if (first & 1)
        rest = rte_bswap16((uint16_t)rest);
    return s + rest;
}

/* Build and send one segment: @len bytes at send-buffer offset @off. */
static int tcp_xmit(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t seq, uint8_t flags,
                    uint32_t off, uint32_t len)
{
    uint8_t opts[40];
    int syn = (flags & TCP_F_SYN) != 0;
    unsigned olen = syn ? tcp_syn_opts(ctx, tcb, opts) : tcp_data_opts(ctx, tcb, opts);
    unsigned hlen = sizeof(struct rte_tcp_hdr) + RTE_ALIGN_CEIL(olen, 4);
    struct rte_mbuf *m = dnet_pkt_alloc(ctx);
    struct rte_tcp_hdr *th;
    uint32_t data_sum = 0;

    if (!m)
        return -ENOBUFS;
    th = (struct rte_tcp_hdr *)rte_pktmbuf_append(m, (uint16_t)(hlen + len));
    if (!th) {
        rte_pktmbuf_free(m);
        return -ENOBUFS;
    }
    while (olen < hlen - sizeof(*th))
        opts[olen++] = TCP_OPT_EOL;
    th->src_port = tcb->lport;
    th->dst_port = tcb->rport;
    th->sent_seq = rte_cpu_to_be_32(seq);
    th->recv_ack = (flags & TCP_F_ACK) ? rte_cpu_to_be_32(tcb->rcv_nxt) : 0;
    th->data_off = (uint8_t)((hlen / 4) << 4);
    th->tcp_flags = flags;
    th->rx_win = rte_cpu_to_be_16(tcp_wnd_field(tcb, syn));
    th->cksum = 0;
    th->tcp_urp = 0;
    memcpy(th + 1, opts, olen);
    if (len)
        data_sum = tcp_copy_out(&tcb->snd, off, (uint8_t *)th + hlen, len,
                                !(ctx->offloads & DNET_OFF_TX_TCP_CSUM));
    if (flags & TCP_F_ACK) {
        uint32_t edge = tcb->rcv_nxt + ((uint32_t)rte_be_to_cpu_16(th->rx_win) << (syn ? 0 : tcb->rcv_wscale));

        tcb->last_ack_sent = tcb->rcv_nxt;
        if (seq_gt(edge, tcb->rcv_adv))
            tcb->rcv_adv = edge;
        tcb->ack_now = 0;
        tcb->delack_segs = 0;
        dnet_timer_cancel(&tcb->delack_timer);
    }
    ctx->st.tcp_tx++;
    if (!tcb->born_us)
        tcb->born_us = ctx->now_us;
    tcb->segs_out++;
    if (len) {
        tcb->data_segs_out++;
        tcb->bytes_sent += len;
        tcb->last_data_sent_us = ctx->now_us;
    }
    return dnet_ip4_output_tcp(ctx, m, tcb->rip, (uint16_t)hlen, data_sum, tcb->ip_ttl,
                               tcb->ip_tos);
}

int dnet_tcp_send_syn(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    uint8_t flags = TCP_F_SYN | (tcb->state == DNET_TCP_SYN_RCVD ? TCP_F_ACK : 0);

    return tcp_xmit(ctx, tcb, tcb->iss, flags, 0, 0);
}

/* Segments without data carry snd_max, not snd_nxt: after a timeout snd_nxt goes back to
 * resend old data, and a bare ACK with that old number would fail the peer's window check
 * (RFC 9293 3.10.7.4) and never be processed; BSD does the same. */
void dnet_tcp_send_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcp_xmit(ctx, tcb, tcb->snd_max, TCP_F_ACK, 0, 0);
}

/* Two ends that disagree about the sequence space (one took a forged or corrupted segment as
 * data) refuse each other's segments, and each answer is an ACK the other refuses in turn:
 * an ACK storm that never ends on its own.  As Linux's tcp_oow_rate_limited(): a segment
 * with data or a FIN is worth its answer (it is not part of such a loop); a bare ACK, RST or
 * a SYN gets one answer per 500 ms per connection (RFC 5961 section 7 limits challenge ACKs
 * the same way). */
int dnet_tcp_send_oow_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const struct tcp_seg *s)
{
    if (!s || (s->flags & TCP_F_SYN) || (!s->len && !(s->flags & TCP_F_FIN))) {
        if (tcb->oow_ack_us && ctx->now_us + 1 - tcb->oow_ack_us < DNET_TCP_OOW_ACK_US) {
            ctx->st.tcp_oow_ack_limited++;
            return 0;
        }
        tcb->oow_ack_us = ctx->now_us + 1;
    }
    dnet_tcp_send_ack(ctx, tcb);
    return 1;
}

void dnet_tcp_send_rst(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    ctx->st.tcp_rst_tx++;
    tcp_xmit(ctx, tcb, tcb->snd_max, TCP_F_RST | TCP_F_ACK, 0, 0);
}

void dnet_tcp_send_probe(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    /* An already-acknowledged sequence number makes the peer answer with its window. */
    tcp_xmit(ctx, tcb, tcb->snd_una - 1, TCP_F_ACK, 0, 0);
}

/* The FIN goes after the last byte once shut_wr is set: is it due at @seq? */
static int tcp_fin_at(const struct dnet_tcb *tcb, uint32_t seq)
{
    return tcb->shut_wr && seq == tcb->fin_seq;
}

void dnet_tcp_retransmit_at(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t seq, uint32_t len)
{
    uint32_t off = seq - tcb->snd_buf_seq;
    uint8_t flags = TCP_F_ACK;

    ctx->st.tcp_retrans++;
    len = RTE_MIN(len, tcb->snd.len - RTE_MIN(off, tcb->snd.len));
    if (tcp_fin_at(tcb, seq + len))
        flags |= TCP_F_FIN;
    if (len && off + len == tcb->snd.len)
        flags |= TCP_F_PSH;
    if (len || (flags & TCP_F_FIN)) {
        tcb->total_retrans++;
        tcb->bytes_retrans += len;
        tcp_xmit(ctx, tcb, seq, flags, off, len);
    }
    if (seq_gt(seq + len, tcb->high_rxt))
        tcb->high_rxt = seq + len;
    /* Karn: a retransmitted segment gives no RTT sample. */
    tcb->rtt_active = 0;
}

void dnet_tcp_retransmit_first(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    if (tcb->state == DNET_TCP_SYN_SENT || tcb->state == DNET_TCP_SYN_RCVD) {
        ctx->st.tcp_retrans++;
        tcb->total_retrans++;
        dnet_tcp_send_syn(ctx, tcb);
        tcb->rtt_active = 0;
        return;
    }
    dnet_tcp_retransmit_at(ctx, tcb, tcb->snd_una, tcb->mss);
}


void dnet_tcp_send_tlp(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    uint32_t off = tcb->snd_max - tcb->snd_buf_seq;
    uint32_t avail = off < tcb->snd.len ? tcb->snd.len - off : 0;
    uint32_t room = tcb->snd_wnd > tcp_flight(tcb) ? tcb->snd_wnd - tcp_flight(tcb) : 0;
    uint32_t len = RTE_MIN(RTE_MIN(avail, tcb->mss), room), last, fin;

    if (!tcp_can_send(tcb) || tcb->snd_nxt != tcb->snd_max)
        return;
    if (len) {
        /* New data: if the tail was lost, its SACK shows the hole. */
        uint8_t flags = TCP_F_ACK | (len == avail ? TCP_F_PSH : 0);

        if (tcp_fin_at(tcb, tcb->snd_max + len) && len == avail)
            flags |= TCP_F_FIN;
        if (tcp_xmit(ctx, tcb, tcb->snd_max, flags, off, len) < 0)
            return;
        tcb->snd_nxt = tcb->snd_max = tcb->snd_max + len + !!(flags & TCP_F_FIN);
        return;
    }
    /* Nothing new: the last segment again (with our FIN if it carried one). */
    fin = tcb->shut_wr && tcb->snd_max == tcb->fin_seq + 1;
    last = RTE_MIN(tcp_flight(tcb) - fin, tcb->mss);
    dnet_tcp_retransmit_at(ctx, tcb, tcb->snd_max - fin - last, last);
}


/* Limited transmit (RFC 3042): the first and second duplicate ACK each let one new segment
 * beyond cwnd go out, so that a loss in a small window still draws the three duplicate ACKs
 * fast retransmit needs instead of waiting for the RTO. */
static uint32_t tcp_limited_transmit(const struct dnet_tcb *tcb)
{
    return tcb->in_recovery ? 0 : RTE_MIN(tcb->dupacks, 2u) * tcb->mss;
}

void dnet_tcp_output(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    int sent = 0, sack_rec = tcb->in_recovery && tcp_sack_recovery(tcb);

    /* RFC 6675: in SACK recovery, holes first, then new data, both while pipe < cwnd. */
    if (sack_rec && tcp_can_send(tcb))
        dnet_tcp_sack_recover(ctx, tcb);
    while (tcp_can_send(tcb)) {
        uint32_t off = tcb->snd_nxt - tcb->snd_buf_seq;
        uint32_t avail = off < tcb->snd.len ? tcb->snd.len - off : 0;
        uint32_t cwnd = tcb->cwnd + tcp_limited_transmit(tcb);
        uint32_t inflight = tcb->snd_nxt - tcb->snd_una;
        uint32_t pipe = sack_rec && tcb->snd_nxt == tcb->snd_max ? dnet_tcp_sack_pipe(tcb) : inflight;
        uint32_t usable = RTE_MIN(cwnd > pipe ? cwnd - pipe : 0,
                                  tcb->snd_wnd > inflight ? tcb->snd_wnd - inflight : 0);
        uint32_t len = RTE_MIN(RTE_MIN(avail, tcb->mss), usable);
        int fin = tcp_fin_at(tcb, tcb->snd_nxt + len) && len == avail;
        uint8_t flags = TCP_F_ACK;

        if (len == 0 && !fin)
            break;
        /* Nagle (RFC 896): hold a small tail while data is unacknowledged.  TCP_CORK:
         * hold it whatever is in flight, for TCP_CORK_US at most once nothing is. */
        if (len < tcb->mss && len == avail && !fin && !tcb->push &&
            (tcb->cork || (!tcb->nodelay && inflight > 0))) {
            if (tcb->cork && !dnet_timer_armed(&tcb->rtx_timer)) {
                tcb->rtx_kind = TCP_RTX_CORK;
                dnet_timer_arm(ctx, &tcb->rtx_timer, TCP_CORK_US);
            }
            break;
        }
        if (fin)
            flags |= TCP_F_FIN;
        if (len && len == avail)
            flags |= TCP_F_PSH;
        if (!tcb->rtt_active && len && !seq_lt(tcb->snd_nxt, tcb->snd_max)) {
            tcb->rtt_active = 1;
            tcb->rtt_seq = tcb->snd_nxt;
            tcb->rtt_start_us = ctx->now_us;
        }
        if (seq_lt(tcb->snd_nxt, tcb->snd_max)) {
            ctx->st.tcp_retrans++;
            tcb->total_retrans++;
            tcb->bytes_retrans += len;
        }
        if (tcp_xmit(ctx, tcb, tcb->snd_nxt, flags, off, len) < 0) {
            /* Not sent (no mbuf): with nothing in flight no ACK would come to retry it,
             * and an orphan's FIN would never leave.  The RTO resends from snd_una. */
            if (!dnet_timer_armed(&tcb->rtx_timer))
                dnet_tcp_arm_rto(ctx, tcb);
            break;
        }
        tcb->snd_nxt += len + (fin ? 1 : 0);
        if (seq_gt(tcb->snd_nxt, tcb->snd_max))
            tcb->snd_max = tcb->snd_nxt;
        /* A pending probe timer restarts with each new segment (RFC 8985 7.2). */
        if (!dnet_timer_armed(&tcb->rtx_timer) || tcb->rtx_kind != TCP_RTX_RTO)
            dnet_tcp_arm_loss(ctx, tcb);
        sent++;
    }
    if (!sent && tcb->ack_now && tcb->state != DNET_TCP_CLOSED && tcb->state != DNET_TCP_LISTEN)
        dnet_tcp_send_ack(ctx, tcb);
    /* Zero window with data waiting and nothing in flight: probe until it opens. */
    if (tcp_can_send(tcb) && tcb->snd_wnd == 0 && tcb->snd_nxt == tcb->snd_una &&
        tcb->snd_nxt - tcb->snd_buf_seq < tcb->snd.len && !dnet_timer_armed(&tcb->rtx_timer))
        dnet_tcp_arm_persist(ctx, tcb);
}

void dnet_tcp_push(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    if (tcb->state == DNET_TCP_LISTEN || tcb->state == DNET_TCP_CLOSED)
        return;
    if (dnet_timer_armed(&tcb->rtx_timer) && tcb->rtx_kind == TCP_RTX_CORK)
        dnet_timer_cancel(&tcb->rtx_timer);
    tcb->push = 1;
    dnet_tcp_output(ctx, tcb);
    tcb->push = 0;
}

void dnet_tcp_reply_rst(struct dnet_ctx *ctx, const struct tcp_seg *s)
{
    struct rte_mbuf *m;
    struct rte_tcp_hdr *th;

    if (s->flags & TCP_F_RST)
        return;
    m = dnet_pkt_alloc(ctx);
    if (!m)
        return;
    th = (struct rte_tcp_hdr *)rte_pktmbuf_append(m, sizeof(*th));
    memset(th, 0, sizeof(*th));
    th->src_port = s->dport;
    th->dst_port = s->sport;
    th->data_off = 5 << 4;
    if (s->flags & TCP_F_ACK) {
        th->sent_seq = rte_cpu_to_be_32(s->ack);
        th->tcp_flags = TCP_F_RST;
    } else {
        uint32_t seglen = s->len + !!(s->flags & TCP_F_SYN) + !!(s->flags & TCP_F_FIN);

        th->recv_ack = rte_cpu_to_be_32(s->seq + seglen);
        th->tcp_flags = TCP_F_RST | TCP_F_ACK;
    }
    ctx->st.tcp_tx++;
    ctx->st.tcp_rst_tx++;
    dnet_ip4_output(ctx, m, s->sip, IPPROTO_TCP, sizeof(*th));
}
