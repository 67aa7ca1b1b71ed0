// SPDX-License-Identifier: MIT
/* offline_rewrite on /bin/busybox and on broken inputs: the note lists every site, each
 * patched site jumps where the note says, unpatched ones are intact, the output is
 * deterministic and can't be rewritten twice.  Exits 77 (ctest SKIP) without busybox. */
#include <check.h>
#include <check_run.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <offline/offline.h>
#include <rewrite/rewrite.h>
#include <trampolines/tramp.h>

#define BUSYBOX "/bin/busybox"

static uint8_t *g_in;
static size_t g_len;

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc(n)) && fread(b, 1, n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	*len = b ? (size_t)n : 0;
	fclose(f);
	return b;
}

/* File offset of run-time address @a in the ELF image @img (via its PT_LOADs). */
static size_t off_of(const uint8_t *img, uint64_t a)
{
	Elf64_Ehdr eh;

	memcpy(&eh, img, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr p;
		memcpy(&p, img + eh.e_phoff + i * sizeof(p), sizeof(p));
		if (p.p_type == PT_LOAD && a >= p.p_vaddr && a < p.p_vaddr + p.p_filesz)
			return p.p_offset + (a - p.p_vaddr);
	}
	ck_abort_msg("address %#llx is in no segment", (unsigned long long)a);
	return 0;
}

static int32_t rel32_at(const uint8_t *p)
{
	int32_t d;

	memcpy(&d, p, 4);
	return d;
}

START_TEST(test_rewrite_busybox_note_matches_patches)
{
	uint8_t *out;
	size_t len;
	struct offline_result res;
	const struct offline_note_hdr *h;
	const struct offline_note_site *s;
	const char *why = NULL;
	size_t count[4] = { 0 };

	ck_assert_int_eq(offline_rewrite(g_in, g_len, &out, &len, &res, &why), 0);
	ck_assert_int_eq(offline_note_find(out, len, &h, &s), 0);
	ck_assert_uint_eq(h->nsites, res.nsites);
	ck_assert_uint_gt(h->nsites, 200);
	ck_assert_str_eq(h->tool, "bypass-rewrite " BYPASS_VERSION);
	ck_assert_uint_eq(h->arena % 64, 0);
	/* the slot jumps to the native entry */
	ck_assert_uint_eq(out[off_of(out, h->arena)], 0xe9);
	ck_assert_int_eq(rel32_at(out + off_of(out, h->arena) + 1), TRAMP_IMAGE_ENTRY - 5);
	for (uint32_t i = 0; i < h->nsites; i++) {
		uint64_t from = 0;
		count[s[i].tactic & 3]++;
		if (i)
			ck_assert_uint_gt(s[i].addr, s[i - 1].addr);
		switch (s[i].tactic) {
		case REWRITE_DISPLACE:
			from = s[i].addr - s[i].sys_off;
			ck_assert_uint_ge(s[i].len, 5);
			break;
		case REWRITE_ISLAND:
			ck_assert_uint_eq(out[off_of(out, s[i].addr)], 0xeb);
			ck_assert_uint_eq(s[i].addr + 2 + (int8_t)out[off_of(out, s[i].addr) + 1],
					  s[i].island);
			from = s[i].island;
			break;
		case REWRITE_TRAP:
			ck_assert_uint_eq(s[i].stub, 0);
			ck_assert_mem_eq(out + off_of(out, s[i].addr), "\x0f\x05", 2);
			ck_assert_mem_eq(g_in + off_of(g_in, s[i].addr), "\x0f\x05", 2);
			continue;
		default:
			ck_abort_msg("site %u: tactic %u", i, s[i].tactic);
		}
		/* jmp rel32 to the stub the note names, inside the arena */
		size_t o = off_of(out, from);
		ck_assert_uint_eq(out[o], 0xe9);
		ck_assert_uint_eq(from + 5 + rel32_at(out + o + 1), h->arena + s[i].stub);
		ck_assert_uint_ge(s[i].stub, TRAMP_IMAGE_HDR);
		ck_assert_uint_lt(s[i].stub, h->arena_size);
	}
	ck_assert_mem_eq(count, res.count, sizeof(count));
	ck_assert_uint_eq(count[REWRITE_DISPLACE] + count[REWRITE_ISLAND] + count[REWRITE_TRAP],
			  h->nsites);
	/* up to the input's end, only the ELF header and the patched bytes changed */
	uint8_t *may = calloc(g_len, 1);
	memset(may, 1, sizeof(Elf64_Ehdr));
	for (uint32_t i = 0; i < h->nsites; i++) {
		if (s[i].tactic == REWRITE_TRAP)
			continue;
		memset(may + off_of(g_in, s[i].addr - s[i].sys_off), 1, s[i].len);
		if (s[i].tactic == REWRITE_ISLAND)
			memset(may + off_of(g_in, s[i].island), 1, 5);
	}
	ck_assert_uint_gt(len, g_len);
	for (size_t o = 0; o < g_len; o++)
		ck_assert_msg(may[o] || out[o] == g_in[o], "byte %#zx changed", o);
	free(may);
	offline_result_fini(&res);
	free(out);
}
END_TEST

