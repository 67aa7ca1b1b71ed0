// SPDX-License-Identifier: MIT
// Packet-script driver: one context per script on the net_ring double, a virtual clock,
// and the commands inject / expect / advance / poll / fault / call / state / info / stat.
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/port.h"
#include "dpdk-net/socket.h"
#include "script.h"
#include "script_int.h"

#define ERR(...) (snprintf(sc->err, sc->errlen, __VA_ARGS__), -1)

static int ensure_ctx(struct script *sc)
{
    int rc;

    if (sc->ctx)
        return 0;
    rc = dnet_ctx_create(&sc->ctx, sc->dev->port, &sc->conf);
    return rc < 0 ? ERR("dnet_ctx_create: %d", rc) : 0;
}

static int cmd_kv_conf(struct script *sc, char **a, int n)
{
    for (int i = 1; i < n; i++) {
        char *eq = strchr(a[i], '=');
        uint32_t v;

        if (!eq)
            return ERR("ctx: want key=value");
        *eq = 0;
        v = (uint32_t)strtoul(eq + 1, NULL, 0);
        if (!strcmp(a[i], "rcvbuf")) sc->conf.rcvbuf = v;
        else if (!strcmp(a[i], "sndbuf")) sc->conf.sndbuf = v;
        else if (!strcmp(a[i], "delack")) sc->conf.delack_ms = v;
        else if (!strcmp(a[i], "rto_min")) sc->conf.rto_min_ms = v;
        else if (!strcmp(a[i], "tw")) sc->conf.time_wait_ms = v;
        else if (!strcmp(a[i], "tlp")) sc->conf.no_tlp = !v;
        else if (!strcmp(a[i], "max_orphans")) sc->conf.max_orphans = v;
        else return ERR("ctx: unknown key '%s'", a[i]);
    }
    return 0;
}

/* "fault seed=N rx_drop=P rx_dup=P rx_corrupt=P rx_reorder=P tx_...": P in parts per million,
 * or a percentage with '%'.  Replaces the whole configuration (unnamed ones become 0). */
static int cmd_fault(struct script *sc, char **a, int n)
{
    struct dnet_fault_conf fc = { 0 };
    int rc;

    for (int i = 1; i < n; i++) {
        char *eq = strchr(a[i], '='), *end;
        struct dnet_fault_dir *d;
        uint64_t v;

        if (!eq)
            return ERR("fault: want key=value");
        *eq = 0;
        v = strtoull(eq + 1, &end, 0);
        if (*end == '%')
            v *= DNET_FAULT_PPM / 100;
        if (!strcmp(a[i], "seed")) {
            fc.seed = v;
            continue;
        }
        if (strncmp(a[i], "rx_", 3) && strncmp(a[i], "tx_", 3))
            return ERR("fault: unknown key '%s'", a[i]);
        d = a[i][0] == 'r' ? &fc.rx : &fc.tx;
        if (!strcmp(a[i] + 3, "drop")) d->drop_ppm = (uint32_t)v;
        else if (!strcmp(a[i] + 3, "dup")) d->dup_ppm = (uint32_t)v;
        else if (!strcmp(a[i] + 3, "corrupt")) d->corrupt_ppm = (uint32_t)v;
        else if (!strcmp(a[i] + 3, "reorder")) d->reorder_ppm = (uint32_t)v;
        else return ERR("fault: unknown key '%s'", a[i]);
    }
    rc = dnet_ctx_fault_set(sc->ctx, &fc);
    return rc < 0 ? ERR("dnet_ctx_fault_set: %d", rc) : 0;
}

static int cmd_inject(struct script *sc, char *rest)
{
    uint8_t buf[SC_FRAME_MAX];
    struct sc_spec sp;
    struct rte_mbuf *m;
    unsigned len;

    if (sc_spec_parse(rest, &sp, sc->err, sc->errlen) < 0 ||
        sc_frame_build(&sp, &sc->ad, &sc->vars, buf, &len, sc->err, sc->errlen) < 0)
        return -1;
    m = rte_pktmbuf_alloc(sc->dev->port->pool);
    if (!m || !rte_pktmbuf_append(m, (uint16_t)len))
        return ERR("mbuf");
    memcpy(rte_pktmbuf_mtod(m, void *), buf, len);
    if (rte_ring_enqueue(sc->dev->rx, m) < 0)
        return ERR("rx ring full");
    dnet_ctx_poll(sc->ctx);
    return 0;
}

static int next_tx(struct script *sc, struct sc_decoded *d)
{
    void *obj;
    struct rte_mbuf *m;

    if (rte_ring_dequeue(sc->dev->tx, &obj) < 0)
        return 0;
    m = obj;
    sc_frame_decode(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), d);
    rte_pktmbuf_free(m);
    return 1;
}

