// SPDX-License-Identifier: MIT
/* execve: validated here as the kernel would (so failures return to the caller with
 * the kernel's errno), then performed by re-entering bypass-run so the new image is
 * intercepted too.  Also the #! parser shared with the first start. */
#include <elf.h>
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
#include "net/net.h"

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

/* PT_INTERP of the ELF64 file @fd (header @eh) into @out: 1, 0 when static, -ENOEXEC
 * when unreadable.  pread only: this runs in vfork children, no malloc. */
static int elf_interp(int fd, const Elf64_Ehdr *eh, char *out, size_t size)
{
	Elf64_Phdr ph;

	if (eh->e_phentsize != sizeof(ph) || eh->e_phnum > 256)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + i * sizeof(ph))) != sizeof(ph))
			return -ENOEXEC;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > size ||
		    pread(fd, out, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz ||
		    out[ph.p_filesz - 1] != '\0')
			return -ENOEXEC;
		return 1;
	}
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
	if (n >= 64 && memcmp(buf, "\177ELF", 4) == 0 && buf[EI_CLASS] == ELFCLASS64) {
		/* Its interpreter must be there too: the kernel opens it in execve. */
		int err = elf_interp(fd, (const Elf64_Ehdr *)buf, interp, sizeof(interp));
		close(fd);
		if (err <= 0)
			return err;
		return depth >= 4 ? -ELOOP : libos_exec_check(interp, depth + 1);
	}
	close(fd);
	if (n >= 4 && memcmp(buf, "\177ELF", 4) == 0)
		return 0;	/* bypass-run will say what it cannot run */
	if (libos_shebang_parse(buf, n < 0 ? 0 : (size_t)n, interp, sizeof(interp), arg,
				sizeof(arg)) == 0) {
		if (depth >= 4)
			return -ELOOP;
		return libos_exec_check(interp, depth + 1);
	}
	return -ENOEXEC;
}

/* The guest's @envp as the host must get it: ld.so's variables (LD_*, GLIBC_TUNABLES)
 * renamed with LIBOS_GUEST_PREFIX, as the launcher does, so they reach the new program
 * and not the new host.  *@out stays NULL when nothing needs renaming.  Returns 0,
 * -EFAULT or -ENOMEM. */
static int env_for_host(char *const *envp, char ***out, size_t *size)
{
	const size_t plen = sizeof(LIBOS_GUEST_PREFIX) - 1;
	size_t n = 0, extra = 0;
	char *e, head[16];

	for (; envp; n++) {
		if (libos_from_guest(&e, &envp[n], sizeof(e)))
			return -EFAULT;
		if (!e)
			break;
		long len = tramp_strnlen_guest(e, 1 << 20);
		if (len < 0)
			return -EFAULT;
		memset(head, 0, sizeof(head));
		libos_from_guest(head, e, len < 15 ? (size_t)len : 15);
		if (!strncmp(head, "LD_", 3) || !strncmp(head, "GLIBC_TUNABLES=", 15))
			extra += plen + (size_t)len + 1;
	}
	if (!extra)
		return 0;
	*size = (n + 1) * sizeof(char *) + extra;
	char **ne = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ne == MAP_FAILED)
		return -ENOMEM;
	char *p = (char *)(ne + n + 1);
	for (size_t i = 0; i < n; i++) {
		libos_from_guest(&e, &envp[i], sizeof(e));
		long len = tramp_strnlen_guest(e, 1 << 20);
		ne[i] = e;
		memset(head, 0, sizeof(head));
		if (len < 0 || libos_from_guest(head, e, len < 15 ? (size_t)len : 15))
			continue;	/* the kernel will say EFAULT */
		if (!strncmp(head, "LD_", 3) || !strncmp(head, "GLIBC_TUNABLES=", 15)) {
			memcpy(p, LIBOS_GUEST_PREFIX, plen);
			if (libos_from_guest(p + plen, e, (size_t)len + 1))
				continue;
			ne[i] = p;
			p += plen + (size_t)len + 1;
		}
	}
	ne[n] = NULL;
	*out = ne;
	return 0;
}

long libos_exec(const char *guest_path, char *const *argv, char *const *envp,
		struct libos_args *trace_args)
{
	const struct libos_config *cfg = g_proc.cfg;
	char stats_opt[4096 + 16], trace_opt[4096 + 16], filter_opt[4096 + 32];
	char buf[4096], real[4096], net_opts[4096], mask_opt[32];
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
	k += libos_net_exec_args(nv + k, net_opts, sizeof(net_opts));
	/* The guest's mask, as rt_sigprocmask shows it: the kernel's also blocks what the
	 * LibOS deferred (now and until the execve), which the new image must not inherit
	 * blocked.  Natively such a signal arrives during execve and meets the new image's
	 * actions; the new host unblocks it the same way. */
	uint64_t cur;
	libos_raw(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8, 0, 0);
	snprintf(mask_opt, sizeof(mask_opt), "--sigmask=%llx",
		 (unsigned long long)(cur & ~libos_self()->deferred));
	nv[k++] = mask_opt;
	nv[k++] = "--argv0";
	nv[k++] = argc ? argv[0] : "";	/* pointers checked above; the kernel reads them */
	nv[k++] = "--";
	nv[k++] = (char *)path;
	for (long i = 1; i < argc; i++)
		nv[k++] = argv[i];
	nv[k] = NULL;

	char **ne = NULL;
	size_t nesize = 0;
	if ((err = env_for_host(envp, &ne, &nesize)))
		goto out;
	libos_net_exit();	/* the new image starts without our DPDK state */
	libos_stats_write(false);
	if (g_trace_on && trace_args)
		libos_trace_call(trace_args, 0, 0);	/* it succeeds from here on */
	err = libos_raw(SYS_execve, (long)cfg->self_exe, (long)nv, (long)(ne ? ne : envp), 0, 0,
			0);
	if (ne)
		munmap(ne, nesize);
out:
	munmap(nv, size);
	return err;
}
