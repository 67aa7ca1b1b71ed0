// SPDX-License-Identifier: MIT
/* offline_rewrite: plan the syscall sites of an ELF executable or shared library
 * (rewrite_region_scan), patch them into a copy with stubs in an IMAGE arena
 * (tramp_site_install), and lay out the added segment.  File layout of the output
 * (E9Patch's approach to the program header table, which rarely has a free entry):
 *
 *   [input file, unchanged but for the ELF header and the patched code bytes]
 *   [zeros up to a page; for files ld.so loads, up to offset = address - the first
 *    PT_LOAD's (address - offset), so the table is at __ehdr_start + e_phoff]
 *   new PT_LOAD (R+X), at the first page after the highest segment (and the file):
 *     +0          program header table: the input's, PT_PHDR moved here, and the new
 *                 PT_LOAD right after the last PT_LOAD (ascending addresses, which the
 *                 kernel relies on for ET_DYN)
 *     +ph_size    the note (struct offline_note_hdr, sites; 8-aligned as ph_size is a
 *                 multiple of 56): where a LibOS looks for it (offline.h), no PT_NOTE
 *     +arena_off  the arena (64-aligned): slot, stubs
 *     +uw_off     unwind info (8-aligned, when the input has some: unwind.c): .eh_frame
 *                 (the input's entries, moved, and the stubs'), .eh_frame_hdr; the
 *                 input's PT_GNU_EH_FRAME and .eh_frame/.eh_frame_hdr sections point here
 *                 (an input with .eh_frame but no PT_GNU_EH_FRAME gets both, last), the
 *                 old bytes stay where they were, unreferenced
 *   [.shstrtab with the new names][section headers + .bypass.sites, .bypass.tramp, and the
 *    new .eh_frame, .eh_frame_hdr (the input's renamed .bypass.old_eh_frame{,_hdr})]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <offline/offline.h>
#include <rewrite/rewrite.h>
#include <trampolines/tramp.h>

#include "offline_int.h"

#define PAGE 4096ull
/* Farthest a rel32 may reach, with a page of margin. */
#define REACH ((1ull << 31) - PAGE)

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The names put_sections adds to .shstrtab, in order. */
#define NAME_EH		".eh_frame"
#define NAME_EH_HDR	".eh_frame_hdr"
#define NAME_OLD_EH	".bypass.old_eh_frame"
#define NAME_OLD_EH_HDR	".bypass.old_eh_frame_hdr"
#define NEW_NAMES	6
static const char *const g_new_names[NEW_NAMES] = {
	OFFLINE_SECTION_SITES, OFFLINE_SECTION_TRAMP, NAME_EH, NAME_EH_HDR, NAME_OLD_EH,
	NAME_OLD_EH_HDR,
};
#define NEW_NAMES_SIZE (sizeof(OFFLINE_SECTION_SITES) + sizeof(OFFLINE_SECTION_TRAMP) + \
			sizeof(NAME_EH) + sizeof(NAME_EH_HDR) + sizeof(NAME_OLD_EH) + \
			sizeof(NAME_OLD_EH_HDR))
#define NEW_SECTIONS 4	/* the note, the arena, .eh_frame, .eh_frame_hdr */

/* The rewriting of one file, from plan to bytes. */
struct job {
	struct offline_elf e;
	struct rewrite_plan plan;
	uint32_t *stub;		/* per site: stub offset in the arena, 0 if none */
	struct tramp_stub_map *maps;	/* per site: its stub, row by row (n = 0: none) */
	uint64_t seg_off, seg_addr, ph_size, note_off, note_size, arena_off, arena_cap;
	uint64_t uw_off, seg_size;
	struct tramp_arena arena;
	struct offline_unwind uw;
	uint8_t *out;
	size_t out_cap, out_len, tail_cap;
	int add_hdr;		/* a PT_GNU_EH_FRAME and .eh_frame_hdr section are added */
};

/* Sorted function ranges from .eh_frame (none without section headers: the scanner then
 * decodes each region as one piece, more carefully). */
static int funcs_get(const struct offline_elf *e, struct rewrite_func **funcs, size_t *n)
{
	*funcs = NULL;
	*n = 0;
	for (unsigned i = 0; e->sh && i < e->shnum; i++) {
		Elf64_Shdr s = offline_elf_shdr(e, i);
		if (s.sh_type != SHT_PROGBITS || strcmp(offline_elf_shname(e, &s), ".eh_frame") ||
		    s.sh_offset > e->len || s.sh_size > e->len - s.sh_offset)
			continue;
		/* -EINVAL keeps what was read before the damage: still sound ranges */
		return rewrite_ehframe_funcs(e->b + s.sh_offset, s.sh_size, s.sh_addr, funcs, n) ==
		       -ENOMEM ? -ENOMEM : 0;
	}
	return 0;
}

