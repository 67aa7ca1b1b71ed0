// SPDX-License-Identifier: MIT
// dpdk-net close paths at scale: two contexts back to back on two net_ring ports (virtual
// clocks) run batches of connections through every close order (active, passive,
// simultaneous, close with unread data, RST in each state, orphans whose peer stalls or
// vanishes), and every control block, heap byte and mbuf must come back.
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/fault.h"
#include "dpdk-net/port.h"
#include "dpdk-net/socket.h"
#include "ring_pair.h"

#define SERVER_IP 0x0a000002u
#define CLIENT_IP 0x0a000001u
#define MAX_CONNS 16u
#define BATCH 8u                 /* connection pairs per batch (< MAX_CONNS: the listener) */
#define BATCHES 40u              /* 320 connections per close order */
#define REQ_BYTES 100u
#define RESP_BYTES 3000u
#define CHURN_CONNS_MAX 256u     /* max_conns of the randomised churns, at most */
#define TW_MS 1000u              /* TIME_WAIT, and an orphan's FIN_WAIT_2 timeout */

static struct ring_pair g_pair;

/* Side 0 is the client, side 1 the server (listening on port 80). */
struct rig {
    struct dnet_ctx *cli, *srv;
    struct dnet_tcb *lsn;
    size_t heap0;
    unsigned pool0[2];
    int drop[2];                 /* drop[i]: frames side i sends are lost */
    unsigned max_conns;          /* both sides' */
};

struct conn {
    struct dnet_tcb *c, *s;      /* client and server ends (NULL once closed) */
};

static void ctx_make(struct dnet_ctx **ctx, int i, const struct dnet_ctx_conf *tweak)
{
    struct dnet_ctx_conf conf = *tweak;

    conf.ip = htonl(i ? SERVER_IP : CLIENT_IP);
    conf.prefix_len = 24;
    conf.virtual_clock = 1;
    conf.isn_secret = 0xc105e + (uint64_t)i;
    if (!conf.max_conns)
        conf.max_conns = MAX_CONNS;
    if (!conf.time_wait_ms)
        conf.time_wait_ms = TW_MS;
    ck_assert_int_eq(dnet_ctx_create(ctx, &g_pair.port[i], &conf), 0);
    ck_assert_int_eq(dnet_arp_add(*ctx, htonl(i ? CLIENT_IP : SERVER_IP),
                                  &g_pair.port[1 - i].mac), 0);
}

static void rig_open(struct rig *r, const struct dnet_ctx_conf *cli,
                     const struct dnet_ctx_conf *srv)
{
    memset(r, 0, sizeof(*r));
    r->max_conns = cli->max_conns ? cli->max_conns : MAX_CONNS;
    ck_assert_uint_eq(r->max_conns, srv->max_conns ? srv->max_conns : MAX_CONNS);
    ctx_make(&r->cli, 0, cli);
    ctx_make(&r->srv, 1, srv);
    ck_assert_int_eq(dnet_tcp_listen(r->srv, htons(80), 128, &r->lsn), 0);
    r->heap0 = ring_pair_heap_used();
    for (int i = 0; i < 2; i++)
        r->pool0[i] = rte_mempool_avail_count(g_pair.port[i].pool);
}

/* Frames a dropping side sent are lost before the other side polls. */
static void rig_lose(struct rig *r)
{
    for (int i = 0; i < 2; i++) {
        void *m;

        while (r->drop[i] && rte_ring_dequeue(g_pair.ring[i], &m) == 0)
            rte_pktmbuf_free(m);
    }
}

/* Poll both sides until no frame is left in flight (a poll flushes what it queued). */
static void rig_pump(struct rig *r)
{
    unsigned rounds = 0;

    do {
        ck_assert_msg(++rounds < 100000, "frames still flowing after %u rounds: a storm", rounds);
        rig_lose(r);
        dnet_ctx_poll(r->cli);
        rig_lose(r);
        dnet_ctx_poll(r->srv);
        rig_lose(r);
    } while (rte_ring_count(g_pair.ring[0]) + rte_ring_count(g_pair.ring[1]));
}

/* Move both clocks @ms milliseconds, a millisecond at a time, pumping after each. */
static void rig_advance(struct rig *r, uint64_t ms)
{
    for (uint64_t i = 0; i < ms; i++) {
        dnet_ctx_clock_advance(r->cli, 1000);
        rig_lose(r);
        dnet_ctx_clock_advance(r->srv, 1000);
        rig_pump(r);
    }
}

/* How many control blocks @ctx can still allocate: connect until -ENOMEM, then abort them
 * all and throw away the SYNs before anyone sees them. */
static unsigned free_blocks(struct dnet_ctx *ctx, rte_be32_t dip)
{
    static struct dnet_tcb *t[8192];
    unsigned n = 0;
    int rc = 0;

    while (n < RTE_DIM(t) && (rc = dnet_tcp_connect(ctx, dip, htons(9), 0, &t[n])) == 0)
        n++;
    ck_assert_int_eq(rc, -ENOMEM);
    for (unsigned i = 0; i < n; i++)
        dnet_tcp_abort(ctx, t[i]);
    dnet_ctx_poll(ctx);              /* flushes the SYNs into the ring ... */
    ring_pair_drain(&g_pair);        /* ... where they are lost */
    return n;
}

/* Everything back: max_conns blocks on each side (the listener holds one of the server's),
 * the heap and both mbuf pools at their level before the first connection. */
