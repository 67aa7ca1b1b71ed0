// SPDX-License-Identifier: MIT
/* epoll over a mix of kernel fds and LibOS sockets.  The program's epoll fd is a real
 * kernel epoll: kernel fds are added to it for real; LibOS sockets go to a LibOS
 * interest list attached to its fd number (struct net_epoll), which also marks the fd in
 * the gate's map so its epoll_wait comes here.  An epoll fd with no LibOS member is the
 * kernel's alone.  LT, ET, ONESHOT, RDHUP; EXCLUSIVE is accepted (one process). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <linux/kcmp.h>

#include "net.h"

#define EP_MAX_EVENTS	((int)(INT32_MAX / sizeof(struct epoll_event)))
/* A wait on an epoll with no known kernel member asks the kernel at least this often. */
#define EP_KCHECK_EVERY	64

/* A thread that waits on an epoll with no LibOS member waits in the kernel, and natively
 * a socket another thread adds meanwhile would wake it.  So it waits with our kick
 * eventfd in that epoll (edge-triggered, this data), and the epoll_ctl that gives an
 * epoll its first LibOS member writes the kick: the waiter comes back and waits our way.
 * Kick events never reach the program. */
#define EP_KICK_DATA	0xb1a55c1c4b1a55c1ull

/* The kick eventfd (lock held): made once, kept at a high number out of the program's
 * way.  Returns it, or a negative errno. */
static int kick_fd(void)
{
	if (g_net.kick > 0)
		return g_net.kick;
	long fd = libos_raw(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0, 0, 0, 0);
	if (fd < 0)
		return (int)fd;
	long high = libos_raw(SYS_fcntl, fd, F_DUPFD_CLOEXEC, NET_FD_MAX, 0, 0, 0);
	if (high >= 0) {
		libos_raw(SYS_close, fd, 0, 0, 0, 0, 0);
		fd = high;
	}
	g_net.kick = (int)fd;
	return g_net.kick;
}

static void kick(void)
{
	uint64_t one = 1;

	if (g_net.kick > 0)
		libos_raw(SYS_write, g_net.kick, (long)&one, sizeof(one), 0, 0, 0);
}

/* Drop kick events from the @n kernel events at @ev; returns how many are left. */
static int kick_drop(struct epoll_event *ev, int n, bool *kicked)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		if (ev[i].data.u64 == EP_KICK_DATA)
			*kicked = true;
		else
			ev[k++] = ev[i];
	}
	return k;
}

/* Does the kernel epoll @epfd hold anything but our kick?  Its fdinfo lists one "tfd:"
 * line per member after a short header; when it cannot be read, assume so. */
static bool kernel_members(int epfd)
{
	char path[48], buf[512];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
	long fd = libos_raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return true;
	long n = libos_raw(SYS_read, fd, (long)buf, sizeof(buf) - 1, 0, 0, 0);
	libos_raw(SYS_close, fd, 0, 0, 0, 0, 0);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	for (char *t = buf; (t = strstr(t, "tfd:")); t += 4)
		if (atoi(t + 4) != g_net.kick)
			return true;
	return false;
}

/* The fds that named kernel epoll @epfd before it became ours (a dup made while it had
 * no LibOS member) name @ep as well: an epoll instance is its open file.  /proc/self/fd
 * lists the candidates, kcmp(KCMP_FILE) tells the same file; once per epoll that becomes
 * ours.  Without kcmp (ENOSYS, EPERM) only @epfd knows the LibOS members. */
