// SPDX-License-Identifier: MIT
/* The output's unwind info: a rebuilt .eh_frame (the input's entries, moved, then one FDE
 * per stub) and .eh_frame_hdr in the added segment, so gdb, libgcc (pthread_cancel,
 * exceptions, backtrace()) and libunwind walk through the stubs natively.
 *
 * A stub's row at each of its instructions is its site's: the row of the original FDE at
 * the original instruction it stands for (struct tramp_stub_map), with the CFA moved by
 * the stub's own step below the red zone.  Stub FDEs carry no personality and no LSDA:
 * the site's own landing pads are not run when unwinding through a stub (the callers'
 * are).  Rows that cannot be restated (an expression CFA while the stub has moved %rsp)
 * are left out of the FDEs: unwinding from there stops, as it did before. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfi.h"
#include "offline_int.h"

#define PE_PCREL_SDATA4		0x1b
#define PE_DATAREL_SDATA4	0x3b
#define PE_UDATA4		0x03

/* A growing byte buffer; oom is sticky. */
struct buf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void put(struct buf *b, const void *v, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, v, n);
	b->len += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put_uleb(struct buf *b, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		put8(b, c | (v ? 0x80 : 0));
	} while (v);
}

static void put_sleb(struct buf *b, int64_t v)
{
	for (;;) {
		uint8_t c = v & 0x7f;
		v >>= 7;	/* arithmetic */
		if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
			put8(b, c);
			return;
		}
		put8(b, c | 0x80);
	}
}

static void set32(struct buf *b, size_t at, uint32_t v)
{
	if (!b->oom)
		memcpy(b->p + at, &v, 4);
}

/* Close the entry (CIE or FDE) whose length field is at @start: pad with DW_CFA_nop to
 * a multiple of 8 bytes, as linkers do, and write its length. */
static void entry_end(struct buf *b, size_t start)
{
	while ((b->len - start) % 8)
		put8(b, 0);
	set32(b, start, (uint32_t)(b->len - start - 4));
}

static int fits32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* Where the input's .eh_frame is: its section, else through PT_GNU_EH_FRAME's header
 * (then it runs up to a zero terminator).  Returns 0 or -ENOENT. */
static int input_find(const struct offline_elf *e, uint64_t *off, uint64_t *addr,
		      uint64_t *size, int *to_zero)
{
	for (unsigned i = 0; e->sh && i < e->shnum; i++) {
		Elf64_Shdr s = offline_elf_shdr(e, i);
		if ((s.sh_type != SHT_PROGBITS && s.sh_type != SHT_X86_64_UNWIND) ||
		    !(s.sh_flags & SHF_ALLOC) || strcmp(offline_elf_shname(e, &s), ".eh_frame") ||
		    s.sh_offset > e->len || s.sh_size > e->len - s.sh_offset)
			continue;
		*off = s.sh_offset;
		*addr = s.sh_addr;
		*size = s.sh_size;
		*to_zero = 0;
		return 0;
	}
	for (unsigned i = 0; i < e->phnum; i++) {
		Elf64_Phdr p = offline_elf_phdr(e, i);
		if (p.p_type != PT_GNU_EH_FRAME || p.p_filesz < 8 || p.p_offset > e->len ||
		    p.p_filesz > e->len - p.p_offset)
			continue;
		const uint8_t *h = e->b + p.p_offset;
		int32_t rel;
		if (h[0] != 1 || h[1] != PE_PCREL_SDATA4)
			return -ENOENT;
		memcpy(&rel, h + 4, 4);
		uint64_t at = p.p_vaddr + 4 + (int64_t)rel;
		for (unsigned k = 0; k < e->phnum; k++) {
			Elf64_Phdr l = offline_elf_phdr(e, k);
			if (l.p_type == PT_LOAD && at >= l.p_vaddr && at < l.p_vaddr + l.p_filesz) {
				*off = l.p_offset + (at - l.p_vaddr);
				*addr = at;
				*size = l.p_filesz - (at - l.p_vaddr);
				*to_zero = 1;
				return 0;
			}
		}
	}
	return -ENOENT;
}

