/* SPDX-License-Identifier: MIT */
/* trampolines: the gate (the only code whose `syscall`s Syscall User Dispatch lets
 * through), the world switch between guest and host, and the per-site stub generator. */
#ifndef TRAMPOLINES_TRAMP_H
#define TRAMPOLINES_TRAMP_H

/* Offsets into struct tramp_tls, shared with gate.S (checked by static asserts). */
#define TRAMP_TLS_SELF		0
#define TRAMP_TLS_HOST_RSP	8
#define TRAMP_TLS_HOST_FS	16
#define TRAMP_TLS_FRAME		24
#define TRAMP_TLS_RET		32
#define TRAMP_TLS_SCRATCH	40
#define TRAMP_TLS_XSAVE		48
#define TRAMP_TLS_COUNTS	56
#define TRAMP_TLS_NFAST		64
#define TRAMP_TLS_NLIBOS	72
#define TRAMP_TLS_NTRAP		80
#define TRAMP_TLS_SELECTOR	88
#define TRAMP_TLS_IN_HOST	89
#define TRAMP_TLS_PENDING	90
#define TRAMP_TLS_XSAVED	91
#define TRAMP_TLS_HOLD		92
#define TRAMP_TLS_VSAVE		96

/* tramp_tls.xsaved: where the guest's extended state is while host code runs. */
#define TRAMP_XS_LIVE		0	/* still in the registers (nothing saved) */
#define TRAMP_XS_XSAVE		1	/* in tls.xsave (XSAVEOPT; the exit runs XRSTOR) */
#define TRAMP_XS_REGS		2	/* its vector registers and MXCSR in tls.vsave */

/* g_tramp_vkind: which registers tramp_vectors_save_regs() stores (TRAMP_VK_NONE: it
 * falls back to the full XSAVE). */
#define TRAMP_VK_NONE		0
#define TRAMP_VK_YMM		1	/* AVX: ymm0-15 */
#define TRAMP_VK_ZMM		2	/* AVX-512 F+BW: zmm0-31, k0-7 */
/* Layout of tls.vsave: registers from 0 (32 or 64 bytes each), k0-7 at
 * TRAMP_VSAVE_K, MXCSR at TRAMP_VSAVE_MXCSR. */
#define TRAMP_VSAVE_K		2048
#define TRAMP_VSAVE_MXCSR	2112
#define TRAMP_VSAVE_SIZE	2176	/* multiple of 64 */

/* SUD selector values (linux/prctl.h SYSCALL_DISPATCH_FILTER_*). */
#define TRAMP_SEL_ALLOW		0
#define TRAMP_SEL_BLOCK		1

/* Offsets into struct tramp_regs. */
#define TRAMP_REGS_R15		0
#define TRAMP_REGS_R14		8
#define TRAMP_REGS_R13		16
#define TRAMP_REGS_R12		24
#define TRAMP_REGS_R11		32
#define TRAMP_REGS_R10		40
#define TRAMP_REGS_R9		48
#define TRAMP_REGS_R8		56
#define TRAMP_REGS_RDI		64
#define TRAMP_REGS_RSI		72
#define TRAMP_REGS_RBP		80
#define TRAMP_REGS_RBX		88
#define TRAMP_REGS_RDX		96
#define TRAMP_REGS_RCX		104
#define TRAMP_REGS_RAX		112
#define TRAMP_REGS_RIP		120
#define TRAMP_REGS_RFLAGS	128
#define TRAMP_REGS_RSP		136
#define TRAMP_REGS_FS		144
#define TRAMP_REGS_NR		152
#define TRAMP_REGS_SIZE		160	/* multiple of 16 */

#define TRAMP_ROUTES		65536	/* syscall numbers the route table covers */
#define TRAMP_FDMAP		65536	/* fd numbers route 4 looks up */

/* While tls.hold is set, a call the route sends to the kernel goes to the LibOS instead,
 * unless it never waits on another party (so what the LibOS holds cannot be what it
 * waits for): per number, 0 = it may wait, 1 = it never waits, 2 = it never waits when
 * rdx has O_NONBLOCK (openat: a FIFO). */
