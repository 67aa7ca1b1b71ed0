// SPDX-License-Identifier: MIT
// The TCP half of the internal socket API (dpdk-net/socket.h): listen, accept, connect,
// send, recv, shutdown, close, abort, events, info.  Runs on the context's own thread.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp_int.h"

static const char *const g_state_names[] = {
    [DNET_TCP_CLOSED] = "CLOSED", [DNET_TCP_LISTEN] = "LISTEN",
    [DNET_TCP_SYN_SENT] = "SYN_SENT", [DNET_TCP_SYN_RCVD] = "SYN_RCVD",
    [DNET_TCP_ESTABLISHED] = "ESTABLISHED", [DNET_TCP_FIN_WAIT_1] = "FIN_WAIT_1",
    [DNET_TCP_FIN_WAIT_2] = "FIN_WAIT_2", [DNET_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
    [DNET_TCP_CLOSING] = "CLOSING", [DNET_TCP_LAST_ACK] = "LAST_ACK",
    [DNET_TCP_TIME_WAIT] = "TIME_WAIT",
};

const char *dnet_tcp_state_name(enum dnet_tcp_state st)
{
    return (unsigned)st < RTE_DIM(g_state_names) ? g_state_names[st] : "?";
}

/* Is local port @p in use by a listener or by any connection (whatever its peer)? */
static int tcp_lport_used(struct dnet_ctx *ctx, rte_be16_t p)
{
    if (dnet_tcb_listener(ctx, p))
        return 1;
    for (unsigned i = 0; i < DNET_TCP_HASH; i++)
        for (const struct dnet_tcb *t = ctx->tcp_hash[i]; t; t = t->hnext)
            if (t->lport == p)
                return 1;
    return 0;
}

/* listen() on port 0, as bind(port 0) + listen() does on Linux: a local port no socket uses.
 * The scan of the connection table is fine for a call this rare. */
static int tcp_pick_listen_port(struct dnet_ctx *ctx, rte_be16_t *port)
{
    for (unsigned tries = 0; tries < 28232; tries++) {
        rte_be16_t p = dnet_eph_next(ctx);

        if (!tcp_lport_used(ctx, p)) {
            *port = p;
            return 0;
        }
    }
    return -EADDRNOTAVAIL;
}

int dnet_tcp_listen(struct dnet_ctx *ctx, rte_be16_t port, int backlog, struct dnet_tcb **out)
{
    struct dnet_tcb *l;
    int rc;

    *out = NULL;
    ctx->gen++;
    if (!port) {
        rc = tcp_pick_listen_port(ctx, &port);
        if (rc < 0)
            return rc;
    } else if (dnet_tcb_listener(ctx, port)) {
        return -EADDRINUSE;
    }
    l = dnet_tcb_alloc(ctx);
    if (!l)
        return -ENOMEM;
    l->state = DNET_TCP_LISTEN;
    l->lport = port;
    l->backlog = backlog > 0 ? (uint32_t)backlog : 1;
    l->queued = &l->queued_own;
    l->user_ref = 1;
    l->hnext = ctx->tcp_listen;
    ctx->tcp_listen = l;
    *out = l;
    return 0;
}

void dnet_tcp_listen_share(struct dnet_tcb *lsn, uint32_t *queued)
{
    __atomic_fetch_add(queued, lsn->syn_len + lsn->aq_len, __ATOMIC_RELAXED);
    lsn->queued = queued;
}

int dnet_tcp_set_backlog(struct dnet_ctx *ctx, struct dnet_tcb *lsn, int backlog)
{
    ctx->gen++;
    if (lsn->state != DNET_TCP_LISTEN)
        return -EINVAL;
    lsn->backlog = backlog > 0 ? (uint32_t)backlog : 1;
    return 0;
}

int dnet_tcp_accept(struct dnet_ctx *ctx, struct dnet_tcb *lsn, struct dnet_tcb **out)
{
    struct dnet_tcb *c = lsn->aq_head;

    *out = NULL;
    ctx->gen++;
    if (lsn->state != DNET_TCP_LISTEN)
        return -EINVAL;
    if (!c)
        return -EAGAIN;
    lsn->aq_head = c->aq_next;
    if (!lsn->aq_head)
        lsn->aq_tail = NULL;
    lsn->aq_len--;
    tcp_lsn_give(lsn);
    dnet_tcb_touch(ctx, lsn);
    c->aq_next = NULL;
    c->parent = NULL;
    c->user_ref = 1;
    dnet_tcb_touch(ctx, c);
    *out = c;
    return 0;
}

int dnet_tcp_pick_port(struct dnet_ctx *ctx, rte_be32_t dip, rte_be16_t dport, rte_be16_t *sport)
{
    for (unsigned tries = 0; tries < 28232; tries++) {
        rte_be16_t p = dnet_eph_next(ctx);

        if (!dnet_tcb_lookup(ctx, dip, dport, p) && !dnet_tcb_listener(ctx, p)) {
            *sport = p;
            return 0;
        }
    }
    return -EADDRNOTAVAIL;
}

int dnet_tcp_connect(struct dnet_ctx *ctx, rte_be32_t dip, rte_be16_t dport, rte_be16_t sport,
                     struct dnet_tcb **out)
{
    return dnet_tcp_connect_tx(ctx, dip, dport, sport, 0, 0, out);
}

int dnet_tcp_connect_tx(struct dnet_ctx *ctx, rte_be32_t dip, rte_be16_t dport, rte_be16_t sport,
                        uint8_t ttl, uint8_t tos, struct dnet_tcb **out)
{
    struct dnet_tcb *t;
    int rc;

    *out = NULL;
    ctx->gen++;
    if (!sport) {
        rc = dnet_tcp_pick_port(ctx, dip, dport, &sport);
        if (rc < 0)
            return rc;
    } else if (dnet_tcb_lookup(ctx, dip, dport, sport)) {
        return -EADDRINUSE;
    }
    t = dnet_tcb_alloc(ctx);
    if (!t)
        return -ENOMEM;
    t->rip = dip;
    t->rport = dport;
    t->lport = sport;
    t->user_ref = 1;
    if (ttl)
        t->ip_ttl = ttl;
    t->ip_tos = tos;
    if (dnet_tcb_buffers(ctx, t) < 0) {
        t->user_ref = 0;
        dnet_tcp_set_closed(ctx, t, 0);
        return -ENOMEM;
    }
    t->state = DNET_TCP_SYN_SENT;
    t->ws_ok = t->ts_ok = t->sack_ok = 1;   /* offered; the SYN-ACK decides */
    t->iss = dnet_tcp_isn(ctx, t);
    t->snd_una = t->iss;
    t->snd_nxt = t->snd_max = t->iss + 1;
    t->snd_buf_seq = t->iss + 1;
    t->rtt_start_us = ctx->now_us;
    dnet_tcb_hash(ctx, t);
    dnet_tcp_send_syn(ctx, t);
    dnet_tcp_arm_rto(ctx, t);
    dnet_tcb_touch(ctx, t);
    *out = t;
    return 0;
}

static int tcp_take_error(struct dnet_tcb *tcb)
{
    int e = tcb->err;

    tcb->err = 0;
    return -e;
}

static size_t copy_from_buf(void *arg, void *p, size_t off, size_t len)
{
    memcpy(p, (const uint8_t *)arg + off, len);
    return len;
}

static size_t copy_to_buf(void *arg, void *p, size_t off, size_t len)
{
    memcpy((uint8_t *)arg + off, p, len);
    return len;
}

/* @len bytes at ring position @pos of @b through @copy, as one or two pieces around the
 * ring's end: 0, or -EFAULT if @copy came back short. */
static int ring_copy(const struct dnet_bytebuf *b, uint32_t pos, uint32_t len,
                     dnet_copy_fn *copy, void *arg)
{
    uint32_t first = RTE_MIN(len, b->cap - pos);

    if (copy(arg, b->data + pos, 0, first) != first ||
        (len > first && copy(arg, b->data, first, len - first) != len - first))
        return -EFAULT;
    return 0;
}

ssize_t dnet_tcp_send_copy(struct dnet_ctx *ctx, struct dnet_tcb *tcb, size_t len,
                           dnet_copy_fn *copy, void *arg)
{
    struct dnet_bytebuf *b = &tcb->snd;
    uint32_t k, pos;

    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    if (tcb->err)
        return tcp_take_error(tcb);
    if (tcb->shut_wr)
        return -EPIPE;
    if (tcb->state == DNET_TCP_SYN_SENT || tcb->state == DNET_TCP_SYN_RCVD)
        return -EAGAIN;
    if (tcb->state != DNET_TCP_ESTABLISHED && tcb->state != DNET_TCP_CLOSE_WAIT)
        return tcb->state == DNET_TCP_CLOSED ? -EPIPE : -ENOTCONN;
    k = (uint32_t)RTE_MIN(len, (size_t)(b->cap - b->len));
    if (!k)
        return len ? -EAGAIN : 0;
    pos = (b->head + b->len) % b->cap;
    if (ring_copy(b, pos, k, copy, arg))
        return -EFAULT;
    b->len += k;
    dnet_tcp_output(ctx, tcb);
    return k;
}

ssize_t dnet_tcp_send(struct dnet_ctx *ctx, struct dnet_tcb *tcb, const void *buf, size_t len)
{
    return dnet_tcp_send_copy(ctx, tcb, len, copy_from_buf, (void *)(uintptr_t)buf);
}

ssize_t dnet_tcp_recv_copy(struct dnet_ctx *ctx, struct dnet_tcb *tcb, size_t len,
                           dnet_copy_fn *copy, void *arg)
{
    struct dnet_bytebuf *b = &tcb->rcv;
    uint32_t k, before, after;

    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    if (tcb->state == DNET_TCP_LISTEN)
        return -ENOTCONN;
    if (!b->len || tcb->shut_rd) {
        if (tcb->err)
            return tcp_take_error(tcb);
        if (tcb->rcv_fin || tcb->shut_rd || tcb->state == DNET_TCP_CLOSED)
            return 0;
        return -EAGAIN;
    }
    k = (uint32_t)RTE_MIN(len, (size_t)b->len);
    if (ring_copy(b, b->head, k, copy, arg))
        return -EFAULT;
    before = dnet_tcp_rcv_window(tcb);
    b->len -= k;
    /* Emptied, it starts over (see tcp_release_acked), unless out-of-order data lies
     * beyond the hole at offsets from head. */
    b->head = b->len || tcb->nooo ? (b->head + k) % b->cap : 0;
    /* Window update when the usable window grew by two segments or half the buffer. */
    after = RTE_MIN(b->cap - b->len, 65535u << tcb->rcv_wscale);
    if (tcb->state != DNET_TCP_CLOSED && after > before &&
        after - before >= RTE_MIN(b->cap / 2, 2 * TCP_OUR_MSS)) {
        tcb->ack_now = 1;
        dnet_tcp_output(ctx, tcb);
    }
    return k;
}

ssize_t dnet_tcp_recv(struct dnet_ctx *ctx, struct dnet_tcb *tcb, void *buf, size_t len)
{
    return dnet_tcp_recv_copy(ctx, tcb, len, copy_to_buf, buf);
}

/* Queue the FIN after the buffered data and move to the next closing state. */
static void tcp_queue_fin(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    if (tcb->shut_wr)
        return;
    tcb->shut_wr = 1;
    tcb->fin_seq = tcb->snd_buf_seq + tcb->snd.len;
    if (tcb->state == DNET_TCP_ESTABLISHED || tcb->state == DNET_TCP_SYN_RCVD)
        tcb->state = DNET_TCP_FIN_WAIT_1;
    else if (tcb->state == DNET_TCP_CLOSE_WAIT)
        tcb->state = DNET_TCP_LAST_ACK;
    dnet_tcp_output(ctx, tcb);
}

int dnet_tcp_shutdown(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int how)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
        return -EINVAL;
    if (tcb->state == DNET_TCP_LISTEN || tcb->state == DNET_TCP_CLOSED ||
        tcb->state == DNET_TCP_SYN_SENT)
        return -ENOTCONN;
    if (how != SHUT_WR)
        tcb->shut_rd = 1;
    if (how != SHUT_RD)
        tcp_queue_fin(ctx, tcb);
    return 0;
}

