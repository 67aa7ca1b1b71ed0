/* SPDX-License-Identifier: MIT */
/* offline internals: a validated view of the input ELF image. */
#ifndef OFFLINE_INT_H
#define OFFLINE_INT_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include <trampolines/tramp.h>

/* What the input is.  Dynamic kinds (everything but the first two) are loaded by ld.so
 * or load it: their added segment keeps the file-offset-to-address delta of the first
 * PT_LOAD (see rewrite.c). */
enum offline_kind {
	OFFLINE_STATIC,		/* ET_EXEC, no PT_INTERP, nothing needed */
	OFFLINE_STATIC_PIE,	/* ET_DYN with DF_1_PIE, no PT_INTERP, nothing needed */
	OFFLINE_DYNAMIC,	/* ET_EXEC with PT_INTERP or DT_NEEDED */
	OFFLINE_PIE,		/* ET_DYN with DF_1_PIE and PT_INTERP or DT_NEEDED */
	OFFLINE_SHARED,		/* ET_DYN without DF_1_PIE: libc.so.6, ld.so, older PIEs */
};

/* "static executable", "shared library", ... */
const char *offline_kind_name(enum offline_kind k);

/* Bounds-checked view of an ELF64 x86-64 file in memory.  Every pointer is inside it. */
struct offline_elf {
	const uint8_t *b;
	size_t len;
	Elf64_Ehdr eh;
	const Elf64_Phdr *ph;	/* e_phnum entries (may be unaligned: read with memcpy) */
	unsigned phnum;
	const Elf64_Shdr *sh;	/* NULL when the file has no usable section headers */
	unsigned shnum;
	const char *shstr;	/* section name table, shstrsz bytes */
	size_t shstrsz;
	enum offline_kind kind;
	uint64_t link_delta;	/* p_vaddr - p_offset of the first PT_LOAD */
};

/* Validate @b as an x86-64 executable or shared library we can rewrite.  Returns 0 or
 * -ENOEXEC with *why set. */
int offline_elf_parse(struct offline_elf *e, const uint8_t *b, size_t len, const char **why);

/* Program header @i, section header @i (copies). */
Elf64_Phdr offline_elf_phdr(const struct offline_elf *e, unsigned i);
Elf64_Shdr offline_elf_shdr(const struct offline_elf *e, unsigned i);

/* Name of section header @sh ("" if out of bounds). */
const char *offline_elf_shname(const struct offline_elf *e, const Elf64_Shdr *sh);

/* The output's unwind info (unwind.c): [buf, buf + eh_len) is the new .eh_frame (the
 * input's entries moved, then one FDE per run of stub rows), then the new .eh_frame_hdr
 * at hdr_off.  All of it runs at @addr. */
struct offline_unwind {
	uint8_t *buf;
	size_t len, eh_len, hdr_off, hdr_len;
	uint64_t addr;
	size_t nfde;		/* FDEs written for stubs */
	size_t nbare;		/* stubs with some bytes left without a row */
	const char *why;	/* buf == NULL: why nothing was rebuilt (static string) */
};

/* Build the unwind info of @e's output with the stubs @maps[@n] (maps[i].n == 0: no
 * stub), to run at @addr.  An input whose unwind info we cannot rewrite is not an
 * error: u->buf stays NULL and u->why says why.  Returns 0 or -ENOMEM. */
int offline_unwind_build(const struct offline_elf *e, const struct tramp_stub_map *maps,
			 size_t n, uint64_t addr, struct offline_unwind *u);
void offline_unwind_fini(struct offline_unwind *u);

/* 1 if @e has an .eh_frame section but no PT_GNU_EH_FRAME (static executables): the
 * output gets one (and a .eh_frame_hdr section), as libgcc finds the stubs' FDEs only
 * through it (the .eh_frame crtbeginT.o registers is the old one). */
int offline_unwind_adds_hdr(const struct offline_elf *e);

#endif
