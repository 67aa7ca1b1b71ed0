// SPDX-License-Identifier: MIT
/* libos.trace: syscall names and numbers, --trace-filter lists, the lines of the common
 * calls (golden strings), results and errors, and output buffers of every size. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <check_run.h>

#include "trace_test.h"

START_TEST(test_trace_name_and_nr_round_trip)
{
	ck_assert_str_eq(libos_trace_name(0), "read");
	ck_assert_str_eq(libos_trace_name(SYS_openat), "openat");
	ck_assert_str_eq(libos_trace_name(450), "set_mempolicy_home_node");
	ck_assert_str_eq(libos_trace_name(461), "lsm_list_modules");
	ck_assert_str_eq(libos_trace_name(0x1337), "syscall_0x1337");
	ck_assert_str_eq(libos_trace_name(400), "syscall_0x190");	/* a hole in the table */
	ck_assert_int_eq(libos_trace_nr("read"), 0);
	ck_assert_int_eq(libos_trace_nr("exit_group"), SYS_exit_group);
	ck_assert_int_eq(libos_trace_nr("syscall_0x1c"), 0x1c);
	ck_assert_int_eq(libos_trace_nr("syscall_28"), 28);
	ck_assert_int_eq(libos_trace_nr("syscall_0x1337"), -1);	/* past the filter's bits */
	ck_assert_int_eq(libos_trace_nr("rea"), -1);
	ck_assert_int_eq(libos_trace_nr("reads"), -1);
	ck_assert_int_eq(libos_trace_nr(""), -1);
	for (int nr = 0; nr < LIBOS_TRACE_NR_MAX; nr++)
		ck_assert_int_eq(libos_trace_nr(libos_trace_name(nr)), nr);
}
END_TEST

static int count_bits(const uint8_t *b)
{
	int n = 0;

	for (int i = 0; i < LIBOS_TRACE_NR_MAX; i++)
		n += libos_trace_filter_has(b, i);
	return n;
}

START_TEST(test_trace_filter_names_all_and_negation)
{
	uint8_t b[LIBOS_TRACE_FILTER_BYTES];

	ck_assert_int_eq(libos_trace_filter_parse("read,write,openat", b, NULL), 0);
	ck_assert_int_eq(count_bits(b), 3);
	ck_assert(libos_trace_filter_has(b, SYS_read) && libos_trace_filter_has(b, SYS_openat));
	ck_assert(!libos_trace_filter_has(b, -1) && !libos_trace_filter_has(b, 0x1337));
	ck_assert_int_eq(libos_trace_filter_parse("all", b, NULL), 0);
	ck_assert_int_eq(count_bits(b), LIBOS_TRACE_NR_MAX);
	ck_assert_int_eq(libos_trace_filter_parse("!read,!write", b, NULL), 0);
	ck_assert_int_eq(count_bits(b), LIBOS_TRACE_NR_MAX - 2);
	ck_assert(!libos_trace_filter_has(b, SYS_write));
	ck_assert_int_eq(libos_trace_filter_parse("all,!close,syscall_0x1ff", b, NULL), 0);
	ck_assert_int_eq(count_bits(b), LIBOS_TRACE_NR_MAX - 1);
	ck_assert_int_eq(libos_trace_filter_parse("close,!all,mmap", b, NULL), 0);
	ck_assert_int_eq(count_bits(b), 1);
	ck_assert(libos_trace_filter_has(b, SYS_mmap));
}
END_TEST

START_TEST(test_trace_filter_unknown_or_empty_einval)
{
	uint8_t b[LIBOS_TRACE_FILTER_BYTES];
	const char *list = "read,bogus,write", *bad = NULL;

	ck_assert_int_eq(libos_trace_filter_parse(list, b, &bad), -EINVAL);
	ck_assert_ptr_eq(bad, list + 5);
	ck_assert_uint_eq(strcspn(bad, ","), 5);
	list = "read,,write";
	ck_assert_int_eq(libos_trace_filter_parse(list, b, &bad), -EINVAL);
	ck_assert_ptr_eq(bad, list + 5);
	list = "read,";
	ck_assert_int_eq(libos_trace_filter_parse(list, b, &bad), -EINVAL);
	ck_assert_ptr_eq(bad, list + 5);
	list = "";
	ck_assert_int_eq(libos_trace_filter_parse(list, b, &bad), -EINVAL);
	ck_assert_ptr_eq(bad, list);
	list = "!";
	ck_assert_int_eq(libos_trace_filter_parse(list, b, &bad), -EINVAL);
	ck_assert_int_eq(libos_trace_filter_parse("READ", b, NULL), -EINVAL);
}
END_TEST