static void adopt_aliases(int epfd, struct net_epoll *ep)
{
	struct dirent64 {
		uint64_t ino;
		int64_t off;
		unsigned short reclen;
		unsigned char type;
		char name[];
	};
	long dir = libos_raw(SYS_openat, AT_FDCWD, (long)"/proc/self/fd",
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
	long pid = libos_raw(SYS_getpid, 0, 0, 0, 0, 0, 0);
	char buf[2048] __attribute__((aligned(8)));
	long n;

	if (dir < 0)
		return;
	while ((n = libos_raw(SYS_getdents64, dir, (long)buf, sizeof(buf), 0, 0, 0)) > 0) {
		for (long off = 0; off < n; off += ((struct dirent64 *)(buf + off))->reclen) {
			const char *nm = ((struct dirent64 *)(buf + off))->name;
			int fd = nm[0] >= '0' && nm[0] <= '9' ? atoi(nm) : -1;
			if (fd < 0 || fd == epfd || fd == dir || fd >= NET_FD_MAX || net_fd_get(fd))
				continue;
			if (libos_raw(SYS_kcmp, pid, pid, KCMP_FILE, epfd, fd, 0) == 0) {
				net_fd_set(fd, NET_FD_EPOLL, ep);
				ep->refs++;
			}
		}
	}
	libos_raw(SYS_close, dir, 0, 0, 0, 0, 0);
}

/* ---- the check list ----
 * A scan visits only the items on its epoll's check list: an item goes there when its
 * socket may have changed (the backend's touched list for what packets, timers and
 * backend calls did; net_sock_changed() for the LibOS's own calls on it; EPOLL_CTL_ADD
 * and MOD), and stays after a visit only while it must be looked at again: level-
 * triggered and ready (reported again at every wait, as on Linux), or a socket without
 * a TCP connection in the backend (UDP, no stamps: always looked at). */

static void ep_queue(struct net_epitem *it)
{
	struct net_epoll *ep = it->ep;

	if (it->queued)
		return;
	it->queued = true;
	it->qnext = NULL;
	it->qprev = ep->qtail;
	if (ep->qtail)
		ep->qtail->qnext = it;
	else
		ep->qhead = it;
	ep->qtail = it;
}

static void ep_unqueue(struct net_epitem *it)
{
	struct net_epoll *ep = it->ep;

	if (!it->queued)
		return;
	if (it->qprev)
		it->qprev->qnext = it->qnext;
	else
		ep->qhead = it->qnext;
	if (it->qnext)
		it->qnext->qprev = it->qprev;
	else
		ep->qtail = it->qprev;
	it->queued = false;
}

void net_sock_changed_slow(struct net_sock *s)
{
	for (struct net_epitem *it = s->epitems; it; it = it->snext)
		ep_queue(it);
}

/* What the backend changed since the last time (lock held): the sockets it names go on
 * their items' check lists. */
static void ep_drain(void)
{
	void *u[64];
	int n;

	if (!g_net.be)
		return;
	do {
		n = g_net.be->tcp_touched(u, 64);
		for (int i = 0; i < n; i++)
			net_sock_changed(u[i]);
	} while (n == 64);
}

/* Take item @i out of @ep (off its lists) and free it. */
static void item_remove(struct net_epoll *ep, int i)
{
	struct net_epitem *it = ep->items[i];

	ep_unqueue(it);
	for (struct net_epitem **p = &it->s->epitems; *p; p = &(*p)->snext) {
		if (*p == it) {
			*p = it->snext;
			break;
		}
	}
	ep->items[i] = ep->items[--ep->n];
	ep->items[i]->idx = i;
	free(it);
}

/* The item of @fd (socket @s) in @ep, or NULL.  A walk of the socket's own items (one per
 * epoll holding it, as a rule), not of the epoll's: epoll_ctl and close cost the same
 * with 10 or 10,000 sockets in the epoll. */
static struct net_epitem *item_find(const struct net_epoll *ep, const struct net_sock *s, int fd)
{
	for (struct net_epitem *it = s->epitems; it; it = it->snext)
		if (it->ep == ep && it->fd == fd)
			return it;
	return NULL;
}

void net_epoll_free(struct net_epoll *ep)
{
	if (!ep)
		return;
	for (struct net_epoll **p = &g_net.epolls; *p; p = &(*p)->next) {
		if (*p == ep) {
			*p = ep->next;
			break;
		}
	}
	while (ep->n)
		item_remove(ep, ep->n - 1);
	free(ep->items);
	free(ep);
}

void net_epoll_forget(int fd, struct net_sock *s)
{
	/* The items of @fd: the socket's own list holds them all. */
	for (struct net_epitem *it = s->epitems, *next; it; it = next) {
		next = it->snext;
		if (fd < 0 || it->fd == fd)
			item_remove(it->ep, it->idx);
	}
}

long libos_sys_epoll_ctl(struct libos_args *a)
{
	int epfd = (int)a->a[0], op = (int)a->a[1], fd = (int)a->a[2];
	struct epoll_event ev = { 0 };
	long r = 0;

	if (a->self->vfork_child)
		return net_passthrough(a);
	net_lock();
	struct net_sock *s = net_sock_get(fd);
	if (!s) {
		struct net_fd *kf = op == EPOLL_CTL_ADD ? net_fd_get(epfd) : NULL;
		if (kf && kf->kind == NET_FD_EPOLL)
			kf->ep->kfds = true;	/* a kernel fd joins one of ours */
		net_unlock();
		return net_passthrough(a);
	}
	if (op != EPOLL_CTL_DEL && libos_from_guest(&ev, (const void *)a->a[3], sizeof(ev))) {
		r = -EFAULT;
		goto out;
	}
	if (epfd == fd || epfd < 0 || epfd >= NET_FD_MAX) {
		r = epfd == fd ? -EINVAL : -EBADF;
		goto out;
	}
	struct net_fd *f = net_fd_get(epfd);
	if (f && f->kind != NET_FD_EPOLL) {
		r = -EINVAL;	/* a socket is not an epoll */
		goto out;
	}
	if (!f) {
		/* Is it an epoll at all?  The kernel says so: deleting our eventfd (never in
		 * any epoll) is ENOENT from an epoll, EINVAL from anything else. */
		struct epoll_event probe = { 0 };
		long k = libos_raw(SYS_epoll_ctl, epfd, EPOLL_CTL_DEL, fd, (long)&probe, 0, 0);
		if (k == -EBADF || k == -EINVAL) {
			r = k;
			goto out;
		}
	}
	/* EPOLLEXCLUSIVE is for ADD only, with no bits but these: do_epoll_ctl() refuses
	 * it before looking the item up. */
	if (op != EPOLL_CTL_DEL && (ev.events & EPOLLEXCLUSIVE) &&
	    (op == EPOLL_CTL_MOD || (ev.events & ~(EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP |
						   EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)))) {
		r = -EINVAL;
		goto out;
	}
	struct net_epoll *ep = f ? f->ep : NULL;
	struct net_epitem *it = ep ? item_find(ep, s, fd) : NULL;
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it) {
			r = -EEXIST;
			break;
		}
		if (!ep) {
			ep = calloc(1, sizeof(*ep));
			if (!ep) {
				r = -ENOMEM;
				break;
			}
			ep->kfds = kernel_members(epfd);
			ep->refs = 1;
			net_fd_set(epfd, NET_FD_EPOLL, ep);
			adopt_aliases(epfd, ep);
			ep->next = g_net.epolls;
			g_net.epolls = ep;
		}
		if (ep->n == ep->cap) {
			int cap = ep->cap ? ep->cap * 2 : 16;
			struct net_epitem **ni = realloc(ep->items, (size_t)cap * sizeof(*ni));
			if (!ni) {
				r = -ENOMEM;
				break;
			}
			ep->items = ni;
			ep->cap = cap;
		}
		if (!(it = malloc(sizeof(*it)))) {
			r = -ENOMEM;
			break;
		}
		if (!ep->n)
			kick();		/* waiters in the kernel: come back, wait our way */
		*it = (struct net_epitem){ .ep = ep, .snext = s->epitems, .fd = fd, .s = s,
					   .events = ev.events, .data = ev.data.u64,
					   .gen = s->gen };
		s->epitems = it;
		it->idx = ep->n;
		ep->items[ep->n++] = it;
		ep_queue(it);		/* looked at by the next wait */
		break;
	case EPOLL_CTL_MOD:
		if (!it) {
			r = -ENOENT;
			break;
		}
		if (it->events & EPOLLEXCLUSIVE) {
			r = -EINVAL;
			break;
		}
		it->events = ev.events;
		it->data = ev.data.u64;
		it->off = false;
		it->seen = 0;		/* a MOD re-arms, as the kernel re-checks readiness */
		ep_queue(it);
		break;
	case EPOLL_CTL_DEL:
		if (!it) {
			r = -ENOENT;
			break;
		}
		item_remove(ep, it->idx);
		break;
	default:
		r = -EINVAL;
	}
