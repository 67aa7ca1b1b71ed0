/* SPDX-License-Identifier: MIT */
/* Golden cases for rewrite_region_scan: byte input, known functions, and the expected
 * site plans, all compared by one driver; plus robustness over random bytes. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite/rewrite.h"
#include <check_run.h>

#define BASE 0x401000u
#define D REWRITE_DISPLACE
#define I REWRITE_ISLAND
#define T REWRITE_TRAP
#define BYTES(...) .bytes = (const uint8_t[]){ __VA_ARGS__ }, \
		   .len = sizeof((const uint8_t[]){ __VA_ARGS__ })
#define CC6 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc
#define MOV27 0xb8, 0x27, 0x00, 0x00, 0x00	/* mov $0x27,%eax */
#define SYSCALL 0x0f, 0x05			/* syscall */
#define RET 0xc3				/* ret */

/* One expected site; offsets are from BASE. */
struct want {
	uint32_t addr;
	uint8_t tactic;
	uint32_t start;		/* D, I */
	uint8_t len, sys_off;	/* D, I */
	int32_t island;		/* I: offset of the island */
	const char *why;	/* T: expected reason */
};

struct golden {
	const char *name;
	const uint8_t *bytes;
	size_t len;
	struct rewrite_func funcs[4];	/* offsets from BASE */
	size_t nfuncs;
	struct want want[4];
	size_t nwant;
};

