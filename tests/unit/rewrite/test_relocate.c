/* SPDX-License-Identifier: MIT */
/* rewrite_insn_relocate: golden byte cases (RIP-relative operands re-aimed, short
 * branches widened, rel32 re-targeted) and every error return; rewrite_insn_length. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite/rewrite.h"
#include <check_run.h>

#define IN(...) .in = (const uint8_t[]){ __VA_ARGS__ }, \
		.inlen = sizeof((const uint8_t[]){ __VA_ARGS__ })
#define OUT(...) .out = (const uint8_t[]){ __VA_ARGS__ }, \
		 .ret = sizeof((const uint8_t[]){ __VA_ARGS__ })

struct reloc_case {
	const char *name;
	const uint8_t *in;
	size_t inlen;
	uint64_t from, to;
	size_t cap;
	const uint8_t *out;	/* expected bytes when ret > 0 */
	int ret;
};

static const struct reloc_case g_cases[] = {
	/* mov 0x1234(%rip),%rdi: target 0x40223b, from 0x402007 the disp is 0x234 */
	{ "rip_mov_forward", IN(0x48, 0x8b, 0x3d, 0x34, 0x12, 0x00, 0x00), 0x401000, 0x402000,
	  16, OUT(0x48, 0x8b, 0x3d, 0x34, 0x02, 0x00, 0x00) },
	{ "rip_mov_backward", IN(0x48, 0x8b, 0x3d, 0x34, 0x12, 0x00, 0x00), 0x401000, 0x400000,
	  16, OUT(0x48, 0x8b, 0x3d, 0x34, 0x22, 0x00, 0x00) },
	/* movl $1,0x10(%rip): the immediate follows the displacement */
	{ "rip_with_imm", IN(0xc7, 0x05, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00), 0x1000,
	  0x2000, 16, OUT(0xc7, 0x05, 0x10, 0xf0, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00) },
	/* lea -0x10(%rip),%rax moved up by 2 GiB - 16: disp -2^31, the last reachable */
	{ "rip_edge_of_reach", IN(0x48, 0x8d, 0x05, 0xf0, 0xff, 0xff, 0xff), 0x10000000,
	  0x10000000 + 0x7ffffff0ull, 16, OUT(0x48, 0x8d, 0x05, 0x00, 0x00, 0x00, 0x80) },
	{ "rip_one_past_reach", IN(0x48, 0x8d, 0x05, 0xf0, 0xff, 0xff, 0xff), 0x10000000,
	  0x10000000 + 0x7ffffff1ull, 16, .ret = -ERANGE },
	{ "rip_out_of_range", IN(0x48, 0x8b, 0x3d, 0x34, 0x12, 0x00, 0x00), 0x401000,
	  0x401000 + 0x90000000ull, 16, .ret = -ERANGE },
	/* je +0x10 at 0x401000 (target 0x401012) widened to je rel32 at 0x402000 */
	{ "jcc_rel8_widened", IN(0x74, 0x10), 0x401000, 0x402000, 16,
	  OUT(0x0f, 0x84, 0x0c, 0xf0, 0xff, 0xff) },
	{ "jcc_rel8_hint_prefix_kept", IN(0x3e, 0x75, 0x10), 0x401000, 0x402000, 16,
	  OUT(0x3e, 0x0f, 0x85, 0x0c, 0xf0, 0xff, 0xff) },
	{ "jmp_rel8_widened", IN(0xeb, 0xfe), 0x401000, 0x402000, 16,
	  OUT(0xe9, 0xfb, 0xef, 0xff, 0xff) },
	{ "jcc_rel32_retargeted", IN(0x0f, 0x85, 0x00, 0x01, 0x00, 0x00), 0x401000, 0x400000, 16,
	  OUT(0x0f, 0x85, 0x00, 0x11, 0x00, 0x00) },
	{ "call_rel32_retargeted", IN(0xe8, 0x00, 0x00, 0x00, 0x00), 0x401000, 0x401100, 16,
	  OUT(0xe8, 0x00, 0xff, 0xff, 0xff) },
	{ "jcc_out_of_range", IN(0x74, 0x10), 0x401000, 0x401000 + 0x90000000ull, 16,
	  .ret = -ERANGE },
	/* loop has no rel32 form: re-aimed in place while it reaches */
	{ "loop_in_reach", IN(0xe2, 0x10), 0x1000, 0x1008, 16, OUT(0xe2, 0x08) },
	{ "loop_out_of_reach", IN(0xe2, 0x10), 0x1000, 0x2000, 16, .ret = -ERANGE },
	{ "plain_copied", IN(0x48, 0x89, 0xc7), 0x401000, 0x7f0000000000ull, 16,
	  OUT(0x48, 0x89, 0xc7) },
	{ "syscall_copied", IN(0x0f, 0x05), 0x401000, 0x402000, 16, OUT(0x0f, 0x05) },
	{ "plain_enospc", IN(0x48, 0x89, 0xc7), 0x401000, 0x402000, 2, .ret = -ENOSPC },
	{ "widen_enospc", IN(0x74, 0x10), 0x401000, 0x402000, 5, .ret = -ENOSPC },
	{ "undecodable_einval", IN(0x06), 0x401000, 0x402000, 16, .ret = -EINVAL },
	{ "truncated_einval", IN(0x48, 0x8b, 0x3d, 0x34), 0x401000, 0x402000, 16, .ret = -EINVAL },
	{ "two_insns_einval", IN(0xb8, 0x27, 0x00, 0x00, 0x00, 0xc3), 0x401000, 0x402000, 16,
	  .ret = -EINVAL },
};

