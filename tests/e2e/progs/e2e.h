/* SPDX-License-Identifier: MIT */
/* Shared helpers for the e2e test programs: one "name: ok|FAIL (why)" line per check and an
 * exit status equal to the number of failed checks (capped), so native and bypass runs can be
 * compared line by line and a failure names the check that broke. */
#ifndef E2E_H
#define E2E_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int g_e2e_failures;

/* Unbuffered stdout: programs fork and exec, and a stdio buffer copied into a child would print
 * twice; every line is one write() so parent/child order is fixed by the program's waits. */
static inline void e2e_init(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
}

/* Report one check. fmt/... describe the failure (printed only when ok is false). */
static inline __attribute__((format(printf, 3, 4)))
int e2e_check(int ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		printf("%s: ok\n", name);
		return 1;
	}
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printf("%s: FAIL (%s)\n", name, why);
	g_e2e_failures++;
	return 0;
}

#define E2E_CHECK(cond, name) e2e_check(!!(cond), (name), "%s", #cond)

/* Exit status: number of failed checks, capped so it never collides with 126/127/signals. */
static inline int e2e_finish(void)
{
	return g_e2e_failures > 100 ? 100 : g_e2e_failures;
}

#endif
