// SPDX-License-Identifier: MIT
/* The dispatch table: one line per syscall the LibOS owns, sorted by number.  Every
 * other number is passed to the kernel by the stub itself (the fast path).  The socket
 * calls (net/) are routed only under --net=dpdk, and then mostly by fd (net/core.c). */
#include <sys/syscall.h>

#include "internal.h"
#include "sys/sys.h"
#include "net/net.h"

libos_handler_fn *const g_libos_table[LIBOS_NR_MAX] = {
	[SYS_read]		= libos_sys_read,
	[SYS_write]		= libos_sys_write,
	[SYS_open]		= libos_sys_open,
	[SYS_close]		= libos_sys_close,
	[SYS_poll]		= libos_sys_poll,
	[SYS_mmap]		= libos_sys_mmap,
	[SYS_mprotect]		= libos_sys_mprotect,
	[SYS_munmap]		= libos_sys_munmap,
	[SYS_brk]		= libos_sys_brk,
	[SYS_rt_sigaction]	= libos_sys_rt_sigaction,
	[SYS_rt_sigprocmask]	= libos_sys_rt_sigprocmask,
	[SYS_rt_sigreturn]	= libos_sys_rt_sigreturn,
	[SYS_ioctl]		= libos_sys_ioctl,
	[SYS_readv]		= libos_sys_readv,
	[SYS_writev]		= libos_sys_writev,
	[SYS_select]		= libos_sys_select,
	[SYS_mremap]		= libos_sys_mremap,
	[SYS_dup]		= libos_sys_dup,
	[SYS_dup2]		= libos_sys_dup2,
	[SYS_sendfile]		= libos_sys_sendfile,
	[SYS_socket]		= libos_sys_socket,
	[SYS_connect]		= libos_sys_connect,
	[SYS_accept]		= libos_sys_accept,
	[SYS_sendto]		= libos_sys_sendto,
	[SYS_recvfrom]		= libos_sys_recvfrom,
	[SYS_sendmsg]		= libos_sys_sendmsg,
	[SYS_recvmsg]		= libos_sys_recvmsg,
	[SYS_shutdown]		= libos_sys_shutdown,
	[SYS_bind]		= libos_sys_bind,
	[SYS_listen]		= libos_sys_listen,
	[SYS_getsockname]	= libos_sys_getsockname,
	[SYS_getpeername]	= libos_sys_getpeername,
	[SYS_setsockopt]	= libos_sys_setsockopt,
	[SYS_getsockopt]	= libos_sys_getsockopt,
	[SYS_clone]		= libos_sys_clone,
	[SYS_fork]		= libos_sys_fork,
	[SYS_vfork]		= libos_sys_vfork,
	[SYS_execve]		= libos_sys_execve,
	[SYS_exit]		= libos_sys_exit,
	[SYS_fcntl]		= libos_sys_fcntl,
	[SYS_readlink]		= libos_sys_readlink,
	[SYS_sigaltstack]	= libos_sys_sigaltstack,
	[SYS_prctl]		= libos_sys_prctl,
	[SYS_arch_prctl]	= libos_sys_arch_prctl,
	[SYS_set_tid_address]	= libos_sys_set_tid_address,
	[SYS_exit_group]	= libos_sys_exit_group,
	[SYS_epoll_wait]	= libos_sys_epoll_wait,
	[SYS_epoll_ctl]		= libos_sys_epoll_ctl,
	[SYS_openat]		= libos_sys_openat,
	[SYS_readlinkat]	= libos_sys_readlinkat,
	[SYS_pselect6]		= libos_sys_pselect6,
	[SYS_ppoll]		= libos_sys_ppoll,
	[SYS_epoll_pwait]	= libos_sys_epoll_pwait,
	[SYS_accept4]		= libos_sys_accept4,
	[SYS_dup3]		= libos_sys_dup3,
	[SYS_recvmmsg]		= libos_sys_recvmmsg,
	[SYS_sendmmsg]		= libos_sys_sendmmsg,
	[SYS_pkey_mprotect]	= libos_sys_pkey_mprotect,
	[SYS_execveat]		= libos_sys_execveat,
	[SYS_rseq]		= libos_sys_rseq,
	[SYS_clone3]		= libos_sys_clone3,
	[SYS_close_range]	= libos_sys_close_range,
	[SYS_openat2]		= libos_sys_openat2,
	[SYS_epoll_pwait2]	= libos_sys_epoll_pwait2,
};

