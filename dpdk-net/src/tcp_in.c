// SPDX-License-Identifier: MIT
// TCP input (RFC 9293 3.10.7 "SEGMENT ARRIVES"): header and option parsing, LISTEN and
// SYN_SENT processing, sequence/PAWS checks, RST and SYN rules (RFC 5961), and FIN handling.
// ACK and data processing are in tcp_ack.c.
#include <errno.h>
#include <string.h>

#include "tcp_int.h"

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void tcp_parse_opts(const uint8_t *p, unsigned len, struct tcp_opts *o)
{
    unsigned i = 0;

    while (i < len) {
        unsigned kind = p[i], l;

        if (kind == 0)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= len || (l = p[i + 1]) < 2 || i + l > len)
            break; /* malformed: ignore the rest, as Linux does */
        if (kind == TCP_OPT_MSS && l == 4) {
            o->has_mss = 1;
            o->mss = (uint16_t)(p[i + 2] << 8 | p[i + 3]);
        } else if (kind == TCP_OPT_WS && l == 3) {
            o->has_ws = 1;
            o->ws = RTE_MIN(p[i + 2], 14); /* RFC 7323 2.3 */
        } else if (kind == TCP_OPT_SACK_OK && l == 2) {
            o->sack_ok = 1;
        } else if (kind == TCP_OPT_TS && l == 10) {
            o->has_ts = 1;
            o->tsval = get32(p + i + 2);
            o->tsecr = get32(p + i + 6);
        } else if (kind == TCP_OPT_SACK && l >= 10 && (l - 2) % 8 == 0) {
            for (unsigned k = 0; k < (l - 2) / 8 && k < 4; k++) {
                o->sack[k].start = get32(p + i + 2 + 8 * k);
                o->sack[k].end = get32(p + i + 6 + 8 * k);
                o->nsack = (uint8_t)(k + 1);
            }
        }
        i += l;
    }
}

static int tcp_parse(struct dnet_ctx *ctx, struct rte_mbuf *m, struct tcp_seg *s)
{
    unsigned off = m->l2_len + m->l3_len, avail = rte_pktmbuf_data_len(m) - off, doff;
    const struct rte_tcp_hdr *th;

    if (avail < sizeof(*th))
        return -1;
    th = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *, off);
    doff = (th->data_off >> 4) * 4u;
    if (doff < sizeof(*th) || doff > avail || !dnet_l4_csum_ok(ctx, m))
        return -1;
    memset(s, 0, sizeof(*s));
    s->sip = dnet_ip4_hdr(m)->src_addr;
    s->sport = th->src_port;
    s->dport = th->dst_port;
    s->seq = rte_be_to_cpu_32(th->sent_seq);
    s->ack = rte_be_to_cpu_32(th->recv_ack);
    s->wnd = rte_be_to_cpu_16(th->rx_win);
    s->flags = th->tcp_flags & 0x3f;
    s->len = avail - doff;
    s->data = (const uint8_t *)th + doff;
    tcp_parse_opts((const uint8_t *)(th + 1), doff - sizeof(*th), &s->opt);
    return 0;
}

/* Options agreed on a SYN exchange (we always offer all of them). */
static void tcp_negotiate(struct dnet_tcb *tcb, const struct tcp_seg *s)
{
    uint32_t peer_mss = s->opt.has_mss ? s->opt.mss : TCP_DEF_PEER_MSS;

    tcb->ws_ok = s->opt.has_ws;
    tcb->snd_wscale = tcb->ws_ok ? s->opt.ws : 0;
    if (!tcb->ws_ok)
        tcb->rcv_wscale = 0;
    tcb->ts_ok = s->opt.has_ts;
    if (tcb->ts_ok)
        tcb->ts_recent = s->opt.tsval;
    tcb->sack_ok = s->opt.sack_ok;
    tcb->mss = RTE_MIN(peer_mss, TCP_OUR_MSS) - (tcb->ts_ok ? 12 : 0);
    if (tcb->mss < 64)
        tcb->mss = 64;
    tcb->irs = s->seq;
    tcb->rcv_nxt = s->seq + 1;
    tcb->rcv_adv = tcb->rcv_nxt;
    tcb->ssthresh = UINT32_MAX;
}

