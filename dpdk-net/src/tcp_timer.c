// SPDX-License-Identifier: MIT
// TCP timers: retransmission (RFC 6298, exponential backoff), tail loss probe (RFC 8985 7),
// zero-window persist, TIME_WAIT, and delayed ACK; plus the RTT estimator that sets the RTO.
#include <errno.h>

#include "tcp_int.h"

static void tcp_rto_expired(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    int syn = tcb->state == DNET_TCP_SYN_SENT || tcb->state == DNET_TCP_SYN_RCVD;
    /* Nobody waits for an orphan: it gives up sooner (Linux tcp_orphan_retries). */
    unsigned max = syn ? TCP_SYN_RETRIES : tcb->orphan ? TCP_ORPHAN_RETRIES : TCP_DATA_RETRIES;

    if (tcb->retries >= max) {
        if (tcb->state == DNET_TCP_SYN_RCVD && tcb->passive) {
            dnet_tcp_set_closed(ctx, tcb, 0); /* embryo gives up silently */
            return;
        }
        if (tcb->orphan)
            ctx->st.tcp_orphan_timeout++;
        dnet_tcp_set_closed(ctx, tcb, ETIMEDOUT);
        return;
    }
    ctx->st.tcp_rto++;
    tcb->retries++;
    /* RFC 6298 5.5-5.6: back off; RFC 5681 3.1: one segment, ssthresh from the flight. */
    tcb->backoff++;
    tcb->rto_us = RTE_MIN(tcb->rto_us * 2, TCP_RTO_MAX_US);
    if (!syn) {
        tcb->ssthresh = RTE_MAX(tcp_flight(tcb) / 2, 2 * tcb->mss);
        tcb->cwnd = tcb->mss;
        tcb->in_recovery = 0;
        tcb->dupacks = 0;
        tcb->recover = tcb->snd_max;
        dnet_tcp_sack_clear(tcb);
        /* Go back to the first unacknowledged byte; the output loop resends from there. */
        tcb->snd_nxt = tcb->snd_una;
    }
    dnet_tcp_retransmit_first(ctx, tcb);
    if (!syn) {
        uint32_t one = RTE_MIN(tcb->mss, tcb->snd.len - RTE_MIN(tcb->snd_una - tcb->snd_buf_seq, tcb->snd.len));

        tcb->snd_nxt = tcb->snd_una + one;
        if (tcb->shut_wr && tcb->snd_nxt == tcb->fin_seq)
            tcb->snd_nxt++;
        /* What the output loop could not send went out just now: its ACK must count. */
        if (seq_gt(tcb->snd_nxt, tcb->snd_max))
            tcb->snd_max = tcb->snd_nxt;
    }
    dnet_timer_arm(ctx, &tcb->rtx_timer, tcb->rto_us);
    tcb->rtx_kind = TCP_RTX_RTO;
}

/* The probe timer fired: nothing was acknowledged for two round trips, so the last
 * segments or their ACKs may be lost with nothing behind them to draw duplicate ACKs.  One
 * probe, then the RTO (RFC 8985 7.3). */
static void tcp_tlp_expired(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->tlp_out = 1;
    dnet_tcp_send_tlp(ctx, tcb);
    dnet_tcp_arm_rto(ctx, tcb);
}

static void tcp_rtx_fn(struct dnet_ctx *ctx, struct dnet_timer *t)
{
    struct dnet_tcb *tcb = container_of(t, struct dnet_tcb, rtx_timer);

    dnet_tcb_touch(ctx, tcb);
    switch (tcb->rtx_kind) {
    case TCP_RTX_RTO:
        tcp_rto_expired(ctx, tcb);
        break;
    case TCP_RTX_TLP:
        tcp_tlp_expired(ctx, tcb);
        break;
    case TCP_RTX_PERSIST:
        /* A peer that keeps its window shut would keep an orphan for ever: give up after
         * as many probes as an orphan gets retransmissions. */
        if (tcb->orphan && tcb->backoff >= TCP_ORPHAN_RETRIES) {
            ctx->st.tcp_orphan_timeout++;
            dnet_tcp_set_closed(ctx, tcb, ETIMEDOUT);
            break;
        }
        dnet_tcp_send_probe(ctx, tcb);
        tcb->backoff++;
        dnet_tcp_arm_persist(ctx, tcb);
        break;
    case TCP_RTX_CORK:
        dnet_tcp_push(ctx, tcb);    /* corked for TCP_CORK_US with nothing in flight */
        break;
    case TCP_RTX_TIMEWAIT:
        if (tcb->state == DNET_TCP_FIN_WAIT_2)
            ctx->st.tcp_orphan_timeout++;   /* the peer never sent its FIN */
        dnet_tcp_set_closed(ctx, tcb, 0);
        break;
    default:
        break;
    }
}

static void tcp_delack_fn(struct dnet_ctx *ctx, struct dnet_timer *t)
{
    struct dnet_tcb *tcb = container_of(t, struct dnet_tcb, delack_timer);

    dnet_tcb_touch(ctx, tcb);
    tcb->ack_now = 1;
    dnet_tcp_output(ctx, tcb);
}

/* Keepalive (RFC 1122 4.2.3.6): after ka_idle_us of silence with nothing in flight, probe
 * every ka_intvl_us; ka_cnt unanswered probes reset the connection (as Linux does). */
