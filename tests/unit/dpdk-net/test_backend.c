// SPDX-License-Identifier: MIT
// libbypass-net.so seen the way the LibOS sees it: dlopen() the built module, take the one
// exported table, check its ABI, start it on a virtual device and drive the calls.  Check
// runs each test in its own process, which is what EAL (once per process) needs.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "backend.h"
#include "check_run.h"

/* EAL without hugepages, files or PCI: runs unprivileged, next to anything. */
#define EAL_BASE "--no-huge -m 128 --no-shconf "

static void *g_dl;
static const struct bypass_net_backend *g_be;

static const char *module_path(void)
{
    const char *p = getenv("BYPASS_NET_MODULE");

    return p && *p ? p : BNET_MODULE;
}

/* What the LibOS does: dlopen with local symbols, one dlsym, an ABI check. */
static void load(void)
{
    g_dl = dlopen(module_path(), RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(g_dl, "dlopen: %s", dlerror());
    g_be = dlsym(g_dl, BYPASS_NET_BACKEND_SYM);
    ck_assert_msg(g_be, "dlsym: %s", dlerror());
    ck_assert_int_eq(g_be->abi, BYPASS_NET_BACKEND_ABI);
}

static struct bypass_net_conf conf(const char *eal)
{
    struct bypass_net_conf c = {
        .eal_args = eal, .ip = inet_addr("10.9.0.2"), .prefix_len = 24,
        .gw = inet_addr("10.9.0.1"),
    };

    return c;
}

/* Start on @eal with a watch thread of period @watch_us (0: none); expect success. */
static void start_watch(const char *eal, unsigned watch_us)
{
    struct bypass_net_conf c = conf(eal);
    char err[256] = "";
    int rc;

    c.watch_us = watch_us;
    load();
    rc = g_be->init(&c, err, sizeof(err));
    ck_assert_msg(rc == 0, "init: %d (%s)", rc, err);
}

static void start(const char *eal)
{
    start_watch(eal, 0);
}

/* One line: not empty, no newline. */
static void assert_one_line(const char *err)
{
    ck_assert_msg(err[0] != 0, "empty error line");
    ck_assert_msg(!strchr(err, '\n'), "error is not one line: '%s'", err);
}

START_TEST(test_backend_abi_one_export)
{
    const void *const *fn;

    load();
    /* Every entry is filled: the table is a run of pointers after the int. */
    for (fn = (const void *const *)&g_be->init; fn <= (const void *const *)&g_be->ready_gen; fn++)
        ck_assert_msg(*fn, "table entry %d is NULL", (int)(fn - (const void *const *)&g_be->init));
    /* DPDK and dpdk-net are hidden inside the module. */
    ck_assert_ptr_null(dlsym(g_dl, "rte_eal_init"));
    ck_assert_ptr_null(dlsym(g_dl, "rte_eth_rx_burst"));
    ck_assert_ptr_null(dlsym(g_dl, "dnet_ctx_poll"));
    /* Nothing is started before init: the calls that need no handle are harmless. */
    ck_assert_int_eq(g_be->poll(), 0);
    ck_assert_uint_eq(g_be->local_ip(), 0);
}
END_TEST

START_TEST(test_backend_init_ring_announces)
{
    char js[4096];
    int n;

    start(EAL_BASE "--vdev=net_ring0");
    ck_assert_uint_eq(g_be->local_ip(), inet_addr("10.9.0.2"));
    /* net_ring0 alone is a loopback: the gratuitous ARP sent at init comes back. */
    for (int i = 0; i < 10; i++)
        g_be->poll();
    n = g_be->stats_json(js, sizeof(js));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq((int)strlen(js), n);
    ck_assert_msg(strstr(js, "\"arp_tx\":1,"), "%s", js);
    ck_assert_msg(strstr(js, "\"rx_pkts\":1,"), "%s", js);
    ck_assert_int_eq(g_be->stats_json(js, 10), -ENOSPC);
}
END_TEST

/* A flat JSON object of "key":unsigned pairs; returns the number of pairs or -1. */
static int json_flat_count(const char *s)
{
    int n = 0;

    if (*s++ != '{')
        return -1;
    while (*s != '}') {
        if (n && *s++ != ',')
            return -1;
        if (*s++ != '"')
            return -1;
        while (*s && (isalnum((unsigned char)*s) || *s == '_'))
            s++;
        if (*s++ != '"' || *s++ != ':' || !isdigit((unsigned char)*s))
            return -1;
        while (isdigit((unsigned char)*s))
            s++;
        n++;
    }
    return s[1] == 0 ? n : -1;
}

START_TEST(test_backend_stats_json_parses)
{
    char js[4096];

    start(EAL_BASE "--vdev=net_null0");
    for (int i = 0; i < 3; i++)
        g_be->poll();
    ck_assert_int_gt(g_be->stats_json(js, sizeof(js)), 0);
    /* The number of contexts, the frames and owners of each, then every counter of struct
     * dnet_stats (the contexts' sums), all 64-bit. */
    int n = g_be->ctx_count();
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(json_flat_count(js), 1 + 3 * n + 54);
    ck_assert_msg(!strncmp(js, "{\"contexts\":", 12), "%s", js);
    ck_assert_msg(strstr(js, "\"ctx0_rx_pkts\":"), "%s", js);
    ck_assert_msg(strstr(js, "\"ctx0_owners\":"), "%s", js);
    ck_assert_msg(strstr(js, ",\"rx_pkts\":"), "%s", js);
    ck_assert_msg(strstr(js, "\"tcp_tw_overflow\":"), "%s", js);
    ck_assert_msg(strstr(js, "\"redirect_drop\":"), "%s", js);
    ck_assert_msg(strstr(js, "\"tcp_orphan_timeout\":"), "%s", js);
    ck_assert_msg(strstr(js, "\"tx_bursts\":"), "%s", js);
}
END_TEST

/* One summed counter of stats_json (",\"name\":"). */
static unsigned long stat_of(const char *name)
{
    char js[4096], key[64];
    const char *p;

    ck_assert_int_gt(g_be->stats_json(js, sizeof(js)), 0);
    snprintf(key, sizeof(key), ",\"%s\":", name);
    p = strstr(js, key);
    ck_assert_msg(p, "no %s in %s", name, js);
    return strtoul(p + strlen(key), NULL, 10);
}

static void *udp_pending_thread(void *u)
{
    g_be->udp_pending(u);   /* any call on the context, from a thread that holds nothing */
    return NULL;
}

/* tx_hold: the caller's sends leave their frames queued and raise its flag; its
 * tx_release or poll, or another thread's call on the context, sends them, in one device
 * call.  Each datagram to a new on-link address queues one frame (its ARP request). */
START_TEST(test_backend_tx_hold_release)
{
    struct bnet_udp *u;
    uint8_t flag = 0;
    pthread_t th;

    start(EAL_BASE "--vdev=net_null0,no-rx=1");
    ck_assert_int_eq(g_be->udp_bind(0, 8, &u), 0);
    unsigned long tx = stat_of("tx_pkts"), bursts = stat_of("tx_bursts");

    ck_assert_int_eq(g_be->udp_sendto(u, "a", 1, inet_addr("10.9.0.3"), htons(7)), 1);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 1);      /* not held: sent by the call */
    g_be->tx_hold(&flag);
    ck_assert_uint_eq(flag, 0);
    ck_assert_int_eq(g_be->udp_sendto(u, "b", 1, inet_addr("10.9.0.4"), htons(7)), 1);
    ck_assert_uint_eq(flag, 1);
    ck_assert_int_eq(g_be->udp_sendto(u, "c", 1, inet_addr("10.9.0.5"), htons(7)), 1);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 1);
    g_be->tx_release();
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 3);
    ck_assert_uint_eq(stat_of("tx_bursts"), bursts + 2);
    /* A poll sends them too. */
    ck_assert_int_eq(g_be->udp_sendto(u, "d", 1, inet_addr("10.9.0.6"), htons(7)), 1);
    ck_assert_uint_eq(flag, 1);
    g_be->poll();
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 4);
    /* So does another thread's call on the context; the release after it has nothing. */
    ck_assert_int_eq(g_be->udp_sendto(u, "e", 1, inet_addr("10.9.0.7"), htons(7)), 1);
    ck_assert_int_eq(pthread_create(&th, NULL, udp_pending_thread, u), 0);
    pthread_join(th, NULL);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 5);
    g_be->tx_release();
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 5);
    /* tx_hold(NULL): sent by the call again. */
    ck_assert_int_eq(g_be->udp_sendto(u, "f", 1, inet_addr("10.9.0.8"), htons(7)), 1);
    g_be->tx_hold(NULL);
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 6);
    ck_assert_int_eq(g_be->udp_sendto(u, "g", 1, inet_addr("10.9.0.9"), htons(7)), 1);
    ck_assert_uint_eq(flag, 0);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 7);
    g_be->udp_close(u);
}
END_TEST