static int plan_sites(struct job *j)
{
	struct rewrite_func *funcs;
	size_t nfuncs;
	int err = funcs_get(&j->e, &funcs, &nfuncs);

	for (unsigned i = 0; !err && i < j->e.phnum; i++) {
		Elf64_Phdr p = offline_elf_phdr(&j->e, i);
		if (p.p_type != PT_LOAD || !(p.p_flags & PF_X))
			continue;
		struct rewrite_region r = {
			.bytes = j->e.b + p.p_offset, .len = p.p_filesz, .addr = p.p_vaddr,
			.funcs = funcs, .nfuncs = nfuncs,
		};
		long n = rewrite_region_scan(&r, &j->plan);
		if (n < 0)
			err = (int)n;
	}
	free(funcs);
	return err;
}

/* Place the new segment and size the output buffer. */
static int layout(struct job *j, const char **why)
{
	uint64_t end = 0, code_lo = UINT64_MAX;

	for (unsigned i = 0; i < j->e.phnum; i++) {
		Elf64_Phdr p = offline_elf_phdr(&j->e, i);
		if (p.p_type != PT_LOAD)
			continue;
		if (p.p_vaddr + p.p_memsz > end)
			end = p.p_vaddr + p.p_memsz;
		if ((p.p_flags & PF_X) && p.p_vaddr < code_lo)
			code_lo = p.p_vaddr;
	}
	j->seg_off = align_up(j->e.len, PAGE);
	j->seg_addr = align_up(end, PAGE);
	if (j->e.kind >= OFFLINE_DYNAMIC) {
		/* ld.so finds its own program headers at __ehdr_start + e_phoff (rtld.c), and
		 * older kernels compute AT_PHDR as the first PT_LOAD's address + e_phoff: keep
		 * offset and address of the new segment at the first PT_LOAD's distance, padding
		 * the file (or leaving an address gap) to get there. */
		uint64_t d = j->e.link_delta;
		if (d % PAGE) {
			*why = "the first loadable segment is not page-aligned";
			return -ENOEXEC;
		}
		if (j->seg_off + d > j->seg_addr)
			j->seg_addr = j->seg_off + d;
		j->seg_off = j->seg_addr - d;
	}
	j->add_hdr = offline_unwind_adds_hdr(&j->e);
	j->ph_size = (uint64_t)(j->e.phnum + 1 + j->add_hdr) * sizeof(Elf64_Phdr);
	j->note_off = j->ph_size;
	j->note_size = sizeof(struct offline_note_hdr) +
		       j->plan.n * sizeof(struct offline_note_site);
	j->arena_off = align_up(j->note_off + j->note_size, 64);
	j->arena_cap = TRAMP_IMAGE_HDR + (j->plan.n + 1) * TRAMP_STUB_MAX;
	if (j->seg_addr < end || j->seg_addr + j->arena_off + j->arena_cap - code_lo > REACH ||
	    j->e.phnum + 2 >= PN_XNUM) {
		*why = "no room for the trampoline segment within 2 GiB of the code";
		return -ENOEXEC;
	}
	size_t names = j->e.shstr ? j->e.shstrsz + NEW_NAMES_SIZE : 0;
	j->tail_cap = names + 8 + (j->e.shnum + NEW_SECTIONS) * sizeof(Elf64_Shdr);
	j->out_cap = j->seg_off + j->arena_off + j->arena_cap + j->tail_cap;
	j->out = calloc(1, j->out_cap);
	if (!j->out)
		return -ENOMEM;
	memcpy(j->out, j->e.b, j->e.len);	/* the code the sites are patched into */
	return 0;
}

/* The executable PT_LOAD holding [addr, addr + len), or -1. */
static int code_segment(const struct offline_elf *e, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < e->phnum; i++) {
		Elf64_Phdr p = offline_elf_phdr(e, i);
		if (p.p_type == PT_LOAD && (p.p_flags & PF_X) && addr >= p.p_vaddr &&
		    addr + len <= p.p_vaddr + p.p_filesz)
			return (int)i;
	}
	return -1;
}

