// SPDX-License-Identifier: MIT
// libbypass-net.so: dpdk-net and DPDK behind the LibOS's backend table (libos/src/net/
// backend.h).  One port; one context per queue pair, each entered by one thread at a time;
// every call is a thin wrapper over dpdk-net/socket.h on the context of its endpoint.  The
// table is the module's only exported symbol.
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include "backend.h"
#include "bnet_int.h"
#include "dpdk-net/ctx.h"
#include "dpdk-net/port.h"
#include "dpdk-net/socket.h"

/* Contexts at most: one per queue pair of the port. */
#define BNET_CTX_MAX 16
/* A context whose home threads have not polled it for this long is polled by any thread
 * that waits (its owners may be busy, asleep, or gone). */
#define BNET_STALE_US 50

/* One context and what serialises it.  Only one thread is ever inside a context; its
 * holder draws mbufs from the mempool cache of the context's own lcore id, so the cache
 * is per context too, and the packet path shares nothing with the other contexts. */
struct bnet_ctx {
    struct dnet_ctx *ctx;
    uint32_t lock;            /* 0 free, 1 held */
    unsigned lcore;           /* lcore id (mempool cache) of whoever holds it */
    uint32_t owners;          /* threads whose home context it is */
    uint64_t polled;          /* TSC of its last poll by a home thread */
    uint64_t seen;            /* TSC of its last poll by anyone */
} __rte_cache_aligned;

/* The process's one backend: EAL can start once, so its outcome is kept and replayed. */
static struct {
    int tried;                /* rte_eal_init has run (rc/err are final) */
    int rc;
    char err[256];
    struct bnet_args args;    /* EAL keeps pointers into its argv */
    struct dnet_port port;
    int port_up;
    int n;                    /* contexts in c[] (0 until the port is up) */
    uint32_t next_home;       /* round robin of the threads' home contexts */
    uint64_t stale_tsc;       /* BNET_STALE_US in TSC ticks */
    uint32_t ip;
    uint32_t ifindex;         /* the kernel's index of the port's host interface, 0 = none */
    unsigned watch_us;        /* bnet_watch's period; 0 = no watch thread */
    pthread_t watch;
    struct bnet_ctx c[BNET_CTX_MAX];
} g_bnet;

/* The calling thread's home context: where its connections and datagram sockets go and
 * which it polls first; assigned round robin at its first call. */
static __thread int t_home = -1;

/* A listener on several contexts, one block in each (the LibOS sees one handle: this,
 * with the low bit set, so the table tells it from a connection's block). */
struct bnet_lgroup {
    struct dnet_tcb *t[BNET_CTX_MAX];
    uint32_t queued;                 /* SYN + accept queues of all of them: one backlog */
};

/* Contexts wanted: @asked, else one per CPU the caller may run on, within what the
 * device offers.  Except on memif, where that count is not the device's to say: both ends
 * configure their rings and the link runs the smaller count, but a server with fewer rings
 * than its client refuses the link, and one with more reads one ring from two queues.
 * Both ends must agree, so memif takes one pair unless told. */
static int bnet_ctx_want(uint16_t pid, const struct rte_eth_dev_info *di, unsigned asked,
                         char *err, size_t errlen)
{
    cpu_set_t cpus;
    unsigned n = asked, max;

    max = RTE_MIN(RTE_MIN((unsigned)di->max_rx_queues, (unsigned)di->max_tx_queues),
                  (unsigned)BNET_CTX_MAX);
    if (!n && !strcmp(di->driver_name, "net_memif"))
        return 1;
    if (!n) {
        n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? (unsigned)CPU_COUNT(&cpus) : 1;
        return (int)RTE_MAX(1u, RTE_MIN(n, max));
    }
    if (n > max) {
        snprintf(err, errlen, "port %u: %u queue pairs asked, the device offers %u", pid, n,
                 max);
        return -EINVAL;
    }
    return (int)n;
}

/* Half dpdk-net's default pool for one queue pair (9.7 MB instead of 19.4): the stack keeps
 * TCP data in byte buffers, not mbufs, so mbufs are only in flight (RX bursts, the TX
 * buffer, ARP and UDP queues, reassembly); 4095 leaves room for a 1024-descriptor RX ring
 * (net_tap) and UDP queues.  Each further queue pair adds a ring's worth and its cache. */
#define BNET_MBUFS_FIRST 4095u
#define BNET_MBUFS_MORE 2048u

/* Port, contexts and announcement on the port EAL found.  On failure the port is down
 * and the error line quotes the PMD's complaint when it made one. */
static int bnet_port_start(const struct bypass_net_conf *conf, const struct dnet_fault_conf *fc,
                           struct bnet_capture *cap, char *err, size_t errlen)
{
    struct dnet_port_conf pc = { 0 };
    struct dnet_ctx_conf cc = { 0 };
    struct rte_eth_dev_info di;
    uint16_t pid = conf->port_id;
    char why[200];
    size_t from;
    int rc, n;