out:
	net_unlock();
	return r;
}

/* Visit @it: its event for the program into *@out when its trigger rule says so (true).
 * *@again: it must be visited at the next scan even if nothing changes (see above). */
static bool visit(struct net_epitem *it, struct epoll_event *out, bool *again)
{
	uint32_t avail;
	bool stampless = !it->s->tcb;	/* the backend tells no changes of it */

	*again = stampless;
	if (it->off)
		return false;	/* ONESHOT fired: EPOLL_CTL_MOD queues it again */
	uint32_t want = (it->events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI)) |
			EPOLLERR | EPOLLHUP;
	uint32_t ev = net_sock_events(it->s, &avail) & want;
	if (it->events & EPOLLET) {
		if (it->gen != it->s->gen) {
			it->seen = 0;	/* the program met EAGAIN since: re-armed */
			it->gen = it->s->gen;
		}
		/* New data is an edge too, as on Linux (every arrival wakes an ET item):
		 * more readable than at the last visit, so a partial read does not hide the
		 * next arrival. */
		bool fire = (ev & ~it->seen) || ((ev & EPOLLIN) && avail > it->avail);
		it->seen = ev;
		it->avail = avail;
		if (!fire)
			return false;
	} else if (!ev) {
		return false;
	} else {
		*again = true;	/* level-triggered and ready: reported again next time */
	}
	out->events = ev;
	out->data.u64 = it->data;
	if (it->events & EPOLLONESHOT) {
		it->off = true;
		*again = false;
	}
	return true;
}

