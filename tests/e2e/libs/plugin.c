/* SPDX-License-Identifier: MIT */
/* libplugin.so: a shared library the dynamic e2e programs dlopen (never linked). Its code is
 * mapped only at dlopen time, so every syscall site in it must be found then: libc wrappers
 * (write), syscall(2) (getpid), and raw `syscall` instructions of its own (getppid, an invalid
 * number). It also has a constructor and a destructor that print (dlopen/dlclose run them),
 * thread-local storage (dynamic TLS: allocated per thread by __tls_get_addr on first use), and a
 * function that calls back into its caller (frames of the library on a backtrace). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_ctor_ran;
static __thread long t_counter;
static __thread long t_tid;

/* One write(2) per line through the libc wrapper (the caller's stdout may be unbuffered or not:
 * this never goes through stdio). */
long plugin_write(int fd, const char *s)
{
	return write(fd, s, strlen(s));
}

__attribute__((constructor)) static void plugin_ctor(void)
{
	g_ctor_ran = 1;
	plugin_write(1, "plugin: constructor ran\n");
}

__attribute__((destructor)) static void plugin_dtor(void)
{
	plugin_write(1, "plugin: destructor ran\n");
}

int plugin_ctor_ran(void)
{
	return g_ctor_ran;
}

const char *plugin_name(void)
{
	return "e2e plugin v1";
}

/* syscall(2): glibc's generic wrapper (its own `syscall` instruction in libc). */
long plugin_getpid_syscall(void)
{
	return syscall(SYS_getpid);
}

/* Raw `syscall` instructions in this library's own text. */
long plugin_raw_getppid(void)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(110L) : "rcx", "r11", "memory");
	return r;
}

long plugin_raw_write(int fd, const void *buf, unsigned long len)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"((long)fd), "S"(buf), "d"(len)
			 : "rcx", "r11", "memory");
	return r;
}

/* n raw calls of the invalid number 0x1337; returns how many gave -ENOSYS. */
long plugin_raw_enosys(long n)
{
	long ok = 0;
	for (long i = 0; i < n; i++) {
		long r;
		__asm__ volatile("syscall" : "=a"(r) : "a"(0x1337L) : "rcx", "r11", "memory");
		ok += r == -ENOSYS;
	}
	return ok;
}

/* Thread-local state of this library: bump and read back; the tid seen by the first bump. */
long plugin_tls_bump(long by)
{
	if (t_tid == 0)
		t_tid = syscall(SYS_gettid);
	t_counter += by;
	return t_counter;
}

long plugin_tls_tid(void)
{
	return t_tid;
}

void *plugin_tls_addr(void)
{
	return &t_counter;
}

/* Calls back into the caller: the callback's backtrace passes through this library. */
__attribute__((noinline)) long plugin_call(long (*cb)(long), long arg)
{
	long r = cb(arg + 1);
	__asm__ volatile("" ::: "memory"); /* no tail call: keep our frame */
	return r;
}
