// SPDX-License-Identifier: MIT
/* Patched images: the program and its interpreter as the loader maps them, and every
 * file the program maps executable later (ld.so loading libraries, dlopen).  Each gets a
 * site plan (from the per-file cache, else a scan of the functions its .eh_frame names)
 * and an arena of stubs within +-2 GiB.  Kept in a list for lazy patching of what the
 * trap catches, and dropped when unmapped so a stale plan never meets new code. */
#include <elf.h>
#include <errno.h>
#include <gelf.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <loader/loader.h>
#include <offline/offline.h>
#include <rewrite/rewrite.h>

#include "image.h"
#include "internal.h"
#include "plancache.h"

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

/* The sorted function ranges of a loader-mapped @img from its .eh_frame, found by
 * section header (@eh_addr, @eh_size unbiased; size 0 if unknown) or else through
 * PT_GNU_EH_FRAME; *n = 0 when there are none. */
static void loaded_funcs(const struct loader_image *img, uint64_t eh_addr, uint64_t eh_size,
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

struct libos_image {
	struct libos_image *next;
	uint64_t bias;
	size_t nsegs;
	struct loader_segment segs[LOADER_MAX_SEGS];	/* its executable segments */
	struct rewrite_plan plan;
	struct tramp_arena arena;
	bool own_arena;		/* mapped by us near a library: unmapped with it */
	bool host_too;		/* host code runs it too (the vDSO): see vdso_entry_write */
	/* Its stubs by the address their gate call returns to, ascending (the arena is
	 * filled upwards), with the site each stands in for: libos_image_stub_site. */
	struct image_stub *stubs;
	size_t nstubs, stubs_cap;
};

struct image_stub {
	uint64_t ret;		/* behind the stub's `call *slot(%rip)` */
	uint64_t site;		/* the program's `syscall` it replaces */
};

static struct libos_image *g_images;
static pthread_mutex_t g_images_lock = PTHREAD_MUTEX_INITIALIZER;

/* How to find an image's functions when it must be scanned. */
struct funcs_src {
	const struct loader_image *img;		/* loaded by us: read .eh_frame in memory */
	uint64_t eh_addr, eh_size;
	struct loader_elf *elf;			/* the file (symbols; .eh_frame if no @img) */
};

static int func_cmp(const void *a, const void *b)
{
	const struct rewrite_func *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end > y->end ? -1 : x->end < y->end;	/* the larger first */
}

/* The STT_FUNC ranges of @elf's .symtab (biased by @bias), sorted; *n = 0 without one. */
static struct rewrite_func *symtab_funcs(struct loader_elf *elf, uint64_t bias, size_t *n)
{
	Elf *e = elf ? elf->elf : NULL;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	struct rewrite_func *f = NULL;

	*n = 0;
	while (e && (scn = elf_nextscn(e, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			break;
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	size_t count = d && sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
	if (!count || !(f = calloc(count, sizeof(*f))))
		return NULL;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		if (gelf_getsym(d, (int)i, &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
		    sym.st_size && sym.st_shndx != SHN_UNDEF && sym.st_shndx < SHN_LORESERVE)
			f[(*n)++] = (struct rewrite_func){ bias + sym.st_value,
							   bias + sym.st_value + sym.st_size };
	}
	qsort(f, *n, sizeof(*f), func_cmp);
	return f;
}

/* Add the symbol table's functions to the sorted, disjoint .eh_frame ranges @funcs
 * where .eh_frame says nothing: all of a Go program's own code (its linker writes no
 * .eh_frame), assembly without CFI.  A symbol that overlaps an FDE or a symbol kept
 * before it (an alias, a label inside a function) is dropped, so the list stays
 * disjoint and an FDE always wins.  On failure @funcs is left as it was. */
static void symtab_funcs_add(struct loader_elf *elf, uint64_t bias, struct rewrite_func **funcs,
			     size_t *n)
{
	size_t nsym, keep = 0, fi = 0;
	struct rewrite_func *sym = symtab_funcs(elf, bias, &nsym), *all;
	uint64_t last_end = 0;

	for (size_t i = 0; i < nsym; i++) {
		while (fi < *n && (*funcs)[fi].end <= sym[i].start)
			fi++;
		if (sym[i].start < last_end || (fi < *n && (*funcs)[fi].start < sym[i].end))
			continue;
		last_end = sym[i].end;
		sym[keep++] = sym[i];
	}
	if (keep && (all = realloc(*funcs, (*n + keep) * sizeof(*all)))) {
		memcpy(all + *n, sym, keep * sizeof(*all));
		*n += keep;
		qsort(all, *n, sizeof(*all), func_cmp);
		*funcs = all;
	}
	free(sym);
}

static void funcs_get(const struct funcs_src *src, uint64_t bias, struct rewrite_func **funcs,
		      size_t *n)
{
	const void *data;
	uint64_t addr, size;

	*funcs = NULL;
	*n = 0;
	if (src->img)
		loaded_funcs(src->img, src->eh_addr, src->eh_size, funcs, n);
	else if (loader_elf_section_data(src->elf, ".eh_frame", &data, &addr, &size) == 0)
		rewrite_ehframe_funcs(data, size, bias + addr, funcs, n);
	symtab_funcs_add(src->elf, bias, funcs, n);
}

/* The executable segment of @im holding [addr, addr + len), or NULL. */
static const struct loader_segment *segment_of(const struct libos_image *im, uint64_t addr,
					       size_t len)
{
	for (size_t s = 0; s < im->nsegs; s++)
		if (addr >= im->segs[s].start && addr + len <= im->segs[s].end &&
		    addr + len >= addr)
			return &im->segs[s];
	return NULL;
}

/* A cached plan is used only if it describes these very bytes. */
static bool plan_matches(const struct libos_image *im, const struct rewrite_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct rewrite_site *s = &plan->sites[i];
		if (!segment_of(im, s->start, s->len) || s->addr < s->start ||
		    s->addr + 2 > s->start + s->len ||
		    memcmp((const void *)s->start, s->orig, s->len) ||
		    memcmp((const void *)s->addr, "\x0f\x05", 2))
			return false;
		if (s->island && !segment_of(im, s->island, 5))
			return false;
	}
	return true;
}

static int image_scan(struct libos_image *im, const struct funcs_src *src)
{
	struct rewrite_func *funcs;
	size_t nfuncs;
	int err = 0;

	funcs_get(src, im->bias, &funcs, &nfuncs);
	for (size_t s = 0; s < im->nsegs && !err; s++) {
		struct rewrite_region r = {
			.bytes = (const uint8_t *)im->segs[s].start,
			.len = im->segs[s].end - im->segs[s].start,
			.addr = im->segs[s].start,
			.funcs = funcs,
			.nfuncs = nfuncs,
		};
		if (rewrite_region_scan(&r, &im->plan) < 0)
			err = -ENOMEM;
	}
	free(funcs);
	return err;
}

/* Make [addr, addr + len) writable (keeping it executable for any thread running it), or
 * give it back @prot. */
static int pages_protect(uint64_t addr, size_t len, int prot)
{
	uint64_t lo = addr & ~4095ull, hi = (addr + len + 4095) & ~4095ull;
	return mprotect((void *)lo, hi - lo, prot) ? -errno : 0;
}

/* The site plan of @im: from the cache when it describes these bytes, else a scan. */
static int image_plan(struct libos_image *im, const struct libos_plan_key *key,
		      const struct funcs_src *src)
{
	int err;

	if (key && libos_plan_load(key, im->bias, &im->plan) == 0 && plan_matches(im, &im->plan))
		return 0;
	rewrite_plan_fini(&im->plan);
	memset(&im->plan, 0, sizeof(im->plan));
	if ((err = image_scan(im, src)))
		return err;
	if (key)
		libos_plan_store(key, im->bias, &im->plan);
	return 0;
}

/* Stub space for the plan's sites, lazy patches of its traps included. */
static size_t arena_size(const struct libos_image *im)
{
	return 64 + (im->plan.n + 1) * 192;
}

static int image_register(struct libos_image *im);

/* Room for one stub per site of the plan (lazy patches included), allocated before
 * anything is installed: libos_image_trap records in a signal handler. */
static void stubs_alloc(struct libos_image *im)
{
	if (im->stubs || !im->plan.n)
		return;
	if ((im->stubs = calloc(im->plan.n, sizeof(*im->stubs))))
		im->stubs_cap = im->plan.n;
}

/* Install @site's stub into @im's arena, and note it (under g_images_lock, or before
 * @im is listed).  Returns what tramp_site_install does. */
static int stub_install(struct libos_image *im, const struct rewrite_site *site,
			const struct loader_segment *seg)
{
	struct tramp_stub_map m;
	int err = tramp_site_install_map(&im->arena, site, (uint8_t *)seg->start, seg->start,
					 seg->end - seg->start, &m);

	if (err || site->tactic == REWRITE_TRAP || im->nstubs == im->stubs_cap)
		return err;
	/* The row that starts at the call (%rsp TRAMP_RED_ZONE lower) ends at its return
	 * address: the call is 6 bytes (ff 15 rel32). */
	for (unsigned i = 0; i < m.n; i++)
		if (m.row[i].below == TRAMP_RED_ZONE) {
			im->stubs[im->nstubs++] = (struct image_stub){ m.addr + m.row[i].off + 6,
								       site->addr };
			break;
		}
	return 0;
}

/* The vDSO is shared with host code: the LibOS's own threads (GS base 0, SUD never
 * armed) and guest threads while they run host code (selector ALLOW) call
 * clock_gettime too, and a fallback `syscall` of theirs must stay a plain syscall: the
 * gate's entries assume the guest world (the world switch would take the host's call
 * for the guest's and overwrite its frame).  So the arena's slot does not hold the
 * entry itself but points at this check, written into the arena's header at +16, with
 * the entry in the slot at +8.  It runs with the stub's frame ([rsp] = the stub's
 * resume address) and, like the entries, touches no flags; rcx is the syscall's to
 * clobber.  The native `syscall` here is outside the gate, which is fine exactly in the
 * two host cases: SUD not armed, or armed with the selector at ALLOW. */
#define VDSO_ENTRY_SLOT	8
#define VDSO_ENTRY_CODE	16
_Static_assert(TRAMP_SEL_ALLOW == 0, "jrcxz tests the selector for ALLOW");
_Static_assert(TRAMP_TLS_SELECTOR == 0x58, "the selector's offset is encoded below");

static void vdso_entry_write(struct tramp_arena *a, void (*entry)(void))
{
	static const uint8_t code[] = {
		0xf3, 0x48, 0x0f, 0xae, 0xc9,		/* rdgsbase %rcx                */
		0xe3, 0x11,				/* jrcxz 1f: a host-only thread  */
		0x65, 0x0f, 0xb6, 0x0c, 0x25,		/* movzbl %gs:0x58, %ecx        */
		0x58, 0x00, 0x00, 0x00,			/*   (tls->selector)            */
		0xe3, 0x06,				/* jrcxz 1f: ALLOW, host code   */
		0xff, 0x25, 0xe0, 0xff, 0xff, 0xff,	/* jmp *-0x20(%rip): the entry, */
							/*   read from the slot at +8   */
		0x0f, 0x05,				/* 1: syscall                   */
		0xc3,					/* ret                          */
	};
	uint64_t code_addr = a->addr + VDSO_ENTRY_CODE;

	memcpy(a->base + VDSO_ENTRY_SLOT, &(uint64_t){ (uint64_t)entry }, 8);
	memcpy(a->base + VDSO_ENTRY_CODE, code, sizeof(code));
	memcpy(a->base, &code_addr, 8);		/* the slot every stub calls through */
}

/* Point @im's stubs at the gate entry (with call counting under --stats). */
static void arena_entry_set(struct libos_image *im)
{
	void (*entry)(void) = g_proc.stats ? tramp_entry_stats : tramp_entry;

	if (im->host_too)
		vdso_entry_write(&im->arena, entry);
	else
		tramp_arena_set_entry(&im->arena, entry);
}

/* Patch every site of the plan into im->arena and list @im.  @live: its code is mapped
 * read-only and must be opened for writing around the patch. */
static int image_apply(struct libos_image *im, bool live)
{
	arena_entry_set(im);
	stubs_alloc(im);
	for (size_t s = 0; live && s < im->nsegs; s++)
		pages_protect(im->segs[s].start, im->segs[s].end - im->segs[s].start,
			      im->segs[s].prot | PROT_WRITE);
	for (size_t i = 0; i < im->plan.n; i++) {
		struct rewrite_site *site = &im->plan.sites[i];
		const struct loader_segment *seg = segment_of(im, site->addr, 2);
		int e = seg ? stub_install(im, site, seg) : -EINVAL;
		if (e && site->tactic != REWRITE_TRAP) {
			/* Unpatched: the trap serves it.  Count it as such. */
			im->plan.count[site->tactic]--;
			im->plan.count[REWRITE_TRAP]++;
			site->tactic = REWRITE_TRAP;
		}
	}
	for (size_t s = 0; live && s < im->nsegs; s++)
		pages_protect(im->segs[s].start, im->segs[s].end - im->segs[s].start,
			      im->segs[s].prot);
	return image_register(im);
}

/* Seal @im's arena, count its sites and list it (for lazy patching and unmapping). */
static int image_register(struct libos_image *im)
{
	int err;

	arena_entry_set(im);	/* lazy patches land here too */
	stubs_alloc(im);
	if ((err = tramp_arena_seal(&im->arena)))
		return err;
	pthread_mutex_lock(&g_proc.lock);
	g_proc.sites_found += im->plan.n;
	g_proc.sites_displaced += im->plan.count[REWRITE_DISPLACE];
	g_proc.sites_island += im->plan.count[REWRITE_ISLAND];
	g_proc.sites_trap += im->plan.count[REWRITE_TRAP];
	pthread_mutex_unlock(&g_proc.lock);
	pthread_mutex_lock(&g_images_lock);
	im->next = g_images;
	g_images = im;
	pthread_mutex_unlock(&g_images_lock);
	return 0;
}

static void image_free(struct libos_image *im)
{
	if (im->own_arena) {
		libos_hostmap_remove((uint64_t)im->arena.base,
				     (uint64_t)im->arena.base + im->arena.size);
		tramp_arena_destroy(&im->arena);
	}
	rewrite_plan_fini(&im->plan);
	free(im->stubs);
	free(im);
}

/* The bypass note of a loaded image (bypass-rewrite's: right after its program header
 * table, offline.h), or NULL; *descsz: the bytes mapped from there on. */
static const uint8_t *note_find(const struct loader_image *img, size_t *descsz)
{
	uint64_t p = img->phdr + (uint64_t)img->phnum * sizeof(Elf64_Phdr);

	for (size_t s = 0; img->phdr && s < img->nsegs; s++)
		if ((img->segs[s].prot & PROT_READ) && p >= img->segs[s].start &&
		    p + sizeof(struct offline_note_hdr) <= img->segs[s].end &&
		    !memcmp((const void *)p, OFFLINE_NOTE_MAGIC, 8)) {
			*descsz = img->segs[s].end - p;
			return (const uint8_t *)p;
		}
	return NULL;
}

/* An image bypass-rewrite patched offline: take the plan from its note (no scan) and
 * point its stubs' slot at the gate.  Returns 1, 0 (no note: an ordinary image), or
 * -EINVAL (a note that does not describe this image: nothing was changed). */
static int image_from_note(struct libos_image *im, const struct loader_image *img)
{
	size_t dsz;
	const uint8_t *desc = note_find(img, &dsz);
	struct offline_note_hdr h;

	if (!desc)
		return 0;
	if (dsz < sizeof(h))
		return -EINVAL;
	memcpy(&h, desc, sizeof(h));
	if (h.format != OFFLINE_NOTE_FORMAT ||
	    h.nsites > (dsz - sizeof(h)) / sizeof(struct offline_note_site))
		return -EINVAL;
	uint64_t arena = im->bias + h.arena;
	if (h.arena_size < TRAMP_IMAGE_SLOT_SIZE || !segment_of(im, arena, h.arena_size))
		return -EINVAL;
	struct rewrite_plan *plan = &im->plan;
	if (!(plan->sites = calloc(h.nsites ? h.nsites : 1, sizeof(*plan->sites))))
		return -ENOMEM;
	for (uint32_t i = 0; i < h.nsites; i++) {
		struct offline_note_site n;
		struct rewrite_site *st = &plan->sites[i];
		memcpy(&n, desc + sizeof(h) + i * sizeof(n), sizeof(n));
		st->addr = im->bias + n.addr;
		st->tactic = n.tactic;
		st->len = n.len;
		st->sys_off = n.sys_off;
		st->start = st->addr - n.sys_off;
		st->island = n.island ? im->bias + n.island : 0;
		if (n.tactic < REWRITE_DISPLACE || n.tactic > REWRITE_TRAP ||
		    n.len > REWRITE_MAX_WINDOW || n.sys_off + 2u > n.len ||
		    !segment_of(im, st->start, st->len) ||
		    (st->island && !segment_of(im, st->island, 5)))
			return -EINVAL;
		if (n.tactic == REWRITE_TRAP)	/* still the syscall: lazily patchable */
			memcpy(st->orig, (const void *)st->addr, 2);
		plan->count[n.tactic]++;
	}
	plan->n = plan->cap = h.nsites;
	/* The slot is code the stubs call: make it jump to the gate. */
	const struct loader_segment *seg = segment_of(im, arena, TRAMP_IMAGE_SLOT_SIZE);
	if (pages_protect(arena, TRAMP_IMAGE_SLOT_SIZE, seg->prot | PROT_WRITE))
		return -EINVAL;
	tramp_image_slot_encode((uint8_t *)arena,
				(uint64_t)(g_proc.stats ? tramp_entry_stats : tramp_entry));
	pages_protect(arena, TRAMP_IMAGE_SLOT_SIZE, seg->prot);
	return 1;
}

int libos_image_patch(const struct loader_image *img, struct loader_elf *elf,
		      const struct libos_plan_key *key, uint64_t eh_addr, uint64_t eh_size,
		      uintptr_t tlo, uintptr_t thi, const char **why)
{
	struct libos_image *im = calloc(1, sizeof(*im));
	struct funcs_src src = { .img = img, .eh_addr = eh_addr, .eh_size = eh_size, .elf = elf };
	int err;

	if (!im)
		return -ENOMEM;
	im->bias = img->bias;
	for (size_t s = 0; s < img->nsegs; s++)
		if (img->segs[s].prot & PROT_EXEC)
			im->segs[im->nsegs++] = img->segs[s];
	int rewritten = image_from_note(im, img);
	if (rewritten < 0) {
		*why = "its bypass-rewrite note does not match the file";
		err = -ENOEXEC;
		goto fail;
	}
	if (!rewritten && (err = image_plan(im, key, &src))) {
		*why = "out of memory while scanning";
		goto fail;
	}
	/* A rewritten image's own arena is full: this one takes its lazy patches. */
	if ((err = tramp_arena_create(&im->arena, tlo, thi, arena_size(im)))) {
		*why = "no room for trampolines near the image";
		goto fail;
	}
	libos_hostmap_add((uint64_t)im->arena.base, (uint64_t)im->arena.base + im->arena.size);
	if ((err = rewritten ? image_register(im) : image_apply(im, false))) {
		*why = "cannot protect the trampolines";
		goto fail;
	}
	return 0;
fail:
	image_free(im);
	return err;
}

/* The bypass note of the file @fd (@size bytes), if bypass-rewrite made it, and its
 * sites per tactic. */
static bool file_note(int fd, uint64_t size, struct offline_note_hdr *out, size_t count[4])
{
	const struct offline_note_hdr *h;
	const struct offline_note_site *st;
	void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	bool found;

	if (p == MAP_FAILED)
		return false;
	found = offline_note_find(p, size, &h, &st) == 0;
	if (found) {
		memcpy(out, h, sizeof(*out));
		for (uint32_t i = 0; i < h->nsites; i++)
			if (st[i].tactic < 4)
				count[st[i].tactic]++;
	}
	munmap(p, size);
	return found;
}

/* A file bypass-rewrite patched offline is never scanned (its arena's stubs issue their
 * own syscall while the slot is untouched): when the mapping that holds the arena's
 * slot appears, point the slot at the gate. */
static void rewritten_mapped(const struct offline_note_hdr *h, const size_t count[4],
			     uint64_t bias, uint64_t addr, size_t len, int prot)
{
	uint64_t slot = bias + h->arena;

	if (slot < addr || slot + TRAMP_IMAGE_SLOT_SIZE > addr + len)
		return;
	if (pages_protect(slot, TRAMP_IMAGE_SLOT_SIZE, prot | PROT_WRITE))
		return;
	tramp_image_slot_encode((uint8_t *)slot,
				(uint64_t)(g_proc.stats ? tramp_entry_stats : tramp_entry));
	pages_protect(slot, TRAMP_IMAGE_SLOT_SIZE, prot);
	pthread_mutex_lock(&g_proc.lock);
	g_proc.sites_found += h->nsites;
	g_proc.sites_displaced += count[REWRITE_DISPLACE];
	g_proc.sites_island += count[REWRITE_ISLAND];
	g_proc.sites_trap += count[REWRITE_TRAP];
	pthread_mutex_unlock(&g_proc.lock);
}

void libos_image_mapped(uint64_t addr, size_t len, int prot, int fd, uint64_t offset)
{
	struct loader_elf elf;
	struct libos_image *im = NULL;
	struct offline_note_hdr note;
	uint64_t vaddr;

	if (loader_elf_open_fd(fd, &elf, NULL))
		return;		/* not an ELF file: its syscalls, if any, are trapped */
	if (loader_elf_segment_at(&elf, offset, &vaddr))
		goto out;
	size_t count[4] = { 0 };
	if (file_note(elf.fd, elf.file_size, &note, count)) {
		rewritten_mapped(&note, count, addr - vaddr, addr, len, prot);
		goto out;
	}
	if (!(im = calloc(1, sizeof(*im))))
		goto out;
	im->bias = addr - vaddr;
	im->nsegs = 1;
	im->segs[0] = (struct loader_segment){ addr, (addr + len + 4095) & ~4095ull, prot };
	struct libos_plan_key key = { elf.dev, elf.ino, elf.file_size, elf.mtime_ns,
				      g_proc.tool_size, g_proc.tool_mtime_ns };
	struct funcs_src src = { .elf = &elf };
	if (image_plan(im, &key, &src) ||
	    tramp_arena_create_near(&im->arena, addr, addr + len, arena_size(im)))
		goto out;
	im->own_arena = true;
	libos_hostmap_add((uint64_t)im->arena.base, (uint64_t)im->arena.base + im->arena.size);
	if (image_apply(im, true) == 0)
		im = NULL;	/* listed */
out:
	if (im)
		image_free(im);
	loader_elf_close(&elf);
}

int libos_image_vdso(uint64_t base)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	struct loader_image img = { 0 };
	struct funcs_src src = { .img = &img };
	struct libos_image *im;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_phentsize != sizeof(Elf64_Phdr))
		return -ENOEXEC;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	img.bias = base;	/* the kernel links its vDSO at 0 */
	img.phdr = (uintptr_t)ph;
	img.phnum = eh->e_phnum;
	for (unsigned i = 0; i < eh->e_phnum && !img.nsegs; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr == 0 && (ph[i].p_flags & PF_X))
			img.segs[img.nsegs++] = (struct loader_segment){
				base, (base + ph[i].p_memsz + 4095) & ~4095ull, PROT_READ | PROT_EXEC };
	if (!img.nsegs)
		return -ENOEXEC;
	if (!(im = calloc(1, sizeof(*im))))
		return -ENOMEM;
	im->bias = base;
	im->nsegs = 1;
	im->segs[0] = img.segs[0];
	im->host_too = true;
	int err = image_plan(im, NULL, &src);
	if (!err)
		err = tramp_arena_create_near(&im->arena, im->segs[0].start, im->segs[0].end,
					      arena_size(im));
	if (err) {
		image_free(im);
		return err;
	}
	im->own_arena = true;
	libos_hostmap_add((uint64_t)im->arena.base, (uint64_t)im->arena.base + im->arena.size);
	if ((err = image_apply(im, true)))
		image_free(im);
	return err;
}

void libos_image_unmapped(uint64_t addr, size_t len)
{
	pthread_mutex_lock(&g_images_lock);
	for (struct libos_image **pp = &g_images, *im; (im = *pp);) {
		bool hit = false;
		for (size_t s = 0; s < im->nsegs; s++)
			hit |= im->segs[s].start < addr + len && addr < im->segs[s].end;
		if (!hit) {
			pp = &im->next;
			continue;
		}
		*pp = im->next;
		image_free(im);
	}
	pthread_mutex_unlock(&g_images_lock);
	libos_jit_forget(addr, len, true);
}

int libos_image_trap(uint64_t addr)
{
	pthread_mutex_lock(&g_images_lock);
	struct libos_image *im = g_images;
	const struct loader_segment *seg = NULL;
	for (; im && !(seg = segment_of(im, addr, 2)); im = im->next)
		;
	if (!im) {
		pthread_mutex_unlock(&g_images_lock);
		return 0;
	}
	/* One 16-bit store must switch the site: keep it inside a cache line. */
	if ((addr & 63) == 63)
		goto out;
	struct rewrite_region r = {
		.bytes = (const uint8_t *)seg->start,
		.len = seg->end - seg->start,
		.addr = seg->start,
	};
	struct tramp_arena *a = &im->arena;
	if (a->used + 192 > a->size || rewrite_site_confirm(&r, &im->plan, addr))
		goto out;
	struct rewrite_site *site = NULL;
	for (size_t i = 0; i < im->plan.n; i++)
		if (im->plan.sites[i].addr == addr)
			site = &im->plan.sites[i];
	uint64_t lo = site->island < addr ? site->island : addr;
	uint64_t hi = site->island + 5 > addr + 2 ? site->island + 5 : addr + 2;
	if (pages_protect((uint64_t)a->base, a->size, PROT_READ | PROT_WRITE | PROT_EXEC) ||
	    pages_protect(lo, hi - lo, seg->prot | PROT_WRITE))
		goto out;
	if (stub_install(im, site, seg) == 0) {
		g_proc.sites_trap--;
		g_proc.sites_island++;
	}
	pages_protect(lo, hi - lo, seg->prot);
	pages_protect((uint64_t)a->base, a->size, PROT_READ | PROT_EXEC);
out:
	pthread_mutex_unlock(&g_images_lock);
	return 1;
}

int libos_image_stub_site(uint64_t ret, uint64_t *site)
{
	int err = -ENOENT;

	pthread_mutex_lock(&g_images_lock);
	for (struct libos_image *im = g_images; im; im = im->next) {
		if (im->arena.kind != TRAMP_ARENA_LIVE || ret < im->arena.addr ||
		    ret >= im->arena.addr + im->arena.used)
			continue;
		size_t lo = 0, hi = im->nstubs;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (im->stubs[mid].ret < ret)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < im->nstubs && im->stubs[lo].ret == ret) {
			*site = im->stubs[lo].site;
			err = 0;
		}
		break;
	}
	pthread_mutex_unlock(&g_images_lock);
	return err ? libos_jit_stub_site(ret, site) : 0;
}
