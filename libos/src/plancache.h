/* SPDX-License-Identifier: MIT */
/* The per-file site plan cache. */
#ifndef LIBOS_PLANCACHE_H
#define LIBOS_PLANCACHE_H

#include <stdint.h>

#include <rewrite/rewrite.h>

/* What identifies an executable file's contents, and the planner that made the plan
 * (bypass-run's own size and mtime: any rebuild invalidates old entries). */
struct libos_plan_key {
	uint64_t dev, ino, size, mtime_ns;
	uint64_t tool_size, tool_mtime_ns;
};

/* Load the plan for @k into the empty @plan, sites moved to load bias @bias.  Returns 0,
 * or -ENOENT when there is no usable entry (absent, other version, malformed).  The
 * caller must still check the sites against the mapped image. */
int libos_plan_load(const struct libos_plan_key *k, uint64_t bias, struct rewrite_plan *plan);

/* Store @plan for @k (atomically: temporary file, then rename).  Returns 0 or -errno. */
int libos_plan_store(const struct libos_plan_key *k, uint64_t bias,
		     const struct rewrite_plan *plan);

#endif
