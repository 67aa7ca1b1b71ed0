// SPDX-License-Identifier: MIT
/* --trace: named values and flag sets (O_*, PROT_*, MAP_*, CLONE_*, signals, F_*, AF_*...).
 * Values are the x86-64 kernel ABI, written as numbers: the C library's macros differ for
 * some (O_LARGEFILE is 0 in glibc) and lack others. */
#include "trace_int.h"

struct trace_name {
	unsigned long value;
	const char *name;
};

#define N(v, name) { v, name }
#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* Multi-bit entries come before the bits they contain (O_SYNC holds O_DSYNC). */
static const struct trace_name g_open[] = {
	N(020200000, "O_TMPFILE"), N(04010000, "O_SYNC"), N(0100, "O_CREAT"), N(0200, "O_EXCL"),
	N(0400, "O_NOCTTY"), N(01000, "O_TRUNC"), N(02000, "O_APPEND"), N(04000, "O_NONBLOCK"),
	N(010000, "O_DSYNC"), N(020000, "O_ASYNC"), N(040000, "O_DIRECT"),
	N(0100000, "O_LARGEFILE"), N(0200000, "O_DIRECTORY"), N(0400000, "O_NOFOLLOW"),
	N(01000000, "O_NOATIME"), N(02000000, "O_CLOEXEC"), N(010000000, "O_PATH"),
};
static const struct trace_name g_prot[] = {
	N(1, "PROT_READ"), N(2, "PROT_WRITE"), N(4, "PROT_EXEC"), N(8, "PROT_SEM"),
	N(0x01000000, "PROT_GROWSDOWN"), N(0x02000000, "PROT_GROWSUP"),
};
static const struct trace_name g_map[] = {
	N(0x10, "MAP_FIXED"), N(0x20, "MAP_ANONYMOUS"), N(0x40, "MAP_32BIT"),
	N(0x100, "MAP_GROWSDOWN"), N(0x800, "MAP_DENYWRITE"), N(0x1000, "MAP_EXECUTABLE"),
	N(0x2000, "MAP_LOCKED"), N(0x4000, "MAP_NORESERVE"), N(0x8000, "MAP_POPULATE"),
	N(0x10000, "MAP_NONBLOCK"), N(0x20000, "MAP_STACK"), N(0x40000, "MAP_HUGETLB"),
	N(0x80000, "MAP_SYNC"), N(0x100000, "MAP_FIXED_NOREPLACE"),
	N(0x4000000, "MAP_UNINITIALIZED"),
};
static const struct trace_name g_map_type[] = {
	N(1, "MAP_SHARED"), N(2, "MAP_PRIVATE"), N(3, "MAP_SHARED_VALIDATE"),
};
static const struct trace_name g_clone[] = {
	N(0x100, "CLONE_VM"), N(0x200, "CLONE_FS"), N(0x400, "CLONE_FILES"),
	N(0x800, "CLONE_SIGHAND"), N(0x1000, "CLONE_PIDFD"), N(0x2000, "CLONE_PTRACE"),
	N(0x4000, "CLONE_VFORK"), N(0x8000, "CLONE_PARENT"), N(0x10000, "CLONE_THREAD"),
	N(0x20000, "CLONE_NEWNS"), N(0x40000, "CLONE_SYSVSEM"), N(0x80000, "CLONE_SETTLS"),
	N(0x100000, "CLONE_PARENT_SETTID"), N(0x200000, "CLONE_CHILD_CLEARTID"),
	N(0x400000, "CLONE_DETACHED"), N(0x800000, "CLONE_UNTRACED"),
	N(0x1000000, "CLONE_CHILD_SETTID"), N(0x2000000, "CLONE_NEWCGROUP"),
	N(0x4000000, "CLONE_NEWUTS"), N(0x8000000, "CLONE_NEWIPC"),
	N(0x10000000, "CLONE_NEWUSER"), N(0x20000000, "CLONE_NEWPID"),
	N(0x40000000, "CLONE_NEWNET"), N(0x80000000, "CLONE_IO"),
};
static const char *const g_signals[32] = {
	NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
	"SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
	"SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
	"SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
};
static const struct trace_name g_sighow[] = {
	N(0, "SIG_BLOCK"), N(1, "SIG_UNBLOCK"), N(2, "SIG_SETMASK"),
};
static const struct trace_name g_fcntl[] = {
	N(0, "F_DUPFD"), N(1, "F_GETFD"), N(2, "F_SETFD"), N(3, "F_GETFL"), N(4, "F_SETFL"),
	N(5, "F_GETLK"), N(6, "F_SETLK"), N(7, "F_SETLKW"), N(8, "F_SETOWN"), N(9, "F_GETOWN"),
	N(10, "F_SETSIG"), N(11, "F_GETSIG"), N(15, "F_SETOWN_EX"), N(16, "F_GETOWN_EX"),
	N(36, "F_OFD_GETLK"), N(37, "F_OFD_SETLK"), N(38, "F_OFD_SETLKW"),
	N(1024, "F_SETLEASE"), N(1025, "F_GETLEASE"), N(1026, "F_NOTIFY"),
	N(1030, "F_DUPFD_CLOEXEC"), N(1031, "F_SETPIPE_SZ"), N(1032, "F_GETPIPE_SZ"),
	N(1033, "F_ADD_SEALS"), N(1034, "F_GET_SEALS"),
};
static const struct trace_name g_fd_flags[] = { N(1, "FD_CLOEXEC") };
static const struct trace_name g_family[] = {
	N(0, "AF_UNSPEC"), N(1, "AF_UNIX"), N(2, "AF_INET"), N(4, "AF_IPX"),
	N(5, "AF_APPLETALK"), N(10, "AF_INET6"), N(16, "AF_NETLINK"), N(17, "AF_PACKET"),
	N(38, "AF_ALG"), N(40, "AF_VSOCK"), N(44, "AF_XDP"),
};
static const struct trace_name g_socktype[] = {
	N(1, "SOCK_STREAM"), N(2, "SOCK_DGRAM"), N(3, "SOCK_RAW"), N(4, "SOCK_RDM"),
	N(5, "SOCK_SEQPACKET"), N(6, "SOCK_DCCP"), N(10, "SOCK_PACKET"),
};
static const struct trace_name g_sockflags[] = {
	N(04000, "SOCK_NONBLOCK"), N(02000000, "SOCK_CLOEXEC"),
};
static const struct trace_name g_ioctl[] = {
	N(0x5401, "TCGETS"), N(0x5402, "TCSETS"), N(0x5403, "TCSETSW"), N(0x5404, "TCSETSF"),
	N(0x540f, "TIOCGPGRP"), N(0x5410, "TIOCSPGRP"), N(0x5413, "TIOCGWINSZ"),
	N(0x5414, "TIOCSWINSZ"), N(0x541b, "FIONREAD"), N(0x5421, "FIONBIO"),
	N(0x5450, "FIONCLEX"), N(0x5451, "FIOCLEX"), N(0x5452, "FIOASYNC"),
};
static const struct trace_name g_wait[] = {
	N(1, "WNOHANG"), N(2, "WUNTRACED"), N(4, "WEXITED"), N(8, "WCONTINUED"),
	N(0x1000000, "WNOWAIT"), N(0x20000000, "__WNOTHREAD"), N(0x40000000, "__WALL"),
	N(0x80000000, "__WCLONE"),
};
static const struct trace_name g_access[] = {
	N(4, "R_OK"), N(2, "W_OK"), N(1, "X_OK"),
};
static const struct trace_name g_at[] = {
	N(0x100, "AT_SYMLINK_NOFOLLOW"), N(0x200, "AT_REMOVEDIR"), N(0x400, "AT_SYMLINK_FOLLOW"),
	N(0x800, "AT_NO_AUTOMOUNT"), N(0x1000, "AT_EMPTY_PATH"), N(0x8000, "AT_RECURSIVE"),
};
static const struct trace_name g_whence[] = {
	N(0, "SEEK_SET"), N(1, "SEEK_CUR"), N(2, "SEEK_END"), N(3, "SEEK_DATA"),
	N(4, "SEEK_HOLE"),
};
static const struct trace_name g_clock[] = {
	N(0, "CLOCK_REALTIME"), N(1, "CLOCK_MONOTONIC"), N(2, "CLOCK_PROCESS_CPUTIME_ID"),
	N(3, "CLOCK_THREAD_CPUTIME_ID"), N(4, "CLOCK_MONOTONIC_RAW"),
	N(5, "CLOCK_REALTIME_COARSE"), N(6, "CLOCK_MONOTONIC_COARSE"), N(7, "CLOCK_BOOTTIME"),
	N(8, "CLOCK_REALTIME_ALARM"), N(9, "CLOCK_BOOTTIME_ALARM"), N(11, "CLOCK_TAI"),
};
static const struct trace_name g_futex_op[] = {
	N(0, "FUTEX_WAIT"), N(1, "FUTEX_WAKE"), N(2, "FUTEX_FD"), N(3, "FUTEX_REQUEUE"),
	N(4, "FUTEX_CMP_REQUEUE"), N(5, "FUTEX_WAKE_OP"), N(6, "FUTEX_LOCK_PI"),
	N(7, "FUTEX_UNLOCK_PI"), N(8, "FUTEX_TRYLOCK_PI"), N(9, "FUTEX_WAIT_BITSET"),
	N(10, "FUTEX_WAKE_BITSET"), N(11, "FUTEX_WAIT_REQUEUE_PI"),
	N(12, "FUTEX_CMP_REQUEUE_PI"), N(13, "FUTEX_LOCK_PI2"),
};
static const struct trace_name g_arch[] = {
	N(0x1001, "ARCH_SET_GS"), N(0x1002, "ARCH_SET_FS"), N(0x1003, "ARCH_GET_FS"),
	N(0x1004, "ARCH_GET_GS"), N(0x1011, "ARCH_GET_CPUID"), N(0x1012, "ARCH_SET_CPUID"),
	N(0x2001, "ARCH_MAP_VDSO_X32"), N(0x2002, "ARCH_MAP_VDSO_32"),
	N(0x2003, "ARCH_MAP_VDSO_64"),
};

