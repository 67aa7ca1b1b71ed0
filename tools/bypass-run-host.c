// SPDX-License-Identifier: MIT
/* bypass-run-host: run a program with every syscall served by the in-process LibOS
 * (started by the bypass-run launcher).  Argument parsing only; libos_run() does the
 * work. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libos/libos.h>

#define EXIT_USAGE 2

static const char usage[] =
	"usage: bypass-run [OPTIONS] [--] PROGRAM [ARGS...]\n"
	"Run PROGRAM (an x86-64 Linux executable or #! script) with every system call\n"
	"served by bypass's in-process library OS.\n"
	"\n"
	"  --stats           print a summary of sites and calls to stderr at exit\n"
	"  --stats=FILE      write statistics as JSON to FILE (%p: the pid, so every\n"
	"                    process of a tree writes its own)\n"
	"  --trace           one strace-style line per syscall to stderr\n"
	"  --trace=FILE      the same to FILE (%p: the pid, one file per process)\n"
	"  --trace-filter=LIST  only these syscalls (read,write,...; all; !name)\n"
	"  --argv0=NAME      run PROGRAM with argv[0] = NAME\n"
	"  --net=kernel|dpdk who serves IPv4 TCP and UDP sockets: the kernel (default), or\n"
	"                    dpdk-net on a DPDK port, started at the first socket that needs\n"
	"                    it (127.0.0.0/8, IPv6, AF_UNIX, raw sockets stay on the kernel)\n"
	"  --dpdk='EAL ARGS' DPDK EAL arguments for --net=dpdk (e.g. '--no-pci --no-huge\n"
	"                    -m 256 --no-shconf --vdev=net_af_packet0,iface=veth0')\n"
	"  --ip=ADDR/PREFIX  the local IPv4 address and on-link prefix (--net=dpdk needs it)\n"
	"  --gw=ADDR         the next hop for off-link destinations\n"
	"  --help            show this help\n"
	"  --version         show the version\n"
	"\n"
	"Environment: BYPASS_STATS=FILE acts as --stats=FILE, BYPASS_TRACE=FILE (or -, for\n"
	"stderr) as --trace, BYPASS_TRACE_FILTER=LIST as --trace-filter; BYPASS_NET, BYPASS_DPDK,\n"
	"BYPASS_IP and BYPASS_GW as --net, --dpdk, --ip and --gw (BYPASS_NET_FAULT: dpdk-net\n"
	"fault injection, key=value,...; BYPASS_NET_QUEUES=N: contexts, one per queue pair;\n"
	"BYPASS_NET_WATCH_US=N: the watch thread's period, 0 for none); they survive execve.\n"
	"Exit status: the program's, or 127 (not found), 126 (cannot execute), 2 (usage).\n";

int main(int argc, char **argv, char **envp)
{
	static char self[PATH_MAX];
	struct libos_config cfg = { 0 };
	const char *net = NULL, *dpdk = NULL, *ip = NULL, *gw = NULL, *what, *why;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("bypass-run %s\n", BYPASS_VERSION);
			return 0;
		} else if (!strcmp(a, "--stats")) {
			cfg.stats_human = true;
		} else if (!strncmp(a, "--stats=", 8) && a[8]) {
			cfg.stats_path = a + 8;
		} else if (!strcmp(a, "--trace")) {
			cfg.trace = true;
		} else if (!strncmp(a, "--trace=", 8) && a[8]) {
			cfg.trace = true;
			cfg.trace_path = a + 8;
		} else if (!strncmp(a, "--trace-filter=", 15)) {
			cfg.trace_filter = a + 15;
		} else if (!strncmp(a, "--argv0=", 8)) {
			cfg.argv0 = a + 8;
		} else if (!strncmp(a, "--net=", 6)) {
			net = a + 6;
		} else if (!strncmp(a, "--dpdk=", 7)) {
			dpdk = a + 7;
		} else if (!strncmp(a, "--ip=", 5)) {
			ip = a + 5;
		} else if (!strncmp(a, "--gw=", 5)) {
			gw = a + 5;
		} else if (!strncmp(a, "--sigmask=", 10)) {
			/* internal: set by the LibOS when it re-enters bypass-run at execve */
			char *end;
			cfg.sigmask = strtoull(a + 10, &end, 16);
			if (end == a + 10 || *end) {
				fprintf(stderr, "bypass-run: %s: bad signal mask\n", a);
				return EXIT_USAGE;
			}
			cfg.sigmask_set = true;
		} else if (!strcmp(a, "--argv0") && i + 1 < argc) {
			cfg.argv0 = argv[++i];
		} else {
			fprintf(stderr, "bypass-run: %s: unknown option (try --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "bypass-run: PROGRAM: missing operand (try --help)\n");
		return EXIT_USAGE;
	}
	const char *env = getenv("BYPASS_STATS");
	if (!cfg.stats_path && env && *env) {
		cfg.stats_path = env;
		cfg.stats_from_env = true;
	}
	env = getenv("BYPASS_TRACE");
	if (!cfg.trace && env && *env) {
		cfg.trace = cfg.trace_from_env = true;
		cfg.trace_path = strcmp(env, "-") ? env : NULL;
		if (!cfg.trace_filter && (env = getenv("BYPASS_TRACE_FILTER")) && *env)
			cfg.trace_filter = env;
	}
	if (cfg.trace_filter) {
		const char *bad = NULL;
		if (libos_trace_filter_check(cfg.trace_filter, &bad)) {
			int len = bad ? (int)strcspn(bad, ",") : 0;
			fprintf(stderr, "bypass-run: --trace-filter: unknown syscall '%.*s'\n", len,
				bad ? bad : "");
			return EXIT_USAGE;
		}
	}
	if (libos_net_conf_parse(&cfg, net, dpdk, ip, gw, &what, &why)) {
		fprintf(stderr, "bypass-run: %s: %s\n", what, why);
		return EXIT_USAGE;
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		fprintf(stderr, "bypass-run: /proc/self/exe: cannot find bypass-run itself (is /proc mounted?)\n");
		return 126;
	}
	self[n] = '\0';
	cfg.self_exe = self;
	return libos_run(&cfg, argv[i], argc - i, argv + i, envp);
}
