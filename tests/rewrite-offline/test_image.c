// SPDX-License-Identifier: MIT
/* IMAGE arenas run natively: code with a `syscall` is planned, patched into an image arena
 * next to it and called.  Until the slot is written each stub issues its syscall
 * inline (getpid, flags kept), on the exact stack (vfork: the child's own calls would
 * otherwise overwrite the parent's return address); a slot rewritten by
 * tramp_image_slot_encode sends every stub to another entry, as a LibOS would.  The map
 * of a stub (for its unwind info) follows its bytes. */
#include <check.h>
#include <check_run.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rewrite/rewrite.h>
#include <trampolines/tramp.h>

/* The LibOS's stand-in entry: count, then issue the call (getpid here). */
long g_entry_calls;
void test_entry(void);
__asm__(".text\n"
	".globl test_entry\n"
	"test_entry:\n"
	"	lock incq g_entry_calls(%rip)\n"
	"	syscall\n"
	"	ret\n");

static const uint8_t getpid_code[] = {
	0xb8, 0x27, 0x00, 0x00, 0x00,	/* mov $39,%eax    getpid */
	0x0f, 0x05,			/* syscall */
	0xc3,				/* ret */
};
static const uint8_t carry_code[] = {
	0xf9,				/* stc */
	0xb8, 0x27, 0x00, 0x00, 0x00,	/* mov $39,%eax */
	0x0f, 0x05,			/* syscall */
	0xb8, 0x00, 0x00, 0x00, 0x00,	/* mov $0,%eax */
	0x83, 0xd0, 0x00,		/* adc $0,%eax     1 if CF survived */
	0xc3,				/* ret */
};
static const uint8_t vfork_code[] = {
	0xb8, 0x3a, 0x00, 0x00, 0x00,	/* mov $58,%eax    vfork */
	0x0f, 0x05,			/* syscall */
	0x85, 0xc0,			/* test %eax,%eax */
	0x75, 0x0c,			/* jnz parent */
	0xbf, 0x07, 0x00, 0x00, 0x00,	/* mov $7,%edi     child: exit(7) */
	0xb8, 0x3c, 0x00, 0x00, 0x00,	/* mov $60,%eax */
	0x0f, 0x05,			/* syscall */
	0xc3,				/* parent: ret     the child's pid */
};

static uint8_t *g_map;
static struct tramp_arena g_arena;

/* Copy @code to the page after the arena, plan and patch it; returns it, callable. */
static long (*patch(const uint8_t *code, size_t len, size_t nsites))(void)
{
	uint8_t *at = g_map + 4096;
	struct rewrite_plan plan = { 0 };
	struct rewrite_func f = { (uint64_t)at, (uint64_t)at + len };
	struct rewrite_region r = { at, len, (uint64_t)at, &f, 1 };

	memset(at, 0xcc, 4096);
	memcpy(at, code, len);
	ck_assert_int_eq(tramp_arena_init_image(&g_arena, g_map, 4096, (uint64_t)g_map), 0);
	ck_assert_int_eq(rewrite_region_scan(&r, &plan), (long)nsites);
	for (size_t i = 0; i < plan.n; i++) {
		ck_assert_int_ne(plan.sites[i].tactic, REWRITE_TRAP);
		ck_assert_int_eq(tramp_site_install(&g_arena, &plan.sites[i], at, (uint64_t)at, len), 0);
	}
	ck_assert_int_ne(memcmp(at, code, len), 0);
	rewrite_plan_fini(&plan);
	return (long (*)(void))(void *)at;
}

static void setup(void)
{
	g_map = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_map, MAP_FAILED);
}

START_TEST(test_image_getpid_native)
{
	long (*fn)(void) = patch(getpid_code, sizeof(getpid_code), 1);

	ck_assert_int_eq(g_arena.kind, TRAMP_ARENA_IMAGE);
	ck_assert_int_eq(fn(), getpid());
	ck_assert_int_eq(fn(), getpid());
}
END_TEST

START_TEST(test_image_flags_kept)
{
	long (*fn)(void) = patch(carry_code, sizeof(carry_code), 1);

	ck_assert_int_eq(fn(), 1);
}
END_TEST

