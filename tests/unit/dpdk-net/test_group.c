// SPDX-License-Identifier: MIT
// dpdk-net: several contexts on one port acting as one host (see dpdk-net/ctx.h).  Port A
// has two queues on net_ring (rings per queue, not wired): frames are injected on a chosen
// RX queue and taken from a chosen TX queue, built and checked with the packet-script
// helpers.  The end-to-end tests are in test_group_e2e.c.
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/port.h"
#include "dpdk-net/socket.h"
#include "group.h"
#include "script_int.h"

struct qport g_a, g_b, g_one;
int g_real_clock;
static struct sc_addrs g_ad;           /* we are 10.0.0.1 with A's MAC; the peer 10.0.0.2 */
static struct sc_vars g_vars;

static int qport_setup(struct qport *p, const char *tag, int nq)
{
    struct dnet_port_conf pc = { .nb_queues = (uint16_t)nq, .nb_mbufs = 8191 };
    char name[32];
    int id;

    for (int q = 0; q < nq; q++) {
        snprintf(name, sizeof(name), "g_%s_rx%d", tag, q);
        p->rx[q] = rte_ring_create(name, 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        snprintf(name, sizeof(name), "g_%s_tx%d", tag, q);
        p->tx[q] = rte_ring_create(name, 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!p->rx[q] || !p->tx[q])
            return -1;
    }
    snprintf(name, sizeof(name), "net_ring_g%s", tag);
    id = rte_eth_from_rings(name, p->rx, (unsigned)nq, p->tx, (unsigned)nq, 0);
    return id < 0 || dnet_port_setup(&p->port, (uint16_t)id, &pc) < 0 ? -1 : 0;
}

void qport_drain(struct qport *p)
{
    void *m;

    for (int q = 0; q < p->port.nb_queues; q++) {
        while (rte_ring_dequeue(p->rx[q], &m) == 0)
            rte_pktmbuf_free(m);
        while (rte_ring_dequeue(p->tx[q], &m) == 0)
            rte_pktmbuf_free(m);
    }
}

struct dnet_ctx *ctx_make(struct qport *p, int q, rte_be32_t ip, uint32_t inbox_len)
{
    struct dnet_ctx_conf conf = {
        .queue = (uint16_t)q, .ip = ip, .prefix_len = 24, .virtual_clock = !g_real_clock,
        .isn_secret = 0x6120 + (uint64_t)q, .inbox_len = inbox_len,
    };
    struct dnet_ctx *ctx;

    ck_assert_int_eq(dnet_ctx_create(&ctx, &p->port, &conf), 0);
    ck_assert_ptr_eq(p->port.ctx[q], ctx);
    return ctx;
}

/* ---- frames on port A, by queue ---- */

static void inject(int q, const char *fmt, ...)
{
    char text[512], err[300];
    uint8_t buf[SC_FRAME_MAX];
    struct sc_spec sp;
    struct rte_mbuf *m;
    unsigned len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    ck_assert_msg(sc_spec_parse(text, &sp, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(sc_frame_build(&sp, &g_ad, &g_vars, buf, &len, err, sizeof(err)) == 0, "%s", err);
    m = rte_pktmbuf_alloc(g_a.port.pool);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(rte_pktmbuf_append(m, (uint16_t)len));
    memcpy(rte_pktmbuf_mtod(m, void *), buf, len);
    ck_assert_int_eq(rte_ring_enqueue(g_a.rx[q], m), 0);
}

/* The next frame port A sent on queue @q must match the spec (script syntax). */
static void expect(int q, const char *spec)
{
    char text[512], err[300], desc[600];
    struct sc_decoded d;
    struct sc_spec sp;
    void *obj;
    struct rte_mbuf *m;

    snprintf(text, sizeof(text), "%s", spec);
    ck_assert_msg(sc_spec_parse(text, &sp, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(rte_ring_dequeue(g_a.tx[q], &obj) == 0, "queue %d: want '%s', nothing sent",
                  q, spec);
    m = obj;
    sc_frame_decode(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), &d);
    rte_pktmbuf_free(m);
    sc_frame_describe(&d, desc, sizeof(desc));
    ck_assert_msg(sc_frame_match(&sp, &d, &g_vars, err, sizeof(err)) == 0,
                  "queue %d: %s; frame: %s", q, err, desc);
}

static void expect_none(int q)
{
    ck_assert_msg(rte_ring_count(g_a.tx[q]) == 0, "queue %d sent %u unexpected frame(s)", q,
                  rte_ring_count(g_a.tx[q]));
}

static uint64_t var(const char *name)
{
    for (int i = 0; i < g_vars.n; i++)
        if (!strcmp(g_vars.name[i], name))
            return g_vars.val[i];
    ck_abort_msg("no variable %s", name);
    return 0;
}

static void setup_a(void)
{
    memset(&g_vars, 0, sizeof(g_vars));
    g_ad.our_mac = g_a.port.mac;
    rte_ether_unformat_addr("02:00:00:00:00:02", &g_ad.peer_mac);
    g_ad.our_ip = IP_A;
    g_ad.peer_ip = IP_B;
}

static void teardown_all(struct dnet_ctx **c, int n)
{
    for (int i = 0; i < n; i++)
        dnet_ctx_destroy(c[i]);
    qport_drain(&g_a);
    qport_drain(&g_b);
}

/* After each test, passed or not: whatever contexts are left (found in the registry). */
static void cleanup(void)
{
    struct qport *ports[] = { &g_a, &g_b, &g_one };

    for (unsigned i = 0; i < RTE_DIM(ports); i++) {
        for (int q = 0; q < ports[i]->port.nb_queues; q++)
            dnet_ctx_destroy(ports[i]->port.ctx[q]);
        qport_drain(ports[i]);
    }
}

/* ---- two contexts on port A, frames injected ---- */

START_TEST(test_group_registry_one_context_per_queue)
{
    struct dnet_ctx_conf conf = { .queue = 1, .ip = htonl(IP_A), .virtual_clock = 1 };
    struct dnet_ctx *c[NQ], *dup;

    for (int q = 0; q < NQ; q++)
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
    ck_assert_int_eq(dnet_ctx_create(&dup, &g_a.port, &conf), -EBUSY);
    ck_assert_ptr_null(dup);
    ck_assert_ptr_eq(g_a.port.ctx[1], c[1]);
    dnet_ctx_destroy(c[1]);
    ck_assert_ptr_null(g_a.port.ctx[1]);
    c[1] = ctx_make(&g_a, 1, htonl(IP_A), 0);
    ck_assert_uint_eq(dnet_port_owner(&g_a.port, htons(7001)), 1);
    ck_assert_uint_eq(dnet_port_owner(&g_a.port, htons(80)), 0);
    ck_assert_uint_eq(dnet_port_owner(&g_one.port, htons(7001)), 0);
    teardown_all(c, NQ);
    ck_assert_ptr_null(g_a.port.ctx[0]);
}
END_TEST

START_TEST(test_group_ephemeral_ports_owned_by_their_context)
{
    struct rte_ether_addr peer;
    struct dnet_ctx *c[NQ];

    rte_ether_unformat_addr("02:00:00:00:00:02", &peer);
    for (int q = 0; q < NQ; q++) {
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
        ck_assert_int_eq(dnet_arp_add(c[q], htonl(IP_B), &peer), 0);
    }
    for (int round = 0; round < 50; round++) {
        for (int q = 0; q < NQ; q++) {
            struct dnet_tcb *t, *l;
            struct dnet_udp_sock *u;
            struct dnet_tcp_info ti;

            ck_assert_int_eq(dnet_tcp_connect(c[q], htonl(IP_B), htons(80), 0, &t), 0);
            dnet_tcp_info(t, &ti);
            ck_assert_uint_eq(ntohs(ti.lport) % NQ, (unsigned)q);
            ck_assert_uint_ge(ntohs(ti.lport), 32768);
            ck_assert_uint_eq(dnet_port_owner(&g_a.port, ti.lport), (unsigned)q);
            ck_assert_int_eq(dnet_udp_bind(c[q], 0, 4, &u), 0);
            ck_assert_uint_eq(ntohs(dnet_udp_port(u)) % NQ, (unsigned)q);
            ck_assert_int_eq(dnet_tcp_listen(c[q], 0, 4, &l), 0);
            dnet_tcp_info(l, &ti);
            ck_assert_uint_eq(ntohs(ti.lport) % NQ, (unsigned)q);
            dnet_tcp_abort(c[q], t);
            dnet_tcp_close(c[q], l);
            dnet_udp_close(c[q], u);
            dnet_ctx_poll(c[q]);
        }
    }
    teardown_all(c, NQ);
}
END_TEST

/* One queue: ports and counters as before (32768, 32769, ...; no redirect). */
START_TEST(test_group_one_queue_unchanged)
{
    struct dnet_ctx_conf conf = { .ip = htonl(IP_A), .virtual_clock = 1 };
    struct rte_ether_addr peer;
    struct dnet_ctx *c;
    struct dnet_udp_sock *u[3];

    rte_ether_unformat_addr("02:00:00:00:00:02", &peer);
    ck_assert_int_eq(dnet_ctx_create(&c, &g_one.port, &conf), 0);
    ck_assert_ptr_eq(g_one.port.ctx[0], c);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(dnet_udp_bind(c, 0, 4, &u[i]), 0);
        ck_assert_uint_eq(ntohs(dnet_udp_port(u[i])), 32768 + i);
    }
    for (int i = 0; i < 3; i++)
        dnet_udp_close(c, u[i]);
    dnet_ctx_poll(c);
    ck_assert_uint_eq(dnet_ctx_stats(c)->redirect_rx + dnet_ctx_stats(c)->redirect_tx, 0);
    dnet_ctx_destroy(c);
    ck_assert_ptr_null(g_one.port.ctx[0]);
}
END_TEST

/* Context 1's connection; its SYN-ACK, then data, arrive on queue 0. */
START_TEST(test_group_tcp_segment_reaches_owner)
{
    struct rte_ether_addr peer;
    struct dnet_ctx *c[NQ];
    struct dnet_tcb *t;
    struct dnet_tcp_info ti;
    char buf[16];

    setup_a();
    rte_ether_unformat_addr("02:00:00:00:00:02", &peer);
    for (int q = 0; q < NQ; q++)
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
    ck_assert_int_eq(dnet_arp_add(c[1], htonl(IP_B), &peer), 0);
    ck_assert_int_eq(dnet_tcp_connect(c[1], htonl(IP_B), htons(8080), 0, &t), 0);
    dnet_ctx_poll(c[1]);
    expect(1, "tcp sport=@sp dport=8080 flags=S seq=@iss");
    ck_assert_uint_eq(var("sp") % NQ, 1);
    inject(0, "tcp sport=8080 dport=@sp flags=SA seq=7000 ack=@iss+1 win=8000 opts=mss:1000");
    dnet_ctx_poll(c[0]);
    expect_none(0);                                  /* no RST from context 0 */
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_tx, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->tcp_rx, 0);  /* counted by its owner */
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->rx_pkts, 1);
    dnet_ctx_poll(c[1]);
    expect(1, "tcp sport=@sp dport=8080 flags=A seq=@iss+1 ack=7001");
    dnet_tcp_info(t, &ti);
    ck_assert_int_eq(ti.state, DNET_TCP_ESTABLISHED);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->redirect_rx, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->tcp_rx, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->rx_pkts, 0);
    /* Data with FIN: acknowledged by context 1, on its own queue. */
    inject(0, "tcp sport=8080 dport=@sp flags=FPA seq=7001 ack=@iss+1 win=8000 payload=hello");
    dnet_ctx_poll(c[0]);
    dnet_ctx_poll(c[1]);
    expect(1, "tcp sport=@sp flags=A seq=@iss+1 ack=7007");
    expect_none(0);
    ck_assert_int_eq(dnet_tcp_recv(c[1], t, buf, sizeof(buf)), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(dnet_tcp_recv(c[1], t, buf, sizeof(buf)), 0);
    dnet_tcp_abort(c[1], t);
    teardown_all(c, NQ);
}
END_TEST

/* A segment for no connection is answered (RST) once, by the owner of its port. */
START_TEST(test_group_unknown_segment_reset_by_owner_once)
{
    struct rte_ether_addr peer;
    struct dnet_ctx *c[NQ];

    setup_a();
    rte_ether_unformat_addr("02:00:00:00:00:02", &peer);
    for (int q = 0; q < NQ; q++) {
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
        ck_assert_int_eq(dnet_arp_add(c[q], htonl(IP_B), &peer), 0);
    }
    inject(0, "tcp sport=9 dport=40001 flags=A seq=1 ack=1");   /* 40001: context 1's */
    inject(1, "tcp sport=9 dport=40000 flags=A seq=1 ack=1");   /* 40000: context 0's */
    for (int k = 0; k < 2; k++)
        for (int q = 0; q < NQ; q++)
            dnet_ctx_poll(c[q]);
    expect(1, "tcp sport=40001 dport=9 flags=R seq=1");
    expect(0, "tcp sport=40000 dport=9 flags=R seq=1");
    expect_none(0);
    expect_none(1);
    for (int q = 0; q < NQ; q++) {
        ck_assert_uint_eq(dnet_ctx_stats(c[q])->redirect_tx, 1);
        ck_assert_uint_eq(dnet_ctx_stats(c[q])->tcp_rst_tx, 1);
    }
    teardown_all(c, NQ);
}
END_TEST

/* ARP: a reply on queue 0 resolves context 1's request; a request is answered once and
 * every context learns its sender. */
START_TEST(test_group_arp_shared)
{
    struct rte_ether_addr mac;
    struct dnet_ctx *c[NQ];
    struct dnet_udp_sock *u;

    setup_a();
    for (int q = 0; q < NQ; q++)
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
    ck_assert_int_eq(dnet_udp_bind(c[1], 0, 4, &u), 0);
    ck_assert_int_eq(dnet_udp_sendto(c[1], u, "x", 1, htonl(IP_B), htons(7)), 1);
    dnet_ctx_poll(c[1]);
    expect(1, "arp op=request tip=10.0.0.2 dmac=ff:ff:ff:ff:ff:ff");
    inject(0, "arp op=reply sha=02:00:00:00:00:02 sip=10.0.0.2 tip=10.0.0.1");
    dnet_ctx_poll(c[0]);
    expect_none(0);
    ck_assert_int_eq(dnet_arp_lookup(c[0], htonl(IP_B), &mac), 0);
    dnet_ctx_poll(c[1]);
    expect(1, "udp dmac=02:00:00:00:00:02 dip=10.0.0.2 dport=7 payload=x");
    ck_assert_int_eq(dnet_arp_lookup(c[1], htonl(IP_B), &mac), 0);
    /* A request for us from a new host, on queue 1: one reply, from there; both learn. */
    inject(1, "arp op=request sha=02:00:00:00:00:03 sip=10.0.0.3 tip=10.0.0.1 "
              "dmac=ff:ff:ff:ff:ff:ff");
    for (int k = 0; k < 2; k++)
        for (int q = 0; q < NQ; q++)
            dnet_ctx_poll(c[q]);
    expect(1, "arp op=reply sip=10.0.0.1 tip=10.0.0.3 tha=02:00:00:00:00:03 "
              "dmac=02:00:00:00:00:03");
    expect_none(0);
    expect_none(1);
    for (int q = 0; q < NQ; q++) {
        ck_assert_int_eq(dnet_arp_lookup(c[q], htonl(0x0a000003u), &mac), 0);
        ck_assert_uint_eq(mac.addr_bytes[5], 3);
    }
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->arp_tx, 0);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->arp_tx, 2);  /* its request, the one reply */
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->arp_rx, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->arp_rx, 1);
    dnet_udp_close(c[1], u);
    teardown_all(c, NQ);
}
END_TEST

