// SPDX-License-Identifier: MIT
/* libos.trace: golden lines for each decoded family of named values and flags. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <time.h>

#include "trace_test.h"

START_TEST(test_trace_open_flags_and_mode)
{
	const char *p = "/tmp/x";

	ck_assert_str_eq(TL(SYS_openat, 3, AT_FDCWD, P(p), O_WRONLY | O_CREAT | O_TRUNC, 0644),
			 "openat(AT_FDCWD, \"/tmp/x\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 3");
	ck_assert_str_eq(TL(SYS_open, 3, P(p), O_RDWR | O_APPEND | O_NONBLOCK | 0100000, 0777),
			 "open(\"/tmp/x\", O_RDWR|O_APPEND|O_NONBLOCK|O_LARGEFILE) = 3");
	ck_assert_str_eq(TL(SYS_openat, 4, 5, P(p), O_RDONLY | O_DIRECTORY | O_NOFOLLOW),
			 "openat(5, \"/tmp/x\", O_RDONLY|O_DIRECTORY|O_NOFOLLOW) = 4");
	ck_assert_str_eq(TL(SYS_openat, 3, AT_FDCWD, P(p), O_RDWR | O_TMPFILE, 0600),
			 "openat(AT_FDCWD, \"/tmp/x\", O_RDWR|O_TMPFILE, 0600) = 3");
	ck_assert_str_eq(TL(SYS_openat, 3, AT_FDCWD, P(p), O_WRONLY | O_SYNC | 0x40000000, 0),
			 "openat(AT_FDCWD, \"/tmp/x\", O_WRONLY|O_SYNC|0x40000000) = 3");
	ck_assert_str_eq(TL(SYS_open, 3, P(p), O_PATH | O_CLOEXEC),
			 "open(\"/tmp/x\", O_CLOEXEC|O_PATH) = 3");
	ck_assert_str_eq(TL(SYS_creat, 3, P(p), 0), "creat(\"/tmp/x\", 000) = 3");
	ck_assert_str_eq(TL(SYS_dup3, 4, 3, 4, O_CLOEXEC), "dup3(3, 4, O_CLOEXEC) = 4");
	ck_assert_str_eq(TL(SYS_faccessat, 0, AT_FDCWD, P(p), R_OK | W_OK),
			 "faccessat(AT_FDCWD, \"/tmp/x\", R_OK|W_OK) = 0");
	ck_assert_str_eq(TL(SYS_access, 0, P(p), F_OK), "access(\"/tmp/x\", F_OK) = 0");
	ck_assert_str_eq(TL(SYS_newfstatat, 0, 3, P(""), 0x1000, AT_EMPTY_PATH),
			 "newfstatat(3, \"\", 0x1000, AT_EMPTY_PATH) = 0");
	ck_assert_str_eq(TL(SYS_unlinkat, 0, AT_FDCWD, P(p), AT_REMOVEDIR),
			 "unlinkat(AT_FDCWD, \"/tmp/x\", AT_REMOVEDIR) = 0");
}
END_TEST

START_TEST(test_trace_mm_prot_and_map_flags)
{
	ck_assert_str_eq(TL(SYS_mprotect, 0, 0x7f0000000000, 4096, PROT_NONE),
			 "mprotect(0x7f0000000000, 4096, PROT_NONE) = 0");
	ck_assert_str_eq(TL(SYS_mprotect, 0, 0x1000, 4096, PROT_READ | PROT_EXEC | 0x10),
			 "mprotect(0x1000, 4096, PROT_READ|PROT_EXEC|0x10) = 0");
	ck_assert_str_eq(TL(SYS_mmap, 0x7f0000000000, 0x7f0000000000, 4096, PROT_READ | PROT_EXEC,
			    MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, 3, 0x1000),
			 "mmap(0x7f0000000000, 4096, PROT_READ|PROT_EXEC, "
			 "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x1000) = 0x7f0000000000");
	ck_assert_str_eq(TL(SYS_mmap, -ENOMEM, 0, 1l << 40, PROT_READ, MAP_SHARED | MAP_NORESERVE,
			    -1, 0),
			 "mmap(NULL, 1099511627776, PROT_READ, MAP_SHARED|MAP_NORESERVE, -1, 0)"
			 " = -1 ENOMEM (Cannot allocate memory)");
	ck_assert_str_eq(TL(SYS_munmap, 0, 0x1000, 8192), "munmap(0x1000, 8192) = 0");
}
END_TEST

START_TEST(test_trace_clone_and_signals)
{
	ck_assert_str_eq(TL(SYS_clone, 1235, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			    CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
			    CLONE_CHILD_CLEARTID, 0x7f0000010000, 0x7f0000020000, 0x7f0000020000,
			    0x7f0000030000),
			 "clone(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
			 "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, "
			 "0x7f0000010000, 0x7f0000020000, 0x7f0000020000, 0x7f0000030000) = 1235");
	ck_assert_str_eq(TL(SYS_clone, 0, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD,
			    0, 0, 0x7000, 0),
			 "clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL, NULL, "
			 "0x7000, NULL) = 0");
	ck_assert_str_eq(TL(SYS_rt_sigaction, 0, SIGINT, 0x1000, 0, 8),
			 "rt_sigaction(SIGINT, 0x1000, NULL, 8) = 0");
	ck_assert_str_eq(TL(SYS_rt_sigprocmask, 0, SIG_SETMASK, 0x1000, 0x2000, 8),
			 "rt_sigprocmask(SIG_SETMASK, 0x1000, 0x2000, 8) = 0");
	ck_assert_str_eq(TL(SYS_rt_sigprocmask, 0, SIG_BLOCK, 0, 0, 8),
			 "rt_sigprocmask(SIG_BLOCK, NULL, NULL, 8) = 0");
	ck_assert_str_eq(TL(SYS_kill, -ESRCH, 99, SIGTERM),
			 "kill(99, SIGTERM) = -1 ESRCH (No such process)");
	ck_assert_str_eq(TL(SYS_kill, 0, 99, 0), "kill(99, 0) = 0");
	ck_assert_str_eq(TL(SYS_tgkill, 0, 10, 11, 33), "tgkill(10, 11, SIGRT_1) = 0");
	ck_assert_str_eq(TL(SYS_kill, -EINVAL, 1, 99),
			 "kill(1, 99) = -1 EINVAL (Invalid argument)");
}
END_TEST

START_TEST(test_trace_fcntl_commands)
{
	ck_assert_str_eq(TL(SYS_fcntl, 0, 3, F_SETFD, FD_CLOEXEC), "fcntl(3, F_SETFD, FD_CLOEXEC) = 0");
	ck_assert_str_eq(TL(SYS_fcntl, 0x8002, 3, F_GETFL, 0x1234),
			 "fcntl(3, F_GETFL) = 0x8002 (flags O_RDWR|O_LARGEFILE)");
	ck_assert_str_eq(TL(SYS_fcntl, 1, 3, F_GETFD), "fcntl(3, F_GETFD) = 0x1 (flags FD_CLOEXEC)");
	ck_assert_str_eq(TL(SYS_fcntl, -EBADF, 9, F_GETFD),
			 "fcntl(9, F_GETFD) = -1 EBADF (Bad file descriptor)");
	ck_assert_str_eq(TL(SYS_fcntl, 0, 3, F_SETFL, O_RDONLY | O_NONBLOCK),
			 "fcntl(3, F_SETFL, O_RDONLY|O_NONBLOCK) = 0");
	ck_assert_str_eq(TL(SYS_fcntl, 10, 3, F_DUPFD_CLOEXEC, 10),
			 "fcntl(3, F_DUPFD_CLOEXEC, 10) = 10");
	ck_assert_str_eq(TL(SYS_fcntl, 0, 3, F_SETLKW, 0x1000), "fcntl(3, F_SETLKW, 0x1000) = 0");
	ck_assert_str_eq(TL(SYS_fcntl, -EINVAL, 3, 999, 5),
			 "fcntl(3, 999, 5) = -1 EINVAL (Invalid argument)");
}
END_TEST

START_TEST(test_trace_socket_ioctl_wait_lseek)
{
	ck_assert_str_eq(TL(SYS_socket, 3, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
			 "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0) = 3");
	ck_assert_str_eq(TL(SYS_socket, 3, AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
			 "socket(AF_UNIX, SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC, 0) = 3");
	ck_assert_str_eq(TL(SYS_socket, -EAFNOSUPPORT, 1234, SOCK_RAW, 0),
			 "socket(1234, SOCK_RAW, 0) = -1 EAFNOSUPPORT "
			 "(Address family not supported by protocol)");
	ck_assert_str_eq(TL(SYS_accept4, 5, 3, 0, 0, SOCK_CLOEXEC),
			 "accept4(3, NULL, NULL, SOCK_CLOEXEC) = 5");
	ck_assert_str_eq(TL(SYS_ioctl, 0, 1, TCGETS, 0x7ffc0000), "ioctl(1, TCGETS, 0x7ffc0000) = 0");
	ck_assert_str_eq(TL(SYS_ioctl, -ENOTTY, 1, 0xc0186201, 0x10),
			 "ioctl(1, 0xc0186201, 0x10) = -1 ENOTTY "
			 "(Inappropriate ioctl for device)");
	ck_assert_str_eq(TL(SYS_wait4, 77, -1, 0x1000, WNOHANG | __WALL, 0),
			 "wait4(-1, 0x1000, WNOHANG|__WALL, NULL) = 77");
	ck_assert_str_eq(TL(SYS_wait4, 77, 77, 0, 0, 0), "wait4(77, NULL, 0, NULL) = 77");
	ck_assert_str_eq(TL(SYS_lseek, 100, 3, -10, SEEK_END), "lseek(3, -10, SEEK_END) = 100");
	ck_assert_str_eq(TL(SYS_lseek, 0, 3, 0, SEEK_SET), "lseek(3, 0, SEEK_SET) = 0");
}
END_TEST

START_TEST(test_trace_futex_clock_arch)
{
	ck_assert_str_eq(TL(SYS_futex, 1, 0x1000, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, 7, 7, 7),
			 "futex(0x1000, FUTEX_WAKE_PRIVATE, 1) = 1");
	ck_assert_str_eq(TL(SYS_futex, -EAGAIN, 0x1000, FUTEX_WAIT, 2, 0),
			 "futex(0x1000, FUTEX_WAIT, 2, NULL) = -1 EAGAIN "
			 "(Resource temporarily unavailable)");
	ck_assert_str_eq(TL(SYS_futex, 0, 0x1000, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME |
			    FUTEX_PRIVATE_FLAG, 2, 0, 0, 0xffffffff),
			 "futex(0x1000, FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME, 2, NULL, "
			 "NULL, 0xffffffff) = 0");
	ck_assert_str_eq(TL(SYS_clock_gettime, 0, CLOCK_MONOTONIC, 0x1000),
			 "clock_gettime(CLOCK_MONOTONIC, 0x1000) = 0");
	ck_assert_str_eq(TL(SYS_arch_prctl, 0, 0x1002, 0x7f0000000740),
			 "arch_prctl(ARCH_SET_FS, 0x7f0000000740) = 0");
	ck_assert_str_eq(TL(SYS_exit, 0, 1), "exit(1) = ?");
}
END_TEST

TCase *test_trace_decode_tcase(void)
{
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, test_trace_open_flags_and_mode);
	tcase_add_test(tc, test_trace_mm_prot_and_map_flags);
	tcase_add_test(tc, test_trace_clone_and_signals);
	tcase_add_test(tc, test_trace_fcntl_commands);
	tcase_add_test(tc, test_trace_socket_ioctl_wait_lseek);
	tcase_add_test(tc, test_trace_futex_clock_arch);
	return tc;
}
