/* SPDX-License-Identifier: MIT */
/* rewrite_ehframe_funcs on hand-built .eh_frame sections (zR, zPLR, absolute udata8,
 * 64-bit lengths, merging) and on truncated or random input, which must never crash. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite/rewrite.h"
#include <check_run.h>

#define SEC 0x500000u	/* run-time address of the built section */

struct sec {
	uint8_t b[4096];
	size_t n;
};

static void put(struct sec *s, uint64_t v, size_t bytes)
{
	for (size_t i = 0; i < bytes; i++)
		s->b[s->n++] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct sec *s, const char *str)
{
	size_t l = strlen(str) + 1;

	memcpy(s->b + s->n, str, l);
	s->n += l;
}

/* Open a record: length placeholder (4 bytes or 0xffffffff + 8) and the id field. */
static size_t rec_open(struct sec *s, bool is64, uint64_t id, size_t *id_off)
{
	size_t start = s->n;

	put(s, is64 ? 0xffffffffu : 0, 4);
	if (is64)
		put(s, 0, 8);
	*id_off = s->n;
	put(s, id, is64 ? 8 : 4);
	return start;
}

/* Pad with DW_CFA_nop to 8 and fill in the length. */
static void rec_close(struct sec *s, size_t start, bool is64)
{
	size_t hdr = is64 ? 12 : 4;

	while ((s->n - start) % 8)
		put(s, 0, 1);
	if (is64)
		memcpy(s->b + start + 4, &(uint64_t){ s->n - start - hdr }, 8);
	else
		memcpy(s->b + start, &(uint32_t){ (uint32_t)(s->n - start - hdr) }, 4);
}

/* CIE version 1 with augmentation @aug and its data @ad (@nad bytes). */
static size_t add_cie(struct sec *s, bool is64, const char *aug, const uint8_t *ad, size_t nad)
{
	size_t id_off, start = rec_open(s, is64, 0, &id_off);

	put(s, 1, 1);		/* version */
	put_str(s, aug);
	put(s, 1, 1);		/* code alignment 1 */
	put(s, 0x78, 1);	/* data alignment -8 */
	put(s, 16, 1);		/* return address: rip */
	if (aug[0] == 'z') {
		put(s, nad, 1);
		memcpy(s->b + s->n, ad, nad);
		s->n += nad;
	}
	put(s, 0x0c, 1), put(s, 7, 1), put(s, 8, 1);	/* DW_CFA_def_cfa rsp+8 */
	put(s, 0x90, 1), put(s, 1, 1);			/* DW_CFA_offset rip, cfa-8 */
	rec_close(s, start, is64);
	return start;
}

/* FDE for [begin, begin + range) in encoding @enc: 0x1b (pcrel sdata4) or 0 (absptr). */
static void add_fde(struct sec *s, bool is64, size_t cie, uint8_t enc, uint64_t begin,
		    uint64_t range, size_t aug_bytes)
{
	size_t id_off, start = rec_open(s, is64, 0, &id_off);

	memcpy(s->b + id_off, &(uint64_t){ id_off - cie }, is64 ? 8 : 4);
	if (enc == 0x1b) {
		put(s, (uint32_t)(begin - (SEC + s->n)), 4);
		put(s, range, 4);
	} else {
		put(s, begin, 8);
		put(s, range, 8);
	}
	put(s, aug_bytes, 1);
	for (size_t i = 0; i < aug_bytes; i++)
		put(s, 0, 1);
	put(s, 0x41, 1), put(s, 0x0e, 1), put(s, 16, 1);	/* advance 1; def_cfa_offset 16 */
	rec_close(s, start, is64);
}

/* A section with every supported shape; its expected functions below. */
static void build(struct sec *s)
{
	static const uint8_t zr[] = { 0x1b };
	static const uint8_t zplr[] = { 0x9b, 0, 0, 0, 0, 0x1b, 0x1b };
	static const uint8_t zr_abs[] = { 0x00 };
	size_t c1, c2, c3, c4;

	memset(s, 0, sizeof(*s));
	c1 = add_cie(s, false, "zR", zr, sizeof(zr));
	add_fde(s, false, c1, 0x1b, 0x401000, 0x20, 0);
	add_fde(s, false, c1, 0x1b, 0x401080, 0x10, 0);
	add_fde(s, false, c1, 0x1b, 0x401010, 0x8, 0);	/* inside the first: merged */
	add_fde(s, false, c1, 0x1b, 0x401020, 0x10, 0);	/* adjacent: kept apart */
	add_fde(s, false, c1, 0x1b, 0x401100, 0, 0);	/* empty: dropped */
	c2 = add_cie(s, false, "zPLR", zplr, sizeof(zplr));
	add_fde(s, false, c2, 0x1b, 0x402000, 0x40, 4);	/* 4 bytes of LSDA pointer */
	c3 = add_cie(s, false, "zR", zr_abs, sizeof(zr_abs));
	add_fde(s, false, c3, 0x00, 0x7f0000001000ull, 0x100, 0);
	c4 = add_cie(s, true, "zR", zr, sizeof(zr));
	add_fde(s, true, c4, 0x1b, 0x403000, 0x30, 0);
	put(s, 0, 4);		/* terminator */
}

