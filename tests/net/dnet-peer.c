// SPDX-License-Identifier: MIT
// dnet-peer: one dpdk-net port + context on a DPDK vdev (net_af_packet on a veth for the interop
// rig), answering ARP and ping and running one TCP/UDP role against the kernel on the far side.
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_ethdev.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/fault.h"
#include "dpdk-net/port.h"
#include "dpdk-net/socket.h"
#include "sha256.h"

/* Exit statuses the rig reads: 3 means "this machine cannot run the rig" (a SKIP). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NODEV = 3 };

#define IOBUF (64u * 1024)
#define LINGER_US 300000u   /* polling after the last transfer so the final ACKs/FINs leave */

static volatile sig_atomic_t g_stop;

struct opts {
    const char *iface, *vdev_args, *eal_extra;
    rte_be32_t ip, gw;
    uint8_t prefix;
    int have_mac;
    struct rte_ether_addr mac;
    struct dnet_fault_conf fault;
    double timeout_s;
    long count;              /* connections/transfers before exiting; 0 = until a signal */
    uint32_t rcvbuf, sndbuf;
    int verbose;
};

struct peer {
    struct opts o;
    struct dnet_port port;
    struct dnet_ctx *ctx;
    int port_up;
};

static void die(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("dnet-peer: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---------------------------------------------------------------- arguments */

static void usage(void)
{
    fputs("usage: dnet-peer --iface IF --ip A.B.C.D/N [options] MODE ARGS\n"
          "modes: echo-tcp PORT | sink-tcp PORT | source-tcp IP PORT BYTES | echo-udp PORT\n"
          "options:\n"
          "  --iface IF            network interface for net_af_packet (required)\n"
          "  --ip ADDR/PREFIX      our address (required)\n"
          "  --gw ADDR             gateway for off-link destinations\n"
          "  --mac XX:..:XX        the stack's MAC (the device runs promiscuous; default: IF's)\n"
          "  --vdev-args K=V,...   extra net_af_packet arguments (e.g. framecnt=4096)\n"
          "  --eal 'ARGS'          extra EAL arguments\n"
          "  --count N             exit after N connections (sink/source default 1; echo 0 = forever)\n"
          "  --timeout S           fail (exit 1) if not done after S seconds\n"
          "  --rcvbuf N --sndbuf N TCP buffer sizes\n"
          "  --fault-seed N        seed of dpdk-net's fault injection\n"
          "  --fault-{rx,tx}-{drop,dup,corrupt,reorder}-ppm N   probability in parts per million\n"
          "  -v                    print counters every second\n"
          "exit: 0 done, 1 transfer failed, 2 usage, 3 DPDK or the port could not start\n",
          stderr);
    exit(EXIT_USAGE);
}

static unsigned long parse_num(const char *s, unsigned long max, const char *what)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno || end == s || *end || v > max)
        die(EXIT_USAGE, "bad %s '%s'", what, s);
    return v;
}

static rte_be32_t parse_ip(const char *s, const char *what)
{
    struct in_addr a;

    if (inet_pton(AF_INET, s, &a) != 1)
        die(EXIT_USAGE, "bad %s '%s' (want A.B.C.D)", what, s);
    return a.s_addr;
}

enum {
    OPT_IFACE = 256, OPT_IP, OPT_GW, OPT_MAC, OPT_VDEV, OPT_EAL, OPT_COUNT, OPT_TIMEOUT,
    OPT_RCVBUF, OPT_SNDBUF, OPT_SEED,
    OPT_FAULT0,  /* OPT_FAULT0 + dir * 4 + kind */
};

static const char *const g_fault_dirs[2] = { "rx", "tx" };
static const char *const g_fault_kinds[4] = { "drop", "dup", "corrupt", "reorder" };

