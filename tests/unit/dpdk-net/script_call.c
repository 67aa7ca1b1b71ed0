// SPDX-License-Identifier: MIT
// Packet-script API calls ("call VERB ARGS [as NAME] [=> RESULT]") on the context's socket
// API, and checks of connection state, connection info and counters.
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dpdk-net/socket.h"
#include "script_int.h"

#define ERR(...) (snprintf(sc->err, sc->errlen, __VA_ARGS__), -1)

static const struct { const char *name; size_t off; } g_stats[] = {
#define S(f) { #f, offsetof(struct dnet_stats, f) }
    S(rx_pkts), S(tx_pkts), S(tx_drop), S(fault_rx_drop), S(fault_rx_dup), S(fault_rx_corrupt),
    S(fault_rx_reorder), S(fault_tx_drop), S(fault_tx_dup), S(fault_tx_corrupt),
    S(fault_tx_reorder), S(eth_drop), S(arp_rx), S(arp_tx), S(arp_bad),
    S(arp_unresolved_drop), S(ip_rx), S(ip_bad_hdr), S(ip_bad_csum), S(ip_not_for_us),
    S(ip_frag_rx), S(ip_frag_drop), S(ip_reassembled), S(ip_unknown_proto), S(icmp_rx),
    S(icmp_echo_replies), S(icmp_bad), S(udp_rx), S(udp_bad), S(udp_no_port), S(udp_queue_drop),
    S(udp_tx), S(tcp_rx), S(tcp_bad), S(tcp_tx), S(tcp_rst_tx), S(tcp_retrans),
    S(tcp_fast_retrans), S(tcp_rto), S(tcp_ooo), S(tcp_drop), S(tcp_backlog_drop),
    S(tcp_challenge_ack), S(tcp_nomem_drop), S(tcp_tw_overflow), S(tcp_orphan_overflow),
    S(tcp_abort_on_data), S(tcp_orphan_timeout), S(tcp_oow_ack_limited),
#undef S
};

static const struct { const char *name; int v; } g_errnos[] = {
    { "EAGAIN", EAGAIN }, { "ECONNRESET", ECONNRESET }, { "ECONNREFUSED", ECONNREFUSED },
    { "ETIMEDOUT", ETIMEDOUT }, { "EPIPE", EPIPE }, { "ENOTCONN", ENOTCONN },
    { "EADDRINUSE", EADDRINUSE }, { "EINVAL", EINVAL }, { "EMSGSIZE", EMSGSIZE },
};

static long parse_result(const char *t)
{
    int neg = t[0] == '-';

    for (unsigned i = 0; i < RTE_DIM(g_errnos); i++)
        if (!strcmp(t + neg, g_errnos[i].name))
            return neg ? -g_errnos[i].v : g_errnos[i].v;
    return strtol(t, NULL, 0);
}

static int handle_find(struct script *sc, const char *name)
{
    for (int i = 0; name && i < sc->nh; i++)
        if (!strcmp(sc->h[i].name, name) && (sc->h[i].t || sc->h[i].u))
            return i;
    return ERR("no handle '%s'", name ? name : "?");
}

static int handle_new(struct script *sc, const char *name)
{
    if (!name || sc->nh == SC_MAX_H)
        return ERR("missing 'as NAME' or too many handles");
    snprintf(sc->h[sc->nh].name, sizeof(sc->h[0].name), "%s", name);
    sc->h[sc->nh].t = NULL;
    sc->h[sc->nh].u = NULL;
    return sc->nh++;
}

#define NEED(k) do { if (n < (k)) return ERR("%s: too few arguments", v); } while (0)
#define H(i) do { if ((h = handle_find(sc, a[i])) < 0) return -1; } while (0)