#define TRAMP_NOWAIT_NO		0
#define TRAMP_NOWAIT_YES	1
#define TRAMP_NOWAIT_NONBLOCK_RDX	2

/* A stub steps this far below the guest's %rsp before calling the gate, so
 * struct tramp_regs.rsp is the guest's %rsp at the site minus TRAMP_RED_ZONE. */
#define TRAMP_RED_ZONE		128

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

#include <rewrite/rewrite.h>

/* Per-thread block every guest thread's GS base points at.  Stubs and the gate reach
 * it with %gs: addressing; the LibOS embeds it first in its thread struct. */
struct tramp_tls {
	struct tramp_tls *self;
	uint64_t host_rsp;	/* top of the host stack used by the world switch */
	uint64_t host_fs;	/* host FS base (glibc TLS of the twin thread) */
	uint64_t frame;		/* struct tramp_regs * of the current world switch */
	uint64_t ret;		/* guest resume address (exit path scratch) */
	uint64_t scratch;
	uint64_t xsave;		/* 64-byte aligned XSAVE area for the guest's extended state */
	uint64_t *counts;	/* per-number call counts (TRAMP_ROUTES), NULL without stats */
	uint64_t nfast, nlibos, ntrap;
	volatile uint8_t selector;	/* SUD selector byte */
	volatile uint8_t in_host;	/* 1 while host code runs for this thread */
	volatile uint8_t pending;	/* a signal was deferred: deliver on exit */
	uint8_t xsaved;			/* TRAMP_XS_*: where the guest's vector state is */
	/* The LibOS holds work of this thread's that must be done before any call of its
	 * reaches the kernel (frames queued for the wire): while set, the fast path sends
	 * every call to the LibOS. */
	uint8_t hold;
	uint8_t pad[3];
	uint64_t vsave;		/* 64-byte aligned TRAMP_VSAVE_SIZE bytes for TRAMP_XS_REGS */
};

/* Guest registers saved by a world switch (and rebuilt from a signal context). */
struct tramp_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t rip;		/* where the guest resumes */
	uint64_t rflags;
	uint64_t rsp;		/* %rsp at the resume point: the site's - TRAMP_RED_ZONE */
	uint64_t fs;		/* guest FS base */
	uint64_t nr;		/* syscall number as issued */
};

/* The gate: [tramp_gate_begin, tramp_gate_end) is SUD's exempt range. */
extern const char tramp_gate_begin[], tramp_gate_end[];
/* [tramp_host_begin, tramp_host_end): gate code that runs in the host world. */
extern const char tramp_host_begin[], tramp_host_end[];
/* The restartable exit window of the world switch. */
extern const char tramp_exit_begin[], tramp_exit_end[];

/* Per-number route: 0 = the stub issues the syscall itself (fast path), 1 = the LibOS,
 * 2/3 = fast unless the path in rdi/rsi starts with "/proc/" (the LibOS's then),
 * 4 = fast unless rdi is an fd below TRAMP_FDMAP whose g_tramp_fdmap byte is set. */
#define TRAMP_ROUTE_FAST	0
#define TRAMP_ROUTE_LIBOS	1
#define TRAMP_ROUTE_PATH_RDI	2
#define TRAMP_ROUTE_PATH_RSI	3
#define TRAMP_ROUTE_FD_RDI	4
/* The gate's path probe: a fault on its load resumes at tramp_probe_fault. */
extern const char tramp_probe_begin[], tramp_probe_fault[];
extern uint8_t g_tramp_route[TRAMP_ROUTES];
extern uint8_t g_tramp_fdmap[TRAMP_FDMAP];
extern uint8_t g_tramp_nowait[TRAMP_ROUTES];	/* TRAMP_NOWAIT_* */
extern uint8_t g_tramp_nowait[TRAMP_ROUTES];
/* XSAVE feature mask and area size for the world switch (set by tramp_init). */
extern uint64_t g_tramp_xmask;
extern uint32_t g_tramp_xsize;
/* TRAMP_VK_*: what tramp_vectors_save_regs() can save on this CPU (set by tramp_init). */
extern uint32_t g_tramp_vkind;