static void rig_check_all_free(struct rig *r, const char *what)
{
    rig_pump(r);
    ring_pair_drain(&g_pair);
    ck_assert_msg(free_blocks(r->cli, htonl(SERVER_IP)) == r->max_conns,
                  "%s: client blocks leaked", what);
    ck_assert_msg(free_blocks(r->srv, htonl(CLIENT_IP)) == r->max_conns - 1,
                  "%s: server blocks leaked", what);
    ck_assert_msg(ring_pair_heap_used() == r->heap0, "%s: heap %zd bytes off its start", what,
                  (ssize_t)(ring_pair_heap_used() - r->heap0));
    for (int i = 0; i < 2; i++)
        ck_assert_msg(rte_mempool_avail_count(g_pair.port[i].pool) == r->pool0[i],
                      "%s: port %d pool %d mbufs off its start", what, i,
                      (int)rte_mempool_avail_count(g_pair.port[i].pool) - (int)r->pool0[i]);
}

static void rig_close(struct rig *r)
{
    dnet_tcp_close(r->srv, r->lsn);
    dnet_ctx_destroy(r->cli);
    dnet_ctx_destroy(r->srv);
    ring_pair_drain(&g_pair);
}

/* Open @k connections and pair each client end with the server end it was accepted as. */
static void batch_open(struct rig *r, struct conn *p, unsigned k)
{
    struct dnet_tcb *a;
    unsigned got = 0;

    for (unsigned i = 0; i < k; i++) {
        ck_assert_int_eq(dnet_tcp_connect(r->cli, htonl(SERVER_IP), htons(80), 0, &p[i].c), 0);
        p[i].s = NULL;
    }
    for (int ms = 0; got < k; ms++) {
        ck_assert_msg(ms < 5000, "only %u of %u connections accepted (server tcp_nomem_drop %llu)",
                      got, k, (unsigned long long)dnet_ctx_stats(r->srv)->tcp_nomem_drop);
        rig_pump(r);
        while (dnet_tcp_accept(r->srv, r->lsn, &a) == 0) {
            struct dnet_tcp_info si, ci;

            dnet_tcp_info(a, &si);
            for (unsigned i = 0; i < k; i++) {
                dnet_tcp_info(p[i].c, &ci);
                if (!p[i].s && ci.lport == si.rport) {
                    p[i].s = a;
                    got++;
                    break;
                }
            }
        }
        if (got < k)
            rig_advance(r, 1);
    }
}

static void send_all(struct dnet_ctx *ctx, struct dnet_tcb *t, uint32_t len)
{
    static const uint8_t buf[RESP_BYTES];

    ck_assert_uint_le(len, sizeof(buf));
    ck_assert_int_eq(dnet_tcp_send(ctx, t, buf, len), (ssize_t)len);
}

/* Read exactly @len bytes that have arrived. */
static void recv_all(struct dnet_ctx *ctx, struct dnet_tcb *t, uint32_t len)
{
    uint8_t buf[RESP_BYTES];
    uint32_t got = 0;
    ssize_t n;

    while (got < len && (n = dnet_tcp_recv(ctx, t, buf, len - got)) > 0)
        got += (uint32_t)n;
    ck_assert_uint_eq(got, len);
}

/* Request from the client, response from the server, both delivered (not read). */
static void batch_exchange(struct rig *r, struct conn *p, unsigned k)
{
    for (unsigned i = 0; i < k; i++)
        send_all(r->cli, p[i].c, REQ_BYTES);
    rig_pump(r);
    for (unsigned i = 0; i < k; i++) {
        recv_all(r->srv, p[i].s, REQ_BYTES);
        send_all(r->srv, p[i].s, RESP_BYTES);
    }
    rig_pump(r);
    rig_advance(r, 50);              /* delayed ACKs out */
}

static void close_end(struct dnet_ctx *ctx, struct dnet_tcb **t)
{
    ck_assert_int_eq(dnet_tcp_close(ctx, *t), 0);
    *t = NULL;
}

static enum dnet_tcp_state state_of(struct dnet_tcb *t)
{
    struct dnet_tcp_info in;

    dnet_tcp_info(t, &in);
    return in.state;
}

/* Close both ends of @p, let TIME_WAIT pass, check that nothing is left, and close. */
static void rig_end_one(struct rig *r, struct conn *p, const char *what)
{
    close_end(r->cli, &p->c);
    close_end(r->srv, &p->s);
    rig_advance(r, TW_MS + 10);
    rig_check_all_free(r, what);
    rig_close(r);
}

/* One close order for a batch whose request and response have been delivered. */
typedef void close_order_fn(struct rig *r, struct conn *p);

/* The client closes first (it read everything), the server after the EOF. */
static void order_client_first(struct rig *r, struct conn *p)
{
    uint8_t b[1];

    recv_all(r->cli, p->c, RESP_BYTES);
    close_end(r->cli, &p->c);
    rig_pump(r);
    ck_assert_int_eq(dnet_tcp_recv(r->srv, p->s, b, 1), 0);
    close_end(r->srv, &p->s);
}

/* The server closes first (nginx after keepalive_requests); the client after the EOF. */
static void order_server_first(struct rig *r, struct conn *p)
{
    uint8_t b[1];

    close_end(r->srv, &p->s);
    rig_pump(r);
    recv_all(r->cli, p->c, RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_recv(r->cli, p->c, b, 1), 0);
    close_end(r->cli, &p->c);
}

/* Both close before either FIN arrives: FIN_WAIT_1, CLOSING, TIME_WAIT on both sides. */
static void order_simultaneous(struct rig *r, struct conn *p)
{
    uint8_t b[1];

    recv_all(r->cli, p->c, RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_recv(r->srv, p->s, b, 1), -EAGAIN);
    close_end(r->cli, &p->c);
    close_end(r->srv, &p->s);
}

