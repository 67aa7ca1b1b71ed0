// SPDX-License-Identifier: MIT
/* Process syscalls: clone (threads become pthread twins; fork uses the host's fork();
 * vfork-style children get their own thread block), execve (re-enters bypass-run),
 * exit and exit_group (write the statistics first). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys.h"
#include "../net/net.h"

static long do_fork(struct libos_args *a, unsigned long flags, uint64_t stack, int *ptid,
		    int *ctid, uint64_t tls)
{
	long pid;

	/* The host's fork keeps glibc's locks sane in the child; ours is held across it so
	 * the child never inherits it taken by another thread. */
	pthread_mutex_lock(&g_proc.lock);
	if ((flags & CSIGNAL) == SIGCHLD)
		pid = fork();
	else
		pid = syscall(SYS_clone, flags & CSIGNAL, 0, NULL, NULL, 0);
	int err = errno;
	pthread_mutex_unlock(&g_proc.lock);
	if (pid < 0)
		return -err;
	if (pid > 0) {
		if ((flags & CLONE_PARENT_SETTID) && libos_to_guest(ptid, &(int){ (int)pid }, 4))
			return pid;	/* the kernel, too, leaves a bad ptid unwritten */
		return pid;
	}
	/* Child: the only thread; SUD is not inherited. */
	struct libos_thread *t = a->self;
	t->tid = (pid_t)syscall(SYS_gettid);
	libos_stats_reset_child(t);
	g_proc.threads = NULL;
	atomic_store(&g_proc.live, 0);
	libos_thread_link(t);
	libos_net_fork_child();		/* the parent's DPDK state is not ours */
	if (libos_sud_arm(t))
		_exit(126);
	if (flags & CLONE_CHILD_SETTID)
		libos_to_guest(ctid, &t->tid, 4);
	if (flags & CLONE_CHILD_CLEARTID)
		syscall(SYS_set_tid_address, ctid);
	if (flags & CLONE_SETTLS)
		a->regs->fs = tls;
	if (stack)
		tramp_regs_set_stack(a->regs, stack);
	return 0;
}

/* vfork and CLONE_VM without CLONE_THREAD (posix_spawn): a real clone sharing memory.
 * The child needs its own block (world-switch stack, GS state) because the parent's is
 * live under it. */
static long do_vfork(struct libos_args *a, unsigned long flags, uint64_t stack, int *ptid,
		     int *ctid, uint64_t tls)
{
	struct libos_thread *c = libos_thread_create_child(a, flags, stack, tls);

	if (!c)
		return -ENOMEM;
	c->vfork_child = true;
	c->tls.host_fs = a->self->tls.host_fs;
	if (flags & CLONE_CHILD_CLEARTID)
		c->clear_tid = (uint32_t *)ctid;
	if (flags & CLONE_CHILD_SETTID)
		c->set_tid = ctid;

	unsigned long kflags = flags & (CSIGNAL | CLONE_VM | CLONE_VFORK | CLONE_FS |
					CLONE_FILES | CLONE_SIGHAND | CLONE_PARENT |
					CLONE_NEWNS | CLONE_UNTRACED);
	/* The child inherits the real mask, which also blocks what the parent deferred (its
	 * own block has nothing to flush): it starts with everything blocked and takes the
	 * guest's mask once set up, as a twin does (thread.c). */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	memcpy(&c->start_mask, &old, sizeof(c->start_mask));
	c->start_mask &= ~a->self->deferred;
	long pid = tramp_clone_vm(kflags, (void *)c->tls.host_rsp, &c->tls);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0 && (flags & CLONE_PARENT_SETTID))
		libos_to_guest(ptid, &(int){ (int)pid }, 4);
	/* With CLONE_VFORK the child has exec'd or exited: its block is ours to free. */
	if (pid < 0 || (flags & CLONE_VFORK))
		libos_thread_destroy(c);
	return pid;
}

