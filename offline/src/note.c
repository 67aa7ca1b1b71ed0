// SPDX-License-Identifier: MIT
/* Reading the bypass note back: what a LibOS (or a test) uses instead of a scan. */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include <offline/offline.h>

int offline_note_find(const uint8_t *img, size_t len, const struct offline_note_hdr **hdr,
		      const struct offline_note_site **sites)
{
	Elf64_Ehdr eh;
	struct offline_note_hdr h;
	uint64_t at, avail = 0;

	if (!img || len < sizeof(eh) || memcmp(img, ELFMAG, SELFMAG) ||
	    img[EI_CLASS] != ELFCLASS64)
		return -EINVAL;
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return -EINVAL;
	at = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (len - at < sizeof(h))
		return -ENOENT;
	memcpy(&h, img + at, sizeof(h));
	if (memcmp(h.magic, OFFLINE_NOTE_MAGIC, sizeof(h.magic)))
		return -ENOENT;
	/* Only what the PT_LOAD holding the table loads counts: the LibOS reads it there. */
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr p;
		memcpy(&p, img + eh.e_phoff + i * sizeof(p), sizeof(p));
		if (p.p_type == PT_LOAD && p.p_offset <= eh.e_phoff && at - p.p_offset < p.p_filesz)
			avail = p.p_offset + p.p_filesz - at;
	}
	if (avail > len - at)
		avail = len - at;
	if (avail < sizeof(h) || h.format != OFFLINE_NOTE_FORMAT ||
	    (avail - sizeof(h)) / sizeof(struct offline_note_site) < h.nsites)
		return -EINVAL;
	if (hdr)
		*hdr = (const struct offline_note_hdr *)(img + at);
	if (sites)
		*sites = (const struct offline_note_site *)(img + at + sizeof(h));
	return 0;
}
