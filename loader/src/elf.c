/* SPDX-License-Identifier: MIT */
/* loader: open an ELF file and validate it as something we can run (ELF64, x86-64,
 * ET_EXEC/ET_DYN, sane program headers and PT_LOAD segments) without ever trusting
 * a header field before its range has been checked against the file size. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/loader.h"
#include "loader_internal.h"

/* Checks done on the raw identification and header bytes before libelf sees the file,
 * so that every message names the real problem ("truncated ELF header" rather than
 * libelf's generic "invalid file descriptor or unknown kind"). */
static int check_ident(int fd, uint64_t size, const char **why)
{
	unsigned char id[EI_NIDENT];
	ssize_t n;

	n = pread(fd, id, sizeof(id), 0);
	if (n < 0) {
		*why = "read error";
		return -EIO;
	}
	if (n < SELFMAG || memcmp(id, ELFMAG, SELFMAG) != 0) {
		*why = "not an ELF file";
		return -ENOEXEC;
	}
	if (n < EI_NIDENT) {
		*why = "truncated ELF header";
		return -ENOEXEC;
	}
	if (id[EI_CLASS] == ELFCLASS32) {
		*why = "32-bit ELF is not supported";
		return -ENOEXEC;
	}
	if (id[EI_CLASS] != ELFCLASS64) {
		*why = "invalid ELF class";
		return -ENOEXEC;
	}
	if (id[EI_DATA] != ELFDATA2LSB) {
		*why = "big-endian ELF is not supported";
		return -ENOEXEC;
	}
	if (id[EI_VERSION] != EV_CURRENT) {
		*why = "unsupported ELF version";
		return -ENOEXEC;
	}
	if (size < sizeof(Elf64_Ehdr)) {
		*why = "truncated ELF header";
		return -ENOEXEC;
	}
	return 0;
}

/* Validate the ELF header fields that say what kind of file this is and where its
 * program headers are; the program header table must lie inside the file. */
static int check_ehdr(const GElf_Ehdr *eh, uint64_t size, const char **why)
{
	uint64_t tab;

	if (eh->e_machine != EM_X86_64) {
		*why = "unsupported machine (not x86-64)";
		return -ENOEXEC;
	}
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		*why = "not an executable";
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr)) {
		*why = "bad program header size";
		return -ENOEXEC;
	}
	/* 0xffff (PN_XNUM, count in section 0) is rejected too: no executable needs it. */
	if (eh->e_phnum < 1 || eh->e_phnum > LOADER_MAX_SEGS * 4) {
		*why = "bad program header count";
		return -ENOEXEC;
	}
	tab = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (eh->e_phoff > size || size - eh->e_phoff < tab) {
		*why = "truncated program headers";
		return -ENOEXEC;
	}
	if (eh->e_entry >= LOADER_TASK_SIZE) {
		*why = "entry point outside the user address space";
		return -ENOEXEC;
	}
	return 0;
}

/* Check one PT_LOAD against the file and against the previous one (@prev_end is the
 * end of the previous segment in memory, 0 before the first). */
static int check_load(const GElf_Phdr *ph, uint64_t size, uint64_t prev_end,
		      uint64_t page, const char **why)
{
	if (ph->p_filesz > ph->p_memsz) {
		*why = "segment file size larger than memory size";
		return -ENOEXEC;
	}
	if (ph->p_offset > size || size - ph->p_offset < ph->p_filesz) {
		*why = "truncated segment";
		return -ENOEXEC;
	}
	if (ph->p_vaddr % page != ph->p_offset % page) {
		*why = "misaligned segment (p_vaddr and p_offset differ modulo the page size)";
		return -ENOEXEC;
	}
	if (ph->p_vaddr >= LOADER_TASK_SIZE || LOADER_TASK_SIZE - ph->p_vaddr < ph->p_memsz) {
		*why = "segment outside the user address space";
		return -ENOEXEC;
	}
	if (ph->p_vaddr < prev_end) {
		*why = "segments overlap or are not in ascending order";
		return -ENOEXEC;
	}
	return 0;
}

/* Read PT_INTERP into @elf->interp: bounded, and NUL-terminated by the file itself
 * as Linux requires (it rejects an interpreter path whose last byte is not NUL). */
