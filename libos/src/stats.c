// SPDX-License-Identifier: MIT
/* --stats: sites per tactic, calls per path (fast / libos / trap) and per number.
 * Counters are per thread (the stubs bump them through %gs) and folded into the
 * process totals when a thread exits.  Writing uses no malloc and no stdio streams:
 * it runs in vfork children and at exit_group. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "net/net.h"

extern void (*g_tramp_entry_ptr)(void);

static uint64_t *counts_alloc(void)
{
	void *p = mmap(NULL, TRAMP_ROUTES * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void libos_stats_init(void)
{
	g_proc.stats = g_proc.cfg->stats_path || g_proc.cfg->stats_human;
	if (!g_proc.stats)
		return;
	g_proc.counts = counts_alloc();
	if (!g_proc.counts) {
		g_proc.stats = false;
		return;
	}
	g_tramp_entry_ptr = tramp_entry_stats;
}

void libos_stats_thread_init(struct libos_thread *t)
{
	if (g_proc.stats && !(t->tls.counts = counts_alloc()))
		t->tls.counts = g_proc.counts;	/* shared: still counted, if racily */
}

/* Called with g_proc.lock held, with the thread's unlinking in the same section so a
 * writer never sees it both folded and live. */
void libos_stats_fold(struct libos_thread *t)
{
	if (!g_proc.stats || t->tls.counts == g_proc.counts)
		return;
	g_proc.nfast += t->tls.nfast;
	g_proc.nlibos += t->tls.nlibos;
	g_proc.ntrap += t->tls.ntrap;
	for (int i = 0; i < TRAMP_ROUTES; i++)
		g_proc.counts[i] += t->tls.counts[i];
}

/* A new process (fork or vfork child) counts from zero.  A vfork child shares the
 * parent's memory, so it leaves the process totals alone and reports its own. */
void libos_stats_reset_child(struct libos_thread *t)
{
	g_proc.human = false;
	if (!g_proc.stats)
		return;
	t->tls.nfast = t->tls.nlibos = t->tls.ntrap = 0;
	if (t->tls.counts && t->tls.counts != g_proc.counts)
		madvise(t->tls.counts, TRAMP_ROUTES * sizeof(uint64_t), MADV_DONTNEED);
	if (t->vfork_child)
		return;
	g_proc.nfast = g_proc.nlibos = g_proc.ntrap = 0;
	madvise(g_proc.counts, TRAMP_ROUTES * sizeof(uint64_t), MADV_DONTNEED);
	memset(g_proc.big_count, 0, sizeof(g_proc.big_count));
}

struct out {
	int fd;
	size_t n;
	char buf[4096];
};

static void out_flush(struct out *o)
{
	size_t off = 0;
	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += w;
	}
	o->n = 0;
}

__attribute__((format(printf, 2, 3))) static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	if (o->n > sizeof(o->buf) - 512)
		out_flush(o);
	va_start(ap, fmt);
	int k = vsnprintf(o->buf + o->n, sizeof(o->buf) - o->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		o->n += (size_t)k < sizeof(o->buf) - o->n ? (size_t)k : sizeof(o->buf) - o->n - 1;
}

static void out_json_string(struct out *o, const char *s)
{
	out_printf(o, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			out_printf(o, "\\%c", c);
		else if (c < 0x20)
			out_printf(o, "\\u%04x", c);
		else
			out_printf(o, "%c", c);
	}
	out_printf(o, "\"");
}

/* Expand %p (pid) and %% in a file name. */
void libos_expand_pid(char *dst, size_t size, const char *pat)
{
	size_t n = 0;
	for (; *pat && n + 16 < size; pat++) {
		if (pat[0] == '%' && pat[1] == 'p') {
			n += snprintf(dst + n, size - n, "%d", getpid());
			pat++;
		} else if (pat[0] == '%' && pat[1] == '%') {
			dst[n++] = '%';
			pat++;
		} else {
			dst[n++] = *pat;
		}
	}
	dst[n] = '\0';
}

struct totals {
	uint64_t nfast, nlibos, ntrap;
};

/* Calls of number @nr: this process's folded counts plus the live threads'. */
static uint64_t count_of(int nr, struct libos_thread *only)
{
	if (only)
		return only->tls.counts ? only->tls.counts[nr] : 0;
	uint64_t c = g_proc.counts[nr];
	for (struct libos_thread *t = g_proc.threads; t; t = t->next)
		if (t->tls.counts && t->tls.counts != g_proc.counts)
			c += t->tls.counts[nr];
	return c;
}

