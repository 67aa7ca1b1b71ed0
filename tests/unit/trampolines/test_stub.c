// SPDX-License-Identifier: MIT
/* Stubs: a probe routine that loads every register, the flags, xmm0-15 and its red zone
 * around a `syscall` is copied next to an arena, planned by the rewriter, patched by
 * tramp_site_install and called.  Everything but rax, rcx and r11 must come back as it
 * went in: on the fast path, through the counting entry, and through the world switch
 * whose C side (below) clobbers the vector registers on purpose; also with the punned
 * jump that patches JIT code lazily (tramp_site_install_pun). */
#include <check.h>
#include <check_run.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rewrite/rewrite.h>
#include <trampolines/tramp.h>

extern const uint8_t probe_begin[], probe_end[];
extern void (*g_tramp_entry_ptr)(void);

struct probe_state {
	uint64_t in[16];		/* 0x000: GPRs by slot, see the enum below */
	uint64_t in_flags;		/* 0x080 */
	uint8_t pad0[0x78];
	uint8_t in_xmm[256];		/* 0x100 */
	uint64_t in_red[16];		/* 0x200 */
	uint8_t pad1[0x80];
	uint64_t out[16];		/* 0x300 */
	uint64_t out_flags;		/* 0x380 */
	uint8_t pad2[0x78];
	uint8_t out_xmm[256];		/* 0x400 */
	uint64_t out_red[16];		/* 0x500 */
};
_Static_assert(offsetof(struct probe_state, out_red) == 0x500, "probe.S layout");

/* Slot = offset / 8 in probe.S (slots 1 and 2 unused: rcx is clobbered, rsp is not
 * loaded). */
