// SPDX-License-Identifier: MIT
// libbypass-net.so: dpdk-net and DPDK behind the LibOS's backend table (libos/src/net/
// backend.h).  One port, one queue pair, one context per process; every call is a thin
// wrapper over dpdk-net/socket.h.  The table is the module's only exported symbol.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "backend.h"
#include "bnet_int.h"
#include "dpdk-net/ctx.h"
#include "dpdk-net/port.h"
#include "dpdk-net/socket.h"

/* The process's one backend: EAL can start once, so its outcome is kept and replayed. */
static struct {
    int tried;                /* rte_eal_init has run (rc/err are final) */
    int rc;
    char err[256];
    struct bnet_args args;    /* EAL keeps pointers into its argv */
    struct dnet_port port;
    int port_up;
    struct dnet_ctx *ctx;
    uint32_t ip;
    uint32_t ifindex;         /* the kernel's index of the port's host interface, 0 = none */
} g_bnet;

/* One queue pair.  Half dpdk-net's default pool (9.7 MB instead of 19.4): the stack keeps
 * TCP data in byte buffers, not mbufs, so mbufs are only in flight (RX bursts, the TX
 * buffer, ARP and UDP queues, reassembly); 4095 leaves room for a 1024-descriptor RX ring
 * (net_tap) and UDP queues. */
static const struct dnet_port_conf g_port_conf = { .nb_queues = 1, .nb_mbufs = 4095 };

/* Port, context and announcement on the port EAL found.  On failure the port is down and
 * the error line quotes the PMD's complaint when it made one. */
static int bnet_port_start(const struct bypass_net_conf *conf, const struct dnet_fault_conf *fc,
                           struct bnet_capture *cap, char *err, size_t errlen)
{
    struct dnet_ctx_conf cc = { 0 };
    uint16_t pid = conf->port_id;
    char why[200];
    size_t from;
    int rc;

    if (rte_eth_dev_count_avail() == 0) {
        /* A vdev that failed to probe does not stop EAL; its PMD said why. */
        bnet_capture_pick(cap, 0, why, sizeof(why));
        snprintf(err, errlen, "no DPDK port (%s)", why[0] ? why : "did you pass --vdev?");
        return -ENODEV;
    }
    if (!rte_eth_dev_is_valid_port(pid)) {
        snprintf(err, errlen, "port %u: no such device (%u ports)", pid,
                 rte_eth_dev_count_avail());
        return -ENODEV;
    }
    from = bnet_capture_mark(cap);
    rc = dnet_port_setup(&g_bnet.port, pid, &g_port_conf);
    if (rc < 0) {
        /* PMDs often return a bare -1: their message is the better half. */
        bnet_capture_pick(cap, from, why, sizeof(why));
        snprintf(err, errlen, "port %u: cannot start (%s)", pid, why[0] ? why : strerror(-rc));
        return rc == -1 ? -EIO : rc;
    }
    g_bnet.port_up = 1;
    cc.ip = conf->ip;
    cc.prefix_len = conf->prefix_len;
    cc.gateway = conf->gw;
    cc.fault = *fc;
    rc = dnet_ctx_create(&g_bnet.ctx, &g_bnet.port, &cc);
    if (rc < 0) {
        snprintf(err, errlen, "port %u: context: %s", pid, strerror(-rc));
        dnet_port_teardown(&g_bnet.port);
        g_bnet.port_up = 0;
        return rc;
    }
    g_bnet.ip = conf->ip;
    struct rte_eth_dev_info di;
    if (rte_eth_dev_info_get(pid, &di) == 0)
        g_bnet.ifindex = di.if_index;
    /* Neighbours (and the kernel's ARP cache on a veth) learn our address now, before the
     * first connection; one poll sends it. */
    dnet_arp_announce(g_bnet.ctx);
    dnet_ctx_poll(g_bnet.ctx);
    return 0;
}