static const char *lookup(const struct trace_name *t, size_t n, unsigned long v)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	return NULL;
}

/* A name from @t, else @v as a decimal int (as strace prints unknown enum values). */
static void put_enum(struct libos_trace_out *o, const struct trace_name *t, size_t n,
		     unsigned long v)
{
	const char *name = lookup(t, n, v);

	if (name)
		libos_trace_puts(o, name);
	else
		libos_trace_put_dec(o, (int)v);
}

/* `A|B|0x40` after @sep_first (already printed names): the bits of @v named in @t, then
 * what is left in hex; "0" when nothing at all was printed. */
static void put_flags(struct libos_trace_out *o, const struct trace_name *t, size_t n,
		      unsigned long v, bool sep_first)
{
	bool sep = sep_first;

	for (size_t i = 0; i < n && v; i++) {
		if ((v & t[i].value) != t[i].value)
			continue;
		if (sep)
			libos_trace_putc(o, '|');
		libos_trace_puts(o, t[i].name);
		v &= ~t[i].value;
		sep = true;
	}
	if (v || !sep) {
		if (sep)
			libos_trace_putc(o, '|');
		libos_trace_put_hex(o, v);	/* 0 prints as "0" */
	}
}

static void put_signal(struct libos_trace_out *o, unsigned long v)
{
	if (v > 0 && v < 32) {
		libos_trace_puts(o, g_signals[v]);
	} else if (v >= 32 && v <= 64) {
		libos_trace_puts(o, "SIGRT_");
		libos_trace_put_dec(o, (long)v - 32);
	} else {
		libos_trace_put_dec(o, (int)v);
	}
}

