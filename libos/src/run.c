// SPDX-License-Identifier: MIT
/* libos_run: find the program as a shell would, follow #! lines, map it, patch it,
 * build its stack and enter it with the LibOS in place. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <loader/loader.h>

#include "exec.h"
#include "image.h"
#include "internal.h"

void libos_dispatch_init(void);

static int fail(int status, const char *what, const char *why)
{
	fprintf(stderr, "bypass-run: %s: %s\n", what, why);
	return status;
}

static int errno_status(int err)
{
	return err == -ENOENT || err == -ENOTDIR ? LIBOS_EXIT_NOTFOUND : LIBOS_EXIT_NOEXEC;
}

/* PATH search as execvp does it.  Returns 0 with @out set, or -ENOENT/-EACCES. */
static int resolve(const char *prog, char *out, size_t size)
{
	if (strchr(prog, '/')) {
		snprintf(out, size, "%s", prog);
		return 0;
	}
	const char *path = getenv("PATH");
	int err = -ENOENT;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int len = (int)(end - path);
		struct stat st;
		snprintf(out, size, "%.*s%s%s", len, path, len ? "/" : "", prog);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(out, X_OK) == 0)
				return 0;
			err = -EACCES;
		}
		path = *end ? end + 1 : end;
	}
	return err;
}

/* Point the kernel's view of the process (/proc/PID/cmdline, environ, auxv: what ps
 * and pgrep read) at the guest's initial stack, so setproctitle-style rewrites show as
 * natively.  Needs CAP_SYS_RESOURCE; without it the view stays bypass-run's. */
static void proc_view_set(uintptr_t sp)
{
	const uint64_t *st = (const uint64_t *)sp;
	uint64_t argc = st[0];
	char **argv = (char **)(st + 1), **envp = argv + argc + 1, **e = envp;
	unsigned long f[52] = { 0 };
	char buf[1024];

	while (*e)
		e++;
	const uint64_t *auxv = (const uint64_t *)(e + 1), *x = auxv;
	while (x[0] != AT_NULL)
		x += 2;
	/* The fields we keep come from /proc/self/stat (25-27 code/stack, 44-46 data/brk). */
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0 || argc == 0)
		return;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	for (int i = 2; p && *p && i < 52; i++) {
		p = strchr(p + 1, ' ');
		if (p)
			f[i] = strtoul(p + 1, NULL, 10);
	}
	struct prctl_mm_map map = {
		.start_code = f[25], .end_code = f[26], .start_stack = f[27],
		.start_data = f[44], .end_data = f[45], .start_brk = f[46],
		.brk = (uint64_t)sbrk(0),
		.arg_start = (uint64_t)argv[0],
		.arg_end = (uint64_t)argv[argc - 1] + strlen(argv[argc - 1]) + 1,
		.env_start = *envp ? (uint64_t)*envp : 0,
		.env_end = *envp ? (uint64_t)e[-1] + strlen(e[-1]) + 1 : 0,
		.auxv = (__u64 *)auxv,
		.auxv_size = (uint32_t)((x - auxv + 2) * sizeof(uint64_t)),
		.exe_fd = (uint32_t)-1,
	};
	if (!map.env_start)
		map.env_start = map.env_end = map.arg_end;
	prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof(map), 0);
}

/* Map, patch and protect the ELF file @elf (closed on return). */
static int load_image(struct loader_elf *elf, struct loader_image *img, const char **why)
{
	uintptr_t tlo, thi;
	uint64_t eh_addr = 0, eh_size = 0;
	int err = loader_elf_map(elf, 0, LIBOS_ARENA_RESERVE, img, &tlo, &thi, why);

	if (err == 0) {
		struct libos_plan_key key = { elf->dev, elf->ino, elf->file_size, elf->mtime_ns,
					      g_proc.tool_size, g_proc.tool_mtime_ns };
		loader_elf_section(elf, ".eh_frame", &eh_addr, &eh_size);
		if (!(err = libos_image_patch(img, elf, &key, eh_addr, eh_size, tlo, thi, why)))
			err = loader_image_protect(img);
	}
	loader_elf_close(elf);
	return err;
}

