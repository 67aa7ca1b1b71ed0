// SPDX-License-Identifier: MIT
// EAL start-up inside somebody else's process: rte_eal_init with every signal blocked and
// the caller's CPU affinity kept, and DPDK's console output (getopt complaints, usage text,
// log lines) captured so that a failure becomes one line for the LibOS instead of a page.
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include "bnet_int.h"

int bnet_capture_start(struct bnet_capture *c)
{
    memset(c, 0, sizeof(*c));
    c->f = open_memstream(&c->text, &c->len);
    if (!c->f)
        return -ENOMEM;
    c->out = stdout;
    c->err = stderr;
    stdout = c->f;
    stderr = c->f;
    rte_openlog_stream(c->f);
    return 0;
}

size_t bnet_capture_mark(struct bnet_capture *c)
{
    fflush(c->f);   /* updates c->text and c->len */
    return c->len;
}

void bnet_capture_pick(struct bnet_capture *c, size_t from, char *line, size_t len)
{
    const char *best = NULL, *p;
    size_t n;

    line[0] = 0;
    if (from >= bnet_capture_mark(c))
        return;
    p = c->text + from;
    for (int in_usage = 0; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        size_t l = strcspn(p, "\n");

        if (!strncmp(p, "Usage:", 6))
            in_usage = 1;
        if (l == 0 || (in_usage && strncmp(p, "EAL: ", 5)))
            continue;
        best = p;
        break;
    }
    if (!best)
        return;
    n = strcspn(best, "\n");
    /* getopt prefixes argv[0] ("bypass-net: unrecognized option '--x'"), PMDs their
     * function ("rte_pmd_init_internals(): net_af_packet0: ioctl failed ..."). */
    if (!strncmp(best, "bypass-net: ", 12)) {
        best += 12;
        n -= 12;
    } else {
        const char *f = memmem(best, n, "(): ", 4);

        if (f && !memchr(best, ' ', (size_t)(f - best))) {
            n -= (size_t)(f + 4 - best);
            best = f + 4;
        }
    }
    while (n && (best[n - 1] == ' ' || best[n - 1] == '.' || best[n - 1] == '\r'))
        n--;
    snprintf(line, len, "%.*s", (int)n, best);
}

void bnet_capture_stop(struct bnet_capture *c, int replay)
{
    stdout = c->out;
    stderr = c->err;
    rte_openlog_stream(stderr);
    fclose(c->f);
    if (replay && c->len)
        fputs(c->text, stderr);
    free(c->text);
    c->text = NULL;
}

int bnet_eal_init(struct bnet_args *a, struct bnet_capture *cap, char *err, size_t errlen)
{
    cpu_set_t cpus;
    sigset_t all, old;
    char why[200];
    size_t from = bnet_capture_mark(cap);
    int rc, e, have_cpus;

    have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;
    /* EAL's interrupt and control threads inherit this mask: the guest's signals must go
     * to the guest's threads, never to a DPDK thread that cannot run their handlers. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = rte_eal_init(a->argc, a->argv);
    e = rte_errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* EAL pins the calling thread to lcore 0's CPUs; it is the guest's thread, give its
     * affinity back. */
    if (have_cpus)
        pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
    if (rc >= 0)
        return 0;
    bnet_capture_pick(cap, from, why, sizeof(why));
    if (!why[0])
        snprintf(why, sizeof(why), "%s", rte_strerror(e ? e : EINVAL));
    snprintf(err, errlen, "EAL: cannot initialise (%s)", why);
    return e > 0 ? -e : -EINVAL;
}