/* The client closes without reading the response: RST (Linux, RFC 2525 2.17). */
static void order_client_unread(struct rig *r, struct conn *p)
{
    uint8_t b[1];

    close_end(r->cli, &p->c);
    rig_pump(r);
    ck_assert_int_eq(dnet_tcp_recv(r->srv, p->s, b, 1), -ECONNRESET);
    close_end(r->srv, &p->s);
}

/* The server closes with a second request unread. */
static void order_server_unread(struct rig *r, struct conn *p)
{
    uint8_t b[RESP_BYTES];

    send_all(r->cli, p->c, REQ_BYTES);
    rig_pump(r);
    close_end(r->srv, &p->s);
    rig_pump(r);
    ck_assert_int_eq(dnet_tcp_recv(r->cli, p->c, b, sizeof(b)), RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_recv(r->cli, p->c, b, 1), -ECONNRESET);
    close_end(r->cli, &p->c);
}

/* RST in ESTABLISHED: the client aborts. */
static void order_rst_established(struct rig *r, struct conn *p)
{
    uint8_t b[RESP_BYTES];

    ck_assert_int_eq(dnet_tcp_abort(r->cli, p->c), 0);
    p->c = NULL;
    rig_pump(r);
    ck_assert_int_eq(dnet_tcp_recv(r->srv, p->s, b, 1), -ECONNRESET);
    close_end(r->srv, &p->s);
}

/* RST in CLOSE_WAIT: the client half-closes, then aborts from FIN_WAIT_2. */
static void order_rst_close_wait(struct rig *r, struct conn *p)
{
    uint8_t b[1];

    recv_all(r->cli, p->c, RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_shutdown(r->cli, p->c, SHUT_WR), 0);
    rig_pump(r);
    ck_assert_int_eq(state_of(p->c), DNET_TCP_FIN_WAIT_2);
    ck_assert_int_eq(state_of(p->s), DNET_TCP_CLOSE_WAIT);
    ck_assert_int_eq(dnet_tcp_abort(r->cli, p->c), 0);
    p->c = NULL;
    rig_pump(r);
    ck_assert_int_eq(dnet_tcp_recv(r->srv, p->s, b, 1), -ECONNRESET);
    close_end(r->srv, &p->s);
}

/* RST in an orphan's FIN_WAIT_2: the server closed, the client aborts. */
static void order_rst_fin_wait_2(struct rig *r, struct conn *p)
{
    close_end(r->srv, &p->s);
    rig_pump(r);
    ck_assert_int_eq(dnet_tcp_abort(r->cli, p->c), 0);
    p->c = NULL;
}

/* RST in FIN_WAIT_1: the server's FIN is lost, the client aborts. */
static void order_rst_fin_wait_1(struct rig *r, struct conn *p)
{
    r->drop[1] = 1;
    close_end(r->srv, &p->s);
    rig_pump(r);
    r->drop[1] = 0;
    ck_assert_int_eq(dnet_tcp_abort(r->cli, p->c), 0);
    p->c = NULL;
}

/* RST in LAST_ACK: the server half-closes, the client closes, its FIN is lost and the
 * server aborts. */
static void order_rst_last_ack(struct rig *r, struct conn *p)
{
    uint8_t b[1];

    ck_assert_int_eq(dnet_tcp_shutdown(r->srv, p->s, SHUT_WR), 0);
    rig_pump(r);
    recv_all(r->cli, p->c, RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_recv(r->cli, p->c, b, 1), 0);
    r->drop[0] = 1;
    close_end(r->cli, &p->c);
    rig_pump(r);
    r->drop[0] = 0;
    ck_assert_int_eq(dnet_tcp_abort(r->srv, p->s), 0);
    p->s = NULL;
}

/* RST in CLOSING: both half-close at once; the client's ACK of the server's FIN is lost
 * and the client forgets the connection (abort in TIME_WAIT sends nothing), so the
 * server's retransmitted FIN draws a RST. */
static void order_rst_closing(struct rig *r, struct conn *p)
{
    recv_all(r->cli, p->c, RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_shutdown(r->cli, p->c, SHUT_WR), 0);
    ck_assert_int_eq(dnet_tcp_shutdown(r->srv, p->s, SHUT_WR), 0);
    dnet_ctx_poll(r->cli);           /* the client's FIN out */
    dnet_ctx_poll(r->srv);           /* the server: CLOSING; its FIN and ACK out */
    r->drop[0] = 1;
    dnet_ctx_poll(r->cli);           /* the client: TIME_WAIT; its ACK lost */
    rig_lose(r);
    r->drop[0] = 0;
    ck_assert_int_eq(state_of(p->c), DNET_TCP_TIME_WAIT);
    ck_assert_int_eq(state_of(p->s), DNET_TCP_CLOSING);
    ck_assert_int_eq(dnet_tcp_abort(r->cli, p->c), 0);
    p->c = NULL;
    close_end(r->srv, &p->s);
}

/* An orphan whose peer never closes: the server's FIN_WAIT_2 ends after its timeout; the
 * client's late FIN then draws a RST. */
static void order_orphan_fin_wait_2_timeout(struct rig *r, struct conn *p)
{
    recv_all(r->cli, p->c, RESP_BYTES);
    close_end(r->srv, &p->s);
    rig_advance(r, TW_MS + 10);
    close_end(r->cli, &p->c);
}

/* The client vanishes (every frame it sends is lost, then it forgets the connection): the
 * server's orphan retransmits its FIN into the void and must give up. */
static void order_orphan_peer_gone(struct rig *r, struct conn *p)
{
    r->drop[0] = 1;
    ck_assert_int_eq(dnet_tcp_abort(r->cli, p->c), 0);
    p->c = NULL;
    close_end(r->srv, &p->s);
    rig_pump(r);
}

