// SPDX-License-Identifier: MIT
// Start-up benchmark timer: runs one or more commands RUNS times each, alternating between them
// (A B A B ...) so drift on the machine hits every command alike, and times every run as the
// wall time (CLOCK_MONOTONIC) from just before fork to the return of waitpid. No shell is
// involved, so only the command's own start-up and exit are counted.
//
// usage: bench_spawn_time RUNS [--fresh VAR=PARENT] CMD [ARGS...]
//                              [-- [--fresh VAR=PARENT] CMD [ARGS...]]...
//   --fresh VAR=PARENT  before every run of this command a new empty directory is made under
//                       PARENT and its path given to the command in $VAR (e.g. a cold plan
//                       cache: BYPASS_CACHE_DIR=/tmp/x); it is removed after the run. Making
//                       and removing it are outside the timed interval.
// Prints one line per command, in the order given:
//   "cmd=I runs=RUNS median_ns=M min_ns=A p90_ns=B"
// Exit: 0; 1 when a run could not be started or did not exit 0 (the timings would be of a
// failure); 2 usage.
#define _XOPEN_SOURCE 700 // nftw
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8

// One command: its argv (NULL-terminated) and the optional --fresh variable and parent.
struct spawn_cmd {
	char **argv;
	char *fresh_var;	// NULL, or "VAR" (the '=' of VAR=PARENT is overwritten)
	const char *fresh_parent;
};

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

// nftw callback of the --fresh cleanup: removes one entry (children first, FTW_DEPTH).
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

// Runs the command once; returns its wall time in ns, or -1 (after a message) when it failed.
static long long time_one(const struct spawn_cmd *cmd)
{
	char **argv = cmd->argv;
	char fresh[4096] = "";
	long long t0, t1 = -1;
	int status;
	pid_t pid;

	if (cmd->fresh_var) {
		snprintf(fresh, sizeof(fresh), "%s/fresh.XXXXXX", cmd->fresh_parent);
		if (!mkdtemp(fresh)) {
			fprintf(stderr, "bench_spawn_time: mkdtemp %s: %s\n", fresh, strerror(errno));
			return -1;
		}
	}
	t0 = ns_now();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench_spawn_time: fork: %s\n", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		// The child is single-threaded: setenv between fork and exec is safe here.
		if (cmd->fresh_var && setenv(cmd->fresh_var, fresh, 1) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "bench_spawn_time: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "bench_spawn_time: waitpid: %s\n", strerror(errno));
			goto out;
		}
	}
	t1 = ns_now();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_spawn_time: %s: %s %d\n", argv[0],
			WIFEXITED(status) ? "exit status" : "killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		t1 = -1;
	}
out:
	if (fresh[0] && nftw(fresh, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "bench_spawn_time: cannot remove %s: %s\n", fresh, strerror(errno));
	return t1 < 0 ? -1 : t1 - t0;
}

// Takes a leading "--fresh VAR=PARENT" off the command; returns -1 (after a message) if bad.
static int parse_fresh(struct spawn_cmd *cmd)
{
	char *eq;

	if (!cmd->argv[0] || strcmp(cmd->argv[0], "--fresh"))
		return 0;
	if (!cmd->argv[1] || !(eq = strchr(cmd->argv[1], '=')) || eq == cmd->argv[1] || !eq[1]) {
		fprintf(stderr, "bench_spawn_time: --fresh needs VAR=PARENT\n");
		return -1;
	}
	*eq = '\0';
	cmd->fresh_var = cmd->argv[1];
	cmd->fresh_parent = eq + 1;
	cmd->argv += 2;
	return 0;
}

int main(int argc, char **argv)
{
	struct spawn_cmd cmds[MAX_CMDS] = { 0 };
	long long *times[MAX_CMDS] = { 0 };
	int ncmds = 0, ret = 1;
	long runs;
	char *end;

	if (argc < 3 || (runs = strtol(argv[1], &end, 10)) <= 0 || *end) {
		fprintf(stderr, "usage: bench_spawn_time RUNS [--fresh VAR=PARENT] CMD [ARGS...] "
			"[-- [--fresh VAR=PARENT] CMD [ARGS...]]...\n");
		return 2;
	}
	// Split argv[2..] at "--" in place: each command's argv ends where the "--" was.
	cmds[ncmds++].argv = &argv[2];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--"))
			continue;
		argv[i] = NULL;
		if (i + 1 >= argc || ncmds == MAX_CMDS) {
			fprintf(stderr, "bench_spawn_time: empty command after -- or more than %d "
				"commands\n", MAX_CMDS);
			return 2;
		}
		cmds[ncmds++].argv = &argv[i + 1];
	}
	for (int c = 0; c < ncmds; c++) {
		if (parse_fresh(&cmds[c]) < 0)
			return 2;
		if (!cmds[c].argv[0]) {
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
			times[c][r] = time_one(&cmds[c]);
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
