// SPDX-License-Identifier: MIT
/* e2e.vdso.host: the vDSO, once patched, is called by host code too (the LibOS's own
 * threads, and guest threads while they run host code).  This program patches its own
 * vDSO as bypass-run does, with call counting on (stats entry), and then reads a CPU-time
 * clock (the vDSO's fallback syscall) as
 *   1. a host-only thread: GS base 0;
 *   2. a guest thread in host code: GS base at a thread block, selector ALLOW;
 *   3. a guest thread in guest code: selector BLOCK.
 * 1 and 2 must issue the syscall themselves (nothing counted, and no %gs access in case
 * 1); 3 must reach the gate (every call counted).  SUD is not armed here, so the
 * selector only steers the vDSO stubs.  Exit 0 and "ok" lines, or 1 naming the failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>

#include "image.h"
#include "internal.h"

#define CALLS 1000

static uint64_t g_counts[TRAMP_ROUTES];

static int fail(const char *what)
{
	printf("FAIL: %s\n", what);
	return 1;
}

/* CALLS reads of the process CPU-time clock: 1 if all succeeded, monotone. */
static int read_cputime(void)
{
	struct timespec prev = { 0, 0 }, ts;

	for (int i = 0; i < CALLS; i++) {
		if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
			return 0;
		if (ts.tv_sec < prev.tv_sec ||
		    (ts.tv_sec == prev.tv_sec && ts.tv_nsec < prev.tv_nsec))
			return 0;
		prev = ts;
	}
	return 1;
}

static void gs_set(void *p)
{
	__asm__ volatile("wrgsbase %0" ::"r"(p) : "memory");
}

int main(void)
{
	static struct tramp_tls tls;
	const char *why;

	if (tramp_init(&why)) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	g_proc.stats = true;	/* stubs enter through tramp_entry_stats, which uses %gs */
	if (libos_image_vdso(getauxval(AT_SYSINFO_EHDR)))
		return fail("libos_image_vdso");
	if (g_proc.sites_displaced + g_proc.sites_island == 0)
		return fail("no vDSO site was patched");
	printf("ok: %llu vDSO sites patched\n",
	       (unsigned long long)(g_proc.sites_displaced + g_proc.sites_island));

	gs_set(NULL);
	if (!read_cputime())
		return fail("host-only thread (GS base 0): clock_gettime");
	printf("ok: host-only thread\n");

	tls.self = &tls;
	tls.counts = g_counts;
	tls.selector = TRAMP_SEL_ALLOW;
	gs_set(&tls);
	int r = read_cputime();
	gs_set(NULL);
	if (!r || g_counts[SYS_clock_gettime] || tls.nfast)
		return fail("guest thread in host code (selector ALLOW) reached the gate");
	printf("ok: guest thread in host code\n");

	tls.selector = TRAMP_SEL_BLOCK;
	gs_set(&tls);
	r = read_cputime();
	gs_set(NULL);
	if (!r || g_counts[SYS_clock_gettime] != CALLS || tls.nfast != CALLS)
		return fail("guest thread in guest code (selector BLOCK) did not reach the gate");
	printf("ok: guest thread in guest code, %d calls through the gate\n", CALLS);
	return 0;
}
