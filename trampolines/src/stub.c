// SPDX-License-Identifier: MIT
/* Per-site stubs: the code a patched site jumps to.  A stub replays the displaced
 * instructions around the `syscall`, steps over the red zone, calls the gate through its
 * arena's entry slot (an IMAGE arena's stub issues the syscall inline until a LibOS has
 * written its slot), and jumps back behind the patch.  Each stub is described row by row
 * (struct tramp_stub_map) for the unwind info bypass-rewrite writes. */
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

/* A row of the stub's map: from here on, the state before the original instruction at
 * @orig, with %rsp @below bytes lower. */
static void map_row(struct tramp_stub_map *m, size_t off, uint64_t orig, unsigned below)
{
	if (m->n && m->row[m->n - 1].off == off)
		m->n--;		/* an empty row: replaced */
	if (m->n && m->row[m->n - 1].orig == orig && m->row[m->n - 1].below == below)
		return;		/* nothing changes */
	if (m->n < TRAMP_STUB_ROWS)
		m->row[m->n++] = (struct tramp_stub_row){ orig, (uint16_t)off, (uint16_t)below };
}

/* Append the relocated copies of the whole instructions in orig[from, to) of @s, leaving
 * 40 bytes for what follows them (the most: the jump back and an IMAGE stub's tail). */
static int emit_moved(const struct rewrite_site *s, unsigned from, unsigned to,
		      uint8_t *buf, size_t *n, uint64_t stub, struct tramp_stub_map *m)
{
	while (from < to) {
		int len = rewrite_insn_length(s->orig + from, to - from);
		if (len <= 0)
			return -EINVAL;
		map_row(m, *n, s->start + from, 0);
		int r = rewrite_insn_relocate(s->orig + from, len, s->start + from,
					      stub + *n, buf + *n, STUB_MAX - 40 - *n);
		if (r < 0)
			return r;
		*n += r;
		from += len;
	}
	return 0;
}

/* An IMAGE arena's stub stands in for the `syscall` in two pieces: a head in place of
 * it, which issues it inline while the slot says no LibOS is there, and a tail behind the
 * jump back, which calls the LibOS's entry.  Natively the stub then takes no branch of
 * its own: the jump to it and the jump back are all the site costs.  @hold keeps where
 * the head's jrcxz (to be aimed at the tail) and the code after the syscall are. */
struct image_hold {
	size_t jrcxz, post;
};

/* The head (10 bytes). */
static int emit_head_image(uint8_t *buf, size_t *n, uint64_t stub, uint64_t slot,
			   uint64_t site, struct tramp_stub_map *m, struct image_hold *h)
{
	uint8_t *p = buf + *n;
	int64_t d = (int64_t)(slot + TRAMP_IMAGE_SLOT_FLAG) - (int64_t)(stub + *n + 6);

	if (!rel32_fits(d))
		return -ERANGE;
	map_row(m, *n, site, 0);
	/* 8b 0d rel32           mov flag(%rip),%ecx    the slot's flag dword, nonzero in the
	 *                                              file (rcx is the syscall's anyway) */
	p[0] = 0x8b; p[1] = 0x0d; put32(p + 2, (int32_t)d);
	/* e3 rel8               jrcxz tail             0: a LibOS is there (flags kept) */
	p[6] = 0xe3; p[7] = 0;
	/* 0f 05                 syscall                natively, at the program's own %rsp */
	p[8] = 0x0f; p[9] = 0x05;
	h->jrcxz = *n + 7;
	*n += 10;
	h->post = *n;
	return 0;
}

/* The tail (24 bytes), after the jump back: the call to the LibOS's entry, then on with
 * the code after the syscall. */
static int emit_tail_image(uint8_t *buf, size_t *n, uint64_t stub, uint64_t slot,
			   uint64_t site, struct tramp_stub_map *m, const struct image_hold *h)
{
	uint8_t *p = buf + *n;
	int64_t to_tail = (int64_t)*n - (int64_t)(h->jrcxz + 1);
	int64_t d = (int64_t)(slot + TRAMP_IMAGE_SLOT_ENTRY) - (int64_t)(stub + *n + 11);
	int64_t back = (int64_t)h->post - (int64_t)(*n + 24);

	if (to_tail > 127 || !rel32_fits(d))
		return -ERANGE;
	buf[h->jrcxz] = (uint8_t)to_tail;
	map_row(m, *n, site, 0);
	/* 48 8d 64 24 80        lea -0x80(%rsp),%rsp   step over the red zone */
	p[0] = 0x48; p[1] = 0x8d; p[2] = 0x64; p[3] = 0x24; p[4] = 0x80;
	map_row(m, *n + 5, site, TRAMP_RED_ZONE);
	/* ff 15 rel32           call *entry(%rip)      the LibOS's entry, from the slot */
	p[5] = 0xff; p[6] = 0x15; put32(p + 7, (int32_t)d);
	/* 48 8d a4 24 80 00 00 00  lea 0x80(%rsp),%rsp  back (lea keeps the flags) */
	p[11] = 0x48; p[12] = 0x8d; p[13] = 0xa4; p[14] = 0x24;
	p[15] = 0x80; p[16] = 0x00; p[17] = 0x00; p[18] = 0x00;
	map_row(m, *n + 19, site, 0);
	/* e9 rel32              jmp post               the code after the inline syscall */
	p[19] = 0xe9; put32(p + 20, (int32_t)back);
	*n += 24;
	return 0;
}

