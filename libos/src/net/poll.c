// SPDX-License-Identifier: MIT
/* poll, ppoll, select and pselect6 over a mix of kernel fds and LibOS sockets.  With no
 * LibOS socket in the set the kernel does it all.  Otherwise one loop: poll the backend,
 * read the sockets' readiness, ask the kernel about the rest without waiting; when idle,
 * wait in the kernel on the kernel fds for a short while.  Never restarted (EINTR). */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>

#include "net.h"

#define POLL_MAX	65536

static short revents_of(uint32_t ev, short want)
{
	short r = 0;

	if (ev & BNET_IN)
		r |= POLLIN | POLLRDNORM;
	if (ev & BNET_OUT)
		r |= POLLOUT | POLLWRNORM;
	if (ev & BNET_RDHUP)
		r |= POLLRDHUP;
	r &= want;
	if (ev & BNET_ERR)
		r |= POLLERR;
	if (ev & BNET_HUP)
		r |= POLLHUP;
	return r;
}

/* What an entry of @p is: the kernel's alone, a LibOS socket, or an epoll instance with
 * LibOS members (the kernel polls its fd for its kernel members; its LibOS members make
 * it readable too). */
enum { POLL_KERNEL, POLL_SOCK, POLL_EPOLL };

/* One round over @p: LibOS entries from their sockets (lock held), kernel ones from
 * @k (a copy in which LibOS sockets have fd -1) after a kernel poll of @sleep_ms. */
static long poll_round(struct pollfd *p, struct pollfd *k, long n, const char *ours,
		       int sleep_us, const uint64_t *mask)
{
	long count = 0;
	bool ready = false;	/* an epoll of ours is readable by its LibOS members */

	if (g_net.be && !g_net.child)
		g_net.be->poll();	/* outside the lock, as net_wait */
	net_lock_ro();
	for (long i = 0; i < n; i++) {
		if (ours[i] == POLL_KERNEL)
			continue;
		struct net_fd *f = net_fd_get(p[i].fd);
		uint32_t avail;
		if (ours[i] == POLL_EPOLL) {	/* counted with its kernel part below */
			p[i].revents = f && f->kind == NET_FD_EPOLL && net_epoll_readable(f->ep) ?
				       p[i].events & (POLLIN | POLLRDNORM) : 0;
			ready |= p[i].revents != 0;
			continue;
		}
		struct net_sock *s = f && f->kind == NET_FD_SOCK ? f->s : NULL;
		p[i].revents = s ? revents_of(net_sock_events(s, &avail), p[i].events) : POLLNVAL;
		count += p[i].revents != 0;
	}
	net_unlock();
	struct timespec ts = { 0, count || ready ? 0 : sleep_us * 1000L };
	long kr = libos_raw(SYS_ppoll, (long)k, n, (long)&ts,
			    (long)mask, mask ? 8 : 0, 0);
	if (kr < 0)
		return kr;
	for (long i = 0; i < n; i++) {
		if (ours[i] == POLL_SOCK)
			continue;
		p[i].revents = (short)((ours[i] == POLL_EPOLL ? p[i].revents : 0) | k[i].revents);
		count += p[i].revents != 0;
	}
	return count;
}

/* The wait: @p (host copy) until something is ready, @timeout_us passes (-1: never) or a
 * signal comes.  @mask: the signal mask during the wait (NULL: unchanged). */
