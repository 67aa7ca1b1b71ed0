/* SPDX-License-Identifier: MIT */
/* offline internals: reading .eh_frame (CIEs, FDEs, the row of an FDE at an address) and
 * writing the unwind info of the stubs (unwind.c). */
#ifndef OFFLINE_CFI_H
#define OFFLINE_CFI_H

#include <stddef.h>
#include <stdint.h>

/* DWARF registers 0..16 (rax .. r15, the return address), and the 16 xmm. */
#define CFI_NREG	33
#define CFI_RSP		7
#define CFI_RA		16

enum cfi_rule_kind {
	CFI_UNSPEC = 0,		/* no rule: the register keeps its value */
	CFI_SAME, CFI_UNDEFINED, CFI_OFFSET, CFI_VAL_OFFSET, CFI_REGISTER, CFI_EXPR,
	CFI_VAL_EXPR,
};

struct cfi_rule {
	int kind;		/* enum cfi_rule_kind */
	int64_t n;		/* OFFSET, VAL_OFFSET: bytes from the CFA; REGISTER: a register */
	const uint8_t *expr;	/* EXPR, VAL_EXPR: the DWARF expression (in the input) */
	size_t expr_len;
};

enum { CFI_CFA_NONE = 0, CFI_CFA_REG, CFI_CFA_EXPR };

struct cfi_cfa {
	int kind;
	uint64_t reg;
	int64_t off;
	const uint8_t *expr;
	size_t expr_len;
};

/* One row of the CFI table: the CFA rule and every register's. */
struct cfi_state {
	struct cfi_cfa cfa;
	struct cfi_rule reg[CFI_NREG];
};

struct cfi_cie {
	size_t off;		/* of its length field in the section */
	uint64_t code_align, ra;
	int64_t data_align;
	uint8_t fde_enc, lsda_enc, per_enc, per_width;
	uint8_t has_per, signal, fde_has_aug;
	size_t per_field;	/* offset of the personality pointer (has_per) */
	const uint8_t *insns;	/* initial instructions */
	size_t insns_len;
};

struct cfi_fde {
	size_t off;		/* of its length field */
	unsigned cie;		/* index in cfi_info.cie */
	uint64_t pc, len;	/* the code it covers */
	size_t pc_field, lsda_field;	/* offsets of the pointer fields (lsda: 0 if none) */
	uint8_t pc_width, lsda_width, has_lsda;
	const uint8_t *insns;
	size_t insns_len;
};

/* A parsed .eh_frame: CIEs by offset, FDEs by address. */
struct cfi_info {
	const uint8_t *data;
	size_t len;		/* bytes parsed (up to the end or the first terminator) */
	size_t used;		/* up to the end of the last entry (no terminator after it) */
	uint64_t addr;		/* its run-time address */
	struct cfi_cie *cie;
	size_t ncie;
	struct cfi_fde *fde;
	size_t nfde;
};

/* Parse the .eh_frame @data (@len bytes at run-time address @addr; with @to_zero, up to
 * the first zero terminator only: the section's end is not known).  Returns 0, -ENOMEM,
 * -EINVAL (malformed) or -ENOTSUP (an encoding or augmentation we do not rewrite).
 * cfi_fini frees what it holds. */
int cfi_parse(struct cfi_info *ci, const uint8_t *data, size_t len, uint64_t addr,
	      int to_zero);
void cfi_fini(struct cfi_info *ci);

/* The FDE covering @pc (or ending exactly at it, when @end_ok), or NULL. */
const struct cfi_fde *cfi_fde_find(const struct cfi_info *ci, uint64_t pc, int end_ok);

/* The row of @f in force at @pc (before the instruction there runs).  Returns 0,
 * -EINVAL or -ENOTSUP (an opcode or register we do not follow). */
int cfi_row_at(const struct cfi_info *ci, const struct cfi_fde *f, uint64_t pc,
	       struct cfi_state *st);

#endif
