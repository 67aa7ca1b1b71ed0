/* SPDX-License-Identifier: MIT */
/* Patching a mapped image. */
#ifndef LIBOS_IMAGE_H
#define LIBOS_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include <loader/loader.h>

#include "plancache.h"

/* Patch every site of @img's executable segments (mapped writable) that the plan can,
 * with stubs in [tlo, thi).  The plan comes from the cache under @key when it matches
 * the image, else from a scan (stored under @key); @key may be NULL.  @eh_addr/@eh_size
 * locate .eh_frame (unbiased; size 0 when the file has no section headers); @elf, the
 * open file (or NULL), adds its symbol table's functions where .eh_frame has none.
 * Returns 0 or -errno with *why set. */
int libos_image_patch(const struct loader_image *img, struct loader_elf *elf,
		      const struct libos_plan_key *key, uint64_t eh_addr, uint64_t eh_size,
		      uintptr_t tlo, uintptr_t thi, const char **why);

/* The program mapped [addr, addr + len) of file @fd at @offset with PROT_EXEC (@prot):
 * if it is part of an ELF file, plan and patch it before anything runs it.  Anything
 * that fails leaves the region to the trap. */
void libos_image_mapped(uint64_t addr, size_t len, int prot, int fd, uint64_t offset);

/* Patch the vDSO mapped at @base (AT_SYSINFO_EHDR): its fallback syscalls (clocks it
 * cannot read itself, such as CLOCK_PROCESS_CPUTIME_ID) then reach the gate through
 * stubs instead of the trap.  The vDSO is shared with host code, so its stubs enter the
 * gate only from guest code and issue the syscall themselves for host code.  Call once,
 * before any guest code runs.  Returns 0, -ENOEXEC (not an ELF image we understand),
 * -ENOMEM, or the -errno of mprotect (the vDSO then stays unpatched: the trap serves
 * it). */
int libos_image_vdso(uint64_t base);

/* [addr, addr + len) is being unmapped or replaced: forget the images it touches. */
void libos_image_unmapped(uint64_t addr, size_t len);

/* SUD caught a syscall at @addr (the instruction's address): if the image's plan has it
 * as a TRAP site and an island is free, patch it now, safely while other threads run.
 * Called from the SIGSYS handler.  Returns 1 if @addr is in an image we know (patched
 * or not), 0 if not (code written at run time: libos_jit_trap's). */
int libos_image_trap(uint64_t addr);

/* JIT code (jit.c).  SUD caught a syscall at @addr outside every image: patch it with a
 * punned jump if its memory allows (private anonymous, not writable).  From the SIGSYS
 * handler. */
void libos_jit_trap(uint64_t addr);
/* [addr, addr + len) changes protection or place (@gone false: mprotect, mremap) or is
 * unmapped or replaced (@gone true): put back the syscalls patched there first.  Light
 * path: integer code and raw syscalls only. */
void libos_jit_forget(uint64_t addr, uint64_t len, bool gone);
/* libos_image_stub_site for the stubs of JIT sites. */
int libos_jit_stub_site(uint64_t ret, uint64_t *site);
/* mprotect, pkey_mprotect and mremap stay on the fast path until a JIT site is patched. */
void libos_jit_routes_init(void);

/* @ret is where a LIVE stub's gate call returns to: *@site = the address of the
 * program's `syscall` that stub stands in for.  For signal delivery (the interrupted
 * thread runs guest code, so it holds no LibOS lock).  Returns 0 or -ENOENT (not a stub
 * we installed, or one installed after its image's table was full). */
int libos_image_stub_site(uint64_t ret, uint64_t *site);

#endif
