/* SPDX-License-Identifier: MIT */
/* pthreads: several threads hand a counter around under a mutex and condition variable, each
 * returns its own exit value through pthread_exit/return, main joins them all; then a thread
 * that sleeps in a futex-backed barrier and thread-local storage per thread. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "e2e.h"

#define NTHREADS 6
#define ROUNDS 200

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_turn;        /* whose turn it is, 0..NTHREADS-1 (protected by g_lock) */
static long g_total;      /* incremented by each thread on its turn */
static __thread long t_mine; /* per-thread: must not be shared */
static pthread_barrier_t g_barrier;

/* Token ring: thread i waits for g_turn == i, bumps the total, passes the turn on. */
static void *ring_worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&g_lock);
		while (g_turn != me)
			pthread_cond_wait(&g_cond, &g_lock);
		g_total++;
		t_mine++;
		g_turn = (me + 1) % NTHREADS;
		pthread_cond_broadcast(&g_cond);
		pthread_mutex_unlock(&g_lock);
	}
	pthread_barrier_wait(&g_barrier);
	if (me % 2)
		pthread_exit((void *)(intptr_t)(100 + me + t_mine)); /* explicit exit path */
	return (void *)(intptr_t)(100 + me + t_mine);             /* return path */
}

/* Detached thread: sets *arg under the lock and signals; nobody joins it. */
static void *detached(void *arg)
{
	pthread_mutex_lock(&g_lock);
	*(int *)arg = 1;
	pthread_cond_signal(&g_cond);
	pthread_mutex_unlock(&g_lock);
	return NULL;
}

int main(void)
{
	e2e_init();
	pthread_t th[NTHREADS];
	pthread_barrier_init(&g_barrier, NULL, NTHREADS);
	int created = 0;
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, ring_worker, (void *)(intptr_t)i) == 0)
			created++;
	E2E_CHECK(created == NTHREADS, "create");
	int codes_ok = 1;
	for (int i = 0; i < created; i++) {
		void *ret = NULL;
		if (pthread_join(th[i], &ret) != 0)
			codes_ok = 0;
		printf("thread %d exit value %ld\n", i, (long)(intptr_t)ret);
		if ((intptr_t)ret != 100 + i + ROUNDS)
			codes_ok = 0;
	}
	E2E_CHECK(codes_ok, "join_exit_values");
	printf("total %ld\n", g_total);
	E2E_CHECK(g_total == (long)NTHREADS * ROUNDS, "mutex_cond_total");
	E2E_CHECK(t_mine == 0, "tls_main_untouched");

	/* Detached thread signalling completion through a condition variable. */
	static int done;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t d;
	int rc = pthread_create(&d, &attr, detached, &done);
	pthread_mutex_lock(&g_lock);
	while (rc == 0 && !done)
		pthread_cond_wait(&g_cond, &g_lock);
	pthread_mutex_unlock(&g_lock);
	E2E_CHECK(rc == 0 && done, "detached_cond_signal");
	return e2e_finish();
}