int dnet_tcp_abort(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    tcb->user = NULL;   /* the handle is given up: nothing to tell its user */
    dnet_tcb_untouch(ctx, tcb);
    if (tcb->state == DNET_TCP_LISTEN) {
        dnet_tcb_listener_free(ctx, tcb);
        return 0;
    }
    tcb->user_ref = 0;
    if (tcb->state != DNET_TCP_CLOSED && tcb->state != DNET_TCP_SYN_SENT &&
        tcb->state != DNET_TCP_TIME_WAIT)
        dnet_tcp_send_rst(ctx, tcb);
    dnet_tcp_set_closed(ctx, tcb, 0);
    return 0;
}

int dnet_tcp_close(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    tcb->user = NULL;   /* the handle is given up: nothing to tell its user */
    dnet_tcb_untouch(ctx, tcb);
    switch (tcb->state) {
    case DNET_TCP_LISTEN:
        dnet_tcb_listener_free(ctx, tcb);
        return 0;
    case DNET_TCP_CLOSED:
    case DNET_TCP_SYN_SENT:
        tcb->user_ref = 0;
        dnet_tcp_set_closed(ctx, tcb, 0);
        return 0;
    case DNET_TCP_TIME_WAIT:
        tcb->user_ref = 0;
        dnet_tcp_time_wait_orphan(tcb);
        return 0;
    default:
        break;
    }
    /* Linux: closing with unread data resets the connection (RFC 2525 2.17), whatever
     * closing state a shutdown() already took it to. */
    if (tcb->rcv.len)
        return dnet_tcp_abort(ctx, tcb);
    /* The stack finishes it and frees it: an orphan, bounded like Linux's tcp_max_orphans
     * (past it, a RST instead of the FIN). */
    if (dnet_tcp_orphan(ctx, tcb) < 0) {
        ctx->st.tcp_orphan_overflow++;
        return dnet_tcp_abort(ctx, tcb);
    }
    tcb->user_ref = 0;
    tcp_queue_fin(ctx, tcb);
    if (tcb->state == DNET_TCP_FIN_WAIT_2 && !dnet_timer_armed(&tcb->rtx_timer)) {
        tcb->rtx_kind = TCP_RTX_TIMEWAIT;  /* orphan FIN_WAIT_2 timeout (tcp_fin_timeout) */
        dnet_timer_arm(ctx, &tcb->rtx_timer, ctx->conf.time_wait_ms * 1000ull);
    }
    return 0;
}

