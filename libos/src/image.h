/* SPDX-License-Identifier: MIT */
/* Patching a mapped image. */
#ifndef LIBOS_IMAGE_H
#define LIBOS_IMAGE_H

#include <stdint.h>
#include <sys/mman.h>

#include <loader/loader.h>

/* Scan @img's executable segments (mapped writable) and patch every site the plan
 * can, with stubs in [tlo, thi).  @eh_addr/@eh_size locate .eh_frame (unbiased; size 0
 * when the file has no section headers).  Returns 0 or -errno with *why set. */
int libos_image_patch(const struct loader_image *img, uint64_t eh_addr, uint64_t eh_size,
		      uintptr_t tlo, uintptr_t thi, const char **why);

#endif
