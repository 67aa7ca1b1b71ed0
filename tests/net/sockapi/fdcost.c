// SPDX-License-Identifier: MIT
// fdcost: the cost of calls on KERNEL fds once LibOS sockets exist (the gate's route 4,
// "fd in rdi": one byte of g_tramp_fdmap per fd, tested before the fast path).  N raw
// `syscall`s of read(fd, buf, 0) on /dev/null and fcntl(fd, F_GETFD), timed with
// CLOCK_MONOTONIC; static so under bypass-run the loop's own sites are the ones measured.
// With `socket` an AF_INET socket is made first: under --net=dpdk that is a LibOS socket
// (no DPDK start: only bind/connect/listen/send start it) and the fd routes go live.
//
// usage: fdcost N [socket]     prints "read0 ns_per_call=X fcntl ns_per_call=Y"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

static inline long raw3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long long ns_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc >= 2 ? strtol(argv[1], NULL, 10) : 0;
	char buf[1];
	long bad = 0;

	if (n <= 0 || argc > 3 || (argc == 3 && strcmp(argv[2], "socket"))) {
		fprintf(stderr, "usage: fdcost N [socket]\n");
		return 2;
	}
	if (argc == 3 && socket(AF_INET, SOCK_STREAM, 0) < 0) {
		perror("fdcost: socket");
		return 1;
	}
	int fd = open("/dev/null", O_RDONLY);
	for (int i = 0; i < 1000; i++)
		bad |= raw3(0, fd, (long)buf, 0) | raw3(72, fd, F_GETFD, 0);
	long long t0 = ns_now();
	for (long i = 0; i < n; i++)
		bad |= raw3(0, fd, (long)buf, 0);
	long long t1 = ns_now();
	for (long i = 0; i < n; i++)
		bad |= raw3(72, fd, F_GETFD, 0);
	long long t2 = ns_now();
	if (bad) {
		fprintf(stderr, "fdcost: a call failed\n");
		return 1;
	}
	printf("read0 ns_per_call=%.2f fcntl ns_per_call=%.2f\n", (double)(t1 - t0) / n,
	       (double)(t2 - t1) / n);
	return 0;
}
