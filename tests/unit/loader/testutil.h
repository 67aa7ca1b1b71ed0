/* SPDX-License-Identifier: MIT */
/* Helpers shared by the loader unit tests: read a file into memory, ask
 * /proc/self/maps about a mapping. */
#ifndef LOADER_TEST_TESTUTIL_H
#define LOADER_TEST_TESTUTIL_H

#include <check.h>
#include <check_run.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Map @path read-only into memory; returns NULL if it cannot be read. */
static inline unsigned char *tu_load(const char *path, size_t *size)
{
	struct stat st;
	void *p = MAP_FAILED;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
		*size = (size_t)st.st_size;
		p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	}
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* Permissions ("r-xp", "---p" ...) of the mapping holding @addr, or "" if none. */
static inline void tu_perms_of(uintptr_t addr, char out[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512], p[5];

	strcpy(out, "");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && addr >= lo && addr < hi)
			strcpy(out, p);
	fclose(f);
}

#endif
