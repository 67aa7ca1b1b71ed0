/* SPDX-License-Identifier: MIT */
/* Choosing a tactic for one decoded syscall: the best displace window, else an island in
 * inter-function padding, else trap; plus the growable plan and the byte claims that keep
 * windows and islands of different sites apart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite_int.h"

#define JMP_REL32_LEN 5		/* e9 rel32 */
#define JMP_REL8_REACH_LO 128	/* rel8 reaches [next - 128, next + 127] */
#define JMP_REL8_REACH_HI 127

/* Index of the first claim ending after @start (claims are sorted and disjoint). */
static size_t claim_lower(const struct rewrite_ctx *ctx, size_t start)
{
	size_t lo = 0, hi = ctx->nclaim;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ctx->claim[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool claim_overlaps(const struct rewrite_ctx *ctx, size_t start, size_t end)
{
	size_t i = claim_lower(ctx, start);

	return i < ctx->nclaim && ctx->claim[i].start < end;
}

static int claim_add(struct rewrite_ctx *ctx, size_t start, size_t end)
{
	size_t i = claim_lower(ctx, start);

	if (REWRITE_GROW(ctx->claim, ctx->nclaim, ctx->capclaim, 64))
		return -ENOMEM;
	memmove(&ctx->claim[i + 1], &ctx->claim[i], (ctx->nclaim - i) * sizeof(*ctx->claim));
	ctx->claim[i] = (struct rewrite_span){ start, end };
	ctx->nclaim++;
	return 0;
}

/* Append a site for region offsets [start, start + len) and count it. */
static int site_add(struct rewrite_ctx *ctx, size_t sys, size_t start, size_t len, uint8_t tactic,
		    size_t island, const char *why)
{
	struct rewrite_plan *plan = ctx->plan;
	struct rewrite_site *s;

	if (REWRITE_GROW(plan->sites, plan->n, plan->cap, 64))
		return -ENOMEM;
	s = &plan->sites[plan->n++];
	memset(s, 0, sizeof(*s));
	s->addr = ctx->r->addr + sys;
	s->tactic = tactic;
	s->start = ctx->r->addr + start;
	s->len = (uint8_t)len;
	s->sys_off = (uint8_t)(sys - start);
	s->island = tactic == REWRITE_ISLAND ? ctx->r->addr + island : 0;
	s->why = why;
	memcpy(s->orig, ctx->r->bytes + start, len);
	plan->count[tactic]++;
	ctx->added++;
	return 0;
}

static bool island_find(struct rewrite_ctx *ctx, size_t sys, size_t *island);

int rewrite_plan_trap(struct rewrite_ctx *ctx, size_t off, size_t len, const char *why)
{
	size_t island;
	int err = site_add(ctx, off, off, len, REWRITE_TRAP, 0, why);

	/* Reserve an island for the day the trap confirms this is a syscall (a 2-byte one
	 * only: the island jump replaces exactly it), so the lazy patch needs no scan. */
	if (!err && len == 2 && island_find(ctx, off, &island) &&
	    !(err = claim_add(ctx, island, island + JMP_REL32_LEN)))
		ctx->plan->sites[ctx->plan->n - 1].island = ctx->r->addr + island;
	return err;
}

/* A padding byte run: int3 or NOP instructions only (90, 66 90, 0f 1f /0,
 * 66 2e 0f 1f 84 ...).  Anything else in a gap may be code without an FDE (hand-written
 * assembly), which may even execute its alignment NOPs, so the whole gap must pass. */
static bool span_is_padding(struct rewrite_ctx *ctx, size_t start, size_t end)
{
	const uint8_t *b = ctx->r->bytes;
	ZydisDecodedInstruction in;

	while (start < end) {
		if (b[start] == 0xcc) {
			start++;
			continue;
		}
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&ctx->dec, NULL, b + start,
								end - start, &in)) ||
		    in.mnemonic != ZYDIS_MNEMONIC_NOP)
			return false;
		start += in.length;
	}
	return true;
}

/* Region-offset bounds of funcs[i], clipped to the region. */
static size_t func_off(const struct rewrite_ctx *ctx, uint64_t a)
{
	const struct rewrite_region *r = ctx->r;

	if (a <= r->addr)
		return 0;
	return a - r->addr >= r->len ? r->len : (size_t)(a - r->addr);
}

/* Gap i lies before funcs[i] (gap nfuncs after the last function). */
static struct rewrite_span gap_span(const struct rewrite_ctx *ctx, size_t i)
{
	const struct rewrite_region *r = ctx->r;
	struct rewrite_span g;

