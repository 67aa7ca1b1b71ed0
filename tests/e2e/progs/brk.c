/* SPDX-License-Identifier: MIT */
/* The program break (DESIGN.md 1: brk is emulated for the guest): sbrk growth by small and
 * large steps with every byte written and read back, shrinking, brk(2) queries, and malloc
 * (which in static glibc uses brk) still working afterwards. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "e2e.h"

int main(void)
{
	e2e_init();
	char *base = sbrk(0);
	E2E_CHECK(base != (char *)-1, "sbrk0");
	long raw = syscall(SYS_brk, 0);
	E2E_CHECK((char *)raw == base, "raw_brk_query_matches_sbrk");

	/* Grow in 16 steps up to ~4 MiB, writing a pattern into each new piece. */
	size_t total = 0;
	int ok = 1;
	for (int i = 1; i <= 16; i++) {
		size_t step = (size_t)i * 16384 + 123;
		char *p = sbrk(step);
		if (p == (char *)-1 || p != base + total) {
			ok = 0;
			break;
		}
		memset(p, i, step);
		total += step;
	}
	E2E_CHECK(ok && (char *)sbrk(0) == base + total, "sbrk_grow");
	size_t off = 0;
	for (int i = 1; i <= 16 && ok; i++) {
		size_t step = (size_t)i * 16384 + 123;
		for (size_t k = 0; k < step; k += 997)
			ok &= base[off + k] == (char)i;
		off += step;
	}
	E2E_CHECK(ok, "sbrk_memory_readback");

	/* Shrink by half, then grow back: the regrown part reads as zero or old data, never faults. */
	size_t half = total / 2;
	E2E_CHECK(sbrk(-(intptr_t)half) != (void *)-1 && (char *)sbrk(0) == base + total - half,
		  "sbrk_shrink");
	char *again = sbrk(half);
	E2E_CHECK(again == base + total - half, "sbrk_regrow");
	memset(again, 0x5a, half);
	E2E_CHECK(again[half - 1] == 0x5a, "sbrk_regrow_writable");

	/* brk to a lower address and back through the raw syscall. */
	long r = syscall(SYS_brk, (long)(base + 4096));
	E2E_CHECK((char *)r == base + 4096, "raw_brk_set_low");
	r = syscall(SYS_brk, (long)(base + total));
	E2E_CHECK((char *)r == base + total, "raw_brk_set_high");
	base[total - 1] = 1;

	/* Asking for an absurd break fails without moving it. */
	r = syscall(SYS_brk, (long)(base + ((size_t)1 << 46)));
	E2E_CHECK((char *)r == base + total, "raw_brk_huge_refused");

	/* malloc of many small blocks (brk-backed arena) after all that. */
	void *blocks[1000];
	for (int i = 0; i < 1000; i++) {
		blocks[i] = malloc(100 + i);
		memset(blocks[i], i & 0xff, 100 + i);
	}
	ok = 1;
	for (int i = 0; i < 1000; i++) {
		ok &= ((unsigned char *)blocks[i])[99 + i] == (i & 0xff);
		free(blocks[i]);
	}
	E2E_CHECK(ok, "malloc_after_brk_games");
	return e2e_finish();
}
