// SPDX-License-Identifier: MIT
// TCP ACK and data processing: send-buffer release, RTT samples, congestion control
// (RFC 5681 slow start / avoidance; fast retransmit and recovery: RFC 6675 with SACK, RFC
// 6582 NewReno without), window updates, and in-order / out-of-order placement into the
// receive buffer with SACK ranges.  The scoreboard, pipe and hole repair are in tcp_sack.c.
#include <string.h>

#include "tcp_int.h"

static void tcp_release_acked(struct dnet_tcb *tcb, uint32_t ack)
{
    uint32_t d = ack - tcb->snd_buf_seq;

    if ((int32_t)d <= 0)
        return;
    d = RTE_MIN(d, tcb->snd.len);
    tcb->snd.len -= d;
    /* Emptied, the buffer starts over at its first byte: a request-response connection
     * then writes the same few cache lines for every response instead of walking all of
     * its 256 KiB (nginx over memif: 50 connections' buffers are 25 MiB). */
    tcb->snd.head = tcb->snd.len ? (tcb->snd.head + d) % tcb->snd.cap : 0;
    tcb->snd_buf_seq += d;
}

static void tcp_new_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const struct tcp_seg *s)
{
    /* The SYN's sequence number is not data: it must not grow the window. */
    uint32_t acked = s->ack - tcb->snd_una - (tcb->snd_una == tcb->iss);

    if (tcb->ts_ok && s->opt.has_ts && s->opt.tsecr)
        dnet_tcp_rtt_sample(ctx, tcb, ((uint32_t)dnet_now_ms(ctx) - s->opt.tsecr) * 1000ull);
    else if (tcb->rtt_active && seq_gt(s->ack, tcb->rtt_seq))
        dnet_tcp_rtt_sample(ctx, tcb, ctx->now_us - tcb->rtt_start_us);
    if (tcb->rtt_active && seq_gt(s->ack, tcb->rtt_seq))
        tcb->rtt_active = 0;
    tcp_release_acked(tcb, s->ack);
    tcb->snd_una = s->ack;
    dnet_tcp_sack_prune(tcb);
    if (seq_lt(tcb->snd_nxt, tcb->snd_una))
        tcb->snd_nxt = tcb->snd_una;
    tcb->backoff = 0;
    tcb->retries = 0;
    tcb->tlp_out = 0;

    if (tcb->in_recovery) {
        if (seq_ge(s->ack, tcb->recover)) {
            /* Full ACK: leave recovery (RFC 6582 3.2 step 3). */
            tcb->cwnd = RTE_MIN(tcb->ssthresh, RTE_MAX(tcp_flight(tcb), tcb->mss) + tcb->mss);
            tcb->in_recovery = 0;
        } else if (!tcp_sack_recovery(tcb)) {
            /* NewReno partial ACK: resend the next hole, deflate by what was acked.  (With
             * SACK the output path repairs holes as the pipe allows; cwnd stays.) */
            dnet_tcp_retransmit_first(ctx, tcb);
            ctx->st.tcp_fast_retrans++;
            tcb->cwnd = tcb->cwnd > acked ? tcb->cwnd - acked + tcb->mss : tcb->mss;
        }
    } else if (tcb->cwnd < tcb->ssthresh) {
        tcb->cwnd += RTE_MIN(acked, tcb->mss);                      /* slow start */
    } else {
        tcb->cwnd += RTE_MAX(1u, tcb->mss * tcb->mss / tcb->cwnd);  /* avoidance */
    }
    tcb->dupacks = 0;
    if (tcb->snd_una == tcb->snd_max)
        dnet_timer_cancel(&tcb->rtx_timer);
    else
        dnet_tcp_arm_loss(ctx, tcb);   /* RFC 6298 5.3, RFC 8985 7.2 */
}

static void tcp_dup_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    ++tcb->dupacks;
    /* Three duplicate ACKs, or (RFC 6675 IsLost) three segments' worth SACKed above the
     * first hole: Linux ACKs several out-of-order segments at once, so the count alone
     * often stops short and the RTO would have to repair the loss. */
    if (!tcb->in_recovery && (tcb->dupacks == 3 || (tcb->dupacks < 3 && dnet_tcp_sack_lost(tcb)))) {
        /* RFC 6582 3.2 step 2 / RFC 6675 5 step 4: fast retransmit, enter recovery. */
        tcb->ssthresh = RTE_MAX(tcp_flight(tcb) / 2, 2 * tcb->mss);
        tcb->recover = tcb->snd_max;
        tcb->in_recovery = 1;
        tcb->high_rxt = tcb->snd_una;
        tcb->rxt_mark = tcb->snd_max;
        ctx->st.tcp_fast_retrans++;
        if (!tcp_sack_recovery(tcb) || !dnet_tcp_sack_retransmit(ctx, tcb)) {
            dnet_tcp_retransmit_first(ctx, tcb);
            tcb->cwnd = tcb->ssthresh + 3 * tcb->mss;   /* NewReno inflation */
        } else {
            tcb->cwnd = tcb->ssthresh;   /* RFC 6675: the pipe, not inflation, gates sending */
        }
    } else if (tcb->dupacks > 3 && tcb->in_recovery && !tcp_sack_recovery(tcb)) {
        /* NewReno: each dup ACK means a segment has left the network; the window inflates
         * and new data may follow (RFC 6582).  SACK recovery is driven by the pipe in
         * dnet_tcp_output(). */
        tcb->cwnd += tcb->mss;
    }
}