static uint32_t *fault_field(struct dnet_fault_conf *f, int idx)
{
    struct dnet_fault_dir *d = idx / 4 ? &f->tx : &f->rx;
    uint32_t *k[4] = { &d->drop_ppm, &d->dup_ppm, &d->corrupt_ppm, &d->reorder_ppm };

    return k[idx % 4];
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
    static char fault_names[8][32];
    struct option lo[64] = {
        { "iface", required_argument, 0, OPT_IFACE },
        { "ip", required_argument, 0, OPT_IP },
        { "gw", required_argument, 0, OPT_GW },
        { "mac", required_argument, 0, OPT_MAC },
        { "vdev-args", required_argument, 0, OPT_VDEV },
        { "eal", required_argument, 0, OPT_EAL },
        { "count", required_argument, 0, OPT_COUNT },
        { "timeout", required_argument, 0, OPT_TIMEOUT },
        { "rcvbuf", required_argument, 0, OPT_RCVBUF },
        { "sndbuf", required_argument, 0, OPT_SNDBUF },
        { "fault-seed", required_argument, 0, OPT_SEED },
        { "help", no_argument, 0, 'h' },
    };
    int nlo = 12, c;

    for (int i = 0; i < 8; i++) {
        snprintf(fault_names[i], sizeof(fault_names[i]), "fault-%s-%s-ppm",
                 g_fault_dirs[i / 4], g_fault_kinds[i % 4]);
        lo[nlo++] = (struct option){ fault_names[i], required_argument, 0, OPT_FAULT0 + i };
    }
    memset(o, 0, sizeof(*o));
    o->count = -1;
    while ((c = getopt_long(argc, argv, "+vh", lo, NULL)) != -1) {
        switch (c) {
        case OPT_IFACE: o->iface = optarg; break;
        case OPT_IP: {
            char buf[64], *slash;

            snprintf(buf, sizeof(buf), "%s", optarg);
            slash = strchr(buf, '/');
            o->prefix = 24;
            if (slash) {
                *slash = 0;
                o->prefix = (uint8_t)parse_num(slash + 1, 32, "prefix length");
            }
            o->ip = parse_ip(buf, "--ip");
            break;
        }
        case OPT_GW: o->gw = parse_ip(optarg, "--gw"); break;
        case OPT_MAC:
            if (rte_ether_unformat_addr(optarg, &o->mac) < 0)
                die(EXIT_USAGE, "bad --mac '%s'", optarg);
            o->have_mac = 1;
            break;
        case OPT_VDEV: o->vdev_args = optarg; break;
        case OPT_EAL: o->eal_extra = optarg; break;
        case OPT_COUNT: o->count = (long)parse_num(optarg, 1000000, "--count"); break;
        case OPT_TIMEOUT: o->timeout_s = (double)parse_num(optarg, 86400, "--timeout"); break;
        case OPT_RCVBUF: o->rcvbuf = (uint32_t)parse_num(optarg, 1u << 30, "--rcvbuf"); break;
        case OPT_SNDBUF: o->sndbuf = (uint32_t)parse_num(optarg, 1u << 30, "--sndbuf"); break;
        case OPT_SEED: o->fault.seed = parse_num(optarg, ~0ul, "--fault-seed"); break;
        case 'v': o->verbose = 1; break;
        default:
            if (c >= OPT_FAULT0 && c < OPT_FAULT0 + 8) {
                *fault_field(&o->fault, c - OPT_FAULT0) =
                    (uint32_t)parse_num(optarg, DNET_FAULT_PPM, lo[c - OPT_FAULT0 + 12].name);
                break;
            }
            usage();
        }
    }
    if (!o->iface || !o->ip)
        usage();
    return optind;
}

/* ---------------------------------------------------------------- DPDK set-up */

