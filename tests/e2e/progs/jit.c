/* SPDX-License-Identifier: MIT */
/* Code that does not exist when the program is loaded: a getpid stub written into an RW mapping
 * and made executable with mprotect, a syscall straddling a page boundary (DESIGN.md 8: glibc
 * 2.36 has one), code rewritten in place after it already ran, and a stub mapped RWX directly. */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "e2e.h"

typedef long stub_fn(void);

/* b8 27 00 00 00   mov $39, %eax      (getpid)
 * 0f 05            syscall
 * c3               ret */
static const unsigned char k_getpid_stub[] = { 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3 };

static void test_runtime_stub(void)
{
	unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(m + 64, k_getpid_stub, sizeof(k_getpid_stub));
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	stub_fn *fn = (stub_fn *)(m + 64);
	int ok = 1;
	for (int i = 0; i < 3; i++)
		ok &= fn() == getpid();
	E2E_CHECK(ok, "mprotect_rx_getpid_stub");

	/* Rewrite the same bytes to call getppid (110 = 0x6e) and run again. */
	mprotect(m, 4096, PROT_READ | PROT_WRITE);
	m[64 + 1] = 0x6e;
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	E2E_CHECK(fn() == getppid(), "rewritten_stub_getppid");

	/* Same page mapped at a fresh address after munmap: stale patches must not survive. */
	munmap(m, 4096);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memcpy(m + 64, k_getpid_stub, sizeof(k_getpid_stub));
	m[64 + 1] = 0x66; /* 102: getuid */
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	E2E_CHECK(((stub_fn *)(m + 64))() == getuid(), "remapped_stub_getuid");
	munmap(m, 4096);
}

static void test_straddle(void)
{
	unsigned char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 0xcc, 8192); /* int3 everywhere else */
	/* The syscall's 0f is the last byte of page 1, its 05 the first byte of page 2. */
	unsigned char *start = m + 4096 - 6;
	start[0] = 0xb8; /* b8 27 00 00 00   mov $39, %eax */
	start[1] = 0x27;
	start[2] = 0x00;
	start[3] = 0x00;
	start[4] = 0x00;
	start[5] = 0x0f; /* 0f 05   syscall (straddles) */
	start[6] = 0x05;
	start[7] = 0xc3; /* c3      ret */
	mprotect(m, 8192, PROT_READ | PROT_EXEC);
	stub_fn *fn = (stub_fn *)start;
	int ok = 1;
	for (int i = 0; i < 3; i++)
		ok &= fn() == getpid();
	E2E_CHECK(ok, "page_straddling_syscall");

	/* Second page alone made non-executable and back: still correct afterwards. */
	mprotect(m + 4096, 4096, PROT_READ);
	mprotect(m + 4096, 4096, PROT_READ | PROT_EXEC);
	E2E_CHECK(fn() == getpid(), "page_straddling_after_reprotect");
	munmap(m, 8192);
}

static void test_rwx(void)
{
	unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		E2E_CHECK(1, "rwx_stub"); /* RWX forbidden here: both runs agree */
		return;
	}
	memcpy(m, k_getpid_stub, sizeof(k_getpid_stub));
	E2E_CHECK(((stub_fn *)m)() == getpid(), "rwx_stub");
	munmap(m, 4096);
}

int main(void)
{
	e2e_init();
	test_runtime_stub();
	test_straddle();
	test_rwx();
	return e2e_finish();
}