START_TEST(test_group_udp_to_owner)
{
    struct dnet_ctx *c[NQ];
    struct dnet_udp_sock *u;
    char buf[16];
    rte_be16_t sport;
    rte_be32_t sip;

    setup_a();
    for (int q = 0; q < NQ; q++)
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
    ck_assert_int_eq(dnet_udp_bind(c[1], htons(7001), 8, &u), 0);
    inject(0, "udp sport=5000 dport=7001 payload=hello");
    inject(0, "udp sport=5000 dport=7003 payload=nobody");    /* context 1's port, no socket */
    inject(0, "udp sport=5000 dport=7000 payload=nobody");    /* context 0's port, no socket */
    dnet_ctx_poll(c[0]);
    dnet_ctx_poll(c[1]);
    ck_assert_int_eq(dnet_udp_recvfrom(c[1], u, buf, sizeof(buf), &sip, &sport), 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_uint_eq(ntohs(sport), 5000);
    ck_assert_uint_eq(ntohl(sip), IP_B);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->udp_no_port, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->udp_no_port, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->udp_rx, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->udp_rx, 2);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_tx, 2);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->redirect_rx, 2);
    dnet_udp_close(c[1], u);
    teardown_all(c, NQ);
}
END_TEST

/* The inbox holds inbox_len frames; past it redirects are dropped and counted.  Frames left
 * in an inbox are freed with its context. */
