/* SPDX-License-Identifier: MIT */
/* Stack unwinding and address lookup in a dynamic program (no C++): backtrace() (whose first
 * call dlopens libgcc_s.so.1) through our own frames, through a callback from libplugin.so
 * (argv[1]), from a signal handler for a raised signal and for a fault (the unwinder crosses
 * the kernel's signal frame and __restore_rt), and backtrace_symbols naming the frames (the
 * program is linked with -rdynamic); dladdr/dladdr1/dlinfo for the program, libc and the
 * plugin.  Only frames of this program and the plugin are printed, never libc internals.
 * Usage: e2e_dyn_backtrace /path/to/libplugin.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define MAXF 64

/* "chain" of the frames of the given objects, innermost first, up to main: "a<b<main". */
static void chain(void *const *pcs, int n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		Dl_info di;
		/* Return addresses point after the call: look up pc-1 (frame 0 is exact, but
		 * pc-1 is inside the same function there too). */
		if (!dladdr((char *)pcs[i] - 1, &di) || !di.dli_sname)
			continue;
		const char *base = strrchr(di.dli_fname, '/');
		base = base ? base + 1 : di.dli_fname;
		if (strncmp(di.dli_sname, "e2e_bt_", 7) != 0 && strcmp(di.dli_sname, "main") != 0 &&
		    strcmp(base, "libplugin.so") != 0)
			continue;
		len += snprintf(out + len, cap - len, "%s%s", len ? "<" : "", di.dli_sname);
		if (len >= cap || strcmp(di.dli_sname, "main") == 0)
			break;
	}
}

static char g_chain[512];
static int g_nframes;

__attribute__((noinline)) void e2e_bt_c(void)
{
	void *pcs[MAXF];
	g_nframes = backtrace(pcs, MAXF);
	chain(pcs, g_nframes, g_chain, sizeof(g_chain));
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void e2e_bt_b(void)
{
	e2e_bt_c();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void e2e_bt_a(void)
{
	e2e_bt_b();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) long e2e_bt_callback(long x)
{
	e2e_bt_c();
	__asm__ volatile("" ::: "memory");
	return x * 2;
}

/* Signal handler backtraces. */
static char g_sig_chain[512];
static sigjmp_buf g_env;

__attribute__((noinline)) void e2e_bt_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	void *pcs[MAXF];
	int n = backtrace(pcs, MAXF);
	chain(pcs, n, g_sig_chain, sizeof(g_sig_chain));
	if (sig == SIGSEGV)
		siglongjmp(g_env, 1);
}

__attribute__((noinline)) void e2e_bt_raise_site(void)
{
	raise(SIGUSR1);
	__asm__ volatile("" ::: "memory");
}

static int *volatile g_null;

__attribute__((noinline)) void e2e_bt_fault_site(void)
{
	*g_null = 1;
	__asm__ volatile("" ::: "memory");
}

static void set_action(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = e2e_bt_handler;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, NULL);
}

static int local_function_marker(void)
{
	return 7;
}

int main(int argc, char **argv)
{
	e2e_init();
	if (argc < 2) {
		printf("usage: %s /path/to/libplugin.so\n", argv[0]);
		return 2;
	}

	e2e_bt_a();
	printf("backtrace: %s\n", g_chain);
	E2E_CHECK(strcmp(g_chain, "e2e_bt_c<e2e_bt_b<e2e_bt_a<main") == 0, "backtrace_own_frames");
	E2E_CHECK(dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NOLOAD) != NULL,
		  "backtrace_loaded_libgcc_s");

	/* backtrace_symbols names the frames (exported with -rdynamic). */
	void *pcs[MAXF];
	int n = backtrace(pcs, MAXF);
	char **syms = backtrace_symbols(pcs, n);
	int named_main = 0;
	for (int i = 0; syms && i < n; i++)
		named_main |= strstr(syms[i], "(main+0x") != NULL;
	E2E_CHECK(syms && named_main, "backtrace_symbols_names_main");
	free(syms);

	void *h = dlopen(argv[1], RTLD_NOW);
	e2e_check(h != NULL, "dlopen_plugin", "%s", h ? "" : dlerror());
	if (h) {
		long (*call)(long (*)(long), long);
		*(void **)&call = dlsym(h, "plugin_call");
		g_chain[0] = 0;
		long r = call ? call(e2e_bt_callback, 20) : -1;
		printf("backtrace through plugin: %s\n", g_chain);
		E2E_CHECK(r == 42 && strcmp(g_chain, "e2e_bt_c<e2e_bt_callback<plugin_call<main") == 0,
			  "backtrace_through_plugin");

		Dl_info di;
		int ok = call && dladdr((void *)call, &di) && strcmp(di.dli_fname, argv[1]) == 0 &&
			 di.dli_sname && strcmp(di.dli_sname, "plugin_call") == 0 &&
			 di.dli_saddr == (void *)call;
		E2E_CHECK(ok, "dladdr_plugin_function");
		struct link_map *lm = NULL;
		ok = dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && strcmp(lm->l_name, argv[1]) == 0;
		E2E_CHECK(ok && (char *)call > (char *)lm->l_addr, "dlinfo_linkmap_plugin");
		dlclose(h);
	}

	set_action(SIGUSR1);
	e2e_bt_raise_site();
	printf("backtrace in handler (raise): %s\n", g_sig_chain);
	E2E_CHECK(strcmp(g_sig_chain, "e2e_bt_handler<e2e_bt_raise_site<main") == 0,
		  "backtrace_from_signal_handler");
	set_action(SIGSEGV);
	g_sig_chain[0] = 0;
	if (sigsetjmp(g_env, 1) == 0)
		e2e_bt_fault_site();
	printf("backtrace in handler (fault): %s\n", g_sig_chain);
	E2E_CHECK(strcmp(g_sig_chain, "e2e_bt_handler<e2e_bt_fault_site<main") == 0,
		  "backtrace_from_fault_handler");

	/* dladdr of the program's own functions and of libc's. */
	Dl_info di;
	int ok = dladdr((void *)e2e_bt_a, &di) && di.dli_sname && strcmp(di.dli_sname, "e2e_bt_a") == 0 &&
		 di.dli_saddr == (void *)e2e_bt_a && di.dli_fname && strcmp(di.dli_fname, argv[0]) == 0;
	e2e_check(ok, "dladdr_main_program", "fname=%s sname=%s", di.dli_fname ? di.dli_fname : "-",
		  di.dli_sname ? di.dli_sname : "-");
	ok = dladdr((void *)local_function_marker, &di) && di.dli_sname == NULL && local_function_marker() == 7;
	E2E_CHECK(ok, "dladdr_static_function_has_no_name");
	struct link_map *lm = NULL;
	ok = dladdr1((void *)main, &di, (void **)&lm, RTLD_DL_LINKMAP) && lm && lm->l_name[0] == 0;
	E2E_CHECK(ok, "dladdr1_main_linkmap_unnamed");
	ok = dladdr((void *)write, &di) && strstr(di.dli_fname, "/libc.so.6") != NULL;
	e2e_check(ok, "dladdr_libc_function", "fname=%s", di.dli_fname ? di.dli_fname : "-");
	return e2e_finish();
}