START_TEST(test_rewrite_deterministic)
{
	uint8_t *a, *b;
	size_t la, lb;
	const char *why;

	ck_assert_int_eq(offline_rewrite(g_in, g_len, &a, &la, NULL, &why), 0);
	ck_assert_int_eq(offline_rewrite(g_in, g_len, &b, &lb, NULL, &why), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert_int_eq(memcmp(a, b, la), 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_rewrite_twice_enoexec)
{
	uint8_t *a, *b;
	size_t la, lb;
	const char *why = NULL;

	ck_assert_int_eq(offline_rewrite(g_in, g_len, &a, &la, NULL, &why), 0);
	ck_assert_int_eq(offline_rewrite(a, la, &b, &lb, NULL, &why), -ENOEXEC);
	ck_assert_ptr_null(b);
	ck_assert_ptr_nonnull(strstr(why, "already rewritten"));
	free(a);
}
END_TEST

START_TEST(test_rewrite_bad_inputs_enoexec)
{
	static const struct { size_t off; uint8_t val; const char *why; } pokes[] = {
		{ 0, 'X', "not an ELF file" },
		{ EI_CLASS, ELFCLASS32, "32-bit" },
		{ 18, EM_AARCH64, "unsupported machine" },
		{ 16, ET_REL, "relocatable" },
		{ 54, 0x40, "program headers" },	/* e_phentsize */
	};
	uint8_t *copy = malloc(g_len), *out;
	size_t len;
	const char *why;

	for (size_t i = 0; i < sizeof(pokes) / sizeof(pokes[0]); i++) {
		memcpy(copy, g_in, g_len);
		copy[pokes[i].off] = pokes[i].val;
		why = NULL;
		ck_assert_int_eq(offline_rewrite(copy, g_len, &out, &len, NULL, &why), -ENOEXEC);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strstr(why, pokes[i].why), "poke %zu: '%s'", i, why);
	}
	for (size_t n = 0; n < 4096; n += 61) {	/* truncations never crash */
		why = NULL;
		ck_assert_int_eq(offline_rewrite(g_in, n, &out, &len, NULL, &why), -ENOEXEC);
		ck_assert_ptr_nonnull(why);
	}
	free(copy);
}
END_TEST

START_TEST(test_note_find_plain_busybox_enoent)
{
	ck_assert_int_eq(offline_note_find(g_in, g_len, NULL, NULL), -ENOENT);
	ck_assert_int_eq(offline_note_find((const uint8_t *)"nope", 4, NULL, NULL), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("offline");
	TCase *tc = tcase_create("rewrite");

	g_in = slurp(BUSYBOX, &g_len);
	if (!g_in) {
		printf("SKIP: %s missing (apt-get install busybox-static)\n", BUSYBOX);
		return 77;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rewrite_busybox_note_matches_patches);
	tcase_add_test(tc, test_rewrite_deterministic);
	tcase_add_test(tc, test_rewrite_twice_enoexec);
	tcase_add_test(tc, test_rewrite_bad_inputs_enoexec);
	tcase_add_test(tc, test_note_find_plain_busybox_enoent);
	suite_add_tcase(s, tc);
	return check_run(s);
}
