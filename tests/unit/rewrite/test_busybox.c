/* SPDX-License-Identifier: MIT */
/* Whole-file run over /bin/busybox (static, with .eh_frame): functions from .eh_frame,
 * a scan of .text checked against the plan invariants, tactic counts and scan time
 * printed.  Exits 77 (ctest SKIP) when the file is missing. */
#include <check.h>
#include <elf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Zydis/Zydis.h>

#include "rewrite/rewrite.h"
#include <check_run.h>

#define BUSYBOX "/bin/busybox"

static uint8_t *g_file;
static size_t g_len;

struct section {
	const uint8_t *bytes;
	size_t len;
	uint64_t addr;
};

/* Find section @name with bounds-checked ELF64 section header parsing. */
static bool elf_section(const char *name, struct section *out)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)g_file;
	const Elf64_Shdr *sh, *strs;

	if (g_len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shoff > g_len || eh->e_shnum > (g_len - eh->e_shoff) / sizeof(*sh) ||
	    eh->e_shstrndx >= eh->e_shnum)
		return false;
	sh = (const Elf64_Shdr *)(g_file + eh->e_shoff);
	strs = &sh[eh->e_shstrndx];
	for (size_t i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_name >= strs->sh_size || strs->sh_offset + strs->sh_size > g_len ||
		    strncmp((const char *)g_file + strs->sh_offset + sh[i].sh_name, name,
			    strs->sh_size - sh[i].sh_name) ||
		    sh[i].sh_type != SHT_PROGBITS || sh[i].sh_offset + sh[i].sh_size > g_len)
			continue;
		*out = (struct section){ g_file + sh[i].sh_offset, sh[i].sh_size, sh[i].sh_addr };
		return true;
	}
	return false;
}

static void load_funcs(struct rewrite_func **f, size_t *n)
{
	struct section eh;

	ck_assert(elf_section(".eh_frame", &eh));
	ck_assert_int_eq(rewrite_ehframe_funcs(eh.bytes, eh.len, eh.addr, f, n), 0);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(test_busybox_ehframe_finds_functions)
{
	struct rewrite_func *f = NULL;
	struct section text;
	size_t n = 0, in_text = 0;

	load_funcs(&f, &n);
	ck_assert(elf_section(".text", &text));
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(f[i].start, f[i].end);
		if (i)
			ck_assert_uint_le(f[i - 1].end, f[i].start);
		in_text += f[i].start >= text.addr && f[i].end <= text.addr + text.len;
	}
	printf("busybox .eh_frame: %zu functions, %zu inside .text\n", n, in_text);
	ck_assert_uint_gt(n, 1000);
	ck_assert_uint_ge(in_text * 100, n * 95);
	free(f);
}
END_TEST

/* Check one planned site against the bytes it came from. */
static void check_site(const ZydisDecoder *dec, const struct section *t,
		       const struct rewrite_site *s, uint8_t *used)
{
	size_t start = s->start - t->addr, off = 0;
	ZydisDecodedInstruction in;
	bool saw_syscall = false;

	ck_assert_mem_eq(s->orig, t->bytes + start, s->len);
	for (size_t b = 0; b < s->len; b++)
		ck_assert_int_eq(used[start + b]++, 0);
	if (s->tactic == REWRITE_ISLAND) {
		size_t isl = s->island - t->addr;

		ck_assert_int_eq(s->len, 2);
		ck_assert(s->island + 128 >= s->addr + 2 && s->island <= s->addr + 2 + 127);
		for (size_t b = 0; b < 5; b++)
			ck_assert_int_eq(used[isl + b]++, 0);
		return;
	}
	/* DISPLACE: whole instructions, the syscall at sys_off, each one movable by 256 MiB */
	ck_assert(s->len >= 5 && s->len <= REWRITE_MAX_WINDOW);
	while (off < s->len) {
		uint8_t out[32];

		ck_assert(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(dec, NULL, s->orig + off,
								     s->len - off, &in)));
		if (off == s->sys_off) {
			ck_assert_int_eq(in.mnemonic, ZYDIS_MNEMONIC_SYSCALL);
			saw_syscall = true;
		}
		ck_assert_int_gt(rewrite_insn_relocate(s->orig + off, in.length, s->start + off,
						       s->start + off + 0x10000000, out, 32), 0);
		off += in.length;
	}
	ck_assert_uint_eq(off, s->len);
	ck_assert(saw_syscall);
}

