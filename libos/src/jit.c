// SPDX-License-Identifier: MIT
/* Lazy patching of code written at run time (JIT code in anonymous memory).  Such code
 * has no function bounds, so no scan can tell instructions from data there, and the
 * rewriter's tactics (a window of whole instructions, an island in padding) are never
 * provably safe.  The trap proves one thing: the `syscall` it caught is an instruction.
 * Its 2 bytes, and only those, become a punned jump (tramp_site_install_pun): `e9 XX`
 * whose displacement's other 3 bytes are the next instruction's, unchanged.  A branch
 * to that instruction or a read of it sees what it saw natively.  The jump lands in a
 * 256-byte window the next bytes fix, where a page of ours (a "pun page", kept from the
 * program by the hostmap) holds the stub.
 *
 * The displacement depends on bytes the program owns, so they must not change under
 * the jump: only code in private anonymous memory without write permission is patched
 * (no alias can write it; W^X JITs make it writable with mprotect first, RWX code stays
 * with the trap).  Once a site is patched, mprotect, pkey_mprotect and mremap come
 * here first (routed to the LibOS from then on): any of them touching the 5 bytes puts
 * the `syscall` back before the kernel acts, and the next trap patches it again.  munmap
 * and MAP_FIXED forget it (or put it back, when the syscall itself stays mapped).  A
 * stub is never reused: a thread may still return into it from a blocking call.
 *
 * What is left: code the program copies elsewhere after a site ran (a moving GC's code
 * compaction) copies the jump, whose target is then wrong; and writes to its own code
 * through /proc/self/mem or process_vm_writev.  V8, the one JIT in the test suite,
 * emits no syscalls in JIT code. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image.h"
#include "internal.h"

#define PUN_PAGES	64	/* pun pages at most (each is one hostmap entry) */
#define PUN_SITES	2048	/* stubs at most, over the process's life */
#define PUN_NOFIT	64	/* addresses that could not be patched, until a mapping changes */
#define PUN_SLOT	8	/* each pun page starts with the gate's entry pointer */
#define PAGE		4096ull

static struct pun_page {
	uint64_t addr;
	uint64_t used[PAGE / 64];	/* a bit per byte */
} g_pages[PUN_PAGES];
static unsigned g_npages;

static struct pun_site {
	uint64_t site, stub;		/* the syscall and its stub */
	int prot;			/* the site's page, as the patch found it */
	bool live;			/* the jump is in place */
} g_sites[PUN_SITES];
static unsigned g_nsites;

static uint64_t g_nofit[PUN_NOFIT];
static unsigned g_nofit_next;
static pthread_mutex_t g_jit_lock = PTHREAD_MUTEX_INITIALIZER;

static bool bytes_free(const struct pun_page *p, unsigned off, unsigned n)
{
	for (unsigned i = off; i < off + n; i++)
		if (p->used[i / 64] & (1ull << (i % 64)))
			return false;
	return true;
}

static void bytes_take(struct pun_page *p, unsigned off, unsigned n)
{
	for (unsigned i = off; i < off + n; i++)
		p->used[i / 64] |= 1ull << (i % 64);
}

/* One line of /proc/self/maps: its range, its protection, and whether it is private
 * anonymous memory (no file; unnamed or named by PR_SET_VMA_ANON_NAME). */
struct map_line {
	uint64_t lo, hi;
	int prot;
	bool private_anon;
};

static const char *hex(const char *s, uint64_t *v)
{
	*v = 0;
	for (;; s++) {
		unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0') :
			     *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10) : 16u;
		if (d == 16)
			return s;
		*v = *v << 4 | d;
	}
}

static bool map_parse(const char *l, struct map_line *m)
{
	uint64_t inode;

	l = hex(l, &m->lo);
	if (*l++ != '-')
		return false;
	l = hex(l, &m->hi);
	if (*l++ != ' ' || !l[0] || !l[1] || !l[2] || !l[3])
		return false;
	m->prot = (l[0] == 'r' ? PROT_READ : 0) | (l[1] == 'w' ? PROT_WRITE : 0) |
		  (l[2] == 'x' ? PROT_EXEC : 0);
	bool priv = l[3] == 'p';
	/* offset, dev, inode, path */
	for (int field = 0; field < 3; field++) {
		while (*l && *l != ' ')
			l++;
		while (*l == ' ')
			l++;
	}
	l = hex(l, &inode);	/* decimal, but 0 is 0 either way */
	while (*l == ' ')
		l++;
	m->private_anon = priv && inode == 0 && (!*l || !strncmp(l, "[anon:", 6));
	return true;
}

