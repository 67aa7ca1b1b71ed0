// SPDX-License-Identifier: MIT
/* --trace: one strace-style line per syscall (the driver over trace_sig.c), syscall names
 * and numbers, the --trace-filter list.  No malloc, no stdio, no locale: it runs in vfork
 * children and at exit_group, like --stats. */
#include <errno.h>
#include <string.h>

#include "trace_int.h"

void libos_trace_putc(struct libos_trace_out *o, char c)
{
	/* The last byte of @buf is kept for the NUL. */
	if (o->n + 1 < o->size)
		o->buf[o->n] = c;
	o->n++;
}

void libos_trace_puts(struct libos_trace_out *o, const char *s)
{
	while (*s)
		libos_trace_putc(o, *s++);
}

static void put_digits(struct libos_trace_out *o, unsigned long v, unsigned base)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		libos_trace_putc(o, d[--n]);
}

void libos_trace_put_udec(struct libos_trace_out *o, unsigned long v)
{
	put_digits(o, v, 10);
}

void libos_trace_put_dec(struct libos_trace_out *o, long v)
{
	if (v < 0) {
		libos_trace_putc(o, '-');
		put_digits(o, -(unsigned long)v, 10);	/* LONG_MIN too */
	} else {
		put_digits(o, (unsigned long)v, 10);
	}
}

/* As printf's %#lx: 0 is "0". */
void libos_trace_put_hex(struct libos_trace_out *o, unsigned long v)
{
	if (v)
		libos_trace_puts(o, "0x");
	put_digits(o, v, 16);
}

/* As strace prints modes (%#03o): 0644, 000. */
void libos_trace_put_oct(struct libos_trace_out *o, unsigned long v)
{
	libos_trace_putc(o, '0');
	if (v < 010)
		libos_trace_putc(o, '0');
	put_digits(o, v, 8);
}

void libos_trace_put_ptr(struct libos_trace_out *o, unsigned long v)
{
	if (v)
		libos_trace_put_hex(o, v);
	else
		libos_trace_puts(o, "NULL");
}

const char *libos_trace_name(long nr)
{
	static char unknown[sizeof("syscall_0x") + 16];
	struct libos_trace_out o = { unknown, sizeof(unknown), 0, NULL, 0, false };

	if (nr >= 0 && nr < LIBOS_TRACE_NR_MAX && g_libos_trace_names[nr])
		return g_libos_trace_names[nr];
	libos_trace_puts(&o, "syscall_");
	libos_trace_put_hex(&o, (unsigned long)nr);
	unknown[o.n] = '\0';
	return unknown;
}

