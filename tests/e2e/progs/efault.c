/* SPDX-License-Identifier: MIT */
/* Bad pointers and bad stacks, answered as the kernel answers them: -EFAULT from every
 * syscall the LibOS serves itself; death by SIGSEGV for a NULL dereference with no
 * handler and for a signal whose alternate stack cannot take the frame. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "e2e.h"

static long raw(long nr, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

static void *bad_page(void)
{
	return mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Run @fn in a child; its termination signal (0 if it exited). */
static int child_signal(void (*fn)(void))
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		fn();
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static int *volatile g_null;	/* volatile: the compiler cannot see it is NULL */

static void null_deref(void)
{
	signal(SIGSEGV, SIG_DFL);
	*g_null = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void bad_altstack(void)
{
	stack_t ss = { .ss_sp = bad_page(), .ss_size = 65536, .ss_flags = 0 };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaltstack(&ss, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
}

/* Under bypass-run the host's own code is in /proc/self/maps: the program must not be
 * able to map over it (-ENOMEM) or unmap it (no effect).  Natively there is no such
 * line and the check holds trivially; the output is the same either way. */
static int host_map_protected(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo = 0, hi = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "bypass-run-host") && strstr(line, " r-xp ") &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
		else
			lo = hi = 0;
	fclose(f);
	if (!lo)
		return 1;
	void *p = mmap((void *)lo, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	int unmapped = munmap((void *)lo, hi - lo);
	return p == MAP_FAILED && errno == ENOMEM && unmapped == 0;	/* and we are still here */
}

int main(void)
{
	e2e_init();
	char *bad = bad_page();
	char buf[64];

	E2E_CHECK(raw(SYS_open, (long)bad, O_RDONLY, 0, 0) == -EFAULT, "open_efault");
	E2E_CHECK(raw(SYS_openat, AT_FDCWD, (long)bad, O_RDONLY, 0) == -EFAULT, "openat_efault");
	E2E_CHECK(raw(SYS_readlink, (long)bad, (long)buf, sizeof(buf), 0) == -EFAULT,
		  "readlink_efault");
	E2E_CHECK(raw(SYS_readlink, (long)"/proc/self/exe", (long)bad, 64, 0) == -EFAULT,
		  "readlink_self_exe_bad_buffer_efault");
	E2E_CHECK(raw(SYS_rt_sigaction, SIGUSR1, (long)bad, 0, 8) == -EFAULT,
		  "rt_sigaction_act_efault");
	E2E_CHECK(raw(SYS_rt_sigaction, SIGUSR1, 0, (long)bad, 8) == -EFAULT,
		  "rt_sigaction_oact_efault");
	E2E_CHECK(raw(SYS_rt_sigprocmask, SIG_BLOCK, (long)bad, 0, 8) == -EFAULT,
		  "rt_sigprocmask_set_efault");
	E2E_CHECK(raw(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)bad, 8) == -EFAULT,
		  "rt_sigprocmask_oset_efault");
	E2E_CHECK(raw(SYS_sigaltstack, (long)bad, 0, 0, 0) == -EFAULT, "sigaltstack_efault");
	E2E_CHECK(raw(SYS_arch_prctl, ARCH_GET_FS, (long)bad, 0, 0) == -EFAULT,
		  "arch_prctl_get_fs_efault");
	E2E_CHECK(raw(SYS_execve, (long)bad, 0, 0, 0) == -EFAULT, "execve_path_efault");
	E2E_CHECK(raw(SYS_execve, (long)"/bin/busybox", (long)bad, 0, 0) == -EFAULT,
		  "execve_argv_efault");
	E2E_CHECK(raw(SYS_clone3, (long)bad, 88, 0, 0) == -EFAULT, "clone3_args_efault");
	E2E_CHECK(child_signal(null_deref) == SIGSEGV, "null_deref_dies_by_sigsegv");
	E2E_CHECK(child_signal(bad_altstack) == SIGSEGV, "signal_on_bad_altstack_dies_by_sigsegv");
	E2E_CHECK(host_map_protected(), "host_code_cannot_be_mapped_over");
	return e2e_finish();
}
