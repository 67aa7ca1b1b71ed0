// SPDX-License-Identifier: MIT
/* Stub arenas: memory within +-2 GiB of the code whose sites jump into it.  The first
 * 64 bytes hold the entry slot every stub calls through. */
#include <errno.h>
#include <sys/mman.h>

#include <trampolines/tramp.h>

#define ARENA_HDR 64

/* A LIVE arena over the fresh mapping @p: stubs call through the entry slot at +0. */
static int arena_live(struct tramp_arena *a, void *p, size_t size)
{
	a->base = p;
	a->addr = (uint64_t)p;
	a->kind = TRAMP_ARENA_LIVE;
	a->size = size;
	a->used = ARENA_HDR;
	tramp_arena_set_entry(a, tramp_entry);
	return 0;
}

int tramp_arena_create(struct tramp_arena *a, uintptr_t lo, uintptr_t hi, size_t size)
{
	size = (size + 4095) & ~(size_t)4095;
	if (hi <= lo || hi - lo < size)
		return -ENOMEM;
	/* The top of the range is closest to the image above it. */
	void *p = mmap((void *)(hi - size), size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	return arena_live(a, p, size);
}

void tramp_arena_set_entry(struct tramp_arena *a, void (*entry)(void))
{
	*(void (**)(void))a->base = entry;
}

int tramp_arena_seal(struct tramp_arena *a)
{
	return mprotect(a->base, a->size, PROT_READ | PROT_EXEC) ? -errno : 0;
}

/* Within reach: every rel32 from [lo, hi) to the arena and back fits. */
static int in_reach(uint64_t base, size_t size, uintptr_t lo, uintptr_t hi)
{
	const uint64_t reach = (1ull << 31) - 4096;
	uint64_t far_lo = base + size > lo ? base + size - lo : lo - base;
	uint64_t far_hi = hi > base ? hi - base : base + size - hi;
	return far_lo < reach && far_hi < reach;
}

int tramp_arena_create_near(struct tramp_arena *a, uintptr_t lo, uintptr_t hi, size_t size)
{
	size = (size + 4095) & ~(size_t)4095;
	/* The kernel's own choice first (mappings cluster, so it is usually close), then
	 * free spots below and above the code, 1 MiB apart. */
	for (int k = -1; k < 256; k++) {
		uint64_t hint = 0;
		int flags = MAP_PRIVATE | MAP_ANONYMOUS;
		if (k >= 0) {
			uint64_t step = (uint64_t)(k / 2 + 1) << 20;
			if (k % 2 == 0) {
				if (lo < step + size + (1 << 20))
					continue;
				hint = ((lo - step - size) & ~4095ull);
			} else {
				hint = (hi + step) & ~4095ull;
			}
			flags |= MAP_FIXED_NOREPLACE;
		}
		void *p = mmap((void *)hint, size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p == MAP_FAILED)
			continue;
		if (in_reach((uint64_t)p, size, lo, hi)) {
			return arena_live(a, p, size);
		}
		munmap(p, size);
	}
	return -ENOMEM;
}

void tramp_arena_destroy(struct tramp_arena *a)
{
	if (a->base)
		munmap(a->base, a->size);
	a->base = NULL;
}
