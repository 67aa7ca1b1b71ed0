// SPDX-License-Identifier: MIT
// The backend's configuration strings: the --dpdk EAL argument string split into an argv
// with the defaults a LibOS needs, and BYPASS_NET_FAULT's "key=value,..." list.
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnet_int.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n';
}

int bnet_args_split(struct bnet_args *a, const char *s, char *err, size_t errlen)
{
    char *w;

    memset(a, 0, sizeof(*a));
    a->argv[a->argc++] = "bypass-net";
    /* Every word but the last is followed by a blank in @s, and quotes only shrink a word,
     * so the packed words with their NULs fit in strlen(s) + 1 bytes. */
    a->words = malloc(strlen(s ? s : "") + 1);
    if (!a->words) {
        snprintf(err, errlen, "EAL arguments: out of memory");
        return -ENOMEM;
    }
    w = a->words;
    while (s && *s) {
        char quote = 0;

        while (is_blank(*s))
            s++;
        if (!*s)
            break;
        if (a->argc == 1 + BNET_ARGS_MAX) {
            snprintf(err, errlen, "EAL arguments: more than %d words", BNET_ARGS_MAX);
            return -E2BIG;
        }
        a->argv[a->argc++] = w;
        for (; *s && (quote || !is_blank(*s)); s++) {
            if (quote && *s == quote)
                quote = 0;
            else if (!quote && (*s == '\'' || *s == '"'))
                quote = *s;
            else
                *w++ = *s;
        }
        if (quote)
            return ERR("EAL arguments: unbalanced %c quote", quote);
        *w++ = 0;
    }
    a->argv[a->argc] = NULL;
    for (int i = 1; i < a->argc; i++) {
        const char *o = a->argv[i];

        /* EAL's --help prints to stdout and exits the process. */
        if (!strcmp(o, "-h") || !strcmp(o, "--help"))
            return ERR("EAL: %s is not supported here (see dpdk.org's EAL parameters)", o);
        /* A shared driver would bring its own shared EAL next to our static one. */
        if (!strncmp(o, "-d", 2))
            return ERR("EAL: -d cannot load drivers: the module links net_af_packet, "
                       "net_memif, net_null, net_ring and net_tap in");
    }
    return 0;
}

/* Is any of @names among the user's options?  "--x" matches "--x" and "--x=...";
 * "-x" matches "-x" and "-xVALUE". */
static int args_has(const struct bnet_args *a, const char *const *names)
{
    for (int i = 1; i < a->argc; i++) {
        const char *o = a->argv[i];

        for (const char *const *n = names; *n; n++) {
            size_t l = strlen(*n);

            if (strncmp(o, *n, l))
                continue;
            if ((*n)[1] != '-' || o[l] == 0 || o[l] == '=')
                return 1;
        }
    }
    return 0;
}

static void args_add(struct bnet_args *a, char *word)
{
    a->argv[a->argc++] = word;
    a->argv[a->argc] = NULL;
}

/* "--lcores=0@(0-1,4)": lcore 0 floats over the CPUs the caller may run on, so EAL pins
 * the calling thread nowhere new and starts no worker threads.  0 if the mask is unknown. */
static int args_lcores(char *buf, size_t len)
{
    cpu_set_t set;
    size_t n;
    int first = 1;

    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return 0;
    n = (size_t)snprintf(buf, len, "--lcores=0@(");
    for (int c = 0; c < CPU_SETSIZE && n < len; c++) {
        int e = c;

        if (!CPU_ISSET(c, &set))
            continue;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, &set))
            e++;
        n += (size_t)snprintf(buf + n, len - n, e > c ? "%s%d-%d" : "%s%d",
                              first ? "" : ",", c, e);
        first = 0;
        c = e;
    }
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, ")");
    return !first && n < len;
}

