// SPDX-License-Identifier: MIT
/* Per-site stubs: the code a patched site jumps to.  A stub replays the displaced
 * instructions around the `syscall`, steps over the red zone, calls the gate through its
 * arena's entry slot (an IMAGE arena's slot is code, called directly), and jumps back
 * behind the patch. */
#include <errno.h>
#include <string.h>

#include <trampolines/tramp.h>

#define STUB_MAX TRAMP_STUB_MAX

static int rel32_fits(int64_t d)
{
	return d >= INT32_MIN && d <= INT32_MAX;
}

static void put32(uint8_t *p, int32_t v)
{
	memcpy(p, &v, 4);
}

/* Append the relocated copies of the whole instructions in orig[from, to) of @s. */
static int emit_moved(const struct rewrite_site *s, unsigned from, unsigned to,
		      uint8_t *buf, size_t *n, uint64_t stub)
{
	while (from < to) {
		int len = rewrite_insn_length(s->orig + from, to - from);
		if (len <= 0)
			return -EINVAL;
		int r = rewrite_insn_relocate(s->orig + from, len, s->start + from,
					      stub + *n, buf + *n, STUB_MAX - 16 - *n);
		if (r < 0)
			return r;
		*n += r;
		from += len;
	}
	return 0;
}

/* The call sequence of an IMAGE arena's stub (22 bytes): the slot is code, called
 * directly; behind the call, the raw `syscall` the native entry resumes at (R + 10). */
static int emit_call_image(uint8_t *buf, size_t *n, uint64_t stub, uint64_t slot)
{
	uint8_t *p = buf + *n;
	int64_t d = (int64_t)slot - (int64_t)(stub + *n + 5 + 5);

	if (!rel32_fits(d))
		return -ERANGE;
	/* 48 8d 64 24 80        lea -0x80(%rsp),%rsp   step over the red zone */
	p[0] = 0x48; p[1] = 0x8d; p[2] = 0x64; p[3] = 0x24; p[4] = 0x80;
	/* e8 rel32              call slot              native entry or the LibOS's gate */
	p[5] = 0xe8; put32(p + 6, (int32_t)d);
	/* 48 8d a4 24 80 00 00 00  lea 0x80(%rsp),%rsp  R: back (lea keeps the flags) */
	p[10] = 0x48; p[11] = 0x8d; p[12] = 0xa4; p[13] = 0x24;
	p[14] = 0x80; p[15] = 0x00; p[16] = 0x00; p[17] = 0x00;
	/* eb 02                 jmp R + 12             over the raw syscall */
	p[18] = 0xeb; p[19] = 0x02;
	/* 0f 05                 syscall                R + 10: at the program's own %rsp */
	p[20] = 0x0f; p[21] = 0x05;
	*n += 22;
	return 0;
}

/* The call sequence that stands in for the `syscall` (19 bytes). */
static int emit_call(uint8_t *buf, size_t *n, uint64_t stub, uint64_t slot, int kind)
{
	if (kind == TRAMP_ARENA_IMAGE)
		return emit_call_image(buf, n, stub, slot);

	uint8_t *p = buf + *n;
	int64_t d = (int64_t)slot - (int64_t)(stub + *n + 5 + 6);

	if (!rel32_fits(d))
		return -ERANGE;
	/* 48 8d 64 24 80        lea -0x80(%rsp),%rsp   step over the red zone */
	p[0] = 0x48; p[1] = 0x8d; p[2] = 0x64; p[3] = 0x24; p[4] = 0x80;
	/* ff 15 rel32           call *slot(%rip)       the gate entry (6 bytes) */
	p[5] = 0xff; p[6] = 0x15; put32(p + 7, (int32_t)d);
	/* 48 8d a4 24 80 00 00 00  lea 0x80(%rsp),%rsp  back (lea keeps the flags) */
	p[11] = 0x48; p[12] = 0x8d; p[13] = 0xa4; p[14] = 0x24;
	p[15] = 0x80; p[16] = 0x00; p[17] = 0x00; p[18] = 0x00;
	*n += 19;
	return 0;
}

static int emit_jmp(uint8_t *buf, size_t *n, uint64_t stub, uint64_t to)
{
	int64_t d = (int64_t)to - (int64_t)(stub + *n + 5);

	if (!rel32_fits(d))
		return -ERANGE;
	buf[*n] = 0xe9;		/* e9 rel32   jmp back behind the patch */
	put32(buf + *n + 1, (int32_t)d);
	*n += 5;
	return 0;
}

int tramp_site_install(struct tramp_arena *a, const struct rewrite_site *s,
		       uint8_t *code, uint64_t code_addr, size_t code_len)
{
	uint8_t buf[STUB_MAX];
	size_t n = 0;
	uint64_t stub = a->addr + a->used;
	uint64_t slot = a->addr;
	uint64_t jump_from, resume;
	int err;

	if (s->tactic != REWRITE_DISPLACE && s->tactic != REWRITE_ISLAND)
		return 0;
	if (s->start < code_addr || s->start + s->len > code_addr + code_len || s->len < 2 ||
	    s->len > REWRITE_MAX_WINDOW || s->sys_off + 2 > s->len)
		return -EINVAL;
	if (a->used + STUB_MAX > a->size)
		return -ENOSPC;

	if (s->tactic == REWRITE_DISPLACE) {
		if (s->len < 5)
			return -EINVAL;
		if ((err = emit_moved(s, 0, s->sys_off, buf, &n, stub)) ||
		    (err = emit_call(buf, &n, stub, slot, a->kind)) ||
		    (err = emit_moved(s, s->sys_off + 2, s->len, buf, &n, stub)))
			return err;
		jump_from = s->start;
		resume = s->start + s->len;
	} else {
		if (s->island < code_addr || s->island + 5 > code_addr + code_len)
			return -EINVAL;
		int64_t d8 = (int64_t)s->island - (int64_t)(s->addr + 2);
		if (d8 < -128 || d8 > 127)
			return -ERANGE;
		if ((err = emit_call(buf, &n, stub, slot, a->kind)))
			return err;
		jump_from = s->island;
		resume = s->addr + 2;
	}
	if ((err = emit_jmp(buf, &n, stub, resume)))
		return err;

	int64_t d = (int64_t)stub - (int64_t)(jump_from + 5);
	if (!rel32_fits(d))
		return -ERANGE;
	memcpy(a->base + a->used, buf, n);
	a->used = (a->used + n + 15) & ~(size_t)15;

	/* Write the patch: the stub is complete, then the jump to it.  An island site is
	 * switched last by one 16-bit store over exactly the syscall, so it can be done while
	 * other threads run (the caller keeps it inside one cache line): they execute either
	 * the old syscall, which traps, or the new jump. */
	uint8_t *at = code + (jump_from - code_addr);
	at[0] = 0xe9;				/* e9 rel32   jmp stub */
	put32(at + 1, (int32_t)d);
	if (s->tactic == REWRITE_DISPLACE) {
		memset(at + 5, 0xcc, s->len - 5);	/* int3: nothing may land here */
	} else {
		uint8_t jmp8[2] = {
			0xeb,				/* eb rel8    jmp island */
			(uint8_t)(int8_t)((int64_t)s->island - (int64_t)(s->addr + 2)),
		};
		uint16_t v;
		memcpy(&v, jmp8, 2);
		__atomic_store_n((uint16_t *)(code + (s->addr - code_addr)), v, __ATOMIC_RELEASE);
	}
	return 0;
}
