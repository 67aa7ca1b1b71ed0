// SPDX-License-Identifier: MIT
/* The vDSO's fallback syscalls: clock_gettime and clock_getres on CPU-time clocks, which
 * the vDSO cannot read itself, from the main thread, other threads and a signal
 * handler.  Prints only what is the same natively and under bypass-run; the test's
 * --stats check says whether those calls went through the trap or a patched site. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CALLS 2000
#define THREADS 4

/* CALLS reads of @clock: 1 if each succeeded and none went backwards. */
static int read_clock(clockid_t clock)
{
	struct timespec prev = { 0, 0 }, ts;

	for (int i = 0; i < CALLS; i++) {
		if (clock_gettime(clock, &ts))
			return 0;
		if (ts.tv_sec < prev.tv_sec ||
		    (ts.tv_sec == prev.tv_sec && ts.tv_nsec < prev.tv_nsec))
			return 0;
		prev = ts;
	}
	return 1;
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(long)read_clock(CLOCK_THREAD_CPUTIME_ID);
}

static volatile sig_atomic_t g_handler_ok;

static void on_usr1(int sig)
{
	struct timespec ts;

	(void)sig;
	g_handler_ok = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 && ts.tv_sec >= 0;
}

int main(void)
{
	struct timespec res;
	pthread_t th[THREADS];
	int ok = 1;

	printf("process cputime monotone: %d\n", read_clock(CLOCK_PROCESS_CPUTIME_ID));
	printf("clock_getres(process cputime): %d\n",
	       clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res) == 0 && res.tv_sec == 0);
	for (int i = 0; i < THREADS; i++)
		ok &= pthread_create(&th[i], NULL, thread_main, NULL) == 0;
	for (int i = 0; i < THREADS && ok; i++) {
		void *r;
		ok &= pthread_join(th[i], &r) == 0 && r == (void *)1;
	}
	printf("%d threads, thread cputime monotone: %d\n", THREADS, ok);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("in a signal handler: %d\n", (int)g_handler_ok);
	/* Clocks the vDSO serves itself still work around the patched ones. */
	struct timespec mono;
	printf("monotonic: %d\n", clock_gettime(CLOCK_MONOTONIC, &mono) == 0);
	return 0;
}