/* The call sequence that stands in for the `syscall` (19 bytes; an IMAGE arena's head). */
static int emit_call(uint8_t *buf, size_t *n, uint64_t stub, uint64_t slot, int kind,
		     uint64_t site, struct tramp_stub_map *m, struct image_hold *h)
{
	if (kind == TRAMP_ARENA_IMAGE)
		return emit_head_image(buf, n, stub, slot, site, m, h);

	uint8_t *p = buf + *n;
	int64_t d = (int64_t)slot - (int64_t)(stub + *n + 5 + 6);

	if (!rel32_fits(d))
		return -ERANGE;
	map_row(m, *n, site, 0);
	/* 48 8d 64 24 80        lea -0x80(%rsp),%rsp   step over the red zone */
	p[0] = 0x48; p[1] = 0x8d; p[2] = 0x64; p[3] = 0x24; p[4] = 0x80;
	map_row(m, *n + 5, site, TRAMP_RED_ZONE);
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
	struct tramp_stub_map m;

	return tramp_site_install_map(a, s, code, code_addr, code_len, &m);
}

int tramp_site_install_map(struct tramp_arena *a, const struct rewrite_site *s,
			   uint8_t *code, uint64_t code_addr, size_t code_len,
			   struct tramp_stub_map *map)
{
	struct tramp_stub_map m = { .addr = a->addr + a->used };
	struct image_hold h = { 0 };
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
		if ((err = emit_moved(s, 0, s->sys_off, buf, &n, stub, &m)) ||
		    (err = emit_call(buf, &n, stub, slot, a->kind, s->addr, &m, &h)) ||
		    (err = emit_moved(s, s->sys_off + 2, s->len, buf, &n, stub, &m)))
			return err;
		jump_from = s->start;
		resume = s->start + s->len;
	} else {
		if (s->island < code_addr || s->island + 5 > code_addr + code_len)
			return -EINVAL;
		int64_t d8 = (int64_t)s->island - (int64_t)(s->addr + 2);
		if (d8 < -128 || d8 > 127)
			return -ERANGE;
		if ((err = emit_call(buf, &n, stub, slot, a->kind, s->addr, &m, &h)))
			return err;
		jump_from = s->island;
		resume = s->addr + 2;
	}
	map_row(&m, n, resume, 0);
	if ((err = emit_jmp(buf, &n, stub, resume)))
		return err;
	if (a->kind == TRAMP_ARENA_IMAGE &&
	    (err = emit_tail_image(buf, &n, stub, slot, s->addr, &m, &h)))
		return err;

	int64_t d = (int64_t)stub - (int64_t)(jump_from + 5);
	if (!rel32_fits(d))
		return -ERANGE;
	memcpy(a->base + a->used, buf, n);
	a->used = (a->used + n + 15) & ~(size_t)15;
	m.size = (uint32_t)n;
	*map = m;

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

uint64_t tramp_pun_base(uint64_t site, const uint8_t next[3])
{
	uint32_t hi = (uint32_t)next[0] << 8 | (uint32_t)next[1] << 16 | (uint32_t)next[2] << 24;

	return site + 5 + (uint64_t)(int64_t)(int32_t)hi;
}

int tramp_site_install_pun(struct tramp_arena *a, uint64_t site, uint8_t *code,
			   struct tramp_stub_map *map)
{
	struct tramp_stub_map m = { .addr = a->addr + a->used };
	struct image_hold h = { 0 };
	uint8_t buf[STUB_MAX];
	size_t n = 0;
	uint64_t stub = a->addr + a->used, base = tramp_pun_base(site, code + 2);
	int err;

	if (code[0] != 0x0f || code[1] != 0x05)
		return -EINVAL;
	if (stub < base || stub - base > 255)
		return -ERANGE;
	if (a->used + TRAMP_PUN_STUB > a->size)
		return -ENOSPC;
	if ((err = emit_call(buf, &n, stub, a->addr, TRAMP_ARENA_LIVE, site, &m, &h)))
		return err;
	map_row(&m, n, site + 2, 0);
	if ((err = emit_jmp(buf, &n, stub, site + 2)))
		return err;
	memcpy(a->base + a->used, buf, n);
	a->used += n;
	m.size = (uint32_t)n;
	*map = m;

	uint8_t jmp[2] = { 0xe9, (uint8_t)(stub - base) };	/* e9 XX [next 3 bytes] */
	uint16_t v;
	memcpy(&v, jmp, 2);
	__atomic_store_n((uint16_t *)code, v, __ATOMIC_RELEASE);
	return 0;
}
