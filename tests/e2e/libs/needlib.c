/* SPDX-License-Identifier: MIT */
/* libe2eneed.so: the one DT_NEEDED library of e2e_needlib_dyn, built without a RUNPATH in
 * either, so each dynlib-errors.sh case decides with LD_LIBRARY_PATH what ld.so finds: this
 * library, nothing, or a copy that claims to be 32-bit. */
#include <stdio.h>

int needlib_answer(void)
{
	return 42;
}
