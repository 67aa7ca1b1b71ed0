// SPDX-License-Identifier: MIT
/* offline_rewrite on /bin/busybox and on broken inputs: the note lists every site, each
 * patched site jumps where the note says, unpatched ones are intact, the output is
 * deterministic and can't be rewritten twice; on libc.so.6 (when found): the layout ld.so
 * needs, text relocations refused.  Exits 77 (ctest SKIP) without busybox. */
#include <check.h>
#include <check_run.h>
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <offline/offline.h>
#include <rewrite/rewrite.h>
#include <trampolines/tramp.h>

#define BUSYBOX "/bin/busybox"

static uint8_t *g_in;
static size_t g_len;
static uint8_t *g_libc;	/* NULL when no libc.so.6 was found */
static size_t g_libc_len;

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
	/* the slot's flag is nonzero: natively, every stub runs its inline syscall */
	ck_assert_mem_eq(out + off_of(out, h->arena) + TRAMP_IMAGE_SLOT_FLAG, "\xcc\xcc\xcc\xcc", 4);
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

/* The note is right after the program header table, no PT_NOTE was added (elflint knows
 * no such note), and a note of another format or cut short is -EINVAL. */
START_TEST(test_note_find_after_phdrs_einval_when_bad)
{
	uint8_t *out;
	size_t len;
	const struct offline_note_hdr *h;
	const char *why = NULL;
	Elf64_Ehdr ei, eo;
	unsigned notes_in = 0, notes_out = 0;

	ck_assert_int_eq(offline_rewrite(g_in, g_len, &out, &len, NULL, &why), 0);
	ck_assert_int_eq(offline_note_find(out, len, &h, NULL), 0);
	memcpy(&ei, g_in, sizeof(ei));
	memcpy(&eo, out, sizeof(eo));
	ck_assert_ptr_eq(h, out + eo.e_phoff + eo.e_phnum * sizeof(Elf64_Phdr));
	ck_assert_mem_eq(h->magic, OFFLINE_NOTE_MAGIC, 8);
	for (unsigned i = 0; i < ei.e_phnum; i++) {
		Elf64_Phdr p;
		memcpy(&p, g_in + ei.e_phoff + i * sizeof(p), sizeof(p));
		notes_in += p.p_type == PT_NOTE;
	}
	for (unsigned i = 0; i < eo.e_phnum; i++) {
		Elf64_Phdr p;
		memcpy(&p, out + eo.e_phoff + i * sizeof(p), sizeof(p));
		notes_out += p.p_type == PT_NOTE;
		/* no type of our own: elflint reports those */
		ck_assert(p.p_type < PT_NUM || (p.p_type >= PT_GNU_EH_FRAME &&
						p.p_type <= PT_GNU_PROPERTY));
	}
	ck_assert_uint_eq(notes_out, notes_in);
	/* cut short: the sites no longer fit the file */
	size_t hoff = (const uint8_t *)h - out;
	ck_assert_int_eq(offline_note_find(out, hoff + sizeof(*h) + 8, NULL, NULL), -EINVAL);
	/* another format */
	uint32_t f = OFFLINE_NOTE_FORMAT + 1;
	memcpy(out + hoff + offsetof(struct offline_note_hdr, format), &f, 4);
	ck_assert_int_eq(offline_note_find(out, len, NULL, NULL), -EINVAL);
	/* not ours */
	out[hoff] ^= 1;
	ck_assert_int_eq(offline_note_find(out, len, NULL, NULL), -ENOENT);
	free(out);
}
END_TEST

static Elf64_Phdr phdr_get(const uint8_t *img, unsigned i)
{
	Elf64_Ehdr eh;
	Elf64_Phdr p;

	memcpy(&eh, img, sizeof(eh));
	memcpy(&p, img + eh.e_phoff + i * sizeof(p), sizeof(p));
	return p;
}

/* The first program header of type @type from index *@at (0 if @at is NULL; then *@at
 * is the index after it), or one of p_type PT_NULL. */