static void tcp_listen_input(struct dnet_ctx *ctx, struct dnet_tcb *lsn, const struct tcp_seg *s,
                             uint32_t iss)
{
    struct dnet_tcb *c;

    if (s->flags & TCP_F_RST)
        return;
    if (s->flags & TCP_F_ACK) {
        dnet_tcp_reply_rst(ctx, s);
        return;
    }
    if (!(s->flags & TCP_F_SYN)) {
        ctx->st.tcp_drop++;
        return;
    }
    if (tcp_lsn_take(lsn) < 0) {
        ctx->st.tcp_backlog_drop++;
        return;
    }
    c = dnet_tcb_alloc(ctx);
    if (!c || dnet_tcb_buffers(ctx, c) < 0) {
        ctx->st.tcp_nomem_drop++;
        tcp_lsn_give(lsn);
        if (c)
            dnet_tcp_set_closed(ctx, c, 0);
        return;
    }
    c->rip = s->sip;
    c->rport = s->sport;
    c->lport = s->dport;
    c->passive = 1;
    c->parent = lsn;
    /* As Linux's sk_clone: the connection starts with its listener's IP_TTL, IP_TOS,
     * TCP_NOTSENT_LOWAT (the SYN-ACK already carries them) and SO_REUSE*. */
    c->ip_ttl = lsn->ip_ttl;
    c->reuse = lsn->reuse;
    c->ip_tos = lsn->ip_tos;
    c->notsent_lowat = lsn->notsent_lowat;
    lsn->syn_len++;
    tcp_negotiate(c, s);
    c->iss = iss ? iss : dnet_tcp_isn(ctx, c);
    c->snd_una = c->iss;
    c->snd_nxt = c->snd_max = c->snd_buf_seq = c->iss + 1;
    c->snd_wnd = s->wnd;        /* a SYN's window is never scaled (RFC 7323 2.2) */
    c->snd_wl1 = s->seq;
    c->snd_wl2 = c->iss;
    c->state = DNET_TCP_SYN_RCVD;
    c->rtt_start_us = ctx->now_us;
    dnet_tcb_hash(ctx, c);
    dnet_tcp_send_syn(ctx, c);
    dnet_tcp_arm_rto(ctx, c);
}

void dnet_tcp_established(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->state = DNET_TCP_ESTABLISHED;
    tcb->cwnd = 10 * tcb->mss;  /* RFC 6928 */
    if (!tcb->retries)
        dnet_tcp_rtt_sample(ctx, tcb, ctx->now_us - tcb->rtt_start_us);
    tcb->retries = 0;
    tcb->backoff = 0;
    dnet_timer_cancel(&tcb->rtx_timer);
}

static void tcp_syn_sent_input(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const struct tcp_seg *s)
{
    int ack = (s->flags & TCP_F_ACK) != 0;

    if (ack && (seq_le(s->ack, tcb->iss) || seq_gt(s->ack, tcb->snd_max))) {
        dnet_tcp_reply_rst(ctx, s);
        return;
    }
    if (s->flags & TCP_F_RST) {
        if (ack)
            dnet_tcp_set_closed(ctx, tcb, ECONNREFUSED);
        return;
    }
    if (!(s->flags & TCP_F_SYN))
        return;
    tcp_negotiate(tcb, s);
    tcb->snd_wnd = s->wnd;
    tcb->snd_wl1 = s->seq;
    tcb->snd_wl2 = s->ack;
    if (ack) {
        tcb->snd_una = s->ack;
        dnet_tcp_established(ctx, tcb);
        tcb->ack_now = 1;
        dnet_tcp_output(ctx, tcb);
        return;
    }
    /* Simultaneous open: SYN_RCVD, answer with SYN-ACK of our original ISS. */
    tcb->state = DNET_TCP_SYN_RCVD;
    dnet_tcp_send_syn(ctx, tcb);
    dnet_tcp_arm_rto(ctx, tcb);
}