    if (rte_eth_dev_count_avail() == 0) {
        /* A vdev that failed to probe does not stop EAL; its PMD said why. */
        bnet_capture_pick(cap, 0, why, sizeof(why));
        snprintf(err, errlen, "no DPDK port (%s)", why[0] ? why : "did you pass --vdev?");
        return -ENODEV;
    }
    if (!rte_eth_dev_is_valid_port(pid)) {
        snprintf(err, errlen, "port %u: no such device (%u ports)", pid,
                 rte_eth_dev_count_avail());
        return -ENODEV;
    }
    if ((rc = rte_eth_dev_info_get(pid, &di)) != 0) {
        snprintf(err, errlen, "port %u: no device information (%s)", pid, strerror(-rc));
        return rc;
    }
    n = bnet_ctx_want(pid, &di, conf->queues, err, errlen);
    if (n < 0)
        return n;
    pc.nb_queues = (uint16_t)n;
    pc.nb_mbufs = BNET_MBUFS_FIRST + BNET_MBUFS_MORE * (unsigned)(n - 1);
    from = bnet_capture_mark(cap);
    rc = dnet_port_setup(&g_bnet.port, pid, &pc);
    if (rc < 0) {
        /* PMDs often return a bare -1: their message is the better half. */
        bnet_capture_pick(cap, from, why, sizeof(why));
        snprintf(err, errlen, "port %u: cannot start (%s)", pid, why[0] ? why : strerror(-rc));
        return rc == -1 ? -EIO : rc;
    }
    g_bnet.port_up = 1;
    cc.ip = conf->ip;
    cc.prefix_len = conf->prefix_len;
    cc.gateway = conf->gw;
    cc.fault = *fc;
    for (int q = 0; q < n; q++) {
        struct bnet_ctx *b = &g_bnet.c[q];

        cc.queue = (uint16_t)q;
        /* One fault stream per context, each seeded apart from the others. */
        cc.fault.seed = fc->seed + (uint64_t)q;
        rc = dnet_ctx_create(&b->ctx, &g_bnet.port, &cc);
        if (rc < 0) {
            snprintf(err, errlen, "port %u: context %d: %s", pid, q, strerror(-rc));
            while (q-- > 0)
                dnet_ctx_destroy(g_bnet.c[q].ctx);
            dnet_port_teardown(&g_bnet.port);
            g_bnet.port_up = 0;
            return rc;
        }
        /* Context 0 keeps the lcore EAL ran on; the others take ids of their own. */
        b->lcore = (rte_get_main_lcore() + (unsigned)q) % RTE_MAX_LCORE;
    }
    g_bnet.ip = conf->ip;
    g_bnet.stale_tsc = rte_get_tsc_hz() / 1000000u * BNET_STALE_US;
    g_bnet.ifindex = di.if_index;
    /* Neighbours (and the kernel's ARP cache on a veth) learn our address now, before the
     * first connection; one poll sends it. */
    dnet_arp_announce(g_bnet.c[0].ctx);
    dnet_ctx_poll(g_bnet.c[0].ctx);
    __atomic_store_n(&g_bnet.n, n, __ATOMIC_RELEASE);
    return 0;
}

static void *bnet_watch(void *arg);

static int bnet_start(const struct bypass_net_conf *conf, char *err, size_t errlen)
{
    struct dnet_fault_conf fc;
    struct bnet_capture cap;
    int rc;

    /* Check what we can before EAL runs: it runs once, a typo must not cost the process
     * its network. */
    if (!conf->ip) {
        snprintf(err, errlen, "no local address (--ip=A.B.C.D/N)");
        return -EINVAL;
    }
    if (conf->prefix_len > 32) {
        snprintf(err, errlen, "bad prefix length /%u", conf->prefix_len);
        return -EINVAL;
    }
    rc = bnet_fault_parse(conf->fault, &fc, err, errlen);
    if (rc < 0)
        return rc;
    rc = bnet_args_split(&g_bnet.args, conf->eal_args, err, errlen);
    if (rc < 0)
        return rc;
    bnet_args_defaults(&g_bnet.args);
    rc = bnet_capture_start(&cap);
    if (rc < 0) {
        snprintf(err, errlen, "EAL: cannot initialise (out of memory)");
        return rc;
    }

    g_bnet.tried = 1;
    rc = bnet_eal_init(&g_bnet.args, &cap, err, errlen);
    if (rc == 0) {
        rc = bnet_port_start(conf, &fc, &cap, err, errlen);
        if (rc < 0)
            rte_eal_cleanup();   /* give the memory back; EAL cannot start again anyway */
    }
    if (rc == 0 && conf->watch_us) {
        g_bnet.watch_us = conf->watch_us;
        rc = -pthread_create(&g_bnet.watch, NULL, bnet_watch, NULL);
        if (rc < 0)
            snprintf(err, errlen, "cannot start the watch thread: %s", strerror(-rc));
        else
            pthread_setname_np(g_bnet.watch, "bypass-watch");
    }
    /* What DPDK said goes to stderr only if the user chose the log level: the guest's
     * stderr is no place for EAL's chatter, and failures are in @err already. */
    bnet_capture_stop(&cap, rc == 0 && !g_bnet.args.quiet);
    return rc;
}

/* Set the GS base to @gs; return the old one (FSGSBASE: the LibOS requires it). */
static uint64_t gs_swap(uint64_t gs)
{
    uint64_t old;

    __asm__ volatile("rdgsbase %0" : "=r"(old));
    __asm__ volatile("wrgsbase %0" : : "r"(gs) : "memory");
    return old;
}

static int bnet_init(const struct bypass_net_conf *conf, char *err, size_t errlen)
{
    sigset_t all, old;
    int rc;

    if (!g_bnet.tried) {
        if (!conf) {
            snprintf(err, errlen, "no configuration");
            return -EINVAL;
        }
        /* PMDs may start threads too (and EAL's are started inside bnet_eal_init):
         * none of them may ever take one of the guest's signals. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        /* They also copy the caller's GS base, which the LibOS reads to find a guest
         * thread's block: they must start with 0, as host-only threads.  With every
         * signal blocked nothing reads it in between. */
        uint64_t gs = gs_swap(0);
        rc = bnet_start(conf, g_bnet.err, sizeof(g_bnet.err));
        gs_swap(gs);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!g_bnet.tried) {
            /* Refused before EAL ran: the caller may fix the configuration and retry. */
            snprintf(err, errlen, "%s", g_bnet.err);
            return rc;
        }
        g_bnet.rc = rc;
    }
    if (g_bnet.rc < 0)
        snprintf(err, errlen, "%s", g_bnet.err);
    return g_bnet.rc;
}

