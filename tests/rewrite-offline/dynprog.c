// SPDX-License-Identifier: MIT
/* A dynamically linked test program with syscall sites of its own (inline `syscall`) as
 * well as libc's: built PIE and non-PIE, rewritten, and run natively by dynamic.sh, whose
 * output it compares with the original's.  Threads, fork, a signal and exec go through
 * the (possibly rewritten) libc too. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* write(2) through a `syscall` in this executable: a site bypass-rewrite patches. */
static long raw_write(int fd, const void *buf, size_t len)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)SYS_write), "D"((long)fd), "S"(buf), "d"(len)
			 : "rcx", "r11", "memory");
	return ret;
}

static long raw_getppid(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

static volatile sig_atomic_t g_got;

static void on_usr1(int sig)
{
	g_got = sig;
}

static void *thread_main(void *arg)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "thread %d\n", *(int *)arg);

	raw_write(1, buf, (size_t)n);
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	int ids[4];

	raw_write(1, "raw write\n", 10);
	fflush(stdout);
	for (int i = 0; i < 4; i++) {
		ids[i] = i;
		if (pthread_create(&t[i], NULL, thread_main, &ids[i]))
			return 1;
		pthread_join(t[i], NULL);	/* one at a time: a stable output order */
	}
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	printf("signal %d\n", (int)g_got);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (raw_getppid() <= 0)
			_exit(126);
		/* not /proc/self/exe: under an explicit ld.so that is ld.so */
		execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}