/* The mappings holding @lo and @hi - 1 (the same one, or two adjacent). */
static int maps_find(uint64_t lo, uint64_t hi, struct map_line *a, struct map_line *b)
{
	static char buf[8192];
	char line[512];
	size_t ln = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), found = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (found != 3 && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n && found != 3; i++) {
			if (buf[i] != '\n') {
				if (ln < sizeof(line) - 1)
					line[ln++] = buf[i];
				continue;
			}
			line[ln] = '\0';
			ln = 0;
			struct map_line m;
			if (!map_parse(line, &m))
				continue;
			if (m.lo <= lo && lo < m.hi)
				*a = m, found |= 1;
			if (m.lo <= hi - 1 && hi - 1 < m.hi)
				*b = m, found |= 2;
		}
	}
	close(fd);
	return found == 3 ? 0 : -ENOENT;
}

static bool patchable(const struct map_line *m)
{
	return m->private_anon && !(m->prot & PROT_WRITE);
}

/* A place for a stub of @n bytes in the window [base, base + 255]: in a pun page we
 * have, else in a new one.  Returns the page, with *@at the stub's address. */
static struct pun_page *place(uint64_t base, unsigned n, uint64_t *at)
{
	uint64_t pages[2] = { base & ~(PAGE - 1), (base + 255) & ~(PAGE - 1) };

	for (int fresh = 0; fresh < 2; fresh++) {
		for (int k = 0; k < (pages[0] == pages[1] ? 1 : 2); k++) {
			uint64_t pg = pages[k];
			struct pun_page *p = NULL;
			for (unsigned i = 0; i < g_npages && !p; i++)
				if (g_pages[i].addr == pg)
					p = &g_pages[i];
			if (!p && fresh) {
				/* Not below mmap_min_addr, not past the user half. */
				if (pg < 0x10000 || pg >= 0x7ffffffff000ull || g_npages == PUN_PAGES)
					continue;
				void *m = mmap((void *)pg, PAGE, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
					       -1, 0);
				if (m == MAP_FAILED)
					continue;
				if ((uint64_t)m != pg) {	/* a kernel without NOREPLACE */
					munmap(m, PAGE);
					continue;
				}
				p = &g_pages[g_npages++];
				p->addr = pg;
				memset(p->used, 0, sizeof(p->used));
				memset(m, 0xcc, PAGE);
				*(uint64_t *)m = (uint64_t)(g_proc.stats ? tramp_entry_stats :
							    tramp_entry);
				bytes_take(p, 0, PUN_SLOT);
				mprotect(m, PAGE, PROT_READ | PROT_EXEC);
				libos_hostmap_add(pg, pg + PAGE);
			}
			if (!p || (p->addr != pg))
				continue;
			uint64_t lo = base > pg + PUN_SLOT ? base : pg + PUN_SLOT;
			uint64_t hi = base + 255 < pg + PAGE - n ? base + 255 : pg + PAGE - n;
			for (uint64_t s = lo; s <= hi; s++) {
				if (bytes_free(p, (unsigned)(s - pg), n)) {
					*at = s;
					return p;
				}
			}
		}
	}
	return NULL;
}

static void routes_take(void)
{
	g_tramp_route[SYS_mprotect] = TRAMP_ROUTE_LIBOS;
	g_tramp_route[SYS_pkey_mprotect] = TRAMP_ROUTE_LIBOS;
	g_tramp_route[SYS_mremap] = TRAMP_ROUTE_LIBOS;
}

void libos_jit_routes_init(void)
{
	/* Their handlers only matter once a site is patched: until then, the kernel's. */
	g_tramp_route[SYS_mprotect] = TRAMP_ROUTE_FAST;
	g_tramp_route[SYS_pkey_mprotect] = TRAMP_ROUTE_FAST;
	g_tramp_route[SYS_mremap] = TRAMP_ROUTE_FAST;
	if (g_nsites)
		routes_take();	/* a fork child re-initialising: keep what we patched */
}

