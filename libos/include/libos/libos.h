/* SPDX-License-Identifier: MIT */
/* libos: the in-process library OS.  libos_run() loads a program, patches its syscall
 * sites, and runs it with every syscall served here. */
#ifndef LIBOS_LIBOS_H
#define LIBOS_LIBOS_H

#include <stdbool.h>

struct libos_config {
	const char *stats_path;	/* JSON stats file ("%p" -> pid), NULL for none */
	bool stats_human;	/* human summary on stderr at exit */
	const char *argv0;	/* argv[0] for the program, NULL: PROGRAM as given */
	const char *self_exe;	/* absolute path of bypass-run, for execve re-entry */
	bool stats_from_env;	/* stats_path came from BYPASS_STATS (the guest sees it) */
	bool trace;		/* --trace: one line per syscall */
	const char *trace_path;	/* its file ("%p" -> pid), NULL for stderr */
	const char *trace_filter;	/* "read,write,...", NULL for all */
	bool trace_from_env;	/* trace settings came from BYPASS_TRACE* */
};

/* Exit statuses of a program that could not be started, as shells use them. */
#define LIBOS_EXIT_NOEXEC	126
#define LIBOS_EXIT_NOTFOUND	127

/* Check a --trace-filter list: 0, or -EINVAL with *bad at the unknown name. */
int libos_trace_filter_check(const char *list, const char **bad);

/* Run @prog with @argv (argv[0] is replaced by cfg->argv0 when set) and @envp.
 * Returns only if the program could not be started: a one-line error
 * "bypass-run: WHAT: WHY" has been printed and the return value is the exit status
 * (LIBOS_EXIT_NOTFOUND or LIBOS_EXIT_NOEXEC). */
int libos_run(const struct libos_config *cfg, const char *prog, int argc, char **argv,
	      char **envp);

#endif