/* ---- contexts: a lock each, taken by the thread inside it ----
 * The LibOS calls in from any thread; the only call it makes without its own lock is
 * poll().  Each context is entered by one thread at a time, which takes the identity of the
 * context's lcore so the mempool cache it uses is the context's (a thread other than the
 * one that started EAL would otherwise get LCORE_ID_ANY and take every mbuf from the
 * pool's ring: a CAS per burst, 9% of wrk's time over net_memif).  Waits on a lock are
 * short: its holder runs one poll or one call, never a wait. */

static inline int bc_trylock(struct bnet_ctx *b)
{
    if (__atomic_load_n(&b->lock, __ATOMIC_RELAXED) ||
        __atomic_exchange_n(&b->lock, 1, __ATOMIC_ACQUIRE))
        return 0;
    RTE_PER_LCORE(_lcore_id) = b->lcore;
    return 1;
}

static void __attribute__((noinline)) bc_lock_slow(struct bnet_ctx *b)
{
    /* The holder may have lost its CPU: after a while, give it ours. */
    for (unsigned i = 0; !bc_trylock(b); i++) {
        if (i < 1024)
            rte_pause();
        else
            sched_yield();
    }
}

static inline struct dnet_ctx *bc_lock(struct bnet_ctx *b)
{
    if (unlikely(!bc_trylock(b)))
        bc_lock_slow(b);
    return b->ctx;
}

/* What a call queued for the wire (data, ACKs, SYN, FIN, RST) leaves before the context
 * is let go, not at the next poll: a program that writes and then blocks in the kernel
 * must not hold its data back, and the peer starts on it at once.  A thread whose owner
 * tracks what it holds (tx_hold) lets its calls on a connection keep theirs queued
 * (bc_unlock_held). */
static inline void bc_unlock(struct bnet_ctx *b)
{
    dnet_ctx_flush(b->ctx);
    __atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE);
}

/* Held frames (tx_hold): the contexts where the calling thread's calls left frames
 * queued, and the flag that tells its owner (the LibOS) so. */
static __thread uint32_t t_held;
static __thread uint8_t *t_hold_flag;

/* bc_unlock for a call of a thread that holds its frames: they stay queued until its
 * next poll or tx_release, or until any other call on the context sends them. */
static inline void bc_unlock_held(struct bnet_ctx *b)
{
    uint8_t *flag = t_hold_flag;

    if (flag && dnet_ctx_tx_queued(b->ctx)) {
        t_held |= 1u << (b - g_bnet.c);
        *flag = 1;
        __atomic_store_n(&b->lock, 0, __ATOMIC_RELEASE);
        return;
    }
    bc_unlock(b);
}

static void bnet_tx_release(void)
{
    uint32_t m = t_held;

    t_held = 0;
    if (t_hold_flag)
        *t_hold_flag = 0;
    while (m) {
        struct bnet_ctx *b = &g_bnet.c[__builtin_ctz(m)];

        m &= m - 1;
        bc_lock(b);
        bc_unlock(b);
    }
}

static void bnet_tx_hold(uint8_t *flag)
{
    bnet_tx_release();
    t_hold_flag = flag;
}

static void bnet_thread_exit(void)
{
    bnet_tx_release();
    t_hold_flag = NULL;
    if (t_home >= 0)
        __atomic_fetch_sub(&g_bnet.c[t_home].owners, 1, __ATOMIC_RELAXED);
    t_home = -1;
}

static inline struct bnet_ctx *bc_of_tcb(const struct bnet_tcb *t)
{
    return &g_bnet.c[dnet_tcb_queue((const struct dnet_tcb *)t)];
}

static inline struct bnet_ctx *bc_of_udp(const struct bnet_udp *u)
{
    return &g_bnet.c[dnet_udp_queue((const struct dnet_udp_sock *)u)];
}

static int bnet_home(void)
{
    int h = t_home;

    if (unlikely(h < 0)) {
        h = (int)(__atomic_fetch_add(&g_bnet.next_home, 1, __ATOMIC_RELAXED) %
                  (uint32_t)g_bnet.n);
        __atomic_fetch_add(&g_bnet.c[h].owners, 1, __ATOMIC_RELAXED);
        t_home = h;
    }
    return h;
}

/* Where an endpoint bound to @port (network order; 0 = any) lives: a fixed port's context
 * is port % n, the rule by which every context of the port sends a segment for it on
 * (dpdk-net's ownership rule); any port: the caller's home, which picks one it owns. */
static int bnet_ctx_for_port(uint16_t port)
{
    return port ? rte_be_to_cpu_16(port) % g_bnet.n : bnet_home();
}

/* Poll the caller's home context and every context no home thread has polled of late
 * (it has no owner, or its owners are busy or asleep); skip those another thread is
 * inside already. */
