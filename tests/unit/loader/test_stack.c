/* SPDX-License-Identifier: MIT */
/* Unit tests for loader_stack_build()/loader_stack_alloc(): the stack we build must
 * match, entry for entry, the one this kernel builds for a native static program. */
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loader/loader.h"
#include "stackdump.h"
#include "testutil.h"

/* Run the stackdump fixture natively with @argv/@envp and collect what it saw. */
static void run_native(char *const argv[], char *const envp[], struct stackdump *d)
{
	int fds[2], status;
	size_t got = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execve(LOADER_STACKDUMP, argv, envp);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(*d)) {
		ssize_t n = read(fds[0], (char *)d + got, sizeof(*d) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fixture failed: %#x", status);
	ck_assert_uint_eq(got, sizeof(*d));
}

/* A fake executable image: only the fields the auxv uses. */
static const struct loader_image k_exe = {
	.entry = 0x401234, .phdr = 0x400040, .phnum = 10, .phent = sizeof(Elf64_Phdr),
	.type = ET_EXEC,
};

/* Build our stack for @argc/@argv/@envp and describe it. */
static void run_ours(int argc, char *const argv[], char *const envp[],
		     const struct loader_image *interp, struct stackdump *d)
{
	struct loader_stack_info info = {
		.argc = argc, .argv = argv, .envp = envp, .execfn = LOADER_STACKDUMP,
		.exe = &k_exe, .interp = interp, .sysinfo_ehdr = getauxval(AT_SYSINFO_EHDR),
	};
	void *lo, *top;
	uintptr_t sp;

	ck_assert_int_eq(loader_stack_alloc(1 << 20, false, &lo, &top), 0);
	sp = loader_stack_build(lo, top, &info);
	ck_assert_uint_ne(sp, 0);
	ck_assert_uint_eq(sp % 16, 0);
	stackdump_fill(d, (const uint64_t *)sp, (uintptr_t)top);
}

/* Types whose value the guest must see exactly as a native process does. */
static bool value_must_match(uint64_t type)
{
	switch (type) {
	case AT_MINSIGSTKSZ: case AT_HWCAP: case AT_PAGESZ: case AT_CLKTCK:
	case AT_FLAGS: case AT_UID: case AT_EUID: case AT_GID: case AT_EGID:
	case AT_SECURE: case AT_HWCAP2: case AT_RSEQ_FEATURE_SIZE: case AT_RSEQ_ALIGN:
		return true;
	default:
		return false;
	}
}

static uint64_t aux_get(const struct stackdump *d, uint64_t type)
{
	for (uint64_t i = 0; i < d->naux; i++)
		if (d->aux_type[i] == type)
			return d->aux_val[i];
	ck_abort_msg("auxv type %lu missing", (unsigned long)type);
	return 0;
}

/* Everything that does not depend on addresses must be identical. */
static void compare(const struct stackdump *nat, const struct stackdump *our)
{
	ck_assert_int_eq(our->argc, nat->argc);
	ck_assert_int_eq(our->envc, nat->envc);
	for (int i = 0; i < nat->argc && i < SD_MAX_STR; i++) {
		ck_assert_str_eq(our->arg[i], nat->arg[i]);
		ck_assert_uint_eq(our->arg_off[i], nat->arg_off[i]);
	}
	for (int i = 0; i < nat->envc && i < SD_MAX_STR; i++) {
		ck_assert_str_eq(our->env[i], nat->env[i]);
		ck_assert_uint_eq(our->env_off[i], nat->env_off[i]);
	}
	ck_assert_str_eq(our->execfn, nat->execfn);
	ck_assert_uint_eq(our->execfn_off, nat->execfn_off);
	ck_assert_uint_eq(our->end_marker, 0);
	ck_assert_uint_eq(nat->end_marker, 0);
	ck_assert_str_eq(our->platform, nat->platform);
	ck_assert_uint_eq(our->sp_mod16, 0);
	ck_assert_uint_eq(nat->sp_mod16, 0);
	ck_assert_int_eq(our->random_below_platform, 1);
	ck_assert_int_eq(nat->random_below_platform, 1);
	ck_assert_int_eq(our->auxv_below_random, 1);
	ck_assert_int_eq(our->pointers_in_stack, 1);
	ck_assert_uint_eq(our->naux, nat->naux);
	for (uint64_t i = 0; i < nat->naux; i++) {
		ck_assert_msg(our->aux_type[i] == nat->aux_type[i],
			      "auxv[%lu]: type %lu, kernel has %lu", (unsigned long)i,
			      (unsigned long)our->aux_type[i], (unsigned long)nat->aux_type[i]);
		if (value_must_match(nat->aux_type[i]))
			ck_assert_msg(our->aux_val[i] == nat->aux_val[i],
				      "auxv type %lu: %#lx, kernel gives %#lx",
				      (unsigned long)nat->aux_type[i],
				      (unsigned long)our->aux_val[i],
				      (unsigned long)nat->aux_val[i]);
	}
}

START_TEST(test_stack_matches_native_layout_and_auxv)
{
	char *const argv[] = { "stackdump", "one", "two words", "", "last", NULL };
	char *const envp[] = { "A=1", "BB=22", "EMPTY=", "PATH=/usr/bin:/bin", NULL };
	struct stackdump nat, our;

	run_native(argv, envp, &nat);
	run_ours(5, argv, envp, NULL, &our);
	compare(&nat, &our);
	/* Values that come from the image, not the host. */
	ck_assert_uint_eq(aux_get(&our, AT_PHDR), k_exe.phdr);
	ck_assert_uint_eq(aux_get(&our, AT_PHENT), sizeof(Elf64_Phdr));
	ck_assert_uint_eq(aux_get(&our, AT_PHNUM), k_exe.phnum);
	ck_assert_uint_eq(aux_get(&our, AT_ENTRY), k_exe.entry);
	ck_assert_uint_eq(aux_get(&our, AT_BASE), 0);
	ck_assert_uint_eq(aux_get(&nat, AT_BASE), 0);
	ck_assert_uint_eq(aux_get(&our, AT_SYSINFO_EHDR), getauxval(AT_SYSINFO_EHDR));
}
END_TEST

START_TEST(test_stack_empty_argv_becomes_empty_string_like_linux)
{
	char *const argv[] = { NULL };
	char *const envp[] = { "ONLY=1", NULL };
	struct stackdump nat, our;

	run_native(argv, envp, &nat);
	ck_assert_int_eq(nat.argc, 1);
	run_ours(0, argv, envp, NULL, &our);
	compare(&nat, &our);
	ck_assert_str_eq(our.arg[0], "");
}
END_TEST

START_TEST(test_stack_no_env_matches_native)
{
	char *const argv[] = { "x", NULL };
	char *const envp[] = { NULL };
	struct stackdump nat, our;

	run_native(argv, envp, &nat);
	run_ours(1, argv, envp, NULL, &our);
	compare(&nat, &our);
}
END_TEST

START_TEST(test_stack_interp_sets_at_base_and_no_vdso_omits_sysinfo)
{
	char *const argv[] = { "prog", NULL };
	char *const envp[] = { NULL };
	struct loader_image interp = { .bias = 0x7f1234560000 };
	struct loader_stack_info info = {
		.argc = 1, .argv = argv, .envp = envp, .execfn = "/bin/prog",
		.exe = &k_exe, .interp = &interp, .sysinfo_ehdr = 0,
	};
	struct stackdump d;
	void *lo, *top;
	uintptr_t sp;

	ck_assert_int_eq(loader_stack_alloc(64 << 10, false, &lo, &top), 0);
	sp = loader_stack_build(lo, top, &info);
	ck_assert_uint_ne(sp, 0);
	stackdump_fill(&d, (const uint64_t *)sp, (uintptr_t)top);
	ck_assert_uint_eq(aux_get(&d, AT_BASE), interp.bias);
	ck_assert_uint_ne(d.aux_type[0], AT_SYSINFO_EHDR);
	ck_assert_uint_eq(d.aux_type[0], AT_MINSIGSTKSZ);
	ck_assert_str_eq(d.execfn, "/bin/prog");
	ck_assert_uint_eq(d.execfn_off, sizeof("/bin/prog") + 8);
}
END_TEST

START_TEST(test_stack_too_small_returns_zero)
{
	char *const argv[] = { "prog", NULL };
	char *const envp[] = { NULL };
	struct loader_stack_info info = {
		.argc = 1, .argv = argv, .envp = envp, .execfn = "/bin/prog", .exe = &k_exe,
	};
	static uint64_t buf[512];

	/* Strings fit, the vectors do not: every size up to the needed one fails cleanly. */
	for (size_t n = 0; n < 256; n += 8)
		ck_assert_uint_eq(loader_stack_build(buf, (char *)buf + n, &info), 0);
	ck_assert_uint_ne(loader_stack_build(buf, (char *)buf + sizeof(buf), &info), 0);
}
END_TEST

START_TEST(test_stack_alloc_guard_page_and_exec_flag)
{
	long page = sysconf(_SC_PAGESIZE);
	void *lo, *top;
	char perms[5];

	ck_assert_int_eq(loader_stack_alloc(100000, true, &lo, &top), 0);
	ck_assert_uint_eq((uintptr_t)top - (uintptr_t)lo, 100000 + page - 100000 % page);
	tu_perms_of((uintptr_t)lo, perms);
	ck_assert_str_eq(perms, "rwxp");
	tu_perms_of((uintptr_t)lo - 1, perms);
	ck_assert_str_eq(perms, "---p");
	((char *)top)[-1] = 1;

	ck_assert_int_eq(loader_stack_alloc(8192, false, &lo, &top), 0);
	tu_perms_of((uintptr_t)top - 1, perms);
	ck_assert_str_eq(perms, "rw-p");
	ck_assert_int_eq(loader_stack_alloc(0, false, &lo, &top), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader.stack");
	TCase *tc = tcase_create("stack");

	tcase_add_test(tc, test_stack_matches_native_layout_and_auxv);
	tcase_add_test(tc, test_stack_empty_argv_becomes_empty_string_like_linux);
	tcase_add_test(tc, test_stack_no_env_matches_native);
	tcase_add_test(tc, test_stack_interp_sets_at_base_and_no_vdso_omits_sysinfo);
	tcase_add_test(tc, test_stack_too_small_returns_zero);
	tcase_add_test(tc, test_stack_alloc_guard_page_and_exec_flag);
	suite_add_tcase(s, tc);
	return check_run(s);
}
