// SPDX-License-Identifier: MIT
// dpdk-net TIME_WAIT at scale: two contexts back to back on two net_ring ports (virtual
// clocks), thousands of short connections that the server closes first (nginx after
// keepalive_requests), so every one of them leaves a TIME_WAIT block on the server.
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <check.h>
#include <rte_malloc.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/socket.h"
#include "ring_pair.h"

#define REQ_BYTES 100u
#define RESP_BYTES 1000u
#define MAX_CONC 64
#define STALL_US (10ull * 1000000)   /* no connection finished for 10 virtual seconds */
#define SERVER_IP 0x0a000002u
#define CLIENT_IP 0x0a000001u

static struct ring_pair g_pair;
static struct dnet_port *const g_port = g_pair.port;

/* One run: side 0 is the client, side 1 the server (listening on port 80). */
struct churn {
    struct dnet_ctx *cli, *srv;
    struct dnet_tcb *lsn;
    uint16_t sport_base;                /* 0: ephemeral ports; else sport_base + sport_next++ */
    uint16_t sport_next;
    unsigned conc;                      /* connections open at once (<= MAX_CONC) */
    unsigned done;                      /* connections finished */
    uint64_t now_us;
};

struct cli_conn {
    struct dnet_tcb *c;
    uint32_t sent, rcvd;
};

struct srv_conn {
    struct dnet_tcb *c;
    uint32_t rcvd, sent;
};

static void ctx_make(struct dnet_ctx **ctx, int i, const struct dnet_ctx_conf *tweak)
{
    struct dnet_ctx_conf conf = *tweak;

    conf.ip = htonl(i ? SERVER_IP : CLIENT_IP);
    conf.prefix_len = 24;
    conf.virtual_clock = 1;
    conf.isn_secret = 0x7177 + (uint64_t)i;
    ck_assert_int_eq(dnet_ctx_create(ctx, &g_port[i], &conf), 0);
    ck_assert_int_eq(dnet_arp_add(*ctx, htonl(i ? CLIENT_IP : SERVER_IP), &g_port[1 - i].mac), 0);
}

static void churn_open(struct churn *r, const struct dnet_ctx_conf *srv_conf, unsigned conc)
{
    struct dnet_ctx_conf cli_conf = { .rcvbuf = 16384, .sndbuf = 16384 }; /* the heap is the server's */

    memset(r, 0, sizeof(*r));
    r->conc = conc;
    ctx_make(&r->cli, 0, &cli_conf);
    ctx_make(&r->srv, 1, srv_conf);
    ck_assert_int_eq(dnet_tcp_listen(r->srv, htons(80), 128, &r->lsn), 0);
}

static void churn_advance(struct churn *r, uint64_t us)
{
    for (uint64_t t = 0; t < us; t += 1000) {
        r->now_us += 1000;
        dnet_ctx_clock_advance(r->cli, 1000);
        dnet_ctx_clock_advance(r->srv, 1000);
    }
}

/* The client side of one connection; returns 1 when it has finished (and closed it). */
static int cli_step(struct churn *r, struct cli_conn *k)
{
    static const uint8_t req[REQ_BYTES] = "GET /1k HTTP/1.1\r\n";
    uint8_t buf[RESP_BYTES];
    ssize_t n;

    if (k->sent < REQ_BYTES) {
        n = dnet_tcp_send(r->cli, k->c, req + k->sent, REQ_BYTES - k->sent);
        if (n == -EAGAIN)
            return 0;        /* still connecting */
        ck_assert_msg(n > 0, "client send: %zd after %u connections", n, r->done);
        k->sent += (uint32_t)n;
    }
    while ((n = dnet_tcp_recv(r->cli, k->c, buf, sizeof(buf))) > 0)
        k->rcvd += (uint32_t)n;
    if (n == -EAGAIN)
        return 0;
    ck_assert_msg(n == 0, "client recv: %zd after %u connections", n, r->done);
    ck_assert_uint_eq(k->rcvd, RESP_BYTES);
    ck_assert_int_eq(dnet_tcp_close(r->cli, k->c), 0);
    k->c = NULL;
    return 1;
}

