// SPDX-License-Identifier: MIT
// dpdk-net checksums (src/csum.c): both implementations against the 16-bit words' sum, at
// every length and alignment a frame can have, and at lengths where a narrow sum overflows.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <rte_ip.h>

#include "check_run.h"
#include "dnet_int.h"

/* The definition: 16-bit little-endian words (an odd last byte as a low half) added in 64
 * bits, folded to 16. */
static uint32_t ref_csum(const uint8_t *p, size_t len)
{
    uint64_t s = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        s += (uint32_t)p[i] | (uint32_t)p[i + 1] << 8;
    if (len & 1)
        s += p[len - 1];
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

static void check_all(const uint8_t *p, size_t len)
{
    uint32_t want = ref_csum(p, len);

    ck_assert_msg(dnet_csum_generic(p, len) == want, "generic, len %zu: %#x, want %#x", len,
                  dnet_csum_generic(p, len), want);
    if (have_avx2())
        ck_assert_msg(dnet_csum_avx2(p, len) == want, "avx2, len %zu: %#x, want %#x", len,
                      dnet_csum_avx2(p, len), want);
    ck_assert_uint_eq(dnet_csum(p, len), want);
}

/* Random bytes at lengths 0..2100 and start offsets 0..7 and 61: equal to the definition and
 * to DPDK's __rte_raw_cksum, which the callers used before. */
START_TEST(random_lengths)
{
    static uint8_t buf[2200];

    srand(42);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)rand();
    for (size_t off = 0; off <= 61; off = off == 7 ? 61 : off + 1)
        for (size_t len = 0; len <= 2100; len++) {
            check_all(buf + off, len);
            ck_assert_uint_eq(dnet_csum(buf + off, len),
                              __rte_raw_cksum_reduce(__rte_raw_cksum(buf + off, len, 0)));
        }
}
END_TEST

/* Zero only for all zeros; 0xffff, not 0, for a non-zero buffer whose sum is 0 mod 0xffff. */
START_TEST(zero_and_negative_zero)
{
    uint8_t z[64] = { 0 }, m[4] = { 0xff, 0xff, 0xff, 0xff }, pair[4] = { 0x01, 0x00, 0xfe, 0xff };

    for (size_t len = 0; len <= sizeof(z); len++)
        check_all(z, len);
    ck_assert_uint_eq(dnet_csum(z, sizeof(z)), 0);
    check_all(m, sizeof(m));
    ck_assert_uint_eq(dnet_csum(m, sizeof(m)), 0xffff);
    check_all(pair, sizeof(pair));   /* 0x0001 + 0xfffe = 0xffff */
    ck_assert_uint_eq(dnet_csum(pair, sizeof(pair)), 0xffff);
}
END_TEST

/* All 0xff and all 0xfe, 64 KiB (a TSO segment's most) and 9 MiB: a 32-bit sum of words
 * overflows past 128 KiB of them, an AVX2 lane past 4 MiB. */
START_TEST(long_buffers)
{
    static const size_t lens[] = { 65535, 65536, (4u << 20) - 1, 4u << 20, (4u << 20) + 3,
                                   (9u << 20) + 1 };
    uint8_t *b = malloc((9u << 20) + 8);

    ck_assert_ptr_nonnull(b);
    for (int v = 0xfe; v <= 0xff; v++) {
        memset(b, v, (9u << 20) + 8);
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            check_all(b, lens[i]);
            check_all(b + 1, lens[i]);
        }
    }
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dpdk-net.csum");
    TCase *tc = tcase_create("csum");

    tcase_add_test(tc, random_lengths);
    tcase_add_test(tc, zero_and_negative_zero);
    tcase_add_test(tc, long_buffers);
    suite_add_tcase(s, tc);
    return check_run(s);
}
