// SPDX-License-Identifier: MIT
// Packet-script frames: builds frames to inject (with deliberate faults on request:
// csum=bad ipcsum=bad ihl= iplen= trunc=), decodes captured frames into named fields and
// matches them against expectations.
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
#define NUM(key, def, out) \
    do { if (sc_spec_num(sp, key, def, vars, out, err, errlen) < 0) return -1; } while (0)

static unsigned build_l4(const struct sc_spec *sp, struct sc_vars *vars, uint8_t *l4, uint8_t *proto,
                         char *err, unsigned errlen)
{
    uint64_t a, b, c, d, e;
    uint8_t opts[44];
    unsigned olen = 0, plen;

    if (!strcmp(sp->proto, "tcp")) {
        struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)l4;
        const char *o = sc_spec_get(sp, "opts");

        *proto = IPPROTO_TCP;
        if (o && sc_opts_build(o, vars, opts, &olen, err, errlen) < 0)
            return 0;
        while (olen % 4)
            opts[olen++] = 0;
        NUM("sport", 40000, &a); NUM("dport", 80, &b); NUM("seq", 0, &c); NUM("ack", 0, &d);
        th->src_port = rte_cpu_to_be_16((uint16_t)a);
        th->dst_port = rte_cpu_to_be_16((uint16_t)b);
        th->sent_seq = rte_cpu_to_be_32((uint32_t)c);
        th->recv_ack = rte_cpu_to_be_32((uint32_t)d);
        NUM("flags", 0, &a); NUM("win", 65535, &b); NUM("off", (20 + olen) / 4, &c);
        th->tcp_flags = (uint8_t)a;
        th->rx_win = rte_cpu_to_be_16((uint16_t)b);
        th->data_off = (uint8_t)(c << 4);
        memcpy(th + 1, opts, olen);
        plen = sc_payload_build(sp, l4 + 20 + olen);
        return 20 + olen + plen;
    }
    if (!strcmp(sp->proto, "udp")) {
        struct rte_udp_hdr *uh = (struct rte_udp_hdr *)l4;

        *proto = IPPROTO_UDP;
        NUM("sport", 40000, &a); NUM("dport", 7, &b);
        plen = sc_payload_build(sp, l4 + 8);
        NUM("ulen", 8 + plen, &c);
        uh->src_port = rte_cpu_to_be_16((uint16_t)a);
        uh->dst_port = rte_cpu_to_be_16((uint16_t)b);
        uh->dgram_len = rte_cpu_to_be_16((uint16_t)c);
        return 8 + plen;
    }
    if (!strcmp(sp->proto, "icmp")) {
        struct rte_icmp_hdr *ih = (struct rte_icmp_hdr *)l4;

        *proto = IPPROTO_ICMP;
        NUM("type", 8, &a); NUM("code", 0, &b); NUM("id", 1, &c); NUM("seq", 1, &d);
        ih->icmp_type = (uint8_t)a;
        ih->icmp_code = (uint8_t)b;
        ih->icmp_ident = rte_cpu_to_be_16((uint16_t)c);
        ih->icmp_seq_nb = rte_cpu_to_be_16((uint16_t)d);
        return 8 + sc_payload_build(sp, l4 + 8);
    }
    NUM("proto", 253, &e);
    *proto = (uint8_t)e;
    return sc_payload_build(sp, l4);
}

static int build_arp(const struct sc_spec *sp, const struct sc_addrs *ad, struct sc_vars *vars,
                     uint8_t *p, uint64_t smac, char *err, unsigned errlen)
{
    struct rte_arp_hdr *ah = (struct rte_arp_hdr *)p;
    uint64_t op, sha, sip, tha, tip;

    NUM("op", 1, &op); NUM("sha", smac, &sha); NUM("sip", ad->peer_ip, &sip);
    NUM("tha", 0, &tha); NUM("tip", ad->our_ip, &tip);
    ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    ah->arp_hlen = 6;
    ah->arp_plen = 4;
    ah->arp_opcode = rte_cpu_to_be_16((uint16_t)op);
    sc_mac_from_u64(sha, &ah->arp_data.arp_sha);
    sc_mac_from_u64(tha, &ah->arp_data.arp_tha);
    ah->arp_data.arp_sip = rte_cpu_to_be_32((uint32_t)sip);
    ah->arp_data.arp_tip = rte_cpu_to_be_32((uint32_t)tip);
    return 0;
}

