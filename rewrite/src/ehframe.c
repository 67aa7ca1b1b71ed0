/* SPDX-License-Identifier: MIT */
/* .eh_frame reader: walks CIEs and FDEs (LSB "Exception Frame" format, DWARF CFI with
 * augmentations) and returns each FDE's [pc_begin, pc_begin + pc_range) as a function.
 * Every read is bounds-checked: malformed input ends the walk with -EINVAL. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rewrite/rewrite.h"

/* DW_EH_PE_* pointer encodings (LSB 10.6.1.1) */
#define PE_FMT 0x0f
#define PE_ABSPTR 0x00
#define PE_ULEB128 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB128 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_APP 0x70
#define PE_PCREL 0x10
#define PE_INDIRECT 0x80

/* A bounded reader over [p, end); any overrun sets bad and reads as zero. */
struct cur {
	const uint8_t *p, *end;
	const uint8_t *base;	/* start of the section, for pc-relative values */
	uint64_t addr;		/* run-time address of base */
	bool bad;
};

static uint64_t rd(struct cur *c, size_t n)
{
	uint64_t v = 0;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

/* LEB128, unsigned or (@sign) sign-extended; bits past 64 are dropped. */
static uint64_t leb(struct cur *c, bool sign)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		b = (uint8_t)rd(c, 1);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while ((b & 0x80) && !c->bad);
	if (sign && shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return v;
}

#define uleb(c) leb((c), false)
#define sleb(c) ((int64_t)leb((c), true))

/* Read a pointer in encoding @enc.  Only absolute and pc-relative applications are
 * understood (all a linked x86-64 .eh_frame uses); others set bad. */
static uint64_t rd_ptr(struct cur *c, uint8_t enc)
{
	uint64_t here = c->addr + (uint64_t)(c->p - c->base), v;

	switch (enc & PE_FMT) {
	case PE_ABSPTR: case PE_UDATA8: case PE_SDATA8: v = rd(c, 8); break;
	case PE_ULEB128: v = uleb(c); break;
	case PE_SLEB128: v = (uint64_t)sleb(c); break;
	case PE_UDATA2: v = rd(c, 2); break;
	case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)rd(c, 2); break;
	case PE_UDATA4: v = rd(c, 4); break;
	case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)rd(c, 4); break;
	default: c->bad = true; return 0;
	}
	switch (enc & PE_APP) {
	case 0: return v;
	case PE_PCREL: return v + here;
	default: c->bad = true; return 0;
	}
}

/* What an FDE needs from its CIE. */
struct cie {
	size_t off;		/* section offset of the CIE, SIZE_MAX if none cached */
	uint8_t fde_enc;	/* 'R' augmentation, absptr by default */
	bool aug_z;		/* FDEs carry an augmentation length */
	bool signal;		/* 'S': a signal frame, whose FDE starts one byte early */
};

/* Read one record's length and id field at c->p.  Sets *body_end to the end of the
 * record; returns false at the zero terminator or on damage (c->bad). */
static bool rd_header(struct cur *c, const uint8_t **body_end, uint64_t *id, size_t *id_off)
{
	uint64_t len = rd(c, 4);
	bool is64 = len == 0xffffffff;

	if (c->bad || len == 0)
		return false;
	if (is64)
		len = rd(c, 8);
	if (c->bad || len > (uint64_t)(c->end - c->p)) {
		c->bad = true;
		return false;
	}
	*body_end = c->p + len;
	*id_off = (size_t)(c->p - c->base);
	*id = rd(c, is64 ? 8 : 4);
	return !c->bad;
}

