// SPDX-License-Identifier: MIT
// Packet-script frames: decodes a captured frame into named fields (checking its
// checksums) and matches it against an "expect" spec, capturing @variables.
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

static void add(struct sc_decoded *d, const char *name, uint64_t v)
{
    d->f[d->n].name = name;
    d->f[d->n].v = v;
    d->f[d->n].s[0] = 0;
    d->n++;
}

static void adds(struct sc_decoded *d, const char *name, const char *s)
{
    add(d, name, 0);
    snprintf(d->f[d->n - 1].s, sizeof(d->f[0].s), "%s", s);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void opts_text(const uint8_t *o, unsigned n, char *out, unsigned outlen)
{
    unsigned i = 0, w = 0;

    out[0] = 0;
    while (i < n && w < outlen) {
        const char *sep = w ? "," : "";

        if (o[i] == 0) {
            w += (unsigned)snprintf(out + w, outlen - w, "%seol", sep);
            break;
        }
        if (o[i] == 1) {
            w += (unsigned)snprintf(out + w, outlen - w, "%snop", sep);
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n) {
            w += (unsigned)snprintf(out + w, outlen - w, "%sbad", sep);
            break;
        }
        if (o[i] == 2)
            w += (unsigned)snprintf(out + w, outlen - w, "%smss:%u", sep, o[i + 2] << 8 | o[i + 3]);
        else if (o[i] == 3)
            w += (unsigned)snprintf(out + w, outlen - w, "%sws:%u", sep, o[i + 2]);
        else if (o[i] == 4)
            w += (unsigned)snprintf(out + w, outlen - w, "%ssackok", sep);
        else if (o[i] == 8)
            w += (unsigned)snprintf(out + w, outlen - w, "%sts:%u:%u", sep, rd32(o + i + 2), rd32(o + i + 6));
        else if (o[i] == 5) {
            w += (unsigned)snprintf(out + w, outlen - w, "%ssack", sep);
            for (unsigned k = 2; k + 8 <= o[i + 1] && w < outlen; k += 8)
                w += (unsigned)snprintf(out + w, outlen - w, ":%u-%u", rd32(o + i + k), rd32(o + i + k + 4));
        } else
            w += (unsigned)snprintf(out + w, outlen - w, "%sk%u", sep, o[i]);
        i += o[i + 1];
    }
}

static void decode_l4(const struct rte_ipv4_hdr *ih, const uint8_t *l4, unsigned l4len,
                      struct sc_decoded *d)
{
    char txt[200];

    if (ih->next_proto_id == IPPROTO_TCP && l4len >= 20) {
        const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)l4;
        unsigned doff = (th->data_off >> 4) * 4u;

        snprintf(d->proto, sizeof(d->proto), "tcp");
        add(d, "sport", rte_be_to_cpu_16(th->src_port));
        add(d, "dport", rte_be_to_cpu_16(th->dst_port));
        add(d, "seq", rte_be_to_cpu_32(th->sent_seq));
        add(d, "ack", rte_be_to_cpu_32(th->recv_ack));
        add(d, "flags", th->tcp_flags);
        add(d, "win", rte_be_to_cpu_16(th->rx_win));
        add(d, "off", doff / 4);
        opts_text((const uint8_t *)(th + 1), doff > 20 && doff <= l4len ? doff - 20 : 0, txt, sizeof(txt));
        adds(d, "opts", txt);
        add(d, "len", l4len - doff);
        snprintf(txt, sizeof(txt), "%.*s", (int)RTE_MIN(l4len - doff, 199u), l4 + doff);
        adds(d, "payload", txt);
        d->csum_ok &= rte_ipv4_udptcp_cksum_verify(ih, l4) == 0;
    } else if (ih->next_proto_id == IPPROTO_UDP && l4len >= 8) {
        const struct rte_udp_hdr *uh = (const struct rte_udp_hdr *)l4;

        snprintf(d->proto, sizeof(d->proto), "udp");
        add(d, "sport", rte_be_to_cpu_16(uh->src_port));
        add(d, "dport", rte_be_to_cpu_16(uh->dst_port));
        add(d, "ulen", rte_be_to_cpu_16(uh->dgram_len));
        add(d, "len", l4len - 8);
        snprintf(txt, sizeof(txt), "%.*s", (int)RTE_MIN(l4len - 8, 199u), l4 + 8);
        adds(d, "payload", txt);
        if (uh->dgram_cksum)
            d->csum_ok &= rte_ipv4_udptcp_cksum_verify(ih, l4) == 0;
    } else if (ih->next_proto_id == IPPROTO_ICMP && l4len >= 8) {
        const struct rte_icmp_hdr *ic = (const struct rte_icmp_hdr *)l4;

        snprintf(d->proto, sizeof(d->proto), "icmp");
        add(d, "type", ic->icmp_type);
        add(d, "code", ic->icmp_code);
        add(d, "id", rte_be_to_cpu_16(ic->icmp_ident));
        add(d, "seq", rte_be_to_cpu_16(ic->icmp_seq_nb));
        add(d, "len", l4len - 8);
        snprintf(txt, sizeof(txt), "%.*s", (int)RTE_MIN(l4len - 8, 199u), l4 + 8);
        adds(d, "payload", txt);
        d->csum_ok &= rte_raw_cksum(l4, l4len) == 0xffff;
    }
}

