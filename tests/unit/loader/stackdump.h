/* SPDX-License-Identifier: MIT */
/* Test helper for loader.stack: describe an initial process stack (argc, argv, envp,
 * auxv, strings) as offsets from the top of the stack, so the stack Linux built for a
 * native process and the one loader_stack_build() built can be compared field by field. */
#ifndef LOADER_TEST_STACKDUMP_H
#define LOADER_TEST_STACKDUMP_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

#define SD_MAX_STR 8
#define SD_MAX_AUX 48
#define SD_STR_LEN 48

struct stackdump {
	int64_t argc, envc;
	uint64_t sp_mod16;		/* initial rsp % 16 */
	uint64_t top_minus_sp;		/* distance of rsp below the top */
	uint64_t end_marker;		/* the 8 bytes just below the top */
	uint64_t arg_off[SD_MAX_STR], env_off[SD_MAX_STR];	/* top - string address */
	char arg[SD_MAX_STR][SD_STR_LEN], env[SD_MAX_STR][SD_STR_LEN];
	uint64_t naux;			/* entries before AT_NULL */
	uint64_t aux_type[SD_MAX_AUX], aux_val[SD_MAX_AUX];
	uint64_t execfn_off;		/* top - AT_EXECFN */
	char execfn[256];
	char platform[16];		/* *AT_PLATFORM */
	int random_below_platform;	/* AT_RANDOM + 16 == AT_PLATFORM */
	int auxv_below_random;		/* the auxv ends at or below AT_RANDOM */
	int pointers_in_stack;		/* every string pointer lies in [rsp, top) */
};

static inline void sd_copy(char *dst, size_t cap, uintptr_t src)
{
	strncpy(dst, (const char *)src, cap - 1);
	dst[cap - 1] = '\0';
}

/* Describe the stack whose initial rsp is @sp and whose highest address is @top. */
static inline void stackdump_fill(struct stackdump *d, const uint64_t *sp, uintptr_t top)
{
	const uint64_t *argv = sp + 1, *envp, *aux;
	uintptr_t platform = 0, random = 0, lo = (uintptr_t)sp;

	memset(d, 0, sizeof(*d));
	d->argc = (int64_t)sp[0];
	d->sp_mod16 = (uintptr_t)sp % 16;
	d->top_minus_sp = top - (uintptr_t)sp;
	memcpy(&d->end_marker, (const void *)(top - 8), 8);
	d->pointers_in_stack = 1;
	for (int64_t i = 0; i < d->argc; i++) {
		d->pointers_in_stack &= argv[i] >= lo && argv[i] < top;
		if (i < SD_MAX_STR) {
			d->arg_off[i] = top - argv[i];
			sd_copy(d->arg[i], SD_STR_LEN, argv[i]);
		}
	}
	envp = argv + d->argc + 1;
	for (; envp[d->envc] != 0; d->envc++) {
		d->pointers_in_stack &= envp[d->envc] >= lo && envp[d->envc] < top;
		if (d->envc < SD_MAX_STR) {
			d->env_off[d->envc] = top - envp[d->envc];
			sd_copy(d->env[d->envc], SD_STR_LEN, envp[d->envc]);
		}
	}
	aux = envp + d->envc + 1;
	for (; aux[0] != AT_NULL && d->naux < SD_MAX_AUX; aux += 2, d->naux++) {
		d->aux_type[d->naux] = aux[0];
		d->aux_val[d->naux] = aux[1];
		if (aux[0] == AT_EXECFN) {
			d->execfn_off = top - aux[1];
			sd_copy(d->execfn, sizeof(d->execfn), aux[1]);
		} else if (aux[0] == AT_PLATFORM) {
			platform = aux[1];
			sd_copy(d->platform, sizeof(d->platform), aux[1]);
		} else if (aux[0] == AT_RANDOM) {
			random = aux[1];
		}
	}
	d->random_below_platform = random != 0 && random + 16 == platform;
	d->auxv_below_random = (uintptr_t)(aux + 2) <= random;
	d->pointers_in_stack &= platform >= lo && platform < top && random >= lo;
}

#endif
