// SPDX-License-Identifier: MIT
/* rewrite_site_confirm: a TRAP site confirmed at run time gets an island in free padding
 * (the only tactic applied to live code), and nothing else. */
#include <errno.h>
#include <string.h>

#include <rewrite/rewrite.h>

#include <check_run.h>

#define BASE 0x401000ull

/* [0,4) function A; [4,0x20) code with no FDE: mov $39,%eax; syscall; ret (syscall at 9),
 * then filler; [0x20,0x24) function B; [0x24,0x30) the gap before C: @pad; [0x30,0x34) C;
 * [0x34,0x40) @pad again. */
static void build(uint8_t *b, uint8_t pad)
{
	static const uint8_t fn[] = { 0x90, 0x90, 0x90, 0xc3 };
	static const uint8_t orphan[] = { 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xc3 };

	memset(b, 0xcc, 0x40);
	memcpy(b, fn, 4);
	memcpy(b + 4, orphan, sizeof(orphan));
	memcpy(b + 0x20, fn, 4);
	memset(b + 0x24, pad, 0x0c);
	memcpy(b + 0x30, fn, 4);
	memset(b + 0x34, pad, 0x0c);
}

static const struct rewrite_func g_funcs[] = {
	{ BASE, BASE + 4 }, { BASE + 0x20, BASE + 0x24 }, { BASE + 0x30, BASE + 0x34 },
};

START_TEST(test_confirm_trap_site_gets_island_in_padding)
{
	uint8_t b[0x40];
	struct rewrite_plan plan = { 0 };

	build(b, 0xcc);
	struct rewrite_region r = { b, sizeof(b), BASE, g_funcs, 3 };
	ck_assert_int_eq(rewrite_region_scan(&r, &plan), 1);
	ck_assert_int_eq(plan.sites[0].tactic, REWRITE_TRAP);
	ck_assert_uint_eq(plan.sites[0].addr, BASE + 9);
	ck_assert_uint_eq(plan.sites[0].island, BASE + 0x24);	/* reserved by the scan */

	ck_assert_int_eq(rewrite_site_confirm(&r, &plan, BASE + 9), 0);
	ck_assert_int_eq(plan.sites[0].tactic, REWRITE_ISLAND);
	ck_assert_uint_eq(plan.sites[0].start, BASE + 9);
	ck_assert_uint_eq(plan.sites[0].len, 2);
	ck_assert_uint_eq(plan.sites[0].island, BASE + 0x24);
	ck_assert_uint_eq(plan.count[REWRITE_TRAP], 0);
	ck_assert_uint_eq(plan.count[REWRITE_ISLAND], 1);
	/* Once is enough: it is no longer a TRAP site. */
	ck_assert_int_eq(rewrite_site_confirm(&r, &plan, BASE + 9), -EINVAL);
	rewrite_plan_fini(&plan);
}
END_TEST

START_TEST(test_confirm_no_padding_enoent)
{
	uint8_t b[0x40];
	struct rewrite_plan plan = { 0 };

	build(b, 0x00);		/* add %al,(%rax): code, not padding */
	struct rewrite_region r = { b, sizeof(b), BASE, g_funcs, 3 };
	ck_assert_int_eq(rewrite_region_scan(&r, &plan), 1);
	ck_assert_int_eq(rewrite_site_confirm(&r, &plan, BASE + 9), -ENOENT);
	ck_assert_int_eq(plan.sites[0].tactic, REWRITE_TRAP);
	rewrite_plan_fini(&plan);
}
END_TEST

START_TEST(test_confirm_not_a_planned_syscall_einval)
{
	uint8_t b[0x40];
	struct rewrite_plan plan = { 0 };

	build(b, 0xcc);
	struct rewrite_region r = { b, sizeof(b), BASE, g_funcs, 3 };
	ck_assert_int_eq(rewrite_region_scan(&r, &plan), 1);
	ck_assert_int_eq(rewrite_site_confirm(&r, &plan, BASE + 5), -EINVAL);	/* inside the mov */
	ck_assert_int_eq(rewrite_site_confirm(&r, &plan, BASE + 0x3e), -EINVAL);	/* not 0f 05 */
	ck_assert_int_eq(plan.sites[0].tactic, REWRITE_TRAP);
	rewrite_plan_fini(&plan);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rewrite.confirm");
	TCase *tc = tcase_create("confirm");
	tcase_add_test(tc, test_confirm_trap_site_gets_island_in_padding);
	tcase_add_test(tc, test_confirm_no_padding_enoent);
	tcase_add_test(tc, test_confirm_not_a_planned_syscall_einval);
	suite_add_tcase(s, tc);
	return check_run(s);
}
