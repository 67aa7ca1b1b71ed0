// SPDX-License-Identifier: MIT
/* Image arenas: stubs written into an ELF file by bypass-rewrite.  The header holds the
 * slot every stub calls (a jump, so the arena is position-independent) and the native
 * entry that issues the syscall itself when no LibOS is present.  No reference to the gate
 * here: the offline tool links this without the LibOS. */
#include <errno.h>
#include <string.h>

#include <trampolines/tramp.h>

/* The native entry, at TRAMP_IMAGE_ENTRY.  Entered by `call slot` from a stub: [rsp] is
 * the stub's resume address R, rsp is the program's rsp - 136. */
static const uint8_t g_native_entry[] = {
	0x8d, 0x48, 0xf1,		/* lea -0xf(%rax),%ecx     rt_sigreturn? */
	0xe3, 21,			/* jrcxz raw               (flags untouched) */
	0x8d, 0x48, 0xc8,		/* lea -0x38(%rax),%ecx    clone? */
	0xe3, 16,			/* jrcxz raw */
	0x8d, 0x48, 0xc6,		/* lea -0x3a(%rax),%ecx    vfork? */
	0xe3, 11,			/* jrcxz raw */
	0x8d, 0x88, 0x4d, 0xfe, 0xff, 0xff,	/* lea -0x1b3(%rax),%ecx  clone3? */
	0xe3, 3,			/* jrcxz raw */
	0x0f, 0x05,			/* syscall                 everything else, here */
	0xc3,				/* ret                     to R */
	/* raw: */
	0x59,				/* pop %rcx                R */
	0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00,	/* lea 0x80(%rsp),%rsp  the program's rsp */
	0x48, 0x8d, 0x49, 0x0a,		/* lea 0xa(%rcx),%rcx      R + 10: the stub's raw syscall */
	0xff, 0xe1,			/* jmp *%rcx */
};
_Static_assert(TRAMP_IMAGE_ENTRY + sizeof(g_native_entry) <= TRAMP_IMAGE_HDR,
	       "the native entry fits the arena header");

int tramp_arena_init_image(struct tramp_arena *a, uint8_t *buf, size_t size, uint64_t addr)
{
	int32_t d = TRAMP_IMAGE_ENTRY - (TRAMP_IMAGE_SLOT + 5);

	if (!a || !buf || size < TRAMP_IMAGE_HDR || (addr & 15))
		return -EINVAL;
	memset(buf, 0xcc, size);	/* int3: between stubs, nothing may land */
	buf[TRAMP_IMAGE_SLOT] = 0xe9;	/* e9 rel32   jmp native entry */
	memcpy(buf + TRAMP_IMAGE_SLOT + 1, &d, 4);
	memcpy(buf + TRAMP_IMAGE_ENTRY, g_native_entry, sizeof(g_native_entry));
	a->base = buf;
	a->size = size;
	a->used = TRAMP_IMAGE_HDR;
	a->addr = addr;
	a->kind = TRAMP_ARENA_IMAGE;
	return 0;
}

void tramp_image_slot_encode(uint8_t *slot, uint64_t entry)
{
	memset(slot, 0xcc, TRAMP_IMAGE_SLOT_SIZE);
	slot[0] = 0xff;			/* ff 25 00 00 00 00   jmp *0(%rip) */
	slot[1] = 0x25;
	memset(slot + 2, 0, 4);
	memcpy(slot + 6, &entry, 8);	/* the absolute entry the jump reads */
}
