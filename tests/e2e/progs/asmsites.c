/* SPDX-License-Identifier: MIT */
/* Syscall sites that a naive rewriter breaks: a syscall that is itself a branch target (and one
 * whose following instruction is), a leaf function keeping data in its red zone across a syscall
 * (DESIGN.md 8: call-based sites clobber it), and full register state across a syscall: every
 * GPR except rax/rcx/r11, the arithmetic flags (and DF) and xmm0-15 must survive. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

long e2e_branch_syscall(int sel);
long e2e_after_target(int sel);
long e2e_redzone(void);
void e2e_regs_syscall(long mode);

/* Filled by e2e_regs_syscall right after its syscall. */
uint64_t g_regs_out[13];        /* rbx rdx rsi rdi rbp r8 r9 r10 r12 r13 r14 r15 rsp */
uint64_t g_rsp_before;
uint64_t g_flags_before, g_flags_after;
unsigned char g_xmm_out[16][16] __attribute__((aligned(16)));
unsigned char g_xmm_in[16][16] __attribute__((aligned(16)));

static const uint64_t k_regs_in[12] = {
	0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444,
	0x5555555555555555, 0x6666666666666666, 0x7777777777777777, 0x0123456789abcdef,
	0xc0c0c0c0c0c0c0c0, 0xd0d0d0d0d0d0d0d0, 0xe0e0e0e0e0e0e0e0, 0xf0f0f0f0f0f0f0f0,
};
static const char *const k_reg_names[13] = { "rbx", "rdx", "rsi", "rdi", "rbp", "r8", "r9",
					     "r10", "r12", "r13", "r14", "r15", "rsp" };

__asm__(".text\n"
	/* long e2e_branch_syscall(int sel): one syscall reached three ways. */
	".globl e2e_branch_syscall\n"
	".type e2e_branch_syscall,@function\n"
	"e2e_branch_syscall:\n"
	"  cmpl $1, %edi\n"
	"  je 3f\n"
	"  cmpl $2, %edi\n"
	"  je 4f\n"
	"  movl $39, %eax\n"           /* fall-through path: getpid */
	"2:\n"
	"  syscall\n"                  /* branch target of 3: and 4: */
	"  ret\n"
	"3:\n"
	"  movl $110, %eax\n"          /* getppid */
	"  jmp 2b\n"
	"4:\n"
	"  movl $102, %eax\n"          /* getuid */
	"  jmp 2b\n"
	".size e2e_branch_syscall, .-e2e_branch_syscall\n"

	/* long e2e_after_target(int sel): the instruction after the syscall is a branch target. */
	".globl e2e_after_target\n"
	".type e2e_after_target,@function\n"
	"e2e_after_target:\n"
	"  movl $39, %eax\n"
	"  testl %edi, %edi\n"
	"  jnz 1f\n"
	"  syscall\n"
	"1:\n"
	"  ret\n"                      /* sel != 0 returns 39 without a syscall */
	".size e2e_after_target, .-e2e_after_target\n"

	/* long e2e_redzone(void): 16 qwords at -8..-128(%rsp) across getpid; returns mismatches. */
	".globl e2e_redzone\n"
	".type e2e_redzone,@function\n"
	"e2e_redzone:\n"
	"  .irp i,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
	"  movabsq $(0x0101010101010101 * \\i + 0x7a00), %r8\n"
	"  movq %r8, -8*\\i(%rsp)\n"
	"  .endr\n"
	"  movl $39, %eax\n"
	"  syscall\n"
	"  xorl %edx, %edx\n"
	"  .irp i,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n"
	"  movabsq $(0x0101010101010101 * \\i + 0x7a00), %r8\n"
	"  cmpq %r8, -8*\\i(%rsp)\n"
	"  setne %cl\n"
	"  movzbl %cl, %ecx\n"
	"  addl %ecx, %edx\n"
	"  .endr\n"
	"  movl %edx, %eax\n"
	"  ret\n"
	".size e2e_redzone, .-e2e_redzone\n"

	/* void e2e_regs_syscall(long mode): mode 0 sets CF PF AF ZF SF OF, 1 clears them, 2 sets
	 * them and DF. Loads k_regs_in into the GPRs and g_xmm_in into xmm0-15, runs getppid,
	 * stores everything to g_regs_out/g_xmm_out/g_flags_after. */
	".globl e2e_regs_syscall\n"
	".type e2e_regs_syscall,@function\n"
	"e2e_regs_syscall:\n"
	"  pushq %rbx\n"
	"  pushq %rbp\n"
	"  pushq %r12\n"
	"  pushq %r13\n"
	"  pushq %r14\n"
	"  pushq %r15\n"
	"  leaq g_xmm_in(%rip), %rax\n"
	"  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"  movdqa 16*\\i(%rax), %xmm\\i\n"
	"  .endr\n"
	"  pushfq\n"
	"  popq %r11\n"
	"  andq $~0xcd5, %r11\n"        /* clear CF PF AF ZF SF DF OF */
	"  cmpq $1, %rdi\n"
	"  je 1f\n"
	"  orq $0x8d5, %r11\n"          /* CF PF AF ZF SF OF */
	"  cmpq $2, %rdi\n"
	"  jne 1f\n"
	"  orq $0x400, %r11\n"          /* DF */
	"1:\n"
	"  movq %r11, g_flags_before(%rip)\n"
	"  movq %rsp, g_rsp_before(%rip)\n"
	"  movabsq $0x1111111111111111, %rbx\n"
	"  movabsq $0x2222222222222222, %rdx\n"
	"  movabsq $0x3333333333333333, %rsi\n"
	"  movabsq $0x4444444444444444, %rdi\n"
	"  movabsq $0x5555555555555555, %rbp\n"
	"  movabsq $0x6666666666666666, %r8\n"
	"  movabsq $0x7777777777777777, %r9\n"
	"  movabsq $0x0123456789abcdef, %r10\n"
	"  movabsq $0xc0c0c0c0c0c0c0c0, %r12\n"
	"  movabsq $0xd0d0d0d0d0d0d0d0, %r13\n"
	"  movabsq $0xe0e0e0e0e0e0e0e0, %r14\n"
	"  movabsq $0xf0f0f0f0f0f0f0f0, %r15\n"
	"  movl $110, %eax\n"           /* getppid */
	"  pushq %r11\n"
	"  popfq\n"                     /* flags under test; nothing below touches them */
	"  syscall\n"
	"  pushfq\n"
	"  cld\n"
	"  popq g_flags_after(%rip)\n"
	"  movq %rbx, g_regs_out+0(%rip)\n"
	"  movq %rdx, g_regs_out+8(%rip)\n"
	"  movq %rsi, g_regs_out+16(%rip)\n"
	"  movq %rdi, g_regs_out+24(%rip)\n"
	"  movq %rbp, g_regs_out+32(%rip)\n"
	"  movq %r8, g_regs_out+40(%rip)\n"
	"  movq %r9, g_regs_out+48(%rip)\n"
	"  movq %r10, g_regs_out+56(%rip)\n"
	"  movq %r12, g_regs_out+64(%rip)\n"
	"  movq %r13, g_regs_out+72(%rip)\n"
	"  movq %r14, g_regs_out+80(%rip)\n"
	"  movq %r15, g_regs_out+88(%rip)\n"
	"  movq %rsp, g_regs_out+96(%rip)\n"
	"  leaq g_xmm_out(%rip), %rax\n"
	"  .irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"  movdqa %xmm\\i, 16*\\i(%rax)\n"
	"  .endr\n"
	"  popq %r15\n"
	"  popq %r14\n"
	"  popq %r13\n"
	"  popq %r12\n"
	"  popq %rbp\n"
	"  popq %rbx\n"
	"  ret\n"
	".size e2e_regs_syscall, .-e2e_regs_syscall\n");

