// SPDX-License-Identifier: MIT
// Internals of the packet-script driver: tokens, variables, frame build and decode.
#ifndef DNET_TEST_SCRIPT_INT_H
#define DNET_TEST_SCRIPT_INT_H

#include <stdint.h>

#include <rte_ether.h>

#include "dpdk-net/ctx.h"
#include "script.h"

#define SC_MAX_KV 32
#define SC_MAX_VARS 64
#define SC_FRAME_MAX 2048

struct sc_kv {
    char key[24];
    char val[160];
};

/* "<proto> key=val key=val ..." */
struct sc_spec {
    char proto[16];
    struct sc_kv kv[SC_MAX_KV];
    int n;
};

struct sc_vars {
    char name[SC_MAX_VARS][24];
    uint64_t val[SC_MAX_VARS];
    int n;
};

/* Defaults a frame is built with and compared against. */
struct sc_addrs {
    struct rte_ether_addr our_mac, peer_mac;
    uint32_t our_ip, peer_ip;   /* host order */
};

/* One decoded field of a captured frame. */
struct sc_field {
    const char *name;
    uint64_t v;
    char s[200];     /* text form for opts / payload; empty for numbers */
};

struct sc_decoded {
    char proto[8];
    struct sc_field f[40];
    int n;
    int csum_ok;     /* every checksum present in the frame is right */
};

int sc_spec_parse(char *text, struct sc_spec *sp, char *err, unsigned errlen);
const char *sc_spec_get(const struct sc_spec *sp, const char *key);
/* Parse @tok as the value of field @key (IPs, MACs, flags, numbers, @var[+-N]); an unset
 * variable without offset is captured when @capture is not NULL (set to its index). */
int sc_value(const char *key, const char *tok, struct sc_vars *vars, uint64_t *out,
             int *capture, char *err, unsigned errlen);
uint64_t sc_mac_u64(const struct rte_ether_addr *m);
void sc_mac_from_u64(uint64_t v, struct rte_ether_addr *m);
int sc_spec_num(const struct sc_spec *sp, const char *key, uint64_t def, struct sc_vars *vars,
                uint64_t *out, char *err, unsigned errlen);
int sc_opts_build(const char *s, struct sc_vars *vars, uint8_t *o, unsigned *olen, char *err,
                  unsigned errlen);
unsigned sc_payload_build(const struct sc_spec *sp, uint8_t *p);
int sc_frame_build(const struct sc_spec *sp, const struct sc_addrs *ad, struct sc_vars *vars,
                   uint8_t *buf, unsigned *len, char *err, unsigned errlen);
void sc_frame_decode(const uint8_t *buf, unsigned len, struct sc_decoded *d);
/* Compare @d with the expectation @sp; fills @err with the first difference. */
int sc_frame_match(const struct sc_spec *sp, const struct sc_decoded *d, struct sc_vars *vars,
                   char *err, unsigned errlen);
void sc_frame_describe(const struct sc_decoded *d, char *out, unsigned outlen);

uint32_t sc_ip_host(const char *s);

/* One running script. */
#define SC_MAX_H 16
struct script {
    struct script_dev *dev;
    struct dnet_ctx *ctx;
    struct dnet_ctx_conf conf;
    struct sc_addrs ad;
    struct sc_vars vars;
    struct { char name[16]; struct dnet_tcb *t; struct dnet_udp_sock *u; } h[SC_MAX_H];
    int nh;
    char *err;
    unsigned errlen;
};

/* "call VERB ARGS [as NAME] [=> RESULT]" and "state / info / stat" checks (script_call.c). */
int script_call(struct script *sc, char **a, int n);
int script_check(struct script *sc, char **a, int n);

#endif