static void tcp_ka_fn(struct dnet_ctx *ctx, struct dnet_timer *t)
{
    struct dnet_tcb *tcb = container_of(t, struct dnet_tcb, ka_timer);
    uint64_t idle = ctx->now_us - tcb->last_rcv_us;

    dnet_tcb_touch(ctx, tcb);
    if (!tcb->ka_idle_us ||
        (tcb->state != DNET_TCP_ESTABLISHED && tcb->state != DNET_TCP_CLOSE_WAIT))
        return;
    if (idle < tcb->ka_idle_us && !tcb->ka_probes) {
        dnet_timer_arm(ctx, t, tcb->ka_idle_us - idle);
        return;
    }
    if (tcb->snd_una != tcb->snd_max) {
        dnet_timer_arm(ctx, t, tcb->ka_intvl_us);   /* the RTO watches this connection */
        return;
    }
    if (tcb->ka_probes >= tcb->ka_cnt) {
        dnet_tcp_send_rst(ctx, tcb);
        dnet_tcp_set_closed(ctx, tcb, ETIMEDOUT);
        return;
    }
    tcb->ka_probes++;
    dnet_tcp_send_probe(ctx, tcb);
    dnet_timer_arm(ctx, t, tcb->ka_intvl_us);
}

void dnet_tcp_ka_touch(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->last_rcv_us = ctx->now_us;
    if (!tcb->ka_idle_us)
        return;
    /* Re-arm only when probing: an idle timer already armed re-checks last_rcv_us itself. */
    if (tcb->ka_probes || !dnet_timer_armed(&tcb->ka_timer)) {
        tcb->ka_probes = 0;
        dnet_timer_arm(ctx, &tcb->ka_timer, tcb->ka_idle_us);
    }
}

void dnet_tcp_timers_init(struct dnet_tcb *tcb)
{
    dnet_timer_init(&tcb->rtx_timer, tcp_rtx_fn);
    dnet_timer_init(&tcb->delack_timer, tcp_delack_fn);
    dnet_timer_init(&tcb->ka_timer, tcp_ka_fn);
}

void dnet_tcp_timers_stop(struct dnet_tcb *tcb)
{
    dnet_timer_cancel(&tcb->rtx_timer);
    dnet_timer_cancel(&tcb->delack_timer);
    dnet_timer_cancel(&tcb->ka_timer);
}

void dnet_tcp_rtt_sample(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint64_t r)
{
    uint32_t rto;

    if (r == 0)
        r = 1;
    if (!tcb->min_rtt_us || r < tcb->min_rtt_us)
        tcb->min_rtt_us = (uint32_t)RTE_MIN(r, (uint64_t)UINT32_MAX);
    if (!tcb->srtt_us) {
        /* RFC 6298 2.2 */
        tcb->srtt_us = (uint32_t)r;
        tcb->rttvar_us = (uint32_t)(r / 2);
    } else {
        /* RFC 6298 2.3, alpha 1/8, beta 1/4 */
        uint32_t d = tcb->srtt_us > r ? tcb->srtt_us - (uint32_t)r : (uint32_t)r - tcb->srtt_us;

        tcb->rttvar_us = (3 * tcb->rttvar_us + d) / 4;
        tcb->srtt_us = (7 * tcb->srtt_us + (uint32_t)r) / 8;
    }
    rto = tcb->srtt_us + RTE_MAX(DNET_TICK_US, 4 * tcb->rttvar_us);
    tcb->rto_us = RTE_MIN(RTE_MAX(rto, ctx->conf.rto_min_ms * 1000u), TCP_RTO_MAX_US);
}

void dnet_tcp_arm_rto(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->rtx_kind = TCP_RTX_RTO;
    dnet_timer_arm(ctx, &tcb->rtx_timer, tcb->rto_us);
}

/* Linux's probe timeout: two SRTT plus 2 ms, or plus the worst-case delayed ACK (200 ms)
 * when a single segment is out (its ACK may be delayed, not lost). */
#define TCP_TLP_SLACK_US 2000u
#define TCP_TLP_DELACK_US 200000u

static int tcp_tlp_ok(const struct dnet_ctx *ctx, const struct dnet_tcb *tcb)
{
    return !ctx->conf.no_tlp && tcb->sack_ok && !tcb->in_recovery && !tcb->tlp_out &&
           tcb->srtt_us && !tcb->backoff && tcp_can_send(tcb);
}

void dnet_tcp_arm_loss(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    uint64_t pto;

    if (!tcp_tlp_ok(ctx, tcb)) {
        dnet_tcp_arm_rto(ctx, tcb);
        return;
    }
    pto = 2ull * tcb->srtt_us +
          (tcp_flight(tcb) > tcb->mss ? TCP_TLP_SLACK_US : TCP_TLP_DELACK_US);
    /* A probe that would go after the RTO is no probe (RFC 8985 7.2). */
    if (pto >= tcb->rto_us) {
        dnet_tcp_arm_rto(ctx, tcb);
        return;
    }
    tcb->rtx_kind = TCP_RTX_TLP;
    dnet_timer_arm(ctx, &tcb->rtx_timer, pto);
}

void dnet_tcp_arm_persist(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    uint64_t base = RTE_MAX(tcb->rto_us, ctx->conf.rto_min_ms * 1000u);
    uint64_t d = base << RTE_MIN(tcb->backoff, 10);

    tcb->rtx_kind = TCP_RTX_PERSIST;
    dnet_timer_arm(ctx, &tcb->rtx_timer, RTE_MIN(d, (uint64_t)TCP_PERSIST_MAX_US));
}

void dnet_tcp_schedule_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    /* RFC 9293 3.8.6.3 / RFC 1122: ACK at least every second full-sized segment, and
     * never later than the delayed-ACK timeout. */
    if (++tcb->delack_segs >= 2) {
        tcb->ack_now = 1;
        return;
    }
    if (!dnet_timer_armed(&tcb->delack_timer))
        dnet_timer_arm(ctx, &tcb->delack_timer, ctx->conf.delack_ms * 1000ull);
}