bool net_epoll_readable(struct net_epoll *ep)
{
	ep_drain();
	for (struct net_epitem *it = ep->qhead; it; it = it->qnext) {
		uint32_t avail;
		uint32_t want = (it->events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI)) |
				EPOLLERR | EPOLLHUP;
		uint32_t ev = it->off ? 0 : net_sock_events(it->s, &avail) & want;
		/* what visit() would report, its state left as it is */
		if (ev && (!(it->events & EPOLLET) || it->gen != it->s->gen || (ev & ~it->seen) ||
			   ((ev & EPOLLIN) && avail > it->avail)))
			return true;
	}
	return false;
}

/* Ready LibOS items of @ep into @out (at most @max), with their trigger rules: only the
 * items on the check list are visited (O(changed), not O(items)).  Those not reached
 * (@max) stay at its head; those visited that must be looked at again go to its tail,
 * so a busy socket does not starve the ones behind it (Linux re-queues a
 * level-triggered item at the tail of its ready list too). */
static int collect(struct net_epoll *ep, struct epoll_event *out, int max)
{
	struct net_epitem *again_head = NULL, **again_tail = &again_head, *it;
	int n = 0;

	ep_drain();
	while (n < max && (it = ep->qhead)) {
		bool again;
		ep_unqueue(it);
		if (visit(it, &out[n], &again))
			n++;
		if (again) {
			it->qnext = NULL;
			*again_tail = it;
			again_tail = &it->qnext;
		}
	}
	while ((it = again_head)) {
		again_head = it->qnext;
		ep_queue(it);
	}
	return n;
}

/* collect(), unless nothing changed since a scan that found nothing (lock held): no
 * LibOS call since (g_net.gen) and nothing new from the backend (ready_gen). */
static int scan(struct net_epoll *ep, struct epoll_event *out, int max)
{
	uint64_t bgen = g_net.be ? g_net.be->ready_gen() : 0;
	int n;

	if (ep->idle && ep->idle_gen == g_net.gen && ep->idle_bgen == bgen)
		return 0;
	n = collect(ep, out, max);
	ep->idle = n == 0;
	ep->idle_gen = g_net.gen;
	ep->idle_bgen = bgen;
	return n;
}

