/* SPDX-License-Identifier: MIT */
/* Signal handlers nested 24 deep, each interrupting a blocking read() that SA_RESTART then
 * restarts: the main thread blocks reading a pipe, another thread sends SIGUSR1 (SA_NODEFER)
 * once it is blocked, the handler blocks in its own read, and so on; the deepest handler
 * writes one byte per level and every read, innermost first, must come back with its byte.
 * Under bypass-run each interrupted read is a restart the LibOS keeps per signal frame (the
 * handler is shown the program's own `syscall`), so this holds it to that depth. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define LEVELS 24

static int g_pipe[2];
static int g_depth;
static char g_got[LEVELS];
static atomic_int g_want;		/* a level is about to block: send the next signal */
static atomic_int g_stop;
static pthread_t g_main;

/* read(2) through a `syscall` of our own, its number loaded just before it: the patch's
 * window then starts before the syscall, so resuming at the syscall's own address (what a
 * handler is shown) would land inside the patch. */
static long read1(int fd, char *c)
{
	long r;
	__asm__ volatile("mov $0, %%eax\n\tsyscall"
			 : "=a"(r) : "D"((long)fd), "S"(c), "d"(1L) : "rcx", "r11", "memory");
	return r;
}

static void on_usr1(int sig)
{
	(void)sig;
	int d = ++g_depth;
	if (d < LEVELS) {
		char c = 0;
		atomic_store(&g_want, 1);
		g_got[d] = read1(g_pipe[0], &c) == 1 ? c : '?';
	} else {
		for (int i = 0; i < LEVELS; i++)
			(void)!write(g_pipe[1], "x", 1);
	}
	g_depth--;
}

static void *sender(void *arg)
{
	struct timespec ms20 = { 0, 20 * 1000 * 1000 };
	(void)arg;
	while (!atomic_load(&g_stop)) {
		if (!atomic_exchange(&g_want, 0)) {
			nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
			continue;
		}
		nanosleep(&ms20, NULL);		/* let it block in read() */
		pthread_kill(g_main, SIGUSR1);
	}
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t th;
	char c = 0;

	e2e_init();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigaction(SIGUSR1, &sa, NULL);
	E2E_CHECK(pipe(g_pipe) == 0, "pipe");
	g_main = pthread_self();
	atomic_store(&g_want, 1);
	pthread_create(&th, NULL, sender, NULL);
	g_got[0] = read1(g_pipe[0], &c) == 1 ? c : '?';
	atomic_store(&g_stop, 1);
	pthread_join(th, NULL);
	int bad = 0;
	for (int i = 0; i < LEVELS; i++)
		bad += g_got[i] != 'x';
	e2e_check(bad == 0, "nested_restarts", "%d of %d levels lost their read (%.*s)", bad, LEVELS,
		  LEVELS, g_got);
	return e2e_finish();
}