static const struct rewrite_func g_want[] = {
	{ 0x401000, 0x401020 }, { 0x401020, 0x401030 }, { 0x401080, 0x401090 },
	{ 0x402000, 0x402040 }, { 0x403000, 0x403030 }, { 0x7f0000001000ull, 0x7f0000001100ull },
};

#define NWANT (sizeof(g_want) / sizeof(g_want[0]))

START_TEST(test_ehframe_all_shapes_sorted_merged)
{
	struct sec s;
	struct rewrite_func *f = NULL;
	size_t n = 0;

	build(&s);
	ck_assert_int_eq(rewrite_ehframe_funcs(s.b, s.n, SEC, &f, &n), 0);
	ck_assert_uint_eq(n, NWANT);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(f[i].start, g_want[i].start);
		ck_assert_uint_eq(f[i].end, g_want[i].end);
	}
	free(f);
}
END_TEST

START_TEST(test_ehframe_empty_section)
{
	struct rewrite_func *f = (void *)1;
	size_t n = 7;

	ck_assert_int_eq(rewrite_ehframe_funcs(NULL, 0, SEC, &f, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(f);
}
END_TEST

START_TEST(test_ehframe_bad_cie_pointer_keeps_earlier)
{
	struct sec s;
	struct rewrite_func *f = NULL;
	size_t n = 0, c, id_off, start;

	memset(&s, 0, sizeof(s));
	c = add_cie(&s, false, "zR", (const uint8_t[]){ 0x1b }, 1);
	add_fde(&s, false, c, 0x1b, 0x401000, 0x20, 0);
	start = rec_open(&s, false, 0x7fff, &id_off);	/* points before the section */
	put(&s, 0, 8);
	rec_close(&s, start, false);
	ck_assert_int_eq(rewrite_ehframe_funcs(s.b, s.n, SEC, &f, &n), -EINVAL);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(f[0].start, 0x401000);
	free(f);
}
END_TEST

/* Every prefix of a valid section: only complete records count, no read past the end
 * (run under BYPASS_SANITIZE to have ASan watch). */
START_TEST(test_ehframe_truncated_never_crash)
{
	struct sec s;

	build(&s);
	for (size_t len = 0; len <= s.n; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		struct rewrite_func *f = NULL;
		size_t n = 0;
		int ret;

		memcpy(copy, s.b, len);
		ret = rewrite_ehframe_funcs(copy, len, SEC, &f, &n);
		ck_assert(ret == 0 || ret == -EINVAL);
		ck_assert_uint_le(n, NWANT);
		free(f);
		free(copy);
	}
}
END_TEST

START_TEST(test_ehframe_random_never_crash)
{
	struct sec s;

	srand(42);
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)rand() % 256;
		uint8_t *buf = malloc(len ? len : 1);
		struct rewrite_func *f = NULL;
		size_t n = 0;
		int ret;

		/* half the rounds: a valid section with a few bytes flipped */
		if (round & 1) {
			build(&s);
			len = s.n;
			buf = realloc(buf, len);
			memcpy(buf, s.b, len);
			for (int k = 0; k < 3; k++)
				buf[(size_t)rand() % len] = (uint8_t)rand();
		} else {
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)(rand() % 4 ? rand() % 8 : rand());
		}
		ret = rewrite_ehframe_funcs(buf, len, SEC, &f, &n);
		ck_assert(ret == 0 || ret == -EINVAL);
		for (size_t i = 1; i < n; i++)
			ck_assert_uint_le(f[i - 1].end, f[i].start);
		free(f);
		free(buf);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rewrite.ehframe");
	TCase *tc = tcase_create("ehframe");

	tcase_add_test(tc, test_ehframe_all_shapes_sorted_merged);
	tcase_add_test(tc, test_ehframe_empty_section);
	tcase_add_test(tc, test_ehframe_bad_cie_pointer_keeps_earlier);
	tcase_add_test(tc, test_ehframe_truncated_never_crash);
	tcase_add_test(tc, test_ehframe_random_never_crash);
	suite_add_tcase(s, tc);
	return check_run(s);
}
