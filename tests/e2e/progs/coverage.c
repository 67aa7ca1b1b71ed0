/* SPDX-License-Identifier: MIT */
/* Interception coverage: K raw 0x1337 syscalls in each execution context a syscall can come from
 * -- main thread, a second thread, a signal handler, a forked child, a vforked child (before
 * _exit) and an exec'd child -- each must return -ENOSYS. Run under BYPASS_STATS=DIR/%p.json,
 * the per-process stats must add up to 6*K calls of syscall 4919 (checked by the harness).
 * Usage: e2e_coverage K [PIDFILE]   (PIDFILE receives "<context> <pid>" lines)
 *        e2e_coverage --exec-child K  (internal: the exec'd image) */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

static long g_k;
static volatile long g_handler_enosys;

/* K raw syscalls with rax = 0x1337; returns how many gave -ENOSYS. No libc inside: safe in a
 * vfork child and in a signal handler. */
static long burst(long k)
{
	long ok = 0;
	for (long i = 0; i < k; i++) {
		long r;
		__asm__ volatile("syscall" : "=a"(r) : "a"(0x1337L) : "rcx", "r11", "memory");
		ok += r == -ENOSYS;
	}
	return ok;
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)burst(g_k);
}

static void on_usr1(int sig)
{
	(void)sig;
	g_handler_enosys = burst(g_k);
}

static volatile long g_vfork_enosys;

/* The vfork child runs on our stack until _exit: it only calls burst() and writes a global. */
static __attribute__((noinline)) pid_t vfork_burst(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		g_vfork_enosys = burst(g_k);
		_exit(0);
	}
	return pid;
}

static int exit_ok(pid_t pid)
{
	int st = -1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv)
{
	e2e_init();
	if (argc == 3 && strcmp(argv[1], "--exec-child") == 0) {
		long k = strtol(argv[2], NULL, 10);
		return burst(k) == k ? 0 : 1;
	}
	g_k = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
	long k = g_k;

	e2e_check(burst(k) == k, "main_thread", "not all -ENOSYS");

	pthread_t th;
	void *tret = NULL;
	int rc = pthread_create(&th, NULL, thread_main, NULL);
	if (rc == 0)
		pthread_join(th, &tret);
	E2E_CHECK(rc == 0 && (long)tret == k, "second_thread");

	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	E2E_CHECK(g_handler_enosys == k, "signal_handler");

	pid_t fork_pid = fork();
	if (fork_pid == 0)
		_exit(burst(k) == k ? 0 : 1);
	E2E_CHECK(exit_ok(fork_pid), "forked_child");

	pid_t vfork_pid = vfork_burst();
	E2E_CHECK(exit_ok(vfork_pid) && g_vfork_enosys == k, "vforked_child");

	char kbuf[32];
	snprintf(kbuf, sizeof(kbuf), "%ld", k);
	pid_t exec_pid = fork();
	if (exec_pid == 0) {
		char *cargv[] = { argv[0], "--exec-child", kbuf, NULL };
		execv("/proc/self/exe", cargv);
		_exit(127);
	}
	E2E_CHECK(exit_ok(exec_pid), "execd_child");

	if (argc > 2) {
		FILE *f = fopen(argv[2], "w");
		if (f) {
			fprintf(f, "main %d\nfork %d\nvfork %d\nexec %d\n", (int)getpid(), (int)fork_pid,
				(int)vfork_pid, (int)exec_pid);
			fclose(f);
		}
		E2E_CHECK(f != NULL, "pidfile");
	}
	return e2e_finish();
}
