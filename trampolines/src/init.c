// SPDX-License-Identifier: MIT
/* CPU facts the gate depends on: user-mode FSGSBASE and XSAVE, and the XSAVE area
 * size for the features the kernel enabled. */
#include <cpuid.h>
#include <errno.h>
#include <stddef.h>
#include <sys/auxv.h>

#include <trampolines/tramp.h>

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

uint8_t g_tramp_route[TRAMP_ROUTES];
uint64_t g_tramp_xmask;
uint32_t g_tramp_xsize;
uint32_t g_tramp_vkind;

_Static_assert(offsetof(struct tramp_tls, host_rsp) == TRAMP_TLS_HOST_RSP, "tls");
_Static_assert(offsetof(struct tramp_tls, host_fs) == TRAMP_TLS_HOST_FS, "tls");
_Static_assert(offsetof(struct tramp_tls, frame) == TRAMP_TLS_FRAME, "tls");
_Static_assert(offsetof(struct tramp_tls, ret) == TRAMP_TLS_RET, "tls");
_Static_assert(offsetof(struct tramp_tls, scratch) == TRAMP_TLS_SCRATCH, "tls");
_Static_assert(offsetof(struct tramp_tls, xsave) == TRAMP_TLS_XSAVE, "tls");
_Static_assert(offsetof(struct tramp_tls, counts) == TRAMP_TLS_COUNTS, "tls");
_Static_assert(offsetof(struct tramp_tls, nfast) == TRAMP_TLS_NFAST, "tls");
_Static_assert(offsetof(struct tramp_tls, nlibos) == TRAMP_TLS_NLIBOS, "tls");
_Static_assert(offsetof(struct tramp_tls, ntrap) == TRAMP_TLS_NTRAP, "tls");
_Static_assert(offsetof(struct tramp_tls, selector) == TRAMP_TLS_SELECTOR, "tls");
_Static_assert(offsetof(struct tramp_tls, in_host) == TRAMP_TLS_IN_HOST, "tls");
_Static_assert(offsetof(struct tramp_tls, pending) == TRAMP_TLS_PENDING, "tls");
_Static_assert(offsetof(struct tramp_tls, xsaved) == TRAMP_TLS_XSAVED, "tls");
_Static_assert(offsetof(struct tramp_tls, hold) == TRAMP_TLS_HOLD, "tls");
_Static_assert(offsetof(struct tramp_tls, vsave) == TRAMP_TLS_VSAVE, "tls");
_Static_assert(offsetof(struct tramp_regs, rax) == TRAMP_REGS_RAX, "regs");
_Static_assert(offsetof(struct tramp_regs, rip) == TRAMP_REGS_RIP, "regs");
_Static_assert(offsetof(struct tramp_regs, rflags) == TRAMP_REGS_RFLAGS, "regs");
_Static_assert(offsetof(struct tramp_regs, rsp) == TRAMP_REGS_RSP, "regs");
_Static_assert(offsetof(struct tramp_regs, fs) == TRAMP_REGS_FS, "regs");
_Static_assert(offsetof(struct tramp_regs, nr) == TRAMP_REGS_NR, "regs");
_Static_assert(sizeof(struct tramp_regs) == TRAMP_REGS_SIZE, "regs");
_Static_assert(TRAMP_REGS_SIZE % 16 == 0, "host stack alignment");

/* XCR0 bits: x87, SSE, AVX, the three AVX-512 components, PKRU. */
#define XF_X87		0x1ull
#define XF_SSE		0x2ull
#define XF_AVX		0x4ull
#define XF_AVX512	0xe0ull
#define XF_PKRU		0x200ull

/* The register-only save is exact when the components host code can change are the
 * vector registers and MXCSR alone: x87 is not used on those paths, PKRU is never
 * written by the host; any other enabled component (AMX, ...) rules it out. */
static uint32_t vkind(uint64_t xcr0)
{
	unsigned a, b, c, d;

	if (xcr0 & ~(XF_X87 | XF_SSE | XF_AVX | XF_AVX512 | XF_PKRU))
		return TRAMP_VK_NONE;
	if (!(xcr0 & XF_AVX))
		return TRAMP_VK_NONE;	/* SSE-only CPUs: keep the full save */
	if ((xcr0 & XF_AVX512) == XF_AVX512) {
		/* kmovq needs AVX512BW; without it (Knights Landing) keep the full save */
		if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F) &&
		    (b & bit_AVX512BW))
			return TRAMP_VK_ZMM;
		return TRAMP_VK_NONE;
	}
	return (xcr0 & XF_AVX512) ? TRAMP_VK_NONE : TRAMP_VK_YMM;
}

int tramp_init(const char **why)
{
	unsigned a, b, c, d;

	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE)) {
		*why = "the kernel does not enable FSGSBASE for user space (Linux >= 5.9 on a CPU with FSGSBASE needed)";
		return -ENOTSUP;
	}
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) {
		*why = "the CPU or kernel lacks XSAVE";
		return -ENOTSUP;
	}
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	g_tramp_xmask = ((uint64_t)hi << 32) | lo;
	__cpuid_count(0xd, 0, a, b, c, d);
	g_tramp_xsize = b;		/* bytes XSAVE needs for the features in XCR0 */
	g_tramp_vkind = vkind(g_tramp_xmask);
	return 0;
}
