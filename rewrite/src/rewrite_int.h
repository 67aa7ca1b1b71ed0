/* SPDX-License-Identifier: MIT */
/* rewrite internals shared by scan.c (finding sites), plan.c (choosing a tactic) and
 * relocate.c (instruction classification).  Not part of the module's API. */
#ifndef REWRITE_INT_H
#define REWRITE_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "rewrite/rewrite.h"

/* Longest stretch without a known function start that is swept to confirm a candidate
 * outside every function (code built without unwind tables can span megabytes); past it
 * the candidate is not reported, which leaves it exactly as a TRAP would. */
#define REWRITE_SWEEP_MAX (64 * 1024)

/* Make room for one more element in the realloc'd array @arr (@n used of @cap, @init
 * first): evaluates to 0 or -ENOMEM, leaving the array intact on failure. */
#define REWRITE_GROW(arr, n, cap, init)                                               \
	({                                                                    \
		int _e = 0;                                                   \
		if ((n) == (cap)) {                                           \
			size_t _c = (cap) ? 2 * (cap) : (init);               \
			void *_p = realloc((arr), _c * sizeof(*(arr)));       \
			if (_p) {                                             \
				(arr) = _p;                                   \
				(cap) = _c;                                   \
			} else {                                              \
				_e = -ENOMEM;                                 \
			}                                                     \
		}                                                             \
		_e;                                                           \
	})

/* Per-instruction flags (struct rewrite_insn.flags). */
enum {
	REWRITE_I_TARGET = 1 << 0,	/* a known direct branch lands on its first byte */
	REWRITE_I_HIT = 1 << 1,	/* a known direct branch lands strictly inside it */
	REWRITE_I_SYSCALL = 1 << 2,	/* `syscall` (0f 05) */
	REWRITE_I_FIXED = 1 << 3,	/* must stay where it is: never part of a window */
	REWRITE_I_BRANCH = 1 << 4,	/* direct jmp/jcc: allowed only as a window's last */
};

/* One decoded instruction of the function being planned; offsets are region offsets. */
struct rewrite_insn {
	uint32_t off;
	uint8_t len;
	uint8_t flags;
};

/* A half-open byte span [start, end) in region offsets. */
struct rewrite_span {
	size_t start, end;
};

/* Scanner state for one rewrite_region_scan call. */
struct rewrite_ctx {
	const struct rewrite_region *r;
	struct rewrite_plan *plan;
	ZydisDecoder dec;
	/* the function (or sweep) being planned */
	struct rewrite_insn *insn;
	size_t ninsn, capinsn;
	size_t fstart, fend;	/* its bounds */
	/* its own direct branch targets: bit (t - fstart) set, reused per function */
	uint8_t *tbits;
	size_t captbits;
	/* possible targets from raw rel32/rel8 bytes elsewhere in the region, sorted */
	size_t *xtgt;
	size_t nxtgt, capxtgt;
	/* bytes already given to a window or an island, sorted by start, disjoint */
	struct rewrite_span *claim;
	size_t nclaim, capclaim;
	/* padding check per gap (gap i lies before funcs[i]): 0 unknown, 1 yes, 2 no */
	uint8_t *gap_state;
	long added;		/* sites appended so far */
};

/* Classify the decoded instruction @in (at region offset @off): returns REWRITE_I_* flags
 * (SYSCALL, FIXED, BRANCH) and stores a direct branch's target as a region offset in
 * *@target (or SIZE_MAX when it has none or it lies outside the region). */
uint8_t rewrite_insn_classify(const struct rewrite_region *r, const ZydisDecodedInstruction *in,
			 size_t off, size_t *target);

/* Plan the syscall ctx->insn[@k] of a cleanly decoded function: displace, island or
 * trap, then append the site.  Returns 0 or -ENOMEM. */
int rewrite_plan_site(struct rewrite_ctx *ctx, size_t k);

/* Append the syscall instruction at region offset @off (@len bytes) as a TRAP site with
 * the static reason @why.  Returns 0 or -ENOMEM. */
int rewrite_plan_trap(struct rewrite_ctx *ctx, size_t off, size_t len, const char *why);

/* Record the windows and islands the plan already holds inside ctx->r as claims, so a
 * second scan of the same plan never hands out the same bytes.  Returns 0 or -ENOMEM. */
int rewrite_claims_from_plan(struct rewrite_ctx *ctx);

/* Sort plan->sites by address if appending left them out of order. */
void rewrite_plan_sort(struct rewrite_plan *plan);

#endif