static void peer_start(struct peer *p)
{
    char prefix[64], vdev[256], lcores[] = "--lcores=0@(0-1)";
    char *eal[64], *extra = NULL;
    int n = 0, rc;
    struct dnet_ctx_conf cc = { 0 };
    struct dnet_port_conf pc = { .nb_mbufs = 16383 };

    snprintf(prefix, sizeof(prefix), "--file-prefix=dnetpeer%d", (int)getpid());
    snprintf(vdev, sizeof(vdev), "--vdev=net_af_packet0,iface=%s%s%s", p->o.iface,
             p->o.vdev_args ? "," : "", p->o.vdev_args ? p->o.vdev_args : "");
    eal[n++] = "dnet-peer";
    eal[n++] = "--no-pci";
    eal[n++] = "--no-huge";
    eal[n++] = "-m";
    eal[n++] = "256";
    eal[n++] = "--no-shconf";
    eal[n++] = "--log-level=lib.eal:error";
    eal[n++] = prefix;
    eal[n++] = vdev;
    eal[n++] = lcores;
    if (p->o.eal_extra) {
        extra = strdup(p->o.eal_extra);
        for (char *t = strtok(extra, " "); t && n < 63; t = strtok(NULL, " "))
            eal[n++] = t;
    }
    eal[n] = NULL;
    rc = rte_eal_init(n, eal);
    if (rc < 0)
        die(EXIT_NODEV, "rte_eal_init failed: %s", rte_strerror(rte_errno));
    if (rte_eth_dev_count_avail() < 1)
        die(EXIT_NODEV, "no DPDK port: net_af_packet could not open '%s'", p->o.iface);
    rc = dnet_port_setup(&p->port, 0, &pc);
    if (rc < 0)
        die(EXIT_NODEV, "port set-up on '%s' failed: %s", p->o.iface, strerror(-rc));
    p->port_up = 1;
    /* The stack may use a MAC of its own: the interface stays promiscuous, and the kernel
     * on this side of the veth then never takes our frames for its own. */
    if (p->o.have_mac)
        p->port.mac = p->o.mac;
    cc.ip = p->o.ip;
    cc.prefix_len = p->o.prefix;
    cc.gateway = p->o.gw;
    cc.rcvbuf = p->o.rcvbuf;
    cc.sndbuf = p->o.sndbuf;
    cc.fault = p->o.fault;
    rc = dnet_ctx_create(&p->ctx, &p->port, &cc);
    if (rc < 0)
        die(EXIT_FAIL, "context: %s", strerror(-rc));
    free(extra);
}

static void peer_stop(struct peer *p)
{
    dnet_ctx_destroy(p->ctx);
    p->ctx = NULL;
    if (p->port_up)
        dnet_port_teardown(&p->port);
    rte_eal_cleanup();
}

static void print_stats(const struct peer *p)
{
    const struct dnet_stats *s = dnet_ctx_stats(p->ctx);

    printf("dnet-peer: stats rx=%lu tx=%lu tx_drop=%lu arp_rx=%lu icmp_echo_replies=%lu "
           "tcp_rx=%lu tcp_tx=%lu retrans=%lu fast_retrans=%lu rto=%lu ooo=%lu tcp_drop=%lu "
           "tcp_bad=%lu ip_bad_csum=%lu ip_bad_hdr=%lu eth_drop=%lu udp_rx=%lu udp_tx=%lu "
           "fault_rx=%lu/%lu/%lu/%lu fault_tx=%lu/%lu/%lu/%lu (drop/dup/corrupt/reorder)\n",
           s->rx_pkts, s->tx_pkts, s->tx_drop, s->arp_rx, s->icmp_echo_replies, s->tcp_rx,
           s->tcp_tx, s->tcp_retrans, s->tcp_fast_retrans, s->tcp_rto, s->tcp_ooo, s->tcp_drop,
           s->tcp_bad, s->ip_bad_csum, s->ip_bad_hdr, s->eth_drop, s->udp_rx, s->udp_tx,
           s->fault_rx_drop, s->fault_rx_dup, s->fault_rx_corrupt, s->fault_rx_reorder,
           s->fault_tx_drop, s->fault_tx_dup, s->fault_tx_corrupt, s->fault_tx_reorder);
    fflush(stdout);
}

/* One poll step plus the bookkeeping every mode shares: -v counters, timeout. */
static int peer_poll(struct peer *p, double deadline)
{
    static double next_report;
    double t;

    dnet_ctx_poll(p->ctx);
    if (!p->o.verbose && !deadline)
        return 0;
    t = now_s();
    if (p->o.verbose && t >= next_report) {
        if (next_report)
            print_stats(p);
        next_report = t + 1;
    }
    if (deadline && t > deadline) {
        fprintf(stderr, "dnet-peer: timeout after %.0f s\n", p->o.timeout_s);
        return -ETIMEDOUT;
    }
    return 0;
}

