// SPDX-License-Identifier: MIT
/* The Internet checksum's sum over a buffer (RFC 1071), for what has no offload: the data
 * of every segment sent and received over net_memif and net_af_packet.
 *
 * DPDK's __rte_raw_cksum adds one 16-bit word at a time; built for -march=corei7 that is
 * 7 instructions per 16 bytes, and the sum of a 1264-byte nginx response was half of
 * tcp_xmit.  Here a one's-complement sum of wider words is folded at the end: 2^16 = 1
 * modulo 0xffff, so adding 32-bit words and folding gives the 16-bit words' sum, and only
 * an all-zero buffer sums to 0, as with the narrow loop.  With AVX2, 16 bytes widen to
 * eight 32-bit lanes per instruction; otherwise 32-bit words go into 64-bit sums. */
#include <immintrin.h>
#include <string.h>

#include "dnet_int.h"

/* 64 bits folded to 16, never 0 unless @s is. */
static inline uint32_t csum_fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint32_t)s;
}

/* The last < 16 bytes as zero-padded 32-bit words (an odd byte is a word's low half, as
 * DPDK adds it), loaded in pieces: a copy to the stack and a wide load back would miss
 * store forwarding, ~75% of this function on nginx's responses. */
static inline uint64_t csum_tail(const uint8_t *p, size_t len)
{
    uint64_t w = 0, s = 0;
    uint32_t v32;
    uint16_t v16;
    size_t i = 0;

    if (len & 8) {
        memcpy(&w, p, 8);
        s = (w & 0xffffffffu) + (w >> 32);
        i = 8;
    }
    w = 0;
    if (len & 4) {
        memcpy(&v32, p + i, 4);
        w = v32;
        i += 4;
    }
    if (len & 2) {
        memcpy(&v16, p + i, 2);
        w |= (uint64_t)v16 << (8 * (i & 7));
        i += 2;
    }
    if (len & 1)
        w |= (uint64_t)p[i] << (8 * (i & 7));
    return s + (w & 0xffffffffu) + (w >> 32);
}

uint32_t dnet_csum_generic(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t a = 0, b = 0;

    for (; len >= 16; p += 16, len -= 16) {
        uint64_t w0, w1;

        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        a += (w0 & 0xffffffffu) + (w0 >> 32);
        b += (w1 & 0xffffffffu) + (w1 >> 32);
    }
    b += csum_tail(p, len);
    return csum_fold64(a + b);   /* < 2^36 each: no overflow below 2^34 bytes */
}

/* Two sums of eight 32-bit lanes; each lane gains at most 2 * 0xffff per 64 bytes, so a
 * 1 MiB piece keeps it below 2^31.  Longer buffers go in 1 MiB pieces. */
#define CSUM_AVX2_PIECE (1u << 20)

__attribute__((target("avx2"))) static inline __m256i csum_avx2_widen(__m256i v)
{
    return _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)),
                            _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
}

__attribute__((target("avx2"))) static uint64_t csum_avx2_piece(const uint8_t *p, size_t len)
{
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    uint64_t s;

    for (; len >= 64; p += 64, len -= 64) {
        a = _mm256_add_epi32(a, _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)));
        b = _mm256_add_epi32(b, _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 16))));
        a = _mm256_add_epi32(a, _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 32))));
        b = _mm256_add_epi32(b, _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 48))));
    }
    for (; len >= 16; p += 16, len -= 16)
        a = _mm256_add_epi32(a, _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)));
    /* The lanes in 64 bits, then across. */
    __m256i q = _mm256_add_epi64(csum_avx2_widen(a), csum_avx2_widen(b));
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    s = (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
    return s + csum_tail(p, len);
}

uint32_t dnet_csum_avx2(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t s = 0;

    for (; len > CSUM_AVX2_PIECE; p += CSUM_AVX2_PIECE, len -= CSUM_AVX2_PIECE)
        s += csum_avx2_piece(p, CSUM_AVX2_PIECE);
    return csum_fold64(s + csum_avx2_piece(p, len));
}

static uint32_t csum_first(const void *buf, size_t len);

uint32_t (*dnet_csum_fn)(const void *buf, size_t len) = csum_first;

/* The first call picks the implementation for the CPU we run on (threads racing here
 * store the same pointer). */
static uint32_t csum_first(const void *buf, size_t len)
{
    __builtin_cpu_init();
    __atomic_store_n(&dnet_csum_fn,
                     __builtin_cpu_supports("avx2") ? dnet_csum_avx2 : dnet_csum_generic,
                     __ATOMIC_RELAXED);
    return dnet_csum(buf, len);
}
