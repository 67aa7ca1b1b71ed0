/* SPDX-License-Identifier: MIT */
/* Asynchronous signals: raise/kill/sigqueue to self, sigprocmask + sigpending + sigsuspend, and a
 * blocking pipe read interrupted by a signal: -EINTR without SA_RESTART (timer and pthread_kill
 * sources), transparently restarted with SA_RESTART. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

static volatile sig_atomic_t g_hits;
static volatile sig_atomic_t g_stop;
static volatile int g_si_code, g_si_val, g_si_pid;

static void on_sig(int sig)
{
	(void)sig;
	g_hits++;
}

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	g_hits++;
	g_si_code = si->si_code;
	g_si_val = si->si_value.sival_int;
	g_si_pid = si->si_pid;
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void set_timer_ms(long ms)
{
	struct itimerval it = { { 0, ms * 1000 }, { 0, ms * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

struct helper {
	pthread_t target; /* thread to interrupt */
	int sig;          /* 0: send nothing */
	int wfd;          /* -1: write nothing */
	int limit;        /* signals to send before writing (0: until g_stop) */
};

/* Interrupts the target every 10 ms; then (if wfd >= 0) writes "hello" to wake its read. */
static void *helper_main(void *arg)
{
	struct helper *h = arg;
	for (int n = 0; !g_stop && (h->limit == 0 || n < h->limit); n++) {
		sleep_ms(10);
		if (h->sig)
			pthread_kill(h->target, h->sig);
	}
	if (h->wfd >= 0)
		(void)!write(h->wfd, "hello", 5);
	return NULL;
}

static void test_self_signals(void)
{
	set_handler(SIGUSR1, on_sig, 0);
	g_hits = 0;
	raise(SIGUSR1);
	E2E_CHECK(g_hits == 1, "raise");
	kill(getpid(), SIGUSR1);
	E2E_CHECK(g_hits == 2, "kill_self");
	pthread_kill(pthread_self(), SIGUSR1);
	E2E_CHECK(g_hits == 3, "pthread_kill_self");

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_info;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	union sigval v = { .sival_int = 1234 };
	g_hits = 0;
	sigqueue(getpid(), SIGRTMIN + 1, v);
	e2e_check(g_hits == 1 && g_si_code == SI_QUEUE && g_si_val == 1234 && g_si_pid == getpid(),
		  "sigqueue_siginfo", "hits=%d code=%d val=%d", (int)g_hits, g_si_code, g_si_val);

	/* SIG_IGN really ignores; SIG_DFL of SIGCHLD/SIGURG ignores too. */
	signal(SIGUSR2, SIG_IGN);
	raise(SIGUSR2);
	signal(SIGURG, SIG_DFL);
	raise(SIGURG);
	E2E_CHECK(1, "ignored_signals_survived");
}

static void test_mask_pending_suspend(void)
{
	set_handler(SIGUSR2, on_sig, 0);
	sigset_t block, old, pend, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	g_hits = 0;
	raise(SIGUSR2);
	E2E_CHECK(g_hits == 0, "blocked_not_delivered");
	sigemptyset(&pend);
	sigpending(&pend);
	E2E_CHECK(sigismember(&pend, SIGUSR2) == 1, "sigpending_has_it");
	E2E_CHECK(sigismember(&pend, SIGUSR1) == 0, "sigpending_only_it");

	sigset_t empty;
	sigemptyset(&empty);
	int r = sigsuspend(&empty);
	int err = errno;
	e2e_check(r == -1 && err == EINTR && g_hits == 1, "sigsuspend", "r=%d errno=%d hits=%d",
		  r, err, (int)g_hits);
	sigprocmask(SIG_SETMASK, NULL, &now);
	E2E_CHECK(sigismember(&now, SIGUSR2) == 1, "sigsuspend_restores_mask");
	sigpending(&pend);
	E2E_CHECK(sigismember(&pend, SIGUSR2) == 0, "pending_consumed");
	sigprocmask(SIG_SETMASK, &old, NULL);

	/* Unblocking delivers a pending signal before sigprocmask returns. */
	sigprocmask(SIG_BLOCK, &block, NULL);
	kill(getpid(), SIGUSR2);
	g_hits = 0;
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	E2E_CHECK(g_hits == 1, "unblock_delivers");
}

/* Blocking read of an empty pipe, interrupted; returns read()'s result, errno in *err. */
static ssize_t interrupted_read(int sig_from_thread, int restart, char *buf, int *err)
{
	int p[2];
	if (pipe(p) != 0)
		return -2;
	set_handler(SIGALRM, on_sig, restart ? SA_RESTART : 0);
	set_handler(SIGUSR1, on_sig, restart ? SA_RESTART : 0);
	/* The helper must not take the process-directed SIGALRM itself. */
	sigset_t alrm, old;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, &old);
	struct helper h = {
		.target = pthread_self(),
		.sig = sig_from_thread ? SIGUSR1 : 0,
		.wfd = restart ? p[1] : -1,
		.limit = restart ? 10 : 0,
	};
	g_stop = 0;
	g_hits = 0;
	pthread_t th;
	pthread_create(&th, NULL, helper_main, &h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!sig_from_thread)
		set_timer_ms(10); /* periodic: one tick lands while read() blocks */
	ssize_t r = read(p[0], buf, 16);
	*err = errno;
	set_timer_ms(0);
	g_stop = 1;
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
	return r;
}

static void test_eintr_restart(void)
{
	char buf[16];
	int err;
	ssize_t r = interrupted_read(0, 0, buf, &err);
	e2e_check(r == -1 && err == EINTR && g_hits >= 1, "read_eintr_itimer", "r=%zd errno=%d",
		  r, err);
	r = interrupted_read(1, 0, buf, &err);
	e2e_check(r == -1 && err == EINTR && g_hits >= 1, "read_eintr_pthread_kill",
		  "r=%zd errno=%d", r, err);
	r = interrupted_read(0, 1, buf, &err);
	e2e_check(r == 5 && memcmp(buf, "hello", 5) == 0 && g_hits >= 1, "read_restart_itimer",
		  "r=%zd errno=%d hits=%d", r, err, (int)g_hits);
	r = interrupted_read(1, 1, buf, &err);
	e2e_check(r == 5 && memcmp(buf, "hello", 5) == 0 && g_hits >= 1,
		  "read_restart_pthread_kill", "r=%zd errno=%d hits=%d", r, err, (int)g_hits);
}

int main(void)
{
	e2e_init();
	test_self_signals();
	test_mask_pending_suspend();
	test_eintr_restart();
	return e2e_finish();
}
