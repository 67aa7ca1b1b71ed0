// SPDX-License-Identifier: MIT
// Start-up benchmark timer: runs one or more commands RUNS times each, alternating between them
// (A B A B ...) so drift on the machine hits every command alike, and times every run as the
// wall time (CLOCK_MONOTONIC) from just before fork to the return of waitpid. No shell is
// involved, so only the command's own start-up and exit are counted.
//
// usage: bench_spawn_time RUNS CMD [ARGS...] [-- CMD [ARGS...]]...
// Prints one line per command, in the order given:
//   "cmd=I runs=RUNS median_ns=M min_ns=A p90_ns=B"
// Exit: 0; 1 when a run could not be started or did not exit 0 (the timings would be of a
// failure); 2 usage.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8

static long long ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

// Runs argv once; returns its wall time in ns, or -1 (after a message) when it failed.
static long long time_one(char **argv)
{
	long long t0, t1;
	int status;
	pid_t pid;

	t0 = ns_now();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench_spawn_time: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "bench_spawn_time: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "bench_spawn_time: waitpid: %s\n", strerror(errno));
			return -1;
		}
	}
	t1 = ns_now();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_spawn_time: %s: %s %d\n", argv[0],
			WIFEXITED(status) ? "exit status" : "killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	char **cmds[MAX_CMDS];
	long long *times[MAX_CMDS] = { 0 };
	int ncmds = 0, ret = 1;
	long runs;
	char *end;

	if (argc < 3 || (runs = strtol(argv[1], &end, 10)) <= 0 || *end) {
		fprintf(stderr, "usage: bench_spawn_time RUNS CMD [ARGS...] [-- CMD [ARGS...]]...\n");
		return 2;
	}
	// Split argv[2..] at "--" in place: each command's argv ends where the "--" was.
	cmds[ncmds++] = &argv[2];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--"))
			continue;
		argv[i] = NULL;
		if (i + 1 >= argc || ncmds == MAX_CMDS) {
			fprintf(stderr, "bench_spawn_time: empty command after -- or more than %d "
				"commands\n", MAX_CMDS);
			return 2;
		}
		cmds[ncmds++] = &argv[i + 1];
	}
	for (int c = 0; c < ncmds; c++) {
		if (!cmds[c][0]) {
			fprintf(stderr, "bench_spawn_time: empty command\n");
			return 2;
		}
		times[c] = calloc((size_t)runs, sizeof(long long));
		if (!times[c]) {
			fprintf(stderr, "bench_spawn_time: out of memory\n");
			return 1;
		}
	}

	for (long r = 0; r < runs; r++) {
		for (int c = 0; c < ncmds; c++) {
			times[c][r] = time_one(cmds[c]);
			if (times[c][r] < 0)
				goto out;
		}
	}
	for (int c = 0; c < ncmds; c++) {
		qsort(times[c], (size_t)runs, sizeof(long long), cmp_ll);
		// Median of an even count: the mean of the two middle runs.
		long long med = runs % 2 ? times[c][runs / 2]
					 : (times[c][runs / 2 - 1] + times[c][runs / 2]) / 2;
		printf("cmd=%d runs=%ld median_ns=%lld min_ns=%lld p90_ns=%lld\n", c, runs, med,
		       times[c][0], times[c][(runs * 9) / 10]);
	}
	ret = 0;
out:
	for (int c = 0; c < ncmds; c++)
		free(times[c]);
	return ret;
}
