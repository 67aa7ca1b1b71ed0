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
 *     +0          program header table: the input's, PT_PHDR moved here, the new PT_LOAD
 *                 right after the last PT_LOAD (ascending addresses, which the kernel
 *                 relies on for ET_DYN), and a PT_NOTE at the end
 *     +ph_size    the note (struct offline_note_hdr, sites), 8-aligned
 *     +arena_off  the arena (64-aligned): slot, native entry, stubs
 *   [.shstrtab with the two new names][section headers + .note.bypass, .bypass.tramp]
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

/* The rewriting of one file, from plan to bytes. */
struct job {
	struct offline_elf e;
	struct rewrite_plan plan;
	uint32_t *stub;		/* per site: stub offset in the arena, 0 if none */
	uint64_t seg_off, seg_addr, ph_size, note_off, note_size, arena_off, arena_cap;
	struct tramp_arena arena;
	uint8_t *out;
	size_t out_cap, out_len;
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
	j->ph_size = (uint64_t)(j->e.phnum + 2) * sizeof(Elf64_Phdr);
	j->note_off = j->ph_size;
	j->note_size = 24 + sizeof(struct offline_note_hdr) +
		       j->plan.n * sizeof(struct offline_note_site);
	j->arena_off = align_up(j->note_off + j->note_size, 64);
	j->arena_cap = TRAMP_IMAGE_HDR + (j->plan.n + 1) * TRAMP_STUB_MAX;
	if (j->seg_addr < end || j->seg_addr + j->arena_off + j->arena_cap - code_lo > REACH ||
	    j->e.phnum + 2 >= PN_XNUM) {
		*why = "no room for the trampoline segment within 2 GiB of the code";
		return -ENOEXEC;
	}
	size_t names = j->e.shstr ? j->e.shstrsz + sizeof(OFFLINE_SECTION_NOTE) +
				    sizeof(OFFLINE_SECTION_TRAMP) : 0;
	j->out_cap = j->seg_off + j->arena_off + j->arena_cap + names + 8 +
		     (j->e.shnum + 2) * sizeof(Elf64_Shdr);
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
	if (!j->stub)
		return -ENOMEM;
	for (size_t i = 0; i < j->plan.n; i++) {
		struct rewrite_site *s = &j->plan.sites[i];
		size_t at = j->arena.used;
		int seg = code_segment(&j->e, s->start, s->len);
		if (s->tactic == REWRITE_TRAP)
			continue;
		if (seg >= 0) {
			Elf64_Phdr p = offline_elf_phdr(&j->e, (unsigned)seg);
			err = tramp_site_install(&j->arena, s, j->out + p.p_offset, p.p_vaddr,
						 p.p_filesz);
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

static void put_note(struct job *j)
{
	uint8_t *n = j->out + j->seg_off + j->note_off;
	Elf64_Nhdr nh = { sizeof(OFFLINE_NOTE_NAME), (Elf64_Word)(j->note_size - 24),
			  OFFLINE_NOTE_TYPE };
	struct offline_note_hdr h = {
		.format = OFFLINE_NOTE_FORMAT, .nsites = (uint32_t)j->plan.n,
		.arena = j->seg_addr + j->arena_off, .arena_size = j->arena.used,
	};

	snprintf(h.tool, sizeof(h.tool), "bypass-rewrite %s", BYPASS_VERSION);
	memcpy(n, &nh, sizeof(nh));
	memcpy(n + sizeof(nh), OFFLINE_NOTE_NAME, sizeof(OFFLINE_NOTE_NAME));
	memcpy(n + 24, &h, sizeof(h));
	for (size_t i = 0; i < j->plan.n; i++) {
		const struct rewrite_site *s = &j->plan.sites[i];
		struct offline_note_site ns = {
			.addr = s->addr, .island = s->island, .stub = j->stub[i],
			.tactic = s->tactic, .len = s->len, .sys_off = s->sys_off,
		};
		memcpy(n + 24 + sizeof(h) + i * sizeof(ns), &ns, sizeof(ns));
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
	Elf64_Phdr note = {
		.p_type = PT_NOTE, .p_flags = PF_R, .p_offset = j->seg_off + j->note_off,
		.p_vaddr = j->seg_addr + j->note_off, .p_paddr = j->seg_addr + j->note_off,
		.p_filesz = j->note_size, .p_memsz = j->note_size, .p_align = 8,
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
		memcpy(t + k++ * sizeof(p), &p, sizeof(p));
		if (i == last_load)
			memcpy(t + k++ * sizeof(p), &load, sizeof(p));
	}
	memcpy(t + k * sizeof(note), &note, sizeof(note));
}

/* A new .shstrtab and section header table behind the segment, when the input has
 * section headers.  Returns the end of the file. */
static size_t put_sections(struct job *j, size_t end, Elf64_Ehdr *eh)
{
	const struct offline_elf *e = &j->e;
	size_t str_off = end, old = e->shstrsz;

	if (!e->sh || !e->shstr)
		return end;
	memcpy(j->out + str_off, e->shstr, old);
	memcpy(j->out + str_off + old, OFFLINE_SECTION_NOTE, sizeof(OFFLINE_SECTION_NOTE));
	memcpy(j->out + str_off + old + sizeof(OFFLINE_SECTION_NOTE), OFFLINE_SECTION_TRAMP,
	       sizeof(OFFLINE_SECTION_TRAMP));
	size_t str_size = old + sizeof(OFFLINE_SECTION_NOTE) + sizeof(OFFLINE_SECTION_TRAMP);
	size_t sh_off = align_up(str_off + str_size, 8);
	Elf64_Shdr *sh = (Elf64_Shdr *)(j->out + sh_off);

	memcpy(sh, e->sh, e->shnum * sizeof(*sh));
	sh[eh->e_shstrndx].sh_offset = str_off;
	sh[eh->e_shstrndx].sh_size = str_size;
	sh[e->shnum] = (Elf64_Shdr){
		.sh_name = (Elf64_Word)old, .sh_type = SHT_NOTE, .sh_flags = SHF_ALLOC,
		.sh_addr = j->seg_addr + j->note_off, .sh_offset = j->seg_off + j->note_off,
		.sh_size = j->note_size, .sh_addralign = 8,
	};
	sh[e->shnum + 1] = (Elf64_Shdr){
		.sh_name = (Elf64_Word)(old + sizeof(OFFLINE_SECTION_NOTE)), .sh_type = SHT_PROGBITS,
		.sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addr = j->seg_addr + j->arena_off,
		.sh_offset = j->seg_off + j->arena_off, .sh_size = j->arena.used,
		.sh_addralign = 64,
	};
	eh->e_shoff = sh_off;
	eh->e_shnum = (Elf64_Half)(e->shnum + 2);
	return sh_off + (e->shnum + 2) * sizeof(*sh);
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
	const uint8_t *desc;
	size_t descsz;
	int err;

	*out = NULL;
	*out_len = 0;
	if (res)
		memset(res, 0, sizeof(*res));
	if ((err = offline_elf_parse(&j.e, in, len, why)))
		return err;
	if (offline_elf_note(&j.e, OFFLINE_NOTE_NAME, OFFLINE_NOTE_TYPE, &desc, &descsz) == 0) {
		*why = "already rewritten by bypass-rewrite (it has a bypass note)";
		return -ENOEXEC;
	}
	if ((err = plan_sites(&j)) == -ENOMEM)
		goto out;
	if (err) {
		*why = "the code could not be scanned";
		err = -ENOEXEC;
		goto out;
	}
	if ((err = layout(&j, why)) || (err = install(&j)))
		goto out;

	uint64_t seg_size = j.arena_off + j.arena.used;
	Elf64_Ehdr eh = j.e.eh;

	/* the arena was sized for the worst case: what lies behind its end is not ours */
	memset(j.out + j.seg_off + seg_size, 0, j.out_cap - j.seg_off - seg_size);
	put_note(&j);
	put_phdrs(&j, seg_size);
	eh.e_phoff = j.seg_off;
	eh.e_phnum = (Elf64_Half)(j.e.phnum + 2);
	j.out_len = put_sections(&j, j.seg_off + seg_size, &eh);
	memcpy(j.out, &eh, sizeof(eh));
	if (res) {
		if ((err = report(&j, res)))
			goto out;
		res->seg_size = seg_size;
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