/* The watch thread polls a context nobody polls: what a thread held leaves within a few
 * periods though it makes no further call, and the thread's next release finds nothing. */
START_TEST(test_backend_watch_sends_held)
{
    struct bnet_udp *u;
    uint8_t flag = 0;

    start_watch(EAL_BASE "--vdev=net_null0,no-rx=1", 1000);
    ck_assert_int_eq(g_be->udp_bind(0, 8, &u), 0);
    g_be->tx_hold(&flag);
    unsigned long tx = stat_of("tx_pkts");
    ck_assert_int_eq(g_be->udp_sendto(u, "a", 1, inet_addr("10.9.0.3"), htons(7)), 1);
    ck_assert_uint_eq(flag, 1);
    for (int i = 0; i < 500 && stat_of("tx_pkts") == tx; i++)
        usleep(1000);
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 1);
    g_be->tx_release();
    ck_assert_uint_eq(stat_of("tx_pkts"), tx + 1);
    g_be->udp_close(u);
}
END_TEST

START_TEST(test_backend_tcp_listen_connect_close)
{
    struct bnet_tcb *l0, *l1, *dup, *c;
    struct bnet_tcp_info info;

    start(EAL_BASE "--vdev=net_null0,no-rx=1");
    /* Port 0 picks distinct free ephemeral ports, as bind(0) + listen() does. */
    ck_assert_int_eq(g_be->tcp_listen(0, 16, &l0), 0);
    ck_assert_int_eq(g_be->tcp_listen(0, 16, &l1), 0);
    ck_assert_int_eq(g_be->tcp_info(l0, &info), 0);
    ck_assert_int_eq(info.state, 1 /* DNET_TCP_LISTEN */);
    ck_assert_uint_ne(info.lport, 0);
    uint16_t p0 = info.lport;
    ck_assert_int_eq(g_be->tcp_info(l1, &info), 0);
    ck_assert_uint_ne(info.lport, 0);
    ck_assert_uint_ne(info.lport, p0);
    ck_assert_int_eq(g_be->tcp_listen(p0, 16, &dup), -EADDRINUSE);
    ck_assert_ptr_null(dup);
    ck_assert_int_eq(g_be->tcp_accept(l0, &c), -EAGAIN);
    ck_assert_int_eq(g_be->tcp_listen(htons(8080), 16, &dup), 0);

    /* An active open that no one answers: SYN_SENT, not writable yet. */
    ck_assert_int_eq(g_be->tcp_connect(inet_addr("10.9.0.3"), htons(80), 0, &c), 0);
    g_be->poll();
    ck_assert_int_eq(g_be->tcp_info(c, &info), 0);
    ck_assert_int_eq(info.state, 2 /* DNET_TCP_SYN_SENT */);
    ck_assert_uint_eq(info.events & BNET_OUT, 0);
    ck_assert_int_eq(g_be->tcp_send(c, "x", 1), -EAGAIN);
    ck_assert_int_eq(g_be->tcp_recv(c, (char[4]){ 0 }, 4), -EAGAIN);
    ck_assert_int_eq(g_be->tcp_set_nodelay(c, 1), 0);
    ck_assert_int_eq(g_be->tcp_set_keepalive(c, 1, 0, 0), -EINVAL);
    ck_assert_int_eq(g_be->tcp_take_error(c), 0);
    ck_assert_int_eq(g_be->tcp_close(c), 0);
    ck_assert_int_eq(g_be->tcp_close(l0), 0);
    ck_assert_int_eq(g_be->tcp_abort(l1), 0);
    ck_assert_int_eq(g_be->tcp_close(dup), 0);
    /* A closed listener's port is free again. */
    ck_assert_int_eq(g_be->tcp_listen(p0, 1, &l0), 0);
    ck_assert_int_eq(g_be->tcp_close(l0), 0);
    g_be->poll();
    ck_assert_uint_gt(g_be->now_us(), 0);
}
END_TEST

