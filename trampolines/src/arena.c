// SPDX-License-Identifier: MIT
/* Stub arenas: memory within +-2 GiB of the code whose sites jump into it.  The first
 * 64 bytes hold the entry slot every stub calls through. */
#include <errno.h>
#include <sys/mman.h>

#include <trampolines/tramp.h>

#define ARENA_HDR 64

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
	a->base = p;
	a->size = size;
	a->used = ARENA_HDR;
	tramp_arena_set_entry(a, tramp_entry);
	return 0;
}

void tramp_arena_set_entry(struct tramp_arena *a, void (*entry)(void))
{
	*(void (**)(void))a->base = entry;
}

int tramp_arena_seal(struct tramp_arena *a)
{
	return mprotect(a->base, a->size, PROT_READ | PROT_EXEC) ? -errno : 0;
}