static void run_order(close_order_fn *fn, const char *what, uint64_t settle_ms)
{
    struct dnet_ctx_conf c = { .rcvbuf = 16384, .sndbuf = 16384 };
    struct conn p[BATCH];
    struct rig r;

    rig_open(&r, &c, &c);
    for (unsigned b = 0; b < BATCHES; b++) {
        batch_open(&r, p, BATCH);
        batch_exchange(&r, p, BATCH);
        for (unsigned i = 0; i < BATCH; i++)
            fn(&r, &p[i]);
        rig_pump(&r);
        for (unsigned i = 0; i < BATCH; i++)
            ck_assert_msg(!p[i].c && !p[i].s, "%s: an end left open", what);
        /* Whatever is still finishing (TIME_WAIT, retransmissions) ends in here. */
        rig_advance(&r, settle_ms);
        r.drop[0] = r.drop[1] = 0;
    }
    rig_check_all_free(&r, what);
    rig_close(&r);
}

#define ORDER_TEST(name, settle_ms) \
    START_TEST(test_tcp_close_##name) { run_order(order_##name, #name, settle_ms); } END_TEST

ORDER_TEST(client_first, TW_MS + 10)
ORDER_TEST(server_first, TW_MS + 10)
ORDER_TEST(simultaneous, TW_MS + 10)
ORDER_TEST(client_unread, 10)
ORDER_TEST(server_unread, 10)
ORDER_TEST(rst_established, 10)
ORDER_TEST(rst_close_wait, 10)
ORDER_TEST(rst_fin_wait_2, 10)
ORDER_TEST(rst_fin_wait_1, 10)
ORDER_TEST(rst_last_ack, 10)
ORDER_TEST(rst_closing, 2000)
ORDER_TEST(orphan_fin_wait_2_timeout, 10)

/* Linux gives an orphan tcp_orphan_retries (8) retransmissions, not tcp_retries2 (15):
 * with the RTO doubling from 200 ms that is ~100 s, not ~15 minutes. */
START_TEST(test_tcp_close_orphan_peer_gone)
{
    run_order(order_orphan_peer_gone, "orphan_peer_gone", 110 * 1000);
}
END_TEST

/* The server closes while its mbuf pool is empty, so its FIN cannot even be built: the
 * RTO must bring it out later (nothing in flight would), and the peer's ACK of a FIN first
 * sent by the RTO must count.  Before: the orphan had no timer and stayed for ever. */
START_TEST(test_tcp_close_fin_without_mbufs)
{
    struct dnet_ctx_conf c = { .rcvbuf = 16384, .sndbuf = 16384 };
    static struct rte_mbuf *hold[8192];
    struct rte_mempool *pool = g_pair.port[1].pool;
    struct conn p[BATCH];
    unsigned n = 0;
    struct rig r;
    uint8_t b[1];

    rig_open(&r, &c, &c);
    for (unsigned round = 0; round < BATCHES; round++) {
        batch_open(&r, p, BATCH);
        batch_exchange(&r, p, BATCH);
        while (n < RTE_DIM(hold) && (hold[n] = rte_pktmbuf_alloc(pool)) != NULL)
            n++;
        ck_assert_uint_lt(n, RTE_DIM(hold));
        for (unsigned i = 0; i < BATCH; i++)
            close_end(r.srv, &p[i].s);       /* no FIN goes out */
        rte_pktmbuf_free_bulk(hold, n);
        n = 0;
        rig_pump(&r);
        rig_advance(&r, 1000);               /* the RTO sends the FINs */
        for (unsigned i = 0; i < BATCH; i++) {
            recv_all(r.cli, p[i].c, RESP_BYTES);
            ck_assert_int_eq(dnet_tcp_recv(r.cli, p[i].c, b, 1), 0);
            close_end(r.cli, &p[i].c);
        }
        rig_advance(&r, TW_MS + 10);
    }
    rig_check_all_free(&r, "fin_without_mbufs");
    rig_close(&r);
}
END_TEST

/* Connections the client closes in SYN_SENT, the server's embryos that then get a RST, and
 * connections refused by a port without a listener. */
START_TEST(test_tcp_close_before_established)
{
    struct dnet_ctx_conf c = { .rcvbuf = 16384, .sndbuf = 16384 };
    struct dnet_tcb *t[BATCH];
    struct rig r;
    uint8_t b[1];

    rig_open(&r, &c, &c);
    for (unsigned n = 0; n < BATCHES; n++) {
        for (unsigned i = 0; i < BATCH; i++) {
            ck_assert_int_eq(dnet_tcp_connect(r.cli, htonl(SERVER_IP), htons(80), 0, &t[i]), 0);
            ck_assert_int_eq(dnet_tcp_close(r.cli, t[i]), 0);   /* SYN_SENT */
        }
        rig_pump(&r);                /* SYN, SYN-ACK, RST: the embryos go */
        for (unsigned i = 0; i < BATCH; i++)
            ck_assert_int_eq(dnet_tcp_connect(r.cli, htonl(SERVER_IP), htons(81), 0, &t[i]), 0);
        rig_pump(&r);
        for (unsigned i = 0; i < BATCH; i++) {
            ck_assert_int_eq(dnet_tcp_recv(r.cli, t[i], b, 1), -ECONNREFUSED);
            ck_assert_int_eq(dnet_tcp_close(r.cli, t[i]), 0);
        }
        rig_advance(&r, 10);
    }
    rig_check_all_free(&r, "before_established");
    rig_close(&r);
}
END_TEST

/* A listener closed with unaccepted connections (RST) and embryos (dropped) in its queues. */
START_TEST(test_tcp_close_listener_with_queue)
{
    struct dnet_ctx_conf c = { .rcvbuf = 16384, .sndbuf = 16384 };
    struct dnet_tcb *est[BATCH / 2], *emb[BATCH / 2];
    struct rig r;
    uint8_t b[1];

    rig_open(&r, &c, &c);
    for (unsigned n = 0; n < BATCHES; n++) {
        for (unsigned i = 0; i < BATCH / 2; i++)
            ck_assert_int_eq(dnet_tcp_connect(r.cli, htonl(SERVER_IP), htons(80), 0, &est[i]), 0);
        rig_pump(&r);                /* established, in the accept queue */
        r.drop[1] = 1;
        for (unsigned i = 0; i < BATCH / 2; i++)
            ck_assert_int_eq(dnet_tcp_connect(r.cli, htonl(SERVER_IP), htons(80), 0, &emb[i]), 0);
        rig_pump(&r);                /* embryos: their SYN-ACKs are lost */
        r.drop[1] = 0;
        ck_assert_int_eq(dnet_tcp_close(r.srv, r.lsn), 0);
        ck_assert_int_eq(dnet_tcp_listen(r.srv, htons(80), 128, &r.lsn), 0);
        rig_pump(&r);
        for (unsigned i = 0; i < BATCH / 2; i++) {
            ck_assert_int_eq(dnet_tcp_recv(r.cli, est[i], b, 1), -ECONNRESET);
            ck_assert_int_eq(dnet_tcp_close(r.cli, est[i]), 0);
            ck_assert_int_eq(dnet_tcp_close(r.cli, emb[i]), 0);   /* SYN_SENT */
        }
        rig_advance(&r, 10);
    }
    rig_check_all_free(&r, "listener_with_queue");
    rig_close(&r);
}
END_TEST

/* An orphan keeps no receive buffer and no free send room: with the default 256 KiB
 * buffers, closing connections whose data is all acknowledged gives both back at once (the
 * FIN, still unacknowledged here, needs neither).  Data that then reaches an orphan draws
 * a RST. */
START_TEST(test_tcp_close_orphan_buffers)
{
    struct dnet_ctx_conf cli = { .rcvbuf = 16384, .sndbuf = 16384 }, srv = { 0 };
    struct conn p[BATCH];
    struct rig r;
    size_t live;
    uint8_t b[1];

    rig_open(&r, &cli, &srv);
    batch_open(&r, p, BATCH);
    batch_exchange(&r, p, BATCH);
    live = ring_pair_heap_used();
    r.drop[0] = 1;                   /* the client's ACKs of the FINs are lost */
    for (unsigned i = 0; i < BATCH; i++) {
        recv_all(r.cli, p[i].c, RESP_BYTES);
        close_end(r.srv, &p[i].s);
    }
    rig_pump(&r);
    r.drop[0] = 0;
    ck_assert_msg(ring_pair_heap_used() + BATCH * 2 * 262144 <= live,
                  "%u orphans in FIN_WAIT_1 still hold %zu of %u buffer bytes", BATCH,
                  BATCH * 2 * 262144 - (live - ring_pair_heap_used()), BATCH * 2 * 262144);
    rig_advance(&r, 1000);           /* the FINs again, acknowledged: FIN_WAIT_2 */
    for (unsigned i = 0; i < BATCH; i++) {
        ck_assert_int_eq(dnet_tcp_recv(r.cli, p[i].c, b, 1), 0);
        send_all(r.cli, p[i].c, REQ_BYTES);
    }
    rig_pump(&r);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_abort_on_data, BATCH);
    for (unsigned i = 0; i < BATCH; i++) {
        ck_assert_int_eq(dnet_tcp_recv(r.cli, p[i].c, b, 1), -ECONNRESET);
        close_end(r.cli, &p[i].c);
    }
    rig_check_all_free(&r, "orphan_buffers");
    rig_close(&r);
}
END_TEST