/* The server side: read the request, answer, close first.  Returns 1 once closed. */
static int srv_step(struct churn *r, struct srv_conn *k)
{
    static const uint8_t resp[RESP_BYTES];
    uint8_t buf[REQ_BYTES];
    ssize_t n;

    while (k->rcvd < REQ_BYTES && (n = dnet_tcp_recv(r->srv, k->c, buf, sizeof(buf))) != -EAGAIN) {
        ck_assert_msg(n > 0, "server recv: %zd after %u connections", n, r->done);
        k->rcvd += (uint32_t)n;
    }
    if (k->rcvd < REQ_BYTES)
        return 0;
    if (k->sent < RESP_BYTES) {
        n = dnet_tcp_send(r->srv, k->c, resp + k->sent, RESP_BYTES - k->sent);
        if (n == -EAGAIN)
            return 0;
        ck_assert_msg(n > 0, "server send: %zd", n);
        k->sent += (uint32_t)n;
        if (k->sent < RESP_BYTES)
            return 0;
    }
    ck_assert_int_eq(dnet_tcp_close(r->srv, k->c), 0);
    k->c = NULL;
    return 1;
}

/* Run @count more connections to completion, r->conc at a time; the clocks advance 1 ms
 * whenever a round of polls moves nothing.  Fails the test if none finishes for STALL_US. */
static void churn_run(struct churn *r, unsigned count)
{
    struct cli_conn cli[MAX_CONC] = { 0 };
    struct srv_conn srv[MAX_CONC] = { 0 };
    unsigned end = r->done + count, started = 0, open_srv = 0;
    uint64_t last_done_us = r->now_us;

    ck_assert_uint_le(r->conc, MAX_CONC);
    while (r->done < end) {
        unsigned before = r->done;
        int moved = dnet_ctx_poll(r->cli) + dnet_ctx_poll(r->srv);
        struct dnet_tcb *a;

        for (unsigned i = 0; i < r->conc; i++) {
            if (!cli[i].c && started < count) {
                rte_be16_t sport = r->sport_base ? htons((uint16_t)(r->sport_base + r->sport_next++)) : 0;

                ck_assert_int_eq(dnet_tcp_connect(r->cli, htonl(SERVER_IP), htons(80), sport,
                                                  &cli[i].c), 0);
                cli[i].sent = cli[i].rcvd = 0;
                started++;
                moved++;
            }
            if (cli[i].c && cli_step(r, &cli[i]))
                r->done++;
        }
        while (open_srv < MAX_CONC && dnet_tcp_accept(r->srv, r->lsn, &a) == 0) {
            for (unsigned i = 0; i < MAX_CONC; i++) {
                if (!srv[i].c) {
                    srv[i] = (struct srv_conn){ .c = a };
                    open_srv++;
                    break;
                }
            }
            moved++;
        }
        for (unsigned i = 0; i < MAX_CONC; i++)
            if (srv[i].c && srv_step(r, &srv[i]))
                open_srv--;
        if (r->done != before) {
            last_done_us = r->now_us;
            continue;
        }
        if (moved)
            continue;
        ck_assert_msg(r->now_us - last_done_us < STALL_US,
                      "stalled after %u connections: server tcp_nomem_drop %llu, "
                      "tcp_backlog_drop %llu, client tcp_rto %llu", r->done,
                      (unsigned long long)dnet_ctx_stats(r->srv)->tcp_nomem_drop,
                      (unsigned long long)dnet_ctx_stats(r->srv)->tcp_backlog_drop,
                      (unsigned long long)dnet_ctx_stats(r->cli)->tcp_rto);
        churn_advance(r, 1000);
    }
    /* The last closes finish: the frames still in flight are taken in. */
    while (dnet_ctx_poll(r->cli) + dnet_ctx_poll(r->srv))
        ;
}

static void churn_close(struct churn *r)
{
    dnet_tcp_close(r->srv, r->lsn);
    dnet_ctx_destroy(r->cli);
    dnet_ctx_destroy(r->srv);
    ring_pair_drain(&g_pair);
}

/* With the default 256 KiB buffers each way, 3000 TIME_WAIT blocks that kept theirs would
 * need 1.5 GiB; the EAL here has 256 MiB.  (Before the fix: stalled after ~480.) */
START_TEST(test_tcp_time_wait_many_active_closes_default_buffers)
{
    struct dnet_ctx_conf dflt = { 0 };
    struct churn r;
    size_t base;

    churn_open(&r, &dflt, 32);
    base = ring_pair_heap_used();
    churn_run(&r, 3000);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_nomem_drop, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_tw_overflow, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.cli)->tcp_rto, 0);
    /* 3000 blocks in TIME_WAIT hold no buffers: well under 2 KiB each. */
    ck_assert_msg(ring_pair_heap_used() < base + 3000 * 2048,
                  "heap grew by %zu bytes for 3000 TIME_WAITs", ring_pair_heap_used() - base);
    /* Two MSL later they are all gone. */
    churn_advance(&r, 60000 * 1000ull + 2000);
    ck_assert_msg(ring_pair_heap_used() <= base,
                  "heap %zu bytes above the start after TIME_WAIT ended",
                  ring_pair_heap_used() - base);
    churn_close(&r);
}
END_TEST

