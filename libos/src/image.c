// SPDX-License-Identifier: MIT
/* Patch a freshly mapped image: find its functions through PT_GNU_EH_FRAME, scan every
 * executable segment, and install a stub for every site the plan can patch, in an arena
 * the loader reserved next to the image. */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <loader/loader.h>
#include <rewrite/rewrite.h>

#include "image.h"
#include "internal.h"
#include "plancache.h"

/* The patched image, kept for lazy patching of what the trap catches. */
static struct {
	struct loader_image img;
	uint64_t eh_addr, eh_size;
	struct rewrite_func *funcs;	/* computed on first need when the plan was cached */
	size_t nfuncs;
	bool have_funcs;
	struct rewrite_plan plan;
	struct tramp_arena arena;
	pthread_mutex_t lock;
	bool ready;
} g_image = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Read a DWARF pointer of encoding @enc at @p (only what eh_frame_hdr uses). */
static int read_encoded(const uint8_t *p, uint8_t enc, uint64_t *out)
{
	int64_t v;

	switch (enc & 0x0f) {
	case 0x03: { uint32_t u; memcpy(&u, p, 4); v = u; break; }	/* udata4 */
	case 0x0b: { int32_t s; memcpy(&s, p, 4); v = s; break; }	/* sdata4 */
	case 0x04: case 0x0c: case 0x00: memcpy(&v, p, 8); break;	/* (u|s)data8, absptr */
	default: return -EINVAL;
	}
	switch (enc & 0x70) {
	case 0x00: break;				/* absolute */
	case 0x10: v += (int64_t)(uintptr_t)p; break;	/* pcrel */
	default: return -EINVAL;
	}
	*out = (uint64_t)v;
	return 0;
}

/* The sorted function ranges of @img from its .eh_frame, found by section header
 * (@eh_addr, @eh_size unbiased; size 0 if unknown) or else through PT_GNU_EH_FRAME;
 * *n = 0 when there are none. */
static void image_funcs(const struct loader_image *img, uint64_t eh_addr, uint64_t eh_size,
			struct rewrite_func **funcs, size_t *n)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)img->phdr;

	*funcs = NULL;
	*n = 0;
	if (eh_size) {
		uint64_t eh = img->bias + eh_addr;
		for (size_t s = 0; s < img->nsegs; s++)
			if (eh >= img->segs[s].start && eh + eh_size <= img->segs[s].end) {
				rewrite_ehframe_funcs((const uint8_t *)eh, eh_size, eh, funcs, n);
				return;
			}
	}
	for (unsigned i = 0; ph && i < img->phnum; i++) {
		if (ph[i].p_type != PT_GNU_EH_FRAME)
			continue;
		const uint8_t *hdr = (const uint8_t *)(img->bias + ph[i].p_vaddr);
		uint64_t eh;
		if (ph[i].p_memsz < 8 || hdr[0] != 1 || read_encoded(hdr + 4, hdr[1], &eh))
			return;
		/* .eh_frame runs to its zero terminator, inside the segment that holds it. */
		for (size_t s = 0; s < img->nsegs; s++) {
			if (eh >= img->segs[s].start && eh < img->segs[s].end) {
				rewrite_ehframe_funcs((const uint8_t *)eh, img->segs[s].end - eh, eh,
						      funcs, n);
				return;
			}
		}
	}
}

/* The segment holding [addr, addr + len), or NULL. */
static const struct loader_segment *segment_of(const struct loader_image *img, uint64_t addr,
					       size_t len)
{
	for (size_t s = 0; s < img->nsegs; s++)
		if (addr >= img->segs[s].start && addr + len <= img->segs[s].end &&
		    addr + len >= addr)
			return &img->segs[s];
	return NULL;
}

/* A cached plan is used only if it describes these very bytes. */
static bool plan_matches(const struct loader_image *img, const struct rewrite_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct rewrite_site *s = &plan->sites[i];
		const struct loader_segment *seg = segment_of(img, s->start, s->len);
		if (!seg || !(seg->prot & PROT_EXEC) || s->addr < s->start ||
		    s->addr + 2 > s->start + s->len ||
		    memcmp((const void *)s->start, s->orig, s->len) ||
		    memcmp((const void *)s->addr, "\x0f\x05", 2))
			return false;
		if (s->tactic == REWRITE_ISLAND && !segment_of(img, s->island, 5))
			return false;
	}
	return true;
}

static int image_scan(const struct loader_image *img, uint64_t eh_addr, uint64_t eh_size,
		      struct rewrite_plan *plan)
{
	struct rewrite_func *funcs;
	size_t nfuncs;
	int err = 0;

	image_funcs(img, eh_addr, eh_size, &funcs, &nfuncs);
	for (size_t s = 0; s < img->nsegs && !err; s++) {
		const struct loader_segment *seg = &img->segs[s];
		if (!(seg->prot & PROT_EXEC))
			continue;
		struct rewrite_region r = {
			.bytes = (const uint8_t *)seg->start,
			.len = seg->end - seg->start,
			.addr = seg->start,
			.funcs = funcs,
			.nfuncs = nfuncs,
		};
		if (rewrite_region_scan(&r, plan) < 0)
			err = -ENOMEM;
	}
	free(funcs);
	return err;
}