START_TEST(test_image_vfork_raw_path)
{
	long (*fn)(void) = patch(vfork_code, sizeof(vfork_code), 2);
	int status;
	long pid = fn();

	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid((pid_t)pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 7);
}
END_TEST

START_TEST(test_image_slot_redirect)
{
	long (*fn)(void) = patch(getpid_code, sizeof(getpid_code), 1);

	tramp_image_slot_encode(g_map + TRAMP_IMAGE_SLOT, (uint64_t)test_entry);
	ck_assert_uint_eq(g_map[TRAMP_IMAGE_SLOT], 0xff);
	ck_assert_int_eq(fn(), getpid());
	ck_assert_int_eq(fn(), getpid());
	ck_assert_int_eq(g_entry_calls, 2);
}
END_TEST

START_TEST(test_image_map_rows)
{
	uint8_t *at = g_map + 4096;
	struct rewrite_plan plan = { 0 };
	struct rewrite_func f = { (uint64_t)at, (uint64_t)at + sizeof(getpid_code) };
	struct rewrite_region r = { at, sizeof(getpid_code), (uint64_t)at, &f, 1 };
	struct tramp_stub_map m = { 0 };
	int below = 0;

	memset(at, 0xcc, 4096);
	memcpy(at, getpid_code, sizeof(getpid_code));
	ck_assert_int_eq(tramp_arena_init_image(&g_arena, g_map, 4096, (uint64_t)g_map), 0);
	ck_assert_int_eq(rewrite_region_scan(&r, &plan), 1);
	const struct rewrite_site *s = &plan.sites[0];
	ck_assert_int_eq(s->tactic, REWRITE_DISPLACE);
	ck_assert_int_eq(tramp_site_install_map(&g_arena, s, at, (uint64_t)at,
						sizeof(getpid_code), &m), 0);
	ck_assert_uint_eq(m.addr, (uint64_t)g_map + TRAMP_IMAGE_HDR);
	ck_assert_uint_gt(m.size, 28);
	ck_assert_uint_ge(m.n, 4);
	/* the first row is the first displaced instruction; one row, at the jump back, is
	 * the resume address */
	ck_assert_uint_eq(m.row[0].off, 0);
	ck_assert_uint_eq(m.row[0].orig, s->start);
	int resume = 0;
	for (unsigned i = 0; i < m.n; i++) {
		if (m.row[i].orig != s->start + s->len)
			continue;
		ck_assert_uint_eq(g_map[TRAMP_IMAGE_HDR + m.row[i].off], 0xe9);	/* jmp back */
		resume++;
	}
	ck_assert_int_eq(resume, 1);
	for (unsigned i = 0; i < m.n; i++) {
		if (i)
			ck_assert_uint_gt(m.row[i].off, m.row[i - 1].off);
		ck_assert_uint_lt(m.row[i].off, m.size);
		ck_assert_uint_ge(m.row[i].orig, s->start);
		ck_assert_uint_le(m.row[i].orig, s->start + s->len);
		if (m.row[i].below) {	/* only the call to the LibOS's entry, at the site */
			ck_assert_uint_eq(m.row[i].below, TRAMP_RED_ZONE);
			ck_assert_uint_eq(m.row[i].orig, s->addr);
			below++;
		}
	}
	ck_assert_int_eq(below, 1);
	rewrite_plan_fini(&plan);
}
END_TEST

START_TEST(test_image_init_einval)
{
	struct tramp_arena a;
	uint8_t buf[128];

	ck_assert_int_eq(tramp_arena_init_image(&a, buf, TRAMP_IMAGE_HDR - 1, 0x1000), -EINVAL);
	ck_assert_int_eq(tramp_arena_init_image(&a, buf, sizeof(buf), 0x1008), -EINVAL);
	ck_assert_int_eq(tramp_arena_init_image(&a, NULL, sizeof(buf), 0x1000), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offline");
	TCase *tc = tcase_create("image_arena");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_image_getpid_native);
	tcase_add_test(tc, test_image_flags_kept);
	tcase_add_test(tc, test_image_vfork_raw_path);
	tcase_add_test(tc, test_image_slot_redirect);
	tcase_add_test(tc, test_image_map_rows);
	tcase_add_test(tc, test_image_init_einval);
	suite_add_tcase(s, tc);
	return check_run(s);
}
