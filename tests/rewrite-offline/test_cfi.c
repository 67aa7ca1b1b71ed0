// SPDX-License-Identifier: MIT
/* offline's CFI reader and the unwind info it writes: a hand-assembled .eh_frame gives
 * the rows DWARF says at each address (remember/restore_state, pc-relative pointers), and
 * every stub of a rewritten libc.so.6 starts with the row its site's first displaced
 * instruction has in the input. */
#include <check.h>
#include <check_run.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <offline/offline.h>
#include <rewrite/rewrite.h>

#include "cfi.h"

#define EH_ADDR 0x2000ull

/* A CIE ("zR", code 1, data -8, RA 16, pcrel sdata4; CFA = rsp + 8, RA at CFA - 8) and
 * one FDE for [0x1000, 0x1040), as a compiler would emit for a frame-pointer function. */
static uint8_t g_eh[] = {
	/* CIE at 0 */
	0x14, 0, 0, 0,		/* length 20 */
	0, 0, 0, 0,		/* CIE id */
	1, 'z', 'R', 0,		/* version, augmentation */
	1, 0x78, 16,		/* code align 1, data align -8, RA column 16 */
	1, 0x1b,		/* augmentation data: R = pcrel sdata4 */
	0x0c, 7, 8,		/* def_cfa rsp, 8 */
	0x90, 1,		/* offset r16, 1 (*-8) */
	0, 0,			/* nop padding */
	/* FDE at 24 */
	0x24, 0, 0, 0,		/* length 36 */
	28, 0, 0, 0,		/* CIE pointer: 28 back to 0 */
	0, 0, 0, 0,		/* pc_begin, set by setup: 0x1000 - (EH_ADDR + 32) */
	0x40, 0, 0, 0,		/* pc_range */
	0,			/* augmentation data length */
	0x41,			/* advance 1                        @0x1001 */
	0x0e, 16,		/* def_cfa_offset 16 */
	0x86, 2,		/* offset rbp, 2 (*-8) */
	0x43,			/* advance 3                        @0x1004 */
	0x0d, 6,		/* def_cfa_register rbp */
	0x50,			/* advance 16                       @0x1014 */
	0x0a,			/* remember_state */
	0x0c, 7, 8,		/* def_cfa rsp, 8 */
	0xc6,			/* restore rbp: the CIE's rule (none) */
	0x41,			/* advance 1                        @0x1015 */
	0x0b,			/* restore_state: CFA and rbp's rule come back */
	0, 0, 0, 0, 0, 0, 0,	/* nop padding */
	0, 0, 0, 0,		/* terminator */
};

static void setup(void)
{
	int32_t pc = (int32_t)(0x1000 - (int64_t)(EH_ADDR + 32));

	memcpy(g_eh + 32, &pc, 4);
}

static struct cfi_state row(const struct cfi_info *ci, uint64_t pc)
{
	struct cfi_state st;
	const struct cfi_fde *f = cfi_fde_find(ci, pc, 0);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cfi_row_at(ci, f, pc, &st), 0);
	return st;
}

START_TEST(test_cfi_rows_golden)
{
	struct cfi_info ci;
	struct cfi_state st;

	ck_assert_int_eq(cfi_parse(&ci, g_eh, sizeof(g_eh), EH_ADDR, 0), 0);
	ck_assert_uint_eq(ci.ncie, 1);
	ck_assert_uint_eq(ci.nfde, 1);
	ck_assert_uint_eq(ci.fde[0].pc, 0x1000);
	ck_assert_uint_eq(ci.fde[0].len, 0x40);
	ck_assert_uint_eq(ci.fde[0].pc_field, 32);
	ck_assert_uint_eq(ci.cie[0].ra, 16);

	st = row(&ci, 0x1000);
	ck_assert_int_eq(st.cfa.kind, CFI_CFA_REG);
	ck_assert_uint_eq(st.cfa.reg, 7);
	ck_assert_int_eq(st.cfa.off, 8);
	ck_assert_int_eq(st.reg[16].kind, CFI_OFFSET);
	ck_assert_int_eq(st.reg[16].n, -8);
	ck_assert_int_eq(st.reg[6].kind, CFI_UNSPEC);

	st = row(&ci, 0x1003);		/* the row of 0x1001 */
	ck_assert_int_eq(st.cfa.off, 16);
	ck_assert_int_eq(st.reg[6].kind, CFI_OFFSET);
	ck_assert_int_eq(st.reg[6].n, -16);

	st = row(&ci, 0x1010);
	ck_assert_uint_eq(st.cfa.reg, 6);
	ck_assert_int_eq(st.cfa.off, 16);

	st = row(&ci, 0x1014);		/* inside remember .. restore */
	ck_assert_uint_eq(st.cfa.reg, 7);
	ck_assert_int_eq(st.cfa.off, 8);
	ck_assert_int_eq(st.reg[6].kind, CFI_UNSPEC);

	st = row(&ci, 0x103f);		/* restored, CFA included (as libgcc and gdb do) */
	ck_assert_uint_eq(st.cfa.reg, 6);
	ck_assert_int_eq(st.cfa.off, 16);
	ck_assert_int_eq(st.reg[6].kind, CFI_OFFSET);

	ck_assert_ptr_null(cfi_fde_find(&ci, 0x0fff, 0));
	ck_assert_ptr_null(cfi_fde_find(&ci, 0x1040, 0));
	ck_assert_ptr_nonnull(cfi_fde_find(&ci, 0x1040, 1));
	cfi_fini(&ci);
}
END_TEST