	g.start = i ? func_off(ctx, r->funcs[i - 1].end) : 0;
	g.end = i < r->nfuncs ? func_off(ctx, r->funcs[i].start) : r->len;
	if (g.end < g.start)
		g.end = g.start;	/* overlapping funcs from a careless caller */
	return g;
}

static bool gap_is_padding(struct rewrite_ctx *ctx, size_t i)
{
	if (!ctx->gap_state[i]) {
		struct rewrite_span g = gap_span(ctx, i);

		ctx->gap_state[i] = g.end > g.start && span_is_padding(ctx, g.start, g.end) ? 1 : 2;
	}
	return ctx->gap_state[i] == 1;
}

/* Find 5 free padding bytes whose start a `jmp rel8` at @sys reaches. */
static bool island_find(struct rewrite_ctx *ctx, size_t sys, size_t *island)
{
	const struct rewrite_region *r = ctx->r;
	size_t next = sys + 2;
	size_t lo = next > JMP_REL8_REACH_LO ? next - JMP_REL8_REACH_LO : 0;
	size_t hi = next + JMP_REL8_REACH_HI;	/* last allowed island start */
	size_t a = 0, b = r->nfuncs;

	if (!ctx->gap_state)
		return false;
	/* first gap that can end after lo: gap i ends at funcs[i].start */
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (func_off(ctx, r->funcs[mid].start) <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	for (size_t i = a; i <= r->nfuncs; i++) {
		struct rewrite_span g = gap_span(ctx, i);
		size_t s = g.start > lo ? g.start : lo;

		if (g.start > hi)
			break;
		if (g.end < s + JMP_REL32_LEN || !gap_is_padding(ctx, i))
			continue;
		for (; s + JMP_REL32_LEN <= g.end && s <= hi; s++) {
			if (!claim_overlaps(ctx, s, s + JMP_REL32_LEN)) {
				*island = s;
				return true;
			}
		}
	}
	return false;
}

/* Window preference: fewest instructions, then fewest bytes, then ending at the syscall
 * (glibc's `mov $nr,%eax; syscall`). */
struct window {
	size_t i, j, bytes;
};

static bool window_better(const struct window *a, const struct window *b, size_t k)
{
	if (a->j - a->i != b->j - b->i)
		return a->j - a->i < b->j - b->i;
	if (a->bytes != b->bytes)
		return a->bytes < b->bytes;
	return a->j == k && b->j != k;
}

/* Search the windows [insn i .. insn j] around the syscall insn[k]; see DESIGN.md 3. */
static bool window_find(struct rewrite_ctx *ctx, size_t k, struct window *best, const char **why)
{
	const struct rewrite_insn *in = ctx->insn;
	size_t sys_end = in[k].off + in[k].len;
	bool found = false;

	for (size_t i = k;; i--) {
		if (i < k) {
			/* insn i leads, so i + 1 is inside: it must not be a target */
			if (in[i + 1].flags & REWRITE_I_TARGET) {
				*why = "branch target inside window";
				break;
			}
			if (in[i].flags & REWRITE_I_HIT) {
				*why = "branch target inside window";
				break;
			}
			if (in[i].flags & (REWRITE_I_FIXED | REWRITE_I_BRANCH) ||
			    in[i].off + in[i].len != in[i + 1].off)
				break;
		}
		if (sys_end - in[i].off > REWRITE_MAX_WINDOW)
			break;
		for (size_t j = k; j < ctx->ninsn; j++) {
			struct window w = { i, j, in[j].off + in[j].len - in[i].off };

			if (j > k) {
				if (in[j].flags & (REWRITE_I_TARGET | REWRITE_I_HIT)) {
					*why = "branch target inside window";
					break;
				}
				if (in[j].flags & REWRITE_I_FIXED ||
				    in[j - 1].flags & REWRITE_I_BRANCH ||
				    in[j - 1].off + in[j - 1].len != in[j].off)
					break;
			}
			if (w.bytes > REWRITE_MAX_WINDOW)
				break;
			if (w.bytes < JMP_REL32_LEN)
				continue;
			/* the shortest j for this i is the best; a longer one only grows */
			if (claim_overlaps(ctx, in[i].off, in[i].off + w.bytes)) {
				*why = "window overlaps another site";
			} else if (!found || window_better(&w, best, k)) {
				*best = w;
				found = true;
			}
			break;
		}
		if (i == 0)
			break;
	}
	return found;
}

int rewrite_plan_site(struct rewrite_ctx *ctx, size_t k)
{
	const struct rewrite_insn *sys = &ctx->insn[k];
	const char *why = "no room: window and island impossible";
	struct window w = { 0 };
	size_t island;
	int err;

	if (sys->flags & REWRITE_I_HIT)
		return rewrite_plan_trap(ctx, sys->off, sys->len, "jump into the syscall's bytes");
	/* every consumer replaces exactly `0f 05` at start + sys_off */
	if (sys->len != 2)
		return rewrite_plan_trap(ctx, sys->off, sys->len, "prefixed syscall");
	if (window_find(ctx, k, &w, &why)) {
		size_t start = ctx->insn[w.i].off;

		err = claim_add(ctx, start, start + w.bytes);
		if (err)
			return err;
		return site_add(ctx, sys->off, start, w.bytes, REWRITE_DISPLACE, 0, NULL);
	}
	/* the island jmp rel8 replaces exactly the 2-byte syscall */
	if (island_find(ctx, sys->off, &island)) {
		err = claim_add(ctx, island, island + JMP_REL32_LEN);
		if (!err)
			err = claim_add(ctx, sys->off, sys->off + 2);
		if (err)
			return err;
		return site_add(ctx, sys->off, sys->off, 2, REWRITE_ISLAND, island, NULL);
	}
	return rewrite_plan_trap(ctx, sys->off, sys->len, why);
}

int rewrite_claims_from_plan(struct rewrite_ctx *ctx)
{
	const struct rewrite_region *r = ctx->r;
	int err = 0;

	for (size_t i = 0; i < ctx->plan->n && !err; i++) {
		const struct rewrite_site *s = &ctx->plan->sites[i];

		if (s->tactic == REWRITE_TRAP || s->start < r->addr ||
		    s->start - r->addr >= r->len)
			continue;
		if (!claim_overlaps(ctx, s->start - r->addr, s->start - r->addr + s->len))
			err = claim_add(ctx, s->start - r->addr, s->start - r->addr + s->len);
		if (!err && s->tactic == REWRITE_ISLAND && s->island >= r->addr &&
		    s->island - r->addr < r->len &&
		    !claim_overlaps(ctx, s->island - r->addr, s->island - r->addr + 5))
			err = claim_add(ctx, s->island - r->addr, s->island - r->addr + 5);
	}
	return err;
}

static int site_cmp(const void *a, const void *b)
{
	const struct rewrite_site *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void rewrite_plan_sort(struct rewrite_plan *plan)
{
	for (size_t i = 1; i < plan->n; i++) {
		if (plan->sites[i - 1].addr > plan->sites[i].addr) {
			qsort(plan->sites, plan->n, sizeof(*plan->sites), site_cmp);
			return;
		}
	}
}

void rewrite_plan_fini(struct rewrite_plan *plan)
{
	if (!plan)
		return;
	free(plan->sites);
	memset(plan, 0, sizeof(*plan));
}

int rewrite_site_confirm(const struct rewrite_region *r, struct rewrite_plan *plan,
			 uint64_t addr)
{
	struct rewrite_ctx ctx = { .r = r, .plan = plan };
	struct rewrite_site *site = NULL;
	size_t island;
	int err;

	if (!r || !plan || !r->bytes || addr < r->addr || addr - r->addr + 2 > r->len ||
	    r->bytes[addr - r->addr] != 0x0f || r->bytes[addr - r->addr + 1] != 0x05)
		return -EINVAL;
	for (size_t i = 0; i < plan->n; i++)
		if (plan->sites[i].addr == addr)
			site = &plan->sites[i];
	if (!site || site->tactic != REWRITE_TRAP)
		return -EINVAL;
	if (site->island) {
		island = site->island - r->addr;	/* reserved when it was planned */
		err = 0;
		goto found;
	}
	ZydisDecoderInit(&ctx.dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ctx.gap_state = r->nfuncs ? calloc(r->nfuncs + 1, 1) : NULL;
	err = r->nfuncs && !ctx.gap_state ? -ENOMEM : rewrite_claims_from_plan(&ctx);
	if (!err)
		err = island_find(&ctx, addr - r->addr, &island) ? 0 : -ENOENT;
found:
	if (!err) {
		site->tactic = REWRITE_ISLAND;
		site->start = addr;
		site->len = 2;
		site->sys_off = 0;
		site->island = r->addr + island;
		site->why = NULL;
		memset(site->orig, 0, sizeof(site->orig));
		site->orig[0] = 0x0f;
		site->orig[1] = 0x05;
		plan->count[REWRITE_TRAP]--;
		plan->count[REWRITE_ISLAND]++;
	}
	free(ctx.claim);
	free(ctx.gap_state);
	return err;
}
