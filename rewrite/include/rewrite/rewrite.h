/* SPDX-License-Identifier: MIT */
/* rewrite: pure functions over byte buffers: find every `syscall` instruction in a code
 * region with Zydis, choose a tactic for each (displace, island, trap) and describe
 * the patch.  Nothing here maps, protects or writes live memory. */
#ifndef REWRITE_REWRITE_H
#define REWRITE_REWRITE_H

#include <stddef.h>
#include <stdint.h>

enum rewrite_tactic {
	REWRITE_DISPLACE = 1,	/* jmp rel32 over the syscall and neighbours */
	REWRITE_ISLAND = 2,	/* jmp rel8 to a nearby jmp rel32 in padding */
	REWRITE_TRAP = 3,	/* left alone: Syscall User Dispatch catches it */
};

#define REWRITE_MAX_WINDOW 32	/* most bytes a displaced window may cover */

/* One syscall site and its plan.  Addresses are run-time addresses. */
struct rewrite_site {
	uint64_t addr;		/* the `syscall` instruction (0f 05) */
	uint8_t tactic;		/* enum rewrite_tactic */
	/* DISPLACE: [start, start + len) holds whole instructions, includes the syscall
	 * at start + sys_off, and is replaced by `jmp rel32` to the stub followed by
	 * int3 fill.  The stub runs the original instructions (relocated) and jumps
	 * back to start + len.  ISLAND and TRAP: start = addr, len = the syscall's
	 * length (2), sys_off = 0. */
	uint64_t start;
	uint8_t len;
	uint8_t sys_off;
	/* ISLAND: address of 5 free bytes within rel8 reach that take `jmp rel32`.
	 * TRAP: such bytes reserved for a lazy patch once the trap confirms the site
	 * (0 if none). */
	uint64_t island;
	/* TRAP: why no patch (static string), for --stats and tests. */
	const char *why;
	/* Original bytes of [start, start + len) (copied by the scanner). */
	uint8_t orig[REWRITE_MAX_WINDOW];
};

/* A known function (from .eh_frame FDEs or symbols): [start, end). */
struct rewrite_func {
	uint64_t start, end;
};

/* A code region to scan. */
struct rewrite_region {
	const uint8_t *bytes;	/* contents */
	size_t len;
	uint64_t addr;		/* run-time address of bytes[0] */
	const struct rewrite_func *funcs;	/* sorted by start, non-overlapping; may be NULL */
	size_t nfuncs;
};

/* A growable list of sites (caller zero-initialises; rewrite_plan_fini frees). */
struct rewrite_plan {
	struct rewrite_site *sites;
	size_t n, cap;
	/* counts per tactic, index by enum rewrite_tactic */
	size_t count[4];
};

/* Find every syscall in @r and plan it, appending to @plan (sorted by address).
 * Islands are allocated from padding so no two sites share bytes.
 * Returns the number of sites added, -ENOMEM, or -EINVAL (NULL arguments, or funcs
 * not sorted, empty or overlapping). */
long rewrite_region_scan(const struct rewrite_region *r, struct rewrite_plan *plan);

/* Free @plan's sites and zero it (ready for reuse).  @plan may be NULL. */
void rewrite_plan_fini(struct rewrite_plan *plan);

/* The TRAP site of @plan at @addr was confirmed at run time (Syscall User Dispatch
 * caught a `syscall` there, so @addr is an instruction boundary whatever the decoder
 * thought).  Give it the island reserved when it was planned, or else one found in
 * padding within rel8 reach that is free of @plan's windows and islands: the one tactic
 * that can be applied while other threads run, as it replaces exactly the 2-byte
 * syscall.  Returns 0 (the site is now ISLAND and the counts
 * updated), -ENOENT (no island), -EINVAL (@addr is not a TRAP site of @plan in @r, or
 * does not hold 0f 05), -ENOMEM. */
int rewrite_site_confirm(const struct rewrite_region *r, struct rewrite_plan *plan,
			 uint64_t addr);

/* Copy the instruction @insn (@len bytes, originally at @from) so that it runs at @to
 * with the same effect: RIP-relative operands and relative branches are re-targeted
 * (short jmp/jcc widened to rel32; loop/jrcxz keep rel8).  Writes at most @cap bytes
 * to @out.  Returns the new length, -ERANGE if a target is out of reach from @to,
 * -EINVAL if the bytes are not exactly one instruction or have a form that cannot move
 * (rel16 branch, 32-bit RIP-relative addressing, a short jmp/jcc with a prefix other
 * than a branch hint, bnd or REX), -ENOSPC if @cap is too small. */
int rewrite_insn_relocate(const uint8_t *insn, size_t len, uint64_t from, uint64_t to,
			  uint8_t *out, size_t cap);

/* Length of the instruction at @p (@cap bytes readable).  Returns it, or -EINVAL if
 * the bytes do not decode. */
int rewrite_insn_length(const uint8_t *p, size_t cap);

/* Parse .eh_frame (@data, @len bytes, loaded at run-time address @addr) and return the
 * FDE ranges, sorted and with overlaps merged (adjacent ranges stay apart), in a
 * malloc'd array (*out, *n; caller frees).  Returns 0 or -ENOMEM (nothing kept) or
 * -EINVAL (NULL arguments, or malformed data: *n functions read before the error are
 * kept). */
int rewrite_ehframe_funcs(const uint8_t *data, size_t len, uint64_t addr,
			  struct rewrite_func **out, size_t *n);

#endif
