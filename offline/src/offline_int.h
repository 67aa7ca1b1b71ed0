/* SPDX-License-Identifier: MIT */
/* offline internals: a validated view of the input ELF image. */
#ifndef OFFLINE_INT_H
#define OFFLINE_INT_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

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
	int pie;		/* ET_DYN static-pie */
};

/* Validate @b as a static x86-64 executable we can rewrite.  Returns 0 or -ENOEXEC with
 * *why set. */
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
