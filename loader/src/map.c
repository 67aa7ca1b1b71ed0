/* SPDX-License-Identifier: MIT */
/* loader: map the PT_LOAD segments of a validated ELF file the way Linux's
 * binfmt_elf elf_load() does (file pages, zeroed .bss tail, anonymous .bss pages),
 * reserve room for trampolines below the image, and apply the final permissions. */
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "loader/loader.h"
#include "loader_internal.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define TWO_GIB (2ull << 30)

/* PROT_* for a segment's p_flags. */
static int prot_of(uint32_t flags)
{
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
	       (flags & PF_X ? PROT_EXEC : 0);
}

/* Reserve [addr, addr + len) PROT_NONE, failing rather than replacing anything.
 * Returns 0, -EEXIST when something is mapped there, or another -errno. */
static int reserve_fixed(uintptr_t addr, size_t len)
{
	void *p = mmap((void *)addr, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if ((uintptr_t)p != addr) {
		/* A kernel older than 4.17 treats the flag as a hint. */
		munmap(p, len);
		return -EEXIST;
	}
	return 0;
}

/* vm.mmap_min_addr, page-aligned: nothing can be mapped below it. */
static uintptr_t mmap_min_addr(void)
{
	unsigned long v = 65536;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "re");

	if (f != NULL) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65536;
		fclose(f);
	}
	return loader_page_up(v);
}

/* Largest unmapped gap inside [wlo, whi) according to /proc/self/maps; its range is
 * returned in *glo and *ghi (empty when there is none). */
static void largest_gap(uintptr_t wlo, uintptr_t whi, uintptr_t *glo, uintptr_t *ghi)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long s, e;
	uintptr_t prev = wlo;
	char line[512];

	*glo = *ghi = 0;
	if (f == NULL)
		return;
	/* Lines are sorted by address; a final sentinel mapping at whi closes the window. */
	for (;;) {
		bool more = fgets(line, sizeof(line), f) != NULL;

		if (!more || sscanf(line, "%lx-%lx", &s, &e) != 2)
			s = e = whi;
		if (s > prev && prev < whi) {
			uintptr_t end = s < whi ? s : whi;

			if (end - prev > *ghi - *glo) {
				*glo = prev;
				*ghi = end;
			}
		}
		if (e > prev)
			prev = e;
		if (!more || prev >= whi)
			break;
	}
	fclose(f);
}

/* Trampoline room below an ET_EXEC image at [lo, hi).  Preferred: the @want bytes
 * directly below lo.  If those are taken or below vm.mmap_min_addr, the largest free
 * gap that keeps every byte of the image within 2 GiB is used instead, its top part
 * (closest to the image), shrunk to what is free.  Nothing free gives an empty range. */
static void reserve_tramp_exec(uintptr_t lo, uintptr_t hi, size_t want,
			       uintptr_t *tlo, uintptr_t *thi)
{
	uintptr_t min = mmap_min_addr();
	uintptr_t wlo, glo, ghi;

	*tlo = *thi = 0;
	if (want == 0)
		return;
	if (lo >= min && lo - min >= want && reserve_fixed(lo - want, want) == 0) {
		*tlo = lo - want;
		*thi = lo;
		return;
	}
	wlo = hi > TWO_GIB ? hi - TWO_GIB : 0;
	if (wlo < min)
		wlo = min;
	if (wlo >= lo)
		return;
	largest_gap(wlo, lo, &glo, &ghi);
	if (ghi - glo > want)
		glo = ghi - want;
	if (ghi > glo && reserve_fixed(glo, ghi - glo) == 0) {
		*tlo = glo;
		*thi = ghi;
	}
}

/* Reserve the span of an ET_DYN image (plus @below bytes under it) in one mmap at
 * @hint or where the kernel likes, aligned to @align (a power of two >= the page size,
 * the largest p_align, as Linux honours).  Returns the start of the image part. */