static int bnet_start(const struct bypass_net_conf *conf, char *err, size_t errlen)
{
    struct dnet_fault_conf fc;
    struct bnet_capture cap;
    int rc;

    /* Check what we can before EAL runs: it runs once, a typo must not cost the process
     * its network. */
    if (!conf->ip) {
        snprintf(err, errlen, "no local address (--ip=A.B.C.D/N)");
        return -EINVAL;
    }
    if (conf->prefix_len > 32) {
        snprintf(err, errlen, "bad prefix length /%u", conf->prefix_len);
        return -EINVAL;
    }
    rc = bnet_fault_parse(conf->fault, &fc, err, errlen);
    if (rc < 0)
        return rc;
    rc = bnet_args_split(&g_bnet.args, conf->eal_args, err, errlen);
    if (rc < 0)
        return rc;
    bnet_args_defaults(&g_bnet.args);
    rc = bnet_capture_start(&cap);
    if (rc < 0) {
        snprintf(err, errlen, "EAL: cannot initialise (out of memory)");
        return rc;
    }

    g_bnet.tried = 1;
    rc = bnet_eal_init(&g_bnet.args, &cap, err, errlen);
    if (rc == 0) {
        rc = bnet_port_start(conf, &fc, &cap, err, errlen);
        if (rc < 0)
            rte_eal_cleanup();   /* give the memory back; EAL cannot start again anyway */
    }
    /* What DPDK said goes to stderr only if the user chose the log level: the guest's
     * stderr is no place for EAL's chatter, and failures are in @err already. */
    bnet_capture_stop(&cap, rc == 0 && !g_bnet.args.quiet);
    return rc;
}

/* Set the GS base to @gs; return the old one (FSGSBASE: the LibOS requires it). */
static uint64_t gs_swap(uint64_t gs)
{
    uint64_t old;

    __asm__ volatile("rdgsbase %0" : "=r"(old));
    __asm__ volatile("wrgsbase %0" : : "r"(gs) : "memory");
    return old;
}

static int bnet_init(const struct bypass_net_conf *conf, char *err, size_t errlen)
{
    sigset_t all, old;
    int rc;

    if (!g_bnet.tried) {
        if (!conf) {
            snprintf(err, errlen, "no configuration");
            return -EINVAL;
        }
        /* PMDs may start threads too (and EAL's are started inside bnet_eal_init):
         * none of them may ever take one of the guest's signals. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        /* They also copy the caller's GS base, which the LibOS reads to find a guest
         * thread's block: they must start with 0, as host-only threads.  With every
         * signal blocked nothing reads it in between. */
        uint64_t gs = gs_swap(0);
        rc = bnet_start(conf, g_bnet.err, sizeof(g_bnet.err));
        gs_swap(gs);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!g_bnet.tried) {
            /* Refused before EAL ran: the caller may fix the configuration and retry. */
            snprintf(err, errlen, "%s", g_bnet.err);
            return rc;
        }
        g_bnet.rc = rc;
    }
    if (g_bnet.rc < 0)
        snprintf(err, errlen, "%s", g_bnet.err);
    return g_bnet.rc;
}

/* Every thread that calls in takes the main lcore's identity (rte_lcore_id() == the
 * lcore rte_eal_init ran on).  The LibOS serialises every call (backend.h), so no two
 * threads are ever inside DPDK at once, and the mempool's per-lcore cache of that lcore
 * serves them all: a thread other than the one that started EAL (wrk connects once from
 * its main thread, then works in another) would otherwise get LCORE_ID_ANY and take
 * every mbuf from and back to the pool's ring (a CAS per burst: 9% of wrk's time over
 * net_memif).  Only the calls that can allocate or free mbufs need it. */
static inline void bnet_adopt(void)
{
    if (unlikely(rte_lcore_id() == LCORE_ID_ANY) && g_bnet.ctx)
        RTE_PER_LCORE(_lcore_id) = rte_get_main_lcore();
}

static int bnet_poll(void)
{
    bnet_adopt();
    return g_bnet.ctx ? dnet_ctx_poll(g_bnet.ctx) : 0;
}

static uint64_t bnet_now_us(void)
{
    return g_bnet.ctx ? dnet_ctx_now_us(g_bnet.ctx) : 0;
}

/* ---- TCP: the handles are dpdk-net's tcbs under the table's opaque name ---- */