int script_call(struct script *sc, char **a, int n)
{
    const char *as = NULL, *v = a[0];
    long rc, want = 0;
    int has_want = 0, h = -1, k = 0, i;
    char buf[65536];
    struct dnet_tcb *t = NULL;
    struct dnet_udp_sock *u = NULL;

    /* Strip "as NAME" and "=> RESULT". */
    for (i = 0; i < n; i++) {
        if (!strcmp(a[i], "as") && i + 1 < n)
            as = a[++i];
        else if (!strcmp(a[i], "=>") && i + 1 < n)
            want = parse_result(a[++i]), has_want = 1;
        else
            a[k++] = a[i];
    }
    n = k;
    if (!strcmp(v, "listen")) {
        NEED(3);
        rc = dnet_tcp_listen(sc->ctx, htons((uint16_t)atoi(a[1])), atoi(a[2]), &t);
    } else if (!strcmp(v, "accept")) {
        NEED(2); H(1);
        rc = dnet_tcp_accept(sc->ctx, sc->h[h].t, &t);
    } else if (!strcmp(v, "connect")) {
        NEED(4);
        rc = dnet_tcp_connect(sc->ctx, htonl(sc_ip_host(a[1])), htons((uint16_t)atoi(a[2])),
                              htons((uint16_t)atoi(a[3])), &t);
    } else if (!strcmp(v, "send")) {
        NEED(3); H(1);
        k = atoi(a[2]);
        for (i = 0; i < k && i < (int)sizeof(buf); i++)
            buf[i] = (char)('a' + i % 26);
        rc = dnet_tcp_send(sc->ctx, sc->h[h].t, buf, (size_t)k);
        if (!has_want)
            want = k, has_want = 1;
    } else if (!strcmp(v, "sendtext")) {
        NEED(3); H(1);
        rc = dnet_tcp_send(sc->ctx, sc->h[h].t, a[2], strlen(a[2]));
    } else if (!strcmp(v, "recv")) {
        NEED(3); H(1);
        rc = dnet_tcp_recv(sc->ctx, sc->h[h].t, buf, RTE_MIN((size_t)atoi(a[2]), sizeof(buf)));
        if (!has_want)
            want = atoi(a[2]), has_want = 1;
    } else if (!strcmp(v, "recvtext")) {
        NEED(3); H(1);
        rc = dnet_tcp_recv(sc->ctx, sc->h[h].t, buf, strlen(a[2]));
        if (rc == (long)strlen(a[2]) && memcmp(buf, a[2], (size_t)rc))
            return ERR("recvtext: got '%.*s'", (int)rc, buf);
        if (!has_want)
            want = (long)strlen(a[2]), has_want = 1;
    } else if (!strcmp(v, "shutdown")) {
        NEED(3); H(1);
        rc = dnet_tcp_shutdown(sc->ctx, sc->h[h].t,
                               !strcmp(a[2], "rd") ? SHUT_RD : !strcmp(a[2], "wr") ? SHUT_WR : SHUT_RDWR);
    } else if (!strcmp(v, "close") || !strcmp(v, "abort")) {
        NEED(2); H(1);
        rc = v[0] == 'c' ? dnet_tcp_close(sc->ctx, sc->h[h].t) : dnet_tcp_abort(sc->ctx, sc->h[h].t);
        sc->h[h].t = NULL;  /* the handle is the stack's now */
    } else if (!strcmp(v, "nodelay")) {
        NEED(2); H(1);
        rc = dnet_tcp_set_nodelay(sc->h[h].t, 1);
    } else if (!strcmp(v, "cork")) {
        NEED(3); H(1);
        rc = dnet_tcp_set_cork(sc->ctx, sc->h[h].t, atoi(a[2]));
    } else if (!strcmp(v, "push")) {
        NEED(2); H(1);
        dnet_tcp_push(sc->ctx, sc->h[h].t);
        rc = 0;
    } else if (!strcmp(v, "keepalive")) {
        NEED(5); H(1);
        rc = dnet_tcp_set_keepalive(sc->ctx, sc->h[h].t, (uint32_t)atoi(a[2]), (uint32_t)atoi(a[3]),
                                    (uint32_t)atoi(a[4]));
    } else if (!strcmp(v, "udp_bind")) {
        NEED(2);
        rc = dnet_udp_bind(sc->ctx, htons((uint16_t)atoi(a[1])), n > 2 ? (uint32_t)atoi(a[2]) : 0, &u);
    } else if (!strcmp(v, "udp_send")) {
        NEED(5); H(1);
        rc = dnet_udp_sendto(sc->ctx, sc->h[h].u, a[2], strlen(a[2]), htonl(sc_ip_host(a[3])),
                             htons((uint16_t)atoi(a[4])));
    } else if (!strcmp(v, "udp_recv")) {
        rte_be32_t sip;
        rte_be16_t sport;

        NEED(3); H(1);
        rc = dnet_udp_recvfrom(sc->ctx, sc->h[h].u, buf, sizeof(buf), &sip, &sport);
        if (rc >= 0 && (rc != (long)strlen(a[2]) || memcmp(buf, a[2], (size_t)rc)))
            return ERR("udp_recv: got '%.*s'", (int)RTE_MIN(rc, 100L), buf);
        if (rc >= 0 && n > 4 && (ntohl(sip) != sc_ip_host(a[3]) || ntohs(sport) != atoi(a[4])))
            return ERR("udp_recv: source differs");
    } else if (!strcmp(v, "arp_add")) {
        struct rte_ether_addr mac;

        NEED(3);
        if (rte_ether_unformat_addr(a[2], &mac) < 0)
            return ERR("bad MAC");
        rc = dnet_arp_add(sc->ctx, htonl(sc_ip_host(a[1])), &mac);
    } else if (!strcmp(v, "arp_announce")) {
        rc = dnet_arp_announce(sc->ctx);
    } else {
        return ERR("unknown call '%s'", v);
    }
    if (has_want ? rc != want : rc < 0)
        return ERR("%s returned %ld, want %s%ld", v, rc, has_want ? "" : ">= ", want);
    if (rc >= 0 && (t || u) && (strcmp(v, "accept") || rc == 0)) {
        if ((h = handle_new(sc, as)) < 0)
            return -1;
        sc->h[h].t = t;
        sc->h[h].u = u;
    }
    return 0;
}