/* Move the pointer field at @field (@width bytes, pc-relative when @enc says) of the
 * copy by @delta.  Absolute pointers stay, but only a file loaded where it was linked
 * may have them (a moved one would miss its load-time relocation). */
static int field_move(struct buf *b, size_t field, unsigned width, uint8_t enc,
		      int64_t delta, int fixed)
{
	if ((enc & 0x70) == 0)
		return fixed ? 0 : -ENOTSUP;
	if ((enc & 0x70) != 0x10 || (width != 4 && width != 8) || (enc & 0x0f) == 0x03)
		return -ENOTSUP;	/* pc-relative LEB128 or udata4 cannot be re-encoded */
	if (width == 8) {
		int64_t v;
		memcpy(&v, b->p + field, 8);
		if (v)
			v -= delta;
		memcpy(b->p + field, &v, 8);
		return 0;
	}
	int32_t v;
	memcpy(&v, b->p + field, 4);
	if (!v)
		return 0;	/* NULL stays NULL */
	if (!fits32((int64_t)v - delta))
		return -ERANGE;
	v = (int32_t)((int64_t)v - delta);
	memcpy(b->p + field, &v, 4);
	return 0;
}

/* The input's entries, copied to the start of @b and moved to run at @addr. */
static int copy_input(struct buf *b, const struct cfi_info *ci, uint64_t addr, int fixed)
{
	int64_t delta = (int64_t)(addr - ci->addr);
	int err = 0;

	put(b, ci->data, ci->used);	/* up to the last entry: ours follow, then the end */
	if (b->oom)
		return -ENOMEM;
	for (size_t i = 0; !err && i < ci->ncie; i++) {
		const struct cfi_cie *c = &ci->cie[i];
		if (c->has_per)
			err = field_move(b, c->per_field, c->per_width, c->per_enc, delta, fixed);
	}
	for (size_t i = 0; !err && i < ci->nfde; i++) {
		const struct cfi_fde *f = &ci->fde[i];
		const struct cfi_cie *c = &ci->cie[f->cie];
		err = field_move(b, f->pc_field, f->pc_width, c->fde_enc, delta, fixed);
		if (!err && f->lsda_field)
			err = field_move(b, f->lsda_field, f->lsda_width, c->lsda_enc, delta,
					 fixed);
	}
	return err;
}

/* Our CIE: "zR" (or "zRS" for signal frames), code_align 1, data_align -8, the return
 * address in DWARF register 16, pc-relative sdata4 pointers, no initial instructions:
 * a register without a rule keeps its value. */
static size_t cie_put(struct buf *b, int signal)
{
	size_t start = b->len;

	put32(b, 0);			/* length, set by entry_end */
	put32(b, 0);			/* CIE id */
	put8(b, 1);			/* version */
	put(b, signal ? "zRS" : "zR", signal ? 4 : 3);
	put_uleb(b, 1);			/* code alignment */
	put_sleb(b, -8);		/* data alignment */
	put8(b, CFI_RA);		/* return address column */
	put_uleb(b, 1);			/* augmentation data: */
	put8(b, PE_PCREL_SDATA4);	/* 'R' */
	entry_end(b, start);
	return start;
}

/* The row @st restated from a stub that has moved %rsp @below bytes down; 0, or -ENOTSUP
 * when our CIE cannot say it. */
static int row_adjust(struct cfi_state *st, unsigned below)
{
	if (st->cfa.kind == CFI_CFA_REG) {
		if (st->cfa.reg == CFI_RSP)
			st->cfa.off += below;
		if (st->cfa.off < 0)
			return -ENOTSUP;
	} else if (st->cfa.kind != CFI_CFA_EXPR || below) {
		return -ENOTSUP;	/* no CFA, or an expression that may read %rsp */
	}
	for (unsigned r = 0; r < CFI_NREG; r++) {
		const struct cfi_rule *x = &st->reg[r];
		if ((x->kind == CFI_OFFSET || x->kind == CFI_VAL_OFFSET) && x->n % 8)
			return -ENOTSUP;
		if ((x->kind == CFI_EXPR || x->kind == CFI_VAL_EXPR) && below)
			return -ENOTSUP;
	}
	return 0;
}