/* An orphan with unsent data keeps just those bytes; a peer that keeps its window shut
 * (it never reads) does not keep the orphan for ever: it gives up after TCP_ORPHAN_RETRIES
 * zero-window probes, as Linux's tcp_orphan_retries bounds them. */
START_TEST(test_tcp_close_orphan_zero_window)
{
    static const uint8_t big[65536];
    struct dnet_ctx_conf cli = { .rcvbuf = 16384, .sndbuf = 16384 }, srv = { 0 };
    struct conn p[BATCH];
    struct rig r;
    size_t live;

    rig_open(&r, &cli, &srv);
    batch_open(&r, p, BATCH);
    batch_exchange(&r, p, BATCH);
    for (unsigned i = 0; i < BATCH; i++)
        ck_assert_int_eq(dnet_tcp_send(r.srv, p[i].s, big, sizeof(big)), (ssize_t)sizeof(big));
    rig_advance(&r, 100);            /* the client's window fills and shuts */
    live = ring_pair_heap_used();
    for (unsigned i = 0; i < BATCH; i++)
        close_end(r.srv, &p[i].s);
    rig_pump(&r);
    ck_assert_msg(ring_pair_heap_used() + BATCH * (2 * 262144 - sizeof(big)) <= live,
                  "orphans with 64 KiB unsent hold %zu bytes more than that",
                  ring_pair_heap_used() + BATCH * (2 * 262144 - sizeof(big)) - live);
    rig_advance(&r, 120 * 1000);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_orphan_timeout, BATCH);
    ck_assert_msg(free_blocks(r.srv, htonl(CLIENT_IP)) == MAX_CONNS - 1,
                  "orphans stuck on a shut window");
    for (unsigned i = 0; i < BATCH; i++)
        close_end(r.cli, &p[i].c);   /* unread data: a RST nobody answers */
    rig_check_all_free(&r, "orphan_zero_window");
    rig_close(&r);
}
END_TEST

/* ---- wrk against nginx, randomised: every close order and timing at once ---- */