static int check_stat(struct script *sc, char **a, int n)
{
    const struct dnet_stats *st = dnet_ctx_stats(sc->ctx);

    for (int i = 1; i < n; i++) {
        char *eq = strchr(a[i], '=');
        unsigned j;

        if (!eq)
            return ERR("stat: want name=value");
        *eq = 0;
        for (j = 0; j < RTE_DIM(g_stats) && strcmp(g_stats[j].name, a[i]); j++)
            ;
        if (j == RTE_DIM(g_stats))
            return ERR("stat: unknown counter '%s'", a[i]);
        if (*(const uint64_t *)((const char *)st + g_stats[j].off) != strtoull(eq + 1, NULL, 0))
            return ERR("stat %s: want %s, got %llu", a[i], eq + 1,
                       (unsigned long long)*(const uint64_t *)((const char *)st + g_stats[j].off));
    }
    return 0;
}

int script_check(struct script *sc, char **a, int n)
{
    struct dnet_tcp_info info;
    int h;

    if (!strcmp(a[0], "stat"))
        return check_stat(sc, a, n);
    if (n < 3)
        return ERR("%s: want HANDLE ...", a[0]);
    if ((h = handle_find(sc, a[1])) < 0 || !sc->h[h].t)
        return h < 0 ? -1 : ERR("%s is not TCP", a[1]);
    dnet_tcp_info(sc->h[h].t, &info);
    if (!strcmp(a[0], "state")) {
        if (strcmp(dnet_tcp_state_name(info.state), a[2]))
            return ERR("state: want %s, got %s", a[2], dnet_tcp_state_name(info.state));
        return 0;
    }
    for (int i = 2; i < n; i++) {
        char *eq = strchr(a[i], '=');
        long want, got;

        if (!eq)
            return ERR("info: want key=value");
        *eq = 0;
        want = parse_result(eq + 1);
        if (!strcmp(a[i], "error")) got = info.error;
        else if (!strcmp(a[i], "rcv_avail")) got = info.rcv_avail;
        else if (!strcmp(a[i], "snd_space")) got = info.snd_space;
        else if (!strcmp(a[i], "mss")) got = info.snd_mss;
        else if (!strcmp(a[i], "snd_wscale")) got = info.snd_wscale;
        else if (!strcmp(a[i], "rcv_wscale")) got = info.rcv_wscale;
        else if (!strcmp(a[i], "snd_wnd")) got = info.snd_wnd;
        else if (!strcmp(a[i], "cwnd")) got = info.cwnd;
        else if (!strcmp(a[i], "rto_ms")) got = info.rto_ms;
        else if (!strcmp(a[i], "srtt_us")) got = info.srtt_us;
        else if (!strcmp(a[i], "ts_ok")) got = info.ts_ok;
        else if (!strcmp(a[i], "sack_ok")) got = info.sack_ok;
        else if (!strcmp(a[i], "events")) got = info.events;
        else return ERR("info: unknown key '%s'", a[i]);
        if (got != want)
            return ERR("info %s: want %s, got %ld", a[i], eq + 1, got);
    }
    return 0;
}
