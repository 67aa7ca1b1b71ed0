// SPDX-License-Identifier: MIT
/* Memory syscalls.  brk is emulated in a region reserved after the guest's image (the
 * kernel's brk belongs to bypass-run's own heap).  Executable file mappings are patched
 * before the program can run them; unmapped code is forgotten. */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../image.h"
#include "sys.h"

static uintptr_t page_up(uintptr_t v)
{
	return (v + 4095) & ~(uintptr_t)4095;
}

long libos_sys_brk(struct libos_args *a)
{
	uintptr_t want = (uintptr_t)a->a[0];
	uintptr_t cur = g_proc.brk_cur;

	pthread_mutex_lock(&g_proc.lock);
	cur = g_proc.brk_cur;
	if (want < g_proc.brk_start || want > g_proc.brk_limit)
		goto out;	/* the kernel answers a failed brk with the current break */
	uintptr_t old_end = page_up(cur), new_end = page_up(want);
	if (new_end > old_end) {
		if (mmap((void *)old_end, new_end - old_end, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			goto out;
	} else if (new_end < old_end) {
		/* Give the pages back; growing again must find them zeroed. */
		mmap((void *)new_end, old_end - new_end, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	}
	cur = g_proc.brk_cur = want;
out:
	pthread_mutex_unlock(&g_proc.lock);
	return (long)cur;
}

long libos_sys_mmap(struct libos_args *a)
{
	uint64_t addr = (uint64_t)a->a[0];
	size_t len = (size_t)a->a[1];
	int prot = (int)a->a[2], flags = (int)a->a[3], fd = (int)a->a[4];

	if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) == MAP_FIXED) {
		if (libos_hostmap_overlaps(addr, len))
			return -ENOMEM;		/* it would destroy bypass-run itself */
		libos_image_unmapped(addr, len);
	}
	long r = libos_raw(SYS_mmap, a->a[0], a->a[1], a->a[2], a->a[3], a->a[4], a->a[5]);
	if (r >= 0 && (prot & PROT_EXEC) && !(flags & MAP_ANONYMOUS) && fd >= 0) {
		tramp_vectors_save();	/* libelf, Zydis, glibc: heavy from here */
		libos_image_mapped((uint64_t)r, len, prot, fd, (uint64_t)a->a[5]);
	}
	return r;
}

long libos_sys_munmap(struct libos_args *a)
{
	/* Not the program's: natively nothing is mapped there, so there is nothing to do. */
	if (libos_hostmap_overlaps((uint64_t)a->a[0], (size_t)a->a[1]))
		return (a->a[0] & 4095) || !a->a[1] ? -EINVAL : 0;
	/* Forget first: once the kernel unmaps, new code may appear at these addresses. */
	libos_image_unmapped((uint64_t)a->a[0], (size_t)a->a[1]);
	return libos_raw(SYS_munmap, a->a[0], a->a[1], 0, 0, 0, 0);
}

/* mprotect, pkey_mprotect and mremap are routed here only once JIT code is patched
 * (jit.c): the syscalls patched in the range go back first, as the program may make
 * that code writable or move it. */
long libos_sys_mprotect(struct libos_args *a)
{
	libos_jit_forget((uint64_t)a->a[0], (uint64_t)a->a[1], false);
	return libos_raw(SYS_mprotect, a->a[0], a->a[1], a->a[2], 0, 0, 0);
}

long libos_sys_pkey_mprotect(struct libos_args *a)
{
	libos_jit_forget((uint64_t)a->a[0], (uint64_t)a->a[1], false);
	return libos_raw(SYS_pkey_mprotect, a->a[0], a->a[1], a->a[2], a->a[3], 0, 0);
}

long libos_sys_mremap(struct libos_args *a)
{
	libos_jit_forget((uint64_t)a->a[0], (uint64_t)a->a[1], false);
	if (a->a[3] & MREMAP_FIXED)
		libos_jit_forget((uint64_t)a->a[4], (uint64_t)a->a[2], true);
	return libos_raw(SYS_mremap, a->a[0], a->a[1], a->a[2], a->a[3], a->a[4], 0);
}