/* RFC 9293 3.10.7.4, first check: is any part of the segment inside the receive window? */
static int tcp_seq_ok(const struct dnet_tcb *tcb, const struct tcp_seg *s, uint32_t seglen)
{
    uint32_t wnd = dnet_tcp_rcv_window(tcb), nxt = tcb->rcv_nxt;

    if (seglen == 0)
        return wnd == 0 ? s->seq == nxt : seq_le(nxt, s->seq) && seq_lt(s->seq, nxt + wnd);
    if (wnd == 0)
        return 0;
    return (seq_le(nxt, s->seq) && seq_lt(s->seq, nxt + wnd)) ||
           (seq_le(nxt, s->seq + seglen - 1) && seq_lt(s->seq + seglen - 1, nxt + wnd));
}

/* RFC 5961's challenge ACK, for an in-window RST or SYN; limited as any refused segment's. */
static void tcp_challenge_ack(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    if (dnet_tcp_send_oow_ack(ctx, tcb, NULL))
        ctx->st.tcp_challenge_ack++;
}

/* A FIN at rcv_nxt: consume it and move the state machine. */
void dnet_tcp_fin_in(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    tcb->rcv_nxt++;
    tcb->rcv_fin = 1;
    tcb->ooo_fin = 0;
    tcb->ack_now = 1;
    switch (tcb->state) {
    case DNET_TCP_SYN_RCVD:
    case DNET_TCP_ESTABLISHED:
        tcb->state = DNET_TCP_CLOSE_WAIT;
        break;
    case DNET_TCP_FIN_WAIT_1:
        if (tcb->shut_wr && seq_gt(tcb->snd_una, tcb->fin_seq))
            dnet_tcp_enter_time_wait(ctx, tcb);
        else
            tcb->state = DNET_TCP_CLOSING;
        break;
    case DNET_TCP_FIN_WAIT_2:
        dnet_tcp_enter_time_wait(ctx, tcb);
        break;
    default:
        break;
    }
}