/* tcp_events says what tcp_info's events say; ready_gen moves with every call on an
 * endpoint (what epoll_wait relies on to skip a rescan). */
START_TEST(test_backend_tcp_events_match_info_gen_moves)
{
    struct bnet_tcb *l, *c;
    struct bnet_tcp_info info;
    uint32_t avail = 77;
    uint64_t g;

    load();
    ck_assert_uint_eq(g_be->ready_gen(), 0);    /* before init: no context */
    start(EAL_BASE "--vdev=net_null0,no-rx=1");
    g = g_be->ready_gen();
    ck_assert_int_eq(g_be->tcp_listen(0, 4, &l), 0);
    ck_assert_uint_gt(g_be->ready_gen(), g);
    ck_assert_int_eq(g_be->tcp_info(l, &info), 0);
    ck_assert_uint_eq(g_be->tcp_events(l, &avail), info.events);
    ck_assert_uint_eq(avail, 0);
    g = g_be->ready_gen();
    ck_assert_int_eq(g_be->tcp_accept(l, &c), -EAGAIN);
    ck_assert_uint_gt(g_be->ready_gen(), g);

    g = g_be->ready_gen();
    ck_assert_int_eq(g_be->tcp_connect(inet_addr("10.9.0.3"), htons(80), 0, &c), 0);
    ck_assert_uint_gt(g_be->ready_gen(), g);
    ck_assert_int_eq(g_be->tcp_info(c, &info), 0);
    ck_assert_uint_eq(g_be->tcp_events(c, NULL), info.events);
    ck_assert_uint_eq(g_be->tcp_events(c, &avail), info.events);
    ck_assert_uint_eq(avail, info.rcv_avail);
    ck_assert_uint_eq(info.events & BNET_OUT, 0);
    /* Shut both ways while connecting: -ENOTCONN, readiness as tcp_info has it. */
    g = g_be->ready_gen();
    ck_assert_int_eq(g_be->tcp_shutdown(c, SHUT_RDWR), -ENOTCONN);
    ck_assert_uint_gt(g_be->ready_gen(), g);
    ck_assert_int_eq(g_be->tcp_info(c, &info), 0);
    ck_assert_uint_eq(g_be->tcp_events(c, NULL), info.events);
    g = g_be->ready_gen();
    ck_assert_int_eq(g_be->tcp_abort(c), 0);
    ck_assert_uint_gt(g_be->ready_gen(), g);
    ck_assert_int_eq(g_be->tcp_close(l), 0);
}
END_TEST