#define CHURN_CONC 48u           /* client connections at once */
#define CHURN_STALL_MS 20000u    /* no connection finished for this long: stalled */

struct churn_conf {
    uint64_t seed;
    unsigned count;              /* connections to finish */
    uint32_t max_conns;          /* both sides' (<= CHURN_CONNS_MAX) */
    uint32_t bufs;               /* both sides' buffers; 0 = the default 256 KiB */
    int close_at_once;           /* the server always closes right after its response */
    int strict;                  /* connect() must never fail, no SYN may be dropped */
    struct dnet_fault_conf fault;
};

struct churn_end {
    struct dnet_tcb *t;
    uint32_t req, resp;          /* bytes of request / response moved */
    uint8_t how;                 /* the server's close: 0 at once, 1 half-close first, 2 later */
    uint8_t shut;
    uint64_t at_ms;
};

struct churn {
    struct rig r;
    const struct churn_conf *cf;
    uint64_t rng, now_ms;
    unsigned done;
};

static unsigned rnd(struct churn *ch, unsigned n)
{
    uint64_t z = (ch->rng += 0x9e3779b97f4a7c15ull);   /* splitmix64 */

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (unsigned)((z ^ (z >> 31)) % n);
}

/* wrk: connect, send the request, read the response, close (now and then abort). */
static void churn_client(struct churn *ch, struct churn_end *k)
{
    static const uint8_t req[REQ_BYTES];
    struct dnet_ctx *cli = ch->r.cli;
    uint8_t buf[RESP_BYTES];
    ssize_t n;
    int rc;

    if (!k->t) {
        rc = dnet_tcp_connect(cli, htonl(SERVER_IP), htons(80), 0, &k->t);
        /* Non-strict: -ENOMEM while closes still finish is max_conns at work (a leak
         * would show as a stall). */
        ck_assert_msg(rc == 0 || (rc == -ENOMEM && !ch->cf->strict),
                      "connect: %d after %u connections", rc, ch->done);
        k->req = k->resp = 0;
        return;
    }
    if (k->req < REQ_BYTES) {
        n = dnet_tcp_send(cli, k->t, req + k->req, REQ_BYTES - k->req);
        if (n > 0)
            k->req += (uint32_t)n;
        else if (n != -EAGAIN)
            goto close;          /* reset or refused */
    }
    while ((n = dnet_tcp_recv(cli, k->t, buf, sizeof(buf))) > 0)
        k->resp += (uint32_t)n;
    /* wrk closes once the response is complete, whether the FIN came yet or not. */
    if (n == -EAGAIN && !(k->resp == RESP_BYTES && rnd(ch, 2)))
        return;
close:
    if (rnd(ch, 8) == 0)
        dnet_tcp_abort(cli, k->t);
    else
        dnet_tcp_close(cli, k->t);
    k->t = NULL;
    ch->done++;
}

/* nginx: read the request, answer, close at once, after a half-close and the client's
 * EOF (lingering close), or a little later. */
static void churn_server(struct churn *ch, struct churn_end *k)
{
    static const uint8_t resp[RESP_BYTES];
    struct dnet_ctx *srv = ch->r.srv;
    uint8_t buf[REQ_BYTES];
    ssize_t n = 0;

    while (k->req < REQ_BYTES && (n = dnet_tcp_recv(srv, k->t, buf, REQ_BYTES - k->req)) > 0)
        k->req += (uint32_t)n;
    if (k->req < REQ_BYTES) {
        if (n == -EAGAIN)
            return;
        goto close;              /* EOF or reset before the whole request */
    }
    if (k->resp < RESP_BYTES) {
        n = dnet_tcp_send(srv, k->t, resp + k->resp, RESP_BYTES - k->resp);
        if (n < 0 && n != -EAGAIN)
            goto close;
        if (n > 0)
            k->resp += (uint32_t)n;
        if (k->resp < RESP_BYTES)
            return;
        k->at_ms = ch->now_ms + rnd(ch, 50);
    }
    if (k->how == 1) {
        if (!k->shut) {
            dnet_tcp_shutdown(srv, k->t, SHUT_WR);
            k->shut = 1;
        }
        n = dnet_tcp_recv(srv, k->t, buf, sizeof(buf));
        if (n == -EAGAIN && ch->now_ms < k->at_ms + 5000)
            return;
    } else if (k->how == 2 && ch->now_ms < k->at_ms) {
        return;
    }
close:
    dnet_tcp_close(srv, k->t);
    k->t = NULL;
}

/* Run cf->count connections with polls, calls and clock ticks in a random order; then
 * everything must come back. */