int libos_image_patch(const struct loader_image *img, const struct libos_plan_key *key,
		      uint64_t eh_addr, uint64_t eh_size, uintptr_t tlo, uintptr_t thi,
		      const char **why)
{
	struct rewrite_plan plan = { 0 };
	int err = 0;

	if (!key || libos_plan_load(key, img->bias, &plan) || !plan_matches(img, &plan)) {
		rewrite_plan_fini(&plan);
		memset(&plan, 0, sizeof(plan));
		if ((err = image_scan(img, eh_addr, eh_size, &plan))) {
			*why = "out of memory while scanning";
			goto out;
		}
		if (key)
			libos_plan_store(key, img->bias, &plan);
	}

	/* Room for every site: TRAP ones may be patched lazily later. */
	size_t need = 64 + (plan.n + 1) * 192;
	struct tramp_arena arena;
	if (need > thi - tlo || (err = tramp_arena_create(&arena, tlo, thi, need))) {
		*why = "no room for trampolines near the image";
		err = err ? err : -ENOMEM;
		goto out;
	}
	if (g_proc.stats)
		tramp_arena_set_entry(&arena, tramp_entry_stats);
	for (size_t i = 0; i < plan.n; i++) {
		struct rewrite_site *site = &plan.sites[i];
		const struct loader_segment *seg = segment_of(img, site->addr, 2);
		int e = seg ? tramp_site_install(&arena, site, (uint8_t *)seg->start, seg->start,
						 seg->end - seg->start) : -EINVAL;
		if (e && site->tactic != REWRITE_TRAP) {
			/* Unpatched: the trap serves it.  Count it as such. */
			plan.count[site->tactic]--;
			plan.count[REWRITE_TRAP]++;
			site->tactic = REWRITE_TRAP;
		}
	}
	if ((err = tramp_arena_seal(&arena))) {
		*why = "cannot protect the trampolines";
		goto out;
	}
	g_proc.sites_found += plan.n;
	g_proc.sites_displaced += plan.count[REWRITE_DISPLACE];
	g_proc.sites_island += plan.count[REWRITE_ISLAND];
	g_proc.sites_trap += plan.count[REWRITE_TRAP];
	g_image.img = *img;
	g_image.eh_addr = eh_addr;
	g_image.eh_size = eh_size;
	g_image.plan = plan;
	g_image.arena = arena;
	g_image.ready = true;
	return 0;
out:
	rewrite_plan_fini(&plan);
	return err;
}

/* Make [addr, addr + len) writable (keeping it executable for the threads running it)
 * or give it back @prot. */
static int pages_protect(uint64_t addr, size_t len, int prot)
{
	uint64_t lo = addr & ~4095ull, hi = (addr + len + 4095) & ~4095ull;
	return mprotect((void *)lo, hi - lo, prot) ? -errno : 0;
}

void libos_image_trap(uint64_t addr)
{
	struct loader_image *img = &g_image.img;
	const struct loader_segment *seg;

	/* One 16-bit store must switch the site: keep it inside a cache line. */
	if (!g_image.ready || (addr & 63) == 63 || !(seg = segment_of(img, addr, 2)) ||
	    !(seg->prot & PROT_EXEC))
		return;
	pthread_mutex_lock(&g_image.lock);
	if (!g_image.have_funcs) {
		image_funcs(img, g_image.eh_addr, g_image.eh_size, &g_image.funcs, &g_image.nfuncs);
		g_image.have_funcs = true;
	}
	struct rewrite_region r = {
		.bytes = (const uint8_t *)seg->start,
		.len = seg->end - seg->start,
		.addr = seg->start,
		.funcs = g_image.funcs,
		.nfuncs = g_image.nfuncs,
	};
	struct tramp_arena *a = &g_image.arena;
	if (a->used + 192 > a->size || rewrite_site_confirm(&r, &g_image.plan, addr))
		goto out;
	struct rewrite_site *site = NULL;
	for (size_t i = 0; i < g_image.plan.n; i++)
		if (g_image.plan.sites[i].addr == addr)
			site = &g_image.plan.sites[i];
	uint64_t lo = site->island < addr ? site->island : addr;
	uint64_t hi = site->island + 5 > addr + 2 ? site->island + 5 : addr + 2;
	if (pages_protect((uint64_t)a->base, a->size, PROT_READ | PROT_WRITE | PROT_EXEC) ||
	    pages_protect(lo, hi - lo, seg->prot | PROT_WRITE))
		goto out;
	if (tramp_site_install(a, site, (uint8_t *)seg->start, seg->start,
			       seg->end - seg->start) == 0) {
		g_proc.sites_trap--;
		g_proc.sites_island++;
	}
	pages_protect(lo, hi - lo, seg->prot);
	pages_protect((uint64_t)a->base, a->size, PROT_READ | PROT_EXEC);
out:
	pthread_mutex_unlock(&g_image.lock);
}
