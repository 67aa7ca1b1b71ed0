// SPDX-License-Identifier: MIT
/* Reading the bypass note back: what a LibOS (or a test) uses instead of a scan. */
#include <errno.h>
#include <string.h>

#include <offline/offline.h>

#include "offline_int.h"

int offline_note_find(const uint8_t *img, size_t len, const struct offline_note_hdr **hdr,
		      const struct offline_note_site **sites)
{
	struct offline_elf e = { .b = img, .len = len };
	struct offline_note_hdr h;
	const uint8_t *desc;
	size_t descsz;

	if (!img || len < sizeof(Elf64_Ehdr) || memcmp(img, ELFMAG, SELFMAG) ||
	    img[EI_CLASS] != ELFCLASS64)
		return -EINVAL;
	memcpy(&e.eh, img, sizeof(e.eh));
	if (e.eh.e_phentsize != sizeof(Elf64_Phdr) || e.eh.e_phoff > len ||
	    (uint64_t)e.eh.e_phnum * sizeof(Elf64_Phdr) > len - e.eh.e_phoff)
		return -EINVAL;
	e.ph = (const Elf64_Phdr *)(img + e.eh.e_phoff);
	e.phnum = e.eh.e_phnum;
	if (offline_elf_note(&e, OFFLINE_NOTE_NAME, OFFLINE_NOTE_TYPE, &desc, &descsz))
		return -ENOENT;
	if (descsz < sizeof(h))
		return -EINVAL;
	memcpy(&h, desc, sizeof(h));
	if (h.format != OFFLINE_NOTE_FORMAT ||
	    (descsz - sizeof(h)) / sizeof(struct offline_note_site) < h.nsites)
		return -EINVAL;
	if (hdr)
		*hdr = (const struct offline_note_hdr *)desc;
	if (sites)
		*sites = (const struct offline_note_site *)(desc + sizeof(h));
	return 0;
}