static void churn_run_random(const struct churn_conf *cf)
{
    struct dnet_ctx_conf c = { .max_conns = cf->max_conns, .time_wait_ms = 60000,
                               .rcvbuf = cf->bufs, .sndbuf = cf->bufs, .fault = cf->fault };
    struct dnet_ctx_conf cs = c;
    static struct churn_end cli[CHURN_CONC], srv[CHURN_CONNS_MAX];
    static struct churn ch;
    unsigned last_done = 0;
    uint64_t last_ms = 0;
    struct dnet_tcb *a;

    ck_assert_uint_le(cf->max_conns, CHURN_CONNS_MAX);
    memset(cli, 0, sizeof(cli));
    memset(srv, 0, sizeof(srv));
    memset(&ch, 0, sizeof(ch));
    ch.cf = cf;
    ch.rng = cf->seed;
    cs.fault.seed++;
    rig_open(&ch.r, &c, &cs);
    while (ch.done < cf->count) {
        if (rnd(&ch, 2))
            dnet_ctx_poll(ch.r.cli);
        if (rnd(&ch, 2))
            dnet_ctx_poll(ch.r.srv);
        for (unsigned i = 0; i < CHURN_CONC; i++)
            if (rnd(&ch, 2))
                churn_client(&ch, &cli[i]);
        while (dnet_tcp_accept(ch.r.srv, ch.r.lsn, &a) == 0) {
            unsigned i = 0;

            while (i < cf->max_conns && srv[i].t)
                i++;
            ck_assert_uint_lt(i, cf->max_conns);
            srv[i] = (struct churn_end){ .t = a,
                                         .how = cf->close_at_once ? 0 : (uint8_t)rnd(&ch, 3) };
        }
        for (unsigned i = 0; i < cf->max_conns; i++)
            if (srv[i].t && rnd(&ch, 2))
                churn_server(&ch, &srv[i]);
        if (ch.done != last_done) {
            last_done = ch.done;
            last_ms = ch.now_ms;
        }
        ck_assert_msg(ch.now_ms - last_ms < CHURN_STALL_MS,
                      "stalled after %u connections: server tcp_nomem_drop %llu", ch.done,
                      (unsigned long long)dnet_ctx_stats(ch.r.srv)->tcp_nomem_drop);
        if (rnd(&ch, 8) == 0 ||
            (!rte_ring_count(g_pair.ring[0]) && !rte_ring_count(g_pair.ring[1]) && rnd(&ch, 2))) {
            dnet_ctx_clock_advance(ch.r.cli, 1000);
            dnet_ctx_clock_advance(ch.r.srv, 1000);
            ch.now_ms++;
        }
    }
    if (cf->strict)
        ck_assert_uint_eq(dnet_ctx_stats(ch.r.srv)->tcp_nomem_drop, 0);
    /* The faults stop; the ends left are let go; whatever still finishes ends. */
    dnet_ctx_fault_set(ch.r.cli, &(struct dnet_fault_conf){ 0 });
    dnet_ctx_fault_set(ch.r.srv, &(struct dnet_fault_conf){ 0 });
    for (unsigned i = 0; i < CHURN_CONC; i++)
        if (cli[i].t)
            dnet_tcp_close(ch.r.cli, cli[i].t);
    for (unsigned i = 0; i < cf->max_conns; i++)
        if (srv[i].t)
            dnet_tcp_close(ch.r.srv, srv[i].t);
    rig_advance(&ch.r, 200 * 1000);
    while (dnet_tcp_accept(ch.r.srv, ch.r.lsn, &a) == 0)
        dnet_tcp_close(ch.r.srv, a);    /* queued, never accepted: not the stack's to end */
    rig_advance(&ch.r, 200 * 1000);
    rig_check_all_free(&ch.r, "churn");
    rig_close(&ch.r);
}

/* 20000 connections, each closed in a random order at a random moment. */
START_TEST(test_tcp_close_churn_random)
{
    struct churn_conf cf = { .seed = 1, .count = 20000, .max_conns = 64, .bufs = 16384 };

    churn_run_random(&cf);
}
END_TEST

/* The same with 1% of the frames each way dropped, duplicated or reordered: lost FINs,
 * ACKs and RSTs in every state. */
START_TEST(test_tcp_close_churn_random_faults)
{
    struct churn_conf cf = {
        .seed = 2, .count = 5000, .max_conns = 64, .bufs = 16384,
        .fault = { .seed = 7,
                   .rx = { .drop_ppm = 10000, .dup_ppm = 5000, .reorder_ppm = 5000 },
                   .tx = { .drop_ppm = 10000, .dup_ppm = 5000, .reorder_ppm = 5000 } },
    };

    churn_run_random(&cf);
}
END_TEST

/* ---- the copy callbacks (dnet_tcp_send_copy / dnet_tcp_recv_copy), on one connection:
 * what a fault leaves behind, and no byte lost or reordered around it. */

static uint8_t stream_at(uint32_t i)
{
    return (uint8_t)(i * 7u + 3u);
}

/* The stream from byte @base on; memory "faults" at byte @limit of the call's data. */
struct fault_src {
    uint32_t base;
    size_t limit;
};

static size_t copy_faulting(void *arg, void *p, size_t off, size_t len)
{
    const struct fault_src *f = arg;
    size_t n = off >= f->limit ? 0 : RTE_MIN(len, f->limit - off);

    for (size_t i = 0; i < n; i++)
        ((uint8_t *)p)[i] = stream_at(f->base + (uint32_t)(off + i));
    return n;
}

static size_t copy_fault_at_once(void *arg, void *p, size_t off, size_t len)
{
    return 0;
}

/* Read @len bytes of the stream from @from on, letting the window reopen as they go. */
static void recv_stream(struct rig *r, struct dnet_tcb *t, uint32_t from, uint32_t len)
{
    uint8_t buf[4096];
    uint32_t got = 0;

    for (int ms = 0; got < len; ms++) {
        ssize_t n = dnet_tcp_recv(r->cli, t, buf, RTE_MIN(sizeof(buf), (size_t)(len - got)));

        ck_assert_msg(ms < 10000, "%u of %u bytes after 10 s", got, len);
        if (n == -EAGAIN) {
            rig_advance(r, 1);
            continue;
        }
        ck_assert_int_gt(n, 0);
        for (ssize_t i = 0; i < n; i++)
            ck_assert_msg(buf[i] == stream_at(from + got + (uint32_t)i), "byte %u wrong",
                          from + got + (uint32_t)i);
        got += (uint32_t)n;
    }
}