static int cmd_expect(struct script *sc, char *rest)
{
    struct sc_decoded d;
    struct sc_spec sp;
    char desc[600], why[300];

    if (!strncmp(rest, "none", 4)) {
        if (next_tx(sc, &d)) {
            sc_frame_describe(&d, desc, sizeof(desc));
            return ERR("expected no frame, got: %s", desc);
        }
        return 0;
    }
    if (sc_spec_parse(rest, &sp, sc->err, sc->errlen) < 0)
        return -1;
    if (!next_tx(sc, &d))
        return ERR("expected a %s frame, nothing was sent", sp.proto);
    if (sc_frame_match(&sp, &d, &sc->vars, why, sizeof(why)) < 0) {
        sc_frame_describe(&d, desc, sizeof(desc));
        return ERR("%s; frame: %s", why, desc);
    }
    return 0;
}

static int run_line(struct script *sc, char *line)
{
    char *a[16], *save = NULL, copy[512];
    int n = 0;

    snprintf(copy, sizeof(copy), "%s", line);
    for (char *t = strtok_r(copy, " \t", &save); t && n < 16; t = strtok_r(NULL, " \t", &save))
        a[n++] = t;
    if (!n)
        return 0;
    if (!strcmp(a[0], "ctx"))
        return sc->ctx ? ERR("ctx must come first") : cmd_kv_conf(sc, a, n);
    if (ensure_ctx(sc) < 0)
        return -1;
    if (!strcmp(a[0], "inject"))
        return cmd_inject(sc, line + 6);
    if (!strcmp(a[0], "expect"))
        return cmd_expect(sc, line + 6 + strspn(line + 6, " \t"));
    if (!strcmp(a[0], "advance") && n == 2)
        return dnet_ctx_clock_advance(sc->ctx, strtoull(a[1], NULL, 0) * 1000ull);
    if (!strcmp(a[0], "fault"))
        return cmd_fault(sc, a, n);
    if (!strcmp(a[0], "poll"))
        return dnet_ctx_poll(sc->ctx) < 0 ? ERR("poll") : 0;
    if (!strcmp(a[0], "call")) {
        /* As the socket layer will: poll after the call, which also drains TX. */
        int rc = script_call(sc, a + 1, n - 1);

        dnet_ctx_poll(sc->ctx);
        return rc;
    }
    if (!strcmp(a[0], "state") || !strcmp(a[0], "info") || !strcmp(a[0], "stat"))
        return script_check(sc, a, n);
    return ERR("unknown command '%s'", a[0]);
}

static void script_end(struct script *sc)
{
    void *obj;

    for (int i = 0; sc->ctx && i < sc->nh; i++) {
        if (sc->h[i].t)
            dnet_tcp_abort(sc->ctx, sc->h[i].t);
        if (sc->h[i].u)
            dnet_udp_close(sc->ctx, sc->h[i].u);
    }
    dnet_ctx_destroy(sc->ctx);
    while (rte_ring_dequeue(sc->dev->tx, &obj) == 0)
        rte_pktmbuf_free(obj);
    while (rte_ring_dequeue(sc->dev->rx, &obj) == 0)
        rte_pktmbuf_free(obj);
}

int script_run_file(struct script_dev *dev, const char *path, char *err, unsigned errlen)
{
    struct script sc = { .dev = dev };
    char line[512], why[900];
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");

    if (!f) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    sc.err = why;
    sc.errlen = sizeof(why);
    sc.conf.ip = htonl(sc_ip_host("10.0.0.1"));
    sc.conf.prefix_len = 24;
    sc.conf.gateway = htonl(sc_ip_host("10.0.0.254"));
    sc.conf.virtual_clock = 1;
    sc.conf.isn_secret = 0x5eed;
    sc.ad.our_mac = dev->port->mac;
    rte_ether_unformat_addr("02:00:00:00:00:02", &sc.ad.peer_mac);
    sc.ad.our_ip = sc_ip_host("10.0.0.1");
    sc.ad.peer_ip = sc_ip_host("10.0.0.2");
    while (fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');

        lineno++;
        if (hash)
            *hash = 0;
        line[strcspn(line, "\r\n")] = 0;
        if (run_line(&sc, line) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && sc.ctx) {
        struct sc_decoded d;
        char desc[600];

        if (next_tx(&sc, &d)) {
            sc_frame_describe(&d, desc, sizeof(desc));
            snprintf(err, errlen, "%s:end: unexpected frame left: %s", path, desc);
            rc = -1;
        }
    }
    fclose(f);
    script_end(&sc);
    return rc;
}