static void peer_linger(struct peer *p)
{
    uint64_t end = dnet_ctx_now_us(p->ctx) + LINGER_US;

    while (!g_stop && dnet_ctx_now_us(p->ctx) < end)
        dnet_ctx_poll(p->ctx);
}

/* ---------------------------------------------------------------- TCP roles */

struct conn {
    struct dnet_tcb *c;
    struct conn *next;
    uint8_t buf[IOBUF];
    uint32_t off, len;       /* echo: bytes of buf still to send back */
    uint64_t bytes;
    struct sha256 sha;
    double t0;
    int eof;
};

static void report_transfer(const char *role, uint64_t bytes, const char *hex, double secs)
{
    printf("dnet-peer: %s bytes=%lu sha256=%s secs=%.3f MiB/s=%.1f\n", role, bytes, hex, secs,
           secs > 0 ? (double)bytes / (1024.0 * 1024.0) / secs : 0.0);
    fflush(stdout);
}

/* Echo: one step for @k; returns 1 when the connection is finished (closed). */
static int echo_step(struct dnet_ctx *ctx, struct conn *k)
{
    ssize_t r;

    for (;;) {
        if (k->off < k->len) {
            r = dnet_tcp_send(ctx, k->c, k->buf + k->off, k->len - k->off);
            if (r == -EAGAIN)
                return 0;
            if (r < 0)
                goto done;
            k->off += (uint32_t)r;
            continue;
        }
        if (k->eof)
            goto done;
        r = dnet_tcp_recv(ctx, k->c, k->buf, sizeof(k->buf));
        if (r == -EAGAIN)
            return 0;
        if (r <= 0) {
            k->eof = 1;
            if (r < 0)
                goto done;
            continue;
        }
        k->bytes += (uint64_t)r;
        k->off = 0;
        k->len = (uint32_t)r;
    }
done:
    dnet_tcp_close(ctx, k->c);
    return 1;
}

/* Sink: read everything; returns 1 at end of stream (the summary is printed). */
static int sink_step(struct dnet_ctx *ctx, struct conn *k, int *failed)
{
    for (;;) {
        ssize_t r = dnet_tcp_recv(ctx, k->c, k->buf, sizeof(k->buf));
        char hex[65];

        if (r == -EAGAIN)
            return 0;
        if (r > 0) {
            if (!k->bytes)
                k->t0 = now_s();
            sha256_update(&k->sha, k->buf, (size_t)r);
            k->bytes += (uint64_t)r;
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "dnet-peer: sink: recv: %s after %lu bytes\n", strerror((int)-r),
                    k->bytes);
            *failed = 1;
        }
        sha256_final_hex(&k->sha, hex);
        report_transfer("sink", k->bytes, hex, k->bytes ? now_s() - k->t0 : 0);
        dnet_tcp_close(ctx, k->c);
        return 1;
    }
}

static int run_server(struct peer *p, int echo, rte_be16_t port)
{
    struct dnet_tcb *lsn;
    struct conn *conns = NULL;
    double deadline = p->o.timeout_s ? now_s() + p->o.timeout_s : 0;
    long done = 0, want = p->o.count < 0 ? (echo ? 0 : 1) : p->o.count;
    int rc, failed = 0;

    rc = dnet_tcp_listen(p->ctx, port, 128, &lsn);
    if (rc < 0)
        die(EXIT_FAIL, "listen %u: %s", rte_be_to_cpu_16(port), strerror(-rc));
    printf("dnet-peer: ready %s-tcp port %u\n", echo ? "echo" : "sink", rte_be_to_cpu_16(port));
    fflush(stdout);
    while (!g_stop && (!want || done < want)) {
        struct dnet_tcb *c;

        if (peer_poll(p, deadline) < 0) {
            failed = 1;
            break;
        }
        while (dnet_tcp_accept(p->ctx, lsn, &c) == 0) {
            struct conn *k = calloc(1, sizeof(*k));

            if (!k)
                die(EXIT_FAIL, "out of memory");
            k->c = c;
            sha256_init(&k->sha);
            dnet_tcp_set_nodelay(c, echo);
            k->next = conns;
            conns = k;
        }
        for (struct conn **pk = &conns; *pk;) {
            struct conn *k = *pk;
            int fin = echo ? echo_step(p->ctx, k) : sink_step(p->ctx, k, &failed);

            if (!fin) {
                pk = &k->next;
                continue;
            }
            if (echo) {
                printf("dnet-peer: echo bytes=%lu\n", k->bytes);
                fflush(stdout);
            }
            *pk = k->next;
            free(k);
            done++;
        }
    }
    peer_linger(p);
    while (conns) {
        struct conn *k = conns;

        conns = k->next;
        free(k);
    }
    return failed ? EXIT_FAIL : EXIT_OK;
}