static int rule_eq(const struct cfi_rule *a, const struct cfi_rule *b)
{
	return a->kind == b->kind && a->n == b->n && a->expr_len == b->expr_len &&
	       (!a->expr_len || !memcmp(a->expr, b->expr, a->expr_len));
}

static int cfa_eq(const struct cfi_cfa *a, const struct cfi_cfa *b)
{
	return a->kind == b->kind && a->reg == b->reg && a->off == b->off &&
	       a->expr_len == b->expr_len &&
	       (!a->expr_len || !memcmp(a->expr, b->expr, a->expr_len));
}

static int state_eq(const struct cfi_state *a, const struct cfi_state *b)
{
	if (!cfa_eq(&a->cfa, &b->cfa))
		return 0;
	for (unsigned r = 0; r < CFI_NREG; r++)
		if (!rule_eq(&a->reg[r], &b->reg[r]))
			return 0;
	return 1;
}

/* The CFA instructions that turn row @from into row @to (data_align -8). */
static void diff_put(struct buf *b, const struct cfi_state *from, const struct cfi_state *to)
{
	const struct cfi_cfa *c = &to->cfa;

	if (!cfa_eq(&from->cfa, c)) {
		if (c->kind == CFI_CFA_EXPR) {
			put8(b, 0x0f);			/* DW_CFA_def_cfa_expression */
			put_uleb(b, c->expr_len);
			put(b, c->expr, c->expr_len);
		} else if (from->cfa.kind == CFI_CFA_REG && from->cfa.reg == c->reg) {
			put8(b, 0x0e);			/* DW_CFA_def_cfa_offset */
			put_uleb(b, (uint64_t)c->off);
		} else {
			put8(b, 0x0c);			/* DW_CFA_def_cfa */
			put_uleb(b, c->reg);
			put_uleb(b, (uint64_t)c->off);
		}
	}
	for (unsigned r = 0; r < CFI_NREG; r++) {
		const struct cfi_rule *x = &to->reg[r];
		if (rule_eq(&from->reg[r], x))
			continue;
		switch (x->kind) {
		case CFI_UNSPEC:
			put8(b, 0xc0 | r);		/* DW_CFA_restore: our CIE has no rule */
			break;
		case CFI_SAME:
		case CFI_UNDEFINED:
			put8(b, x->kind == CFI_SAME ? 0x08 : 0x07);
			put_uleb(b, r);
			break;
		case CFI_OFFSET:
		case CFI_VAL_OFFSET:
			put8(b, x->kind == CFI_OFFSET ? 0x11 : 0x15);	/* offset_extended_sf,
									 * val_offset_sf */
			put_uleb(b, r);
			put_sleb(b, x->n / -8);
			break;
		case CFI_REGISTER:
			put8(b, 0x09);			/* DW_CFA_register */
			put_uleb(b, r);
			put_uleb(b, (uint64_t)x->n);
			break;
		default:				/* expression, val_expression */
			put8(b, x->kind == CFI_EXPR ? 0x10 : 0x16);
			put_uleb(b, r);
			put_uleb(b, x->expr_len);
			put(b, x->expr, x->expr_len);
			break;
		}
	}
}

static void advance_put(struct buf *b, uint64_t d)
{
	if (d < 64) {
		put8(b, 0x40 | (uint8_t)d);		/* DW_CFA_advance_loc */
	} else if (d < 256) {
		put8(b, 0x02);				/* DW_CFA_advance_loc1 */
		put8(b, (uint8_t)d);
	} else {
		put8(b, 0x04);				/* DW_CFA_advance_loc4 */
		put32(b, (uint32_t)d);
	}
}