/* The readiness stamp moves with every call on the connection and never repeats; a named
 * user is queued once per batch of touches until taken, and no more after close. */
START_TEST(test_backend_tcp_stamp_touched_queue)
{
    struct bnet_tcb *c, *d;
    void *u[4];
    int me, other;

    start(EAL_BASE "--vdev=net_null0,no-rx=1");
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 0);
    ck_assert_int_eq(g_be->tcp_connect(inet_addr("10.9.0.3"), htons(80), 0, &c), 0);
    ck_assert_int_eq(g_be->tcp_connect(inet_addr("10.9.0.3"), htons(81), 0, &d), 0);
    const uint64_t *sc = g_be->tcp_ev_stamp(c), *sd = g_be->tcp_ev_stamp(d);
    ck_assert_uint_ne(*sc, *sd);
    uint64_t was = *sc;
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 0);     /* no user named yet */
    g_be->tcp_set_user(c, &me);                          /* queued at once */
    ck_assert_uint_gt(*sc, was);
    g_be->tcp_set_user(d, &other);
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 2);
    ck_assert_ptr_eq(u[0], &me);
    ck_assert_ptr_eq(u[1], &other);
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 0);
    was = *sc;
    ck_assert_int_eq(g_be->tcp_shutdown(c, SHUT_RDWR), -ENOTCONN);
    ck_assert_int_eq(g_be->tcp_take_error(c), 0);
    ck_assert_uint_gt(*sc, was);
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 1);       /* twice touched, queued once */
    ck_assert_ptr_eq(u[0], &me);
    ck_assert_int_eq(g_be->tcp_shutdown(d, SHUT_RDWR), -ENOTCONN);
    ck_assert_int_eq(g_be->tcp_abort(d), 0);             /* the user lets go: dequeued */
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 0);
    g_be->tcp_set_user(c, NULL);
    ck_assert_int_eq(g_be->tcp_shutdown(c, SHUT_RDWR), -ENOTCONN);
    ck_assert_int_eq(g_be->tcp_touched(u, 4), 0);
    ck_assert_int_eq(g_be->tcp_abort(c), 0);
}
END_TEST