static int read_interp(struct loader_elf *elf, const GElf_Phdr *ph, const char **why)
{
	ssize_t n;

	if (ph->p_offset > elf->file_size || elf->file_size - ph->p_offset < ph->p_filesz) {
		*why = "truncated interpreter path";
		return -ENOEXEC;
	}
	if (ph->p_filesz < 2 || ph->p_filesz > sizeof(elf->interp)) {
		*why = "bad interpreter path length";
		return -ENOEXEC;
	}
	n = pread(elf->fd, elf->interp, ph->p_filesz, (off_t)ph->p_offset);
	if (n != (ssize_t)ph->p_filesz || elf->interp[ph->p_filesz - 1] != '\0') {
		elf->interp[0] = '\0';
		*why = "bad interpreter path";
		return -ENOEXEC;
	}
	return 0;
}

/* Walk the program headers: validate every PT_LOAD, read PT_INTERP. */
static int check_phdrs(struct loader_elf *elf, const GElf_Ehdr *eh, const char **why)
{
	Elf *e = elf->elf;
	uint64_t page = (uint64_t)loader_page_size();
	uint64_t prev_end = 0;
	size_t nload = 0;
	bool have_interp = false;
	GElf_Phdr ph;
	int err;

	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (gelf_getphdr(e, (int)i, &ph) == NULL) {
			*why = "truncated program headers";
			return -ENOEXEC;
		}
		if (ph.p_type == PT_INTERP && !have_interp) {
			/* Linux honours the first PT_INTERP only. */
			err = read_interp(elf, &ph, why);
			if (err < 0)
				return err;
			have_interp = true;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		err = check_load(&ph, elf->file_size, prev_end, page, why);
		if (err < 0)
			return err;
		prev_end = ph.p_vaddr + ph.p_memsz;
		if (++nload > LOADER_MAX_SEGS) {
			*why = "too many loadable segments";
			return -ENOEXEC;
		}
	}
	if (nload == 0) {
		*why = "no loadable segments";
		return -ENOEXEC;
	}
	return 0;
}

/* Open @path, check file type and execute permission, and record its identity. */
static int open_file(const char *path, struct loader_elf *elf, const char **why)
{
	struct stat st;

	elf->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (elf->fd < 0) {
		int err = -errno;

		switch (err) {
		case -ENOENT: *why = "No such file or directory"; break;
		case -EACCES: *why = "Permission denied"; break;
		case -ENOTDIR: *why = "Not a directory"; break;
		case -ELOOP: *why = "Too many levels of symbolic links"; break;
		case -ENAMETOOLONG: *why = "File name too long"; break;
		default: *why = "cannot open"; break;
		}
		return err;
	}
	if (fstat(elf->fd, &st) < 0) {
		*why = "cannot stat";
		return -EIO;
	}
	if (S_ISDIR(st.st_mode)) {
		*why = "Is a directory";
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode)) {
		*why = "Permission denied (not a regular file)";
		return -EACCES;
	}
	/* execve's rule: the effective ids need execute permission; for root that means
	 * at least one x bit.  access() also fails on a noexec mount, as execve does. */
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0) {
		*why = "Permission denied (no execute permission)";
		return -EACCES;
	}
	elf->file_size = (uint64_t)st.st_size;
	elf->dev = (uint64_t)st.st_dev;
	elf->ino = (uint64_t)st.st_ino;
	elf->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
			(uint64_t)st.st_mtim.tv_nsec;
	return 0;
}

/* Validate the open elf->fd (identity already recorded): ident, headers, segments. */
static int elf_validate(struct loader_elf *elf, const char **why)
{
	GElf_Ehdr eh;
	int err;

	err = check_ident(elf->fd, elf->file_size, why);
	if (err < 0)
		goto out;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		*why = "libelf initialisation failed";
		err = -EIO;
		goto out;
	}
	/* ELF_C_READ reads headers with pread on demand: a file shrinking under us gives
	 * an error here instead of a SIGBUS from a mapping. */
	elf->elf = elf_begin(elf->fd, ELF_C_READ, NULL);
	if (elf->elf == NULL || elf_kind(elf->elf) != ELF_K_ELF ||
	    gelf_getehdr(elf->elf, &eh) == NULL) {
		*why = "not an ELF file";
		err = -ENOEXEC;
		goto out;
	}
	err = check_ehdr(&eh, elf->file_size, why);
	if (err < 0)
		goto out;
	err = check_phdrs(elf, &eh, why);
	if (err < 0)
		goto out;
	elf->type = eh.e_type;
	elf->entry = eh.e_entry;