/* One entry of .eh_frame_hdr's table. */
struct hdr_ent {
	uint64_t pc, fde;
};

struct writer {
	struct buf b;
	uint64_t addr;			/* run-time address of b.p[0] */
	size_t cie[2];			/* offsets of our two CIEs */
	struct hdr_ent *ent;
	size_t nent, cap;
	struct offline_unwind *u;
};

static int ent_add(struct writer *w, uint64_t pc, uint64_t fde)
{
	if (w->nent == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		struct hdr_ent *p = realloc(w->ent, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		w->ent = p;
		w->cap = cap;
	}
	w->ent[w->nent++] = (struct hdr_ent){ pc, fde };
	return 0;
}

/* The FDE for rows [i, j) of @m, whose states are @st[i..j), up to stub offset @end. */
static int fde_put(struct writer *w, const struct tramp_stub_map *m, const struct cfi_state *st,
		   unsigned i, unsigned j, unsigned end, int signal)
{
	struct buf *b = &w->b;
	size_t start = b->len;
	uint64_t pc = m->addr + m->row[i].off;
	int64_t rel = (int64_t)pc - (int64_t)(w->addr + start + 8);
	struct cfi_state none = { 0 };

	if (!fits32(rel))
		return -ERANGE;
	put32(b, 0);					/* length */
	put32(b, (uint32_t)(start + 4 - w->cie[signal]));	/* back to our CIE */
	put32(b, (uint32_t)(int32_t)rel);		/* pc_begin, pcrel sdata4 */
	put32(b, end - m->row[i].off);			/* pc_range */
	put_uleb(b, 0);					/* no augmentation data */
	diff_put(b, &none, &st[i]);
	for (unsigned k = i + 1; k < j; k++) {
		if (state_eq(&st[k - 1], &st[k]))
			continue;
		advance_put(b, m->row[k].off - m->row[i].off);
		i = k;
		diff_put(b, &st[k - 1], &st[k]);
	}
	entry_end(b, start);
	w->u->nfde++;
	return ent_add(w, pc, w->addr + start);
}

/* The FDEs of one stub: one per run of rows we can restate. */
static int stub_put(struct writer *w, const struct cfi_info *ci, const struct tramp_stub_map *m)
{
	struct cfi_state st[TRAMP_STUB_ROWS];
	int ok[TRAMP_STUB_ROWS], signal = 0, all = 1, err = 0;

	/* every row is one of the function the stub's first instruction stands in: the
	 * jump back's may be its very end (which another FDE may start at) */
	const struct cfi_fde *f = cfi_fde_find(ci, m->row[0].orig, 0);

	if (f)
		signal = ci->cie[f->cie].signal;
	for (unsigned k = 0; k < m->n; k++) {
		uint64_t pc = m->row[k].orig;
		ok[k] = f && pc >= f->pc && pc <= f->pc + f->len && ci->cie[f->cie].ra == CFI_RA &&
			cfi_row_at(ci, f, pc, &st[k]) == 0 &&
			row_adjust(&st[k], m->row[k].below) == 0;
		all &= ok[k];
	}
	for (unsigned k = 0; !err && k < m->n;) {
		if (!ok[k]) {
			k++;
			continue;
		}
		unsigned j = k;
		while (j < m->n && ok[j])
			j++;
		err = fde_put(w, m, st, k, j, j < m->n ? m->row[j].off : m->size, signal);
		k = j;
	}
	if (!all)
		w->u->nbare++;
	return err;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct hdr_ent *x = a, *y = b;

	if (x->pc != y->pc)
		return x->pc < y->pc ? -1 : 1;
	return x->fde < y->fde ? -1 : x->fde > y->fde;
}

/* .eh_frame_hdr: version 1, a pc-relative pointer to .eh_frame, and the sorted table
 * of (pc, FDE), both relative to the header. */
static int hdr_put(struct writer *w, uint64_t eh_addr)
{
	struct buf *b = &w->b;
	uint64_t h = w->addr + b->len;

	qsort(w->ent, w->nent, sizeof(*w->ent), ent_cmp);
	put8(b, 1);
	put8(b, PE_PCREL_SDATA4);	/* eh_frame_ptr */
	put8(b, PE_UDATA4);		/* fde_count */
	put8(b, PE_DATAREL_SDATA4);	/* table */
	put32(b, (uint32_t)(int32_t)((int64_t)eh_addr - (int64_t)(h + 4)));
	put32(b, (uint32_t)w->nent);
	for (size_t i = 0; i < w->nent; i++) {
		int64_t pc = (int64_t)w->ent[i].pc - (int64_t)h;
		int64_t fde = (int64_t)w->ent[i].fde - (int64_t)h;
		if (!fits32(pc) || !fits32(fde))
			return -ERANGE;
		put32(b, (uint32_t)(int32_t)pc);
		put32(b, (uint32_t)(int32_t)fde);
	}
	return b->oom ? -ENOMEM : 0;
}

int offline_unwind_adds_hdr(const struct offline_elf *e)
{
	uint64_t off, addr, size;
	int to_zero;

	for (unsigned i = 0; i < e->phnum; i++)
		if (offline_elf_phdr(e, i).p_type == PT_GNU_EH_FRAME)
			return 0;
	return input_find(e, &off, &addr, &size, &to_zero) == 0;
}

int offline_unwind_build(const struct offline_elf *e, const struct tramp_stub_map *maps,
			 size_t n, uint64_t addr, struct offline_unwind *u)
{
	struct writer w = { .addr = addr, .u = u };
	struct cfi_info ci;
	uint64_t off, old, size;
	int to_zero, err;

	memset(u, 0, sizeof(*u));
	u->addr = addr;
	if (input_find(e, &off, &old, &size, &to_zero)) {
		u->why = "the input has no .eh_frame";
		return 0;
	}
	if ((err = cfi_parse(&ci, e->b + off, size, old, to_zero))) {
		u->why = err == -ENOMEM ? NULL : "its .eh_frame uses a form we do not rewrite";
		return err == -ENOMEM ? err : 0;
	}
	int fixed = e->kind == OFFLINE_STATIC || e->kind == OFFLINE_DYNAMIC;
	if ((err = copy_input(&w.b, &ci, addr, fixed)))
		goto out;
	for (size_t i = 0; !err && i < ci.nfde; i++)
		if (ci.fde[i].pc)	/* 0: an FDE the linker discarded */
			err = ent_add(&w, ci.fde[i].pc, addr + ci.fde[i].off);
	w.cie[0] = cie_put(&w.b, 0);
	w.cie[1] = cie_put(&w.b, 1);
	for (size_t i = 0; !err && i < n; i++)
		if (maps[i].n)
			err = stub_put(&w, &ci, &maps[i]);
	put32(&w.b, 0);		/* the terminator */
	u->eh_len = w.b.len;
	if (!err) {
		while (w.b.len % 4)
			put8(&w.b, 0);
		u->hdr_off = w.b.len;
		err = hdr_put(&w, addr);
		u->hdr_len = w.b.len - u->hdr_off;
	}
	if (!err && w.b.oom)
		err = -ENOMEM;
out:
	cfi_fini(&ci);
	free(w.ent);
	if (err) {
		free(w.b.p);
		memset(u, 0, sizeof(*u));
		if (err == -ENOMEM)
			return err;
		u->why = err == -ERANGE ? "its unwind info would lie out of 32-bit reach"
					: "its .eh_frame uses a form we do not rewrite";
		return 0;
	}
	u->buf = w.b.p;
	u->len = w.b.len;
	return 0;
}

void offline_unwind_fini(struct offline_unwind *u)
{
	free(u->buf);
	memset(u, 0, sizeof(*u));
}
