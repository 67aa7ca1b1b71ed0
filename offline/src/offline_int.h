/* SPDX-License-Identifier: MIT */
/* offline internals: a validated view of the input ELF image. */
#ifndef OFFLINE_INT_H
#define OFFLINE_INT_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

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

/* Find the note (owner @name, @type) in the PT_NOTE segments of @e: its descriptor and
 * size.  Returns 0 or -ENOENT. */
int offline_elf_note(const struct offline_elf *e, const char *name, uint32_t type,
		     const uint8_t **desc, size_t *descsz);

#endif