START_TEST(test_group_inbox_full_drops_counted)
{
    struct dnet_ctx *c[NQ];
    struct dnet_udp_sock *u;
    unsigned avail;

    setup_a();
    c[0] = ctx_make(&g_a, 0, htonl(IP_A), 0);
    c[1] = ctx_make(&g_a, 1, htonl(IP_A), 8);
    ck_assert_int_eq(dnet_udp_bind(c[1], htons(7001), 64, &u), 0);
    for (int i = 0; i < 20; i++)
        inject(0, "udp sport=5000 dport=7001 payload=d%d", i);
    dnet_ctx_poll(c[0]);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_tx, 8);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_drop, 12);
    dnet_ctx_poll(c[1]);
    ck_assert_uint_eq(dnet_udp_pending(u), 8);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->redirect_rx, 8);
    dnet_udp_close(c[1], u);
    /* Fill the inbox again, then destroy the context with the frames in it. */
    avail = rte_mempool_avail_count(g_a.port.pool);
    for (int i = 0; i < 5; i++)
        inject(0, "udp sport=5000 dport=7001 payload=late");
    dnet_ctx_poll(c[0]);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_tx, 13);
    dnet_ctx_destroy(c[1]);
    ck_assert_uint_eq(rte_mempool_avail_count(g_a.port.pool), avail);
    /* With no context on queue 1 any more, context 0 answers for its ports itself. */
    inject(0, "udp sport=5000 dport=7001 payload=alone");
    dnet_ctx_poll(c[0]);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->udp_no_port, 1);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_tx, 13);
    teardown_all(c, 1);
}
END_TEST