static Elf64_Phdr phdr_find(const uint8_t *img, uint32_t type, unsigned *at)
{
	Elf64_Ehdr eh;

	memcpy(&eh, img, sizeof(eh));
	for (unsigned i = at ? *at : 0; i < eh.e_phnum; i++) {
		Elf64_Phdr p = phdr_get(img, i);
		if (p.p_type == type) {
			if (at)
				*at = i + 1;
			return p;
		}
	}
	return (Elf64_Phdr){ .p_type = PT_NULL };
}

START_TEST(test_rewrite_libc_layout_for_ldso)
{
	uint8_t *out;
	size_t len;
	struct offline_result res;
	const char *why = NULL;
	Elf64_Ehdr ei, eo;
	static const uint32_t kept[] = { PT_DYNAMIC, PT_INTERP, PT_TLS, PT_GNU_RELRO,
					 PT_GNU_STACK };

	ck_assert_int_eq(offline_rewrite(g_libc, g_libc_len, &out, &len, &res, &why), 0);
	ck_assert_str_eq(res.kind, "shared library");
	ck_assert_uint_gt(res.nsites, 100);
	memcpy(&ei, g_libc, sizeof(ei));
	memcpy(&eo, out, sizeof(eo));
	ck_assert_uint_eq(eo.e_phnum, ei.e_phnum + 1);	/* the new PT_LOAD, no PT_NOTE */
	/* the PT_LOADs: the input's, then the new one, highest, holding the table at the
	 * first PT_LOAD's offset-to-address distance (ld.so: __ehdr_start + e_phoff) */
	unsigned at = 0, n = 0;
	Elf64_Phdr first = phdr_find(out, PT_LOAD, NULL), p, last = { 0 };
	while ((p = phdr_find(out, PT_LOAD, &at)).p_type == PT_LOAD) {
		if (n++)
			ck_assert_uint_ge(p.p_vaddr, last.p_vaddr + last.p_memsz);
		last = p;
	}
	ck_assert_uint_eq(last.p_vaddr, res.seg_addr);
	ck_assert_uint_eq(last.p_flags, PF_R | PF_X);
	ck_assert_uint_eq(last.p_offset, eo.e_phoff);
	ck_assert_uint_eq(last.p_vaddr - last.p_offset, first.p_vaddr - first.p_offset);
	Elf64_Phdr ph = phdr_find(out, PT_PHDR, NULL);
	ck_assert_uint_eq(ph.p_vaddr, last.p_vaddr);
	ck_assert_uint_eq(ph.p_offset, eo.e_phoff);
	/* the rebuilt .eh_frame_hdr is in the new segment */
	Elf64_Phdr eh = phdr_find(out, PT_GNU_EH_FRAME, NULL);
	ck_assert_uint_ge(eh.p_vaddr, last.p_vaddr);
	ck_assert_uint_le(eh.p_vaddr + eh.p_memsz, last.p_vaddr + last.p_filesz);
	ck_assert_uint_eq(eh.p_vaddr - eh.p_offset, last.p_vaddr - last.p_offset);
	/* the others as they were */
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		Elf64_Phdr a = phdr_find(g_libc, kept[i], NULL), b = phdr_find(out, kept[i], NULL);
		ck_assert_msg(!memcmp(&a, &b, sizeof(a)), "p_type %#x changed", kept[i]);
	}
	ck_assert_int_eq(offline_note_find(out, len, NULL, NULL), 0);
	offline_result_fini(&res);
	free(out);
}
END_TEST

/* The FDE the .eh_frame_hdr of the image @b (its PT_GNU_EH_FRAME: @eh) gives for @pc,
 * as libgcc finds it: the last table entry at or below @pc, if its range covers @pc.
 * Returns the FDE's address, or 0. */
static uint64_t hdr_lookup(const uint8_t *b, Elf64_Phdr eh, uint64_t pc, uint32_t *count)
{
	const uint8_t *h = b + eh.p_offset;
	uint32_t n;
	int32_t ent[2];
	uint64_t best = 0;

	ck_assert_mem_eq(h, "\x01\x1b\x03\x3b", 4);	/* version, pcrel, udata4, datarel */
	memcpy(&n, h + 8, 4);
	*count = n;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(ent, h + 12 + 8 * i, 8);
		if (i) {
			int32_t prev;
			memcpy(&prev, h + 12 + 8 * (i - 1), 4);
			ck_assert_int_ge(ent[0], prev);	/* sorted */
		}
		if (eh.p_vaddr + ent[0] <= pc)
			best = eh.p_vaddr + ent[1];
	}
	if (!best)
		return 0;
	/* FDE: length, CIE pointer, pc_begin (pcrel sdata4), pc_range */
	const uint8_t *f = b + off_of(b, best);
	int32_t begin;
	uint32_t range;
	memcpy(&begin, f + 8, 4);
	memcpy(&range, f + 12, 4);
	uint64_t lo = best + 8 + begin;
	return pc >= lo && pc < lo + range ? best : 0;
}

