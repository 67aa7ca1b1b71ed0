/* SPDX-License-Identifier: MIT */
/* dlopen of the suite's own libplugin.so (argv[1]): code mapped after start-up, whose syscalls
 * (libc write, syscall(2) getpid, raw `syscall` getppid/write/invalid numbers) must behave as
 * natively from the main thread, a second thread and a forked child; dlclose unmaps it (the
 * destructor prints) and a second dlopen maps it afresh (patches of the old mapping must not
 * survive); a copy under another name is loaded beside it; errors for a missing library and a
 * missing symbol.  Usage: e2e_dyn_dlopen_plugin /path/to/libplugin.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e.h"

struct plugin {
	void *h;
	int (*ctor_ran)(void);
	const char *(*name)(void);
	long (*write)(int, const char *);
	long (*getpid_syscall)(void);
	long (*raw_getppid)(void);
	long (*raw_write)(int, const void *, unsigned long);
	long (*raw_enosys)(long);
};

static int load(struct plugin *p, const char *path, int flags)
{
	memset(p, 0, sizeof(*p));
	p->h = dlopen(path, flags);
	if (!p->h)
		return 0;
	*(void **)&p->ctor_ran = dlsym(p->h, "plugin_ctor_ran");
	*(void **)&p->name = dlsym(p->h, "plugin_name");
	*(void **)&p->write = dlsym(p->h, "plugin_write");
	*(void **)&p->getpid_syscall = dlsym(p->h, "plugin_getpid_syscall");
	*(void **)&p->raw_getppid = dlsym(p->h, "plugin_raw_getppid");
	*(void **)&p->raw_write = dlsym(p->h, "plugin_raw_write");
	*(void **)&p->raw_enosys = dlsym(p->h, "plugin_raw_enosys");
	return p->ctor_ran && p->name && p->write && p->getpid_syscall && p->raw_getppid &&
	       p->raw_write && p->raw_enosys;
}

/* All the plugin's syscall paths once; returns the number of wrong results. */
static int exercise(const struct plugin *p, const char *who)
{
	char line[128];
	int bad = 0;
	snprintf(line, sizeof(line), "plugin: write(2) from %s\n", who);
	bad += p->write(1, line) != (long)strlen(line);
	snprintf(line, sizeof(line), "plugin: raw write from %s\n", who);
	bad += p->raw_write(1, line, strlen(line)) != (long)strlen(line);
	bad += p->getpid_syscall() != getpid();
	bad += p->raw_getppid() != getppid();
	bad += p->raw_enosys(50) != 50;
	bad += p->raw_write(-1, "x", 1) != -EBADF;
	return bad;
}

static const struct plugin *g_thread_plugin;

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(long)exercise(g_thread_plugin, "a thread");
}

static int mapped(const char *needle)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	static char maps[1 << 17];
	ssize_t m = 0, r;
	while (fd >= 0 && m < (ssize_t)sizeof(maps) - 1 &&
	       (r = read(fd, maps + m, sizeof(maps) - 1 - m)) > 0)
		m += r;
	maps[m] = 0;
	if (fd >= 0)
		close(fd);
	return strstr(maps, needle) != NULL;
}

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[8192];
	ssize_t n;
	int ok = in >= 0 && out >= 0;
	while (ok && (n = read(in, buf, sizeof(buf))) > 0)
		ok = write(out, buf, n) == n;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ok;
}

int main(int argc, char **argv)
{
	e2e_init();
	if (argc < 2) {
		printf("usage: %s /path/to/libplugin.so\n", argv[0]);
		return 2;
	}
	const char *path = argv[1];
	E2E_CHECK(!mapped("/libplugin.so"), "not_mapped_before_dlopen");

	struct plugin p;
	int ok = load(&p, path, RTLD_NOW | RTLD_LOCAL);
	e2e_check(ok, "dlopen_now_and_dlsym", "%s", dlerror());
	if (!ok)
		return e2e_finish();
	E2E_CHECK(p.ctor_ran() == 1, "constructor_ran");
	E2E_CHECK(strcmp(p.name(), "e2e plugin v1") == 0, "plugin_name");
	E2E_CHECK(mapped("/libplugin.so"), "mapped_after_dlopen");
	E2E_CHECK(exercise(&p, "main") == 0, "syscalls_from_main_thread");

	g_thread_plugin = &p;
	pthread_t th;
	void *tret = (void *)1L;
	int rc = pthread_create(&th, NULL, thread_main, NULL);
	if (rc == 0)
		pthread_join(th, &tret);
	E2E_CHECK(rc == 0 && tret == NULL, "syscalls_from_thread");

	pid_t pid = fork();
	if (pid == 0)
		_exit(exercise(&p, "a forked child") == 0 ? 0 : 1);
	int st = -1;
	waitpid(pid, &st, 0);
	e2e_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "syscalls_from_forked_child",
		  "status=0x%x", st);

	/* Reference counting: a second dlopen returns the same handle, no constructor. */
	void *again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	E2E_CHECK(again == p.h, "dlopen_noload_same_handle");
	E2E_CHECK(dlclose(again) == 0 && p.getpid_syscall() == getpid(), "still_loaded_after_one_close");

	/* Last dlclose: destructor runs, the library is unmapped. */
	E2E_CHECK(dlclose(p.h) == 0, "dlclose");
	E2E_CHECK(!mapped("/libplugin.so"), "unmapped_after_dlclose");
	E2E_CHECK(dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL, "noload_after_close_is_null");

	/* Fresh mapping (possibly at the same address) with lazy binding. */
	ok = load(&p, path, RTLD_LAZY | RTLD_GLOBAL);
	e2e_check(ok, "dlopen_lazy_again", "%s", dlerror());
	if (ok) {
		E2E_CHECK(exercise(&p, "main after reload") == 0, "syscalls_after_reload");
		E2E_CHECK(dlsym(RTLD_DEFAULT, "plugin_raw_getppid") == (void *)p.raw_getppid,
			  "rtld_global_symbol_visible");
	}

	/* A copy of the same code under another name, loaded beside the original. */
	struct plugin c;
	ok = copy_file(path, "libplugin-copy.so") && load(&c, "./libplugin-copy.so", RTLD_NOW);
	e2e_check(ok, "dlopen_copy", "%s", dlerror());
	if (ok) {
		E2E_CHECK(c.h != p.h && (void *)c.raw_getppid != (void *)p.raw_getppid,
			  "copy_is_a_second_mapping");
		E2E_CHECK(exercise(&c, "the copy") == 0, "syscalls_in_copy");
		E2E_CHECK(dlclose(c.h) == 0, "dlclose_copy");
	}
	if (p.h)
		E2E_CHECK(dlclose(p.h) == 0, "dlclose_again");

	/* Errors: as natively (the messages name the file and the symbol). */
	void *none = dlopen("libe2e-does-not-exist.so", RTLD_NOW);
	const char *err = none ? "" : dlerror();
	e2e_check(!none && strstr(err, "libe2e-does-not-exist.so: cannot open shared object file"),
		  "dlopen_missing_library", "%s", err);
	void *self = dlopen(NULL, RTLD_NOW);
	void *sym = self ? dlsym(self, "e2e_no_such_symbol") : (void *)1;
	err = sym ? "" : dlerror();
	e2e_check(!sym && strstr(err, "e2e_no_such_symbol"), "dlsym_missing_symbol", "%s", err);
	return e2e_finish();
}
