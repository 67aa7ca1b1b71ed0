/* SPDX-License-Identifier: MIT */
/* libe2etls.so: a shared library linked into e2e_dyn_tls_threads (DT_NEEDED, loaded by ld.so
 * before main). It has initialised and zeroed thread-local storage (.tdata/.tbss: every new
 * thread must get a fresh copy of the initial image), starts threads itself (pthread_create
 * from library code), keeps a pthread_key whose destructor runs at each thread's exit, and
 * issues syscalls (gettid through syscall(2), a raw `syscall`) from those threads. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread long t_init = 42;             /* .tdata */
static __thread char t_name[32] = "tls-image"; /* .tdata */
static __thread long t_count;                 /* .tbss */
static __thread long t_tid;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_destructed;

static void key_dtor(void *v)
{
	(void)v;
	pthread_mutex_lock(&g_lock);
	g_destructed++;
	pthread_mutex_unlock(&g_lock);
}

static void make_key(void)
{
	pthread_key_create(&g_key, key_dtor);
}

static long raw_gettid(void)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"((long)SYS_gettid) : "rcx", "r11", "memory");
	return r;
}

struct tlslib_result {
	int image_ok;  /* t_init/t_name held the initial image when the thread started */
	int tid_ok;    /* syscall(SYS_gettid) == raw gettid == the tid stored in TLS */
	long count;    /* t_count after the thread's work */
	long tid;
	uintptr_t tls_addr;
};

/* Work done in each thread: check the fresh TLS image, then bump the counters n times. */
void tlslib_work(struct tlslib_result *res, long n)
{
	pthread_once(&g_once, make_key);
	res->image_ok = t_init == 42 && strcmp(t_name, "tls-image") == 0 && t_count == 0;
	t_init = 0;
	strcpy(t_name, "changed");
	t_tid = syscall(SYS_gettid);
	res->tid_ok = t_tid == raw_gettid() && t_tid > 0;
	pthread_setspecific(g_key, &t_count);
	for (long i = 0; i < n; i++)
		t_count++;
	res->count = t_count;
	res->tid = t_tid;
	res->tls_addr = (uintptr_t)&t_count;
}

struct start {
	struct tlslib_result *res;
	long n;
};

static void *thread_main(void *arg)
{
	struct start *s = arg;
	tlslib_work(s->res, s->n);
	return NULL;
}

/* Starts nthreads threads from library code, each doing tlslib_work(res[i], n * (i + 1)), and
 * joins them. Returns how many were created and joined. */
int tlslib_run_threads(struct tlslib_result *res, int nthreads, long n)
{
	pthread_t th[64];
	struct start st[64];
	int ok = 0;
	if (nthreads > 64)
		nthreads = 64;
	for (int i = 0; i < nthreads; i++) {
		st[i].res = &res[i];
		st[i].n = n * (i + 1);
		if (pthread_create(&th[i], NULL, thread_main, &st[i]) != 0)
			return ok;
		ok++;
	}
	for (int i = 0; i < nthreads; i++)
		if (pthread_join(th[i], NULL) != 0)
			ok--;
	return ok;
}

long tlslib_destructed(void)
{
	pthread_mutex_lock(&g_lock);
	long d = g_destructed;
	pthread_mutex_unlock(&g_lock);
	return d;
}

/* The calling thread's view of the library's TLS (main thread: untouched image). */
int tlslib_image_untouched(void)
{
	return t_init == 42 && strcmp(t_name, "tls-image") == 0;
}