START_TEST(test_rewrite_libc_stubs_have_fdes)
{
	uint8_t *out;
	size_t len;
	struct offline_result res;
	const struct offline_note_hdr *h;
	const struct offline_note_site *s;
	const char *why = NULL;
	uint32_t count_in, count_out;
	size_t covered = 0, stubs = 0;

	ck_assert_int_eq(offline_rewrite(g_libc, g_libc_len, &out, &len, &res, &why), 0);
	ck_assert_ptr_null(res.cfi_why);
	ck_assert_int_eq(offline_note_find(out, len, &h, &s), 0);
	Elf64_Phdr ei = phdr_find(g_libc, PT_GNU_EH_FRAME, NULL);
	Elf64_Phdr eo = phdr_find(out, PT_GNU_EH_FRAME, NULL);
	/* an original function is still found, now in the moved copy */
	uint64_t fi = hdr_lookup(g_libc, ei, s[0].addr, &count_in);
	uint64_t fo = hdr_lookup(out, eo, s[0].addr, &count_out);
	ck_assert_uint_ne(fi, 0);
	ck_assert_uint_ge(fo, res.seg_addr);
	ck_assert_uint_eq(count_out, count_in + res.cfi_fdes);
	/* every stub's first and last byte: an FDE in the new segment covers them */
	for (uint32_t i = 0; i < h->nsites; i++) {
		if (s[i].tactic == REWRITE_TRAP)
			continue;
		stubs++;
		uint64_t stub = h->arena + s[i].stub;
		uint64_t fde = hdr_lookup(out, eo, stub, &count_out);
		covered += fde >= res.seg_addr;
	}
	ck_assert_uint_eq(stubs, res.count[REWRITE_DISPLACE] + res.count[REWRITE_ISLAND]);
	ck_assert_uint_ge(covered + res.cfi_bare, stubs);	/* a partly covered stub counts in both */
	ck_assert_uint_ge(covered, stubs - stubs / 50);	/* libc: nearly all sites in FDEs */
	offline_result_fini(&res);
	free(out);
}
END_TEST

START_TEST(test_rewrite_textrel_enoexec)
{
	Elf64_Phdr d = phdr_find(g_libc, PT_DYNAMIC, NULL);
	uint8_t *copy = malloc(g_libc_len), *out;
	size_t len;
	const char *why = NULL;
	Elf64_Dyn e;

	memcpy(copy, g_libc, g_libc_len);
	memcpy(&e, copy + d.p_offset, sizeof(e));	/* the first entry becomes DT_TEXTREL */
	e.d_tag = DT_TEXTREL;
	memcpy(copy + d.p_offset, &e, sizeof(e));
	ck_assert_int_eq(offline_rewrite(copy, g_libc_len, &out, &len, NULL, &why), -ENOEXEC);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "text relocations"));
	free(copy);
}
END_TEST

int main(void)
{
	static const char *const libcs[] = { "/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib64/libc.so.6" };
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
	tcase_add_test(tc, test_note_find_after_phdrs_einval_when_bad);
	for (size_t i = 0; !g_libc && i < sizeof(libcs) / sizeof(libcs[0]); i++)
		g_libc = slurp(libcs[i], &g_libc_len);
	if (g_libc) {
		tcase_add_test(tc, test_rewrite_libc_layout_for_ldso);
		tcase_add_test(tc, test_rewrite_textrel_enoexec);
		tcase_add_test(tc, test_rewrite_libc_stubs_have_fdes);
	} else {
		printf("NOTE: no libc.so.6 found: the shared-library tests are not run\n");
	}
	suite_add_tcase(s, tc);
	return check_run(s);
}
