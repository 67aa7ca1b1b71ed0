// SPDX-License-Identifier: MIT
/* The per-file plan cache (DESIGN section 4): the site plan of an executable, keyed by
 * device, inode, size and mtime, so a second start does no decoding.  Sites are stored
 * relative to the load bias.  The caller trusts an entry only if every site lies in the
 * image and its original bytes match it: anything else means a rescan, never a wrong
 * patch.
 * Written to a temporary file and renamed, so readers never see a partial one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plancache.h"

#define PLAN_MAGIC	0x314e414c50505942ull	/* "BYPPLAN1" */
#define PLAN_VERSION	3u

struct plan_header {
	uint64_t magic;
	uint32_t version, nsites;
	uint64_t dev, ino, size, mtime_ns;
	uint64_t tool_size, tool_mtime_ns;
	uint64_t count[4];
};

struct plan_record {
	uint64_t addr, start, island;	/* relative to the bias */
	uint8_t tactic, len, sys_off, pad[5];
	uint8_t orig[REWRITE_MAX_WINDOW];
};

/* Cache directory: $BYPASS_CACHE_DIR, else $XDG_CACHE_HOME/bypass, else
 * $HOME/.cache/bypass.  "off" (or an empty value) disables the cache. */
static int cache_dir(char *dir, size_t size)
{
	const char *d = getenv("BYPASS_CACHE_DIR"), *x, *h;

	if (d)
		return *d && strcmp(d, "off") ? (snprintf(dir, size, "%s", d), 0) : -ENOENT;
	if ((x = getenv("XDG_CACHE_HOME")) && *x)
		snprintf(dir, size, "%s/bypass", x);
	else if ((h = getenv("HOME")) && *h)
		snprintf(dir, size, "%s/.cache/bypass", h);
	else
		return -ENOENT;
	return 0;
}

static int cache_path(const struct libos_plan_key *k, char *path, size_t size)
{
	char dir[3072];

	if (cache_dir(dir, sizeof(dir)))
		return -ENOENT;
	snprintf(path, size, "%s/%llx-%llx-%llx-%llx.plan", dir, (unsigned long long)k->dev,
		 (unsigned long long)k->ino, (unsigned long long)k->size,
		 (unsigned long long)k->mtime_ns);
	return 0;
}

int libos_plan_load(const struct libos_plan_key *k, uint64_t bias, struct rewrite_plan *plan)
{
	char path[4096];
	struct plan_header h;
	struct plan_record *rec = NULL;
	int fd, err = -ENOENT;

	if (cache_path(k, path, sizeof(path)) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ENOENT;
	if (read(fd, &h, sizeof(h)) != sizeof(h) || h.magic != PLAN_MAGIC ||
	    h.version != PLAN_VERSION || h.dev != k->dev || h.ino != k->ino ||
	    h.size != k->size || h.mtime_ns != k->mtime_ns || h.tool_size != k->tool_size ||
	    h.tool_mtime_ns != k->tool_mtime_ns || h.nsites > (1u << 24))
		goto out;
	size_t bytes = (size_t)h.nsites * sizeof(*rec);
	rec = malloc(bytes ? bytes : 1);
	plan->sites = calloc(h.nsites ? h.nsites : 1, sizeof(*plan->sites));
	if (!rec || !plan->sites || read(fd, rec, bytes) != (ssize_t)bytes)
		goto out;
	for (uint32_t i = 0; i < h.nsites; i++) {
		struct rewrite_site *s = &plan->sites[i];
		const struct plan_record *r = &rec[i];
		if (r->tactic < REWRITE_DISPLACE || r->tactic > REWRITE_TRAP ||
		    r->len > REWRITE_MAX_WINDOW)
			goto out;
		s->addr = r->addr + bias;
		s->start = r->start + bias;
		s->island = r->island ? r->island + bias : 0;
		s->tactic = r->tactic;
		s->len = r->len;
		s->sys_off = r->sys_off;
		s->why = r->tactic == REWRITE_TRAP ? "from the plan cache" : NULL;
		memcpy(s->orig, r->orig, sizeof(s->orig));
	}
	plan->n = plan->cap = h.nsites;
	memcpy(plan->count, h.count, sizeof(plan->count));
	err = 0;
out:
	if (err) {
		free(plan->sites);
		plan->sites = NULL;
		plan->n = plan->cap = 0;
	}
	free(rec);
	close(fd);
	return err;
}

static void mkdirs(char *dir)
{
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	}
	mkdir(dir, 0700);
}

int libos_plan_store(const struct libos_plan_key *k, uint64_t bias,
		     const struct rewrite_plan *plan)
{
	char path[4096], tmp[4200], dir[3072];
	struct plan_header h = {
		.magic = PLAN_MAGIC, .version = PLAN_VERSION, .nsites = (uint32_t)plan->n,
		.dev = k->dev, .ino = k->ino, .size = k->size, .mtime_ns = k->mtime_ns,
		.tool_size = k->tool_size, .tool_mtime_ns = k->tool_mtime_ns,
	};
	int fd, err = -EIO;

	if (cache_path(k, path, sizeof(path)) || cache_dir(dir, sizeof(dir)))
		return -ENOENT;
	mkdirs(dir);
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	memcpy(h.count, plan->count, sizeof(h.count));
	size_t bytes = plan->n * sizeof(struct plan_record);
	struct plan_record *rec = calloc(plan->n ? plan->n : 1, sizeof(*rec));
	if (!rec)
		goto out;
	for (size_t i = 0; i < plan->n; i++) {
		const struct rewrite_site *s = &plan->sites[i];
		rec[i] = (struct plan_record){
			.addr = s->addr - bias, .start = s->start - bias,
			.island = s->island ? s->island - bias : 0,
			.tactic = s->tactic, .len = s->len, .sys_off = s->sys_off,
		};
		memcpy(rec[i].orig, s->orig, sizeof(rec[i].orig));
	}
	/* No fsync: a torn entry fails validation and costs a rescan, nothing more. */
	if (write(fd, &h, sizeof(h)) == sizeof(h) && write(fd, rec, bytes) == (ssize_t)bytes)
		err = 0;
out:
	free(rec);
	close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