/* Segment for a synchronized connection (SYN_RCVD and later). */
static void tcp_sync_input(struct dnet_ctx *ctx, struct dnet_tcb *tcb, struct tcp_seg *s)
{
    uint32_t seglen = s->len + !!(s->flags & TCP_F_SYN) + !!(s->flags & TCP_F_FIN);

    if (tcb->state == DNET_TCP_SYN_RCVD && (s->flags & TCP_F_SYN) && !(s->flags & TCP_F_ACK) &&
        s->seq == tcb->irs) {
        dnet_tcp_send_syn(ctx, tcb); /* the peer lost our SYN-ACK */
        return;
    }
    if (tcb->state == DNET_TCP_SYN_RCVD && !tcb->passive && s->seq == tcb->irs &&
        (s->flags & (TCP_F_SYN | TCP_F_ACK)) == (TCP_F_SYN | TCP_F_ACK) &&
        seq_lt(tcb->snd_una, s->ack) && seq_le(s->ack, tcb->snd_max)) {
        /* Simultaneous open, the peer's SYN-ACK (RFC 9293 figure 8): its SYN is a duplicate
         * of the one we answered; take the ACK and acknowledge in turn. */
        s->flags &= (uint8_t)~TCP_F_SYN;
        s->seq++;
        seglen--;
        tcb->ack_now = 1;
    }
    /* PAWS (RFC 7323 5.3): an older timestamp marks an old duplicate. */
    if (tcb->ts_ok && s->opt.has_ts && !(s->flags & TCP_F_RST) && seq_lt(s->opt.tsval, tcb->ts_recent)) {
        ctx->st.tcp_drop++;
        dnet_tcp_send_oow_ack(ctx, tcb, s);
        return;
    }
    if (!tcp_seq_ok(tcb, s, seglen)) {
        ctx->st.tcp_drop++;
        if (!(s->flags & TCP_F_RST)) {
            if (tcb->state == DNET_TCP_TIME_WAIT && (s->flags & TCP_F_FIN))
                dnet_tcp_enter_time_wait(ctx, tcb); /* retransmitted FIN: restart 2 MSL */
            dnet_tcp_send_oow_ack(ctx, tcb, s);
        }
        return;
    }
    if (s->flags & TCP_F_RST) {
        /* RFC 5961 3.2: only an exact match resets; in-window otherwise gets a challenge. */
        if (s->seq != tcb->rcv_nxt) {
            tcp_challenge_ack(ctx, tcb);
            return;
        }
        switch (tcb->state) {
        case DNET_TCP_SYN_RCVD:
            dnet_tcp_set_closed(ctx, tcb, tcb->passive ? 0 : ECONNREFUSED);
            break;
        case DNET_TCP_ESTABLISHED: case DNET_TCP_FIN_WAIT_1: case DNET_TCP_FIN_WAIT_2:
        case DNET_TCP_CLOSE_WAIT:
            dnet_tcp_set_closed(ctx, tcb, ECONNRESET);
            break;
        default:
            dnet_tcp_set_closed(ctx, tcb, 0);
            break;
        }
        return;
    }
    if (s->flags & TCP_F_SYN) {
        if (tcb->state == DNET_TCP_SYN_RCVD && tcb->passive) {
            dnet_tcp_set_closed(ctx, tcb, 0); /* back to LISTEN (RFC 9293 3.10.7.4) */
            return;
        }
        tcp_challenge_ack(ctx, tcb);          /* RFC 5961 4.2 */
        return;
    }
    /* Trim to the window: old bytes at the front, bytes past the right edge at the back. */
    if (seq_lt(s->seq, tcb->rcv_nxt)) {
        uint32_t d = tcb->rcv_nxt - s->seq;

        if (d >= s->len) {
            if ((s->flags & TCP_F_FIN) && d > s->len)
                s->flags &= (uint8_t)~TCP_F_FIN;
            d = s->len;
        }
        s->data += d;
        s->len -= d;
        s->seq += d;
    }
    if (seq_gt(s->seq + s->len, tcb->rcv_nxt + dnet_tcp_rcv_window(tcb))) {
        s->len = tcb->rcv_nxt + dnet_tcp_rcv_window(tcb) - s->seq;
        s->flags &= (uint8_t)~TCP_F_FIN;
    }
    if (tcb->ts_ok && s->opt.has_ts && seq_le(s->seq, tcb->last_ack_sent) &&
        seq_ge(s->opt.tsval, tcb->ts_recent))
        tcb->ts_recent = s->opt.tsval;
    if (!(s->flags & TCP_F_ACK))
        return;
    if (tcb->state == DNET_TCP_SYN_RCVD) {
        if (!seq_lt(tcb->snd_una, s->ack) || !seq_le(s->ack, tcb->snd_max)) {
            dnet_tcp_reply_rst(ctx, s);
            return;
        }
        dnet_tcp_established(ctx, tcb);
        if (tcb->passive)
            dnet_tcp_child_established(ctx, tcb);
        tcb->snd_wl1 = s->seq - 1;   /* force the window update below */
    }
    if (dnet_tcp_ack_in(ctx, tcb, s) < 0)
        return;  /* tcb is gone */
    if (s->len && (!tcb->user_ref || tcb->shut_rd) &&
        (tcb->state == DNET_TCP_FIN_WAIT_1 || tcb->state == DNET_TCP_FIN_WAIT_2)) {
        /* New data nobody will read (closed, or shut for reading, and past our FIN): RFC
         * 1122 4.2.2.13 and Linux reset the connection ("data after close"). */
        ctx->st.tcp_abort_on_data++;
        dnet_tcp_send_rst(ctx, tcb);
        dnet_tcp_set_closed(ctx, tcb, ECONNRESET);
        return;
    }
    if (s->len && (tcb->state == DNET_TCP_ESTABLISHED || tcb->state == DNET_TCP_FIN_WAIT_1 ||
                   tcb->state == DNET_TCP_FIN_WAIT_2))
        dnet_tcp_data_in(ctx, tcb, s->seq, s->data, s->len);
    if (s->flags & TCP_F_FIN) {
        if (s->seq + s->len == tcb->rcv_nxt && !tcb->rcv_fin) {
            dnet_tcp_fin_in(ctx, tcb);
        } else if (!tcb->rcv_fin) {
            tcb->ooo_fin = 1;
            tcb->ooo_fin_seq = s->seq + s->len;
            tcb->ack_now = 1;
        }
    }
    if (tcb->ooo_fin && tcb->ooo_fin_seq == tcb->rcv_nxt)
        dnet_tcp_fin_in(ctx, tcb);
    dnet_tcp_output(ctx, tcb);
}

