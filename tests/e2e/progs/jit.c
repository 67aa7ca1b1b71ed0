/* SPDX-License-Identifier: MIT */
/* Code that does not exist when the program is loaded: a getpid stub written into an RW mapping
 * and made executable with mprotect, a syscall straddling a page boundary (DESIGN.md 8: glibc
 * 2.36 has one), code rewritten in place after it already ran, and a stub mapped RWX directly.
 * Then code called in a loop, as a JIT's would be: bypass-run patches its `syscall` lazily
 * (a punned jump, libos/src/jit.c) and must put it back whenever the program makes the code
 * writable, moves it or maps over it.  tests/e2e/CMakeLists.txt checks in the stats that the
 * loop's calls did not all trap. */
#define _GNU_SOURCE
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

/* The loop's code page: far from every mapping a program or bypass-run makes, so that the
 * jump a lazy patch needs (its target is fixed by the bytes after the syscall: here
 * `ret; int3; int3`, about 820 MiB below) finds free room. */
#define LOOP_PAGE ((void *)0x200000000ull)

static unsigned char *loop_page(int prot)
{
	unsigned char *m = mmap(LOOP_PAGE, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS |
				MAP_FIXED_NOREPLACE, -1, 0);
	if (m == MAP_FAILED)
		m = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return m;
}

static long loop(stub_fn *fn, int n)
{
	long bad = 0, want = fn == NULL ? 0 : fn();
	for (int i = 0; i < n; i++)
		bad += fn() != want;
	return bad;
}

static void test_loop(void)
{
	unsigned char *m = loop_page(PROT_READ | PROT_WRITE);
	memset(m, 0xcc, 4096);
	memcpy(m + 128, k_getpid_stub, sizeof(k_getpid_stub));
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	stub_fn *fn = (stub_fn *)(m + 128);
	e2e_check(fn() == getpid() && loop(fn, 2000) == 0, "loop_getpid", "wrong result");

	/* Made writable again: the program must read its own bytes, and what it writes runs. */
	mprotect(m, 4096, PROT_READ | PROT_WRITE);
	e2e_check(m[128 + 5] == 0x0f && m[128 + 6] == 0x05, "loop_reads_own_code", "%02x %02x",
		  m[128 + 5], m[128 + 6]);
	m[128 + 1] = 0x6e; /* getppid */
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	e2e_check(fn() == getppid() && loop(fn, 2000) == 0, "loop_rewritten_getppid", "wrong");

	/* The code after the syscall changes (the page goes writable first): still right. */
	mprotect(m, 4096, PROT_READ | PROT_WRITE);
	m[128 + 8] = 0x90;
	m[128 + 9] = 0x90;
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	e2e_check(fn() == getppid() && loop(fn, 500) == 0, "loop_next_bytes_changed", "wrong");

	/* Moved by mremap: the copy holds the program's bytes and runs at its new place. */
	unsigned char *to = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *moved = mremap(m, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, to + 4096);
	int ok = moved != MAP_FAILED && moved[128 + 5] == 0x0f && moved[128 + 6] == 0x05;
	stub_fn *mfn = (stub_fn *)(moved + 128);
	e2e_check(ok && mfn() == getppid() && loop(mfn, 500) == 0, "loop_mremap_moved", "ok=%d", ok);
	munmap(to, 8192);

	/* Unmapped, and other code mapped at the same place: nothing stale survives. */
	m = loop_page(PROT_READ | PROT_WRITE);
	memset(m, 0xcc, 4096);
	memcpy(m + 128, k_getpid_stub, sizeof(k_getpid_stub));
	m[128 + 1] = 0x66; /* getuid */
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	fn = (stub_fn *)(m + 128);
	e2e_check(fn() == getuid() && loop(fn, 500) == 0, "loop_remapped_getuid", "wrong");
	munmap(m, 4096);
}

int main(void)
{
	e2e_init();
	test_runtime_stub();
	test_straddle();
	test_rwx();
	test_loop();
	return e2e_finish();
}
