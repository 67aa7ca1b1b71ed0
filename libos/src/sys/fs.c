// SPDX-License-Identifier: MIT
/* File syscalls the LibOS must see: /proc/self/exe (and /proc/<pid>/exe) name the
 * guest's executable, not bypass-run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys.h"

int libos_is_self_exe(const char *p)
{
	char own[32];

	if (strncmp(p, "/proc/", 6) != 0)
		return 0;
	p += 6;
	if (!strcmp(p, "self/exe") || !strcmp(p, "thread-self/exe"))
		return 1;
	snprintf(own, sizeof(own), "%d/exe", getpid());
	return !strcmp(p, own);
}

static long readlink_exe(char *buf, long size)
{
	size_t n = strlen(g_proc.exe);

	if (size <= 0)
		return -EINVAL;
	if (n > (size_t)size)
		n = size;
	memcpy(buf, g_proc.exe, n);
	return (long)n;
}

long libos_sys_readlink(struct libos_args *a)
{
	if (libos_is_self_exe((const char *)a->a[0]))
		return readlink_exe((char *)a->a[1], a->a[2]);
	return libos_raw(SYS_readlink, a->a[0], a->a[1], a->a[2], 0, 0, 0);
}

long libos_sys_readlinkat(struct libos_args *a)
{
	const char *p = (const char *)a->a[1];

	if (p[0] == '/' && libos_is_self_exe(p))
		return readlink_exe((char *)a->a[2], a->a[3]);
	return libos_raw(SYS_readlinkat, a->a[0], a->a[1], a->a[2], a->a[3], 0, 0);
}

long libos_sys_open(struct libos_args *a)
{
	const char *p = (const char *)a->a[0];

	if (libos_is_self_exe(p))
		p = g_proc.exe;
	return libos_raw(SYS_open, (long)p, a->a[1], a->a[2], 0, 0, 0);
}

long libos_sys_openat(struct libos_args *a)
{
	const char *p = (const char *)a->a[1];

	if (p[0] == '/' && libos_is_self_exe(p))
		p = g_proc.exe;
	return libos_raw(SYS_openat, a->a[0], (long)p, a->a[2], a->a[3], 0, 0);
}

long libos_sys_openat2(struct libos_args *a)
{
	const char *p = (const char *)a->a[1];

	if (p[0] == '/' && libos_is_self_exe(p))
		p = g_proc.exe;
	return libos_raw(SYS_openat2, a->a[0], (long)p, a->a[2], a->a[3], 0, 0);
}