/* Patch every site into j->out; one that cannot be patched stays a plain syscall (TRAP:
 * natively it just runs, under a LibOS the trap serves it). */
static int install(struct job *j)
{
	int err = tramp_arena_init_image(&j->arena, j->out + j->seg_off + j->arena_off,
					 j->arena_cap, j->seg_addr + j->arena_off);

	if (err)
		return err;
	j->stub = calloc(j->plan.n + 1, sizeof(*j->stub));
	j->maps = calloc(j->plan.n + 1, sizeof(*j->maps));
	if (!j->stub || !j->maps)
		return -ENOMEM;
	for (size_t i = 0; i < j->plan.n; i++) {
		struct rewrite_site *s = &j->plan.sites[i];
		size_t at = j->arena.used;
		int seg = code_segment(&j->e, s->start, s->len);
		if (s->tactic == REWRITE_TRAP)
			continue;
		if (seg >= 0) {
			Elf64_Phdr p = offline_elf_phdr(&j->e, (unsigned)seg);
			err = tramp_site_install_map(&j->arena, s, j->out + p.p_offset,
						     p.p_vaddr, p.p_filesz, &j->maps[i]);
		}
		if (seg < 0 || err) {
			j->plan.count[s->tactic]--;
			j->plan.count[REWRITE_TRAP]++;
			s->tactic = REWRITE_TRAP;
			s->why = "the patch did not fit";
			continue;
		}
		j->stub[i] = (uint32_t)at;
	}
	return 0;
}

/* The unwind info behind the stubs, and the segment's final size; the output buffer
 * grows to hold it.  What lies behind the stubs and the unwind info is zeroed (the arena
 * was sized for the worst case). */
static int put_unwind(struct job *j)
{
	uint64_t stubs_end = j->arena_off + j->arena.used;
	int err;

	j->uw_off = align_up(stubs_end, 8);
	if ((err = offline_unwind_build(&j->e, j->maps, j->plan.n, j->seg_addr + j->uw_off,
					&j->uw)))
		return err;
	j->seg_size = j->uw.buf ? j->uw_off + j->uw.len : stubs_end;
	size_t cap = j->seg_off + j->seg_size + j->tail_cap;
	if (cap > j->out_cap) {
		uint8_t *p = realloc(j->out, cap);
		if (!p)
			return -ENOMEM;
		j->out = p;
		j->out_cap = cap;
	}
	memset(j->out + j->seg_off + stubs_end, 0, j->out_cap - j->seg_off - stubs_end);
	if (j->uw.buf)
		memcpy(j->out + j->seg_off + j->uw_off, j->uw.buf, j->uw.len);
	return 0;
}

static void put_note(struct job *j)
{
	uint8_t *n = j->out + j->seg_off + j->note_off;
	struct offline_note_hdr h = {
		.magic = OFFLINE_NOTE_MAGIC, .format = OFFLINE_NOTE_FORMAT,
		.nsites = (uint32_t)j->plan.n, .arena = j->seg_addr + j->arena_off,
		.arena_size = j->arena.used,
	};

	snprintf(h.tool, sizeof(h.tool), "bypass-rewrite %s", BYPASS_VERSION);
	memcpy(n, &h, sizeof(h));
	for (size_t i = 0; i < j->plan.n; i++) {
		const struct rewrite_site *s = &j->plan.sites[i];
		struct offline_note_site ns = {
			.addr = s->addr, .island = s->island, .stub = j->stub[i],
			.tactic = s->tactic, .len = s->len, .sys_off = s->sys_off,
		};
		memcpy(n + sizeof(h) + i * sizeof(ns), &ns, sizeof(ns));
	}
}