static int bnet_poll(void)
{
    int n = 0, home;

    if (g_bnet.n <= 1) {
        struct bnet_ctx *b = &g_bnet.c[0];
        if (g_bnet.n == 1 && bc_trylock(b)) {
            __atomic_store_n(&b->seen, rte_rdtsc(), __ATOMIC_RELAXED);
            n = dnet_ctx_poll(b->ctx);
            bc_unlock(b);
            t_held = 0;
        }
        bnet_tx_release();	/* held where it did not poll; clears the flag */
        return n;
    }
    home = bnet_home();
    uint64_t now = rte_rdtsc();
    for (int c = 0; c < g_bnet.n; c++) {
        struct bnet_ctx *b = &g_bnet.c[c];

        if (c != home && __atomic_load_n(&b->owners, __ATOMIC_RELAXED) &&
            now - __atomic_load_n(&b->polled, __ATOMIC_RELAXED) < g_bnet.stale_tsc)
            continue;
        if (!bc_trylock(b))
            continue;
        if (c == home)
            __atomic_store_n(&b->polled, now, __ATOMIC_RELAXED);
        __atomic_store_n(&b->seen, now, __ATOMIC_RELAXED);
        n += dnet_ctx_poll(b->ctx);
        bc_unlock(b);
        t_held &= ~(1u << c);
    }
    bnet_tx_release();
    return n;
}

/* The watch: poll each context no thread polled for watch_us, so the stack runs while
 * the program's threads sleep in the kernel or compute, as the kernel's does: ACKs,
 * window updates, ARP and ICMP answers, retransmissions, keepalives, and frames a
 * computing thread held (tx_hold) leave.  It looks every watch_us while its polls find
 * packets, and backs off to BNET_WATCH_BACKOFF times that while they find none (a quiet
 * process asleep: 0.22% of a core measured; its first answer after a quiet spell may take
 * that long).
 * A host-only thread: started with every signal blocked and GS base 0 (bnet_init). */
#define BNET_WATCH_BACKOFF 8u

static void *bnet_watch(void *arg)
{
    const uint64_t stale = rte_get_tsc_hz() / 1000000u * g_bnet.watch_us;
    unsigned mult = 1;

    (void)arg;
    for (;;) {
        struct timespec period = { 0, (long)g_bnet.watch_us * mult * 1000 };
        int busy = 0;

        nanosleep(&period, NULL);
        for (int c = 0; c < g_bnet.n; c++) {
            struct bnet_ctx *b = &g_bnet.c[c];
            uint64_t now = rte_rdtsc();

            if (now - __atomic_load_n(&b->seen, __ATOMIC_RELAXED) < stale || !bc_trylock(b))
                continue;
            __atomic_store_n(&b->seen, now, __ATOMIC_RELAXED);
            busy |= dnet_ctx_poll(b->ctx) > 0;
            bc_unlock(b);
        }
        mult = busy ? 1 : RTE_MIN(mult * 2, BNET_WATCH_BACKOFF);
    }
    return NULL;
}

static uint64_t bnet_now_us(void)
{
    return g_bnet.n ? dnet_ctx_now_us(g_bnet.c[0].ctx) : 0;
}

/* ---- TCP: the handles are dpdk-net's tcbs under the table's opaque name, or a listener
 * group (low bit set) ---- */

static inline struct dnet_tcb *tcb(struct bnet_tcb *t)
{
    return (struct dnet_tcb *)t;
}

static inline struct bnet_lgroup *lgroup(const struct bnet_tcb *t)
{
    return (uintptr_t)t & 1 ? (struct bnet_lgroup *)((uintptr_t)t - 1) : NULL;
}

static int bnet_tcp_close(struct bnet_tcb *t);

static int bnet_tcp_listen(uint16_t port, int backlog, struct bnet_tcb **out)
{
    struct bnet_lgroup *g;
    struct dnet_tcb *t = NULL;
    int rc;

    *out = NULL;
    if (!g_bnet.n)
        return -ENETDOWN;
    if (g_bnet.n == 1) {
        rc = dnet_tcp_listen(bc_lock(&g_bnet.c[0]), port, backlog, &t);
        bc_unlock(&g_bnet.c[0]);
        *out = (struct bnet_tcb *)t;
        return rc;
    }
    /* A listener in every context: a connection lives where its SYN arrived.  The
     * backlog is the group's, as one socket's. */
    g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    for (int c = 0; c < g_bnet.n; c++) {
        rc = dnet_tcp_listen(bc_lock(&g_bnet.c[c]), port, backlog, &g->t[c]);
        if (rc == 0)
            dnet_tcp_listen_share(g->t[c], &g->queued);
        bc_unlock(&g_bnet.c[c]);
        if (rc < 0) {
            bnet_tcp_close((struct bnet_tcb *)((uintptr_t)g + 1));
            return rc;
        }
    }
    *out = (struct bnet_tcb *)((uintptr_t)g + 1);
    return 0;
}

static int bnet_tcp_accept(struct bnet_tcb *lsn, struct bnet_tcb **out)
{
    struct bnet_lgroup *g = lgroup(lsn);
    struct dnet_tcb *t = NULL;
    int rc;

    if (!g) {
        struct bnet_ctx *b = bc_of_tcb(lsn);
        rc = dnet_tcp_accept(bc_lock(b), tcb(lsn), &t);
        bc_unlock(b);
        *out = (struct bnet_tcb *)t;
        return rc;
    }
    /* The caller's home first, then the others in turn. */
    int home = bnet_home();
    rc = -EAGAIN;
    for (int i = 0; i < g_bnet.n && rc == -EAGAIN; i++) {
        int c = (home + i) % g_bnet.n;
        rc = dnet_tcp_accept(bc_lock(&g_bnet.c[c]), g->t[c], &t);
        bc_unlock(&g_bnet.c[c]);
    }
    *out = (struct bnet_tcb *)t;
    return rc;
}