/* The mask a kernel wait takes for the program's @mask: what the LibOS deferred stays
 * blocked (it is flushed on the way out). */
static uint64_t kernel_mask(struct libos_args *a, const uint64_t *mask)
{
	return mask ? (*mask & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP) | SIGBIT(SIGSYS))) |
		      a->self->deferred : 0;
}

/* A wait on an epoll with no LibOS member: the kernel's, with the kick in it (*@kicked
 * says it fired).  A fork child only filters (the epoll may be its parent's too). */
static long ep_wait_kernel(struct libos_args *a, int epfd, struct epoll_event *uev, int max,
			   int64_t timeout_us, const uint64_t *mask, bool *kicked)
{
	struct epoll_event *ev, kev = { .events = EPOLLIN | EPOLLET, .data.u64 = EP_KICK_DATA };
	struct timespec ts = { timeout_us / 1000000, timeout_us % 1000000 * 1000 };
	uint64_t kmask = kernel_mask(a, mask);
	long r;

	if (!g_net.child) {
		net_lock_ro();
		int k = kick_fd();
		net_unlock();
		if (k < 0)
			return net_passthrough(a);
		r = libos_raw(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, k, (long)&kev, 0, 0);
		if (r < 0 && r != -EEXIST)
			return net_passthrough(a);	/* not an epoll: the kernel says so */
	}
	if (!(ev = malloc((size_t)max * sizeof(*ev))))
		return -ENOMEM;
	if (a->self->tls.hold)
		libos_net_release(a->self);	/* a LibOS epoll with no member left */
	r = libos_raw(SYS_epoll_pwait2, epfd, (long)ev, max, timeout_us < 0 ? 0 : (long)&ts,
		      mask ? (long)&kmask : 0, 8);
	if (r > 0 && (r = kick_drop(ev, (int)r, kicked)) > 0 &&
	    libos_to_guest(uev, ev, (size_t)r * sizeof(*ev)))
		r = -EFAULT;
	free(ev);
	return r;
}

/* A wait on an epoll with LibOS members: poll the backend run-to-completion and check
 * the kernel's side in the same loop.  Returns the events, 0 or -errno. */
static long ep_wait_ours(struct libos_args *a, int epfd, struct epoll_event *uev, int max,
			 int64_t timeout_us, const uint64_t *mask)
{
	struct epoll_event *ev;
	struct net_fd *f;
	uint64_t start = 0, busy = 0, now = 0, kmask = kernel_mask(a, mask);
	long r;
	bool kicked = false;

	if (!(ev = malloc((size_t)max * sizeof(*ev))))
		return -ENOMEM;
	/* The clock is read only once nothing is ready: a wait that finds events at once
	 * (a busy server's every call) costs no clock_gettime, and its timeout starts
	 * counting at the first empty round, a few hundred ns late at most. */
	for (;;) {
		int n = 0, sleep_us = 0;
		bool moved, kcheck;
		moved = g_net.be && g_net.be->poll() > 0;	/* outside the lock, as net_wait */
		net_lock_ro();
		f = net_fd_get(epfd);
		if (!f || f->kind != NET_FD_EPOLL) {
			net_unlock();
			r = -EBADF;
			break;
		}
		n = scan(f->ep, ev, max);
		/* The kernel's side (kernel fds in the same epoll, the signal mask): always when
		 * it may matter, else every EP_KCHECK_EVERY rounds (struct net_epoll). */
		kcheck = n < max && (mask || f->ep->kfds || ++f->ep->kskip >= EP_KCHECK_EVERY);
		if (kcheck)
			f->ep->kskip = 0;
		net_unlock();
		if (n == 0) {
			now = net_now_us();
			if (!start)
				start = busy = now;
			if (moved)
				busy = now;
			sleep_us = net_idle_sleep_us(now - busy);
			if (timeout_us >= 0 && (int64_t)(now - start) + sleep_us > timeout_us)
				sleep_us = 0;
		}
		long k = 0;
		if (kcheck || sleep_us) {	/* a sleep is a wait in the kernel's epoll */
			struct timespec ts = { 0, sleep_us * 1000L };
			k = libos_raw(SYS_epoll_pwait2, epfd, (long)(ev + n), max - n, (long)&ts,
				      mask ? (long)&kmask : 0, 8);
		}
		if (k < 0 && n == 0) {
			r = k;
			break;
		}
		if (k > 0)
			n += kick_drop(ev + n, (int)k, &kicked);
		if (n > 0) {
			r = libos_to_guest(uev, ev, (size_t)n * sizeof(*ev)) ? -EFAULT : n;
			break;
		}
		if (a->self->tls.pending) {
			r = -EINTR;
			break;
		}
		if (sleep_us)
			now = net_now_us();
		if (timeout_us >= 0 && (int64_t)(now - start) >= timeout_us) {
			r = 0;
			break;
		}
		if (!sleep_us)
			net_idle(now - busy);
	}
	free(ev);
	return r;
}

