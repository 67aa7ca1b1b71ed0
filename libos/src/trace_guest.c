// SPDX-License-Identifier: MIT
/* --trace: arguments that point into guest memory (paths, data buffers, iovecs, argv,
 * timespecs), read only through the caller's reader.  Anything it cannot read prints as
 * its address, as strace does. */
#include <errno.h>
#include <sys/uio.h>
#include <time.h>

#include "trace_int.h"

#define PAGE 4096ul
#define CHUNK 64ul	/* bytes read at once: small, so a short string reads little */

static bool guest_read(struct libos_trace_out *o, void *dst, unsigned long addr, size_t n)
{
	return o->read && addr && o->read(dst, (const void *)addr, n) == 0;
}

/* Read @n bytes at @addr, or print @addr in their place and return false. */
static bool read_or_addr(struct libos_trace_out *o, void *dst, unsigned long addr, size_t n)
{
	if (guest_read(o, dst, addr, n))
		return true;
	libos_trace_put_ptr(o, addr);
	return false;
}

static bool is_odigit(int c)
{
	return c >= '0' && c <= '7';
}

/* One byte of a quoted string, escaped as strace does: C escapes for the usual controls,
 * octal for the rest, three digits when the next byte (@next, -1 at the end) is an octal
 * digit so that the escape stays unambiguous. */
static void put_escaped(struct libos_trace_out *o, unsigned char c, int next)
{
	static const char esc[] = { ['\t'] = 't', ['\n'] = 'n', ['\v'] = 'v', ['\f'] = 'f',
				    ['\r'] = 'r', ['"'] = '"', ['\\'] = '\\' };

	if (c < sizeof(esc) && esc[c]) {
		libos_trace_putc(o, '\\');
		libos_trace_putc(o, esc[c]);
	} else if (c >= ' ' && c <= '~') {
		libos_trace_putc(o, (char)c);
	} else {
		libos_trace_putc(o, '\\');
		if (c >= 0100 || is_odigit(next))
			libos_trace_putc(o, (char)('0' + (c >> 6)));
		if (c >= 010 || is_odigit(next))
			libos_trace_putc(o, (char)('0' + (c >> 3 & 7)));
		libos_trace_putc(o, (char)('0' + (c & 7)));
	}
}

/* The guest bytes at @addr as a quoted, escaped string: @len bytes, or up to a NUL when @nul
 * (then @len bounds the search), at most @max of them, then `...` when some were left.
 * Reads never cross a page they do not need: a string that ends just before an unmapped
 * page prints whole.  The address alone when the first byte cannot be read. */
static void put_str(struct libos_trace_out *o, unsigned long addr, size_t len, size_t max,
		    bool nul)
{
	unsigned char chunk[CHUNK];
	size_t done = 0, want = len < max ? len : max;
	int pending = -1;
	bool more = len > max;

	/* With @nul, one byte past @max tells a string of exactly @max bytes from a longer one. */
	if (nul && more)
		want++;
	while (done < want) {
		size_t n = want - done, page_left = PAGE - (addr + done) % PAGE;

		n = n < CHUNK ? n : CHUNK;
		n = n < page_left ? n : page_left;
		if (!guest_read(o, chunk, addr + done, n)) {
			if (!done) {
				libos_trace_put_ptr(o, addr);
				return;
			}
			more = true;	/* the rest is unreadable: say it was cut */
			break;
		}
		if (!done)
			libos_trace_putc(o, '"');
		for (size_t i = 0; i < n; i++) {
			if (nul && !chunk[i]) {
				more = false;
				goto out;
			}
			if (done + i == max)	/* the extra byte of a @nul string */
				goto out;
			if (pending >= 0)
				put_escaped(o, (unsigned char)pending, chunk[i]);
			pending = chunk[i];
		}
		done += n;
	}
out:
	if (!want)		/* nothing to read: "" whatever the address */
		libos_trace_putc(o, '"');
	if (pending >= 0)
		put_escaped(o, (unsigned char)pending, -1);
	libos_trace_putc(o, '"');
	if (more)
		libos_trace_puts(o, "...");
}

/* [{iov_base="...", iov_len=N}, ...]: @count iovecs, their data up to @total bytes. */
static void put_iov(struct libos_trace_out *o, unsigned long addr, long count, size_t total)
{
	struct iovec iov;

	if (count < 0) {
		libos_trace_put_ptr(o, addr);
		return;
	}
	if (!read_or_addr(o, &iov, addr, sizeof(iov)))
		return;
	libos_trace_putc(o, '[');
	for (long i = 0; i < count; i++) {
		size_t n;

		if (i == LIBOS_TRACE_ARGV_MAX) {
			libos_trace_puts(o, ", ...");
			break;
		}
		if (i && !guest_read(o, &iov, addr + i * sizeof(iov), sizeof(iov))) {
			libos_trace_puts(o, ", ...");
			break;
		}
		n = iov.iov_len < total ? iov.iov_len : total;
		libos_trace_puts(o, i ? ", {iov_base=" : "{iov_base=");
		put_str(o, (unsigned long)iov.iov_base, n, LIBOS_TRACE_STRLEN, false);
		libos_trace_puts(o, ", iov_len=");
		libos_trace_put_udec(o, iov.iov_len);
		libos_trace_putc(o, '}');
		total -= n;
	}
	libos_trace_putc(o, ']');
}