static const struct golden g_cases[] = {
	{ "glibc_mov_syscall_ret", BYTES(MOV27, SYSCALL, RET), { { 0, 8 } }, 1,
	  { { 5, D, 0, 7, 5, -1, NULL } }, 1 },
	{ "nofuncs_linear_sweep", BYTES(MOV27, SYSCALL, RET), { { 0, 0 } }, 0,
	  { { 5, D, 0, 7, 5, -1, NULL } }, 1 },
	/* cmp $-4095,%rax; jae +1: [mov, syscall] (7 bytes) beats [syscall, cmp] (8) */
	{ "cmp_jae_after_mov", BYTES(MOV27, SYSCALL, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,
				     0x73, 0x01, RET, RET), { { 0, 17 } }, 1,
	  { { 5, D, 0, 7, 5, -1, NULL } }, 1 },
	/* push %rbx is too short to pair with the syscall: [syscall, cmp] */
	{ "cmp_jae_after_push", BYTES(0x53, SYSCALL, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,
				      0x73, 0x01, 0x5b, RET), { { 0, 13 } }, 1,
	  { { 1, D, 1, 8, 0, -1, NULL } }, 1 },
	/* mov %rdi,%rax; syscall; mov %rax,%rdi: equal size, the one ending at syscall */
	{ "tie_prefers_ending_at_syscall", BYTES(0x48, 0x89, 0xf8, SYSCALL, 0x48, 0x89, 0xc7,
						 RET), { { 0, 9 } }, 1,
	  { { 3, D, 0, 5, 3, -1, NULL } }, 1 },
	/* call next; syscall; cmp: the call may not move */
	{ "call_before_syscall", BYTES(0xe8, 0x00, 0x00, 0x00, 0x00, SYSCALL, 0x48, 0x3d, 0x01,
				       0xf0, 0xff, 0xff, RET), { { 0, 14 } }, 1,
	  { { 5, D, 5, 8, 0, -1, NULL } }, 1 },
	/* mov 0x1234(%rip),%rdi; syscall; ret */
	{ "rip_relative_in_window", BYTES(0x48, 0x8b, 0x3d, 0x34, 0x12, 0x00, 0x00, SYSCALL,
					  RET), { { 0, 10 } }, 1,
	  { { 7, D, 0, 9, 7, -1, NULL } }, 1 },
	/* lock cmpxchg %rcx,(%rdi); syscall (the 0f 0f before 0f 05 is no candidate) */
	{ "lock_insn_movable", BYTES(0xf0, 0x48, 0x0f, 0xb1, 0x0f, SYSCALL, RET), { { 0, 8 } },
	  1, { { 5, D, 0, 7, 5, -1, NULL } }, 1 },
	/* EINTR retry loop: cmp $-4,%rax (imm32 form); je back to the mov, which may lead
	 * the window */
	{ "target_at_window_start_ok", BYTES(MOV27, SYSCALL, 0x48, 0x3d, 0xfc, 0xff, 0xff, 0xff,
					     0x74, 0xf1, RET), { { 0, 16 } }, 1,
	  { { 5, D, 0, 7, 5, -1, NULL } }, 1 },
	/* push %rdi; syscall; js +3; mov %rax,%rdi; ret: the jcc may end the window */
	{ "jcc_last_in_window", BYTES(0x57, SYSCALL, 0x78, 0x03, 0x48, 0x89, 0xc7, RET),
	  { { 0, 9 } }, 1, { { 1, D, 0, 5, 1, -1, NULL } }, 1 },
	/* je -> syscall: the window must start at the syscall */
	{ "syscall_is_target_window_starts_there", BYTES(0x74, 0x05, MOV27, SYSCALL, 0x48, 0x89,
							 0xc7, RET), { { 0, 13 } }, 1,
	  { { 7, D, 7, 5, 0, -1, NULL } }, 1 },
	{ "syscall_is_target_island", BYTES(0x74, 0x05, MOV27, SYSCALL, RET, CC6, RET),
	  { { 0, 10 }, { 16, 17 } }, 2, { { 7, I, 7, 2, 0, 10, NULL } }, 1 },
	{ "syscall_is_target_trap", BYTES(0x74, 0x05, MOV27, SYSCALL, RET, RET),
	  { { 0, 10 }, { 10, 11 } }, 2,
	  { { 7, T, 0, 0, 0, -1, "branch target inside window" } }, 1 },
	/* mov %edi,%eax; syscall; mov %rax,%rdi <- jmp from below: island */
	{ "target_inside_window_island", BYTES(0x89, 0xf8, SYSCALL, 0x48, 0x89, 0xc7, RET, 0x31,
					       0xc0, 0xeb, 0xf8, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
					       RET), { { 0, 12 }, { 17, 18 } }, 2,
	  { { 2, I, 2, 2, 0, 12, NULL } }, 1 },
	/* the same with code, not padding, after the function */
	{ "target_inside_window_trap", BYTES(0x89, 0xf8, SYSCALL, 0x48, 0x89, 0xc7, RET, 0x31,
					     0xc0, 0xeb, 0xf8, 0x48, 0x89, 0xc7, 0x90, 0x90,
					     RET), { { 0, 12 }, { 17, 18 } }, 2,
	  { { 2, T, 0, 0, 0, -1, "branch target inside window" } }, 1 },
	/* a .cold part (jmp rel32 from another function) returns to the syscall, so
	 * [syscall, cmp] (8 bytes) wins over [mov, syscall] (7) */
	{ "cold_part_jumps_to_syscall", BYTES(MOV27, SYSCALL, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff,
					      RET, 0xcc, 0xcc, 0xe9, 0xf0, 0xff, 0xff, 0xff),
	  { { 0, 14 }, { 16, 21 } }, 2, { { 5, D, 5, 8, 0, -1, NULL } }, 1 },
	/* push es (06) does not decode in 64-bit mode */
	{ "undecodable_in_function", BYTES(0x06, MOV27, SYSCALL, RET), { { 0, 9 } }, 1,
	  { { 6, T, 0, 0, 0, -1, "undecodable bytes in function" } }, 1 },
	{ "undecodable_nofuncs_after_failure", BYTES(MOV27, SYSCALL, RET, 0xd6, 0xb8, 0x3c, 0x00,
						     0x00, 0x00, SYSCALL), { { 0, 0 } }, 0,
	  { { 5, D, 0, 7, 5, -1, NULL }, { 14, T, 0, 0, 0, -1, "undecodable bytes before site" } },
	  2 },
	/* mov $0x50f,%eax: the pair is an immediate */
	{ "pair_in_immediate_not_site", BYTES(0xb8, 0x0f, 0x05, 0x00, 0x00, RET), { { 0, 6 } },
	  1, { { 0 } }, 0 },
	{ "pair_in_immediate_nofuncs", BYTES(0xb8, 0x0f, 0x05, 0x00, 0x00, RET), { { 0, 0 } }, 0,
	  { { 0 } }, 0 },
	/* mov (%rdi),%rcx; add $1,%eax: the pair straddles two instructions */
	{ "pair_straddles_insns_not_site", BYTES(0x48, 0x8b, 0x0f, 0x05, 0x01, 0x00, 0x00, 0x00,
						 RET), { { 0, 9 } }, 1, { { 0 } }, 0 },
	/* pop %rbx; syscall at region end: 3 bytes, nothing after */
	{ "syscall_at_region_end_trap", BYTES(0x5b, SYSCALL), { { 0, 3 } }, 1,
	  { { 1, T, 0, 0, 0, -1, "no room: window and island impossible" } }, 1 },
	{ "syscall_at_region_end_island", BYTES(CC6, 0x5b, SYSCALL), { { 6, 9 } }, 1,
	  { { 7, I, 7, 2, 0, 0, NULL } }, 1 },
	{ "outside_known_functions", BYTES(MOV27, SYSCALL, RET, 0xb8, 0x3c, 0, 0, 0, SYSCALL),
	  { { 0, 8 } }, 1,
	  { { 5, D, 0, 7, 5, -1, NULL }, { 13, T, 0, 0, 0, -1, "outside known functions" } }, 2 },
	/* ret; push es; 0f 05: the gap sweep fails before the pair */
	{ "outside_functions_undecodable", BYTES(RET, 0x06, SYSCALL), { { 0, 1 } }, 1, { { 0 } },
	  0 },
	{ "two_adjacent_syscalls", BYTES(MOV27, SYSCALL, SYSCALL, RET), { { 0, 10 } }, 1,
	  { { 5, D, 0, 7, 5, -1, NULL },
	    { 7, T, 0, 0, 0, -1, "no room: window and island impossible" } }, 2 },
	/* syscall; mov %rax,%rdi; syscall; ret: the first window takes the mov */
	{ "windows_never_overlap", BYTES(SYSCALL, 0x48, 0x89, 0xc7, SYSCALL, RET), { { 0, 8 } },
	  1, { { 0, D, 0, 5, 0, -1, NULL },
	       { 5, T, 0, 0, 0, -1, "window overlaps another site" } }, 2 },
	/* je over the lock prefix into lock cmpxchg (old glibc): that insn may not move */
	{ "jump_into_instruction_blocks_window", BYTES(0x74, 0x01, 0xf0, 0x48, 0x0f, 0xb1, 0x0f,
						       SYSCALL, RET), { { 0, 10 } }, 1,
	  { { 7, T, 0, 0, 0, -1, "branch target inside window" } }, 1 },
	/* jmp into the immediate of mov $0x50f,%eax: the kernel would see a syscall */
	{ "jump_into_immediate_syscall", BYTES(0xeb, 0x01, 0xb8, 0x0f, 0x05, 0x00, 0x00, RET),
	  { { 0, 8 } }, 1,
	  { { 3, T, 0, 0, 0, -1, "syscall reached by a jump into an instruction" } }, 1 },
	/* 66 0f 05: a 3-byte syscall; every patch assumes exactly `0f 05` */
	{ "prefixed_syscall_traps", BYTES(MOV27, 0x66, SYSCALL, RET), { { 0, 9 } }, 1,
	  { { 5, T, 0, 0, 0, -1, "prefixed syscall" } }, 1 },
	/* the second site islands into nopw padding (66 0f 1f 44 00 00) */
	{ "island_in_nop_padding", BYTES(SYSCALL, 0x48, 0x89, 0xc7, SYSCALL, RET, 0x66, 0x0f,
					 0x1f, 0x44, 0x00, 0x00, RET), { { 0, 8 }, { 14, 15 } }, 2,
	  { { 0, D, 0, 5, 0, -1, NULL }, { 5, I, 5, 2, 0, 8, NULL } }, 2 },
};