static void test_regs(long mode, const char *name)
{
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < 16; b++)
			g_xmm_in[r][b] = (unsigned char)(0x10 * r + b + 7 * mode);
	memset(g_xmm_out, 0, sizeof(g_xmm_out));
	e2e_regs_syscall(mode);
	char bad[256] = "";
	size_t len = 0;
	for (int i = 0; i < 12; i++)
		if (g_regs_out[i] != k_regs_in[i])
			len += snprintf(bad + len, sizeof(bad) - len, "%s ", k_reg_names[i]);
	if (g_regs_out[12] != g_rsp_before)
		len += snprintf(bad + len, sizeof(bad) - len, "rsp ");
	for (int r = 0; r < 16 && len < sizeof(bad) - 8; r++)
		if (memcmp(g_xmm_in[r], g_xmm_out[r], 16) != 0)
			len += snprintf(bad + len, sizeof(bad) - len, "xmm%d ", r);
	const uint64_t mask = 0xcd5; /* CF PF AF ZF SF DF OF */
	if ((g_flags_after & mask) != (g_flags_before & mask) && len < sizeof(bad) - 40)
		snprintf(bad + len, sizeof(bad) - len, "flags %#lx->%#lx",
			 (unsigned long)(g_flags_before & mask), (unsigned long)(g_flags_after & mask));
	e2e_check(bad[0] == 0, name, "changed: %s", bad);
}

int main(void)
{
	e2e_init();
	E2E_CHECK(e2e_branch_syscall(0) == getpid(), "branch_target_fallthrough");
	E2E_CHECK(e2e_branch_syscall(1) == getppid(), "branch_target_jump_a");
	E2E_CHECK(e2e_branch_syscall(2) == getuid(), "branch_target_jump_b");
	E2E_CHECK(e2e_branch_syscall(0) == getpid(), "branch_target_fallthrough_again");
	E2E_CHECK(e2e_after_target(0) == getpid(), "after_target_syscall_path");
	E2E_CHECK(e2e_after_target(1) == 39, "after_target_jump_path");
	long bad = 0;
	for (int i = 0; i < 100; i++)
		bad += e2e_redzone();
	e2e_check(bad == 0, "red_zone_preserved", "%ld slots clobbered", bad);
	test_regs(0, "regs_flags_set");
	test_regs(1, "regs_flags_clear");
	test_regs(2, "regs_flags_set_df");
	return e2e_finish();
}
