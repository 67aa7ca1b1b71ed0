/* SPDX-License-Identifier: MIT */
/* Helpers of the libos.trace tests: a reader over this process's memory that fails on
 * unmapped addresses as the LibOS's does, and one call to format a line. */
#ifndef BYPASS_TEST_TRACE_H
#define BYPASS_TEST_TRACE_H

#include <check.h>
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>

#include "trace.h"

/* process_vm_readv on ourselves: the kernel checks the address, so a bad one is -EFAULT. */
static inline long test_read(void *dst, const void *src, size_t n)
{
	struct iovec l = { dst, n }, r = { (void *)src, n };

	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* The line for @nr(args) = @result, without its '\n', in a static buffer. */
static inline const char *test_line(int pid, long nr, long a0, long a1, long a2, long a3,
				    long a4, long a5, long result, int flags)
{
	static char buf[8192];
	const long args[6] = { a0, a1, a2, a3, a4, a5 };
	size_t n = libos_trace_format(buf, sizeof(buf), test_read, pid, nr, args, result, flags);

	ck_assert_uint_lt(n, sizeof(buf));
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_int_eq(buf[n - 1], '\n');
	buf[n - 1] = '\0';
	return buf;
}

/* TL(nr, result, args...): up to six arguments, the rest zero; no pid, returned. */
#define TL(nr, result, ...) test_line_v(nr, result, (long[6]){ __VA_ARGS__ })
static inline const char *test_line_v(long nr, long result, const long *a)
{
	return test_line(0, nr, a[0], a[1], a[2], a[3], a[4], a[5], result, 0);
}

#define P(x) ((long)(uintptr_t)(x))

TCase *test_trace_decode_tcase(void);
TCase *test_trace_guest_tcase(void);

#endif