/* Entries a stub calls through its arena's slot: without and with call counting. */
void tramp_entry(void);
void tramp_entry_stats(void);
/* The C side of the world switch, provided by the LibOS: serves regs->nr, leaves the
 * result in regs->rax.  May edit regs (signal delivery, restart, clone children). */
void libos_dispatch(struct tramp_regs *regs);
/* Provided by the LibOS: deliver deferred signals before returning to the guest. */
void libos_signal_flush(struct tramp_regs *regs);
/* The host signal handler entry (sa_sigaction of every real handler) and the
 * restorer that lives inside the gate.  They call libos_signal_handle(). */
void tramp_signal_entry(int sig, void *info, void *uc);
void tramp_restorer(void);
/* In the LibOS: @fs is the FS base the signal interrupted. */
void libos_signal_handle(int sig, void *info, void *uc, uint64_t fs);

/* Save the guest's vector state (once per world switch): host code that may use a
 * vector register (glibc's string functions, anything compiled with SSE) must call this
 * first.  The LibOS's light handlers are built with -mgeneral-regs-only and do not. */
void tramp_vectors_save(void);
/* The cheap variant (~15 ns instead of XSAVEOPT + XRSTOR's ~150 ns): store only the
 * vector registers (xmm/ymm/zmm, k0-7 as the CPU has them) and MXCSR with plain moves.
 * Only for host paths that run no x87/MMX instruction and change no other XSAVE
 * component (PKRU, AMX...): our own code (built without x87 use), DPDK's packet path,
 * glibc's string and thread functions.  A later tramp_vectors_save() on the same world
 * switch puts the guest's registers back and takes the full save, so heavy code can
 * still be reached from such a path.  Falls back to tramp_vectors_save() on a CPU
 * without AVX (g_tramp_vkind == TRAMP_VK_NONE). */
void tramp_vectors_save_regs(void);
/* Enter (or re-enter) the guest with the state in tls->frame and, if tls->xsaved,
 * tls->xsave, as the world switch's exit does; %gs must point at @tls.  Never returns. */
__attribute__((noreturn)) void tramp_resume(struct tramp_tls *tls);
/* rt_sigreturn with %rsp = @uc (a kernel ucontext) and FS base @fs.  Never returns. */
__attribute__((noreturn)) void tramp_sigreturn(void *uc, uint64_t fs);
/* Resume point for a syscall caught by SUD: [rsp] holds the guest's return address
 * 136 bytes below its %rsp; runs the call like a stub, then returns there. */
void tramp_trap_resume(void);
/* The `ret` right after the fast path's `syscall`, in each entry. */
extern const char tramp_fast_ret[], tramp_stats_ret[];
/* Where a call resumed by tramp_trap_resume returns to (its saved regs->rip). */
extern const char tramp_trap_resume_ret[];

/* Make @r resume with the guest's %rsp at the site equal to @stack (a clone child's
 * new stack), for both resume paths: a stub's, and tramp_trap_resume's, which pops the
 * guest's return address from the stack. */
static inline void tramp_regs_set_stack(struct tramp_regs *r, uint64_t stack)
{
	if (r->rip == (uint64_t)tramp_trap_resume_ret) {
		uint64_t ret = *(const uint64_t *)r->rsp;
		*(uint64_t *)(stack - TRAMP_RED_ZONE - 8) = ret;
		r->rsp = stack - TRAMP_RED_ZONE - 8;
	} else {
		r->rsp = stack - TRAMP_RED_ZONE;
	}
}
/* Raw syscall issued from inside the gate (allowed whatever the selector says). */
long tramp_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
/* clone for vfork-style children: the child starts with %rsp = @child_sp, sets GS to
 * @child_tls and calls libos_vfork_child(@child_tls).  Returns the raw result. */
long tramp_clone_vm(unsigned long flags, void *child_sp, struct tramp_tls *child_tls);
__attribute__((noreturn)) void libos_vfork_child(struct tramp_tls *tls);

/* Read guest memory from host code: a bad address gives -EFAULT instead of a crash
 * (the LibOS's SIGSEGV handler resumes a fault in [tramp_uaccess_begin,
 * tramp_uaccess_end) at tramp_uaccess_fault). */
