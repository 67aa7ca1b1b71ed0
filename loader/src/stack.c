/* SPDX-License-Identifier: MIT */
/* loader: the guest's initial stack, laid out byte for byte as Linux 6.x builds it
 * (fs/exec.c copies the strings, fs/binfmt_elf.c create_elf_tables() the rest). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "loader/loader.h"
#include "loader_internal.h"

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif
#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif
#ifndef AT_RSEQ_ALIGN
#define AT_RSEQ_ALIGN 28
#endif
#ifndef AT_HWCAP3
#define AT_HWCAP3 29
#endif
#ifndef AT_HWCAP4
#define AT_HWCAP4 30
#endif

/* ELF_PLATFORM on x86-64. */
static const char k_platform[] = "x86_64";

/* Room for every entry create_elf_tables() can emit on x86-64, plus AT_NULL. */
#define MAX_AUXV 32

struct auxv_buf {
	size_t n;
	uint64_t v[2 * MAX_AUXV];
};

static void aux_put(struct auxv_buf *a, uint64_t type, uint64_t val)
{
	a->v[a->n++] = type;
	a->v[a->n++] = val;
}

/* The host's own auxiliary vector as the kernel gave it.  getauxval() is not enough:
 * glibc answers AT_HWCAP on x86-64 from its own cpu-features word (HWCAP_X86_64...),
 * not the kernel's CPUID bits, and cannot say "absent" for HWCAP/HWCAP2.
 * /proc/self/auxv is the kernel's saved copy.  Read once; the loader runs before any
 * guest thread exists, so the unsynchronised cache is fine. */
static const uint64_t *host_auxv(void)
{
	static uint64_t buf[2 * 64];
	static bool done;

	if (!done) {
		int fd = open("/proc/self/auxv", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 16) : -1;

		if (fd >= 0)
			close(fd);
		if (n < 0)
			n = 0;
		memset((char *)buf + n, 0, sizeof(buf) - (size_t)n);
		done = true;
	}
	return buf;
}

/* The host's value for @type in *val; false when the kernel did not emit it.
 * Without /proc, fall back to getauxval() (ENOENT means absent). */
static bool host_aux(uint64_t type, uint64_t *val)
{
	const uint64_t *a = host_auxv();

	if (a[0] == AT_NULL) {
		errno = 0;
		*val = getauxval(type);
		return *val != 0 || errno != ENOENT;
	}
	for (; a[0] != AT_NULL; a += 2) {
		if (a[0] == type) {
			*val = a[1];
			return true;
		}
	}
	*val = 0;
	return false;
}

/* The host's value for @type, 0 when absent. */
static uint64_t host_val(uint64_t type)
{
	uint64_t v;

	host_aux(type, &v);
	return v;
}

/* Copy the host's entry @type if its kernel gave it one: those entries exist only on
 * kernels that know them (CONFIG_RSEQ, HWCAP3/4), and the guest runs on the same
 * kernel. */
static void aux_put_host(struct auxv_buf *a, uint64_t type)
{
	uint64_t v;

	if (host_aux(type, &v))
		aux_put(a, type, v);
}

/* The auxiliary vector in create_elf_tables() order; @execfn, @platform and @random
 * are the guest addresses of what they name. */
static void aux_fill(struct auxv_buf *a, const struct loader_stack_info *info,
		     uintptr_t execfn, uintptr_t platform, uintptr_t random)
{
	const struct loader_image *exe = info->exe;

	a->n = 0;
	/* ARCH_DLINFO first on x86-64: the vDSO (if any), then the signal frame size. */
	if (info->sysinfo_ehdr != 0)
		aux_put(a, AT_SYSINFO_EHDR, info->sysinfo_ehdr);
	aux_put(a, AT_MINSIGSTKSZ, host_val(AT_MINSIGSTKSZ));
	aux_put(a, AT_HWCAP, host_val(AT_HWCAP));
	aux_put(a, AT_PAGESZ, loader_page_size());
	aux_put(a, AT_CLKTCK, host_val(AT_CLKTCK));
	aux_put(a, AT_PHDR, exe->phdr);
	aux_put(a, AT_PHENT, exe->phent);
	aux_put(a, AT_PHNUM, exe->phnum);
	/* interp_load_addr: the interpreter's bias, 0 for a static program. */
	aux_put(a, AT_BASE, info->interp != NULL ? info->interp->bias : 0);
	aux_put(a, AT_FLAGS, 0);
	aux_put(a, AT_ENTRY, exe->entry);
	aux_put(a, AT_UID, host_val(AT_UID));
	aux_put(a, AT_EUID, host_val(AT_EUID));
	aux_put(a, AT_GID, host_val(AT_GID));
	aux_put(a, AT_EGID, host_val(AT_EGID));
	aux_put(a, AT_SECURE, host_val(AT_SECURE));
	aux_put(a, AT_RANDOM, random);
	/* x86 defines ELF_HWCAP2, so the kernel always emits it, zero or not. */
	aux_put(a, AT_HWCAP2, host_val(AT_HWCAP2));
	aux_put_host(a, AT_HWCAP3);
	aux_put_host(a, AT_HWCAP4);
	aux_put(a, AT_EXECFN, execfn);
	aux_put(a, AT_PLATFORM, platform);
	/* No AT_BASE_PLATFORM on x86; no AT_EXECFD (binfmt_misc only). */
	aux_put_host(a, AT_RSEQ_FEATURE_SIZE);
	aux_put_host(a, AT_RSEQ_ALIGN);
	aux_put(a, AT_NULL, 0);
}