void libos_jit_trap(uint64_t addr)
{
	struct map_line a = { 0 }, b = { 0 };
	uint8_t code[5];
	uint64_t at;

	/* One 16-bit store must switch the site: keep it inside a cache line. */
	if ((addr & 63) == 63 || addr + 5 < addr)
		return;
	pthread_mutex_lock(&g_jit_lock);
	for (unsigned i = 0; i < PUN_NOFIT; i++)
		if (g_nofit[i] == addr)
			goto out;
	if (g_nsites == PUN_SITES || maps_find(addr, addr + 5, &a, &b) || !patchable(&a) ||
	    !patchable(&b) || !(a.prot & PROT_EXEC) || libos_from_guest(code, (void *)addr, 5) ||
	    code[0] != 0x0f || code[1] != 0x05)
		goto nofit;
	uint64_t base = tramp_pun_base(addr, code + 2);
	if (base + 255 + TRAMP_PUN_STUB < base)
		goto nofit;
	struct pun_page *p = place(base, TRAMP_PUN_STUB, &at);
	if (!p)
		goto nofit;

	uint64_t spage = addr & ~(PAGE - 1);
	struct tramp_arena ar = { .base = (uint8_t *)p->addr, .addr = p->addr,
				  .size = PAGE, .used = at - p->addr, .kind = TRAMP_ARENA_LIVE };
	struct tramp_stub_map m;
	if (mprotect((void *)p->addr, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC))
		goto nofit;
	if (mprotect((void *)spage, PAGE, a.prot | PROT_READ | PROT_WRITE)) {
		mprotect((void *)p->addr, PAGE, PROT_READ | PROT_EXEC);
		goto nofit;
	}
	int err = tramp_site_install_pun(&ar, addr, (uint8_t *)addr, &m);
	mprotect((void *)spage, PAGE, a.prot);
	mprotect((void *)p->addr, PAGE, PROT_READ | PROT_EXEC);
	if (err)
		goto nofit;
	bytes_take(p, (unsigned)(at - p->addr), TRAMP_PUN_STUB);
	g_sites[g_nsites++] = (struct pun_site){ addr, at, a.prot, true };
	routes_take();
	__atomic_fetch_add(&g_proc.sites_jit, 1, __ATOMIC_RELAXED);
	goto out;
nofit:
	g_nofit[g_nofit_next] = addr;
	g_nofit_next = (g_nofit_next + 1) % PUN_NOFIT;
out:
	pthread_mutex_unlock(&g_jit_lock);
}

/* Put the syscall back at @s if the jump there is still ours. */
static void site_restore(const struct pun_site *s)
{
	uint8_t *code = (uint8_t *)s->site, now[5];

	/* Read as guest memory: a protection key may have made it unreadable meanwhile. */
	if (libos_from_guest(now, code, sizeof(now)) || now[0] != 0xe9 ||
	    tramp_pun_base(s->site, now + 2) + now[1] != s->stub)
		return;	/* rewritten or zeroed (MADV_DONTNEED) meanwhile: not ours */
	uint64_t spage = s->site & ~(PAGE - 1);
	if (libos_raw(SYS_mprotect, (long)spage, PAGE, s->prot | PROT_READ | PROT_WRITE, 0, 0,
		      0))
		return;
	__atomic_store_n((uint16_t *)code, (uint16_t)0x050f, __ATOMIC_RELEASE);
	libos_raw(SYS_mprotect, (long)spage, PAGE, s->prot, 0, 0, 0);
}

/* Light path (mprotect, munmap, mmap): integer code and raw syscalls only. */
void libos_jit_forget(uint64_t addr, uint64_t len, bool gone)
{
	uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;

	if (!__atomic_load_n(&g_nsites, __ATOMIC_RELAXED) && !g_nofit[0])
		return;
	pthread_mutex_lock(&g_jit_lock);
	for (unsigned i = 0; i < PUN_NOFIT; i++)
		g_nofit[i] = 0;		/* mappings change: worth another look */
	g_nofit_next = 0;
	for (unsigned i = 0; i < g_nsites; i++) {
		struct pun_site *s = &g_sites[i];
		if (!s->live || s->site + 5 <= addr || s->site >= end)
			continue;
		/* Its bytes stay where they are unless @gone takes the syscall itself. */
		if (!gone || s->site + 2 <= addr || s->site >= end)
			site_restore(s);
		s->live = false;
	}
	pthread_mutex_unlock(&g_jit_lock);
}

int libos_jit_stub_site(uint64_t ret, uint64_t *site)
{
	int err = -ENOENT;

	pthread_mutex_lock(&g_jit_lock);
	for (unsigned i = 0; i < g_nsites; i++)
		if (g_sites[i].stub + 11 == ret) {	/* lea 5 + call 6 */
			*site = g_sites[i].site;
			err = 0;
			break;
		}
	pthread_mutex_unlock(&g_jit_lock);
	return err;
}