/* The access mode is a 2-bit field, not a flag: O_RDONLY is 0. */
static void put_open(struct libos_trace_out *o, unsigned long v)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };

	/* O_PATH ignores the access mode; strace does not print it. */
	if (!(v & 010000000) || (v & 3)) {
		libos_trace_puts(o, acc[v & 3]);
		v &= ~3ul;
		if (!v)
			return;
		put_flags(o, g_open, COUNT(g_open), v, true);
		return;
	}
	put_flags(o, g_open, COUNT(g_open), v, false);
}

static void put_map(struct libos_trace_out *o, unsigned long v)
{
	const char *type = lookup(g_map_type, COUNT(g_map_type), v & 0xf);

	if (type) {
		libos_trace_puts(o, type);
		v &= ~0xful;
	}
	if (v || !type)
		put_flags(o, g_map, COUNT(g_map), v, type);
}

/* The low byte of clone flags is the signal sent to the parent when the child exits. */
static void put_clone(struct libos_trace_out *o, unsigned long v)
{
	unsigned long sig = v & 0xff;

	if (v & ~0xfful)
		put_flags(o, g_clone, COUNT(g_clone), v & ~0xfful, false);
	if (!sig) {
		if (!(v & ~0xfful))
			libos_trace_putc(o, '0');
		return;
	}
	if (v & ~0xfful)
		libos_trace_putc(o, '|');
	put_signal(o, sig);
}

/* strace's spelling: FUTEX_WAIT_PRIVATE, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME. */
static void put_futex(struct libos_trace_out *o, unsigned long v)
{
	const char *op = lookup(g_futex_op, COUNT(g_futex_op), v & 127);

	if (!op || (v & ~0x1fful)) {
		libos_trace_put_hex(o, v);
		return;
	}
	libos_trace_puts(o, op);
	if (v & 128)
		libos_trace_puts(o, "_PRIVATE");
	if (v & 256)
		libos_trace_puts(o, "|FUTEX_CLOCK_REALTIME");
}