static inline struct dnet_tcb *tcb(struct bnet_tcb *t)
{
    return (struct dnet_tcb *)t;
}

static int bnet_tcp_listen(uint16_t port, int backlog, struct bnet_tcb **out)
{
    struct dnet_tcb *t = NULL;
    int rc = g_bnet.ctx ? dnet_tcp_listen(g_bnet.ctx, port, backlog, &t) : -ENETDOWN;

    *out = (struct bnet_tcb *)t;
    return rc;
}

static int bnet_tcp_accept(struct bnet_tcb *lsn, struct bnet_tcb **out)
{
    bnet_adopt();
    struct dnet_tcb *t = NULL;
    int rc = dnet_tcp_accept(g_bnet.ctx, tcb(lsn), &t);

    *out = (struct bnet_tcb *)t;
    return rc;
}

static int bnet_tcp_connect(uint32_t dip, uint16_t dport, uint16_t sport, struct bnet_tcb **out)
{
    bnet_adopt();
    struct dnet_tcb *t = NULL;
    int rc = g_bnet.ctx ? dnet_tcp_connect(g_bnet.ctx, dip, dport, sport, &t) : -ENETDOWN;

    *out = (struct bnet_tcb *)t;
    return rc;
}

static ssize_t bnet_tcp_send(struct bnet_tcb *t, const void *buf, size_t len)
{
    bnet_adopt();
    return dnet_tcp_send(g_bnet.ctx, tcb(t), buf, len);
}

static ssize_t bnet_tcp_recv(struct bnet_tcb *t, void *buf, size_t len)
{
    bnet_adopt();
    return dnet_tcp_recv(g_bnet.ctx, tcb(t), buf, len);
}

static int bnet_tcp_shutdown(struct bnet_tcb *t, int how)
{
    bnet_adopt();
    return dnet_tcp_shutdown(g_bnet.ctx, tcb(t), how);
}

static int bnet_tcp_close(struct bnet_tcb *t)
{
    bnet_adopt();
    return dnet_tcp_close(g_bnet.ctx, tcb(t));
}

static int bnet_tcp_abort(struct bnet_tcb *t)
{
    bnet_adopt();
    return dnet_tcp_abort(g_bnet.ctx, tcb(t));
}

static int bnet_tcp_info(const struct bnet_tcb *t, struct bnet_tcp_info *info)
{
    struct dnet_tcp_info di;
    struct dnet_tcp_stats st;
    int rc = dnet_tcp_info((const struct dnet_tcb *)t, &di);

    if (rc < 0)
        return rc;
    rc = dnet_tcp_stats(g_bnet.ctx, (const struct dnet_tcb *)t, &st);
    if (rc < 0)
        return rc;
    memset(info, 0, sizeof(*info));
    info->state = (int)di.state;
    info->events = di.events;
    info->error = di.error;
    info->rcv_avail = di.rcv_avail;
    info->snd_space = di.snd_space;
    info->snd_mss = di.snd_mss;
    info->lip = di.lip;
    info->rip = di.rip;
    info->lport = di.lport;
    info->rport = di.rport;
    info->ca_state = st.ca_state;
    info->retransmits = st.retransmits;
    info->probes = st.probes;
    info->backoff = st.backoff;
    info->options = (st.ts_ok ? BNET_TCPI_TS : 0) | (st.sack_ok ? BNET_TCPI_SACK : 0) |
                    (st.ws_ok ? BNET_TCPI_WSCALE : 0);
    info->snd_wscale = st.snd_wscale;
    info->rcv_wscale = st.rcv_wscale;
    info->rto_us = st.rto_us;
    info->ato_us = st.ato_us;
    info->rcv_mss = st.rcv_mss;
    info->advmss = st.advmss;
    info->pmtu = st.pmtu;
    info->unacked = st.unacked;
    info->sacked = st.sacked;
    info->srtt_us = st.srtt_us;
    info->rttvar_us = st.rttvar_us;
    info->min_rtt_us = st.min_rtt_us;
    info->cwnd = st.cwnd;
    info->ssthresh = st.ssthresh;
    info->rcv_wnd = st.rcv_wnd;
    info->rcv_space = st.rcv_space;
    info->snd_wnd = st.snd_wnd;
    info->last_data_sent_ms = st.last_data_sent_ms;
    info->last_data_recv_ms = st.last_data_recv_ms;
    info->last_ack_recv_ms = st.last_ack_recv_ms;
    info->segs_out = st.segs_out;
    info->segs_in = st.segs_in;
    info->data_segs_out = st.data_segs_out;
    info->data_segs_in = st.data_segs_in;
    info->total_retrans = st.total_retrans;
    info->delivered = st.delivered;
    info->notsent_bytes = st.notsent_bytes;
    info->bytes_acked = st.bytes_acked;
    info->bytes_received = st.bytes_received;
    info->bytes_sent = st.bytes_sent;
    info->bytes_retrans = st.bytes_retrans;
    info->last_data_recv_us = st.last_data_recv_us;
    return 0;
}

