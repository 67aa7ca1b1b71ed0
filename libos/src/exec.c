// SPDX-License-Identifier: MIT
/* execve: validated here as the kernel would (so failures return to the caller with
 * the kernel's errno), then performed by re-entering bypass-run so the new image is
 * intercepted too.  Also the #! parser shared with the first start. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "exec.h"

int libos_shebang_parse(const char *buf, size_t n, char *interp, size_t isize, char *arg,
			size_t asize)
{
	size_t i = 2, j, end;

	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return -ENOEXEC;
	for (end = 2; end < n && buf[end] != '\n'; end++)
		;
	while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	for (j = i; j < end && buf[j] != ' ' && buf[j] != '\t'; j++)
		;
	if (j == i || j - i >= isize)
		return -ENOEXEC;
	memcpy(interp, buf + i, j - i);
	interp[j - i] = '\0';
	/* Linux passes the rest of the line, trimmed, as one argument. */
	while (j < end && (buf[j] == ' ' || buf[j] == '\t'))
		j++;
	while (end > j && (buf[end - 1] == ' ' || buf[end - 1] == '\t' || buf[end - 1] == '\r'))
		end--;
	if (end - j >= asize)
		return -ENOEXEC;
	memcpy(arg, buf + j, end - j);
	arg[end - j] = '\0';
	return 0;
}

int libos_exec_check(const char *path, int depth)
{
	char buf[256], interp[256], arg[256];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    faccessat(AT_FDCWD, path, X_OK, AT_EACCESS)) {
		close(fd);
		return -EACCES;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n >= 4 && memcmp(buf, "\177ELF", 4) == 0)
		return 0;
	if (libos_shebang_parse(buf, n < 0 ? 0 : (size_t)n, interp, sizeof(interp), arg,
				sizeof(arg)) == 0) {
		if (depth >= 4)
			return -ELOOP;
		return libos_exec_check(interp, depth + 1);
	}
	return -ENOEXEC;
}

long libos_exec(const char *guest_path, char *const *argv, char *const *envp,
		struct libos_args *trace_args)
{
	const struct libos_config *cfg = g_proc.cfg;
	char stats_opt[4096 + 16], trace_opt[4096 + 16], filter_opt[4096 + 32];
	char buf[4096], real[4096];
	const char *path = buf;
	long argc = 0, err;

	if ((err = libos_path_from_guest(buf, sizeof(buf), guest_path)) < 0)
		return err;
	if (!buf[0])
		return -ENOENT;
	if (libos_is_self_exe(buf))
		path = g_proc.exe;
	else if (realpath(buf, real) && !strcmp(real, cfg->self_exe))
		path = g_proc.exe;	/* a link to /proc/self/exe resolved to us */
	if ((err = libos_exec_check(path, 0)))
		return err;
	for (char *p = (char *)1; argv && p; argc++)
		if (libos_from_guest(&p, &argv[argc], sizeof(p)))
			return -EFAULT;
	if (argv)
		argc--;		/* the NULL */

	size_t size = (size_t)(argc + 16) * sizeof(char *);
	char **nv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (nv == MAP_FAILED)
		return -ENOMEM;
	int k = 0;
	nv[k++] = (char *)cfg->self_exe;
	if (cfg->stats_path && !cfg->stats_from_env) {
		snprintf(stats_opt, sizeof(stats_opt), "--stats=%s", cfg->stats_path);
		nv[k++] = stats_opt;
	}
	if (cfg->stats_human && g_proc.human)
		nv[k++] = "--stats";
	if (cfg->trace && !cfg->trace_from_env) {
		if (cfg->trace_path)
			snprintf(trace_opt, sizeof(trace_opt), "--trace=%s", cfg->trace_path);
		nv[k++] = cfg->trace_path ? trace_opt : "--trace";
		if (cfg->trace_filter) {
			snprintf(filter_opt, sizeof(filter_opt), "--trace-filter=%s",
				 cfg->trace_filter);
			nv[k++] = filter_opt;
		}
	}
	nv[k++] = "--argv0";
	nv[k++] = argc ? argv[0] : "";	/* pointers checked above; the kernel reads them */
	nv[k++] = "--";
	nv[k++] = (char *)path;
	for (long i = 1; i < argc; i++)
		nv[k++] = argv[i];
	nv[k] = NULL;

	libos_stats_write(false);
	if (g_trace_on && trace_args)
		libos_trace_call(trace_args, 0, 0);	/* it succeeds from here on */
	err = libos_raw(SYS_execve, (long)cfg->self_exe, (long)nv, (long)envp, 0, 0, 0);
	munmap(nv, size);
	return err;
}
