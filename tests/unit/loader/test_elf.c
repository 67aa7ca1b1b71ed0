/* SPDX-License-Identifier: MIT */
/* Unit tests for loader_elf_open()/loader_elf_map(): good executables open and map
 * like Linux maps them; every kind of bad or corrupt file gives the right -errno and
 * message and never crashes. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/loader.h"
#include "testutil.h"

#define BUSYBOX "/bin/busybox"

static char g_dir[] = "/tmp/loader-elf-XXXXXX";
static unsigned char *g_bb;	/* busybox, read once */
static size_t g_bb_size;

static const Elf64_Ehdr *bb_ehdr(void)
{
	return (const Elf64_Ehdr *)g_bb;
}

static const Elf64_Phdr *bb_phdr(int i)
{
	return (const Elf64_Phdr *)(g_bb + bb_ehdr()->e_phoff) + i;
}

/* Path of a scratch file named @name in the test directory (static buffer). */
static const char *tmp(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	return path;
}

/* Write @len bytes of @data to scratch file @name with @mode; returns its path. */
static const char *put(const char *name, const void *data, size_t len, mode_t mode)
{
	const char *path = tmp(name);
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* Open @path expecting failure @err with message @why (NULL: any message). */
static void expect_fail(const char *path, int err, const char *why)
{
	struct loader_elf elf;
	const char *msg = NULL;

	ck_assert_int_eq(loader_elf_open(path, &elf, &msg), err);
	ck_assert_int_eq(elf.fd, -1);
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(msg[0] != '\0', "empty message");
	if (why != NULL)
		ck_assert_str_eq(msg, why);
}

/* Busybox with @patch applied at @off (a copy, executable). */
static const char *bb_patched(size_t off, const void *patch, size_t len)
{
	unsigned char *copy = malloc(g_bb_size);
	const char *path;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, g_bb, g_bb_size);
	memcpy(copy + off, patch, len);
	path = put("patched", copy, g_bb_size, 0755);
	free(copy);
	return path;
}

START_TEST(test_elf_open_busybox_is_exec_with_four_segments)
{
	struct loader_elf elf;
	const char *why;
	struct stat st;

	ck_assert_int_eq(loader_elf_open(BUSYBOX, &elf, &why), 0);
	ck_assert_int_eq(elf.type, ET_EXEC);
	ck_assert_uint_eq(elf.entry, bb_ehdr()->e_entry);
	ck_assert_uint_eq(elf.file_size, g_bb_size);
	ck_assert_str_eq(elf.interp, "");
	ck_assert_int_eq(stat(BUSYBOX, &st), 0);
	ck_assert_uint_eq(elf.ino, st.st_ino);
	ck_assert_uint_eq(elf.dev, st.st_dev);
	ck_assert_uint_eq(elf.mtime_ns, st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
	ck_assert_int_ge(elf.fd, 0);
	loader_elf_close(&elf);
	ck_assert_int_eq(elf.fd, -1);
	loader_elf_close(&elf);
}
END_TEST

START_TEST(test_elf_open_dynamic_pie_reads_interp)
{
	struct loader_elf elf;

	if (access("/bin/true", X_OK) != 0)
		return;
	ck_assert_int_eq(loader_elf_open("/bin/true", &elf, NULL), 0);
	ck_assert_int_eq(elf.type, ET_DYN);
	ck_assert_str_eq(elf.interp, "/lib64/ld-linux-x86-64.so.2");
	loader_elf_close(&elf);
}
END_TEST

START_TEST(test_elf_open_bad_files_errno)
{
	static const char text[] = "#!/bin/sh\necho not elf\n";
	Elf32_Ehdr e32 = { .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32,
					ELFDATA2LSB, EV_CURRENT },
			   .e_type = ET_EXEC, .e_machine = EM_386, .e_version = EV_CURRENT };

	expect_fail(tmp("does-not-exist"), -ENOENT, "No such file or directory");
	expect_fail(g_dir, -EISDIR, "Is a directory");
	/* 0644: even root fails execve (and access X_OK) without any x bit. */
	expect_fail(put("noexec", g_bb, g_bb_size, 0644), -EACCES, NULL);
	expect_fail("/dev/null", -EACCES, NULL);
	expect_fail(put("text", text, sizeof(text) - 1, 0755), -ENOEXEC, "not an ELF file");
	expect_fail(put("empty", "", 0, 0755), -ENOEXEC, "not an ELF file");
	expect_fail(put("elf32", &e32, sizeof(e32), 0755), -ENOEXEC,
		    "32-bit ELF is not supported");
}
END_TEST

