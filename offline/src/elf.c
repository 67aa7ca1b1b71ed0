// SPDX-License-Identifier: MIT
/* The input ELF file: validated as an x86-64 executable (static, static-pie, dynamic, PIE)
 * or shared library, with bounds-checked access to its program headers and section
 * headers. */
#include <errno.h>
#include <string.h>

#include "offline_int.h"

/* [off, off + size) lies inside a file of @len bytes (no overflow). */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

Elf64_Phdr offline_elf_phdr(const struct offline_elf *e, unsigned i)
{
	Elf64_Phdr p;

	memcpy(&p, e->ph + i, sizeof(p));
	return p;
}

Elf64_Shdr offline_elf_shdr(const struct offline_elf *e, unsigned i)
{
	Elf64_Shdr s;

	memcpy(&s, e->sh + i, sizeof(s));
	return s;
}

const char *offline_elf_shname(const struct offline_elf *e, const Elf64_Shdr *sh)
{
	if (!e->shstr || sh->sh_name >= e->shstrsz ||
	    !memchr(e->shstr + sh->sh_name, 0, e->shstrsz - sh->sh_name))
		return "";
	return e->shstr + sh->sh_name;
}

/* The section headers, if usable; a file without them is still rewritten (no new
 * sections are added then). */
static void sections_get(struct offline_elf *e)
{
	const Elf64_Ehdr *h = &e->eh;

	if (!h->e_shoff || !h->e_shnum || h->e_shentsize != sizeof(Elf64_Shdr) ||
	    h->e_shstrndx >= h->e_shnum ||
	    !in_file(h->e_shoff, (uint64_t)h->e_shnum * sizeof(Elf64_Shdr), e->len))
		return;
	e->sh = (const Elf64_Shdr *)(e->b + h->e_shoff);
	e->shnum = h->e_shnum;
	Elf64_Shdr str = offline_elf_shdr(e, h->e_shstrndx);
	if (str.sh_type == SHT_STRTAB && in_file(str.sh_offset, str.sh_size, e->len)) {
		e->shstr = (const char *)(e->b + str.sh_offset);
		e->shstrsz = str.sh_size;
	}
}

const char *offline_kind_name(enum offline_kind k)
{
	static const char *const names[] = {
		[OFFLINE_STATIC] = "static executable",
		[OFFLINE_STATIC_PIE] = "static-pie executable",
		[OFFLINE_DYNAMIC] = "dynamic executable",
		[OFFLINE_PIE] = "dynamic pie executable",
		[OFFLINE_SHARED] = "shared library",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

/* Which kind of file @e is (from the ELF type, PT_INTERP, DT_NEEDED and DF_1_PIE), and
 * whether we can rewrite it.  @dyn is the PT_DYNAMIC header (p_type 0 if none). */
static int kind_check(struct offline_elf *e, const Elf64_Phdr *dyn, int interp, const char **why)
{
	int pie = 0, needed = 0, textrel = 0;

	if (dyn->p_type == PT_DYNAMIC && !in_file(dyn->p_offset, dyn->p_filesz, e->len)) {
		*why = "truncated dynamic section";
		return -ENOEXEC;
	}
	for (uint64_t o = 0; dyn->p_type == PT_DYNAMIC && o + sizeof(Elf64_Dyn) <= dyn->p_filesz;
	     o += sizeof(Elf64_Dyn)) {
		Elf64_Dyn d;
		memcpy(&d, e->b + dyn->p_offset + o, sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		needed |= d.d_tag == DT_NEEDED;
		textrel |= d.d_tag == DT_TEXTREL ||
			   (d.d_tag == DT_FLAGS && (d.d_un.d_val & DF_TEXTREL));
		pie |= d.d_tag == DT_FLAGS_1 && (d.d_un.d_val & DF_1_PIE);
	}
	/* Text relocations would be applied by ld.so over our patched bytes (and a stub
	 * moved out of place would miss them). */
	if (textrel) {
		*why = "text relocations are not supported";
		return -ENOEXEC;
	}
	if (e->eh.e_type == ET_EXEC)
		e->kind = interp || needed ? OFFLINE_DYNAMIC : OFFLINE_STATIC;
	else if (pie)
		e->kind = interp || needed ? OFFLINE_PIE : OFFLINE_STATIC_PIE;
	else
		e->kind = OFFLINE_SHARED;
	return 0;
}

int offline_elf_parse(struct offline_elf *e, const uint8_t *b, size_t len, const char **why)
{
	const Elf64_Ehdr *h = &e->eh;
	Elf64_Phdr dyn = { 0 };
	unsigned nload = 0, nexec = 0, first = 1;
	int interp = 0, err;

	memset(e, 0, sizeof(*e));
	e->b = b;
	e->len = len;
	if (len < EI_NIDENT || memcmp(b, ELFMAG, SELFMAG)) {
		*why = "not an ELF file";
		return -ENOEXEC;
	}
	if (b[EI_CLASS] != ELFCLASS64) {
		*why = "32-bit ELF is not supported (x86-64 only)";
		return -ENOEXEC;
	}
	if (len < sizeof(Elf64_Ehdr)) {
		*why = "truncated ELF header";
		return -ENOEXEC;
	}
	memcpy(&e->eh, b, sizeof(e->eh));
	if (b[EI_DATA] != ELFDATA2LSB || h->e_machine != EM_X86_64) {
		*why = "unsupported machine (x86-64 only)";
		return -ENOEXEC;
	}
	if (h->e_type != ET_EXEC && h->e_type != ET_DYN) {
		*why = h->e_type == ET_REL ? "a relocatable object, not an executable"
					   : "not an executable";
		return -ENOEXEC;
	}
	if (!h->e_phnum || h->e_phentsize != sizeof(Elf64_Phdr) || h->e_phnum == PN_XNUM ||
	    !in_file(h->e_phoff, (uint64_t)h->e_phnum * sizeof(Elf64_Phdr), len)) {
		*why = "missing or truncated program headers";
		return -ENOEXEC;
	}
	e->ph = (const Elf64_Phdr *)(b + h->e_phoff);
	e->phnum = h->e_phnum;
	for (unsigned i = 0; i < e->phnum; i++) {
		Elf64_Phdr p = offline_elf_phdr(e, i);
		interp |= p.p_type == PT_INTERP;
		if (p.p_type == PT_DYNAMIC)
			dyn = p;
		if (p.p_type != PT_LOAD)
			continue;
		if (!in_file(p.p_offset, p.p_filesz, len) || p.p_filesz > p.p_memsz ||
		    p.p_vaddr + p.p_memsz < p.p_vaddr) {
			*why = "a loadable segment lies outside the file";
			return -ENOEXEC;
		}
		if (first)
			e->link_delta = p.p_vaddr - p.p_offset;
		first = 0;
		nload++;
		nexec += !!(p.p_flags & PF_X);
	}
	if (!nload || !nexec) {
		*why = nload ? "no executable segment" : "no loadable segments";
		return -ENOEXEC;
	}
	if ((err = kind_check(e, &dyn, interp, why)))
		return err;
	sections_get(e);
	return 0;
}
