/* SPDX-License-Identifier: MIT */
/* Threads and thread-local storage of shared libraries: libe2etls.so (linked, static TLS set up
 * by ld.so) starts 8 threads itself, each must see the library's initial TLS image and its own
 * counter and tid; its pthread_key destructor runs once per thread. Then libplugin.so (argv[1],
 * dlopen'ed after threads exist: dynamic TLS, allocated by __tls_get_addr on first use in each
 * thread) is used from 8 threads of ours at once, each bumping its own counter and recording
 * its tid from the library's syscall(2).  Usage: e2e_dyn_tls_threads /path/to/libplugin.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "e2e.h"

#define NTHREADS 8

struct tlslib_result {
	int image_ok;
	int tid_ok;
	long count;
	long tid;
	uintptr_t tls_addr;
};
int tlslib_run_threads(struct tlslib_result *res, int nthreads, long n);
long tlslib_destructed(void);
int tlslib_image_untouched(void);
void tlslib_work(struct tlslib_result *res, long n);

static long (*p_bump)(long);
static long (*p_tid)(void);
static void *(*p_addr)(void);
static pthread_barrier_t g_barrier;

struct plugin_result {
	long count, tid, own_tid;
	void *addr;
};

static void *plugin_thread(void *arg)
{
	struct plugin_result *r = arg;
	/* Everyone first touches the plugin's TLS at the same moment. */
	pthread_barrier_wait(&g_barrier);
	r->own_tid = syscall(SYS_gettid);
	for (int i = 0; i < 1000; i++)
		r->count = p_bump(1);
	r->tid = p_tid();
	r->addr = p_addr();
	pthread_barrier_wait(&g_barrier);
	return NULL;
}

static int all_distinct(const long *v, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (v[i] == v[j])
				return 0;
	return 1;
}

int main(int argc, char **argv)
{
	e2e_init();
	if (argc < 2) {
		printf("usage: %s /path/to/libplugin.so\n", argv[0]);
		return 2;
	}

	/* Linked library with static TLS, threads started by the library. */
	struct tlslib_result res[NTHREADS];
	memset(res, 0, sizeof(res));
	int ran = tlslib_run_threads(res, NTHREADS, 500);
	E2E_CHECK(ran == NTHREADS, "tlslib_threads_created_and_joined");
	int image = 1, tids = 1, counts = 1;
	long tidv[NTHREADS], addrv[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		image &= res[i].image_ok;
		tids &= res[i].tid_ok;
		counts &= res[i].count == 500L * (i + 1);
		tidv[i] = res[i].tid;
		addrv[i] = (long)res[i].tls_addr;
		printf("tlslib thread %d: count %ld\n", i, res[i].count);
	}
	E2E_CHECK(image, "tlslib_fresh_tls_image_per_thread");
	E2E_CHECK(tids, "tlslib_gettid_syscall_and_raw_agree");
	E2E_CHECK(counts, "tlslib_per_thread_counters");
	E2E_CHECK(all_distinct(tidv, NTHREADS), "tlslib_distinct_tids");
	E2E_CHECK(all_distinct(addrv, NTHREADS), "tlslib_distinct_tls_blocks");
	E2E_CHECK(tlslib_destructed() == NTHREADS, "tlslib_key_destructor_per_thread");
	E2E_CHECK(tlslib_image_untouched(), "tlslib_main_thread_tls_untouched");
	struct tlslib_result mine;
	tlslib_work(&mine, 3);
	E2E_CHECK(mine.image_ok && mine.tid_ok && mine.tid == getpid() && mine.count == 3,
		  "tlslib_main_thread_work");

	/* dlopen'ed library with dynamic TLS, used from 8 threads at once. */
	void *h = dlopen(argv[1], RTLD_NOW);
	e2e_check(h != NULL, "dlopen_plugin", "%s", h ? "" : dlerror());
	if (!h)
		return e2e_finish();
	*(void **)&p_bump = dlsym(h, "plugin_tls_bump");
	*(void **)&p_tid = dlsym(h, "plugin_tls_tid");
	*(void **)&p_addr = dlsym(h, "plugin_tls_addr");
	E2E_CHECK(p_bump && p_tid && p_addr, "plugin_tls_dlsym");
	if (!p_bump || !p_tid || !p_addr)
		return e2e_finish();
	E2E_CHECK(p_bump(5) == 5 && p_tid() == getpid(), "plugin_tls_main_thread");

	pthread_barrier_init(&g_barrier, NULL, NTHREADS);
	pthread_t th[NTHREADS];
	struct plugin_result pr[NTHREADS];
	memset(pr, 0, sizeof(pr));
	int created = 0;
	for (int i = 0; i < NTHREADS; i++)
		created += pthread_create(&th[i], NULL, plugin_thread, &pr[i]) == 0;
	for (int i = 0; i < created; i++)
		pthread_join(th[i], NULL);
	E2E_CHECK(created == NTHREADS, "plugin_threads_created");
	int pcounts = 1, ptids = 1;
	long paddr[NTHREADS], ptid[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		pcounts &= pr[i].count == 1000;
		ptids &= pr[i].tid == pr[i].own_tid;
		paddr[i] = (long)pr[i].addr;
		ptid[i] = pr[i].tid;
	}
	E2E_CHECK(pcounts, "plugin_tls_counters_per_thread");
	E2E_CHECK(ptids && all_distinct(ptid, NTHREADS), "plugin_tls_tid_per_thread");
	E2E_CHECK(all_distinct(paddr, NTHREADS) && (long)p_addr() != paddr[0],
		  "plugin_tls_distinct_blocks");
	E2E_CHECK(p_bump(0) == 5, "plugin_tls_main_thread_unchanged");
	E2E_CHECK(dlclose(h) == 0, "dlclose_plugin");
	return e2e_finish();
}