/* @len bytes at @s as a number below LIBOS_TRACE_NR_MAX ("0x1c" or "28"), else -1. */
static int parse_nr(const char *s, size_t len)
{
	unsigned base = 10;
	long v = 0;

	if (len > 2 && s[0] == '0' && s[1] == 'x') {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (!len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		const char *d = memchr("0123456789abcdef", s[i], base);

		if (!s[i] || !d)
			return -1;
		v = v * base + (d - "0123456789abcdef");
		if (v >= LIBOS_TRACE_NR_MAX)
			return -1;
	}
	return (int)v;
}

/* The number of the syscall named by the @len bytes at @name, or -1. */
static int lookup_nr(const char *name, size_t len)
{
	static const char generic[] = "syscall_";

	for (int nr = 0; nr < LIBOS_TRACE_NR_MAX; nr++) {
		const char *n = g_libos_trace_names[nr];

		if (n && !strncmp(n, name, len) && !n[len])
			return nr;
	}
	if (len > sizeof(generic) - 1 && !strncmp(name, generic, sizeof(generic) - 1))
		return parse_nr(name + sizeof(generic) - 1, len - (sizeof(generic) - 1));
	return -1;
}

int libos_trace_nr(const char *name)
{
	return lookup_nr(name, strlen(name));
}

int libos_trace_filter_parse(const char *list, uint8_t *bitmap, const char **bad)
{
	memset(bitmap, list[0] == '!' ? 0xff : 0, LIBOS_TRACE_FILTER_BYTES);
	for (const char *s = list;; s++) {
		size_t len = strcspn(s, ",");
		bool neg = *s == '!';
		int nr = -1;

		if (len - neg == 3 && !strncmp(s + neg, "all", 3)) {
			memset(bitmap, neg ? 0 : 0xff, LIBOS_TRACE_FILTER_BYTES);
		} else if (len > neg && (nr = lookup_nr(s + neg, len - neg)) >= 0) {
			if (neg)
				bitmap[nr / 8] &= (uint8_t)~(1u << (nr % 8));
			else
				bitmap[nr / 8] |= (uint8_t)(1u << (nr % 8));
		} else {
			if (bad)
				*bad = s;
			return -EINVAL;
		}
		s += len;
		if (!*s)
			return 0;
	}
}

/* ` = -1 ENOENT (No such file or directory)` and the other results. */
static void put_result(struct libos_trace_out *o, const char *sig, const long *args,
		       long result)
{
	const char *kind = strchr(sig ? sig : "", '=');

	libos_trace_puts(o, ") = ");
	if (!o->done) {
		libos_trace_putc(o, '?');
	} else if (result < 0 && result >= -4095) {
		long e = -result;
		bool known = e <= LIBOS_TRACE_ERRNO_MAX && g_libos_trace_errnos[e].name;

		libos_trace_puts(o, "-1 ");
		if (known) {
			libos_trace_puts(o, g_libos_trace_errnos[e].name);
			libos_trace_puts(o, " (");
			libos_trace_puts(o, g_libos_trace_errnos[e].text);
		} else {
			libos_trace_puts(o, "ERRNO_");
			libos_trace_put_dec(o, e);
			libos_trace_puts(o, " (Unknown error ");
			libos_trace_put_dec(o, e);
		}
		libos_trace_putc(o, ')');
	} else if (kind && (kind[1] == 'p' || kind[1] == 'x')) {
		libos_trace_put_hex(o, (unsigned long)result);
	} else if (kind && kind[1] == 'o') {
		libos_trace_put_oct(o, (unsigned long)result);
	} else if (kind && kind[1] == '?') {
		libos_trace_putc(o, '?');
	} else if (!(sig && sig[0] && sig[1] == TK_FCNTL &&
		     libos_trace_put_fcntl_result(o, (unsigned long)args[1], result))) {
		libos_trace_put_dec(o, result);
	}
}

/* One argument of a plain kind: a number, a named value or a guest pointer. */
static void put_arg(struct libos_trace_out *o, char kind, const long *args, int i)
{
	unsigned long v = (unsigned long)args[i];

	switch (kind) {
	case TK_INT:
	case TK_FD:	libos_trace_put_dec(o, (int)v); break;
	case TK_DIRFD:	if ((int)v == -100)
				libos_trace_puts(o, "AT_FDCWD");
			else
				libos_trace_put_dec(o, (int)v);
			break;
	case TK_LONG:	libos_trace_put_dec(o, (long)v); break;
	case TK_ULONG:	libos_trace_put_udec(o, v); break;
	case TK_MODE:	libos_trace_put_oct(o, v & 07777777); break;
	case TK_PTR:	libos_trace_put_ptr(o, v); break;
	default:
		if (!libos_trace_put_guest(o, kind, args, i) && !libos_trace_put_named(o, kind, v))
			libos_trace_put_hex(o, v);	/* TK_HEX and anything unknown */
	}
}

size_t libos_trace_format(char *buf, size_t size, libos_trace_read_fn *read, int pid, long nr,
			  const long args[6], long result, int flags)
{
	struct libos_trace_out o = { buf, size, 0, read, result, !(flags & LIBOS_TRACE_NORETURN) };
	bool known = nr >= 0 && nr < LIBOS_TRACE_NR_MAX;
	const char *name = known ? g_libos_trace_names[nr] : NULL;
	const char *sig = known ? g_libos_trace_sigs[nr] : NULL;
	int nargs = sig ? (int)strcspn(sig, "=") : 6;

	if (pid > 0) {
		libos_trace_puts(&o, "[pid ");
		libos_trace_put_dec(&o, pid);
		libos_trace_puts(&o, "] ");
	}
	if (name) {
		libos_trace_puts(&o, name);
	} else {
		libos_trace_puts(&o, "syscall_");
		libos_trace_put_hex(&o, (unsigned long)nr);
	}
	libos_trace_putc(&o, '(');
	for (int i = 0; i < nargs; i++) {
		char kind = sig ? sig[i] : TK_HEX;

		if (i)
			libos_trace_puts(&o, ", ");
		if (kind == TK_FCNTL) {
			libos_trace_put_named(&o, kind, (unsigned long)args[i]);
			if (i < 5)
				libos_trace_put_fcntl_arg(&o, (unsigned long)args[i],
							  (unsigned long)args[i + 1]);
			break;
		}
		if (kind == TK_FUTEX)
			nargs = libos_trace_futex_nargs((unsigned long)args[i]);
		put_arg(&o, kind, args, i);
		/* The mode of open/openat/mq_open counts only when a file may be created. */
		if (kind == TK_OPEN && i + 1 < nargs && sig[i + 1] == TK_MODE &&
		    !(args[i] & 0100 /* O_CREAT */) && (args[i] & 020200000) != 020200000)
			break;
	}
	put_result(&o, sig, args, result);
	libos_trace_putc(&o, '\n');
	if (size)
		buf[o.n < size ? o.n : size - 1] = '\0';
	return o.n;
}
