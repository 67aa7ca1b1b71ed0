// SPDX-License-Identifier: MIT
/* --trace: while it is on, every syscall is routed through the LibOS and a line is
 * written per call selected by the filter.  Off, nothing changes: the routes stay as
 * they are and dispatch tests one flag.  Each thread block caches its own output fd and
 * pid, so a vfork child (shared memory) and a fork child (new pid) open their own file
 * ("%p" in the name) instead of borrowing the parent's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "trace.h"

bool g_trace_on;
uint8_t g_trace_filter[LIBOS_TRACE_FILTER_BYTES];

int libos_trace_init(const char **bad)
{
	const struct libos_config *cfg = g_proc.cfg;
	int err;

	if (!cfg->trace)
		return 0;
	if ((err = libos_trace_filter_parse(cfg->trace_filter ? cfg->trace_filter : "all",
					    g_trace_filter, bad)))
		return err;
	/* Only the selected numbers come to the LibOS for the trace: with a filter such as
	 * `listen`, every other call keeps its fast path (and a LibOS call its cheap vector
	 * save), so tracing one call does not slow the rest of the program. */
	for (long nr = 0; nr < LIBOS_TRACE_NR_MAX; nr++)
		if (libos_trace_filter_has(g_trace_filter, nr))
			g_tramp_route[nr] = TRAMP_ROUTE_LIBOS;
	g_trace_on = true;
	/* The run's first image starts the file afresh; exec'd images and children append. */
	if (cfg->trace_path && !cfg->argv0) {
		char path[4096];
		libos_expand_pid(path, sizeof(path), cfg->trace_path);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

/* This thread's output fd: stderr, or the trace file (re-opened after a fork), kept at
 * a high number so it stays out of the program's way. */
static int trace_fd(struct libos_thread *t, int pid)
{
	const char *pat = g_proc.cfg->trace_path;
	char path[4096];
	struct rlimit rl;

	if (!pat)
		return 2;
	if (t->trace_fd > 0 && t->trace_pid == pid)
		return t->trace_fd;
	libos_expand_pid(path, sizeof(path), pat);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int high = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 64 &&
		   rl.rlim_cur < 65536 ? (int)rl.rlim_cur - 16 : 1000;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, high);
	if (moved >= 0) {
		close(fd);
		fd = moved;
	}
	t->trace_fd = fd;
	t->trace_pid = pid;
	return fd;
}

void libos_trace_call(struct libos_args *a, long result, int flags)
{
	char line[8192];
	struct libos_thread *t = a->self;

	if (!libos_trace_filter_has(g_trace_filter, a->nr))
		return;
	int pid = (int)syscall(SYS_getpid);
	size_t n = libos_trace_format(line, sizeof(line), tramp_copy_guest, pid, a->nr, a->a,
				      result, flags);
	if (n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	int fd = trace_fd(t, pid);
	if (fd >= 0 && write(fd, line, n) < 0 && errno == EBADF && g_proc.cfg->trace_path) {
		t->trace_fd = 0;	/* the program closed it: open again, once */
		if ((fd = trace_fd(t, pid)) >= 0)
			(void)!write(fd, line, n);
	}
}
