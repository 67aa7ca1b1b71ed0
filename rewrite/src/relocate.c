/* SPDX-License-Identifier: MIT */
/* Which instructions may leave their address (classification for the window search) and
 * how to copy one to another address: RIP-relative displacements and relative branches
 * are re-targeted in place, short jmp/jcc are widened to rel32. */
#include <errno.h>
#include <string.h>

#include "rewrite_int.h"

/* Prefixes kept when a short jmp/jcc is widened: branch hints (2e, 3e), bnd (f2) and REX,
 * all of which mean the same in front of the rel32 form.  Anything else (66 would make the
 * branch rel16 on AMD) is refused rather than guessed. */
static bool widen_prefix_ok(uint8_t b)
{
	return b == 0x2e || b == 0x3e || b == 0xf2 || (b & 0xf0) == 0x40;
}

/* loop/loope/loopne/jrcxz/jecxz have only a rel8 form: they cannot follow their code
 * far away, so they never enter a window. */
static bool is_rel8_only(ZydisMnemonic m)
{
	return m == ZYDIS_MNEMONIC_LOOP || m == ZYDIS_MNEMONIC_LOOPE ||
	       m == ZYDIS_MNEMONIC_LOOPNE || m == ZYDIS_MNEMONIC_JRCXZ ||
	       m == ZYDIS_MNEMONIC_JECXZ || m == ZYDIS_MNEMONIC_JCXZ;
}

/* Instructions that must run at their own address or that end a basic block in a way a
 * window cannot express (see DESIGN.md section 3). */
static bool is_fixed(const ZydisDecodedInstruction *in)
{
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_CALL:	/* pushes its own address */
	case ZYDIS_CATEGORY_RET:
	case ZYDIS_CATEGORY_INTERRUPT:	/* int3, int 0x80, into: the kernel sees the rip */
	case ZYDIS_CATEGORY_SYSCALL:
	case ZYDIS_CATEGORY_SYSRET:
	case ZYDIS_CATEGORY_SYSTEM:
		return true;
	default:
		break;
	}
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_SYSCALL:
	case ZYDIS_MNEMONIC_SYSENTER:
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:	/* faults are reported at their rip */
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_ENDBR32:
	case ZYDIS_MNEMONIC_ENDBR64:	/* an indirect branch may land here under IBT */
	case ZYDIS_MNEMONIC_XBEGIN:	/* abort target and transaction region */
		return true;
	default:
		return is_rel8_only(in->mnemonic);
	}
}

uint8_t rewrite_insn_classify(const struct rewrite_region *r, const ZydisDecodedInstruction *in,
			 size_t off, size_t *target)
{
	uint8_t flags = 0;

	*target = SIZE_MAX;
	if (in->mnemonic == ZYDIS_MNEMONIC_SYSCALL)
		return REWRITE_I_SYSCALL | REWRITE_I_FIXED;
	if (is_fixed(in))
		flags = REWRITE_I_FIXED;
	if (in->attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
		if (in->raw.imm[0].is_relative) {
			/* direct branch: remember where it lands, even for calls */
			int64_t t = (int64_t)off + in->length + in->raw.imm[0].value.s;

			if (t >= 0 && (uint64_t)t < r->len)
				*target = (size_t)t;
			if (flags)
				return flags;
			if ((in->meta.category == ZYDIS_CATEGORY_COND_BR ||
			     in->meta.category == ZYDIS_CATEGORY_UNCOND_BR) &&
			    (in->raw.imm[0].size == 8 || in->raw.imm[0].size == 32))
				return REWRITE_I_BRANCH;
			return REWRITE_I_FIXED;
		}
		/* RIP-relative memory operand: movable if its disp32 can be re-aimed */
		if (in->raw.disp.size != 32 || in->address_width != 64)
			flags |= REWRITE_I_FIXED;
		return flags;
	}
	if (in->meta.category == ZYDIS_CATEGORY_UNCOND_BR)
		flags |= REWRITE_I_FIXED;	/* indirect or far jmp */
	return flags;
}

/* Whether @v fits a signed field of @bits bits. */
static bool fits(int64_t v, unsigned bits)
{
	int64_t lim = (int64_t)1 << (bits - 1);

	return v >= -lim && v < lim;
}

static void put32(uint8_t *p, int64_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = (uint8_t)u;
	p[1] = (uint8_t)(u >> 8);
	p[2] = (uint8_t)(u >> 16);
	p[3] = (uint8_t)(u >> 24);
}