/* Push @len bytes of @src below *p, failing if that would go below @lo. */
static bool push(uintptr_t *p, uintptr_t lo, const void *src, size_t len)
{
	if (*p < lo || *p - lo < len)
		return false;
	*p -= len;
	memcpy((void *)*p, src, len);
	return true;
}

/* copy_strings(): the last string first, so string 0 ends up lowest and the n
 * strings are contiguous in order from *p upwards. */
static bool push_strings(uintptr_t *p, uintptr_t lo, int n, char *const *s)
{
	for (int i = n - 1; i >= 0; i--)
		if (!push(p, lo, s[i], strlen(s[i]) + 1))
			return false;
	return true;
}

/* Store the addresses of @n contiguous strings starting at @s into @vec, then a NULL;
 * returns the address just past the last string. */
static uintptr_t put_vector(uintptr_t **vec, uintptr_t s, int n)
{
	for (int i = 0; i < n; i++) {
		*(*vec)++ = s;
		s += strlen((const char *)s) + 1;
	}
	*(*vec)++ = 0;
	return s;
}

uintptr_t loader_stack_build(void *lo, void *top, const struct loader_stack_info *info)
{
	uintptr_t l = (uintptr_t)lo, p = (uintptr_t)top, sp, strs, execfn, platform, random;
	char *const empty_argv[] = { "", NULL };
	char *const *argv = info->argv, *const *envp = info->envp;
	int argc = info->argc, envc = 0;
	uint8_t rnd[16];
	struct auxv_buf aux;
	size_t items;
	uintptr_t *vec;

	if (envp != NULL)
		while (envp[envc] != NULL)
			envc++;
	/* Since Linux 5.18 an empty argv becomes { "" } so argv[0] always exists. */
	if (argc <= 0 || argv == NULL) {
		argc = 1;
		argv = empty_argv;
	}
	/* __bprm_mm_init(): p = vm_end - sizeof(void *); the last word stays zero. */
	p &= ~(uintptr_t)7;
	if (p < l + 8)
		return 0;
	p -= 8;
	memset((void *)p, 0, 8);
	if (!push(&p, l, info->execfn, strlen(info->execfn) + 1))
		return 0;
	execfn = p;
	if (!push_strings(&p, l, envc, envp) || !push_strings(&p, l, argc, argv))
		return 0;
	strs = p;

	/* arch_align_stack(): Linux also subtracts a random 0..8191 bytes here when
	 * randomizing; we keep the distance fixed (only 16-byte alignment). */
	p &= ~(uintptr_t)15;
	if (!push(&p, l, k_platform, sizeof(k_platform)))
		return 0;
	platform = p;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 0;
	if (!push(&p, l, rnd, sizeof(rnd)))
		return 0;
	random = p;

	aux_fill(&aux, info, execfn, platform, random);
	/* STACK_ADD(p, ei_index) then STACK_ROUND(sp, items): the vectors start at a
	 * 16-byte boundary; the auxv ends at or below the random bytes. */
	items = (size_t)argc + 1 + (size_t)envc + 1 + 1;
	if (p - l < (aux.n + items) * 8 + 16)
		return 0;
	sp = (p - aux.n * 8 - items * 8) & ~(uintptr_t)15;
	if (sp < l)
		return 0;

	vec = (uintptr_t *)sp;
	*vec++ = (uintptr_t)argc;
	/* envp strings sit right above the argv strings (copied first, so higher). */
	put_vector(&vec, put_vector(&vec, strs, argc), envc);
	memcpy(vec, aux.v, aux.n * 8);
	return sp;
}

int loader_stack_alloc(size_t size, bool exec_stack, void **lo, void **top)
{
	size_t page = loader_page_size();
	int prot = PROT_READ | PROT_WRITE | (exec_stack ? PROT_EXEC : 0);
	uint8_t *base;

	size = loader_page_up(size);
	if (size == 0 || size > (1ull << 40))
		return -EINVAL;
	base = mmap(NULL, size + page, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		    MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	/* The guard page: an overflow faults instead of running into another mapping. */
	if (mprotect(base, page, PROT_NONE) < 0) {
		int err = -errno;

		munmap(base, size + page);
		return err;
	}
	*lo = base + page;
	*top = base + page + size;
	return 0;
}