int sc_frame_build(const struct sc_spec *sp, const struct sc_addrs *ad, struct sc_vars *vars,
                   uint8_t *buf, unsigned *len, char *err, unsigned errlen)
{
    struct rte_ether_hdr *eh = (struct rte_ether_hdr *)buf;
    struct rte_ipv4_hdr *ih = (struct rte_ipv4_hdr *)(buf + 14);
    uint8_t *l4 = buf + 34;
    uint64_t dmac, smac, v, frag, mf, tr;
    unsigned l4len;
    uint8_t proto = 0;
    const char *t;

    memset(buf, 0, SC_FRAME_MAX);
    NUM("dmac", sc_mac_u64(&ad->our_mac), &dmac);
    NUM("smac", sc_mac_u64(&ad->peer_mac), &smac);
    sc_mac_from_u64(dmac, &eh->dst_addr);
    sc_mac_from_u64(smac, &eh->src_addr);
    if (!strcmp(sp->proto, "arp")) {
        NUM("ethertype", RTE_ETHER_TYPE_ARP, &v);
        eh->ether_type = rte_cpu_to_be_16((uint16_t)v);
        if (build_arp(sp, ad, vars, buf + 14, smac, err, errlen) < 0)
            return -1;
        *len = 14 + sizeof(struct rte_arp_hdr);
        goto trunc;
    }
    NUM("ethertype", RTE_ETHER_TYPE_IPV4, &v);
    eh->ether_type = rte_cpu_to_be_16((uint16_t)v);
    err[0] = 0;
    l4len = build_l4(sp, vars, l4, &proto, err, errlen);
    if (err[0])
        return -1;
    NUM("frag", 0, &frag); NUM("mf", 0, &mf);
    ih->version_ihl = 0x45;
    ih->total_length = rte_cpu_to_be_16((uint16_t)(20 + l4len));
    NUM("ipid", 0, &v);
    ih->packet_id = rte_cpu_to_be_16((uint16_t)v);
    ih->fragment_offset = rte_cpu_to_be_16((uint16_t)((frag || mf ? 0 : RTE_IPV4_HDR_DF_FLAG) |
                                                      (mf ? RTE_IPV4_HDR_MF_FLAG : 0) | frag / 8));
    NUM("ttl", 64, &v);
    ih->time_to_live = (uint8_t)v;
    ih->next_proto_id = proto;
    NUM("sip", ad->peer_ip, &v);
    ih->src_addr = rte_cpu_to_be_32((uint32_t)v);
    NUM("dip", ad->our_ip, &v);
    ih->dst_addr = rte_cpu_to_be_32((uint32_t)v);
    if (!strcmp(sp->proto, "raw"))
        ; /* raw payload: no L4 checksum filled in */
    else if (proto == IPPROTO_TCP)
        ((struct rte_tcp_hdr *)l4)->cksum = rte_ipv4_udptcp_cksum(ih, l4);
    else if (proto == IPPROTO_UDP)
        ((struct rte_udp_hdr *)l4)->dgram_cksum = rte_ipv4_udptcp_cksum(ih, l4);
    else if (proto == IPPROTO_ICMP)
        ((struct rte_icmp_hdr *)l4)->icmp_cksum = (uint16_t)~rte_raw_cksum(l4, l4len);
    if ((t = sc_spec_get(sp, "csum")) && !strcmp(t, "bad"))
        l4[proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2] ^= 0x5a;
    if ((t = sc_spec_get(sp, "csum")) && !strcmp(t, "0") && proto == IPPROTO_UDP)
        ((struct rte_udp_hdr *)l4)->dgram_cksum = 0;
    NUM("ihl", 5, &v);
    ih->version_ihl = (uint8_t)(0x40 | (v & 0xf));
    NUM("ver", 4, &v);
    ih->version_ihl = (uint8_t)((v << 4) | (ih->version_ihl & 0xf));
    NUM("iplen", 20 + l4len, &v);
    ih->total_length = rte_cpu_to_be_16((uint16_t)v);
    ih->hdr_checksum = 0;
    ih->hdr_checksum = (uint16_t)~rte_raw_cksum(ih, 20);
    if ((t = sc_spec_get(sp, "ipcsum")) && !strcmp(t, "bad"))
        ih->hdr_checksum ^= 0x5a;
    *len = 34 + l4len;
trunc:
    NUM("trunc", *len, &tr);
    if (tr < *len)
        *len = (unsigned)tr;
    if (*len < 60 && !sc_spec_get(sp, "trunc"))
        *len = 60;   /* Ethernet minimum: padding the stack must cut off */
    return 0;
}
