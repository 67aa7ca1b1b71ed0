// SPDX-License-Identifier: MIT
/* Networking configuration: --net, --dpdk, --ip, --gw (or BYPASS_NET, BYPASS_DPDK,
 * BYPASS_IP, BYPASS_GW, BYPASS_NET_FAULT, BYPASS_NET_QUEUES, BYPASS_NET_WATCH_US), checked
 * before the program
 * starts, and the options an execve re-entry must pass on. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* A dotted quad, nothing around it. */
static int parse_addr(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*out = a.s_addr;
	return 0;
}

/* ADDR/PREFIX with PREFIX 1..32 (decimal, no sign, no blanks). */
static int parse_cidr(const char *s, uint32_t *ip, uint8_t *prefix)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	char *end;

	if (!slash || (size_t)(slash - s) >= sizeof(buf) || slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	unsigned long p = strtoul(slash + 1, &end, 10);
	if (*end || p < 1 || p > 32 || parse_addr(buf, ip))
		return -EINVAL;
	*prefix = (uint8_t)p;
	return 0;
}

/* Quotes in the EAL string must pair up (the backend splits it on blanks). */
static int quotes_balanced(const char *s)
{
	char open = 0;

	for (; *s; s++) {
		if (open && *s == open)
			open = 0;
		else if (!open && (*s == '\'' || *s == '"'))
			open = *s;
	}
	return !open;
}

/* Environment variable @name as a decimal number in [@lo, @hi] into *@out (@dflt when
 * unset or empty): 0, or -EINVAL. */
static int env_uint(const char *name, unsigned long lo, unsigned long hi, unsigned dflt,
		    unsigned *out)
{
	const char *v = getenv(name);
	char *end;

	*out = dflt;
	if (!v || !*v)
		return 0;
	unsigned long n = strtoul(v, &end, 10);
	if (*end || *v < '0' || *v > '9' || n < lo || n > hi)
		return -EINVAL;
	*out = (unsigned)n;
	return 0;
}

/* @opt, else the variable @name (empty = unset); *@opts notes an option was given. */
static const char *env_or(const char *opt, const char *name, bool *opts)
{
	const char *e;

	if (opt) {
		*opts = true;
		return opt;
	}
	e = getenv(name);
	return e && *e ? e : NULL;
}

int libos_net_conf_parse(struct libos_config *cfg, const char *net, const char *dpdk,
			 const char *ip, const char *gw, const char **what, const char **why)
{
	bool opts = false;

	net = env_or(net, "BYPASS_NET", &opts);
	*what = "--net";
	if (!net || !strcmp(net, "kernel")) {
		cfg->net_dpdk = false;
		return 0;
	}
	if (strcmp(net, "dpdk")) {
		*why = "unknown network (use kernel or dpdk)";
		return -EINVAL;
	}
	cfg->net_dpdk = true;
	cfg->net_eal = env_or(dpdk, "BYPASS_DPDK", &opts);
	cfg->net_ip_str = env_or(ip, "BYPASS_IP", &opts);
	cfg->net_gw_str = env_or(gw, "BYPASS_GW", &opts);
	cfg->net_fault = getenv("BYPASS_NET_FAULT");
	if (cfg->net_fault && !*cfg->net_fault)
		cfg->net_fault = NULL;
	cfg->net_from_env = !opts;	/* else execve passes them all as options */
	/* Only in the environment (execve keeps them): the contexts, one per queue pair
	 * (unset: one per CPU), and the backend's watch period (net/README.md). */
	if (env_uint("BYPASS_NET_QUEUES", 1, 16, 0, &cfg->net_queues)) {
		*what = "BYPASS_NET_QUEUES";
		*why = "not a number of queue pairs from 1 to 16";
		return -EINVAL;
	}
	if (env_uint("BYPASS_NET_WATCH_US", 0, 1000000, NET_WATCH_US, &cfg->net_watch_us)) {
		*what = "BYPASS_NET_WATCH_US";
		*why = "not a number of microseconds from 0 (no watch) to 1000000";
		return -EINVAL;
	}
	if (cfg->net_eal && !quotes_balanced(cfg->net_eal)) {
		*what = "--dpdk";
		*why = "unbalanced quotes in the EAL arguments";
		return -EINVAL;
	}
	*what = "--ip";
	if (!cfg->net_ip_str) {
		*why = "--net=dpdk needs the local address (--ip=ADDR/PREFIX)";
		return -EINVAL;
	}
	if (parse_cidr(cfg->net_ip_str, &cfg->net_ip, &cfg->net_prefix)) {
		*why = "not an IPv4 ADDR/PREFIX (e.g. 10.0.0.2/24)";
		return -EINVAL;
	}
	cfg->net_gw = 0;
	if (cfg->net_gw_str && parse_addr(cfg->net_gw_str, &cfg->net_gw)) {
		*what = "--gw";
		*why = "not an IPv4 address";
		return -EINVAL;
	}
	return 0;
}

int libos_net_exec_args(char **nv, char *buf, size_t size)
{
	const struct libos_config *cfg = g_proc.cfg;
	int k = 0;
	size_t off = 0;

	if (!cfg->net_dpdk || cfg->net_from_env)
		return 0;	/* the environment carries them, or there is nothing to carry */
	const char *opt[4][2] = {
		{ "--net=", "dpdk" }, { "--dpdk=", cfg->net_eal },
		{ "--ip=", cfg->net_ip_str }, { "--gw=", cfg->net_gw_str },
	};
	for (int i = 0; i < 4; i++) {
		if (!opt[i][1])
			continue;
		int n = snprintf(buf + off, size - off, "%s%s", opt[i][0], opt[i][1]);
		if (n < 0 || (size_t)n >= size - off)
			break;
		nv[k++] = buf + off;
		off += (size_t)n + 1;
	}
	return k;
}