static long poll_wait(struct libos_args *a, struct pollfd *p, long n, int64_t timeout_us,
		      const uint64_t *mask)
{
	char *ours = calloc((size_t)n + 1, 1);
	struct pollfd *k = malloc(((size_t)n + 1) * sizeof(*k));
	uint64_t start = net_now_us(), busy = start, kmask = 0;
	long r;

	if (!ours || !k) {
		r = -ENOMEM;
		goto out;
	}
	if (mask) {
		/* The mask the kernel applies while we sleep in it; deferred signals stay
		 * blocked until the world switch's exit delivers them. */
		kmask = (*mask & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | SIGBIT(SIGSYS))) |
			a->self->deferred;
	}
	net_lock_ro();
	for (long i = 0; i < n; i++) {
		k[i] = p[i];
		k[i].revents = 0;
		struct net_fd *f = net_fd_get(p[i].fd);
		if (f && f->kind == NET_FD_EPOLL) {
			ours[i] = POLL_EPOLL;
		} else if (f) {
			ours[i] = POLL_SOCK;
			k[i].fd = -1;
		}
	}
	net_unlock();
	for (;;) {
		uint64_t now = net_now_us();
		int sleep_us = net_idle_sleep_us(now - busy);
		if (timeout_us >= 0 && (int64_t)(now - start) + sleep_us > timeout_us)
			sleep_us = 0;
		r = poll_round(p, k, n, ours, sleep_us, mask ? &kmask : NULL);
		if (r != 0)
			break;
		if (a->self->tls.pending) {
			r = -EINTR;
			break;
		}
		now = net_now_us();
		if (timeout_us >= 0 && (int64_t)(now - start) >= timeout_us)
			break;
		if (!sleep_us)
			net_idle(now - busy);
	}
out:
	free(ours);
	free(k);
	return r;
}

/* Any LibOS fd among @p? */
static bool any_ours(const struct pollfd *p, long n)
{
	bool yes = false;

	net_lock_ro();
	for (long i = 0; i < n && !yes; i++)
		yes = net_fd_get(p[i].fd) != NULL;
	net_unlock();
	return yes;
}

static long do_poll(struct libos_args *a, struct pollfd *up, long n, int64_t timeout_us,
		    const uint64_t *mask)
{
	if (n < 0 || n > POLL_MAX)
		return -EINVAL;
	struct pollfd *p = malloc(((size_t)n + 1) * sizeof(*p));
	long r;

	if (!p)
		return -ENOMEM;
	if (libos_from_guest(p, up, (size_t)n * sizeof(*p))) {
		r = -EFAULT;
	} else if (!any_ours(p, n)) {
		free(p);
		return net_passthrough(a);
	} else {
		r = poll_wait(a, p, n, timeout_us, mask);
		if (r >= 0)
			for (long i = 0; i < n; i++)
				if (libos_to_guest(&up[i].revents, &p[i].revents, sizeof(short)))
					r = -EFAULT;
	}
	free(p);
	return r;
}

long libos_sys_poll(struct libos_args *a)
{
	int ms = (int)a->a[2];
	return do_poll(a, (struct pollfd *)a->a[0], (long)(unsigned)a->a[1],
		       ms < 0 ? -1 : (int64_t)ms * 1000, NULL);
}

static long timeout_of(const struct timespec *uts, int64_t *us)
{
	struct timespec ts;

	*us = -1;
	if (!uts)
		return 0;
	if (libos_from_guest(&ts, uts, sizeof(ts)))
		return -EFAULT;
	if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
		return -EINVAL;
	*us = ts.tv_sec * 1000000LL + (ts.tv_nsec + 999) / 1000;
	return 0;
}

long libos_sys_ppoll(struct libos_args *a)
{
	int64_t us;
	uint64_t mask;
	long r;

	if ((r = timeout_of((const struct timespec *)a->a[2], &us)))
		return r;
	if (a->a[3]) {
		if (a->a[4] != 8)
			return -EINVAL;
		if (libos_from_guest(&mask, (const void *)a->a[3], 8))
			return -EFAULT;
	}
	return do_poll(a, (struct pollfd *)a->a[0], (long)(unsigned)a->a[1], us,
		       a->a[3] ? &mask : NULL);
}

