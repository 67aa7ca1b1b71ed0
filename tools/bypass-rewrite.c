// SPDX-License-Identifier: MIT
/* bypass-rewrite: write a patched copy of an ELF executable or shared library whose syscall sites jump to
 * stubs in an added segment.  Argument parsing and printing only; offline_rewrite_file()
 * does the work. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <offline/offline.h>
#include <rewrite/rewrite.h>

#define EXIT_USAGE 2

static const char usage[] =
	"usage: bypass-rewrite [OPTIONS] [--] INPUT OUTPUT\n"
	"Write OUTPUT, a copy of the x86-64 ELF executable or shared library INPUT whose syscall\n"
	"instructions jump to stubs in an added segment.  OUTPUT runs natively with the same\n"
	"behaviour (its stubs issue the syscalls); a record, section .bypass.sites right after\n"
	"the program headers, lists the patched sites for the LibOS (bypass-run).\n"
	"Its .eh_frame is rebuilt to describe the stubs too: gdb, backtrace(), pthread_cancel\n"
	"and C++ exceptions unwind through them.\n"
	"Supported: static, static-pie, dynamic (PIE or not) executables, shared libraries\n"
	"(libc.so.6, ld.so: put rewritten ones in a directory and use ld.so --library-path).\n"
	"\n"
	"  --dry-run         print the plan (sites per tactic and section), write nothing\n"
	"  --stats           print counts, sizes and the time taken to stderr\n"
	"  --force           replace OUTPUT if it exists\n"
	"  --help            show this help\n"
	"  --version         show the version\n"
	"\n"
	"The same INPUT always gives the same OUTPUT, byte for byte.  OUTPUT is written to\n"
	"OUTPUT.tmp and renamed: it is never left partial.\n"
	"Exit status: 0, 1 (bad input or output), 2 (usage).\n";

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void print_plan(const char *in, const struct offline_result *r)
{
	printf("%s: %s, %zu syscall sites\n", in, r->kind, r->nsites);
	printf("  %-24s %8s %8s %8s\n", "section", "displace", "island", "trap");
	for (size_t i = 0; i < r->nsecs; i++)
		printf("  %-24s %8zu %8zu %8zu\n", r->secs[i].name,
		       r->secs[i].count[REWRITE_DISPLACE], r->secs[i].count[REWRITE_ISLAND],
		       r->secs[i].count[REWRITE_TRAP]);
	printf("  %-24s %8zu %8zu %8zu\n", "total", r->count[REWRITE_DISPLACE],
	       r->count[REWRITE_ISLAND], r->count[REWRITE_TRAP]);
	printf("  new segment at %#llx: %zu bytes (stubs %zu); output %zu bytes (%+.2f%%)\n",
	       (unsigned long long)r->seg_addr, r->seg_size, r->arena_size, r->out_size,
	       100.0 * ((double)r->out_size - (double)r->in_size) / (double)r->in_size);
	if (r->cfi_why)
		printf("  unwind info: not rebuilt (%s)\n", r->cfi_why);
	else
		printf("  unwind info: .eh_frame rebuilt, %zu FDEs for the stubs (%zu stubs not "
		       "wholly covered)\n", r->cfi_fdes, r->cfi_bare);
}

int main(int argc, char **argv)
{
	struct offline_opts o = { 0 };
	struct offline_result res;
	bool stats = false;
	const char *what, *why;
	struct timespec t0;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("bypass-rewrite %s\n", BYPASS_VERSION);
			return 0;
		} else if (!strcmp(a, "--dry-run")) {
			o.dry_run = true;
		} else if (!strcmp(a, "--stats")) {
			stats = true;
		} else if (!strcmp(a, "--force")) {
			o.force = true;
		} else {
			fprintf(stderr, "bypass-rewrite: %s: unknown option (try --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr, "bypass-rewrite: %s (try --help)\n",
			argc - i < 2 ? "INPUT and OUTPUT are required" : "too many operands");
		return EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = offline_rewrite_file(argv[i], argv[i + 1], &o, &res, &what, &why);
	if (err) {
		fprintf(stderr, "bypass-rewrite: %s: %s\n", what, why ? why : strerror(-err));
		return 1;
	}
	if (o.dry_run)
		print_plan(argv[i], &res);
	if (stats)
		fprintf(stderr, "bypass-rewrite: %s: %zu sites (displace %zu, island %zu, trap %zu); "
			"stubs %zu bytes, %zu FDEs; %zu -> %zu bytes (%+.2f%%); %.1f ms\n", argv[i],
			res.nsites, res.count[REWRITE_DISPLACE], res.count[REWRITE_ISLAND],
			res.count[REWRITE_TRAP], res.arena_size, res.cfi_fdes, res.in_size, res.out_size,
			100.0 * ((double)res.out_size - (double)res.in_size) / (double)res.in_size,
			ms_since(&t0));
	offline_result_fini(&res);
	return 0;
}