static long ep_wait(struct libos_args *a, int epfd, struct epoll_event *uev, int max,
		    int64_t timeout_us, const uint64_t *mask)
{
	uint64_t deadline = timeout_us > 0 ? net_now_us() + (uint64_t)timeout_us : 0;

	if (max <= 0 || max > EP_MAX_EVENTS)
		return -EINVAL;
	if (!net_user_range_ok(uev, (size_t)max * sizeof(*uev)))
		return -EFAULT;		/* do_epoll_wait(): before the fd is looked at */
	if (max > 1024)
		max = 1024;
	for (;;) {
		net_lock_ro();
		struct net_fd *f = net_fd_get(epfd);
		bool mine = f && f->kind == NET_FD_EPOLL && f->ep->n && !g_net.child &&
			    !a->self->vfork_child;
		net_unlock();
		if (mine)
			return ep_wait_ours(a, epfd, uev, max, timeout_us, mask);
		if (!g_net.on || a->self->vfork_child || timeout_us == 0)
			return net_passthrough(a);
		bool kicked = false;
		long r = ep_wait_kernel(a, epfd, uev, max, timeout_us, mask, &kicked);
		if (r || !kicked)
			return r;
		/* Woken by the kick alone: a LibOS socket joined.  Decide again. */
		if (timeout_us > 0) {
			uint64_t now = net_now_us();
			if (now >= deadline)
				return 0;
			timeout_us = (int64_t)(deadline - now);
		}
	}
}

long libos_sys_epoll_wait(struct libos_args *a)
{
	int ms = (int)a->a[3];
	return ep_wait(a, (int)a->a[0], (struct epoll_event *)a->a[1], (int)a->a[2],
		       ms < 0 ? -1 : (int64_t)ms * 1000, NULL);
}

static long mask_get(struct libos_args *a, const void *umask, long size, uint64_t *mask)
{
	(void)a;
	if (!umask)
		return 0;
	if (size != 8)
		return -EINVAL;
	return libos_from_guest(mask, umask, 8) ? -EFAULT : 1;
}

long libos_sys_epoll_pwait(struct libos_args *a)
{
	uint64_t mask;
	int ms = (int)a->a[3];
	long r = mask_get(a, (const void *)a->a[4], a->a[5], &mask);

	if (r < 0)
		return r;
	return ep_wait(a, (int)a->a[0], (struct epoll_event *)a->a[1], (int)a->a[2],
		       ms < 0 ? -1 : (int64_t)ms * 1000, r ? &mask : NULL);
}

long libos_sys_epoll_pwait2(struct libos_args *a)
{
	struct timespec ts;
	int64_t us = -1;
	uint64_t mask;
	long r = mask_get(a, (const void *)a->a[4], a->a[5], &mask);

	if (r < 0)
		return r;
	if (a->a[3]) {
		if (libos_from_guest(&ts, (const void *)a->a[3], sizeof(ts)))
			return -EFAULT;
		if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
			return -EINVAL;
		us = ts.tv_sec * 1000000LL + (ts.tv_nsec + 999) / 1000;
	}
	return ep_wait(a, (int)a->a[0], (struct epoll_event *)a->a[1], (int)a->a[2], us,
		       r ? &mask : NULL);
}