START_TEST(test_tcp_copy_fault)
{
    struct dnet_ctx_conf cli = { .rcvbuf = 4096 }, srv = { .sndbuf = 16384 };
    struct fault_src f = { .base = 0, .limit = SIZE_MAX };
    struct conn p[1];
    struct rig r;
    uint8_t b[1];

    rig_open(&r, &cli, &srv);
    batch_open(&r, p, 1);
    /* 10000 bytes against a 4 KiB window: part is acknowledged, so the send buffer's
     * head moves off its start and the next write wraps around its end. */
    ck_assert_int_eq(dnet_tcp_send_copy(r.srv, p[0].s, 10000, copy_faulting, &f), 10000);
    rig_advance(&r, 50);
    /* A fault 8000 bytes into the next 10000, past the wrap, or at the first byte: nothing
     * is kept.  Then the 8000 bytes again, whole. */
    f = (struct fault_src){ .base = 10000, .limit = 8000 };
    ck_assert_int_eq(dnet_tcp_send_copy(r.srv, p[0].s, 10000, copy_faulting, &f), -EFAULT);
    ck_assert_int_eq(dnet_tcp_send_copy(r.srv, p[0].s, 100, copy_fault_at_once, NULL), -EFAULT);
    ck_assert_int_eq(dnet_tcp_send_copy(r.srv, p[0].s, 8000, copy_faulting, &f), 8000);
    /* Receiving: a fault consumes nothing, so the next read has the same bytes. */
    for (int ms = 0; dnet_tcp_recv_copy(r.cli, p[0].c, 1, copy_fault_at_once, NULL) == -EAGAIN;
         ms++) {
        ck_assert_int_lt(ms, 1000);
        rig_advance(&r, 1);
    }
    ck_assert_int_eq(dnet_tcp_recv_copy(r.cli, p[0].c, 100, copy_fault_at_once, NULL), -EFAULT);
    recv_stream(&r, p[0].c, 0, 18000);
    rig_advance(&r, 50);
    ck_assert_int_eq(dnet_tcp_recv(r.cli, p[0].c, b, 1), -EAGAIN);
    rig_end_one(&r, p, "copy_fault");
}
END_TEST

/* SIOCOUTQ's count (dnet_tcp_stats outq): what was written and is not acknowledged yet,
 * the FIN as one byte, as Linux's write_seq - snd_una. */
START_TEST(test_tcp_close_outq)
{
    struct dnet_ctx_conf c = { .rcvbuf = 16384, .sndbuf = 16384 };
    struct dnet_tcp_stats st;
    struct conn p[1];
    struct rig r;

    rig_open(&r, &c, &c);
    batch_open(&r, p, 1);
    rig_advance(&r, 50);
    ck_assert_int_eq(dnet_tcp_stats(r.cli, p[0].c, &st), 0);
    ck_assert_uint_eq(st.outq, 0);
    send_all(r.cli, p[0].c, REQ_BYTES);         /* out, not yet acknowledged */
    ck_assert_int_eq(dnet_tcp_shutdown(r.cli, p[0].c, SHUT_WR), 0);
    ck_assert_int_eq(dnet_tcp_stats(r.cli, p[0].c, &st), 0);
    ck_assert_uint_eq(st.outq, REQ_BYTES + 1);
    rig_pump(&r);
    rig_advance(&r, 50);
    ck_assert_int_eq(dnet_tcp_stats(r.cli, p[0].c, &st), 0);
    ck_assert_uint_eq(st.outq, 0);
    rig_end_one(&r, p, "outq");
}
END_TEST

/* The server closes first with the default 256 KiB buffers, so TIME_WAIT blocks pile up
 * among buffers that come and go in one heap.  Before control blocks came from slabs, the
 * heap broke into pieces smaller than a buffer after ~5000 connections (with 200 MiB
 * free): SYNs dropped for want of memory, connect() -ENOMEM, a stall. */
START_TEST(test_tcp_close_churn_default_buffers)
{
    struct churn_conf cf = { .seed = 3, .count = 8000, .max_conns = 256, .close_at_once = 1,
                             .strict = 1 };

    churn_run_random(&cf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dpdk-net.close");
    TCase *tc = tcase_create("close");

    if (ring_pair_setup(&g_pair, "cl") < 0)
        return 1;
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tcp_close_client_first);
    tcase_add_test(tc, test_tcp_close_server_first);
    tcase_add_test(tc, test_tcp_close_simultaneous);
    tcase_add_test(tc, test_tcp_close_client_unread);
    tcase_add_test(tc, test_tcp_close_server_unread);
    tcase_add_test(tc, test_tcp_close_rst_established);
    tcase_add_test(tc, test_tcp_close_rst_close_wait);
    tcase_add_test(tc, test_tcp_close_rst_fin_wait_2);
    tcase_add_test(tc, test_tcp_close_rst_fin_wait_1);
    tcase_add_test(tc, test_tcp_close_rst_last_ack);
    tcase_add_test(tc, test_tcp_close_rst_closing);
    tcase_add_test(tc, test_tcp_close_orphan_fin_wait_2_timeout);
    tcase_add_test(tc, test_tcp_close_orphan_peer_gone);
    tcase_add_test(tc, test_tcp_close_orphan_buffers);
    tcase_add_test(tc, test_tcp_close_orphan_zero_window);
    tcase_add_test(tc, test_tcp_close_fin_without_mbufs);
    tcase_add_test(tc, test_tcp_close_before_established);
    tcase_add_test(tc, test_tcp_close_listener_with_queue);
    tcase_add_test(tc, test_tcp_close_churn_random);
    tcase_add_test(tc, test_tcp_close_churn_random_faults);
    tcase_add_test(tc, test_tcp_close_churn_default_buffers);
    tcase_add_test(tc, test_tcp_copy_fault);
    tcase_add_test(tc, test_tcp_close_outq);
    suite_add_tcase(s, tc);
    return ring_pair_run(&g_pair, s);
}
