/* SPDX-License-Identifier: MIT */
/* --trace: strace-style lines, one per syscall, from the number, the six arguments and the
 * result.  Pure formatting: no malloc, no stdio, no locale, so it may run in vfork children,
 * signal handlers and at exit_group.  Guest memory is read only through the caller's reader. */
#ifndef LIBOS_TRACE_H
#define LIBOS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Numbers 0..LIBOS_TRACE_NR_MAX-1 have a name slot and a filter bit (x86-64 uses 0..461). */
#define LIBOS_TRACE_NR_MAX 512
/* Bytes of a filter bitmap for libos_trace_filter_parse(). */
#define LIBOS_TRACE_FILTER_BYTES (LIBOS_TRACE_NR_MAX / 8)

/* Data strings (read/write buffers, argv elements) print at most this many bytes, then
 * `...`; paths print whole, up to LIBOS_TRACE_PATH_MAX bytes. */
#define LIBOS_TRACE_STRLEN 32
#define LIBOS_TRACE_PATH_MAX 4096
/* execve argv: at most this many elements, then `...`. */
#define LIBOS_TRACE_ARGV_MAX 8

/* libos_trace_format() flags. */
/* The call does not return (exit, exit_group, execve that succeeds): print `= ?` and ignore
 * @result.  Output buffers (read-like calls) print as addresses. */
#define LIBOS_TRACE_NORETURN 0x1

/* Copy @n bytes of guest memory at @guest_src to @dst: 0, or -EFAULT (nothing is known of
 * @dst then).  Must never crash on a bad address: the LibOS passes tramp_copy_guest. */
typedef long libos_trace_read_fn(void *dst, const void *guest_src, size_t n);

/* The name of syscall @nr ("openat"), or "syscall_0x<hex>" for a number without one (kept
 * in a static buffer: not thread-safe, use it only for messages; libos_trace_format() does
 * not use it). */
const char *libos_trace_name(long nr);

/* The x86-64 number of the syscall called @name; "syscall_0x<hex>" (or "syscall_<dec>")
 * gives that number when it is below LIBOS_TRACE_NR_MAX.  -1 when unknown. */
int libos_trace_nr(const char *name);

/* Fill @bitmap (LIBOS_TRACE_FILTER_BYTES bytes, bit nr of byte nr/8 = trace syscall nr)
 * from @list, comma-separated syscall names.  `all` selects every number, `!name` removes
 * one; a list whose first entry is `!name` starts from all (`!read` = all but read).
 * Returns 0, or -EINVAL (empty entry or unknown name) with *@bad (if @bad is not NULL)
 * pointing at the offending entry inside @list: it ends at the next ',' or at the end.
 * On -EINVAL the bitmap content is unspecified. */
int libos_trace_filter_parse(const char *list, uint8_t *bitmap, const char **bad);

/* Whether @bitmap (from libos_trace_filter_parse) selects @nr. */
static inline bool libos_trace_filter_has(const uint8_t *bitmap, long nr)
{
	return nr >= 0 && nr < LIBOS_TRACE_NR_MAX && (bitmap[nr / 8] >> (nr % 8) & 1);
}

/* Write one line for syscall @nr with arguments @args (rdi rsi rdx r10 r8 r9) that returned
 * @result (a value or -errno) into @buf, ending with '\n':
 *   [pid 1234] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
 *   read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 4096) = 1024
 *   mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f...
 *   openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
 *   exit_group(0) = ?                                    (with LIBOS_TRACE_NORETURN)
 * @pid > 0 adds the `[pid N] ` prefix; 0 leaves it out.  @flags: LIBOS_TRACE_*.
 * Strings and buffers are read through @read (NULL: every pointer prints as an address);
 * a pointer it cannot read prints as its address.  Buffers a call fills (read, recvfrom,
 * readlink, getcwd, pipe2 ...) print only on success, @result bytes long.
 * Like snprintf: @buf always holds a NUL-terminated prefix of the line when @size > 0, and
 * the return is the length of the whole line (without the NUL): a return >= @size means
 * it was cut.  Thread-safe and async-signal-safe if @read is. */
size_t libos_trace_format(char *buf, size_t size, libos_trace_read_fn *read, int pid, long nr,
			  const long args[6], long result, int flags);

#endif