/* Contexts on both queues of port A, which knows its peer, with a listener on port 80 in
 * each sharing the count @queued: one listening socket, as the backend makes it. */
static void listen_group(struct dnet_ctx **c, struct dnet_tcb **l, uint32_t *queued, int backlog)
{
    struct rte_ether_addr peer;

    setup_a();
    rte_ether_unformat_addr("02:00:00:00:00:02", &peer);
    for (int q = 0; q < NQ; q++) {
        c[q] = ctx_make(&g_a, q, htonl(IP_A), 0);
        ck_assert_int_eq(dnet_arp_add(c[q], htonl(IP_B), &peer), 0);
        ck_assert_int_eq(dnet_tcp_listen(c[q], htons(80), backlog, &l[q]), 0);
        dnet_tcp_listen_share(l[q], queued);
    }
}

/* A SYN from port @sport (sequence @seq) to port 80 on queue @q, polled by @c[@q]: its
 * SYN-ACK on the same queue, whose sequence number becomes @var; or, @var NULL, none. */
static void syn(struct dnet_ctx **c, int q, int sport, int seq, const char *var)
{
    char spec[128];

    inject(q, "tcp sport=%d dport=80 flags=S seq=%d", sport, seq);
    dnet_ctx_poll(c[q]);
    if (!var) {
        expect_none(q);
        return;
    }
    snprintf(spec, sizeof(spec), "tcp sport=80 dport=%d flags=SA seq=@%s ack=%d", sport, var,
             seq + 1);
    expect(q, spec);
}