void sc_frame_decode(const uint8_t *buf, unsigned len, struct sc_decoded *d)
{
    const struct rte_ether_hdr *eh = (const struct rte_ether_hdr *)buf;
    uint16_t type;

    memset(d, 0, sizeof(*d));
    d->csum_ok = 1;
    snprintf(d->proto, sizeof(d->proto), "short");
    if (len < 14)
        return;
    type = rte_be_to_cpu_16(eh->ether_type);
    add(d, "dmac", sc_mac_u64(&eh->dst_addr));
    add(d, "smac", sc_mac_u64(&eh->src_addr));
    add(d, "ethertype", type);
    add(d, "framelen", len);
    snprintf(d->proto, sizeof(d->proto), "eth");
    if (type == RTE_ETHER_TYPE_ARP && len >= 14 + sizeof(struct rte_arp_hdr)) {
        const struct rte_arp_hdr *ah = (const struct rte_arp_hdr *)(buf + 14);

        snprintf(d->proto, sizeof(d->proto), "arp");
        add(d, "op", rte_be_to_cpu_16(ah->arp_opcode));
        add(d, "sha", sc_mac_u64(&ah->arp_data.arp_sha));
        add(d, "sip", rte_be_to_cpu_32(ah->arp_data.arp_sip));
        add(d, "tha", sc_mac_u64(&ah->arp_data.arp_tha));
        add(d, "tip", rte_be_to_cpu_32(ah->arp_data.arp_tip));
    } else if (type == RTE_ETHER_TYPE_IPV4 && len >= 34) {
        const struct rte_ipv4_hdr *ih = (const struct rte_ipv4_hdr *)(buf + 14);
        unsigned hl = (ih->version_ihl & 0xf) * 4u, tot = rte_be_to_cpu_16(ih->total_length);

        snprintf(d->proto, sizeof(d->proto), "ip");
        add(d, "ihl", ih->version_ihl & 0xf);
        add(d, "iplen", tot);
        add(d, "ipid", rte_be_to_cpu_16(ih->packet_id));
        add(d, "df", !!(ih->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)));
        add(d, "ttl", ih->time_to_live);
        add(d, "proto", ih->next_proto_id);
        add(d, "sip", rte_be_to_cpu_32(ih->src_addr));
        add(d, "dip", rte_be_to_cpu_32(ih->dst_addr));
        d->csum_ok &= rte_raw_cksum(ih, hl) == 0xffff;
        if (hl >= 20 && tot >= hl && tot <= len - 14)
            decode_l4(ih, buf + 14 + hl, tot - hl, d);
        else
            d->csum_ok = 0;
    }
}

static const struct sc_field *field(const struct sc_decoded *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (!strcmp(d->f[i].name, name))
            return &d->f[i];
    return NULL;
}