/* The source's stream: 8-byte words of a mixed counter, so any slip changes the digest. */
static void pattern_fill(uint8_t *buf, uint64_t off, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t w = ((off + i) / 8 + 1) * 0x9e3779b97f4a7c15ull;

        w ^= w >> 29;
        memcpy(buf + i, &w, 8);
    }
}

static int run_source(struct peer *p, rte_be32_t dip, rte_be16_t dport, uint64_t total)
{
    static uint8_t chunk[IOBUF];
    struct dnet_tcb *c;
    struct dnet_tcp_info ti;
    struct sha256 sha;
    double deadline = p->o.timeout_s ? now_s() + p->o.timeout_s : 0, t0 = 0;
    uint64_t sent = 0, chunk_off = 0;
    uint32_t chunk_len = 0;
    int rc, shut = 0, connected = 0;
    enum dnet_tcp_state last_state = DNET_TCP_CLOSED;
    char hex[65];
    uint8_t junk[4096];

    sha256_init(&sha);
    printf("dnet-peer: ready source-tcp\n");
    fflush(stdout);
    rc = dnet_tcp_connect(p->ctx, dip, dport, 0, &c);
    if (rc < 0)
        die(EXIT_FAIL, "connect: %s", strerror(-rc));
    for (;;) {
        if (g_stop || peer_poll(p, deadline) < 0)
            goto fail;
        dnet_tcp_info(c, &ti);
        if (p->o.verbose && ti.state != last_state) {
            printf("dnet-peer: source: %s -> %s at %lu bytes\n", dnet_tcp_state_name(last_state),
                   dnet_tcp_state_name(ti.state), sent);
            last_state = ti.state;
        }
        if (ti.error) {
            fprintf(stderr, "dnet-peer: source: %s after %lu bytes (state %s)\n",
                    strerror(ti.error), sent, dnet_tcp_state_name(ti.state));
            goto fail;
        }
        if (!connected && ti.state < DNET_TCP_ESTABLISHED)
            continue;
        connected = 1;
        if (!t0)
            t0 = now_s();
        while (sent < total) {
            ssize_t r;

            if (sent == chunk_off + chunk_len) {
                chunk_off = sent;
                chunk_len = (uint32_t)RTE_MIN((uint64_t)IOBUF, total - sent);
                pattern_fill(chunk, chunk_off, IOBUF);
                sha256_update(&sha, chunk, chunk_len);
            }
            r = dnet_tcp_send(p->ctx, c, chunk + (sent - chunk_off), chunk_off + chunk_len - sent);
            if (r == -EAGAIN)
                break;
            if (r < 0) {
                fprintf(stderr, "dnet-peer: source: send: %s after %lu bytes\n",
                        strerror((int)-r), sent);
                goto fail;
            }
            sent += (uint64_t)r;
        }
        if (sent == total && !shut) {
            dnet_tcp_shutdown(p->ctx, c, SHUT_WR);
            shut = 1;
        }
        /* Whatever the other side says is read and dropped. */
        while (dnet_tcp_recv(p->ctx, c, junk, sizeof(junk)) > 0)
            ;
        /* Done once our FIN is acknowledged: every byte before it was received. */
        if (shut && (ti.state == DNET_TCP_FIN_WAIT_2 || ti.state == DNET_TCP_TIME_WAIT ||
                     ti.state == DNET_TCP_CLOSED))
            break;
    }
    sha256_final_hex(&sha, hex);
    report_transfer("source", sent, hex, now_s() - t0);
    dnet_tcp_close(p->ctx, c);
    peer_linger(p);
    return EXIT_OK;
fail:
    dnet_tcp_info(c, &ti);
    fprintf(stderr, "dnet-peer: source: gave up in %s with %lu of %lu bytes queued, "
            "rcv_avail=%u snd_space=%u cwnd=%u snd_wnd=%u rto_ms=%u events=%#x\n",
            dnet_tcp_state_name(ti.state), sent, total, ti.rcv_avail, ti.snd_space, ti.cwnd,
            ti.snd_wnd, ti.rto_ms, ti.events);
    dnet_tcp_abort(p->ctx, c);
    peer_linger(p);
    return EXIT_FAIL;
}

