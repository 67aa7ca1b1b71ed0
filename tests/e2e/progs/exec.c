/* SPDX-License-Identifier: MIT */
/* execve: of itself through /proc/self/exe and through argv[0] (with arguments, environment and
 * fd inheritance/close-on-exec checked in the new image), of /bin/busybox, of a #! script, and
 * failures (ENOENT, EACCES) returning to the caller. Ends by exec'ing itself in place: the exit
 * status seen by our parent comes from that final image. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

/* Second image: "child TAG FD_KEEP FD_CLOEXEC" -> checks and exits 23 on success. */
static int child_main(int argc, char **argv)
{
	int keep = atoi(argv[3]), cloexec = atoi(argv[4]);
	const char *mark = getenv("E2E_MARK");
	printf("exec'd child: tag=%s argc=%d mark=%s\n", argv[2], argc, mark ? mark : "(unset)");
	int ok = fcntl(keep, F_GETFD) == 0;
	ok &= fcntl(cloexec, F_GETFD) == -1 && errno == EBADF;
	ok &= write(keep, "k", 1) == 1;
	return ok && mark && strcmp(mark, "yes") == 0 ? 23 : 24;
}

/* Last image: "final FAILURES" -> exits with the failures carried over from the first image. */
static int final_main(char **argv)
{
	printf("final image: argv[0] basename ok=%d\n", strstr(argv[0], "e2e_exec") != NULL);
	return atoi(argv[2]);
}

static int run_child(const char *path, char *const argv[], char *const envp[])
{
	pid_t pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(126);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_self_exec(const char *path, const char *tag, char *argv0)
{
	int p[2];
	(void)!pipe(p);
	int cl = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char keep[16], clo[16];
	snprintf(keep, sizeof(keep), "%d", p[1]);
	snprintf(clo, sizeof(clo), "%d", cl);
	char *argv[] = { argv0, "child", (char *)tag, keep, clo, NULL };
	char *envp[] = { "E2E_MARK=yes", NULL };
	int code = run_child(path, argv, envp);
	close(p[1]);
	char c = 0;
	ssize_t n = read(p[0], &c, 1);
	close(p[0]);
	close(cl);
	char name[64];
	snprintf(name, sizeof(name), "execve_self_%s", tag);
	e2e_check(code == 23 && n == 1 && c == 'k', name, "exit=%d fd_read=%zd", code, n);
}

int main(int argc, char **argv)
{
	e2e_init();
	if (argc >= 5 && strcmp(argv[1], "child") == 0)
		return child_main(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "final") == 0)
		return final_main(argv);

	test_self_exec("/proc/self/exe", "proc_self_exe", argv[0]);
	test_self_exec(argv[0], "argv0", argv[0]);

	char *bb_argv[] = { "busybox", "sh", "-c", "echo busybox says $0 $1; exit 9", "a", "b", NULL };
	char *envp[] = { "PATH=/bin:/usr/bin", NULL };
	int code = run_child("/bin/busybox", bb_argv, envp);
	e2e_check(code == 9, "execve_busybox", "exit=%d", code);

	int fd = open("script.sh", O_WRONLY | O_CREAT | O_TRUNC, 0755);
	const char script[] = "#!/bin/busybox sh\necho script got \"$1\"\nexit 8\n";
	(void)!write(fd, script, sizeof(script) - 1);
	close(fd);
	char *sc_argv[] = { "./script.sh", "arg one", NULL };
	code = run_child("./script.sh", sc_argv, envp);
	e2e_check(code == 8, "execve_shebang_script", "exit=%d", code);

	int r = execve("/nonexistent/e2e-missing", bb_argv, envp);
	e2e_check(r == -1 && errno == ENOENT, "execve_missing_enoent", "r=%d errno=%d", r, errno);
	fd = open("not-exec.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	r = execve("./not-exec.txt", bb_argv, envp);
	e2e_check(r == -1 && errno == EACCES, "execve_noexec_eacces", "r=%d errno=%d", r, errno);

	char fails[16];
	snprintf(fails, sizeof(fails), "%d", e2e_finish());
	char *final_argv[] = { argv[0], "final", fails, NULL };
	execve("/proc/self/exe", final_argv, envp);
	E2E_CHECK(0, "execve_final");
	return e2e_finish();
}
