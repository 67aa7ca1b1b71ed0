// SPDX-License-Identifier: MIT
/* The host's address ranges (bypass-run, its libraries, heap and stack as mapped before
 * the program, and the LibOS's own later blocks and arenas), so a program cannot map
 * over them (DESIGN section 2: MAP_FIXED there fails with -ENOMEM) or unmap them.
 * Natively nothing of the program's lives there, so refusing is what it would see. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define HOSTMAP_MAX 512

static struct { uint64_t lo, hi; } g_host[HOSTMAP_MAX];
static int g_nhost;
static pthread_mutex_t g_host_lock = PTHREAD_MUTEX_INITIALIZER;

void libos_hostmap_add(uint64_t lo, uint64_t hi)
{
	pthread_mutex_lock(&g_host_lock);
	if (g_nhost < HOSTMAP_MAX) {
		g_host[g_nhost].lo = lo;
		g_host[g_nhost].hi = hi;
		g_nhost++;
	}
	pthread_mutex_unlock(&g_host_lock);
}

void libos_hostmap_remove(uint64_t lo, uint64_t hi)
{
	pthread_mutex_lock(&g_host_lock);
	for (int i = 0; i < g_nhost; i++) {
		if (g_host[i].lo == lo && g_host[i].hi == hi) {
			g_host[i] = g_host[--g_nhost];
			break;
		}
	}
	pthread_mutex_unlock(&g_host_lock);
}

bool libos_hostmap_overlaps(uint64_t lo, uint64_t len)
{
	uint64_t hi = lo + len < lo ? UINT64_MAX : lo + len;
	bool hit = false;

	pthread_mutex_lock(&g_host_lock);
	for (int i = 0; i < g_nhost && !hit; i++)
		hit = g_host[i].lo < hi && lo < g_host[i].hi;
	pthread_mutex_unlock(&g_host_lock);
	return hit;
}

/* Everything mapped now is the host's: call before the program is loaded.  The vDSO
 * and vvar pages are shared with the program and stay out. */
void libos_hostmap_init(void)
{
	char buf[65536], *line, *save;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || strstr(line, "[vdso]") ||
		    strstr(line, "[vvar") || strstr(line, "[vsyscall]"))
			continue;
		libos_hostmap_add(lo, hi);
	}
}
