/* SPDX-License-Identifier: MIT */
/* offline: write a patched copy of an ELF executable or shared library (bypass-rewrite).
 * The sites are planned by rewrite_region_scan and patched by tramp_site_install into an
 * IMAGE arena, which goes into an added PT_LOAD together with the moved program header
 * table, a record of the sites ("the note"), and a rebuilt .eh_frame/.eh_frame_hdr that
 * also describes the stubs.  The copy runs natively (its stubs issue the syscall) and
 * under a LibOS that reads the note instead of scanning. */
#ifndef OFFLINE_OFFLINE_H
#define OFFLINE_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The note (the sites record; not an ELF note): struct offline_note_hdr, then nsites
 * struct offline_note_site, little-endian, sorted by address; addresses are link-time
 * (add the load bias of an ET_DYN file).  It sits right after the program header table,
 * which bypass-rewrite puts at the start of the added PT_LOAD: at e_phoff + e_phnum *
 * sizeof(Elf64_Phdr) in the file, at AT_PHDR + phnum * sizeof(Elf64_Phdr) in memory, so a
 * LibOS finds it from the program headers alone, and it starts with OFFLINE_NOTE_MAGIC.
 * Section headers, when the file has them, name it OFFLINE_SECTION_SITES (SHT_PROGBITS,
 * SHF_ALLOC).  Why not an ELF note or a type of our own: eu-elflint (0.188) reports every
 * note type but the GNU, "GA", FDO and vDSO "Linux" ones (in a PT_NOTE and again in an
 * SHT_NOTE section), every program header type above PT_TLS it has no name for (it names
 * the PT_GNU_* ones, not PT_LOOS + n), and every section type it has no name for
 * (SHT_LOOS + n, SHT_LOUSER + n): the output must not add complaints to the input's. */
#define OFFLINE_NOTE_MAGIC	"\177BYPASS"	/* 8 bytes with the NUL */
#define OFFLINE_NOTE_FORMAT	2	/* 1: in a PT_NOTE (owner "bypass", type 0x42590001) */
#define OFFLINE_SECTION_SITES	".bypass.sites"
#define OFFLINE_SECTION_TRAMP	".bypass.tramp"

struct offline_note_hdr {
	char magic[8];		/* OFFLINE_NOTE_MAGIC */
	uint32_t format;	/* OFFLINE_NOTE_FORMAT */
	uint32_t nsites;
	uint64_t arena;		/* the IMAGE arena (its slot at +0: tramp.h) */
	uint64_t arena_size;	/* bytes of the arena in the file */
	char tool[32];		/* "bypass-rewrite VERSION", NUL-padded */
};

struct offline_note_site {
	uint64_t addr;		/* the `syscall` */
	uint64_t island;	/* ISLAND: the 5 bytes holding the jmp rel32; TRAP: reserved, or 0 */
	uint32_t stub;		/* offset of the site's stub in the arena; 0 for TRAP */
	uint8_t tactic;		/* enum rewrite_tactic as written (a failed patch is TRAP) */
	uint8_t len;		/* bytes replaced at addr - sys_off (DISPLACE), else 2 */
	uint8_t sys_off;	/* offset of the syscall in them */
	uint8_t pad;
};

/* Sites of one executable section (or "(segment N)" without section headers). */
struct offline_section {
	char name[40];
	uint64_t addr, size;
	size_t count[4];	/* index: enum rewrite_tactic */
};

/* What a rewrite did (or would do). */
struct offline_result {
	const char *kind;	/* "static executable", "static-pie executable", "dynamic
				 * executable", "dynamic pie executable", "shared library" */
	size_t nsites;
	size_t count[4];	/* index: enum rewrite_tactic, as written */
	struct offline_section *secs;	/* malloc'd, in file order */
	size_t nsecs;
	uint64_t seg_addr;	/* the added PT_LOAD */
	size_t seg_size;
	size_t arena_size;	/* of which stubs and header */
	size_t cfi_fdes;	/* FDEs written for the stubs in the rebuilt .eh_frame */
	size_t cfi_bare;	/* stubs with bytes no FDE covers (e.g. outside any FDE) */
	const char *cfi_why;	/* no .eh_frame was rebuilt: why (static); else NULL */
	size_t in_size, out_size;
};

/* Rewrite the ELF image @in (@len bytes) in memory: *out (malloc'd, the caller frees) gets
 * the patched file, *out_len its size, @res what was done (offline_result_fini frees it;
 * @res may be NULL).  The same input always gives the same bytes.  Returns 0, -ENOMEM, or
 * -ENOEXEC with *why set to a short static reason ("not an ELF file", "already rewritten
 * by bypass-rewrite", "text relocations are not supported", ...).  Accepted: static,
 * static-pie, dynamic (PIE or not) executables and shared libraries (ld.so included). */
int offline_rewrite(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
		    struct offline_result *res, const char **why);

/* Free what @res holds and zero it.  @res may be NULL. */
void offline_result_fini(struct offline_result *res);

/* Find the bypass note of the ELF image @img (@len bytes): after its program header table
 * (see above), inside the PT_LOAD that holds the table.  *hdr and *sites point into @img
 * (either may be NULL).  Returns 0, -ENOENT (no note), or -EINVAL (not an ELF64 image,
 * or a note that is truncated, not loaded, or of another format). */
int offline_note_find(const uint8_t *img, size_t len, const struct offline_note_hdr **hdr,
		      const struct offline_note_site **sites);

struct offline_opts {
	bool dry_run;		/* plan and build, write nothing */
	bool force;		/* replace an existing @out */
};

/* Read @in, rewrite it and write @out: to @out.tmp (mode of @in), then rename, so @out is
 * never partial.  On failure *what names the file concerned (@in or @out) and *why says
 * why (a static string), or is NULL when strerror(-return) says it.  Returns 0, -EEXIST
 * (@out exists and no force), -ENOEXEC (input rejected, *why set), -EFBIG (input larger
 * than 1 GiB), -ENOMEM, or the -errno of open/read/write/rename. */
int offline_rewrite_file(const char *in, const char *out, const struct offline_opts *o,
			 struct offline_result *res, const char **what, const char **why);

#endif
