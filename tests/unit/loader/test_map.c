/* SPDX-License-Identifier: MIT */
/* Unit tests for loader_elf_map()/loader_image_protect(): busybox (ET_EXEC) at its
 * own addresses, a static-pie (ET_DYN) at a bias, .bss and trampoline reservations.
 * Each test runs in its own forked process (Check's default), so mappings do not leak. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loader/loader.h"
#include "testutil.h"

#define BUSYBOX "/bin/busybox"
#define MIB (1ul << 20)

struct file {
	unsigned char *data;
	size_t size;
};

static struct file g_bb, g_tiny;

static const Elf64_Phdr *phdr_of(const struct file *f, int i)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->data;

	return (const Elf64_Phdr *)(f->data + eh->e_phoff) + i;
}

/* The bytes at run-time address @addr are the file bytes the segments put there. */
static void expect_file_bytes(const struct file *f, const struct loader_image *img,
			      uintptr_t addr, size_t len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->data;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = phdr_of(f, i);
		uintptr_t va = img->bias + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && addr >= va && addr + len <= va + ph->p_filesz) {
			ck_assert_int_eq(memcmp((void *)addr, f->data + ph->p_offset + (addr - va),
						len), 0);
			return;
		}
	}
	ck_abort_msg("%#lx not in a file-backed segment", (unsigned long)addr);
}

/* Every byte of every segment's .bss (p_filesz..p_memsz) reads as zero. */
static void expect_bss_zero(const struct file *f, const struct loader_image *img)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->data;

	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = phdr_of(f, i);
		const unsigned char *p = (const unsigned char *)(img->bias + ph->p_vaddr);

		if (ph->p_type != PT_LOAD)
			continue;
		for (uint64_t off = ph->p_filesz; off < ph->p_memsz; off++)
			ck_assert_msg(p[off] == 0, "segment %d byte %#lx", i, (unsigned long)off);
	}
}

/* Open and map @path; asserts success. */
static void map_ok(const char *path, uintptr_t hint, size_t below, struct loader_image *img,
		   uintptr_t *tlo, uintptr_t *thi)
{
	struct loader_elf elf;
	const char *why = NULL;

	ck_assert_int_eq(loader_elf_open(path, &elf, &why), 0);
	ck_assert_msg(loader_elf_map(&elf, hint, below, img, tlo, thi, &why) == 0, "%s", why);
	loader_elf_close(&elf);
}

START_TEST(test_map_busybox_at_its_addresses)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)g_bb.data;
	const Elf64_Phdr *last = phdr_of(&g_bb, 3);
	struct loader_image img;
	uintptr_t tlo, thi;

	map_ok(BUSYBOX, 0, MIB, &img, &tlo, &thi);
	ck_assert_int_eq(img.type, ET_EXEC);
	ck_assert_uint_eq(img.bias, 0);
	ck_assert_uint_eq(img.lo, 0x400000);
	ck_assert_uint_eq(img.nsegs, 4);
	ck_assert_uint_eq(img.entry, eh->e_entry);
	ck_assert_uint_eq(img.phdr, 0x400000 + eh->e_phoff);
	ck_assert_uint_eq(img.phnum, eh->e_phnum);
	ck_assert_uint_eq(img.phent, sizeof(Elf64_Phdr));
	ck_assert_uint_eq(img.hi, (last->p_vaddr + last->p_memsz + 4095) & ~4095ul);
	ck_assert_uint_eq(img.brk, img.hi);
	ck_assert(!img.exec_stack);
	ck_assert_int_eq(img.segs[1].prot, PROT_READ | PROT_EXEC);
	/* Trampoline room directly below, reserved but inaccessible. */
	ck_assert_uint_eq(tlo, 0x400000 - MIB);
	ck_assert_uint_eq(thi, 0x400000);
	expect_file_bytes(&g_bb, &img, img.entry, 64);
	expect_file_bytes(&g_bb, &img, img.phdr, eh->e_phnum * sizeof(Elf64_Phdr));
	expect_file_bytes(&g_bb, &img, last->p_vaddr, last->p_filesz);
	expect_bss_zero(&g_bb, &img);
}
END_TEST

START_TEST(test_map_busybox_protect_applies_p_flags)
{
	struct loader_image img;
	uintptr_t tlo, thi;
	char perms[5];

	map_ok(BUSYBOX, 0, MIB, &img, &tlo, &thi);
	tu_perms_of(img.entry, perms);
	ck_assert_str_eq(perms, "rwxp");	/* writable until protected, for the rewriter */
	ck_assert_int_eq(loader_image_protect(&img), 0);
	tu_perms_of(img.entry, perms);
	ck_assert_str_eq(perms, "r-xp");
	tu_perms_of(0x400000, perms);
	ck_assert_str_eq(perms, "r--p");
	tu_perms_of(img.hi - 1, perms);
	ck_assert_str_eq(perms, "rw-p");
	tu_perms_of(tlo, perms);
	ck_assert_str_eq(perms, "---p");
}
END_TEST