out:
	return err;
}

int loader_elf_open(const char *path, struct loader_elf *elf, const char **why)
{
	const char *dummy;
	int err;

	if (why == NULL)
		why = &dummy;
	*why = "";
	memset(elf, 0, sizeof(*elf));
	elf->fd = -1;
	err = open_file(path, elf, why);
	if (err == 0)
		err = elf_validate(elf, why);
	if (err < 0)
		loader_elf_close(elf);
	return err;
}

int loader_elf_open_fd(int fd, struct loader_elf *elf, const char **why)
{
	const char *dummy;
	struct stat st;
	int err = -EBADF;

	if (why == NULL)
		why = &dummy;
	*why = "bad file descriptor";
	memset(elf, 0, sizeof(*elf));
	elf->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (elf->fd < 0 || fstat(elf->fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	elf->file_size = (uint64_t)st.st_size;
	elf->dev = (uint64_t)st.st_dev;
	elf->ino = (uint64_t)st.st_ino;
	elf->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
			(uint64_t)st.st_mtim.tv_nsec;
	*why = "";
	err = elf_validate(elf, why);
out:
	if (err < 0)
		loader_elf_close(elf);
	return err;
}

int loader_elf_segment_at(struct loader_elf *elf, uint64_t offset, uint64_t *vaddr)
{
	size_t n;
	GElf_Phdr ph;

	if (!elf->elf || elf_getphdrnum(elf->elf, &n) != 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(elf->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		uint64_t off = ph.p_offset & ~4095ull;
		if (offset >= off && offset < ph.p_offset + ph.p_filesz) {
			*vaddr = (ph.p_vaddr & ~4095ull) + (offset - off);
			return 0;
		}
	}
	return -ENOENT;
}

void loader_elf_close(struct loader_elf *elf)
{
	if (elf->elf != NULL)
		elf_end(elf->elf);
	elf->elf = NULL;
	if (elf->fd >= 0)
		close(elf->fd);
	elf->fd = -1;
}

/* The allocated, non-empty section called @name: 0 with *scn and *sh, or -ENOENT. */
static int find_section(struct loader_elf *elf, const char *name, Elf_Scn **scn, GElf_Shdr *sh)
{
	size_t shstrndx;
	const char *n;

	if (!elf->elf || elf_getshdrstrndx(elf->elf, &shstrndx) != 0)
		return -ENOENT;
	for (*scn = NULL; (*scn = elf_nextscn(elf->elf, *scn)) != NULL;)
		if (gelf_getshdr(*scn, sh) && (n = elf_strptr(elf->elf, shstrndx, sh->sh_name)) &&
		    strcmp(n, name) == 0 && sh->sh_type != SHT_NOBITS && (sh->sh_flags & SHF_ALLOC))
			return 0;
	return -ENOENT;
}

int loader_elf_section(struct loader_elf *elf, const char *name, uint64_t *addr,
		       uint64_t *size)
{
	Elf_Scn *scn;
	GElf_Shdr sh;

	if (find_section(elf, name, &scn, &sh))
		return -ENOENT;
	*addr = sh.sh_addr;
	*size = sh.sh_size;
	return 0;
}

int loader_elf_section_data(struct loader_elf *elf, const char *name, const void **data,
			    uint64_t *addr, uint64_t *size)
{
	Elf_Scn *scn;
	GElf_Shdr sh;
	Elf_Data *d;

	/* libelf checks the range against the file and reads it with pread. */
	if (find_section(elf, name, &scn, &sh) || !(d = elf_getdata(scn, NULL)) || !d->d_buf)
		return -ENOENT;
	*data = d->d_buf;
	*addr = sh.sh_addr;
	*size = d->d_size;
	return 0;
}
