/* SPDX-License-Identifier: MIT */
/* Synchronous signals and signal stacks: a handler on a sigaltstack checks where it runs;
 * SIGSEGV recovered by siglongjmp (repeatedly, so the saved mask must be restored); SIGSEGV,
 * SIGILL (ud2) and SIGTRAP (int3) handled by editing the ucontext RIP to skip the instruction. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "e2e.h"

#define ALT_SIZE (64 * 1024)

static char *g_alt;
static volatile int g_on_alt, g_flag_onstack, g_hits;
static sigjmp_buf g_env;
static volatile void *g_fault_addr;
static volatile int g_fault_code;

/* Faulting instructions with known ends (labels visible to the handlers). The store is
 * `movl $42, (%rdi)`; ud2 is 2 bytes; int3 traps with RIP already past it. */
extern char e2e_store_insn[], e2e_store_end[], e2e_ud2_insn[], e2e_ud2_end[];
__asm__(".text\n"
	".globl e2e_store_fault\n"
	".type e2e_store_fault,@function\n"
	"e2e_store_fault:\n"                 /* int e2e_store_fault(int *p) */
	"  movl $1, %eax\n"
	"e2e_store_insn:\n"
	"  movl $42, (%rdi)\n"               /* faults: handler sets RIP = e2e_store_end */
	"e2e_store_end:\n"
	"  movl $7, %eax\n"                  /* reached only by the skip */
	"  ret\n"
	".size e2e_store_fault, .-e2e_store_fault\n"
	".globl e2e_ud2_fault\n"
	".type e2e_ud2_fault,@function\n"
	"e2e_ud2_fault:\n"                   /* int e2e_ud2_fault(void) */
	"  movl $1, %eax\n"
	"e2e_ud2_insn:\n"
	"  ud2\n"
	"e2e_ud2_end:\n"
	"  movl $9, %eax\n"
	"  ret\n"
	".size e2e_ud2_fault, .-e2e_ud2_fault\n"
	".globl e2e_int3\n"
	".type e2e_int3,@function\n"
	"e2e_int3:\n"                        /* int e2e_int3(void) */
	"  movl $1, %eax\n"
	"  int3\n"
	"  addl $10, %eax\n"
	"  ret\n"
	".size e2e_int3, .-e2e_int3\n");
int e2e_store_fault(int *p);
int e2e_ud2_fault(void);
int e2e_int3(void);

static void on_altstack(int sig)
{
	(void)sig;
	char local;
	g_on_alt = &local >= g_alt && &local < g_alt + ALT_SIZE;
	stack_t cur;
	sigaltstack(NULL, &cur);
	g_flag_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
	g_hits++;
}

static void on_segv_jump(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	g_fault_addr = si->si_addr;
	g_fault_code = si->si_code;
	siglongjmp(g_env, 1);
}

static void on_fault_skip(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *rip = &uc->uc_mcontext.gregs[REG_RIP];
	g_hits++;
	if (sig == SIGSEGV && (char *)*rip == e2e_store_insn) {
		g_fault_addr = si->si_addr;
		*rip = (greg_t)(uintptr_t)e2e_store_end;
	} else if (sig == SIGILL && (char *)*rip == e2e_ud2_insn) {
		*rip = (greg_t)(uintptr_t)e2e_ud2_end;
	} else if (sig != SIGTRAP) {
		_exit(90); /* unexpected fault: fail loudly */
	}
}

static void set_action(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void test_altstack(void)
{
	g_alt = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stack_t ss = { .ss_sp = g_alt, .ss_size = ALT_SIZE, .ss_flags = 0 };
	E2E_CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack_set");
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_altstack;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	g_hits = 0;
	raise(SIGUSR1);
	E2E_CHECK(g_hits == 1 && g_on_alt, "handler_on_altstack");
	E2E_CHECK(g_flag_onstack, "ss_onstack_flag_in_handler");
	stack_t cur;
	sigaltstack(NULL, &cur);
	E2E_CHECK(!(cur.ss_flags & SS_ONSTACK) && cur.ss_sp == g_alt, "altstack_left");

	/* Without SA_ONSTACK the handler runs on the normal stack. */
	sa.sa_flags = 0;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	E2E_CHECK(g_hits == 2 && !g_on_alt, "handler_off_altstack");
}

static void test_segv_longjmp(void)
{
	char *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	set_action(SIGSEGV, on_segv_jump, SA_ONSTACK);
	int recovered = 0, addr_ok = 1, code_ok = 1;
	for (int i = 0; i < 3; i++) {
		if (sigsetjmp(g_env, 1) == 0) {
			*(volatile char *)(page + 8 * i) = 1;
		} else {
			recovered++;
			addr_ok &= g_fault_addr == page + 8 * i;
			code_ok &= g_fault_code == SEGV_ACCERR;
		}
	}
	E2E_CHECK(recovered == 3, "segv_siglongjmp_x3");
	E2E_CHECK(addr_ok, "segv_si_addr");
	E2E_CHECK(code_ok, "segv_si_code_accerr");
	volatile uintptr_t bad_addr = 16; /* hidden from the compiler's bounds checks */
	if (sigsetjmp(g_env, 1) == 0)
		(void)*(volatile int *)bad_addr;
	E2E_CHECK(g_fault_addr == (void *)16 && g_fault_code == SEGV_MAPERR, "segv_unmapped_maperr");
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	E2E_CHECK(!sigismember(&now, SIGSEGV), "mask_restored_after_longjmp");
	munmap(page, 4096);
}

static void test_rip_skip(void)
{
	int *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	set_action(SIGSEGV, on_fault_skip, 0);
	set_action(SIGILL, on_fault_skip, 0);
	set_action(SIGTRAP, on_fault_skip, 0);
	g_hits = 0;
	int ok = 1;
	for (int i = 0; i < 3; i++)
		ok &= e2e_store_fault(ro + i) == 7 && g_fault_addr == ro + i;
	E2E_CHECK(ok && g_hits == 3 && ro[0] == 0, "segv_skip_via_ucontext_rip");
	g_hits = 0;
	E2E_CHECK(e2e_ud2_fault() == 9 && g_hits == 1, "sigill_ud2_skip");
	g_hits = 0;
	E2E_CHECK(e2e_int3() == 11 && g_hits == 1, "sigtrap_int3_resume");
}

int main(void)
{
	e2e_init();
	test_altstack();
	test_segv_longjmp();
	test_rip_skip();
	return e2e_finish();
}
