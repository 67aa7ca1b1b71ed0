// SPDX-License-Identifier: MIT
/* libos.trace: arguments in guest memory: escapes, cuts at LIBOS_TRACE_STRLEN, output
 * buffers only on success, bad pointers and strings that end at an unmapped page. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "trace_test.h"

/* @fmt (one %#lx) with the address @p: expected lines that hold addresses. */
static const char *with_addr(const char *fmt, const void *p)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), fmt, (unsigned long)(uintptr_t)p);
	return buf;
}

START_TEST(test_trace_string_escapes_like_strace)
{
	static const char s[] = "a\n\t\"\\\0" "1\1z\r\v\f\177\377\033[";

	ck_assert_str_eq(TL(SYS_write, 16, 1, P(s), sizeof(s) - 1),
			 "write(1, \"a\\n\\t\\\"\\\\\\0001\\1z\\r\\v\\f\\177\\377\\33[\", 16) = 16");
	ck_assert_str_eq(TL(SYS_write, 0, 1, P(s), 0), "write(1, \"\", 0) = 0");
	ck_assert_str_eq(TL(SYS_write, 1, 1, P("\0"), 1), "write(1, \"\\0\", 1) = 1");
}
END_TEST

START_TEST(test_trace_long_strings_cut_at_32)
{
	char x[100], arg32[33], arg33[34];
	const char *argv[] = { arg32, arg33, NULL };

	memset(x, 'x', sizeof(x));
	ck_assert_str_eq(TL(SYS_write, 100, 1, P(x), 100),
			 "write(1, \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"..., 100) = 100");
	ck_assert_str_eq(TL(SYS_read, 5, 0, P(x), 100), "read(0, \"xxxxx\", 100) = 5");
	memset(arg32, 'a', 32);
	arg32[32] = '\0';
	memset(arg33, 'b', 33);
	arg33[33] = '\0';
	ck_assert_str_eq(TL(SYS_execve, 0, P("/bin/x"), P(argv), 0),
			 "execve(\"/bin/x\", [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", "
			 "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"...], NULL) = 0");
}
END_TEST

START_TEST(test_trace_execve_argv_first_eight_and_envp_count)
{
	const char *argv[] = { "sh", "-c", "1", "2", "3", "4", "5", "6", "7", "8", NULL };
	const char *envp[] = { "A=1", "B=2", NULL };
	const char *l = test_line(3, SYS_execve, P("/bin/sh"), P(argv), P(envp), 0, 0, 0, 0,
				  LIBOS_TRACE_NORETURN);
	char want[256];

	snprintf(want, sizeof(want), "[pid 3] execve(\"/bin/sh\", [\"sh\", \"-c\", \"1\", \"2\", "
		 "\"3\", \"4\", \"5\", \"6\", ...], %p /* 2 vars */) = ?", (void *)envp);
	ck_assert_str_eq(l, want);
	argv[2] = NULL;
	ck_assert_str_eq(TL(SYS_execve, -ENOENT, P("/x"), P(argv), 0x10),
			 "execve(\"/x\", [\"sh\", \"-c\"], 0x10) = -1 ENOENT "
			 "(No such file or directory)");
}
END_TEST

START_TEST(test_trace_output_buffers_only_on_success)
{
	char buf[64] = "secret", cwd[] = "/home/me";
	int fds[2] = { 3, 4 };

	ck_assert_str_eq(TL(SYS_read, -EAGAIN, 3, P(buf), 64),
			 with_addr("read(3, %#lx, 64) = -1 EAGAIN (Resource temporarily "
				   "unavailable)", buf));
	ck_assert_str_eq(test_line(0, SYS_read, 3, P(buf), 64, 0, 0, 0, 0, LIBOS_TRACE_NORETURN),
			 with_addr("read(3, %#lx, 64) = ?", buf));
	ck_assert_str_eq(TL(SYS_read, 0, 3, P(buf), 64), "read(3, \"\", 64) = 0");
	ck_assert_str_eq(TL(SYS_readlink, 6, P("/proc/self/exe"), P(buf), 64),
			 "readlink(\"/proc/self/exe\", \"secret\", 64) = 6");
	ck_assert_str_eq(TL(SYS_getcwd, 9, P(cwd), 4096), "getcwd(\"/home/me\", 4096) = 9");
	ck_assert_str_eq(TL(SYS_pipe2, 0, P(fds), O_CLOEXEC), "pipe2([3, 4], O_CLOEXEC) = 0");
	ck_assert_str_eq(TL(SYS_pipe2, -EMFILE, P(fds), 0),
			 with_addr("pipe2(%#lx, 0) = -1 EMFILE (Too many open files)", fds));
}
END_TEST

