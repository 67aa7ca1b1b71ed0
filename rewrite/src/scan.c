/* SPDX-License-Identifier: MIT */
/* rewrite_region_scan: find candidate `0f 05` bytes with a byte search, decode only the
 * functions that hold them (linearly, from their .eh_frame start), and hand every decoded
 * `syscall` to the planner (plan.c). */
#include <emmintrin.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite_int.h"

/* A stretch of the region decoded as one piece. */
enum unit_kind {
	UNIT_FUNC,	/* a known function: decode all, resync after errors */
	UNIT_SWEEP,	/* bytes with no known start: decode until the first error, trap */
	UNIT_WHOLE,	/* no functions known: the whole region is one function */
};

struct unit {
	size_t start, end;	/* region offsets */
	size_t c0, c1;		/* its candidates: cand[c0 .. c1) */
	enum unit_kind kind;
	const char *why;	/* UNIT_SWEEP: reason its sites trap */
};

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static bool tbit(const struct rewrite_ctx *ctx, size_t off)
{
	size_t i = off - ctx->fstart;

	return ctx->tbits[i >> 3] >> (i & 7) & 1;
}

/* Decode [from, to) linearly into ctx->insn and ctx->tbits.  With @resync a decode error
 * skips one byte and goes on; without, decoding stops.  *@fail gets the first error's
 * offset or SIZE_MAX.  Instructions never cross @to.  Returns 0 or -ENOMEM. */
static int decode_range(struct rewrite_ctx *ctx, size_t from, size_t to, bool resync, size_t *fail)
{
	const uint8_t *b = ctx->r->bytes;
	size_t off = from;

	ctx->ninsn = 0;
	ctx->fstart = from;
	ctx->fend = to;
	*fail = SIZE_MAX;
	if ((to - from + 7) / 8 > ctx->captbits) {
		free(ctx->tbits);
		ctx->captbits = (to - from + 7) / 8;
		ctx->tbits = malloc(ctx->captbits);
		if (!ctx->tbits) {
			ctx->captbits = 0;
			return -ENOMEM;
		}
	}
	memset(ctx->tbits, 0, (to - from + 7) / 8);
	while (off < to) {
		ZydisDecodedInstruction in;
		size_t t;

		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&ctx->dec, NULL, b + off,
								to - off, &in))) {
			if (*fail == SIZE_MAX)
				*fail = off;
			if (!resync)
				break;
			off++;
			continue;
		}
		if (REWRITE_GROW(ctx->insn, ctx->ninsn, ctx->capinsn, 1024))
			return -ENOMEM;
		ctx->insn[ctx->ninsn++] = (struct rewrite_insn){
			(uint32_t)off, in.length, rewrite_insn_classify(ctx->r, &in, off, &t) };
		if (t >= from && t < to)
			ctx->tbits[(t - from) >> 3] |= (uint8_t)(1 << ((t - from) & 7));
		off += in.length;
	}
	return 0;
}

