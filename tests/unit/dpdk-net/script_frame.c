// SPDX-License-Identifier: MIT
// Packet-script specs: "proto key=val" lines, field values (addresses, flags, numbers,
// @variables), TCP option lists and payloads.
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "script_int.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int sc_spec_parse(char *text, struct sc_spec *sp, char *err, unsigned errlen)
{
    char *save = NULL, *tok = strtok_r(text, " \t", &save);

    memset(sp, 0, sizeof(*sp));
    if (!tok)
        return ERR("missing protocol");
    snprintf(sp->proto, sizeof(sp->proto), "%s", tok);
    while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
        char *eq = strchr(tok, '=');

        if (!eq || sp->n == SC_MAX_KV)
            return ERR("bad field '%s' (want key=value)", tok);
        *eq = 0;
        snprintf(sp->kv[sp->n].key, sizeof(sp->kv[0].key), "%s", tok);
        snprintf(sp->kv[sp->n].val, sizeof(sp->kv[0].val), "%s", eq + 1);
        sp->n++;
    }
    return 0;
}

const char *sc_spec_get(const struct sc_spec *sp, const char *key)
{
    for (int i = 0; i < sp->n; i++)
        if (!strcmp(sp->kv[i].key, key))
            return sp->kv[i].val;
    return NULL;
}

static int is_key(const char *key, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(key, *set))
            return 1;
    return 0;
}

static const char *const g_ip_keys[] = { "sip", "dip", "tip", NULL };
static const char *const g_mac_keys[] = { "smac", "dmac", "sha", "tha", NULL };

static int flags_parse(const char *t, uint64_t *out)
{
    static const char letters[] = "FSRPAU";
    uint64_t f = 0;

    if (!strcmp(t, "none"))
        t = "";
    for (; *t; t++) {
        const char *p = strchr(letters, *t);

        if (!p || *t == '.')
            return -1;
        f |= 1u << (p - letters);
    }
    *out = f;
    return 0;
}

int sc_value(const char *key, const char *tok, struct sc_vars *vars, uint64_t *out,
             int *capture, char *err, unsigned errlen)
{
    char *end;

    if (capture)
        *capture = -1;
    if (tok[0] == '@') {
        char name[24];
        const char *op = strpbrk(tok + 1, "+-");
        size_t nl = op ? (size_t)(op - tok - 1) : strlen(tok + 1);
        long long off = op ? strtoll(op, NULL, 0) : 0;

        snprintf(name, sizeof(name), "%.*s", (int)nl, tok + 1);
        for (int i = 0; i < vars->n; i++) {
            if (!strcmp(vars->name[i], name)) {
                *out = (uint64_t)((long long)vars->val[i] + off);
                if (!strcmp(key, "seq") || !strcmp(key, "ack"))
                    *out &= 0xffffffffu;
                return 0;
            }
        }
        if (op || !capture || vars->n == SC_MAX_VARS)
            return ERR("variable @%s is not set", name);
        snprintf(vars->name[vars->n], sizeof(vars->name[0]), "%s", name);
        *capture = vars->n++;
        return 0;
    }
    if (is_key(key, g_ip_keys)) {
        struct in_addr a;

        if (inet_pton(AF_INET, tok, &a) != 1)
            return ERR("bad address '%s'", tok);
        *out = ntohl(a.s_addr);
        return 0;
    }
    if (is_key(key, g_mac_keys)) {
        struct rte_ether_addr m;

        if (rte_ether_unformat_addr(tok, &m) < 0)
            return ERR("bad MAC '%s'", tok);
        *out = 0;
        for (int i = 0; i < 6; i++)
            *out = *out << 8 | m.addr_bytes[i];
        return 0;
    }
    if (!strcmp(key, "flags"))
        return flags_parse(tok, out) < 0 ? ERR("bad flags '%s' (letters FSRPAU)", tok) : 0;
    if (!strcmp(key, "op") && !strcmp(tok, "request"))
        return *out = 1, 0;
    if (!strcmp(key, "op") && !strcmp(tok, "reply"))
        return *out = 2, 0;
    *out = strtoull(tok, &end, 0);
    if (*end)
        return ERR("bad number '%s' for %s", tok, key);
    return 0;
}

uint64_t sc_mac_u64(const struct rte_ether_addr *m)
{
    uint64_t v = 0;

    for (int i = 0; i < 6; i++)
        v = v << 8 | m->addr_bytes[i];
    return v;
}