#define NCASES (sizeof(g_cases) / sizeof(g_cases[0]))

START_TEST(test_scan_golden)
{
	const struct golden *g = &g_cases[_i];
	struct rewrite_func funcs[4];
	struct rewrite_region r = { g->bytes, g->len, BASE, g->nfuncs ? funcs : NULL, g->nfuncs };
	struct rewrite_plan plan = { 0 };
	long n;

	for (size_t i = 0; i < g->nfuncs; i++)
		funcs[i] = (struct rewrite_func){ BASE + g->funcs[i].start,
						  BASE + g->funcs[i].end };
	n = rewrite_region_scan(&r, &plan);
	ck_assert_msg(n == (long)g->nwant, "%s: %ld sites, want %zu", g->name, n, g->nwant);
	ck_assert_uint_eq(plan.n, g->nwant);
	for (size_t i = 0; i < g->nwant; i++) {
		const struct want *w = &g->want[i];
		const struct rewrite_site *s = &plan.sites[i];

		ck_assert_msg(s->addr == BASE + w->addr && s->tactic == w->tactic,
			      "%s site %zu: addr +%#lx tactic %d (%s), want +%#x tactic %d",
			      g->name, i, (unsigned long)(s->addr - BASE), s->tactic,
			      s->why ? s->why : "-", w->addr, w->tactic);
		if (w->tactic == T) {
			ck_assert_msg(s->why && !strcmp(s->why, w->why), "%s: why '%s', want '%s'",
				      g->name, s->why ? s->why : "(null)", w->why);
			continue;
		}
		ck_assert_msg(s->start == BASE + w->start && s->len == w->len &&
			      s->sys_off == w->sys_off,
			      "%s site %zu: window +%#lx len %u sys_off %u, want +%#x %u %u",
			      g->name, i, (unsigned long)(s->start - BASE), s->len, s->sys_off,
			      w->start, w->len, w->sys_off);
		ck_assert_mem_eq(s->orig, g->bytes + w->start, w->len);
		if (w->tactic == I)
			ck_assert_msg(s->island == BASE + (uint64_t)w->island,
				      "%s: island +%#lx, want +%#x", g->name,
				      (unsigned long)(s->island - BASE), w->island);
	}
	ck_assert_uint_eq(plan.count[D] + plan.count[I] + plan.count[T], g->nwant);
	rewrite_plan_fini(&plan);
}
END_TEST