void libos_stats_write(bool human)
{
	if (!g_proc.stats)
		return;
	struct libos_thread *self = libos_self();
	struct libos_thread *only = self->vfork_child ? self : NULL;
	struct totals tot = { 0 };
	/* Other threads may still run; they cannot fold or unlink while we hold the lock.
	 * (A vfork child shares the parent's memory: it reads only its own block.) */
	if (!only)
		pthread_mutex_lock(&g_proc.lock);

	if (only) {
		tot.nfast = only->tls.nfast;
		tot.nlibos = only->tls.nlibos;
		tot.ntrap = only->tls.ntrap;
	} else {
		tot.nfast = g_proc.nfast;
		tot.nlibos = g_proc.nlibos;
		tot.ntrap = g_proc.ntrap;
		for (struct libos_thread *t = g_proc.threads; t; t = t->next) {
			if (t->tls.counts == g_proc.counts)
				continue;
			tot.nfast += t->tls.nfast;
			tot.nlibos += t->tls.nlibos;
			tot.ntrap += t->tls.ntrap;
		}
	}
	/* Every call is in counts[] once; libos and trap are known when counted.  Other
	 * threads may be between the gate's counts[nr]++ and its path counter right now, so
	 * fast is what is left: the file adds up however the writer and they interleave. */
	uint64_t total = 0, *snap = counts_alloc();	/* one read of every counter */
	for (int nr = 0; snap && nr < TRAMP_ROUTES; nr++)
		total += snap[nr] = count_of(nr, only);
	for (int i = 0; i < 16 && !only; i++)
		total += g_proc.big_count[i];
	tot.nfast = total > tot.nlibos + tot.ntrap ? total - tot.nlibos - tot.ntrap : 0;

	if (g_proc.cfg->stats_path) {
		char path[4096], tmp[4096 + 32];
		struct out o = { .n = 0 };
		libos_expand_pid(path, sizeof(path), g_proc.cfg->stats_path);
		/* Written aside and renamed: a process killed mid-write (a pool worker
		 * terminated at exit) leaves the old file or none, never a torn one. */
		snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, getpid());
		o.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (o.fd >= 0) {
			out_printf(&o, "{\"pid\": %d, \"exe\": ", getpid());
			out_json_string(&o, g_proc.exe);
			out_printf(&o, ", \"sites\": {\"found\": %llu, \"displaced\": %llu, "
				   "\"island\": %llu, \"trap\": %llu, \"jit\": %llu}",
				   (unsigned long long)g_proc.sites_found,
				   (unsigned long long)g_proc.sites_displaced,
				   (unsigned long long)g_proc.sites_island,
				   (unsigned long long)g_proc.sites_trap,
				   (unsigned long long)g_proc.sites_jit);
			out_printf(&o, ", \"calls\": {\"total\": %llu, \"fast\": %llu, "
				   "\"libos\": %llu, \"trap\": %llu}, \"syscalls\": {",
				   (unsigned long long)total, (unsigned long long)tot.nfast,
				   (unsigned long long)tot.nlibos, (unsigned long long)tot.ntrap);
			const char *sep = "";
			for (int nr = 0; snap && nr < TRAMP_ROUTES; nr++) {
				uint64_t c = snap[nr];
				if (c) {
					out_printf(&o, "%s\"%d\": %llu", sep, nr,
						   (unsigned long long)c);
					sep = ", ";
				}
			}
			for (int i = 0; i < 16 && !only; i++)
				if (g_proc.big_count[i])
					out_printf(&o, "%s\"%lld\": %llu", sep,
						   (long long)g_proc.big_nr[i],
						   (unsigned long long)g_proc.big_count[i]),
						sep = ", ";
			out_printf(&o, "}");
			char net[4096];
			if (!only && libos_net_stats_json(net, sizeof(net)) > 0) {
				out_flush(&o);	/* longer than out_printf's margin */
				out_printf(&o, ", \"net\": %s", net);
			}
			out_printf(&o, "}\n");
			out_flush(&o);
			if (close(o.fd) == 0)
				rename(tmp, path);
			else
				unlink(tmp);
		}
	}
	if (human && g_proc.cfg->stats_human && g_proc.human) {
		struct out o = { .fd = 2, .n = 0 };
		double pct = total ? 100.0 / (double)total : 0;
		out_printf(&o, "bypass-run: %s: %llu syscalls: %llu fast (%.1f%%), %llu libos "
			   "(%.1f%%), %llu trap (%.1f%%); sites: %llu found, %llu displaced, "
			   "%llu island, %llu trap, %llu jit\n",
			   g_proc.exe, (unsigned long long)total,
			   (unsigned long long)tot.nfast, tot.nfast * pct,
			   (unsigned long long)tot.nlibos, tot.nlibos * pct,
			   (unsigned long long)tot.ntrap, tot.ntrap * pct,
			   (unsigned long long)g_proc.sites_found,
			   (unsigned long long)g_proc.sites_displaced,
			   (unsigned long long)g_proc.sites_island,
			   (unsigned long long)g_proc.sites_trap,
			   (unsigned long long)g_proc.sites_jit);
		out_flush(&o);
	}
	if (snap)
		munmap(snap, TRAMP_ROUTES * sizeof(uint64_t));
	if (!only)
		pthread_mutex_unlock(&g_proc.lock);
}
