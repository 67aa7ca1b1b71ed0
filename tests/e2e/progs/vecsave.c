/* SPDX-License-Identifier: MIT */
/* Vector registers across the syscalls the LibOS serves without saving them (its
 * "light" handlers) and a few others: ymm0-15 whole, and zmm16-31 where the CPU has
 * AVX-512, must come back as they went in.  A handler that touched them would show. */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <asm/prctl.h>

#include "e2e.h"

#define LOAD_Y(i) "vmovdqu " #i "*32(%[in]), %%ymm" #i "\n\t"
#define SAVE_Y(i) "vmovdqu %%ymm" #i ", " #i "*32(%[out])\n\t"
#define LOAD_Z(i) "vmovdqu64 (" #i "-16)*64(%[in]), %%zmm" #i "\n\t"
#define SAVE_Z(i) "vmovdqu64 %%zmm" #i ", (" #i "-16)*64(%[out])\n\t"

static __attribute__((target("avx2"))) int ymm_kept(long nr, long a0, long a1, long a2, long a3)
{
	uint8_t in[16 * 32], out[16 * 32];
	register long r10 __asm__("r10") = a3;

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + nr);
	memset(out, 0, sizeof(out));
	__asm__ volatile(LOAD_Y(0) LOAD_Y(1) LOAD_Y(2) LOAD_Y(3) LOAD_Y(4) LOAD_Y(5) LOAD_Y(6)
			 LOAD_Y(7) LOAD_Y(8) LOAD_Y(9) LOAD_Y(10) LOAD_Y(11) LOAD_Y(12) LOAD_Y(13)
			 LOAD_Y(14) LOAD_Y(15)
			 "syscall\n\t"
			 SAVE_Y(0) SAVE_Y(1) SAVE_Y(2) SAVE_Y(3) SAVE_Y(4) SAVE_Y(5) SAVE_Y(6)
			 SAVE_Y(7) SAVE_Y(8) SAVE_Y(9) SAVE_Y(10) SAVE_Y(11) SAVE_Y(12) SAVE_Y(13)
			 SAVE_Y(14) SAVE_Y(15)
			 : "+a"(nr), "+r"(r10)
			 : [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1), "d"(a2)
			 : "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
			   "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
			   "xmm14", "xmm15");
	return memcmp(in, out, sizeof(in)) == 0;
}

static __attribute__((target("avx512f"))) int zmm_kept(long nr, long a0, long a1, long a2,
							long a3)
{
	uint8_t in[16 * 64], out[16 * 64];
	register long r10 __asm__("r10") = a3;

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + nr);
	memset(out, 0, sizeof(out));
	__asm__ volatile(LOAD_Z(16) LOAD_Z(17) LOAD_Z(18) LOAD_Z(19) LOAD_Z(20) LOAD_Z(21)
			 LOAD_Z(22) LOAD_Z(23) LOAD_Z(24) LOAD_Z(25) LOAD_Z(26) LOAD_Z(27)
			 LOAD_Z(28) LOAD_Z(29) LOAD_Z(30) LOAD_Z(31)
			 "syscall\n\t"
			 SAVE_Z(16) SAVE_Z(17) SAVE_Z(18) SAVE_Z(19) SAVE_Z(20) SAVE_Z(21)
			 SAVE_Z(22) SAVE_Z(23) SAVE_Z(24) SAVE_Z(25) SAVE_Z(26) SAVE_Z(27)
			 SAVE_Z(28) SAVE_Z(29) SAVE_Z(30) SAVE_Z(31)
			 : "+a"(nr), "+r"(r10)
			 : [in] "r"(in), [out] "r"(out), "D"(a0), "S"(a1), "d"(a2)
			 : "rcx", "r11", "memory", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
			   "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",
			   "xmm28", "xmm29", "xmm30", "xmm31");
	return memcmp(in, out, sizeof(in)) == 0;
}

static void check(const char *name, long nr, long a0, long a1, long a2, long a3)
{
	int ok = ymm_kept(nr, a0, a1, a2, a3);

	if (__builtin_cpu_supports("avx512f"))
		ok &= zmm_kept(nr, a0, a1, a2, a3);
	E2E_CHECK(ok, name);
}

int main(void)
{
	uint64_t old, fs, act[4];
	stack_t oss;
	char name[16];

	e2e_init();
	__builtin_cpu_init();
	check("rt_sigprocmask", SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&old, 8);
	check("rt_sigaction", SYS_rt_sigaction, SIGUSR2, 0, (long)act, 8);
	check("sigaltstack", SYS_sigaltstack, 0, (long)&oss, 0, 0);
	check("arch_prctl_get_fs", SYS_arch_prctl, ARCH_GET_FS, (long)&fs, 0, 0);
	check("prctl_get_name", SYS_prctl, PR_GET_NAME, (long)name, 0, 0);
	check("brk_query", SYS_brk, 0, 0, 0, 0);
	void *p = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check("mmap_anonymous", SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
	      MAP_PRIVATE | MAP_ANONYMOUS);	/* r8/r9 left as they are: fd may be garbage */
	check("mmap_fixed", SYS_mmap, (long)p, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
	check("munmap", SYS_munmap, (long)p, 1 << 20, 0, 0);
	check("getppid_fast_path", SYS_getppid, 0, 0, 0, 0);
	check("openat_proc_self_exe", SYS_openat, -100, (long)"/proc/self/exe", 0, 0);
	return e2e_finish();
}