START_TEST(test_trace_common_calls_golden)
{
	char path[] = "/etc/passwd", hello[] = "hello\n";
	char passwd[4096] = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon";

	ck_assert_str_eq(test_line(1234, SYS_openat, AT_FDCWD, P(path), O_RDONLY | O_CLOEXEC,
				   0, 0, 0, 3, 0),
			 "[pid 1234] openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = 3");
	ck_assert_str_eq(TL(SYS_read, 1024, 3, P(passwd), 4096),
			 "read(3, \"root:x:0:0:root:/root:/bin/bash\\n\"..., 4096) = 1024");
	ck_assert_str_eq(TL(SYS_write, 6, 1, P(hello), 6), "write(1, \"hello\\n\", 6) = 6");
	ck_assert_str_eq(TL(SYS_close, 0, 3), "close(3) = 0");
	ck_assert_str_eq(TL(SYS_mmap, 0x7f0000001000, 0, 8192, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
			 "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
			 " = 0x7f0000001000");
	ck_assert_str_eq(TL(SYS_openat, -ENOENT, AT_FDCWD, P("/nope"), O_RDONLY),
			 "openat(AT_FDCWD, \"/nope\", O_RDONLY) = -1 ENOENT "
			 "(No such file or directory)");
	ck_assert_str_eq(test_line(7, SYS_exit_group, 3, 0, 0, 0, 0, 0, 0, LIBOS_TRACE_NORETURN),
			 "[pid 7] exit_group(3) = ?");
	ck_assert_str_eq(TL(0x1337, -ENOSYS, 1, 2, 3, 0, 0, -1),
			 "syscall_0x1337(0x1, 0x2, 0x3, 0, 0, 0xffffffffffffffff) = -1 ENOSYS "
			 "(Function not implemented)");
	ck_assert_str_eq(TL(SYS_getpid, 42, 0), "getpid() = 42");
	ck_assert_str_eq(TL(SYS_brk, 0x555555559000, 0), "brk(NULL) = 0x555555559000");
	ck_assert_str_eq(TL(SYS_umask, 022, 077), "umask(077) = 022");
}
END_TEST

START_TEST(test_trace_every_errno_named)
{
	for (int e = 1; e <= 133; e++) {
		const char *l = TL(SYS_close, -e, 3);

		if (e == 41 || e == 58)	/* numbers Linux never assigned */
			ck_assert_str_eq(l + strlen("close(3) = -1 "), e == 41
					 ? "ERRNO_41 (Unknown error 41)" : "ERRNO_58 (Unknown error 58)");
		else
			ck_assert_msg(!strstr(l, "ERRNO_") && strchr(l, '('), "%d: %s", e, l);
	}
	ck_assert_str_eq(TL(SYS_close, -EPERM, 3),
			 "close(3) = -1 EPERM (Operation not permitted)");
	ck_assert_str_eq(TL(SYS_close, -EAGAIN, 3),
			 "close(3) = -1 EAGAIN (Resource temporarily unavailable)");
	ck_assert_str_eq(TL(SYS_close, -133, 3),
			 "close(3) = -1 EHWPOISON (Memory page has hardware error)");
	ck_assert_str_eq(TL(SYS_close, -600, 3), "close(3) = -1 ERRNO_600 (Unknown error 600)");
	/* Past -4095 a result is a value (a high address from mmap), not an error. */
	ck_assert_str_eq(TL(SYS_mmap, -4096, 0, 4096, PROT_READ, MAP_PRIVATE, 3, 0x28000),
			 "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0x28000) = 0xfffffffffffff000");
}
END_TEST

/* Every size from 0 to past the end: a NUL-terminated prefix, nothing written past @size,
 * and the return is the whole length. */
START_TEST(test_trace_small_buffer_never_overflows)
{
	char full[256], buf[300];
	const long args[6] = { AT_FDCWD, P("/etc/passwd"), O_RDONLY | O_CLOEXEC };
	size_t len = libos_trace_format(full, sizeof(full), test_read, 99, SYS_openat, args, -2, 0);

	ck_assert_uint_eq(len, strlen(full));
	for (size_t size = 0; size <= len + 2; size++) {
		memset(buf, 'Z', sizeof(buf));
		ck_assert_uint_eq(libos_trace_format(buf, size, test_read, 99, SYS_openat, args, -2,
						     0), len);
		for (size_t i = size; i < sizeof(buf); i++)
			ck_assert_int_eq(buf[i], 'Z');
		if (!size)
			continue;
		ck_assert_uint_eq(strlen(buf), size - 1 < len ? size - 1 : len);
		ck_assert(!strncmp(buf, full, strlen(buf)));
	}
	ck_assert_uint_eq(libos_trace_format(NULL, 0, test_read, 99, SYS_openat, args, -2, 0), len);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("libos.trace");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, test_trace_name_and_nr_round_trip);
	tcase_add_test(tc, test_trace_filter_names_all_and_negation);
	tcase_add_test(tc, test_trace_filter_unknown_or_empty_einval);
	tcase_add_test(tc, test_trace_common_calls_golden);
	tcase_add_test(tc, test_trace_every_errno_named);
	tcase_add_test(tc, test_trace_small_buffer_never_overflows);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, test_trace_decode_tcase());
	suite_add_tcase(s, test_trace_guest_tcase());
	return check_run(s);
}