/* Option lists compare item by item; within an item, '*' matches any number. */
static int opts_match(const char *want, const char *got, struct sc_vars *vars, char *err, unsigned errlen)
{
    char w[200], g[200], *sw = NULL, *sg = NULL, *iw, *ig;

    snprintf(w, sizeof(w), "%s", want);
    snprintf(g, sizeof(g), "%s", got);
    for (iw = strtok_r(w, ",", &sw), ig = strtok_r(g, ",", &sg); iw || ig;
         iw = strtok_r(NULL, ",", &sw), ig = strtok_r(NULL, ",", &sg)) {
        char *pw, *pg, *cw, *cg;

        if (!iw || !ig)
            return ERR("opts: want '%s', got '%s'", want, got);
        for (cw = strtok_r(iw, ":-", &pw), cg = strtok_r(ig, ":-", &pg); cw || cg;
             cw = strtok_r(NULL, ":-", &pw), cg = strtok_r(NULL, ":-", &pg)) {
            uint64_t v;
            int cap;

            if (!cw || !cg)
                return ERR("opts: want '%s', got '%s'", want, got);
            if (!strcmp(cw, "*") || !strcmp(cw, cg))
                continue;
            if (cw[0] != '@' || sc_value("seq", cw, vars, &v, &cap, err, errlen) < 0)
                return cw[0] == '@' ? -1 : ERR("opts: want '%s', got '%s'", want, got);
            if (cap >= 0)
                vars->val[cap] = strtoull(cg, NULL, 0);
            else if (v != strtoull(cg, NULL, 0))
                return ERR("opts: want '%s' (%s=%llu), got '%s'", want, cw, (unsigned long long)v, got);
        }
    }
    return 0;
}

int sc_frame_match(const struct sc_spec *sp, const struct sc_decoded *d, struct sc_vars *vars,
                   char *err, unsigned errlen)
{
    const char *cs = sc_spec_get(sp, "csum");

    if (strcmp(sp->proto, d->proto))
        return ERR("want a %s frame, got %s", sp->proto, d->proto);
    if (!d->csum_ok && !(cs && (!strcmp(cs, "any") || !strcmp(cs, "bad"))))
        return ERR("frame has a bad checksum");
    if (d->csum_ok && cs && !strcmp(cs, "bad"))
        return ERR("frame's checksums are right, want a bad one");
    for (int i = 0; i < sp->n; i++) {
        const char *k = sp->kv[i].key, *want = sp->kv[i].val;
        const struct sc_field *f;
        uint64_t v;
        int cap;

        if (!strcmp(k, "csum"))
            continue;
        f = field(d, k);
        if (!f)
            return ERR("frame has no field '%s'", k);
        if (!strcmp(k, "opts")) {
            if (opts_match(want, f->s, vars, err, errlen) < 0)
                return -1;
            continue;
        }
        if (!strcmp(k, "payload")) {
            if (strcmp(want, f->s))
                return ERR("payload: want '%s', got '%s'", want, f->s);
            continue;
        }
        if (sc_value(k, want, vars, &v, &cap, err, errlen) < 0)
            return -1;
        if (cap >= 0)
            vars->val[cap] = f->v;
        else if (v != f->v)
            return ERR("%s: want %s (%llu), got %llu", k, want, (unsigned long long)v,
                       (unsigned long long)f->v);
    }
    return 0;
}

void sc_frame_describe(const struct sc_decoded *d, char *out, unsigned outlen)
{
    unsigned w = (unsigned)snprintf(out, outlen, "%s", d->proto);

    for (int i = 0; i < d->n && w < outlen; i++) {
        const char *nm = d->f[i].name;
        uint64_t v = d->f[i].v;

        if (!strcmp(nm, "payload"))
            w += (unsigned)snprintf(out + w, outlen - w, " %s=%.24s%s", nm, d->f[i].s,
                                    strlen(d->f[i].s) > 24 ? "..." : "");
        else if (d->f[i].s[0] || !strcmp(nm, "opts"))
            w += (unsigned)snprintf(out + w, outlen - w, " %s=%s", nm, d->f[i].s);
        else if (!strcmp(nm, "sip") || !strcmp(nm, "dip") || !strcmp(nm, "tip"))
            w += (unsigned)snprintf(out + w, outlen - w, " %s=%u.%u.%u.%u", nm, (unsigned)(v >> 24),
                                    (unsigned)(v >> 16) & 255, (unsigned)(v >> 8) & 255, (unsigned)v & 255);
        else if (!strcmp(nm, "smac") || !strcmp(nm, "dmac") || !strcmp(nm, "sha") || !strcmp(nm, "tha"))
            w += (unsigned)snprintf(out + w, outlen - w, " %s=%012llx", nm, (unsigned long long)v);
        else if (!strcmp(nm, "flags")) {
            w += (unsigned)snprintf(out + w, outlen - w, " flags=");
            for (int b = 0; b < 6 && w < outlen; b++)
                if (v & (1u << b))
                    w += (unsigned)snprintf(out + w, outlen - w, "%c", "FSRPAU"[b]);
        } else
            w += (unsigned)snprintf(out + w, outlen - w, " %s=%llu", d->f[i].name,
                                    (unsigned long long)d->f[i].v);
    }
}
