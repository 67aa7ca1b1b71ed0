// SPDX-License-Identifier: MIT
// SHA-256 (FIPS 180-4) for dnet-peer: digests of what a transfer sent or received, compared
// with sha256sum on the kernel side.  Small and dependency-free rather than fast.
#ifndef BYPASS_TESTS_NET_SHA256_H
#define BYPASS_TESTS_NET_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    unsigned nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/** Finish and write the digest as 64 lower-case hex digits plus NUL to @p hex. */
void sha256_final_hex(struct sha256 *s, char hex[65]);

#endif
