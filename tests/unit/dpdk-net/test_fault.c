// SPDX-License-Identifier: MIT
// dpdk-net fault injection end to end: two contexts wired back to back through two net_ring
// ports (A's TX ring is B's RX ring and the other way round), virtual clocks, and a TCP
// connection that moves 1 MiB each way while both sides drop, reorder, duplicate and corrupt.
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <check.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/socket.h"
#include "ring_pair.h"

#define XFER_BYTES (1u << 20)
#define CHUNK 16384u
#define MAX_VIRTUAL_US (120ull * 1000000)  /* give up after 2 virtual minutes (~1.5 s needed) */

static struct ring_pair g_pair;
static struct dnet_port *const g_port = g_pair.port;

/* The stream side @i sends: byte n depends on n and i, so loss, reordering or duplication
 * that slipped through would change the digest. */
static uint8_t stream_byte(int i, uint64_t n)
{
    uint64_t x = (n + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)i << 61;

    return (uint8_t)(x >> 56 ^ x >> 23);
}

/* FNV-1a, 64 bit. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        h = (h ^ p[k]) * 0x100000001b3ull;
    return h;
}

/* One endpoint of the transfer. */
struct side {
    struct dnet_ctx *ctx;
    struct dnet_tcb *lsn, *c;
    uint64_t sent, rcvd, digest;
    int shut, eof;
};

struct run {
    struct side s[2];
    uint64_t want_digest[2];    /* digest of what side i sends */
    uint64_t end_us;
    struct dnet_stats st[2];
};

static void side_io(struct side *me, int i)
{
    uint8_t buf[CHUNK];
    ssize_t k;

    while (me->c && me->sent < XFER_BYTES) {
        uint32_t n = (uint32_t)RTE_MIN((uint64_t)CHUNK, XFER_BYTES - me->sent);

        for (uint32_t j = 0; j < n; j++)
            buf[j] = stream_byte(i, me->sent + j);
        k = dnet_tcp_send(me->ctx, me->c, buf, n);
        if (k == -EAGAIN)
            break;
        ck_assert_msg(k > 0, "side %d: send returned %zd", i, k);
        me->sent += (uint64_t)k;
    }
    if (me->c && me->sent == XFER_BYTES && !me->shut) {
        ck_assert_int_eq(dnet_tcp_shutdown(me->ctx, me->c, SHUT_WR), 0);
        me->shut = 1;
    }
    while (me->c && !me->eof && (k = dnet_tcp_recv(me->ctx, me->c, buf, sizeof(buf))) != -EAGAIN) {
        ck_assert_msg(k >= 0, "side %d: recv returned %zd", i, k);
        if (k == 0)
            me->eof = 1;
        me->digest = fnv(me->digest, buf, (size_t)k);
        me->rcvd += (uint64_t)k;
    }
}

static void ctx_make(struct dnet_ctx **ctx, int i, uint64_t seed, const struct dnet_fault_dir *f)
{
    struct dnet_ctx_conf conf = {
        .ip = htonl(0x0a000001u + (uint32_t)i), .prefix_len = 24, .virtual_clock = 1,
        .isn_secret = 0x5eed + (uint64_t)i,
        .fault = { .seed = seed + (uint64_t)i, .rx = *f, .tx = *f },
    };

    ck_assert_int_eq(dnet_ctx_create(ctx, &g_port[i], &conf), 0);
    ck_assert_int_eq(dnet_arp_add(*ctx, htonl(0x0a000002u - (uint32_t)i), &g_port[1 - i].mac), 0);
}

/* Connect side 0 to a listener on side 1, move XFER_BYTES each way and close; the clocks
 * advance 1 ms whenever a round of polls moves nothing. */
static void transfer(struct run *r, uint64_t seed, const struct dnet_fault_dir *f)
{
    uint64_t now = 0;

    memset(r, 0, sizeof(*r));
    for (int i = 0; i < 2; i++) {
        uint64_t h = 0xcbf29ce484222325ull;

        for (uint64_t n = 0; n < XFER_BYTES; n++) {
            uint8_t b = stream_byte(i, n);

            h = fnv(h, &b, 1);
        }
        r->want_digest[i] = h;
        r->s[i].digest = 0xcbf29ce484222325ull;
        ctx_make(&r->s[i].ctx, i, seed, f);
    }
    ck_assert_int_eq(dnet_tcp_listen(r->s[1].ctx, htons(80), 8, &r->s[1].lsn), 0);
    ck_assert_int_eq(dnet_tcp_connect(r->s[0].ctx, htonl(0x0a000002u), htons(80), 0, &r->s[0].c), 0);
    while (!(r->s[0].eof && r->s[1].eof)) {
        uint64_t before = r->s[0].rcvd + r->s[1].rcvd + r->s[0].sent + r->s[1].sent;
        int moved = dnet_ctx_poll(r->s[0].ctx) + dnet_ctx_poll(r->s[1].ctx);

        if (!r->s[1].c)
            (void)dnet_tcp_accept(r->s[1].ctx, r->s[1].lsn, &r->s[1].c);
        for (int i = 0; i < 2; i++)
            side_io(&r->s[i], i);
        if (moved || before != r->s[0].rcvd + r->s[1].rcvd + r->s[0].sent + r->s[1].sent)
            continue;
        ck_assert_msg(now < MAX_VIRTUAL_US, "stalled: sent %llu/%llu rcvd %llu/%llu",
                      (unsigned long long)r->s[0].sent, (unsigned long long)r->s[1].sent,
                      (unsigned long long)r->s[0].rcvd, (unsigned long long)r->s[1].rcvd);
        now += 1000;
        for (int i = 0; i < 2; i++)
            dnet_ctx_clock_advance(r->s[i].ctx, 1000);
    }
    r->end_us = now;
    for (int i = 0; i < 2; i++) {
        r->st[i] = *dnet_ctx_stats(r->s[i].ctx);
        if (r->s[i].c)
            dnet_tcp_abort(r->s[i].ctx, r->s[i].c);
        if (r->s[i].lsn)
            dnet_tcp_close(r->s[i].ctx, r->s[i].lsn);
        dnet_ctx_destroy(r->s[i].ctx);
    }
    ring_pair_drain(&g_pair);
}