/* TIME_WAIT blocks are not connections: max_conns 16 still serves 500 connections. */
START_TEST(test_tcp_time_wait_not_counted_in_max_conns)
{
    struct dnet_ctx_conf c = { .max_conns = 16, .rcvbuf = 16384, .sndbuf = 16384 };
    struct churn r;

    churn_open(&r, &c, 8);
    churn_run(&r, 500);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_nomem_drop, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_tw_overflow, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.cli)->tcp_rto, 0);
    churn_close(&r);
}
END_TEST

/* Past max_time_wait a connection closes without TIME_WAIT (Linux tcp_max_tw_buckets), so
 * its 4-tuple is free at once; the ones in TIME_WAIT take a new SYN above the old sequence
 * space and timestamps (RFC 6191).  Either way the same source ports connect again at the
 * first SYN. */
START_TEST(test_tcp_time_wait_overflow_and_syn_reuse)
{
    struct dnet_ctx_conf c = { .max_time_wait = 20, .rcvbuf = 16384, .sndbuf = 16384 };
    struct churn r;
    size_t base;

    churn_open(&r, &c, 8);
    r.sport_base = 40000;
    base = ring_pair_heap_used();
    churn_run(&r, 100);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_tw_overflow, 80);
    churn_advance(&r, 10000);
    r.sport_next = 0;                   /* the same 100 source ports again */
    churn_run(&r, 100);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_tw_overflow, 160);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_nomem_drop, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.srv)->tcp_rst_tx, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.cli)->tcp_rto, 0);
    ck_assert_uint_eq(dnet_ctx_stats(r.cli)->tcp_rst_tx, 0);
    /* Only max_time_wait blocks are left, without buffers. */
    ck_assert_msg(ring_pair_heap_used() < base + 20 * 2048, "heap grew by %zu bytes",
                  ring_pair_heap_used() - base);
    churn_close(&r);
}
END_TEST

/* The socket layer asks whether TIME_WAIT holds a port against a bind: the server's
 * connections on port 80 do (they close first), with the listener's SO_REUSE* bits, until
 * two MSL have passed; the client's (passive closers) hold none of their ports. */
START_TEST(test_tcp_time_wait_holds_port)
{
    struct dnet_ctx_conf c = { .rcvbuf = 16384, .sndbuf = 16384 };
    struct churn r;

    churn_open(&r, &c, 4);
    r.sport_base = 41000;
    ck_assert_int_eq(dnet_tcp_set_reuse(r.srv, r.lsn, DNET_REUSEADDR), 0);
    ck_assert_int_eq(dnet_tcp_port_held(r.srv, htons(80), 0), 0);    /* a listener is not */
    churn_run(&r, 8);
    ck_assert_int_eq(dnet_tcp_port_held(r.srv, htons(80), 0), 1);
    ck_assert_int_eq(dnet_tcp_port_held(r.srv, htons(80), DNET_REUSEPORT), 1);
    ck_assert_int_eq(dnet_tcp_port_held(r.srv, htons(80), DNET_REUSEADDR), 0);
    ck_assert_int_eq(dnet_tcp_port_held(r.srv, htons(81), 0), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(dnet_tcp_port_held(r.cli, htons(41000 + i), 0), 0);
    churn_advance(&r, 60000 * 1000ull + 2000);
    ck_assert_int_eq(dnet_tcp_port_held(r.srv, htons(80), 0), 0);
    churn_close(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dpdk-net.time_wait");
    TCase *tc = tcase_create("time_wait");

    if (ring_pair_setup(&g_pair, "tw") < 0)
        return 1;
    tcase_set_timeout(tc, 60);
    /* The heap-filling one last: without forks, a failure leaves its contexts behind. */
    tcase_add_test(tc, test_tcp_time_wait_not_counted_in_max_conns);
    tcase_add_test(tc, test_tcp_time_wait_overflow_and_syn_reuse);
    tcase_add_test(tc, test_tcp_time_wait_holds_port);
    tcase_add_test(tc, test_tcp_time_wait_many_active_closes_default_buffers);
    suite_add_tcase(s, tc);
    return ring_pair_run(&g_pair, s);
}