/* Handlers whose whole path is integer code: the files they run in are built with
 * -mgeneral-regs-only and they call only the gate's asm, raw syscalls, pthread mutexes
 * and free().  They run without saving the guest's vector state (XSAVE + XRSTOR are
 * ~135 ns of a ~200 ns world switch); a path that turns heavy calls
 * tramp_vectors_save() first (mmap of an executable file).  e2e.prog.vecsave checks
 * vector registers across each of them. */
const bool g_libos_light[LIBOS_NR_MAX] = {
	[SYS_mmap]		= true,
	[SYS_mprotect]		= true,
	[SYS_munmap]		= true,
	[SYS_brk]		= true,
	[SYS_mremap]		= true,
	[SYS_pkey_mprotect]	= true,
	[SYS_rt_sigaction]	= true,
	[SYS_rt_sigprocmask]	= true,
	[SYS_rt_sigreturn]	= true,
	[SYS_sigaltstack]	= true,
	[SYS_prctl]		= true,
	[SYS_arch_prctl]	= true,
	[SYS_set_tid_address]	= true,
	[SYS_rseq]		= true,
};

/* The socket layer (net/): its handlers reach only our own code (no x87 instruction in
 * bypass-run-host or libbypass-net.so's packet path), DPDK's rx/tx (SSE) and glibc's
 * string, thread and clock functions (up to AVX-512 registers), so the guest's vector
 * registers and MXCSR are all they can change: a register-only save (~15 ns) replaces
 * XSAVEOPT + XRSTOR (~150 ns), a third of a socket call's switch cost.  What may run
 * anything else calls tramp_vectors_save() first (the backend's start: dlopen, EAL).
 * Under --net=kernel these are not routed here except for the ones above.
 * e2e.prog.vecsave and net.sockapi.vecsave check registers, masks and MXCSR across them. */
const bool g_libos_vregs[LIBOS_NR_MAX] = {
	[SYS_read]		= true,
	[SYS_write]		= true,
	[SYS_close]		= true,
	[SYS_poll]		= true,
	[SYS_ioctl]		= true,
	[SYS_readv]		= true,
	[SYS_writev]		= true,
	[SYS_select]		= true,
	[SYS_dup]		= true,
	[SYS_dup2]		= true,
	[SYS_sendfile]		= true,
	[SYS_socket]		= true,
	[SYS_connect]		= true,
	[SYS_accept]		= true,
	[SYS_sendto]		= true,
	[SYS_recvfrom]		= true,
	[SYS_sendmsg]		= true,
	[SYS_recvmsg]		= true,
	[SYS_shutdown]		= true,
	[SYS_bind]		= true,
	[SYS_listen]		= true,
	[SYS_getsockname]	= true,
	[SYS_getpeername]	= true,
	[SYS_setsockopt]	= true,
	[SYS_getsockopt]	= true,
	[SYS_fcntl]		= true,
	[SYS_epoll_wait]	= true,
	[SYS_epoll_ctl]		= true,
	[SYS_pselect6]		= true,
	[SYS_ppoll]		= true,
	[SYS_epoll_pwait]	= true,
	[SYS_accept4]		= true,
	[SYS_dup3]		= true,
	[SYS_recvmmsg]		= true,
	[SYS_sendmmsg]		= true,
	[SYS_close_range]	= true,
	[SYS_epoll_pwait2]	= true,
};