START_TEST(test_scan_plan_sorted_across_regions)
{
	static const uint8_t code[] = { MOV27, SYSCALL, RET };
	struct rewrite_region hi = { code, sizeof(code), 0x500000, NULL, 0 };
	struct rewrite_region lo = { code, sizeof(code), 0x400000, NULL, 0 };
	struct rewrite_plan plan = { 0 };

	ck_assert_int_eq(rewrite_region_scan(&hi, &plan), 1);
	ck_assert_int_eq(rewrite_region_scan(&lo, &plan), 1);
	ck_assert_uint_eq(plan.n, 2);
	ck_assert_uint_eq(plan.sites[0].addr, 0x400005);
	ck_assert_uint_eq(plan.sites[1].addr, 0x500005);
	ck_assert_uint_eq(plan.count[D], 2);
	rewrite_plan_fini(&plan);
}
END_TEST

START_TEST(test_scan_unsorted_funcs_einval)
{
	static const uint8_t code[] = { MOV27, SYSCALL, RET };
	struct rewrite_func f[2] = { { BASE + 4, BASE + 8 }, { BASE, BASE + 4 } };
	struct rewrite_region r = { code, sizeof(code), BASE, f, 2 };
	struct rewrite_plan plan = { 0 };

	ck_assert_int_eq(rewrite_region_scan(&r, &plan), -EINVAL);
	ck_assert_uint_eq(plan.n, 0);
	rewrite_plan_fini(&plan);
}
END_TEST

/* Invariants every plan keeps: sorted, inside the region, no shared bytes. */
static void check_plan(const struct rewrite_region *r, const struct rewrite_plan *p)
{
	uint8_t *used = calloc(r->len, 1);

	ck_assert_ptr_nonnull(used);
	for (size_t i = 0; i < p->n; i++) {
		const struct rewrite_site *s = &p->sites[i];

		if (i)
			ck_assert_uint_lt(p->sites[i - 1].addr, s->addr);
		ck_assert(s->addr >= r->addr && s->addr + 2 <= r->addr + r->len);
		if (s->tactic == REWRITE_TRAP)
			continue;
		ck_assert(s->start >= r->addr && s->start + s->len <= r->addr + r->len);
		ck_assert_mem_eq(s->orig, r->bytes + (s->start - r->addr), s->len);
		for (size_t b = 0; b < s->len; b++)
			ck_assert_int_eq(used[s->start - r->addr + b]++, 0);
		if (s->tactic == REWRITE_ISLAND) {
			ck_assert(s->island + 5 <= r->addr + r->len);
			for (size_t b = 0; b < 5; b++)
				ck_assert_int_eq(used[s->island - r->addr + b]++, 0);
		}
	}
	free(used);
}

START_TEST(test_scan_random_bytes_never_crash)
{
	size_t len = 1 << 16;
	uint8_t *buf = malloc(len);
	struct rewrite_func funcs[64];

	ck_assert_ptr_nonnull(buf);
	srand(1234);
	for (int round = 0; round < 40; round++) {
		struct rewrite_plan plan = { 0 };
		struct rewrite_region r = { buf, len, 0x10000000, funcs, 0 };
		uint64_t at = r.addr;

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand();
		for (int k = 0; k < 400; k++) {	/* plenty of candidates and padding */
			size_t o = (size_t)rand() % (len - 8);

			if (k & 1)
				memcpy(buf + o, "\x0f\x05", 2);		/* syscall */
			else
				memset(buf + o, 0xcc, 7);		/* int3 padding */
		}
		/* odd rounds: random sorted functions, some running past the region */
		for (size_t f = 0; round & 1 && f < 64; f++) {
			funcs[f].start = at + (uint64_t)(rand() % 64);
			funcs[f].end = funcs[f].start + 1 + (uint64_t)(rand() % 2048);
			at = funcs[f].end;
			r.nfuncs = f + 1;
		}
		ck_assert_int_ge(rewrite_region_scan(&r, &plan), 0);
		check_plan(&r, &plan);
		/* a sub-range cut at odd places, appended to the same plan */
		r.bytes += 3;
		r.len -= 1000;
		r.addr += 3;
		ck_assert_int_ge(rewrite_region_scan(&r, &plan), 0);
		rewrite_plan_fini(&plan);
	}
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rewrite.scan");
	TCase *tc = tcase_create("scan");

	tcase_add_loop_test(tc, test_scan_golden, 0, (int)NCASES);
	tcase_add_test(tc, test_scan_plan_sorted_across_regions);
	tcase_add_test(tc, test_scan_unsorted_funcs_einval);
	tcase_add_test(tc, test_scan_random_bytes_never_crash);
	suite_add_tcase(s, tc);
	return check_run(s);
}
