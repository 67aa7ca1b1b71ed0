/* SPDX-License-Identifier: MIT */
/* Helpers shared by execve and the first start. */
#ifndef LIBOS_EXEC_H
#define LIBOS_EXEC_H

#include <stddef.h>

/* Parse a "#!interp arg" first line.  Returns 0 or -ENOEXEC (not a script, or too long). */
int libos_shebang_parse(const char *buf, size_t n, char *interp, size_t isize, char *arg,
			size_t asize);
/* Check @path as execve would: 0, or -ENOENT/-EACCES/-ENOEXEC/-ELOOP/... */
int libos_exec_check(const char *path, int depth);

#endif