int libos_trace_futex_nargs(unsigned long op)
{
	/* uaddr, op, val [, timeout or val2 [, uaddr2 [, val3]]] per FUTEX_* (futex(2)). */
	static const unsigned char nargs[] = { 4, 3, 3, 5, 6, 6, 4, 2, 2, 6, 6, 5, 6, 4 };

	return (op & 127) < sizeof(nargs) ? nargs[op & 127] : 6;
}

bool libos_trace_put_named(struct libos_trace_out *o, char kind, unsigned long v)
{
	switch (kind) {
	case TK_OPEN:	put_open(o, v); break;
	case TK_PROT:	if (v) put_flags(o, g_prot, COUNT(g_prot), v, false);
			else libos_trace_puts(o, "PROT_NONE");
			break;
	case TK_MAP:	put_map(o, v); break;
	case TK_CLONE:	put_clone(o, v); break;
	case TK_SIGNAL:	put_signal(o, v); break;
	case TK_SIGHOW:	put_enum(o, g_sighow, COUNT(g_sighow), v); break;
	case TK_FCNTL:	put_enum(o, g_fcntl, COUNT(g_fcntl), v); break;
	case TK_FAMILY:	put_enum(o, g_family, COUNT(g_family), v); break;
	case TK_SOCKTYPE:	/* accept4 passes the flags alone */
		if (v & 0xf || !v)
			put_enum(o, g_socktype, COUNT(g_socktype), v & 0xf);
		if (v & ~0xful)
			put_flags(o, g_sockflags, COUNT(g_sockflags), v & ~0xful, v & 0xf);
		break;
	case TK_OFLAGS:	put_flags(o, g_open, COUNT(g_open), v, false); break;
	case TK_ARCH:	put_enum(o, g_arch, COUNT(g_arch), v); break;
	case TK_IOCTL: {
		const char *name = lookup(g_ioctl, COUNT(g_ioctl), v & 0xffffffff);

		if (name)
			libos_trace_puts(o, name);
		else
			libos_trace_put_hex(o, v & 0xffffffff);
		break;
	}
	case TK_WAIT:	put_flags(o, g_wait, COUNT(g_wait), v & 0xffffffff, false); break;
	case TK_ACCESS:	if (v) put_flags(o, g_access, COUNT(g_access), v, false);
			else libos_trace_puts(o, "F_OK");
			break;
	case TK_AT:	put_flags(o, g_at, COUNT(g_at), v, false); break;
	case TK_WHENCE:	put_enum(o, g_whence, COUNT(g_whence), v); break;
	case TK_CLOCK:	put_enum(o, g_clock, COUNT(g_clock), v); break;
	case TK_FUTEX:	put_futex(o, v); break;
	default:	return false;
	}
	return true;
}

/* F_GET* commands take no argument. */
static bool fcntl_no_arg(unsigned long cmd)
{
	return cmd == 1 || cmd == 3 || cmd == 9 || cmd == 11 || cmd == 1025 || cmd == 1032 ||
	       cmd == 1034;
}

void libos_trace_put_fcntl_arg(struct libos_trace_out *o, unsigned long cmd, unsigned long v)
{
	if (fcntl_no_arg(cmd))
		return;
	libos_trace_puts(o, ", ");
	switch (cmd) {
	case 2:	 put_flags(o, g_fd_flags, COUNT(g_fd_flags), v, false); break;	/* F_SETFD */
	case 4:	 put_open(o, v); break;						/* F_SETFL */
	case 10: put_signal(o, v); break;					/* F_SETSIG */
	case 5: case 6: case 7: case 15: case 16: case 36: case 37: case 38:	/* struct * */
		 libos_trace_put_ptr(o, v); break;
	default: libos_trace_put_dec(o, (long)v); break;
	}
}

bool libos_trace_put_fcntl_result(struct libos_trace_out *o, unsigned long cmd, long result)
{
	if ((cmd != 1 && cmd != 3) || result < 0)
		return false;
	libos_trace_put_hex(o, (unsigned long)result);
	libos_trace_puts(o, " (flags ");
	if (cmd == 1)
		put_flags(o, g_fd_flags, COUNT(g_fd_flags), (unsigned long)result, false);
	else
		put_open(o, (unsigned long)result);
	libos_trace_putc(o, ')');
	return true;
}