/* Copy @insn (@len bytes) for address @to with its @bits-bit relative field at offset
 * @field re-aimed at @target (fields count from the end of the instruction). */
static int copy_retarget(const uint8_t *insn, size_t len, size_t field, unsigned bits,
			 uint64_t target, uint64_t to, uint8_t *out, size_t cap)
{
	int64_t rel = (int64_t)(target - (to + len));

	if (!fits(rel, bits))
		return -ERANGE;
	if (cap < len)
		return -ENOSPC;
	memcpy(out, insn, len);
	if (bits == 8)
		out[field] = (uint8_t)rel;
	else
		put32(out + field, rel);
	return (int)len;
}

/* Re-target a relative branch; see rewrite_insn_relocate. */
static int relocate_branch(const ZydisDecodedInstruction *in, const uint8_t *insn,
			   uint64_t from, uint64_t to, uint8_t *out, size_t cap)
{
	const struct ZydisDecodedInstructionRawImm_ *imm = &in->raw.imm[0];
	uint64_t target = from + in->length + (uint64_t)imm->value.s;
	size_t p, newlen;
	int64_t rel;

	if (imm->size == 32)
		return copy_retarget(insn, in->length, imm->offset, 32, target, to, out, cap);
	if (imm->size != 8)
		return -EINVAL;	/* rel16: truncates rip, never emitted by compilers */
	if (is_rel8_only(in->mnemonic))
		return copy_retarget(insn, in->length, imm->offset, 8, target, to, out, cap);
	if (in->mnemonic != ZYDIS_MNEMONIC_JMP && in->meta.category != ZYDIS_CATEGORY_COND_BR)
		return -EINVAL;
	/* eb rel8 / 7x rel8: the opcode is the byte before the immediate */
	p = (size_t)imm->offset - 1;
	for (size_t i = 0; i < p; i++)
		if (!widen_prefix_ok(insn[i]))
			return -EINVAL;
	newlen = p + (in->mnemonic == ZYDIS_MNEMONIC_JMP ? 5 : 6);
	rel = (int64_t)(target - (to + newlen));
	if (!fits(rel, 32))
		return -ERANGE;
	if (cap < newlen)
		return -ENOSPC;
	memcpy(out, insn, p);
	if (in->mnemonic == ZYDIS_MNEMONIC_JMP) {
		out[p] = 0xe9;				/* e9 rel32: jmp rel32 */
	} else {
		out[p] = 0x0f;				/* 0f 8x rel32: jcc rel32, same cc */
		out[p + 1] = (uint8_t)(0x80 | (insn[p] & 0x0f));
	}
	put32(out + newlen - 4, rel);
	return (int)newlen;
}

int rewrite_insn_length(const uint8_t *p, size_t cap)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction in;

	if (!p || !cap ||
	    !ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
					   ZYDIS_STACK_WIDTH_64)) ||
	    !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, p, cap, &in)))
		return -EINVAL;
	return in.length;
}

/* Bytes are patched in place instead of going through Zydis' encoder: the copy keeps
 * every prefix and the exact encoding, so the displaced code is byte-for-byte what the
 * compiler emitted apart from the re-aimed field. */
int rewrite_insn_relocate(const uint8_t *insn, size_t len, uint64_t from, uint64_t to,
			  uint8_t *out, size_t cap)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction in;

	if (!insn || len == 0 || len > ZYDIS_MAX_INSTRUCTION_LENGTH)
		return -EINVAL;
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
					   ZYDIS_STACK_WIDTH_64)) ||
	    !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, insn, len, &in)) ||
	    in.length != len)
		return -EINVAL;
	if (!(in.attributes & ZYDIS_ATTRIB_IS_RELATIVE)) {
		if (cap < len)
			return -ENOSPC;
		memcpy(out, insn, len);
		return (int)len;
	}
	if (in.raw.imm[0].is_relative)
		return relocate_branch(&in, insn, from, to, out, cap);
	/* RIP-relative memory: the displacement counts from the end of the instruction,
	 * whose length does not change */
	if (in.raw.disp.size != 32 || in.address_width != 64)
		return -EINVAL;
	return copy_retarget(insn, len, in.raw.disp.offset, 32,
			     from + len + (uint64_t)in.raw.disp.value, to, out, cap);
}