static int bnet_tcp_connect_tx(uint32_t dip, uint16_t dport, uint16_t sport, uint8_t ttl,
                               uint8_t tos, struct bnet_tcb **out)
{
    struct dnet_tcb *t = NULL;
    int rc = -ENETDOWN;

    if (g_bnet.n) {
        struct bnet_ctx *b = &g_bnet.c[bnet_ctx_for_port(sport)];
        rc = dnet_tcp_connect_tx(bc_lock(b), dip, dport, sport, ttl, tos, &t);
        bc_unlock(b);
    }
    *out = (struct bnet_tcb *)t;
    return rc;
}

static int bnet_tcp_port_next(uint32_t dip, uint16_t dport, uint16_t *sport)
{
    int rc = -ENETDOWN;

    *sport = 0;
    if (g_bnet.n) {
        struct bnet_ctx *b = &g_bnet.c[bnet_home()];
        rc = dnet_tcp_pick_port(bc_lock(b), dip, dport, sport);
        bc_unlock(b);
    }
    return rc;
}

static int bnet_tcp_connect(uint32_t dip, uint16_t dport, uint16_t sport, struct bnet_tcb **out)
{
    return bnet_tcp_connect_tx(dip, dport, sport, 0, 0, out);
}

static ssize_t bnet_tcp_send(struct bnet_tcb *t, const void *buf, size_t len)
{
    struct bnet_ctx *b = bc_of_tcb(t);
    ssize_t r = dnet_tcp_send(bc_lock(b), tcb(t), buf, len);

    bc_unlock_held(b);
    return r;
}

static ssize_t bnet_tcp_recv(struct bnet_tcb *t, void *buf, size_t len)
{
    struct bnet_ctx *b = bc_of_tcb(t);
    ssize_t r = dnet_tcp_recv(bc_lock(b), tcb(t), buf, len);

    bc_unlock_held(b);
    return r;
}

static ssize_t bnet_tcp_send_copy(struct bnet_tcb *t, size_t len, bnet_copy_fn *copy, void *arg)
{
    struct bnet_ctx *b = bc_of_tcb(t);
    ssize_t r = dnet_tcp_send_copy(bc_lock(b), tcb(t), len, copy, arg);

    bc_unlock_held(b);
    return r;
}

static ssize_t bnet_tcp_recv_copy(struct bnet_tcb *t, size_t len, bnet_copy_fn *copy, void *arg)
{
    struct bnet_ctx *b = bc_of_tcb(t);
    ssize_t r = dnet_tcp_recv_copy(bc_lock(b), tcb(t), len, copy, arg);

    bc_unlock_held(b);
    return r;
}

/* @fn on @t's block, or on each block of a listener group (the first error wins).  What
 * a call on a connection queues (a FIN, a RST, a tail the cork held) is held as a send's
 * is (bc_unlock_held): closing or uncorking one connection does not push out every frame
 * the thread's round has queued. */