static void put_phdrs(struct job *j, uint64_t seg_size)
{
	uint8_t *t = j->out + j->seg_off;
	unsigned last_load = 0, k = 0;
	Elf64_Phdr load = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = j->seg_off,
		.p_vaddr = j->seg_addr, .p_paddr = j->seg_addr, .p_filesz = seg_size,
		.p_memsz = seg_size, .p_align = PAGE,
	};

	for (unsigned i = 0; i < j->e.phnum; i++)
		if (offline_elf_phdr(&j->e, i).p_type == PT_LOAD)
			last_load = i;
	for (unsigned i = 0; i < j->e.phnum; i++) {
		Elf64_Phdr p = offline_elf_phdr(&j->e, i);
		if (p.p_type == PT_PHDR) {
			p.p_offset = j->seg_off;
			p.p_vaddr = p.p_paddr = j->seg_addr;
			p.p_filesz = p.p_memsz = j->ph_size;
		}
		if (p.p_type == PT_GNU_EH_FRAME && j->uw.hdr_len) {
			p.p_offset = j->seg_off + j->uw_off + j->uw.hdr_off;
			p.p_vaddr = p.p_paddr = j->seg_addr + j->uw_off + j->uw.hdr_off;
			p.p_filesz = p.p_memsz = j->uw.hdr_len;
			p.p_align = 4;
		}
		memcpy(t + k++ * sizeof(p), &p, sizeof(p));
		if (i == last_load)
			memcpy(t + k++ * sizeof(p), &load, sizeof(p));
	}
	if (j->add_hdr) {	/* PT_NULL if the unwind info could not be rebuilt after all */
		Elf64_Phdr eh = { .p_type = PT_NULL };
		if (j->uw.hdr_len)
			eh = (Elf64_Phdr){
				.p_type = PT_GNU_EH_FRAME, .p_flags = PF_R,
				.p_offset = j->seg_off + j->uw_off + j->uw.hdr_off,
				.p_vaddr = j->seg_addr + j->uw_off + j->uw.hdr_off,
				.p_paddr = j->seg_addr + j->uw_off + j->uw.hdr_off,
				.p_filesz = j->uw.hdr_len, .p_memsz = j->uw.hdr_len, .p_align = 4,
			};
		memcpy(t + k * sizeof(eh), &eh, sizeof(eh));
	}
}

/* A section header for [at, at + size) of the new segment. */
static Elf64_Shdr section_new(const struct job *j, uint32_t name, uint32_t type,
			      uint64_t flags, uint64_t at, uint64_t size, uint64_t align)
{
	return (Elf64_Shdr){
		.sh_name = name, .sh_type = type, .sh_flags = flags, .sh_addr = j->seg_addr + at,
		.sh_offset = j->seg_off + at, .sh_size = size, .sh_addralign = align,
	};
}

/* A new .shstrtab and section header table behind the segment, when the input has
 * section headers.  With rebuilt unwind info, the input's .eh_frame and .eh_frame_hdr
 * sections keep their bytes (symbols such as __EH_FRAME_BEGIN__ stay inside them) under
 * new names, and sections of those names describe the new ones.  Returns the end of the
 * file. */
static size_t put_sections(struct job *j, size_t end, Elf64_Ehdr *eh)
{
	const struct offline_elf *e = &j->e;
	size_t str_off = end, old = e->shstrsz, str_size = old;
	uint32_t name[NEW_NAMES];

	if (!e->sh || !e->shstr)
		return end;
	memcpy(j->out + str_off, e->shstr, old);
	for (unsigned i = 0; i < NEW_NAMES; i++) {
		size_t n = strlen(g_new_names[i]) + 1;
		name[i] = (uint32_t)str_size;
		memcpy(j->out + str_off + str_size, g_new_names[i], n);
		str_size += n;
	}
	size_t sh_off = align_up(str_off + str_size, 8);
	Elf64_Shdr *sh = (Elf64_Shdr *)(j->out + sh_off);
	unsigned n = e->shnum;

	memcpy(sh, e->sh, e->shnum * sizeof(*sh));
	for (unsigned i = 0; j->uw.buf && i < e->shnum; i++) {
		const char *nm = offline_elf_shname(e, &sh[i]);
		if (!(sh[i].sh_flags & SHF_ALLOC))
			continue;
		if (!strcmp(nm, NAME_EH))
			sh[i].sh_name = name[4];
		else if (!strcmp(nm, NAME_EH_HDR))
			sh[i].sh_name = name[5];
		else
			continue;
		sh[i].sh_type = SHT_PROGBITS;	/* not X86_64_UNWIND: not the one to read */
	}
	sh[eh->e_shstrndx].sh_offset = str_off;
	sh[eh->e_shstrndx].sh_size = str_size;
	sh[n++] = section_new(j, name[0], SHT_PROGBITS, SHF_ALLOC, j->note_off, j->note_size, 8);
	sh[n++] = section_new(j, name[1], SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, j->arena_off,
			      j->arena.used, 64);
	if (j->uw.buf) {
		sh[n++] = section_new(j, name[2], SHT_PROGBITS, SHF_ALLOC, j->uw_off,
				      j->uw.eh_len, 8);
		sh[n++] = section_new(j, name[3], SHT_PROGBITS, SHF_ALLOC,
				      j->uw_off + j->uw.hdr_off, j->uw.hdr_len, 4);
	}
	eh->e_shoff = sh_off;
	eh->e_shnum = (Elf64_Half)n;
	return sh_off + n * sizeof(*sh);
}

