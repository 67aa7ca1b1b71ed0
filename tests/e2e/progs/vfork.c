/* SPDX-License-Identifier: MIT */
/* vfork: the parent is suspended until the child _exits or execs, the child's writes to memory
 * are seen by the parent (shared address space), and the child's stack use does not corrupt the
 * parent's frame (DESIGN.md 8: vfork children share the parent's stack). */
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

static volatile int g_shared;

int main(void)
{
	e2e_init();
	volatile long canary[8];
	for (int i = 0; i < 8; i++)
		canary[i] = 0x0101010101010101L * (i + 1);

	pid_t pid = vfork();
	if (pid == 0) {
		g_shared = 42; /* parent must see this: vfork shares memory */
		_exit(5);
	}
	/* The child has exited by now: the parent was suspended. */
	int st = 0;
	waitpid(pid, &st, 0);
	E2E_CHECK(g_shared == 42, "vfork_shared_write");
	e2e_check(WIFEXITED(st) && WEXITSTATUS(st) == 5, "vfork_exit_code", "status=0x%x", st);

	int ok = 1;
	for (int i = 0; i < 8; i++)
		ok &= canary[i] == 0x0101010101010101L * (i + 1);
	E2E_CHECK(ok, "vfork_parent_stack_intact");

	/* vfork + execve of busybox: the parent resumes after the exec, gets the exit code. */
	char *argv[] = { "busybox", "sh", "-c", "exit 6", NULL };
	char *envp[] = { NULL };
	pid = vfork();
	if (pid == 0) {
		execve("/bin/busybox", argv, envp);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	e2e_check(WIFEXITED(st) && WEXITSTATUS(st) == 6, "vfork_execve_exit_code", "status=0x%x", st);

	/* vfork + failing execve: child reports through _exit(127). */
	pid = vfork();
	if (pid == 0) {
		execve("/nonexistent/e2e-missing", argv, envp);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	E2E_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127, "vfork_execve_missing");
	return e2e_finish();
}