static const struct dnet_fault_dir g_lossy = {
    .drop_ppm = 10000, .dup_ppm = 10000, .reorder_ppm = 10000, .corrupt_ppm = 10000,
};

START_TEST(test_fault_transfer_exact_bytes_both_ways)
{
    struct run r;

    transfer(&r, 1, &g_lossy);
    for (int i = 0; i < 2; i++) {
        const struct dnet_stats *st = &r.st[i];

        ck_assert_uint_eq(r.s[1 - i].rcvd, XFER_BYTES);
        ck_assert_msg(r.s[1 - i].digest == r.want_digest[i], "side %d's bytes arrived changed", i);
        /* Every fault happened, in both directions, and loss was repaired. */
        const uint64_t seen[] = { st->fault_rx_drop, st->fault_rx_dup, st->fault_rx_corrupt,
                                  st->fault_rx_reorder, st->fault_tx_drop, st->fault_tx_dup,
                                  st->fault_tx_corrupt, st->fault_tx_reorder, st->tcp_retrans };

        for (unsigned k = 0; k < RTE_DIM(seen); k++)
            ck_assert_msg(seen[k] > 0, "side %d: counter %u of seen[] is 0", i, k);
        /* Corrupted frames were dropped by the checksum check, and nothing else was bad. */
        ck_assert_uint_gt(st->ip_bad_csum, 0);
        ck_assert_uint_le(st->ip_bad_csum, st->fault_rx_corrupt + 2 * r.st[1 - i].fault_tx_corrupt);
        ck_assert_uint_eq(st->tcp_bad, 0);
        ck_assert_uint_eq(st->ip_bad_hdr, 0);
    }
}
END_TEST

START_TEST(test_fault_same_seed_same_run)
{
    struct run a, b, c;

    transfer(&a, 7, &g_lossy);
    transfer(&b, 7, &g_lossy);
    transfer(&c, 8, &g_lossy);
    ck_assert_uint_eq(a.end_us, b.end_us);
    ck_assert_msg(memcmp(a.st, b.st, sizeof(a.st)) == 0, "same seed, different counters");
    ck_assert_msg(memcmp(a.st, c.st, sizeof(a.st)) != 0, "another seed, the same counters");
    ck_assert_uint_eq(c.s[0].rcvd, XFER_BYTES);
    ck_assert_uint_eq(c.s[1].rcvd, XFER_BYTES);
}
END_TEST

START_TEST(test_fault_probability_above_one_einval)
{
    struct dnet_ctx_conf conf = { .ip = htonl(0x0a000001u), .virtual_clock = 1 };
    struct dnet_fault_conf fc = { .tx = { .dup_ppm = DNET_FAULT_PPM + 1 } };
    struct dnet_ctx *ctx;

    conf.fault = fc;
    ck_assert_int_eq(dnet_ctx_create(&ctx, &g_port[0], &conf), -EINVAL);
    ck_assert_ptr_null(ctx);
    conf.fault.tx.dup_ppm = DNET_FAULT_PPM;
    ck_assert_int_eq(dnet_ctx_create(&ctx, &g_port[0], &conf), 0);
    ck_assert_int_eq(dnet_ctx_fault_set(ctx, &fc), -EINVAL);
    dnet_ctx_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dpdk-net.fault");
    TCase *tc = tcase_create("fault");

    if (ring_pair_setup(&g_pair, "f") < 0)
        return 1;
    tcase_add_test(tc, test_fault_transfer_exact_bytes_both_ways);
    tcase_add_test(tc, test_fault_same_seed_same_run);
    tcase_add_test(tc, test_fault_probability_above_one_einval);
    suite_add_tcase(s, tc);
    return ring_pair_run(&g_pair, s);
}
