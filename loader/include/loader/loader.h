/* SPDX-License-Identifier: MIT */
/* loader: validate an x86-64 ELF executable, map it, and build the initial process
 * stack (argc, argv, envp, auxv) exactly as Linux's binfmt_elf does. */
#ifndef LOADER_LOADER_H
#define LOADER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOADER_MAX_SEGS 16

/* One mapped PT_LOAD segment, page-aligned, with its final protection. */
struct loader_segment {
	uintptr_t start;	/* page-aligned start address */
	uintptr_t end;		/* page-aligned end address (exclusive) */
	int prot;		/* PROT_* from p_flags */
};

/* An opened, validated ELF file (not yet mapped). */
struct loader_elf {
	int fd;			/* owned; -1 when closed */
	void *elf;		/* libelf handle (Elf *), owned */
	uint16_t type;		/* ET_EXEC or ET_DYN */
	uint64_t entry;		/* unbiased e_entry */
	uint64_t file_size;
	char interp[256];	/* PT_INTERP contents, "" when static */
	/* Identity of the file for plan caches: device, inode, size, mtime. */
	uint64_t dev, ino, mtime_ns;
};

/* A mapped image. */
struct loader_image {
	uintptr_t bias;		/* 0 for ET_EXEC */
	uintptr_t lo, hi;	/* page-aligned mapped range [lo, hi) of all PT_LOADs */
	uintptr_t entry;	/* biased entry point */
	uintptr_t phdr;		/* run-time address of the program headers */
	uint16_t phnum, phent;
	uint16_t type;		/* ET_EXEC or ET_DYN */
	bool exec_stack;	/* PT_GNU_STACK with PF_X, or no PT_GNU_STACK */
	uintptr_t brk;		/* page-aligned end of the highest segment: start of brk */
	size_t nsegs;
	struct loader_segment segs[LOADER_MAX_SEGS];
};

/* Open @path and validate it as an ELF64 x86-64 executable (ET_EXEC or ET_DYN) with
 * sane program headers.  On failure *why is set to a short static description
 * ("not an ELF file", "32-bit ELF is not supported", "truncated program headers",
 * "no loadable segments", ...) suitable for "bypass-run: PATH: WHY"; @why may be NULL.
 * Returns 0, or -ENOENT/-EACCES/-EISDIR/-ENOEXEC/-EIO (-ENOEXEC for every
 * "this file is not something we can run" case; other open(2) errors such as
 * -ENOTDIR/-ELOOP/-ENAMETOOLONG are passed through).  -EACCES also covers a file
 * that is not regular or lacks execute permission for the effective ids (execve's
 * rule: root needs at least one x bit).  On failure @elf is left closed (fd -1);
 * on success the caller owns it and releases it with loader_elf_close(). */
int loader_elf_open(const char *path, struct loader_elf *elf, const char **why);

/* Map every PT_LOAD of @elf.  ET_EXEC at its addresses; ET_DYN at a bias chosen by
 * the kernel (mmap of the whole span, then MAP_FIXED inside it) unless @hint is non-zero,
 * in which case @hint is the preferred address of img->lo (a page-aligned hint: the
 * kernel still picks another place if that one is taken).  The bias of an ET_DYN image
 * honours the largest power-of-two p_align, as Linux does.  Gaps between segments stay
 * reserved PROT_NONE.  Segments are mapped writable as well as with their own permissions
 * so the rewriter can patch them; loader_image_protect() applies the final permissions.
 * .bss is zeroed exactly as Linux's elf_load() does.
 * @reserve_below bytes (rounded up to pages) of address space are reserved (PROT_NONE)
 * immediately below the image for trampolines; their range is returned in *tramp_lo and
 * *tramp_hi (either may be NULL).  For ET_DYN the range is always [img->lo -
 * reserve_below, img->lo).  For ET_EXEC, if the bytes directly below img->lo are taken
 * or below vm.mmap_min_addr, the largest free gap from which the whole image is within
 * 2 GiB is used instead (its top part, shrunk to what is free), and the range may be
 * smaller than asked or empty (tramp_lo == tramp_hi == 0): callers check its size.
 * Returns 0 or -errno: -ENOMEM when an ET_EXEC range is occupied ("address range in
 * use"), -EPERM when it is below vm.mmap_min_addr, -EINVAL when @elf is not open, or the
 * error of mmap; *why set on error (@why may be NULL).  On error nothing stays mapped.
 * The mapping belongs to the caller (munmap [img->lo, img->hi) and the trampoline
 * range to undo it); @elf may be closed afterwards. */