/* Per-section counts for the report. */
static int report(const struct job *j, struct offline_result *res)
{
	const struct offline_elf *e = &j->e;
	size_t cap = e->shnum + e->phnum + 1;

	res->kind = offline_kind_name(e->kind);
	res->nsites = j->plan.n;
	memcpy(res->count, j->plan.count, sizeof(res->count));
	res->seg_addr = j->seg_addr;
	res->arena_size = j->arena.used;
	res->secs = calloc(cap, sizeof(*res->secs));
	if (!res->secs)
		return -ENOMEM;
	for (unsigned i = 0; e->sh && i < e->shnum; i++) {
		Elf64_Shdr s = offline_elf_shdr(e, i);
		if (!(s.sh_flags & SHF_EXECINSTR) || !(s.sh_flags & SHF_ALLOC))
			continue;
		struct offline_section *o = &res->secs[res->nsecs++];
		snprintf(o->name, sizeof(o->name), "%s", offline_elf_shname(e, &s));
		o->addr = s.sh_addr;
		o->size = s.sh_size;
	}
	if (!res->nsecs)	/* no section headers: one line per executable segment */
		for (unsigned i = 0; i < e->phnum; i++) {
			Elf64_Phdr p = offline_elf_phdr(e, i);
			if (p.p_type != PT_LOAD || !(p.p_flags & PF_X))
				continue;
			struct offline_section *o = &res->secs[res->nsecs++];
			snprintf(o->name, sizeof(o->name), "(segment %u)", i);
			o->addr = p.p_vaddr;
			o->size = p.p_filesz;
		}
	size_t known = res->nsecs;
	for (size_t i = 0; i < j->plan.n; i++) {
		const struct rewrite_site *s = &j->plan.sites[i];
		size_t k = 0;
		while (k < known &&
		       !(s->addr >= res->secs[k].addr && s->addr < res->secs[k].addr + res->secs[k].size))
			k++;
		if (k == known && res->nsecs == known) {	/* between sections */
			snprintf(res->secs[k].name, sizeof(res->secs[k].name), "(no section)");
			res->nsecs++;
		}
		res->secs[k].count[s->tactic & 3]++;
	}
	return 0;
}

int offline_rewrite(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
		    struct offline_result *res, const char **why)
{
	struct job j = { 0 };
	int err;

	*out = NULL;
	*out_len = 0;
	if (res)
		memset(res, 0, sizeof(*res));
	if ((err = offline_elf_parse(&j.e, in, len, why)))
		return err;
	if (offline_note_find(in, len, NULL, NULL) != -ENOENT) {
		*why = "already rewritten by bypass-rewrite (it has a .bypass.sites record)";
		return -ENOEXEC;
	}
	if ((err = plan_sites(&j)) == -ENOMEM)
		goto out;
	if (err) {
		*why = "the code could not be scanned";
		err = -ENOEXEC;
		goto out;
	}
	if ((err = layout(&j, why)) || (err = install(&j)) || (err = put_unwind(&j)))
		goto out;

	uint64_t seg_size = j.seg_size;
	Elf64_Ehdr eh = j.e.eh;

	put_note(&j);
	put_phdrs(&j, seg_size);
	eh.e_phoff = j.seg_off;
	eh.e_phnum = (Elf64_Half)(j.e.phnum + 1 + j.add_hdr);
	j.out_len = put_sections(&j, j.seg_off + seg_size, &eh);
	memcpy(j.out, &eh, sizeof(eh));
	if (res) {
		if ((err = report(&j, res)))
			goto out;
		res->seg_size = seg_size;
		res->cfi_fdes = j.uw.nfde;
		res->cfi_bare = j.uw.nbare;
		res->cfi_why = j.uw.why;
		res->in_size = len;
		res->out_size = j.out_len;
	}
	*out = j.out;
	*out_len = j.out_len;
	j.out = NULL;
out:
	if (err && res)
		offline_result_fini(res);
	free(j.out);
	free(j.stub);
	free(j.maps);
	offline_unwind_fini(&j.uw);
	rewrite_plan_fini(&j.plan);
	return err;
}

void offline_result_fini(struct offline_result *res)
{
	if (!res)
		return;
	free(res->secs);
	memset(res, 0, sizeof(*res));
}