START_TEST(test_backend_udp_bind_port_close)
{
    struct bnet_udp *u, *v, *w;
    char buf[16];
    uint32_t sip;
    uint16_t sport;

    start(EAL_BASE "--vdev=net_null0,no-rx=1");
    ck_assert_int_eq(g_be->udp_bind(0, 8, &u), 0);
    ck_assert_uint_ne(g_be->udp_port(u), 0);
    ck_assert_int_eq(g_be->udp_bind(htons(5353), 8, &v), 0);
    ck_assert_uint_eq(g_be->udp_port(v), htons(5353));
    ck_assert_int_eq(g_be->udp_bind(htons(5353), 8, &w), -EADDRINUSE);
    ck_assert_int_eq(g_be->udp_pending(u), 0);
    ck_assert_int_eq(g_be->udp_recvfrom(u, buf, sizeof(buf), &sip, &sport), -EAGAIN);
    /* On-link destination: the datagram waits for ARP, the call still succeeds. */
    ck_assert_int_eq(g_be->udp_sendto(u, "hello", 5, inet_addr("10.9.0.3"), htons(7)), 5);
    ck_assert_int_eq(g_be->udp_sendto(u, buf, 65536, inet_addr("10.9.0.3"), htons(7)), -EMSGSIZE);
    g_be->poll();
    g_be->udp_close(v);
    ck_assert_int_eq(g_be->udp_bind(htons(5353), 8, &w), 0);
    g_be->udp_close(w);
    g_be->udp_close(u);
}
END_TEST

/* A failing init in this process: -errno, one line, and the same answer the second time. */
static void expect_init_fails(struct bypass_net_conf c, int want, const char *needle)
{
    char err[256] = "", err2[256] = "";
    int rc;

    load();
    rc = g_be->init(&c, err, sizeof(err));
    ck_assert_msg(rc == want, "init: %d, want %d (%s)", rc, want, err);
    assert_one_line(err);
    ck_assert_msg(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
    ck_assert_int_eq(g_be->init(&c, err2, sizeof(err2)), rc);
    ck_assert_str_eq(err2, err);
    ck_assert_int_eq(g_be->poll(), 0);
    ck_assert_uint_eq(g_be->local_ip(), 0);
}

START_TEST(test_backend_bad_eal_option_one_line)
{
    expect_init_fails(conf(EAL_BASE "--no-such-option --vdev=net_null0"), -EINVAL,
                      "EAL: cannot initialise (unrecognized option '--no-such-option')");
}
END_TEST

START_TEST(test_backend_bad_vdev_one_line)
{
    expect_init_fails(conf(EAL_BASE "--vdev=net_nosuchpmd0"), -ENODEV, "EAL: ");
}
END_TEST

START_TEST(test_backend_no_port)
{
    expect_init_fails(conf(EAL_BASE), -ENODEV, "no DPDK port (did you pass --vdev?)");
}
END_TEST

START_TEST(test_backend_bad_port_id)
{
    struct bypass_net_conf c = conf(EAL_BASE "--vdev=net_null0");

    c.port_id = 3;
    expect_init_fails(c, -ENODEV, "port 3: no such device");
}
END_TEST

START_TEST(test_backend_help_refused_process_lives)
{
    struct bypass_net_conf c = conf(EAL_BASE "--help");
    char err[256] = "";

    load();
    /* Refused before EAL runs, so a corrected configuration may still start. */
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    assert_one_line(err);
    ck_assert_msg(strstr(err, "--help"), "%s", err);
    c = conf("--vdev=net_null0,no-rx=1 '--no-huge' -m \"128\"");
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_backend_conf_refused_before_eal)
{
    struct bypass_net_conf c;
    char err[256];

    load();
    c = conf(EAL_BASE "--vdev=net_null0 'unbalanced");
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "unbalanced ' quote"), "%s", err);
    c = conf(EAL_BASE "--vdev=net_null0");
    c.ip = 0;
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "no local address"), "%s", err);
    c = conf(EAL_BASE "--vdev=net_null0");
    c.prefix_len = 33;
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    c.prefix_len = 24;
    c.fault = "seed=1,rx_lose=5";
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "BYPASS_NET_FAULT: unknown key 'rx_lose'"), "%s", err);
    assert_one_line(err);
    c.fault = "tx_drop=101%";
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    c.fault = "tx_drop";
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    c.fault = "seed=7,rx_drop=1%,tx_dup=20000";
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_backend_fault_applies)
{
    struct bypass_net_conf c = conf(EAL_BASE "--vdev=net_null0");
    char err[256], js[4096];
    const char *p;

    load();
    c.fault = "seed=3,rx_drop=50%";
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), 0);
    /* net_null delivers a full burst of empty frames per poll; about half are dropped. */
    for (int i = 0; i < 20; i++)
        g_be->poll();
    ck_assert_int_gt(g_be->stats_json(js, sizeof(js)), 0);
    p = strstr(js, "\"fault_rx_drop\":");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_gt(atoi(p + strlen("\"fault_rx_drop\":")), 0);
}
END_TEST