/* Index of the decoded instruction holding region offset @off, or SIZE_MAX. */
static size_t insn_at(const struct rewrite_ctx *ctx, size_t off)
{
	size_t lo = 0, hi = ctx->ninsn;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ctx->insn[mid].off + ctx->insn[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ctx->ninsn && ctx->insn[lo].off <= off ? lo : SIZE_MAX;
}

/* Mark decoded instructions that known branches land on.  The function's own branches
 * are exact: one landing inside an instruction marks it HIT (overlapping code, e.g.
 * a jump over a lock prefix).  Cross-function byte patterns are guesses and only
 * count where they meet an instruction boundary. */
static void mark_targets(struct rewrite_ctx *ctx)
{
	size_t lo = 0, hi = ctx->nxtgt;

	for (size_t k = 0; k < ctx->ninsn; k++) {
		struct rewrite_insn *in = &ctx->insn[k];

		if (tbit(ctx, in->off))
			in->flags |= REWRITE_I_TARGET;
		for (size_t b = 1; b < in->len; b++)
			if (tbit(ctx, in->off + b))
				in->flags |= REWRITE_I_HIT;
	}
	while (lo < hi) {	/* first cross target >= fstart */
		size_t mid = lo + (hi - lo) / 2;

		if (ctx->xtgt[mid] < ctx->fstart)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ctx->nxtgt && ctx->xtgt[lo] < ctx->fend; lo++) {
		size_t k = insn_at(ctx, ctx->xtgt[lo]);

		if (k != SIZE_MAX && ctx->insn[k].off == ctx->xtgt[lo])
			ctx->insn[k].flags |= REWRITE_I_TARGET;
	}
}

/* Plan every syscall of one unit. */
static int unit_plan(struct rewrite_ctx *ctx, const struct unit *u, const size_t *cand)
{
	bool whole = u->kind == UNIT_WHOLE;
	size_t fail;
	int err;

	err = decode_range(ctx, u->start, u->end, u->kind != UNIT_SWEEP, &fail);
	if (!err && u->kind != UNIT_SWEEP)
		mark_targets(ctx);
	for (size_t k = 0; k < ctx->ninsn && !err; k++) {
		const struct rewrite_insn *in = &ctx->insn[k];

		if (!(in->flags & REWRITE_I_SYSCALL))
			continue;
		if (u->kind == UNIT_SWEEP)
			err = rewrite_plan_trap(ctx, in->off, in->len, u->why);
		else if (fail != SIZE_MAX && (!whole || in->off > fail))
			err = rewrite_plan_trap(ctx, in->off, in->len, whole ?
					   "undecodable bytes before site" :
					   "undecodable bytes in function");
		else
			err = rewrite_plan_site(ctx, k);
	}
	/* a `0f 05` that a known branch reaches in the middle of an instruction is a
	 * syscall too: the kernel will see it, so report it as a trap */
	for (size_t c = u->c0; c < u->c1 && !err && u->kind != UNIT_SWEEP; c++) {
		size_t k = insn_at(ctx, cand[c]);

		if (k != SIZE_MAX && ctx->insn[k].off != cand[c] &&
		    !(ctx->insn[k].flags & REWRITE_I_SYSCALL) &&
		    tbit(ctx, cand[c]))
			err = rewrite_plan_trap(ctx, cand[c], 2,
						"syscall reached by a jump into an instruction");
	}
	return err;
}

/* Possible branch targets near candidates from bytes outside their function: every
 * e8/e9 rel32 and 0f 8x rel32 pattern in the region, and short-jump patterns within
 * rel8 reach, taken at face value (no decoding: a stray pattern can only make the planner
 * more careful).  This finds the jumps from split-off `.cold` parts back into their
 * function.  Only targets within a window's reach of a candidate matter, so candidates
 * mark 64-byte blocks and the byte search runs 16 bytes at a time (SSE2). */
#define XBLK_SHIFT 6

static int cross_add(struct rewrite_ctx *ctx, const struct unit *u, size_t nu, const uint8_t *blk,
		     size_t p, int64_t t)
{
	size_t a = 0, z = nu;

	if (t < 0 || (uint64_t)t >= ctx->r->len || !blk[(size_t)t >> XBLK_SHIFT])
		return 0;
	while (a < z) {	/* unit holding t */
		size_t mid = a + (z - a) / 2;

		if (u[mid].end <= (size_t)t)
			a = mid + 1;
		else
			z = mid;
	}
	if (a == nu || u[a].kind != UNIT_FUNC || (size_t)t < u[a].start ||
	    (p >= u[a].start && p < u[a].end))
		return 0;	/* own branches are known exactly from decoding */
	if (REWRITE_GROW(ctx->xtgt, ctx->nxtgt, ctx->capxtgt, 64))
		return -ENOMEM;
	ctx->xtgt[ctx->nxtgt++] = (size_t)t;
	return 0;
}

static int32_t rd32(const uint8_t *p)
{
	return (int32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
}

/* rel32 patterns starting at @p. */
static int cross_rel32(struct rewrite_ctx *ctx, const struct unit *u, size_t nu, const uint8_t *blk,
		       size_t p)
{
	const uint8_t *b = ctx->r->bytes;
	size_t len = ctx->r->len;

	if ((b[p] == 0xe8 || b[p] == 0xe9) && p + 5 <= len)
		return cross_add(ctx, u, nu, blk, p, (int64_t)p + 5 + rd32(b + p + 1));
	if (b[p] == 0x0f && p + 6 <= len && (b[p + 1] & 0xf0) == 0x80)
		return cross_add(ctx, u, nu, blk, p, (int64_t)p + 6 + rd32(b + p + 2));
	return 0;
}

/* Mark the blocks a window around candidate @c of unit @ui may cover, and take the
 * short jumps from outside the function that can reach them. */
static int cross_near(struct rewrite_ctx *ctx, const struct unit *u, size_t nu, size_t ui,
		      size_t c, uint8_t *blk)
{
	const uint8_t *b = ctx->r->bytes;
	size_t len = ctx->r->len;
	size_t lo = c > REWRITE_MAX_WINDOW ? c - REWRITE_MAX_WINDOW : 0;
	size_t hi = c + REWRITE_MAX_WINDOW < len ? c + REWRITE_MAX_WINDOW : len - 1;
	int err = 0;

	for (size_t k = lo >> XBLK_SHIFT; k <= hi >> XBLK_SHIFT; k++)
		blk[k] = 1;
	/* rel8 reaches [next - 128, next + 127] from a 2-byte jump */
	for (size_t q = lo > 130 ? lo - 130 : 0; q < hi + 128 && q + 2 <= len && !err; q++) {
		if (q >= u[ui].start && q < u[ui].end)
			q = u[ui].end;
		if (q + 2 <= len && (b[q] == 0xeb || (b[q] & 0xf0) == 0x70 ||
				     (b[q] >= 0xe0 && b[q] <= 0xe3)))
			err = cross_add(ctx, u, nu, blk, q, (int64_t)q + 2 + (int8_t)b[q + 1]);
	}
	return err;
}

static int cross_targets(struct rewrite_ctx *ctx, const size_t *cand, const struct unit *u,
			 size_t nu)
{
	const uint8_t *b = ctx->r->bytes;
	size_t len = ctx->r->len, p = 0;
	uint8_t *blk = calloc((len >> XBLK_SHIFT) + 1, 1);
	const __m128i k0f = _mm_set1_epi8(0x0f), kfe = _mm_set1_epi8((char)0xfe);
	const __m128i ke8 = _mm_set1_epi8((char)0xe8);
	int err = 0;

	if (!blk)
		return -ENOMEM;
	for (size_t i = 0; i < nu && !err; i++)
		for (size_t c = u[i].c0; c < u[i].c1 && u[i].kind == UNIT_FUNC && !err; c++)
			err = cross_near(ctx, u, nu, i, cand[c], blk);
	for (; p + 16 <= len && !err; p += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(b + p));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			_mm_cmpeq_epi8(v, k0f), _mm_cmpeq_epi8(_mm_and_si128(v, kfe), ke8)));

		while (m && !err) {
			err = cross_rel32(ctx, u, nu, blk, p + (size_t)__builtin_ctz(m));
			m &= m - 1;
		}
	}
	for (; p < len && !err; p++)
		err = cross_rel32(ctx, u, nu, blk, p);
	free(blk);
	if (!err)
		qsort(ctx->xtgt, ctx->nxtgt, sizeof(*ctx->xtgt), size_cmp);
	return err;
}