/* @s was parsed from *@mp; a redirect to another context takes the mbuf (*@mp = NULL).
 * @asked: *@mp came from another context's dnet_group_ask. */
static void tcp_segment(struct dnet_ctx *ctx, struct tcp_seg *s, struct rte_mbuf **mp,
                        int asked)
{
    struct dnet_tcb *tcb = dnet_tcb_lookup(ctx, s->sip, s->sport, s->dport);
    struct dnet_tcb *lsn;
    struct dnet_ctx *owner;

    if (tcb)
        dnet_tcb_touch(ctx, tcb);   /* whatever the segment does to it (and its listener) */

    if (tcb && tcb->state == DNET_TCP_TIME_WAIT &&
        (s->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == TCP_F_SYN) {
        /* TIME_WAIT reuse (RFC 6191): a new SYN above the old sequence space or timestamps,
         * and not an old duplicate by PAWS (a TSval below TS.Recent), as Linux checks; a
         * refused one goes on to the PAWS drop and ACK below. */
        int paws_ok = !(tcb->ts_ok && s->opt.has_ts && seq_lt(s->opt.tsval, tcb->ts_recent));

        lsn = dnet_tcb_listener(ctx, s->dport);
        if (lsn && paws_ok &&
            (seq_gt(s->seq, tcb->rcv_nxt) ||
             (tcb->ts_ok && s->opt.has_ts && seq_gt(s->opt.tsval, tcb->ts_recent)))) {
            uint32_t iss = tcb->snd_nxt + 128000;

            dnet_tcp_set_closed(ctx, tcb, 0);
            tcp_listen_input(ctx, lsn, s, iss ? iss : 1);
            return;
        }
    }
    if (!tcb) {
        lsn = dnet_tcb_listener(ctx, s->dport);
        if (lsn) {
            /* A lone SYN opens a connection here; anything else may be for one that
             * another context holds (ctx.h). */
            if ((s->flags & (TCP_F_SYN | TCP_F_ACK | TCP_F_RST)) == TCP_F_SYN ||
                !dnet_group_ask(ctx, mp, asked ? dnet_group_asker(*mp) : ctx->queue))
                tcp_listen_input(ctx, lsn, s, 0);
            return;
        }
        /* Several contexts on the port: maybe a connection of the port's owner
         * (lcore/group.c).  Asked only here, past both lookups: one queue pays nothing. */
        owner = dnet_group_owner(ctx, s->dport);
        if (owner) {
            dnet_group_redirect(ctx, owner, *mp, DNET_REDIR_TCP);
            *mp = NULL;
            return;
        }
        ctx->st.tcp_drop++;
        dnet_tcp_reply_rst(ctx, s);   /* CLOSED (RFC 9293 3.10.7.1) */
        return;
    }
    dnet_tcp_ka_touch(ctx, tcb);
    tcb->segs_in++;
    if (s->flags & TCP_F_ACK)
        tcb->last_ack_rcv_us = ctx->now_us;
    if (s->len) {
        tcb->data_segs_in++;
        tcb->last_data_rcv_us = ctx->now_us;
        if (s->len > tcb->rcv_mss)
            tcb->rcv_mss = s->len;
    }
    if (tcb->state == DNET_TCP_SYN_SENT)
        tcp_syn_sent_input(ctx, tcb, s);
    else
        tcp_sync_input(ctx, tcb, s);
}

static int tcp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n, int asked)
{
    for (int i = 0; i < n; i++) {
        struct tcp_seg s;

        ctx->st.tcp_rx++;
        if (tcp_parse(ctx, pkts[i], &s) < 0)
            ctx->st.tcp_bad++;
        else
            tcp_segment(ctx, &s, &pkts[i], asked);
        rte_pktmbuf_free(pkts[i]);  /* copied into the receive buffer; NULL if redirected */
    }
    return n;
}

int dnet_tcp_input(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    return tcp_input(ctx, pkts, n, 0);
}

int dnet_tcp_input_asked(struct dnet_ctx *ctx, struct rte_mbuf **pkts, int n)
{
    return tcp_input(ctx, pkts, n, 1);
}