int libos_run(const struct libos_config *cfg, const char *prog, int argc, char **argv,
	      char **envp)
{
	static char path[PATH_MAX], interp[4][256], iarg[4][256];
	const char *why = NULL;
	struct loader_elf elf = { .fd = -1 };
	struct loader_image img;
	int err;

	g_proc.cfg = cfg;
	if (cfg->sigmask_set) {
		/* execve re-entry: what the old image deferred is pending and blocked.  Every
		 * action is the kernel's default or SIG_IGN at this point, as after a native
		 * execve, so unblocking applies them now (SIGWINCH is discarded, SIGTERM ends
		 * us); what the guest itself blocked stays pending for the new image. */
		uint64_t m = cfg->sigmask;
		libos_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, 8, 0, 0);
	}
	libos_hostmap_init();	/* before anything of the program's is mapped */
	if ((err = tramp_init(&why)))
		return fail(LIBOS_EXIT_NOEXEC, "cannot run", why);
	if ((err = resolve(prog, path, sizeof(path))))
		return fail(err == -ENOENT ? LIBOS_EXIT_NOTFOUND : LIBOS_EXIT_NOEXEC, prog,
			    err == -ENOENT ? "command not found" : strerror(-err));

	/* The program's environment: the launcher renamed ld.so's variables so they would
	 * not act on the host; they are the program's. */
	for (char **e = envp; *e; e++)
		if (!strncmp(*e, LIBOS_GUEST_PREFIX, sizeof(LIBOS_GUEST_PREFIX) - 1))
			*e += sizeof(LIBOS_GUEST_PREFIX) - 1;

	/* The program's argv: argv[0] may be replaced (execve re-entry keeps the guest's). */
	char **gargv = calloc((size_t)argc + 10, sizeof(char *));
	int gargc = argc;
	memcpy(gargv, argv, (size_t)argc * sizeof(char *));
	if (cfg->argv0)
		gargv[0] = (char *)cfg->argv0;
	const char *execfn = path, *file = path;

	/* #! scripts, up to four levels as Linux allows. */
	for (int depth = 0;; depth++) {
		char head[256];
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;	/* loader_elf_open reports it */
		ssize_t n = read(fd, head, sizeof(head));
		close(fd);
		if (n < 2 || head[0] != '#' || head[1] != '!')
			break;
		if (access(file, X_OK))
			return fail(LIBOS_EXIT_NOEXEC, file, strerror(EACCES));
		if (depth == 4)
			return fail(LIBOS_EXIT_NOEXEC, execfn, strerror(ELOOP));
		if (libos_shebang_parse(head, (size_t)n, interp[depth], sizeof(interp[depth]),
					iarg[depth], sizeof(iarg[depth])))
			return fail(LIBOS_EXIT_NOEXEC, file, "bad interpreter line");
		/* argv becomes: interp [arg] script argv[1..] */
		int extra = iarg[depth][0] ? 2 : 1;
		memmove(gargv + extra + 1, gargv + 1, (size_t)gargc * sizeof(char *));
		gargv[0] = interp[depth];
		if (extra == 2)
			gargv[1] = iarg[depth];
		gargv[extra] = (char *)file;
		gargc += extra;
		file = interp[depth];
	}

	if ((err = loader_elf_open(file, &elf, &why)))
		return fail(errno_status(err), file, why ? why : strerror(-err));
	if (!realpath(file, g_proc.exe))
		snprintf(g_proc.exe, sizeof(g_proc.exe), "%s", file);
	struct stat self;
	if (stat(cfg->self_exe, &self) == 0) {
		g_proc.tool_size = (uint64_t)self.st_size;
		g_proc.tool_mtime_ns = (uint64_t)self.st_mtim.tv_sec * 1000000000ull +
				       (uint64_t)self.st_mtim.tv_nsec;
	}
	libos_dispatch_init();
	libos_stats_init();
	const char *bad = NULL;
	if ((err = libos_trace_init(&bad)))
		return fail(LIBOS_EXIT_NOEXEC, cfg->trace_path ? cfg->trace_path : "--trace",
			    bad ? "unknown syscall in the filter" : strerror(-err));

	/* The program's own interpreter (ld.so), as the kernel would load it. */
	static struct loader_image iimg;
	struct loader_image *ld = NULL;
	if (elf.interp[0]) {
		struct loader_elf ielf;
		static char msg[512];
		if ((err = loader_elf_open(elf.interp, &ielf, &why))) {
			snprintf(msg, sizeof(msg), "%s (interpreter %s)",
				 why ? why : strerror(-err), elf.interp);
			return fail(errno_status(err), file, msg);
		}
		if ((err = load_image(&ielf, &iimg, &why)))
			return fail(LIBOS_EXIT_NOEXEC, elf.interp, why ? why : strerror(-err));
		ld = &iimg;
	}
	if ((err = load_image(&elf, &img, &why)))
		return fail(LIBOS_EXIT_NOEXEC, file, why ? why : strerror(-err));
	/* The vDSO the program is given is ours: patch its fallback syscalls (if that
	 * fails, the trap still serves them). */
	libos_image_vdso(getauxval(AT_SYSINFO_EHDR));

	/* brk: reserved after the image, grown on demand. */
	void *brk = mmap((void *)img.brk, LIBOS_BRK_RESERVE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (brk == MAP_FAILED)	/* no room after the image: the heap starts elsewhere */
		brk = mmap(NULL, LIBOS_BRK_RESERVE, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (brk == MAP_FAILED)
		return fail(LIBOS_EXIT_NOEXEC, file, "cannot reserve the heap (brk)");
	g_proc.brk_start = g_proc.brk_cur = (uintptr_t)brk;
	g_proc.brk_limit = (uintptr_t)brk + LIBOS_BRK_RESERVE;

	struct rlimit rl;
	size_t stack_size = 8 << 20;
	if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur >= (128 << 10) && rl.rlim_cur <= (1ul << 30))
		stack_size = rl.rlim_cur;
	void *slo, *stop;
	if ((err = loader_stack_alloc(stack_size, img.exec_stack, &slo, &stop)))
		return fail(LIBOS_EXIT_NOEXEC, file, "cannot allocate the stack");
	struct loader_stack_info si = {
		.argc = gargc,
		.argv = gargv,
		.envp = envp,
		.execfn = execfn,
		.exe = &img,
		.interp = ld,
		.sysinfo_ehdr = getauxval(AT_SYSINFO_EHDR),
	};
	uintptr_t sp = loader_stack_build(slo, stop, &si);
	if (!sp)
		return fail(LIBOS_EXIT_NOEXEC, file, strerror(E2BIG));
	proc_view_set(sp);

	struct libos_thread *t = libos_thread_create();
	if (!t)
		return fail(LIBOS_EXIT_NOEXEC, file, strerror(ENOMEM));
	g_proc.human = cfg->stats_human;
	libos_thread_enter(t);
	libos_signal_init();
	libos_thread_link(t);

	struct tramp_regs *r = (struct tramp_regs *)(t->tls.host_rsp - sizeof(*r));
	memset(r, 0, sizeof(*r));
	r->rip = ld ? ld->entry : img.entry;
	r->rsp = sp;
	r->rflags = 0x202;
	t->tls.frame = (uint64_t)r;
	t->tls.host_rsp = (uint64_t)r & ~15ull;
	if ((err = libos_sud_arm(t)))
		return fail(LIBOS_EXIT_NOEXEC, "cannot enable Syscall User Dispatch",
			    "Linux >= 5.11 with CONFIG_SYSCALL_USER_DISPATCH is needed");
	fflush(NULL);
	tramp_resume(&t->tls);
}
