// SPDX-License-Identifier: MIT
/* Image arenas: stubs written into an ELF file by bypass-rewrite.  The header holds the
 * slot every stub reads: int3 in the file (the stubs issue their syscalls themselves)
 * and, once a LibOS has written it, a 0 flag and the entry to call instead.  No reference
 * to the gate here: the offline tool links this without the LibOS. */
#include <errno.h>
#include <string.h>

#include <trampolines/tramp.h>

_Static_assert(TRAMP_IMAGE_SLOT_FLAG + 4 <= TRAMP_IMAGE_SLOT_ENTRY &&
	       TRAMP_IMAGE_SLOT_ENTRY + 8 <= TRAMP_IMAGE_SLOT_SIZE &&
	       TRAMP_IMAGE_SLOT + TRAMP_IMAGE_SLOT_SIZE <= TRAMP_IMAGE_HDR,
	       "flag and entry lie inside the slot, the slot inside the header");

int tramp_arena_init_image(struct tramp_arena *a, uint8_t *buf, size_t size, uint64_t addr)
{
	if (!a || !buf || size < TRAMP_IMAGE_HDR || (addr & 15))
		return -EINVAL;
	/* int3: between stubs nothing may land; in the slot, the nonzero flag (no LibOS:
	 * every stub runs its inline syscall) */
	memset(buf, 0xcc, size);
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
	/* the displacement is the stubs' flag: 0 sends them to the entry behind it */
	memset(slot + TRAMP_IMAGE_SLOT_FLAG, 0, 4);
	memcpy(slot + TRAMP_IMAGE_SLOT_ENTRY, &entry, 8);
}