enum { RAX = 0, RDX = 3, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
static const char *const reg_name[] = { [RAX] = "rax", [RDX] = "rdx", [RBX] = "rbx",
	[RBP] = "rbp", [RSI] = "rsi", [RDI] = "rdi", [R8] = "r8", [R9] = "r9", [R10] = "r10",
	[R11] = "r11", [R12] = "r12", [R13] = "r13", [R14] = "r14", [R15] = "r15" };
/* CF PF AF ZF SF DF OF: what a syscall leaves alone and a stub must too. */
#define FLAGS_KEPT 0xcd5ull

static int g_dispatched;

/* The LibOS side the gate calls (the real one is in libos/): serve the call, then
 * trash every scratch register and vector register, as host C code may. */
void libos_dispatch(struct tramp_regs *r)
{
	g_dispatched++;
	tramp_vectors_save();	/* as the LibOS does before host code may use them */
	r->rax = tramp_syscall6((long)r->nr, r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9);
	__asm__ volatile("mov $-1, %%rdx\n\tmov $-1, %%rsi\n\tmov $-1, %%rdi\n\t"
			 "mov $-1, %%r8\n\tmov $-1, %%r9\n\tmov $-1, %%r10\n\tmov $-1, %%r11"
			 ::: "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11");
	__asm__ volatile("vpcmpeqb %%ymm0, %%ymm0, %%ymm0\n\t"
			 "vmovdqa %%ymm0, %%ymm1\n\tvmovdqa %%ymm0, %%ymm2\n\t"
			 "vmovdqa %%ymm0, %%ymm7\n\tvmovdqa %%ymm0, %%ymm8\n\t"
			 "vmovdqa %%ymm0, %%ymm15\n\tstd\n\tcld"
			 ::: "xmm0", "xmm1", "xmm2", "xmm7", "xmm8", "xmm15");
}

void libos_signal_flush(struct tramp_regs *r)
{
	abort();
}

void libos_signal_handle(int sig, void *info, void *uc, uint64_t fs)
{
}

void libos_vfork_child(struct tramp_tls *tls)
{
	abort();
}

static struct tramp_tls g_tls __attribute__((aligned(64)));
static uint8_t *g_code;

/* Patch the probe's syscall at @site with a punned jump (as the LibOS does for JIT
 * code): a page for the stub where the jump's window falls, the jump's low byte chosen so
 * that the stub sits 100 bytes into the window.  Only the syscall's 2 bytes change. */
static void setup_pun(void (*entry)(void), uint64_t site, size_t len)
{
	uint8_t before[4096];
	uint64_t base = tramp_pun_base(site, g_code + (site - (uint64_t)g_code) + 2);
	uint64_t pg = (base + 100) & ~4095ull;
	uint8_t *p = mmap((void *)pg, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	struct tramp_stub_map m;

	ck_assert_ptr_eq(p, (void *)pg);	/* the probe's next bytes aim into free space */
	struct tramp_arena a = { .base = p, .addr = pg, .size = 8192, .used = base + 100 - pg,
				 .kind = TRAMP_ARENA_LIVE };
	tramp_arena_set_entry(&a, entry);
	ck_assert_uint_le(len, sizeof(before));
	memcpy(before, g_code, len);
	uint8_t *at = g_code + (site - (uint64_t)g_code);
	ck_assert_int_eq(tramp_site_install_pun(&a, site, at, &m), 0);
	ck_assert_uint_eq(at[0], 0xe9);
	ck_assert_uint_eq(at[1], 100);
	ck_assert_uint_eq(m.addr, base + 100);
	ck_assert_uint_eq(m.size, TRAMP_PUN_STUB);
	at[0] = 0x0f, at[1] = 0x05;
	ck_assert_msg(!memcmp(before, g_code, len), "a byte other than the syscall's changed");
	at[0] = 0xe9, at[1] = 100;
	/* not a syscall any more: refused */
	a.used += TRAMP_PUN_STUB;
	ck_assert_int_eq(tramp_site_install_pun(&a, site, at, &m), -EINVAL);
}

/* Map [arena | code], copy the probe, plan and patch it (@pun: with a punned jump over
 * the syscall alone), and point GS at a tls. */
static void setup(void (*entry)(void), struct rewrite_plan *plan, bool pun)
{
	const char *why;
	size_t len = (size_t)(probe_end - probe_begin);
	/* A fixed place (far from libraries and heaps) when the punned jump needs room. */
	uint8_t *m = mmap(pun ? (void *)0x300000000ull : NULL, (1 << 20) + 4096,
			  PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct tramp_arena a;

	ck_assert_int_eq(tramp_init(&why), 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	g_code = m + (1 << 20);
	memcpy(g_code, probe_begin, len);

	struct rewrite_func f = { (uint64_t)g_code, (uint64_t)g_code + len };
	struct rewrite_region r = { g_code, len, (uint64_t)g_code, &f, 1 };
	ck_assert_int_eq(rewrite_region_scan(&r, plan), 1);
	ck_assert_int_eq(plan->sites[0].tactic, REWRITE_DISPLACE);

	if (pun) {
		setup_pun(entry, plan->sites[0].addr, len);
	} else {
		ck_assert_int_eq(tramp_arena_create(&a, (uintptr_t)m, (uintptr_t)g_code, 1 << 16),
				 0);
		tramp_arena_set_entry(&a, entry);
		ck_assert_int_eq(tramp_site_install(&a, &plan->sites[0], g_code, (uint64_t)g_code,
						    len), 0);
		ck_assert_int_eq(tramp_arena_seal(&a), 0);
		ck_assert_uint_eq(g_code[plan->sites[0].start - (uint64_t)g_code], 0xe9);
	}

	uint64_t fs;
	uint8_t *host_stack = aligned_alloc(64, 1 << 16);
	uint8_t *xsave = aligned_alloc(64, (g_tramp_xsize + 4095) & ~4095u);
	uint32_t mxcsr = 0x1f80;
	memset(xsave, 0, g_tramp_xsize);
	memcpy(xsave + 24, &mxcsr, 4);
	__asm__ volatile("rdfsbase %0" : "=r"(fs));
	g_tls.self = &g_tls;
	g_tls.host_fs = fs;
	g_tls.host_rsp = (uint64_t)(host_stack + (1 << 16));
	g_tls.xsave = (uint64_t)xsave;
	g_tls.counts = calloc(TRAMP_ROUTES, sizeof(uint64_t));
	g_tramp_entry_ptr = entry;
	__asm__ volatile("wrgsbase %0" ::"r"(&g_tls) : "memory");
}

static void fill(struct probe_state *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16; i++)
		s->in[i] = 0x0101010101010101ull * (uint64_t)(i + 1) ^ seed;
	s->in_flags = 0x2 | 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800;	/* all kept flags set */
	for (int i = 0; i < 256; i++)
		s->in_xmm[i] = (uint8_t)(i * 7 + seed);
	for (int i = 0; i < 16; i++)
		s->in_red[i] = 0xfeedface00000000ull + (uint64_t)i + seed;
}

static void check_preserved(const struct probe_state *s)
{
	static const int kept[] = { RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R12, R13, R14, R15 };

	ck_assert_int_eq((long)s->out[RAX], getpid());
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		ck_assert_msg(s->out[kept[i]] == s->in[kept[i]], "%s changed", reg_name[kept[i]]);
	ck_assert_msg((s->out_flags & FLAGS_KEPT) == (s->in_flags & FLAGS_KEPT),
		      "flags %#llx became %#llx", (unsigned long long)s->in_flags,
		      (unsigned long long)s->out_flags);
	for (int x = 0; x < 16; x++)
		ck_assert_msg(!memcmp(s->out_xmm + 16 * x, s->in_xmm + 16 * x, 16), "xmm%d changed", x);
	for (int i = 0; i < 16; i++)
		ck_assert_msg(s->out_red[i] == s->in_red[i], "red zone qword %d changed", i);
}

static void run_probe(struct probe_state *s)
{
	((void (*)(struct probe_state *))g_code)(s);
}

START_TEST(test_stub_fast_path_preserves_registers_flags_xmm_red_zone)
{
	struct rewrite_plan plan = { 0 };
	struct probe_state s;

	setup(tramp_entry, &plan, false);
	memset(g_tramp_route, 0, sizeof(g_tramp_route));
	for (uint64_t seed = 0; seed < 4; seed++) {
		fill(&s, seed * 0x1111);
		run_probe(&s);
		check_preserved(&s);
	}
	ck_assert_int_eq(g_dispatched, 0);
}
END_TEST

START_TEST(test_stub_world_switch_preserves_registers_flags_xmm_red_zone)
{
	struct rewrite_plan plan = { 0 };
	struct probe_state s;

	setup(tramp_entry, &plan, false);
	memset(g_tramp_route, 0, sizeof(g_tramp_route));
	g_tramp_route[SYS_getpid] = 1;
	fill(&s, 0x5a5a);
	run_probe(&s);
	check_preserved(&s);
	ck_assert_int_eq(g_dispatched, 1);
	ck_assert_uint_eq(g_tls.in_host, 0);
}
END_TEST

START_TEST(test_stub_stats_entry_counts_and_preserves)
{
	struct rewrite_plan plan = { 0 };
	struct probe_state s;

	setup(tramp_entry_stats, &plan, false);
	memset(g_tramp_route, 0, sizeof(g_tramp_route));
	fill(&s, 0x77);
	run_probe(&s);
	run_probe(&s);
	check_preserved(&s);
	ck_assert_uint_eq(g_tls.counts[SYS_getpid], 2);
	ck_assert_uint_eq(g_tls.nfast, 2);
	g_tramp_route[SYS_getpid] = 1;
	run_probe(&s);
	check_preserved(&s);
	ck_assert_uint_eq(g_tls.counts[SYS_getpid], 3);
	ck_assert_uint_eq(g_tls.nfast, 2);
	ck_assert_int_eq(g_dispatched, 1);
}
END_TEST

START_TEST(test_stub_punned_jump_preserves_registers_flags_xmm_red_zone)
{
	struct rewrite_plan plan = { 0 };
	struct probe_state s;

	setup(tramp_entry, &plan, true);
	memset(g_tramp_route, 0, sizeof(g_tramp_route));
	fill(&s, 0x3c3c);
	run_probe(&s);		/* fast path */
	check_preserved(&s);
	g_tramp_route[SYS_getpid] = 1;
	fill(&s, 0x4d4d);
	run_probe(&s);		/* world switch */
	check_preserved(&s);
	ck_assert_int_eq(g_dispatched, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trampolines.stub");
	TCase *tc = tcase_create("stub");
	tcase_add_test(tc, test_stub_fast_path_preserves_registers_flags_xmm_red_zone);
	tcase_add_test(tc, test_stub_world_switch_preserves_registers_flags_xmm_red_zone);
	tcase_add_test(tc, test_stub_stats_entry_counts_and_preserves);
	tcase_add_test(tc, test_stub_punned_jump_preserves_registers_flags_xmm_red_zone);
	suite_add_tcase(s, tc);
	return check_run(s);
}