static int reserve_dyn(uintptr_t hint, size_t below, size_t span, uintptr_t align,
		       uintptr_t *start)
{
	size_t extra = align - loader_page_size();
	size_t total = below + span + extra;
	uintptr_t want = hint > below ? hint - below : 0;
	uintptr_t base, img, tail;
	void *p;

	if (total < span)
		return -ENOMEM;
	p = mmap((void *)want, total, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	base = (uintptr_t)p;
	img = (base + below + align - 1) & ~(align - 1);
	/* Give back the alignment slack on both sides. */
	if (img - below > base)
		munmap(p, img - below - base);
	tail = img + span;
	if (base + total > tail)
		munmap((void *)tail, base + total - tail);
	*start = img;
	return 0;
}

/* Map one PT_LOAD at @bias exactly like elf_load(): the file pages, then (if p_memsz
 * exceeds p_filesz) zero the rest of the last file page and map anonymous pages up to
 * p_memsz.  Everything is writable for now so the rewriter can patch it. */
static int map_segment(int fd, const GElf_Phdr *ph, uintptr_t bias, struct loader_segment *seg)
{
	uintptr_t page = loader_page_size();
	uintptr_t vaddr = bias + ph->p_vaddr;
	uintptr_t start = loader_page_down(vaddr);
	uintptr_t zero_start = start, zero_end = vaddr + ph->p_memsz;
	int prot = prot_of(ph->p_flags);
	void *p;

	if (ph->p_filesz != 0) {
		p = mmap((void *)start, loader_page_up(vaddr - start + ph->p_filesz),
			 prot | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
			 (off_t)(ph->p_offset - (vaddr - start)));
		if (p == MAP_FAILED)
			return -errno;
		zero_start = vaddr + ph->p_filesz;
		/* padzero(): the file page holding the end of the data keeps whatever the file
		 * has after p_filesz; the program expects zeros there. */
		if (ph->p_memsz > ph->p_filesz && (zero_start & (page - 1)) != 0)
			memset((void *)zero_start, 0, page - (zero_start & (page - 1)));
	}
	if (ph->p_memsz > ph->p_filesz) {
		uintptr_t zs = loader_page_up(zero_start), ze = loader_page_up(zero_end);

		if (ze > zs) {
			p = mmap((void *)zs, ze - zs, prot | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (p == MAP_FAILED)
				return -errno;
		}
	}
	seg->start = start;
	seg->end = loader_page_up(zero_end);
	seg->prot = prot;
	return 0;
}

/* Collect the image's extent, alignment, stack flag and program header address. */
static void scan_phdrs(Elf *e, const GElf_Ehdr *eh, struct loader_image *img,
		       uintptr_t *lo, uintptr_t *hi, uintptr_t *align, uintptr_t *phdr)
{
	uintptr_t from_load = 0, from_phdr = 0;
	GElf_Phdr ph;

	*lo = UINTPTR_MAX;
	*hi = 0;
	*align = loader_page_size();
	img->exec_stack = true;
	for (int i = 0; i < eh->e_phnum && gelf_getphdr(e, i, &ph) != NULL; i++) {
		if (ph.p_type == PT_GNU_STACK)
			img->exec_stack = (ph.p_flags & PF_X) != 0;
		if (ph.p_type == PT_PHDR)
			from_phdr = ph.p_vaddr;
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (loader_page_down(ph.p_vaddr) < *lo)
			*lo = loader_page_down(ph.p_vaddr);
		if (loader_page_up(ph.p_vaddr + ph.p_memsz) > *hi)
			*hi = loader_page_up(ph.p_vaddr + ph.p_memsz);
		if (ph.p_align > *align && (ph.p_align & (ph.p_align - 1)) == 0 &&
		    ph.p_align <= (1ull << 30))
			*align = ph.p_align;
		if (from_load == 0 && ph.p_offset <= eh->e_phoff &&
		    eh->e_phoff - ph.p_offset < ph.p_filesz)
			from_load = ph.p_vaddr + (eh->e_phoff - ph.p_offset);
	}
	*phdr = from_phdr != 0 ? from_phdr : from_load;
}

int loader_elf_map(struct loader_elf *elf, uintptr_t hint, size_t reserve_below,
		   struct loader_image *img, uintptr_t *tramp_lo, uintptr_t *tramp_hi,
		   const char **why)
{
	size_t below = loader_page_up(reserve_below);
	uintptr_t lo, hi, align, phdr, start = 0, tlo = 0, thi = 0;
	bool reserved = false;
	const char *dummy;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	int err;

	if (why == NULL)
		why = &dummy;
	*why = "";
	memset(img, 0, sizeof(*img));
	if (elf->elf == NULL || gelf_getehdr(elf->elf, &eh) == NULL) {
		*why = "file not open";
		err = -EINVAL;
		goto out;
	}
	scan_phdrs(elf->elf, &eh, img, &lo, &hi, &align, &phdr);
	if (elf->type == ET_EXEC) {
		err = reserve_fixed(lo, hi - lo);
		if (err == -EEXIST) {
			*why = "address range in use";
			err = -ENOMEM;
		} else if (err == -EPERM) {
			*why = "address below vm.mmap_min_addr";
		} else if (err < 0) {
			*why = "cannot reserve the image's address range";
		}
		if (err < 0)
			goto out;
		reserved = true;
		reserve_tramp_exec(lo, hi, below, &tlo, &thi);
		start = lo;
	} else {
		err = reserve_dyn(hint, below, hi - lo, align, &start);
		if (err < 0) {
			*why = "cannot reserve address space for the image";
			goto out;
		}
		reserved = true;
		if (below != 0) {
			tlo = start - below;
			thi = start;
		}
	}
	img->type = elf->type;
	img->bias = start - lo;
	img->lo = start;
	img->hi = start + (hi - lo);
	for (int i = 0; i < eh.e_phnum; i++) {
		if (gelf_getphdr(elf->elf, i, &ph) == NULL) {
			*why = "truncated program headers";
			err = -ENOEXEC;
			goto out;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		err = map_segment(elf->fd, &ph, img->bias, &img->segs[img->nsegs]);
		if (err < 0) {
			*why = "cannot map segment";
			goto out;
		}
		img->nsegs++;
	}
	img->entry = img->bias + eh.e_entry;
	img->phdr = phdr != 0 ? img->bias + phdr : 0;
	img->phnum = eh.e_phnum;
	img->phent = eh.e_phentsize;
	img->brk = img->hi;
	err = 0;
out:
	if (err < 0) {
		if (reserved)
			munmap((void *)img->lo, img->hi - img->lo);
		if (thi > tlo)
			munmap((void *)tlo, thi - tlo);
		tlo = thi = 0;
		memset(img, 0, sizeof(*img));
	}
	if (tramp_lo != NULL)
		*tramp_lo = tlo;
	if (tramp_hi != NULL)
		*tramp_hi = thi;
	return err;
}

int loader_image_protect(const struct loader_image *img)
{
	/* In order, so that where two segments share a page the later one wins, as it
	 * does when Linux maps them one after the other. */
	for (size_t i = 0; i < img->nsegs; i++) {
		const struct loader_segment *s = &img->segs[i];

		if (mprotect((void *)s->start, s->end - s->start, s->prot) < 0)
			return -errno;
	}
	return 0;
}