START_TEST(test_trace_iovecs_timespec_clone_args)
{
	char a[] = "hello", b[] = "\n", in[8] = "abcdefg";
	struct iovec w[2] = { { a, 5 }, { b, 1 } }, r[2] = { { in, 2 }, { in + 2, 4 } };
	struct timespec ts = { 1, 500000000 };
	uint64_t ca[11] = { 0x3d0f00, 0, 0x7000, 0x7000, 0, 0x1000, 0x8000, 0x9000 };

	ck_assert_str_eq(TL(SYS_writev, 6, 1, P(w), 2),
			 "writev(1, [{iov_base=\"hello\", iov_len=5}, {iov_base=\"\\n\", "
			 "iov_len=1}], 2) = 6");
	ck_assert_str_eq(TL(SYS_readv, 3, 0, P(r), 2),
			 "readv(0, [{iov_base=\"ab\", iov_len=2}, {iov_base=\"c\", iov_len=4}], 2)"
			 " = 3");
	ck_assert_str_eq(TL(SYS_nanosleep, 0, P(&ts), 0),
			 "nanosleep({tv_sec=1, tv_nsec=500000000}, NULL) = 0");
	ck_assert_str_eq(TL(SYS_nanosleep, -EFAULT, 0x10, 0),
			 "nanosleep(0x10, NULL) = -1 EFAULT (Bad address)");
	ck_assert_str_eq(TL(SYS_clone3, 8, P(ca), sizeof(ca)),
			 "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
			 "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, "
			 "child_tid=0x7000, parent_tid=0x7000, exit_signal=0, stack=0x1000, "
			 "stack_size=0x8000, tls=0x9000}, 88) = 8");
	ca[0] = 0x1000;
	ca[4] = 17;
	ck_assert_str_eq(TL(SYS_clone3, 8, P(ca), 64),
			 "clone3({flags=CLONE_PIDFD, pidfd=NULL, child_tid=0x7000, "
			 "parent_tid=0x7000, exit_signal=SIGCHLD, stack=0x1000, stack_size=0x8000, "
			 "tls=0x9000}, 64) = 8");
}
END_TEST

START_TEST(test_trace_bad_pointer_prints_address)
{
	ck_assert_str_eq(TL(SYS_openat, -EFAULT, AT_FDCWD, 0x10, O_RDONLY),
			 "openat(AT_FDCWD, 0x10, O_RDONLY) = -1 EFAULT (Bad address)");
	ck_assert_str_eq(TL(SYS_write, -EFAULT, 1, -4096, 5),
			 "write(1, 0xfffffffffffff000, 5) = -1 EFAULT (Bad address)");
	ck_assert_str_eq(TL(SYS_execve, -EFAULT, P("/bin/sh"), 0x10, 0x20),
			 "execve(\"/bin/sh\", 0x10, 0x20) = -1 EFAULT (Bad address)");
	ck_assert_str_eq(TL(SYS_writev, -EFAULT, 1, 0x10, 2),
			 "writev(1, 0x10, 2) = -1 EFAULT (Bad address)");
	ck_assert_str_eq(TL(SYS_openat, -EFAULT, AT_FDCWD, 0, O_RDONLY),
			 "openat(AT_FDCWD, NULL, O_RDONLY) = -1 EFAULT (Bad address)");
}
END_TEST

/* A page followed by an unmapped one: what ends before the hole prints whole, what runs
 * into it prints as far as it can, then `...`. */
START_TEST(test_trace_string_at_page_end)
{
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *end = m + 4096;

	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(munmap(end, 4096), 0);
	memcpy(end - 8, "/bin/sh", 8);
	ck_assert_str_eq(TL(SYS_chdir, 0, P(end - 8)), "chdir(\"/bin/sh\") = 0");
	memcpy(end - 4, "abcd", 4);	/* no NUL before the hole */
	ck_assert_str_eq(TL(SYS_chdir, -EFAULT, P(end - 4)),
			 "chdir(\"abcd\"...) = -1 EFAULT (Bad address)");
	ck_assert_str_eq(TL(SYS_write, 10, 1, P(end - 4), 10), "write(1, \"abcd\"..., 10) = 10");
	ck_assert_str_eq(TL(SYS_write, 4, 1, P(end - 4), 4), "write(1, \"abcd\", 4) = 4");
	munmap(m, 4096);
}
END_TEST

START_TEST(test_trace_null_reader_prints_addresses)
{
	char buf[64];
	const long args[6] = { AT_FDCWD, 0x1000, O_RDONLY };

	libos_trace_format(buf, sizeof(buf), NULL, 0, SYS_openat, args, 3, 0);
	ck_assert_str_eq(buf, "openat(AT_FDCWD, 0x1000, O_RDONLY) = 3\n");
}
END_TEST

TCase *test_trace_guest_tcase(void)
{
	TCase *tc = tcase_create("guest");

	tcase_add_test(tc, test_trace_string_escapes_like_strace);
	tcase_add_test(tc, test_trace_long_strings_cut_at_32);
	tcase_add_test(tc, test_trace_execve_argv_first_eight_and_envp_count);
	tcase_add_test(tc, test_trace_output_buffers_only_on_success);
	tcase_add_test(tc, test_trace_iovecs_timespec_clone_args);
	tcase_add_test(tc, test_trace_bad_pointer_prints_address);
	tcase_add_test(tc, test_trace_string_at_page_end);
	tcase_add_test(tc, test_trace_null_reader_prints_addresses);
	return tc;
}
