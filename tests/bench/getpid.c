// SPDX-License-Identifier: MIT
// Syscall cost benchmark: N raw `syscall` getpid instructions in a loop (no libc wrapper, no
// vDSO), timed as wall time of the whole loop with CLOCK_MONOTONIC. Built -static -O2 so that
// under bypass-run the one site in the loop is the patched one being measured.
//
// usage: bench_getpid [N [sigprocmask]]    (default N = 2000000)
// Prints one line: "getpid calls=N total_ns=T ns_per_call=X.XX".  With `sigprocmask` the
// loop issues a raw rt_sigprocmask query instead: a call the LibOS serves itself (one of
// its light handlers), so the figure is the cost of the world switch.
// Exit: 0, 1 when the syscall returned something other than the pid, 2 usage.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// One raw getpid: rax = 39 in, pid out; the kernel clobbers rcx and r11.
static inline long raw_getpid(void)
{
	long ret;

	__asm__ volatile("mov $39, %%eax\n\t"
			 "syscall"
			 : "=a"(ret)
			 :
			 : "rcx", "r11", "memory");
	return ret;
}

// One raw rt_sigprocmask(SIG_BLOCK, NULL, &old, 8): 0 in rax.
static inline long raw_sigprocmask_query(void)
{
	unsigned long old;
	long ret;
	register long r10 __asm__("r10") = 8;

	__asm__ volatile("syscall"
			 : "=a"(ret), "+r"(r10)
			 : "a"(14L), "D"(0L), "S"(0L), "d"(&old)
			 : "rcx", "r11", "memory");
	return ret;
}

static long long ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = 2000000;
	long pid, bad = 0;
	long long t0, t1;
	char *end;

	int mask = argc == 3 && !strcmp(argv[2], "sigprocmask");

	if (argc > 3 || (argc == 3 && !mask) ||
	    (argc >= 2 && ((n = strtol(argv[1], &end, 10)) <= 0 || *end))) {
		fprintf(stderr, "usage: bench_getpid [N > 0 [sigprocmask]]\n");
		return 2;
	}
	pid = getpid();
	// Warm-up: fault in the stub pages and take any lazy patching before the clock starts.
	for (int i = 0; i < 1000; i++)
		bad |= mask ? raw_sigprocmask_query() : raw_getpid() ^ pid;

	t0 = ns_now();
	if (mask)
		for (long i = 0; i < n; i++)
			bad |= raw_sigprocmask_query();
	else
		for (long i = 0; i < n; i++)
			bad |= raw_getpid() ^ pid;
	t1 = ns_now();

	if (bad) {
		fprintf(stderr, "bench_getpid: a call returned something unexpected\n");
		return 1;
	}
	printf("%s calls=%ld total_ns=%lld ns_per_call=%.2f\n", mask ? "sigprocmask" : "getpid",
	       n, t1 - t0, (double)(t1 - t0) / (double)n);
	return 0;
}