#define NCASES (sizeof(g_cases) / sizeof(g_cases[0]))

START_TEST(test_relocate_golden)
{
	const struct reloc_case *c = &g_cases[_i];
	uint8_t out[32];
	int ret;

	memset(out, 0xaa, sizeof(out));
	ret = rewrite_insn_relocate(c->in, c->inlen, c->from, c->to, out, c->cap);
	ck_assert_msg(ret == c->ret, "%s: returned %d, want %d", c->name, ret, c->ret);
	if (ret > 0) {
		for (int i = 0; i < ret; i++)
			ck_assert_msg(out[i] == c->out[i], "%s: byte %d is %02x, want %02x",
				      c->name, i, out[i], c->out[i]);
		ck_assert_int_eq(out[ret], 0xaa);	/* nothing written past the result */
	}
}
END_TEST

/* The displaced window of `mov 0x1234(%rip),%rdi; syscall` copied insn by insn to a stub
 * 1 MiB above: only the displacement changes, by exactly the distance moved. */
START_TEST(test_relocate_scanned_window)
{
	static const uint8_t code[] = { 0x48, 0x8b, 0x3d, 0x34, 0x12, 0x00, 0x00, 0x0f, 0x05,
					0xc3 };
	struct rewrite_region r = { code, sizeof(code), 0x401000, NULL, 0 };
	struct rewrite_plan plan = { 0 };
	uint64_t stub = 0x501000;
	uint8_t out[32];
	int n1, n2;

	ck_assert_int_eq(rewrite_region_scan(&r, &plan), 1);
	ck_assert_int_eq(plan.sites[0].tactic, REWRITE_DISPLACE);
	ck_assert_int_eq(plan.sites[0].len, 9);
	n1 = rewrite_insn_relocate(plan.sites[0].orig, 7, plan.sites[0].start, stub, out, 32);
	ck_assert_int_eq(n1, 7);
	n2 = rewrite_insn_relocate(plan.sites[0].orig + 7, 2, plan.sites[0].start + 7, stub + 7,
				   out + 7, 32 - 7);
	ck_assert_int_eq(n2, 2);
	/* 0x1234 - 0x100000 = 0xfff01234 */
	ck_assert_mem_eq(out, ((const uint8_t[]){ 0x48, 0x8b, 0x3d, 0x34, 0x12, 0xf0, 0xff, 0x0f,
						  0x05 }), 9);
	rewrite_plan_fini(&plan);
}
END_TEST

START_TEST(test_insn_length)
{
	static const uint8_t code[] = { 0x48, 0x8b, 0x3d, 0x34, 0x12, 0x00, 0x00, 0x0f, 0x05 };

	ck_assert_int_eq(rewrite_insn_length(code, sizeof(code)), 7);
	ck_assert_int_eq(rewrite_insn_length(code + 7, 2), 2);
	ck_assert_int_eq(rewrite_insn_length(code, 6), -EINVAL);	/* truncated */
	ck_assert_int_eq(rewrite_insn_length((const uint8_t[]){ 0x06 }, 1), -EINVAL);
	ck_assert_int_eq(rewrite_insn_length(code, 0), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rewrite.relocate");
	TCase *tc = tcase_create("relocate");

	tcase_add_loop_test(tc, test_relocate_golden, 0, (int)NCASES);
	tcase_add_test(tc, test_relocate_scanned_window);
	tcase_add_test(tc, test_insn_length);
	suite_add_tcase(s, tc);
	return check_run(s);
}