/* So do the states. */
_Static_assert(BNET_TCP_CLOSED == DNET_TCP_CLOSED && BNET_TCP_LISTEN == DNET_TCP_LISTEN &&
               BNET_TCP_SYN_SENT == DNET_TCP_SYN_SENT && BNET_TCP_SYN_RCVD == DNET_TCP_SYN_RCVD &&
               BNET_TCP_ESTABLISHED == DNET_TCP_ESTABLISHED &&
               BNET_TCP_FIN_WAIT_1 == DNET_TCP_FIN_WAIT_1 &&
               BNET_TCP_FIN_WAIT_2 == DNET_TCP_FIN_WAIT_2 &&
               BNET_TCP_CLOSE_WAIT == DNET_TCP_CLOSE_WAIT && BNET_TCP_CLOSING == DNET_TCP_CLOSING &&
               BNET_TCP_LAST_ACK == DNET_TCP_LAST_ACK && BNET_TCP_TIME_WAIT == DNET_TCP_TIME_WAIT,
               "TCP states differ");

/* The events pass through unchanged: both sets are the EPOLL* values. */
_Static_assert(DNET_EV_IN == BNET_IN && DNET_EV_OUT == BNET_OUT && DNET_EV_ERR == BNET_ERR &&
               DNET_EV_HUP == BNET_HUP && DNET_EV_RDHUP == BNET_RDHUP, "readiness bits differ");

static uint32_t bnet_tcp_events(const struct bnet_tcb *t, uint32_t *rcv_avail)
{
    return dnet_tcp_events((const struct dnet_tcb *)t, rcv_avail);
}

static uint64_t bnet_ready_gen(void)
{
    return g_bnet.ctx ? dnet_ctx_gen(g_bnet.ctx) : 0;
}

static const uint64_t *bnet_tcp_ev_stamp(const struct bnet_tcb *t)
{
    return dnet_tcp_ev_stamp((const struct dnet_tcb *)t);
}

static void bnet_tcp_set_user(struct bnet_tcb *t, void *user)
{
    dnet_tcp_set_user(g_bnet.ctx, tcb(t), user);
}

static int bnet_tcp_touched(void **users, int max)
{
    return g_bnet.ctx ? dnet_tcp_touched(g_bnet.ctx, users, max) : 0;
}

static int bnet_tcp_take_error(struct bnet_tcb *t)
{
    return dnet_tcp_take_error(g_bnet.ctx, tcb(t));
}

static int bnet_tcp_set_nodelay(struct bnet_tcb *t, int on)
{
    bnet_adopt();
    return dnet_tcp_set_nodelay(tcb(t), on);
}

static int bnet_tcp_set_keepalive(struct bnet_tcb *t, uint32_t idle_s, uint32_t intvl_s,
                                  uint32_t cnt)
{
    return dnet_tcp_set_keepalive(g_bnet.ctx, tcb(t), idle_s, intvl_s, cnt);
}

/* ---- UDP ---- */

static inline struct dnet_udp_sock *usock(struct bnet_udp *u)
{
    return (struct dnet_udp_sock *)u;
}

