/* SPDX-License-Identifier: MIT */
/* /proc/self/exe and the auxiliary vector must name the guest program, not bypass-run:
 * readlink equals realpath(argv[0]), the file opens and starts with the ELF magic and has the
 * same inode as argv[0], and AT_EXECFN is argv[0]. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e.h"

int main(int argc, char **argv)
{
	(void)argc;
	e2e_init();
	char link[PATH_MAX] = "", real[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);
	if (n > 0)
		link[n] = 0;
	int have_real = realpath(argv[0], real) != NULL;
	e2e_check(n > 0 && have_real && strcmp(link, real) == 0, "readlink_proc_self_exe",
		  "readlink=%s realpath(argv0)=%s", link, real);

	int fd = open("/proc/self/exe", O_RDONLY);
	unsigned char magic[5] = { 0 };
	ssize_t got = fd >= 0 ? read(fd, magic, 4) : -1;
	E2E_CHECK(got == 4 && memcmp(magic, "\177ELF", 4) == 0, "open_proc_self_exe_elf_magic");
	struct stat a, b;
	int same = fd >= 0 && fstat(fd, &a) == 0 && stat(argv[0], &b) == 0 &&
		   a.st_ino == b.st_ino && a.st_dev == b.st_dev;
	E2E_CHECK(same, "proc_self_exe_same_inode_as_argv0");
	if (fd >= 0)
		close(fd);

	const char *execfn = (const char *)getauxval(AT_EXECFN);
	e2e_check(execfn && strcmp(execfn, argv[0]) == 0, "auxv_execfn_is_argv0", "AT_EXECFN=%s",
		  execfn ? execfn : "(null)");
	E2E_CHECK(getauxval(AT_PAGESZ) == 4096, "auxv_pagesz");
	E2E_CHECK(getauxval(AT_ENTRY) != 0 && getauxval(AT_PHDR) != 0, "auxv_entry_phdr");

	/* /proc/self/maps must list our own image. */
	int mfd = open("/proc/self/maps", O_RDONLY);
	static char maps[1 << 16];
	ssize_t m = 0, r;
	while (mfd >= 0 && m < (ssize_t)sizeof(maps) - 1 && (r = read(mfd, maps + m, sizeof(maps) - 1 - m)) > 0)
		m += r;
	maps[m] = 0;
	if (mfd >= 0)
		close(mfd);
	E2E_CHECK(strstr(maps, real) != NULL, "proc_self_maps_lists_image");
	return e2e_finish();
}
