/* SPDX-License-Identifier: MIT */
/* The program's own interpreter, as the kernel sets it up: PT_INTERP names ld-linux, AT_BASE is
 * where that ld.so is mapped (and where dl_iterate_phdr and /proc/self/maps see it), AT_ENTRY is
 * our _start, AT_PHDR our program headers, the link map starts with the program (unnamed), then
 * libc and ld.so (the vDSO listed iff AT_SYSINFO_EHDR is set).  Then exec: of dynamic system
 * programs, of ld.so run as a program (`ld.so /bin/echo`), of ourselves with LD_BIND_NOW and
 * LD_LIBRARY_PATH set, of /bin/echo with LD_PRELOAD=libplugin.so (argv[1]; its constructor prints),
 * and of a program whose interpreter is missing (ENOENT).
 * Usage: e2e_dyn_interp /path/to/libplugin.so */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

extern char _start[];
extern char **environ;

static char g_objects[1024];
static uintptr_t g_ldso_addr;
static int g_nobj, g_vdso_listed;

static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	const char *name = info->dlpi_name;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (g_nobj++ == 0 && name[0] == 0)
		base = "(main)";
	if (strstr(base, "vdso")) {
		g_vdso_listed = 1;
		return 0; /* listed or not with AT_SYSINFO_EHDR, checked separately */
	}
	if (strcmp(base, "ld-linux-x86-64.so.2") == 0)
		g_ldso_addr = info->dlpi_addr;
	size_t len = strlen(g_objects);
	snprintf(g_objects + len, sizeof(g_objects) - len, "%s%s", len ? " " : "", base);
	return 0;
}

static const char *read_maps(void)
{
	static char maps[1 << 17];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t m = 0, r;
	while (fd >= 0 && m < (ssize_t)sizeof(maps) - 1 &&
	       (r = read(fd, maps + m, sizeof(maps) - 1 - m)) > 0)
		m += r;
	maps[m] = 0;
	if (fd >= 0)
		close(fd);
	return maps;
}

/* fork + execve, stdout shared; the child's exit status (or 128+signal, or 200+errno when the
 * execve itself failed). */
static int run(const char *path, char *const argv[], char *const envp[])
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		execve(path, argv, envp);
		int e = errno;
		(void)!write(p[1], &e, sizeof(e));
		_exit(127);
	}
	close(p[1]);
	int e = 0;
	ssize_t got = read(p[0], &e, sizeof(e));
	close(p[0]);
	int st = -1;
	waitpid(pid, &st, 0);
	if (got == (ssize_t)sizeof(e))
		return 200 + e;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Re-exec'd image: "child" -> report what the environment asked of ld.so. */
static int child_main(void)
{
	const char *bind = getenv("LD_BIND_NOW"), *lib = getenv("LD_LIBRARY_PATH");
	printf("re-exec'd: LD_BIND_NOW=%s LD_LIBRARY_PATH=%s AT_BASE set=%d\n", bind ? bind : "-",
	       lib ? lib : "-", getauxval(AT_BASE) != 0);
	return 33;
}

