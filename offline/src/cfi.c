// SPDX-License-Identifier: MIT
/* Reading .eh_frame: CIEs and FDEs with their pointer fields located, and the CFA
 * program of an FDE run up to an address (the row that holds there).  DWARF 5 section
 * 6.4 and the LSB's .eh_frame pointer encodings; nothing here writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfi.h"

#define DW_EH_PE_omit		0xff
#define DW_EH_PE_pcrel		0x10
#define DW_EH_PE_indirect	0x80

/* A cursor over [p, end): every read checks the bounds and sets bad instead. */
struct rd {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t rd_n(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return 0;
	}
	memcpy(&v, r->p, n);	/* little-endian host and file */
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; !r->bad; shift += 7) {
		if (r->p >= r->end || shift > 63) {
			r->bad = 1;
			break;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
	}
	return v;
}

static int64_t rd_sleb(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;

	do {
		if (r->bad || r->p >= r->end || shift > 63) {
			r->bad = 1;
			return 0;
		}
		b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	return (int64_t)v;
}

/* A pointer in encoding @enc at the cursor, whose field is at run-time address @at.
 * *width gets the field's size (0 for a LEB128 form).  Only absolute and pc-relative
 * forms (indirect allowed: the value is then the pointer's address); -ENOTSUP else. */
static int rd_ptr(struct rd *r, uint8_t enc, uint64_t at, uint64_t *val, unsigned *width)
{
	uint64_t v;

	*width = 0;
	switch (enc & 0x0f) {
	case 0x00: v = rd_n(r, 8); *width = 8; break;			/* absptr */
	case 0x01: v = rd_uleb(r); break;				/* uleb128 */
	case 0x02: v = rd_n(r, 2); *width = 2; break;			/* udata2 */
	case 0x03: v = rd_n(r, 4); *width = 4; break;			/* udata4 */
	case 0x04: v = rd_n(r, 8); *width = 8; break;			/* udata8 */
	case 0x09: v = (uint64_t)rd_sleb(r); break;			/* sleb128 */
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_n(r, 2); *width = 2; break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_n(r, 4); *width = 4; break;
	case 0x0c: v = rd_n(r, 8); *width = 8; break;			/* sdata8 */
	default: return -ENOTSUP;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case DW_EH_PE_pcrel: v = v ? v + at : 0; break;	/* 0 stays NULL (libgcc's rule) */
	default: return -ENOTSUP;	/* textrel, datarel, funcrel, aligned */
	}
	*val = v;
	return r->bad ? -EINVAL : 0;
}

/* The size of the plain (non-pc-relative) form of @enc, for an FDE's address range. */
static int rd_range(struct rd *r, uint8_t enc, uint64_t *val)
{
	unsigned w;

	return rd_ptr(r, enc & 0x0f, 0, val, &w);
}

static int cie_parse(struct cfi_info *ci, size_t off, const uint8_t *body, const uint8_t *end)
{
	struct cfi_cie *c = &ci->cie[ci->ncie];
	struct rd r = { body, end, 0 };
	unsigned version = (unsigned)rd_n(&r, 1);
	const char *aug = (const char *)r.p;
	const uint8_t *nul = r.bad ? NULL : memchr(r.p, 0, (size_t)(end - r.p));

	if (!nul || (version != 1 && version != 3))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->off = off;
	c->fde_enc = 0;		/* absptr unless 'R' says */
	c->lsda_enc = DW_EH_PE_omit;
	r.p = nul + 1;
	if (strstr(aug, "eh"))
		return -ENOTSUP;	/* the pre-2.95 GNU form */
	c->code_align = rd_uleb(&r);
	c->data_align = rd_sleb(&r);
	c->ra = version == 1 ? rd_n(&r, 1) : rd_uleb(&r);
	if (aug[0] == 'z') {
		uint64_t alen = rd_uleb(&r);
		c->fde_has_aug = 1;
		const uint8_t *aend = r.p + alen;
		if (r.bad || alen > (uint64_t)(end - r.p))
			return -EINVAL;
		for (const char *a = aug + 1; *a; a++) {
			if (*a == 'R') {
				c->fde_enc = (uint8_t)rd_n(&r, 1);
			} else if (*a == 'L') {
				c->lsda_enc = (uint8_t)rd_n(&r, 1);
			} else if (*a == 'P') {
				uint64_t v;
				unsigned w;
				c->per_enc = (uint8_t)rd_n(&r, 1);
				c->per_field = (size_t)(r.p - ci->data);
				int err = rd_ptr(&r, c->per_enc & ~DW_EH_PE_indirect,
						 ci->addr + c->per_field, &v, &w);
				if (err)
					return err;
				c->per_width = w;
				c->has_per = 1;
			} else if (*a == 'S') {
				c->signal = 1;
			} else if (*a != 'B' && *a != 'G') {
				return -ENOTSUP;	/* an augmentation we cannot skip safely */
			}
		}
		r.p = aend;
	} else if (aug[0]) {
		return -ENOTSUP;
	}
	if (r.bad || r.p > end)
		return -EINVAL;
	c->insns = r.p;
	c->insns_len = (size_t)(end - r.p);
	ci->ncie++;
	return 0;
}

static const struct cfi_cie *cie_at(const struct cfi_info *ci, size_t off)
{
	size_t lo = 0, hi = ci->ncie;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ci->cie[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ci->ncie && ci->cie[lo].off == off ? &ci->cie[lo] : NULL;
}

static int fde_parse(struct cfi_info *ci, size_t off, const uint8_t *body, const uint8_t *end)
{
	struct cfi_fde *f = &ci->fde[ci->nfde];
	size_t idfield = (size_t)(body - ci->data) - 4;
	uint32_t id;
	struct rd r = { body, end, 0 };
	unsigned w;
	int err;

	memcpy(&id, ci->data + idfield, 4);
	if (id > idfield)
		return -EINVAL;
	const struct cfi_cie *c = cie_at(ci, idfield - id);
	if (!c)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->off = off;
	f->cie = (unsigned)(c - ci->cie);
	f->pc_field = (size_t)(r.p - ci->data);
	if ((err = rd_ptr(&r, c->fde_enc, ci->addr + f->pc_field, &f->pc, &w)))
		return err;
	f->pc_width = w;
	if ((err = rd_range(&r, c->fde_enc, &f->len)))
		return err;
	/* the augmentation data ('z'): the LSDA pointer, when the CIE has 'L' */
	if (c->fde_has_aug) {
		uint64_t alen = rd_uleb(&r);
		if (r.bad || alen > (uint64_t)(end - r.p))
			return -EINVAL;
		const uint8_t *aend = r.p + alen;
		if (c->lsda_enc != DW_EH_PE_omit) {
			uint64_t v;
			f->lsda_field = (size_t)(r.p - ci->data);
			if ((err = rd_ptr(&r, c->lsda_enc & ~DW_EH_PE_indirect,
					  ci->addr + f->lsda_field, &v, &w)))
				return err;
			f->lsda_width = w;
			f->has_lsda = v != 0;
		}
		r.p = aend;
	}
	if (r.bad || r.p > end)
		return -EINVAL;
	f->insns = r.p;
	f->insns_len = (size_t)(end - r.p);
	ci->nfde++;
	return 0;
}

static int fde_cmp(const void *a, const void *b)
{
	const struct cfi_fde *x = a, *y = b;

	if (x->pc != y->pc)
		return x->pc < y->pc ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

int cfi_parse(struct cfi_info *ci, const uint8_t *data, size_t len, uint64_t addr,
	      int to_zero)
{
	size_t cap = len / 8 + 1;	/* an entry takes 8 bytes at least */
	int err = 0;

	memset(ci, 0, sizeof(*ci));
	ci->data = data;
	ci->addr = addr;
	ci->cie = calloc(cap, sizeof(*ci->cie));
	ci->fde = calloc(cap, sizeof(*ci->fde));
	if (!ci->cie || !ci->fde) {
		cfi_fini(ci);
		return -ENOMEM;
	}
	size_t off = 0;
	while (off + 4 <= len) {
		uint32_t l32;
		memcpy(&l32, data + off, 4);
		if (l32 == 0) {		/* a terminator: linkers may leave one mid-section */
			off += 4;
			if (to_zero)
				break;
			continue;
		}
		if (l32 == 0xffffffffu || l32 < 4 || l32 > len - off - 4) {
			err = -EINVAL;	/* 64-bit DWARF is never used in .eh_frame */
			break;
		}
		const uint8_t *body = data + off + 8, *end = data + off + 4 + l32;
		uint32_t id;
		memcpy(&id, data + off + 4, 4);
		if (ci->ncie >= cap || ci->nfde >= cap) {
			err = -EINVAL;
			break;
		}
		err = id == 0 ? cie_parse(ci, off, body, end) : fde_parse(ci, off, body, end);
		if (err)
			break;
		off += 4 + (size_t)l32;
		ci->used = off;
	}
	ci->len = off;
	if (err) {
		cfi_fini(ci);
		return err;
	}
	qsort(ci->fde, ci->nfde, sizeof(*ci->fde), fde_cmp);
	return 0;
}

void cfi_fini(struct cfi_info *ci)
{
	free(ci->cie);
	free(ci->fde);
	memset(ci, 0, sizeof(*ci));
}

const struct cfi_fde *cfi_fde_find(const struct cfi_info *ci, uint64_t pc, int end_ok)
{
	size_t lo = 0, hi = ci->nfde;

	while (lo < hi) {	/* the first FDE starting after pc */
		size_t mid = (lo + hi) / 2;
		if (ci->fde[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0;) {
		const struct cfi_fde *f = &ci->fde[i];
		if (pc < f->pc + f->len || (end_ok && pc == f->pc + f->len && f->len))
			return f;
		if (i + 8 < lo)	/* ranges do not nest: no need to look far back */
			break;
	}
	return NULL;
}

static struct cfi_rule rule(int kind, int64_t n)
{
	return (struct cfi_rule){ .kind = kind, .n = n };
}

/* Run the CFA program [p, end) from location *loc, stopping before the first row that
 * starts past @target.  @init is the state after the CIE's program (for restore). */
static int run(const struct cfi_info *ci, const struct cfi_cie *c, const uint8_t *p,
	       const uint8_t *end, uint64_t *loc, uint64_t target, struct cfi_state *st,
	       const struct cfi_state *init)
{
	struct cfi_state stack[8];
	unsigned depth = 0;
	struct rd r = { p, end, 0 };

	while (r.p < r.end && !r.bad) {
		uint8_t op = (uint8_t)rd_n(&r, 1);
		uint64_t reg = op & 0x3f, adv = 0, v;
		int64_t sv;
		unsigned w;
		int hi = op & 0xc0;

		if (hi == 0x40) {			/* advance_loc */
			adv = reg;
		} else if (hi == 0x80) {		/* offset */
			v = rd_uleb(&r);
			if (reg >= CFI_NREG)
				return -ENOTSUP;
			st->reg[reg] = rule(CFI_OFFSET, (int64_t)v * c->data_align);
			continue;
		} else if (hi == 0xc0) {		/* restore */
			if (reg >= CFI_NREG)
				return -ENOTSUP;
			st->reg[reg] = init ? init->reg[reg] : rule(CFI_UNSPEC, 0);
			continue;
		}
		switch (hi ? 0x100 : op) {
		case 0x100:
			break;
		case 0x00:				/* nop */
			continue;
		case 0x01:				/* set_loc */
			if (rd_ptr(&r, c->fde_enc, ci->addr + (uint64_t)(r.p - ci->data), &v, &w))
				return -ENOTSUP;
			if (v > target)
				return 0;
			*loc = v;
			continue;
		case 0x02: adv = rd_n(&r, 1); break;	/* advance_loc1 */
		case 0x03: adv = rd_n(&r, 2); break;	/* advance_loc2 */
		case 0x04: adv = rd_n(&r, 4); break;	/* advance_loc4 */
		case 0x05: case 0x11: case 0x2f: case 0x14: case 0x15: {
			/* offset_extended, _sf, GNU_negative_offset_extended, val_offset, _sf */
			reg = rd_uleb(&r);
			if (op == 0x11 || op == 0x15)
				sv = rd_sleb(&r) * c->data_align;
			else if (op == 0x2f)
				sv = -(int64_t)rd_uleb(&r) * c->data_align;
			else
				sv = (int64_t)rd_uleb(&r) * c->data_align;
			if (reg >= CFI_NREG)
				return -ENOTSUP;
			st->reg[reg] = rule(op == 0x14 || op == 0x15 ? CFI_VAL_OFFSET : CFI_OFFSET,
					    sv);
			continue;
		}
		case 0x06: case 0x07: case 0x08:	/* restore_ext, undefined, same_value */
			reg = rd_uleb(&r);
			if (reg >= CFI_NREG)
				return -ENOTSUP;
			st->reg[reg] = op == 0x06 ? (init ? init->reg[reg] : rule(CFI_UNSPEC, 0))
					: rule(op == 0x07 ? CFI_UNDEFINED : CFI_SAME, 0);
			continue;
		case 0x09:				/* register */
			reg = rd_uleb(&r);
			v = rd_uleb(&r);
			if (reg >= CFI_NREG)
				return -ENOTSUP;
			st->reg[reg] = rule(CFI_REGISTER, (int64_t)v);
			continue;
		case 0x0a:				/* remember_state */
			if (depth == 8)
				return -ENOTSUP;
			stack[depth++] = *st;
			continue;
		case 0x0b:	/* restore_state: the CFA too, as libgcc and gdb do */
			if (!depth)
				return -EINVAL;
			*st = stack[--depth];
			continue;
		case 0x0c: case 0x12:			/* def_cfa, def_cfa_sf */
			st->cfa.kind = CFI_CFA_REG;
			st->cfa.reg = rd_uleb(&r);
			st->cfa.off = op == 0x12 ? rd_sleb(&r) * c->data_align
						 : (int64_t)rd_uleb(&r);
			continue;
		case 0x0d:				/* def_cfa_register */
			st->cfa.kind = CFI_CFA_REG;
			st->cfa.reg = rd_uleb(&r);
			continue;
		case 0x0e: case 0x13:			/* def_cfa_offset, _sf */
			st->cfa.off = op == 0x13 ? rd_sleb(&r) * c->data_align
						 : (int64_t)rd_uleb(&r);
			continue;
		case 0x0f:				/* def_cfa_expression */
			v = rd_uleb(&r);
			if (r.bad || v > (uint64_t)(r.end - r.p))
				return -EINVAL;
			st->cfa = (struct cfi_cfa){ .kind = CFI_CFA_EXPR, .expr = r.p,
						    .expr_len = (size_t)v };
			r.p += v;
			continue;
		case 0x10: case 0x16:			/* expression, val_expression */
			reg = rd_uleb(&r);
			v = rd_uleb(&r);
			if (r.bad || v > (uint64_t)(r.end - r.p))
				return -EINVAL;
			if (reg >= CFI_NREG)
				return -ENOTSUP;
			st->reg[reg] = (struct cfi_rule){
				.kind = op == 0x10 ? CFI_EXPR : CFI_VAL_EXPR,
				.expr = r.p, .expr_len = (size_t)v,
			};
			r.p += v;
			continue;
		case 0x2e:				/* GNU_args_size: for landing pads only */
			rd_uleb(&r);
			continue;
		default:
			return -ENOTSUP;
		}
		if (*loc + adv * c->code_align > target)
			return 0;
		*loc += adv * c->code_align;
	}
	return r.bad ? -EINVAL : 0;
}

int cfi_row_at(const struct cfi_info *ci, const struct cfi_fde *f, uint64_t pc,
	       struct cfi_state *st)
{
	const struct cfi_cie *c = &ci->cie[f->cie];
	struct cfi_state init;
	uint64_t loc = f->pc;
	int err;

	memset(st, 0, sizeof(*st));
	if ((err = run(ci, c, c->insns, c->insns + c->insns_len, &loc, UINT64_MAX, st, NULL)))
		return err;
	init = *st;
	loc = f->pc;
	return run(ci, c, f->insns, f->insns + f->insns_len, &loc, pc, st, &init);
}