int dnet_tcp_ack_in(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const struct tcp_seg *s)
{
    uint32_t wnd = s->wnd << tcb->snd_wscale;
    int sack_new = 0;

    if (seq_gt(s->ack, tcb->snd_max)) {
        /* It acknowledges something never sent. */
        dnet_tcp_send_oow_ack(ctx, tcb, s);
        return -1;
    }
    if (tcb->sack_ok && s->opt.nsack)
        sack_new = dnet_tcp_sack_update(tcb, s);
    /* A duplicate ACK (RFC 5681) repeats the window too; but one that SACKs new data counts
     * whatever its window says (RFC 6675 section 2): Linux grows its window as the reader
     * drains the buffer, so most of its duplicate ACKs carry a new window. */
    if (seq_lt(tcb->snd_una, s->ack))
        tcp_new_ack(ctx, tcb, s);
    else if (s->ack == tcb->snd_una && tcb->snd_una != tcb->snd_max &&
             (sack_new || (s->len == 0 && !(s->flags & TCP_F_FIN) && wnd == tcb->snd_wnd)))
        tcp_dup_ack(ctx, tcb);

    /* RFC 9293 3.10.7.4: update the send window from newer segments only. */
    if (seq_lt(tcb->snd_wl1, s->seq) || (tcb->snd_wl1 == s->seq && seq_le(tcb->snd_wl2, s->ack))) {
        if (wnd && !tcb->snd_wnd && tcb->rtx_kind == TCP_RTX_PERSIST) {
            dnet_timer_cancel(&tcb->rtx_timer);
            tcb->backoff = 0;
        }
        tcb->snd_wnd = wnd;
        tcb->snd_wl1 = s->seq;
        tcb->snd_wl2 = s->ack;
    }

    if (tcb->shut_wr && seq_gt(tcb->snd_una, tcb->fin_seq)) {
        /* Our FIN is acknowledged. */
        switch (tcb->state) {
        case DNET_TCP_FIN_WAIT_1:
            tcb->state = DNET_TCP_FIN_WAIT_2;
            if (!tcb->user_ref) {
                tcb->rtx_kind = TCP_RTX_TIMEWAIT; /* orphan: do not wait forever */
                dnet_timer_arm(ctx, &tcb->rtx_timer, ctx->conf.time_wait_ms * 1000ull);
                dnet_tcp_orphan_trim(tcb);        /* all acknowledged: the buffer goes */
            }
            break;
        case DNET_TCP_CLOSING:
            dnet_tcp_enter_time_wait(ctx, tcb);
            break;
        case DNET_TCP_LAST_ACK:
            dnet_tcp_set_closed(ctx, tcb, 0);
            return -1;
        default:
            break;
        }
    }
    return 0;
}

static void tcp_copy_in(struct dnet_bytebuf *b, uint32_t off, const uint8_t *src, uint32_t len)
{
    uint32_t pos = (b->head + off) % b->cap;
    uint32_t first = RTE_MIN(len, b->cap - pos);

    memcpy(b->data + pos, src, first);
    memcpy(b->data, src + first, len - first);
}

/* Record [start, end) as received out of order. */
static int tcp_ooo_add(struct dnet_tcb *tcb, uint32_t start, uint32_t end)
{
    int i = dnet_seqrange_add(tcb->ooo, &tcb->nooo, TCP_OOO_MAX, start, end);

    if (i < 0)
        return -1;
    tcb->sack_first = (uint8_t)i;   /* RFC 2018: the block with the newest data goes first */
    return 0;
}

void dnet_tcp_data_in(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t seq,
                      const uint8_t *data, uint32_t len)
{
    struct dnet_bytebuf *b = &tcb->rcv;
    uint32_t space = b->cap - b->len, off = seq - tcb->rcv_nxt;

    if (off >= space) {
        ctx->st.tcp_drop++;
        tcb->ack_now = 1;
        return;
    }
    len = RTE_MIN(len, space - off);
    tcp_copy_in(b, b->len + off, data, len);
    if (off) {
        ctx->st.tcp_ooo++;
        if (tcp_ooo_add(tcb, seq, seq + len) < 0)
            ctx->st.tcp_drop++;
        tcb->ack_now = 1;   /* RFC 5681 4.2: out of order -> immediate (duplicate) ACK */
        return;
    }
    b->len += len;
    tcb->rcv_nxt += len;
    if (tcb->nooo) {
        /* The hole may be filled: pull in ranges now contiguous; ACK at once. */
        while (tcb->nooo && seq_le(tcb->ooo[0].start, tcb->rcv_nxt)) {
            if (seq_gt(tcb->ooo[0].end, tcb->rcv_nxt)) {
                b->len += tcb->ooo[0].end - tcb->rcv_nxt;
                tcb->rcv_nxt = tcb->ooo[0].end;
            }
            memmove(&tcb->ooo[0], &tcb->ooo[1], (tcb->nooo - 1) * sizeof(tcb->ooo[0]));
            tcb->nooo--;
        }
        tcb->sack_first = 0;
        tcb->ack_now = 1;
        return;
    }
    dnet_tcp_schedule_ack(ctx, tcb);
}