/* One listening socket as a listener in each context: its backlog (2) holds the SYN and
 * accept queues of both together, wherever the SYNs land; accept() on either makes room on
 * both; listen() again moves the limit; closing leaves the shared count at zero. */
START_TEST(test_group_listen_backlog_shared)
{
    struct dnet_ctx *c[NQ];
    struct dnet_tcb *l[NQ], *t;
    uint32_t queued = 0;

    listen_group(c, l, &queued, 2);
    syn(c, 0, 1, 100, "a");
    syn(c, 1, 2, 200, "b");
    ck_assert_uint_eq(queued, 2);
    /* Full: a third SYN is dropped on either queue, by the context it reached. */
    inject(0, "tcp sport=3 dport=80 flags=S seq=300");
    inject(1, "tcp sport=4 dport=80 flags=S seq=400");
    for (int q = 0; q < NQ; q++) {
        dnet_ctx_poll(c[q]);
        expect_none(q);
        ck_assert_uint_eq(dnet_ctx_stats(c[q])->tcp_backlog_drop, 1);
    }
    /* Established on context 0 and accepted there: room for the SYN on queue 1. */
    inject(0, "tcp sport=1 dport=80 flags=A seq=101 ack=@a+1");
    dnet_ctx_poll(c[0]);
    ck_assert_int_eq(dnet_tcp_accept(c[1], l[1], &t), -EAGAIN);
    ck_assert_int_eq(dnet_tcp_accept(c[0], l[0], &t), 0);
    ck_assert_uint_eq(queued, 1);
    syn(c, 1, 4, 400, "d");
    syn(c, 0, 5, 500, NULL);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->tcp_backlog_drop, 2);
    /* listen() again with 3: one more fits, the queued two stay. */
    for (int q = 0; q < NQ; q++)
        ck_assert_int_eq(dnet_tcp_set_backlog(c[q], l[q], 3), 0);
    ck_assert_int_eq(dnet_tcp_set_backlog(c[0], t, 3), -EINVAL);
    syn(c, 0, 5, 500, "e");
    ck_assert_uint_eq(queued, 3);
    /* Closing the listeners ends their embryos; the accepted connection is not theirs. */
    dnet_tcp_abort(c[0], t);
    for (int q = 0; q < NQ; q++)
        dnet_tcp_close(c[q], l[q]);
    ck_assert_uint_eq(queued, 0);
    teardown_all(c, NQ);
}
END_TEST

