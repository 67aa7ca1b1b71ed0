/* SPDX-License-Identifier: MIT */
/* posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK)): spawning a missing program must return
 * ENOENT to the parent; spawning /bin/busybox echo runs it, with file actions redirecting its
 * stdout into a pipe the parent reads. */
#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

extern char **environ;

int main(void)
{
	e2e_init();
	pid_t pid = -1;
	char *missing_argv[] = { "e2e-missing", NULL };
	int rc = posix_spawn(&pid, "/nonexistent/e2e-missing", NULL, NULL, missing_argv, environ);
	e2e_check(rc == ENOENT, "spawn_missing_enoent", "rc=%d", rc);
	rc = posix_spawnp(&pid, "e2e-missing-program", NULL, NULL, missing_argv, environ);
	e2e_check(rc == ENOENT, "spawnp_missing_enoent", "rc=%d", rc);

	/* Existing program, output inherited. */
	char *echo_argv[] = { "busybox", "echo", "hello from busybox", NULL };
	rc = posix_spawn(&pid, "/bin/busybox", NULL, NULL, echo_argv, environ);
	int st = -1;
	if (rc == 0)
		waitpid(pid, &st, 0);
	e2e_check(rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "spawn_echo", "rc=%d st=0x%x",
		  rc, st);

	/* Existing program, stdout redirected to a pipe through file actions. */
	int p[2];
	(void)!pipe(p);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	char *sh_argv[] = { "busybox", "sh", "-c", "echo piped; exit 4", NULL };
	rc = posix_spawn(&pid, "/bin/busybox", &fa, NULL, sh_argv, environ);
	close(p[1]);
	char buf[64] = { 0 };
	ssize_t n = rc == 0 ? read(p[0], buf, sizeof(buf) - 1) : -1;
	if (rc == 0)
		waitpid(pid, &st, 0);
	e2e_check(rc == 0 && n == 6 && memcmp(buf, "piped\n", 6) == 0 && WEXITSTATUS(st) == 4,
		  "spawn_file_actions_pipe", "rc=%d n=%zd st=0x%x", rc, n, st);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);

	/* A failing file action (open of a missing file) is reported as its errno. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/nonexistent/e2e-input", 0, 0);
	rc = posix_spawn(&pid, "/bin/busybox", &fa, NULL, echo_argv, environ);
	e2e_check(rc == ENOENT, "spawn_file_action_enoent", "rc=%d", rc);
	posix_spawn_file_actions_destroy(&fa);
	return e2e_finish();
}
