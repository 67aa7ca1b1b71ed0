/* SPDX-License-Identifier: MIT */
/* e2e_ptrace_runner: a slow reference stand-in for bypass-run that runs PROGRAM natively but
 * counts its syscalls with ptrace and writes the same JSON report (--stats=FILE or BYPASS_STATS,
 * "%p" -> pid; every call booked as "fast", sites all 0). It lets the e2e harness (stats checks,
 * exhaustiveness) be tested before bypass-run works, with a known-good report writer.
 *   usage: e2e_ptrace_runner [--stats[=FILE]] [--] PROGRAM [ARGS...]
 * Like bypass-run, PROGRAM runs in the runner's own process (same pid): a grandchild tracer,
 * reparented away so the program never sees it as a child, seizes us and we exec PROGRAM.
 * One report per process, written when it exits (before its parent can see the exit); an exec
 * starts a new image and resets its counts. Exit: PROGRAM's; 125 if tracing is impossible. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_NR 8192

struct proc {
	pid_t tgid;
	long long total;
	long long *counts; /* MAX_NR entries */
};

struct thread {
	pid_t tid, tgid;
};

static struct proc *g_procs;
static int g_nprocs;
static struct thread *g_threads;
static int g_nthreads;
static const char *g_stats;

static struct proc *proc_get(pid_t tgid)
{
	for (int i = 0; i < g_nprocs; i++)
		if (g_procs[i].tgid == tgid)
			return &g_procs[i];
	g_procs = realloc(g_procs, sizeof(*g_procs) * (g_nprocs + 1));
	struct proc *p = &g_procs[g_nprocs++];
	p->tgid = tgid;
	p->total = 0;
	p->counts = calloc(MAX_NR, sizeof(long long));
	return p;
}

static pid_t tgid_of(pid_t tid)
{
	for (int i = 0; i < g_nthreads; i++)
		if (g_threads[i].tid == tid)
			return g_threads[i].tgid;
	pid_t tgid = tid;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	if (f)
		fclose(f);
	g_threads = realloc(g_threads, sizeof(*g_threads) * (g_nthreads + 1));
	g_threads[g_nthreads++] = (struct thread){ tid, tgid };
	return tgid;
}

static void thread_forget(pid_t tid)
{
	for (int i = 0; i < g_nthreads; i++)
		if (g_threads[i].tid == tid)
			g_threads[i] = g_threads[--g_nthreads];
}

static void report_write(struct proc *p)
{
	if (!g_stats)
		return;
	char path[4096];
	size_t o = 0;
	for (const char *s = g_stats; *s && o < sizeof(path) - 16; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			o += snprintf(path + o, sizeof(path) - o, "%d", p->tgid);
			s++;
		} else {
			path[o++] = *s;
		}
	}
	path[o] = 0;
	char exe[4096] = "", link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", p->tgid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "{\"pid\": %d, \"exe\": \"%s\",\n", p->tgid, exe);
	fprintf(f, " \"sites\": {\"found\": 0, \"displaced\": 0, \"island\": 0, \"trap\": 0},\n");
	fprintf(f, " \"calls\": {\"total\": %lld, \"fast\": %lld, \"libos\": 0, \"trap\": 0},\n",
		p->total, p->total);
	fprintf(f, " \"syscalls\": {");
	const char *sep = "";
	for (int nr = 0; nr < MAX_NR; nr++)
		if (p->counts[nr]) {
			fprintf(f, "%s\"%d\": %lld", sep, nr, p->counts[nr]);
			sep = ", ";
		}
	fprintf(f, "}}\n");
	fclose(f);
}

/* The tracer: runs until no tracee is left (waitpid -> ECHILD). A new child's first stop can
 * arrive before its parent's fork event, so no counting of live tracees. */
static void trace_loop(pid_t first)
{
	tgid_of(first);
	for (;;) {
		int st;
		pid_t tid = waitpid(-1, &st, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			thread_forget(tid);
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		int sig = WSTOPSIG(st), event = st >> 16, inject = 0;
		pid_t tgid = tgid_of(tid);
		if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) > 0 &&
			    info.op == PTRACE_SYSCALL_INFO_ENTRY) {
				struct proc *p = proc_get(tgid);
				p->total++;
				p->counts[info.entry.nr < MAX_NR ? info.entry.nr : MAX_NR - 1]++;
			}
		} else if (sig == SIGTRAP && event) {
			unsigned long msg = 0;
			ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
			switch (event) {
			case PTRACE_EVENT_FORK:
			case PTRACE_EVENT_VFORK:
				proc_get(tgid_of((pid_t)msg));
				break;
			case PTRACE_EVENT_CLONE:
				tgid_of((pid_t)msg); /* threads or not: /proc tells */
				break;
			case PTRACE_EVENT_EXEC: {
				/* New image: its report starts from zero (the old one is replaced). */
				struct proc *p = proc_get(tgid);
				p->total = 0;
				memset(p->counts, 0, MAX_NR * sizeof(long long));
				if ((pid_t)msg != tid) /* a non-leader thread exec'd: it became tid */
					thread_forget((pid_t)msg);
				break;
			}
			case PTRACE_EVENT_EXIT:
				report_write(proc_get(tgid));
				break;
			}
		} else if (event == PTRACE_EVENT_STOP) {
			/* Auto-attach or group stop: just continue. */
		} else {
			inject = sig;
		}
		ptrace(PTRACE_SYSCALL, tid, 0, inject);
	}
}

int main(int argc, char **argv)
{
	int i = 1;
	g_stats = getenv("BYPASS_STATS");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strncmp(argv[i], "--stats=", 8) == 0)
			g_stats = argv[i] + 8;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: e2e_ptrace_runner [--stats[=FILE]] [--] PROGRAM [ARGS...]\n");
		return 125;
	}
	int go[2];
	if (pipe(go) != 0)
		return 125;
	pid_t self = getpid();
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
	pid_t mid = fork();
	if (mid == 0) {
		if (fork() != 0)
			_exit(0); /* the tracer is orphaned: never a child of the program */
		close(go[0]);
		long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			    PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT |
			    PTRACE_O_EXITKILL;
		int st;
		if (ptrace(PTRACE_SEIZE, self, 0, opts) != 0 || ptrace(PTRACE_INTERRUPT, self, 0, 0) != 0 ||
		    waitpid(self, &st, __WALL) != self) {
			fprintf(stderr, "e2e_ptrace_runner: cannot trace: %s\n", strerror(errno));
			(void)!write(go[1], "E", 1);
			_exit(1);
		}
		ptrace(PTRACE_SYSCALL, self, 0, 0);
		(void)!write(go[1], "G", 1);
		close(go[1]);
		trace_loop(self);
		_exit(0);
	}
	close(go[1]);
	waitpid(mid, NULL, 0);
	char c = 0;
	while (read(go[0], &c, 1) < 0 && errno == EINTR)
		;
	close(go[0]);
	if (c != 'G')
		return 125;
	execvp(argv[i], argv + i);
	fprintf(stderr, "e2e_ptrace_runner: cannot run %s: %s\n", argv[i], strerror(errno));
	return 127;
}