/* An accepted connection lives where its SYN arrived (queue 1); its segments that land on
 * queue 0 (af_packet's rollover) find a listener and no connection there, and are passed
 * to context 1 instead of being reset.  A segment for no connection is reset once, by the
 * last context asked. */
START_TEST(test_group_misqueued_segment_finds_its_connection)
{
    struct dnet_ctx *c[NQ];
    struct dnet_tcb *l[NQ], *t;
    struct dnet_tcp_info ti;
    uint32_t queued = 0;
    char buf[16];

    listen_group(c, l, &queued, 4);
    syn(c, 1, 1000, 100, "a");
    /* The handshake's ACK on queue 0: context 1's embryo gets it. */
    inject(0, "tcp sport=1000 dport=80 flags=A seq=101 ack=@a+1");
    dnet_ctx_poll(c[0]);
    expect_none(0);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_ask, 1);
    dnet_ctx_poll(c[1]);
    expect_none(1);
    ck_assert_int_eq(dnet_tcp_accept(c[0], l[0], &t), -EAGAIN);
    ck_assert_int_eq(dnet_tcp_accept(c[1], l[1], &t), 0);
    /* Data on queue 0, then on queue 1: both arrive, in order, acknowledged on queue 1. */
    inject(0, "tcp sport=1000 dport=80 flags=PA seq=101 ack=@a+1 payload=hello");
    dnet_ctx_poll(c[0]);
    dnet_ctx_poll(c[1]);
    inject(1, "tcp sport=1000 dport=80 flags=PA seq=106 ack=@a+1 payload=world");
    dnet_ctx_poll(c[1]);
    ck_assert_int_eq(dnet_tcp_recv(c[1], t, buf, sizeof(buf)), 10);
    ck_assert_int_eq(memcmp(buf, "helloworld", 10), 0);
    for (int i = 0; i < 2 && rte_ring_count(g_a.tx[1]); i++)
        expect(1, "tcp sport=80 dport=1000 flags=A");
    expect_none(0);
    /* A segment for no connection, on either queue: one RST, from the last context asked
     * (context 1 for one that reached queue 0, and the other way round). */
    inject(0, "tcp sport=2000 dport=80 flags=A seq=5 ack=77");
    dnet_ctx_poll(c[0]);
    dnet_ctx_poll(c[1]);
    expect(1, "tcp sport=80 dport=2000 flags=R seq=77");
    inject(1, "tcp sport=2001 dport=80 flags=A seq=5 ack=78");
    dnet_ctx_poll(c[1]);
    dnet_ctx_poll(c[0]);
    expect(0, "tcp sport=80 dport=2001 flags=R seq=78");
    expect_none(0);
    expect_none(1);
    /* The peer's RST on queue 0 resets the connection context 1 holds. */
    inject(0, "tcp sport=1000 dport=80 flags=R seq=111");
    dnet_ctx_poll(c[0]);
    dnet_ctx_poll(c[1]);
    dnet_tcp_info(t, &ti);
    ck_assert_int_eq(ti.state, DNET_TCP_CLOSED);
    ck_assert_int_eq(dnet_tcp_recv(c[1], t, buf, sizeof(buf)), -ECONNRESET);
    ck_assert_uint_eq(dnet_ctx_stats(c[0])->redirect_ask, 4);
    ck_assert_uint_eq(dnet_ctx_stats(c[1])->redirect_ask, 1);
    dnet_tcp_close(c[1], t);
    for (int q = 0; q < NQ; q++)
        dnet_tcp_close(c[q], l[q]);
    teardown_all(c, NQ);
}
END_TEST