/* ["ls", "-l"]: a NULL-terminated array of strings, LIBOS_TRACE_ARGV_MAX of them at most. */
static void put_argv(struct libos_trace_out *o, unsigned long addr)
{
	unsigned long p;

	if (!read_or_addr(o, &p, addr, sizeof(p)))
		return;
	libos_trace_putc(o, '[');
	for (int i = 0; p; i++) {
		if (i)
			libos_trace_puts(o, ", ");
		if (i == LIBOS_TRACE_ARGV_MAX) {
			libos_trace_puts(o, "...");
			break;
		}
		put_str(o, p, LIBOS_TRACE_PATH_MAX, LIBOS_TRACE_STRLEN, true);
		if (!guest_read(o, &p, addr + (i + 1) * sizeof(p), sizeof(p))) {
			libos_trace_puts(o, ", ...");
			break;
		}
	}
	libos_trace_putc(o, ']');
}

/* 0x7ffd... / * 23 vars * /: the environment's size, not its content (as strace). */
static void put_envp(struct libos_trace_out *o, unsigned long addr)
{
	unsigned long p = 1, n = 0;

	libos_trace_put_ptr(o, addr);
	while (n < 65536 && guest_read(o, &p, addr + n * sizeof(p), sizeof(p)) && p)
		n++;
	if (p)		/* unreadable, or absurdly long */
		return;
	libos_trace_puts(o, " /* ");
	libos_trace_put_udec(o, n);
	libos_trace_puts(o, n == 1 ? " var */" : " vars */");
}

static void put_timespec(struct libos_trace_out *o, unsigned long addr)
{
	struct timespec ts;

	if (!read_or_addr(o, &ts, addr, sizeof(ts)))
		return;
	libos_trace_puts(o, "{tv_sec=");
	libos_trace_put_dec(o, ts.tv_sec);
	libos_trace_puts(o, ", tv_nsec=");
	libos_trace_put_dec(o, ts.tv_nsec);
	libos_trace_putc(o, '}');
}

/* {flags=CLONE_VM|..., child_tid=..., exit_signal=SIGCHLD, stack=..., ...}: the fields of
 * struct clone_args (linux/sched.h) every size has. */
static void put_clone_args(struct libos_trace_out *o, unsigned long addr)
{
	static const char *const field[] = { "flags=", "pidfd=", "child_tid=", "parent_tid=",
					     "exit_signal=", "stack=", "stack_size=", "tls=" };
	uint64_t ca[8];

	if (!read_or_addr(o, ca, addr, sizeof(ca)))
		return;
	libos_trace_putc(o, '{');
	for (int i = 0; i < 8; i++) {
		if (i == 1 && !(ca[0] & 0x1000))	/* pidfd only with CLONE_PIDFD */
			continue;
		libos_trace_puts(o, i ? ", " : "");
		libos_trace_puts(o, field[i]);
		if (i == 0)
			libos_trace_put_named(o, TK_CLONE, ca[0] & ~0xfful);
		else if (i == 4)
			libos_trace_put_named(o, TK_SIGNAL, ca[4]);
		else if (i == 6)
			libos_trace_put_hex(o, ca[6]);
		else
			libos_trace_put_ptr(o, ca[i]);
	}
	libos_trace_putc(o, '}');
}

static void put_fdpair(struct libos_trace_out *o, unsigned long addr)
{
	int fd[2];

	if (!read_or_addr(o, fd, addr, sizeof(fd)))
		return;
	libos_trace_putc(o, '[');
	libos_trace_put_dec(o, fd[0]);
	libos_trace_puts(o, ", ");
	libos_trace_put_dec(o, fd[1]);
	libos_trace_putc(o, ']');
}

bool libos_trace_put_guest(struct libos_trace_out *o, char kind, const long args[6], int i)
{
	unsigned long addr = (unsigned long)args[i];
	unsigned long next = i < 5 ? (unsigned long)args[i + 1] : 0;
	bool filled = o->done && o->result >= 0;	/* the call wrote its output */

	switch (kind) {
	case TK_PATH:	put_str(o, addr, LIBOS_TRACE_PATH_MAX, LIBOS_TRACE_PATH_MAX, true); break;
	case TK_BUF_IN:	put_str(o, addr, next, LIBOS_TRACE_STRLEN, false); break;
	case TK_IOV_IN:	put_iov(o, addr, (long)next, (size_t)-1); break;
	case TK_ARGV:	put_argv(o, addr); break;
	case TK_ENVP:	put_envp(o, addr); break;
	case TK_CLONE_ARGS: put_clone_args(o, addr); break;
	case TK_TIMESPEC:
		if (addr)
			put_timespec(o, addr);
		else
			libos_trace_puts(o, "NULL");
		break;
	case TK_BUF_OUT:
	case TK_STR_OUT:
	case TK_FDPAIR_OUT:
	case TK_IOV_OUT:
		if (!filled)
			libos_trace_put_ptr(o, addr);
		else if (kind == TK_BUF_OUT)
			put_str(o, addr, (size_t)o->result, LIBOS_TRACE_STRLEN, false);
		else if (kind == TK_STR_OUT)
			put_str(o, addr, LIBOS_TRACE_PATH_MAX, LIBOS_TRACE_PATH_MAX, true);
		else if (kind == TK_FDPAIR_OUT)
			put_fdpair(o, addr);
		else
			put_iov(o, addr, (long)next, (size_t)o->result);
		break;
	default:
		return false;
	}
	return true;
}