START_TEST(test_elf_open_truncated_busybox_enoexec)
{
	static const struct { size_t len; const char *why; } cases[] = {
		{ 3, "not an ELF file" }, { 10, "truncated ELF header" },
		{ 63, "truncated ELF header" }, { 64, "truncated program headers" },
		{ 100, "truncated program headers" }, { 300, "truncated program headers" },
		{ 700, "truncated segment" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_fail(put("trunc", g_bb, cases[i].len, 0755), -ENOEXEC, cases[i].why);
	expect_fail(put("trunc", g_bb, g_bb_size / 2, 0755), -ENOEXEC, "truncated segment");
}
END_TEST

START_TEST(test_elf_open_every_truncation_never_crashes)
{
	const char *path = put("shrink", g_bb, g_bb_size, 0755);
	struct loader_elf elf;
	int fd = open(path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	/* Shrink one file step by step: every prefix shorter than the end of the last
	 * segment must be refused, cleanly. */
	for (size_t len = 0x1e3710 + 64; len > 0; len -= len > 4096 ? 4093 : 1) {
		int err;

		ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
		err = loader_elf_open(path, &elf, NULL);
		if (err == 0)
			loader_elf_close(&elf);
		if (len < bb_phdr(3)->p_offset + bb_phdr(3)->p_filesz)
			ck_assert_msg(err == -ENOEXEC, "len %zu: %d", len, err);
	}
	close(fd);
}
END_TEST

START_TEST(test_elf_open_corrupt_headers_enoexec)
{
	static const struct {
		size_t off, len;
		uint64_t val;
		const char *why;
	} cases[] = {
		{ offsetof(Elf64_Ehdr, e_phoff), 8, 0, "truncated program headers" },
		{ offsetof(Elf64_Ehdr, e_phnum), 2, 0, "bad program header count" },
		{ offsetof(Elf64_Ehdr, e_phnum), 2, 1000, "bad program header count" },
		{ offsetof(Elf64_Ehdr, e_phentsize), 2, 32, "bad program header size" },
		{ offsetof(Elf64_Ehdr, e_machine), 2, EM_AARCH64, "unsupported machine (not x86-64)" },
		{ offsetof(Elf64_Ehdr, e_type), 2, ET_REL, "not an executable" },
		{ EI_DATA, 1, ELFDATA2MSB, "big-endian ELF is not supported" },
	};
	const Elf64_Ehdr *eh = bb_ehdr();
	Elf64_Phdr ph;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* e_phoff 0 case: point the table at the last 8 bytes of the file instead. */
		uint64_t v = i == 0 ? g_bb_size - 8 : cases[i].val;

		expect_fail(bb_patched(cases[i].off, &v, cases[i].len), -ENOEXEC, cases[i].why);
	}

	/* Segment 1 moved below segment 0. */
	ph = *bb_phdr(1);
	ph.p_vaddr = ph.p_paddr = 0x3ff000;
	expect_fail(bb_patched(eh->e_phoff + sizeof(ph), &ph, sizeof(ph)), -ENOEXEC,
		    "segments overlap or are not in ascending order");
	ph = *bb_phdr(1);
	ph.p_vaddr += 8;
	expect_fail(bb_patched(eh->e_phoff + sizeof(ph), &ph, sizeof(ph)), -ENOEXEC, NULL);
	ph = *bb_phdr(1);
	ph.p_filesz = ph.p_memsz + 1;
	expect_fail(bb_patched(eh->e_phoff + sizeof(ph), &ph, sizeof(ph)), -ENOEXEC,
		    "segment file size larger than memory size");
	ph = *bb_phdr(3);
	ph.p_memsz = UINT64_MAX - ph.p_vaddr + 2;
	expect_fail(bb_patched(eh->e_phoff + 3 * sizeof(ph), &ph, sizeof(ph)), -ENOEXEC,
		    "segment outside the user address space");
	ph = *bb_phdr(3);
	ph.p_offset = UINT64_MAX - 0x700;
	expect_fail(bb_patched(eh->e_phoff + 3 * sizeof(ph), &ph, sizeof(ph)), -ENOEXEC, NULL);
}
END_TEST

START_TEST(test_elf_open_flipped_header_bytes_never_crash)
{
	static const unsigned char flips[] = { 0x01, 0x10, 0x80, 0xff };
	const char *path = put("flip", g_bb, g_bb_size, 0755);
	size_t end = bb_ehdr()->e_phoff + bb_ehdr()->e_phnum * sizeof(Elf64_Phdr);
	struct loader_elf elf;
	int fd = open(path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	for (size_t off = 0; off < end; off++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			unsigned char b = g_bb[off] ^ flips[f];
			const char *why = NULL;
			int err;

			ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
			err = loader_elf_open(path, &elf, &why);
			ck_assert_msg(err == 0 || err == -ENOEXEC, "off %zu: %d", off, err);
			if (err == 0)
				loader_elf_close(&elf);
			else
				ck_assert_msg(why != NULL && why[0] != '\0', "off %zu", off);
		}
		ck_assert_int_eq(pwrite(fd, &g_bb[off], 1, (off_t)off), 1);
	}
	close(fd);
}
END_TEST

/* Remove the scratch directory and the files the tests left in it. */
static void rm_scratch(void)
{
	DIR *d = opendir(g_dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlink(tmp(de->d_name));
	if (d != NULL)
		closedir(d);
	rmdir(g_dir);
}

int main(void)
{
	Suite *s = suite_create("loader.elf");
	TCase *tc = tcase_create("elf");
	int failed;

	g_bb = tu_load(BUSYBOX, &g_bb_size);
	if (g_bb == NULL) {
		fprintf(stderr, "SKIP: %s missing (apt-get install busybox-static)\n", BUSYBOX);
		return 77;
	}
	if (mkdtemp(g_dir) == NULL)
		return EXIT_FAILURE;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_elf_open_busybox_is_exec_with_four_segments);
	tcase_add_test(tc, test_elf_open_dynamic_pie_reads_interp);
	tcase_add_test(tc, test_elf_open_bad_files_errno);
	tcase_add_test(tc, test_elf_open_truncated_busybox_enoexec);
	tcase_add_test(tc, test_elf_open_every_truncation_never_crashes);
	tcase_add_test(tc, test_elf_open_corrupt_headers_enoexec);
	tcase_add_test(tc, test_elf_open_flipped_header_bytes_never_crash);
	suite_add_tcase(s, tc);
	failed = check_run(s);
	rm_scratch();
	return failed;
}
