/* SPDX-License-Identifier: MIT */
/* Invalid syscall numbers: raw `syscall` with rax = 0x1337 and rax = 500, N times each (N from
 * argv[1], default 100). Every call must return -ENOSYS and nothing may crash (DESIGN.md 8). The
 * exhaustiveness test runs this under --stats and expects exactly N calls of 4919 and of 500. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "e2e.h"

/* A bare `syscall` with only rax set; the kernel (or LibOS) must not touch anything else. */
static long raw_syscall0(long nr)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	e2e_init();
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
	static const long nrs[] = { 0x1337, 500 };
	for (unsigned i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		long enosys = 0, other = 0, last_other = 0;
		for (long k = 0; k < n; k++) {
			long r = raw_syscall0(nrs[i]);
			if (r == -ENOSYS)
				enosys++;
			else {
				other++;
				last_other = r;
			}
		}
		printf("syscall %ld: %ld of %ld returned -ENOSYS\n", nrs[i], enosys, n);
		char name[64];
		snprintf(name, sizeof(name), "enosys_%ld", nrs[i]);
		e2e_check(other == 0, name, "%ld calls returned %ld", other, last_other);
	}
	return e2e_finish();
}