int loader_elf_map(struct loader_elf *elf, uintptr_t hint, size_t reserve_below,
		   struct loader_image *img, uintptr_t *tramp_lo, uintptr_t *tramp_hi,
		   const char **why);

/* Apply each segment's final permissions (in segment order: where two segments share a
 * page, the later one's permissions win, as under Linux).  Returns 0 or the -errno of
 * mprotect(2). */
int loader_image_protect(const struct loader_image *img);

/* Like loader_elf_open for a file the program opened itself (@fd is duplicated, not
 * taken): no execute permission needed (shared libraries).  Returns 0 or -EBADF/-ENOEXEC
 * with *why set. */
int loader_elf_open_fd(int fd, struct loader_elf *elf, const char **why);

/* The unbiased virtual address that file offset @offset of a PT_LOAD maps to.
 * Returns 0 or -ENOENT (no PT_LOAD holds that offset). */
int loader_elf_segment_at(struct loader_elf *elf, uint64_t offset, uint64_t *vaddr);

/* Find the allocated section @name (e.g. ".eh_frame") through the section headers:
 * its unbiased address and size.  Returns 0 or -ENOENT (none, stripped of section
 * headers, or headers unreadable). */
int loader_elf_section(struct loader_elf *elf, const char *name, uint64_t *addr,
		       uint64_t *size);

/* Like loader_elf_section, and the section's contents read from the file (owned by
 * @elf, valid until loader_elf_close).  Returns 0 or -ENOENT. */
int loader_elf_section_data(struct loader_elf *elf, const char *name, const void **data,
			    uint64_t *addr, uint64_t *size);

/* Release the libelf handle and the fd (the mapping stays).  Safe to call twice. */
void loader_elf_close(struct loader_elf *elf);

/* What goes on the initial stack. */
struct loader_stack_info {
	int argc;
	char *const *argv;		/* argc strings */
	char *const *envp;		/* NULL-terminated */
	const char *execfn;		/* AT_EXECFN string: the path as given to execve */
	const struct loader_image *exe;
	const struct loader_image *interp;	/* NULL for static programs */
	uintptr_t sysinfo_ehdr;		/* AT_SYSINFO_EHDR, 0 to omit */
};

/* Build the initial stack in [lo, top) as Linux does: an 8-byte zero end marker, strings
 * (execfn at the top, then envp, then argv strings), "x86_64" platform string, 16
 * AT_RANDOM bytes (getrandom), alignment, auxv (same entries and order as the kernel;
 * host values for HWCAP*, MINSIGSTKSZ, CLKTCK, ids, SECURE, RSEQ), envp[], argv[], argc.
 * An empty argv becomes { "" } with argc 1, as since Linux 5.18.  Linux's random
 * 0..8191-byte shift below the strings (arch_align_stack) is not applied.  Returns the
 * initial %rsp (16-byte aligned, pointing at argc), or 0 if it does not fit or getrandom
 * fails.  Nothing is allocated; the strings are copied. */
uintptr_t loader_stack_build(void *lo, void *top, const struct loader_stack_info *info);

/* Allocate a guest main-thread stack of @size bytes (rounded up to pages) plus a
 * PROT_NONE guard page below it, executable too if @exec_stack; returns its top in *top
 * and bottom (above the guard) in *lo.  The caller owns the mapping
 * [*lo - page size, *top).  Returns 0, -EINVAL for a zero or absurd (> 1 TiB) size,
 * or the -errno of mmap/mprotect. */
int loader_stack_alloc(size_t size, bool exec_stack, void **lo, void **top);

#endif
