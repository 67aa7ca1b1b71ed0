/* SPDX-License-Identifier: MIT */
/* Syscall handlers, by family: libos_sys_<linux name>(struct libos_args *). */
#ifndef LIBOS_SYS_H
#define LIBOS_SYS_H

#include "../internal.h"

/* fs.c: /proc/self/exe names the guest */
libos_handler_fn libos_sys_open, libos_sys_openat, libos_sys_openat2;
libos_handler_fn libos_sys_readlink, libos_sys_readlinkat;
/* mm.c */
libos_handler_fn libos_sys_brk, libos_sys_mmap, libos_sys_munmap;
libos_handler_fn libos_sys_mprotect, libos_sys_pkey_mprotect, libos_sys_mremap;
/* signal.c */
libos_handler_fn libos_sys_rt_sigaction, libos_sys_rt_sigprocmask, libos_sys_rt_sigreturn;
libos_handler_fn libos_sys_sigaltstack;
/* proc.c */
libos_handler_fn libos_sys_clone, libos_sys_clone3, libos_sys_fork, libos_sys_vfork;
libos_handler_fn libos_sys_execve, libos_sys_execveat, libos_sys_exit, libos_sys_exit_group;
/* misc.c */
libos_handler_fn libos_sys_prctl, libos_sys_arch_prctl, libos_sys_set_tid_address;
libos_handler_fn libos_sys_rseq;

#endif