int dnet_tcp_set_tx(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint8_t ttl, uint8_t tos,
                    uint32_t notsent_lowat)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);   /* the OUT rule may have changed */
    tcb->ip_ttl = ttl ? ttl : DNET_IP4_TTL_DEF;
    tcb->ip_tos = tos;
    tcb->notsent_lowat = notsent_lowat;
    return 0;
}

int dnet_tcp_set_nodelay(struct dnet_tcb *tcb, int on)
{
    tcb->nodelay = on != 0;
    return 0;
}

int dnet_tcp_set_reuse(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int reuse)
{
    (void)ctx;
    tcb->reuse = (uint8_t)(reuse & (DNET_REUSEADDR | DNET_REUSEPORT));
    return 0;
}

int dnet_tcp_port_held(const struct dnet_ctx *ctx, rte_be16_t port, int reuse)
{
    for (unsigned i = 0; i < DNET_TCP_HASH; i++) {
        for (const struct dnet_tcb *t = ctx->tcp_hash[i]; t; t = t->hnext) {
            if (t->lport != port || t->parent || t->state == DNET_TCP_CLOSED ||
                (t->user_ref && t->state != DNET_TCP_TIME_WAIT))
                continue;
            if (!(t->reuse & reuse))
                return 1;
        }
    }
    return 0;
}

