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

/* Is the guest path @p /proc/self/exe (or a synonym)?  1, 0, or -EFAULT. */
static int guest_is_self_exe(const char *p)
{
	char buf[64];
	long n;

	/* Almost every path fails on its first six bytes: read those alone first. */
	if ((n = tramp_strnlen_guest(p, 6)) < 0 || (n == 6 && libos_from_guest(buf, p, 6)))
		return -EFAULT;
	if (n < 6 || memcmp(buf, "/proc/", 6))
		return 0;
	if ((n = libos_path_from_guest(buf, sizeof(buf), p)) == -EFAULT)
		return -EFAULT;
	return n > 6 && libos_is_self_exe(buf);
}

static long readlink_exe(char *buf, long size)
{
	size_t n = strlen(g_proc.exe);

	if (size <= 0)
		return -EINVAL;
	if (n > (size_t)size)
		n = size;
	return libos_to_guest(buf, g_proc.exe, n) ?: (long)n;
}

long libos_sys_readlink(struct libos_args *a)
{
	int self = guest_is_self_exe((const char *)a->a[0]);

	if (self)
		return self < 0 ? self : readlink_exe((char *)a->a[1], a->a[2]);
	return libos_raw(SYS_readlink, a->a[0], a->a[1], a->a[2], 0, 0, 0);
}

long libos_sys_readlinkat(struct libos_args *a)
{
	int self = guest_is_self_exe((const char *)a->a[1]);

	if (self)
		return self < 0 ? self : readlink_exe((char *)a->a[2], a->a[3]);
	return libos_raw(SYS_readlinkat, a->a[0], a->a[1], a->a[2], a->a[3], 0, 0);
}

long libos_sys_open(struct libos_args *a)
{
	int self = guest_is_self_exe((const char *)a->a[0]);

	if (self < 0)
		return self;
	return libos_raw(SYS_open, self ? (long)g_proc.exe : a->a[0], a->a[1], a->a[2], 0, 0, 0);
}

long libos_sys_openat(struct libos_args *a)
{
	int self = guest_is_self_exe((const char *)a->a[1]);

	if (self < 0)
		return self;
	return libos_raw(SYS_openat, a->a[0], self ? (long)g_proc.exe : a->a[1], a->a[2], a->a[3],
			 0, 0);
}

long libos_sys_openat2(struct libos_args *a)
{
	int self = guest_is_self_exe((const char *)a->a[1]);

	if (self < 0)
		return self;
	return libos_raw(SYS_openat2, a->a[0], self ? (long)g_proc.exe : a->a[1], a->a[2],
			 a->a[3], 0, 0);
}