int main(int argc, char **argv)
{
	e2e_init();
	if (argc == 2 && strcmp(argv[1], "child") == 0)
		return child_main();
	if (argc < 2) {
		printf("usage: %s /path/to/libplugin.so\n", argv[0]);
		return 2;
	}

	/* Our own program headers, through the auxiliary vector. */
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	size_t phnum = getauxval(AT_PHNUM);
	uintptr_t bias = 0;
	const char *interp = NULL;
	int have_phdr = 0;
	for (size_t i = 0; ph && i < phnum; i++)
		if (ph[i].p_type == PT_PHDR) {
			bias = (uintptr_t)ph - ph[i].p_vaddr;
			have_phdr = 1;
		}
	for (size_t i = 0; have_phdr && i < phnum; i++)
		if (ph[i].p_type == PT_INTERP)
			interp = (const char *)(bias + ph[i].p_vaddr);
	printf("PT_INTERP: %s\n", interp ? interp : "(none)");
	E2E_CHECK(interp && strcmp(interp, "/lib64/ld-linux-x86-64.so.2") == 0, "pt_interp_ldso");
	E2E_CHECK(getauxval(AT_ENTRY) == (uintptr_t)_start, "auxv_entry_is_start");
	E2E_CHECK(getauxval(AT_PHENT) == sizeof(ElfW(Phdr)), "auxv_phent");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	E2E_CHECK(execfn && strcmp(execfn, argv[0]) == 0, "auxv_execfn_is_argv0");
	E2E_CHECK(getauxval(AT_SECURE) == 0 && getauxval(AT_RANDOM) != 0, "auxv_secure_random");

	uintptr_t at_base = getauxval(AT_BASE);
	E2E_CHECK(at_base != 0 && at_base % 4096 == 0, "auxv_base_set");

	dl_iterate_phdr(collect, NULL);
	printf("objects: %s\n", g_objects);
	/* Printed in full (it must be the same under bypass-run); checked for what every glibc
	 * system has: the program first, then libc, ld.so. */
	E2E_CHECK(strncmp(g_objects, "(main) ", 7) == 0 && strstr(g_objects, " libc.so.6") &&
			  strstr(g_objects, " ld-linux-x86-64.so.2"),
		  "link_map_objects");
	E2E_CHECK(g_ldso_addr == at_base, "auxv_base_is_ldso_in_link_map");
	E2E_CHECK(g_vdso_listed == (getauxval(AT_SYSINFO_EHDR) != 0), "vdso_listed_iff_auxv");
	struct link_map *lm = _r_debug.r_map;
	E2E_CHECK(_r_debug.r_version >= 1 && lm && lm->l_name[0] == 0 && lm->l_addr == bias,
		  "r_debug_first_is_program");

	/* /proc/self/maps shows ld.so mapped at AT_BASE, and the program itself. */
	const char *maps = read_maps();
	char want[64];
	snprintf(want, sizeof(want), "%lx-", (unsigned long)at_base);
	const char *line = strstr(maps, want);
	const char *eol = line ? strchr(line, '\n') : NULL;
	int ldso_at_base = line && (line == maps || line[-1] == '\n') && eol &&
			   memmem(line, eol - line, "ld-linux-x86-64.so.2", 20) != NULL;
	E2E_CHECK(ldso_at_base, "proc_maps_ldso_at_auxv_base");
	char real[4096];
	E2E_CHECK(realpath(argv[0], real) && strstr(maps, real), "proc_maps_lists_program");

	/* exec of dynamic programs and of ld.so itself. */
	char *envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };
	char *true_argv[] = { "true", NULL };
	E2E_CHECK(run("/bin/true", true_argv, envp) == 0, "exec_bin_true");
	char *false_argv[] = { "false", NULL };
	E2E_CHECK(run("/bin/false", false_argv, envp) == 1, "exec_bin_false");
	char *echo_argv[] = { "echo", "echo: a dynamic program says hi", NULL };
	E2E_CHECK(run("/bin/echo", echo_argv, envp) == 0, "exec_bin_echo");
	char *ld_argv[] = { "/lib64/ld-linux-x86-64.so.2", "/bin/echo", "echo: run by ld.so as a program",
			    NULL };
	E2E_CHECK(run("/lib64/ld-linux-x86-64.so.2", ld_argv, envp) == 0, "exec_ldso_as_program");
	char *sh_argv[] = { "sh", "-c", "echo dash: \"$0\" $(( 6 * 7 )); exit 5", "dollar0", NULL };
	E2E_CHECK(run("/bin/sh", sh_argv, envp) == 5, "exec_bin_sh_status");

	/* Ourselves again, with ld.so's environment variables. */
	char *self_argv[] = { argv[0], "child", NULL };
	char *self_envp[] = { "LD_BIND_NOW=1", "LD_LIBRARY_PATH=/nonexistent-e2e-dir", NULL };
	E2E_CHECK(run("/proc/self/exe", self_argv, self_envp) == 33, "reexec_with_ld_env");

	/* LD_PRELOAD of our plugin into /bin/echo: its constructor prints first. */
	char preload[4200];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", argv[1]);
	char *pre_envp[] = { preload, "LC_ALL=C", NULL };
	char *pre_argv[] = { "echo", "echo: with the plugin preloaded", NULL };
	E2E_CHECK(run("/bin/echo", pre_argv, pre_envp) == 0, "exec_with_ld_preload");

	/* A copy of ourselves whose PT_INTERP names a missing file: execve fails with ENOENT. */
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open("badinterp", O_RDWR | O_CREAT | O_TRUNC, 0755);
	char buf[8192];
	ssize_t n;
	int copied = in >= 0 && out >= 0;
	while (copied && (n = read(in, buf, sizeof(buf))) > 0)
		copied = write(out, buf, n) == n;
	for (size_t i = 0; copied && interp && i < phnum; i++)
		if (ph[i].p_type == PT_INTERP) {
			const char bad[] = "/lib64/ld-e2e-missing0.so.2";
			/* Same length as the real name: overwrite in place. */
			copied = strlen(bad) == strlen(interp) &&
				 pwrite(out, bad, sizeof(bad), ph[i].p_offset) == sizeof(bad);
		}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	char *bad_argv[] = { "./badinterp", "child", NULL };
	int r = copied ? run("./badinterp", bad_argv, envp) : -1;
	e2e_check(r == 200 + ENOENT, "exec_missing_interpreter_enoent", "r=%d", r);
	return e2e_finish();
}