/* Split the candidates into units: the function holding each, or the gap sweep before
 * it.  Appends to *@u; returns the count or -ENOMEM. */
static long units_build(const struct rewrite_ctx *ctx, const size_t *cand, size_t ncand,
			struct unit **u)
{
	const struct rewrite_region *r = ctx->r;
	size_t n = 0, cap = 0, c = 0;

	while (c < ncand) {
		uint64_t a = r->addr + cand[c];
		size_t lo = 0, hi = r->nfuncs;
		struct unit v = { .c0 = c, .kind = UNIT_FUNC };

		while (lo < hi) {	/* number of funcs starting at or before a */
			size_t mid = lo + (hi - lo) / 2;

			if (r->funcs[mid].start <= a)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo && a < r->funcs[lo - 1].end && r->funcs[lo - 1].start >= r->addr) {
			v.start = r->funcs[lo - 1].start - r->addr;
			v.end = r->funcs[lo - 1].end - r->addr < r->len ?
				r->funcs[lo - 1].end - r->addr : r->len;
		} else {
			bool partial = lo && a < r->funcs[lo - 1].end;

			v.kind = UNIT_SWEEP;
			v.why = partial ? "function starts before region"
					: "outside known functions";
			v.start = lo && !partial && r->funcs[lo - 1].end > r->addr ?
				  r->funcs[lo - 1].end - r->addr : 0;
			v.end = lo < r->nfuncs && r->funcs[lo].start - r->addr < r->len ?
				r->funcs[lo].start - r->addr : r->len;
			if (partial)
				v.end = r->funcs[lo - 1].end - r->addr < r->len ?
					r->funcs[lo - 1].end - r->addr : r->len;
		}
		while (c < ncand && cand[c] < v.end)
			c++;
		v.c1 = c;
		if (v.kind == UNIT_SWEEP) {
			/* nothing past the last candidate matters; too long a sweep is skipped */
			v.end = cand[c - 1] + 2;
			if (v.end - v.start > REWRITE_SWEEP_MAX)
				continue;
		}
		if (REWRITE_GROW(*u, n, cap, 64))
			return -ENOMEM;
		(*u)[n++] = v;
	}
	return (long)n;
}