void sc_mac_from_u64(uint64_t v, struct rte_ether_addr *m)
{
    for (int i = 5; i >= 0; i--, v >>= 8)
        m->addr_bytes[i] = (uint8_t)v;
}

/* Value of @key in @sp, or @def when absent. */
int sc_spec_num(const struct sc_spec *sp, const char *key, uint64_t def, struct sc_vars *vars,
                    uint64_t *out, char *err, unsigned errlen)
{
    const char *t = sc_spec_get(sp, key);

    *out = def;
    return t ? sc_value(key, t, vars, out, NULL, err, errlen) : 0;
}

/* "mss:1460,ws:7,sackok,ts:V:E,sack:S-E:S-E,nop,eol" -> option bytes. */
int sc_opts_build(const char *s, struct sc_vars *vars, uint8_t *o, unsigned *olen, char *err,
                      unsigned errlen)
{
    char buf[160], *save = NULL, *it;
    unsigned n = 0;

    snprintf(buf, sizeof(buf), "%s", s);
    for (it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *a = strchr(it, ':');
        uint64_t v1 = 0, v2 = 0;

        if (a)
            *a++ = 0;
        if (!strcmp(it, "nop")) {
            o[n++] = 1;
        } else if (!strcmp(it, "eol")) {
            o[n++] = 0;
        } else if (!strcmp(it, "mss") && a) {
            v1 = strtoul(a, NULL, 0);
            o[n++] = 2; o[n++] = 4; o[n++] = (uint8_t)(v1 >> 8); o[n++] = (uint8_t)v1;
        } else if (!strcmp(it, "ws") && a) {
            o[n++] = 3; o[n++] = 3; o[n++] = (uint8_t)strtoul(a, NULL, 0);
        } else if (!strcmp(it, "sackok")) {
            o[n++] = 4; o[n++] = 2;
        } else if (!strcmp(it, "ts") && a && strchr(a, ':')) {
            char *b = strchr(a, ':');

            *b++ = 0;
            if (sc_value("ts", a, vars, &v1, NULL, err, errlen) < 0 ||
                sc_value("ts", b, vars, &v2, NULL, err, errlen) < 0)
                return -1;
            o[n++] = 8; o[n++] = 10;
            for (int i = 3; i >= 0; i--) o[n++] = (uint8_t)(v1 >> (8 * i));
            for (int i = 3; i >= 0; i--) o[n++] = (uint8_t)(v2 >> (8 * i));
        } else if (!strcmp(it, "sack") && a) {
            unsigned start = n, k = 0;
            char *save2 = NULL, *blk;

            n += 2;
            for (blk = strtok_r(a, ":", &save2); blk && k < 4; blk = strtok_r(NULL, ":", &save2), k++) {
                char *dash = strchr(blk, '-');

                if (!dash)
                    return ERR("bad sack block '%s' (want S-E)", blk);
                *dash = 0;
                if (sc_value("seq", blk, vars, &v1, NULL, err, errlen) < 0 ||
                    sc_value("seq", dash + 1, vars, &v2, NULL, err, errlen) < 0)
                    return -1;
                for (int i = 3; i >= 0; i--) o[n++] = (uint8_t)(v1 >> (8 * i));
                for (int i = 3; i >= 0; i--) o[n++] = (uint8_t)(v2 >> (8 * i));
            }
            o[start] = 5;
            o[start + 1] = (uint8_t)(n - start);
        } else {
            return ERR("bad option '%s'", it);
        }
        if (n > 40)
            return ERR("options longer than 40 bytes");
    }
    *olen = n;
    return 0;
}

unsigned sc_payload_build(const struct sc_spec *sp, uint8_t *p)
{
    const char *t = sc_spec_get(sp, "payload"), *d = sc_spec_get(sp, "data");
    unsigned n = 0;

    if (t) {
        n = (unsigned)strlen(t);
        memcpy(p, t, n);
    } else if (d) {
        n = (unsigned)strtoul(d, NULL, 0);
        for (unsigned i = 0; i < n; i++)
            p[i] = (uint8_t)('a' + i % 26);
    }
    return n;
}

uint32_t sc_ip_host(const char *s)
{
    struct in_addr a = { 0 };

    inet_pton(AF_INET, s, &a);
    return ntohl(a.s_addr);
}