void bnet_args_defaults(struct bnet_args *a)
{
    static const char *const pci[] = { "-a", "--allow", "-b", "--block", "-w",
                                       "--pci-whitelist", "--pci-blacklist", "--no-pci", NULL };
    static const char *const mem[] = { "--in-memory", "--no-shconf", "--file-prefix",
                                       "--proc-type", NULL };
    static const char *const nohuge[] = { "--no-huge", NULL };
    static const char *const tel[] = { "--telemetry", "--no-telemetry", NULL };
    static const char *const lvl[] = { "--log-level", NULL };
    static const char *const lc[] = { "-l", "-c", "--lcores", NULL };

    /* Probing PCI would take the machine's own NIC (virtio) away from the kernel. */
    if (!args_has(a, pci))
        args_add(a, "--no-pci");
    /* One process, no secondaries: no files under /var/run/dpdk or hugetlbfs to collide
     * or linger.  --no-huge implies legacy memory, which --in-memory refuses. */
    if (!args_has(a, mem))
        args_add(a, args_has(a, nohuge) ? "--no-shconf" : "--in-memory");
    /* Telemetry is a thread and a socket per process that a guest never asked for. */
    if (!args_has(a, tel))
        args_add(a, "--no-telemetry");
    /* EAL's INFO chatter would land on the guest's stderr. */
    if (!args_has(a, lvl)) {
        args_add(a, "--log-level=error");
        a->quiet = 1;
    }
    if (!args_has(a, lc) && args_lcores(a->lcores, sizeof(a->lcores)))
        args_add(a, a->lcores);
}

/* The fault keys: "seed", then {rx,tx}_{drop,dup,corrupt,reorder}. */
static uint32_t *fault_field(struct dnet_fault_conf *fc, const char *key)
{
    static const char *const kinds[] = { "drop", "dup", "corrupt", "reorder" };
    struct dnet_fault_dir *d = !strncmp(key, "rx_", 3) ? &fc->rx : &fc->tx;
    uint32_t *f[] = { &d->drop_ppm, &d->dup_ppm, &d->corrupt_ppm, &d->reorder_ppm };

    if (strncmp(key, "rx_", 3) && strncmp(key, "tx_", 3))
        return NULL;
    for (unsigned i = 0; i < 4; i++)
        if (!strcmp(key + 3, kinds[i]))
            return f[i];
    return NULL;
}

int bnet_fault_parse(const char *s, struct dnet_fault_conf *fc, char *err, size_t errlen)
{
    char buf[512], *save = NULL;

    memset(fc, 0, sizeof(*fc));
    if (!s || !*s)
        return 0;
    if (strlen(s) >= sizeof(buf))
        return ERR("BYPASS_NET_FAULT: too long");
    strcpy(buf, s);
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end;
        unsigned long long v;
        uint32_t *f;

        if (!eq)
            return ERR("BYPASS_NET_FAULT: '%s' is not key=value", kv);
        *eq = 0;
        errno = 0;
        v = strtoull(eq + 1, &end, 0);
        if (errno || end == eq + 1 || (*end && strcmp(end, "%")) || eq[1] == '-')
            return ERR("BYPASS_NET_FAULT: bad value '%s' for %s", eq + 1, kv);
        if (!strcmp(kv, "seed")) {
            if (*end)
                return ERR("BYPASS_NET_FAULT: bad value '%s' for seed", eq + 1);
            fc->seed = v;
            continue;
        }
        f = fault_field(fc, kv);
        if (!f)
            return ERR("BYPASS_NET_FAULT: unknown key '%s' (want seed, rx_drop, rx_dup, "
                       "rx_corrupt, rx_reorder, tx_...)", kv);
        if (*end)
            v = v > 100 ? DNET_FAULT_PPM + 1ull : v * (DNET_FAULT_PPM / 100);
        if (v > DNET_FAULT_PPM)
            return ERR("BYPASS_NET_FAULT: %s=%s is above %u ppm (100%%)", kv, eq + 1,
                       DNET_FAULT_PPM);
        *f = (uint32_t)v;
    }
    return 0;
}