START_TEST(test_backend_no_port_names_pmd_error)
{
    /* The PMD's own complaint beats the generic hint. */
    expect_init_fails(conf(EAL_BASE "--vdev=net_af_packet0,iface=bnet-nosuch0"), -ENODEV,
                      "no DPDK port (net_af_packet0");
}
END_TEST

/* ---- two processes on one memif link: the path two bypass'ed programs take ---- */

#define MEMIF_GIVE_UP_US (10ull * 1000000)   /* a hung peer fails the test, not the suite */
#define ECHO_BYTES (256u * 1024)

static void memif_start(const char *role, const char *sock, const char *ip)
{
    char eal[256], err[256];
    struct bypass_net_conf c;
    int rc;

    snprintf(eal, sizeof(eal), EAL_BASE "--vdev=net_memif0,role=%s,socket=%s,socket-abstract=no",
             role, sock);
    c = conf(eal);
    c.ip = inet_addr(ip);
    load();
    rc = g_be->init(&c, err, sizeof(err));
    ck_assert_msg(rc == 0, "%s init: %d (%s)", role, rc, err);
}

/* The server: echo TCP on port 7 until the client closes, and one UDP datagram. */
static int memif_server(const char *sock)
{
    static char buf[16384];
    struct bnet_tcb *l, *c = NULL;
    struct bnet_udp *u;
    uint64_t end;
    int udp_done = 0, tcp_done = 0;

    memif_start("server", sock, "10.9.0.1");
    if (g_be->tcp_listen(htons(7), 4, &l) || g_be->udp_bind(htons(7), 16, &u))
        return 1;
    end = g_be->now_us() + MEMIF_GIVE_UP_US;
    while ((!udp_done || !tcp_done) && g_be->now_us() < end) {
        uint32_t sip;
        uint16_t sport;
        ssize_t k;

        g_be->poll();
        k = g_be->udp_recvfrom(u, buf, sizeof(buf), &sip, &sport);
        if (k > 0)
            udp_done = g_be->udp_sendto(u, buf, (size_t)k, sip, sport) == k;
        if (tcp_done || (!c && g_be->tcp_accept(l, &c) < 0))
            continue;   /* a closed handle is never used again */
        k = g_be->tcp_recv(c, buf, sizeof(buf));
        for (ssize_t off = 0; k > 0 && off < k && g_be->now_us() < end;) {
            ssize_t w = g_be->tcp_send(c, buf + off, (size_t)(k - off));

            if (w > 0)
                off += w;
            else if (w == -EAGAIN)
                g_be->poll();
            else
                return 1;
        }
        if (k == 0) {
            g_be->tcp_close(c);
            tcp_done = 1;
        }
    }
    /* Let the last ACKs and the FIN go out. */
    for (uint64_t t = g_be->now_us() + 200000; g_be->now_us() < t;)
        g_be->poll();
    return udp_done && tcp_done ? 0 : 1;
}

static uint8_t echo_byte(size_t i)
{
    return (uint8_t)(i * 131 + (i >> 9));
}

