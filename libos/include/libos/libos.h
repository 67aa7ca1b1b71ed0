/* SPDX-License-Identifier: MIT */
/* libos: the in-process library OS.  libos_run() loads a program, patches its syscall
 * sites, and runs it with every syscall served here. */
#ifndef LIBOS_LIBOS_H
#define LIBOS_LIBOS_H

#include <stdbool.h>
#include <stdint.h>

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
	/* Networking: --net=dpdk serves AF_INET sockets from dpdk-net (libos_net_conf_parse
	 * fills these from the options or BYPASS_NET, BYPASS_DPDK, BYPASS_IP, BYPASS_GW and
	 * BYPASS_NET_FAULT, BYPASS_NET_QUEUES, BYPASS_NET_WATCH_US).  net_dpdk false: the
	 * kernel serves every socket, routes untouched. */
	bool net_dpdk;
	bool net_from_env;	/* they came from the environment (the guest sees it) */
	const char *net_eal;	/* EAL arguments, NULL for none */
	const char *net_ip_str, *net_gw_str;	/* as given, for execve re-entry */
	uint32_t net_ip;	/* network byte order */
	uint8_t net_prefix;
	uint32_t net_gw;	/* network byte order; 0 = none */
	const char *net_fault;	/* dpdk-net fault injection, NULL = off */
	unsigned net_queues;	/* contexts (queue pairs); 0 = one per CPU */
	unsigned net_watch_us;	/* the backend's watch period; 0 = no watch thread */
	/* execve re-entry (--sigmask=HEX, internal): the guest's signal mask at its execve.
	 * Signals the old image's LibOS deferred are still blocked in the inherited mask;
	 * this mask unblocks them, under the new image's (default) actions. */
	bool sigmask_set;
	uint64_t sigmask;
};

/* Exit statuses of a program that could not be started, as shells use them. */
#define LIBOS_EXIT_NOEXEC	126
#define LIBOS_EXIT_NOTFOUND	127

/* Check a --trace-filter list: 0, or -EINVAL with *bad at the unknown name. */
int libos_trace_filter_check(const char *list, const char **bad);

/* Fill cfg->net_* from the options (NULL when not given) or, for those not given, the
 * BYPASS_NET, BYPASS_DPDK, BYPASS_IP and BYPASS_GW variables (BYPASS_NET_FAULT always
 * comes from the environment).  0, or -EINVAL with *what naming the option and *why
 * saying what is wrong (static strings, for one line "bypass-run: WHAT: WHY"). */
int libos_net_conf_parse(struct libos_config *cfg, const char *net, const char *dpdk,
			 const char *ip, const char *gw, const char **what, const char **why);

/* Run @prog with @argv (argv[0] is replaced by cfg->argv0 when set) and @envp.
 * Returns only if the program could not be started: a one-line error
 * "bypass-run: WHAT: WHY" has been printed and the return value is the exit status
 * (LIBOS_EXIT_NOTFOUND or LIBOS_EXIT_NOEXEC). */
int libos_run(const struct libos_config *cfg, const char *prog, int argc, char **argv,
	      char **envp);

#endif
