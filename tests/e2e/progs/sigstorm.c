/* SPDX-License-Identifier: MIT */
/* A signal storm over everything the LibOS does on the slow path: one thread sends
 * SIGUSR1 to the process as fast as it can while the main thread creates and joins
 * threads, forks and reaps children, changes signal masks and actions, and moves brk.
 * Signals land in guest code, in the world switch, in thread start-up and exit; every
 * one must reach the handler (counted) and nothing may crash or lose an EINTR-free
 * SA_RESTART call.  The output is only "ok" lines, so it is the same natively. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

static atomic_long g_handled;
static atomic_int g_stop;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&g_handled, 1);
}

static void *storm(void *arg)
{
	long *sent = arg;
	pid_t self = getpid();

	while (!atomic_load(&g_stop)) {
		if (kill(self, SIGUSR1) == 0)
			(*sent)++;
	}
	return NULL;
}

static void *worker(void *arg)
{
	volatile long x = (long)arg;
	for (int i = 0; i < 100; i++)
		x += getppid() & 1;	/* fast-path calls while signals fly */
	return (void *)x;
}

int main(void)
{
	e2e_init();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	long sent = 0;
	pthread_t st;
	E2E_CHECK(pthread_create(&st, NULL, storm, &sent) == 0, "storm_started");

	int threads_ok = 1, forks_ok = 1, masks_ok = 1, brk_ok = 1;
	for (int round = 0; round < 40; round++) {
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			threads_ok &= pthread_create(&t[i], NULL, worker, (void *)(long)i) == 0;
		for (int i = 0; i < 4; i++)
			threads_ok &= pthread_join(t[i], NULL) == 0;

		pid_t pid = fork();
		if (pid == 0)
			_exit(7);
		int st2 = 0;
		pid_t w;
		do
			w = waitpid(pid, &st2, 0);
		while (w < 0 && errno == EINTR);
		forks_ok &= w == pid && WIFEXITED(st2) && WEXITSTATUS(st2) == 7;

		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGUSR1);
		masks_ok &= sigprocmask(SIG_BLOCK, &block, &old) == 0;
		masks_ok &= sigaction(SIGUSR1, &sa, NULL) == 0;	/* LibOS-owned, while blocked */
		masks_ok &= sigprocmask(SIG_SETMASK, &old, NULL) == 0;

		void *b = sbrk(0);
		brk_ok &= sbrk(4096) != (void *)-1 && sbrk(-4096) != (void *)-1 && sbrk(0) == b;
	}
	atomic_store(&g_stop, 1);
	pthread_join(st, NULL);
	/* Pending instances coalesce; at least one arrived, and never more than were sent. */
	long handled = atomic_load(&g_handled);
	E2E_CHECK(threads_ok, "threads_under_storm");
	E2E_CHECK(forks_ok, "forks_under_storm");
	E2E_CHECK(masks_ok, "masks_and_actions_under_storm");
	E2E_CHECK(brk_ok, "brk_under_storm");
	E2E_CHECK(sent > 0 && handled > 0 && handled <= sent, "signals_delivered");
	return e2e_finish();
}
