/* SPDX-License-Identifier: MIT */
/* execve: of itself through /proc/self/exe and through argv[0] (with arguments, environment and
 * fd inheritance/close-on-exec checked in the new image), of /bin/busybox, of a #! script, and
 * failures (ENOENT, EACCES) returning to the caller, and the signal mask a new image starts with
 * under a signal storm. Ends by exec'ing itself in place: the exit
 * status seen by our parent comes from that final image. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

/* "maskcheck": the mask and pending set a new image starts with, as bits of 40 + n: 1 SIGWINCH
 * (unblocked before execve) is blocked, 2 SIGUSR2 (blocked) is not, 4 SIGUSR2 (raised while
 * blocked) is not pending any more. */
static int maskcheck_main(void)
{
	sigset_t m, p;
	sigprocmask(SIG_BLOCK, NULL, &m);
	sigpending(&p);
	return 40 + (sigismember(&m, SIGWINCH) ? 1 : 0) + (sigismember(&m, SIGUSR2) ? 0 : 2) +
	       (sigismember(&p, SIGUSR2) ? 0 : 4);
}

static void on_winch(int sig)
{
	(void)sig;
}

/* A child that catches SIGWINCH execs while its parent sends it SIGWINCH without pause: a
 * signal that arrives during execve meets the new image's actions (SIGWINCH: ignore) and must
 * never leave it blocked there; what the program blocked itself stays blocked and pending. */
static void test_exec_mask_storm(const char *self, int iters)
{
	int bad = 0, last = 0;
	for (int i = 0; i < iters; i++) {
		int p[2];
		if (pipe(p))
			break;
		pid_t c = fork();
		if (c == 0) {
			struct sigaction sa = { .sa_handler = on_winch };
			sigset_t u2;
			sigemptyset(&u2);
			sigaddset(&u2, SIGUSR2);
			sigprocmask(SIG_BLOCK, &u2, NULL);
			raise(SIGUSR2);
			sigaction(SIGWINCH, &sa, NULL);
			close(p[0]);
			(void)!write(p[1], "x", 1);
			close(p[1]);
			for (volatile int k = 0; k < 20000; k++)
				;
			char *av[] = { (char *)self, "maskcheck", NULL }, *ev[] = { NULL };
			execve("/proc/self/exe", av, ev);
			_exit(99);
		}
		close(p[1]);
		char x;
		(void)!read(p[0], &x, 1);
		close(p[0]);
		int st = 0;
		pid_t w;
		while ((w = waitpid(c, &st, WNOHANG)) == 0)
			kill(c, SIGWINCH);
		if (w != c || !WIFEXITED(st) || WEXITSTATUS(st) != 40) {
			bad++;
			last = w != c ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	}
	e2e_check(bad == 0, "execve_mask_storm", "%d of %d new images wrong, last status %d", bad,
		  iters, last);
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
	if (argc == 2 && strcmp(argv[1], "maskcheck") == 0)
		return maskcheck_main();

	test_self_exec("/proc/self/exe", "proc_self_exe", argv[0]);
	test_self_exec(argv[0], "argv0", argv[0]);

	test_exec_mask_storm(argv[0], 150);

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