START_TEST(test_busybox_text_scan)
{
	struct rewrite_func *f = NULL;
	struct rewrite_plan plan = { 0 };
	struct section t;
	ZydisDecoder dec;
	size_t n = 0, pairs = 0;
	double best = 1e9, t0;
	uint8_t *used;
	long sites;

	load_funcs(&f, &n);
	ck_assert(elf_section(".text", &t));
	for (size_t i = 0; i + 1 < t.len; i++)
		pairs += t.bytes[i] == 0x0f && t.bytes[i + 1] == 0x05;
	struct rewrite_region r = { t.bytes, t.len, t.addr, f, n };

	for (int run = 0; run < 20; run++) {
		rewrite_plan_fini(&plan);
		t0 = now_ms();
		sites = rewrite_region_scan(&r, &plan);
		t0 = now_ms() - t0;
		best = t0 < best ? t0 : best;
	}
	printf("busybox .text: %zu bytes, %zu functions, %zu `0f 05` pairs, %ld sites: "
	       "displace %zu, island %zu, trap %zu; scan %.3f ms (best of 20)\n",
	       t.len, n, pairs, sites, plan.count[REWRITE_DISPLACE],
	       plan.count[REWRITE_ISLAND], plan.count[REWRITE_TRAP], best);
	ck_assert_int_gt(sites, 100);
	ck_assert_uint_eq(plan.n, (size_t)sites);
	ck_assert_uint_ge((plan.count[REWRITE_DISPLACE] + plan.count[REWRITE_ISLAND]) * 100,
			  (size_t)sites * 95);

	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	used = calloc(t.len, 1);
	ck_assert_ptr_nonnull(used);
	for (size_t i = 0; i < plan.n; i++) {
		const struct rewrite_site *s = &plan.sites[i];

		if (i)
			ck_assert_uint_lt(plan.sites[i - 1].addr, s->addr);
		if (s->tactic == REWRITE_TRAP)
			printf("  trap at %#lx: %s\n", (unsigned long)s->addr, s->why);
		else
			check_site(&dec, &t, s, used);
	}
	free(used);
	rewrite_plan_fini(&plan);
	free(f);
}
END_TEST

START_TEST(test_busybox_ehframe_time)
{
	struct section eh;
	double best = 1e9, t0;

	ck_assert(elf_section(".eh_frame", &eh));
	for (int run = 0; run < 20; run++) {
		struct rewrite_func *f = NULL;
		size_t n = 0;

		t0 = now_ms();
		ck_assert_int_eq(rewrite_ehframe_funcs(eh.bytes, eh.len, eh.addr, &f, &n), 0);
		t0 = now_ms() - t0;
		best = t0 < best ? t0 : best;
		free(f);
	}
	printf("busybox .eh_frame (%zu bytes): parsed in %.3f ms (best of 20)\n", eh.len, best);
}
END_TEST

int main(void)
{
	FILE *fp = fopen(BUSYBOX, "rb");
	Suite *s;
	TCase *tc;
	int failed;

	if (!fp || fseek(fp, 0, SEEK_END) || (long)(g_len = (size_t)ftell(fp)) <= 0 ||
	    fseek(fp, 0, SEEK_SET) || !(g_file = malloc(g_len)) ||
	    fread(g_file, 1, g_len, fp) != g_len) {
		printf("SKIP: cannot read %s (install busybox-static)\n", BUSYBOX);
		if (fp)
			fclose(fp);
		return 77;
	}
	fclose(fp);
	s = suite_create("rewrite.busybox");
	tc = tcase_create("busybox");
	tcase_add_test(tc, test_busybox_ehframe_finds_functions);
	tcase_add_test(tc, test_busybox_text_scan);
	tcase_add_test(tc, test_busybox_ehframe_time);
	suite_add_tcase(s, tc);
	failed = check_run(s);
	free(g_file);
	return failed;
}
