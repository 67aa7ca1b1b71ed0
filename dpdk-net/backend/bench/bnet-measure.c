// SPDX-License-Identifier: MIT
// bnet-measure: what loading and starting libbypass-net.so costs a process: dlopen and init
// time, RSS, PSS and hugetlb memory after each step, threads started.  Not a test; the
// figures are in dpdk-net/backend/README.md.
//   bnet-measure [--module PATH] 'EAL ARGS'
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

struct mem {
    long rss, pss, huge;   /* kB */
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static struct mem mem_now(void)
{
    struct mem m = { 0 };
    char line[256];
    long v;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");

    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Rss: %ld", &v) == 1)
            m.rss = v;
        else if (sscanf(line, "Pss: %ld", &v) == 1)
            m.pss = v;
        else if (sscanf(line, "Private_Hugetlb: %ld", &v) == 1 ||
                 sscanf(line, "Shared_Hugetlb: %ld", &v) == 1)
            m.huge += v;
    }
    if (f)
        fclose(f);
    return m;
}

static int threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;

    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n - 2;   /* . and .. */
}

static void show(const char *step, struct mem m, struct mem base)
{
    printf("%-8s rss %6ld kB (+%6ld)  pss %6ld kB (+%6ld)  hugetlb %6ld kB  threads %d\n", step,
           m.rss, m.rss - base.rss, m.pss, m.pss - base.pss, m.huge, threads());
}

int main(int argc, char **argv)
{
    const char *path = getenv("BYPASS_NET_MODULE"), *eal;
    const struct bypass_net_backend *be;
    struct bypass_net_conf conf = { .ip = inet_addr("10.9.0.2"), .prefix_len = 24 };
    struct mem base;
    double t0, t1, t2;
    char err[256] = "";
    void *dl;
    int rc;

    if (argc == 4 && !strcmp(argv[1], "--module")) {
        path = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: bnet-measure [--module PATH] 'EAL ARGS'\n");
        return 2;
    }
    eal = argv[1];
    if (!path)
        path = BNET_MODULE;
    base = mem_now();
    show("start", base, base);
    t0 = now_ms();
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    t1 = now_ms();
    if (!dl) {
        fprintf(stderr, "bnet-measure: %s\n", dlerror());
        return 1;
    }
    be = dlsym(dl, BYPASS_NET_BACKEND_SYM);
    if (!be || be->abi != BYPASS_NET_BACKEND_ABI) {
        fprintf(stderr, "bnet-measure: %s: no backend table of ABI %d\n", path,
                BYPASS_NET_BACKEND_ABI);
        return 1;
    }
    show("dlopen", mem_now(), base);
    conf.eal_args = eal;
    rc = be->init(&conf, err, sizeof(err));
    t2 = now_ms();
    if (rc < 0) {
        fprintf(stderr, "bnet-measure: init: %s\n", err);
        return 1;
    }
    show("init", mem_now(), base);
    printf("dlopen %.2f ms, init %.1f ms\n", t1 - t0, t2 - t1);
    return 0;
}