/* select over poll: the sets become poll entries and back. */
static long do_select(struct libos_args *a, int nfds, fd_set *ur, fd_set *uw, fd_set *ue,
		      int64_t timeout_us, const uint64_t *mask)
{
	fd_set r, w, e;
	struct pollfd *p = NULL;
	long n = 0, res;

	if (nfds < 0)
		return -EINVAL;
	if (nfds > FD_SETSIZE)
		nfds = FD_SETSIZE;
	size_t bytes = ((size_t)nfds + 7) / 8;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	if ((ur && libos_from_guest(&r, ur, bytes)) || (uw && libos_from_guest(&w, uw, bytes)) ||
	    (ue && libos_from_guest(&e, ue, bytes)))
		return -EFAULT;
	bool mine = false;
	net_lock_ro();
	for (int fd = 0; fd < nfds; fd++)
		if ((FD_ISSET(fd, &r) || FD_ISSET(fd, &w) || FD_ISSET(fd, &e)) && net_fd_get(fd))
			mine = true;
	net_unlock();
	if (!mine)
		return net_passthrough(a);
	p = malloc((size_t)nfds * sizeof(*p) + 1);
	if (!p)
		return -ENOMEM;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = (FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &w) ? POLLOUT : 0) |
			   (FD_ISSET(fd, &e) ? POLLPRI : 0);
		if (ev)
			p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	res = poll_wait(a, p, n, timeout_us, mask);
	if (res < 0)
		goto out;
	for (long i = 0; i < n; i++)
		if (p[i].revents & POLLNVAL) {
			res = -EBADF;
			goto out;
		}
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	res = 0;
	for (long i = 0; i < n; i++) {
		short re = p[i].revents, ev = p[i].events;
		if ((ev & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR)))
			FD_SET(p[i].fd, &r), res++;
		if ((ev & POLLOUT) && (re & (POLLOUT | POLLERR)))
			FD_SET(p[i].fd, &w), res++;
		if ((ev & POLLPRI) && (re & POLLPRI))
			FD_SET(p[i].fd, &e), res++;
	}
	if ((ur && libos_to_guest(ur, &r, bytes)) || (uw && libos_to_guest(uw, &w, bytes)) ||
	    (ue && libos_to_guest(ue, &e, bytes)))
		res = -EFAULT;
out:
	free(p);
	return res;
}

long libos_sys_select(struct libos_args *a)
{
	struct timeval tv, *utv = (struct timeval *)a->a[4];
	int64_t us = -1;
	uint64_t start = net_now_us();

	if (utv) {
		if (libos_from_guest(&tv, utv, sizeof(tv)))
			return -EFAULT;
		if (tv.tv_sec < 0 || tv.tv_usec < 0)
			return -EINVAL;
		us = tv.tv_sec * 1000000LL + tv.tv_usec;
	}
	long r = do_select(a, (int)a->a[0], (fd_set *)a->a[1], (fd_set *)a->a[2],
			   (fd_set *)a->a[3], us, NULL);
	if (utv && r >= 0 && a->nr == SYS_select) {
		/* Linux writes back the time left. */
		int64_t left = us - (int64_t)(net_now_us() - start);
		if (left < 0)
			left = 0;
		tv.tv_sec = left / 1000000;
		tv.tv_usec = left % 1000000;
		libos_to_guest(utv, &tv, sizeof(tv));
	}
	return r;
}

long libos_sys_pselect6(struct libos_args *a)
{
	struct {
		const uint64_t *ss;
		size_t len;
	} sig;
	uint64_t mask;
	int64_t us;
	long r;

	if ((r = timeout_of((const struct timespec *)a->a[4], &us)))
		return r;
	if (a->a[5]) {
		if (libos_from_guest(&sig, (const void *)a->a[5], sizeof(sig)))
			return -EFAULT;
		if (sig.ss) {
			if (sig.len != 8)
				return -EINVAL;
			if (libos_from_guest(&mask, sig.ss, 8))
				return -EFAULT;
		}
	}
	return do_select(a, (int)a->a[0], (fd_set *)a->a[1], (fd_set *)a->a[2],
			 (fd_set *)a->a[3], us, a->a[5] && sig.ss ? &mask : NULL);
}