START_TEST(test_cfi_bad_input)
{
	struct cfi_info ci;
	uint8_t bad[sizeof(g_eh)];

	memcpy(bad, g_eh, sizeof(bad));
	bad[0] = 0xf0;			/* the CIE runs past the end */
	ck_assert_int_eq(cfi_parse(&ci, bad, sizeof(bad), EH_ADDR, 0), -EINVAL);
	memcpy(bad, g_eh, sizeof(bad));
	bad[28] = 27;			/* the FDE's CIE pointer misses the CIE */
	ck_assert_int_eq(cfi_parse(&ci, bad, sizeof(bad), EH_ADDR, 0), -EINVAL);
	memcpy(bad, g_eh, sizeof(bad));
	bad[10] = 'Q';			/* an augmentation we cannot skip */
	ck_assert_int_eq(cfi_parse(&ci, bad, sizeof(bad), EH_ADDR, 0), -ENOTSUP);
	memcpy(bad, g_eh, sizeof(bad));
	bad[41] = 0x3f;			/* an unknown CFA opcode: no row */
	ck_assert_int_eq(cfi_parse(&ci, bad, sizeof(bad), EH_ADDR, 0), 0);
	struct cfi_state st;
	ck_assert_int_eq(cfi_row_at(&ci, &ci.fde[0], 0x1002, &st), -ENOTSUP);
	cfi_fini(&ci);
}
END_TEST

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	uint8_t *b = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && (b = malloc(st.st_size)) &&
	    read(fd, b, st.st_size) != st.st_size) {
		free(b);
		b = NULL;
	}
	close(fd);
	*len = b ? (size_t)st.st_size : 0;
	return b;
}

/* The .eh_frame of the ELF image @b, through its section headers. */
static int ehframe_of(const uint8_t *b, struct cfi_info *ci)
{
	Elf64_Ehdr eh;
	Elf64_Shdr str;

	memcpy(&eh, b, sizeof(eh));
	memcpy(&str, b + eh.e_shoff + eh.e_shstrndx * sizeof(Elf64_Shdr), sizeof(str));
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr s;
		memcpy(&s, b + eh.e_shoff + i * sizeof(s), sizeof(s));
		if (!strcmp((const char *)b + str.sh_offset + s.sh_name, ".eh_frame"))
			return cfi_parse(ci, b + s.sh_offset, s.sh_size, s.sh_addr, 0);
	}
	return -ENOENT;
}

static int state_same(const struct cfi_state *a, const struct cfi_state *b)
{
	if (a->cfa.kind != b->cfa.kind || a->cfa.reg != b->cfa.reg || a->cfa.off != b->cfa.off)
		return 0;
	for (unsigned r = 0; r <= CFI_RA; r++)
		if (a->reg[r].kind != b->reg[r].kind || a->reg[r].n != b->reg[r].n)
			return 0;
	return 1;
}

START_TEST(test_cfi_libc_stub_rows_match_sites)
{
	static const char *const libcs[] = { "/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libc.so.6" };
	uint8_t *in = NULL, *out;
	size_t len = 0, out_len, checked = 0;
	const char *why = NULL;
	struct cfi_info cin, cout;
	const struct offline_note_hdr *h;
	const struct offline_note_site *s;

	for (size_t i = 0; !in && i < 2; i++)
		in = slurp(libcs[i], &len);
	if (!in)
		return;		/* nothing to check here; test_offline says so too */
	ck_assert_int_eq(offline_rewrite(in, len, &out, &out_len, NULL, &why), 0);
	ck_assert_int_eq(ehframe_of(in, &cin), 0);
	ck_assert_int_eq(ehframe_of(out, &cout), 0);
	ck_assert_uint_gt(cout.nfde, cin.nfde);
	ck_assert_int_eq(offline_note_find(out, out_len, &h, &s), 0);
	for (uint32_t i = 0; i < h->nsites; i++) {
		if (s[i].tactic != REWRITE_DISPLACE)
			continue;
		uint64_t start = s[i].addr - s[i].sys_off, stub = h->arena + s[i].stub;
		const struct cfi_fde *fi = cfi_fde_find(&cin, start, 0);
		const struct cfi_fde *fo = cfi_fde_find(&cout, stub, 0);
		struct cfi_state a, b;
		if (!fi)
			continue;	/* a site outside any FDE has no row to carry */
		ck_assert_msg(fo != NULL, "site %#lx: no FDE at its stub", (unsigned long)s[i].addr);
		if (cfi_row_at(&cin, fi, start, &a) || a.cfa.kind != CFI_CFA_REG)
			continue;
		ck_assert_int_eq(cfi_row_at(&cout, fo, stub, &b), 0);
		ck_assert_msg(state_same(&a, &b), "site %#lx: the stub's row differs",
			      (unsigned long)s[i].addr);
		checked++;
	}
	ck_assert_uint_gt(checked, 100);
	cfi_fini(&cin);
	cfi_fini(&cout);
	free(out);
	free(in);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offline");
	TCase *tc = tcase_create("cfi");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cfi_rows_golden);
	tcase_add_test(tc, test_cfi_bad_input);
	tcase_add_test(tc, test_cfi_libc_stub_rows_match_sites);
	suite_add_tcase(s, tc);
	return check_run(s);
}