#define BNET_EACH(t, fn, ...)                                                         \
    ({                                                                                \
        struct bnet_lgroup *g_ = lgroup(t);                                           \
        int rc_ = 0;                                                                  \
        if (!g_) {                                                                    \
            struct bnet_ctx *b_ = bc_of_tcb(t);                                       \
            rc_ = fn(bc_lock(b_), tcb(t), ##__VA_ARGS__);                             \
            bc_unlock_held(b_);                                                       \
        } else {                                                                      \
            for (int c_ = 0; c_ < g_bnet.n; c_++) {                                   \
                if (!g_->t[c_])                                                       \
                    continue;                                                         \
                int r_ = fn(bc_lock(&g_bnet.c[c_]), g_->t[c_], ##__VA_ARGS__);        \
                bc_unlock(&g_bnet.c[c_]);                                             \
                if (r_ < 0 && rc_ == 0)                                               \
                    rc_ = r_;                                                         \
            }                                                                         \
        }                                                                             \
        rc_;                                                                          \
    })

static int bnet_tcp_shutdown(struct bnet_tcb *t, int how)
{
    return BNET_EACH(t, dnet_tcp_shutdown, how);
}

static int bnet_tcp_set_backlog(struct bnet_tcb *t, int backlog)
{
    return BNET_EACH(t, dnet_tcp_set_backlog, backlog);
}

static int bnet_tcp_close(struct bnet_tcb *t)
{
    int rc = BNET_EACH(t, dnet_tcp_close);

    free(lgroup(t));
    return rc;
}

static int bnet_tcp_abort(struct bnet_tcb *t)
{
    int rc = BNET_EACH(t, dnet_tcp_abort);

    free(lgroup(t));
    return rc;
}

static int tcb_take_error(struct dnet_ctx *ctx, struct dnet_tcb *t)
{
    return dnet_tcp_take_error(ctx, t);
}

static int bnet_tcp_take_error(struct bnet_tcb *t)
{
    /* A positive errno, not a failure: a group's blocks (listeners) have none. */
    if (lgroup(t))
        return 0;
    return BNET_EACH(t, tcb_take_error);
}

/* Setting TCP_NODELAY sends what Nagle or the cork held, as on Linux. */
static int tcb_set_nodelay(struct dnet_ctx *ctx, struct dnet_tcb *t, int on)
{
    dnet_tcp_set_nodelay(t, on);
    if (on)
        dnet_tcp_push(ctx, t);
    return 0;
}

static int bnet_tcp_set_nodelay(struct bnet_tcb *t, int on)
{
    return BNET_EACH(t, tcb_set_nodelay, on);
}

static int bnet_tcp_set_cork(struct bnet_tcb *t, int on)
{
    return BNET_EACH(t, dnet_tcp_set_cork, on);
}

static int bnet_tcp_set_reuse(struct bnet_tcb *t, int reuse)
{
    return BNET_EACH(t, dnet_tcp_set_reuse, reuse);
}

/* A connection lives in any context (accepted ones where their SYN came): ask each. */
static int bnet_tcp_port_held(uint16_t port, int reuse)
{
    int held = 0;

    for (int c = 0; c < g_bnet.n && !held; c++) {
        held = dnet_tcp_port_held(bc_lock(&g_bnet.c[c]), port, reuse);
        bc_unlock(&g_bnet.c[c]);
    }
    return held;
}

static int bnet_tcp_set_tx(struct bnet_tcb *t, uint8_t ttl, uint8_t tos, uint32_t notsent_lowat)
{
    return BNET_EACH(t, dnet_tcp_set_tx, ttl, tos, notsent_lowat);
}

static int bnet_tcp_set_keepalive(struct bnet_tcb *t, uint32_t idle_s, uint32_t intvl_s,
                                  uint32_t cnt)
{
    return BNET_EACH(t, dnet_tcp_set_keepalive, idle_s, intvl_s, cnt);
}

static int tcb_set_user(struct dnet_ctx *ctx, struct dnet_tcb *t, void *user)
{
    dnet_tcp_set_user(ctx, t, user);
    return 0;
}

static void bnet_tcp_set_user(struct bnet_tcb *t, void *user)
{
    BNET_EACH(t, tcb_set_user, user);
}

/* One block's snapshot (its context held). */
static int tcb_info(struct dnet_ctx *ctx, const struct dnet_tcb *t, struct bnet_tcp_info *info)
{
    struct dnet_tcp_info di;
    struct dnet_tcp_stats st;
    int rc = dnet_tcp_info(t, &di);

    if (rc < 0)
        return rc;
    rc = dnet_tcp_stats(ctx, t, &st);
    if (rc < 0)
        return rc;
    memset(info, 0, sizeof(*info));
    info->state = (int)di.state;
    info->events = di.events;
    info->error = di.error;
    info->rcv_avail = di.rcv_avail;
    info->snd_space = di.snd_space;
    info->snd_mss = di.snd_mss;
    info->lip = di.lip;
    info->rip = di.rip;
    info->lport = di.lport;
    info->rport = di.rport;
    info->ca_state = st.ca_state;
    info->retransmits = st.retransmits;
    info->probes = st.probes;
    info->backoff = st.backoff;
    info->options = (st.ts_ok ? BNET_TCPI_TS : 0) | (st.sack_ok ? BNET_TCPI_SACK : 0) |
                    (st.ws_ok ? BNET_TCPI_WSCALE : 0);
    info->snd_wscale = st.snd_wscale;
    info->rcv_wscale = st.rcv_wscale;
    info->rto_us = st.rto_us;
    info->ato_us = st.ato_us;
    info->rcv_mss = st.rcv_mss;
    info->advmss = st.advmss;
    info->pmtu = st.pmtu;
    info->unacked = st.unacked;
    info->sacked = st.sacked;
    info->srtt_us = st.srtt_us;
    info->rttvar_us = st.rttvar_us;
    info->min_rtt_us = st.min_rtt_us;
    info->cwnd = st.cwnd;
    info->ssthresh = st.ssthresh;
    info->rcv_wnd = st.rcv_wnd;
    info->rcv_space = st.rcv_space;
    info->snd_wnd = st.snd_wnd;
    info->last_data_sent_ms = st.last_data_sent_ms;
    info->last_data_recv_ms = st.last_data_recv_ms;
    info->last_ack_recv_ms = st.last_ack_recv_ms;
    info->segs_out = st.segs_out;
    info->segs_in = st.segs_in;
    info->data_segs_out = st.data_segs_out;
    info->data_segs_in = st.data_segs_in;
    info->total_retrans = st.total_retrans;
    info->delivered = st.delivered;
    info->notsent_bytes = st.notsent_bytes;
    info->outq = st.outq;
    info->bytes_acked = st.bytes_acked;
    info->bytes_received = st.bytes_received;
    info->bytes_sent = st.bytes_sent;
    info->bytes_retrans = st.bytes_retrans;
    info->last_data_recv_us = st.last_data_recv_us;
    return 0;
}

static int bnet_tcp_info(const struct bnet_tcb *t, struct bnet_tcp_info *info)
{
    struct bnet_lgroup *g = lgroup(t);
    struct bnet_tcp_info one;
    int rc;

    if (!g) {
        struct bnet_ctx *b = bc_of_tcb(t);
        rc = tcb_info(bc_lock(b), (const struct dnet_tcb *)t, info);
        bc_unlock(b);
        return rc;
    }
    /* A listener group: the first block's (the backlog is the group's), with every
     * context's accept queue counted. */
    for (int c = 0; c < g_bnet.n; c++) {
        rc = tcb_info(bc_lock(&g_bnet.c[c]), g->t[c], c ? &one : info);
        bc_unlock(&g_bnet.c[c]);
        if (rc < 0)
            return rc;
        if (c) {
            info->unacked += one.unacked;
            info->events |= one.events;
        }
    }
    return 0;
}

/* So do the states. */
_Static_assert(BNET_TCP_CLOSED == DNET_TCP_CLOSED && BNET_TCP_LISTEN == DNET_TCP_LISTEN &&
               BNET_TCP_SYN_SENT == DNET_TCP_SYN_SENT && BNET_TCP_SYN_RCVD == DNET_TCP_SYN_RCVD &&
               BNET_TCP_ESTABLISHED == DNET_TCP_ESTABLISHED &&
               BNET_TCP_FIN_WAIT_1 == DNET_TCP_FIN_WAIT_1 &&
               BNET_TCP_FIN_WAIT_2 == DNET_TCP_FIN_WAIT_2 &&
               BNET_TCP_CLOSE_WAIT == DNET_TCP_CLOSE_WAIT && BNET_TCP_CLOSING == DNET_TCP_CLOSING &&
               BNET_TCP_LAST_ACK == DNET_TCP_LAST_ACK && BNET_TCP_TIME_WAIT == DNET_TCP_TIME_WAIT,
               "TCP states differ");

/* The events pass through unchanged: both sets are the EPOLL* values. */
_Static_assert(DNET_EV_IN == BNET_IN && DNET_EV_OUT == BNET_OUT && DNET_EV_ERR == BNET_ERR &&
               DNET_EV_HUP == BNET_HUP && DNET_EV_RDHUP == BNET_RDHUP, "readiness bits differ");
_Static_assert((int)DNET_REUSEADDR == (int)BNET_REUSEADDR &&
               (int)DNET_REUSEPORT == (int)BNET_REUSEPORT, "SO_REUSE* bits differ");

static uint32_t bnet_tcp_events(const struct bnet_tcb *t, uint32_t *rcv_avail)
{
    struct bnet_lgroup *g = lgroup(t);
    uint32_t ev = 0;

    if (!g) {
        struct bnet_ctx *b = bc_of_tcb(t);
        bc_lock(b);
        ev = dnet_tcp_events((const struct dnet_tcb *)t, rcv_avail);
        bc_unlock(b);
        return ev;
    }
    for (int c = 0; c < g_bnet.n; c++) {
        bc_lock(&g_bnet.c[c]);
        ev |= dnet_tcp_events(g->t[c], NULL);
        bc_unlock(&g_bnet.c[c]);
    }
    if (rcv_avail)
        *rcv_avail = 0;
    return ev;
}

/* The sum of the contexts' generations moves whenever one of them does. */
static uint64_t bnet_ready_gen(void)
{
    uint64_t gen = 0;

    for (int c = 0; c < g_bnet.n; c++)
        gen += dnet_ctx_gen(g_bnet.c[c].ctx);
    return gen;
}

/* A listener group has no stamp of its own: NULL, ask tcp_events every time. */
static const uint64_t *bnet_tcp_ev_stamp(const struct bnet_tcb *t)
{
    return lgroup(t) ? NULL : dnet_tcp_ev_stamp((const struct dnet_tcb *)t);
}

static int bnet_tcp_touched(void **users, int max)
{
    int n = 0;

    for (int c = 0; c < g_bnet.n && n < max; c++) {
        struct bnet_ctx *b = &g_bnet.c[c];
        n += dnet_tcp_touched(bc_lock(b), users + n, max - n);
        bc_unlock(b);
    }
    return n;
}

/* ---- UDP: an endpoint lives in the context its port says ---- */

static inline struct dnet_udp_sock *usock(struct bnet_udp *u)
{
    return (struct dnet_udp_sock *)u;
}

static int bnet_udp_bind(uint16_t port, uint32_t qlen, struct bnet_udp **out)
{
    struct dnet_udp_sock *u = NULL;
    int rc = -ENETDOWN;

    if (g_bnet.n) {
        struct bnet_ctx *b = &g_bnet.c[bnet_ctx_for_port(port)];
        rc = dnet_udp_bind(bc_lock(b), port, qlen, &u);
        bc_unlock(b);
    }
    *out = (struct bnet_udp *)u;
    return rc;
}

static ssize_t bnet_udp_sendto_ext(struct bnet_udp *u, const void *buf, size_t len,
                                   uint32_t dip, uint16_t dport, uint8_t ttl, uint8_t tos)
{
    struct bnet_ctx *b = bc_of_udp(u);
    ssize_t r = dnet_udp_sendto_ext(bc_lock(b), usock(u), buf, len, dip, dport, ttl, tos);

    bc_unlock_held(b);
    return r;
}

static ssize_t bnet_udp_sendto(struct bnet_udp *u, const void *buf, size_t len, uint32_t dip,
                               uint16_t dport)
{
    return bnet_udp_sendto_ext(u, buf, len, dip, dport, 0, 0);	/* the defaults */
}

static ssize_t bnet_udp_recvfrom(struct bnet_udp *u, void *buf, size_t len, uint32_t *sip,
                                 uint16_t *sport)
{
    struct bnet_ctx *b = bc_of_udp(u);
    ssize_t r = dnet_udp_recvfrom(bc_lock(b), usock(u), buf, len, sip, sport);

    bc_unlock(b);
    return r;
}

static ssize_t bnet_udp_recvmsg(struct bnet_udp *u, void *buf, size_t len,
                                struct bnet_udp_meta *meta)
{
    struct bnet_ctx *b = bc_of_udp(u);
    struct dnet_udp_meta dm;
    ssize_t r = dnet_udp_recvmsg(bc_lock(b), usock(u), buf, len, &dm);

    bc_unlock(b);
    if (r < 0)
        return r;
    meta->sip = dm.sip;
    meta->dip = dm.dip;
    meta->sport = dm.sport;
    meta->ttl = dm.ttl;
    meta->tos = dm.tos;
    meta->ifindex = g_bnet.ifindex;
    meta->rx_us = dm.rx_us;
    return r;
}

static uint32_t bnet_udp_pending(const struct bnet_udp *u)
{
    struct bnet_ctx *b = bc_of_udp(u);

    bc_lock(b);
    uint32_t n = dnet_udp_pending((const struct dnet_udp_sock *)u);
    bc_unlock(b);
    return n;
}

static uint16_t bnet_udp_port(const struct bnet_udp *u)
{
    return dnet_udp_port((const struct dnet_udp_sock *)u);
}

static void bnet_udp_close(struct bnet_udp *u)
{
    struct bnet_ctx *b = bc_of_udp(u);

    dnet_udp_close(bc_lock(b), usock(u));
    bc_unlock(b);
}

/* ---- the rest ---- */

static uint32_t bnet_local_ip(void)
{
    return g_bnet.n ? g_bnet.ip : 0;
}

/* Every counter is a uint64_t: the process's figures are the contexts' sums. */
_Static_assert(sizeof(struct dnet_stats) % sizeof(uint64_t) == 0, "dnet_stats is not all u64");

/* The contexts' counters summed, after how many contexts there are, the frames each
 * received and sent and its home threads:
 * {"contexts":N,"ctx0_rx_pkts":..,"ctx0_tx_pkts":..,"ctx0_owners":..,...,"rx_pkts":...}. */
static int bnet_stats(char *buf, size_t len)
{
    struct dnet_stats sum = { 0 }, one;
    uint64_t *d = (uint64_t *)&sum;
    char head[32 + BNET_CTX_MAX * 96];
    int h, n;

    if (!g_bnet.n)
        return -ENETDOWN;
    h = snprintf(head, sizeof(head), "{\"contexts\":%d", g_bnet.n);
    for (int c = 0; c < g_bnet.n; c++) {
        one = *dnet_ctx_stats(bc_lock(&g_bnet.c[c]));
        bc_unlock(&g_bnet.c[c]);
        for (size_t i = 0; i < sizeof(sum) / sizeof(*d); i++)
            d[i] += ((const uint64_t *)&one)[i];
        h += snprintf(head + h, sizeof(head) - (size_t)h,
                      ",\"ctx%d_rx_pkts\":%" PRIu64 ",\"ctx%d_tx_pkts\":%" PRIu64
                      ",\"ctx%d_owners\":%u", c, one.rx_pkts, c, one.tx_pkts, c,
                      __atomic_load_n(&g_bnet.c[c].owners, __ATOMIC_RELAXED));
    }
    n = bnet_stats_json(&sum, buf, len);
    if (n < 0)
        return n;
    /* The head replaces the object's "{" and is followed by a ",". */
    if ((size_t)n + (size_t)h + 1 >= len)
        return -ENOSPC;
    memmove(buf + h + 1, buf + 1, (size_t)n);
    memcpy(buf, head, (size_t)h);
    buf[h] = ',';
    return n + h;
}

static int bnet_ctx_count(void)
{
    return g_bnet.n;
}

static uint32_t bnet_if_index(void)
{
    return g_bnet.n ? g_bnet.ifindex : 0;
}

__attribute__((visibility("default")))
const struct bypass_net_backend bypass_net_backend = {
    .abi = BYPASS_NET_BACKEND_ABI,
    .init = bnet_init,
    .poll = bnet_poll,
    .now_us = bnet_now_us,
    .tcp_listen = bnet_tcp_listen,
    .tcp_accept = bnet_tcp_accept,
    .tcp_connect = bnet_tcp_connect,
    .tcp_send = bnet_tcp_send,
    .tcp_recv = bnet_tcp_recv,
    .tcp_shutdown = bnet_tcp_shutdown,
    .tcp_close = bnet_tcp_close,
    .tcp_abort = bnet_tcp_abort,
    .tcp_info = bnet_tcp_info,
    .tcp_take_error = bnet_tcp_take_error,
    .tcp_set_nodelay = bnet_tcp_set_nodelay,
    .tcp_set_keepalive = bnet_tcp_set_keepalive,
    .udp_bind = bnet_udp_bind,
    .udp_sendto = bnet_udp_sendto,
    .udp_recvfrom = bnet_udp_recvfrom,
    .udp_pending = bnet_udp_pending,
    .udp_port = bnet_udp_port,
    .udp_close = bnet_udp_close,
    .local_ip = bnet_local_ip,
    .stats_json = bnet_stats,
    .tcp_events = bnet_tcp_events,
    .ready_gen = bnet_ready_gen,
    .udp_recvmsg = bnet_udp_recvmsg,
    .tcp_ev_stamp = bnet_tcp_ev_stamp,
    .tcp_set_user = bnet_tcp_set_user,
    .tcp_touched = bnet_tcp_touched,
    .ctx_count = bnet_ctx_count,
    .tcp_set_tx = bnet_tcp_set_tx,
    .udp_sendto_ext = bnet_udp_sendto_ext,
    .if_index = bnet_if_index,
    .tcp_connect_tx = bnet_tcp_connect_tx,
    .tx_hold = bnet_tx_hold,
    .tx_release = bnet_tx_release,
    .thread_exit = bnet_thread_exit,
    .tcp_send_copy = bnet_tcp_send_copy,
    .tcp_recv_copy = bnet_tcp_recv_copy,
    .tcp_set_backlog = bnet_tcp_set_backlog,
    .tcp_set_cork = bnet_tcp_set_cork,
    .tcp_set_reuse = bnet_tcp_set_reuse,
    .tcp_port_held = bnet_tcp_port_held,
    .tcp_port_next = bnet_tcp_port_next,
};