int dnet_tcp_set_cork(struct dnet_ctx *ctx, struct dnet_tcb *tcb, int on)
{
    tcb->cork = on != 0;
    if (!on)
        dnet_tcp_push(ctx, tcb);
    return 0;
}

int dnet_tcp_set_keepalive(struct dnet_ctx *ctx, struct dnet_tcb *tcb, uint32_t idle_s,
                           uint32_t intvl_s, uint32_t cnt)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    if (idle_s && (!intvl_s || !cnt))
        return -EINVAL;
    tcb->ka_idle_us = idle_s * 1000000ull;
    tcb->ka_intvl_us = intvl_s * 1000000ull;
    tcb->ka_cnt = cnt;
    tcb->ka_probes = 0;
    dnet_timer_cancel(&tcb->ka_timer);
    if (idle_s) {
        tcb->last_rcv_us = ctx->now_us;
        dnet_timer_arm(ctx, &tcb->ka_timer, tcb->ka_idle_us);
    }
    return 0;
}

int dnet_tcp_take_error(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    ctx->gen++;
    dnet_tcb_touch(ctx, tcb);
    return -tcp_take_error(tcb);
}

const uint64_t *dnet_tcp_ev_stamp(const struct dnet_tcb *tcb)
{
    return &tcb->ev_stamp;
}