int main(void)
{
    char *eal[] = { "test", "--no-pci", "--no-huge", "-m", "512", "--no-shconf",
                    "-l", "0", "--log-level=error" };
    Suite *s = suite_create("dpdk-net.group");
    TCase *tc = tcase_create("group");
    SRunner *sr;
    int failed;

    if (rte_eal_init((int)RTE_DIM(eal), eal) < 0 || qport_setup(&g_a, "a", NQ) < 0 ||
        qport_setup(&g_b, "b", NQ) < 0 || qport_setup(&g_one, "o", 1) < 0) {
        fprintf(stderr, "EAL or net_ring port set-up failed\n");
        return 1;
    }
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, cleanup);
    tcase_add_test(tc, test_group_registry_one_context_per_queue);
    tcase_add_test(tc, test_group_ephemeral_ports_owned_by_their_context);
    tcase_add_test(tc, test_group_one_queue_unchanged);
    tcase_add_test(tc, test_group_tcp_segment_reaches_owner);
    tcase_add_test(tc, test_group_unknown_segment_reset_by_owner_once);
    tcase_add_test(tc, test_group_arp_shared);
    tcase_add_test(tc, test_group_udp_to_owner);
    tcase_add_test(tc, test_group_inbox_full_drops_counted);
    tcase_add_test(tc, test_group_listen_backlog_shared);
    tcase_add_test(tc, test_group_misqueued_segment_finds_its_connection);
    group_e2e_add(tc);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);   /* EAL starts once per process */
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    dnet_port_teardown(&g_a.port);
    dnet_port_teardown(&g_b.port);
    dnet_port_teardown(&g_one.port);
    rte_eal_cleanup();
    return failed ? 1 : 0;
}