void libos_vfork_child(struct tramp_tls *tls)
{
	struct libos_thread *c = (struct libos_thread *)tls;

	c->tid = (pid_t)syscall(SYS_gettid);
	if (c->set_tid)
		libos_to_guest(c->set_tid, &c->tid, 4);
	libos_raw(SYS_sigaltstack, (long)&c->host_alt, 0, 0, 0, 0, 0);
	libos_stats_reset_child(c);
	if (libos_sud_arm(c))
		syscall(SYS_exit_group, 126);
	libos_raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&c->start_mask, 0, 8, 0, 0);
	tramp_resume(tls);
}

static long do_clone(struct libos_args *a, unsigned long flags, uint64_t stack, int *ptid,
		     int *ctid, uint64_t tls)
{
	if (flags & CLONE_THREAD)
		return libos_thread_clone(a, flags, stack, ptid, ctid, tls);
	if (flags & (CLONE_VM | CLONE_VFORK))
		return do_vfork(a, flags, stack, ptid, ctid, tls);
	return do_fork(a, flags, stack, ptid, ctid, tls);
}

long libos_sys_clone(struct libos_args *a)
{
	/* x86-64 order: flags, stack, parent_tid, child_tid, tls */
	return do_clone(a, a->a[0], a->a[1], (int *)a->a[2], (int *)a->a[3], a->a[4]);
}

long libos_sys_clone3(struct libos_args *a)
{
	struct clone_args ca = { 0 };
	size_t size = a->a[1];

	if (size < CLONE_ARGS_SIZE_VER0 || size > 4096)
		return -EINVAL;
	if (libos_from_guest(&ca, (void *)a->a[0], size < sizeof(ca) ? size : sizeof(ca)))
		return -EFAULT;
	if (ca.set_tid || ca.set_tid_size || ca.cgroup || (ca.flags & CLONE_PIDFD) ||
	    (ca.exit_signal & ~(uint64_t)CSIGNAL))
		return -EINVAL;		/* features the twins do not emulate */
	uint64_t stack = ca.stack ? ca.stack + ca.stack_size : 0;
	return do_clone(a, ca.flags | ca.exit_signal, stack, (int *)ca.parent_tid,
			(int *)ca.child_tid, ca.tls);
}

long libos_sys_fork(struct libos_args *a)
{
	return do_fork(a, SIGCHLD, 0, NULL, NULL, 0);
}

long libos_sys_vfork(struct libos_args *a)
{
	return do_vfork(a, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, NULL, NULL, 0);
}

long libos_sys_execve(struct libos_args *a)
{
	return libos_exec((const char *)a->a[0], (char *const *)a->a[1],
			  (char *const *)a->a[2], a);	/* guest pointers: copied safely */
}

long libos_sys_execveat(struct libos_args *a)
{
	int dirfd = (int)a->a[0];
	char path[4096], buf[4096 + 64];
	int flags = (int)a->a[4];
	long err;

	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -EINVAL;
	if ((err = libos_path_from_guest(path, sizeof(path), (const char *)a->a[1])) < 0)
		return err;
	if (path[0] == '\0') {
		if (!(flags & AT_EMPTY_PATH))
			return -ENOENT;
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", dirfd);
	} else if (path[0] == '/' || dirfd == AT_FDCWD) {
		snprintf(buf, sizeof(buf), "%s", path);
	} else {
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d/%s", dirfd, path);
	}
	return libos_exec(buf, (char *const *)a->a[2], (char *const *)a->a[3], a);
}

void libos_exit_group(int code)
{
	libos_net_exit();	/* FINs and data still queued in dpdk-net */
	libos_stats_write(!libos_self()->vfork_child);
	for (;;)
		syscall(SYS_exit_group, code);
}

long libos_sys_exit_group(struct libos_args *a)
{
	libos_exit_group((int)a->a[0]);
}

long libos_sys_exit(struct libos_args *a)
{
	if (a->self->vfork_child)
		libos_exit_group((int)a->a[0]);
	libos_thread_exit(a->self, (int)a->a[0]);
}
