/* SPDX-License-Identifier: MIT */
/* loader: helpers shared by the loader's own source files (not part of its API). */
#ifndef LOADER_INTERNAL_H
#define LOADER_INTERNAL_H

#include <stdint.h>
#include <unistd.h>

/* End of the x86-64 user address space with 4-level paging (Linux TASK_SIZE_MAX):
 * no segment, entry point or bias may reach past it. */
#define LOADER_TASK_SIZE 0x7ffffffff000ull

/* The run-time page size (4096 on x86-64; asked for once rather than assumed). */
static inline uintptr_t loader_page_size(void)
{
	static uintptr_t page;

	if (page == 0)
		page = (uintptr_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* Round @x down/up to a multiple of the page size (up may wrap to 0: callers check). */
static inline uintptr_t loader_page_down(uintptr_t x)
{
	return x & ~(loader_page_size() - 1);
}

static inline uintptr_t loader_page_up(uintptr_t x)
{
	return (x + loader_page_size() - 1) & ~(loader_page_size() - 1);
}

#endif