long tramp_copy_guest(void *dst, const void *src, size_t n);
long tramp_strnlen_guest(const char *s, size_t max);
extern const char tramp_uaccess_begin[], tramp_uaccess_end[], tramp_uaccess_fault[];

/* Detect CPU support (FSGSBASE usable, XSAVE) and size the XSAVE area.
 * Returns 0 or -ENOTSUP with *why set. */
int tramp_init(const char **why);

/* What a stub calls and how (see struct tramp_arena). */
enum tramp_arena_kind {
	TRAMP_ARENA_LIVE = 0,	/* mapped in this process: `call *slot(%rip)`, slot = address */
	TRAMP_ARENA_IMAGE = 1,	/* part of an ELF file (bypass-rewrite): inline syscall, or
				 * `call *entry(%rip)` once a LibOS wrote the slot */
};

/* A block of stubs within +-2 GiB of the code it serves.
 * LIVE arenas (tramp_arena_create*) are mappings of this process: base == addr, and the
 * first 8 bytes hold the entry address every stub calls through.
 * IMAGE arenas (tramp_arena_init_image) are a buffer that becomes part of a file and runs
 * at @addr: stubs read the slot rip-relative and issue the syscall themselves until a
 * LibOS writes it (TRAMP_IMAGE_SLOT), so nothing in the arena needs a load-time
 * relocation (static-pie, shared libraries). */
struct tramp_arena {
	uint8_t *base;		/* writable view: [slot][stubs...] */
	size_t size, used;
	uint64_t addr;		/* run-time address of base[0] */
	int kind;		/* enum tramp_arena_kind */
};

/* Map an arena of @size bytes inside [lo, hi) (both page-aligned; the range may be a
 * PROT_NONE reservation, which is replaced).  Returns 0 or -errno. */
int tramp_arena_create(struct tramp_arena *a, uintptr_t lo, uintptr_t hi, size_t size);
/* Map an arena of @size bytes anywhere every rel32 from [lo, hi) reaches.
 * Returns 0 or -ENOMEM. */
int tramp_arena_create_near(struct tramp_arena *a, uintptr_t lo, uintptr_t hi, size_t size);
/* Unmap an arena made by tramp_arena_create_near. */
void tramp_arena_destroy(struct tramp_arena *a);
/* Make the arena read+exec (after all stubs are written). */
int tramp_arena_seal(struct tramp_arena *a);
/* Point every stub of the arena at @entry (tramp_entry or tramp_entry_stats). */
void tramp_arena_set_entry(struct tramp_arena *a, void (*entry)(void));

/* Most bytes one stub takes (tramp_site_install wants this much room left). */
#define TRAMP_STUB_MAX		192

/* Emit the stub for @site into @a and write the patch into @code, the writable view of
 * the code at run-time address @code_addr (length @code_len).  TRAP sites are skipped.
 * Stubs of an IMAGE arena are 15 bytes longer: they choose between their own inline
 * `syscall` and the LibOS's entry (see TRAMP_IMAGE_SLOT).
 * Returns 0, -ENOSPC (arena full), -ERANGE (stub out of reach) or -EINVAL. */
int tramp_site_install(struct tramp_arena *a, const struct rewrite_site *site,
		       uint8_t *code, uint64_t code_addr, size_t code_len);

/* Where a stub's bytes stand in its site's code, for unwind info (bypass-rewrite writes
 * CFI for its stubs from this): from stub offset @off up to the next row's, the program's
 * state is the one before the original instruction at @orig, with %rsp @below bytes
 * lower (the stub's step over the red zone and its call). */
struct tramp_stub_row {
	uint64_t orig;
	uint16_t off;
	uint16_t below;
};
#define TRAMP_STUB_ROWS		(REWRITE_MAX_WINDOW + 8)
struct tramp_stub_map {
	uint64_t addr;		/* run-time address of the stub */
	uint32_t size;		/* its bytes, without the alignment fill */
	unsigned n;		/* rows, by ascending @off; row[0].off == 0 */
	struct tramp_stub_row row[TRAMP_STUB_ROWS];
};

/* tramp_site_install that also describes the stub it wrote in *@map (untouched when no
 * stub was written: TRAP sites, errors). */
