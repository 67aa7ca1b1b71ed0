/* SPDX-License-Identifier: MIT */
/* Test fixture for loader.stack: run natively, it writes a struct stackdump of the
 * stack the kernel built for it to stdout (the top comes from /proc/self/maps). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stackdump.h"

/* End of the [stack] mapping, or 0. */
static uintptr_t stack_top(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	uintptr_t top = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "[stack]") != NULL && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			top = hi;
	fclose(f);
	return top;
}

int main(int argc, char **argv)
{
	static struct stackdump d;
	uintptr_t top = stack_top();

	(void)argc;
	if (top == 0)
		return 2;
	/* argv is rsp + 8 at entry: glibc's _start passes it through untouched. */
	stackdump_fill(&d, (const uint64_t *)argv - 1, top);
	return fwrite(&d, sizeof(d), 1, stdout) == 1 && fflush(stdout) == 0 ? 0 : 1;
}