START_TEST(test_backend_memif_two_processes_echo)
{
    static uint8_t out[ECHO_BYTES], in[ECHO_BYTES];
    char sock[64], js[4096];
    struct bnet_tcb *c;
    struct bnet_udp *u;
    struct bnet_tcp_info info;
    size_t sent = 0, got = 0;
    uint32_t sip = 0;
    uint16_t sport = 0;
    uint64_t end;
    int st, udp_ok = 0;
    pid_t pid;

    snprintf(sock, sizeof(sock), "/tmp/bnet-test-%d.sock", (int)getpid());
    unlink(sock);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(memif_server(sock));
    /* A memif client cannot start before its server's socket exists. */
    for (int i = 0; i < 500 && access(sock, F_OK) < 0; i++)
        usleep(10000);
    memif_start("client", sock, "10.9.0.2");
    for (size_t i = 0; i < ECHO_BYTES; i++)
        out[i] = echo_byte(i);
    ck_assert_int_eq(g_be->udp_bind(0, 16, &u), 0);
    ck_assert_int_eq(g_be->tcp_connect(inet_addr("10.9.0.1"), htons(7), 0, &c), 0);
    end = g_be->now_us() + MEMIF_GIVE_UP_US;
    /* The first frames may leave before memif connects; ARP and SYN retries cover it. */
    while (got < ECHO_BYTES && g_be->now_us() < end) {
        ssize_t k;

        g_be->poll();
        if (sent < ECHO_BYTES) {
            k = g_be->tcp_send(c, out + sent, ECHO_BYTES - sent);
            ck_assert_msg(k > 0 || k == -EAGAIN, "send: %zd", k);
            sent += k > 0 ? (size_t)k : 0;
        }
        k = g_be->tcp_recv(c, in + got, ECHO_BYTES - got);
        ck_assert_msg(k > 0 || k == -EAGAIN, "recv: %zd", k);
        got += k > 0 ? (size_t)k : 0;
    }
    ck_assert_uint_eq(got, ECHO_BYTES);
    ck_assert(!memcmp(in, out, ECHO_BYTES));
    ck_assert_int_eq(g_be->tcp_info(c, &info), 0);
    ck_assert_uint_eq(info.rip, inet_addr("10.9.0.1"));
    ck_assert_uint_eq(info.rport, htons(7));
    /* TCP_INFO's numbers: sequence space with the SYN, segments, options, times */
    ck_assert_int_eq(info.state, BNET_TCP_ESTABLISHED);
    ck_assert_uint_eq(info.options, BNET_TCPI_TS | BNET_TCPI_SACK | BNET_TCPI_WSCALE);
    ck_assert_uint_eq(info.bytes_received, ECHO_BYTES);
    ck_assert_uint_ge(info.bytes_acked, 1);
    ck_assert_uint_le(info.bytes_acked, ECHO_BYTES + 1);
    ck_assert_uint_ge(info.bytes_sent, ECHO_BYTES);
    ck_assert_uint_gt(info.data_segs_in, 0);
    ck_assert_uint_ge(info.segs_out, info.data_segs_out);
    ck_assert_uint_gt(info.srtt_us, 0);
    ck_assert_uint_le(info.min_rtt_us, info.srtt_us * 8);
    ck_assert_uint_eq(info.pmtu, 1500);
    ck_assert_uint_gt(info.rcv_mss, 0);
    ck_assert_int_eq(g_be->tcp_close(c), 0);

    ck_assert_int_eq(g_be->udp_sendto(u, "dgram", 5, inet_addr("10.9.0.1"), htons(7)), 5);
    struct bnet_udp_meta meta;
    while (!udp_ok && g_be->now_us() < end) {
        char b[16];

        g_be->poll();
        udp_ok = g_be->udp_recvmsg(u, b, sizeof(b), &meta) == 5 && !memcmp(b, "dgram", 5);
    }
    ck_assert(udp_ok);
    sip = meta.sip;
    sport = meta.sport;
    ck_assert_uint_eq(sip, inet_addr("10.9.0.1"));
    ck_assert_uint_eq(sport, htons(7));
    /* the headers as received, and when */
    ck_assert_uint_eq(meta.dip, inet_addr("10.9.0.2"));
    ck_assert_uint_eq(meta.ttl, 64);
    ck_assert_uint_eq(meta.tos, 0);
    ck_assert_uint_eq(meta.ifindex, 0);    /* memif has no host interface */
    ck_assert_uint_gt(meta.rx_us, 0);
    ck_assert_uint_le(meta.rx_us, g_be->now_us());
    for (uint64_t t = g_be->now_us() + 200000; g_be->now_us() < t;)
        g_be->poll();
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    unlink(sock);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server status %#x", st);
    ck_assert_int_gt(g_be->stats_json(js, sizeof(js)), 0);
    ck_assert_msg(strstr(js, "\"tcp_rst_tx\":0,"), "%s", js);
}
END_TEST