uint16_t dnet_tcb_queue(const struct dnet_tcb *tcb)
{
    return tcb->queue;
}

void dnet_tcp_set_user(struct dnet_ctx *ctx, struct dnet_tcb *tcb, void *user)
{
    tcb->user = user;
    if (user)
        dnet_tcb_stamp(ctx, tcb);   /* queued once at the start: the user looks first */
    else
        dnet_tcb_untouch(ctx, tcb);
}

int dnet_tcp_touched(struct dnet_ctx *ctx, void **users, int max)
{
    int n = 0;

    while (n < max && ctx->tq_head) {
        struct dnet_tcb *t = ctx->tq_head;

        dnet_tcb_untouch(ctx, t);
        users[n++] = t->user;
    }
    return n;
}

/* Linux's __sk_stream_is_writeable(sk, 1) in tcp_poll: the free room is at least half of
 * what is queued (sk_stream_min_wspace), and with TCP_NOTSENT_LOWAT twice the bytes not
 * yet sent are below it (tcp_stream_memory_free).  A send still takes whatever fits. */
static inline int tcp_writeable(const struct dnet_tcb *tcb)
{
    uint32_t len = tcb->snd.len, room = tcb->snd.cap - len;

    if (!room || (uint64_t)room * 2 < len)
        return 0;
    if (tcb->notsent_lowat != UINT32_MAX) {
        uint32_t end = tcb->snd_buf_seq + len;
        uint64_t notsent = seq_gt(end, tcb->snd_max) ? end - tcb->snd_max : 0;

        return notsent * 2 < tcb->notsent_lowat;
    }
    return 1;
}

uint32_t dnet_tcp_events(const struct dnet_tcb *tcb, uint32_t *rcv_avail)
{
    uint32_t ev = 0;

    if (tcb->state == DNET_TCP_LISTEN) {
        if (rcv_avail)
            *rcv_avail = 0;
        return tcb->aq_len ? DNET_EV_IN : 0;
    }
    if (rcv_avail)
        *rcv_avail = tcb->rcv.len;
    if (tcb->rcv.len || tcb->rcv_fin || tcb->shut_rd || tcb->err || tcb->state == DNET_TCP_CLOSED)
        ev |= DNET_EV_IN;
    /* Linux's tcp_poll: past the handshake, a send side that is shut (shutdown, our FIN
     * sent, or the connection over) is always writable, so a writer wakes to EPIPE;
     * otherwise the writeable rule. */
    if (tcb->state != DNET_TCP_SYN_SENT && tcb->state != DNET_TCP_SYN_RCVD &&
        (tcb->shut_wr ||
         (tcb->state != DNET_TCP_ESTABLISHED && tcb->state != DNET_TCP_CLOSE_WAIT) ||
         tcp_writeable(tcb)))
        ev |= DNET_EV_OUT;
    if (tcb->err)
        ev |= DNET_EV_ERR;
    if (tcb->rcv_fin)
        ev |= DNET_EV_RDHUP;
    if ((tcb->rcv_fin && tcb->shut_wr) || tcb->state == DNET_TCP_CLOSED)
        ev |= DNET_EV_HUP;
    return ev;
}

int dnet_tcp_info(const struct dnet_tcb *tcb, struct dnet_tcp_info *info)
{
    int conn = tcb->state == DNET_TCP_ESTABLISHED || tcb->state == DNET_TCP_CLOSE_WAIT;

    memset(info, 0, sizeof(*info));
    info->state = tcb->state;
    info->error = tcb->err;
    /* One definition of readiness: the same function epoll's fast path calls. */
    info->events = dnet_tcp_events(tcb, &info->rcv_avail);
    if (tcb->state != DNET_TCP_LISTEN)
        info->snd_space = conn && !tcb->shut_wr ? tcb->snd.cap - tcb->snd.len : 0;
    info->snd_mss = tcb->mss;
    info->rto_ms = tcb->rto_us / 1000;
    info->srtt_us = tcb->srtt_us;
    info->cwnd = tcb->cwnd;
    info->snd_wnd = tcb->snd_wnd;
    info->snd_wscale = tcb->snd_wscale;
    info->rcv_wscale = tcb->rcv_wscale;
    info->ts_ok = tcb->ts_ok;
    info->sack_ok = tcb->sack_ok;
    info->lip = tcb->lip;
    info->rip = tcb->rip;
    info->lport = tcb->lport;
    info->rport = tcb->rport;
    return 0;
}