static int cie_parse(const struct cur *sec, size_t off, struct cie *cie)
{
	struct cur c = *sec;
	const uint8_t *end, *aug, *aug_end;
	uint64_t id;
	size_t id_off;
	uint8_t ver;

	c.p = c.base + off;
	if (!rd_header(&c, &end, &id, &id_off) || id != 0)
		return -EINVAL;
	c.end = end;
	ver = (uint8_t)rd(&c, 1);
	aug = c.p;
	while (!c.bad && rd(&c, 1))
		;
	if (c.bad || (ver != 1 && ver != 3 && ver != 4) || strstr((const char *)aug, "eh"))
		return -EINVAL;
	if (ver == 4)
		rd(&c, 2);	/* address_size, segment_selector_size */
	uleb(&c);		/* code alignment */
	sleb(&c);		/* data alignment */
	if (ver == 1)
		rd(&c, 1);	/* return address register */
	else
		uleb(&c);
	cie->off = off;
	cie->fde_enc = PE_ABSPTR;
	cie->aug_z = aug[0] == 'z';
	cie->signal = false;
	if (cie->aug_z) {
		uint64_t alen = uleb(&c);

		if (c.bad || alen > (uint64_t)(c.end - c.p))
			return -EINVAL;
		aug_end = c.p + alen;
		c.end = aug_end;
		for (const uint8_t *a = aug + 1; *a && !c.bad; a++) {
			if (*a == 'R')
				cie->fde_enc = (uint8_t)rd(&c, 1);
			else if (*a == 'L')
				rd(&c, 1);	/* LSDA encoding */
			else if (*a == 'P')
				rd_ptr(&c, (uint8_t)rd(&c, 1) & ~PE_INDIRECT);
			else if (*a == 'S')
				cie->signal = true;
			else if (*a != 'B' && *a != 'G')
				break;	/* unknown: 'z' told us the length, stop here */
		}
	}
	/* an indirect pc_begin would need memory we do not have */
	return c.bad || (cie->fde_enc & PE_INDIRECT) ? -EINVAL : 0;
}

static int func_cmp(const void *a, const void *b)
{
	const struct rewrite_func *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Sort and merge overlapping ranges (adjacent ones stay apart: each start is a known
 * instruction boundary worth keeping). */
static size_t funcs_merge(struct rewrite_func *f, size_t n)
{
	size_t m = 0;

	qsort(f, n, sizeof(*f), func_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && f[i].start < f[m - 1].end) {
			if (f[i].end > f[m - 1].end)
				f[m - 1].end = f[i].end;
		} else {
			f[m++] = f[i];
		}
	}
	return m;
}

int rewrite_ehframe_funcs(const uint8_t *data, size_t len, uint64_t addr,
			  struct rewrite_func **out, size_t *n)
{
	struct cur c = { data, data + len, data, addr, false };
	struct cie cie = { .off = SIZE_MAX };
	struct rewrite_func *f = NULL;
	size_t nf = 0, cap = 0;
	int ret = 0;

	if (!out || !n || (!data && len))
		return -EINVAL;
	while (c.p < c.end) {
		const uint8_t *end;
		uint64_t id, begin, range;
		size_t id_off;
		struct cur r;

		if (!rd_header(&c, &end, &id, &id_off)) {
			ret = c.bad ? -EINVAL : 0;
			break;	/* zero terminator or damage */
		}
		if (id != 0) {	/* FDE: id is the distance back to its CIE */
			if (id > id_off) {
				ret = -EINVAL;
				break;
			}
			if (cie.off != id_off - id && cie_parse(&c, id_off - id, &cie)) {
				cie.off = SIZE_MAX;
				ret = -EINVAL;
				break;
			}
			r = c;
			r.end = end;
			begin = rd_ptr(&r, cie.fde_enc);
			range = rd_ptr(&r, cie.fde_enc & PE_FMT);
			if (r.bad) {
				ret = -EINVAL;
				break;
			}
			/* Signal trampolines (glibc's __restore_rt) start their FDE at the
			 * byte before the code so unwinders may use pc - 1: that byte is
			 * padding, not an instruction boundary. */
			if (cie.signal && range > 1) {
				begin++;
				range--;
			}
			if (range && begin && begin + range > begin) {
				if (nf == cap) {
					size_t nc = cap ? 2 * cap : 256;
					struct rewrite_func *v = realloc(f, nc * sizeof(*v));

					if (!v) {
						ret = -ENOMEM;
						break;
					}
					f = v;
					cap = nc;
				}
				f[nf++] = (struct rewrite_func){ begin, begin + range };
			}
		}
		c.p = end;
	}
	if (ret == -ENOMEM) {
		free(f);
		f = NULL;
		nf = 0;
	}
	*n = nf ? funcs_merge(f, nf) : 0;
	*out = f;
	return ret;
}
