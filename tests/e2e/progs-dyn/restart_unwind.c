/* SPDX-License-Identifier: MIT */
/* Unwinding from a signal that interrupted a blocking read() whose restart is pending
 * (SA_RESTART, or the cancellation signal of pthread_cancel): the interrupted pc is then
 * the syscall itself, which under bypass-run lies in the gate, not in the program.
 *  - pthread_cancel of a thread blocked in read(): the cleanup handler runs (built with
 *    -fexceptions, so it runs only if the forced unwind crosses the read);
 *  - a SA_RESTART handler's backtrace() reaches the reading function (and main), and the
 *    read, restarted, returns the byte written after the handler ran;
 *  - the same restart from code written at run time (no file, no unwind info: under
 *    bypass-run its syscall is served by the trap), where only the restart is checked.
 * Only frames named e2e_ru_* and main are printed.  Usage: e2e_restart_unwind_dyn [any] */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define MAXF 64

static void chain(void *const *pcs, int n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		Dl_info di;
		if (!dladdr((char *)pcs[i] - 1, &di) || !di.dli_sname)
			continue;
		if (strncmp(di.dli_sname, "e2e_ru_", 7) != 0 && strcmp(di.dli_sname, "main") != 0)
			continue;
		len += snprintf(out + len, cap - len, "%s%s", len ? "<" : "", di.dli_sname);
		if (len >= cap || strcmp(di.dli_sname, "main") == 0)
			break;
	}
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- pthread_cancel of a thread blocked in read() ---- */
static int g_cancel_fds[2];
static atomic_int g_cleanups;

static void e2e_ru_cleanup(void *arg)
{
	(void)arg;
	atomic_fetch_add(&g_cleanups, 1);
}

__attribute__((noinline)) void *e2e_ru_cancel_reader(void *arg)
{
	char c;
	pthread_cleanup_push(e2e_ru_cleanup, arg);
	(void)!read(g_cancel_fds[0], &c, 1);
	pthread_cleanup_pop(0);
	return NULL;
}

/* ---- SA_RESTART handler with backtrace() ---- */
static int g_fds[2];
static char g_sig_chain[512];
static atomic_int g_handled;

__attribute__((noinline)) void e2e_ru_handler(int sig)
{
	void *pcs[MAXF];
	(void)sig;
	int n = backtrace(pcs, MAXF);
	chain(pcs, n, g_sig_chain, sizeof(g_sig_chain));
	atomic_fetch_add(&g_handled, 1);
}

struct read_result {
	long n;
	int err;
	char c;
};

__attribute__((noinline)) void e2e_ru_read(struct read_result *r)
{
	r->c = 0;
	r->n = read(g_fds[0], &r->c, 1);
	r->err = r->n < 0 ? errno : 0;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void *e2e_ru_thread_reader(void *arg)
{
	e2e_ru_read(arg);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

/* read(rdi, rsi, rdx) written at run time: mov $0,%eax; syscall; ret. */
static const unsigned char k_read_code[] = { 0xb8, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3 };
static long (*g_jit_read)(int fd, void *buf, size_t n);

__attribute__((noinline)) void *e2e_ru_jit_reader(void *arg)
{
	struct read_result *r = arg;
	r->c = 0;
	r->n = g_jit_read(g_fds[0], &r->c, 1);
	r->err = r->n < 0 ? (int)-r->n : 0;
	return NULL;
}

/* Signal @t once it blocks, wait for the handler, then write the byte it reads. */
struct poker {
	pthread_t target;
	char byte;
};

static void *poke(void *arg)
{
	struct poker *p = arg;
	nap(200);			/* the reader is blocked in read() by then */
	pthread_kill(p->target, SIGUSR1);
	while (!atomic_load(&g_handled))
		nap(5);
	nap(50);			/* the read is restarted and blocked again */
	(void)!write(g_fds[1], &p->byte, 1);
	return NULL;
}

static void check_read(const struct read_result *r, char want, const char *chain_want,
		       const char *name)
{
	char n1[96], n2[96];
	printf("%s chain: %s\n", name, g_sig_chain);
	snprintf(n1, sizeof(n1), "%s_restarted", name);
	e2e_check(r->n == 1 && r->c == want, n1, "n=%ld err=%d c=%d", r->n, r->err, r->c);
	snprintf(n2, sizeof(n2), "%s_backtrace", name);
	e2e_check(strcmp(g_sig_chain, chain_want) == 0, n2, "chain %s", g_sig_chain);
}

__attribute__((noinline)) int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	e2e_init();

	/* Cancellation. */
	pthread_t t;
	void *ret = NULL;
	E2E_CHECK(pipe(g_cancel_fds) == 0, "cancel_pipe");
	pthread_create(&t, NULL, e2e_ru_cancel_reader, NULL);
	nap(200);
	pthread_cancel(t);
	pthread_join(t, &ret);
	E2E_CHECK(ret == PTHREAD_CANCELED, "cancel_read_canceled");
	E2E_CHECK(atomic_load(&g_cleanups) == 1, "cancel_read_cleanup_ran");

	/* SA_RESTART: a thread reading, then main reading. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = e2e_ru_handler;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	backtrace((void *[1]){ 0 }, 1);	/* loads libgcc_s before any signal */
	E2E_CHECK(pipe(g_fds) == 0, "restart_pipe");

	struct read_result r;
	struct poker pk = { .byte = 'x' };
	pthread_t pt;
	pthread_create(&t, NULL, e2e_ru_thread_reader, &r);
	pk.target = t;
	pthread_create(&pt, NULL, poke, &pk);
	pthread_join(t, NULL);
	pthread_join(pt, NULL);
	check_read(&r, 'x', "e2e_ru_handler<e2e_ru_read<e2e_ru_thread_reader", "thread_read");

	atomic_store(&g_handled, 0);
	g_sig_chain[0] = 0;
	pk = (struct poker){ .target = pthread_self(), .byte = 'y' };
	pthread_create(&pt, NULL, poke, &pk);
	e2e_ru_read(&r);
	pthread_join(pt, NULL);
	check_read(&r, 'y', "e2e_ru_handler<e2e_ru_read<main", "main_read");

	/* The trap's restart: the read is issued again from the program's own code. */
	unsigned char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	E2E_CHECK(m != MAP_FAILED, "jit_mmap");
	memcpy(m, k_read_code, sizeof(k_read_code));
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
	g_jit_read = (long (*)(int, void *, size_t))(void *)m;
	atomic_store(&g_handled, 0);
	pthread_create(&t, NULL, e2e_ru_jit_reader, &r);
	pk = (struct poker){ .target = t, .byte = 'z' };
	pthread_create(&pt, NULL, poke, &pk);
	pthread_join(t, NULL);
	pthread_join(pt, NULL);
	e2e_check(r.n == 1 && r.c == 'z', "jit_read_restarted", "n=%ld err=%d c=%d", r.n, r.err,
		  r.c);
	return e2e_finish();
}
