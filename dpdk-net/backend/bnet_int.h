// SPDX-License-Identifier: MIT
// libbypass-net.so internals: the configuration parsers (conf.c), the EAL start-up (eal.c)
// and the counters as JSON (stats.c), shared by backend.c, which holds the exported table.
#ifndef BNET_INT_H
#define BNET_INT_H

#include <stddef.h>
#include <stdio.h>

#include "dpdk-net/ctx.h"
#include "dpdk-net/fault.h"

/* Words of the --dpdk string we accept; EAL command lines are a handful of words. */
#define BNET_ARGS_MAX 64
/* Words the backend may add to them (see bnet_args_defaults). */
#define BNET_ARGS_ADDED 8

/* An EAL argv: argv[0], the user's words, then the defaults the backend adds. */
struct bnet_args {
    int argc;
    char *argv[1 + BNET_ARGS_MAX + BNET_ARGS_ADDED + 1];
    char *words;            /* the user's words, packed; EAL may keep pointers into them */
    char lcores[512];       /* "--lcores=0@(...)" when we add it */
    int quiet;              /* we chose the log level: EAL's messages are ours to keep */
};

/*
 * Split @p s on blanks into @p a (after argv[0] "bypass-net"); '...' and "..." group words
 * with blanks (no escapes, quotes may appear inside a word).  @p a->words stays allocated:
 * EAL keeps pointers into its argv.  On error one line goes to @p err.
 * @return 0; -EINVAL for an unbalanced quote or an option we refuse (-h/--help exits the
 *         process, -d loads shared drivers next to the static EAL); -E2BIG for more than
 *         BNET_ARGS_MAX words; -ENOMEM.
 */
int bnet_args_split(struct bnet_args *a, const char *s, char *err, size_t errlen);

/*
 * Append what a LibOS needs unless the user chose otherwise: --no-pci unless PCI devices
 * are selected (-a/--allow/-b/--block), --in-memory unless a file or process mode is
 * named, --no-telemetry, --log-level=error, and --lcores=0@(the caller's CPUs).
 */
void bnet_args_defaults(struct bnet_args *a);

/*
 * Parse BYPASS_NET_FAULT: "key=value,..." with keys seed, {rx,tx}_{drop,dup,corrupt,reorder};
 * probabilities in parts per million or "N%".  NULL or "" is all zero (off).
 * @return 0; -EINVAL with one line in @p err.
 */
int bnet_fault_parse(const char *s, struct dnet_fault_conf *fc, char *err, size_t errlen);

/* While the backend starts, the host's stdout, stderr and the DPDK log all write to one
 * memstream (eal.c).  Only host code (ours and DPDK's) uses the host's FILE objects; the
 * guest has its own libc, so swapping them never touches the guest's output. */
struct bnet_capture {
    FILE *f, *out, *err;
    char *text;
    size_t len;
};

/* Start capturing.  @return 0; -ENOMEM. */
int bnet_capture_start(struct bnet_capture *c);
/* Bytes captured so far (an offset for bnet_capture_pick). */
size_t bnet_capture_mark(struct bnet_capture *c);
/*
 * The line captured after offset @p from that says best what went wrong: the first one
 * before EAL's usage text (getopt's complaint, EAL's or a PMD's error), else the first
 * "EAL: " line after it; without getopt's or a PMD's "function(): " prefix and a final '.'.
 * @p line is "" if nothing was captured.
 */
void bnet_capture_pick(struct bnet_capture *c, size_t from, char *line, size_t len);
/* Stop: DPDK logs to the host's stderr from now on (never to syslog, EAL's default); the
 * captured text is written there too if @p replay.  Frees the text. */
void bnet_capture_stop(struct bnet_capture *c, int replay);

/*
 * rte_eal_init(@p a) with every signal blocked (EAL's threads inherit the mask and must
 * never take the guest's signals) and the caller's CPU affinity restored afterwards, inside
 * the caller's capture @p cap.  On failure one line goes to @p err:
 * "EAL: cannot initialise (...)".
 * @return 0; -rte_errno (-EINVAL when EAL gives none).
 */
int bnet_eal_init(struct bnet_args *a, struct bnet_capture *cap, char *err, size_t errlen);

/*
 * Write @p st as one JSON object {"rx_pkts":N,...}, every field of struct dnet_stats in
 * order, NUL-terminated, into @p buf.
 * @return the length written (without the NUL); -ENOSPC if @p len is too small.
 */
int bnet_stats_json(const struct dnet_stats *st, char *buf, size_t len);

#endif
