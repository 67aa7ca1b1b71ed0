// SPDX-License-Identifier: MIT
/* offline_rewrite_file: read the input whole, rewrite it in memory, write OUTPUT.tmp and
 * rename it over OUTPUT, so OUTPUT is either absent, the old file, or complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <offline/offline.h>

#define MAX_INPUT (1ull << 30)

static int read_all(const char *path, uint8_t **buf, size_t *len, mode_t *mode, const char **why)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
		err = -ENOEXEC;
		goto out;
	}
	if ((uint64_t)st.st_size > MAX_INPUT) {
		*why = "larger than 1 GiB";
		err = -EFBIG;
		goto out;
	}
	b = malloc(st.st_size ? st.st_size : 1);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += n;
	}
	*buf = b;
	*len = got;
	*mode = st.st_mode & 07777;
	b = NULL;
out:
	free(b);
	close(fd);
	return err;
}

static int write_all(int fd, const uint8_t *b, size_t len)
{
	while (len) {
		ssize_t n = write(fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= n;
	}
	return 0;
}

/* @out.tmp, then rename.  Nothing is left behind on failure. */
static int write_atomic(const char *out, const uint8_t *b, size_t len, mode_t mode, bool force)
{
	struct stat st;
	size_t n = strlen(out);
	char *tmp = malloc(n + 5);
	int fd = -1, err = 0;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, out, n);
	memcpy(tmp + n, ".tmp", 5);
	if (!force && lstat(out, &st) == 0) {
		err = -EEXIST;
		goto out;
	}
	unlink(tmp);	/* a stale one from an interrupted run */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if ((err = write_all(fd, b, len)))
		goto out;
	if (fchmod(fd, mode & 07777 & ~(S_ISUID | S_ISGID)) || close(fd)) {
		fd = -1;
		err = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, out))
		err = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (err && err != -EEXIST)
		unlink(tmp);
	free(tmp);
	return err;
}

int offline_rewrite_file(const char *in, const char *out, const struct offline_opts *o,
			 struct offline_result *res, const char **what, const char **why)
{
	uint8_t *src = NULL, *dst = NULL;
	size_t len = 0, out_len = 0;
	mode_t mode = 0755;
	int err;

	*what = in;
	*why = NULL;
	if ((err = read_all(in, &src, &len, &mode, why)))
		goto out;
	if ((err = offline_rewrite(src, len, &dst, &out_len, res, why)))
		goto out;
	if (o->dry_run)
		goto out;
	*what = out;
	err = write_atomic(out, dst, out_len, mode, o->force);
	if (err == -EEXIST)
		*why = "exists (use --force to replace it)";
out:
	free(src);
	free(dst);
	return err;
}