int tramp_site_install_map(struct tramp_arena *a, const struct rewrite_site *site,
			   uint8_t *code, uint64_t code_addr, size_t code_len,
			   struct tramp_stub_map *map);

/* A punned jump (lazy patching of code nobody can plan: JIT code).  The 2-byte `syscall`
 * at @site becomes `e9 XX`: a jmp rel32 whose low displacement byte XX is ours and whose
 * other three are the next instruction's bytes, left as they are.  Nothing but the
 * syscall's own bytes changes, so a branch to the next instruction, or code reading it,
 * sees what it saw; the jump lands somewhere in a 256-byte window fixed by those bytes
 * (tramp_pun_base), where the caller has room for the stub.  @a->addr + @a->used is that
 * place; the stub calls through the slot at @a->addr and returns to @site + 2.  @code is
 * the writable view of @site (2 bytes; the next 3 are read), switched by one 16-bit
 * store, so other threads run either the old syscall (which traps) or the jump.
 * Returns 0, -ERANGE (the place is not in the window, or the slot out of reach),
 * -ENOSPC or -EINVAL (@code does not hold 0f 05). */
int tramp_site_install_pun(struct tramp_arena *a, uint64_t site, uint8_t *code,
			   struct tramp_stub_map *map);
/* The first of the 256 places a punned jump at @site can reach, given @next, the 3 bytes
 * after the syscall. */
uint64_t tramp_pun_base(uint64_t site, const uint8_t next[3]);
/* Bytes a punned stub takes. */
#define TRAMP_PUN_STUB		24

/* Image arenas (offline rewriting).  The 64-byte header of an IMAGE arena is int3 in the
 * file; its first 16 bytes are the slot (TRAMP_IMAGE_SLOT), which every stub reads:
 *   +2  TRAMP_IMAGE_SLOT_FLAG, a dword: nonzero (int3s) in the file;
 *   +6  TRAMP_IMAGE_SLOT_ENTRY, a qword: the LibOS's entry, once it is there.
 * A stub loads the flag into %ecx (rcx is the syscall's to clobber) and, with jrcxz (the
 * flags stay as the program left them):
 *   nonzero (natively, no LibOS): falls through to its own inline `syscall`, at the
 *     program's exact %rsp: no call, no return across the kernel, and rt_sigreturn,
 *     clone, clone3 and vfork see their own stack;
 *   0: jumps to its tail behind the jump back: `lea -0x80(%rsp),%rsp; call *entry(%rip);
 *     lea 0x80(%rsp),%rsp`, so the entry finds exactly the frame a LIVE stub's
 *     `call *slot(%rip)` leaves ([rsp] = the stub's resume address, rsp = the site's
 *     rsp - 136), then goes on with the code after the inline syscall.
 * A LibOS that loads such an image writes tramp_image_slot_encode(tramp_entry) over the
 * slot before the program runs: `ff 25 00 00 00 00` (jmp *0(%rip)) puts the 0 flag at +2
 * and the entry right behind it. */
#define TRAMP_IMAGE_SLOT	0
#define TRAMP_IMAGE_SLOT_SIZE	16
#define TRAMP_IMAGE_SLOT_FLAG	2
#define TRAMP_IMAGE_SLOT_ENTRY	6
#define TRAMP_IMAGE_HDR		64

/* Make @a an IMAGE arena over the caller's buffer @buf (@size bytes, at least
 * TRAMP_IMAGE_HDR) that will run at @addr: fills it with int3 (the slot included).
 * Stubs are appended from TRAMP_IMAGE_HDR (16-byte aligned); a->used is
 * the number of bytes to keep.  Returns 0 or -EINVAL (NULL @buf, @size too small,
 * @addr not 16-byte aligned). */
int tramp_arena_init_image(struct tramp_arena *a, uint8_t *buf, size_t size, uint64_t addr);

/* The slot contents that send an IMAGE arena's stubs to @entry instead of their inline
 * syscall: `jmp *0(%rip)` (its zero displacement is the 0 flag) followed by @entry and
 * int3 fill (TRAMP_IMAGE_SLOT_SIZE bytes written to @slot).  Only @entry is absolute. */
void tramp_image_slot_encode(uint8_t *slot, uint64_t entry);

#endif /* __ASSEMBLER__ */
#endif
