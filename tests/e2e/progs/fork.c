/* SPDX-License-Identifier: MIT */
/* fork: children's exit codes and kill signals are reaped by waitpid, data flows both ways
 * over pipes, a child's memory writes stay private, and several children run concurrently. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

static int g_private = 5;

static void test_exit_codes(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		g_private = 99;
		_exit(7);
	}
	int st = 0;
	pid_t w = waitpid(pid, &st, 0);
	e2e_check(w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7, "fork_exit_code",
		  "status=0x%x", st);
	E2E_CHECK(g_private == 5, "fork_memory_private");

	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	e2e_check(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "fork_child_killed", "status=0x%x", st);

	pid = fork();
	if (pid == 0)
		exit(3); /* through atexit/stdio: must not duplicate parent output */
	waitpid(pid, &st, 0);
	E2E_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "fork_child_exit_libc");
	E2E_CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD, "no_children_left");
}

static void test_pipes(void)
{
	int down[2], up[2];
	if (pipe(down) || pipe(up)) {
		E2E_CHECK(0, "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		char buf[64];
		long sum = 0;
		ssize_t n;
		/* Child: add up the numbers the parent sends until EOF, send the sum back. */
		while ((n = read(down[0], buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				sum += (unsigned char)buf[i];
		int len = snprintf(buf, sizeof(buf), "sum=%ld", sum);
		(void)!write(up[1], buf, len);
		_exit(sum == 255L * 256 / 2 * 4 ? 0 : 1);
	}
	close(down[0]);
	close(up[1]);
	unsigned char data[256];
	for (int i = 0; i < 256; i++)
		data[i] = i;
	for (int k = 0; k < 4; k++)
		(void)!write(down[1], data, sizeof(data));
	close(down[1]);
	char reply[64] = { 0 };
	ssize_t n = read(up[0], reply, sizeof(reply) - 1);
	int st;
	waitpid(pid, &st, 0);
	printf("child replied %s\n", n > 0 ? reply : "(nothing)");
	E2E_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(reply, "sum=130560") == 0,
		  "pipe_roundtrip");
	close(up[0]);
}

static void test_many_children(void)
{
	enum { N = 8 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			/* Grandchild too: its status must reach the child, not us. */
			pid_t g = fork();
			if (g == 0)
				_exit(i);
			int st;
			waitpid(g, &st, 0);
			_exit(WEXITSTATUS(st) + 10);
		}
	}
	int ok = 1;
	for (int i = N - 1; i >= 0; i--) {
		int st;
		ok &= waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == i + 10;
	}
	E2E_CHECK(ok, "eight_children_with_grandchildren");
}

int main(void)
{
	e2e_init();
	test_exit_codes();
	test_pipes();
	test_many_children();
	return e2e_finish();
}