/* SigBlk of thread @tid, from /proc. */
static unsigned long long thread_sigblk(const char *tid)
{
    char path[300], line[256];
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "SigBlk: %llx", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* 1 if thread @tid's name is @name. */
static int thread_named(const char *tid, const char *name)
{
    char path[300], comm[32] = "";
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", tid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = 0;
    fclose(f);
    comm[strcspn(comm, "\n")] = 0;
    return !strcmp(comm, name);
}

START_TEST(test_backend_eal_threads_block_signals)
{
    sigset_t before, after;
    cpu_set_t cpus_before, cpus_after;
    char self[16];
    struct dirent *d;
    DIR *dir;
    int others = 0, watch = 0;

    /* The guest's mask and CPUs, as a LibOS thread would have them. */
    sigemptyset(&before);
    sigaddset(&before, SIGUSR2);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    ck_assert_int_eq(sched_getaffinity(0, sizeof(cpus_before), &cpus_before), 0);
    start_watch(EAL_BASE "--vdev=net_null0,no-rx=1", 1000);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    ck_assert(sigismember(&after, SIGUSR2));
    ck_assert(!sigismember(&after, SIGUSR1));
    ck_assert_int_eq(sched_getaffinity(0, sizeof(cpus_after), &cpus_after), 0);
    ck_assert(CPU_EQUAL(&cpus_before, &cpus_after));
    /* Every thread EAL started blocks every signal the guest could send or raise. */
    snprintf(self, sizeof(self), "%d", (int)getpid());
    dir = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(dir);
    while ((d = readdir(dir))) {
        unsigned long long blk;

        if (d->d_name[0] == '.' || !strcmp(d->d_name, self))
            continue;
        blk = thread_sigblk(d->d_name);
        watch += thread_named(d->d_name, "bypass-watch");
        /* All but SIGKILL and SIGSTOP (which cannot be blocked) and glibc's own 32 and 33
         * (pthread_sigmask keeps those open). */
        ck_assert_msg((blk | 1ull << (SIGKILL - 1) | 1ull << (SIGSTOP - 1) | 1ull << 31 |
                       1ull << 32) == ~0ull, "thread %s SigBlk %llx", d->d_name, blk);
        others++;
    }
    closedir(dir);
    ck_assert_int_ge(others, 2);   /* EAL's interrupt thread at least, and the watch */
    ck_assert_int_eq(watch, 1);
}
END_TEST

/* EAL's complaints, usage text and log lines never reach the process's stdout or stderr:
 * they are the guest's.  The error line is all that comes out. */
START_TEST(test_backend_eal_output_captured)
{
    struct bypass_net_conf c = conf(EAL_BASE "--no-such-option --vdev=net_null0");
    char err[256];
    FILE *sink = tmpfile();

    ck_assert_ptr_nonnull(sink);
    load();
    fflush(stdout);
    fflush(stderr);
    ck_assert_int_ge(dup2(fileno(sink), 1), 0);
    ck_assert_int_ge(dup2(fileno(sink), 2), 0);
    ck_assert_int_eq(g_be->init(&c, err, sizeof(err)), -EINVAL);
    fflush(stdout);
    fflush(stderr);
    ck_assert_int_eq(lseek(fileno(sink), 0, SEEK_END), 0);
}
END_TEST

static Suite *backend_suite(void)
{
    Suite *s = suite_create("dpdk-net.backend");
    TCase *tc = tcase_create("module");

    tcase_add_test(tc, test_backend_abi_one_export);
    tcase_add_test(tc, test_backend_init_ring_announces);
    tcase_add_test(tc, test_backend_stats_json_parses);
    tcase_add_test(tc, test_backend_tx_hold_release);
    tcase_add_test(tc, test_backend_watch_sends_held);
    tcase_add_test(tc, test_backend_tcp_listen_connect_close);
    tcase_add_test(tc, test_backend_tcp_events_match_info_gen_moves);
    tcase_add_test(tc, test_backend_tcp_stamp_touched_queue);
    tcase_add_test(tc, test_backend_udp_bind_port_close);
    tcase_add_test(tc, test_backend_bad_eal_option_one_line);
    tcase_add_test(tc, test_backend_bad_vdev_one_line);
    tcase_add_test(tc, test_backend_no_port);
    tcase_add_test(tc, test_backend_bad_port_id);
    tcase_add_test(tc, test_backend_help_refused_process_lives);
    tcase_add_test(tc, test_backend_conf_refused_before_eal);
    tcase_add_test(tc, test_backend_fault_applies);
    tcase_add_test(tc, test_backend_eal_threads_block_signals);
    tcase_add_test(tc, test_backend_eal_output_captured);
    tcase_add_test(tc, test_backend_no_port_names_pmd_error);
    tcase_add_test(tc, test_backend_memif_two_processes_echo);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(backend_suite());
}