/* ---------------------------------------------------------------- UDP echo */

static int run_echo_udp(struct peer *p, rte_be16_t port)
{
    struct dnet_udp_sock *us;
    static uint8_t buf[IOBUF];
    double deadline = p->o.timeout_s ? now_s() + p->o.timeout_s : 0;
    uint64_t n = 0;
    int rc;

    rc = dnet_udp_bind(p->ctx, port, 256, &us);
    if (rc < 0)
        die(EXIT_FAIL, "udp bind %u: %s", rte_be_to_cpu_16(port), strerror(-rc));
    printf("dnet-peer: ready echo-udp port %u\n", rte_be_to_cpu_16(port));
    fflush(stdout);
    while (!g_stop && peer_poll(p, deadline) == 0) {
        rte_be32_t sip;
        rte_be16_t sport;
        ssize_t r;

        while ((r = dnet_udp_recvfrom(p->ctx, us, buf, sizeof(buf), &sip, &sport)) >= 0) {
            if (dnet_udp_sendto(p->ctx, us, buf, (size_t)RTE_MIN((size_t)r, sizeof(buf)), sip,
                                sport) >= 0)
                n++;
        }
    }
    printf("dnet-peer: echo-udp datagrams=%lu\n", n);
    dnet_udp_close(p->ctx, us);
    return EXIT_OK;
}

/* ---------------------------------------------------------------- main */

static rte_be16_t parse_port(const char *s)
{
    return rte_cpu_to_be_16((uint16_t)parse_num(s, 65535, "port"));
}

int main(int argc, char **argv)
{
    struct peer p = { 0 };
    struct sigaction sa = { .sa_handler = on_signal };
    const char *mode;
    char **a;
    int na, i, status;

    i = parse_opts(&p.o, argc, argv);
    if (i >= argc)
        usage();
    mode = argv[i];
    a = argv + i + 1;
    na = argc - i - 1;
    if (!((!strcmp(mode, "echo-tcp") && na == 1) || (!strcmp(mode, "sink-tcp") && na == 1) ||
          (!strcmp(mode, "echo-udp") && na == 1) || (!strcmp(mode, "source-tcp") && na == 3)))
        usage();
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    peer_start(&p);
    if (!strcmp(mode, "echo-tcp"))
        status = run_server(&p, 1, parse_port(a[0]));
    else if (!strcmp(mode, "sink-tcp"))
        status = run_server(&p, 0, parse_port(a[0]));
    else if (!strcmp(mode, "echo-udp"))
        status = run_echo_udp(&p, parse_port(a[0]));
    else
        status = run_source(&p, parse_ip(a[0], "IP"), parse_port(a[1]),
                            parse_num(a[2], 1ul << 40, "BYTES"));
    /* A frame held back for reordering is released two polls later: with faults off, let
     * it reach the checks before counting, so injected and dropped counts compare. */
    dnet_ctx_fault_set(p.ctx, &(struct dnet_fault_conf){ 0 });
    for (int k = 0; k < 3; k++)
        dnet_ctx_poll(p.ctx);
    print_stats(&p);
    peer_stop(&p);
    return status;
}
