// SPDX-License-Identifier: MIT
// The sender's SACK scoreboard (RFC 2018) and its use in loss recovery (RFC 6675): ranges
// the peer holds above snd_una are never resent during recovery; the holes between them are
// resent (up to high_rxt) as the pipe leaves room in cwnd, and new data follows.  A resent
// hole that is still missing once data sent after it has been SACKed was lost again: the
// round of repair starts over instead of waiting for the RTO.  Also the sorted
// sequence-range set that both the scoreboard and the out-of-order queue use.
#include <string.h>

#include "tcp_int.h"

int dnet_seqrange_add(struct dnet_seqrange *r, uint8_t *n, unsigned max, uint32_t start,
                      uint32_t end)
{
    unsigned i = 0, j;

    while (i < *n && seq_lt(r[i].end, start))
        i++;
    if (i < *n && seq_le(r[i].start, end)) {
        /* Overlaps or touches range i: widen it, then absorb the ranges it now reaches. */
        if (seq_lt(start, r[i].start))
            r[i].start = start;
        if (seq_gt(end, r[i].end))
            r[i].end = end;
        for (j = i + 1; j < *n && seq_le(r[j].start, r[i].end); j++)
            if (seq_gt(r[j].end, r[i].end))
                r[i].end = r[j].end;
        memmove(&r[i + 1], &r[j], (*n - j) * sizeof(r[0]));
        *n = (uint8_t)(*n - (j - i - 1));
        return (int)i;
    }
    if (*n == max)
        return -1;
    memmove(&r[i + 1], &r[i], (*n - i) * sizeof(r[0]));
    r[i].start = start;
    r[i].end = end;
    (*n)++;
    return (int)i;
}

/* Bytes the scoreboard covers. */
static uint32_t sack_bytes(const struct dnet_tcb *tcb)
{
    uint32_t n = 0;

    for (unsigned i = 0; i < tcb->nsacked; i++)
        n += tcb->sacked[i].end - tcb->sacked[i].start;
    return n;
}

int dnet_tcp_sack_update(struct dnet_tcb *tcb, const struct tcp_seg *s)
{
    uint32_t before = sack_bytes(tcb);

    for (unsigned k = 0; k < s->opt.nsack; k++) {
        uint32_t start = s->opt.sack[k].start, end = s->opt.sack[k].end;

        /* Ignore D-SACKs (RFC 2883: at or below the ACK), empty and unsent ranges. */
        if (!seq_lt(start, end) || seq_le(end, s->ack) || seq_le(end, tcb->snd_una) ||
            seq_gt(end, tcb->snd_max))
            continue;
        if (seq_lt(start, tcb->snd_una))
            start = tcb->snd_una;
        /* A full board keeps what it has: a block not remembered only means a segment
         * may be resent needlessly. */
        (void)dnet_seqrange_add(tcb->sacked, &tcb->nsacked, TCP_SACK_MAX, start, end);
    }
    return sack_bytes(tcb) != before;
}

void dnet_tcp_sack_prune(struct dnet_tcb *tcb)
{
    unsigned i = 0;

    while (i < tcb->nsacked && seq_le(tcb->sacked[i].end, tcb->snd_una))
        i++;
    memmove(&tcb->sacked[0], &tcb->sacked[i], (tcb->nsacked - i) * sizeof(tcb->sacked[0]));
    tcb->nsacked = (uint8_t)(tcb->nsacked - i);
    if (tcb->nsacked && seq_lt(tcb->sacked[0].start, tcb->snd_una))
        tcb->sacked[0].start = tcb->snd_una;
    if (seq_lt(tcb->high_rxt, tcb->snd_una))
        tcb->high_rxt = tcb->snd_una;
}

void dnet_tcp_sack_clear(struct dnet_tcb *tcb)
{
    tcb->nsacked = 0;
    tcb->high_rxt = tcb->snd_una;
}

/* The first unSACKed byte at or after @from that lies below some SACKed range, and how many
 * bytes (at most one MSS) the hole has from there.  Returns 0 when there is none. */
static int sack_next_hole(const struct dnet_tcb *tcb, uint32_t from, uint32_t *seq, uint32_t *len)
{
    uint32_t s = from;

    for (unsigned i = 0; i < tcb->nsacked; i++) {
        if (seq_le(tcb->sacked[i].end, s))
            continue;
        if (seq_le(tcb->sacked[i].start, s)) {
            s = tcb->sacked[i].end;   /* inside a SACKed range: skip it */
            continue;
        }
        *seq = s;
        *len = RTE_MIN(tcb->sacked[i].start - s, tcb->mss);
        return 1;
    }
    return 0;
}

int dnet_tcp_sack_retransmit(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    uint32_t from = seq_gt(tcb->high_rxt, tcb->snd_una) ? tcb->high_rxt : tcb->snd_una;
    uint32_t seq, len;

    if (!sack_next_hole(tcb, from, &seq, &len))
        return 0;
    dnet_tcp_retransmit_at(ctx, tcb, seq, len);
    return 1;
}

uint32_t dnet_tcp_sack_pipe(const struct dnet_tcb *tcb)
{
    uint32_t top, rxt_end, s, pipe;

    if (!tcb->nsacked)
        return tcb->snd_max - tcb->snd_una;
    top = tcb->sacked[tcb->nsacked - 1].end;
    pipe = tcb->snd_max - top;
    rxt_end = seq_lt(tcb->high_rxt, top) ? tcb->high_rxt : top;
    s = tcb->snd_una;
    for (unsigned i = 0; i < tcb->nsacked && seq_lt(s, rxt_end); i++) {
        const struct dnet_seqrange *r = &tcb->sacked[i];

        if (seq_gt(r->start, s))
            pipe += (seq_lt(r->start, rxt_end) ? r->start : rxt_end) - s;
        if (seq_gt(r->end, s))
            s = r->end;
    }
    return pipe;
}

int dnet_tcp_sack_lost(const struct dnet_tcb *tcb)
{
    return tcb->sack_ok && sack_bytes(tcb) > 2 * tcb->mss;
}

void dnet_tcp_sack_recover(struct dnet_ctx *ctx, struct dnet_tcb *tcb)
{
    /* Data sent after this round began was SACKed (three segments of it, so reordering is
     * not mistaken for loss) while the first hole, resent early in the round, is still
     * missing: that retransmission was lost.  Start the round over from snd_una. */
    if (tcb->nsacked && seq_gt(tcb->high_rxt, tcb->snd_una) &&
        seq_ge(tcb->sacked[tcb->nsacked - 1].end, tcb->rxt_mark + 3 * tcb->mss)) {
        tcb->high_rxt = tcb->snd_una;
        tcb->rxt_mark = tcb->snd_max;
    }
    while (dnet_tcp_sack_pipe(tcb) + tcb->mss <= tcb->cwnd && dnet_tcp_sack_retransmit(ctx, tcb))
        ctx->st.tcp_fast_retrans++;
}