static int bnet_udp_bind(uint16_t port, uint32_t qlen, struct bnet_udp **out)
{
    struct dnet_udp_sock *u = NULL;
    int rc = g_bnet.ctx ? dnet_udp_bind(g_bnet.ctx, port, qlen, &u) : -ENETDOWN;

    *out = (struct bnet_udp *)u;
    return rc;
}

static ssize_t bnet_udp_sendto(struct bnet_udp *u, const void *buf, size_t len, uint32_t dip,
                               uint16_t dport)
{
    bnet_adopt();
    return dnet_udp_sendto(g_bnet.ctx, usock(u), buf, len, dip, dport);
}

static ssize_t bnet_udp_recvfrom(struct bnet_udp *u, void *buf, size_t len, uint32_t *sip,
                                 uint16_t *sport)
{
    bnet_adopt();
    return dnet_udp_recvfrom(g_bnet.ctx, usock(u), buf, len, sip, sport);
}

static ssize_t bnet_udp_recvmsg(struct bnet_udp *u, void *buf, size_t len,
                                struct bnet_udp_meta *meta)
{
    struct dnet_udp_meta dm;
    ssize_t r;

    bnet_adopt();
    r = dnet_udp_recvmsg(g_bnet.ctx, usock(u), buf, len, &dm);
    if (r < 0)
        return r;
    meta->sip = dm.sip;
    meta->dip = dm.dip;
    meta->sport = dm.sport;
    meta->ttl = dm.ttl;
    meta->tos = dm.tos;
    meta->ifindex = g_bnet.ifindex;
    meta->rx_us = dm.rx_us;
    return r;
}

static uint32_t bnet_udp_pending(const struct bnet_udp *u)
{
    return dnet_udp_pending((const struct dnet_udp_sock *)u);
}

static uint16_t bnet_udp_port(const struct bnet_udp *u)
{
    return dnet_udp_port((const struct dnet_udp_sock *)u);
}

static void bnet_udp_close(struct bnet_udp *u)
{
    bnet_adopt();
    dnet_udp_close(g_bnet.ctx, usock(u));
}

/* ---- the rest ---- */

static uint32_t bnet_local_ip(void)
{
    return g_bnet.ctx ? g_bnet.ip : 0;
}

static int bnet_stats(char *buf, size_t len)
{
    if (!g_bnet.ctx)
        return -ENETDOWN;
    return bnet_stats_json(dnet_ctx_stats(g_bnet.ctx), buf, len);
}

__attribute__((visibility("default")))
const struct bypass_net_backend bypass_net_backend = {
    .abi = BYPASS_NET_BACKEND_ABI,
    .init = bnet_init,
    .poll = bnet_poll,
    .now_us = bnet_now_us,
    .tcp_listen = bnet_tcp_listen,
    .tcp_accept = bnet_tcp_accept,
    .tcp_connect = bnet_tcp_connect,
    .tcp_send = bnet_tcp_send,
    .tcp_recv = bnet_tcp_recv,
    .tcp_shutdown = bnet_tcp_shutdown,
    .tcp_close = bnet_tcp_close,
    .tcp_abort = bnet_tcp_abort,
    .tcp_info = bnet_tcp_info,
    .tcp_take_error = bnet_tcp_take_error,
    .tcp_set_nodelay = bnet_tcp_set_nodelay,
    .tcp_set_keepalive = bnet_tcp_set_keepalive,
    .udp_bind = bnet_udp_bind,
    .udp_sendto = bnet_udp_sendto,
    .udp_recvfrom = bnet_udp_recvfrom,
    .udp_pending = bnet_udp_pending,
    .udp_port = bnet_udp_port,
    .udp_close = bnet_udp_close,
    .local_ip = bnet_local_ip,
    .stats_json = bnet_stats,
    .tcp_events = bnet_tcp_events,
    .ready_gen = bnet_ready_gen,
    .udp_recvmsg = bnet_udp_recvmsg,
    .tcp_ev_stamp = bnet_tcp_ev_stamp,
    .tcp_set_user = bnet_tcp_set_user,
    .tcp_touched = bnet_tcp_touched,
};