long rewrite_region_scan(const struct rewrite_region *r, struct rewrite_plan *plan)
{
	struct rewrite_ctx ctx = { .r = r, .plan = plan };
	size_t *cand = NULL, ncand = 0, capcand = 0;
	struct unit *u = NULL, whole;
	long nu = 0, ret = 0;

	if (!r || !plan || (!r->bytes && r->len) || (r->nfuncs && !r->funcs))
		return -EINVAL;
	for (size_t i = 0; i < r->nfuncs; i++)
		if (r->funcs[i].start >= r->funcs[i].end ||
		    (i && r->funcs[i].start < r->funcs[i - 1].end))
			return -EINVAL;	/* the unit split relies on sorted, disjoint funcs */
	if (r->len < 2)
		return 0;
	/* candidates: every 0f 05 byte pair, 16 positions per step (SSE2) */
	for (size_t p = 0; p + 1 < r->len; p += 16) {
		unsigned m;

		if (p + 17 <= r->len) {
			__m128i lo = _mm_loadu_si128((const __m128i *)(r->bytes + p));
			__m128i hi = _mm_loadu_si128((const __m128i *)(r->bytes + p + 1));

			m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
				_mm_cmpeq_epi8(lo, _mm_set1_epi8(0x0f)),
				_mm_cmpeq_epi8(hi, _mm_set1_epi8(0x05))));
		} else {
			m = 0;
			for (size_t i = 0; p + i + 1 < r->len; i++)
				m |= (unsigned)(r->bytes[p + i] == 0x0f &&
						r->bytes[p + i + 1] == 0x05) << i;
		}
		for (; m; m &= m - 1) {
			if ((ret = REWRITE_GROW(cand, ncand, capcand, 64)))
				goto out;
			cand[ncand++] = p + (size_t)__builtin_ctz(m);
		}
	}
	if (!ncand)
		goto out;
	ZydisDecoderInit(&ctx.dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	if ((ret = rewrite_claims_from_plan(&ctx)))
		goto out;
	if (!r->nfuncs) {
		whole = (struct unit){ 0, r->len, 0, ncand, UNIT_WHOLE, NULL };
		ret = unit_plan(&ctx, &whole, cand);
		goto out;
	}
	ctx.gap_state = calloc(r->nfuncs + 1, 1);
	nu = units_build(&ctx, cand, ncand, &u);
	if (!ctx.gap_state || nu < 0) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = cross_targets(&ctx, cand, u, (size_t)nu)))
		goto out;
	for (long i = 0; i < nu && !ret; i++)
		ret = unit_plan(&ctx, &u[i], cand);
out:
	rewrite_plan_sort(plan);
	free(cand);
	free(u);
	free(ctx.insn);
	free(ctx.tbits);
	free(ctx.xtgt);
	free(ctx.claim);
	free(ctx.gap_state);
	return ret ? ret : ctx.added;
}
