// SPDX-License-Identifier: MIT
/* bypass-run: a static launcher for the LibOS host (bypass-run-host, beside it).  The
 * host is a dynamic executable, so ld.so would apply the program's LD_PRELOAD,
 * LD_LIBRARY_PATH, LD_AUDIT, GLIBC_TUNABLES ... to the host itself (a preloaded
 * library's constructor would run in it, another libc could be loaded into it).  This
 * program is static: ld.so never runs for it.  It renames those variables to
 * BYPASS_GUEST_<name> and execs the host, which gives them back to the program only. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "BYPASS_GUEST_"

static int for_ldso(const char *e)
{
	return !strncmp(e, "LD_", 3) || !strncmp(e, "GLIBC_TUNABLES=", 15);
}

int main(int argc, char **argv, char **envp)
{
	char host[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", host, sizeof(host) - 32);
	size_t nenv = 0;

	(void)argc;
	if (n <= 0) {
		fprintf(stderr, "bypass-run: /proc/self/exe: cannot find bypass-run itself (is /proc mounted?)\n");
		return 126;
	}
	host[n] = '\0';
	char *slash = strrchr(host, '/');
	strcpy(slash ? slash + 1 : host, "bypass-run-host");

	while (envp[nenv])
		nenv++;
	char **env = calloc(nenv + 1, sizeof(char *));
	if (!env)
		return 126;
	for (size_t i = 0; i < nenv; i++) {
		env[i] = envp[i];
		if (for_ldso(envp[i]) && (env[i] = malloc(strlen(envp[i]) + sizeof(PREFIX))))
			strcat(strcpy(env[i], PREFIX), envp[i]);
		if (!env[i])
			return 126;
	}
	execve(host, argv, env);
	fprintf(stderr, "bypass-run: %s: %s (bypass-run-host must sit beside bypass-run)\n", host,
		strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