START_TEST(test_map_busybox_twice_address_in_use_enomem)
{
	struct loader_elf elf;
	struct loader_image img, img2;
	uintptr_t tlo = 1, thi = 1;
	const char *why = NULL;

	map_ok(BUSYBOX, 0, 0, &img, &tlo, &thi);
	ck_assert_uint_eq(tlo, 0);
	ck_assert_uint_eq(thi, 0);
	ck_assert_int_eq(loader_elf_open(BUSYBOX, &elf, &why), 0);
	ck_assert_int_eq(loader_elf_map(&elf, 0, MIB, &img2, &tlo, &thi, &why), -ENOMEM);
	ck_assert_str_eq(why, "address range in use");
	loader_elf_close(&elf);
	/* The first mapping is untouched. */
	expect_file_bytes(&g_bb, &img, img.entry, 64);
}
END_TEST

START_TEST(test_map_exec_tramp_moves_when_below_is_taken)
{
	void *blocker = mmap((void *)0x3ff000, 4096, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	struct loader_image img;
	uintptr_t tlo, thi;
	char perms[5];

	ck_assert_ptr_eq(blocker, (void *)0x3ff000);
	map_ok(BUSYBOX, 0, MIB, &img, &tlo, &thi);
	ck_assert_uint_eq(thi - tlo, MIB);
	ck_assert_uint_le(thi, 0x3ff000);
	ck_assert_uint_ge(tlo + (2ul << 30), img.hi);
	tu_perms_of(tlo, perms);
	ck_assert_str_eq(perms, "---p");
}
END_TEST

START_TEST(test_map_exec_tramp_shrinks_to_free_space)
{
	struct loader_image img;
	uintptr_t tlo, thi;

	/* Only 4 MiB minus vm.mmap_min_addr exist below 0x400000. */
	map_ok(BUSYBOX, 0, 64 * MIB, &img, &tlo, &thi);
	ck_assert_uint_eq(thi, 0x400000);
	ck_assert_uint_gt(thi - tlo, 2 * MIB);
	ck_assert_uint_lt(thi - tlo, 4 * MIB);
}
END_TEST

START_TEST(test_map_static_pie_at_kernel_chosen_bias)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)g_tiny.data;
	struct loader_elf elf;
	struct loader_image img;
	uintptr_t tlo, thi;
	char perms[5];

	ck_assert_int_eq(loader_elf_open(LOADER_TINY, &elf, NULL), 0);
	ck_assert_int_eq(elf.type, ET_DYN);
	ck_assert_str_eq(elf.interp, "");
	loader_elf_close(&elf);

	map_ok(LOADER_TINY, 0, MIB, &img, &tlo, &thi);
	ck_assert_int_eq(img.type, ET_DYN);
	ck_assert_uint_ne(img.bias, 0);
	ck_assert_uint_eq(img.bias % 4096, 0);
	ck_assert_uint_eq(img.lo, img.bias);
	ck_assert_uint_eq(img.entry, img.bias + eh->e_entry);
	ck_assert_uint_eq(tlo, img.lo - MIB);
	ck_assert_uint_eq(thi, img.lo);
	ck_assert(!img.exec_stack);
	expect_file_bytes(&g_tiny, &img, img.entry, 32);
	expect_file_bytes(&g_tiny, &img, img.phdr, eh->e_phnum * sizeof(Elf64_Phdr));
	expect_bss_zero(&g_tiny, &img);
	ck_assert_int_eq(loader_image_protect(&img), 0);
	tu_perms_of(img.entry, perms);
	ck_assert_str_eq(perms, "r-xp");
	tu_perms_of(tlo, perms);
	ck_assert_str_eq(perms, "---p");
}
END_TEST

START_TEST(test_map_static_pie_at_hint)
{
	const uintptr_t hint = 0x200000000000ul;
	struct loader_image img;
	uintptr_t tlo, thi;

	map_ok(LOADER_TINY, hint, 2 * MIB, &img, &tlo, &thi);
	ck_assert_uint_eq(img.lo, hint);
	ck_assert_uint_eq(img.bias, hint);
	ck_assert_uint_eq(tlo, hint - 2 * MIB);
	expect_file_bytes(&g_tiny, &img, img.entry, 32);
}
END_TEST

START_TEST(test_map_closed_elf_einval)
{
	struct loader_elf elf = { .fd = -1 };
	struct loader_image img;
	uintptr_t tlo = 1, thi = 1;

	ck_assert_int_eq(loader_elf_map(&elf, 0, MIB, &img, &tlo, &thi, NULL), -EINVAL);
	ck_assert_uint_eq(tlo, 0);
	ck_assert_uint_eq(thi, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader.map");
	TCase *tc = tcase_create("map");

	g_bb.data = tu_load(BUSYBOX, &g_bb.size);
	g_tiny.data = tu_load(LOADER_TINY, &g_tiny.size);
	if (g_bb.data == NULL || g_tiny.data == NULL) {
		fprintf(stderr, "SKIP: %s or %s missing\n", BUSYBOX, LOADER_TINY);
		return 77;
	}
	tcase_add_test(tc, test_map_busybox_at_its_addresses);
	tcase_add_test(tc, test_map_busybox_protect_applies_p_flags);
	tcase_add_test(tc, test_map_busybox_twice_address_in_use_enomem);
	tcase_add_test(tc, test_map_exec_tramp_moves_when_below_is_taken);
	tcase_add_test(tc, test_map_exec_tramp_shrinks_to_free_space);
	tcase_add_test(tc, test_map_static_pie_at_kernel_chosen_bias);
	tcase_add_test(tc, test_map_static_pie_at_hint);
	tcase_add_test(tc, test_map_closed_elf_einval);
	suite_add_tcase(s, tc);
	return check_run(s);
}
